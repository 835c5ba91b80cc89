//! The example built into the binary, so `kubectl zt render --example` shows real output with
//! no set-up: a tenant repository, a small platform repository, and a secrets bundle generated
//! once for this purpose. That bundle is public: never use it for a real cluster.

use crate::source::RepoFiles;

/// The environment `--example` renders.
pub const ENV: &str = "dev";

const TENANT_FILES: &[(&str, &str)] = &[(
    "environments/dev/talos-values.yaml",
    include_str!("../examples/tenant-repo/environments/dev/talos-values.yaml"),
)];

const PLATFORM_FILES: &[(&str, &str)] = &[(
    "bootstrap/talos/templates/cilium-bootstrap.yaml",
    include_str!("../examples/platform-repo/bootstrap/talos/templates/cilium-bootstrap.yaml"),
)];

/// The example secrets bundle (public; for examples and tests only).
pub const SECRETS: &str = include_str!("../examples/example-secrets.yaml");
/// How messages name the example bundle.
pub const SECRETS_PATH: &str = "<example>/example-secrets.yaml";

pub fn tenant_repo() -> RepoFiles {
    RepoFiles::embedded("<example>/tenant-repo", TENANT_FILES)
}

pub fn platform_repo() -> RepoFiles {
    RepoFiles::embedded("<example>/platform-repo", PLATFORM_FILES)
}
