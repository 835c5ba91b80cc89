//! The one safety rule of preview-patch: without `--force`, the current kubeconfig context must
//! be a Kind context (`kind-*`, the name `kind create cluster` gives it). The kubeconfig is read,
//! never a cluster: `KUBECONFIG` (a `:`-separated list, the first file that sets
//! `current-context` wins, as kubectl merges) or else `~/.kube/config`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error(
        "no kubeconfig found (looked at {}), so this is not known to be a Kind cluster; preview-patch only runs against a Kind context (kind-*), or anywhere with --force (CI, before the cluster exists)",
        list(.0)
    )]
    NoKubeconfig(Vec<PathBuf>),
    #[error(
        "no current context in {}; preview-patch only runs against a Kind context (kind-*), or anywhere with --force",
        list(.0)
    )]
    NoCurrentContext(Vec<PathBuf>),
    #[error(
        "the current kubeconfig context is `{context}` (from {}), not a Kind context (kind-*); preview-patch adapts the platform for Kind and refuses to run elsewhere. Switch context (kubectl config use-context kind-...) or pass --force",
        file.display()
    )]
    NotKind { context: String, file: PathBuf },
    #[error("cannot read kubeconfig {}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
}

fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing: neither KUBECONFIG nor HOME is set".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Deserialize)]
struct Kubeconfig {
    // Only this field is read; the rest (credentials included) is never looked at.
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
}

/// The current context and the file that set it.
pub fn current_context(
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<(String, PathBuf), ContextError> {
    let files = crate::kube::kubeconfig::files(kubeconfig_env, home);
    let mut any = false;
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            // kubectl skips files of the list that do not exist.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ContextError::Unreadable {
                    path: f.clone(),
                    message: e.to_string(),
                });
            }
        };
        any = true;
        if text.trim().is_empty() {
            continue;
        }
        let cfg: Kubeconfig =
            crate::yaml::from_str(&text).map_err(|e| ContextError::Unreadable {
                path: f.clone(),
                message: e.to_string(),
            })?;
        if let Some(ctx) = cfg.current_context.filter(|c| !c.is_empty()) {
            return Ok((ctx, f.clone()));
        }
    }
    if any {
        Err(ContextError::NoCurrentContext(files))
    } else {
        Err(ContextError::NoKubeconfig(files))
    }
}

/// Ok with the context name when it is a Kind context.
pub fn require_kind(
    kubeconfig_env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<String, ContextError> {
    let (context, file) = current_context(kubeconfig_env, home)?;
    if context.starts_with("kind-") {
        Ok(context)
    } else {
        Err(ContextError::NotKind { context, file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_file_with_a_current_context_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "apiVersion: v1\nkind: Config\nclusters: []\n").unwrap();
        std::fs::write(
            &b,
            "current-context: kind-zerotouch-preview\nusers:\n- name: x\n  user: {token: secret}\n",
        )
        .unwrap();
        let env = std::env::join_paths([dir.path().join("missing"), a.clone(), b.clone()]).unwrap();
        assert_eq!(
            require_kind(Some(&env), None).unwrap(),
            "kind-zerotouch-preview"
        );
        std::fs::write(&a, "current-context: admin@prod\n").unwrap();
        let err = require_kind(Some(&env), None).unwrap_err();
        assert!(
            matches!(&err, ContextError::NotKind { context, .. } if context == "admin@prod"),
            "{err}"
        );
        assert!(err.to_string().contains("--force"), "{err}");
    }

    #[test]
    fn home_config_missing_or_broken() {
        let home = tempfile::tempdir().unwrap();
        let err = require_kind(None, Some(home.path())).unwrap_err();
        assert!(matches!(err, ContextError::NoKubeconfig(_)), "{err}");
        std::fs::create_dir_all(home.path().join(".kube")).unwrap();
        std::fs::write(home.path().join(".kube/config"), "clusters: []\n").unwrap();
        assert!(matches!(
            require_kind(None, Some(home.path())).unwrap_err(),
            ContextError::NoCurrentContext(_)
        ));
        std::fs::write(home.path().join(".kube/config"), "current-context: [oops\n").unwrap();
        let err = require_kind(None, Some(home.path())).unwrap_err();
        assert!(matches!(err, ContextError::Unreadable { .. }), "{err}");
    }
}
