//! The plugins as users run them: through the real `kubectl` where it is installed (plugin
//! dispatch, exit codes, stdout/stderr), and directly otherwise.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use zt_test_support::cli::{self, text};
use zt_test_support::oracles::oracles_dir;
use zt_test_support::workspace_root;

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kubectl-zt"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Fake credentials, as a CI job would export them.
const CREDENTIALS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_CLITESTTOKEN"),
    ("TENANTS_REPO_NAME", "zerotouch-tenants"),
    ("AWS_ACCESS_KEY_ID", "AKIACLITEST"),
    ("AWS_SECRET_ACCESS_KEY", "cli-aws-secret"),
    ("AWS_SESSION_TOKEN", "cli-session-token"),
    ("OPENAI_API_KEY", "sk-cli-openai"),
    ("ANTHROPIC_API_KEY", "sk-ant-cli"),
];

/// The command with a controlled environment: no credentials, no CI markers, no cluster.
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    cli::command(program, &workspace_root(), &[])
}

/// `render` of environment `dev` of tenant repo `repo` into `out`, with the example bundle.
fn render_dev<'a>(repo: &'a str, out: &'a str) -> [&'a str; 9] {
    [
        "render",
        "--tenant-repo",
        repo,
        "--env",
        "dev",
        "--secrets",
        "examples/example-secrets.yaml",
        "--out",
        out,
    ]
}

/// `kubectl-zt <args>` run directly, with the fake credentials set.
fn zt(args: &[&str]) -> Output {
    zt_with(args, CREDENTIALS)
}

/// `kubectl-zt <args>` with exactly the credentials in `env`.
fn zt_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = command(env!("CARGO_BIN_EXE_kubectl-zt"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The kubectl that dispatches the plugins: the kubectl 1.34 `make oracles` builds from
/// k8s.io/kubernetes when it is there, else a kubectl on PATH (Debian's is older: plugin
/// completion needs 1.26+). With `ZT_REQUIRE_ORACLES` set the built one must be there, so CI
/// always tests against the kubectl users run.
fn kubectl_path() -> Option<PathBuf> {
    static KUBECTL: OnceLock<Option<PathBuf>> = OnceLock::new();
    KUBECTL
        .get_or_init(|| {
            let built = oracles_dir().join("kubectl");
            if built.is_file() {
                return Some(built);
            }
            if std::env::var_os("ZT_REQUIRE_ORACLES").is_some() {
                panic!(
                    "ZT_REQUIRE_ORACLES is set but {} is not built (run `make oracles`)",
                    built.display()
                );
            }
            eprintln!(
                "{} is not built (`make oracles`): using kubectl from PATH if there is one",
                built.display()
            );
            // As an absolute path: some tests run kubectl with a PATH holding only plugins.
            let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join("kubectl"))
                .find(|p| p.is_file())?;
            Command::new(&on_path)
                .args(["version", "--client"])
                .output()
                .is_ok_and(|o| o.status.success())
                .then_some(on_path)
        })
        .clone()
}

fn kubectl_available() -> bool {
    kubectl_path().is_some()
}

/// `kubectl`, as [`kubectl_path`] chose it; call only when [`kubectl_available`].
fn kubectl_command() -> Command {
    command(kubectl_path().expect("kubectl_available() was checked"))
}

/// `kubectl zt <args>` with the freshly built plugins first on PATH.
fn kubectl_zt(args: &[&str]) -> Option<Output> {
    if !kubectl_available() {
        eprintln!("kubectl not installed: skipping the kubectl dispatch check");
        return None;
    }
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Some(
        kubectl_command()
            .arg("zt")
            .args(args)
            .env("PATH", path)
            .output()
            .unwrap(),
    )
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn kubectl_zt_render_example_writes_the_tree() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("out");
    let dir_s = dir.to_str().unwrap();
    let o = kubectl_zt(&["render", "--example", "--out", dir_s])
        .unwrap_or_else(|| zt(&["render", "--example", "--out", dir_s]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    for f in [
        "talos/cp01-main.yaml",
        "talos/worker01.yaml",
        "talos/worker02.yaml",
        "talos/talosconfig",
    ] {
        let p = dir.join(f);
        assert!(p.is_file(), "{f} missing");
        #[cfg(unix)]
        assert_eq!(mode(&p), 0o600, "{f} holds keys");
        assert!(text(&o.stdout).contains(f), "summary lists {f}");
    }
    // The example equals the dev golden output byte for byte.
    for f in ["talos/cp01-main.yaml", "talos/talosconfig"] {
        assert_eq!(
            fs::read(dir.join(f)).unwrap(),
            fs::read(workspace_root().join("golden/dev").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn kubectl_dispatches_each_command_plugin() {
    let Some(o) = kubectl_zt(&["render", "--help"]) else {
        return;
    };
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains("Render everything a ZeroTouch environment needs"),
        "{}",
        text(&o.stdout)
    );
    let o = kubectl_zt(&["validate", "--tenant-repo", "examples/tenant-repo"]).unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = kubectl_zt(&["secrets", "gen", "--help"]).unwrap();
    assert!(text(&o.stdout).contains("--force"));
    let o = kubectl_zt(&["bogus-command"]).unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "usage errors exit 2: {}",
        text(&o.stderr)
    );
}

#[test]
fn render_without_secrets_says_how_to_make_them() {
    let o = zt(&[
        "render",
        "--tenant-repo",
        "examples/tenant-repo",
        "--env",
        "dev",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("kubectl zt secrets gen"),
        "{}",
        text(&o.stderr)
    );
}

/// `render --env dev` of a tenant repo holding only the values fixture `name`: the repo (kept
/// alive), its output directory and the command's output.
fn render_values_fixture(name: &str) -> (tempfile::TempDir, PathBuf, Output) {
    let repo = tempfile::tempdir().unwrap();
    let env_dir = repo.path().join("environments/dev");
    fs::create_dir_all(&env_dir).unwrap();
    fs::copy(
        workspace_root()
            .join("tests/testdata/talos-values")
            .join(name),
        env_dir.join("talos-values.yaml"),
    )
    .unwrap();
    let out = repo.path().join("out");
    let o = zt(&render_dev(
        repo.path().to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    (repo, out, o)
}

#[test]
fn bad_input_reports_every_problem_and_writes_nothing() {
    let (repo, out, o) = render_values_fixture("invalid-server-ip.yaml");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("talos-values.yaml:3:7: controlplane.ip: `SERVER_IP` is not an IP address"),
        "{err}"
    );
    assert!(
        err.contains("talos-values.yaml:6:9: workers[0].ip"),
        "{err}"
    );
    assert!(err.contains("2 problems"), "{err}");
    assert!(!out.exists(), "nothing may be written on error");

    let o = zt(&[
        "render",
        "--tenant-repo",
        repo.path().to_str().unwrap(),
        "--env",
        "prod",
        "--secrets",
        "examples/example-secrets.yaml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("environments that exist: dev"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_patch_that_does_not_apply_exits_1_and_writes_nothing() {
    let repo = tempfile::tempdir().unwrap();
    let env_dir = repo.path().join("environments/dev");
    fs::create_dir_all(&env_dir).unwrap();
    let values =
        fs::read_to_string(workspace_root().join("tests/testdata/talos-values/valid-patches.yaml"))
            .unwrap();
    // A worker patch adding a CA private key: the worker check runs after the patches.
    let values = values.replace(
        "worker_patches:\n",
        "worker_patches:\n  - machine:\n      ca:\n        key: \"c2VjcmV0LWtleQ==\"\n",
    );
    fs::write(env_dir.join("talos-values.yaml"), &values).unwrap();
    let out = repo.path().join("out");
    let o = zt(&render_dev(
        repo.path().to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("talos-values.yaml:32:5: worker_patches[0]: on node `worker01`"),
        "{err}"
    );
    assert!(err.contains("must not carry machine.ca.key"), "{err}");
    assert!(!err.contains("c2VjcmV0LWtleQ=="), "{err}");
    assert!(!out.exists(), "nothing may be written on error");
}

#[test]
fn every_talos_line_renders_validates_and_checks_through_the_cli() {
    use zt_test_support::talos_lines::{LATER_LINES, example_on_line};
    for line in LATER_LINES {
        let repo = example_on_line("examples/tenant-repo", "dev", line);
        let repo_s = repo.path().to_str().unwrap();
        let out = repo.path().join("out");
        let args = [
            "render",
            "--tenant-repo",
            repo_s,
            "--env",
            "dev",
            "--secrets",
            "examples/example-secrets.yaml",
            "--platform-repo",
            "examples/platform-repo",
            "--out",
            out.to_str().unwrap(),
        ];
        let o = zt(&args);
        assert!(o.status.success(), "{}: {}", line.name, text(&o.stderr));
        for f in ["cp01-main.yaml", "worker01.yaml", "talosconfig"] {
            assert_eq!(
                fs::read(out.join("talos").join(f)).unwrap(),
                fs::read(
                    workspace_root()
                        .join(format!("golden/dev@{}/talos", line.name))
                        .join(f)
                )
                .unwrap(),
                "{} {f}",
                line.name
            );
        }
        let mut check = args.to_vec();
        check.push("--check");
        let o = zt(&check);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            line.name,
            text(&o.stderr)
        );
        let o = zt(&["validate", "--tenant-repo", repo_s]);
        assert!(o.status.success(), "{}: {}", line.name, text(&o.stderr));
    }

    // A line kubectl zt does not render for: the error names the supported ones; nothing is
    // written.
    let (_repo, out, o) = render_values_fixture("invalid-talos-1.14.yaml");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("talos-values.yaml:8:12: talos.version: Talos v1.14.0 is not supported")
            && err.contains("v1.11.x, v1.12.x, v1.13.x"),
        "{err}"
    );
    assert!(!out.exists(), "nothing may be written on error");
}

#[test]
fn check_reports_drift_with_secrets_redacted() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    let args = [
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
        out_s,
    ];
    assert!(zt(&args).status.success());
    let mut check = args.to_vec();
    check.push("--check");
    let o = zt(&check);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    // Drift: a changed label, a changed key, a stray file.
    let cp = out.join("talos/worker01.yaml");
    let original = fs::read_to_string(&cp).unwrap();
    let bundle =
        fs::read_to_string(workspace_root().join("examples/example-secrets.yaml")).unwrap();
    let token_line = bundle
        .lines()
        .find(|l| l.contains("bootstraptoken:"))
        .unwrap();
    let token = token_line.split(": ").nth(1).unwrap().trim();
    assert!(original.contains(token));
    fs::write(
        &cp,
        original
            .replace(
                "topology.kubernetes.io/zone: worker01",
                "topology.kubernetes.io/zone: rack9",
            )
            .replace(token, "aaaaaa.bbbbbbbbbbbbbbbb"),
    )
    .unwrap();
    fs::write(out.join("talos/stray.yaml"), "x: 1\n").unwrap();
    let o = zt(&check);
    assert_eq!(o.status.code(), Some(1));
    let diff = text(&o.stdout);
    assert!(
        diff.contains("-    topology.kubernetes.io/zone: rack9")
            && diff.contains("+    topology.kubernetes.io/zone: worker01"),
        "{diff}"
    );
    assert!(
        !diff.contains(token) && !diff.contains("aaaaaa.bbbbbbbbbbbbbbbb"),
        "a token leaked into the diff:\n{diff}"
    );
    assert!(
        diff.contains("talos/stray.yaml: not produced by this render"),
        "{diff}"
    );
    assert!(
        text(&o.stderr).contains("2 files differ"),
        "{}",
        text(&o.stderr)
    );
}

/// `kubectl-zt <args>` in `dir` with `stdin` piped in.
fn zt_with_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cli::command(env!("CARGO_BIN_EXE_kubectl-zt"), dir, CREDENTIALS)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_dash_means_stdout_for_secrets_gen_and_stdin_for_every_secrets_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let o = cli::command(env!("CARGO_BIN_EXE_kubectl-zt"), tmp.path(), CREDENTIALS)
        .args(["secrets", "gen", "--out", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Nothing on disk: no file named `-`, nothing at all.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    assert!(text(&o.stderr).contains("stdout"), "{}", text(&o.stderr));
    let bundle = o.stdout;
    // The bundle itself on stdout, and only it (messages go to stderr).
    assert!(
        text(&bundle).starts_with("cluster:\n"),
        "stdout is not a bundle"
    );
    assert!(
        text(&bundle).contains("\ncerts:\n"),
        "stdout is not a bundle"
    );

    let o = zt_with_stdin(tmp.path(), &["secrets", "check", "--secrets", "-"], &bundle);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("<stdin>: valid"),
        "{}",
        text(&o.stderr)
    );

    let repo = workspace_root().join("examples/tenant-repo");
    let out = tmp.path().join("out");
    let o = zt_with_stdin(
        tmp.path(),
        &[
            "render",
            "--tenant-repo",
            repo.to_str().unwrap(),
            "--env",
            "dev",
            "--secrets",
            "-",
            "--out",
            out.to_str().unwrap(),
        ],
        &bundle,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.join("talos/talosconfig").is_file());

    // A damaged bundle on stdin is reported as <stdin>, by field, without its value.
    let o = zt_with_stdin(
        tmp.path(),
        &["secrets", "check", "--secrets", "-"],
        b"version: v1\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("<stdin>"), "{}", text(&o.stderr));
}

#[test]
fn secrets_gen_is_private_and_never_clobbers() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("secrets.yaml");
    let p = path.to_str().unwrap();
    let o = zt(&["secrets", "gen", "--out", p]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let first = fs::read(&path).unwrap();
    let o = zt(&["secrets", "gen", "--out", p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    assert_eq!(fs::read(&path).unwrap(), first);
    assert!(
        zt(&["secrets", "gen", "--out", p, "--force"])
            .status
            .success()
    );
    assert_ne!(fs::read(&path).unwrap(), first, "a new bundle each time");
    assert!(zt(&["secrets", "check", "--secrets", p]).status.success());
    assert!(
        zt(&[
            "validate",
            "--tenant-repo",
            "examples/tenant-repo",
            "--secrets",
            p
        ])
        .status
        .success()
    );

    // A damaged bundle is an error that names the field but never shows the value.
    let text_bundle = fs::read_to_string(&path).unwrap();
    let secret_line = text_bundle
        .lines()
        .find(|l| l.trim_start().starts_with("secret:"))
        .unwrap();
    let value = secret_line.split(": ").nth(1).unwrap().trim().to_string();
    fs::write(&path, text_bundle.replace(&value, &format!("{value}!!"))).unwrap();
    let o = zt(&["secrets", "check", "--secrets", p]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("cluster.secret"), "{err}");
    assert!(!err.contains(&value), "the secret value leaked: {err}");
}

#[test]
fn validate_checks_every_environment() {
    let o = zt(&["validate", "--tenant-repo", "examples/tenant-repo-flannel"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("environment edge is valid"),
        "{}",
        text(&o.stderr)
    );
    let repo = tempfile::tempdir().unwrap();
    for (env, fixture) in [
        ("a", "invalid-duplicates.yaml"),
        ("b", "invalid-versions.yaml"),
        ("c", "valid-minimal.yaml"),
    ] {
        let d = repo.path().join("environments").join(env);
        fs::create_dir_all(&d).unwrap();
        fs::copy(
            workspace_root()
                .join("tests/testdata/talos-values")
                .join(fixture),
            d.join("talos-values.yaml"),
        )
        .unwrap();
    }
    let o = zt(&["validate", "--tenant-repo", repo.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("environments/a/talos-values.yaml:7:11")
            && err.contains("environments/b/talos-values.yaml:7:12"),
        "{err}"
    );
    assert!(err.contains("4 problems"), "{err}");
}

#[test]
fn completion_scripts_and_the_kubectl_completer() {
    let o = zt(&["completion", "bash"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("kubectl-zt"), "bash script");
    let o = Command::new(bin_dir().join("kubectl_complete-zt"))
        .args([
            "render",
            "--tenant-repo",
            "examples/tenant-repo",
            "--env",
            "",
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "dev\n:4\n");
}

#[cfg(unix)]
#[test]
fn kubectl_completes_plugin_arguments_through_our_completer() {
    // kubectl (1.26+) completes `kubectl zt render ...` by running the completer named after the
    // plugin it dispatches to: kubectl_complete-zt-render for kubectl-zt-render. Set up as
    // `make install` does (links to the two binaries), with nothing else on PATH.
    if !kubectl_available() {
        eprintln!("no kubectl: skipping the kubectl completion check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["", "-render", "-preview_patch"] {
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_kubectl-zt"),
            dir.path().join(format!("kubectl-zt{cmd}")),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            bin_dir().join("kubectl_complete-zt"),
            dir.path().join(format!("kubectl_complete-zt{cmd}")),
        )
        .unwrap();
    }
    let complete = |args: &[&str]| -> Vec<String> {
        let o = kubectl_command()
            .arg("__complete")
            .args(args)
            .env("PATH", dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout).lines().map(str::to_string).collect()
    };
    let lines = complete(&[
        "zt",
        "render",
        "--tenant-repo",
        "examples/tenant-repo",
        "--env",
        "",
    ]);
    // The environments of the tenant repo, and the completer's directive (4: no file
    // completion) passed through kubectl to the shell.
    assert_eq!(lines, ["dev", ":4"]);
    let lines = complete(&["zt", "preview-patch", "--for"]);
    assert!(lines[0].starts_with("--force"), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some(":4"), "{lines:?}");
}

#[test]
fn the_built_kubectl_is_the_pinned_release() {
    let Some(kubectl) = zt_test_support::oracles::oracle_or_skip(
        "kubectl",
        "the_built_kubectl_is_the_pinned_release",
    ) else {
        return;
    };
    // `kubectl version --client` tells the truth: the version tests/oracles/kubectl pins.
    let go_mod = fs::read_to_string(workspace_root().join("tests/oracles/kubectl/go.mod")).unwrap();
    let pinned = go_mod
        .lines()
        .find_map(|l| l.strip_prefix("require k8s.io/kubernetes "))
        .expect("the wrapper requires k8s.io/kubernetes")
        .trim();
    let o = Command::new(kubectl)
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clientVersion"]["gitVersion"], pinned);
    assert_eq!(v["clientVersion"]["minor"], "34");
}

/// A service repository (current layout) in a temporary directory.
fn service_repo(claims: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("ci")).unwrap();
    fs::write(
        dir.path().join("ci/config.yaml"),
        "service:\n  name: my-svc\n  namespace: team-a\ndeployment:\n  wait_timeout: 20\n",
    )
    .unwrap();
    let d = dir.path().join("platform/my-svc/overlays/pr");
    fs::create_dir_all(&d).unwrap();
    for (name, text) in claims {
        fs::write(d.join(name), text).unwrap();
    }
    dir
}

const WEB_CLAIM: &str = "# my service\napiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc\nspec:\n  image: \"ghcr.io/org/my-svc:v1\"   # set by CI\n  port: 8080\n";
const APP_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-svc-app\nstringData:\n  token: ghp_do-not-print-me\n";

/// `kubectl zt deploy ...` run in `dir`, through kubectl when installed.
fn deploy_in(dir: &Path, args: &[&str], kubeconfig: &str) -> Output {
    let mut full = vec!["deploy"];
    full.extend_from_slice(args);
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = if kubectl_available() {
        let mut c = Command::new(kubectl_path().unwrap_or_default());
        c.arg("zt").args(&full).env("PATH", path);
        c
    } else {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-zt"));
        c.args(&full);
        c
    };
    cmd.current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap()
}

#[test]
fn kubectl_zt_deploy_dry_run_client_prints_objects_with_secrets_redacted() {
    let repo = service_repo(&[("web.yaml", WEB_CLAIM), ("secret.yaml", APP_SECRET)]);
    let o = deploy_in(
        repo.path(),
        &["--image", "sha-abc123", "--dry-run=client"],
        "/nonexistent/kubeconfig",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n---\napiVersion: v1\nkind: Secret\n"),
        "{out}"
    );
    assert!(out.contains("  token: <redacted>\n"), "{out}");
    assert!(
        out.contains("  image: ghcr.io/org/my-svc:sha-abc123\n"),
        "{out}"
    );
    let err = text(&o.stderr);
    assert!(
        !out.contains("ghp_") && !err.contains("ghp_"),
        "a secret leaked"
    );
    assert!(
        err.contains(
            "WebService my-svc: image ghcr.io/org/my-svc:v1 -> ghcr.io/org/my-svc:sha-abc123"
        ),
        "{err}"
    );
    // A dry run leaves the claim files alone.
    assert_eq!(
        fs::read_to_string(repo.path().join("platform/my-svc/overlays/pr/web.yaml")).unwrap(),
        WEB_CLAIM
    );
}

#[test]
fn deploy_applies_waits_and_writes_the_claim_file() {
    use zt_test_support::kube_api::{TestApi, objects};
    let repo = service_repo(&[("web.yaml", WEB_CLAIM), ("secret.yaml", APP_SECRET)]);
    let api = TestApi::start();
    api.after_apply("WebService", "my-svc", std::time::Duration::ZERO, |s| {
        s.put(objects::deployment(
            "team-a",
            "my-svc",
            "ghcr.io/org/my-svc:sha-abc123",
            2,
            2,
        ));
        s.set_ready("WebService", "team-a", "my-svc", true, "Available", "");
    });
    let kubeconfig = api.write_kubeconfig(repo.path());
    let o = deploy_in(
        repo.path(),
        &["--image", "sha-abc123", "--write"],
        kubeconfig.to_str().unwrap(),
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        text(&o.stdout).starts_with(
            "deployed my-svc to namespace team-a: ghcr.io/org/my-svc:sha-abc123 is ready after"
        ),
        "{}",
        text(&o.stdout)
    );
    assert!(err.contains("✓ applied WebService team-a/my-svc"), "{err}");
    assert!(err.contains("✓ Deployment team-a/my-svc is ready"), "{err}");
    assert!(!err.contains("ghp_"), "{err}");
    assert_eq!(
        api.get("WebService", "team-a", "my-svc").unwrap()["spec"]["image"],
        "ghcr.io/org/my-svc:sha-abc123"
    );
    // --write changed exactly the image, keeping its quotes and the comment.
    assert_eq!(
        fs::read_to_string(repo.path().join("platform/my-svc/overlays/pr/web.yaml")).unwrap(),
        WEB_CLAIM.replace(
            "\"ghcr.io/org/my-svc:v1\"",
            "\"ghcr.io/org/my-svc:sha-abc123\""
        )
    );
}

#[test]
fn deploy_bad_input_applies_nothing() {
    use zt_test_support::kube_api::TestApi;
    let api = TestApi::start();
    // (claim files, arguments, expected message)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: &[Case] = &[
        (
            &[("web.yaml", WEB_CLAIM)],
            &["--image", "sha abc"],
            "--image: `sha abc` is not a tag or image reference",
        ),
        (
            &[("web.yaml", WEB_CLAIM)],
            &["--image", "localhost:5001/my-svc:dev"],
            "web.yaml:7:10: spec.image: the new image `localhost:5001/my-svc:dev` would be rejected by the WebService schema",
        ),
        (
            &[(
                "web.yaml",
                &WEB_CLAIM.replace("org/my-svc", "org/other-my-svc"),
            )],
            &["--image", "sha-abc123"],
            "no claim runs the service `my-svc`",
        ),
        (
            &[
                ("web.yaml", WEB_CLAIM),
                ("broken.yaml", "kind: [WebService\n"),
            ],
            &["--image", "sha-abc123"],
            "broken.yaml:1:7: not valid YAML",
        ),
    ];
    for (claims, args, want) in cases {
        let repo = service_repo(claims);
        let kubeconfig = api.write_kubeconfig(repo.path());
        let o = deploy_in(repo.path(), args, kubeconfig.to_str().unwrap());
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.contains("nothing was applied"), "{err}");
    }
    // Malformed and missing ci/config.yaml.
    let repo = service_repo(&[("web.yaml", WEB_CLAIM)]);
    fs::write(
        repo.path().join("ci/config.yaml"),
        "service:\n  name: my-svc\n  namespace: [\n",
    )
    .unwrap();
    let kubeconfig = api.write_kubeconfig(repo.path());
    let o = deploy_in(
        repo.path(),
        &["--image", "sha-abc123"],
        kubeconfig.to_str().unwrap(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("ci/config.yaml:3:14: invalid YAML"),
        "{}",
        text(&o.stderr)
    );
    fs::remove_file(repo.path().join("ci/config.yaml")).unwrap();
    let o = deploy_in(
        repo.path(),
        &["--image", "sha-abc123"],
        kubeconfig.to_str().unwrap(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("ci/config.yaml: not found"),
        "{}",
        text(&o.stderr)
    );

    assert!(api.requests().is_empty(), "{:#?}", api.requests());
}

fn git_checkout() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("README.md"), "platform\n").unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(o.status.success());
        text(&o.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "x"]);
    let sha = git(&["rev-parse", "HEAD"]);
    (dir, sha)
}

#[test]
fn preview_pins_the_checkout_commit_and_mounts_it() {
    let (repo, sha) = git_checkout();
    let out = tempfile::tempdir().unwrap();
    let o = zt(&[
        "render",
        "--mode",
        "preview",
        "--platform-repo",
        repo.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let root = fs::read_to_string(out.path().join("argocd/root.yaml")).unwrap();
    assert!(root.contains(&format!("targetRevision: {sha}")), "{root}");
    assert!(root.contains("repoURL: file:///repo"), "{root}");
    let kind = fs::read_to_string(out.path().join("kind/cluster.yaml")).unwrap();
    let abs = repo.path().canonicalize().unwrap();
    assert!(
        kind.contains(&format!("hostPath: {}", abs.display())),
        "{kind}"
    );
    assert!(!out.path().join("argocd/tenants").exists());

    // In CI the GitHub URL stays and only the revision is pinned.
    let mut c = command(env!("CARGO_BIN_EXE_kubectl-zt"));
    for (k, v) in CREDENTIALS {
        c.env(k, v);
    }
    let o = c
        .env("GITHUB_ACTIONS", "true")
        .args([
            "render",
            "--mode",
            "preview",
            "--platform-repo",
            repo.path().to_str().unwrap(),
            "-o",
            "yaml",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stream = text(&o.stdout);
    assert!(
        stream.contains("repoURL: https://github.com/zerotouch-example/zerotouch-platform.git"),
        "{stream}"
    );
    assert!(stream.contains(&sha));
}

#[test]
fn preview_refuses_a_directory_that_is_not_a_git_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = zt(&[
        "render",
        "--mode",
        "preview",
        "--platform-repo",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("not a git checkout"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists());
}

#[test]
fn missing_variables_are_listed_by_name_never_by_value() {
    let (repo, _) = git_checkout();
    let out = repo.path().join("out");
    let only_github = &CREDENTIALS[..2];
    let o = zt_with(
        &[
            "render",
            "--mode",
            "preview",
            "--platform-repo",
            repo.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        only_github,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN"),
        "{err}"
    );
    assert!(!err.contains("ghp_CLITESTTOKEN"), "{err}");
    assert!(!out.exists(), "nothing written");

    let o = zt_with(
        &[
            "render",
            "--env",
            "dev",
            "--tenant-repo",
            "examples/tenant-repo",
            "--secrets",
            "examples/example-secrets.yaml",
            "--out",
            out.to_str().unwrap(),
        ],
        only_github,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("TENANTS_REPO_NAME, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("--skip-secrets"));
    let o = zt_with(
        &[
            "render",
            "--env",
            "dev",
            "--tenant-repo",
            "examples/tenant-repo",
            "--secrets",
            "examples/example-secrets.yaml",
            "--out",
            out.to_str().unwrap(),
            "--skip-secrets",
        ],
        only_github,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.join("argocd/root.yaml").is_file() && !out.join("secrets").exists());
}

#[test]
fn yaml_stream_goes_to_stdout_and_holds_secrets_only_when_asked() {
    let out = tempfile::tempdir().unwrap();
    let o = zt(&[
        "render",
        "--env",
        "dev",
        "--tenant-repo",
        "examples/tenant-repo",
        "-o",
        "yaml",
        "--out",
        out.path().join("x").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stream = text(&o.stdout);
    assert!(
        stream.starts_with("apiVersion: v1\nkind: Namespace\n"),
        "{stream}"
    );
    assert!(
        !stream.contains("kind: Secret\n") && !stream.contains("machine:"),
        "no secrets, no Talos configs"
    );
    assert!(!out.path().join("x").exists(), "-o yaml writes no files");
    let o = zt(&[
        "render",
        "--env",
        "dev",
        "--tenant-repo",
        "examples/tenant-repo",
        "-o",
        "yaml",
        "--include-secrets",
    ]);
    let stream = text(&o.stdout);
    assert!(stream.contains("kind: Secret\n"));
    assert!(stream.find("kind: Secret\n").unwrap() < stream.find("kind: Application\n").unwrap());
}

#[test]
fn check_never_shows_secret_values() {
    let out = tempfile::tempdir().unwrap();
    let o_s = out.path().to_str().unwrap();
    let args = [
        "render",
        "--env",
        "dev",
        "--tenant-repo",
        "examples/tenant-repo",
        "--secrets",
        "examples/example-secrets.yaml",
        "--out",
        o_s,
    ];
    assert!(zt(&args).status.success());
    let mut changed: Vec<(&str, &str)> = CREDENTIALS.to_vec();
    changed[1] = ("BOT_GITHUB_TOKEN", "ghp_ROTATEDTOKEN");
    let mut check = args.to_vec();
    check.push("--check");
    let o = zt_with(&check, &changed);
    assert_eq!(o.status.code(), Some(1));
    let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        all.contains("secrets/repo-credentials.yaml: secret values differ (not shown)"),
        "{all}"
    );
    for leaked in [
        "ghp_ROTATEDTOKEN",
        "ghp_CLITESTTOKEN",
        "Z2hwX1JPVEFURURUT0tFTg",
    ] {
        assert!(!all.contains(leaked), "{leaked} leaked:\n{all}");
    }
}

#[test]
fn validate_checks_tenants_and_repositories_too() {
    let repo = tempfile::tempdir().unwrap();
    let src = workspace_root().join("examples/tenant-repo");
    let o = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", src.display()))
        .arg(repo.path())
        .status()
        .unwrap();
    assert!(o.success());
    fs::write(
        repo.path().join("tenants/identity-service/config.yaml"),
        "tenant: identity-service\nrepoURL: nope\n",
    )
    .unwrap();
    fs::write(
        repo.path().join("repositories/catalog-repo.yaml"),
        "apiVersion: v1\nkind: ConfigMap\n",
    )
    .unwrap();
    let o = zt(&["validate", "--tenant-repo", repo.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("tenants/identity-service/config.yaml:2:10: repoURL"),
        "{err}"
    );
    assert!(
        err.contains("repositories/catalog-repo.yaml")
            && err.contains("expected an ExternalSecret"),
        "{err}"
    );
}

// ---- kubectl zt preview-patch ----

use zt_test_support::git::{checkout_of, git, numstat};

/// `kubectl zt preview-patch <args>` (through kubectl when installed, else `kubectl-zt
/// preview-patch`) in `dir`, outside CI unless `env` says otherwise.
fn preview_patch(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = if kubectl_available() {
        let mut c = Command::new(kubectl_path().unwrap_or_default());
        c.args(["zt", "preview-patch"]);
        c
    } else {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-zt"));
        c.arg("preview-patch");
        c
    };
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn example_checkout() -> tempfile::TempDir {
    checkout_of(&workspace_root().join("examples/platform-repo"))
}

#[test]
fn kubectl_zt_preview_patch_force_patches_once_and_then_says_nothing_changed() {
    let repo = example_checkout();
    let o = preview_patch(repo.path(), &["--force"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("patched 10 files (+27 -33):\n"), "{out}");
    assert!(
        out.contains("bootstrap/argocd/base/05-nats.yaml") && out.contains("nats-memory-only"),
        "{out}"
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("dragonfly-without-security-context"),
        "per-patch report: {err}"
    );
    assert!(
        err.contains("warning: Argo CD reads git, not this work tree") && err.contains("--commit"),
        "{err}"
    );
    assert_eq!(numstat(repo.path()).len(), 10);
    let root_app = fs::read_to_string(
        repo.path()
            .join("bootstrap/argocd/overlays/preview/root.yaml"),
    )
    .unwrap();
    let head = git(repo.path(), &["rev-parse", "HEAD"]);
    assert!(root_app.contains("repoURL: file:///repo\n"), "{root_app}");
    assert!(
        root_app.contains(&format!("targetRevision: {}", head.trim())),
        "{root_app}"
    );

    let o = preview_patch(repo.path(), &["--force"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "no changes: . is already patched for preview\n"
    );
}

#[test]
fn preview_patch_needs_a_kind_context_unless_forced() {
    let repo = example_checkout();
    let kubeconfig = repo.path().join("kubeconfig");
    fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: admin@production\n",
    )
    .unwrap();
    let kc = kubeconfig.to_str().unwrap();
    let o = preview_patch(repo.path(), &[], &[("KUBECONFIG", kc)]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("the current kubeconfig context is `admin@production`")
            && err.contains("--force"),
        "{err}"
    );
    assert!(numstat(repo.path()).is_empty(), "nothing may change");
    // No kubeconfig at all: also refused, and the message says what was looked at.
    let o = preview_patch(repo.path(), &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("/nonexistent/kubeconfig"),
        "{}",
        text(&o.stderr)
    );
    // A Kind context is enough.
    fs::write(&kubeconfig, "current-context: kind-zerotouch-preview\n").unwrap();
    let o = preview_patch(repo.path(), &["-q"], &[("KUBECONFIG", kc)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(numstat(repo.path()).len(), 10);
}

#[test]
fn preview_patch_check_and_diff_write_nothing_and_exit_1() {
    let repo = example_checkout();
    let o = preview_patch(repo.path(), &["--force", "--check"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("would change 10 files"),
        "{}",
        text(&o.stdout)
    );
    let o = preview_patch(repo.path(), &["--force", "--diff", "-q"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let diff = text(&o.stdout);
    assert!(
        diff.contains(
            "--- a/bootstrap/argocd/base/05-nats.yaml\n+++ b/bootstrap/argocd/base/05-nats.yaml\n"
        ) && diff.contains("\n-              cpu: 100m\n")
            && diff.contains("\n+              cpu: 50m\n"),
        "{diff}"
    );
    assert!(
        numstat(repo.path()).is_empty(),
        "--check and --diff change nothing"
    );
    assert!(
        preview_patch(repo.path(), &["--force", "-q"], &[])
            .status
            .success()
    );
    let o = preview_patch(repo.path(), &["--force", "--check"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}

#[test]
fn preview_patch_in_ci_keeps_the_github_urls() {
    let repo = example_checkout();
    let o = preview_patch(repo.path(), &["--force"], &[("GITHUB_ACTIONS", "true")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("ci mode"), "{}", text(&o.stderr));
    assert!(
        !text(&o.stderr).contains("warning: Argo CD reads git"),
        "no file:///repo, no warning"
    );
    let app = fs::read_to_string(
        repo.path()
            .join("bootstrap/argocd/base/03-foundation-config.yaml"),
    )
    .unwrap();
    assert!(
        app.contains("repoURL: https://github.com/example-org/zerotouch-platform.git"),
        "{app}"
    );
    // --local wins over the environment.
    let repo = example_checkout();
    let o = preview_patch(
        repo.path(),
        &["--force", "--local", "-q"],
        &[("CI", "true")],
    );
    assert!(o.status.success());
    let app = fs::read_to_string(
        repo.path()
            .join("bootstrap/argocd/base/03-foundation-config.yaml"),
    )
    .unwrap();
    assert!(app.contains("repoURL: file:///repo"), "{app}");
}

#[test]
fn preview_patch_commit_writes_a_branch_and_leaves_the_work_tree_alone() {
    let repo = example_checkout();
    let dir = repo.path();
    let head = git(dir, &["rev-parse", "HEAD"]);
    let o = preview_patch(dir, &["--force", "--commit"], &[("HOME", "/nonexistent")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("committed "),
        "{}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stderr).contains("git show zt-preview:"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        git(dir, &["status", "--porcelain"]).is_empty(),
        "work tree and index untouched"
    );
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), head, "HEAD untouched");
    assert_eq!(
        git(dir, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    assert_eq!(
        git(dir, &["rev-parse", "zt-preview^"]),
        head,
        "the branch sits on HEAD"
    );
    let committed = git(
        dir,
        &[
            "show",
            "zt-preview:bootstrap/argocd/overlays/preview/root.yaml",
        ],
    );
    assert!(
        committed.contains("repoURL: file:///repo\n")
            && committed.contains("targetRevision: zt-preview\n"),
        "{committed}"
    );
    let changed = git(dir, &["diff", "--name-only", "HEAD", "zt-preview"]);
    assert_eq!(changed.lines().count(), 10, "{changed}");

    let o = preview_patch(dir, &["--force", "--commit"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("no changes: branch zt-preview"),
        "{}",
        text(&o.stdout)
    );

    // The branch checked out is never rewritten; CI mode cannot use a local branch.
    let o = preview_patch(dir, &["--force", "--commit", "--branch", "main"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("branch main is checked out"),
        "{}",
        text(&o.stderr)
    );
    let o = preview_patch(dir, &["--force", "--commit"], &[("CI", "true")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--local"), "{}", text(&o.stderr));
    // --branch means nothing without --commit: a usage error, not silently ignored.
    let o = preview_patch(dir, &["--force", "--branch", "x"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

#[test]
fn preview_patch_bad_input_is_reported_and_nothing_is_written() {
    // Not a git checkout: no commit to pin.
    let plain = tempfile::tempdir().unwrap();
    fs::create_dir_all(plain.path().join("bootstrap")).unwrap();
    let o = preview_patch(plain.path(), &["--force"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("not a git checkout, so there is no commit to pin"),
        "{}",
        text(&o.stderr)
    );

    // A broken overlay: every problem with its position.
    let repo = example_checkout();
    let patches = repo.path().join("my-patches");
    fs::create_dir_all(&patches).unwrap();
    fs::write(
        patches.join("10-bad.yaml"),
        "name: bad\ndescription: x\ntarget:\n  files: [\"bootstrap/**/*.yaml\"]\nops:\n  - op: merge\n    path: /spec\n  - op: remove\n    path: spec/x\n",
    )
    .unwrap();
    let o = preview_patch(repo.path(), &["--force", "--patches", "my-patches"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("my-patches/10-bad.yaml:6:9: ops[0].op: unknown op `merge`"),
        "{err}"
    );
    assert!(
        err.contains("my-patches/10-bad.yaml:9:11: ops[1].path: malformed path"),
        "{err}"
    );
    assert!(
        err.contains("2 problems in the input; nothing was written"),
        "{err}"
    );

    // A file that is not YAML: named with line and column; no other file changes.
    fs::write(
        repo.path().join("bootstrap/argocd/base/99-broken.yaml"),
        "a: [1,\n",
    )
    .unwrap();
    let o = preview_patch(repo.path(), &["--force"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("bootstrap/argocd/base/99-broken.yaml:"),
        "{err}"
    );
    assert!(err.contains("not valid YAML"), "{err}");
    assert!(numstat(repo.path()).is_empty(), "other files untouched");
}

#[test]
fn preview_patch_has_its_own_completer_and_help() {
    let o = Command::new(bin_dir().join("kubectl_complete-zt"))
        .args(["preview-patch", "--pl"])
        .output()
        .unwrap();
    assert_eq!(
        text(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .split('\t')
            .next(),
        Some("--platform-repo")
    );
    let o = zt(&["preview-patch", "--help"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("kind-*"), "{}", text(&o.stdout));
}

#[test]
fn ci_false_is_not_ci_for_render_either() {
    // preview-patch reads CI=false (or 0, or empty) as "not CI"; render must agree, or the two
    // would disagree about where Argo CD reads the platform from.
    let (repo, _) = git_checkout();
    for value in ["false", "0", ""] {
        let mut c = command(env!("CARGO_BIN_EXE_kubectl-zt"));
        for (k, v) in CREDENTIALS {
            c.env(k, v);
        }
        let o = c
            .env("CI", value)
            .args([
                "render",
                "--mode",
                "preview",
                "--platform-repo",
                repo.path().to_str().unwrap(),
                "-o",
                "yaml",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("repoURL: file:///repo"),
            "CI={value:?} is not CI:\n{}",
            text(&o.stdout)
        );
    }
}

#[cfg(unix)]
#[test]
fn per_command_links_to_the_one_binary_work_through_kubectl() {
    // `make install` links kubectl-zt-<cmd> to kubectl-zt; the binary reads its own name.
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "kubectl-zt",
        "kubectl-zt-render",
        "kubectl-zt-preview_patch",
    ] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubectl-zt"), dir.path().join(name))
            .unwrap();
    }
    let o = Command::new(dir.path().join("kubectl-zt-preview_patch"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("kubectl zt preview-patch"),
        "{}",
        text(&o.stdout)
    );
    if !kubectl_available() {
        return;
    }
    // Only the links and kubectl itself on PATH: the plugins must be found through them.
    let kubectl = kubectl_path().unwrap_or_default();
    let kubectl_dir = kubectl.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = format!("{}:{}", dir.path().display(), kubectl_dir.display());
    let o = kubectl_command()
        .args(["zt", "render", "--help"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("Usage: kubectl zt render"),
        "{}",
        text(&o.stdout)
    );
    let o = kubectl_command()
        .args(["zt", "preview-patch", "--help"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        text(&o.stdout).contains("Usage: kubectl zt preview-patch"),
        "{}",
        text(&o.stdout)
    );
}
