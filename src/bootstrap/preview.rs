//! The preview plan: a CI runner (or a laptop) with Docker → a Kind cluster with the platform
//! syncing.
//!
//! render (in memory) → `kind create cluster` (kept when it exists) → the control-plane node
//! Ready → load local images into the nodes → preview patches (committed to a branch Argo CD
//! reads through `file:///repo`) → Argo CD's preview install → the rendered Secrets → the repo
//! server → the root Application → Synced and Healthy.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::platform::{ROOT_APP, RenderedStage, argocd_stages, install_source};
use super::runner::Plan;
use super::stage::{Stage, StageError};
use super::stages::images::LoadImage;
use super::stages::kind::KindCreate;
use super::stages::kubernetes::WaitNodeReady;
use super::stages::preview_patch::{PatchTarget, PreviewPatch};
use crate::patch::LOCAL_URL;
use crate::render::ObjectRole;
use crate::render::Rendered;

/// Where the platform repository keeps the preview's Argo CD install kustomization (the
/// production one plus the `/repo` mount for the repo server).
pub const ARGOCD_INSTALL: &str = "bootstrap/argocd/install/preview";
/// The branch the patched platform is committed to when Argo CD reads `file:///repo`.
pub const BRANCH: &str = "zt-preview";
/// The kind executable, looked up in PATH.
pub const KIND: &str = "kind";

pub struct PreviewInputs<'a> {
    /// The preview render (Kind config, root Application, Secrets), in memory.
    pub rendered: &'a Rendered,
    /// The Kind cluster's name.
    pub cluster: String,
    /// The platform repository checkout (absolute: Kind mounts it at /repo).
    pub platform_repo: &'a Path,
    /// A pre-built Argo CD install manifest, used instead of building the kustomization.
    pub argocd_install: Option<PathBuf>,
    /// Local images to load into the nodes, in order.
    pub load_images: Vec<String>,
    /// Where Argo CD reads the platform: a local branch through `file:///repo`, or (CI) a
    /// remote URL. The rendered root Application must agree.
    pub patch_target: PatchTarget,
    /// The kind executable ([`KIND`] unless a test says otherwise).
    pub kind_program: OsString,
}

fn str_at<'v>(doc: &'v Value, pointer: &str) -> &'v str {
    doc.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

pub fn plan(inputs: PreviewInputs<'_>) -> Result<Plan, StageError> {
    let tree = &inputs.rendered.tree;
    let cluster = &inputs.cluster;
    let kind_config = tree
        .get(Path::new("kind/cluster.yaml"))
        .ok_or_else(|| StageError::new("the render produced no kind/cluster.yaml"))?;
    let (root, _) = inputs.rendered.docs_of(ObjectRole::RootApplication);
    let Some(root_app) = root.first() else {
        return Err(StageError::new("the render produced no argocd/root.yaml"));
    };
    let url = str_at(root_app, "/spec/source/repoURL").to_string();
    let revision = str_at(root_app, "/spec/source/targetRevision").to_string();
    // The root Application and the patches must send Argo CD to the same place; a mismatch
    // would sync a tree nobody patched.
    if let PatchTarget::Branch(branch) = &inputs.patch_target
        && (url != LOCAL_URL || &revision != branch)
    {
        return Err(StageError::new(format!(
            "the root Application reads {url} at {revision}, but the preview patches are committed to branch {branch} of {LOCAL_URL}"
        ))
        .hint(format!("render the preview with revision {branch}")));
    }
    // Argo CD clones file:///repo, the platform checkout as mounted into the Kind node: the
    // mount must hold the repository itself. A subdirectory of a repository, or a `git
    // worktree` (whose .git file points outside the mount), would fail only much later, as an
    // Application that never syncs.
    if matches!(inputs.patch_target, PatchTarget::Branch(_))
        && !inputs.platform_repo.join(".git").is_dir()
    {
        return Err(StageError::new(format!(
            "{}: Argo CD reads this checkout through the Kind mount {LOCAL_URL}, so it must be the top directory of a git clone with its .git directory inside",
            inputs.platform_repo.display()
        ))
        .hint("pass --platform-repo the top of a clone (not a subdirectory or a `git worktree`), or use --ci so Argo CD reads the platform from GitHub"));
    }
    let secret_docs = inputs.rendered.objects_of(ObjectRole::Secret);

    let mut images: Vec<String> = Vec::new();
    for image in &inputs.load_images {
        if image.trim().is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(StageError::new(format!(
                "--load-image {image:?}: not an image reference"
            )));
        }
        if !images.contains(image) {
            images.push(image.clone());
        }
    }

    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    stages.push(Box::new(RenderedStage {
        summary: format!(
            "render the preview in memory: Kind config for cluster {cluster}, root Application ({url} at {revision}), {} Secrets",
            secret_docs.len()
        ),
    }));
    stages.push(Box::new(KindCreate {
        cluster: cluster.clone(),
        config: kind_config.bytes.clone(),
        program: inputs.kind_program.clone(),
        repo_mount: matches!(inputs.patch_target, PatchTarget::Branch(_))
            .then(|| inputs.platform_repo.to_path_buf()),
    }));
    stages.push(Box::new(WaitNodeReady {
        node: format!("{cluster}-control-plane"),
    }));
    for image in images {
        stages.push(Box::new(LoadImage {
            image,
            cluster: cluster.clone(),
        }));
    }
    stages.push(Box::new(PreviewPatch {
        root: inputs.platform_repo.to_path_buf(),
        target: inputs.patch_target.clone(),
    }));

    let install = install_source(
        inputs.argocd_install.as_ref(),
        Some(inputs.platform_repo),
        ARGOCD_INSTALL,
    )?;
    argocd_stages(
        &mut stages,
        inputs.rendered,
        install,
        "install Argo CD for the preview (server-side apply)",
        format!("apply the root Application {ROOT_APP} ({url} at {revision})"),
    )?;
    Ok(Plan {
        mode: "preview".into(),
        target: cluster.clone(),
        stages,
    })
}
