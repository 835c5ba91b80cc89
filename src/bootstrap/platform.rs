//! What both plans share: the Argo CD half of a bootstrap (install, Secrets, repo server, root
//! Application, wait until it is Synced and Healthy), from the render's typed objects.

use std::path::{Path, PathBuf};

use super::Ctx;
use super::stage::{Stage, StageError, StageFuture};
use super::stages::kubernetes::{ApplyManifests, ManifestSource, WaitObject};
use crate::render::{ObjectRole, Rendered, with_namespaces};

/// Argo CD's repo server, which must run before the root Application can sync.
pub const REPO_SERVER: (&str, &str) = ("argocd", "argocd-repo-server");
pub const ROOT_APP: &str = "platform-bootstrap";

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
    rendered: &Rendered,
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
    let (secret_docs, secret_files) = rendered.docs_of(ObjectRole::Secret);
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
    let (root, root_from) = rendered.docs_of(ObjectRole::RootApplication);
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
