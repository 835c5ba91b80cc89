//! Writing a plan: all files or none.
//!
//! Every new file is first written next to its target (same directory, same mode), and only when
//! all of them exist are they renamed over the originals. A read-only file, a file changed since
//! it was read, or any failure before the renames leaves every file as it was; a failing rename
//! (rare: same directory) puts back the files already replaced.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::engine::FileChange;
use super::repo::display_path;
use crate::fsio;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{}: the file is read-only; nothing was written (make it writable, or run on a checkout you may change)",
        .0.display()
    )]
    ReadOnly(PathBuf),
    #[error("{}: changed on disk while it was being patched; nothing was written, run again", .0.display())]
    Changed(PathBuf),
    #[error("{}: {source}; nothing was written", path.display())]
    Io { path: PathBuf, source: io::Error },
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_meta: &fs::Metadata) -> u32 {
    fsio::PUBLIC_MODE
}

/// Writes every change under `root`, or none.
pub fn write_all(root: &Path, changes: &[FileChange]) -> Result<(), WriteError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    // Check everything before touching anything.
    let mut modes = Vec::with_capacity(changes.len());
    for c in changes {
        let path = root.join(&c.path);
        let shown = display_path(root, &c.path);
        let meta = fs::metadata(&path).map_err(io_err(&shown))?;
        // Root may write anything; a read-only bit is still the owner saying "do not change".
        if meta.permissions().readonly() {
            return Err(WriteError::ReadOnly(shown));
        }
        if fs::read(&path).map_err(io_err(&shown))? != c.before.as_bytes() {
            return Err(WriteError::Changed(shown));
        }
        modes.push(mode_of(&meta));
    }
    let mut staged = Vec::with_capacity(changes.len());
    for (c, mode) in changes.iter().zip(&modes) {
        let path = root.join(&c.path);
        let shown = display_path(root, &c.path);
        let dir = path.parent().unwrap_or(root);
        let mut tmp = tempfile::Builder::new()
            .prefix(".zt-tmp-")
            .tempfile_in(dir)
            .map_err(io_err(&shown))?;
        tmp.write_all(c.after.as_bytes()).map_err(io_err(&shown))?;
        fsio::set_mode(tmp.path(), *mode).map_err(io_err(&shown))?;
        staged.push((tmp, path, shown, *mode));
    }
    // Every new file is on disk before any rename. Syncing them concurrently lets the
    // filesystem batch the journal commits: one fsync after another costs a commit each.
    std::thread::scope(|scope| {
        let handles: Vec<_> = staged
            .iter()
            .map(|(tmp, _, shown, _)| {
                scope.spawn(move || tmp.as_file().sync_all().map_err(io_err(shown)))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join().unwrap_or_else(|_| {
                Err(WriteError::Io {
                    path: root.to_path_buf(),
                    source: io::Error::other("a sync thread failed"),
                })
            })
        })
    })?;
    let mut done: Vec<usize> = Vec::new();
    for (i, (tmp, path, shown, _)) in staged.into_iter().enumerate() {
        if let Err(e) = tmp.persist(&path) {
            for &j in &done {
                let c = &changes[j];
                let _ =
                    fsio::write_atomic(&root.join(&c.path), c.before.as_bytes(), modes[j], true);
            }
            return Err(WriteError::Io {
                path: shown,
                source: e.error,
            });
        }
        done.push(i);
    }
    Ok(())
}
