//! The production bootstrap's Kubernetes stages against a real control plane
//! (tests/support/src/cluster.rs: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
//! v1.34 and kwok, built by `make oracles`), with Argo CD's real install manifest (v3.2.11, from
//! its Go module in the module cache). The Talos nodes are the in-process Talos doubles; the
//! control plane hands out the real cluster's kubeconfig, and the cluster's nodes are kwok nodes
//! of the same names. A small stand-in for Argo CD's application controller reports the root
//! Application Synced and Healthy.
//!
//! Skips with one line when the oracles are not built (`ZT_REQUIRE_ORACLES=1`: a failure).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::json;
use zt::bootstrap::cache::StageCache;
use zt::bootstrap::production::{self, MaintenanceTrust, ProductionInputs};
use zt::bootstrap::{Ctx, Timing, run};
use zt::talos::api::{ClientOptions, TalosEndpoint};
use zt_test_support::cluster::{TestCluster, install_crds, workload_cluster_or_skip};
use zt_test_support::example::{PLATFORM_URL, example_production_dev};
use zt_test_support::oracles::oracle_or_skip;
use zt_test_support::progress::{EXAMPLE_PRODUCTION_STAGES, Recorder, all_done};
use zt_test_support::talos_api::TalosTestServer;
use zt_test_support::workspace_root;

const NODES: [&str; 3] = ["cp01-main", "worker01", "worker02"];

/// Argo CD's install.yaml from its module, put into namespace argocd by the real
/// `kubectl kustomize` (as `kubectl apply -n argocd -f install.yaml` would): the pre-built
/// manifest `--argocd-install` takes.
fn argocd_install(kubectl: &Path, module_dir_file: &Path, dir: &Path) -> PathBuf {
    let module = std::fs::read_to_string(module_dir_file).unwrap();
    let install = Path::new(module.trim()).join("manifests/install.yaml");
    let k = dir.join("argocd-kustomization");
    std::fs::create_dir_all(&k).unwrap();
    std::fs::write(
        k.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: argocd\nresources:\n- namespace.yaml\n- {}\n",
            install.display()
        ),
    )
    .unwrap();
    std::fs::write(
        k.join("namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n",
    )
    .unwrap();
    let o = std::process::Command::new(kubectl)
        .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(&k)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = dir.join("argocd-install.yaml");
    std::fs::write(&out, o.stdout).unwrap();
    out
}

/// The platform installs External Secrets Operator before the tenants' ExternalSecrets are
/// applied; its CRD here is a stand-in of ours (any content accepted), not ESO's schema.
async fn external_secrets_crd(cluster: &TestCluster) {
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "externalsecrets.external-secrets.io"},
        "spec": {"group": "external-secrets.io", "scope": "Namespaced",
            "names": {"kind": "ExternalSecret", "plural": "externalsecrets", "singular": "externalsecret"},
            "versions": [
                {"name": "v1", "served": true, "storage": true,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v1beta1", "served": true, "storage": false,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
            ]},
    });
    install_crds(cluster.kubeconfig(), vec![crd]).await.unwrap();
}

/// Plays Argo CD's application controller for the root Application: Synced and Healthy once it
/// exists.
fn argocd_controller(cluster: &'static TestCluster) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = cluster.client().await;
        let ar = ApiResource {
            group: "argoproj.io".into(),
            version: "v1alpha1".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Application".into(),
            plural: "applications".into(),
        };
        let apps: Api<DynamicObject> = Api::namespaced_with(client, "argocd", &ar);
        loop {
            if let Ok(Some(app)) = apps.get_opt(zt::bootstrap::platform::ROOT_APP).await
                && app.data.pointer("/status/health/status").is_none()
            {
                let status = json!({"status": {"health": {"status": "Healthy"},
                    "sync": {"status": "Synced", "revision": "0000000"}}});
                apps.patch(
                    zt::bootstrap::platform::ROOT_APP,
                    &PatchParams::default(),
                    &Patch::Merge(&status),
                )
                .await
                .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

fn timing() -> Timing {
    Timing {
        talos: Duration::from_secs(10),
        kubernetes: Duration::from_secs(60),
        argocd: Duration::from_secs(120),
        platform: Duration::from_secs(30),
        kind: Duration::from_secs(10),
        poll_initial: Duration::from_millis(50),
        poll_max: Duration::from_millis(500),
    }
}

#[tokio::test]
async fn production_bootstrap_installs_argo_cd_and_the_platform_on_a_real_cluster_and_resumes_applying_nothing()
 {
    let test = "production_bootstrap_installs_argo_cd_and_the_platform_on_a_real_cluster";
    let Some(kubectl) = oracle_or_skip("kubectl", test) else {
        return;
    };
    let Some(argocd_module) = oracle_or_skip("argocd-module-dir", test) else {
        return;
    };
    let Some(cluster) = workload_cluster_or_skip(test, 0) else {
        return;
    };
    let _logs = cluster.logs_on_panic();
    cluster.add_nodes(&NODES);
    external_secrets_crd(cluster).await;
    let _argocd = argocd_controller(cluster);

    let bundle = zt::examples::bundle().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = std::fs::read(cluster.kubeconfig()).unwrap();
    let mut talos = BTreeMap::new();
    for name in NODES {
        let n = TalosTestServer::maintenance_then_configured(&bundle).await;
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
        talos.insert(name.to_string(), n);
    }
    let install = argocd_install(&kubectl, &argocd_module, dir.path());
    let values =
        zt::tenant::load_env(&workspace_root().join("examples/tenant-repo"), "dev").unwrap();
    let r = example_production_dev(&bundle, PLATFORM_URL);
    let plan = || {
        production::plan(ProductionInputs {
            values: &values,
            rendered: &r,
            platform_repo: None,
            argocd_install: Some(install.clone()),
            maintenance: MaintenanceTrust::Unverified,
            endpoints: talos
                .iter()
                .map(|(name, n)| (name.clone(), n.endpoint().parse::<TalosEndpoint>().unwrap()))
                .collect(),
            client_options: ClientOptions {
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(10),
            },
            bare_metal: None,
        })
        .unwrap()
    };
    let merged = dir.path().join("home/.kube/config");
    let run_once = |fresh: bool| {
        let plan = plan();
        let merged = merged.clone();
        let cache_path = dir.path().join("cache.json");
        async move {
            let rec = Arc::new(Recorder::default());
            let mut ctx = Ctx::new(timing(), rec.clone(), merged, None);
            let mut cache = StageCache::open(&cache_path, &plan.fingerprint(), fresh).unwrap();
            let r = run(&plan, &mut ctx, &mut cache, std::future::pending()).await;
            (r, rec)
        }
    };

    let (result, rec) = run_once(false).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{}", rec.all()));
    assert!(summary.cached.is_empty());
    assert_eq!(
        rec.finished(),
        all_done(EXAMPLE_PRODUCTION_STAGES),
        "{}",
        rec.all()
    );
    // The kubeconfig the control plane handed out was merged and reaches the real server.
    let text = std::fs::read_to_string(&merged).unwrap();
    assert!(text.contains(cluster.url()), "{text}");

    // What the real server now holds.
    let client = cluster.client().await;
    let get = |api_version: &str, kind: &str, plural: &str, ns: Option<&str>, name: &str| {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let ar = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = match ns {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        let name = name.to_string();
        async move { api.get(&name).await.unwrap() }
    };
    let root = get(
        "argoproj.io/v1alpha1",
        "Application",
        "applications",
        Some("argocd"),
        "platform-bootstrap",
    )
    .await;
    assert_eq!(
        root.data["spec"]["source"]["repoURL"],
        "https://github.com/zerotouch-example/zerotouch-platform.git"
    );
    let repo_server = get(
        "apps/v1",
        "Deployment",
        "deployments",
        Some("argocd"),
        "argocd-repo-server",
    )
    .await;
    assert!(
        repo_server.data["status"]["readyReplicas"].as_i64() >= Some(1),
        "{:?}",
        repo_server.data["status"]
    );
    let watched = [
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            None,
            "applications.argoproj.io",
        ),
        (
            "v1",
            "Secret",
            "secrets",
            Some("argocd"),
            "repo-credentials",
        ),
        (
            "v1",
            "Secret",
            "secrets",
            Some("external-secrets"),
            "aws-access-token",
        ),
        (
            "argoproj.io/v1alpha1",
            "Application",
            "applications",
            Some("argocd"),
            "identity-service",
        ),
        (
            "external-secrets.io/v1",
            "ExternalSecret",
            "externalsecrets",
            Some("argocd"),
            "repo-catalog",
        ),
    ];
    let mut versions = Vec::new();
    for (av, kind, plural, ns, name) in watched {
        let o = get(av, kind, plural, ns, name).await;
        versions.push(o.metadata.resource_version.unwrap());
    }

    // A resumed run: every finished stage is skipped, nothing is applied again, no node is
    // configured again; the waits look again and pass.
    let applied_before: Vec<usize> = talos.values().map(|n| n.state().applied.len()).collect();
    let (result, rec) = run_once(false).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{}", rec.all()));
    for stage in [
        "argocd-install",
        "secrets",
        "root-app",
        "tenants",
        "kubeconfig",
    ] {
        assert!(
            summary.cached.contains(&stage.to_string()),
            "{stage}: {:?}",
            summary.cached
        );
    }
    assert!(!rec.all().contains(": applied "), "{}", rec.all());
    let applied_after: Vec<usize> = talos.values().map(|n| n.state().applied.len()).collect();
    assert_eq!(applied_before, applied_after);
    for ((av, kind, plural, ns, name), before) in watched.into_iter().zip(versions) {
        let o = get(av, kind, plural, ns, name).await;
        assert_eq!(
            o.metadata.resource_version.unwrap(),
            before,
            "{kind} {name} was written again"
        );
    }
}
