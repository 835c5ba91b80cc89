//! Helpers shared by the integration tests: golden-file comparison, the example inputs, and
//! the test doubles: an in-process Kubernetes API server ([`kube_api`]), an in-process Talos
//! machine API ([`talos_api`]), Kind-node stand-ins on the real Docker engine ([`docker`]), a
//! stand-in for the kind CLI ([`kind`]) and a Kind cluster's API for preview bootstrap
//! ([`preview`]); the way to the real components built from their Go modules ([`oracles`]); and a
//! network namespace the test control plane can reach ([`netns`]).

pub mod claim_crds;
pub mod cli;
pub mod cluster;
pub mod crossplane;
pub mod docker;
pub mod example;
pub mod git;
pub mod golden;
pub mod hetzner;
pub mod http;
pub mod kind;
pub mod kube_api;
pub mod moto;
pub mod netns;
pub mod oracles;
pub mod preview;
pub mod progress;
pub mod rescue;
pub mod sshd;
pub mod talos_api;
pub mod talos_lines;

use std::path::{Path, PathBuf};

/// The workspace root (where `examples/`, `golden/` and `tests/` live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `../shared` next to the workspace, when this machine has it. Conformance tests that need
/// upstream schemas or fixtures skip without it (the callers say so on stderr); with
/// `ZT_REQUIRE_SHARED` set (CI sets it) a missing `../shared` fails the test instead, so CI can
/// never pass by skipping them. `ZT_SHARED_DIR` names another place (a git worktree has no
/// `../shared` of its own).
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("ZT_SHARED_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_root().join("../shared"),
    };
    if dir.is_dir() {
        return Some(dir.canonicalize().unwrap_or(dir));
    }
    if std::env::var_os("ZT_REQUIRE_SHARED").is_some() {
        panic!(
            "ZT_REQUIRE_SHARED is set but {} does not exist",
            dir.display()
        );
    }
    None
}

/// Whether `make golden` asked for expected files to be rewritten.
pub fn updating_golden() -> bool {
    std::env::var_os("ZT_UPDATE_GOLDEN").is_some()
}
