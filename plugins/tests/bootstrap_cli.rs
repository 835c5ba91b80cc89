//! `kubectl zt bootstrap` as users run it: the plan of a dry run through the real kubectl, and a
//! whole production bootstrap through the plugin binary against the Talos and Kubernetes test
//! doubles.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use zt_test_support::cli::{self, text};
use zt_test_support::preview::{cluster_api, platform_syncs};
use zt_test_support::talos_api::TalosTestServer;
use zt_test_support::workspace_root;

const CREDENTIALS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_BOOTSTRAPTOKEN"),
    ("TENANTS_REPO_NAME", "zerotouch-tenants"),
    ("AWS_ACCESS_KEY_ID", "AKIABOOTSTRAP"),
    ("AWS_SECRET_ACCESS_KEY", "bootstrap-aws-secret"),
];

/// `kubectl zt` (or the plugin itself without kubectl) from the workspace, with its own
/// `HOME`, no kubeconfig and the fake credentials.
fn zt(home: &Path) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    let path = std::env::var("PATH").unwrap_or_default();
    let mut c = cli::plugin(bin, &workspace_root(), CREDENTIALS, &path);
    c.env("HOME", home).env_remove("KUBECONFIG");
    c
}

const BASE: &[&str] = &[
    "bootstrap",
    "dev",
    "--tenant-repo",
    "examples/tenant-repo",
    "--secrets",
    "examples/example-secrets.yaml",
    "--platform-repo",
    "examples/platform-repo",
];

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache.json");
    let mut args: Vec<&str> = BASE.to_vec();
    args.extend(["--dry-run", "--cache", cache.to_str().unwrap()]);
    let o: Output = zt(home.path()).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let plan = text(&o.stdout);
    for want in [
        "bootstrap plan (production environment dev (cluster zerotouch-dev-01)), 19 stages:",
        "  2. talos-apply/cp01-main",
        "ApplyConfiguration mode=AUTO to 203.0.113.10:50000: TLS without a client certificate",
        "payload: talos/cp01-main.yaml",
        "holds keys, not shown",
        "  4. etcd-bootstrap",
        "server-side apply Secret argocd/repo-credentials",
        " 17. application-synced/platform-bootstrap",
        " 19. platform-gates",
        "dry run: nothing was sent, nothing was written",
    ] {
        assert!(plan.contains(want), "`{want}` missing from:\n{plan}");
    }
    let bundle = zt::examples::bundle().unwrap();
    for secret in [
        bundle.trustd_info.token.expose(),
        "ghp_BOOTSTRAPTOKEN",
        "bootstrap-aws-secret",
    ] {
        assert!(!plan.contains(secret) && !text(&o.stderr).contains(secret));
    }
    assert!(!cache.exists(), "a dry run writes no stage cache");
    assert!(
        !home.path().join(".kube").exists(),
        "a dry run writes no kubeconfig"
    );
}

#[test]
fn bad_flags_and_missing_inputs_are_clear() {
    let home = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = BASE.to_vec();
        args.extend(extra);
        zt(home.path()).args(&args).output().unwrap()
    };
    let o = run(&["--dry-run", "--talos-endpoint", "nosuch=127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no node `nosuch` in environment dev"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&["--dry-run", "--cert-fingerprint", "not-a-fingerprint"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("--cert-fingerprint"),
        "{}",
        text(&o.stderr)
    );
    let o = zt(home.path())
        .args([
            "bootstrap",
            "dev",
            "--tenant-repo",
            "examples/tenant-repo",
            "--secrets",
            "examples/example-secrets.yaml",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("--platform-repo"),
        "installing Argo CD needs the platform repo: {}",
        text(&o.stderr)
    );
}

#[tokio::test]
async fn a_production_bootstrap_through_the_plugin() {
    let bundle = zt::examples::bundle().unwrap();
    let home = tempfile::tempdir().unwrap();
    let api = cluster_api(&[("cp01-main", true), ("worker01", true), ("worker02", true)]);
    platform_syncs(&api, Duration::from_millis(10));
    let kubeconfig = std::fs::read(api.write_kubeconfig(home.path())).unwrap();
    let mut nodes = Vec::new();
    let mut endpoint_args = Vec::new();
    for name in ["cp01-main", "worker01", "worker02"] {
        let n = TalosTestServer::maintenance_then_configured(&bundle).await;
        n.state().kubeconfig = kubeconfig.clone();
        n.state().machine_type = if name == "cp01-main" {
            "controlplane"
        } else {
            "worker"
        }
        .into();
        endpoint_args.push(format!("{name}={}", n.endpoint()));
        nodes.push(n);
    }
    let target = home.path().join("cluster-kubeconfig");
    let cache = home.path().join("cache.json");
    let mut args: Vec<String> = BASE.iter().map(|s| s.to_string()).collect();
    args.extend([
        "--kubeconfig".into(),
        target.display().to_string(),
        "--cache".into(),
        cache.display().to_string(),
        "--timeout".into(),
        "5s".into(),
        // The gates need a real platform (External Secrets, the XRDs); this run is about Talos
        // and Argo CD's install, against the test doubles.
        "--no-gates".into(),
        "--node-timeout".into(),
        "5s".into(),
    ]);
    for e in &endpoint_args {
        args.extend(["--talos-endpoint".into(), e.clone()]);
    }
    // The plugin runs in another process while this runtime serves the Talos nodes.
    let run = |args: Vec<String>| {
        let home_path = home.path().to_path_buf();
        tokio::task::spawn_blocking(move || zt(&home_path).args(&args).output().unwrap())
    };

    // Neither pins nor --insecure-skip-verify: the machine configs hold the cluster's CA keys,
    // so nothing is sent; the fingerprint the node presented is shown, to compare and pin.
    let o = run(args.clone()).await.unwrap();
    let err = text(&o.stderr);
    let cp_fingerprint = nodes[0].maintenance_fingerprint().unwrap().to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not sending talos/cp01-main.yaml")
            && err.contains(&format!("--cert-fingerprint {cp_fingerprint}")),
        "{err}"
    );
    assert!(nodes.iter().all(|n| n.state().applied.is_empty()));

    // Pinned to what each node's console shows: applied.
    for n in &nodes {
        let pin = n.maintenance_fingerprint().unwrap().to_string();
        args.extend(["--cert-fingerprint".into(), pin]);
    }
    let o = run(args).await.unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert_eq!(nodes[0].state().applied.len(), 1);
    assert!(out.contains("bootstrap complete: 18 stages done"), "{out}");
    for line in [
        "✓ talos-apply/cp01-main",
        "✓ etcd-bootstrap",
        "✓ kubeconfig",
        "✓ application-synced/platform-bootstrap",
        "✓ tenants",
    ] {
        assert!(err.contains(line), "{line} missing:\n{err}");
    }
    assert!(!err.contains("ghp_BOOTSTRAPTOKEN") && !out.contains("ghp_BOOTSTRAPTOKEN"));
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains(&api.url())
    );
    assert!(nodes[0].state().bootstrapped);
    assert!(api.get("Application", "argocd", "billing").is_some());
}
