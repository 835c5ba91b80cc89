//! Files on disk: writes that never leave a half-written file behind and never widen
//! permissions ([`write_atomic`]), and reads inside directories that someone else may have
//! filled, which never follow a link or read past a size cap ([`confined`]).

pub mod confined;

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Unix mode for files holding secrets (keys, tokens, kubeconfigs): owner read/write only.
pub const SECRET_MODE: u32 = 0o600;
/// Unix mode for everything else we write.
pub const PUBLIC_MODE: u32 = 0o644;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written,
/// given `mode`, synced and renamed over the target. With `overwrite == false` an existing
/// target is left alone and the call fails with `AlreadyExists`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, overwrite: bool) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".zt-tmp-");
    #[cfg(unix)]
    builder.permissions(permissions(mode));
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    set_mode(tmp.path(), mode)?;
    if overwrite {
        tmp.persist(path).map_err(|e| e.error)?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    Ok(())
}

/// Creates `path`, which must not exist, holding `bytes` with exactly `mode` (never wider in
/// between: the file is created with it), without syncing. For a private staging directory
/// whose files [`sync_filesystem`] then makes durable in one call, instead of one `fsync`
/// each (a 200-node render writes 200 files).
pub fn write_unsynced(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    // The umask may have narrowed the mode at creation; set it exactly.
    #[cfg(unix)]
    file.set_permissions(permissions(mode))?;
    Ok(())
}

/// Flushes everything written to the filesystem that holds `dir` (Linux `syncfs`), so files
/// written with [`write_unsynced`] are on disk before they are renamed into place.
#[cfg(target_os = "linux")]
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let d = fs::File::open(dir)?;
    rustix::fs::syncfs(&d)?;
    Ok(())
}

/// Elsewhere, a `sync` of every file under `dir` and of the directories.
#[cfg(not(target_os = "linux"))]
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_filesystem(&path)?;
        } else {
            fs::File::open(&path)?.sync_all()?;
        }
    }
    fs::File::open(dir)?.sync_all()
}

#[cfg(unix)]
fn permissions(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
}

/// Sets the Unix mode of `path` explicitly, independent of the umask.
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, permissions(mode))
}

#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn unsynced_writes_create_with_the_exact_mode_and_never_replace() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.yaml");
        // A umask that would otherwise strip bits is overridden; nothing is ever wider.
        write_unsynced(&p, b"a", SECRET_MODE).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let q = dir.path().join("public.yaml");
        write_unsynced(&q, b"b", PUBLIC_MODE).unwrap();
        assert_eq!(
            fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let err = write_unsynced(&p, b"c", SECRET_MODE).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"a");
        sync_filesystem(dir.path()).unwrap();
    }

    #[test]
    fn writes_with_mode_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.yaml");
        write_atomic(&p, b"a", SECRET_MODE, false).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let err = write_atomic(&p, b"b", SECRET_MODE, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"a");
        write_atomic(&p, b"c", SECRET_MODE, true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"c");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary files must not remain");
    }
}
