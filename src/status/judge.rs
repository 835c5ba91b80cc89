//! How each gate judges a snapshot of its objects: pure functions, tested without a cluster.

use serde::Serialize;
use serde_json::Value;

use super::collection::Snapshot;
use crate::kube::wait::{self, Check};

/// Applications a Kind preview cluster cannot run, allowed to stay unhealthy with `--preview`
/// (the old bootstrap's list: no Cilium on kindnet, no tenants repo credentials in CI, the
/// intelligence stack's GPUs, Kind's own storage instead of local-path).
pub const PREVIEW_TOLERATED: &[&str] = &[
    "cilium",
    "argocd-repo-credentials",
    "intelligence",
    "local-path-provisioner",
];

/// Where one object stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ready,
    /// Not ready, but on the tolerance list.
    Tolerated,
    Pending,
    /// Expected and not there.
    Missing,
}

impl State {
    pub fn ok(self) -> bool {
        matches!(self, State::Ready | State::Tolerated)
    }
}

/// One object's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub kind: String,
    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub name: String,
    pub state: State,
    /// What is missing, or what made it ready; never a Secret's content (none is read).
    pub detail: String,
}

/// Every expected Application Synced and Healthy (tolerated ones only need to exist). Without
/// an expected list, every Application present counts, plus `root`.
pub fn applications(
    snapshot: &Snapshot,
    namespace: &str,
    root: &str,
    expected: Option<&[String]>,
    tolerated: &[String],
) -> Vec<Verdict> {
    let mut names: Vec<String> = vec![root.to_string()];
    match expected {
        Some(list) => names.extend(list.iter().cloned()),
        None => names.extend(
            snapshot
                .values()
                .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
                .map(str::to_string),
        ),
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
        .into_iter()
        .map(|n| {
            let key = format!("{namespace}/{n}");
            let (state, detail) = match snapshot.get(&key) {
                None => (State::Missing, "does not exist".to_string()),
                Some(app) => match wait::application_synced_healthy(app) {
                    Check::Ready(()) => (State::Ready, "Synced and Healthy".to_string()),
                    Check::Pending(why) | Check::Failed(why) if tolerated.contains(&n) => {
                        (State::Tolerated, format!("tolerated: {why}"))
                    }
                    Check::Pending(why) | Check::Failed(why) => (State::Pending, why),
                },
            };
            Verdict {
                kind: "Application".into(),
                name: key,
                state,
                detail,
            }
        })
        .collect()
}

/// Every object present has condition `condition` True (`Ready` for External Secrets'
/// stores and ExternalSecrets, `Established` for Crossplane's XRDs); `required` names objects
/// that must exist.
pub fn conditions(
    snapshot: &Snapshot,
    kind: &str,
    condition: &str,
    required: &[String],
) -> Vec<Verdict> {
    let mut out: Vec<Verdict> = required
        .iter()
        .filter(|r| !snapshot.contains_key(*r))
        .map(|r| Verdict {
            kind: kind.into(),
            name: r.clone(),
            state: State::Missing,
            detail: "does not exist".into(),
        })
        .collect();
    for (key, obj) in snapshot {
        let (state, detail) = match condition_true(obj, condition) {
            Ok(()) => (State::Ready, condition.to_string()),
            Err(why) => (State::Pending, why),
        };
        out.push(Verdict {
            kind: kind.into(),
            name: key.clone(),
            state,
            detail,
        });
    }
    out
}

fn condition_true(obj: &Value, kind: &str) -> Result<(), String> {
    let found = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        });
    let Some(c) = found else {
        return Err(format!("no {kind} condition yet"));
    };
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
    if s("status") == "True" {
        return Ok(());
    }
    let mut why = format!("condition {kind} is {}", s("status"));
    if !s("reason").is_empty() {
        why.push_str(&format!(" (reason {})", s("reason")));
    }
    if !s("message").is_empty() {
        why.push_str(&format!(": {}", s("message")));
    }
    Err(why)
}

/// The namespaces the Applications judged in `snapshot` deploy to (`spec.destination.namespace`),
/// sorted: where the platform's services (NATS, the database operators, ...) run.
pub fn destination_namespaces(snapshot: &Snapshot, verdicts: &[Verdict]) -> Vec<String> {
    let mut out: Vec<String> = verdicts
        .iter()
        .filter_map(|v| snapshot.get(&v.name))
        .filter_map(|app| {
            app.pointer("/spec/destination/namespace")
                .and_then(Value::as_str)
        })
        .filter(|ns| !ns.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every Deployment or StatefulSet (by `kind`) in `namespaces` rolled out: the controller saw
/// the latest spec and every wanted replica is updated and ready.
pub fn workloads(snapshot: &Snapshot, kind: &str, namespaces: &[String]) -> Vec<Verdict> {
    snapshot
        .iter()
        .filter(|(_, o)| {
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_some_and(|ns| namespaces.iter().any(|n| n == ns))
        })
        .map(|(key, o)| {
            let check = match kind {
                "Deployment" => serde_json::from_value(o.clone())
                    .map(|d| wait::deployment_ready(&d, None))
                    .unwrap_or_else(|e| Check::Pending(format!("unreadable: {e}"))),
                "DaemonSet" => daemonset_ready(o),
                _ => statefulset_ready(o),
            };
            let (state, detail) = match check {
                Check::Ready(()) => (State::Ready, "rolled out".to_string()),
                Check::Pending(why) | Check::Failed(why) => (State::Pending, why),
            };
            Verdict {
                kind: kind.into(),
                name: key.clone(),
                state,
                detail,
            }
        })
        .collect()
}

/// A StatefulSet is ready when the controller has seen its latest spec and `spec.replicas`
/// (default 1) pods are ready and at the current revision.
fn statefulset_ready(o: &Value) -> Check {
    let n = |p: &str| o.pointer(p).and_then(Value::as_i64);
    if n("/status/observedGeneration").unwrap_or(0) < n("/metadata/generation").unwrap_or(0) {
        return Check::Pending("the controller has not yet seen the latest spec".into());
    }
    let want = n("/spec/replicas").unwrap_or(1);
    let ready = n("/status/readyReplicas").unwrap_or(0);
    let updated = n("/status/updatedReplicas").unwrap_or(0);
    if ready >= want && updated >= want {
        wait::READY
    } else {
        Check::Pending(format!(
            "{ready} of {want} replicas ready, {updated} updated"
        ))
    }
}

/// A DaemonSet (Cilium, kube-proxy, a node agent) is ready when the controller has seen its
/// latest spec and every node that should run it runs its current, ready pod.
fn daemonset_ready(o: &Value) -> Check {
    let n = |p: &str| o.pointer(p).and_then(Value::as_i64);
    if n("/status/observedGeneration").unwrap_or(0) < n("/metadata/generation").unwrap_or(0) {
        return Check::Pending("the controller has not yet seen the latest spec".into());
    }
    let want = n("/status/desiredNumberScheduled").unwrap_or(0);
    let ready = n("/status/numberReady").unwrap_or(0);
    let updated = n("/status/updatedNumberScheduled").unwrap_or(0);
    if ready >= want && updated >= want {
        wait::READY
    } else {
        Check::Pending(format!(
            "{ready} of {want} nodes run a ready pod, {updated} updated"
        ))
    }
}

/// A one-line summary of verdicts: how many are ready, and the first one that is not.
pub fn summary(what: &str, verdicts: &[Verdict]) -> Check {
    let ready = verdicts.iter().filter(|v| v.state.ok()).count();
    match verdicts.iter().find(|v| !v.state.ok()) {
        None => wait::READY,
        Some(v) => Check::Pending(format!(
            "{ready}/{} {what} ready; {} {}: {}",
            verdicts.len(),
            v.kind,
            v.name,
            v.detail
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(name: &str, health: &str, sync: &str) -> (String, Value) {
        (
            format!("argocd/{name}"),
            json!({"metadata": {"name": name, "namespace": "argocd"},
                   "status": {"health": {"status": health, "message": format!("{name} says so")},
                              "sync": {"status": sync}}}),
        )
    }

    #[test]
    fn expected_applications_must_exist_and_be_synced_and_healthy() {
        let snap: Snapshot = [
            app("platform-bootstrap", "Healthy", "Synced"),
            app("nats", "Degraded", "Synced"),
            app("cilium", "Missing", "OutOfSync"),
        ]
        .into_iter()
        .collect();
        let expected = vec!["nats".to_string(), "cilium".into(), "keda".into()];
        let v = applications(&snap, "argocd", "platform-bootstrap", Some(&expected), &[]);
        let states: Vec<(&str, State)> = v.iter().map(|v| (v.name.as_str(), v.state)).collect();
        assert_eq!(
            states,
            [
                ("argocd/platform-bootstrap", State::Ready),
                ("argocd/nats", State::Pending),
                ("argocd/cilium", State::Pending),
                ("argocd/keda", State::Missing),
            ]
        );
        assert!(
            v[1].detail
                .contains("health Degraded, sync Synced: nats says so"),
            "{v:?}"
        );
        match summary("Applications", &v) {
            Check::Pending(s) => {
                assert!(
                    s.starts_with("1/4 Applications ready; Application argocd/nats"),
                    "{s}"
                )
            }
            other => panic!("{other:?}"),
        }

        // The preview tolerance list lets cilium stay unhealthy; it must still exist.
        let tolerated = vec!["cilium".to_string(), "keda".into()];
        let v = applications(
            &snap,
            "argocd",
            "platform-bootstrap",
            Some(&expected),
            &tolerated,
        );
        assert_eq!(v[2].state, State::Tolerated);
        assert_eq!(v[3].state, State::Missing);
    }

    #[test]
    fn without_an_expected_list_every_present_application_counts() {
        let snap: Snapshot = [app("a", "Healthy", "Synced"), app("b", "Healthy", "Synced")]
            .into_iter()
            .collect();
        let v = applications(&snap, "argocd", "root", None, &[]);
        let names: Vec<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["argocd/root", "argocd/a", "argocd/b"]);
        assert_eq!(v[0].state, State::Missing);
    }

    #[test]
    fn workloads_in_the_destination_namespaces_must_be_rolled_out() {
        let snap: Snapshot = [
            (
                "nats/nats".to_string(),
                json!({"metadata": {"namespace": "nats", "generation": 2},
                       "spec": {"replicas": 3},
                       "status": {"observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 3}}),
            ),
            (
                "other/x".to_string(),
                json!({"metadata": {"namespace": "other"}, "status": {}}),
            ),
        ]
        .into_iter()
        .collect();
        let v = workloads(&snap, "StatefulSet", &["nats".to_string()]);
        assert_eq!(v.len(), 1, "only the destination namespaces count: {v:?}");
        assert_eq!(v[0].detail, "1 of 3 replicas ready, 3 updated");
        let ds: Snapshot = [(
            "kube-system/cilium".to_string(),
            json!({"metadata": {"namespace": "kube-system", "generation": 1},
                   "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                              "numberReady": 2, "updatedNumberScheduled": 3}}),
        )]
        .into_iter()
        .collect();
        let v = workloads(&ds, "DaemonSet", &["kube-system".to_string()]);
        assert_eq!(v[0].detail, "2 of 3 nodes run a ready pod, 3 updated");
        let apps: Snapshot = [app("nats", "Healthy", "Synced")].into_iter().collect();
        let mut with_dest = apps.clone();
        with_dest.get_mut("argocd/nats").unwrap()["spec"] =
            json!({"destination": {"namespace": "nats"}});
        let verdicts = applications(&with_dest, "argocd", "nats", None, &[]);
        assert_eq!(destination_namespaces(&with_dest, &verdicts), ["nats"]);
        assert!(destination_namespaces(&apps, &verdicts).is_empty());
    }

    #[test]
    fn conditions_name_the_reason_and_required_objects() {
        let snap: Snapshot = [
            (
                "ns/es-1".to_string(),
                json!({"status": {"conditions": [{"type": "Ready", "status": "False",
                    "reason": "SecretSyncedError", "message": "could not get secret data from provider"}]}}),
            ),
            (
                "ns/es-2".to_string(),
                json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            ),
        ]
        .into_iter()
        .collect();
        let v = conditions(&snap, "ExternalSecret", "Ready", &["ns/es-0".to_string()]);
        assert_eq!(v[0].state, State::Missing);
        assert_eq!(
            v[1].detail,
            "condition Ready is False (reason SecretSyncedError): could not get secret data from provider"
        );
        assert_eq!(v[2].state, State::Ready);
        assert!(summary("x", &v[2..]) == wait::READY);
    }
}
