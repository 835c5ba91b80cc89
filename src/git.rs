//! The little git the render needs: the commit a checkout is at. Runs the `git` program (local
//! only, never the network).

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{}: not a git checkout (needed to pin the revision Argo CD syncs)", .0.display())]
    NotACheckout(PathBuf),
    #[error("{}: the repository has no commit yet (needed to pin the revision Argo CD syncs)", .0.display())]
    NoCommit(PathBuf),
    #[error("cannot run git: {0}; is git installed?")]
    Unavailable(std::io::Error),
}

/// The full SHA of `HEAD` in the checkout at `dir`.
pub fn head_commit(dir: &Path) -> Result<String, GitError> {
    let inside = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .map_err(GitError::Unavailable)?;
    if !inside.status.success() {
        return Err(GitError::NotACheckout(dir.to_path_buf()));
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        .output()
        .map_err(GitError::Unavailable)?;
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || sha.len() != 40 || !sha.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(GitError::NoCommit(dir.to_path_buf()));
    }
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn reads_head_and_explains_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            head_commit(dir.path()),
            Err(GitError::NotACheckout(_))
        ));
        git(dir.path(), &["init", "-q"]);
        assert!(matches!(
            head_commit(dir.path()),
            Err(GitError::NoCommit(_))
        ));
        git(dir.path(), &["commit", "-q", "--allow-empty", "-m", "x"]);
        let sha = head_commit(dir.path()).unwrap();
        assert_eq!(sha.len(), 40);
    }
}
