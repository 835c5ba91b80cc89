//! Applying a [`Plan`] to a cluster and waiting until the service is ready.
//!
//! Order of events:
//! 1. connect (kubeconfig or in-cluster) and resolve every kind the plan needs; kinds the cluster
//!    does not serve are all reported before anything is applied;
//! 2. apply the Namespace (created if missing);
//! 3. a server-side dry run of every other object, so conflicts and schema errors surface before
//!    anything else changes;
//! 4. apply Secrets/ConfigMaps, other objects, database claims, service claims, in that order;
//! 5. wait (unless `--no-wait`): the service's Postgres claim and its connection Secret, then
//!    every claim's `Ready` condition and each service Deployment's rollout of the new image,
//!    failing fast when a pod of the new image crash-loops or fails. Each thing is watched
//!    ([`crate::kube::wait`]), all of a stage at once, so a change is seen when it happens;
//! 6. when `diagnostics.post_deploy.test_health_endpoint` is on (and not `--skip-health`), the
//!    service's health and liveness endpoints answer 2xx through the API server's service proxy
//!    ([`super::health`]), retried until the same deadline.
//!
//! Entries of `dependencies.internal` deploy cannot check are warned about
//! ([`super::internal`]).
//!
//! Every message that may carry text from the cluster passes through the plan's [`Scrubber`], so
//! Secret values never reach the terminal.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::kube::api::{Api, DynamicObject};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use serde_json::Value;

use super::DeployError;
use super::health::{self, Endpoint};
use super::internal;
use super::plan::{DATABASE_API_VERSION, Plan, PlannedObject, Wave};
use crate::kube::apply::{self as kapply, ApplyOptions};
use crate::kube::manifests::{Kinds, apply_wave};
use crate::kube::wait::{self as kwait, Check};
use crate::kube::{self, Cluster, ClusterAccess, KubeError, Resolved};
use crate::progress::{Progress, format_duration};
use crate::redact::Scrubber;

/// `--dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    /// Apply for real.
    #[default]
    None,
    /// Print what would be applied; no cluster is contacted.
    Client,
    /// Send everything with `dryRun=All`: the server validates, nothing is stored.
    Server,
}

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: DryRun,
    /// `--force-conflicts`: take over fields other managers own.
    pub force_conflicts: bool,
    /// Wait for readiness (`--no-wait` turns it off).
    pub wait: bool,
    /// The whole wait must finish within this.
    pub timeout: Duration,
    /// `--sync-platform`: ask Argo CD to sync the `dependencies.platform` Applications that are
    /// not Synced and Healthy (through the Application's `operation` field), before waiting.
    pub sync_platform: bool,
    /// Ask the health and liveness endpoints after the rollout, when the contract turns
    /// `diagnostics.post_deploy.test_health_endpoint` on (`--skip-health` turns it off).
    pub health: bool,
}

impl Options {
    /// Real apply and wait.
    pub fn new(timeout: Duration) -> Self {
        Options {
            dry_run: DryRun::None,
            force_conflicts: false,
            wait: true,
            timeout,
            sync_platform: false,
            health: true,
        }
    }
}

/// Argo CD's Application kind, and the namespace the platform's Applications live in.
const APPLICATION: (&str, &str) = ("argoproj.io/v1alpha1", "Application");
const ARGOCD_NAMESPACE: &str = "argocd";

/// The contract's switch for the health checks, as `config` records it.
const HEALTH_SWITCH: &str = "post_deploy.test_health_endpoint";

/// The steps a deploy reports its progress under.
pub const APPLY: &str = "apply";
pub const WAIT: &str = "wait";

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: DryRun,
    /// Objects applied (or validated, on a server dry run), in order.
    pub applied: Vec<String>,
    /// Things waited for, in the order they became ready.
    pub ready: Vec<String>,
    /// The health checks that passed: `GET /ready answered 200`.
    pub health: Vec<String>,
    pub elapsed: Duration,
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> Resolved {
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Resolved {
        resource: ::kube::discovery::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version,
            kind: kind.into(),
            plural: plural.into(),
        },
        namespaced: true,
    }
}

/// Applies the plan and, unless told not to, waits for the service. A client dry run returns at
/// once without contacting any cluster.
pub async fn execute(
    plan: &Plan,
    access: &ClusterAccess,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Report, DeployError> {
    let started = Instant::now();
    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    if opts.dry_run == DryRun::Client {
        report.applied = plan.objects.iter().map(PlannedObject::describe).collect();
        return Ok(report);
    }
    let scrubber = Scrubber::from_objects(plan.objects.iter().map(|o| &o.value));
    let cluster = kube::connect(access).await?;
    let waits_for_db =
        opts.wait && opts.dry_run == DryRun::None && plan.service.dependencies.has_postgres();

    progress.start(
        APPLY,
        &format!("checking the cluster at {} serves every kind", cluster.url),
    );
    let waits = opts.wait && opts.dry_run == DryRun::None;
    let platform = if waits {
        plan.service.dependencies.platform.as_slice()
    } else {
        &[]
    };
    let resolved = resolve_kinds(&cluster, plan, waits_for_db, !platform.is_empty())
        .await
        .map_err(|e| e.scrubbed(&scrubber))?;
    let waiter = Waiter {
        cluster: &cluster,
        opts,
        progress,
        scrubber: &scrubber,
        started: Instant::now(),
    };
    if let Some(res) = resolved
        .get(&(APPLICATION.0.to_string(), APPLICATION.1.to_string()))
        .filter(|_| !platform.is_empty())
    {
        report.ready = waiter.platform(res, platform).await?;
    }
    report.applied = apply(&cluster, plan, &resolved, opts, progress, &scrubber).await?;
    if waits {
        for w in internal::unchecked(plan) {
            progress.warn(WAIT, &w);
        }
        report
            .ready
            .extend(waiter.run(plan, &resolved, waits_for_db).await?);
        if opts.health && plan.service.diagnostics.iter().any(|d| d == HEALTH_SWITCH) {
            report.health = waiter.health(plan).await?;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Every kind the plan applies, and the database claim's kind when it is waited for, resolved
/// through discovery; a kind the cluster lacks is reported with the file that uses it.
async fn resolve_kinds(
    cluster: &Cluster,
    plan: &Plan,
    waits_for_db: bool,
    waits_for_platform: bool,
) -> Result<Kinds, KubeError> {
    let mut kinds: Vec<(String, String, String)> = plan
        .objects
        .iter()
        .map(|o| {
            (
                o.api_version.clone(),
                o.kind.clone(),
                o.origin
                    .clone()
                    .unwrap_or_else(|| "the service namespace".into()),
            )
        })
        .collect();
    if waits_for_db {
        kinds.push((
            DATABASE_API_VERSION.into(),
            "PostgresInstance".into(),
            "waited for because dependencies.internal lists postgres".into(),
        ));
    }
    if waits_for_platform {
        kinds.push((
            APPLICATION.0.into(),
            APPLICATION.1.into(),
            "waited for because dependencies.platform lists Argo CD Applications".into(),
        ));
    }
    kube::resolve(cluster, &kinds).await
}

/// Applies (or on a server dry run, validates) the plan: the namespace, then everything else
/// as one wave, dry-run first. Returns what was applied, in order.
async fn apply(
    cluster: &Cluster,
    plan: &Plan,
    resolved: &Kinds,
    opts: &Options,
    progress: &dyn Progress,
    scrubber: &Scrubber,
) -> Result<Vec<String>, DeployError> {
    let dry = opts.dry_run == DryRun::Server;
    let (namespaces, rest): (Vec<&PlannedObject>, Vec<&PlannedObject>) =
        plan.objects.iter().partition(|o| o.wave == Wave::Namespace);
    let namespaces: Vec<&Value> = namespaces.iter().map(|o| &o.value).collect();
    let rest: Vec<&Value> = rest.iter().map(|o| &o.value).collect();
    let apply_opts = ApplyOptions {
        force: opts.force_conflicts,
        dry_run: dry,
    };
    // The service namespace must exist before anything can go in it, even for a server dry run
    // (the server rejects a dry run into a missing namespace).
    let namespace_exists = !dry
        || namespace_exists(cluster, &plan.service.namespace)
            .await
            .map_err(|e| e.scrubbed(scrubber))?;
    progress.start(
        APPLY,
        &format!(
            "{} {} objects with server-side apply (field manager {})",
            if dry { "validating" } else { "applying" },
            plan.objects.len(),
            kube::FIELD_MANAGER
        ),
    );
    let mut applied: Vec<String> = Vec::new();
    let on_applied = |what: &str| progress.done(APPLY, &format!("{} {what}", verb(dry)));
    let failed = |e: KubeError, applied: &[String]| partly(e.scrubbed(scrubber), applied);
    apply_wave(
        cluster,
        resolved,
        &namespaces,
        apply_opts,
        &mut applied,
        &on_applied,
    )
    .await
    .map_err(|e| failed(e, &applied))?;
    if !namespace_exists {
        progress.warn(
            APPLY,
            &format!(
                "namespace {} does not exist yet, so the server cannot validate the objects in it; they were checked offline only",
                plan.service.namespace
            ),
        );
        return Ok(applied);
    }
    apply_wave(
        cluster,
        resolved,
        &rest,
        apply_opts,
        &mut applied,
        &on_applied,
    )
    .await
    .map_err(|e| failed(e, &applied))?;
    Ok(applied)
}

async fn namespace_exists(cluster: &Cluster, namespace: &str) -> Result<bool, KubeError> {
    let res = Resolved {
        namespaced: false,
        ..resource("", "v1", "Namespace", "namespaces")
    };
    kapply::get(&cluster.client, &res, None, namespace)
        .await
        .map(|found| found.is_some())
        .map_err(|e| kube::api_error(cluster, "Namespace", e))
}

/// Asks Argo CD to sync Application `name` (prune, server-side apply) by setting its
/// `operation`, as `argocd app sync` does, unless it is Synced and Healthy or an operation is
/// already asked for or running. Returns what was done, for progress.
async fn request_sync(
    cluster: &Cluster,
    res: &Resolved,
    name: &str,
) -> Result<Option<String>, KubeError> {
    let what = format!("Application {ARGOCD_NAMESPACE}/{name}");
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), ARGOCD_NAMESPACE, &res.resource);
    let Some(app) = api
        .get_opt(name)
        .await
        .map_err(|e| kube::api_error(cluster, &what, e))?
    else {
        // The wait that follows says it is missing.
        return Ok(None);
    };
    // What the readiness check reads (spec, status, operation) is the object's data.
    let app = app.data;
    let running = app
        .pointer("/status/operationState/phase")
        .and_then(Value::as_str)
        == Some("Running");
    if app.get("operation").is_some()
        || running
        || kwait::application_synced_healthy(&app) == kwait::READY
    {
        return Ok(None);
    }
    let operation = serde_json::json!({
        "operation": {
            "initiatedBy": {"username": kube::FIELD_MANAGER},
            "sync": {"prune": true, "syncOptions": ["ServerSideApply=true"]},
        }
    });
    api.patch(
        name,
        &::kube::api::PatchParams::default(),
        &::kube::api::Patch::Merge(&operation),
    )
    .await
    .map_err(|e| kube::api_error(cluster, &what, e))?;
    Ok(Some(format!("asked Argo CD to sync {what}")))
}

fn verb(dry: bool) -> &'static str {
    if dry { "validated" } else { "applied" }
}

fn partly(e: KubeError, applied: &[String]) -> DeployError {
    if applied.is_empty() {
        DeployError::Kube(e)
    } else {
        DeployError::PartlyApplied {
            error: e,
            applied: applied.to_vec(),
        }
    }
}

/// One thing to wait for.
enum Target {
    /// An object whose `Ready` condition must be True.
    Ready {
        what: String,
        res: Resolved,
        namespace: String,
        name: String,
    },
    /// A Secret with data.
    Secret { namespace: String, name: String },
    /// An Argo CD Application of the platform, Synced and Healthy.
    Application { res: Resolved, name: String },
    /// A Deployment rolled out with `image`.
    Rollout {
        namespace: String,
        name: String,
        image: String,
    },
}

impl Target {
    fn what(&self) -> String {
        match self {
            Target::Ready { what, .. } => what.clone(),
            Target::Secret { namespace, name } => format!("Secret {namespace}/{name}"),
            Target::Application { name, .. } => {
                format!("Application {ARGOCD_NAMESPACE}/{name}")
            }
            Target::Rollout {
                namespace, name, ..
            } => format!("Deployment {namespace}/{name}"),
        }
    }
}

struct Waiter<'a> {
    cluster: &'a Cluster,
    opts: &'a Options,
    progress: &'a dyn Progress,
    scrubber: &'a Scrubber,
    started: Instant,
}

impl Waiter<'_> {
    /// The `dependencies.platform` Applications, Synced and Healthy before anything is applied;
    /// with `--sync-platform`, Argo CD is first asked to sync those that are not.
    async fn platform(&self, res: &Resolved, names: &[String]) -> Result<Vec<String>, DeployError> {
        if self.opts.sync_platform {
            for name in names {
                if let Some(asked) = request_sync(self.cluster, res, name).await? {
                    self.progress.done(WAIT, &asked);
                }
            }
        }
        let targets = names
            .iter()
            .map(|name| Target::Application {
                res: res.clone(),
                name: name.clone(),
            })
            .collect();
        self.stage("the platform dependencies", targets).await
    }

    async fn run(
        &self,
        plan: &Plan,
        resolved: &std::collections::BTreeMap<(String, String), Resolved>,
        waits_for_db: bool,
    ) -> Result<Vec<String>, DeployError> {
        let ns = &plan.service.namespace;
        let svc = &plan.service.name;
        let mut ready = Vec::new();
        let db_name = format!("{svc}-db");
        if waits_for_db
            && let Some(res) = resolved.get(&(
                DATABASE_API_VERSION.to_string(),
                "PostgresInstance".to_string(),
            ))
        {
            let db = Target::Ready {
                what: format!("PostgresInstance {ns}/{db_name}"),
                res: res.clone(),
                namespace: ns.clone(),
                name: db_name.clone(),
            };
            ready.extend(self.stage("the database", vec![db]).await?);
            let secret = Target::Secret {
                namespace: ns.clone(),
                name: format!("{svc}-db-conn"),
            };
            ready.extend(self.stage("its connection secret", vec![secret]).await?);
        }
        let mut targets = Vec::new();
        for o in plan.objects.iter().filter(|o| o.is_claim()) {
            if waits_for_db && o.kind == "PostgresInstance" && o.name == db_name {
                continue;
            }
            if let Some(res) = resolved.get(&(o.api_version.clone(), o.kind.clone())) {
                targets.push(Target::Ready {
                    what: o.describe(),
                    res: res.clone(),
                    namespace: o.namespace.clone().unwrap_or_else(|| ns.clone()),
                    name: o.name.clone(),
                });
            }
        }
        // The platform's compositions name the Deployment after the claim and copy spec.image
        // into its containers.
        for c in &plan.changes {
            targets.push(Target::Rollout {
                namespace: ns.clone(),
                name: c.name.clone(),
                image: c.to.clone(),
            });
        }
        ready.extend(self.stage("the service", targets).await?);
        Ok(ready)
    }

    /// The health and liveness endpoints (one check when both are the same path), asked at once
    /// through the API server's service proxy until each answers 2xx or the deadline passes.
    async fn health(&self, plan: &Plan) -> Result<Vec<String>, DeployError> {
        let svc = &plan.service;
        let mut paths = vec![svc.health_endpoint.clone()];
        if svc.liveness_endpoint != svc.health_endpoint {
            paths.push(svc.liveness_endpoint.clone());
        }
        let endpoints: Vec<Endpoint> = paths
            .into_iter()
            .map(|path| Endpoint {
                namespace: svc.namespace.clone(),
                service: svc.name.clone(),
                path,
            })
            .collect();
        self.progress.start(
            WAIT,
            &format!(
                "checking the service's health through the API server's service proxy: {}",
                endpoints
                    .iter()
                    .map(Endpoint::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        let deadline = self.started + self.opts.timeout;
        let client = &self.cluster.unretried;
        let outcomes = futures_util::future::join_all(endpoints.iter().map(|e| {
            let what = e.describe();
            health::probe(
                deadline,
                kwait::Backoff::default(),
                move || health::ask(client, e),
                move |why| {
                    self.progress.status(
                        WAIT,
                        &format!("waiting for {what}: {}", self.scrubber.scrub(why)),
                    );
                },
            )
        }))
        .await;
        let mut passed = Vec::new();
        let mut late = Vec::new();
        for (e, outcome) in endpoints.iter().zip(outcomes) {
            match outcome {
                Ok(code) => {
                    self.progress.done(
                        WAIT,
                        &format!(
                            "{} answered {code} ({})",
                            e.describe(),
                            format_duration(self.started.elapsed())
                        ),
                    );
                    passed.push(format!("GET {} answered {code}", e.path));
                }
                Err(kwait::WaitError::Failed(why)) => {
                    return Err(DeployError::HealthCheck(format!(
                        "{}: {}",
                        e.describe(),
                        self.scrubber.scrub(&why)
                    )));
                }
                Err(kwait::WaitError::TimedOut { last }) => late.push(format!(
                    "  {}: {}",
                    e.describe(),
                    self.scrubber.scrub(&last)
                )),
            }
        }
        if late.is_empty() {
            Ok(passed)
        } else {
            Err(DeployError::Unhealthy {
                after: self.opts.timeout,
                diagnosis: late,
            })
        }
    }

    /// Watches `targets`, all at once, until all are ready, one fails, or the deadline passes.
    async fn stage(&self, title: &str, targets: Vec<Target>) -> Result<Vec<String>, DeployError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let deadline = self.started + self.opts.timeout;
        self.progress.start(
            WAIT,
            &format!(
                "waiting for {title}: {}",
                targets
                    .iter()
                    .map(Target::what)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        // The last reason each target gave, for the timeout's diagnosis.
        let reasons: Vec<Mutex<String>> = targets.iter().map(|_| Mutex::default()).collect();
        let mut done = vec![false; targets.len()];
        let mut ready = Vec::new();
        let mut running: FuturesUnordered<_> = targets
            .iter()
            .zip(&reasons)
            .enumerate()
            .map(|(i, (t, reason))| async move { (i, self.watch(t, reason).await) })
            .collect();
        let all = async {
            while let Some((i, outcome)) = running.next().await {
                let what = targets[i].what();
                match outcome {
                    Ok(()) => {
                        self.progress.done(
                            WAIT,
                            &format!(
                                "{what} is ready ({})",
                                format_duration(self.started.elapsed())
                            ),
                        );
                        done[i] = true;
                        ready.push(what);
                    }
                    Err(why) => return Err(DeployError::PodFailed(format!("{what}: {why}"))),
                }
            }
            Ok(())
        };
        match tokio::time::timeout_at(deadline.into(), all).await {
            Ok(r) => r.map(|()| ready),
            Err(_) => Err(DeployError::Timeout {
                after: self.opts.timeout,
                diagnosis: targets
                    .iter()
                    .zip(&reasons)
                    .zip(&done)
                    .filter(|(_, done)| !**done)
                    .map(|((t, why), _)| {
                        let why = why.lock().map(|w| w.clone()).unwrap_or_default();
                        format!("  {}: {why}", t.what())
                    })
                    .collect(),
            }),
        }
    }

    /// Watches one target until it is ready (`Ok`) or will not be (`Err`, scrubbed); each new
    /// reason it is not ready yet goes to `reason` and the progress status.
    async fn watch(&self, t: &Target, reason: &Mutex<String>) -> Result<(), String> {
        let client = self.cluster.client.clone();
        let what = t.what();
        let pending = |why: &str| {
            let why = self.scrubber.scrub(why);
            self.progress
                .status(WAIT, &format!("waiting for {what}: {why}"));
            if let Ok(mut r) = reason.lock() {
                *r = why;
            }
        };
        let unreadable = |e: ::kube::runtime::watcher::Error| {
            Check::Pending(format!("cannot read it: {}", crate::diag::error_chain(&e)))
        };
        let outcome = match t {
            Target::Ready {
                res,
                namespace,
                name,
                ..
            } => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client, namespace, &res.resource);
                kwait::follow(
                    kwait::object(api, name, kwait::Backoff::default()),
                    |o: &Option<DynamicObject>| match o {
                        Some(o) => kwait::ready_condition(&o.data),
                        None => Check::Pending("not found".into()),
                    },
                    unreadable,
                    pending,
                )
                .await
            }
            Target::Secret { namespace, name } => {
                let api: Api<Secret> = Api::namespaced(client, namespace);
                kwait::follow(
                    kwait::object(api, name, kwait::Backoff::default()),
                    |s: &Option<Secret>| match s {
                        Some(s) => kwait::secret_has_data(s),
                        None => Check::Pending("not created yet".into()),
                    },
                    unreadable,
                    pending,
                )
                .await
            }
            Target::Application { res, name } => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client, ARGOCD_NAMESPACE, &res.resource);
                kwait::follow(
                    kwait::object(api, name, kwait::Backoff::default()),
                    |o: &Option<DynamicObject>| match o {
                        Some(o) => kwait::application_synced_healthy(&o.data),
                        None => Check::Pending(
                            "not found: is it one of the platform's Applications?".into(),
                        ),
                    },
                    unreadable,
                    pending,
                )
                .await
            }
            Target::Rollout {
                namespace,
                name,
                image,
            } => {
                let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
                let pods: Api<Pod> = Api::namespaced(client, namespace);
                kwait::follow(
                    kwait::rollout(deployments, pods, name, kwait::Backoff::default()),
                    |(d, pods): &(Option<Deployment>, Vec<Pod>)| {
                        kwait::rollout_ready(d.as_ref(), pods, image)
                    },
                    unreadable,
                    pending,
                )
                .await
            }
        };
        outcome.map_err(|why| self.scrubber.scrub(&why))
    }
}
