//! The oracles: upstream components built from their pinned Go modules by `make oracles`
//! (tests/oracles/build.sh) into `target/oracles/` or `$ZT_ORACLES_DIR`. Tests judge our output
//! with them; see tests/oracles/ for what each is and the README for the versions.
//!
//! A test whose oracle is not built skips with one line on stderr (a machine without Go must
//! still run `make test`). With `ZT_REQUIRE_ORACLES` set (CI sets it after `make oracles`), a
//! missing oracle fails the test instead, so CI can never pass by skipping them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::workspace_root;

/// The Talos line the tests target with the oracles; one `talos-oracle-<line>` per line.
pub const TALOS_LINE: &str = "v1.11";

/// Where `make oracles` puts the binaries.
pub fn oracles_dir() -> PathBuf {
    match std::env::var_os("ZT_ORACLES_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("target/oracles"),
    }
}

/// The oracle binary `name` when it is built, else `None` after saying on stderr that `test`
/// is skipped and how to build it. With `ZT_REQUIRE_ORACLES` set a missing oracle panics.
pub fn oracle_or_skip(name: &str, test: &str) -> Option<PathBuf> {
    let path = oracles_dir().join(name);
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{} is not built (run `make oracles`; needs Go)",
        path.display()
    );
    if std::env::var_os("ZT_REQUIRE_ORACLES").is_some() {
        panic!("{test}: ZT_REQUIRE_ORACLES is set but {why}");
    }
    eprintln!("skipping {test}: {why}");
    None
}

/// `talos-oracle-<TALOS_LINE>`, or skip.
pub fn talos_oracle_or_skip(test: &str) -> Option<PathBuf> {
    oracle_or_skip(&format!("talos-oracle-{TALOS_LINE}"), test)
}

/// Runs `bin args...` and returns its output; panics only when it cannot be started.
pub fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

/// A verdict of `talos-oracle validate` or `bundle-check`.
#[derive(Debug)]
pub struct Verdict {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// The oracle's exit status: 0 exactly when `errors` is empty.
    pub success: bool,
}

fn verdict(bin: &Path, sub: &str, file: &Path) -> Verdict {
    let out = run(bin, &[sub, &file.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "talos-oracle {sub} {}: no JSON verdict ({e}); stdout: {stdout}; stderr: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let strings = |key: &str| -> Vec<String> {
        json[key]
            .as_array()
            .unwrap_or_else(|| panic!("verdict without {key}: {json}"))
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect()
    };
    Verdict {
        errors: strings("errors"),
        warnings: strings("warnings"),
        success: out.status.success(),
    }
}

/// `talos-oracle validate FILE`: Talos's loader and validator in metal mode, strict and local,
/// as `talosctl validate --mode metal --strict` runs them.
pub fn talos_validate(oracle: &Path, file: &Path) -> Verdict {
    verdict(oracle, "validate", file)
}

/// `talos-oracle bundle-check FILE`: machinery loads the secrets bundle and checks it.
pub fn talos_bundle_check(oracle: &Path, file: &Path) -> Verdict {
    verdict(oracle, "bundle-check", file)
}
