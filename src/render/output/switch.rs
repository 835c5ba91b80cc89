//! Switching a staged output tree into place: a lock on the output directory, cleanup of what
//! killed renders left behind, and an all-or-nothing exchange of the directories a render owns.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, RenameFlags};
use rustix::io::Errno;

/// Staging directories inside `OUT` start with this.
pub const STAGING_PREFIX: &str = ".zt-render-";
/// What earlier versions called the directory the old output was moved to.
const RETIRED_PREFIX: &str = ".zt-old-";

/// Takes an exclusive lock on the output directory itself (`flock` on its descriptor, so no
/// lock file appears in the output), waiting while another render holds it. Released when the
/// returned handle is dropped, or when the process dies.
pub fn lock(out: &Path) -> io::Result<File> {
    let dir = File::open(out)?;
    rustix::fs::flock(&dir, FlockOperation::LockExclusive)?;
    Ok(dir)
}

/// Removes the staging directories of renders that were killed (with the lock held, no other
/// render is writing) and returns their paths. They may hold copies of secrets.
pub fn remove_stale(out: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(out)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(STAGING_PREFIX) || name.starts_with(RETIRED_PREFIX)) {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
        removed.push(path);
    }
    removed.sort();
    Ok(removed)
}

/// Exchanges two directory entries atomically (`renameat2` with `RENAME_EXCHANGE`; neither is
/// followed if it is a link). Where the filesystem cannot, falls back to three renames through
/// a name beside `a`, undoing the first if the second fails.
pub fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        a,
        rustix::fs::CWD,
        b,
        RenameFlags::EXCHANGE,
    ) {
        Ok(()) => Ok(()),
        Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {
            let aside = a.with_extension("zt-swap");
            fs::rename(b, &aside)?;
            if let Err(e) = fs::rename(a, b) {
                fs::rename(&aside, b)?;
                return Err(e);
            }
            fs::rename(&aside, a)
        }
        Err(e) => Err(e.into()),
    }
}

/// One switch done, to undo if a later one fails.
enum Done {
    /// `out/dir` and `staging/dir` were exchanged.
    Exchanged(PathBuf),
    /// `staging/dir` was moved to `out/dir`, where nothing was.
    Moved(PathBuf),
}

/// Puts each of `dirs` from `staging` into `out`. Afterwards `staging` holds what `out` had.
/// On failure every switch already made is undone and the error names the path that failed.
pub fn switch_all(
    out: &Path,
    staging: &Path,
    dirs: &[PathBuf],
    exchange: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
) -> Result<(), (PathBuf, io::Error)> {
    let mut done = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let (new, target) = (staging.join(dir), out.join(dir));
        let step = if target.symlink_metadata().is_ok() {
            exchange(&new, &target).map(|()| Done::Exchanged(dir.clone()))
        } else {
            fs::rename(&new, &target).map(|()| Done::Moved(dir.clone()))
        };
        match step {
            Ok(d) => done.push(d),
            Err(e) => {
                undo(out, staging, done, exchange);
                return Err((target, e));
            }
        }
    }
    Ok(())
}

/// Best effort: an undo that fails too leaves both trees where they are, and the error already
/// being reported names the path.
fn undo(
    out: &Path,
    staging: &Path,
    done: Vec<Done>,
    exchange: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
) {
    for d in done.into_iter().rev() {
        let _ = match d {
            Done::Exchanged(dir) => exchange(&staging.join(&dir), &out.join(&dir)),
            Done::Moved(dir) => fs::rename(out.join(&dir), staging.join(&dir)),
        };
    }
}
