//! What both plans share: reading the in-memory render, and the Argo CD half of a bootstrap
//! (install, Secrets, repo server, root Application, wait until it is Synced and Healthy).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::Ctx;
use super::stage::{Stage, StageError, StageFuture};
use super::stages::kubernetes::{ApplyManifests, ManifestSource, WaitObject};
use crate::render::OutputTree;

/// Argo CD's repo server, which must run before the root Application can sync.
pub const REPO_SERVER: (&str, &str) = ("argocd", "argocd-repo-server");
pub const ROOT_APP: &str = "platform-bootstrap";

/// The rendered documents under `prefix` (a directory or one file of the output tree), and the
/// files they came from.
pub fn docs_of(tree: &OutputTree, prefix: &str) -> Result<(Vec<Value>, Vec<String>), StageError> {
    let mut docs = Vec::new();
    let mut from = Vec::new();
    for (path, file) in tree.iter().filter(|(p, _)| p.starts_with(prefix)) {
        let text = String::from_utf8_lossy(&file.bytes);
        let parsed: Vec<Value> = crate::yaml::from_str_multi(&text)
            .map_err(|e| StageError::new(format!("rendered {}: {e}", path.display())))?;
        docs.extend(parsed.into_iter().filter(|d| !d.is_null()));
        from.push(path.display().to_string());
    }
    Ok((docs, from))
}

/// Namespace objects for every namespace `docs` live in, first.
pub fn with_namespaces(docs: Vec<Value>) -> Vec<Value> {
    let mut names: Vec<String> = docs
        .iter()
        .filter_map(|d| d.pointer("/metadata/namespace").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    let mut out: Vec<Value> = names
        .into_iter()
        .map(|n| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}))
        .collect();
    out.extend(docs);
    out
}

/// A stage that reports what was rendered (the render itself ran before the plan was built,
/// in memory, because the plan is made from its output).
pub struct RenderedStage {
    pub summary: String,
}

impl Stage for RenderedStage {
    fn name(&self) -> String {
        "render".into()
    }
    fn summary(&self) -> String {
        self.summary.clone()
    }
    fn cacheable(&self) -> bool {
        false
    }
    fn run<'a>(&'a self, _ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// Where Argo CD's install comes from: `--argocd-install FILE`, else the kustomization `install`
/// (relative to the platform checkout, when there is one).
pub fn install_source(
    file: Option<&PathBuf>,
    platform_repo: Option<&Path>,
    install: &str,
) -> Result<ManifestSource, StageError> {
    match (file, platform_repo) {
        (Some(file), _) => Ok(ManifestSource::File(file.clone())),
        (None, Some(repo)) => {
            let dir = repo.join(install);
            if !dir.is_dir() {
                return Err(StageError::new(format!(
                    "{}: no Argo CD install kustomization in the platform repo",
                    dir.display()
                ))
                .hint("pass --argocd-install FILE with a pre-built manifest"));
            }
            Ok(ManifestSource::Kustomization(dir))
        }
        (None, None) => Err(StageError::new(format!(
            "installing Argo CD needs the platform repository's {install}"
        ))
        .hint("pass --platform-repo DIR (a checkout of the platform repo), or --argocd-install FILE with a pre-built manifest")),
    }
}

/// The Argo CD half of a plan, in order: install, Secrets (with their namespaces), repo server,
/// root Application (`root_summary` says what it points at), wait until it is Synced and Healthy.
pub fn argocd_stages(
    stages: &mut Vec<Box<dyn Stage>>,
    tree: &OutputTree,
    install: ManifestSource,
    install_summary: &str,
    root_summary: String,
) -> Result<(), StageError> {
    stages.push(Box::new(ApplyManifests {
        name: "argocd-install".into(),
        summary: install_summary.into(),
        source: install,
        force: false,
    }));
    let (secret_docs, secret_files) = docs_of(tree, "secrets")?;
    if !secret_docs.is_empty() {
        stages.push(Box::new(ApplyManifests {
            name: "secrets".into(),
            summary: format!(
                "apply the rendered Secrets ({}) and their namespaces",
                secret_docs.len()
            ),
            source: ManifestSource::Rendered {
                docs: with_namespaces(secret_docs),
                from: secret_files,
            },
            force: false,
        }));
    }
    stages.push(Box::new(WaitObject::deployment(
        REPO_SERVER.0,
        REPO_SERVER.1,
    )));
    let (root, root_from) = docs_of(tree, "argocd/root.yaml")?;
    stages.push(Box::new(ApplyManifests {
        name: "root-app".into(),
        summary: root_summary,
        source: ManifestSource::Rendered {
            docs: root,
            from: root_from,
        },
        force: false,
    }));
    stages.push(Box::new(WaitObject::application("argocd", ROOT_APP)));
    Ok(())
}
