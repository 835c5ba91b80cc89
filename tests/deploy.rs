//! `deploy` end to end against the in-process test API server: the real kube-rs client, real
//! server-side apply requests, waits driven by a scripted "controller". The same flows against
//! the real kube-apiserver are in plugins/tests/deploy_cluster.rs; this file keeps what needs a
//! scripted server: exact request order, crash-looping pods, timeouts in milliseconds,
//! unreachable and misconfigured clusters.

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;
use zt::deploy::{self, DeployError, DryRun, Options, Plan, Request};
use zt::kube::{ClusterAccess, KubeError};
use zt::progress::Progress;
use zt::progress::Silent;
use zt_test_support::kube_api::{TestApi, objects};

const NS: &str = "team-a";
const NEW: &str = "ghcr.io/org/my-svc:sha-abc123";

const CONFIG: &str = "service:\n  name: my-svc\n  namespace: team-a\ndeployment:\n  wait_timeout: 300\ndependencies:\n  internal: [postgres]\n";

const CLAIMS: &[(&str, &str)] = &[
    (
        "10-web.yaml",
        "# the service\napiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc\nspec:\n  image: ghcr.io/org/my-svc:v1   # CI sets this\n  port: 8080\n  secret1Name: my-svc-db-conn\n",
    ),
    (
        "20-other.yaml",
        "apiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: other-my-svc\nspec:\n  image: ghcr.io/org/other-my-svc:v7\n  port: 8080\n",
    ),
    (
        "db/postgres.yaml",
        "apiVersion: database.bizmatters.io/v1alpha1\nkind: PostgresInstance\nmetadata:\n  name: my-svc-db\nspec:\n  size: small\n",
    ),
    (
        "secrets/app.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-svc-app\nstringData:\n  api_key: s3cr3t-api-key-value\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: my-svc-settings\ndata:\n  LOG_LEVEL: debug\n",
    ),
];

fn service_repo(config: &str, claims: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("ci")).unwrap();
    fs::write(dir.path().join("ci/config.yaml"), config).unwrap();
    let claims_dir = dir.path().join("platform/my-svc/overlays/pr");
    for (name, text) in claims {
        let p = claims_dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    dir
}

fn plan(root: &Path, image: &str) -> Plan {
    deploy::prepare(&Request {
        root,
        overrides: Default::default(),
        env: "pr",
        claims_dir: None,
        image,
        claim_names: &[],
        write: false,
    })
    .unwrap_or_else(|d| panic!("{d}"))
}

/// A short timeout: these tests never sleep long.
fn options(timeout_ms: u64) -> Options {
    Options::new(Duration::from_millis(timeout_ms))
}

fn access(api: &TestApi, dir: &Path) -> ClusterAccess {
    ClusterAccess {
        kubeconfig: Some(api.write_kubeconfig(dir)),
        context: None,
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);
impl Progress for Recorder {
    fn start(&self, _step: &str, m: &str) {
        self.0.lock().unwrap().push(format!("stage: {m}"));
    }
    fn done(&self, _step: &str, m: &str) {
        self.0.lock().unwrap().push(format!("done: {m}"));
    }
}

/// A platform that provisions the database and the service the way Crossplane would: each
/// claim turns Ready a little after it is applied; the service's Deployment rolls out the
/// image its claim asks for.
fn healthy_platform(api: &TestApi) {
    api.after_apply(
        "PostgresInstance",
        "my-svc-db",
        Duration::from_millis(20),
        |s| {
            s.set_ready("PostgresInstance", NS, "my-svc-db", true, "Available", "");
            s.put(objects::secret(
                NS,
                "my-svc-db-conn",
                json!({"password": "cGFzcw=="}),
            ));
        },
    );
    for name in ["my-svc", "other-my-svc"] {
        api.after_apply("WebService", name, Duration::from_millis(30), move |s| {
            let image = s.get("WebService", NS, name).unwrap()["spec"]["image"]
                .as_str()
                .unwrap()
                .to_string();
            s.put(objects::deployment(NS, name, &image, 1, 1));
            s.set_ready("WebService", NS, name, true, "Available", "");
        });
    }
}

#[tokio::test]
async fn applies_in_order_and_waits_until_ready() {
    let repo = service_repo(CONFIG, CLAIMS);
    let api = TestApi::start();
    healthy_platform(&api);
    let p = plan(repo.path(), "sha-abc123");
    let rec = Recorder::default();
    let report = deploy::execute(&p, &access(&api, repo.path()), &options(5_000), &rec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(
        api.created()[..6],
        [
            "Namespace team-a",
            "Secret team-a/my-svc-app",
            "ConfigMap team-a/my-svc-settings",
            "PostgresInstance team-a/my-svc-db",
            "WebService team-a/my-svc",
            "WebService team-a/other-my-svc",
        ]
    );
    let web = api.get("WebService", NS, "my-svc").unwrap();
    assert_eq!(web["spec"]["image"], NEW);
    assert_eq!(web["spec"]["port"], 8080);
    let other = api.get("WebService", NS, "other-my-svc").unwrap();
    assert_eq!(
        other["spec"]["image"], "ghcr.io/org/other-my-svc:v7",
        "sed hit this one"
    );
    assert_eq!(
        api.get("Secret", NS, "my-svc-app").unwrap()["data"]["api_key"],
        "czNjcjN0LWFwaS1rZXktdmFsdWU="
    );
    let owners = api.with_store(|s| s.managers("WebService", NS, "my-svc"));
    assert!(
        owners["kubectl-zt"].contains(&".spec.image".to_string()),
        "{owners:?}"
    );

    // Every object was validated with a server dry run before the first real write.
    let reqs = api.requests();
    let first_real = reqs
        .iter()
        .position(|r| {
            r.starts_with("PATCH") && r.contains("/webservices/") && !r.contains("dryRun")
        })
        .unwrap();
    let dry = reqs
        .iter()
        .position(|r| {
            r.starts_with("PATCH") && r.contains("/webservices/my-svc?") && r.contains("dryRun=All")
        })
        .unwrap();
    assert!(dry < first_real, "{reqs:#?}");
    assert!(
        reqs.iter()
            .filter(|r| r.starts_with("PATCH"))
            .all(|r| r.contains("fieldManager=kubectl-zt"))
    );
    // The waits read each object through its collection with a field selector on its name (a
    // list, then a watch while it is not ready), never by polling the object itself.
    for collection in [
        "/postgresinstances?",
        "/secrets?",
        "/webservices?",
        "/deployments?",
    ] {
        assert!(
            reqs.iter().any(|r| r.starts_with("GET")
                && r.contains(collection)
                && r.contains("fieldSelector=metadata.name=")),
            "{collection} not listed by name: {reqs:#?}"
        );
    }
    assert!(
        !reqs.iter().any(|r| r.starts_with(
            "GET /apis/platform.bizmatters.io/v1alpha1/namespaces/team-a/webservices/"
        )),
        "a claim was polled: {reqs:#?}"
    );

    // The database first, then its secret; the service's objects in whatever order they
    // became ready.
    assert_eq!(
        report.ready[..2],
        [
            "PostgresInstance team-a/my-svc-db",
            "Secret team-a/my-svc-db-conn"
        ]
    );
    let mut service = report.ready[2..].to_vec();
    service.sort();
    assert_eq!(
        service,
        [
            "Deployment team-a/my-svc",
            "WebService team-a/my-svc",
            "WebService team-a/other-my-svc",
        ]
    );
    let log = rec.0.lock().unwrap().join("\n");
    assert!(
        log.contains("stage: waiting for the database: PostgresInstance team-a/my-svc-db"),
        "{log}"
    );
    assert!(!log.contains("s3cr3t"), "{log}");
}

#[tokio::test]
async fn timeout_names_the_object_condition_and_last_message() {
    let repo = service_repo(CONFIG.replace("[postgres]", "[]").as_str(), &CLAIMS[..1]);
    let api = TestApi::start();
    api.after_apply("WebService", "my-svc", Duration::ZERO, |s| {
        s.set_ready(
            "WebService",
            NS,
            "my-svc",
            false,
            "Creating",
            "cannot compose: provider-kubernetes is not ready",
        );
    });
    let p = plan(repo.path(), "sha-abc123");
    let started = Instant::now();
    let err = deploy::execute(&p, &access(&api, repo.path()), &options(300), &Silent)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let DeployError::Timeout { diagnosis, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        diagnosis[0],
        "  WebService team-a/my-svc: condition Ready is False (reason Creating): cannot compose: provider-kubernetes is not ready"
    );
    assert_eq!(
        diagnosis[1],
        "  Deployment team-a/my-svc: not created yet (the claim's composition creates it)"
    );
    assert!(
        err.to_string()
            .starts_with("timed out after 300ms waiting for the service to become ready:"),
        "{err}"
    );
    // Not ready when listed, so watched until the deadline.
    assert!(
        api.requests().iter().any(|r| r.starts_with(
            "GET /apis/platform.bizmatters.io/v1alpha1/namespaces/team-a/webservices?allowWatchBookmarks=true&fieldSelector=metadata.name=my-svc&resourceVersion="
        ) && r.ends_with("&watch=true")),
        "{:#?}",
        api.requests()
    );
}

#[tokio::test]
async fn a_crash_looping_pod_fails_fast_with_its_reason() {
    let repo = service_repo(CONFIG.replace("[postgres]", "[]").as_str(), &CLAIMS[..1]);
    let api = TestApi::start();
    api.after_apply("WebService", "my-svc", Duration::from_millis(10), |s| {
        s.put(objects::deployment(NS, "my-svc", NEW, 1, 0));
        // An old pod of the previous image is fine; the new one crash-loops.
        s.put(objects::pod(NS, "my-svc-old", "my-svc", "ghcr.io/org/my-svc:v1", "Running", json!({"name": "app", "ready": true, "state": {"running": {}}})));
        s.put(objects::pod(NS, "my-svc-new", "my-svc", NEW, "Running", json!({
            "name": "app", "ready": false,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "DATABASE_URL is not set"}},
        })));
    });
    let p = plan(repo.path(), "sha-abc123");
    let started = Instant::now();
    let err = deploy::execute(&p, &access(&api, repo.path()), &options(20_000), &Silent)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "must not wait for the timeout"
    );
    assert_eq!(
        err.to_string(),
        "the service is failing: Deployment team-a/my-svc: pod my-svc-new: container app is in CrashLoopBackOff; last exit code 1 (Error): DATABASE_URL is not set"
    );
}

#[tokio::test]
async fn a_cluster_without_the_platform_is_told_so_and_nothing_is_applied() {
    let repo = service_repo(CONFIG, CLAIMS);
    let api = TestApi::builder()
        .without_group("platform.bizmatters.io")
        .start();
    let p = plan(repo.path(), "sha-abc123");
    let err = deploy::execute(&p, &access(&api, repo.path()), &options(1_000), &Silent)
        .await
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("MSG: {msg}");
    assert!(
        matches!(err, DeployError::Kube(KubeError::MissingKinds { .. })),
        "{msg}"
    );
    assert!(
        msg.contains("platform.bizmatters.io/v1alpha1 WebService ("),
        "{msg}"
    );
    assert!(msg.contains("10-web.yaml:2:1 and 1 more)"), "{msg}");
    assert!(
        msg.contains("is the ZeroTouch platform installed?"),
        "{msg}"
    );
    assert!(
        !api.requests().iter().any(|r| r.starts_with("PATCH")),
        "{:#?}",
        api.requests()
    );
}

#[tokio::test]
async fn a_field_conflict_stops_before_any_claim_changes_and_force_takes_over() {
    let repo = service_repo(CONFIG.replace("[postgres]", "[]").as_str(), &CLAIMS[..1]);
    let api = TestApi::start();
    // Someone else (Argo CD) manages the image already.
    api.with_store(|s| {
        s.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
        let r = s.resource_of_kind("WebService").unwrap().clone();
        let params = zt_test_support::kube_api::ApplyParams::new("argocd-controller");
        s.apply(&r, Some(NS), "my-svc", json!({
            "apiVersion": "platform.bizmatters.io/v1alpha1", "kind": "WebService",
            "metadata": {"name": "my-svc", "namespace": NS}, "spec": {"image": "ghcr.io/org/my-svc:v0", "port": 8080},
        }), params).unwrap();
    });
    let p = plan(repo.path(), "sha-abc123");
    let err = deploy::execute(&p, &access(&api, repo.path()), &options(1_000), &Silent)
        .await
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("MSG: {msg}");
    assert!(msg.contains("WebService team-a/my-svc: field manager conflict: Apply failed with 1 conflict: conflict with \"argocd-controller\": .spec.image"), "{msg}");
    assert!(msg.contains("--force-conflicts"), "{msg}");
    assert!(
        msg.contains("applied before the failure: Namespace team-a"),
        "{msg}"
    );
    assert_eq!(
        api.get("WebService", NS, "my-svc").unwrap()["spec"]["image"],
        "ghcr.io/org/my-svc:v0"
    );

    let forced = Options {
        force_conflicts: true,
        wait: false,
        ..options(1_000)
    };
    deploy::execute(&p, &access(&api, repo.path()), &forced, &Silent)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        api.get("WebService", NS, "my-svc").unwrap()["spec"]["image"],
        NEW
    );
}

#[tokio::test]
async fn server_dry_run_stores_nothing() {
    let repo = service_repo(CONFIG, CLAIMS);
    let api = TestApi::start();
    api.with_store(|s| {
        s.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
    });
    let p = plan(repo.path(), "sha-abc123");
    let opts = Options {
        dry_run: DryRun::Server,
        ..options(1_000)
    };
    let report = deploy::execute(&p, &access(&api, repo.path()), &opts, &Silent)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.applied.len(), p.objects.len());
    assert!(report.ready.is_empty(), "a dry run does not wait");
    assert_eq!(api.created(), ["Namespace team-a"]);
    let patches: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("PATCH"))
        .collect();
    assert_eq!(patches.len(), p.objects.len());
    assert!(
        patches.iter().all(|r| r.contains("dryRun=All")),
        "{patches:#?}"
    );
}

#[tokio::test]
async fn client_dry_run_contacts_no_cluster() {
    let repo = service_repo(CONFIG, CLAIMS);
    let p = plan(repo.path(), "sha-abc123");
    let nowhere = ClusterAccess {
        kubeconfig: Some(repo.path().join("does-not-exist")),
        context: None,
    };
    let opts = Options {
        dry_run: DryRun::Client,
        ..options(1_000)
    };
    let report = deploy::execute(&p, &nowhere, &opts, &Silent).await.unwrap();
    assert_eq!(report.applied.len(), 6);
    let shown = deploy::render_objects(&p).unwrap();
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("api_key: <redacted>"), "{shown}");
    assert!(shown.contains(&format!("image: {NEW}")), "{shown}");
    assert!(
        shown.starts_with("apiVersion: v1\nkind: Namespace\n"),
        "{shown}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    let repo = service_repo(CONFIG, CLAIMS);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let kubeconfig = repo.path().join("kubeconfig");
    fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"),
    )
    .unwrap();
    let p = plan(repo.path(), "sha-abc123");
    let access = ClusterAccess {
        kubeconfig: Some(kubeconfig),
        context: None,
    };
    let err = deploy::execute(&p, &access, &options(1_000), &Silent)
        .await
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("MSG: {msg}");
    assert!(
        matches!(err, DeployError::Kube(KubeError::Unreachable { .. })),
        "{msg}"
    );
    assert!(
        msg.starts_with(&format!(
            "cannot reach the Kubernetes API at http://127.0.0.1:{port}/"
        )),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("connect"), "{msg}");
}

#[tokio::test]
async fn an_invalid_kubeconfig_is_reported_without_its_secrets() {
    let repo = service_repo(CONFIG, CLAIMS);
    let p = plan(repo.path(), "sha-abc123");
    let kubeconfig = repo.path().join("kubeconfig");
    fs::write(
        &kubeconfig,
        "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: tok-very-secret-123\n    token: tok-duplicate-456\n",
    )
    .unwrap();
    let access = ClusterAccess {
        kubeconfig: Some(kubeconfig.clone()),
        context: None,
    };
    let err = deploy::execute(&p, &access, &options(1_000), &Silent)
        .await
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("MSG: {msg}");
    assert!(
        msg.starts_with(&format!(
            "kubeconfig {}: not a valid kubeconfig: 6:",
            kubeconfig.display()
        )),
        "{msg}"
    );
    assert!(!msg.contains("tok-"), "{msg}");

    // Well-formed, but the context does not exist.
    let api = TestApi::start();
    let access = ClusterAccess {
        kubeconfig: Some(api.write_kubeconfig(repo.path())),
        context: Some("prod".into()),
    };
    let err = deploy::execute(&p, &access, &options(1_000), &Silent)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("prod"), "{err}");
    assert!(api.requests().is_empty());
}

/// An https cluster builds a rustls client with the ring provider (no aws-lc-rs in the tree,
/// no process-wide provider to install) and fails only because nothing listens.
#[tokio::test]
async fn an_https_cluster_gets_a_tls_client() {
    let repo = service_repo(CONFIG, CLAIMS);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let kubeconfig = repo.path().join("kubeconfig");
    fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: not-printed-token\n"),
    )
    .unwrap();
    let p = plan(repo.path(), "sha-abc123");
    let access = ClusterAccess {
        kubeconfig: Some(kubeconfig),
        context: None,
    };
    let err = deploy::execute(&p, &access, &options(1_000), &Silent)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, DeployError::Kube(KubeError::Unreachable { .. })),
        "{msg}"
    );
    assert!(msg.contains(&format!("https://127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains("not-printed-token"), "{msg}");
}
