//! The git facts kubectl zt needs, by running `git` (no network): the commit a checkout is at
//! (render and preview-patch pin Argo CD to it), and preview-patch's `--commit`, which records the patched tree on a branch without touching the user's branch,
//! index or work tree (a temporary index, `write-tree`, `commit-tree`, `update-ref`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::process::{ProcessError, Run};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error(
        "{}: not a git checkout, so there is no commit to pin targetRevision to; use a clone of the platform repo",
        .0.display()
    )]
    NotACheckout(PathBuf),
    #[error(
        "{}: the repository has no commit yet, so there is no revision to pin; commit first",
        .0.display()
    )]
    NoCommit(PathBuf),
    #[error("cannot run git ({0}); git is needed to find the commit to pin")]
    Spawn(String),
    #[error("git {args} failed: {stderr}")]
    Failed {
        args: String,
        /// The exit code, when git exited (not killed, not timed out).
        exit_code: Option<i32>,
        stderr: String,
    },
    #[error("`{0}` is not a valid branch name")]
    BadBranch(String),
    #[error(
        "branch {branch} is checked out in {}; --commit rewrites that branch, so pick another with --branch",
        worktree.display()
    )]
    BranchCheckedOut { branch: String, worktree: PathBuf },
}

/// The first 12 characters of a commit id, for messages.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// A git checkout holding the platform repo (possibly in a subdirectory).
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
}

/// What `--commit` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// A new commit, now the tip of the branch.
    Created { commit: String },
    /// The branch already holds exactly this tree on top of HEAD.
    UpToDate { commit: String },
}

impl Repo {
    /// `dir` must be inside a git work tree.
    pub fn open(dir: &Path) -> Result<Repo, GitError> {
        let repo = Repo {
            dir: dir.to_path_buf(),
        };
        match repo.git(&["rev-parse", "--is-inside-work-tree"], &[], None) {
            Ok(out) if out.trim() == "true" => Ok(repo),
            Ok(_) => Err(GitError::NotACheckout(dir.to_path_buf())),
            Err(GitError::Failed { .. }) => Err(GitError::NotACheckout(dir.to_path_buf())),
            Err(e) => Err(e),
        }
    }

    fn git(
        &self,
        args: &[&str],
        env: &[(&str, OsString)],
        stdin: Option<&[u8]>,
    ) -> Result<String, GitError> {
        let mut run = Run::new("git", ["-C".as_ref(), self.dir.as_os_str()])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C");
        for (k, v) in env {
            run = run.env(k, v);
        }
        if let Some(bytes) = stdin {
            run = run.stdin(bytes.to_vec());
        }
        match run.blocking(|_| {}) {
            Ok(done) => Ok(done.stdout_text()),
            Err(ProcessError::Failed {
                exit_code,
                stderr_tail,
                ..
            }) => Err(GitError::Failed {
                args: args.join(" "),
                exit_code,
                stderr: stderr_tail.join("\n"),
            }),
            Err(e @ ProcessError::Spawn { .. }) => Err(GitError::Spawn(e.to_string())),
            Err(e) => Err(GitError::Failed {
                args: args.join(" "),
                exit_code: None,
                stderr: e.to_string(),
            }),
        }
    }

    /// [`Repo::open`] and [`Repo::head`] in one `git` run: the checkout at `dir` and the full
    /// id of its HEAD commit.
    pub fn open_at_head(dir: &Path) -> Result<(Repo, String), GitError> {
        let repo = Repo {
            dir: dir.to_path_buf(),
        };
        let args = [
            "rev-parse",
            "--is-inside-work-tree",
            "--verify",
            "-q",
            "HEAD^{commit}",
        ];
        match repo.git(&args, &[], None) {
            Ok(out) => {
                let mut lines = out.lines();
                match (lines.next(), lines.next()) {
                    (Some("true"), Some(head)) if !head.trim().is_empty() => {
                        let head = head.trim().to_string();
                        Ok((repo, head))
                    }
                    _ => Err(GitError::NotACheckout(dir.to_path_buf())),
                }
            }
            // In a work tree (`true` was printed) without a commit, rev-parse exits 1; outside
            // one, 128.
            Err(GitError::Failed {
                exit_code: Some(1), ..
            }) => Err(GitError::NoCommit(dir.to_path_buf())),
            Err(GitError::Failed { .. }) => Err(GitError::NotACheckout(dir.to_path_buf())),
            Err(e) => Err(e),
        }
    }

    /// The full id of the commit checked out.
    pub fn head(&self) -> Result<String, GitError> {
        self.git(&["rev-parse", "--verify", "-q", "HEAD^{commit}"], &[], None)
            .map(|s| s.trim().to_string())
            .map_err(|_| GitError::NoCommit(self.dir.clone()))
    }

    /// Records `files` (paths relative to the platform repo dir, new contents) on top of the
    /// tracked work tree as a commit whose parent is HEAD, and points `branch` at it. The
    /// commit holds the tracked files as they are in the work tree (uncommitted edits included:
    /// the preview shows what is being worked on), with `files` replaced.
    pub fn commit_files(
        &self,
        branch: &str,
        files: &[(String, Vec<u8>)],
        message: &str,
    ) -> Result<CommitOutcome, GitError> {
        let full_ref = self.branch_ref(branch)?;
        let head = self.head()?;
        let tree = self.tree_with(files)?;
        let existing = self.commit_at(&full_ref);
        if let Some(old) = &existing
            && self.holds(old, &tree, &head)?
        {
            return Ok(CommitOutcome::UpToDate {
                commit: old.clone(),
            });
        }
        let commit = self
            .git(
                &["commit-tree", &tree, "-p", &head, "-m", message],
                &self.identity(),
                None,
            )?
            .trim()
            .to_string();
        let mut args = vec![
            "update-ref",
            "-m",
            "kubectl zt preview-patch --commit",
            &full_ref,
            &commit,
        ];
        // Compare-and-swap: the branch moves only if nobody moved it meanwhile.
        if let Some(old) = &existing {
            args.push(old);
        }
        self.git(&args, &[], None)?;
        Ok(CommitOutcome::Created { commit })
    }

    /// `refs/heads/<branch>` for a valid branch name that is not checked out anywhere.
    fn branch_ref(&self, branch: &str) -> Result<String, GitError> {
        if self
            .git(&["check-ref-format", "--branch", branch], &[], None)
            .is_err()
            || branch.starts_with('-')
        {
            return Err(GitError::BadBranch(branch.to_string()));
        }
        let full_ref = format!("refs/heads/{branch}");
        self.refuse_checked_out(branch, &full_ref)?;
        Ok(full_ref)
    }

    /// The tree of the tracked work tree with `files` (relative to this checkout's directory)
    /// replaced, written through a temporary index: the real index is never touched.
    fn tree_with(&self, files: &[(String, Vec<u8>)]) -> Result<String, GitError> {
        let top = PathBuf::from(
            self.git(&["rev-parse", "--show-toplevel"], &[], None)?
                .trim(),
        );
        let prefix = self
            .git(&["rev-parse", "--show-prefix"], &[], None)?
            .trim()
            .to_string();
        let tmp = tempfile::Builder::new()
            .prefix("zt-preview-index-")
            .tempdir()
            .map_err(|e| GitError::Spawn(format!("temporary index: {e}")))?;
        let index = tmp.path().join("index");
        // Start from a copy of the real index (its stat data saves re-hashing the tree).
        let real_index = self.git(
            &["rev-parse", "--path-format=absolute", "--git-path", "index"],
            &[],
            None,
        )?;
        let real_index = PathBuf::from(real_index.trim());
        let env: Vec<(&str, OsString)> = vec![("GIT_INDEX_FILE", index.clone().into_os_string())];
        let top_repo = Repo { dir: top };
        if real_index.is_file() {
            std::fs::copy(&real_index, &index)
                .map_err(|e| GitError::Spawn(format!("copying the index: {e}")))?;
        } else {
            top_repo.git(&["read-tree", "HEAD"], &env, None)?;
        }
        top_repo.git(&["add", "-u", "--", "."], &env, None)?;
        for (rel, bytes) in files {
            let path = format!("{prefix}{rel}");
            let blob = top_repo.git(&["hash-object", "-w", "--stdin"], &[], Some(bytes))?;
            let staged = top_repo.git(&["ls-files", "-s", "--", &path], &env, None)?;
            let mode = staged
                .split_whitespace()
                .next()
                .filter(|m| *m == "100755")
                .unwrap_or("100644");
            let info = format!("{mode},{},{path}", blob.trim());
            top_repo.git(&["update-index", "--add", "--cacheinfo", &info], &env, None)?;
        }
        Ok(top_repo
            .git(&["write-tree"], &env, None)?
            .trim()
            .to_string())
    }

    /// The commit `full_ref` points at, if it exists.
    fn commit_at(&self, full_ref: &str) -> Option<String> {
        self.git(
            &[
                "rev-parse",
                "--verify",
                "-q",
                &format!("{full_ref}^{{commit}}"),
            ],
            &[],
            None,
        )
        .ok()
        .map(|s| s.trim().to_string())
    }

    /// Whether `commit` is exactly `tree` on top of `parent` (nothing to commit again).
    fn holds(&self, commit: &str, tree: &str, parent: &str) -> Result<bool, GitError> {
        let old_tree = self.git(&["rev-parse", &format!("{commit}^{{tree}}")], &[], None)?;
        let old_parent = self
            .git(
                &["rev-parse", "-q", "--verify", &format!("{commit}^")],
                &[],
                None,
            )
            .ok();
        Ok(old_tree.trim() == tree && old_parent.as_deref().map(str::trim) == Some(parent))
    }

    /// A fallback identity for machines (CI) with none configured; a configured one wins.
    fn identity(&self) -> Vec<(&'static str, OsString)> {
        let configured = self
            .git(&["config", "user.email"], &[], None)
            .is_ok_and(|s| !s.trim().is_empty())
            || std::env::var_os("GIT_COMMITTER_EMAIL").is_some();
        if configured {
            return Vec::new();
        }
        vec![
            ("GIT_AUTHOR_NAME", "kubectl zt".into()),
            ("GIT_AUTHOR_EMAIL", "kubectl-zt@localhost".into()),
            ("GIT_COMMITTER_NAME", "kubectl zt".into()),
            ("GIT_COMMITTER_EMAIL", "kubectl-zt@localhost".into()),
        ]
    }

    fn refuse_checked_out(&self, branch: &str, full_ref: &str) -> Result<(), GitError> {
        let list = self.git(&["worktree", "list", "--porcelain"], &[], None)?;
        let mut worktree = PathBuf::new();
        for line in list.lines() {
            if let Some(p) = line.strip_prefix("worktree ") {
                worktree = PathBuf::from(p);
            } else if line.strip_prefix("branch ") == Some(full_ref) {
                return Err(GitError::BranchCheckedOut {
                    branch: branch.to_string(),
                    worktree,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod head_tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn reads_head_and_explains_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Repo::open(dir.path()),
            Err(GitError::NotACheckout(_))
        ));
        git(dir.path(), &["init", "-q"]);
        let repo = Repo::open(dir.path()).unwrap();
        assert!(matches!(repo.head(), Err(GitError::NoCommit(_))));
        assert!(matches!(
            Repo::open_at_head(dir.path()),
            Err(GitError::NoCommit(_))
        ));
        git(dir.path(), &["commit", "-q", "--allow-empty", "-m", "x"]);
        assert_eq!(repo.head().unwrap().len(), 40);
        let (_, head) = Repo::open_at_head(dir.path()).unwrap();
        assert_eq!(head, repo.head().unwrap());
    }

    #[test]
    fn open_at_head_outside_a_checkout_says_so() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Repo::open_at_head(dir.path()),
            Err(GitError::NotACheckout(_))
        ));
    }
}
