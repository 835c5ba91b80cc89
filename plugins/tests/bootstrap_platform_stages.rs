//! `kubectl zt bootstrap --push-parameters --gates`: the Parameter Store push placed right after
//! the render and the platform gates at the end, as the dry-run plan shows them (paths and
//! expected Applications, never a value), and a missing variable stopping the run before its
//! first stage. The push and the gates themselves are tested against moto
//! (plugins/tests/secrets_push.rs) and the real control plane (plugins/tests/status_cluster.rs).

use std::path::Path;
use std::process::Command;

use zt_test_support::cli::{self, text};
use zt_test_support::talos_lines::copy_tree;
use zt_test_support::workspace_root;

const CREDENTIALS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_PLATFORMSTAGESTOKEN"),
    ("TENANTS_REPO_NAME", "zerotouch-tenants"),
    ("AWS_ACCESS_KEY_ID", "AKIAPLATFORMSTAGES"),
    ("AWS_SECRET_ACCESS_KEY", "platform-stages-aws-secret"),
    ("OPENAI_API_KEY", "sk-platform-stages-openai"),
];

fn zt(home: &Path, credentials: &[(&str, &str)]) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    let path = std::env::var("PATH").unwrap_or_default();
    let mut c = cli::plugin(bin, &workspace_root(), credentials, &path);
    c.env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("AWS_REGION");
    c
}

const ARGS: &[&str] = &[
    "bootstrap",
    "dev",
    "--tenant-repo",
    "examples/tenant-repo",
    "--secrets",
    "examples/example-secrets.yaml",
    "--platform-repo",
    "examples/platform-repo",
    "--push-parameters",
    "--gates",
    "--dry-run",
];

#[test]
fn the_plan_pushes_parameters_after_the_render_and_ends_with_the_gates() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache.json");
    let mut args = ARGS.to_vec();
    args.extend(["--cache", cache.to_str().unwrap()]);
    let o = zt(home.path(), CREDENTIALS).args(&args).output().unwrap();
    let plan = text(&o.stdout);
    assert!(o.status.success(), "{}\n{plan}", text(&o.stderr));
    for want in [
        "  1. render",
        "  2. parameters",
        "push 8 parameters under /zerotouch/prod to Parameter Store in ap-south-1",
        "/zerotouch/prod/github/token (from BOT_GITHUB_TOKEN)",
        "/zerotouch/prod/argocd/repos/zerotouch-tenants/url (from TENANTS_REPO_URL)",
        "/zerotouch/prod/anthropic_api_key skipped (optional; not set: ANTHROPIC_API_KEY)",
        " 20. platform-gates",
        "expected Applications: agent-sandbox-controller, apis, crossplane-operator, dragonfly, foundation-config, kagent, keda, nats, observability",
    ] {
        assert!(plan.contains(want), "`{want}` missing from:\n{plan}");
    }
    let last = plan
        .lines()
        .rfind(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or_default();
    assert!(
        last.contains("platform-gates"),
        "the gates come last: {last}"
    );
    for (_, secret) in CREDENTIALS
        .iter()
        .filter(|(k, _)| !k.ends_with("USERNAME") && !k.ends_with("REPO_NAME"))
    {
        assert!(
            !plan.contains(secret) && !text(&o.stderr).contains(secret),
            "{secret} printed"
        );
    }
    assert!(!cache.exists(), "a dry run writes no stage cache");
}

#[test]
fn an_unset_variable_stops_the_bootstrap_before_its_first_stage() {
    // A tenant repo whose own parameters.yaml needs a variable nothing else does.
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("tenant-repo");
    copy_tree(&workspace_root().join("examples/tenant-repo"), &repo);
    std::fs::write(
        repo.join("parameters.yaml"),
        "parameters:\n  - path: ide-orchestrator/jwt-secret\n    value: ${IDEO_JWT_SECRET}\n",
    )
    .unwrap();
    let mut args = ARGS.to_vec();
    args.retain(|a| *a != "--dry-run");
    args[3] = repo.to_str().unwrap();
    let o = zt(home.path(), CREDENTIALS).args(&args).output().unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("these environment variables are not set: IDEO_JWT_SECRET"),
        "{stderr}"
    );
    assert!(
        stderr.contains("IDEO_JWT_SECRET: needed by /zerotouch/prod/ide-orchestrator/jwt-secret"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(!stderr.contains("talos-apply"), "no stage ran: {stderr}");
}

#[test]
fn a_preview_pushes_parameters_without_a_tenants_repository() {
    // Previews run without tenants: TENANTS_REPO_NAME unset skips the tenants' repository
    // parameters instead of stopping the run.
    let home = tempfile::tempdir().unwrap();
    let platform =
        zt_test_support::git::checkout_of(&workspace_root().join("examples/platform-repo"));
    let credentials: Vec<(&str, &str)> = CREDENTIALS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "TENANTS_REPO_NAME")
        .chain([("AWS_SESSION_TOKEN", "platform-stages-session")])
        .collect();
    let cache = home.path().join("cache.json");
    let o = zt(home.path(), &credentials)
        .args([
            "bootstrap",
            "--mode",
            "preview",
            "--push-parameters",
            "--dry-run",
        ])
        .arg("--platform-repo")
        .arg(platform.path())
        .arg("--cache")
        .arg(&cache)
        .output()
        .unwrap();
    let plan = text(&o.stdout);
    assert!(o.status.success(), "{}\n{plan}", text(&o.stderr));
    for want in [
        "/zerotouch/prod/github/token (from BOT_GITHUB_TOKEN)",
        "argocd/repos/${TENANTS_REPO}/url skipped (optional; not set: TENANTS_REPO_NAME)",
    ] {
        assert!(plan.contains(want), "`{want}` missing from:\n{plan}");
    }
}
