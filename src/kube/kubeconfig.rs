//! Writing a kubeconfig received from a cluster (Talos hands one out at bootstrap): merged into
//! an existing file the way `talosctl kubeconfig` and `kind` do (same-named clusters, users and
//! contexts replaced, the new context made current), written 0600 and atomically. The contents
//! are never printed; errors name files and positions only.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::fsio;
use crate::secret::SecretBytes;
use crate::yaml;

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigWriteError {
    #[error("the kubeconfig received from the cluster is not valid: {0}")]
    Received(String),
    #[error("{}: not a kubeconfig ({message}); refusing to merge into it", path.display())]
    Existing { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: locked by another writer (kubectl or kubectl zt) for {waited:?}; if none is \
         running, remove the lock file",
        path.display()
    )]
    Locked {
        path: PathBuf,
        waited: std::time::Duration,
    },
}

/// How long [`write`] waits for another writer's lock on the kubeconfig.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `<file>.lock`, created exclusively, as kubectl (client-go) locks a kubeconfig while it
/// writes; removed when dropped.
struct FileLock(PathBuf);

impl FileLock {
    fn acquire(file: &Path, wait: std::time::Duration) -> Result<FileLock, KubeconfigWriteError> {
        let mut name = file.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(_) => return Ok(FileLock(lock)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if start.elapsed() >= wait {
                        return Err(KubeconfigWriteError::Locked {
                            path: lock,
                            waited: wait,
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(source) => return Err(KubeconfigWriteError::Io { path: lock, source }),
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where writing `path` must go: a symbolic link (`~/.kube/config` → a dotfiles checkout) is
/// written through, as kubectl does, never replaced by a regular file.
fn write_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut target = path.to_path_buf();
    // A bounded walk: a link loop is an error, not a hang.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&target)?;
                target = match target.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(target),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// The kubeconfig files kubectl would read, in order: the entries of `KUBECONFIG` (`kubeconfig_env`)
/// when it is set and not empty, else `<home>/.kube/config`.
pub fn files(kubeconfig_env: Option<&std::ffi::OsStr>, home: Option<&Path>) -> Vec<PathBuf> {
    match kubeconfig_env.filter(|v| !v.is_empty()) {
        Some(v) => std::env::split_paths(v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => home
            .map(|h| vec![h.join(".kube").join("config")])
            .unwrap_or_default(),
    }
}

/// [`files`] for this process's `KUBECONFIG` and `HOME`.
pub fn files_from_environment() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    files(std::env::var_os("KUBECONFIG").as_deref(), home.as_deref())
}

const SECTIONS: [&str; 3] = ["clusters", "users", "contexts"];

fn parse(text: &str) -> Result<Map<String, Value>, String> {
    let v: Value = yaml::from_str(text).map_err(|e| e.to_string())?;
    let Value::Object(m) = v else {
        return Err("expected a mapping".into());
    };
    for s in SECTIONS {
        if let Some(list) = m.get(s)
            && !list.is_array()
            && !list.is_null()
        {
            return Err(format!("`{s}` must be a list"));
        }
    }
    Ok(m)
}

/// The context a kubeconfig makes current.
pub fn current_context(text: &str) -> Option<String> {
    parse(text)
        .ok()?
        .get("current-context")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `existing` with every cluster, user and context of `new` added or replaced by name, and
/// `new`'s current context made current.
pub fn merge(existing: &str, new: &str) -> Result<String, (bool, String)> {
    let mut base = parse(existing).map_err(|m| (false, m))?;
    let add = parse(new).map_err(|m| (true, m))?;
    for s in SECTIONS {
        let mut list: Vec<Value> = base
            .get(s)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for item in add.get(s).and_then(Value::as_array).into_iter().flatten() {
            let name = item.get("name");
            match list.iter_mut().find(|e| e.get("name") == name) {
                Some(slot) => *slot = item.clone(),
                None => list.push(item.clone()),
            }
        }
        base.insert(s.to_string(), Value::Array(list));
    }
    for key in ["apiVersion", "kind"] {
        if !base.contains_key(key)
            && let Some(v) = add.get(key)
        {
            base.insert(key.to_string(), v.clone());
        }
    }
    if let Some(cur) = add.get("current-context") {
        base.insert("current-context".into(), cur.clone());
    }
    yaml::to_string(&Value::Object(base)).map_err(|e| (false, e.to_string()))
}

/// Writes `received` to `path` (merging into an existing kubeconfig there), mode 0600.
/// Returns the context made current.
/// A link at `path` is written through; `<file>.lock` is held while reading and writing, as
/// kubectl does, so concurrent writers do not lose each other's contexts.
pub fn write(path: &Path, received: &SecretBytes) -> Result<Option<String>, KubeconfigWriteError> {
    write_waiting(path, received, LOCK_WAIT)
}

fn write_waiting(
    path: &Path,
    received: &SecretBytes,
    lock_wait: std::time::Duration,
) -> Result<Option<String>, KubeconfigWriteError> {
    let new = std::str::from_utf8(received.expose())
        .map_err(|_| KubeconfigWriteError::Received("not UTF-8".into()))?;
    parse(new).map_err(KubeconfigWriteError::Received)?;
    let shown = path;
    let io = |source| KubeconfigWriteError::Io {
        path: shown.to_path_buf(),
        source,
    };
    let target = write_target(path).map_err(io)?;
    let path = target.as_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let _lock = FileLock::acquire(path, lock_wait)?;
    let text = match std::fs::read_to_string(path) {
        Ok(existing) if !existing.trim().is_empty() => {
            merge(&existing, new).map_err(|(ours, m)| {
                if ours {
                    KubeconfigWriteError::Received(m)
                } else {
                    KubeconfigWriteError::Existing {
                        path: path.to_path_buf(),
                        message: m,
                    }
                }
            })?
        }
        Ok(_) => new.to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new.to_string(),
        Err(e) => return Err(io(e)),
    };
    fsio::write_atomic(path, text.as_bytes(), fsio::SECRET_MODE, true).map_err(io)?;
    Ok(current_context(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: zt\n  cluster: {server: https://203.0.113.10:6443}\nusers:\n- name: admin@zt\n  user: {client-key-data: S0VZ}\ncontexts:\n- name: admin@zt\n  context: {cluster: zt, user: admin@zt}\ncurrent-context: admin@zt\n";

    #[test]
    fn merges_by_name_and_switches_context() {
        let existing = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: https://other}\n- name: zt\n  cluster: {server: https://old}\ncontexts:\n- name: other\n  context: {cluster: other, user: o}\nusers: []\ncurrent-context: other\n";
        let merged = merge(existing, NEW).unwrap();
        let v: Value = yaml::from_str(&merged).unwrap();
        assert_eq!(v["clusters"].as_array().unwrap().len(), 2);
        assert_eq!(
            v["clusters"][1]["cluster"]["server"],
            "https://203.0.113.10:6443"
        );
        assert_eq!(v["contexts"].as_array().unwrap().len(), 2);
        assert_eq!(v["current-context"], "admin@zt");
    }

    #[cfg(unix)]
    #[test]
    fn writes_private_and_refuses_to_merge_into_garbage() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kube/config");
        let ctx = write(&path, &SecretBytes::new(NEW.as_bytes().to_vec())).unwrap();
        assert_eq!(ctx.as_deref(), Some("admin@zt"));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&path, "clusters: 5\n").unwrap();
        let garbage = std::fs::read(&path).unwrap();
        let err = write(&path, &SecretBytes::new(NEW.as_bytes().to_vec())).unwrap_err();
        assert!(err.to_string().contains("refusing to merge"), "{err}");
        assert!(!err.to_string().contains("S0VZ"));
        assert_eq!(std::fs::read(&path).unwrap(), garbage, "left as it was");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_kubeconfig_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles/kubeconfig");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(
            &real,
            "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
        )
        .unwrap();
        let link = dir.path().join("kube/config");
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("../dotfiles/kubeconfig", &link).unwrap();
        write(&link, &SecretBytes::new(NEW.as_bytes().to_vec())).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(std::fs::read_to_string(&real).unwrap().contains("admin@zt"));
        assert!(!dir.path().join("dotfiles/kubeconfig.lock").exists());
    }

    #[test]
    fn a_held_lock_is_waited_for_then_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(dir.path().join("config.lock"), "").unwrap();
        let err = write_waiting(
            &path,
            &SecretBytes::new(NEW.as_bytes().to_vec()),
            std::time::Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(matches!(err, KubeconfigWriteError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("config.lock"), "{err}");
        assert!(!path.exists(), "nothing written while locked");
    }
}
