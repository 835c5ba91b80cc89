//! Building a kustomization (the platform repo's `bootstrap/argocd/install`) with the real
//! `kubectl kustomize`. When the build needs a remote resource that cannot be fetched, the error
//! names it, found by reading the kustomization files ourselves.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::super::stage::StageError;
use crate::process::{ProcessError, Run};

/// `resources:` / `bases:` / `components:` entries of the kustomization in `dir` and the local
/// ones below it that point at the network.
pub fn remote_resources(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut seen: Vec<PathBuf> = Vec::new();
    while let Some(d) = stack.pop() {
        if seen.contains(&d) || seen.len() > 200 {
            continue;
        }
        seen.push(d.clone());
        let Some(text) = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
            .iter()
            .find_map(|f| std::fs::read_to_string(d.join(f)).ok())
        else {
            continue;
        };
        let Ok(k) = crate::yaml::from_str::<Value>(&text) else {
            continue;
        };
        for key in ["resources", "bases", "components"] {
            for entry in k.get(key).and_then(Value::as_array).into_iter().flatten() {
                let Some(e) = entry.as_str() else { continue };
                if e.contains("://") || e.starts_with("github.com/") || e.starts_with("git@") {
                    out.push(e.to_string());
                } else {
                    let p = d.join(e);
                    if p.is_dir() {
                        stack.push(p);
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// How long `kubectl kustomize` may take (it may fetch remote resources).
const LIMIT: Duration = Duration::from_secs(300);

/// Builds `dir` and returns its objects. kubectl's stderr lines go to `on_line` (`-v`).
pub async fn build(dir: &Path, on_line: impl FnMut(&str)) -> Result<Vec<Value>, StageError> {
    if !dir.is_dir() {
        return Err(StageError::new(format!(
            "{}: no such kustomization directory",
            dir.display()
        )));
    }
    let run = Run::new("kubectl", ["kustomize".as_ref(), dir.as_os_str()]).limit(LIMIT);
    let output = match run.run(on_line).await {
        Ok(done) => done,
        Err(e) if e.is_spawn() => {
            return Err(StageError::new(format!("cannot run `kubectl kustomize`: {e}"))
                .hint("kubectl builds the Argo CD install kustomization; install it, or pass --argocd-install FILE with a pre-built manifest"));
        }
        Err(ProcessError::Failed { stderr_tail, .. }) => {
            let first = stderr_tail.first().map_or("", |l| l.trim());
            let remote = remote_resources(dir);
            let err = if remote.is_empty() {
                StageError::new(format!(
                    "`kubectl kustomize {}` failed: {first}",
                    dir.display()
                ))
            } else {
                StageError::new(format!(
                    "`kubectl kustomize {}` failed; it needs the remote resource{} {}, which could not be fetched ({first})",
                    dir.display(),
                    if remote.len() == 1 { "" } else { "s" },
                    crate::redact::url_credentials(&remote.join(", "))
                ))
                .hint("on a machine without network access, vendor the resource into the platform repo or pass --argocd-install FILE with a pre-built manifest")
            };
            return Err(err);
        }
        Err(e) => return Err(StageError::new(e.to_string())),
    };
    let text = output.stdout_text();
    crate::yaml::from_str_multi::<Value>(&text)
        .map(|docs| docs.into_iter().filter(|d| !d.is_null()).collect())
        .map_err(|e| {
            StageError::new(format!(
                "`kubectl kustomize {}` printed invalid YAML: {e}",
                dir.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_remote_resources_through_local_bases() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("base")).unwrap();
        std::fs::write(
            root.join("kustomization.yaml"),
            "resources:\n  - base\n  - local.yaml\n",
        )
        .unwrap();
        std::fs::write(
            root.join("base/kustomization.yaml"),
            "resources:\n  - https://raw.githubusercontent.com/argoproj/argo-cd/v3.2.0/manifests/install.yaml\n",
        )
        .unwrap();
        assert_eq!(
            remote_resources(root),
            ["https://raw.githubusercontent.com/argoproj/argo-cd/v3.2.0/manifests/install.yaml"]
        );
    }
}
