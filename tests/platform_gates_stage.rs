//! The bootstrap stage `platform-gates` run as the runner runs it (a `Ctx` and a `StageError`
//! for people) against the real test control plane with Argo CD's Application CRD and nothing
//! else: a degraded Application and the kinds the cluster does not serve are all in the error.
//! Skipped with one line when the oracles are not built (`ZT_REQUIRE_ORACLES=1` fails instead).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use zt::bootstrap::stage::Stage;
use zt::bootstrap::stages::gates::PlatformGates;
use zt::bootstrap::{Ctx, Timing};
use zt::progress::Silent;
use zt_test_support::cluster::{apply_object, cluster_or_skip, install_crds};

#[tokio::test]
async fn the_gates_stage_fails_with_each_object_that_is_not_ready() {
    let test = "the platform-gates stage";
    let Some(module) = zt_test_support::oracles::oracle_or_skip("argocd-module-dir", test) else {
        return;
    };
    let Some(cluster) = cluster_or_skip(test) else {
        return;
    };
    let dir = std::fs::read_to_string(module).unwrap();
    let crd =
        std::fs::read_to_string(Path::new(dir.trim()).join("manifests/crds/application-crd.yaml"))
            .unwrap();
    let crds: Vec<serde_json::Value> = zt::yaml::from_str_multi(&crd).unwrap();
    install_crds(
        cluster.kubeconfig(),
        crds.into_iter().filter(|c| c.is_object()).collect(),
    )
    .await
    .unwrap();
    let ns = cluster.namespace("gates-stage");
    let client = cluster.client().await;
    for (name, health) in [("platform-bootstrap", "Healthy"), ("nats", "Degraded")] {
        apply_object(&client, Some(ns.name()), &json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ns.name()},
            "spec": {"project": "default", "source": {"repoURL": "https://example.invalid/p.git", "path": name},
                     "destination": {"server": "https://kubernetes.default.svc"}},
            "status": {"health": {"status": health}, "sync": {"status": "Synced"}}}))
        .await
        .unwrap();
    }
    let stage = PlatformGates {
        options: zt::status::Options {
            argocd_namespace: ns.name().into(),
            root: "platform-bootstrap".into(),
            expected: Some(vec!["nats".into()]),
            tolerated: vec![],
            secret_store: "aws-parameter-store".into(),
            timeout: Duration::from_secs(2),
        },
    };
    assert!(
        stage
            .summary()
            .contains("platform-bootstrap and the 1 Applications it creates")
    );
    let mut c = Ctx::new(
        Timing::default(),
        Arc::new(Silent),
        cluster.kubeconfig().to_path_buf(),
        None,
    );
    let err = stage.run(&mut c).await.unwrap_err();
    let text = err.to_string();
    for want in [
        "the platform is not running yet:".to_string(),
        format!("    Application {}/nats: health Degraded, sync Synced", ns.name()),
        // This cluster serves no External Secrets or Crossplane kinds.
        "  secret-store: the cluster does not serve ClusterSecretStore (external-secrets.io)".into(),
        "  xrds: the cluster does not serve CompositeResourceDefinition (apiextensions.crossplane.io)".into(),
        "hint: `kubectl zt status` checks again".into(),
    ] {
        assert!(text.contains(&want), "no `{want}` in:\n{text}");
    }
}
