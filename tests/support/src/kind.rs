//! A stand-in for the `kind` CLI, which cannot run here (no kindest/node image, nothing can be
//! pulled): a POSIX shell script that records every invocation and answers the three commands
//! preview bootstrap runs.
//!
//! - `kind get clusters`: the names it "created" (or was told about), one a line; with none,
//!   kind's own "No kind clusters found." on stderr.
//! - `kind create cluster --name N --config F --kubeconfig K --wait 0s`: keeps a copy of F,
//!   writes K with a context `kind-N` pointing at the server URL it was made with (a
//!   [`crate::kube_api::TestApi`]), remembers N, and prints kind's progress lines on stderr.
//! - `kind export kubeconfig --name N --kubeconfig K`: writes K the same way, for a known N.
//!
//! Limits, on purpose: it writes the kubeconfig whole (real kind merges into an existing file);
//! it starts no containers (tests that load images start Kind-node stand-ins on the real Docker
//! engine themselves, see [`crate::docker`]); it checks only the flags above. Its behaviour is
//! steered through files in its state directory, never through the environment, so tests
//! running in parallel in one process cannot disturb each other.

use std::path::{Path, PathBuf};

/// Separates arguments in the call log (no argument of ours contains it).
const SEP: char = '\u{1f}';

const SCRIPT: &str = r#"#!/bin/sh
# Stand-in for the kind CLI (tests/support/src/kind.rs): records its arguments, answers like kind.
state='@STATE@'
server='@SERVER@'
{ for a in "$@"; do printf '%s\037' "$a"; done; printf '\n'; } >> "$state/calls"

write_kubeconfig() {
  cat > "$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kind-$1
  cluster:
    server: $server
contexts:
- name: kind-$1
  context:
    cluster: kind-$1
    user: kind-$1
current-context: kind-$1
users:
- name: kind-$1
  user: {}
EOF
}

flag() { # flag NAME ARGS... -> the value after --NAME
  want="--$1"; shift
  while [ $# -gt 0 ]; do
    if [ "$1" = "$want" ]; then printf '%s' "$2"; return 0; fi
    shift
  done
  return 1
}

case "$1 $2" in
  "get clusters")
    if [ -s "$state/clusters" ]; then cat "$state/clusters"; else echo "No kind clusters found." >&2; fi
    ;;
  "create cluster")
    name=$(flag name "$@") || { echo "ERROR: fake kind: --name is required" >&2; exit 2; }
    config=$(flag config "$@") || { echo "ERROR: fake kind: --config is required" >&2; exit 2; }
    kubeconfig=$(flag kubeconfig "$@") || { echo "ERROR: fake kind: --kubeconfig is required" >&2; exit 2; }
    if [ -e "$state/hang" ]; then exec sleep 30; fi
    echo "Creating cluster \"$name\" ..." >&2
    if [ -s "$state/fail" ]; then
      cat "$state/fail" >&2
      exit 1
    fi
    if grep -qx "$name" "$state/clusters" 2>/dev/null; then
      echo "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"$name\"" >&2
      exit 1
    fi
    cp "$config" "$state/config-$name.yaml" || exit 1
    echo " ✓ Ensuring node image (kindest/node:v1.34.0) 🖼" >&2
    echo " ✓ Starting control-plane 🕹️" >&2
    write_kubeconfig "$name" "$kubeconfig"
    echo "$name" >> "$state/clusters"
    echo "Set kubectl context to \"kind-$name\"" >&2
    ;;
  "export kubeconfig")
    name=$(flag name "$@") || { echo "ERROR: fake kind: --name is required" >&2; exit 2; }
    kubeconfig=$(flag kubeconfig "$@") || { echo "ERROR: fake kind: --kubeconfig is required" >&2; exit 2; }
    grep -qx "$name" "$state/clusters" 2>/dev/null || { echo "ERROR: could not locate any control plane nodes for cluster named '$name'" >&2; exit 1; }
    write_kubeconfig "$name" "$kubeconfig"
    echo "Set kubectl context to \"kind-$name\"" >&2
    ;;
  *)
    echo "ERROR: fake kind does not know: $*" >&2
    exit 2
    ;;
esac
"#;

/// A kind double in a directory of its own (`bin/kind` and its state).
pub struct FakeKind {
    dir: tempfile::TempDir,
}

impl FakeKind {
    /// A kind whose clusters are served by the API at `server` (`http://127.0.0.1:<port>`).
    pub fn new(server: &str) -> FakeKind {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        let state = dir.path().join("state");
        std::fs::create_dir_all(&bin).expect("mkdir bin");
        std::fs::create_dir_all(&state).expect("mkdir state");
        let script = SCRIPT
            .replace("@STATE@", &state.to_string_lossy())
            .replace("@SERVER@", server);
        let kind = bin.join("kind");
        std::fs::write(&kind, script).expect("write fake kind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&kind, std::fs::Permissions::from_mode(0o755))
                .expect("chmod fake kind");
        }
        FakeKind { dir }
    }

    /// The directory holding `kind`: put it first on PATH.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// The `kind` executable.
    pub fn program(&self) -> PathBuf {
        self.bin_dir().join("kind")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `PATH` with the double first, then `rest`.
    pub fn path_before(&self, rest: &str) -> String {
        if rest.is_empty() {
            self.bin_dir().display().to_string()
        } else {
            format!("{}:{rest}", self.bin_dir().display())
        }
    }

    /// Every invocation so far, each as its argument list (argv[0] left out).
    pub fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.state().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                l.split(SEP)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }

    /// The clusters it knows.
    pub fn clusters(&self) -> Vec<String> {
        std::fs::read_to_string(self.state().join("clusters"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A cluster that exists before the test runs.
    pub fn add_cluster(&self, name: &str) {
        let mut names = self.clusters();
        names.push(name.to_string());
        std::fs::write(self.state().join("clusters"), names.join("\n") + "\n")
            .expect("write clusters");
    }

    /// Forgets every cluster (`kind delete cluster`, as far as the double is concerned).
    pub fn delete_clusters(&self) {
        let _ = std::fs::remove_file(self.state().join("clusters"));
    }

    /// The config file `create cluster` was given for `name`, as it was then.
    pub fn config_of(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.state().join(format!("config-{name}.yaml"))).ok()
    }

    /// Makes `create cluster` fail with `message` on stderr (exit 1).
    pub fn fail_create(&self, message: &str) {
        std::fs::write(self.state().join("fail"), format!("{message}\n")).expect("write fail");
    }

    /// Makes `create cluster` hang (it sleeps until killed).
    pub fn hang_create(&self) {
        std::fs::write(self.state().join("hang"), "").expect("write hang");
    }
}

/// A directory holding links to `tools` (found on the current PATH), to build a PATH that has
/// them and nothing else, kind in particular.
pub fn tools_only(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in tools {
        let found = std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file());
        if let Some(target) = found {
            link(&target, &dir.path().join(tool));
        }
    }
    dir
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) {
    std::os::unix::fs::symlink(target, at).expect("symlink tool");
}

#[cfg(not(unix))]
fn link(target: &Path, at: &Path) {
    std::fs::copy(target, at).expect("copy tool");
}
