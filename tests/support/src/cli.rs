//! Running the plugin binary as CI runs it, for the CLI tests of every test binary.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// The platform's credential variables: every CLI test sets exactly the ones it means to.
const CREDENTIAL_VARIABLES: &[&str] = &[
    "BOT_GITHUB_USERNAME",
    "BOT_GITHUB_TOKEN",
    "TENANTS_REPO_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
];

/// `program` in `dir` with a controlled environment: no cluster (`KUBECONFIG` points nowhere),
/// no CI markers, none of the platform's credentials but `credentials`.
pub fn command(program: impl AsRef<OsStr>, dir: &Path, credentials: &[(&str, &str)]) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS");
    for k in CREDENTIAL_VARIABLES {
        c.env_remove(k);
    }
    for (k, v) in credentials {
        c.env(k, v);
    }
    c
}

/// A command's output as text (lossy: tests compare and search it).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether a `kubectl` is on PATH (the plugin tests then run `kubectl zt ...` as users do).
pub fn kubectl_on_path() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `kubectl zt` through kubectl when one is on PATH, else the plugin binary `bin` itself, in
/// `dir` with the environment of [`command`]. `PATH` is `bin`'s directory followed by `path`,
/// so kubectl finds the plugin under test first.
pub fn plugin(bin: &Path, dir: &Path, credentials: &[(&str, &str)], path: &str) -> Command {
    let bin_dir = bin.parent().unwrap_or(Path::new("."));
    let mut c = if kubectl_on_path() {
        let mut c = command("kubectl", dir, credentials);
        c.arg("zt");
        c
    } else {
        command(bin, dir, credentials)
    };
    c.env("PATH", format!("{}:{path}", bin_dir.display()));
    c
}

/// `kubectl zt <args>` through the kubectl `make oracles` built, in `dir` with the environment
/// of [`command`], the plugin binary `bin` first on PATH and `kubeconfig` as the cluster.
pub fn oracle_kubectl_zt(bin: &Path, dir: &Path, kubeconfig: &Path) -> Command {
    let mut c = command(crate::oracles::oracles_dir().join("kubectl"), dir, &[]);
    let bin_dir = bin.parent().unwrap_or(Path::new("."));
    c.arg("zt")
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("KUBECONFIG", kubeconfig);
    c
}
