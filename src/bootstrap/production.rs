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
use super::stage::{InLane, Stage, StageError};
use super::stages::install::{self, BareMetal, Rescue, TalosInstall};
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
use crate::tenant::model::{Machine, Role};

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
    /// `--bare-metal`: install Talos from each node's rescue system first (and with `--hetzner`
    /// put it there).
    pub bare_metal: Option<Arc<BareMetal>>,
}

/// The production plan: render, each node's Talos stages (the control plane first), Argo CD and
/// the platform, then the tenants.
pub fn plan(inputs: ProductionInputs<'_>) -> Result<Plan, StageError> {
    let v = inputs.values;
    let nodes = NodeStages::new(&inputs)?;
    let mut stages: Vec<Box<dyn Stage>> = vec![render_stage(v, inputs.rendered)];
    let bare_metal = inputs.bare_metal.as_ref();
    stages.extend(nodes.bare_metal(bare_metal, &v.controlplane)?);
    stages.extend(nodes.controlplane(&v.controlplane)?);
    // Each worker's stages form a lane: the workers come up concurrently (`--parallel`).
    for w in &v.workers {
        let lane = nodes.bare_metal(bare_metal, w)?.into_iter();
        let lane = lane.chain(nodes.worker(w)?);
        stages.extend(lane.map(|s| InLane::boxed(&w.name, s)));
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
    stages.extend(tenants_stage(inputs.rendered));
    Ok(Plan {
        mode: "production".into(),
        target: format!("environment {} (cluster {})", v.env, v.cluster.name),
        stages,
    })
}

/// The first stage: what the in-memory render produced.
fn render_stage(v: &EnvValues, rendered: &Rendered) -> Box<dyn Stage> {
    Box::new(RenderedStage {
        summary: format!(
            "render environment {} in memory: {} Talos configs, root Application, {} tenant Applications, {} Secrets",
            v.env,
            v.workers.len() + 1,
            rendered.objects_of(ObjectRole::TenantApplication).len(),
            rendered.objects_of(ObjectRole::Secret).len()
        ),
    })
}

/// Builds each node's Talos stages from the render: its config, how it is reached, and the
/// talosconfig every configured call authenticates with.
struct NodeStages<'a> {
    tree: &'a crate::render::OutputTree,
    endpoints: &'a BTreeMap<String, TalosEndpoint>,
    access: Arc<TalosAccess>,
}

impl<'a> NodeStages<'a> {
    fn new(inputs: &'a ProductionInputs<'a>) -> Result<Self, StageError> {
        let tree = &inputs.rendered.tree;
        let talosconfig_text = tree
            .get(Path::new("talos/talosconfig"))
            .ok_or_else(|| StageError::new("the render produced no talos/talosconfig"))?;
        let talosconfig: TalosConfig =
            crate::yaml::from_str(&String::from_utf8_lossy(&talosconfig_text.bytes))
                .map_err(|e| StageError::new(format!("rendered talosconfig: {e}")))?;
        Ok(NodeStages {
            tree,
            endpoints: &inputs.endpoints,
            access: Arc::new(TalosAccess {
                talosconfig,
                maintenance: inputs.maintenance.clone(),
                options: inputs.client_options,
            }),
        })
    }

    /// The node's Talos API: `--endpoint NODE=HOST:PORT`, else `<ip>:50000`.
    fn node(&self, m: &Machine) -> Result<Node, StageError> {
        let endpoint = match self.endpoints.get(&m.name) {
            Some(e) => e.clone(),
            None => TalosEndpoint::new(m.ip.to_string(), 50000)
                .map_err(|e| StageError::new(e.to_string()))?,
        };
        Ok(Node {
            name: m.name.clone(),
            endpoint,
            controlplane: m.role == Role::ControlPlane,
        })
    }

    /// With `--bare-metal`: rescue (with `--hetzner`) → install Talos, before the node is
    /// configured.
    fn bare_metal(
        &self,
        bare_metal: Option<&Arc<BareMetal>>,
        m: &Machine,
    ) -> Result<Vec<Box<dyn Stage>>, StageError> {
        let Some(bm) = bare_metal else {
            return Ok(Vec::new());
        };
        let machine = install::Machine {
            node: self.node(m)?,
            ip: m.ip,
            disk: m.install_disk.clone(),
            rescue_password: m.rescue_password.clone(),
        };
        let mut stages: Vec<Box<dyn Stage>> = Vec::new();
        if bm.hetzner.is_some() {
            stages.push(Box::new(Rescue {
                machine: machine.clone(),
                bare_metal: bm.clone(),
                access: self.access.clone(),
            }));
        }
        stages.push(Box::new(TalosInstall {
            machine,
            bare_metal: bm.clone(),
            access: self.access.clone(),
        }));
        Ok(stages)
    }

    /// apply config → configured API answers, for any node.
    fn configure(&self, n: &Node) -> Result<Vec<Box<dyn Stage>>, StageError> {
        let source = format!("talos/{}.yaml", n.name);
        let config = self
            .tree
            .get(Path::new(&source))
            .map(|f| SecretBytes::new(f.bytes.clone()))
            .ok_or_else(|| StageError::new(format!("the render produced no {source}")))?;
        Ok(vec![
            Box::new(ApplyConfig {
                node: n.clone(),
                config,
                source,
                access: self.access.clone(),
            }),
            Box::new(WaitConfigured {
                node: n.clone(),
                access: self.access.clone(),
            }),
        ])
    }

    /// The control plane: configure → bootstrap etcd → kubeconfig → node Ready.
    fn controlplane(&self, m: &Machine) -> Result<Vec<Box<dyn Stage>>, StageError> {
        let n = self.node(m)?;
        let mut stages = self.configure(&n)?;
        stages.push(Box::new(BootstrapEtcd {
            node: n.clone(),
            access: self.access.clone(),
        }));
        stages.push(Box::new(FetchKubeconfig {
            node: n.clone(),
            access: self.access.clone(),
        }));
        stages.push(Box::new(WaitNodeReady { node: n.name }));
        Ok(stages)
    }

    /// A worker: configure → node Ready.
    fn worker(&self, m: &Machine) -> Result<Vec<Box<dyn Stage>>, StageError> {
        let n = self.node(m)?;
        let mut stages = self.configure(&n)?;
        stages.push(Box::new(WaitNodeReady { node: n.name }));
        Ok(stages)
    }
}

/// The tenants' repository credentials and Applications, applied once the platform runs (none
/// when the environment has no tenants).
fn tenants_stage(rendered: &Rendered) -> Option<Box<dyn Stage>> {
    let (mut docs, mut from) = rendered.docs_of(ObjectRole::Repository);
    let (apps, apps_from) = rendered.docs_of(ObjectRole::TenantApplication);
    docs.extend(apps);
    from.extend(apps_from);
    if docs.is_empty() {
        return None;
    }
    Some(Box::new(ApplyManifests {
        name: "tenants".into(),
        summary: format!(
            "apply the tenants' repository credentials and Applications ({} objects) once the platform runs",
            docs.len()
        ),
        source: ManifestSource::Rendered { docs, from },
        force: false,
    }))
}
