//! `kubectl zt test` through kubectl against a real control plane (tests/support/src/
//! cluster.rs: etcd, kube-apiserver, kube-controller-manager and kube-scheduler v1.34 with
//! kwok's fake nodes). The real Job controller runs the Jobs; kwok runs their pods (our own
//! kwok stages: a pod succeeds, fails with exit code 1 for `FAILING_TEST_IMAGE`, or keeps
//! running for `HANGING_TEST_IMAGE`) and serves their logs through the API server's
//! `pods/log`, from a file per namespace the test writes.
//!
//! Each test skips with one line when the oracles are not built (`ZT_REQUIRE_ORACLES=1` makes
//! that a failure).

use std::fs;
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use zt_test_support::cli::{self, text};
use zt_test_support::cluster::{
    FAILING_TEST_IMAGE, HANGING_TEST_IMAGE, LOGGED_NAMESPACES, TestCluster,
    workload_cluster_or_skip,
};

const JWT: &str = "hunter2-jwt-only-for-tests";

/// A service repository whose Jobs run in `ns`, with a migrations section when asked.
fn service_repo(ns: &str, migrations: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("ci")).unwrap();
    let migrations = if migrations {
        "migrations:\n  command: [alembic, upgrade, head]\n"
    } else {
        ""
    };
    fs::write(
        dir.path().join("ci/config.yaml"),
        format!(
            "service:\n  name: my-svc\n  namespace: {ns}\ntest:\n  timeout: 60\n  command: [pytest, -x]\n  path: tests/integration\n{migrations}env:\n  JWT_SECRET: \"{JWT}\"\n  USE_MOCK_LLM: \"true\"\n"
        ),
    )
    .unwrap();
    dir
}

/// `kubectl zt test ARGS` in `repo` against the test cluster, through the real kubectl.
async fn zt_test(cluster: &TestCluster, repo: &Path, args: &[&str], code: i32) -> (String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    let mut cmd = cli::oracle_kubectl_zt(bin, repo, cluster.kubeconfig());
    cmd.arg("test").args(args);
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
        !out.contains(JWT) && !err.contains(JWT),
        "a secret of env reached the output:\n{out}\n{err}"
    );
    (out, err)
}

/// The Jobs of `ns` that are not being deleted.
async fn jobs(cluster: &TestCluster, ns: &str) -> Vec<Job> {
    let api: Api<Job> = Api::namespaced(cluster.client().await, ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .collect()
}

#[tokio::test]
async fn migrations_then_tests_pass_with_their_log_and_leave_nothing_behind() {
    let Some(cluster) = workload_cluster_or_skip("test_cluster::passing", 1) else {
        return;
    };
    let ns = LOGGED_NAMESPACES[0];
    cluster.create_namespace(ns);
    let _logs = cluster.logs_on_panic();
    cluster.set_pod_log(
        ns,
        &format!("collected 3 items\ntests/integration/test_api.py ...\nJWT_SECRET={JWT}\n3 passed in 0.41s\n"),
    );
    let repo = service_repo(ns, true);
    let (out, err) = zt_test(
        cluster,
        repo.path(),
        &["--image", "registry.test/zt/my-svc:sha-abc123"],
        0,
    )
    .await;
    assert!(
        out.contains("3 passed in 0.41s"),
        "the log is shown:\n{out}"
    );
    assert!(out.contains("JWT_SECRET=<redacted>"), "{out}");
    let migrations = err.find("==> migrations in Job").expect(&err);
    let tests = err.find("==> tests in Job").expect(&err);
    assert!(migrations < tests, "migrations run first:\n{err}");
    assert!(err.contains("tests passed in"), "{err}");
    assert!(jobs(cluster, ns).await.is_empty(), "the Jobs are deleted");
}

#[tokio::test]
async fn a_failing_test_exits_1_with_its_last_lines_and_the_job_is_kept_when_asked() {
    let Some(cluster) = workload_cluster_or_skip("test_cluster::failing", 1) else {
        return;
    };
    let ns = LOGGED_NAMESPACES[1];
    cluster.create_namespace(ns);
    let _logs = cluster.logs_on_panic();
    cluster.set_pod_log(
        ns,
        "FAILED tests/integration/test_api.py::test_login - AssertionError\n1 failed, 2 passed in 0.52s\n",
    );
    // No --image: the Job runs what the service's Deployment runs.
    let deployments: Api<Deployment> = Api::namespaced(cluster.client().await, ns);
    let d = serde_json::from_value(json!({
        "metadata": {"name": "my-svc"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "my-svc"}},
            "template": {
                "metadata": {"labels": {"app": "my-svc"}},
                "spec": {"containers": [{"name": "app", "image": FAILING_TEST_IMAGE}]},
            },
        },
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let repo = service_repo(ns, false);
    let (_, err) = zt_test(cluster, repo.path(), &["--keep"], 1).await;
    for want in [
        "tests Job",
        "failed: BackoffLimitExceeded",
        "container tests exited with code 1 (Error)",
        "| 1 failed, 2 passed in 0.52s",
    ] {
        assert!(err.contains(want), "`{want}` missing:\n{err}");
    }
    let kept = jobs(cluster, ns).await;
    assert_eq!(kept.len(), 1, "--keep leaves the Job");
    let spec = kept[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(
        spec.containers[0].image.as_deref(),
        Some(FAILING_TEST_IMAGE)
    );
    assert_eq!(
        spec.containers[0].args.as_deref(),
        Some(&["tests/integration".to_string()][..])
    );
}

#[tokio::test]
async fn a_test_past_its_timeout_is_ended_by_kubernetes_and_said_so() {
    let Some(cluster) = workload_cluster_or_skip("test_cluster::timeout", 1) else {
        return;
    };
    let ns = LOGGED_NAMESPACES[2];
    cluster.create_namespace(ns);
    let _logs = cluster.logs_on_panic();
    let repo = service_repo(ns, false);
    let (_, err) = zt_test(
        cluster,
        repo.path(),
        &["--image", HANGING_TEST_IMAGE, "--timeout", "2s"],
        1,
    )
    .await;
    assert!(err.contains("did not finish within 2s"), "{err}");
    assert!(
        jobs(cluster, ns).await.is_empty(),
        "cleaned up after a timeout too"
    );
}

#[tokio::test]
async fn ctrl_c_takes_the_running_job_away() {
    let Some(cluster) = workload_cluster_or_skip("test_cluster::interrupt", 1) else {
        return;
    };
    let ns = LOGGED_NAMESPACES[3];
    cluster.create_namespace(ns);
    let _logs = cluster.logs_on_panic();
    let repo = service_repo(ns, false);
    let bin = Path::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    let mut cmd = cli::command(bin, repo.path(), &[]);
    cmd.args(["test", "--image", HANGING_TEST_IMAGE])
        .env("KUBECONFIG", cluster.kubeconfig())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Once its Job runs, the user presses Ctrl-C.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while jobs(cluster, ns).await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no Job started");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // SAFETY: a plain signal to the child this test started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("interrupted: tests Job") && err.contains("was deleted"),
        "{err}"
    );
    assert!(jobs(cluster, ns).await.is_empty(), "the Job is gone");
}
