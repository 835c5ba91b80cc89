//! `kubectl zt ci` through kubectl against the real control plane (tests/support/src/
//! cluster.rs): the deploy and tests stages of a service's CI, with the stand-in for Crossplane
//! (tests/support/src/crossplane.rs) and kwok running the pods and the test Jobs. The preview
//! platform stages need Kind and Docker, which cannot run a cluster here; their plan is checked
//! in `--dry-run`.

use std::fs;
use std::path::Path;

use zt_test_support::cli::{self, text};
use zt_test_support::cluster::{FAILING_TEST_IMAGE, TestCluster, workload_cluster_or_skip};
use zt_test_support::crossplane::{Platform, crossplane};
use zt_test_support::git::checkout_of;
use zt_test_support::oracles::oracle_or_skip;

const WEB_CLAIM: &str = "apiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc\nspec:\n  image: ghcr.io/org/my-svc:v1\n  port: 8080\n";

/// A service repository deploying into `ns`: its claim, and tests that run `pytest`.
fn service_repo(ns: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("ci")).unwrap();
    fs::write(
        dir.path().join("ci/config.yaml"),
        format!("service:\n  name: my-svc\n  namespace: {ns}\ndeployment:\n  wait_timeout: 60\ntest:\n  timeout: 60\n  command: [pytest]\nenv:\n  API_TOKEN: \"tok-never-printed-77\"\n"),
    )
    .unwrap();
    let claims = dir.path().join("platform/my-svc/overlays/pr");
    fs::create_dir_all(&claims).unwrap();
    fs::write(claims.join("web.yaml"), WEB_CLAIM).unwrap();
    dir
}

/// `kubectl zt ci ARGS` in `repo`, through the real kubectl, with `summary` as
/// GITHUB_STEP_SUMMARY.
async fn ci(
    cluster: &TestCluster,
    repo: &Path,
    summary: &Path,
    args: &[&str],
    code: i32,
) -> (String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    let mut cmd = cli::oracle_kubectl_zt(bin, repo, cluster.kubeconfig());
    cmd.arg("ci").args(args).env("GITHUB_STEP_SUMMARY", summary);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        !out.contains("tok-never-printed-77") && !err.contains("tok-never-printed-77"),
        "a secret of env reached the output:\n{out}\n{err}"
    );
    (out, err)
}

#[tokio::test]
async fn failing_tests_fail_the_run_and_a_rerun_resumes_after_the_deploy() {
    let test = "ci_cluster::resume";
    if oracle_or_skip("kubectl", test).is_none() {
        return;
    }
    let Some(cluster) = workload_cluster_or_skip(test, 2) else {
        return;
    };
    cluster.install_claim_crds();
    let ns = cluster.unique_namespace(test);
    let ns = ns.name().to_string();
    let _controller = crossplane(cluster, &ns, Platform::Healthy);
    let repo = service_repo(&ns);
    let summary = repo.path().join("step-summary.md");

    // The image the test Jobs run fails (kwok ends their pods with exit code 1).
    let args = ["--image", FAILING_TEST_IMAGE, "--claim", "my-svc"];
    let (_, err) = ci(cluster, repo.path(), &summary, &args, 1).await;
    assert!(err.contains("✓ deploy ("), "{err}");
    assert!(err.contains("✗ tests ("), "{err}");
    assert!(err.contains("rerun the same command to resume"), "{err}");
    let table = fs::read_to_string(&summary).unwrap();
    assert!(table.contains(": failed\n"), "{table}");
    assert!(table.contains("| `deploy` | ✓ done |"), "{table}");
    assert!(table.contains("| `tests` | ✗ tests Job"), "{table}");

    // The rerun skips the deploy it already did and runs the tests again.
    let (_, err) = ci(cluster, repo.path(), &summary, &args, 1).await;
    assert!(err.contains("↷ deploy (done in an earlier run)"), "{err}");
    assert!(err.contains("✗ tests ("), "{err}");

    // A passing image: a new plan (the image changed), deployed and tested.
    let args = [
        "--image",
        "registry.test/zt/my-svc:sha-abc123",
        "--claim",
        "my-svc",
    ];
    let (out, err) = ci(cluster, repo.path(), &summary, &args, 0).await;
    assert!(
        err.contains("✓ deploy (") && err.contains("✓ tests ("),
        "{err}"
    );
    assert!(out.contains("ci passed: 2 stages done"), "{out}");
    let table = fs::read_to_string(&summary).unwrap();
    assert!(table.ends_with("| `tests` | ✓ done |\n"), "{table}");
}

#[test]
fn the_plan_with_a_platform_repo_brings_up_the_preview_first() {
    let repo = service_repo("team-a");
    let platform = checkout_of(&zt_test_support::workspace_root().join("examples/platform-repo"));
    let bin = env!("CARGO_BIN_EXE_kubectl-zt");
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIACITEST"),
        ("AWS_SECRET_ACCESS_KEY", "ci-aws-secret"),
        ("AWS_SESSION_TOKEN", "ci-session"),
        ("BOT_GITHUB_USERNAME", "zerotouch-example"),
        ("BOT_GITHUB_TOKEN", "ghp_CITESTTOKEN"),
    ];
    let o = cli::command(bin, repo.path(), &creds)
        .args([
            "ci",
            "--image",
            "ghcr.io/org/my-svc:sha-abc123",
            "--dry-run",
            "--cleanup",
        ])
        .arg("--platform-repo")
        .arg(platform.path())
        .output()
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().split_once(". ").map(|(_, name)| name))
        .collect();
    let pos = |name: &str| order.iter().position(|n| n.starts_with(name));
    let (kind, load, deploy, tests, cleanup) = (
        pos("kind-create").expect(&out),
        pos("load-image/ghcr.io/org/my-svc:sha-abc123").expect(&out),
        pos("deploy").expect(&out),
        pos("tests").expect(&out),
        pos("cleanup").expect(&out),
    );
    assert!(
        kind < load && load < deploy && deploy < tests && tests < cleanup,
        "{out}"
    );
    assert!(
        out.contains("env from a Secret (values not shown)"),
        "{out}"
    );
    assert!(
        !out.contains("tok-never-printed-77") && !out.contains("ci-aws-secret"),
        "{out}"
    );
    assert!(out.contains("dry run: nothing was sent"), "{out}");
}

#[tokio::test]
async fn an_external_dependency_in_the_repository_is_deployed_first() {
    let test = "ci_cluster::external";
    if oracle_or_skip("kubectl", test).is_none() {
        return;
    }
    let Some(cluster) = workload_cluster_or_skip(test, 2) else {
        return;
    };
    cluster.install_claim_crds();
    let ns = cluster.unique_namespace(test).name().to_string();
    let other_ns = format!("{ns}-dep");
    let _controllers = [
        crossplane(cluster, &ns, Platform::Healthy),
        crossplane(cluster, &other_ns, Platform::Healthy),
    ];
    let repo = service_repo(&ns);
    let config = repo.path().join("ci/config.yaml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        format!("{text}dependencies:\n  external: [other-svc, not-here]\n"),
    )
    .unwrap();
    let dep = repo.path().join("platform/other-svc/overlays/pr");
    fs::create_dir_all(&dep).unwrap();
    fs::write(
        dep.join("web.yaml"),
        format!("apiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: other-svc\n  namespace: {other_ns}\nspec:\n  image: ghcr.io/org/other-svc:v7\n  port: 8080\n"),
    )
    .unwrap();
    let summary = repo.path().join("step-summary.md");
    let args = [
        "--image",
        "registry.test/zt/my-svc:sha-abc123",
        "--claim",
        "my-svc",
    ];
    let (_, err) = ci(cluster, repo.path(), &summary, &args, 0).await;
    let dep_done = err.find("✓ deploy/other-svc (").expect(&err);
    let own_done = err.find("✓ deploy (").expect(&err);
    assert!(dep_done < own_done, "the dependency goes first:\n{err}");
    assert!(
        err.contains(
            "dependencies.external lists not-here, whose claims are not in this repository"
        ),
        "{err}"
    );
    let client = cluster.client().await;
    let web = zt_test_support::crossplane::webservices(&client, &other_ns)
        .get("other-svc")
        .await
        .unwrap();
    assert_eq!(
        web.data["spec"]["image"], "ghcr.io/org/other-svc:v7",
        "as written"
    );
}
