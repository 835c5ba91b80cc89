//! The one way the tool waits for Kubernetes objects: it **watches** them (kube-rs's
//! `watcher`, one object by a `metadata.name` field selector, or a namespace's pods) and reads
//! readiness from every state the server sends, so a change is seen as it happens, not at the
//! next poll.
//!
//! Readiness is a [`Check`]: a pure function of an object (typed `Deployment`, `Pod`, `Node`,
//! `Secret`, `CustomResourceDefinition`; JSON for the CRD-defined kinds: Crossplane claims, Argo
//! CD Applications), tested without a cluster. [`follow`] runs checks over a stream of states;
//! [`until`] adds the time limit and keeps the last diagnosis for the timeout message. Deploy,
//! bootstrap's Kubernetes stages and the CRD wait of [`super::manifests`] all wait through here.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use futures_util::{Stream, StreamExt, future};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The state of one thing being waited for (or of one probe of it: `T` is what a probe found
/// when it is ready; Kubernetes checks carry nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T = ()> {
    Ready(T),
    /// Not yet; the text says what is missing (shown while waiting and on timeout).
    Pending(String),
    /// It will not become ready by waiting (a crash-looping or failed pod).
    Failed(String),
}

/// Ready, with nothing to carry.
pub const READY: Check = Check::Ready(());

/// How a wait ended without the object being ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// Waiting will not help: the check said so.
    #[error("{0}")]
    Failed(String),
    /// The limit passed; `last` is the last diagnosis (empty when none came).
    #[error("timed out; last seen: {last}")]
    TimedOut { last: String },
}

/// Exponential backoff: between probes of what cannot be watched (the Talos API, discovery),
/// and between restarts of a watch that failed (the API not answering yet). Fast at first, then
/// at most `max` apart.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial: initial.min(max),
            next: initial.min(max),
            max,
        }
    }

    /// The delay before the next try; each call doubles the following one up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
}

impl Default for Backoff {
    /// From 250 ms up to every 5 s.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(5))
    }
}

impl Iterator for Backoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

/// kube-rs resets it once a restarted watch delivers again.
impl kube::runtime::utils::Backoff for Backoff {
    fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// One object by name, as a stream of its states (`None` while it does not exist); watch
/// errors are items too, and the watch restarts after them, `retry` apart.
pub fn object<K>(
    api: Api<K>,
    name: &str,
    retry: Backoff,
) -> impl Stream<Item = Result<Option<K>, watcher::Error>> + Send + use<K>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    kube::runtime::watcher::watch_object(api, name).backoff(retry)
}

/// A Deployment and the pods of its namespace, as one stream of states: each item is the
/// Deployment (`None` while it does not exist) and every pod its selector matches. An item
/// comes only once both watches have listed.
pub fn rollout(
    deployments: Api<Deployment>,
    pods: Api<Pod>,
    name: &str,
    retry: Backoff,
) -> impl Stream<Item = Result<(Option<Deployment>, Vec<Pod>), watcher::Error>> + Send + use<> {
    enum Either {
        D(Result<Option<Deployment>, watcher::Error>),
        P(Result<Event<Pod>, watcher::Error>),
    }
    #[derive(Default)]
    struct Seen {
        deployment: Option<Option<Deployment>>,
        pods: Option<BTreeMap<String, Pod>>,
        listing: BTreeMap<String, Pod>,
    }
    let pod_key = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
    let d = object(deployments, name, retry.clone()).map(Either::D);
    let p = watcher::watcher(pods, watcher::Config::default())
        .backoff(retry)
        .map(Either::P);
    futures_util::stream::select(d, p)
        .scan(Seen::default(), move |seen, e| {
            let out = match e {
                Either::D(Ok(d)) => {
                    seen.deployment = Some(d);
                    None
                }
                Either::P(Ok(Event::Init)) => {
                    seen.listing.clear();
                    Some(None)
                }
                Either::P(Ok(Event::InitApply(p))) => {
                    seen.listing.insert(pod_key(&p), p);
                    Some(None)
                }
                Either::P(Ok(Event::InitDone)) => {
                    seen.pods = Some(std::mem::take(&mut seen.listing));
                    None
                }
                Either::P(Ok(Event::Apply(p))) => {
                    seen.pods.get_or_insert_default().insert(pod_key(&p), p);
                    None
                }
                Either::P(Ok(Event::Delete(p))) => {
                    if let Some(pods) = seen.pods.as_mut() {
                        pods.remove(&pod_key(&p));
                    }
                    None
                }
                Either::D(Err(e)) | Either::P(Err(e)) => Some(Some(Err(e))),
            };
            let item = match out {
                // Pod list pages in progress: nothing new to judge.
                Some(None) => None,
                Some(Some(err)) => Some(err),
                None => match (&seen.deployment, &seen.pods) {
                    (Some(d), Some(pods)) => {
                        let selected = d
                            .as_ref()
                            .and_then(|d| d.spec.as_ref())
                            .and_then(|s| s.selector.match_labels.as_ref());
                        let ours = pods
                            .values()
                            .filter(|p| {
                                selected.is_some_and(|want| {
                                    let labels = p.metadata.labels.as_ref();
                                    !want.is_empty()
                                        && want
                                            .iter()
                                            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
                                })
                            })
                            .cloned()
                            .collect();
                        Some(Ok((d.clone(), ours)))
                    }
                    _ => None,
                },
            };
            future::ready(Some(item))
        })
        .filter_map(future::ready)
}

/// Follows `states` until `check` says ready (`Ok`) or failed (`Err`). A watch error is judged
/// by `unreadable` (pending while it may pass, failed when it will not). Every new pending
/// reason goes to `pending`, once.
pub async fn follow<T, S>(
    states: S,
    mut check: impl FnMut(&T) -> Check,
    mut unreadable: impl FnMut(watcher::Error) -> Check,
    mut pending: impl FnMut(&str),
) -> Result<(), String>
where
    S: Stream<Item = Result<T, watcher::Error>>,
{
    let mut states = std::pin::pin!(states);
    let mut last = String::new();
    while let Some(state) = states.next().await {
        let c = match state {
            Ok(s) => check(&s),
            Err(e) => unreadable(e),
        };
        match c {
            Check::Ready(()) => return Ok(()),
            Check::Failed(why) => return Err(why),
            Check::Pending(why) => {
                if why != last {
                    pending(&why);
                    last = why;
                }
            }
        }
    }
    // A watch stream ends only when the client is dropped.
    Err(format!("the watch ended; last seen: {last}"))
}

/// [`follow`] within `limit`; on timeout the error carries the last pending reason.
pub async fn until<T, S>(
    limit: Duration,
    states: S,
    check: impl FnMut(&T) -> Check,
    unreadable: impl FnMut(watcher::Error) -> Check,
    mut pending: impl FnMut(&str),
) -> Result<(), WaitError>
where
    S: Stream<Item = Result<T, watcher::Error>>,
{
    let mut last = String::new();
    let followed = follow(states, check, unreadable, |why| {
        last = why.to_string();
        pending(why);
    });
    match tokio::time::timeout(limit, followed).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(WaitError::Failed(why)),
        Err(_) => Err(WaitError::TimedOut { last }),
    }
}

/// The client error inside a watch error, if there is one.
pub fn client_error(e: watcher::Error) -> Result<kube::Error, watcher::Error> {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => Ok(e),
        other => Err(other),
    }
}

fn describe(type_: &str, status: &str, reason: Option<&str>, message: Option<&str>) -> String {
    let mut out = format!("condition {type_} is {status}");
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        out.push_str(&format!(" (reason {r})"));
    }
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        out.push_str(&format!(": {m}"));
    }
    out
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn describe_condition(c: &Value) -> String {
    let s = |k: &str| c.get(k).and_then(Value::as_str);
    describe(
        s("type").unwrap_or(""),
        s("status").unwrap_or(""),
        s("reason"),
        s("message"),
    )
}

/// A Crossplane claim (or any object with conditions) is ready when its `Ready` condition is
/// `True`. Otherwise the diagnosis names the condition, its reason and last message, and adds a
/// failing `Synced` condition, which is where Crossplane reports composition errors.
pub fn ready_condition(obj: &Value) -> Check {
    match condition(obj, "Ready") {
        Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => READY,
        ready => {
            let mut msg = match ready {
                Some(c) => describe_condition(c),
                None => "no Ready condition reported yet".to_string(),
            };
            if let Some(s) = condition(obj, "Synced")
                && s.get("status").and_then(Value::as_str) != Some("True")
            {
                msg.push_str("; ");
                msg.push_str(&describe_condition(s));
            }
            Check::Pending(msg)
        }
    }
}

/// A Node whose `Ready` condition is `True`.
pub fn node_ready(node: &Node) -> Check {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    condition_true(
        ready.map(|c| {
            (
                &*c.type_,
                &*c.status,
                c.reason.as_deref(),
                c.message.as_deref(),
            )
        }),
        "no Ready condition reported yet",
    )
}

/// Ready when a typed condition (type, status, reason, message) is `True`; else its
/// description, or `missing` when there is none.
fn condition_true(found: Option<(&str, &str, Option<&str>, Option<&str>)>, missing: &str) -> Check {
    match found {
        Some((_, "True", _, _)) => READY,
        Some((type_, status, reason, message)) => {
            Check::Pending(describe(type_, status, reason, message))
        }
        None => Check::Pending(missing.into()),
    }
}

/// A Secret holding at least one non-empty value.
pub fn secret_has_data(secret: &Secret) -> Check {
    let data = secret
        .data
        .as_ref()
        .is_some_and(|m| m.values().any(|v| !v.0.is_empty()));
    let string_data = secret
        .string_data
        .as_ref()
        .is_some_and(|m| m.values().any(|v| !v.is_empty()));
    if data || string_data {
        READY
    } else {
        Check::Pending("exists but has no data yet".into())
    }
}

/// The images of a pod spec's containers, init containers included.
pub fn pod_spec_images(spec: &PodSpec) -> Vec<&str> {
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.image.as_deref())
        .collect()
}

/// A Deployment is ready when the controller has seen its latest spec, it runs `image` (when
/// given: the claim's new image must have reached it), and `spec.replicas` (> 0) pods are
/// updated, ready and the only ones left — what `kubectl rollout status` waits for.
pub fn deployment_ready(d: &Deployment, image: Option<&str>) -> Check {
    let spec = d.spec.as_ref();
    let images = spec
        .and_then(|s| s.template.spec.as_ref())
        .map(pod_spec_images)
        .unwrap_or_default();
    if let Some(want) = image
        && !images.contains(&want)
    {
        return Check::Pending(format!(
            "runs {} instead of {want}; waiting for the claim's new image to reach it",
            if images.is_empty() {
                "no image".to_string()
            } else {
                images.join(", ")
            }
        ));
    }
    let status = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    if observed < generation {
        return Check::Pending("the controller has not yet seen the latest spec".into());
    }
    let want = spec.and_then(|s| s.replicas).unwrap_or(1);
    if want <= 0 {
        return Check::Pending("spec.replicas is 0: nothing will become ready".into());
    }
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    if ready == want && updated == want && total == want {
        READY
    } else {
        let mut msg = format!("{ready} of {want} replicas ready, {updated} updated");
        if total > want {
            msg.push_str(&format!(", {} old pending termination", total - want));
        }
        let conditions = status.conditions.unwrap_or_default();
        let find = |t: &str| conditions.iter().find(|c| c.type_ == t);
        if let Some(c) = find("Progressing").or_else(|| find("Available"))
            && c.status != "True"
        {
            msg.push_str("; ");
            msg.push_str(&describe(
                &c.type_,
                &c.status,
                c.reason.as_deref(),
                c.message.as_deref(),
            ));
        }
        Check::Pending(msg)
    }
}

fn statuses(pod: &Pod) -> impl Iterator<Item = &k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.iter().flat_map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    })
}

fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("?")
}

/// A pod that will not recover by waiting: phase `Failed`, or a container in `CrashLoopBackOff`.
pub fn pod_failure(pod: &Pod) -> Option<String> {
    let name = pod_name(pod);
    let status = pod.status.as_ref();
    let s = |f: fn(&k8s_openapi::api::core::v1::PodStatus) -> Option<&String>| {
        status.and_then(f).map(String::as_str).unwrap_or("")
    };
    if s(|s| s.phase.as_ref()) == "Failed" {
        let mut msg = format!("pod {name} failed");
        let reason = s(|s| s.reason.as_ref());
        if !reason.is_empty() {
            msg.push_str(&format!(" ({reason})"));
        }
        let message = s(|s| s.message.as_ref());
        if !message.is_empty() {
            msg.push_str(&format!(": {message}"));
        }
        return Some(msg);
    }
    for c in statuses(pod) {
        let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
        if waiting.and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff") {
            let mut msg = format!("pod {name}: container {} is in CrashLoopBackOff", c.name);
            if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
                msg.push_str(&format!("; last exit code {}", t.exit_code));
                if let Some(reason) = t.reason.as_deref().filter(|r| !r.is_empty()) {
                    msg.push_str(&format!(" ({reason})"));
                }
                if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
                    msg.push_str(&format!(": {}", m.trim()));
                }
            }
            return Some(msg);
        }
    }
    None
}

/// Why a pod is not ready yet, for timeout reports: the scheduler's reason when it could not
/// place the pod (`PodScheduled` False: no node fits, a taint, a selector), else a waiting
/// container's reason and message.
pub fn pod_waiting(pod: &Pod) -> Option<String> {
    let name = pod_name(pod);
    let scheduled = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
    if let Some(c) = scheduled
        && c.status == "False"
    {
        let mut msg = format!(
            "pod {name}: not scheduled ({})",
            c.reason
                .as_deref()
                .filter(|r| !r.is_empty())
                .unwrap_or("PodScheduled is False")
        );
        if let Some(m) = c.message.as_deref().filter(|m| !m.is_empty()) {
            msg.push_str(&format!(": {m}"));
        }
        return Some(msg);
    }
    statuses(pod).find_map(|c| {
        let w = c.state.as_ref()?.waiting.as_ref()?;
        let reason = w.reason.as_deref().unwrap_or("waiting");
        let mut msg = format!("pod {name}: container {} {reason}", c.name);
        if let Some(m) = w.message.as_deref().filter(|m| !m.is_empty()) {
            msg.push_str(&format!(": {m}"));
        }
        Some(msg)
    })
}

/// A rollout of `image`: the Deployment's readiness, failing fast when a pod of the new image
/// will not recover, and naming what a waiting pod of it waits for. Only pods of the new image
/// count: an old pod crash-looping is not this deploy's failure, and the rollout replaces it.
pub fn rollout_ready(d: Option<&Deployment>, pods: &[Pod], image: &str) -> Check {
    let Some(d) = d else {
        return Check::Pending("not created yet (the claim's composition creates it)".into());
    };
    let ours: Vec<&Pod> = pods
        .iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .map(pod_spec_images)
                .unwrap_or_default()
                .contains(&image)
        })
        .collect();
    if let Some(f) = ours.iter().find_map(|p| pod_failure(p)) {
        return Check::Failed(f);
    }
    match deployment_ready(d, Some(image)) {
        Check::Pending(mut m) => {
            if let Some(w) = ours.iter().find_map(|p| pod_waiting(p)) {
                m.push_str("; ");
                m.push_str(&w);
            }
            Check::Pending(m)
        }
        other => other,
    }
}

/// A CustomResourceDefinition the API server has started serving (`Established`).
pub fn crd_established(crd: &CustomResourceDefinition) -> Check {
    let established = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Established"));
    condition_true(
        established.map(|c| {
            (
                &*c.type_,
                &*c.status,
                c.reason.as_deref(),
                c.message.as_deref(),
            )
        }),
        "not established yet",
    )
}

/// An Argo CD Application that is `Synced` and `Healthy`. A `Degraded` health or a sync
/// operation that failed is reported with Argo CD's own message; both can still recover (Argo
/// CD retries), so they stay pending until the deadline.
pub fn application_synced_healthy(app: &Value) -> Check {
    let s = |p: &str| app.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (health, sync) = (s("/status/health/status"), s("/status/sync/status"));
    // Argo CD reports Synced and Healthy as soon as the live objects match, while its sync
    // operation may still be working through later sync waves (seen with the real application
    // controller: Synced, Healthy, operation Running): only a finished operation counts.
    let phase = s("/status/operationState/phase");
    let operation_done = phase.is_empty() || phase == "Succeeded";
    // A status Argo CD computed for another source (the Application was just re-pointed, say
    // at a new preview branch) says nothing about this one: real Argo CD keeps reporting the
    // old Synced/Healthy until it has compared again, and records what it compared in
    // status.sync.comparedTo.
    let stale = app
        .pointer("/status/sync/comparedTo/source")
        .is_some_and(|seen| {
            ["repoURL", "path", "targetRevision", "chart"]
                .iter()
                .any(|k| seen.get(*k) != app.pointer("/spec/source").and_then(|src| src.get(*k)))
        });
    if stale {
        return Check::Pending(format!(
            "Argo CD has not compared {} at {} yet",
            s("/spec/source/repoURL"),
            s("/spec/source/targetRevision")
        ));
    }
    if health == "Healthy" && sync == "Synced" && operation_done {
        return READY;
    }
    let mut msg = format!(
        "health {}, sync {}",
        if health.is_empty() { "unknown" } else { health },
        if sync.is_empty() { "unknown" } else { sync }
    );
    if !operation_done {
        msg.push_str(&format!(", operation {phase}"));
    }
    let detail = [
        "/status/health/message",
        "/status/operationState/message",
        "/status/conditions/0/message",
    ]
    .iter()
    .map(|p| s(p))
    .find(|m| !m.is_empty());
    if let Some(m) = detail {
        msg.push_str(": ");
        msg.push_str(m);
    }
    Check::Pending(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed<K: DeserializeOwned>(v: Value) -> K {
        serde_json::from_value(v).expect("a valid object")
    }

    #[test]
    fn an_unscheduled_pod_says_why_the_scheduler_could_not_place_it() {
        let pod: Pod = typed(
            json!({"metadata": {"name": "web-1"}, "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."},
            ]}}),
        );
        assert_eq!(
            pod_waiting(&pod).unwrap(),
            "pod web-1: not scheduled (Unschedulable): 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
        );
        let scheduled: Pod = typed(
            json!({"metadata": {"name": "web-1"}, "status": {"conditions": [
                {"type": "PodScheduled", "status": "True"},
            ]}}),
        );
        assert_eq!(pod_waiting(&scheduled), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        use kube::runtime::utils::Backoff as _;
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let d: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next().map(|d| d.as_millis()), Some(100));
    }

    #[test]
    fn claim_readiness_and_its_diagnosis() {
        assert_eq!(
            ready_condition(
                &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
            ),
            READY
        );
        assert_eq!(
            ready_condition(&json!({})),
            Check::Pending("no Ready condition reported yet".into())
        );
        let c = ready_condition(&json!({"status": {"conditions": [
            {"type": "Synced", "status": "False", "reason": "ReconcileError", "message": "cannot compose"},
            {"type": "Ready", "status": "False", "reason": "Creating", "message": "waiting for db"},
        ]}}));
        assert_eq!(
            c,
            Check::Pending("condition Ready is False (reason Creating): waiting for db; condition Synced is False (reason ReconcileError): cannot compose".into())
        );
    }

    #[test]
    fn node_readiness() {
        let node = |status: &str| -> Node {
            typed(json!({"metadata": {"name": "n"}, "status": {"conditions": [
                {"type": "Ready", "status": status, "reason": "KubeletNotReady", "message": "cni not ready"}]}}))
        };
        assert_eq!(node_ready(&node("True")), READY);
        assert_eq!(
            node_ready(&node("False")),
            Check::Pending(
                "condition Ready is False (reason KubeletNotReady): cni not ready".into()
            )
        );
        assert_eq!(
            node_ready(&typed(json!({"metadata": {"name": "n"}}))),
            Check::Pending("no Ready condition reported yet".into())
        );
    }

    #[test]
    fn secrets_need_a_non_empty_value() {
        assert_eq!(
            secret_has_data(&typed(json!({"data": {"password": "eA=="}}))),
            READY
        );
        assert!(matches!(
            secret_has_data(&typed(json!({"data": {"password": ""}}))),
            Check::Pending(_)
        ));
        assert!(matches!(
            secret_has_data(&typed(json!({}))),
            Check::Pending(_)
        ));
    }

    fn deployment(image: &str, spec: i64, ready: i64, updated: i64, total: i64) -> Deployment {
        typed(json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": spec, "selector": {"matchLabels": {"app": "my-svc"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
            "status": {"observedGeneration": 2, "readyReplicas": ready, "updatedReplicas": updated, "replicas": total},
        }))
    }

    #[test]
    fn deployment_rollout() {
        let img = "ghcr.io/org/my-svc:sha-1";
        assert_eq!(
            deployment_ready(&deployment(img, 2, 2, 2, 2), Some(img)),
            READY
        );
        assert_eq!(deployment_ready(&deployment(img, 2, 2, 2, 2), None), READY);
        let Check::Pending(m) =
            deployment_ready(&deployment("ghcr.io/org/my-svc:old", 2, 2, 2, 2), Some(img))
        else {
            panic!()
        };
        assert!(m.contains("runs ghcr.io/org/my-svc:old instead of"), "{m}");
        let Check::Pending(m) = deployment_ready(&deployment(img, 2, 2, 1, 3), Some(img)) else {
            panic!()
        };
        assert_eq!(
            m,
            "2 of 2 replicas ready, 1 updated, 1 old pending termination"
        );
        assert!(
            matches!(deployment_ready(&deployment(img, 0, 0, 0, 0), Some(img)), Check::Pending(m) if m.contains("spec.replicas is 0"))
        );
        let mut stale = deployment(img, 1, 1, 1, 1);
        if let Some(s) = stale.status.as_mut() {
            s.observed_generation = Some(1);
        }
        assert!(
            matches!(deployment_ready(&stale, Some(img)), Check::Pending(m) if m.contains("not yet seen"))
        );
    }

    #[test]
    fn failing_pods_are_recognised() {
        let crash: Pod = typed(
            json!({"metadata": {"name": "p1"}, "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
             "lastState": {"terminated": {"exitCode": 3, "reason": "Error", "message": "db refused\n"}}}]}}),
        );
        assert_eq!(
            pod_failure(&crash).unwrap(),
            "pod p1: container app is in CrashLoopBackOff; last exit code 3 (Error): db refused"
        );
        let failed: Pod = typed(
            json!({"metadata": {"name": "p2"}, "status": {"phase": "Failed", "reason": "Evicted", "message": "low memory"}}),
        );
        assert_eq!(
            pod_failure(&failed).unwrap(),
            "pod p2 failed (Evicted): low memory"
        );
        let pulling: Pod = typed(
            json!({"metadata": {"name": "p3"}, "status": {"phase": "Pending", "containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}]}}),
        );
        assert_eq!(pod_failure(&pulling), None);
        assert_eq!(
            pod_waiting(&pulling).unwrap(),
            "pod p3: container app ImagePullBackOff: not found"
        );
    }

    #[test]
    fn a_rollout_counts_only_pods_of_the_new_image() {
        let img = "ghcr.io/org/my-svc:sha-1";
        let pod = |name: &str, image: &str| -> Pod {
            typed(
                json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": image}]},
                "status": {"containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
            )
        };
        let d = deployment(img, 1, 0, 1, 1);
        assert!(matches!(
            rollout_ready(Some(&d), &[pod("old", "ghcr.io/org/my-svc:v1")], img),
            Check::Pending(_)
        ));
        assert_eq!(
            rollout_ready(Some(&d), &[pod("new", img)], img),
            Check::Failed("pod new: container app is in CrashLoopBackOff".into())
        );
        assert_eq!(
            rollout_ready(None, &[], img),
            Check::Pending("not created yet (the claim's composition creates it)".into())
        );
    }

    #[test]
    fn crds_and_applications() {
        assert_eq!(
            crd_established(&typed(
                json!({"metadata": {"name": "x"}, "spec": {"group": "g", "names": {"kind": "X", "plural": "xs"}, "scope": "Namespaced", "versions": []}})
            )),
            Check::Pending("not established yet".into())
        );
        let ok = json!({"metadata": {"name": "x"}, "spec": {"group": "g", "names": {"kind": "X", "plural": "xs"}, "scope": "Namespaced", "versions": []},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(crd_established(&typed(ok)), READY);
        let app = json!({"status": {"health": {"status": "Progressing", "message": "Waiting for rollout"}, "sync": {"status": "Synced"}}});
        assert_eq!(
            application_synced_healthy(&app),
            Check::Pending("health Progressing, sync Synced: Waiting for rollout".into())
        );
        let ok = json!({"status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced"}}});
        assert_eq!(application_synced_healthy(&ok), READY);
        assert_eq!(
            application_synced_healthy(&json!({})),
            Check::Pending("health unknown, sync unknown".into())
        );
        let waves = json!({"status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced"},
            "operationState": {"phase": "Running", "message": "waiting for completion of hook"}}});
        assert_eq!(
            application_synced_healthy(&waves),
            Check::Pending(
                "health Healthy, sync Synced, operation Running: waiting for completion of hook"
                    .into()
            )
        );
        let done = json!({"status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced"},
            "operationState": {"phase": "Succeeded"}}});
        assert_eq!(application_synced_healthy(&done), READY);
        let source =
            json!({"repoURL": "file:///repo", "path": "p", "targetRevision": "zt-preview"});
        let compared = |target: &str| {
            json!({"spec": {"source": source},
                "status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced",
                "comparedTo": {"source": {"repoURL": "file:///repo", "path": "p", "targetRevision": target}}}}})
        };
        assert_eq!(application_synced_healthy(&compared("zt-preview")), READY);
        assert_eq!(
            application_synced_healthy(&compared("main")),
            Check::Pending("Argo CD has not compared file:///repo at zt-preview yet".into())
        );
    }

    #[tokio::test]
    async fn follow_reports_each_new_reason_once_and_stops_when_ready() {
        let states = futures_util::stream::iter([1, 1, 2, 3, 4].map(Ok::<i32, watcher::Error>));
        let mut seen = Vec::new();
        let r = follow(
            states,
            |n: &i32| match n {
                3 => READY,
                n => Check::Pending(format!("at {n}")),
            },
            |_| Check::Failed("unexpected".into()),
            |w| seen.push(w.to_string()),
        )
        .await;
        assert_eq!(r, Ok(()));
        assert_eq!(seen, ["at 1", "at 2"]);
    }

    #[tokio::test]
    async fn until_times_out_with_the_last_reason() {
        let states = futures_util::stream::iter([Ok::<i32, watcher::Error>(1)])
            .chain(futures_util::stream::pending());
        let r = until(
            Duration::from_millis(20),
            states,
            |n: &i32| Check::Pending(format!("at {n}")),
            |_| Check::Failed("unexpected".into()),
            |_| {},
        )
        .await;
        assert_eq!(
            r,
            Err(WaitError::TimedOut {
                last: "at 1".into()
            })
        );
    }
}
