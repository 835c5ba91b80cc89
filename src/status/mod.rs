//! `kubectl zt status`: is the platform running? The gates the old bootstrap checked at its
//! end, as waits on watches ([`collection`], judged by [`judge`]): every expected Argo CD
//! Application Synced and Healthy (the expected ones read from the platform repo, [`expected`];
//! a preview tolerance list), External Secrets' store and every ExternalSecret Ready,
//! Crossplane's XRDs Established, the Deployments, StatefulSets and DaemonSets of the namespaces
//! those Applications deploy to (the platform's services: NATS, the database operators) rolled
//! out, and kube-system's DaemonSets (Cilium) on every node. Each gate says what it waits for; on timeout the report holds
//! every object that is not ready with its conditions and its last events.

pub mod collection;
pub mod expected;
pub mod judge;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::kube::Cluster;
use crate::kube::wait::{self, Backoff, Check, WaitError};

pub use judge::{PREVIEW_TOLERATED, State, Verdict};

/// What `status` checks, and how long it waits.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where Argo CD and its Applications live.
    pub argocd_namespace: String,
    /// The root Application (app-of-apps).
    pub root: String,
    /// The children the root creates, from the platform repo; `None`: every one present.
    pub expected: Option<Vec<String>>,
    /// Applications allowed to stay unhealthy (with `--preview`, [`PREVIEW_TOLERATED`] and any
    /// added by name).
    pub tolerated: Vec<String>,
    /// The ClusterSecretStore the platform's ExternalSecrets read.
    pub secret_store: String,
    /// For all gates together; a gate that times out leaves the others one look each.
    pub timeout: Duration,
}

/// The outcome of every gate.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ready: bool,
    pub gates: Vec<GateReport>,
}

/// One gate: what it waited for, and how every object it judged stands.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateReport {
    pub name: &'static str,
    pub waits_for: String,
    pub ready: bool,
    /// Why the gate is not ready (timed out, not installed), empty when it is.
    pub problem: String,
    pub objects: Vec<ObjectReport>,
}

/// One object's verdict, with conditions and recent events when it is not ready.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// Where progress goes: a gate starting, and each new pending reason.
pub trait Progress: Send + Sync {
    fn waiting(&self, gate: &str, what: &str);
    fn pending(&self, gate: &str, why: &str);
}

/// The least time a gate gets, however little is left of `--timeout`.
const MIN_GATE_TIME: Duration = Duration::from_secs(2);

/// How many events per object a diagnosis shows.
const EVENTS_SHOWN: usize = 5;

/// How a gate judges a snapshot of its kind.
type Judge = Box<dyn Fn(&collection::Snapshot) -> Vec<Verdict> + Send + Sync>;

/// A kind a gate watches: how to find it, and how to judge it.
struct Gate {
    name: &'static str,
    waits_for: String,
    group: &'static str,
    kind: &'static str,
    /// `Some(ns)`: only that namespace.
    namespace: Option<String>,
    judge: Judge,
    what: &'static str,
}

fn applications_gate(o: &Options) -> Gate {
    let ns = o.argocd_namespace.clone();
    let root = o.root.clone();
    let expected = o.expected.clone();
    let tolerated = o.tolerated.clone();
    let apps_wait = match &o.expected {
        Some(list) => format!(
            "Application {root} and the {} it creates Synced and Healthy",
            list.len()
        ),
        None => format!("Application {root} and every other Application Synced and Healthy"),
    };
    let tolerated_text = if o.tolerated.is_empty() {
        String::new()
    } else {
        format!(" (tolerated unhealthy: {})", o.tolerated.join(", "))
    };
    Gate {
        name: "applications",
        waits_for: format!("{apps_wait} in namespace {ns}{tolerated_text}"),
        group: "argoproj.io",
        kind: "Application",
        namespace: Some(ns.clone()),
        judge: Box::new(move |s| {
            judge::applications(s, &ns, &root, expected.as_deref(), &tolerated)
        }),
        what: "Applications",
    }
}

/// The gates after the Applications: External Secrets, XRDs, and the workloads of the
/// namespaces the Applications deploy to (`namespaces`).
fn later_gates(o: &Options, namespaces: Vec<String>) -> Vec<Gate> {
    let store = o.secret_store.clone();
    let shown = if namespaces.is_empty() {
        "(none found)".to_string()
    } else {
        namespaces.join(", ")
    };
    let deployments_in = namespaces.clone();
    let statefulsets_in = namespaces.clone();
    // The node agents too: Cilium (production's network) and kube-proxy run in kube-system,
    // which no Application deploys to.
    let mut daemonsets_in = namespaces;
    if !daemonsets_in.iter().any(|n| n == "kube-system") {
        daemonsets_in.push("kube-system".into());
    }
    let daemonsets_shown = daemonsets_in.join(", ");
    vec![
        Gate {
            name: "secret-store",
            waits_for: format!("ClusterSecretStore {store} Ready"),
            group: "external-secrets.io",
            kind: "ClusterSecretStore",
            namespace: None,
            judge: Box::new(move |s| {
                judge::conditions(
                    s,
                    "ClusterSecretStore",
                    "Ready",
                    std::slice::from_ref(&store),
                )
            }),
            what: "ClusterSecretStores",
        },
        Gate {
            name: "external-secrets",
            waits_for: "every ExternalSecret Ready (synced from Parameter Store)".into(),
            group: "external-secrets.io",
            kind: "ExternalSecret",
            namespace: None,
            judge: Box::new(|s| judge::conditions(s, "ExternalSecret", "Ready", &[])),
            what: "ExternalSecrets",
        },
        Gate {
            name: "xrds",
            waits_for: "every Crossplane CompositeResourceDefinition Established".into(),
            group: "apiextensions.crossplane.io",
            kind: "CompositeResourceDefinition",
            namespace: None,
            judge: Box::new(|s| {
                judge::conditions(s, "CompositeResourceDefinition", "Established", &[])
            }),
            what: "XRDs",
        },
        Gate {
            name: "deployments",
            waits_for: format!(
                "every Deployment rolled out in the namespaces the Applications deploy to: {shown}"
            ),
            group: "apps",
            kind: "Deployment",
            namespace: None,
            judge: Box::new(move |s| judge::workloads(s, "Deployment", &deployments_in)),
            what: "Deployments",
        },
        Gate {
            name: "statefulsets",
            waits_for: format!(
                "every StatefulSet (NATS, databases, ...) ready in the namespaces the Applications deploy to: {shown}"
            ),
            group: "apps",
            kind: "StatefulSet",
            namespace: None,
            judge: Box::new(move |s| judge::workloads(s, "StatefulSet", &statefulsets_in)),
            what: "StatefulSets",
        },
        Gate {
            name: "daemonsets",
            waits_for: format!(
                "every DaemonSet (Cilium, node agents) on every node it should run on, in {daemonsets_shown}"
            ),
            group: "apps",
            kind: "DaemonSet",
            namespace: None,
            judge: Box::new(move |s| judge::workloads(s, "DaemonSet", &daemonsets_in)),
            what: "DaemonSets",
        },
    ]
}

/// Runs every gate in order against `cluster`.
pub async fn run(cluster: &Cluster, o: &Options, progress: &dyn Progress) -> Report {
    let deadline = Instant::now() + o.timeout;
    let mut reports = Vec::new();
    let apps = applications_gate(o);
    progress.waiting(apps.name, &apps.waits_for);
    let (report, snapshot) = run_gate(cluster, &apps, o.timeout, o.timeout, progress).await;
    let verdicts: Vec<Verdict> = report.objects.iter().map(|r| r.verdict.clone()).collect();
    let namespaces = judge::destination_namespaces(&snapshot, &verdicts);
    reports.push(report);
    for gate in later_gates(o, namespaces) {
        progress.waiting(gate.name, &gate.waits_for);
        let left = deadline.saturating_duration_since(Instant::now());
        reports.push(run_gate(cluster, &gate, left, o.timeout, progress).await.0);
    }
    Report {
        ready: reports.iter().all(|g| g.ready),
        gates: reports,
    }
}

async fn run_gate(
    cluster: &Cluster,
    gate: &Gate,
    limit: Duration,
    total: Duration,
    progress: &dyn Progress,
) -> (GateReport, collection::Snapshot) {
    let mut report = GateReport {
        name: gate.name,
        waits_for: gate.waits_for.clone(),
        ready: false,
        problem: String::new(),
        objects: Vec::new(),
    };
    let resource = match kind_resource(cluster, gate.group, gate.kind).await {
        Ok(r) => r,
        Err(why) => {
            report.problem = why;
            return (report, collection::Snapshot::new());
        }
    };
    let api: Api<DynamicObject> = match &gate.namespace {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &resource),
        None => Api::all_with(cluster.client.clone(), &resource),
    };
    let mut last = Vec::new();
    let mut last_snapshot = collection::Snapshot::new();
    // A gate after one that used up the time still gets a moment to list and judge its
    // objects, so the report says where every gate stands.
    let limit = limit.max(MIN_GATE_TIME);
    let result = wait::until(
        limit,
        collection::watch(api, Backoff::default()),
        |snap: &collection::Snapshot| {
            last = (gate.judge)(snap);
            last_snapshot = snap.clone();
            judge::summary(gate.what, &last)
        },
        |e| match wait::client_error(e) {
            Ok(kube::Error::Api(s)) if matches!(s.code, 401 | 403 | 404) => {
                Check::Failed(format!("cannot watch {}: {}", gate.kind, s.message))
            }
            Ok(e) => Check::Pending(format!("cannot watch {} yet: {e}", gate.kind)),
            Err(e) => Check::Pending(format!("cannot watch {} yet: {e}", gate.kind)),
        },
        |why| progress.pending(gate.name, why),
    )
    .await;
    match result {
        Ok(()) => report.ready = true,
        Err(WaitError::TimedOut { last: why }) => {
            report.problem = format!(
                "timed out (--timeout {}); last seen: {why}",
                crate::progress::format_duration(total)
            )
        }
        Err(WaitError::Failed(why)) => report.problem = why,
    }
    for v in last {
        let mut o = ObjectReport {
            verdict: v,
            conditions: Vec::new(),
            events: Vec::new(),
        };
        if !report.ready && !o.verdict.state.ok() && o.verdict.state != State::Missing {
            diagnose(cluster, gate, &resource, &mut o).await;
        }
        report.objects.push(o);
    }
    (report, last_snapshot)
}

/// The recommended version of `group`'s `kind`, or why the cluster does not serve it.
async fn kind_resource(cluster: &Cluster, group: &str, kind: &str) -> Result<ApiResource, String> {
    let not_served = || {
        format!(
            "the cluster does not serve {kind} ({group}): is the component that defines it installed?"
        )
    };
    match kube::discovery::group(&cluster.client, group).await {
        Ok(g) => g
            .recommended_kind(kind)
            .map(|(r, _)| r)
            .ok_or_else(not_served),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(not_served()),
        Err(kube::Error::Discovery(_)) => Err(not_served()),
        Err(e) => Err(format!("discovery of {group} at {}: {e}", cluster.url)),
    }
}

/// The object's conditions and its last events, for a timeout message.
async fn diagnose(cluster: &Cluster, gate: &Gate, resource: &ApiResource, o: &mut ObjectReport) {
    let (ns, name) = match o.verdict.name.split_once('/') {
        Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
        None => (None, o.verdict.name.clone()),
    };
    let api: Api<DynamicObject> = match &ns {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, resource),
        None => Api::all_with(cluster.client.clone(), resource),
    };
    if let Ok(obj) = api.get(&name).await
        && let Ok(v) = serde_json::to_value(obj)
    {
        o.conditions = conditions_of(&v);
    }
    let events: Api<Event> = match &ns {
        Some(ns) => Api::namespaced(cluster.client.clone(), ns),
        None => Api::all(cluster.client.clone()),
    };
    let selector = format!(
        "involvedObject.name={name},involvedObject.kind={}",
        gate.kind
    );
    let mut items = match events.list(&ListParams::default().fields(&selector)).await {
        Ok(list) => list.items,
        Err(_) => Vec::new(),
    };
    // A workload's own events say little (it scaled a ReplicaSet); why it does not run is on
    // its pods (FailedScheduling, BackOff), named `<name>-...`: their warnings too.
    if matches!(gate.kind, "Deployment" | "StatefulSet" | "DaemonSet")
        && let Ok(list) = events
            .list(&ListParams::default().fields("type=Warning"))
            .await
    {
        let prefix = format!("{name}-");
        items.extend(list.items.into_iter().filter(|e| {
            e.involved_object
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(&prefix))
        }));
    }
    items.sort_by_key(event_time);
    o.events = items
        .iter()
        .rev()
        .take(EVENTS_SHOWN)
        .rev()
        .map(|e| {
            format!(
                "{} {}: {}",
                e.type_.as_deref().unwrap_or("Normal"),
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim()
            )
        })
        .collect();
}

fn event_time(e: &Event) -> String {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| {
            e.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        })
        .unwrap_or_default()
}

/// `type=status (reason): message` for each condition.
fn conditions_of(obj: &Value) -> Vec<String> {
    let Some(cs) = obj.pointer("/status/conditions").and_then(Value::as_array) else {
        return Vec::new();
    };
    cs.iter()
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
            let mut line = s("type").to_string();
            if !s("status").is_empty() {
                line.push_str(&format!("={}", s("status")));
            }
            if !s("reason").is_empty() {
                line.push_str(&format!(" ({})", s("reason")));
            }
            if !s("message").is_empty() {
                line.push_str(&format!(": {}", s("message")));
            }
            line
        })
        .collect()
}
