//! A Kind cluster as preview bootstrap sees it, played by the test API server: it serves Nodes,
//! CustomResourceDefinitions and Argo CD Applications besides the default kinds, its
//! control-plane node is Ready (kind and the kubelet made it), and scripted controllers do what
//! the API server and Argo CD would: an applied CRD becomes Established, the applied repo
//! server Deployment rolls out, and (when asked) the root Application turns Synced and Healthy.

use std::time::Duration;

use serde_json::json;

use crate::kube_api::{ResourceType, TestApi};

/// The root Application preview bootstrap applies.
pub const ROOT_APP: &str = "platform-bootstrap";

/// The API of a Kind cluster named `cluster`, with its control-plane node Ready.
pub fn kind_cluster_api(cluster: &str) -> TestApi {
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
        .start();
    api.with_store(|s| {
        s.put(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("{cluster}-control-plane")},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
        }))
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
