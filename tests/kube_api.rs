//! The test API server answers the real kube-rs client the way an API server does: these tests
//! keep the double honest (discovery, apply, status, list, delete, errors).

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery};
use serde_json::json;
use zt::kube::{ClusterAccess, connect};
use zt_test_support::kube_api::TestApi;

async fn client(api: &TestApi, dir: &std::path::Path) -> kube::Client {
    connect(&ClusterAccess {
        kubeconfig: Some(api.write_kubeconfig(dir)),
        context: None,
    })
    .await
    .unwrap()
    .client
}

fn web() -> ApiResource {
    ApiResource {
        group: "platform.bizmatters.io".into(),
        version: "v1alpha1".into(),
        api_version: "platform.bizmatters.io/v1alpha1".into(),
        kind: "WebService".into(),
        plural: "webservices".into(),
    }
}

#[tokio::test]
async fn discovery_lists_the_claim_kinds_unless_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let api = TestApi::start();
    let d = Discovery::new(client(&api, dir.path()).await)
        .run()
        .await
        .unwrap();
    assert!(d.has_group("platform.bizmatters.io") && d.has_group("database.bizmatters.io"));
    let (ar, caps) = d
        .get("platform.bizmatters.io")
        .unwrap()
        .recommended_kind("WebService")
        .unwrap();
    assert_eq!(ar.plural, "webservices");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));

    let bare = TestApi::builder()
        .without_group("platform.bizmatters.io")
        .start();
    let d = Discovery::new(client(&bare, dir.path()).await)
        .run()
        .await
        .unwrap();
    assert!(!d.has_group("platform.bizmatters.io"));
    assert!(d.has_group("apps"));
}

#[tokio::test]
async fn apply_get_status_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let api = TestApi::start();
    let c = client(&api, dir.path()).await;
    let ns: Api<DynamicObject> = Api::all_with(
        c.clone(),
        &ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
    );
    let pp = PatchParams::apply("t");
    ns.patch(
        "team-a",
        &pp,
        &Patch::Apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        ),
    )
    .await
    .unwrap();

    let ws: Api<DynamicObject> = Api::namespaced_with(c.clone(), "team-a", &web());
    let obj = json!({"apiVersion": "platform.bizmatters.io/v1alpha1", "kind": "WebService",
                     "metadata": {"name": "a", "labels": {"app": "a"}}, "spec": {"image": "x:1"}});
    let first = ws.patch("a", &pp, &Patch::Apply(&obj)).await.unwrap();
    let again = ws.patch("a", &pp, &Patch::Apply(&obj)).await.unwrap();
    assert_eq!(
        first.metadata.resource_version, again.metadata.resource_version,
        "no change, no new version"
    );

    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    ws.patch_status("a", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let got = ws.get_status("a").await.unwrap();
    assert_eq!(got.data["status"]["conditions"][0]["type"], "Ready");
    // Applying the main resource does not touch status.
    ws.patch("a", &pp, &Patch::Apply(&obj)).await.unwrap();
    assert_eq!(
        ws.get("a").await.unwrap().data["status"]["conditions"][0]["status"],
        "True"
    );

    assert_eq!(
        ws.list(&ListParams::default().labels("app=a"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        ws.list(&ListParams::default().labels("app=b"))
            .await
            .unwrap()
            .items
            .len(),
        0
    );

    // Merge patches on the object itself are not part of the double.
    let err = ws
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 415));

    ws.delete("a", &DeleteParams::default()).await.unwrap();
    let err = ws.get("a").await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"));

    // Objects cannot go into a namespace that does not exist.
    let missing: Api<DynamicObject> = Api::namespaced_with(c, "nope", &web());
    let err = missing
        .patch("a", &pp, &Patch::Apply(&obj))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(s) if s.code == 404 && s.message.contains("namespaces \"nope\" not found"))
    );
}
