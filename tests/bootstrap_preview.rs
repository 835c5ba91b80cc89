//! Preview bootstrap through the library: the plan and what each stage would run, the
//! kind-create stage against a stand-in for the kind CLI, the preview-patch stage on a real git
//! checkout, and whole runs (resumed, and after the cluster was deleted) against the kind
//! double, the in-process Kubernetes API and Kind-node stand-ins on this machine's real Docker
//! engine.
//!
//! What is real: git, `kubectl kustomize`, the Docker engine (export, exec, stdin streaming),
//! kube-rs and its HTTP. What is a double: kind (tests/support/src/kind.rs), the Kubernetes API
//! and Argo CD's progress (tests/support/src/preview.rs), ctr inside the nodes
//! (tests/support/src/docker.rs). Tests that touch Docker skip without it unless
//! ZT_REQUIRE_DOCKER is set, as in CI.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zt::bootstrap::cache::StageCache;
use zt::bootstrap::preview::{self, PreviewInputs};
use zt::bootstrap::stages::kind::KindCreate;
use zt::bootstrap::stages::preview_patch::{PatchTarget, PreviewPatch};
use zt::bootstrap::{Ctx, Plan, RunError, Stage, Timing, run};
use zt::credentials::{EnvSnapshot, Mode};
use zt::progress::{Progress, StageStatus, finish_line};
use zt::render::argocd::PlatformSource;
use zt::render::kind::KindSettings;
use zt::render::{LOCAL_REPO_URL, PREVIEW_OVERLAY, PreviewRequest, Rendered, TemplateSource};
use zt_test_support::docker::{Scratch, docker_or_skip, unique_name};
use zt_test_support::git::{checkout_of, git};
use zt_test_support::kind::FakeKind;
use zt_test_support::preview::{ROOT_APP, kind_cluster_api, platform_syncs};
use zt_test_support::workspace_root;

/// Credential values a leak would show verbatim.
const SECRETS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_PREVIEWLEAKCHECK0001"),
    ("AWS_ACCESS_KEY_ID", "AKIAPREVIEWLEAKCHECK"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-PREVIEWLEAKCHECK"),
    ("AWS_SESSION_TOKEN", "session-PREVIEWLEAKCHECK"),
];

fn assert_no_secret(what: &str, text: &str) {
    for (name, value) in SECRETS.iter().skip(1) {
        assert!(!text.contains(value), "{what} shows {name}:\n{text}");
    }
}

/// The example platform repo as a clone of its own.
fn checkout() -> tempfile::TempDir {
    checkout_of(&workspace_root().join("examples/platform-repo"))
}

fn abs(dir: &Path) -> PathBuf {
    dir.canonicalize().unwrap()
}

/// The preview render for `repo`, the root Application at `url` / `revision`.
fn render(repo: &Path, cluster: &str, url: &str, revision: &str) -> Rendered {
    let creds = EnvSnapshot::from_pairs(SECRETS.iter().map(|(k, v)| (*k, v.to_string())))
        .credentials(Mode::Preview)
        .unwrap();
    zt::render::render_preview(&PreviewRequest {
        platform: PlatformSource {
            url: url.into(),
            revision: revision.into(),
            overlay: PREVIEW_OVERLAY.into(),
        },
        kind: KindSettings {
            name: cluster.into(),
            node_image: None,
            platform_repo: abs(repo).to_string_lossy().into_owned(),
        },
        credentials: Some(&creds),
        templates: &TemplateSource { override_dir: None },
    })
    .unwrap()
}

fn local_plan(repo: &Path, cluster: &str, images: &[&str], kind: &Path) -> Plan {
    let rendered = render(repo, cluster, LOCAL_REPO_URL, preview::BRANCH);
    let root = abs(repo);
    preview::plan(PreviewInputs {
        rendered: &rendered,
        cluster: cluster.into(),
        platform_repo: &root,
        argocd_install: None,
        load_images: images.iter().map(|s| s.to_string()).collect(),
        patch_target: PatchTarget::Branch(preview::BRANCH.into()),
        kind_program: kind.into(),
    })
    .unwrap()
}

/// Short limits and quick polls: nothing here waits long.
fn timing() -> Timing {
    Timing {
        talos: Duration::from_secs(5),
        kubernetes: Duration::from_secs(5),
        argocd: Duration::from_secs(5),
        platform: Duration::from_secs(5),
        kind: Duration::from_secs(10),
        poll_initial: Duration::from_millis(5),
        poll_max: Duration::from_millis(40),
    }
}

/// Every progress event, as text.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn finished(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with(['✓', '↷', '✗']))
            .collect()
    }
}

impl Progress for Recorder {
    fn start(&self, stage: &str, what: &str) {
        self.0.lock().unwrap().push(format!("… {stage}: {what}"));
    }
    fn detail(&self, stage: &str, message: &str) {
        self.0.lock().unwrap().push(format!("  {stage}: {message}"));
    }
    fn warn(&self, stage: &str, message: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("warning: {stage}: {message}"));
    }
    fn finish(&self, stage: &str, status: &StageStatus, _elapsed: Duration) {
        // Elapsed times vary; the status is what the tests look at.
        let line = finish_line(stage, status, Duration::ZERO);
        self.0.lock().unwrap().push(line);
    }
}

fn ctx(dir: &Path, cluster: &str, timing: Timing) -> (Ctx, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let ctx = Ctx::new(
        timing,
        rec.clone(),
        dir.join("kube/config"),
        Some(format!("kind-{cluster}")),
    );
    (ctx, rec)
}

fn names(plan: &Plan) -> Vec<String> {
    plan.stages.iter().map(|s| s.name()).collect()
}

#[test]
fn the_plan_lists_every_stage_and_what_it_runs() {
    let repo = checkout();
    let plan = local_plan(
        repo.path(),
        "zt-plan",
        &["ghcr.io/org/svc:ci", "app:dev", "ghcr.io/org/svc:ci"],
        Path::new("kind"),
    );
    assert_eq!(plan.mode, "preview");
    assert_eq!(plan.target, "zt-plan");
    assert_eq!(
        names(&plan),
        [
            "render",
            "kind-create",
            "node-ready/zt-plan-control-plane",
            "load-image/ghcr.io/org/svc:ci",
            "load-image/app:dev",
            "preview-patch",
            "argocd-install",
            "secrets",
            "deployment-ready/argocd/argocd-repo-server",
            "root-app",
            "application-synced/platform-bootstrap",
        ],
        "a repeated --load-image is loaded once"
    );
    let text = plan.describe(None);
    let root = abs(repo.path());
    for want in [
        "render the preview in memory: Kind config for cluster zt-plan, root Application (file:///repo at zt-preview), 2 Secrets".to_string(),
        "kind get clusters: if zt-plan is listed, keep it and run `kind export kubeconfig --name zt-plan --kubeconfig <kubeconfig>`".to_string(),
        "otherwise: kind create cluster --name zt-plan --config <temporary file: the rendered kind/cluster.yaml,".to_string(),
        "--kubeconfig <kubeconfig> --wait 0s".to_string(),
        "then use kubeconfig context kind-zt-plan".to_string(),
        "in every container labelled io.x-k8s.kind.cluster=zt-plan: ctr --namespace=k8s.io images import --all-platforms --digests -".to_string(),
        format!("apply the built-in preview patches to {} and commit the result to branch zt-preview", root.display()),
        format!("build {}/bootstrap/argocd/install/preview with `kubectl kustomize`", root.display()),
        "server-side apply Secret argocd/repo-credentials".to_string(),
        "apply the root Application platform-bootstrap (file:///repo at zt-preview)".to_string(),
        "wait for Application argocd/platform-bootstrap to be Synced and Healthy".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in:\n{text}");
    }
    assert_no_secret("the plan", &text);
}

#[test]
fn in_ci_the_patch_stage_writes_nothing_and_says_so() {
    let repo = checkout();
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let url = "https://github.com/zerotouch-example/zerotouch-platform.git";
    let rendered = render(repo.path(), "zt-ci", url, &head);
    let root = abs(repo.path());
    let plan = preview::plan(PreviewInputs {
        rendered: &rendered,
        cluster: "zt-ci".into(),
        platform_repo: &root,
        argocd_install: None,
        load_images: vec![],
        patch_target: PatchTarget::Remote { url: url.into() },
        kind_program: "kind".into(),
    })
    .unwrap();
    assert!(
        !names(&plan).iter().any(|n| n.starts_with("load-image")),
        "no --load-image, no load stage"
    );
    let text = plan.describe(None);
    assert!(
        text.contains("(CI: nothing is written)")
            && text.contains(&format!(
                "CI mode: Argo CD reads {url}, so local patches cannot reach it"
            )),
        "{text}"
    );
    assert!(
        text.contains(&format!("root Application ({url} at {head})")),
        "{text}"
    );
}

#[test]
fn the_plan_refuses_inputs_that_could_not_work() {
    let repo = checkout();
    let root = abs(repo.path());
    let inputs = |rendered, root, install: Option<PathBuf>, images: Vec<String>| PreviewInputs {
        rendered,
        cluster: "zt-bad".into(),
        platform_repo: root,
        argocd_install: install,
        load_images: images,
        patch_target: PatchTarget::Branch(preview::BRANCH.into()),
        kind_program: "kind".into(),
    };
    let err = |r: Result<Plan, zt::bootstrap::StageError>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };

    // The root Application pinned to a commit while the patches go to the branch.
    let at_commit = render(repo.path(), "zt-bad", LOCAL_REPO_URL, "0123abc");
    let e = err(preview::plan(inputs(&at_commit, &root, None, vec![])));
    assert!(
        e.contains("the root Application reads file:///repo at 0123abc, but the preview patches are committed to branch zt-preview"),
        "{e}"
    );

    let good = render(repo.path(), "zt-bad", LOCAL_REPO_URL, preview::BRANCH);
    // A subdirectory of a clone: the Kind mount would hold no .git.
    let sub = root.join("bootstrap");
    let e = err(preview::plan(inputs(&good, &sub, None, vec![])));
    assert!(
        e.contains("must be the top directory of a git clone") && e.contains("--ci"),
        "{e}"
    );

    let e = err(preview::plan(inputs(
        &good,
        &root,
        None,
        vec!["app tag".into()],
    )));
    assert!(
        e.contains("--load-image \"app tag\": not an image reference"),
        "{e}"
    );

    std::fs::remove_dir_all(root.join("bootstrap/argocd/install/preview")).unwrap();
    let e = err(preview::plan(inputs(&good, &root, None, vec![])));
    assert!(
        e.contains("install/preview: no Argo CD install kustomization")
            && e.contains("--argocd-install FILE"),
        "{e}"
    );
    // A pre-built install manifest instead.
    let file = root.join("install.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n",
    )
    .unwrap();
    let plan = preview::plan(inputs(&good, &root, Some(file.clone()), vec![])).unwrap();
    assert!(
        plan.describe(None).contains(&format!(
            "server-side apply every object of {}",
            file.display()
        )),
        "{}",
        plan.describe(None)
    );
}

fn kind_stage(cluster: &str, config: &[u8], program: &Path) -> KindCreate {
    KindCreate {
        cluster: cluster.into(),
        config: config.to_vec(),
        program: program.into(),
        repo_mount: None,
    }
}

#[tokio::test]
async fn kind_create_makes_the_cluster_once_and_then_only_exports_its_kubeconfig() {
    if docker_or_skip("kind_create_makes_the_cluster_once_and_then_only_exports_its_kubeconfig")
        .await
        .is_none()
    {
        return;
    }
    let api = kind_cluster_api("zt-kind");
    let kind = FakeKind::new(&api.url());
    let repo = checkout();
    let config = render(repo.path(), "zt-kind", LOCAL_REPO_URL, preview::BRANCH)
        .tree
        .get(Path::new("kind/cluster.yaml"))
        .unwrap()
        .bytes
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, rec) = ctx(dir.path(), "zt-kind", timing());
    ctx.kube_context = None;
    ctx.stage = "kind-create".into();
    let stage = KindCreate {
        repo_mount: Some(abs(repo.path())),
        ..kind_stage("zt-kind", &config, &kind.program())
    };

    stage.run(&mut ctx).await.unwrap();
    let kubeconfig = dir.path().join("kube/config");
    let calls = kind.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], ["get", "clusters"]);
    let create = &calls[1];
    assert_eq!(create[..4], ["create", "cluster", "--name", "zt-kind"]);
    assert_eq!(create[4], "--config");
    assert!(create[5].ends_with(".yaml"), "{create:?}");
    assert_eq!(
        create[6..],
        [
            "--kubeconfig".to_string(),
            kubeconfig.display().to_string(),
            "--wait".into(),
            "0s".into()
        ]
    );
    // kind was given exactly the rendered config, and the temporary file is gone.
    assert_eq!(
        kind.config_of("zt-kind").unwrap().as_bytes(),
        config.as_slice()
    );
    assert!(!Path::new(&create[5]).exists(), "{} left behind", create[5]);
    assert!(
        std::fs::read_to_string(&kubeconfig)
            .unwrap()
            .contains(&api.url())
    );
    assert_eq!(ctx.kube_context.as_deref(), Some("kind-zt-kind"));
    assert!(
        ctx.take_cache_invalidation(),
        "a new cluster voids the cache"
    );
    let lines = rec.lines();
    assert!(
        lines.contains(&"  kind-create: kind: Creating cluster \"zt-kind\" ...".to_string())
            && lines.contains(
                &"  kind-create: kind: Set kubectl context to \"kind-zt-kind\"".to_string()
            ),
        "kind's output streams as detail lines: {lines:?}"
    );
    // The kubeconfig kind wrote has the context the next stages use.
    ctx.cluster().await.unwrap();

    // Again: the cluster exists, so it is kept.
    std::fs::remove_file(&kubeconfig).unwrap();
    stage.run(&mut ctx).await.unwrap();
    let calls = kind.calls();
    assert_eq!(
        calls[2..],
        [
            vec!["get".to_string(), "clusters".into()],
            vec![
                "export".into(),
                "kubeconfig".into(),
                "--name".into(),
                "zt-kind".into(),
                "--kubeconfig".into(),
                kubeconfig.display().to_string()
            ]
        ]
    );
    assert!(kubeconfig.is_file(), "the kubeconfig is exported again");
    assert!(
        rec.lines().contains(
            &"  kind-create: no container zt-kind-control-plane: cannot check what the cluster mounts at /repo"
                .to_string()
        ),
        "{:?}",
        rec.lines()
    );
    assert!(
        !ctx.take_cache_invalidation(),
        "the same cluster keeps the cache"
    );
}

#[tokio::test]
async fn kind_create_failures_say_what_happened() {
    // A missing kind is found before Docker is asked: no engine needed.
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _) = ctx(dir.path(), "zt-fail", timing());
    let missing = dir.path().join("no-such-dir/kind");
    let e = kind_stage("zt-fail", b"kind: Cluster\n", &missing)
        .run(&mut ctx)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is not on PATH")
            && e.contains(
                "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
            ),
        "{e}"
    );

    if docker_or_skip("kind_create_failures_say_what_happened")
        .await
        .is_none()
    {
        return;
    }
    let api = kind_cluster_api("zt-fail");
    let kind = FakeKind::new(&api.url());
    kind.fail_create("ERROR: failed to create cluster: port 5432 is already allocated");
    let e = kind_stage("zt-fail", b"kind: Cluster\n", &kind.program())
        .run(&mut ctx)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("kind create cluster --name zt-fail failed (kind exited with code 1)")
            && e.contains("port 5432 is already allocated")
            && e.contains("kind delete cluster --name zt-fail"),
        "{e}"
    );

    // A kind that never returns is stopped at its limit.
    let kind = FakeKind::new(&api.url());
    kind.hang_create();
    let mut quick = timing();
    quick.kind = Duration::from_millis(400);
    let (mut ctx, _) = self::ctx(dir.path(), "zt-fail", quick);
    let started = std::time::Instant::now();
    let e = kind_stage("zt-fail", b"kind: Cluster\n", &kind.program())
        .run(&mut ctx)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("kind create cluster --name zt-fail did not finish within 400ms"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn preview_patch_commits_to_the_branch_and_leaves_the_checkout_alone() {
    let repo = checkout();
    let root = abs(repo.path());
    let head = git(&root, &["rev-parse", "HEAD"]);
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, rec) = ctx(dir.path(), "zt-patch", timing());
    ctx.stage = "preview-patch".into();
    let stage = PreviewPatch {
        root: root.clone(),
        target: PatchTarget::Branch("zt-preview".into()),
    };
    stage.run(&mut ctx).await.unwrap();

    assert_eq!(git(&root, &["rev-parse", "HEAD"]), head, "HEAD stays");
    assert_eq!(
        git(&root, &["status", "--porcelain"]),
        "",
        "work tree and index stay"
    );
    assert_eq!(
        git(&root, &["rev-parse", "zt-preview^"]),
        head,
        "the branch is one commit on top of HEAD"
    );
    let changed = git(&root, &["diff", "--name-only", "HEAD", "zt-preview"]);
    assert_eq!(changed.lines().count(), 10, "{changed}");
    let foundation = git(
        &root,
        &[
            "show",
            "zt-preview:bootstrap/argocd/base/03-foundation-config.yaml",
        ],
    );
    assert!(
        foundation.contains("repoURL: file:///repo")
            && foundation.contains("targetRevision: zt-preview"),
        "{foundation}"
    );
    let tip = git(&root, &["rev-parse", "zt-preview"]);
    assert!(
        rec.lines()
            .iter()
            .any(|l| l.contains(&format!("committed {} on branch zt-preview", &tip[..12]))),
        "{:?}",
        rec.lines()
    );

    // Again, with nothing new: the branch is already right.
    stage.run(&mut ctx).await.unwrap();
    assert_eq!(git(&root, &["rev-parse", "zt-preview"]), tip);
    assert!(
        rec.lines()
            .iter()
            .any(|l| l.contains("already holds this patched tree")),
        "{:?}",
        rec.lines()
    );
}

#[tokio::test]
async fn in_ci_preview_patch_warns_and_writes_nothing() {
    let repo = checkout();
    let root = abs(repo.path());
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, rec) = ctx(dir.path(), "zt-ci", timing());
    ctx.stage = "preview-patch".into();
    PreviewPatch {
        root: root.clone(),
        target: PatchTarget::Remote {
            url: "https://github.com/org/zerotouch-platform.git".into(),
        },
    }
    .run(&mut ctx)
    .await
    .unwrap();
    assert_eq!(git(&root, &["status", "--porcelain"]), "");
    assert_eq!(git(&root, &["branch", "--list", "zt-preview"]), "");
    let warnings: Vec<String> = rec
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", rec.lines());
    assert!(
        warnings[0].contains(
            "Argo CD reads the platform from https://github.com/org/zerotouch-platform.git"
        ) && warnings[0].contains("cannot reach it (10 files would change); nothing was written"),
        "{}",
        warnings[0]
    );
}

/// Kind-node stand-ins for `cluster` (a control plane mounting `repo` at /repo, as the
/// rendered Kind config asks, and a worker) and a local image to load.
async fn nodes_and_image(
    scratch: &mut Scratch,
    cluster: &str,
    repo: &Path,
) -> (Vec<String>, String) {
    let node_image = format!("{cluster}-node:test");
    let app = format!("{cluster}-app:ci");
    scratch.build_node_image(&node_image).await;
    scratch.build_payload_image(&app, 40_000).await;
    let mut nodes = Vec::new();
    for (suffix, role, mount) in [
        ("control-plane", "control-plane", Some(repo)),
        ("worker", "worker", None),
    ] {
        let name = format!("{cluster}-{suffix}");
        nodes.push(
            scratch
                .kind_node_mounting(&node_image, cluster, &name, role, true, None, mount)
                .await,
        );
    }
    (nodes, app)
}

#[tokio::test]
async fn a_whole_preview_run_then_resumed_runs() {
    let Some(docker) = docker_or_skip("a_whole_preview_run_then_resumed_runs").await else {
        return;
    };
    let cluster = unique_name("zt-prev");
    let repo = checkout();
    let mut scratch = Scratch::new(docker);
    let (nodes, app) = nodes_and_image(&mut scratch, &cluster, &abs(repo.path())).await;
    let api = kind_cluster_api(&cluster);
    // Argo CD takes a moment: the wait has to poll.
    platform_syncs(&api, Duration::from_millis(60));
    let kind = FakeKind::new(&api.url());
    let dir = tempfile::tempdir().unwrap();
    let plan = local_plan(repo.path(), &cluster, &[&app], &kind.program());
    let cache_path = dir
        .path()
        .join(".zerotouch-cache/bootstrap-stage-cache.json");

    let (mut ctx, rec) = ctx(dir.path(), &cluster, timing());
    let mut cache = StageCache::open(&cache_path, &plan.fingerprint(), false).unwrap();
    let summary = run(&plan, &mut ctx, &mut cache, std::future::pending())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:#?}", rec.lines()));
    assert_eq!(
        summary.done.len(),
        plan.stages.len(),
        "{:?}",
        rec.finished()
    );
    assert!(summary.cached.is_empty());
    assert_eq!(
        rec.finished(),
        names(&plan)
            .iter()
            .map(|n| format!("✓ {n} (0ms)"))
            .collect::<Vec<_>>()
    );

    // The cluster: the root Application tracks the committed branch through the mount.
    let root_app = api.get("Application", "argocd", ROOT_APP).unwrap();
    assert_eq!(root_app["spec"]["source"]["repoURL"], "file:///repo");
    assert_eq!(root_app["spec"]["source"]["targetRevision"], "zt-preview");
    let root = abs(repo.path());
    let branch_root = git(
        &root,
        &[
            "show",
            "zt-preview:bootstrap/argocd/overlays/preview/root.yaml",
        ],
    );
    assert!(
        branch_root.contains("targetRevision: zt-preview"),
        "{branch_root}"
    );
    assert!(api.get("Secret", "argocd", "repo-credentials").is_some());
    let repo_server = api
        .get("Deployment", "argocd", "argocd-repo-server")
        .unwrap();
    assert_eq!(
        repo_server["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"], "/repo",
        "the preview install mounts the checkout into the repo server"
    );
    // The image reached every node, byte for byte what the engine exports.
    let exported = scratch.export(&app).await;
    for node in &nodes {
        let got = scratch.recorded(node).await.expect("ctr ran in the node");
        assert_eq!(got["stdin"], exported, "node {node}");
    }
    // Nothing secret in what the run left or said.
    let cache_text = std::fs::read_to_string(&cache_path).unwrap();
    assert_no_secret("the stage cache", &cache_text);
    assert_no_secret("the progress", &rec.lines().join("\n"));
    assert_no_secret("kind's arguments", &format!("{:?}", kind.calls()));

    // A rerun: the cluster exists (kind only exports its kubeconfig), applied stages are
    // skipped, waits and the always-run stages run again.
    let (mut ctx, rec) = self::ctx(dir.path(), &cluster, timing());
    let mut cache = StageCache::open(&cache_path, &plan.fingerprint(), false).unwrap();
    run(&plan, &mut ctx, &mut cache, std::future::pending())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:#?}", rec.lines()));
    let finished = rec.finished();
    for cached in ["argocd-install", "secrets", "root-app"] {
        assert!(
            finished.contains(&format!("↷ {cached} (done in an earlier run)")),
            "{finished:?}"
        );
    }
    assert!(
        finished.contains(&"✓ kind-create (0ms)".to_string()),
        "{finished:?}"
    );
    assert!(
        finished.contains(&format!("✓ load-image/{app} (0ms)")),
        "{finished:?}"
    );
    let creates = |k: &FakeKind| {
        k.calls()
            .iter()
            .filter(|c| c.first().map(String::as_str) == Some("create"))
            .count()
    };
    assert_eq!(creates(&kind), 1);
    assert!(
        kind.calls()
            .last()
            .is_some_and(|c| c[..2] == ["export", "kubeconfig"]),
        "{:?}",
        kind.calls()
    );

    // The cluster was deleted meanwhile: it is made again, and nothing recorded is trusted.
    kind.delete_clusters();
    let (mut ctx, rec) = self::ctx(dir.path(), &cluster, timing());
    let mut cache = StageCache::open(&cache_path, &plan.fingerprint(), false).unwrap();
    run(&plan, &mut ctx, &mut cache, std::future::pending())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:#?}", rec.lines()));
    assert_eq!(creates(&kind), 2);
    let finished = rec.finished();
    assert!(
        finished.iter().all(|l| l.starts_with('✓')),
        "after a new cluster every stage runs: {finished:?}"
    );
}

#[tokio::test]
async fn a_failed_run_resumes_at_the_stage_that_failed() {
    if docker_or_skip("a_failed_run_resumes_at_the_stage_that_failed")
        .await
        .is_none()
    {
        return;
    }
    let cluster = unique_name("zt-resume");
    let api = kind_cluster_api(&cluster);
    let kind = FakeKind::new(&api.url());
    let repo = checkout();
    let dir = tempfile::tempdir().unwrap();
    let plan = local_plan(repo.path(), &cluster, &[], &kind.program());
    let cache_path = dir.path().join("cache.json");

    // Argo CD never reports the platform synced: the last wait times out.
    let mut short = timing();
    short.platform = Duration::from_millis(300);
    let (mut ctx, rec) = ctx(dir.path(), &cluster, short);
    let mut cache = StageCache::open(&cache_path, &plan.fingerprint(), false).unwrap();
    let err = run(&plan, &mut ctx, &mut cache, std::future::pending())
        .await
        .unwrap_err();
    match &err {
        RunError::Stage { stage, error } => {
            assert_eq!(stage, "application-synced/platform-bootstrap");
            assert!(
                error.message.contains("timed out after 300ms waiting for Application argocd/platform-bootstrap; last seen: health unknown, sync unknown"),
                "{error}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(
        rec.finished()
            .last()
            .is_some_and(|l| l.starts_with("✗ application-synced/platform-bootstrap")),
        "{:?}",
        rec.finished()
    );

    // Argo CD catches up; the rerun goes straight to the wait.
    api.with_store(|s| {
        s.set_status(
            "Application",
            "argocd",
            ROOT_APP,
            serde_json::json!({"health": {"status": "Healthy"}, "sync": {"status": "Synced"}}),
        )
    });
    let applies_before = api
        .requests()
        .iter()
        .filter(|r| r.starts_with("PATCH"))
        .count();
    let (mut ctx, rec) = self::ctx(dir.path(), &cluster, timing());
    let mut cache = StageCache::open(&cache_path, &plan.fingerprint(), false).unwrap();
    let summary = run(&plan, &mut ctx, &mut cache, std::future::pending())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:#?}", rec.lines()));
    assert_eq!(summary.cached, ["argocd-install", "secrets", "root-app"]);
    assert_eq!(
        api.requests()
            .iter()
            .filter(|r| r.starts_with("PATCH"))
            .count(),
        applies_before,
        "nothing is applied again"
    );
}

#[tokio::test]
async fn an_existing_cluster_that_mounts_another_checkout_is_refused() {
    let Some(docker) =
        docker_or_skip("an_existing_cluster_that_mounts_another_checkout_is_refused").await
    else {
        return;
    };
    let cluster = unique_name("zt-mount");
    let repo = checkout();
    let other = tempfile::tempdir().unwrap();
    let mut scratch = Scratch::new(docker);
    let node_image = format!("{cluster}-node:test");
    scratch.build_node_image(&node_image).await;
    scratch
        .kind_node_mounting(
            &node_image,
            &cluster,
            &format!("{cluster}-control-plane"),
            "control-plane",
            true,
            None,
            Some(&abs(other.path())),
        )
        .await;
    let api = kind_cluster_api(&cluster);
    let kind = FakeKind::new(&api.url());
    kind.add_cluster(&cluster);
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, _) = ctx(dir.path(), &cluster, timing());
    let stage = KindCreate {
        repo_mount: Some(abs(repo.path())),
        ..kind_stage(&cluster, b"kind: Cluster\n", &kind.program())
    };
    let e = stage.run(&mut ctx).await.unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "Kind cluster {cluster} exists but mounts {} at /repo, not {}",
            abs(other.path()).display(),
            abs(repo.path()).display()
        )) && e.contains(&format!("kind delete cluster --name {cluster}")),
        "{e}"
    );
    assert!(
        !kind.calls().iter().any(|c| c[0] == "export"),
        "nothing exported from the wrong cluster: {:?}",
        kind.calls()
    );
    // In CI Argo CD reads GitHub: the mount does not matter.
    let ci = kind_stage(&cluster, b"kind: Cluster\n", &kind.program());
    ci.run(&mut ctx).await.unwrap();
}
