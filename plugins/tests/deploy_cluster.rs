//! `kubectl zt deploy` through the CLI against a real control plane (tests/support/src/
//! cluster.rs): etcd, kube-apiserver, kube-controller-manager and kube-scheduler v1.34 with kwok's
//! fake nodes, built from their Go modules by `make oracles`. The claim kinds are CRDs derived
//! from the platform's XRDs as Crossplane derives them, so the real server validates, defaults
//! and prunes the claims; a small controller in this file plays Crossplane (claims Ready, the
//! connection Secret, the service's Deployment) while the real controllers, the scheduler and
//! kwok make the Deployment's pods run. The health checks ask a small HTTP server (Python's
//! `http.server`) in a network namespace of the test's own (tests/support/src/netns.rs), which
//! the API server's service proxy reaches at a private address.
//!
//! Each test skips with one line when the oracles are not built (`ZT_REQUIRE_ORACLES=1` makes
//! that a failure). Faults a real server does not produce on demand stay in tests/deploy.rs,
//! against the in-process double.

use std::fs;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use zt_test_support::cli::{self, text};
use zt_test_support::cluster::{TestCluster, TestNamespace, workload_cluster_or_skip};
use zt_test_support::crossplane::{AbortOnDrop, Platform, crossplane, postgres, webservices};
use zt_test_support::netns::NetNs;
use zt_test_support::oracles::{oracle_or_skip, oracles_dir};

const NEW: &str = "ghcr.io/org/my-svc:sha-abc123";

fn web_claim() -> &'static str {
    "# the service\napiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc\nspec:\n  image: ghcr.io/org/my-svc:v1   # CI sets this\n  port: 8080\n  secret1Name: my-svc-db-conn\n"
}

const DB_CLAIM: &str = "apiVersion: database.bizmatters.io/v1alpha1\nkind: PostgresInstance\nmetadata:\n  name: my-svc-db\nspec:\n  size: small\n";

const APP_OBJECTS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-svc-app\nstringData:\n  api_key: s3cr3t-api-key-value\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: my-svc-settings\ndata:\n  LOG_LEVEL: debug\n";

/// A service repository deploying into `ns`, with `claims` under platform/my-svc/overlays/pr.
fn service_repo(ns: &str, postgres: bool, claims: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("ci")).unwrap();
    let deps = if postgres { "[postgres]" } else { "[]" };
    fs::write(
        dir.path().join("ci/config.yaml"),
        format!("service:\n  name: my-svc\n  namespace: {ns}\ndeployment:\n  wait_timeout: 90\ndependencies:\n  internal: {deps}\n"),
    )
    .unwrap();
    let d = dir.path().join("platform/my-svc/overlays/pr");
    for (name, text) in claims {
        let p = d.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    dir
}

/// `kubectl zt deploy ARGS` in `repo` against the test cluster, as users run it: the real
/// kubectl (the oracle) finds the freshly built `kubectl-zt-deploy` first on PATH. Runs off the
/// async runtime, so the controller below keeps working meanwhile.
async fn deploy(cluster: &TestCluster, repo: &Path, args: &[&str], code: i32) -> (String, String) {
    let kubectl = oracles_dir().join("kubectl");
    let bins = Path::new(env!("CARGO_BIN_EXE_kubectl-zt"))
        .parent()
        .unwrap();
    let mut cmd = cli::command(&kubectl, repo, &[]);
    cmd.args(["zt", "deploy"])
        .args(args)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bins.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("KUBECONFIG", cluster.kubeconfig());
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(
        o.status.code(),
        Some(code),
        "kubectl zt deploy {} in {}:\n{err}",
        args.join(" "),
        repo.display()
    );
    (out, err)
}

/// The workload cluster with the claim CRDs, and a fresh namespace name (not created: deploy
/// creates it) for `test`. Needs the kubectl oracle too: deploy runs through `kubectl zt`.
fn setup(test: &str) -> Option<(&'static TestCluster, TestNamespace)> {
    oracle_or_skip("kubectl", test)?;
    let cluster = workload_cluster_or_skip(test, 2)?;
    cluster.install_claim_crds();
    Some((cluster, cluster.unique_namespace(test)))
}

#[tokio::test]
async fn deploy_applies_in_order_and_the_pods_of_the_new_image_run() {
    let Some((cluster, ns)) = setup("deploy_applies_in_order_and_the_pods_of_the_new_image_run")
    else {
        return;
    };
    let ns = ns.name().to_string();
    let repo = service_repo(
        &ns,
        true,
        &[
            ("10-web.yaml", web_claim()),
            ("db/postgres.yaml", DB_CLAIM),
            ("secrets/app.yaml", APP_OBJECTS),
        ],
    );
    let _controller = crossplane(cluster, &ns, Platform::Healthy);
    let (out, err) = deploy(cluster, repo.path(), &["--image", "sha-abc123"], 0).await;
    assert!(
        out.starts_with(&format!(
            "deployed my-svc to namespace {ns}: {NEW} is ready after"
        )),
        "{out}"
    );
    // The order users rely on: the namespace, then Secrets and ConfigMaps, the database claim,
    // the service claim.
    let applied: Vec<&str> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("✓ applied "))
        .collect();
    assert_eq!(
        applied,
        [
            format!("Namespace {ns}"),
            format!("Secret {ns}/my-svc-app"),
            format!("ConfigMap {ns}/my-svc-settings"),
            format!("PostgresInstance {ns}/my-svc-db"),
            format!("WebService {ns}/my-svc"),
        ],
        "{err}"
    );
    assert!(!err.contains("s3cr3t") && !out.contains("s3cr3t"), "{err}");

    let client = cluster.client().await;
    let web = webservices(&client, &ns).get("my-svc").await.unwrap();
    assert_eq!(web.data["spec"]["image"], NEW);
    // Defaulted by the real server from the XRD's schema.
    assert_eq!(web.data["spec"]["size"], "medium");
    let owner = web
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("kubectl-zt"))
        .expect("kubectl-zt manages the claim");
    let owned = serde_json::to_string(&owner.fields_v1).unwrap();
    assert!(owned.contains("f:image"), "{owned}");
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("my-svc-app")
        .await
        .unwrap();
    assert_eq!(
        secret.data.unwrap()["api_key"].0,
        b"s3cr3t-api-key-value".to_vec()
    );

    // The pods of the new image were scheduled onto kwok's nodes and run.
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels("app=my-svc"))
        .await
        .unwrap();
    let running: Vec<&Pod> = pods
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect();
    assert_eq!(running.len(), 2, "{:#?}", pods.items);
    for p in running {
        let spec = p.spec.as_ref().unwrap();
        assert!(
            spec.node_name
                .as_deref()
                .is_some_and(|n| n.starts_with("kwok-node-")),
            "{p:?}"
        );
        assert_eq!(spec.containers[0].image.as_deref(), Some(NEW));
    }
}

#[tokio::test]
async fn a_claim_that_never_becomes_ready_is_diagnosed_by_name_and_condition() {
    let Some((cluster, ns)) =
        setup("a_claim_that_never_becomes_ready_is_diagnosed_by_name_and_condition")
    else {
        return;
    };
    let ns = ns.name().to_string();
    let repo = service_repo(&ns, false, &[("web.yaml", web_claim())]);
    let _controller = crossplane(
        cluster,
        &ns,
        Platform::Stuck("cannot compose: provider-kubernetes is not ready"),
    );
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--timeout", "6s"],
        1,
    )
    .await;
    assert!(
        err.contains("timed out after 6s waiting for the service to become ready"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "WebService {ns}/my-svc: condition Ready is False (reason Creating): cannot compose: provider-kubernetes is not ready"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "Deployment {ns}/my-svc: not created yet (the claim's composition creates it)"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn server_dry_run_is_validated_by_the_real_schema_and_stores_nothing() {
    let Some((cluster, ns)) =
        setup("server_dry_run_is_validated_by_the_real_schema_and_stores_nothing")
    else {
        return;
    };
    let ns_name = ns.name().to_string();
    let repo = service_repo(
        &ns_name,
        false,
        &[("web.yaml", web_claim()), ("db.yaml", DB_CLAIM)],
    );
    let client = cluster.client().await;
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());

    // Into a namespace that does not exist yet: the server validates the Namespace, cannot
    // validate what would go in it, and deploy says so; nothing is created.
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--dry-run=server"],
        0,
    )
    .await;
    assert!(
        err.contains(&format!(
            "warning: namespace {ns_name} does not exist yet, so the server cannot validate the objects in it"
        )),
        "{err}"
    );
    assert!(namespaces.get_opt(&ns_name).await.unwrap().is_none());

    cluster.create_namespace(&ns_name);
    let (out, _) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--dry-run=server"],
        0,
    )
    .await;
    assert!(
        out.starts_with(&format!(
            "server dry run: 3 objects for my-svc in namespace {ns_name} validated; nothing was stored"
        )),
        "{out}"
    );
    assert!(
        webservices(&client, &ns_name)
            .get_opt("my-svc")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        postgres(&client, &ns_name)
            .get_opt("my-svc-db")
            .await
            .unwrap()
            .is_none()
    );

    // A value the XRD's schema refuses is refused by the server, naming the object and field.
    fs::write(
        repo.path().join("platform/my-svc/overlays/pr/db.yaml"),
        DB_CLAIM.replace("size: small", "size: huge"),
    )
    .unwrap();
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--dry-run=server"],
        1,
    )
    .await;
    assert!(
        err.contains(&format!("PostgresInstance {ns_name}/my-svc-db")),
        "{err}"
    );
    assert!(err.contains("spec.size"), "{err}");
    assert!(err.contains("\"huge\""), "{err}");
}

#[tokio::test]
async fn a_field_owned_by_another_manager_is_reported_not_forced() {
    let test = "a_field_owned_by_another_manager_is_reported_not_forced";
    let Some(kubectl) = oracle_or_skip("kubectl", test) else {
        return;
    };
    let Some((cluster, ns)) = setup(test) else {
        return;
    };
    let ns_name = ns.name().to_string();
    cluster.create_namespace(&ns_name);
    let repo = service_repo(&ns_name, false, &[("web.yaml", web_claim())]);
    // Someone else (Argo CD, a person with kubectl) applied the claim with another image.
    let theirs = repo.path().join("theirs.yaml");
    fs::write(
        &theirs,
        web_claim().replace("ghcr.io/org/my-svc:v1", "ghcr.io/org/my-svc:v0"),
    )
    .unwrap();
    let o = std::process::Command::new(&kubectl)
        .args([
            "apply",
            "--server-side",
            "--field-manager",
            "other",
            "-n",
            &ns_name,
            "-f",
        ])
        .arg(&theirs)
        .env("KUBECONFIG", cluster.kubeconfig())
        .output()
        .unwrap();
    assert!(o.status.success(), "kubectl apply: {}", text(&o.stderr));

    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--no-wait"],
        1,
    )
    .await;
    assert!(
        err.contains(&format!(
            "WebService {ns_name}/my-svc: field manager conflict: Apply failed with 1 conflict: conflict with \"other\": .spec.image"
        )),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    let client = cluster.client().await;
    let web = webservices(&client, &ns_name).get("my-svc").await.unwrap();
    assert_eq!(web.data["spec"]["image"], "ghcr.io/org/my-svc:v0");

    deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--no-wait", "--force-conflicts"],
        0,
    )
    .await;
    let web = webservices(&client, &ns_name).get("my-svc").await.unwrap();
    assert_eq!(web.data["spec"]["image"], NEW);
}

#[tokio::test]
async fn a_claim_field_the_schema_does_not_know_is_refused_before_anything_changes() {
    let Some((cluster, ns)) =
        setup("a_claim_field_the_schema_does_not_know_is_refused_before_anything_changes")
    else {
        return;
    };
    let ns = ns.name().to_string();
    // A typo: `prot` for `port`. Pruned silently, the service would run on the default port.
    let typo = web_claim().replace("  port: 8080\n", "  port: 8080\n  prot: 9090\n");
    let repo = service_repo(
        &ns,
        false,
        &[
            ("web.yaml", typo.as_str()),
            ("secrets/app.yaml", APP_OBJECTS),
        ],
    );
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--no-wait"],
        1,
    )
    .await;
    assert!(err.contains(&format!("WebService {ns}/my-svc")), "{err}");
    assert!(
        err.contains("its schema does not declare .spec.prot: a misspelt or misplaced field?"),
        "{err}"
    );
    assert!(
        err.contains(&format!("applied before the failure: Namespace {ns}")),
        "{err}"
    );
    let client = cluster.client().await;
    assert!(
        webservices(&client, &ns)
            .get_opt("my-svc")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Api::<Secret>::namespaced(client, &ns)
            .get_opt("my-svc-app")
            .await
            .unwrap()
            .is_none(),
        "the dry run of every object comes before the first write"
    );
}

#[tokio::test]
async fn claim_crds_derived_from_our_xrds_and_the_platforms_are_accepted_by_the_real_server() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use zt_test_support::claim_crds::{claim_crd, example_xrds, fixture_xrds, shared_xrds};
    let test = "claim_crds_derived_from_our_xrds_and_the_platforms_are_accepted_by_the_real_server";
    let Some(cluster) = zt_test_support::cluster::cluster_or_skip(test) else {
        return;
    };
    let _logs = cluster.logs_on_panic();
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client().await);
    let mut sets = vec![("ours", example_xrds())];
    if let Some(shared) = shared_xrds() {
        assert!(shared.len() >= 6, "{}", shared.len());
        sets.push(("the platform's", shared));
    }
    if let Some(fixtures) = fixture_xrds() {
        // Both commits of the real platform tree; XRDs without claims (composition-internal
        // ones) have no claim CRD.
        let with_claims: Vec<Value> = fixtures
            .into_iter()
            .filter(|(_, x)| x.pointer("/spec/claimNames").is_some())
            .map(|(_, x)| x)
            .collect();
        assert!(with_claims.len() >= 12, "{}", with_claims.len());
        sets.push(("the platform trees'", with_claims));
    }
    for (which, xrds) in sets {
        for xrd in &xrds {
            let crd = claim_crd(xrd).unwrap_or_else(|| panic!("{which}: no claim for {xrd}"));
            let name = crd["metadata"]["name"].as_str().unwrap();
            assert_eq!(
                name,
                format!(
                    "{}.{}",
                    xrd["spec"]["claimNames"]["plural"].as_str().unwrap(),
                    xrd["spec"]["group"].as_str().unwrap()
                )
            );
            // The server checks the schema is structural and every part of the CRD valid.
            api.patch(
                name,
                &PatchParams::apply("zt-test").dry_run().force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap_or_else(|e| panic!("{which} {name}: {e}"));
        }
    }
}

#[tokio::test]
async fn a_claim_version_the_cluster_does_not_serve_stops_before_anything_is_applied() {
    let Some((cluster, ns)) =
        setup("a_claim_version_the_cluster_does_not_serve_stops_before_anything_is_applied")
    else {
        return;
    };
    let ns = ns.name().to_string();
    // The platform serves v1alpha1; a claim written for a version it does not (yet) serve.
    let claim = DB_CLAIM.replace("v1alpha1", "v1beta1");
    let repo = service_repo(
        &ns,
        false,
        &[
            ("web.yaml", web_claim()),
            ("db.yaml", claim.as_str()),
            ("secrets/app.yaml", APP_OBJECTS),
        ],
    );
    let (_, err) = deploy(cluster, repo.path(), &["--image", "sha-abc123"], 1).await;
    assert!(
        err.contains(
            "the cluster does not serve database.bizmatters.io/v1beta1 PostgresInstance ("
        ),
        "{err}"
    );
    assert!(err.contains("db.yaml:1:1)"), "{err}");
    let client = cluster.client().await;
    assert!(
        Api::<k8s_openapi::api::core::v1::Namespace>::all(client)
            .get_opt(&ns)
            .await
            .unwrap()
            .is_none(),
        "nothing is applied, not even the namespace"
    );
}

#[tokio::test]
async fn pods_the_scheduler_cannot_place_are_named_with_its_reason() {
    let Some((cluster, ns)) = setup("pods_the_scheduler_cannot_place_are_named_with_its_reason")
    else {
        return;
    };
    let ns = ns.name().to_string();
    let repo = service_repo(&ns, false, &[("web.yaml", web_claim())]);
    let _controller = crossplane(cluster, &ns, Platform::Unschedulable);
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--timeout", "10s"],
        1,
    )
    .await;
    let line = err
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with(&format!("Deployment {ns}/my-svc: "))
        })
        .unwrap_or_else(|| panic!("no diagnosis of the Deployment: {err}"));
    assert!(line.contains("0 of 2 replicas ready"), "{line}");
    assert!(line.contains("not scheduled (Unschedulable): 0/"), "{line}");
    assert!(
        line.contains("didn't match Pod's node affinity/selector"),
        "{line}"
    );
}

/// The version a wrapper module in tests/oracles pins for `module`.
fn pinned(dir: &str, module: &str) -> String {
    let go_mod = fs::read_to_string(
        zt_test_support::workspace_root()
            .join("tests/oracles")
            .join(dir)
            .join("go.mod"),
    )
    .unwrap();
    go_mod
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            let first = words.next()?;
            let (m, v) = if first == "require" {
                (words.next()?, words.next()?)
            } else {
                (first, words.next()?)
            };
            (m == module).then(|| v.to_string())
        })
        .unwrap_or_else(|| panic!("tests/oracles/{dir}/go.mod does not pin {module}"))
}

#[tokio::test]
async fn the_control_plane_runs_the_versions_the_oracle_modules_pin() {
    let test = "the_control_plane_runs_the_versions_the_oracle_modules_pin";
    let Some(cluster) = zt_test_support::cluster::cluster_or_skip(test) else {
        return;
    };
    let _logs = cluster.logs_on_panic();
    let kubernetes = pinned("control-plane", "k8s.io/kubernetes");
    let info = cluster.client().await.apiserver_version().await.unwrap();
    assert_eq!(info.git_version, kubernetes);
    assert_eq!(info.git_tree_state, "clean");
    let version = |bin: &str, arg: &str| {
        let o = std::process::Command::new(oracles_dir().join(bin))
            .arg(arg)
            .output()
            .unwrap();
        text(&o.stdout) + &text(&o.stderr)
    };
    for bin in ["kube-controller-manager", "kube-scheduler"] {
        assert_eq!(
            version(bin, "--version").trim(),
            format!("Kubernetes {kubernetes}"),
            "{bin}"
        );
    }
    let etcd = pinned("etcd", "go.etcd.io/etcd/server/v3");
    assert!(
        version("etcd", "--version")
            .starts_with(&format!("etcd Version: {}\n", etcd.trim_start_matches('v'))),
        "{etcd}"
    );
    let kwok = pinned("kwok", "sigs.k8s.io/kwok");
    assert!(
        version("kwok", "--version").starts_with(&format!("kwok version {kwok} ")),
        "{kwok}"
    );
}

/// The platform's own example claims (../shared, the commit its XRDs come from), each deployed
/// with a new image as a server dry run: our image rewrite and the claim CRDs derived from the
/// platform's XRDs, judged by the real API server.
#[tokio::test]
async fn the_platforms_example_claims_with_a_new_image_pass_the_real_servers_validation() {
    let test = "the_platforms_example_claims_with_a_new_image_pass_the_real_servers_validation";
    let Some(shared) = zt_test_support::shared_dir() else {
        eprintln!("skipping {test}: ../shared not present");
        return;
    };
    let Some((cluster, _ns)) = setup(test) else {
        return;
    };
    let apis = shared.join("fixtures/zerotouch-platform@3bbce4b/platform/apis");
    let mut seen = 0;
    let mut created = std::collections::BTreeSet::new();
    for api in ["webservice", "event-driven-service"] {
        let mut files: Vec<_> = fs::read_dir(apis.join(api).join("examples"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let source = fs::read_to_string(&file).unwrap();
            let docs: Vec<Value> = zt::yaml::from_str_multi(&source).unwrap();
            let claim = docs
                .iter()
                .find(|d| d["kind"] == "WebService" || d["kind"] == "EventDrivenService")
                .unwrap_or_else(|| panic!("{}: no service claim", file.display()));
            let name = claim["metadata"]["name"].as_str().unwrap();
            let ns = claim["metadata"]["namespace"].as_str().unwrap();
            if created.insert(ns.to_string()) && ns != "default" {
                cluster.create_namespace(ns);
            }
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("claim.yaml"), &source).unwrap();
            let (out, _) = deploy(
                cluster,
                dir.path(),
                &[
                    "--claims",
                    ".",
                    "--claim",
                    name,
                    "--service",
                    name,
                    "--namespace",
                    ns,
                    "--image",
                    "sha-abc123",
                    "--dry-run=server",
                ],
                0,
            )
            .await;
            assert!(
                out.starts_with("server dry run: "),
                "{}: {out}",
                file.display()
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 10);
}

// ---- platform dependencies: Argo CD Applications ----

/// Argo CD's Applications in namespace argocd (created when missing).
async fn applications(cluster: &'static TestCluster) -> Api<DynamicObject> {
    let client = cluster.client().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": "argocd"}})).unwrap();
    let _ = namespaces.create(&Default::default(), &ns).await;
    let ar = ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    };
    Api::namespaced_with(client, "argocd", &ar)
}

/// A platform Application as Argo CD reports it: `health`, `sync`.
async fn platform_app(apps: &Api<DynamicObject>, name: &str, health: &str, message: &str) {
    let app = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://example.test/platform.git", "path": name, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
        "status": {"sync": {"status": "OutOfSync"}, "health": {"status": health, "message": message}},
    });
    apps.create(&Default::default(), &serde_json::from_value(app).unwrap())
        .await
        .unwrap();
}

/// The service repository of `ns` with `dependencies.platform` listing `apps`.
fn depending_on(ns: &str, apps: &[&str]) -> tempfile::TempDir {
    let repo = service_repo(ns, false, &[("10-web.yaml", web_claim())]);
    fs::write(
        repo.path().join("ci/config.yaml"),
        format!(
            "service:\n  name: my-svc\n  namespace: {ns}\ndependencies:\n  platform: [{}]\n",
            apps.join(", ")
        ),
    )
    .unwrap();
    repo
}

#[tokio::test]
async fn platform_dependencies_are_synced_when_asked_and_waited_for_before_anything_is_applied() {
    let test = "platform_dependencies_are_synced_when_asked";
    let Some((cluster, ns)) = setup(test) else {
        return;
    };
    if cluster.install_application_crd(test).is_none() {
        return;
    }
    let ns = ns.name().to_string();
    let app = format!("nats-{ns}");
    let apps = applications(cluster).await;
    platform_app(&apps, &app, "Missing", "").await;
    // Playing Argo CD: a sync operation asked for makes the Application Synced and Healthy.
    let argocd = {
        let (apps, app) = (apps.clone(), app.clone());
        AbortOnDrop(tokio::spawn(async move {
            loop {
                let a = apps.get(&app).await.unwrap();
                if let Some(op) = a.data.get("operation") {
                    assert_eq!(op["sync"]["prune"], true, "{op}");
                    assert_eq!(op["sync"]["syncOptions"][0], "ServerSideApply=true", "{op}");
                    let done = json!({"operation": null, "status": {
                        "sync": {"status": "Synced"}, "health": {"status": "Healthy"},
                        "operationState": {"operation": op, "phase": "Succeeded",
                            "startedAt": "2026-12-07T00:00:00Z", "message": "successfully synced"}}});
                    apps.patch(&app, &PatchParams::default(), &Patch::Merge(&done))
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }))
    };
    let _controller = crossplane(cluster, &ns, Platform::Healthy);
    let repo = depending_on(&ns, &[&app]);
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &[
            "--image",
            "sha-abc123",
            "--sync-platform",
            "--timeout",
            "60s",
        ],
        0,
    )
    .await;
    drop(argocd);
    let asked = err
        .find(&format!("asked Argo CD to sync Application argocd/{app}"))
        .expect(&err);
    let ready = err
        .find(&format!("Application argocd/{app} is ready"))
        .expect(&err);
    let applied = err.find("✓ applied").expect(&err);
    assert!(
        asked < ready && ready < applied,
        "sync, wait, then apply:\n{err}"
    );
}

#[tokio::test]
async fn a_platform_dependency_that_stays_unhealthy_is_diagnosed_and_nothing_is_applied() {
    let test = "a_platform_dependency_that_stays_unhealthy";
    let Some((cluster, ns)) = setup(test) else {
        return;
    };
    if cluster.install_application_crd(test).is_none() {
        return;
    }
    let ns = ns.name().to_string();
    let app = format!("keda-{ns}");
    let apps = applications(cluster).await;
    platform_app(&apps, &app, "Degraded", "keda-operator: CrashLoopBackOff").await;
    let repo = depending_on(&ns, &[&app]);
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--timeout", "3s"],
        1,
    )
    .await;
    for want in [
        "timed out after 3s".to_string(),
        format!("Application argocd/{app}: health Degraded, sync OutOfSync"),
        "keda-operator: CrashLoopBackOff".to_string(),
    ] {
        assert!(err.contains(&want), "`{want}` missing:\n{err}");
    }
    let client = cluster.client().await;
    assert!(
        webservices(&client, &ns)
            .get_opt("my-svc")
            .await
            .unwrap()
            .is_none(),
        "nothing is applied while the platform is not ready"
    );
}

// ---- health and liveness endpoints, through the API server's service proxy ----

/// The service's HTTP server, run in a network namespace of the test's own (the API server
/// refuses to proxy to loopback addresses): `/ok...` answers 200 `ok`; anything else 503 with
/// the body given as its third argument.
const HEALTH_SERVER: &str = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path.startswith("/ok")
        body = b"ok" if ok else sys.argv[3].encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"#;

/// The port the server listens on in its namespace.
const SERVER_PORT: i32 = 8080;

/// A service repository whose contract turns the health checks on, asking `health` and
/// `liveness`, with `internal` as dependencies.internal; its claims hold a Secret whose value
/// must never be shown.
fn health_repo(ns: &str, health: &str, liveness: &str, internal: &str) -> tempfile::TempDir {
    let repo = service_repo(
        ns,
        false,
        &[
            ("10-web.yaml", web_claim()),
            ("secrets/app.yaml", APP_OBJECTS),
        ],
    );
    fs::write(
        repo.path().join("ci/config.yaml"),
        format!(
            "service:\n  name: my-svc\n  namespace: {ns}\ndeployment:\n  health_endpoint: {health}\n  liveness_endpoint: {liveness}\ndependencies:\n  internal: {internal}\ndiagnostics:\n  post_deploy:\n    test_health_endpoint: true\n"
        ),
    )
    .unwrap();
    repo
}

/// The Service `my-svc` in `ns` (no selector: the test owns its endpoints) with a port named
/// `http`, and its endpoints: `addr`:8080. The API server proxies only to an endpoint address
/// that is the IP of the Pod its `targetRef` names, so a Pod stands for the server: one no
/// scheduler picks up (no kwok node takes it, none rewrites its status), with `addr` as its IP.
async fn service_at(cluster: &TestCluster, ns: &str, addr: std::net::Ipv4Addr) {
    use k8s_openapi::api::core::v1::{Endpoints, Service};
    let client = cluster.client().await;
    let ssa = PatchParams::apply("zt-test").force();
    let pods = Api::<Pod>::namespaced(client.clone(), ns);
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "health-server", "namespace": ns},
        "spec": {"schedulerName": "zt-test-nobody",
                 "containers": [{"name": "server", "image": "python:3"}]}});
    pods.patch("health-server", &ssa, &Patch::Apply(&pod))
        .await
        .unwrap();
    let status = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "health-server", "namespace": ns},
        "status": {"podIP": addr.to_string(), "podIPs": [{"ip": addr.to_string()}]}});
    pods.patch_status("health-server", &ssa, &Patch::Apply(&status))
        .await
        .unwrap();
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "my-svc", "namespace": ns},
        "spec": {"ports": [{"name": "metrics", "port": 9090},
                           {"name": "http", "port": 80, "targetPort": SERVER_PORT}]}});
    Api::<Service>::namespaced(client.clone(), ns)
        .patch("my-svc", &ssa, &Patch::Apply(&svc))
        .await
        .unwrap();
    let eps = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "my-svc", "namespace": ns},
        "subsets": [{"addresses": [{"ip": addr.to_string(),
                "targetRef": {"kind": "Pod", "name": "health-server", "namespace": ns}}],
                     "ports": [{"name": "http", "port": SERVER_PORT},
                               {"name": "metrics", "port": 9090}]}]});
    Api::<Endpoints>::namespaced(client, ns)
        .patch("my-svc", &ssa, &Patch::Apply(&eps))
        .await
        .unwrap();
}

/// The cluster, the test's namespace (created) and a network namespace; with `serve`, the
/// health server runs in it, its 503 answers carrying `fail_body`.
fn health_setup(
    test: &str,
    serve: Option<&str>,
) -> Option<(&'static TestCluster, TestNamespace, NetNs)> {
    let (cluster, ns) = setup(test)?;
    let mut net = NetNs::new_or_skip(test)?;
    if let Some(fail_body) = serve {
        let addr = net.addr.to_string();
        let port = SERVER_PORT.to_string();
        net.spawn("python3", &["-c", HEALTH_SERVER, &addr, &port, fail_body])
            .expect("python3 runs the health server");
    }
    cluster.create_namespace(ns.name());
    Some((cluster, ns, net))
}

#[tokio::test]
async fn health_and_liveness_endpoints_answering_200_pass_and_the_summary_says_so() {
    let test = "health_and_liveness_endpoints_answering_200_pass";
    let Some((cluster, ns, net)) = health_setup(test, Some("unused")) else {
        return;
    };
    let ns = ns.name().to_string();
    service_at(cluster, &ns, net.addr).await;
    let repo = health_repo(&ns, "/ok/ready", "/ok/live", "[redis, nats-streams]");
    let _controller = crossplane(cluster, &ns, Platform::Healthy);
    let (out, err) = deploy(cluster, repo.path(), &["--image", "sha-abc123"], 0).await;
    assert!(
        out.contains("health checks passed through the API server's service proxy: GET /ok/ready answered 200, GET /ok/live answered 200"),
        "{out}\n{err}"
    );
    assert!(
        err.contains(&format!(
            "✓ GET /ok/live on Service {ns}/my-svc answered 200"
        )),
        "{err}"
    );
    // Every entry of dependencies.internal is either checked or said not to be.
    for want in [
        "warning: dependencies.internal lists `redis`, but the claims define no DragonflyInstance my-svc-cache: not checked",
        "warning: dependencies.internal lists `nats-streams`, which deploy cannot check",
    ] {
        assert!(err.contains(want), "`{want}` missing:\n{err}");
    }
}

#[tokio::test]
async fn a_liveness_endpoint_answering_503_fails_the_deploy_naming_it_and_its_answer() {
    let test = "a_liveness_endpoint_answering_503_fails_the_deploy";
    let body = "database not ready; api_key=s3cr3t-api-key-value";
    let Some((cluster, ns, net)) = health_setup(test, Some(body)) else {
        return;
    };
    let ns = ns.name().to_string();
    service_at(cluster, &ns, net.addr).await;
    let repo = health_repo(&ns, "/ok/ready", "/health", "[]");
    let _controller = crossplane(cluster, &ns, Platform::Healthy);
    let (out, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--timeout", "30s"],
        1,
    )
    .await;
    assert!(
        err.contains("the service's health checks did not pass within 30s"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "  GET /health on Service {ns}/my-svc: answered 503: database not ready; api_key=<redacted>"
        )),
        "{err}"
    );
    // The endpoint that answered is not in the diagnosis.
    assert!(
        err.contains(&format!(
            "✓ GET /ok/ready on Service {ns}/my-svc answered 200"
        )),
        "{err}"
    );
    assert!(
        !err.contains(&format!("  GET /ok/ready on Service {ns}")),
        "{err}"
    );
    assert!(!err.contains("s3cr3t") && !out.contains("s3cr3t"), "{err}");
}

#[tokio::test]
async fn nothing_listening_behind_the_service_is_a_clear_timeout_and_skip_health_skips_it() {
    let test = "nothing_listening_behind_the_service_is_a_clear_timeout";
    let Some((cluster, ns, net)) = health_setup(test, None) else {
        return;
    };
    let ns = ns.name().to_string();
    service_at(cluster, &ns, net.addr).await;
    let repo = health_repo(&ns, "/ready", "/ready", "[postgres]");
    let _controller = crossplane(cluster, &ns, Platform::Healthy);
    // (postgres: the stand-in controller needs the claim to make the database Ready.)
    fs::write(
        repo.path().join("platform/my-svc/overlays/pr/db.yaml"),
        DB_CLAIM,
    )
    .unwrap();
    let (_, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--timeout", "30s"],
        1,
    )
    .await;
    assert!(
        err.contains("the service's health checks did not pass within 30s"),
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("  GET /ready on Service {ns}/my-svc: ")))
        .unwrap_or_else(|| panic!("no diagnosis for GET /ready:\n{err}"));
    assert!(
        line.contains("no answer from the service: the API server could not reach it (503)")
            && line.contains(&format!("{}:{SERVER_PORT}", net.addr)),
        "{line}"
    );
    // One request for a path that is both the health and the liveness endpoint.
    assert_eq!(err.matches("  GET /ready on Service").count(), 1, "{err}");
    assert!(!err.contains("not checked"), "postgres is checked:\n{err}");

    let (out, err) = deploy(
        cluster,
        repo.path(),
        &["--image", "sha-abc123", "--timeout", "30s", "--skip-health"],
        0,
    )
    .await;
    assert!(
        !out.contains("health checks") && !err.contains("GET /ready"),
        "{out}\n{err}"
    );
}
