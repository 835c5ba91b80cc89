//! The production plan: nodes in Talos maintenance mode → a running platform.
//!
//! control plane: apply config → configured API answers → bootstrap etcd → kubeconfig → node
//! Ready; each worker: apply config → configured API answers → node Ready; then Argo CD's
//! install, the platform Secrets, the repo server, the root Application, and once the platform
//! is Synced and Healthy, the tenants' repository credentials and Applications.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::platform::{ROOT_APP, RenderedStage, argocd_stages, install_source};
use super::runner::Plan;
use super::stage::{Stage, StageError};
use super::stages::kubernetes::{ApplyManifests, ManifestSource, WaitNodeReady};
use super::stages::talos::{
    ApplyConfig, BootstrapEtcd, FetchKubeconfig, Node, TalosAccess, WaitConfigured,
};
use crate::render::ObjectRole;
use crate::render::Rendered;
use crate::secret::SecretBytes;
use crate::talos::api::{ClientOptions, TalosEndpoint};
use crate::talos::config::TalosConfig;
use crate::tenant::EnvValues;

pub use super::stages::talos::MaintenanceTrust;

/// Where the platform repository keeps Argo CD's install kustomization.
pub const ARGOCD_INSTALL: &str = "bootstrap/argocd/install";

pub struct ProductionInputs<'a> {
    pub values: &'a EnvValues,
    /// The full production render (Talos, Argo CD, Secrets), in memory.
    pub rendered: &'a Rendered,
    /// A platform repository checkout, for Argo CD's install kustomization.
    pub platform_repo: Option<&'a Path>,
    /// A pre-built Argo CD install manifest, used instead of building the kustomization.
    pub argocd_install: Option<PathBuf>,
    /// Whether nodes in maintenance mode may be sent their configs (pins, or explicitly
    /// unverified).
    pub maintenance: MaintenanceTrust,
    /// Talos API endpoints by node name, where a node is not reached at `<ip>:50000`.
    pub endpoints: BTreeMap<String, TalosEndpoint>,
    pub client_options: ClientOptions,
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
        maintenance: inputs.maintenance.clone(),
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
    let secret_docs = inputs.rendered.objects_of(ObjectRole::Secret);
    let tenants_count = inputs
        .rendered
        .objects_of(ObjectRole::TenantApplication)
        .len();
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

    let install = install_source(
        inputs.argocd_install.as_ref(),
        inputs.platform_repo,
        ARGOCD_INSTALL,
    )?;
    argocd_stages(
        &mut stages,
        inputs.rendered,
        install,
        "install Argo CD (server-side apply)",
        format!("apply the root Application {ROOT_APP}"),
    )?;
    let (mut tenant_docs, mut tenant_from) = inputs.rendered.docs_of(ObjectRole::Repository);
    let (apps, apps_from) = inputs.rendered.docs_of(ObjectRole::TenantApplication);
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
