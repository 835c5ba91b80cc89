//! Hostile inputs, through the plugin binary as CI runs it: whoever can commit to the tenant
//! repository (and so plant files and links in the output directory a CI job checks), or
//! answer on the node network. Every case asserts the exit code, that the message names the
//! path it is about, that no secret value appears in any output stream, and that nothing
//! outside the output directory changed. See docs/threat-model.md.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `kubectl-zt <args>` in the workspace, with the fake credentials and no cluster.
fn zt<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-zt"));
    c.current_dir(workspace_root())
        .args(args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in CREDENTIALS {
        c.env(k, v);
    }
    c.output().unwrap()
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
