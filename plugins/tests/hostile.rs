//! Hostile inputs, through the plugin binary as CI runs it: whoever can commit to the tenant
//! repository (and so plant files and links in the output directory a CI job checks), or
//! answer on the node network. Every case asserts the exit code, that the message names the
//! path it is about, that no secret value appears in any output stream, and that nothing
//! outside the output directory changed. See docs/threat-model.md.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zt_test_support::cli::{self, text};
use zt_test_support::workspace_root;

/// Fake credentials, exported as a CI job would; none may ever appear in an output stream.
const CREDENTIALS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_HOSTILETESTTOKEN"),
    ("TENANTS_REPO_NAME", "zerotouch-tenants"),
    ("AWS_ACCESS_KEY_ID", "AKIAHOSTILETEST"),
    ("AWS_SECRET_ACCESS_KEY", "hostile-aws-secret"),
    ("AWS_SESSION_TOKEN", "hostile-session-token"),
    ("OPENAI_API_KEY", "sk-hostile-openai"),
    ("ANTHROPIC_API_KEY", "sk-ant-hostile"),
    // Any other secret in a CI job's environment.
    ("ZT_TEST_CI_CANARY", "canary-6b1f0c2e-never-print-me"),
];

/// `kubectl-zt <args>` in the workspace, with the fake credentials and no cluster.
fn zt<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    zt_in(&workspace_root(), args)
}

/// Every value that must never be printed: the credentials, and each line of key material in
/// the example secrets bundle.
fn secret_values() -> Vec<String> {
    let mut values: Vec<String> = CREDENTIALS
        .iter()
        .filter(|(k, _)| *k != "BOT_GITHUB_USERNAME" && *k != "TENANTS_REPO_NAME")
        .map(|(_, v)| v.to_string())
        .collect();
    let bundle =
        fs::read_to_string(workspace_root().join("examples/example-secrets.yaml")).unwrap();
    for line in bundle.lines() {
        if let Some((key, value)) = line.trim().split_once(": ")
            && matches!(
                key,
                "key" | "secret" | "token" | "bootstraptoken" | "secretboxencryptionsecret"
            )
        {
            // A base64 PEM is long; any 24 characters of it would identify it.
            values.push(value.trim_matches('"').chars().take(24).collect());
        }
    }
    assert!(values.len() > 10, "the bundle's secrets were not found");
    values
}

/// Asserts that neither stream holds a secret value, at any verbosity the case ran with.
fn assert_no_secrets(case: &str, o: &Output) {
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    for v in secret_values() {
        assert!(
            !all.contains(&v),
            "{case}: a secret ({v}) was printed:\n{all}"
        );
    }
}

/// A snapshot of every file under `dir` (path → bytes), not following links.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = walkdir(dir)
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap_or_default();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            out.extend(walkdir(&e.path()));
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// render --check over an output directory someone else filled (audit finding 1)

/// A workspace for one `render --check` case: an up-to-date output directory and, beside it,
/// "outside" files an attacker would like printed (a copy of the secrets bundle).
struct CheckCase {
    tmp: tempfile::TempDir,
    out: String,
}

impl CheckCase {
    fn new() -> CheckCase {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("outside")).unwrap();
        fs::copy(
            workspace_root().join("examples/example-secrets.yaml"),
            tmp.path().join("outside/secrets.yaml"),
        )
        .unwrap();
        let out = tmp.path().join("out").to_str().unwrap().to_string();
        let case = CheckCase { tmp, out };
        let o = zt(&case.args(false));
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(
            zt(&case.args(true)).status.code(),
            Some(0),
            "fresh render is up to date"
        );
        case
    }

    fn out(&self) -> PathBuf {
        PathBuf::from(&self.out)
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    fn args(&self, check: bool) -> Vec<&str> {
        let mut a = vec![
            "render",
            "--tenant-repo",
            "examples/tenant-repo",
            "--env",
            "dev",
            "--secrets",
            "examples/example-secrets.yaml",
            "--platform-repo",
            "examples/platform-repo",
            "--out",
            &self.out,
        ];
        if check {
            a.push("--check");
        }
        a
    }

    /// Replaces `rel` (a file or directory in the output) with `with`.
    fn replace(&self, rel: &str, with: impl FnOnce(&Path)) {
        let p = self.out().join(rel);
        if p.is_dir() {
            fs::remove_dir_all(&p).unwrap();
        } else {
            fs::remove_file(&p).unwrap();
        }
        with(&p);
    }

    /// Runs `render --check` at every verbosity and asserts a refusal naming `rel`, with no
    /// secret shown and nothing outside the output directory touched.
    fn assert_refused(&self, case: &str, rel: &str, why: &str) {
        let before = snapshot(&self.outside());
        for extra in [&[][..], &["-v"][..], &["-q"][..]] {
            let mut args = self.args(true);
            args.extend_from_slice(extra);
            let o = zt(&args);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{case} {extra:?}: {err}");
            assert!(
                err.contains(rel) && err.contains(why),
                "{case} {extra:?}: expected `{rel}` and `{why}` in:\n{err}"
            );
            assert!(
                !err.contains("missing in"),
                "{case}: reported as missing:\n{err}"
            );
            assert_no_secrets(case, &o);
        }
        assert_eq!(snapshot(&self.outside()), before, "{case}: outside changed");
    }
}

#[cfg(unix)]
#[test]
fn check_refuses_links_and_special_files_in_the_output_directory() {
    use std::os::unix::fs::symlink;

    type Plant = Box<dyn Fn(&CheckCase, &Path)>;
    let cases: Vec<(&str, &str, &str, Plant)> = vec![
        (
            "file linked to the process environment",
            "argocd/root.yaml",
            "symbolic link",
            Box::new(|_, p| symlink("/proc/self/environ", p).unwrap()),
        ),
        (
            "file linked to the secrets bundle",
            "argocd/root.yaml",
            "symbolic link",
            Box::new(|c, p| symlink(c.outside().join("secrets.yaml"), p).unwrap()),
        ),
        (
            "secret file linked to the secrets bundle",
            "secrets/repo-credentials.yaml",
            "symbolic link",
            Box::new(|c, p| symlink(c.outside().join("secrets.yaml"), p).unwrap()),
        ),
        (
            "file linked to /dev/zero",
            "talos/worker01.yaml",
            "symbolic link",
            Box::new(|_, p| symlink("/dev/zero", p).unwrap()),
        ),
        (
            "relative link out of the tree",
            "talos/talosconfig",
            "symbolic link",
            Box::new(|_, p| symlink("../../outside/secrets.yaml", p).unwrap()),
        ),
        (
            "owned directory linked elsewhere",
            "argocd",
            "symbolic link",
            Box::new(|c, p| symlink(c.outside(), p).unwrap()),
        ),
        (
            "nested directory linked elsewhere",
            "argocd/tenants",
            "symbolic link",
            Box::new(|c, p| symlink(c.outside(), p).unwrap()),
        ),
        (
            "extra link among the owned files",
            "talos/extra.yaml",
            "symbolic link",
            Box::new(|c, _| {
                symlink(
                    c.outside().join("secrets.yaml"),
                    c.out().join("talos/extra.yaml"),
                )
                .unwrap()
            }),
        ),
        (
            "named pipe in place of a file (must not hang)",
            "secrets/aws-access-token.yaml",
            "named pipe",
            Box::new(|_, p| {
                let status = Command::new("mkfifo").arg(p).status().unwrap();
                assert!(status.success());
            }),
        ),
        (
            "a 2 GiB sparse file",
            "argocd/root.yaml",
            "larger than",
            Box::new(|_, p| {
                fs::File::create(p).unwrap().set_len(2 << 30).unwrap();
            }),
        ),
        (
            "a directory in place of a file",
            "talos/cp01-main.yaml",
            "directory",
            Box::new(|_, p| fs::create_dir(p).unwrap()),
        ),
    ];
    for (case, rel, why, plant) in cases {
        let c = CheckCase::new();
        if c.out().join(rel).symlink_metadata().is_ok() {
            c.replace(rel, |p| plant(&c, p));
        } else {
            plant(&c, &c.out().join(rel));
        }
        c.assert_refused(case, rel, why);
    }
}

// ---------------------------------------------------------------------------------------------
// The output swap (audit finding 4) and -q (finding 6)

#[test]
fn staging_left_by_a_killed_render_is_removed_and_named_and_quiet_means_quiet() {
    let c = CheckCase::new();
    let stale = c.out().join(".zt-render-k1ll3d/secrets");
    fs::create_dir_all(&stale).unwrap();
    fs::copy(
        workspace_root().join("examples/example-secrets.yaml"),
        stale.join("copy.yaml"),
    )
    .unwrap();
    let o = zt(&c.args(false));
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(".zt-render-k1ll3d") && err.contains("interrupted"),
        "{err}"
    );
    assert!(!c.out().join(".zt-render-k1ll3d").exists());
    assert_no_secrets("stale staging", &o);

    // -q: errors only. No file list, no warnings (the example's optional keys are unset).
    let mut args = c.args(false);
    args.push("-q");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    cmd.current_dir(workspace_root()).args(&args);
    for (k, v) in CREDENTIALS.iter().filter(|(k, _)| !k.ends_with("_API_KEY")) {
        cmd.env(k, v);
    }
    let o = cmd
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        (text(&o.stdout), text(&o.stderr)),
        (String::new(), String::new())
    );
}

// ---------------------------------------------------------------------------------------------
// Paths that leave the repository (audit finding 5)

/// `kubectl-zt <args>` in `dir` with the credentials.
fn zt_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Output {
    cli::command(env!("CARGO_BIN_EXE_kubectl-zt"), dir, CREDENTIALS)
        .args(args)
        .output()
        .unwrap()
}

/// Makes `dir` a service repository for `deploy --env pr`: `ci/config.yaml` names service
/// `my-svc` in `team-a`; returns its (empty) claims directory.
fn service_repo_in(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir.join("ci")).unwrap();
    fs::write(
        dir.join("ci/config.yaml"),
        "service:\n  name: my-svc\n  namespace: team-a\n",
    )
    .unwrap();
    let claims = dir.join("platform/my-svc/overlays/pr");
    fs::create_dir_all(&claims).unwrap();
    claims
}

/// A scratch area: `repo/` (a copy of `src`) and `outside/` (a copy of the same tree, which
/// nothing may change).
fn repo_beside_outside(src: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, outside) = (tmp.path().join("repo"), tmp.path().join("outside"));
    for d in [&repo, &outside] {
        copy_tree(&workspace_root().join(src), d);
    }
    (tmp, repo, outside)
}

/// The example platform repo as a git checkout (preview-patch pins a commit), beside a copy.
fn platform_checkout_beside_outside() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, repo, outside) = repo_beside_outside("examples/platform-repo");
    let git = zt_test_support::git::git;
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "fixture"]);
    (tmp, repo, outside)
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn assert_refused(case: &str, o: &Output, needles: &[&str]) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{case}: {err}");
    for n in needles {
        assert!(err.contains(n), "{case}: expected `{n}` in:\n{err}");
    }
    assert_no_secrets(case, o);
}

#[cfg(unix)]
#[test]
fn preview_patch_never_writes_through_a_link() {
    use std::os::unix::fs::symlink;

    // A leading directory of the patches' globs is a link to a copy outside the repo.
    let (_tmp, repo, outside) = platform_checkout_beside_outside();
    let before = snapshot(&outside);
    fs::remove_dir_all(repo.join("bootstrap")).unwrap();
    symlink("../outside/bootstrap", repo.join("bootstrap")).unwrap();
    let o = zt_in(&repo, &["preview-patch", "--force"]);
    assert_refused(
        "linked leading directory",
        &o,
        &["bootstrap", "symbolic link"],
    );
    assert_eq!(snapshot(&outside), before, "files outside the repo changed");

    // A file a patch would edit is a link: editing would replace the link or write through it.
    let (_tmp, repo, outside) = platform_checkout_beside_outside();
    let before = snapshot(&outside);
    let o = zt_in(&repo, &["preview-patch", "--check", "--force"]);
    let patched: Vec<String> = text(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.ends_with(".yaml"))
        .map(str::to_string)
        .collect();
    let victim = patched
        .first()
        .unwrap_or_else(|| panic!("no patched file:\n{}", text(&o.stdout)));
    fs::remove_file(repo.join(victim)).unwrap();
    symlink(outside.join(victim), repo.join(victim)).unwrap();
    let o = zt_in(&repo, &["preview-patch", "--force"]);
    assert_refused("linked file", &o, &[victim.as_str(), "symbolic link"]);
    assert_eq!(snapshot(&outside), before, "files outside the repo changed");
}

#[test]
fn deploy_stays_inside_its_root() {
    let (_tmp, repo, outside) = repo_beside_outside("examples/tenant-repo");
    service_repo_in(&repo);
    fs::create_dir_all(outside.join("platform/my-svc/overlays/x")).unwrap();
    let abs = outside.join("platform/my-svc/overlays/x");
    for env in [
        "../../../../outside/platform/my-svc/overlays/x",
        abs.to_str().unwrap(),
        "..",
    ] {
        let o = zt_in(
            &repo,
            &[
                "deploy",
                "--image",
                "sha-abc123",
                "--env",
                env,
                "--dry-run=client",
            ],
        );
        assert_refused(&format!("--env {env}"), &o, &["--env", "not a plain name"]);
    }
}

#[cfg(unix)]
#[test]
fn deploy_refuses_links_in_the_claims_directory() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let claims = service_repo_in(tmp.path());
    symlink("/etc/passwd", claims.join("claim.yaml")).unwrap();
    let o = zt_in(
        tmp.path(),
        &[
            "deploy",
            "--image",
            "sha-abc123",
            "--env",
            "pr",
            "--dry-run=client",
        ],
    );
    assert_refused(
        "claim linked to /etc/passwd",
        &o,
        &["claim.yaml", "symbolic link"],
    );
    assert!(!text(&o.stdout).contains("root:"), "{}", text(&o.stdout));

    // The claims directory itself reached through a link.
    fs::remove_dir_all(tmp.path().join("platform")).unwrap();
    fs::create_dir_all(tmp.path().join("elsewhere/overlays/pr")).unwrap();
    fs::create_dir_all(tmp.path().join("platform")).unwrap();
    symlink("../elsewhere", tmp.path().join("platform/my-svc")).unwrap();
    let o = zt_in(
        tmp.path(),
        &[
            "deploy",
            "--image",
            "sha-abc123",
            "--env",
            "pr",
            "--dry-run=client",
        ],
    );
    assert_refused("linked service directory", &o, &["my-svc", "symbolic link"]);
}

#[cfg(unix)]
#[test]
fn tenant_files_are_read_only_when_they_are_regular_files_of_sane_size() {
    use std::os::unix::fs::symlink;
    type Plant = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, &str, &str, Plant)> = vec![
        (
            "values linked to /etc/passwd",
            "environments/dev/talos-values.yaml",
            "symbolic link",
            Box::new(|p| symlink("/etc/passwd", p).unwrap()),
        ),
        (
            "values linked to /dev/zero",
            "environments/dev/talos-values.yaml",
            "symbolic link",
            Box::new(|p| symlink("/dev/zero", p).unwrap()),
        ),
        (
            "values as a named pipe (must not hang)",
            "environments/dev/talos-values.yaml",
            "named pipe",
            Box::new(|p| {
                assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
            }),
        ),
        (
            "values as a 2 GiB sparse file",
            "environments/dev/talos-values.yaml",
            "larger than",
            Box::new(|p| fs::File::create(p).unwrap().set_len(2 << 30).unwrap()),
        ),
        (
            "environment directory linked elsewhere",
            "environments/dev",
            "symbolic link",
            // To the same environment outside the repo, so there is a file to read there.
            Box::new(|p| {
                let outside = p
                    .ancestors()
                    .nth(3)
                    .unwrap()
                    .join("outside/environments/dev");
                symlink(outside, p).unwrap()
            }),
        ),
        (
            "tenant config linked to the secrets bundle",
            "tenants/identity-service/config.yaml",
            "symbolic link",
            Box::new(|p| {
                symlink(workspace_root().join("examples/example-secrets.yaml"), p).unwrap()
            }),
        ),
        (
            "repositories directory linked elsewhere",
            "repositories",
            "symbolic link",
            Box::new(|p| {
                let outside = p.ancestors().nth(2).unwrap().join("outside/repositories");
                symlink(outside, p).unwrap()
            }),
        ),
        (
            "a tenant's directory linked elsewhere",
            "tenants/identity-service",
            "symbolic link",
            Box::new(|p| {
                let outside = p
                    .ancestors()
                    .nth(3)
                    .unwrap()
                    .join("outside/tenants/identity-service");
                symlink(outside, p).unwrap()
            }),
        ),
        (
            "repository linked to /proc/self/environ",
            "repositories/catalog-repo.yaml",
            "symbolic link",
            Box::new(|p| symlink("/proc/self/environ", p).unwrap()),
        ),
    ];
    for (case, rel, why, plant) in cases {
        let (tmp, repo, _) = repo_beside_outside("examples/tenant-repo");
        let target = repo.join(rel);
        assert!(target.exists(), "{case}: {rel} is not in the example");
        if target.is_dir() {
            fs::remove_dir_all(&target).unwrap();
        } else {
            fs::remove_file(&target).unwrap();
        }
        plant(&target);
        let out = tmp.path().join("out");
        for args in [
            vec!["validate", "--tenant-repo", repo.to_str().unwrap()],
            vec![
                "render",
                "--tenant-repo",
                repo.to_str().unwrap(),
                "--env",
                "dev",
                "--secrets",
                "examples/example-secrets.yaml",
                "--platform-repo",
                "examples/platform-repo",
                "--out",
                out.to_str().unwrap(),
            ],
        ] {
            let o = zt(&args);
            let name = Path::new(rel).file_name().unwrap().to_str().unwrap();
            assert_refused(&format!("{case} ({})", args[0]), &o, &[name, why]);
            assert!(!out.exists(), "{case}: render wrote output");
        }
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    // `kubectl zt deploy --dry-run=client | head -c 100` over a claim larger than a pipe's
    // buffer: the writer meets the closed pipe.
    let tmp = tempfile::tempdir().unwrap();
    let claims = service_repo_in(tmp.path());
    fs::write(
        claims.join("claim.yaml"),
        format!(
            "apiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc\n\
             spec:\n  image: \"ghcr.io/org/my-svc:v1\"\n  notes: \"{}\"\n",
            "x".repeat(1 << 20)
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-zt"))
        .current_dir(tmp.path())
        .args([
            "deploy",
            "--image",
            "sha-abc123",
            "--env",
            "pr",
            "--dry-run=client",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Credentials inside URLs (audit finding 6)

#[test]
fn credentials_inside_urls_are_refused_and_never_echoed() {
    let token = "ghp_HOSTILETESTTOKEN";
    // --platform-repo-url on the command line, with a token or an ssh password.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for (case, url) in [
        (
            "--platform-repo-url with a token",
            format!("https://x-access-token:{token}@github.com/org/zerotouch-platform.git"),
        ),
        (
            "an ssh URL with a password",
            format!("ssh://git:{token}@github.com/org/zerotouch-platform.git"),
        ),
    ] {
        let o = zt(&[
            "render",
            "--tenant-repo",
            "examples/tenant-repo",
            "--env",
            "dev",
            "--secrets",
            "examples/example-secrets.yaml",
            "--platform-repo",
            "examples/platform-repo",
            "--platform-repo-url",
            &url,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_refused(case, &o, &["--platform-repo-url", "credentials"]);
        assert!(!out.exists());
    }

    // cluster.endpoint in talos-values.yaml, and a tenant's repoURL: the line is replaced.
    let edits = [
        (
            "environments/dev/talos-values.yaml",
            "cluster:",
            format!("cluster:\n  endpoint: https://admin:{token}@203.0.113.10:6443"),
        ),
        (
            "tenants/identity-service/config.yaml",
            "repoURL:",
            format!("repoURL: https://{token}@github.com/org/identity.git"),
        ),
    ];
    for (rel, line_start, replacement) in edits {
        let (_tmp, repo, _) = repo_beside_outside("examples/tenant-repo");
        let text = fs::read_to_string(repo.join(rel)).unwrap();
        assert!(text.lines().any(|l| l.starts_with(line_start)), "{rel}");
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with(line_start) {
                    replacement.as_str()
                } else {
                    l
                }
            })
            .flat_map(|l| [l, "\n"])
            .collect();
        fs::write(repo.join(rel), text).unwrap();
        let o = zt(&["validate", "--tenant-repo", repo.to_str().unwrap()]);
        assert_refused(rel, &o, &[rel, "credentials"]);
    }
}

#[test]
fn a_base_tenant_config_is_checked_even_where_an_overlay_wins() {
    let (_tmp, repo, _) = repo_beside_outside("examples/tenant-repo");
    let base = repo.join("tenants/catalog/config.yaml");
    assert!(
        repo.join("tenants/catalog/overlays/dev/config.yaml")
            .is_file()
    );
    let text = fs::read_to_string(&base).unwrap();
    fs::write(&base, format!("{text}targetRevison: main\n")).unwrap();
    for args in [
        vec!["validate", "--tenant-repo", repo.to_str().unwrap()],
        vec![
            "validate",
            "--tenant-repo",
            repo.to_str().unwrap(),
            "--env",
            "dev",
        ],
    ] {
        let o = zt(&args);
        assert_refused(
            "typo in a base config beside an overlay",
            &o,
            &["tenants/catalog/config.yaml", "targetRevison"],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile talos-values.yaml through `validate` and `render`: addresses that would send the CA
// keys to the wrong machine, YAML bombs, secrets that must not be echoed.

#[test]
fn hostile_talos_values_are_refused_with_a_position_and_without_secrets() {
    let values = "environments/dev/talos-values.yaml";
    // (case, what replaces the control plane's `ip:` or `rescue_password:` line (or else the
    // whole file), what the message must say)
    let deep = format!(
        "controlplane: {}1{}\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let bomb = {
        let mut s = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i", "j"])
        {
            s.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        s
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unspecified address",
            r#"  ip: "0.0.0.0""#.into(),
            "unspecified address",
        ),
        (
            "loopback address",
            r#"  ip: "127.0.0.1""#.into(),
            "loopback address",
        ),
        ("IPv6 loopback", r#"  ip: "::1""#.into(), "loopback address"),
        (
            "IPv4 link-local",
            r#"  ip: "169.254.169.254""#.into(),
            "link-local address",
        ),
        (
            "IPv6 link-local",
            r#"  ip: "fe80::1""#.into(),
            "link-local address",
        ),
        (
            "IPv4-mapped loopback",
            r#"  ip: "::ffff:127.0.0.1""#.into(),
            "loopback address",
        ),
        (
            "broadcast",
            r#"  ip: "255.255.255.255""#.into(),
            "broadcast address",
        ),
        (
            "a rescue password of the wrong type (its value must not be echoed)",
            "  rescue_password: [\"hostile-aws-secret\"]".into(),
            "rescue_password",
        ),
        ("an alias bomb", bomb, "alias"),
        (
            "5,000 nested sequences",
            deep,
            "environments/dev/talos-values.yaml",
        ),
    ];
    for (case, replacement, why) in cases {
        let (_tmp, repo, _) = repo_beside_outside("examples/tenant-repo");
        let original = fs::read_to_string(repo.join(values)).unwrap();
        let new: String = if replacement.starts_with("  ip:") {
            original.replacen(r#"  ip: "203.0.113.10""#, &replacement, 1)
        } else if replacement.starts_with("  rescue_password:") {
            original.replacen(r#"  rescue_password: "auto-generated""#, &replacement, 1)
        } else {
            replacement.clone()
        };
        assert_ne!(new, original, "{case}");
        fs::write(repo.join(values), &new).unwrap();
        let o = zt(&["validate", "--tenant-repo", repo.to_str().unwrap()]);
        assert_refused(case, &o, &[values, why]);
        if replacement.starts_with("  ip:") {
            // The message points at the line of the address.
            assert!(
                text(&o.stderr).contains(&format!("{values}:5:7")),
                "{case}: {}",
                text(&o.stderr)
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn special_and_oversized_files_in_a_service_or_platform_repo_are_refused() {
    use std::os::unix::fs::symlink;
    let mkfifo = |p: &Path| assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
    let sparse = |p: &Path| fs::File::create(p).unwrap().set_len(2 << 30).unwrap();

    // deploy: ci/config.yaml linked, a claim that is a FIFO, a claim of 2 GiB.
    type Plant = Box<dyn Fn(&Path)>;
    let deploy_cases: Vec<(&str, &str, &str, Plant)> = vec![
        (
            "ci/config.yaml linked to /etc/passwd",
            "ci/config.yaml",
            "symbolic link",
            Box::new(|p| symlink("/etc/passwd", p).unwrap()),
        ),
        (
            "a claim that is a named pipe",
            "platform/my-svc/overlays/pr/claim.yaml",
            "named pipe",
            Box::new(mkfifo),
        ),
        (
            "a claim of 2 GiB",
            "platform/my-svc/overlays/pr/claim.yaml",
            "larger than",
            Box::new(sparse),
        ),
    ];
    for (case, rel, why, plant) in deploy_cases {
        let tmp = tempfile::tempdir().unwrap();
        service_repo_in(tmp.path());
        let target = tmp.path().join(rel);
        let _ = fs::remove_file(&target);
        plant(&target);
        let o = zt_in(
            tmp.path(),
            &[
                "deploy",
                "--image",
                "sha-abc123",
                "--env",
                "pr",
                "--dry-run=client",
            ],
        );
        let name = Path::new(rel).file_name().unwrap().to_str().unwrap();
        assert_refused(case, &o, &[name, why]);
    }

    // preview-patch: a file its patches edit is a FIFO, or 2 GiB.
    for (case, why, plant) in [
        (
            "a patched file that is a named pipe",
            "named pipe",
            &mkfifo as &dyn Fn(&Path),
        ),
        ("a patched file of 2 GiB", "larger than", &sparse),
    ] {
        let (_tmp, repo, outside) = platform_checkout_beside_outside();
        let before = snapshot(&outside);
        let victim = "bootstrap/argocd/base/05-nats.yaml";
        fs::remove_file(repo.join(victim)).unwrap();
        plant(&repo.join(victim));
        let o = zt_in(&repo, &["preview-patch", "--force"]);
        assert_refused(case, &o, &[victim, why]);
        assert_eq!(snapshot(&outside), before, "{case}: outside changed");
    }
}
