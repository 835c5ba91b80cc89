//! `kubectl zt bootstrap --mode preview` and `kubectl zt deploy --load-into-kind` as users run
//! them: through the real kubectl plugin dispatch where kubectl is installed, with a stand-in
//! for the kind CLI first on PATH (tests/support/src/kind.rs), the in-process Kubernetes API,
//! and Kind-node stand-ins on this machine's real Docker engine. Tests that need the engine
//! skip without it unless ZT_REQUIRE_DOCKER is set, as in CI.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use zt_test_support::cli::{self, text};
use zt_test_support::docker::{Scratch, docker_or_skip, unique_name};
use zt_test_support::git::{checkout_of, git};
use zt_test_support::kind::{FakeKind, tools_only};
use zt_test_support::kube_api::TestApi;
use zt_test_support::preview::{ROOT_APP, kind_cluster_api, platform_syncs};
use zt_test_support::workspace_root;

/// Credentials as a CI job exports them; a leak would show these values.
const CREDENTIALS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_CLIPREVIEWTOKEN"),
    ("AWS_ACCESS_KEY_ID", "AKIACLIPREVIEW"),
    ("AWS_SECRET_ACCESS_KEY", "cli-preview-aws-secret"),
    ("AWS_SESSION_TOKEN", "cli-preview-session"),
];

/// `kubectl zt <args>` in `dir` with exactly `path` as PATH (after the plugins), the
/// credentials set, no CI markers, and `KUBECONFIG`; through kubectl when it is installed.
fn zt(dir: &Path, args: &[&str], path: &str, kubeconfig: &Path) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    let mut cmd = cli::plugin(bin, dir, CREDENTIALS, path);
    cmd.args(args).env("KUBECONFIG", kubeconfig);
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().unwrap()
}

fn assert_no_secret(o: &Output) {
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    for (name, value) in CREDENTIALS.iter().skip(1) {
        assert!(!all.contains(value), "output shows {name}:\n{all}");
    }
}

fn system_path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// The example platform repo as a clone of its own, and a scratch directory beside it.
fn workspace() -> (tempfile::TempDir, tempfile::TempDir) {
    (
        checkout_of(&workspace_root().join("examples/platform-repo")),
        tempfile::tempdir().unwrap(),
    )
}

fn preview_args<'a>(repo: &'a str, cache: &'a str, cluster: &'a str) -> Vec<&'a str> {
    vec![
        "bootstrap",
        "--mode",
        "preview",
        "--platform-repo",
        repo,
        "--cache",
        cache,
        "--cluster-name",
        cluster,
        "--node-timeout",
        "20s",
        "--timeout",
        "20s",
    ]
}

#[test]
fn kubectl_zt_bootstrap_preview_dry_run_prints_the_plan_and_touches_nothing() {
    let (repo, scratch) = workspace();
    let kind = FakeKind::new("http://127.0.0.1:9");
    let cache = scratch.path().join("cache.json");
    let kubeconfig = scratch.path().join("kubeconfig");
    let repo_dir = repo.path().to_str().unwrap();
    let cache_arg = cache.to_str().unwrap();
    let mut args = preview_args(repo_dir, cache_arg, "zt-dry");
    args.extend(["--load-image", "ghcr.io/org/svc:ci", "--dry-run"]);
    let o = run(zt(
        scratch.path(),
        &args,
        &kind.path_before(&system_path()),
        &kubeconfig,
    ));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("bootstrap plan (preview zt-dry), 11 stages:\n"),
        "{out}"
    );
    for want in [
        "  2. kind-create\n",
        "kind create cluster --name zt-dry --config <temporary file: the rendered kind/cluster.yaml,",
        "  4. load-image/ghcr.io/org/svc:ci\n",
        "commit the result to branch zt-preview",
        "apply the root Application platform-bootstrap (file:///repo at zt-preview)",
        "dry run: nothing was sent, nothing was written\n",
    ] {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    assert_no_secret(&o);
    assert!(kind.calls().is_empty(), "kind ran: {:?}", kind.calls());
    assert!(!cache.exists() && !kubeconfig.exists());
    assert_eq!(git(repo.path(), &["branch", "--list", "zt-preview"]), "");
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
}

#[test]
fn kubectl_zt_bootstrap_preview_without_kind_says_how_to_install_it() {
    let (repo, scratch) = workspace();
    // git and kubectl, and no kind anywhere on PATH.
    let tools = tools_only(&["git", "kubectl"]);
    let cache = scratch.path().join("cache.json");
    let o = run(zt(
        scratch.path(),
        &preview_args(
            repo.path().to_str().unwrap(),
            cache.to_str().unwrap(),
            "zt-nokind",
        ),
        &tools.path().display().to_string(),
        &scratch.path().join("kubeconfig"),
    ));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("✓ render ("), "{err}");
    assert!(
        err.contains("✗ kind-create (")
            && err.contains("`kind` is not on PATH: the preview cluster is made by the kind CLI")
            && err.contains(
                "hint: install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
            ),
        "{err}"
    );
    assert_no_secret(&o);
}

#[test]
fn kubectl_zt_bootstrap_preview_with_docker_down_stops_before_kind() {
    let (repo, scratch) = workspace();
    let kind = FakeKind::new("http://127.0.0.1:9");
    let cache = scratch.path().join("cache.json");
    let mut cmd = zt(
        scratch.path(),
        &preview_args(
            repo.path().to_str().unwrap(),
            cache.to_str().unwrap(),
            "zt-nodocker",
        ),
        &kind.path_before(&system_path()),
        &scratch.path().join("kubeconfig"),
    );
    cmd.env("DOCKER_HOST", "unix:///nonexistent/zt/docker.sock");
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("the Docker engine is unreachable: no Docker engine socket at /nonexistent/zt/docker.sock")
            && err.contains("kind runs its nodes as Docker containers"),
        "{err}"
    );
    assert!(kind.calls().is_empty(), "kind ran: {:?}", kind.calls());
}

#[test]
fn kubectl_zt_bootstrap_preview_brings_the_platform_up_and_a_rerun_resumes() {
    let Some(docker) = tokio_block(docker_or_skip(
        "kubectl_zt_bootstrap_preview_brings_the_platform_up",
    )) else {
        return;
    };
    let cluster = unique_name("zt-cli");
    let (repo, scratch) = workspace();
    let mut images = Scratch::new(docker);
    let app = format!("{cluster}-app:ci");
    let node = format!("{cluster}-control-plane");
    // The node kind would have started: the checkout mounted at /repo, as configured.
    let mount = repo.path().canonicalize().unwrap();
    let node_id = tokio_block(async {
        let node_image = format!("{cluster}-node:test");
        images.build_node_image(&node_image).await;
        images.build_payload_image(&app, 20_000).await;
        images
            .kind_node_mounting(
                &node_image,
                &cluster,
                &node,
                "control-plane",
                true,
                None,
                Some(&mount),
            )
            .await
    });
    let api = kind_cluster_api(&cluster);
    platform_syncs(&api, std::time::Duration::ZERO);
    let kind = FakeKind::new(&api.url());
    let cache = scratch.path().join(".zerotouch-cache/stages.json");
    let kubeconfig = scratch.path().join("kube/config");
    let repo_dir = repo.path().to_str().unwrap();
    let mut args = preview_args(repo_dir, cache.to_str().unwrap(), &cluster);
    // The platform gates need what only a real platform has (External Secrets, the XRDs);
    // this run is about Kind, the images and Argo CD's install.
    args.extend(["--load-image", &app, "-v", "--no-gates"]);

    let o = run(zt(
        scratch.path(),
        &args,
        &kind.path_before(&system_path()),
        &kubeconfig,
    ));
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(
        out.starts_with("bootstrap complete: 10 stages done, 0 skipped as done earlier, in "),
        "{out}"
    );
    for stage in [
        "render",
        "kind-create",
        &format!("node-ready/{node}"),
        &format!("load-image/{app}"),
        "preview-patch",
        "argocd-install",
        "secrets",
        "deployment-ready/argocd/argocd-repo-server",
        "root-app",
        "application-synced/platform-bootstrap",
    ] {
        assert!(
            err.contains(&format!("✓ {stage} (")),
            "no ✓ {stage}:\n{err}"
        );
    }
    assert!(
        err.contains(&format!(
            "  kind-create: kind: Creating cluster \"{cluster}\" ..."
        )),
        "-v shows kind's output: {err}"
    );
    assert_no_secret(&o);
    let create = kind
        .calls()
        .into_iter()
        .find(|c| c.first().map(String::as_str) == Some("create"))
        .expect("kind create ran");
    assert_eq!(
        create[6..],
        [
            "--kubeconfig".to_string(),
            kubeconfig.display().to_string(),
            "--wait".into(),
            "0s".into()
        ]
    );
    let config = kind.config_of(&cluster).unwrap();
    let mount = format!(
        "hostPath: {}",
        repo.path().canonicalize().unwrap().display()
    );
    assert!(
        config.contains(&mount) && config.contains("containerPath: /repo"),
        "{config}"
    );
    let root_app = api.get("Application", "argocd", ROOT_APP).unwrap();
    assert_eq!(root_app["spec"]["source"]["targetRevision"], "zt-preview");
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
    let loaded = tokio_block(images.recorded(&node_id)).expect("ctr ran in the node");
    assert_eq!(loaded["stdin"], tokio_block(images.export(&app)));

    // The same command again: the cluster is kept and applied stages are skipped.
    let o = run(zt(
        scratch.path(),
        &args,
        &kind.path_before(&system_path()),
        &kubeconfig,
    ));
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(
        out.starts_with("bootstrap complete: 7 stages done, 3 skipped as done earlier"),
        "{out}"
    );
    assert!(
        err.contains("↷ argocd-install (done in an earlier run)")
            && err.contains("↷ root-app (done in an earlier run)"),
        "{err}"
    );
    assert_eq!(
        kind.calls()
            .iter()
            .filter(|c| c.first().map(String::as_str) == Some("create"))
            .count(),
        1
    );
}

/// Runs a future to completion on a runtime of its own (these tests are synchronous: the
/// plugins run as child processes).
fn tokio_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

// ---- deploy --load-into-kind ----

const CONFIG: &str =
    "service:\n  name: my-svc\n  namespace: team-a\ndeployment:\n  wait_timeout: 20\n";
const CLAIM: &str = "apiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc\nspec:\n  image: ghcr.io/org/my-svc:v1   # set by CI\n  port: 8080\n";

fn service_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("ci")).unwrap();
    fs::write(dir.path().join("ci/config.yaml"), CONFIG).unwrap();
    let claims = dir.path().join("platform/my-svc/overlays/pr");
    fs::create_dir_all(&claims).unwrap();
    fs::write(claims.join("web.yaml"), CLAIM).unwrap();
    dir
}

fn deploy(repo: &Path, args: &[&str], kubeconfig: &Path) -> Output {
    let mut full = vec!["deploy"];
    full.extend_from_slice(args);
    run(zt(repo, &full, &system_path(), kubeconfig))
}

#[test]
fn kubectl_zt_deploy_load_into_kind_loads_the_claims_image_then_applies() {
    let Some(docker) = tokio_block(docker_or_skip(
        "kubectl_zt_deploy_load_into_kind_loads_the_claims_image_then_applies",
    )) else {
        return;
    };
    let cluster = unique_name("zt-deploy");
    // The tag CI built; the claim's repository completes it.
    let tag = unique_name("sha");
    let image = format!("ghcr.io/org/my-svc:{tag}");
    let mut scratch = Scratch::new(docker);
    let (control_plane, worker) = tokio_block(async {
        let node_image = format!("{cluster}-node:test");
        scratch.build_node_image(&node_image).await;
        scratch.build_payload_image(&image, 30_000).await;
        let cp = scratch.control_plane(&node_image, &cluster).await;
        let w = scratch.worker(&node_image, &cluster).await;
        (cp, w)
    });
    let repo = service_repo();
    let api = TestApi::start();
    let kubeconfig = api.write_kubeconfig(repo.path());

    // Client dry run: says what it would load, loads nothing, contacts no cluster.
    let load_arg = format!("--load-into-kind={cluster}");
    let o = deploy(
        repo.path(),
        &["--image", &tag, &load_arg, "--dry-run=client"],
        &kubeconfig,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&format!(
            "client dry run: would load {image} from the local Docker engine into the nodes of Kind cluster {cluster}; nothing was loaded"
        )),
        "{}",
        text(&o.stderr)
    );
    assert!(tokio_block(scratch.recorded(&control_plane)).is_none());
    assert!(api.requests().is_empty(), "{:?}", api.requests());

    // For real: loaded into both nodes, then applied.
    let o = deploy(
        repo.path(),
        &["--image", &tag, "--load-into-kind", &cluster, "--no-wait"],
        &kubeconfig,
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("==> load {image} into Kind cluster {cluster}"))
            && err.contains(&format!(
                "bytes) into {cluster}-control-plane, {cluster}-worker"
            )),
        "{err}"
    );
    // The image went in before anything was applied.
    let at = |what: &str| {
        err.find(what)
            .unwrap_or_else(|| panic!("no {what:?}: {err}"))
    };
    assert!(at("==> load") < at("==> checking the cluster"), "{err}");
    let exported = tokio_block(scratch.export(&image));
    for node in [&control_plane, &worker] {
        let got = tokio_block(scratch.recorded(node)).expect("ctr ran");
        assert_eq!(got["stdin"], exported);
    }
    let claim = api.get("WebService", "team-a", "my-svc").unwrap();
    assert_eq!(claim["spec"]["image"], image.as_str());
}

#[test]
fn kubectl_zt_deploy_load_into_kind_without_nodes_applies_nothing() {
    let Some(docker) = tokio_block(docker_or_skip(
        "kubectl_zt_deploy_load_into_kind_without_nodes_applies_nothing",
    )) else {
        return;
    };
    // The image is there; the cluster is not.
    let tag = unique_name("sha");
    let mut scratch = Scratch::new(docker);
    tokio_block(scratch.build_payload_image(&format!("ghcr.io/org/my-svc:{tag}"), 1_000));
    let repo = service_repo();
    let api = TestApi::start();
    let kubeconfig = api.write_kubeconfig(repo.path());
    let cluster = unique_name("zt-empty");
    let o = deploy(
        repo.path(),
        &["--image", &tag, "--load-into-kind", &cluster],
        &kubeconfig,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "--load-into-kind: no Kind node containers for cluster \"{cluster}\""
        )) && err.contains("create the cluster first"),
        "{err}"
    );
    assert!(
        !api.requests().iter().any(|r| r.starts_with("PATCH")),
        "nothing applied: {:?}",
        api.requests()
    );
}

#[test]
fn deploy_load_into_kind_defaults_to_the_preview_cluster() {
    let repo = service_repo();
    let o = deploy(
        repo.path(),
        &[
            "--image",
            "sha-abc123",
            "--load-into-kind",
            "--dry-run=client",
        ],
        Path::new("/nonexistent/kubeconfig"),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(
            "would load ghcr.io/org/my-svc:sha-abc123 from the local Docker engine into the nodes of Kind cluster zerotouch-preview"
        ),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn preview_refuses_production_flags_and_production_refuses_load_image() {
    let (repo, scratch) = workspace();
    let kubeconfig = scratch.path().join("kubeconfig");
    let repo_dir = repo.path().to_str().unwrap();
    for extra in [
        &["--talos-endpoint", "cp01-main=127.0.0.1:50000"][..],
        &["--cert-fingerprint", "abc"][..],
        &["dev"][..],
    ] {
        let mut args = vec![
            "bootstrap",
            "--mode",
            "preview",
            "--platform-repo",
            repo_dir,
            "--dry-run",
        ];
        args.extend_from_slice(extra);
        let o = run(zt(scratch.path(), &args, &system_path(), &kubeconfig));
        assert_ne!(o.status.code(), Some(0), "{extra:?}");
        let err = text(&o.stderr);
        assert!(err.contains("production"), "{extra:?}: {err}");
    }
    let o = run(zt(
        scratch.path(),
        &["bootstrap", "dev", "--load-image", "app:ci", "--dry-run"],
        &system_path(),
        &kubeconfig,
    ));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr)
            .contains("--load-image loads images into a Kind cluster: it needs --mode preview"),
        "{}",
        text(&o.stderr)
    );
}
