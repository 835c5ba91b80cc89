//! Real Argo CD judges what we render: its application controller and repo-server (v3.2.11,
//! built from its Go module by `make oracles`, with Debian's redis-server) run against the real
//! test control plane (tests/support/src/cluster.rs: etcd, kube-apiserver, controller manager,
//! scheduler v1.34 and kwok) and reconcile the root Application and the tenant Applications the
//! library renders for the example production environment, from git repositories made in the
//! test and read through `file://` URLs (as Argo CD's own e2e tests do).
//!
//! Then the preview: the built-in preview patches committed to branch `zt-preview` (as
//! `preview-patch --commit` does) and the preview root Application re-pointed at that branch:
//! Argo CD resolves the branch to the patch commit and syncs the patched child Applications.
//! Throughout, every status Argo CD writes is put to bootstrap's own wait check, which must not
//! call an Application ready before Argo CD has finished with the current source.
//!
//! What Argo CD decides here is Argo CD's: sync status, health, the revision it resolved, and
//! the conditions it writes for Applications it cannot reconcile. The AppProject lets sources
//! come only from the test's local repositories, so the platform's child Applications that point
//! at github.com or a Helm repository get Argo CD's own "not permitted" condition and nothing
//! leaves 127.0.0.1.
//!
//! Skips with one line when the oracles or redis-server are missing (`ZT_REQUIRE_ORACLES=1`: a
//! failure).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{Value, json};
use zt::kube::wait::{Check, READY, application_synced_healthy};
use zt::render::argocd::PlatformSource;
use zt::render::{self, ObjectRole, TemplateSource};
use zt_test_support::cluster::{ARGOCD_NAMESPACE, apply_object, workload_cluster_or_skip};
use zt_test_support::example::example_production_dev;
use zt_test_support::git::{checkout_of, git};
use zt_test_support::workspace_root;

/// How long Argo CD may take to bring an Application where the test expects it.
const SETTLE: Duration = Duration::from_secs(60);

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

fn applications(client: &Client) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    };
    Api::namespaced_with(client.clone(), ARGOCD_NAMESPACE, &ar)
}

/// What Argo CD says about an Application, in one line for failure messages.
fn summary(app: &DynamicObject) -> String {
    let d = &app.data;
    let conditions: Vec<String> = d
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| format!("{}: {}", c["type"], c["message"]))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "sync {} at {}, health {}, operation {} ({}), conditions {:?}",
        d.pointer("/status/sync/status").unwrap_or(&Value::Null),
        d.pointer("/status/sync/revision").unwrap_or(&Value::Null),
        d.pointer("/status/health/status").unwrap_or(&Value::Null),
        d.pointer("/status/operationState/phase")
            .unwrap_or(&Value::Null),
        d.pointer("/status/operationState/message")
            .unwrap_or(&Value::Null),
        conditions
    )
}

/// Polls Application `name` until `done` holds; panics with Argo CD's last word after
/// [`SETTLE`]. Every state polled is also put to bootstrap's own wait check
/// ([`application_synced_healthy`]): it may call the Application ready only once `done` holds,
/// so bootstrap never moves on while Argo CD is still syncing.
async fn wait_app(
    apps: &Api<DynamicObject>,
    name: &str,
    what: &str,
    done: impl Fn(&DynamicObject) -> bool,
) -> DynamicObject {
    let deadline = Instant::now() + SETTLE;
    let mut last = String::from("not found");
    while Instant::now() < deadline {
        if let Some(app) = apps.get_opt(name).await.unwrap() {
            let bootstrap_says = application_synced_healthy(&app.data);
            assert!(
                bootstrap_says != READY || done(&app),
                "bootstrap's wait calls {name} ready while Argo CD says: {}",
                summary(&app)
            );
            if done(&app) {
                return app;
            }
            last = summary(&app);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("Application {name} is not {what} after {SETTLE:?}: {last}");
}

/// Synced at `revision` and Healthy, with Argo CD's automated sync operation finished.
fn synced_healthy_at(revision: String) -> impl Fn(&DynamicObject) -> bool {
    move |app| {
        let d = &app.data;
        d.pointer("/status/operationState/phase") == Some(&json!("Succeeded"))
            && d.pointer("/status/sync/status") == Some(&json!("Synced"))
            && d.pointer("/status/health/status") == Some(&json!("Healthy"))
            && d.pointer("/status/sync/revision") == Some(&json!(revision))
    }
}

fn condition(app: &DynamicObject, kind: &str) -> Option<String> {
    app.data
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .and_then(|c| c["message"].as_str())
        .map(str::to_string)
}

/// A tenant's workload, as a tenant repository holds it at the Application's path: a ConfigMap
/// and a Deployment kwok runs.
fn tenant_workload(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\ndata:\n  tenant: {name}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: registry.invalid/{name}:1\n"
    )
}

#[tokio::test]
async fn real_argo_cd_syncs_the_rendered_root_and_tenant_applications() {
    let test = "real_argo_cd_syncs_the_rendered_root_and_tenant_applications";
    let Some(cluster) = workload_cluster_or_skip(test, 1) else {
        return;
    };
    let Some(argocd) = cluster.argocd_or_skip(test) else {
        return;
    };
    let _logs = cluster.logs_on_panic();
    eprintln!("Argo CD: {}", argocd.version());
    assert!(argocd.version().contains("v3.2.11"), "{}", argocd.version());

    // The platform repository: the example platform repo committed on `main`.
    let platform = checkout_of(&workspace_root().join("examples/platform-repo"));
    let platform_url = file_url(platform.path());
    let platform_head = git(platform.path(), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let r = example_production_dev(&zt::examples::bundle().unwrap(), &platform_url);

    // One local repository per tenant repository URL we render, holding each tenant's workload
    // at the Application's path and revision. The product accepts only https/ssh remotes for
    // tenants, and no https git server runs here, so the tenant Applications are applied with
    // repoURL pointed at that repository: every other field is as rendered.
    let tenants: Vec<Value> = r
        .objects
        .iter()
        .filter(|o| o.role == ObjectRole::TenantApplication)
        .map(|o| o.value.clone())
        .collect();
    assert_eq!(tenants.len(), 3, "{tenants:?}");
    let mut repos: BTreeMap<String, tempfile::TempDir> = BTreeMap::new();
    for app in &tenants {
        let url = app["spec"]["source"]["repoURL"]
            .as_str()
            .unwrap()
            .to_string();
        let dir = repos.entry(url).or_insert_with(|| {
            let d = tempfile::tempdir().unwrap();
            git(d.path(), &["init", "-q", "-b", "main"]);
            d
        });
        let path = dir
            .path()
            .join(app["spec"]["source"]["path"].as_str().unwrap());
        std::fs::create_dir_all(path.join("nested")).unwrap();
        let name = app["metadata"]["name"].as_str().unwrap();
        let workload = tenant_workload(name);
        let (config, deployment) = workload.split_once("---\n").unwrap();
        std::fs::write(path.join("config.yaml"), config).unwrap();
        // `directory.recurse: true`: the Deployment one directory down must be found.
        std::fs::write(path.join("nested/deployment.yaml"), deployment).unwrap();
    }
    let mut heads = BTreeMap::new();
    for (url, dir) in &repos {
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "tenant workloads"]);
        heads.insert(
            url.clone(),
            git(dir.path(), &["rev-parse", "HEAD"]).trim().to_string(),
        );
    }

    // Sources only from these repositories: nothing reaches beyond 127.0.0.1.
    let mut allowed = vec![platform_url.clone()];
    allowed.extend(repos.values().map(|d| file_url(d.path())));
    let allowed_refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
    argocd.project("default", &allowed_refs).await;

    let client = cluster.client().await;
    let apps = applications(&client);

    // The root Application, exactly as rendered.
    let root = r
        .objects
        .iter()
        .find(|o| o.role == ObjectRole::RootApplication)
        .unwrap();
    assert_eq!(
        root.value["spec"]["source"]["repoURL"],
        platform_url.as_str()
    );
    apply_object(&client, Some(ARGOCD_NAMESPACE), &root.value)
        .await
        .unwrap();
    let root_name = root.value["metadata"]["name"].as_str().unwrap();
    let root_app = wait_app(
        &apps,
        root_name,
        "synced (operation Succeeded), Synced and Healthy at the platform's HEAD",
        synced_healthy_at(platform_head.clone()),
    )
    .await;
    // The app-of-apps created the platform's Applications its overlay holds; Argo CD refuses
    // those whose sources lie outside the project (github.com, a Helm repository) with its own
    // condition rather than fetching them.
    let children: Vec<String> = root_app.data["status"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|res| res["kind"] == "Application")
        .map(|res| res["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        children.contains(&"crossplane-operator".to_string()),
        "{children:?}"
    );
    let mut root_children_sources = BTreeMap::new();
    for child in &children {
        let app = wait_app(&apps, child, "judged by Argo CD", |a| {
            condition(a, "InvalidSpecError").is_some()
        })
        .await;
        let message = condition(&app, "InvalidSpecError").unwrap();
        eprintln!("Argo CD on child Application {child}: {message}");
        root_children_sources.insert(child.clone(), app.data["spec"]["source"].clone());
        assert!(
            message.contains("not permitted in project"),
            "{child}: {message}"
        );
    }

    // The tenant Applications, as rendered but for the repository URL.
    for app in &tenants {
        let mut app = app.clone();
        let url = app["spec"]["source"]["repoURL"]
            .as_str()
            .unwrap()
            .to_string();
        app["spec"]["source"]["repoURL"] = json!(file_url(repos[&url].path()));
        apply_object(&client, Some(ARGOCD_NAMESPACE), &app)
            .await
            .unwrap();
    }
    for app in &tenants {
        let name = app["metadata"]["name"].as_str().unwrap();
        let url = app["spec"]["source"]["repoURL"].as_str().unwrap();
        let namespace = app["spec"]["destination"]["namespace"].as_str().unwrap();
        let got = wait_app(
            &apps,
            name,
            "synced (operation Succeeded), Synced and Healthy at its repository's HEAD",
            synced_healthy_at(heads[url].clone()),
        )
        .await;
        // Argo CD synced both objects, the nested one too, into the namespace it created.
        let resources = got.data["status"]["resources"].as_array().unwrap();
        for (kind, object) in [
            ("ConfigMap", format!("{name}-config")),
            ("Deployment", name.to_string()),
        ] {
            let res = resources
                .iter()
                .find(|res| res["kind"] == kind && res["name"] == object.as_str())
                .unwrap_or_else(|| panic!("{name}: no {kind} {object} in {resources:?}"));
            assert_eq!(res["namespace"], namespace, "{res}");
            assert_eq!(res["status"], "Synced", "{res}");
        }
        let labels = got.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("tenant").map(String::as_str),
            Some(name),
            "{labels:?}"
        );
        let annotations = got.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations
                .get("argocd.argoproj.io/sync-wave")
                .map(String::as_str),
            Some("100"),
            "{annotations:?}"
        );
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(client.clone(), namespace);
        let d = deployments.get(name).await.unwrap();
        assert_eq!(
            d.status.and_then(|s| s.available_replicas),
            Some(1),
            "{name}"
        );
    }

    // A tenant Application whose path does not exist in its repository: Argo CD's own
    // comparison error, and no sync.
    let mut broken = tenants[0].clone();
    let url = broken["spec"]["source"]["repoURL"]
        .as_str()
        .unwrap()
        .to_string();
    broken["metadata"]["name"] = json!("broken-path");
    broken["spec"]["source"]["repoURL"] = json!(file_url(repos[&url].path()));
    broken["spec"]["source"]["path"] = json!("no/such/path");
    apply_object(&client, Some(ARGOCD_NAMESPACE), &broken)
        .await
        .unwrap();
    let app = wait_app(&apps, "broken-path", "judged by Argo CD", |a| {
        condition(a, "ComparisonError").is_some()
    })
    .await;
    let message = condition(&app, "ComparisonError").unwrap();
    eprintln!("Argo CD on broken-path: {message}");
    // Bootstrap's wait, were this the root Application, names Argo CD's reason.
    let Check::Pending(diagnosis) = application_synced_healthy(&app.data) else {
        panic!(
            "bootstrap's wait calls broken-path ready: {}",
            summary(&app)
        );
    };
    assert!(
        diagnosis.contains("no/such/path: app path does not exist"),
        "{diagnosis}"
    );
    assert!(
        message.contains("no/such/path: app path does not exist"),
        "{message}"
    );
    assert_ne!(
        app.data.pointer("/status/sync/status"),
        Some(&json!("Synced")),
        "{}",
        summary(&app)
    );

    // A wrong destination: a cluster Argo CD does not know.
    let mut elsewhere = tenants[0].clone();
    elsewhere["metadata"]["name"] = json!("wrong-destination");
    elsewhere["spec"]["source"]["repoURL"] = json!(file_url(repos[&url].path()));
    elsewhere["spec"]["destination"]["server"] = json!("https://cluster.invalid:6443");
    apply_object(&client, Some(ARGOCD_NAMESPACE), &elsewhere)
        .await
        .unwrap();
    let app = wait_app(&apps, "wrong-destination", "judged by Argo CD", |a| {
        condition(a, "InvalidSpecError").is_some()
    })
    .await;
    let message = condition(&app, "InvalidSpecError").unwrap();
    eprintln!("Argo CD on wrong-destination: {message}");
    assert!(message.contains("cluster.invalid"), "{message}");

    // Preview: the built-in preview patches committed to branch zt-preview of the platform
    // checkout (what `preview-patch --commit` and bootstrap's preview-patch stage do), and the
    // root Application the preview render makes, pointed at that branch. The product's root
    // reads the checkout as Kind mounts it (file:///repo); here the checkout's own path stands
    // in for the mount. Argo CD resolves the branch to the patch commit and syncs the patched
    // children: the platform's Applications now read file:///repo at zt-preview, where at
    // `main` (no commit: what Argo CD would sync without --commit) they read GitHub.
    let (repo, base) = zt::git::Repo::open_at_head(platform.path()).unwrap();
    let overlays = zt::patch::overlay::preview().unwrap();
    let plan = zt::patch::plan(&zt::patch::Request {
        root: platform.path(),
        overlays: &overlays,
        vars: &zt::patch::Vars {
            platform_url: zt::patch::LOCAL_URL.into(),
            platform_revision: zt::bootstrap::preview::BRANCH.into(),
            mode: zt::patch::Mode::Local,
        },
    })
    .unwrap_or_else(|d| panic!("{d}"));
    let preview_commit = match plan
        .commit_to(
            &repo,
            zt::bootstrap::preview::BRANCH,
            &base,
            "argocd_cluster test",
        )
        .unwrap()
    {
        zt::git::CommitOutcome::Created { commit } => commit,
        other => panic!("{other:?}"),
    };
    assert_ne!(preview_commit, platform_head);
    let preview = render::render_preview(&render::PreviewRequest {
        platform: PlatformSource {
            url: platform_url.clone(),
            revision: zt::bootstrap::preview::BRANCH.into(),
            overlay: render::PREVIEW_OVERLAY.into(),
        },
        kind: zt::render::kind::KindSettings {
            name: "zt-argocd".into(),
            node_image: None,
            platform_repo: platform.path().to_string_lossy().into_owned(),
        },
        credentials: None,
        templates: &TemplateSource::default(),
    })
    .unwrap();
    let preview_root = preview
        .objects
        .iter()
        .find(|o| o.role == ObjectRole::RootApplication)
        .unwrap();
    assert_eq!(preview_root.value["metadata"]["name"], root_name);
    apply_object(&client, Some(ARGOCD_NAMESPACE), &preview_root.value)
        .await
        .unwrap();
    wait_app(
        &apps,
        root_name,
        "synced (operation Succeeded), Synced and Healthy at the zt-preview commit",
        synced_healthy_at(preview_commit.clone()),
    )
    .await;
    let patched: Vec<String> = plan
        .changes
        .iter()
        .map(|c| c.path.clone())
        .filter(|p| p.starts_with("bootstrap/argocd/base/"))
        .collect();
    assert!(
        !patched.is_empty(),
        "the preview patches change no base Application"
    );
    let mut pinned = 0;
    for child in &children {
        let app = apps.get(child).await.unwrap();
        let source = &app.data["spec"]["source"];
        let before = root_children_sources[child].clone();
        if before["repoURL"]
            .as_str()
            .is_some_and(|u| u.contains("example-org/zerotouch-platform"))
        {
            // The platform's own Applications: repointed at the mounted checkout's branch.
            assert_eq!(source["repoURL"], zt::patch::LOCAL_URL, "{child}: {source}");
            assert_eq!(
                source["targetRevision"],
                zt::bootstrap::preview::BRANCH,
                "{child}: {source}"
            );
            pinned += 1;
        }
    }
    assert!(
        pinned > 0,
        "no child Application was repointed: {children:?}"
    );
}
