//! A cluster as a bootstrap sees it (a Kind cluster in preview, Talos nodes in production),
//! played by the test API server: it serves Nodes,
//! CustomResourceDefinitions and Argo CD Applications besides the default kinds, its
//! control-plane node is Ready (kind and the kubelet made it), and scripted controllers do what
//! the API server and Argo CD would: an applied CRD becomes Established, the applied repo
//! server Deployment rolls out, and (when asked) the root Application turns Synced and Healthy.

use std::time::Duration;

use serde_json::json;

use crate::kube_api::{ResourceType, TestApi};

/// The root Application preview bootstrap applies.
pub const ROOT_APP: &str = "platform-bootstrap";

/// A Node object with its `Ready` condition, as the kubelet reports it.
pub fn node(name: &str, ready: bool) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
            "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
            "message": if ready { "kubelet is posting ready status" } else { "container runtime network not ready: cni plugin not initialized" }}]},
    })
}

/// The API of a cluster a bootstrap brings up: the default kinds plus Nodes, CRDs, Argo CD
/// Applications and `external-secrets.io/v1` ExternalSecrets; the given nodes (name, Ready);
/// and controllers that establish the Application CRD and roll out Argo CD's repo server as
/// soon as they are applied.
pub fn cluster_api(nodes: &[(&str, bool)]) -> TestApi {
    let api = TestApi::builder()
        .resource(ResourceType::new("", "v1", "Node", "nodes", false))
        .resource(ResourceType::new(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ))
        .resource(ResourceType::new(
            "argoproj.io",
            "v1alpha1",
            "Application",
            "applications",
            true,
        ))
        .resource(ResourceType::new(
            "external-secrets.io",
            "v1",
            "ExternalSecret",
            "externalsecrets",
            true,
        ))
        .start();
    api.with_store(|s| {
        for (name, ready) in nodes {
            s.put(node(name, *ready));
        }
    });
    api.after_apply(
        "CustomResourceDefinition",
        "applications.argoproj.io",
        Duration::ZERO,
        |s| {
            s.set_status(
                "CustomResourceDefinition",
                "",
                "applications.argoproj.io",
                json!({"conditions": [{"type": "Established", "status": "True"}]}),
            )
        },
    );
    api.after_apply(
        "Deployment",
        "argocd-repo-server",
        Duration::ZERO,
        |s| {
            s.set_status(
                "Deployment",
                "argocd",
                "argocd-repo-server",
                json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1}),
            )
        },
    );
    api
}

/// The API of a Kind cluster named `cluster`, with its control-plane node Ready.
pub fn kind_cluster_api(cluster: &str) -> TestApi {
    cluster_api(&[(&format!("{cluster}-control-plane"), true)])
}

/// Argo CD syncing the platform: the root Application reports Synced and Healthy `after` it is
/// applied (until then it has no status, as right after creation).
pub fn platform_syncs(api: &TestApi, after: Duration) {
    api.after_apply("Application", ROOT_APP, after, |s| {
        s.set_status(
            "Application",
            "argocd",
            ROOT_APP,
            json!({"health": {"status": "Healthy"}, "sync": {"status": "Synced", "revision": "0000000"}}),
        )
    });
}
