//! Reading inside a directory whose contents someone else may control: the output directory
//! that `render --check` compares (a tenant repo's CI checks it out from git, where anyone who
//! can commit can plant a link), the tenant repository, a platform checkout.
//!
//! The rules, the same for every caller:
//! - The root itself is the user's choice and is opened as given (it may be a link).
//! - Below the root nothing is followed: every directory component and the file itself are
//!   opened relative to their parent with `O_NOFOLLOW`, so a link anywhere on the way is an
//!   error naming the path, never a read of what it points at (`/proc/self/environ`, the secrets
//!   bundle, `/dev/zero`). Walking with `openat` also means a link swapped in between a check
//!   and the read cannot redirect it.
//! - Only regular files are read: a FIFO, socket or device is an error (and opening one cannot
//!   block, `O_NONBLOCK`).
//! - At most `max` bytes are read: a larger file is an error, checked before reading and again
//!   while reading (a file may grow).
//! - A missing file is `Ok(None)`; every other failure is an error, never "missing".
//!
//! Errors name the path (relative to the root, as the user knows it) and what was wrong,
//! never any content.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// The largest file [`read`] accepts unless told otherwise: far above anything we render or
/// read by hand (a machine config with an inline Cilium manifest is well under 1 MiB), far
/// below anything that could hurt.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a path below a confined root could not be read.
#[derive(Debug)]
pub enum ConfinedError {
    Link { path: PathBuf },
    NotRegular { path: PathBuf, kind: &'static str },
    NotDirectory { path: PathBuf, kind: &'static str },
    TooLarge { path: PathBuf, limit: u64 },
    OutsideRoot { path: PathBuf },
    NotText { path: PathBuf },
    Vanished { path: PathBuf },
    Io { path: PathBuf, source: io::Error },
}

impl std::fmt::Display for ConfinedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.reason())
    }
}

impl std::error::Error for ConfinedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfinedError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfinedError> for crate::diag::Diagnostic {
    fn from(e: ConfinedError) -> Self {
        crate::diag::Diagnostic::file(e.path(), e.reason())
    }
}

impl ConfinedError {
    /// What is wrong, without the path (for diagnostics that put the path first).
    pub fn reason(&self) -> String {
        match self {
            ConfinedError::Link { .. } => {
                "is a symbolic link; only regular files are read here and links are never followed"
                    .into()
            }
            ConfinedError::NotRegular { kind, .. } => format!("is a {kind}, not a regular file"),
            ConfinedError::NotDirectory { kind, .. } => format!("is a {kind}, not a directory"),
            ConfinedError::TooLarge { limit, .. } => {
                format!("is larger than {limit} bytes, the most that is read here")
            }
            ConfinedError::OutsideRoot { .. } => {
                "not a relative path below the directory being read".into()
            }
            ConfinedError::NotText { .. } => "not UTF-8 text; expected a YAML file".into(),
            ConfinedError::Vanished { .. } => "cannot read: it no longer exists".into(),
            ConfinedError::Io { source, .. } => format!("cannot read: {source}"),
        }
    }

    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ConfinedError::Link { path }
            | ConfinedError::NotRegular { path, .. }
            | ConfinedError::NotDirectory { path, .. }
            | ConfinedError::TooLarge { path, .. }
            | ConfinedError::OutsideRoot { path }
            | ConfinedError::NotText { path }
            | ConfinedError::Vanished { path }
            | ConfinedError::Io { path, .. } => path,
        }
    }
}

/// Reads `root/rel` without following any link below `root`, only if it is a regular file of
/// at most `max` bytes. `Ok(None)` when it (or a directory on the way) does not exist. Errors
/// name `shown.join(rel)`, where `shown` is how the user knows `root`.
pub fn read(
    root: &Path,
    rel: &Path,
    max: u64,
    shown: &Path,
) -> Result<Option<Vec<u8>>, ConfinedError> {
    let names = components(rel, shown)?;
    let Some((file_name, dirs)) = names.split_last() else {
        return Err(ConfinedError::OutsideRoot {
            path: shown.join(rel),
        });
    };
    let Some((dir, mut at)) = open_dirs(root, dirs, shown)? else {
        return Ok(None);
    };
    at.push(file_name);
    let Some(fd) = open_below(&dir, file_name, false, &at)? else {
        return Ok(None);
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| io_error(&at, e))?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(ConfinedError::NotRegular {
            path: at,
            kind: kind_name(kind),
        });
    }
    let too_large = || ConfinedError::TooLarge {
        path: at.clone(),
        limit: max,
    };
    if u64::try_from(stat.st_size).unwrap_or(u64::MAX) > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    File::from(fd)
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ConfinedError::Io {
            path: at.clone(),
            source,
        })?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(Some(bytes))
}

/// [`read`] of a text file (at most [`MAX_FILE_BYTES`]): `Ok(None)` when it does not exist,
/// an error when it is not UTF-8.
pub fn read_text(root: &Path, rel: &Path, shown: &Path) -> Result<Option<String>, ConfinedError> {
    match read(root, rel, MAX_FILE_BYTES, shown)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ConfinedError::NotText {
                path: shown.join(rel),
            }),
    }
}

/// [`read_text`] of a file a walk just listed, so its absence is an error too.
pub fn read_listed_text(root: &Path, rel: &Path, shown: &Path) -> Result<String, ConfinedError> {
    read_text(root, rel, shown)?.ok_or_else(|| ConfinedError::Vanished {
        path: shown.join(rel),
    })
}

/// The regular files below `root/rel_dir` (relative to `root`, sorted), walking without
/// following links. A link, FIFO, socket or device anywhere below is an error, so a planted
/// link to a directory can never make its target's files appear. An absent directory has no
/// files.
pub fn list_files(
    root: &Path,
    rel_dir: &Path,
    shown: &Path,
) -> Result<Vec<PathBuf>, ConfinedError> {
    let mut files = Vec::new();
    for entry in entries(root, rel_dir, shown, &|_| true)? {
        match entry.kind {
            EntryKind::File => files.push(entry.rel),
            other => return Err(other.error(shown.join(&entry.rel))),
        }
    }
    Ok(files)
}

/// Whether `root/rel` is a directory reached without following a link below `root`:
/// `Ok(false)` when something on the way is missing, an error when a link or a file is in the
/// way.
pub fn is_dir(root: &Path, rel: &Path, shown: &Path) -> Result<bool, ConfinedError> {
    Ok(open_dirs(root, &components(rel, shown)?, shown)?.is_some())
}

/// What [`entries`] found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Link,
    /// A FIFO, socket or device.
    Special(&'static str),
}

impl EntryKind {
    /// The error for finding this where a regular file was wanted.
    pub fn error(self, path: PathBuf) -> ConfinedError {
        match self {
            EntryKind::File => ConfinedError::NotRegular {
                path,
                kind: "regular file",
            },
            EntryKind::Link => ConfinedError::Link { path },
            EntryKind::Special(kind) => ConfinedError::NotRegular { path, kind },
        }
    }
}

/// One non-directory entry below a walked directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the root.
    pub rel: PathBuf,
    pub kind: EntryKind,
}

/// Every entry below `root/rel_dir` that is not a directory (relative to `root`, sorted),
/// walking without following links and entering only the directories whose name `enter`
/// accepts. The directories leading to `rel_dir` must be real directories (a link there is an
/// error); what to do with links and special files below is the caller's choice. An absent
/// directory has no entries.
pub fn entries(
    root: &Path,
    rel_dir: &Path,
    shown: &Path,
    enter: &dyn Fn(&OsStr) -> bool,
) -> Result<Vec<Entry>, ConfinedError> {
    let names = components(rel_dir, shown)?;
    let Some((dir, at)) = open_dirs(root, &names, shown)? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    let start: PathBuf = names.iter().collect();
    walk(dir, &start, &at, enter, &mut found)?;
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(found)
}

fn walk(
    dir: OwnedFd,
    rel: &Path,
    shown: &Path,
    enter: &dyn Fn(&OsStr) -> bool,
    found: &mut Vec<Entry>,
) -> Result<(), ConfinedError> {
    let mut names = Vec::new();
    let mut reader = rustix::fs::Dir::read_from(&dir).map_err(|e| io_error(shown, e))?;
    for entry in reader.by_ref() {
        let entry = entry.map_err(|e| io_error(shown, e))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        names.push(name.to_os_string());
    }
    for name in names {
        let at = shown.join(&name);
        let stat = rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_error(&at, e))?;
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                if enter(&name)
                    && let Some(sub) = open_below(&dir, &name, true, &at)?
                {
                    walk(sub, &rel.join(&name), &at, enter, found)?;
                }
                continue;
            }
            FileType::RegularFile => EntryKind::File,
            FileType::Symlink => EntryKind::Link,
            other => EntryKind::Special(kind_name(other)),
        };
        found.push(Entry {
            rel: rel.join(&name),
            kind,
        });
    }
    Ok(())
}

/// The normal components of `rel`; anything else (`..`, an absolute path, `.`) is refused.
fn components<'a>(rel: &'a Path, shown: &Path) -> Result<Vec<&'a OsStr>, ConfinedError> {
    rel.components()
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(ConfinedError::OutsideRoot {
                path: shown.join(rel),
            }),
        })
        .collect()
}

/// Opens `root` (as given) and then each of `names` below it without following a link, as
/// directories; `Ok(None)` when one is missing. Returns the last directory and its shown path.
fn open_dirs(
    root: &Path,
    names: &[&OsStr],
    shown: &Path,
) -> Result<Option<(OwnedFd, PathBuf)>, ConfinedError> {
    let mut at = shown.to_path_buf();
    let Some(mut dir) = open_root(root, shown)? else {
        return Ok(None);
    };
    for name in names {
        at.push(name);
        match open_below(&dir, name, true, &at)? {
            Some(next) => dir = next,
            None => return Ok(None),
        }
    }
    Ok(Some((dir, at)))
}

fn open_root(root: &Path, shown: &Path) -> Result<Option<OwnedFd>, ConfinedError> {
    match rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(io_error(shown, e)),
    }
}

/// Opens `name` in `dir` without following a link; `Ok(None)` when it does not exist.
fn open_below(
    dir: &OwnedFd,
    name: &OsStr,
    directory: bool,
    at: &Path,
) -> Result<Option<OwnedFd>, ConfinedError> {
    let mut flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    if directory {
        flags |= OFlags::DIRECTORY;
    }
    match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => {
            // Say what is there instead: a link (ELOOP, or ENOTDIR for a link where a directory
            // was expected), a file where a directory belongs, ...
            match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Symlink => Err(ConfinedError::Link {
                        path: at.to_path_buf(),
                    }),
                    kind if directory && kind != FileType::Directory => {
                        Err(ConfinedError::NotDirectory {
                            path: at.to_path_buf(),
                            kind: kind_name(kind),
                        })
                    }
                    _ => Err(io_error(at, e)),
                },
                Err(_) => Err(io_error(at, e)),
            }
        }
    }
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "named pipe (FIFO)",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "special file",
    }
}

fn io_error(path: &Path, e: Errno) -> ConfinedError {
    ConfinedError::Io {
        path: path.to_path_buf(),
        source: io::Error::from(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("out/argocd/tenants")).unwrap();
        fs::write(dir.path().join("out/argocd/root.yaml"), "root").unwrap();
        fs::write(dir.path().join("out/argocd/tenants/a.yaml"), "a").unwrap();
        fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
        fs::write(dir.path().join("elsewhere/secret.yaml"), "TOP-SECRET").unwrap();
        dir
    }

    fn out(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("out")
    }

    #[test]
    fn reads_regular_files_and_reports_missing_ones() {
        let d = tree();
        let shown = Path::new("OUT");
        let got = read(&out(&d), Path::new("argocd/root.yaml"), 100, shown).unwrap();
        assert_eq!(got.as_deref(), Some(&b"root"[..]));
        for missing in ["argocd/none.yaml", "nodir/x.yaml"] {
            assert!(
                read(&out(&d), Path::new(missing), 100, shown)
                    .unwrap()
                    .is_none()
            );
        }
        assert_eq!(
            list_files(&out(&d), Path::new("argocd"), shown).unwrap(),
            [
                PathBuf::from("argocd/root.yaml"),
                PathBuf::from("argocd/tenants/a.yaml")
            ]
        );
        assert!(
            list_files(&out(&d), Path::new("talos"), shown)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn never_follows_a_link_to_a_file_or_a_directory() {
        let d = tree();
        let shown = Path::new("OUT");
        fs::remove_file(out(&d).join("argocd/root.yaml")).unwrap();
        symlink(
            d.path().join("elsewhere/secret.yaml"),
            out(&d).join("argocd/root.yaml"),
        )
        .unwrap();
        let err = read(&out(&d), Path::new("argocd/root.yaml"), 100, shown).unwrap_err();
        assert!(matches!(err, ConfinedError::Link { .. }), "{err}");
        assert_eq!(err.path(), Path::new("OUT/argocd/root.yaml"));
        assert!(!err.to_string().contains("TOP-SECRET"));

        symlink(d.path().join("elsewhere"), out(&d).join("secrets")).unwrap();
        let err = read(&out(&d), Path::new("secrets/secret.yaml"), 100, shown).unwrap_err();
        assert!(matches!(err, ConfinedError::Link { .. }), "{err}");
        assert_eq!(err.path(), Path::new("OUT/secrets"));
        let err = list_files(&out(&d), Path::new("secrets"), shown).unwrap_err();
        assert!(matches!(err, ConfinedError::Link { .. }), "{err}");

        // A link deeper down, met while walking.
        fs::remove_file(out(&d).join("argocd/root.yaml")).unwrap();
        symlink("/etc", out(&d).join("argocd/tenants/etc")).unwrap();
        let err = list_files(&out(&d), Path::new("argocd"), shown).unwrap_err();
        assert_eq!(err.path(), Path::new("OUT/argocd/tenants/etc"));
    }

    #[test]
    fn refuses_special_files_and_large_ones_without_blocking() {
        let d = tree();
        let shown = Path::new("OUT");
        let fifo = out(&d).join("argocd/pipe.yaml");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = read(&out(&d), Path::new("argocd/pipe.yaml"), 100, shown).unwrap_err();
        assert!(
            matches!(
                err,
                ConfinedError::NotRegular {
                    kind: "named pipe (FIFO)",
                    ..
                }
            ),
            "{err}"
        );
        let err = list_files(&out(&d), Path::new("argocd"), shown).unwrap_err();
        assert!(matches!(err, ConfinedError::NotRegular { .. }), "{err}");
        fs::remove_file(&fifo).unwrap();

        let err = read(&out(&d), Path::new("argocd/root.yaml"), 3, shown).unwrap_err();
        assert!(
            matches!(err, ConfinedError::TooLarge { limit: 3, .. }),
            "{err}"
        );
        // A file where a directory belongs is named as such, not "missing".
        let err = read(&out(&d), Path::new("argocd/root.yaml/x"), 100, shown).unwrap_err();
        assert!(matches!(err, ConfinedError::NotDirectory { .. }), "{err}");
    }

    #[test]
    fn refuses_paths_that_leave_the_root() {
        let d = tree();
        for rel in ["../elsewhere/secret.yaml", "/etc/passwd", ""] {
            let err = read(&out(&d), Path::new(rel), 100, Path::new("OUT")).unwrap_err();
            assert!(
                matches!(err, ConfinedError::OutsideRoot { .. }),
                "{rel}: {err}"
            );
        }
    }

    #[test]
    fn a_file_where_a_directory_belongs_is_named_as_such() {
        let d = tree();
        let shown = Path::new("OUT");
        let err = is_dir(&out(&d), Path::new("argocd/root.yaml/x"), shown).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OUT/argocd/root.yaml: is a regular file, not a directory"
        );
        assert!(is_dir(&out(&d), Path::new("argocd/tenants"), shown).unwrap());
        assert!(!is_dir(&out(&d), Path::new("argocd/none"), shown).unwrap());
    }
}
