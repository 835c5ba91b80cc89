//! Render: tenant model + secrets bundle → MiniJinja templates → YAML text → parsed back into
//! typed models and checked → normalised YAML → an in-memory [`OutputTree`] → written atomically
//! or compared with a directory.

pub mod argocd;
pub mod check;
pub mod context;
pub mod kind;
pub mod output;
pub mod secrets;
pub mod stream;
pub mod strict;
pub mod talos;
pub mod templates;

use std::path::PathBuf;

use crate::diag::{Diagnostics, Pos};
pub use output::{OutputError, OutputTree, WriteReport};
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
    /// A typed document could not be written back as YAML (a bug, not bad input).
    #[error("cannot write YAML: {0}")]
    Emit(String),
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

/// A finished render: the files, the Kubernetes objects among them as typed values (so `-o
/// yaml`, `bootstrap` and the checks never parse our own output back), and anything the user
/// should know about them.
#[derive(Debug, Default)]
pub struct Rendered {
    pub tree: OutputTree,
    pub objects: Vec<RenderedObject>,
    /// The environment's values, when this render loaded them from the tenant repository
    /// (production), so later stages do not load them again.
    pub values: Option<EnvValues>,
    pub warnings: Vec<String>,
}

/// What a rendered Kubernetes object is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRole {
    /// `secrets/<name>.yaml`: credentials from the environment.
    Secret,
    /// `argocd/repositories/<name>.yaml`: a tenant repository's objects, as the tenant repo
    /// has them (ExternalSecrets).
    Repository,
    /// `argocd/root.yaml`.
    RootApplication,
    /// `argocd/tenants/<tenant>.yaml`.
    TenantApplication,
}

/// One Kubernetes object of a render and the file it is written to.
#[derive(Clone)]
pub struct RenderedObject {
    pub role: ObjectRole,
    pub file: PathBuf,
    pub value: serde_json::Value,
}

// By hand: a Secret's value must never reach a `{:?}`.
impl std::fmt::Debug for RenderedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedObject")
            .field("role", &self.role)
            .field("file", &self.file)
            .field("kind", &self.value.get("kind"))
            .finish_non_exhaustive()
    }
}

impl Rendered {
    /// The objects of `role`, in file order.
    pub fn objects_of(&self, role: ObjectRole) -> Vec<&RenderedObject> {
        let mut out: Vec<&RenderedObject> =
            self.objects.iter().filter(|o| o.role == role).collect();
        out.sort_by(|a, b| a.file.cmp(&b.file));
        out
    }

    /// The objects of `role` and the files they come from (each file once), in file order.
    pub fn docs_of(&self, role: ObjectRole) -> (Vec<serde_json::Value>, Vec<String>) {
        let objects = self.objects_of(role);
        let mut files: Vec<String> = objects
            .iter()
            .map(|o| o.file.display().to_string())
            .collect();
        files.dedup();
        (
            objects.into_iter().map(|o| o.value.clone()).collect(),
            files,
        )
    }

    /// Every Kubernetes object in the order to apply them: a Namespace for each namespace the
    /// objects live in, then Secrets (only with `include_secrets` for the rendered ones),
    /// ExternalSecrets, the root Application, then everything else (tenant Applications).
    pub fn apply_order(&self, include_secrets: bool) -> Vec<serde_json::Value> {
        let mut objects: Vec<&RenderedObject> = self
            .objects
            .iter()
            .filter(|o| include_secrets || o.role != ObjectRole::Secret)
            .collect();
        objects.sort_by(|a, b| a.file.cmp(&b.file));
        let rank = |o: &RenderedObject| match (o.value.get("kind").and_then(|k| k.as_str()), o.role)
        {
            (Some("Secret"), _) => 0,
            (Some("ExternalSecret"), _) => 1,
            (Some("Application"), ObjectRole::RootApplication) => 2,
            _ => 3,
        };
        // Stable: within a rank, file order.
        objects.sort_by_key(|o| rank(o));
        with_namespaces(objects.into_iter().map(|o| o.value.clone()).collect())
    }
}

/// `docs` preceded by a Namespace for every namespace they live in (sorted, each once): the
/// one place Namespaces are made up for applying rendered objects.
pub fn with_namespaces(docs: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let names: std::collections::BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d.pointer("/metadata/namespace").and_then(|n| n.as_str()))
        .collect();
    let mut out: Vec<serde_json::Value> = names
        .into_iter()
        .map(|n| serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}))
        .collect();
    out.extend(docs);
    out
}

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::credentials::Credentials;
use crate::source::RepoFiles;
use crate::talos::bundle::SecretsBundle;
use crate::tenant::{EnvValues, TenantRepo};
use argocd::PlatformSource;
use context::{CertPair, TalosSecrets};
use kind::KindSettings;

/// The default overlay of an environment inside the platform repository; `{env}` is replaced.
pub const DEFAULT_OVERLAY: &str = "bootstrap/argocd/overlays/main/{env}";
/// The preview overlay.
pub const PREVIEW_OVERLAY: &str = "bootstrap/argocd/overlays/preview";
/// Where Kind mounts the platform repository, as Argo CD sees it.
pub const LOCAL_REPO_URL: &str = "file:///repo";

/// A production render: the tenant repository's environment → Talos, Argo CD and Secrets.
pub struct ProductionRequest<'a> {
    pub tenant: &'a TenantRepo,
    pub env: &'a str,
    /// `None` skips the Talos stage (e.g. `-o yaml`, which streams Kubernetes objects only).
    pub bundle: Option<&'a SecretsBundle>,
    /// A platform repository checkout (Cilium manifest).
    pub platform_repo: Option<&'a RepoFiles>,
    pub platform: PlatformSource,
    /// `None` skips the Secrets stage.
    pub credentials: Option<&'a Credentials>,
    pub templates: &'a TemplateSource,
}

/// A preview render: environment variables and the platform repository → Kind, Argo CD and
/// Secrets. Tenants are excluded in preview.
pub struct PreviewRequest<'a> {
    pub platform: PlatformSource,
    pub kind: KindSettings,
    pub credentials: Option<&'a Credentials>,
    pub templates: &'a TemplateSource,
}

/// Renders a production environment. Every input is loaded and validated first (all problems
/// at once); nothing is rendered unless all of it is valid.
pub fn render_production(req: &ProductionRequest<'_>) -> Result<Rendered, RenderError> {
    let mut problems = Diagnostics::new();
    let values = crate::tenant::load(req.tenant, req.env)
        .map_err(|d| problems.extend(d))
        .ok();
    let tenants = crate::tenant::apps::load_all(req.tenant, req.env)
        .map_err(|d| problems.extend(d))
        .ok();
    let repos = crate::tenant::repositories::load_all(req.tenant)
        .map_err(|d| problems.extend(d))
        .ok();
    if !problems.is_empty() {
        return Err(RenderError::Input(problems.sorted()));
    }
    let (Some(values), Some(tenants), Some(repos)) = (values, tenants, repos) else {
        return Err(RenderError::Input(problems));
    };
    let env = req.templates.environment()?;
    let mut out = match req.bundle {
        Some(bundle) => render_talos(&env, &values, bundle, req.platform_repo)?,
        None => Rendered::default(),
    };
    argocd::render_root(&env, &req.platform, &mut out)?;
    argocd::render_tenants(&env, &tenants, &mut out)?;
    argocd::pass_repositories(&repos, &mut out)?;
    if let Some(creds) = req.credentials {
        secrets::render(&env, creds, &req.platform.url, &mut out)?;
    }
    out.values = Some(values);
    Ok(out)
}

/// Renders the preview: Kind cluster, root Application on the preview overlay, Secrets.
pub fn render_preview(req: &PreviewRequest<'_>) -> Result<Rendered, RenderError> {
    let env = req.templates.environment()?;
    let mut out = Rendered::default();
    kind::render(&env, &req.kind, &mut out.tree)?;
    argocd::render_root(&env, &req.platform, &mut out)?;
    if let Some(creds) = req.credentials {
        secrets::render(&env, creds, &req.platform.url, &mut out)?;
    }
    Ok(out)
}

/// Talos only: loads the environment from the tenant repository and renders its machine
/// configs and talosconfig.
pub fn render(req: &Request<'_>) -> Result<Rendered, RenderError> {
    let values = crate::tenant::load(req.tenant, req.env)?;
    render_values(&values, req.bundle, req.platform_repo, req.templates)
}

/// What [`render`] needs.
pub struct Request<'a> {
    pub tenant: &'a TenantRepo,
    pub env: &'a str,
    pub bundle: &'a SecretsBundle,
    pub platform_repo: Option<&'a RepoFiles>,
    pub templates: &'a TemplateSource,
}

/// Renders already-loaded values (Talos stage only). Values are trusted to be validated;
/// templates still cannot be broken by them (auto-escaping), and every output is checked again.
pub fn render_values(
    values: &EnvValues,
    bundle: &SecretsBundle,
    platform_repo: Option<&RepoFiles>,
    templates: &TemplateSource,
) -> Result<Rendered, RenderError> {
    let env = templates.environment()?;
    render_talos(&env, values, bundle, platform_repo)
}

fn render_talos(
    env: &minijinja::Environment<'_>,
    values: &EnvValues,
    bundle: &SecretsBundle,
    platform_repo: Option<&RepoFiles>,
) -> Result<Rendered, RenderError> {
    let secrets = talos_secrets(bundle);
    let admin = crate::talos::pki::admin_client_cert(bundle)
        .map_err(|e| RenderError::Pki(e.to_string()))?;
    let admin = CertPair {
        crt: admin.crt.clone(),
        key: admin.key.clone(),
    };
    let mut out = Rendered::default();
    talos::render(
        env,
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

/// Reads rendered text back into `T` (unknown fields rejected by `T`).
pub(crate) fn parse_typed<T: DeserializeOwned>(
    template: &str,
    output: &Path,
    text: &str,
) -> Result<T, RenderError> {
    crate::yaml::from_str(text).map_err(|e| RenderError::Output {
        template: template.into(),
        output: output.to_path_buf(),
        pos: e.pos,
        message: e.message,
    })
}

/// Normalised YAML bytes of a typed document.
pub(crate) fn emit<T: Serialize>(doc: &T) -> Result<Vec<u8>, RenderError> {
    yaml_output(doc)
}

pub(crate) fn yaml_output<T: Serialize>(doc: &T) -> Result<Vec<u8>, RenderError> {
    crate::yaml::to_string(doc)
        .map(String::into_bytes)
        .map_err(|e| RenderError::Emit(e.message))
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
