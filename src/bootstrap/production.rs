//! The production plan: nodes in Talos maintenance mode → a running platform.
//!
//! control plane: apply config → configured API answers → bootstrap etcd → kubeconfig → node
//! Ready; each worker: apply config → configured API answers → node Ready; then Argo CD's
//! install, the platform Secrets, the repo server, the root Application, and once the platform
//! is Synced and Healthy, the tenants' repository credentials and Applications.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::Ctx;
use super::runner::Plan;
use super::stage::{Stage, StageError, StageFuture};
use super::stages::kubernetes::{ApplyManifests, ManifestSource, WaitNodeReady, WaitObject};
use super::stages::talos::{
    ApplyConfig, BootstrapEtcd, FetchKubeconfig, Node, TalosAccess, WaitConfigured,
};
use crate::render::{OutputTree, Rendered};
use crate::secret::SecretBytes;
use crate::talos::api::{ClientOptions, Fingerprint, TalosEndpoint};
use crate::talos::config::TalosConfig;
use crate::tenant::EnvValues;

/// Where the platform repository keeps Argo CD's install kustomization.
pub const ARGOCD_INSTALL: &str = "bootstrap/argocd/install";
/// Argo CD's repo server, which must run before the root Application can sync.
pub const REPO_SERVER: (&str, &str) = ("argocd", "argocd-repo-server");
pub const ROOT_APP: &str = "platform-bootstrap";

pub struct ProductionInputs<'a> {
    pub values: &'a EnvValues,
    /// The full production render (Talos, Argo CD, Secrets), in memory.
    pub rendered: &'a Rendered,
    /// A platform repository checkout, for Argo CD's install kustomization.
    pub platform_repo: Option<&'a Path>,
    /// A pre-built Argo CD install manifest, used instead of building the kustomization.
    pub argocd_install: Option<PathBuf>,
    /// Pins for the maintenance API's certificates (empty: not verified).
    pub pins: Vec<Fingerprint>,
    /// Talos API endpoints by node name, where a node is not reached at `<ip>:50000`.
    pub endpoints: BTreeMap<String, TalosEndpoint>,
    pub client_options: ClientOptions,
}

pub(super) fn docs_of(
    tree: &OutputTree,
    prefix: &str,
) -> Result<(Vec<Value>, Vec<String>), StageError> {
    let mut docs = Vec::new();
    let mut from = Vec::new();
    for (path, file) in tree.iter().filter(|(p, _)| p.starts_with(prefix)) {
        let text = String::from_utf8_lossy(&file.bytes);
        let parsed: Vec<Value> = crate::yaml::from_str_multi(&text)
            .map_err(|e| StageError::new(format!("rendered {}: {e}", path.display())))?;
        docs.extend(parsed.into_iter().filter(|d| !d.is_null()));
        from.push(path.display().to_string());
    }
    Ok((docs, from))
}

/// Namespace objects for every namespace `docs` live in, first.
pub(super) fn with_namespaces(docs: Vec<Value>) -> Vec<Value> {
    let mut names: Vec<String> = docs
        .iter()
        .filter_map(|d| d.pointer("/metadata/namespace").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    let mut out: Vec<Value> = names
        .into_iter()
        .map(|n| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}))
        .collect();
    out.extend(docs);
    out
}

/// A stage that reports what was rendered (the render itself ran before the plan was built,
/// in memory, because the plan is made from its output).
pub(super) struct RenderedStage {
    pub(super) summary: String,
}

impl Stage for RenderedStage {
    fn name(&self) -> String {
        "render".into()
    }
    fn summary(&self) -> String {
        self.summary.clone()
    }
    fn cacheable(&self) -> bool {
        false
    }
    fn run<'a>(&'a self, _ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

pub fn plan(inputs: ProductionInputs<'_>) -> Result<Plan, StageError> {
    let v = inputs.values;
    let tree = &inputs.rendered.tree;
    let talosconfig_text = tree
        .get(Path::new("talos/talosconfig"))
        .ok_or_else(|| StageError::new("the render produced no talos/talosconfig"))?;
    let talosconfig: TalosConfig =
        crate::yaml::from_str(&String::from_utf8_lossy(&talosconfig_text.bytes))
            .map_err(|e| StageError::new(format!("rendered talosconfig: {e}")))?;
    let access = Arc::new(TalosAccess {
        talosconfig,
        pins: inputs.pins.clone(),
        options: inputs.client_options,
    });
    let node = |m: &crate::tenant::model::Machine| -> Result<Node, StageError> {
        let endpoint = match inputs.endpoints.get(&m.name) {
            Some(e) => e.clone(),
            None => TalosEndpoint::new(m.ip.to_string(), 50000)
                .map_err(|e| StageError::new(e.to_string()))?,
        };
        Ok(Node {
            name: m.name.clone(),
            endpoint,
            controlplane: m.role == crate::tenant::model::Role::ControlPlane,
        })
    };
    let config_of = |name: &str| -> Result<(SecretBytes, String), StageError> {
        let rel = format!("talos/{name}.yaml");
        tree.get(Path::new(&rel))
            .map(|f| (SecretBytes::new(f.bytes.clone()), rel.clone()))
            .ok_or_else(|| StageError::new(format!("the render produced no {rel}")))
    };

    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    let (secret_docs, secret_files) = docs_of(tree, "secrets")?;
    let tenants_count = tree
        .iter()
        .filter(|(p, _)| p.starts_with("argocd/tenants"))
        .count();
    stages.push(Box::new(RenderedStage {
        summary: format!(
            "render environment {} in memory: {} Talos configs, root Application, {} tenant Applications, {} Secrets",
            v.env,
            v.workers.len() + 1,
            tenants_count,
            secret_docs.len()
        ),
    }));

    let cp = node(&v.controlplane)?;
    let (config, source) = config_of(&cp.name)?;
    stages.push(Box::new(ApplyConfig {
        node: cp.clone(),
        config,
        source,
        access: access.clone(),
    }));
    stages.push(Box::new(WaitConfigured {
        node: cp.clone(),
        access: access.clone(),
    }));
    stages.push(Box::new(BootstrapEtcd {
        node: cp.clone(),
        access: access.clone(),
    }));
    stages.push(Box::new(FetchKubeconfig {
        node: cp.clone(),
        access: access.clone(),
    }));
    stages.push(Box::new(WaitNodeReady {
        node: cp.name.clone(),
    }));
    for w in &v.workers {
        let n = node(w)?;
        let (config, source) = config_of(&n.name)?;
        stages.push(Box::new(ApplyConfig {
            node: n.clone(),
            config,
            source,
            access: access.clone(),
        }));
        stages.push(Box::new(WaitConfigured {
            node: n.clone(),
            access: access.clone(),
        }));
        stages.push(Box::new(WaitNodeReady {
            node: n.name.clone(),
        }));
    }

    let install = match (&inputs.argocd_install, inputs.platform_repo) {
        (Some(file), _) => ManifestSource::File(file.clone()),
        (None, Some(repo)) => {
            let dir = repo.join(ARGOCD_INSTALL);
            if !dir.is_dir() {
                return Err(StageError::new(format!(
                    "{}: no Argo CD install kustomization in the platform repo",
                    dir.display()
                ))
                .hint("pass --argocd-install FILE with a pre-built manifest"));
            }
            ManifestSource::Kustomization(dir)
        }
        (None, None) => {
            return Err(StageError::new("installing Argo CD needs the platform repository's bootstrap/argocd/install")
                .hint("pass --platform-repo DIR (a checkout of the platform repo), or --argocd-install FILE with a pre-built manifest"));
        }
    };
    stages.push(Box::new(ApplyManifests {
        name: "argocd-install".into(),
        summary: "install Argo CD (server-side apply)".into(),
        source: install,
        force: false,
    }));
    if !secret_docs.is_empty() {
        stages.push(Box::new(ApplyManifests {
            name: "secrets".into(),
            summary: format!(
                "apply the rendered Secrets ({}) and their namespaces",
                secret_docs.len()
            ),
            source: ManifestSource::Rendered {
                docs: with_namespaces(secret_docs),
                from: secret_files,
            },
            force: false,
        }));
    }
    stages.push(Box::new(WaitObject::deployment(
        REPO_SERVER.0,
        REPO_SERVER.1,
    )));
    let (root, root_from) = docs_of(tree, "argocd/root.yaml")?;
    stages.push(Box::new(ApplyManifests {
        name: "root-app".into(),
        summary: format!("apply the root Application {ROOT_APP}"),
        source: ManifestSource::Rendered {
            docs: root,
            from: root_from,
        },
        force: false,
    }));
    stages.push(Box::new(WaitObject::application("argocd", ROOT_APP)));
    let (mut tenant_docs, mut tenant_from) = docs_of(tree, "argocd/repositories")?;
    let (apps, apps_from) = docs_of(tree, "argocd/tenants")?;
    tenant_docs.extend(apps);
    tenant_from.extend(apps_from);
    if !tenant_docs.is_empty() {
        stages.push(Box::new(ApplyManifests {
            name: "tenants".into(),
            summary: format!(
                "apply the tenants' repository credentials and Applications ({} objects) once the platform runs",
                tenant_docs.len()
            ),
            source: ManifestSource::Rendered { docs: tenant_docs, from: tenant_from },
            force: false,
        }));
    }
    Ok(Plan {
        mode: "production".into(),
        target: format!("environment {} (cluster {})", v.env, v.cluster.name),
        stages,
    })
}
