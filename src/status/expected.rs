//! The Applications the root Application will create, read from the platform repository the
//! way kustomize finds them: the overlay's `kustomization.yaml`, its `resources` (files, and
//! directories with their own kustomization) followed recursively, every `kind: Application`
//! document among them. Remote resources (URLs) and generators are not followed; patches cannot
//! add or remove an Application's name here, so the names are what kustomize would emit.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::fsio::confined;
use crate::yaml::Node;

/// Why the expected Applications could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExpectedError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: resource {resource} leaves the platform repository")]
    Outside { path: PathBuf, resource: String },
}

/// The most kustomizations one overlay may pull in (a cycle or a runaway tree stops here).
const MAX_KUSTOMIZATIONS: usize = 200;

/// The overlay of the platform repo the root Application syncs: `explicit` when given, else
/// the preview overlay, else the environment's ([`crate::render::DEFAULT_OVERLAY`]); `None`
/// for a production cluster whose environment is not known.
pub fn root_overlay(explicit: Option<&str>, preview: bool, env: Option<&str>) -> Option<String> {
    match (explicit, preview, env) {
        (Some(o), _, _) => Some(o.to_string()),
        (None, true, _) => Some(crate::render::PREVIEW_OVERLAY.to_string()),
        (None, false, Some(env)) => Some(crate::render::DEFAULT_OVERLAY.replace("{env}", env)),
        (None, false, None) => None,
    }
}

/// Names of the Applications the overlay `overlay` (a directory below `repo`) builds, sorted.
pub fn applications(repo: &Path, overlay: &str) -> Result<Vec<String>, ExpectedError> {
    let mut names = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut pending =
        vec![
            normalize(Path::new(overlay)).ok_or_else(|| ExpectedError::Outside {
                path: repo.to_path_buf(),
                resource: overlay.to_string(),
            })?,
        ];
    while let Some(dir) = pending.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        if seen.len() > MAX_KUSTOMIZATIONS {
            return Err(ExpectedError::Read {
                path: repo.join(&dir),
                message: format!("more than {MAX_KUSTOMIZATIONS} kustomizations"),
            });
        }
        let file = dir.join("kustomization.yaml");
        let docs = read_docs(repo, &file)?;
        let resources: Vec<String> = docs
            .first()
            .and_then(|k| k.get("resources"))
            .and_then(Node::as_seq)
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default();
        for r in resources {
            if r.contains("://") || r.starts_with("github.com/") {
                continue;
            }
            let target = normalize(&dir.join(&r)).ok_or_else(|| ExpectedError::Outside {
                path: repo.join(&file),
                resource: r.clone(),
            })?;
            // kustomize tells files from directories by looking; a manifest file has a YAML or
            // JSON extension, anything else is a directory holding a kustomization.
            let is_dir = !matches!(
                target.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            );
            if is_dir {
                pending.push(target);
            } else {
                for doc in read_docs(repo, &target)? {
                    if doc.get("kind").and_then(text).as_deref() == Some("Application")
                        && let Some(n) = doc
                            .get("metadata")
                            .and_then(|m| m.get("name"))
                            .and_then(text)
                    {
                        names.insert(n);
                    }
                }
            }
        }
    }
    Ok(names.into_iter().collect())
}

fn text(n: &Node) -> Option<String> {
    n.as_scalar().map(|s| s.text.clone())
}

/// The documents of a file. Duplicate keys are kept, not refused: real upstream CRD bundles
/// carry them, and kustomize (Go's YAML) reads such files.
fn read_docs(repo: &Path, rel: &Path) -> Result<Vec<Node>, ExpectedError> {
    let err = |message: String| ExpectedError::Read {
        path: repo.join(rel),
        message,
    };
    let text = confined::read_text(repo, rel, repo)
        .map_err(|e| err(e.reason()))?
        .ok_or_else(|| err("not found".into()))?;
    let stream = crate::yaml::parse_stream_keep_duplicates(&text).map_err(|e| err(e.message))?;
    Ok(stream
        .docs
        .into_iter()
        .filter(|d| d.as_map().is_some())
        .collect())
}

/// `a/b/../c` → `a/c`; `None` when it climbs above the repository.
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_platform_overlay_builds_its_base_applications() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform-repo");
        let names = applications(&repo, "bootstrap/argocd/overlays/main/dev").unwrap();
        for want in ["crossplane-operator", "nats", "keda", "dragonfly"] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(
            !names.iter().any(|n| n == "platform-bootstrap"),
            "{names:?}"
        );
    }

    #[test]
    fn a_resource_outside_the_repository_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("o")).unwrap();
        std::fs::write(
            dir.path().join("o/kustomization.yaml"),
            "resources:\n- ../../elsewhere\n",
        )
        .unwrap();
        let e = applications(dir.path(), "o").unwrap_err();
        assert!(
            e.to_string().contains("leaves the platform repository"),
            "{e}"
        );
        let e = applications(dir.path(), "missing").unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
    }
}
