//! The test API server answers the real kube-rs client the way an API server does: these tests
//! keep the double honest (discovery, apply, status, list, delete, watch, errors), and
//! `apply_manifests` applies in waves, each validated by a dry run first.

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

/// The next watch event, or a failure after two seconds (a watch that sends nothing).
async fn next_event<S>(events: &mut S) -> kube::api::WatchEvent<DynamicObject>
where
    S: futures_util::Stream<Item = kube::Result<kube::api::WatchEvent<DynamicObject>>> + Unpin,
{
    use futures_util::StreamExt;
    tokio::time::timeout(std::time::Duration::from_secs(2), events.next())
        .await
        .expect("a watch event within 2 s")
        .expect("the watch stream is open")
        .expect("a watch event, not an error")
}

fn ready_status(o: &DynamicObject) -> String {
    o.data["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .map(|c| c["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn name_of(e: &kube::api::WatchEvent<DynamicObject>) -> (&'static str, String) {
    use kube::api::WatchEvent::*;
    match e {
        Added(o) => ("ADDED", o.metadata.name.clone().unwrap_or_default()),
        Modified(o) => ("MODIFIED", o.metadata.name.clone().unwrap_or_default()),
        Deleted(o) => ("DELETED", o.metadata.name.clone().unwrap_or_default()),
        Bookmark(_) => ("BOOKMARK", String::new()),
        Error(e) => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn watches_stream_changes_as_they_happen_and_timed_actions_fire_on_their_own() {
    use futures_util::StreamExt;
    use kube::api::WatchParams;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let api = TestApi::start();
    let c = client(&api, dir.path()).await;
    let obj = |name: &str| {
        json!({"apiVersion": "platform.bizmatters.io/v1alpha1", "kind": "WebService",
               "metadata": {"name": name, "namespace": "team-a"}, "spec": {"image": "x:1"}})
    };
    api.with_store(|s| {
        s.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}));
        s.put(obj("a"));
    });
    let ws: Api<DynamicObject> = Api::namespaced_with(c, "team-a", &web());
    let by_name = ListParams::default().fields("metadata.name=a");
    let listed = ws.list(&by_name).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let from = listed.metadata.resource_version.unwrap();
    let mut events = ws
        .watch(&WatchParams::default().fields("metadata.name=a"), &from)
        .await
        .unwrap()
        .boxed();

    // Another object is not this watch's business; a change of `a` is, and comes at once.
    api.with_store(|s| {
        s.put(obj("b"));
        s.set_ready("WebService", "team-a", "a", true, "Available", "");
    });
    let e = next_event(&mut events).await;
    assert_eq!(name_of(&e), ("MODIFIED", "a".into()));
    let kube::api::WatchEvent::Modified(o) = e else {
        unreachable!()
    };
    assert_eq!(ready_status(&o), "True");

    // A timed action after an apply runs on its own timer: no request wakes it.
    api.after_apply("WebService", "a", Duration::from_millis(50), |s| {
        s.set_ready("WebService", "team-a", "a", false, "Deleting", "");
    });
    let mut changed = obj("a");
    changed["spec"]["image"] = json!("x:2");
    ws.patch("a", &PatchParams::apply("t"), &Patch::Apply(&changed))
        .await
        .unwrap();
    let applied = next_event(&mut events).await;
    let kube::api::WatchEvent::Modified(o) = applied else {
        panic!("{applied:?}")
    };
    assert_eq!(
        (o.data["spec"]["image"].as_str(), ready_status(&o).as_str()),
        (Some("x:2"), "True")
    );
    let requests = api.requests().len();
    let timed = next_event(&mut events).await;
    let kube::api::WatchEvent::Modified(o) = timed else {
        panic!("{timed:?}")
    };
    assert_eq!(ready_status(&o), "False");
    assert_eq!(api.requests().len(), requests, "{:#?}", api.requests());

    ws.delete("a", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        name_of(&next_event(&mut events).await),
        ("DELETED", "a".into())
    );

    // Without a version, a watch starts with every matching object as ADDED.
    let mut all = ws
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert_eq!(name_of(&next_event(&mut all).await), ("ADDED", "b".into()));
}

#[tokio::test]
async fn apply_manifests_validates_each_wave_before_changing_anything() {
    use zt::kube::manifests::{ManifestTiming, apply_manifests};
    let dir = tempfile::tempdir().unwrap();
    let api = TestApi::start();
    let cluster = connect(&ClusterAccess {
        kubeconfig: Some(api.write_kubeconfig(dir.path())),
        context: None,
    })
    .await
    .unwrap();
    let docs = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "argocd"}, "data": {"k": "v"}}),
        json!({"apiVersion": "platform.bizmatters.io/v1alpha1", "kind": "WebService", "metadata": {"name": "root", "namespace": "argocd"}, "spec": {"image": "x:1"}}),
    ];
    // The server refuses the claim, which comes after the ConfigMap in its wave.
    api.echo_rejections("WebService");
    let err = apply_manifests(
        &cluster,
        &docs,
        zt::kube::ApplyOptions::default(),
        ManifestTiming::default(),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().starts_with("WebService argocd/root: "),
        "{err}"
    );
    assert_eq!(
        api.created(),
        ["Namespace argocd"],
        "the wave's dry run failed first"
    );

    // Accepted, every wave is validated, then applied.
    let api = TestApi::start();
    let cluster = connect(&ClusterAccess {
        kubeconfig: Some(api.write_kubeconfig(dir.path())),
        context: None,
    })
    .await
    .unwrap();
    let applied = apply_manifests(
        &cluster,
        &docs,
        zt::kube::ApplyOptions::default(),
        ManifestTiming::default(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        applied,
        [
            "Namespace argocd",
            "ConfigMap argocd/a",
            "WebService argocd/root"
        ]
    );
    let patches: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("PATCH"))
        .map(|r| {
            r.split_once('?').map_or(r.clone(), |(p, q)| {
                format!(
                    "{} {}",
                    p.rsplit('/').next().unwrap_or(""),
                    if q.contains("dryRun=All") {
                        "dry"
                    } else {
                        "real"
                    }
                )
            })
        })
        .collect();
    assert_eq!(
        patches,
        [
            "argocd dry",
            "argocd real",
            "a dry",
            "root dry",
            "a real",
            "root real"
        ]
    );
}
