//! Kubernetes stages: wait for the API and nodes, apply manifests, wait for Deployments and
//! Argo CD Applications.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::Stream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use serde_json::Value;

use super::super::context::Ctx;
use super::super::poll::{self, timed_out};
use super::super::stage::{Stage, StageError, StageFuture};
use super::kustomize;
use crate::kube::manifests::{ManifestTiming, apply_manifests, describe};
use crate::kube::wait::{self, Check, WaitError, application_synced_healthy, deployment_ready};
use crate::kube::{ApplyOptions, Cluster, KubeError, resolve};

/// How far apart a failed watch is restarted: the rhythm of the bootstrap's probes.
fn retry(ctx: &Ctx) -> wait::Backoff {
    wait::Backoff::new(ctx.timing.poll_initial, ctx.timing.poll_max)
}

/// A watch error while waiting: the API not answering yet (it is coming up) is pending; an
/// answer refusing the request ends the wait.
fn unreadable(cluster: &Cluster, name: &str, e: watcher::Error) -> Check {
    match wait::client_error(e) {
        Ok(e) if crate::kube::is_connection_error(&e) => Check::Pending(format!(
            "the Kubernetes API does not answer yet ({})",
            crate::diag::error_chain(&e)
        )),
        Ok(e) => Check::Failed(crate::kube::api_error(cluster, name, e).to_string()),
        Err(e) => Check::Pending(e.to_string()),
    }
}

/// Watches `states` until `check` passes, within what is `left` of the wait's `limit`; the
/// details and the timeout message are those of every bootstrap wait ([`poll::timed_out`]).
async fn watch_until<T, S>(
    ctx: &Ctx,
    cluster: &Cluster,
    what: &str,
    name: &str,
    (limit, left): (Duration, Duration),
    states: S,
    check: impl FnMut(&T) -> Check,
) -> Result<(), StageError>
where
    S: Stream<Item = Result<T, watcher::Error>>,
{
    let waited = wait::until(
        left,
        states,
        check,
        |e| unreadable(cluster, name, e),
        |why| ctx.detail(&format!("waiting for {what}: {why}")),
    )
    .await;
    match waited {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(why)) => Err(StageError::new(format!("{what}: {why}"))),
        Err(WaitError::TimedOut { last }) => Err(timed_out(what, limit, &last)),
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
            let nodes: Api<Node> = Api::all(cluster.client.clone());
            watch_until(
                ctx,
                &cluster,
                &what,
                &self.node,
                (ctx.timing.kubernetes, ctx.timing.kubernetes),
                wait::object(nodes, &self.node, retry(ctx)),
                |n: &Option<Node>| match n {
                    Some(n) => wait::node_ready(n),
                    None => Check::Pending("the node has not registered yet".into()),
                },
            )
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

/// What a [`WaitObject`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// A Deployment whose replicas are all updated and ready (typed `Api<Deployment>`).
    Deployment,
    /// An Argo CD Application that is Synced and Healthy (a CRD kind, read dynamically once the
    /// API serves it).
    Application,
}

/// Waits until an object reports ready: a Deployment with all replicas ready, an Argo CD
/// Application Synced and Healthy. The object is watched.
pub struct WaitObject {
    /// Stage name (cache key).
    pub stage: String,
    pub kind: Readiness,
    pub namespace: String,
    pub name: String,
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
            kind: Readiness::Deployment,
            namespace: namespace.into(),
            name: name.into(),
            ready_means: "to be ready",
            limit: |t| t.argocd,
        }
    }

    /// An Argo CD Application that is Synced and Healthy.
    pub fn application(namespace: &str, name: &str) -> Self {
        WaitObject {
            stage: format!("application-synced/{name}"),
            kind: Readiness::Application,
            namespace: namespace.into(),
            name: name.into(),
            ready_means: "to be Synced and Healthy",
            limit: |t| t.platform,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            Readiness::Deployment => "Deployment",
            Readiness::Application => "Application",
        }
    }
}

/// The API of Argo CD's Applications, once the cluster serves the kind. Discovery has no watch,
/// so this asks again, backing off, until it does or the deadline passes.
async fn served_application(
    ctx: &Ctx,
    cluster: &Cluster,
    what: &str,
    limit: Duration,
) -> Result<kube::discovery::ApiResource, StageError> {
    let kinds = vec![(
        "argoproj.io/v1alpha1".to_string(),
        "Application".to_string(),
        what.to_string(),
    )];
    poll::until(ctx, what, limit, || async {
        Ok(match resolve(cluster, &kinds).await {
            Ok(r) => match r.into_values().next() {
                Some(r) => Check::Ready(r.resource),
                None => Check::Pending("the API does not serve Application yet".into()),
            },
            Err(KubeError::Unreachable { message, .. }) => Check::Pending(format!(
                "the Kubernetes API does not answer yet ({message})"
            )),
            Err(KubeError::MissingKinds { .. }) => {
                Check::Pending("the API does not serve Application yet".into())
            }
            Err(e) => Check::Failed(e.to_string()),
        })
    })
    .await
}

impl Stage for WaitObject {
    fn name(&self) -> String {
        self.stage.clone()
    }

    fn summary(&self) -> String {
        format!(
            "wait for {} {}/{} {}",
            self.kind_name(),
            self.namespace,
            self.name,
            self.ready_means
        )
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let cluster = ctx.cluster().await?;
            let what = format!("{} {}/{}", self.kind_name(), self.namespace, self.name);
            let limit = (self.limit)(&ctx.timing);
            let client = cluster.client.clone();
            match self.kind {
                Readiness::Deployment => {
                    let api: Api<Deployment> = Api::namespaced(client, &self.namespace);
                    watch_until(
                        ctx,
                        &cluster,
                        &what,
                        &self.name,
                        (limit, limit),
                        wait::object(api, &self.name, retry(ctx)),
                        |d: &Option<Deployment>| match d {
                            Some(d) => deployment_ready(d, None),
                            None => Check::Pending("not created yet".into()),
                        },
                    )
                    .await
                }
                Readiness::Application => {
                    let started = Instant::now();
                    let resource = served_application(ctx, &cluster, &what, limit).await?;
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(client, &self.namespace, &resource);
                    let states = wait::object(api, &self.name, retry(ctx));
                    let left = limit.saturating_sub(started.elapsed());
                    watch_until(
                        ctx,
                        &cluster,
                        &what,
                        &self.name,
                        (limit, left),
                        states,
                        |a: &Option<DynamicObject>| match a {
                            Some(a) => application_synced_healthy(&a.data),
                            None => Check::Pending("not created yet".into()),
                        },
                    )
                    .await
                }
            }
        })
    }
}
