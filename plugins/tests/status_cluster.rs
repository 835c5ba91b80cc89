//! `kubectl zt status` through the CLI against the real test control plane (etcd and
//! kube-apiserver v1.34 built by `make oracles`; tests/support/src/cluster.rs) with Argo CD's own
//! Application CRD (from the Argo CD module the oracles pin) and small CRDs for External
//! Secrets' and Crossplane's kinds. No controller runs: the tests write each object's status as
//! Argo CD, External Secrets and Crossplane would, so every state is there on demand.
//!
//! Cluster-scoped objects (the ClusterSecretStores, XRDs) and every ExternalSecret are judged by
//! every test of this binary, so all of them stay Ready here; each test degrades only the
//! Applications of its own namespace (status runs with `--argocd-namespace` set to it).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use zt_test_support::cli::text;
use zt_test_support::cluster::{TestCluster, apply_object, cluster_or_skip, install_crds};
use zt_test_support::oracles::oracle_or_skip;
use zt_test_support::workspace_root;

/// The Applications the example platform repo's `main/dev` overlay creates (its base), as the
/// files under examples/platform-repo/bootstrap/argocd/base/ name them.
const EXAMPLE_CHILDREN: &[&str] = &[
    "agent-sandbox-controller",
    "apis",
    "crossplane-operator",
    "dragonfly",
    "foundation-config",
    "kagent",
    "keda",
    "nats",
    "observability",
];

fn crd(group: &str, kind: &str, plural: &str, namespaced: bool) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase()},
            "scope": if namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    })
}

/// The control plane with Argo CD's Application CRD and stand-in CRDs for External Secrets and
/// Crossplane; one Ready ClusterSecretStore `aws-parameter-store` and one Established XRD.
async fn platform_cluster(test: &str) -> Option<&'static TestCluster> {
    let module = oracle_or_skip("argocd-module-dir", test)?;
    let cluster = cluster_or_skip(test)?;
    let dir = std::fs::read_to_string(&module).unwrap();
    let app_crd =
        std::fs::read_to_string(Path::new(dir.trim()).join("manifests/crds/application-crd.yaml"))
            .unwrap();
    let mut crds: Vec<Value> = zt::yaml::from_str_multi(&app_crd).unwrap();
    crds.retain(Value::is_object);
    crds.push(crd(
        "external-secrets.io",
        "ClusterSecretStore",
        "clustersecretstores",
        false,
    ));
    crds.push(crd(
        "external-secrets.io",
        "ExternalSecret",
        "externalsecrets",
        true,
    ));
    crds.push(crd(
        "apiextensions.crossplane.io",
        "CompositeResourceDefinition",
        "compositeresourcedefinitions",
        false,
    ));
    install_crds(cluster.kubeconfig(), crds).await.unwrap();
    let client = cluster.client().await;
    let ready = json!([{"type": "Ready", "status": "True", "reason": "Valid"}]);
    apply_object(
        &client,
        None,
        &json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
        "metadata": {"name": "aws-parameter-store"},
        "spec": {"provider": {"aws": {"service": "ParameterStore", "region": "ap-south-1"}}},
        "status": {"conditions": ready}}),
    )
    .await
    .unwrap();
    apply_object(
        &client,
        None,
        &json!({
        "apiVersion": "apiextensions.crossplane.io/v1", "kind": "CompositeResourceDefinition",
        "metadata": {"name": "xwebservices.platform.bizmatters.io"},
        "status": {"conditions": [{"type": "Established", "status": "True"},
                                   {"type": "Offered", "status": "True"}]}}),
    )
    .await
    .unwrap();
    Some(cluster)
}

/// An Application in `ns` with the given health and sync status.
fn application(ns: &str, name: &str, health: &str, sync: &str, message: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"project": "default",
                 "source": {"repoURL": "https://github.com/org/zerotouch-platform.git",
                            "path": format!("platform/{name}"), "targetRevision": "main"},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": name}},
        "status": {"health": {"status": health, "message": message}, "sync": {"status": sync}}
    })
}

async fn put_apps(cluster: &TestCluster, ns: &str, names: &[&str], health: &str, sync: &str) {
    let client = cluster.client().await;
    for n in names {
        apply_object(&client, Some(ns), &application(ns, n, health, sync, ""))
            .await
            .unwrap();
    }
}

/// An ExternalSecret in `ns`, Ready.
async fn put_external_secret(cluster: &TestCluster, ns: &str) {
    let client = cluster.client().await;
    apply_object(
        &client,
        Some(ns),
        &json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "kagent-openai-es", "namespace": ns},
        "spec": {"secretStoreRef": {"name": "aws-parameter-store", "kind": "ClusterSecretStore"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}]}}),
    )
    .await
    .unwrap();
}

fn status_cmd(cluster: &TestCluster, ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    c.arg("status")
        .args(["--kubeconfig", cluster.kubeconfig().to_str().unwrap()])
        .args(["--argocd-namespace", ns])
        .args(args)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not the JSON report ({e}):\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn gate<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no gate {name} in {r:#}"))
}

#[tokio::test]
async fn every_gate_passes_once_the_expected_applications_turn_healthy() {
    let test = "status: all healthy";
    let Some(cluster) = platform_cluster(test).await else {
        return;
    };
    let ns = cluster.namespace("status-healthy");
    let mut all: Vec<&str> = EXAMPLE_CHILDREN.to_vec();
    all.push("platform-bootstrap");
    put_apps(cluster, ns.name(), &all, "Progressing", "OutOfSync").await;
    put_external_secret(cluster, ns.name()).await;

    let platform = workspace_root().join("examples/platform-repo");
    let child = status_cmd(
        cluster,
        ns.name(),
        &[
            "--platform-repo",
            platform.to_str().unwrap(),
            "--env",
            "dev",
            "--timeout",
            "60s",
            "-o",
            "json",
        ],
    )
    .spawn()
    .unwrap();
    // status is watching now (or about to): the change must be seen as it happens.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    put_apps(cluster, ns.name(), &all, "Healthy", "Synced").await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stderr}",
        out.status.code()
    );
    assert!(
        stderr.contains(&format!(
            "applications: waiting for Application platform-bootstrap and the 9 it creates Synced and Healthy in namespace {}",
            ns.name()
        )),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("xrds: waiting for every Crossplane CompositeResourceDefinition Established"),
        "{stderr}"
    );
    let r = report(&out);
    assert_eq!(r["ready"], true);
    let apps = gate(&r, "applications");
    let names: Vec<&str> = apps["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    let mut want: Vec<String> = vec![format!("{}/platform-bootstrap", ns.name())];
    want.extend(
        EXAMPLE_CHILDREN
            .iter()
            .map(|c| format!("{}/{c}", ns.name())),
    );
    assert_eq!(names, want);
    assert!(
        apps["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["state"] == "ready")
    );
    assert_eq!(gate(&r, "secret-store")["ready"], true);
    assert_eq!(gate(&r, "xrds")["ready"], true);
}

#[tokio::test]
async fn a_degraded_and_a_missing_application_are_named_with_conditions_and_events() {
    let test = "status: one degraded";
    let Some(cluster) = platform_cluster(test).await else {
        return;
    };
    let ns = cluster.namespace("status-degraded");
    let mut healthy: Vec<&str> = EXAMPLE_CHILDREN
        .iter()
        .copied()
        .filter(|c| *c != "nats" && *c != "keda")
        .collect();
    healthy.push("platform-bootstrap");
    put_apps(cluster, ns.name(), &healthy, "Healthy", "Synced").await;
    let client = cluster.client().await;
    let mut nats = application(
        ns.name(),
        "nats",
        "Degraded",
        "Synced",
        "StatefulSet nats has 0 of 1 ready replicas",
    );
    nats["status"]["conditions"] = json!([{"type": "SyncError",
        "message": "one or more objects failed to apply"}]);
    apply_object(&client, Some(ns.name()), &nats).await.unwrap();
    apply_object(
        &client,
        Some(ns.name()),
        &json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "nats.unhealthy", "namespace": ns.name()},
        "involvedObject": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                           "name": "nats", "namespace": ns.name()},
        "type": "Warning", "reason": "ResourceUpdated",
        "message": "Updated health status: Progressing -> Degraded",
        "lastTimestamp": "2026-01-01T00:00:00Z"}),
    )
    .await
    .unwrap();
    put_external_secret(cluster, ns.name()).await;

    let platform = workspace_root().join("examples/platform-repo");
    let out = status_cmd(
        cluster,
        ns.name(),
        &[
            "--platform-repo",
            platform.to_str().unwrap(),
            "--env",
            "dev",
            "--timeout",
            "3s",
            "-o",
            "json",
        ],
    )
    .output()
    .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let ns = ns.name();
    for want in [
        "✗ applications: timed out (--timeout 3s); last seen: 8/10 Applications ready".to_string(),
        format!(
            "  Application {ns}/nats: health Degraded, sync Synced: StatefulSet nats has 0 of 1 ready replicas"
        ),
        "    condition SyncError: one or more objects failed to apply".to_string(),
        "    event Warning ResourceUpdated: Updated health status: Progressing -> Degraded"
            .to_string(),
        format!("  Application {ns}/keda: does not exist"),
        "✓ secret-store: 1 ready".to_string(),
    ] {
        assert!(stderr.contains(&want), "no `{want}` in:\n{stderr}");
    }
    // The healthy ones are not in the diagnosis.
    assert!(!stderr.contains(&format!("{ns}/apis:")), "{stderr}");
    let r = report(&out);
    assert_eq!(r["ready"], false);
    let apps = gate(&r, "applications");
    let nats = apps["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == format!("{ns}/nats"))
        .unwrap();
    assert_eq!(nats["state"], "pending");
    assert_eq!(nats["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn preview_tolerates_what_kind_cannot_run_and_production_does_not() {
    let test = "status: preview tolerance";
    let Some(cluster) = platform_cluster(test).await else {
        return;
    };
    let ns = cluster.namespace("status-preview");
    put_apps(
        cluster,
        ns.name(),
        &["platform-bootstrap", "nats"],
        "Healthy",
        "Synced",
    )
    .await;
    put_apps(
        cluster,
        ns.name(),
        &["cilium", "local-path-provisioner"],
        "Degraded",
        "OutOfSync",
    )
    .await;
    put_external_secret(cluster, ns.name()).await;

    // Without a platform repo every Application present counts.
    let out = status_cmd(cluster, ns.name(), &["--preview", "--timeout", "10s"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "✓ applications: 4 ready (2 tolerated: {0}/cilium, {0}/local-path-provisioner)",
            ns.name()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("the platform is running"), "{stderr}");

    let out = status_cmd(cluster, ns.name(), &["--timeout", "2s"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Application {}/cilium: health Degraded, sync OutOfSync",
            ns.name()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_service_that_does_not_run_is_named_by_its_workload() {
    // The real controllers, scheduler and kwok's fake node run the Deployments' pods.
    let test = "status: workloads";
    if zt_test_support::cluster::workload_cluster_or_skip(test, 1).is_none() {
        return;
    }
    let Some(cluster) = platform_cluster(test).await else {
        return;
    };
    let ns = cluster.namespace("status-workloads");
    let client = cluster.client().await;
    let mut nats = application(ns.name(), "nats", "Healthy", "Synced", "");
    nats["spec"]["destination"]["namespace"] = json!(ns.name());
    apply_object(&client, Some(ns.name()), &nats).await.unwrap();
    put_apps(
        cluster,
        ns.name(),
        &["platform-bootstrap"],
        "Healthy",
        "Synced",
    )
    .await;
    put_external_secret(cluster, ns.name()).await;
    let deployment = |name: &str, node_selector: Value| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns.name()},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"nodeSelector": node_selector,
                             "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                             "containers": [{"name": "main", "image": "ghcr.io/nats-io/nats-box:0.14"}]}}}
        })
    };
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), ns.name());
    for d in [
        deployment("nats-box", json!({"type": "kwok"})),
        deployment(
            "unschedulable",
            json!({"zerotouch.dev/no-such-node": "true"}),
        ),
    ] {
        let d: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(d).unwrap();
        deployments
            .create(&kube::api::PostParams::default(), &d)
            .await
            .unwrap();
    }

    // A node agent on every (kwok) node.
    let daemonsets: kube::Api<k8s_openapi::api::apps::v1::DaemonSet> =
        kube::Api::namespaced(client.clone(), ns.name());
    let agent: k8s_openapi::api::apps::v1::DaemonSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "node-agent", "namespace": ns.name()},
        "spec": {"selector": {"matchLabels": {"app": "node-agent"}},
            "template": {"metadata": {"labels": {"app": "node-agent"}},
                "spec": {"containers": [{"name": "agent", "image": "ghcr.io/org/agent:1"}]}}}
    }))
    .unwrap();
    daemonsets
        .create(&kube::api::PostParams::default(), &agent)
        .await
        .unwrap();

    let out = status_cmd(cluster, ns.name(), &["--timeout", "20s", "-o", "json"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let ns = ns.name();
    assert!(
        stderr.contains(&format!(
            "deployments: waiting for every Deployment rolled out in the namespaces the Applications deploy to: platform-bootstrap, {ns}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "  Deployment {ns}/unschedulable: 0 of 1 replicas ready"
        )),
        "{stderr}"
    );
    // Why: the scheduler's own event on the Deployment's pod.
    assert!(
        stderr.contains("    event Warning FailedScheduling: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("node(s) didn't match Pod's node affinity/selector"),
        "{stderr}"
    );
    let r = report(&out);
    let objects = gate(&r, "deployments")["objects"]
        .as_array()
        .unwrap()
        .clone();
    let state = |name: &str| {
        objects
            .iter()
            .find(|o| o["name"] == format!("{ns}/{name}"))
            .map(|o| o["state"].clone())
    };
    assert_eq!(state("nats-box"), Some(json!("ready")), "{objects:?}");
    assert_eq!(
        state("unschedulable"),
        Some(json!("pending")),
        "{objects:?}"
    );
    assert_eq!(gate(&r, "applications")["ready"], true);
    let ds = gate(&r, "daemonsets");
    assert_eq!(ds["ready"], true, "{ds:#}");
    assert!(
        ds["waitsFor"]
            .as_str()
            .unwrap()
            .ends_with(&format!("in platform-bootstrap, {ns}, kube-system")),
        "{ds:#}"
    );
    assert!(
        ds["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == format!("{ns}/node-agent") && o["state"] == "ready"),
        "{ds:#}"
    );
}
