//! Golden tests: the example tenant repositories (production) and a fixed platform checkout
//! (preview) render byte for byte to golden/<case>/. Update only with `make golden`, and read
//! the diff like code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use zt::credentials::Mode;
use zt::render::argocd::PlatformSource;
use zt::render::kind::KindSettings;
use zt::render::{self, PreviewRequest, ProductionRequest, TemplateSource};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::TenantRepo;
use zt_test_support::{golden, workspace_root};

fn example_bundle() -> SecretsBundle {
    zt::examples::bundle().unwrap()
}

fn files(r: &render::Rendered) -> BTreeMap<PathBuf, Vec<u8>> {
    r.tree
        .iter()
        .map(|(p, f)| (p.clone(), f.bytes.clone()))
        .collect()
}

fn render_production(
    tenant: &str,
    env: &str,
    platform: Option<&str>,
) -> BTreeMap<PathBuf, Vec<u8>> {
    let root = workspace_root();
    let tenant = TenantRepo::open(&root.join(tenant)).unwrap();
    let platform = platform.map(|p| RepoFiles::dir(&root.join(p)));
    let creds = zt::examples::env().credentials(Mode::Production).unwrap();
    let rendered = render::render_production(&ProductionRequest {
        tenant: &tenant,
        env,
        bundle: Some(&example_bundle()),
        platform_repo: platform.as_ref(),
        platform: PlatformSource {
            url: "https://github.com/zerotouch-example/zerotouch-platform.git".into(),
            revision: "main".into(),
            overlay: render::DEFAULT_OVERLAY.replace("{env}", env),
        },
        credentials: Some(&creds),
        templates: &TemplateSource::default(),
    })
    .unwrap_or_else(|e| panic!("render failed: {e}"));
    files(&rendered)
}

#[test]
fn golden_dev_one_control_plane_two_workers_cilium_three_tenants() {
    let files = render_production(
        "examples/tenant-repo",
        "dev",
        Some("examples/platform-repo"),
    );
    golden::check_dir(&workspace_root().join("golden/dev"), &files)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn golden_edge_flannel_taints_custom_disks() {
    let files = render_production("examples/tenant-repo-flannel", "edge", None);
    golden::check_dir(&workspace_root().join("golden/edge-flannel"), &files)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Every example rendered for every Talos line after v1.11: the Talos output matches
/// `golden/<example>@<line>/`, and the rest (Argo CD, Secrets) is byte-identical to the
/// example's v1.11 golden, so a line changes machine configs only.
#[test]
fn golden_examples_on_every_later_talos_line() {
    use zt_test_support::talos_lines::{EXAMPLES, LATER_LINES, example_on_line};
    let root = workspace_root();
    for (repo, env, case) in EXAMPLES {
        let platform = (*env == "dev").then_some("examples/platform-repo");
        let v11 = render_production(repo, env, platform);
        for line in LATER_LINES {
            let copy = example_on_line(repo, env, line);
            let files = render_production(&copy.path().display().to_string(), env, platform);
            let (talos, rest): (BTreeMap<_, _>, BTreeMap<_, _>) =
                files.into_iter().partition(|(p, _)| p.starts_with("talos"));
            let v11_rest: BTreeMap<_, _> = v11
                .iter()
                .filter(|(p, _)| !p.starts_with("talos"))
                .map(|(p, b)| (p.clone(), b.clone()))
                .collect();
            assert!(
                rest == v11_rest,
                "{case}@{}: output besides talos/ differs from the v1.11 render",
                line.name
            );
            golden::check_dir(&root.join(format!("golden/{case}@{}", line.name)), &talos)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let a = render_production(
        "examples/tenant-repo",
        "dev",
        Some("examples/platform-repo"),
    );
    let b = render_production(
        "examples/tenant-repo",
        "dev",
        Some("examples/platform-repo"),
    );
    assert_eq!(a, b);
}

/// A platform checkout whose commit is the same on every machine: fixed content, author,
/// committer and dates.
pub fn fixed_platform_checkout() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "platform\n").unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "zt")
            .env("GIT_AUTHOR_EMAIL", "zt@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_NAME", "zt")
            .env("GIT_COMMITTER_EMAIL", "zt@example.com")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "README.md"]);
    git(&["commit", "-q", "-m", "platform"]);
    let sha = git(&["rev-parse", "HEAD"]);
    (dir, sha)
}

#[test]
fn golden_preview() {
    let (checkout, sha) = fixed_platform_checkout();
    assert_eq!(
        sha,
        zt::git::Repo::open(checkout.path())
            .unwrap()
            .head()
            .unwrap()
    );
    let path = checkout
        .path()
        .canonicalize()
        .unwrap()
        .display()
        .to_string();
    use zt::credentials::*;
    let creds = EnvSnapshot::from_pairs([
        (BOT_GITHUB_USERNAME, "zerotouch-example".to_string()),
        (BOT_GITHUB_TOKEN, "example-token-not-a-secret".to_string()),
        (TENANTS_REPO_NAME, "ignored-in-preview".to_string()),
        (AWS_ACCESS_KEY_ID, "ASIAEXAMPLENOTAKEY00".to_string()),
        (
            AWS_SECRET_ACCESS_KEY,
            "example-aws-secret-not-a-secret".to_string(),
        ),
        (AWS_SESSION_TOKEN, "example-session-token".to_string()),
        (OPENAI_API_KEY, "sk-example-not-a-key".to_string()),
    ])
    .credentials(Mode::Preview)
    .unwrap();
    let rendered = render::render_preview(&PreviewRequest {
        platform: PlatformSource {
            url: render::LOCAL_REPO_URL.into(),
            revision: sha,
            overlay: render::PREVIEW_OVERLAY.into(),
        },
        kind: KindSettings {
            name: "zerotouch-preview".into(),
            node_image: None,
            platform_repo: path.clone(),
        },
        credentials: Some(&creds),
        templates: &TemplateSource::default(),
    })
    .unwrap();
    // The checkout lives in a temporary directory; golden files hold a placeholder for it.
    let files = files(&rendered)
        .into_iter()
        .map(|(p, b)| {
            (
                p,
                String::from_utf8(b)
                    .unwrap()
                    .replace(&path, "/PLATFORM_REPO")
                    .into_bytes(),
            )
        })
        .collect();
    golden::check_dir(&workspace_root().join("golden/preview"), &files)
        .unwrap_or_else(|e| panic!("{e}"));
}
