//! The production bootstrap end to end against the test doubles: three Talos test nodes (real
//! TLS, certificates from the example bundle) and the in-process Kubernetes API, on which a
//! test "controller" turns the CRD established, the repo server ready and the root Application
//! Synced and Healthy. Also: a failure halfway and a resumed run, a node that never comes back,
//! and a node that belongs to another cluster (wrong certificates).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use zt::bootstrap::cache::StageCache;
use zt::bootstrap::production::{self, MaintenanceTrust, ProductionInputs};
use zt::bootstrap::{Ctx, RunError, Timing, run};
use zt::talos::api::{ClientOptions, TalosEndpoint};
use zt::talos::bundle::SecretsBundle;
use zt::tenant::EnvValues;
use zt_test_support::example::{PLATFORM_URL, example_production_dev, production_dev};
use zt_test_support::kube_api::TestApi;
use zt_test_support::preview::{cluster_api, platform_syncs};
use zt_test_support::progress::{EXAMPLE_PRODUCTION_STAGES, Recorder, all_done};
use zt_test_support::talos_api::TalosTestServer;
use zt_test_support::workspace_root;

fn example_bundle() -> SecretsBundle {
    zt::examples::bundle().unwrap()
}

fn values_in(repo: &Path) -> EnvValues {
    zt::tenant::load_env(repo, "dev").unwrap()
}

/// The cluster side: the three nodes, the controllers, and (when asked) Argo CD reporting the
/// platform healthy.
fn kube_api(worker02_ready: bool, platform_healthy: bool) -> TestApi {
    let api = cluster_api(&[
        ("cp01-main", true),
        ("worker01", true),
        ("worker02", worker02_ready),
    ]);
    if platform_healthy {
        platform_syncs(&api, Duration::from_millis(30));
    }
    api
}

struct Cluster {
    nodes: BTreeMap<String, TalosTestServer>,
    api: TestApi,
    dir: tempfile::TempDir,
}

/// Three Talos nodes in maintenance mode that join `bundle`'s cluster when configured, the
/// control plane handing out a kubeconfig for the test API.
async fn cluster(bundle: &SecretsBundle, worker02_ready: bool, platform_healthy: bool) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let api = kube_api(worker02_ready, platform_healthy);
    let kubeconfig = std::fs::read(api.write_kubeconfig(dir.path())).unwrap();
    let mut nodes = BTreeMap::new();
    for name in ["cp01-main", "worker01", "worker02"] {
        let n = TalosTestServer::maintenance_then_configured(bundle).await;
        {
            let mut st = n.state();
            st.hostname = name.into();
            st.machine_type = if name == "cp01-main" {
                "controlplane"
            } else {
                "worker"
            }
            .into();
            st.kubeconfig = kubeconfig.clone();
        }
        nodes.insert(name.to_string(), n);
    }
    Cluster { nodes, api, dir }
}

fn timing() -> Timing {
    Timing {
        talos: Duration::from_secs(2),
        kubernetes: Duration::from_millis(1500),
        argocd: Duration::from_secs(3),
        platform: Duration::from_millis(700),
        kind: Duration::from_secs(3),
        poll_initial: Duration::from_millis(10),
        poll_max: Duration::from_millis(100),
    }
}

fn plan(
    c: &Cluster,
    bundle: &SecretsBundle,
    maintenance: MaintenanceTrust,
) -> (zt::bootstrap::Plan, PathBuf) {
    plan_in(
        c,
        bundle,
        maintenance,
        &workspace_root().join("examples/tenant-repo"),
    )
}

/// The plan for the dev environment of the tenant repository at `repo`.
fn plan_in(
    c: &Cluster,
    bundle: &SecretsBundle,
    maintenance: MaintenanceTrust,
    repo: &Path,
) -> (zt::bootstrap::Plan, PathBuf) {
    let values = values_in(repo);
    let rendered = production_dev(repo, bundle, PLATFORM_URL);
    let endpoints = c
        .nodes
        .iter()
        .map(|(name, n)| (name.clone(), n.endpoint().parse::<TalosEndpoint>().unwrap()))
        .collect();
    let plan = production::plan(ProductionInputs {
        values: &values,
        rendered: &rendered,
        platform_repo: Some(&workspace_root().join("examples/platform-repo")),
        argocd_install: None,
        maintenance,
        endpoints,
        client_options: ClientOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        },
        bare_metal: None,
    })
    .unwrap();
    (plan, c.dir.path().join("home/.kube/config"))
}

async fn run_plan(
    c: &Cluster,
    bundle: &SecretsBundle,
    fresh: bool,
) -> (Result<zt::bootstrap::RunSummary, RunError>, Arc<Recorder>) {
    run_plan_trusting(c, bundle, fresh, MaintenanceTrust::Unverified).await
}

async fn run_plan_trusting(
    c: &Cluster,
    bundle: &SecretsBundle,
    fresh: bool,
    maintenance: MaintenanceTrust,
) -> (Result<zt::bootstrap::RunSummary, RunError>, Arc<Recorder>) {
    let (plan, kubeconfig) = plan(c, bundle, maintenance);
    let rec = Arc::new(Recorder::default());
    let mut ctx = Ctx::new(timing(), rec.clone(), kubeconfig, None);
    let mut cache =
        StageCache::open(&c.dir.path().join("cache.json"), &plan.fingerprint(), fresh).unwrap();
    let r = run(&plan, &mut ctx, &mut cache, std::future::pending()).await;
    (r, rec)
}

#[tokio::test]
async fn multi_document_configs_of_later_talos_lines_are_applied_unchanged() {
    use zt_test_support::talos_lines::{LATER_LINES, example_on_line};
    let bundle = example_bundle();
    for line in LATER_LINES {
        let repo = example_on_line("examples/tenant-repo", "dev", line);
        let c = cluster(&bundle, true, true).await;
        let (plan, kubeconfig) = plan_in(&c, &bundle, MaintenanceTrust::Unverified, repo.path());
        let rec = Arc::new(Recorder::default());
        let mut ctx = Ctx::new(timing(), rec.clone(), kubeconfig, None);
        let mut cache =
            StageCache::open(&c.dir.path().join("cache.json"), &plan.fingerprint(), true).unwrap();
        run(&plan, &mut ctx, &mut cache, std::future::pending())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", line.name, rec.all()));
        let r = production_dev(repo.path(), &bundle, PLATFORM_URL);
        for (name, n) in &c.nodes {
            let st = n.state();
            assert_eq!(st.applied.len(), 1, "{} {name} applied once", line.name);
            let sent = &st.applied[0].data;
            assert_eq!(
                sent,
                &r.tree
                    .get(Path::new(&format!("talos/{name}.yaml")))
                    .unwrap()
                    .bytes,
                "{} {name}",
                line.name
            );
            let text = String::from_utf8_lossy(sent);
            assert!(
                text.contains(&format!(
                    "kind: HostnameConfig\nauto: \"off\"\nhostname: {name}\n"
                )),
                "{} {name}: {text}",
                line.name
            );
        }
    }
}

#[tokio::test]
async fn bootstraps_three_nodes_to_a_syncing_platform() {
    let bundle = example_bundle();
    let c = cluster(&bundle, true, true).await;
    let (result, rec) = run_plan(&c, &bundle, false).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{}", rec.all()));
    assert_eq!(summary.cached.len(), 0);

    assert_eq!(rec.finished(), all_done(EXAMPLE_PRODUCTION_STAGES));

    // Each node got exactly its rendered config, once, over the maintenance API in AUTO mode.
    let r = example_production_dev(&bundle, PLATFORM_URL);
    for (name, n) in &c.nodes {
        let st = n.state();
        assert_eq!(st.applied.len(), 1, "{name} applied once");
        assert_eq!(
            st.applied[0].data,
            r.tree
                .get(Path::new(&format!("talos/{name}.yaml")))
                .unwrap()
                .bytes
        );
        assert_eq!(format!("{:?}", st.applied[0].mode), "Auto");
        assert_eq!(
            st.bootstrapped,
            name == "cp01-main",
            "{name}: etcd bootstrapped only on the control plane"
        );
    }

    // The kubeconfig was written privately, and the cluster got what the plan said.
    let kubeconfig = c.dir.path().join("home/.kube/config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(
        std::fs::read_to_string(&kubeconfig)
            .unwrap()
            .contains(&c.api.url())
    );
    let created = c.api.created();
    for want in [
        "CustomResourceDefinition applications.argoproj.io",
        "Namespace argocd",
        "Deployment argocd/argocd-repo-server",
        "Namespace external-secrets",
        "Secret external-secrets/aws-access-token",
        "Secret argocd/repo-credentials",
        "Application argocd/platform-bootstrap",
        "ExternalSecret argocd/repo-catalog",
        "Application argocd/identity-service",
    ] {
        assert!(
            created.iter().any(|c| c == want),
            "{want} not created: {created:#?}"
        );
    }
    let pos = |w: &str| created.iter().position(|c| c == w).unwrap();
    assert!(
        pos("CustomResourceDefinition applications.argoproj.io")
            < pos("Application argocd/platform-bootstrap")
    );
    assert!(pos("Secret argocd/repo-credentials") < pos("Application argocd/platform-bootstrap"));
    assert!(
        pos("Application argocd/platform-bootstrap") < pos("Application argocd/identity-service"),
        "tenants after the platform"
    );
    // The example install's toleration patch went through kustomize.
    let repo_server = c
        .api
        .get("Deployment", "argocd", "argocd-repo-server")
        .unwrap();
    assert_eq!(
        repo_server
            .pointer("/spec/template/spec/tolerations/0/key")
            .unwrap(),
        "node-role.kubernetes.io/control-plane"
    );

    // Nothing secret reached the progress output.
    let out = rec.all();
    for secret in [
        &bundle.trustd_info.token,
        &bundle.secrets.bootstrap_token,
        &bundle.certs.os.key,
    ] {
        assert!(!out.contains(secret.expose()));
    }
    assert!(!out.contains("example-token-not-a-secret"));
}

#[tokio::test]
async fn a_failed_run_resumes_where_it_stopped() {
    let bundle = example_bundle();
    // Argo CD never reports the platform healthy: the first run times out there.
    let c = cluster(&bundle, true, false).await;
    let (result, rec) = run_plan(&c, &bundle, false).await;
    let err = result.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("application-synced/platform-bootstrap"),
        "{msg}"
    );
    assert!(
        msg.contains("timed out") && msg.contains("health unknown, sync unknown"),
        "{msg}"
    );
    assert!(
        rec.finished()
            .last()
            .unwrap()
            .starts_with("✗ application-synced/platform-bootstrap")
    );
    let cache = std::fs::read_to_string(c.dir.path().join("cache.json")).unwrap();
    for done in [
        "talos-apply/cp01-main",
        "etcd-bootstrap",
        "kubeconfig",
        "argocd-install",
        "root-app",
    ] {
        assert!(
            cache.contains(&format!("\"{done}\"")),
            "{done} not recorded: {cache}"
        );
    }
    assert!(
        !cache.contains("tenants"),
        "a stage after the failure is not recorded"
    );

    // The platform comes up; the rerun skips everything that finished and applies nothing to
    // the nodes again.
    c.api.with_store(|s| {
        s.set_status(
            "Application",
            "argocd",
            "platform-bootstrap",
            json!({"health": {"status": "Healthy"}, "sync": {"status": "Synced"}}),
        );
    });
    let calls_before: BTreeMap<String, usize> = c
        .nodes
        .iter()
        .map(|(n, s)| (n.clone(), s.state().applied.len()))
        .collect();
    let (result, rec) = run_plan(&c, &bundle, false).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{}", rec.all()));
    assert!(summary.cached.contains(&"talos-apply/worker02".to_string()));
    assert!(summary.cached.contains(&"etcd-bootstrap".to_string()));
    assert_eq!(summary.done.last().map(String::as_str), Some("tenants"));
    assert!(
        rec.finished()
            .contains(&"↷ talos-apply/cp01-main".to_string()),
        "{:?}",
        rec.finished()
    );
    for (n, s) in &c.nodes {
        assert_eq!(
            s.state().applied.len(),
            calls_before[n],
            "{n} was configured again"
        );
    }

    // --fresh runs every stage again; an already configured node is left alone and an
    // already bootstrapped etcd counts as done.
    let (result, rec) = run_plan(&c, &bundle, true).await;
    result.unwrap_or_else(|e| panic!("{e}\n{}", rec.all()));
    for (n, s) in &c.nodes {
        assert_eq!(
            s.state().applied.len(),
            calls_before[n],
            "{n}: a configured node is not re-applied"
        );
    }
    assert!(rec.all().contains("already bootstrapped"), "{}", rec.all());
}

#[tokio::test]
async fn a_node_that_never_turns_ready_times_out_with_a_diagnosis() {
    let bundle = example_bundle();
    let c = cluster(&bundle, false, true).await;
    let (result, _) = run_plan(&c, &bundle, false).await;
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("node-ready/worker02"), "{msg}");
    assert!(
        msg.contains(
            "condition Ready is False (reason KubeletNotReady): container runtime network not ready"
        ),
        "{msg}"
    );
}

#[tokio::test]
async fn nodes_of_another_cluster_are_refused() {
    // The nodes join the example cluster; we render with a different bundle, so our
    // talosconfig's client certificate and CA do not match theirs.
    let theirs = example_bundle();
    let ours = SecretsBundle::generate().unwrap();
    let c = cluster(&theirs, true, true).await;
    let (result, rec) = run_plan(&c, &ours, false).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("talos-ready/cp01-main"),
        "{msg}\n{}",
        rec.all()
    );
    assert!(
        msg.contains("another secrets bundle"),
        "the hint names the likely cause: {msg}"
    );
    assert!(!c.nodes["cp01-main"].state().bootstrapped);
}

#[tokio::test]
async fn machine_configs_go_only_to_verified_or_explicitly_unverified_nodes() {
    let bundle = example_bundle();
    let fingerprint = |c: &Cluster, n: &str| c.nodes[n].maintenance_fingerprint().unwrap();

    // No pins and no --insecure-skip-verify: the keys stay here; the node's fingerprint is shown.
    let c = cluster(&bundle, true, true).await;
    let (result, rec) = run_plan_trusting(&c, &bundle, false, MaintenanceTrust::Refuse).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("talos-apply/cp01-main")
            && msg.contains(&format!(
                "--cert-fingerprint {}",
                fingerprint(&c, "cp01-main")
            )),
        "{msg}\n{}",
        rec.all()
    );
    assert!(c.nodes.values().all(|n| n.state().applied.is_empty()));

    // A pin the node does not match (another machine answered): refused, nothing sent, and the
    // fingerprint that did answer is named.
    let c = cluster(&bundle, true, true).await;
    let other = fingerprint(&c, "worker01");
    let (result, rec) =
        run_plan_trusting(&c, &bundle, false, MaintenanceTrust::Pinned(vec![other])).await;
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("does not match the pinned fingerprint")
            && msg.contains(&fingerprint(&c, "cp01-main").to_string()),
        "{msg}\n{}",
        rec.all()
    );
    assert!(c.nodes.values().all(|n| n.state().applied.is_empty()));

    // Explicitly unverified: sent, with a warning naming what answered.
    let c = cluster(&bundle, true, true).await;
    let (result, rec) = run_plan(&c, &bundle, false).await;
    result.unwrap_or_else(|e| panic!("{e}\n{}", rec.all()));
    let warning = format!(
        "warning: talos-apply/cp01-main: sent talos/cp01-main.yaml to an unverified peer at {} \
         presenting SPKI fingerprint {}",
        c.nodes["cp01-main"].endpoint(),
        fingerprint(&c, "cp01-main")
    );
    assert!(rec.all().contains(&warning), "{}", rec.all());
}

#[tokio::test]
async fn an_api_error_quoting_a_secret_is_scrubbed() {
    let bundle = example_bundle();
    let c = cluster(&bundle, true, true).await;
    c.api.echo_rejections("Secret");
    let (result, rec) = run_plan(&c, &bundle, false).await;
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("secrets") && msg.contains("Invalid"), "{msg}");
    let all = format!("{msg}\n{}", rec.all());
    let creds = zt::examples::env()
        .credentials(zt::credentials::Mode::Production)
        .unwrap();
    use base64::Engine as _;
    for secret in [
        creds.bot_token.expose(),
        creds.aws_secret_access_key.expose(),
    ] {
        // Secrets carry their values base64-encoded in `data`: neither form may show.
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(
            !all.contains(secret) && !all.contains(&b64),
            "{secret} leaked:\n{all}"
        );
    }
}
