//! Render: tenant model + secrets bundle → MiniJinja templates → YAML text → parsed back into
//! typed models and checked → normalised YAML → an in-memory [`OutputTree`] → written atomically
//! or compared with a directory.

pub mod check;
pub mod context;
pub mod output;
pub mod redact;
pub mod talos;
pub mod templates;

use std::path::PathBuf;

use crate::diag::{Diagnostics, Pos};
pub use output::{OutputError, OutputTree};
pub use templates::TemplateSource;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Bad input files: every problem, with positions.
    #[error("{0}")]
    Input(Diagnostics),
    #[error("templates {}: {message}", dir.display())]
    TemplateDir { dir: PathBuf, message: String },
    #[error("template {template}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template {
        template: String,
        line: Option<usize>,
        message: String,
    },
    /// A template produced output that is not valid YAML or not the expected document type.
    #[error("template {template} produced an invalid {}{}: {message}", output.display(), talos::describe_pos(*pos))]
    Output {
        template: String,
        output: PathBuf,
        pos: Option<Pos>,
        message: String,
    },
    #[error("{}: {message}", output.display())]
    Invariant { output: PathBuf, message: String },
    #[error("secrets bundle: {0}")]
    Pki(String),
    #[error(transparent)]
    Tree(#[from] OutputError),
}

impl From<crate::diag::Diagnostic> for RenderError {
    fn from(d: crate::diag::Diagnostic) -> Self {
        RenderError::Input(d.into())
    }
}

impl From<Diagnostics> for RenderError {
    fn from(d: Diagnostics) -> Self {
        RenderError::Input(d)
    }
}

/// A finished render: the files and anything the user should know about them.
#[derive(Debug, Default)]
pub struct Rendered {
    pub tree: OutputTree,
    pub warnings: Vec<String>,
}

use crate::source::RepoFiles;
use crate::talos::bundle::SecretsBundle;
use crate::tenant::{EnvValues, TenantRepo};
use context::{CertPair, TalosSecrets};

/// What to render.
pub struct Request<'a> {
    pub tenant: &'a TenantRepo,
    pub env: &'a str,
    pub bundle: &'a SecretsBundle,
    pub platform_repo: Option<&'a RepoFiles>,
    pub templates: &'a TemplateSource,
}

/// Loads the environment from the tenant repository and renders it.
pub fn render(req: &Request<'_>) -> Result<Rendered, RenderError> {
    let values = crate::tenant::load(req.tenant, req.env)?;
    render_values(&values, req.bundle, req.platform_repo, req.templates)
}

/// Renders already-loaded values. Values are trusted to be validated; templates still cannot be
/// broken by them (auto-escaping), and every output is checked again.
pub fn render_values(
    values: &EnvValues,
    bundle: &SecretsBundle,
    platform_repo: Option<&RepoFiles>,
    templates: &TemplateSource,
) -> Result<Rendered, RenderError> {
    let env = templates.environment()?;
    let secrets = talos_secrets(bundle);
    let admin = crate::talos::pki::admin_client_cert(bundle)
        .map_err(|e| RenderError::Pki(e.to_string()))?;
    let admin = CertPair {
        crt: admin.crt.clone(),
        key: admin.key.clone(),
    };
    let mut out = Rendered::default();
    talos::render(
        &env,
        &talos::TalosInputs {
            values,
            secrets: &secrets,
            admin: &admin,
            platform_repo,
        },
        &mut out.tree,
        &mut out.warnings,
    )?;
    Ok(out)
}

/// The bundle's values in the shape templates use.
fn talos_secrets(b: &SecretsBundle) -> TalosSecrets {
    let pair = |c: &crate::talos::bundle::CertAndKey| CertPair {
        crt: c.crt.clone(),
        key: c.key.clone(),
    };
    TalosSecrets {
        cluster_id: b.cluster.id.clone(),
        cluster_secret: b.cluster.secret.clone(),
        bootstrap_token: b.secrets.bootstrap_token.clone(),
        secretbox_encryption_secret: b.secrets.secretbox_encryption_secret.clone(),
        trustd_token: b.trustd_info.token.clone(),
        os: pair(&b.certs.os),
        k8s: pair(&b.certs.k8s),
        aggregator: pair(&b.certs.k8s_aggregator),
        etcd: pair(&b.certs.etcd),
        service_account_key: b.certs.k8s_service_account.key.clone(),
    }
}
