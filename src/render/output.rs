//! The output of a render: an in-memory tree `path → bytes`, written atomically or compared with
//! what is on disk.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::fsio::{self, PUBLIC_MODE, SECRET_MODE};

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

    /// Writes the tree under `out`. Each top-level directory the tree owns is built completely
    /// in a staging directory and then swapped in by rename, so a failure leaves the previous
    /// output as it was and a success leaves no stale files from earlier renders in those
    /// directories. Other content of `out` is not touched.
    pub fn write(&self, out: &Path) -> Result<(), OutputError> {
        fs::create_dir_all(out).map_err(io_err(out))?;
        let staging = tempfile::Builder::new()
            .prefix(".zt-render-")
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
            fsio::write_atomic(&path, &file.bytes, mode, true).map_err(io_err(&path))?;
        }
        let retired = tempfile::Builder::new()
            .prefix(".zt-old-")
            .tempdir_in(out)
            .map_err(io_err(out))?;
        for dir in self.top_dirs() {
            let target = out.join(&dir);
            if target.exists() {
                fs::rename(&target, retired.path().join(&dir)).map_err(io_err(&target))?;
            }
            fs::rename(staging.path().join(&dir), &target).map_err(io_err(&target))?;
        }
        Ok(())
    }
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
}
