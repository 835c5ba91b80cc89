//! The tenant repository: typed model, defaults, and validation with file:line:col diagnostics.

pub mod apps;
pub mod model;
pub mod repo;
pub mod repositories;
pub mod rules;
pub mod values;

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics};
pub use model::EnvValues;
pub use repo::TenantRepo;

/// Loads and validates one environment of a tenant repository.
pub fn load(repo: &TenantRepo, env: &str) -> Result<EnvValues, Diagnostics> {
    let (file, src) = repo.values_file(env)?;
    values::parse(&src, &file, env)
}

/// Loads and validates one environment of the tenant repository checked out at `root`.
pub fn load_env(root: &Path, env: &str) -> Result<EnvValues, Diagnostics> {
    load(&TenantRepo::open(root)?, env)
}

/// Validates the repository for the tenant repo's own CI: the Talos values and tenant
/// applications of `env` (or of every environment), and the repository credentials. Returns the
/// environments checked; every problem in every file is reported.
pub fn validate(repo: &TenantRepo, env: Option<&str>) -> Result<Vec<String>, Diagnostics> {
    let envs = match env {
        Some(e) => vec![e.to_string()],
        None => repo.environments(),
    };
    if envs.is_empty() {
        return Err(Diagnostic::file(
            repo.display_path(Path::new("environments")),
            "no environments found: expected environments/<ENV>/talos-values.yaml",
        )
        .into());
    }
    let mut all = Diagnostics::new();
    for env in &envs {
        if let Err(d) = load(repo, env) {
            all.extend(d);
        }
        if let Err(d) = apps::load_all(repo, env) {
            all.extend(d);
        }
    }
    if let Err(d) = repositories::load_all(repo) {
        all.extend(d);
    }
    all.into_result().map(|()| envs)
}
