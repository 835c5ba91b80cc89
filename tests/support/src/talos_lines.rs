//! The examples rendered for each Talos line. The example tenant repositories target Talos
//! v1.11; for every later line a copy of an example gets that line's Talos version (and an
//! installer image tagged with it) and a Kubernetes version inside that line's support matrix,
//! everything else unchanged. Goldens live in `golden/<example>@<line>/talos/`: only the Talos
//! output differs between lines, and the golden test checks that the rest is byte-identical
//! to `golden/<example>/`.

use std::fs;
use std::path::Path;

use crate::workspace_root;

/// The Talos version the example tenant repositories are written for.
pub const EXAMPLE_TALOS_VERSION: &str = "v1.11.5";

/// A Talos line the examples are also rendered for.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    /// `1.12`: the suffix of the golden directory (`golden/dev@1.12`).
    pub name: &'static str,
    /// The oracle judging this line's output: `talos-oracle-<oracle>`.
    pub oracle: &'static str,
    /// The Talos version written into the example (the machinery version that oracle is
    /// built from, so `gen` and `validate` speak of the same release).
    pub talos: &'static str,
    pub kubernetes: &'static str,
}

/// The lines after v1.11 (whose goldens are the plain `golden/<example>/`).
pub const LATER_LINES: &[Line] = &[
    Line {
        name: "1.12",
        oracle: "v1.12",
        talos: "v1.12.7",
        kubernetes: "v1.35.0",
    },
    Line {
        name: "1.13",
        oracle: "v1.13",
        talos: "v1.13.9",
        kubernetes: "v1.36.0",
    },
];

/// The examples with Talos output: (tenant repository, environment, golden directory name).
pub const EXAMPLES: &[(&str, &str, &str)] = &[
    ("examples/tenant-repo", "dev", "dev"),
    ("examples/tenant-repo-flannel", "edge", "edge-flannel"),
];

/// A copy of the tenant repository `repo` (relative to the workspace) whose environment `env`
/// targets `line`. Panics if the example does not say the versions it is expected to.
pub fn example_on_line(repo: &str, env: &str, line: &Line) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&workspace_root().join(repo), dir.path());
    let values = dir
        .path()
        .join("environments")
        .join(env)
        .join("talos-values.yaml");
    let text = fs::read_to_string(&values).expect("read talos-values.yaml");
    assert!(
        text.contains(&format!("  version: {EXAMPLE_TALOS_VERSION}\n")),
        "{repo} {env}: not on Talos {EXAMPLE_TALOS_VERSION}"
    );
    let (before, kube) = text
        .split_once("\nkubernetes:\n  version: ")
        .unwrap_or_else(|| panic!("{repo} {env}: no kubernetes.version line"));
    let after = kube.split_once('\n').map_or("", |(_, rest)| rest);
    let text = format!(
        "{}\nkubernetes:\n  version: {}\n{after}",
        before.replace(EXAMPLE_TALOS_VERSION, line.talos),
        line.kubernetes
    );
    fs::write(&values, text).expect("write talos-values.yaml");
    dir
}

/// Copies the files under `src` into `dst`.
pub fn copy_tree(src: &Path, dst: &Path) {
    for entry in fs::read_dir(src).expect("read dir").flatten() {
        let from = entry.path();
        let to = dst.join(entry.file_name());
        if from.is_dir() {
            fs::create_dir_all(&to).expect("mkdir");
            copy_tree(&from, &to);
        } else {
            fs::write(&to, fs::read(&from).expect("read")).expect("write copy");
        }
    }
}
