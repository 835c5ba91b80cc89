//! Kubernetes stages: wait for the API and nodes, apply manifests, wait for Deployments and
//! Argo CD Applications.

use std::path::PathBuf;

use serde_json::Value;

use super::super::context::Ctx;
use super::super::poll::{self, Probe};
use super::super::stage::{Stage, StageError, StageFuture};
use super::kustomize;
use crate::kube::manifests::{ManifestTiming, apply_manifests, describe};
use crate::kube::wait::{Check, application_synced_healthy, deployment_ready, ready_condition};
use crate::kube::{ApplyOptions, Cluster, resolve};

/// Reads one object, mapping "the API does not answer yet" to a pending probe.
async fn get_object(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Probe<Option<Value>> {
    let kinds = vec![(api_version.to_string(), kind.to_string(), name.to_string())];
    let resolved = match resolve(cluster, &kinds).await {
        Ok(r) => r,
        Err(crate::kube::KubeError::Unreachable { message, .. }) => {
            return Probe::Pending(format!(
                "the Kubernetes API does not answer yet ({message})"
            ));
        }
        Err(crate::kube::KubeError::MissingKinds { .. }) => {
            return Probe::Pending(format!("the API does not serve {kind} yet"));
        }
        Err(e) => return Probe::Failed(e.to_string()),
    };
    let Some(r) = resolved.values().next() else {
        return Probe::Pending(format!("the API does not serve {kind} yet"));
    };
    match crate::kube::apply::get(&cluster.client, r, ns, name).await {
        Ok(o) => Probe::Ready(o),
        Err(e) if crate::kube::is_connection_error(&e) => {
            Probe::Pending("the Kubernetes API does not answer yet".into())
        }
        Err(e) => Probe::Failed(crate::kube::api_error(cluster, name, e).to_string()),
    }
}

fn check_to_probe(c: Check) -> Probe<()> {
    match c {
        Check::Ready => Probe::Ready(()),
        Check::Pending(m) => Probe::Pending(m),
        Check::Failed(m) => Probe::Failed(m),
    }
}

/// Waits until the Kubernetes API answers and Node `name` is Ready.
pub struct WaitNodeReady {
    pub node: String,
}

impl Stage for WaitNodeReady {
    fn name(&self) -> String {
        format!("node-ready/{}", self.node)
    }

    fn summary(&self) -> String {
        format!(
            "wait for the Kubernetes API and node {} to be Ready",
            self.node
        )
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let cluster = ctx.cluster().await?;
            let what = format!("node {} to be Ready", self.node);
            poll::until(ctx, &what, ctx.timing.kubernetes, || async {
                match get_object(&cluster, "v1", "Node", None, &self.node).await {
                    Probe::Ready(Some(n)) => check_to_probe(ready_condition(&n)),
                    Probe::Ready(None) => Probe::Pending("the node has not registered yet".into()),
                    Probe::Pending(m) => Probe::Pending(m),
                    Probe::Failed(m) => Probe::Failed(m),
                }
            })
            .await
        })
    }
}

/// Where manifests come from.
pub enum ManifestSource {
    /// Already rendered (Secrets, Applications), with the output paths they came from.
    Rendered { docs: Vec<Value>, from: Vec<String> },
    /// A kustomization directory built with `kubectl kustomize`.
    Kustomization(PathBuf),
    /// A pre-built multi-document YAML file (for offline installs).
    File(PathBuf),
}

/// Server-side applies a set of manifests (CRDs first, then Namespaces, then the rest).
pub struct ApplyManifests {
    pub name: String,
    pub summary: String,
    pub source: ManifestSource,
    /// Take over fields another manager owns.
    pub force: bool,
}

impl ApplyManifests {
    async fn load(&self, ctx: &Ctx) -> Result<Vec<Value>, StageError> {
        match &self.source {
            ManifestSource::Rendered { docs, .. } => Ok(docs.clone()),
            ManifestSource::Kustomization(dir) => {
                kustomize::build(dir, |l| ctx.detail(&format!("kustomize: {l}"))).await
            }
            ManifestSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| StageError::new(format!("{}: {e}", path.display())))?;
                crate::yaml::from_str_multi::<Value>(&text)
                    .map(|docs| docs.into_iter().filter(|d| !d.is_null()).collect())
                    .map_err(|e| StageError::new(format!("{}: {e}", path.display())))
            }
        }
    }
}

impl Stage for ApplyManifests {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn summary(&self) -> String {
        self.summary.clone()
    }

    fn details(&self) -> Vec<String> {
        let mut d = match &self.source {
            ManifestSource::Rendered { docs, from } => {
                let mut out: Vec<String> = docs
                    .iter()
                    .map(|doc| format!("server-side apply {}", describe(doc)))
                    .collect();
                if !from.is_empty() {
                    out.push(format!("from {}", from.join(", ")));
                }
                out
            }
            ManifestSource::Kustomization(dir) => vec![format!(
                "build {} with `kubectl kustomize`, then server-side apply every object",
                dir.display()
            )],
            ManifestSource::File(p) => {
                vec![format!("server-side apply every object of {}", p.display())]
            }
        };
        d.push(format!(
            "field manager {}{}",
            crate::kube::FIELD_MANAGER,
            if self.force {
                ", taking over conflicting fields"
            } else {
                ""
            }
        ));
        d
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let docs = self.load(ctx).await?;
            let cluster = ctx.cluster().await?;
            let timing = ManifestTiming {
                crd_timeout: ctx.timing.argocd,
                poll_initial: ctx.timing.poll_initial,
                poll_max: ctx.timing.poll_max,
            };
            let progress = ctx.progress.clone();
            let stage = ctx.stage.clone();
            // An API server (or a webhook) may quote a rejected value in its error: the same
            // scrubber deploy uses removes the secret strings of these objects from it.
            let scrubber = crate::redact::Scrubber::from_objects(&docs);
            let applied = apply_manifests(
                &cluster,
                &docs,
                ApplyOptions {
                    force: self.force,
                    dry_run: false,
                },
                timing,
                &move |what| progress.detail(&stage, &format!("applied {what}")),
            )
            .await
            .map_err(|e| StageError::new(scrubber.scrub(&e.to_string())))?;
            ctx.detail(&format!("{} objects applied", applied.len()));
            Ok(())
        })
    }
}

/// Waits until an object reports ready by `check`: a Deployment with all replicas ready, an
/// Argo CD Application Synced and Healthy.
pub struct WaitObject {
    /// Stage name (cache key).
    pub stage: String,
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub check: fn(&Value) -> Check,
    /// What "ready" means, for the plan.
    pub ready_means: &'static str,
    /// Which timing limit applies.
    pub limit: fn(&super::super::Timing) -> std::time::Duration,
}

impl WaitObject {
    /// A Deployment whose replicas are all updated and ready.
    pub fn deployment(namespace: &str, name: &str) -> Self {
        WaitObject {
            stage: format!("deployment-ready/{namespace}/{name}"),
            api_version: "apps/v1",
            kind: "Deployment",
            namespace: namespace.into(),
            name: name.into(),
            check: |d| deployment_ready(d, None),
            ready_means: "to be ready",
            limit: |t| t.argocd,
        }
    }

    /// An Argo CD Application that is Synced and Healthy.
    pub fn application(namespace: &str, name: &str) -> Self {
        WaitObject {
            stage: format!("application-synced/{name}"),
            api_version: "argoproj.io/v1alpha1",
            kind: "Application",
            namespace: namespace.into(),
            name: name.into(),
            check: application_synced_healthy,
            ready_means: "to be Synced and Healthy",
            limit: |t| t.platform,
        }
    }
}

impl Stage for WaitObject {
    fn name(&self) -> String {
        self.stage.clone()
    }

    fn summary(&self) -> String {
        format!(
            "wait for {} {}/{} {}",
            self.kind, self.namespace, self.name, self.ready_means
        )
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let cluster = ctx.cluster().await?;
            let what = format!("{} {}/{}", self.kind, self.namespace, self.name);
            let limit = (self.limit)(&ctx.timing);
            poll::until(ctx, &what, limit, || async {
                match get_object(
                    &cluster,
                    self.api_version,
                    self.kind,
                    Some(&self.namespace),
                    &self.name,
                )
                .await
                {
                    Probe::Ready(Some(o)) => check_to_probe((self.check)(&o)),
                    Probe::Ready(None) => Probe::Pending("not created yet".into()),
                    Probe::Pending(m) => Probe::Pending(m),
                    Probe::Failed(m) => Probe::Failed(m),
                }
            })
            .await
        })
    }
}
