//! Reading readiness from objects, and the polling rhythm of waits.
//!
//! The checks are pure functions of an object's JSON, so they are tested without a cluster; the
//! deploy flow calls them on every poll. Polls back off exponentially (fast at first, when most
//! objects become ready, then at most `max` apart) and never sleep past the deadline.

use std::time::Duration;

use serde_json::Value;

/// The state of one thing being waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Ready,
    /// Not yet; the text says what is missing (shown while waiting and on timeout).
    Pending(String),
    /// It will not become ready by waiting (a crash-looping or failed pod).
    Failed(String),
}

/// Exponential backoff between polls.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            next: initial.min(max),
            max,
        }
    }

    /// The delay before the next poll; each call doubles the following one up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn describe_condition(c: &Value) -> String {
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
    let mut out = format!("condition {} is {}", s("type"), s("status"));
    if !s("reason").is_empty() {
        out.push_str(&format!(" (reason {})", s("reason")));
    }
    if !s("message").is_empty() {
        out.push_str(&format!(": {}", s("message")));
    }
    out
}

/// A Crossplane claim (or any object with conditions) is ready when its `Ready` condition is
/// `True`. Otherwise the diagnosis names the condition, its reason and last message, and adds a
/// failing `Synced` condition, which is where Crossplane reports composition errors.
pub fn ready_condition(obj: &Value) -> Check {
    match condition(obj, "Ready") {
        Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => Check::Ready,
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

/// A Secret holding at least one non-empty value.
pub fn secret_has_data(secret: &Value) -> Check {
    let non_empty = ["data", "stringData"].iter().any(|f| {
        secret.get(f).and_then(Value::as_object).is_some_and(|m| {
            m.values()
                .any(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        })
    });
    if non_empty {
        Check::Ready
    } else {
        Check::Pending("exists but has no data yet".into())
    }
}

fn int(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// The images of a Deployment's (or Pod's) containers, init containers included.
pub fn pod_spec_images(spec: &Value) -> Vec<&str> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|f| spec.get(f).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect()
}

/// A Deployment is ready when the controller has seen its latest spec, it runs `image` (when
/// given: the claim's new image must have reached it), and `spec.replicas` (> 0) pods are
/// updated, ready and the only ones left — what `kubectl rollout status` waits for.
pub fn deployment_ready(d: &Value, image: Option<&str>) -> Check {
    let images = d
        .pointer("/spec/template/spec")
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
    let generation = int(d, "/metadata/generation").unwrap_or(0);
    let observed = int(d, "/status/observedGeneration").unwrap_or(0);
    if observed < generation {
        return Check::Pending("the controller has not yet seen the latest spec".into());
    }
    let want = int(d, "/spec/replicas").unwrap_or(1);
    if want <= 0 {
        return Check::Pending("spec.replicas is 0: nothing will become ready".into());
    }
    let ready = int(d, "/status/readyReplicas").unwrap_or(0);
    let updated = int(d, "/status/updatedReplicas").unwrap_or(0);
    let total = int(d, "/status/replicas").unwrap_or(0);
    if ready == want && updated == want && total == want {
        Check::Ready
    } else {
        let mut msg = format!("{ready} of {want} replicas ready, {updated} updated");
        if total > want {
            msg.push_str(&format!(", {} old pending termination", total - want));
        }
        if let Some(c) = condition(d, "Progressing").or_else(|| condition(d, "Available"))
            && c.get("status").and_then(Value::as_str) != Some("True")
        {
            msg.push_str("; ");
            msg.push_str(&describe_condition(c));
        }
        Check::Pending(msg)
    }
}

fn statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .filter_map(|f| {
            pod.pointer(&format!("/status/{f}"))
                .and_then(Value::as_array)
        })
        .flatten()
}

/// A pod that will not recover by waiting: phase `Failed`, or a container in `CrashLoopBackOff`.
pub fn pod_failure(pod: &Value) -> Option<String> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or("");
    if s("/status/phase") == "Failed" {
        let mut msg = format!("pod {name} failed");
        if !s("/status/reason").is_empty() {
            msg.push_str(&format!(" ({})", s("/status/reason")));
        }
        if !s("/status/message").is_empty() {
            msg.push_str(&format!(": {}", s("/status/message")));
        }
        return Some(msg);
    }
    for c in statuses(pod) {
        if c.pointer("/state/waiting/reason").and_then(Value::as_str) == Some("CrashLoopBackOff") {
            let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let mut msg = format!("pod {name}: container {cname} is in CrashLoopBackOff");
            if let Some(t) = c.pointer("/lastState/terminated") {
                let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
                let reason = t.get("reason").and_then(Value::as_str).unwrap_or("");
                msg.push_str(&format!("; last exit code {code}"));
                if !reason.is_empty() {
                    msg.push_str(&format!(" ({reason})"));
                }
                if let Some(m) = t
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                {
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
pub fn pod_waiting(pod: &Value) -> Option<String> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    if let Some(c) = condition(pod, "PodScheduled")
        && c.get("status").and_then(Value::as_str) == Some("False")
    {
        let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
        let mut msg = format!(
            "pod {name}: not scheduled ({})",
            if s("reason").is_empty() {
                "PodScheduled is False"
            } else {
                s("reason")
            }
        );
        if !s("message").is_empty() {
            msg.push_str(&format!(": {}", s("message")));
        }
        return Some(msg);
    }
    statuses(pod).find_map(|c| {
        let w = c.pointer("/state/waiting")?;
        let reason = w.get("reason").and_then(Value::as_str).unwrap_or("waiting");
        let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let mut msg = format!("pod {name}: container {cname} {reason}");
        if let Some(m) = w
            .get("message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            msg.push_str(&format!(": {m}"));
        }
        Some(msg)
    })
}

/// `matchLabels` of a Deployment's selector as `a=b,c=d` (`None` without one).
pub fn selector(d: &Value) -> Option<String> {
    let labels = d.pointer("/spec/selector/matchLabels")?.as_object()?;
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unscheduled_pod_says_why_the_scheduler_could_not_place_it() {
        let pod = json!({"metadata": {"name": "web-1"}, "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."},
        ]}});
        assert_eq!(
            pod_waiting(&pod).unwrap(),
            "pod web-1: not scheduled (Unschedulable): 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
        );
        let scheduled = json!({"metadata": {"name": "web-1"}, "status": {"conditions": [
            {"type": "PodScheduled", "status": "True"},
        ]}});
        assert_eq!(pod_waiting(&scheduled), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let d: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn claim_readiness_and_its_diagnosis() {
        assert_eq!(
            ready_condition(
                &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
            ),
            Check::Ready
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
    fn secrets_need_a_non_empty_value() {
        assert_eq!(
            secret_has_data(&json!({"data": {"password": "eA=="}})),
            Check::Ready
        );
        assert!(matches!(
            secret_has_data(&json!({"data": {"password": ""}})),
            Check::Pending(_)
        ));
        assert!(matches!(secret_has_data(&json!({})), Check::Pending(_)));
    }

    fn deployment(image: &str, spec: i64, ready: i64, updated: i64, total: i64) -> Value {
        json!({
            "metadata": {"generation": 2},
            "spec": {"replicas": spec, "selector": {"matchLabels": {"app": "my-svc"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
            "status": {"observedGeneration": 2, "readyReplicas": ready, "updatedReplicas": updated, "replicas": total},
        })
    }

    #[test]
    fn deployment_rollout() {
        let img = "ghcr.io/org/my-svc:sha-1";
        assert_eq!(
            deployment_ready(&deployment(img, 2, 2, 2, 2), Some(img)),
            Check::Ready
        );
        assert_eq!(
            deployment_ready(&deployment(img, 2, 2, 2, 2), None),
            Check::Ready
        );
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
        stale["status"]["observedGeneration"] = json!(1);
        assert!(
            matches!(deployment_ready(&stale, Some(img)), Check::Pending(m) if m.contains("not yet seen"))
        );
        assert_eq!(selector(&stale).as_deref(), Some("app=my-svc"));
    }

    #[test]
    fn failing_pods_are_recognised() {
        let crash = json!({"metadata": {"name": "p1"}, "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
             "lastState": {"terminated": {"exitCode": 3, "reason": "Error", "message": "db refused\n"}}}]}});
        assert_eq!(
            pod_failure(&crash).unwrap(),
            "pod p1: container app is in CrashLoopBackOff; last exit code 3 (Error): db refused"
        );
        let failed = json!({"metadata": {"name": "p2"}, "status": {"phase": "Failed", "reason": "Evicted", "message": "low memory"}});
        assert_eq!(
            pod_failure(&failed).unwrap(),
            "pod p2 failed (Evicted): low memory"
        );
        let pulling = json!({"metadata": {"name": "p3"}, "status": {"phase": "Pending", "containerStatuses": [
            {"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}]}});
        assert_eq!(pod_failure(&pulling), None);
        assert_eq!(
            pod_waiting(&pulling).unwrap(),
            "pod p3: container app ImagePullBackOff: not found"
        );
    }
}

/// A CustomResourceDefinition the API server has started serving (`Established`).
pub fn crd_established(crd: &Value) -> Check {
    match condition(crd, "Established") {
        Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => Check::Ready,
        Some(c) => Check::Pending(describe_condition(c)),
        None => Check::Pending("not established yet".into()),
    }
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
        return Check::Ready;
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
mod bootstrap_checks {
    use super::*;
    use serde_json::json;

    #[test]
    fn crds_and_applications() {
        assert_eq!(
            crd_established(&json!({})),
            Check::Pending("not established yet".into())
        );
        let ok = json!({"status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(crd_established(&ok), Check::Ready);
        let app = json!({"status": {"health": {"status": "Progressing", "message": "Waiting for rollout"}, "sync": {"status": "Synced"}}});
        assert_eq!(
            application_synced_healthy(&app),
            Check::Pending("health Progressing, sync Synced: Waiting for rollout".into())
        );
        let ok = json!({"status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced"}}});
        assert_eq!(application_synced_healthy(&ok), Check::Ready);
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
        assert_eq!(application_synced_healthy(&done), Check::Ready);
        let source =
            json!({"repoURL": "file:///repo", "path": "p", "targetRevision": "zt-preview"});
        let compared = |target: &str| {
            json!({"spec": {"source": source},
                "status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced",
                "comparedTo": {"source": {"repoURL": "file:///repo", "path": "p", "targetRevision": target}}}}})
        };
        assert_eq!(
            application_synced_healthy(&compared("zt-preview")),
            Check::Ready
        );
        assert_eq!(
            application_synced_healthy(&compared("main")),
            Check::Pending("Argo CD has not compared file:///repo at zt-preview yet".into())
        );
    }
}
