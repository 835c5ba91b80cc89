//! Files of a repository the render reads: a checkout on disk, or an example compiled into the
//! binary (`render --example`). Messages name files by their display path either way.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::fsio::confined;

#[derive(Debug, Clone)]
enum Source {
    Dir(PathBuf),
    /// `(relative path, contents)` pairs, shown in messages under `display_root`.
    Embedded {
        display_root: &'static str,
        files: &'static [(&'static str, &'static str)],
    },
}

/// A read-only view of a repository's files.
#[derive(Debug, Clone)]
pub struct RepoFiles {
    source: Source,
}

impl RepoFiles {
    /// A directory on disk (not checked here).
    pub fn dir(root: &Path) -> Self {
        RepoFiles {
            source: Source::Dir(root.to_path_buf()),
        }
    }

    /// Files compiled into the binary.
    pub fn embedded(
        display_root: &'static str,
        files: &'static [(&'static str, &'static str)],
    ) -> Self {
        RepoFiles {
            source: Source::Embedded {
                display_root,
                files,
            },
        }
    }

    /// The path to show for a file of this repository.
    pub fn display_path(&self, rel: &Path) -> PathBuf {
        match &self.source {
            Source::Dir(root) => root.join(rel),
            Source::Embedded { display_root, .. } => Path::new(display_root).join(rel),
        }
    }

    /// Reads a file; `Ok(None)` when it does not exist.
    pub fn read(&self, rel: &Path) -> Result<Option<String>, Diagnostic> {
        match &self.source {
            // Whoever can commit to the repository controls it: no link below the root is
            // followed and only regular files of bounded size are read (fsio::confined).
            Source::Dir(root) => confined::read_text(root, rel, root).map_err(Into::into),
            Source::Embedded { files, .. } => Ok(files
                .iter()
                .find(|(p, _)| Path::new(p) == rel)
                .map(|(_, c)| (*c).to_string())),
        }
    }

    /// Names of the entries directly under `rel` that contain `child` (a relative path), sorted.
    pub fn subdirs_with(&self, rel: &Path, child: &Path) -> Vec<String> {
        self.names_under(
            rel,
            |entry| entry.join(child).exists(),
            |rest| rest == child,
        )
    }

    /// Names of the regular files directly under `rel`, sorted.
    pub fn list_files(&self, rel: &Path) -> Vec<String> {
        self.names_under(rel, Path::is_file, |rest| rest.as_os_str().is_empty())
    }

    /// Names of the entries directly under `rel`, sorted and without repeats: on disk those
    /// whose path passes `keep_entry`; embedded, those whose path below the entry passes
    /// `keep_rest` (empty for the entry itself).
    fn names_under(
        &self,
        rel: &Path,
        keep_entry: impl Fn(&Path) -> bool,
        keep_rest: impl Fn(&Path) -> bool,
    ) -> Vec<String> {
        let mut names: Vec<String> = match &self.source {
            Source::Dir(root) => std::fs::read_dir(root.join(rel))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| keep_entry(&e.path()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Source::Embedded { files, .. } => files
                .iter()
                .filter_map(|(p, _)| {
                    let rest = Path::new(p).strip_prefix(rel).ok()?;
                    let mut comps = rest.components();
                    let first = comps.next()?.as_os_str().to_str()?.to_string();
                    keep_rest(comps.as_path()).then_some(first)
                })
                .collect(),
        };
        names.sort();
        names.dedup();
        names
    }
}
