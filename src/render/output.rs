//! The output of a render: an in-memory tree `path → bytes`, written atomically or compared with
//! what is on disk.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::fsio::{self, PUBLIC_MODE, SECRET_MODE};

mod switch;

/// One output file.
#[derive(Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub bytes: Vec<u8>,
    /// Holds keys, tokens or passwords: written 0600, redacted in diffs.
    pub secret: bool,
}

impl std::fmt::Debug for OutputFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputFile")
            .field("len", &self.bytes.len())
            .field("secret", &self.secret)
            .finish()
    }
}

/// Relative path → file. Paths always use `/` and never leave the output directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputTree {
    files: BTreeMap<PathBuf, OutputFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("refusing output path `{}`: it must stay inside the output directory", .0.display())]
    UnsafePath(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl OutputTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file. A path that could escape the output directory (`..`, absolute) is refused,
    /// whatever the validation upstream let through.
    pub fn insert(
        &mut self,
        path: impl Into<PathBuf>,
        bytes: Vec<u8>,
        secret: bool,
    ) -> Result<(), OutputError> {
        let path = path.into();
        let safe = !path.as_os_str().is_empty()
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(OutputError::UnsafePath(path));
        }
        self.files.insert(path, OutputFile { bytes, secret });
        Ok(())
    }

    pub fn get(&self, path: &Path) -> Option<&OutputFile> {
        self.files.get(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PathBuf, &OutputFile)> {
        self.files.iter()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn merge(&mut self, other: OutputTree) {
        self.files.extend(other.files);
    }

    /// The top-level directories this tree owns (`talos`, `argocd`, ...).
    pub fn top_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .files
            .keys()
            .filter_map(|p| p.components().next())
            .map(|c| PathBuf::from(c.as_os_str()))
            .collect();
        dirs.dedup();
        dirs
    }

    /// Writes the tree under `out`, all or nothing, and says what it cleaned up.
    ///
    /// - An exclusive `flock` on the `OUT` directory itself serialises renders into one `OUT`
    ///   (a second render waits for the first; no lock file appears in the output).
    /// - Staging directories left by a render that was killed (`.zt-render-*`; they may hold
    ///   copies of secrets) are removed and reported.
    /// - The whole tree is built in one staging directory inside `out` (same filesystem), then
    ///   each top-level directory it owns is exchanged with the one in `out` (`renameat2`
    ///   `RENAME_EXCHANGE`, or a rename where there is nothing yet). If any switch fails, the
    ///   ones already done are switched back, so `out` holds either the whole old output or the
    ///   whole new one. A success leaves no stale file from earlier renders in the owned
    ///   directories; other content of `out` is not touched.
    pub fn write(&self, out: &Path) -> Result<WriteReport, OutputError> {
        self.write_with(out, &mut switch::exchange)
    }

    fn write_with(
        &self,
        out: &Path,
        exchange: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
    ) -> Result<WriteReport, OutputError> {
        fs::create_dir_all(out).map_err(io_err(out))?;
        let _lock = switch::lock(out).map_err(io_err(out))?;
        let removed_stale = switch::remove_stale(out).map_err(io_err(out))?;
        let staging = tempfile::Builder::new()
            .prefix(switch::STAGING_PREFIX)
            .tempdir_in(out)
            .map_err(io_err(out))?;
        for (rel, file) in &self.files {
            let path = staging.path().join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            let mode = if file.secret {
                SECRET_MODE
            } else {
                PUBLIC_MODE
            };
            fsio::write_unsynced(&path, &file.bytes, mode).map_err(io_err(&path))?;
        }
        // One sync for the whole staging tree before anything is switched into place.
        fsio::sync_filesystem(staging.path()).map_err(io_err(staging.path()))?;
        let dirs = self.top_dirs();
        switch::switch_all(out, staging.path(), &dirs, exchange)
            .map_err(|(path, source)| OutputError::Io { path, source })?;
        // The staging directory now holds the previous output; dropping it removes both.
        Ok(WriteReport { removed_stale })
    }
}

/// What [`OutputTree::write`] did besides writing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Staging directories of interrupted renders, removed (they may have held secrets).
    pub removed_stale: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_escape() {
        let mut t = OutputTree::new();
        assert!(t.insert("../x", vec![], false).is_err());
        assert!(t.insert("/etc/passwd", vec![], false).is_err());
        assert!(t.insert("talos/../../x", vec![], false).is_err());
        assert!(t.insert("talos/cp.yaml", vec![], false).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn writes_modes_replaces_owned_dirs_and_keeps_the_rest() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        fs::create_dir_all(out.join("talos")).unwrap();
        fs::write(out.join("talos/stale.yaml"), "old").unwrap();
        fs::write(out.join("README"), "mine").unwrap();
        let mut t = OutputTree::new();
        t.insert("talos/cp.yaml", b"cp".to_vec(), true).unwrap();
        t.insert("kind/cluster.yaml", b"k".to_vec(), false).unwrap();
        t.write(out).unwrap();
        assert!(!out.join("talos/stale.yaml").exists());
        assert_eq!(fs::read(out.join("README")).unwrap(), b"mine");
        let mode = |p: &str| fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("talos/cp.yaml"), 0o600);
        assert_eq!(mode("kind/cluster.yaml"), 0o644);
        let names: Vec<_> = fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".zt-"))
            .collect();
        assert!(names.is_empty(), "staging dirs left behind: {names:?}");
    }

    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
                (rel, fs::read(e.path()).unwrap())
            })
            .collect();
        files.sort();
        files
    }

    fn tree(tag: &str) -> OutputTree {
        let mut t = OutputTree::new();
        for f in [
            "argocd/root.yaml",
            "secrets/a.yaml",
            "talos/cp.yaml",
            "talos/w.yaml",
        ] {
            t.insert(
                f,
                format!("{tag} {f}").into_bytes(),
                f.starts_with("secrets"),
            )
            .unwrap();
        }
        t
    }

    #[test]
    fn a_failed_switch_leaves_the_whole_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        tree("old").write(out).unwrap();
        fs::write(out.join("README"), "mine").unwrap();
        let before = snapshot(out);
        // argocd and secrets are switched, then talos fails: both are switched back.
        let mut calls = Vec::new();
        let err = tree("new")
            .write_with(out, &mut |a: &Path, b: &Path| {
                calls.push(b.file_name().unwrap().to_string_lossy().into_owned());
                if b.ends_with("talos") {
                    return Err(io::Error::other("disk on fire"));
                }
                switch::exchange(a, b)
            })
            .unwrap_err();
        assert!(err.to_string().contains("talos: disk on fire"), "{err}");
        assert_eq!(calls, ["argocd", "secrets", "talos", "secrets", "argocd"]);
        assert_eq!(snapshot(out), before, "the old output must stay whole");
        // And the next render goes through.
        tree("new").write(out).unwrap();
        assert_eq!(
            fs::read(out.join("talos/w.yaml")).unwrap(),
            b"new talos/w.yaml"
        );
    }

    #[test]
    fn staging_left_by_a_killed_render_is_removed_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        fs::create_dir_all(out.join(".zt-render-AbC123/secrets")).unwrap();
        fs::write(out.join(".zt-render-AbC123/secrets/a.yaml"), "token").unwrap();
        fs::create_dir_all(out.join(".zt-old-XyZ/talos")).unwrap();
        let report = tree("new").write(out).unwrap();
        assert_eq!(
            report.removed_stale,
            [out.join(".zt-old-XyZ"), out.join(".zt-render-AbC123")]
        );
        let left: Vec<_> = fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".zt"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn concurrent_renders_into_one_directory_each_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_path_buf();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let out = out.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        tree(&format!("r{i}")).write(&out).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Whatever render was last, its output is there whole, and no staging is left.
        let files = snapshot(&out);
        let tag = String::from_utf8(files[0].1.clone()).unwrap();
        let tag = tag.split(' ').next().unwrap().to_string();
        assert_eq!(files, snapshot_of(&tree(&tag)), "a mixed tree");
    }

    fn snapshot_of(t: &OutputTree) -> Vec<(PathBuf, Vec<u8>)> {
        t.iter()
            .map(|(p, f)| (p.clone(), f.bytes.clone()))
            .collect()
    }
}
