//! `preview-patch --force` as a bootstrap stage: the built-in preview patch set over the
//! platform repo checkout, without the Kind-context check (the plan made the cluster itself).
//!
//! Argo CD reads git, never a work tree. Locally it reads the checkout mounted at
//! `file:///repo`, so the patched tree is committed to a branch (`zt-preview`) beside the
//! user's own, and the root Application tracks that branch: the user's branch, index and work
//! tree stay as they were. In CI Argo CD reads GitHub, which no local change reaches, so
//! nothing is written and the user is told so.

use std::path::PathBuf;

use super::super::context::Ctx;
use super::super::stage::{Stage, StageError, StageFuture};
use crate::git::{CommitOutcome, Repo, short};
use crate::patch::{self, LOCAL_URL, Mode, Request, Vars, overlay};

/// Where Argo CD reads the platform from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchTarget {
    /// `file:///repo`: commit the patched tree to this branch.
    Branch(String),
    /// A remote URL (CI): patches cannot reach it.
    Remote { url: String },
}

pub struct PreviewPatch {
    /// The platform repo checkout (the directory Kind mounts at /repo).
    pub root: PathBuf,
    pub target: PatchTarget,
}

impl Stage for PreviewPatch {
    fn name(&self) -> String {
        "preview-patch".into()
    }

    fn summary(&self) -> String {
        match &self.target {
            PatchTarget::Branch(b) => format!(
                "apply the built-in preview patches to {} and commit the result to branch {b}",
                self.root.display()
            ),
            PatchTarget::Remote { .. } => format!(
                "check the built-in preview patches against {} (CI: nothing is written)",
                self.root.display()
            ),
        }
    }

    fn details(&self) -> Vec<String> {
        let mut d = vec![
            "the built-in preview patch set, with --force semantics (no kubeconfig context check)"
                .to_string(),
        ];
        match &self.target {
            PatchTarget::Branch(b) => {
                d.push(format!(
                    "targetRevision of the platform's Applications pinned to branch {b}, repoURL {LOCAL_URL}"
                ));
                d.push(format!(
                    "commit the patched tree (on top of HEAD, tracked files as in the work tree) to refs/heads/{b}; the current branch, index and work tree are not touched"
                ));
            }
            PatchTarget::Remote { url } => d.push(format!(
                "CI mode: Argo CD reads {url}, so local patches cannot reach it; nothing is written, a warning says what would change"
            )),
        }
        d
    }

    /// Never skipped: the branch must hold the checkout as it is now, and an unchanged tree is
    /// recognised without a new commit.
    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let overlays =
                overlay::preview().map_err(|d| diagnostics("the built-in preview patches", &d))?;
            let (git, head) =
                Repo::open_at_head(&self.root).map_err(|e| StageError::new(e.to_string()))?;
            let (revision, mode) = match &self.target {
                PatchTarget::Branch(b) => (b.clone(), Mode::Local),
                PatchTarget::Remote { .. } => (head.clone(), Mode::Ci),
            };
            let vars = Vars {
                platform_url: LOCAL_URL.to_string(),
                platform_revision: revision,
                mode,
            };
            let plan = patch::plan(&Request {
                root: &self.root,
                overlays: &overlays,
                vars: &vars,
            })
            .map_err(|d| diagnostics(&self.root.display().to_string(), &d))?;
            for c in &plan.changes {
                let (add, del) = c.numstat();
                ctx.detail(&format!(
                    "{}: +{add} -{del} ({})",
                    c.path,
                    c.patches.join(", ")
                ));
            }
            match &self.target {
                PatchTarget::Remote { url } => {
                    ctx.warn(&format!(
                        "CI mode: Argo CD reads the platform from {url} at {}, not from this checkout, so the preview patches cannot reach it ({} file{} would change); nothing was written. Commit the patched files to the revision CI tests, or run without --ci (and without CI/GITHUB_ACTIONS) so Argo CD reads {LOCAL_URL}",
                        short(&head),
                        plan.changes.len(),
                        if plan.changes.len() == 1 { "" } else { "s" }
                    ));
                }
                PatchTarget::Branch(branch) => {
                    let outcome = plan
                        .commit_to(&git, branch, &head, "kubectl zt bootstrap --mode preview")
                        .map_err(|e| StageError::new(e.to_string()))?;
                    match outcome {
                        CommitOutcome::Created { commit } => ctx.detail(&format!(
                            "committed {} on branch {branch} ({} changed file{}, base {})",
                            short(&commit),
                            plan.changes.len(),
                            if plan.changes.len() == 1 { "" } else { "s" },
                            short(&head)
                        )),
                        CommitOutcome::UpToDate { commit } => ctx.detail(&format!(
                            "branch {branch} ({}) already holds this patched tree on top of {}",
                            short(&commit),
                            short(&head)
                        )),
                    }
                }
            }
            Ok(())
        })
    }
}

/// Input problems as one stage error, one `file:line:col: ...` line each.
fn diagnostics(what: &str, d: &crate::diag::Diagnostics) -> StageError {
    let lines: Vec<String> = d.iter().map(ToString::to_string).collect();
    StageError::new(format!(
        "{} problem{} in {what}:\n    {}",
        d.len(),
        if d.len() == 1 { "" } else { "s" },
        lines.join("\n    ")
    ))
}
