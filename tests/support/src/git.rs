//! Git checkouts for tests of commands that pin or commit revisions: a copy of a fixture tree,
//! made a repository with one commit, and `git diff --numstat` as data.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Runs git in `dir` with a fixed identity and no user configuration; panics on failure (tests).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "zt test")
        .env("GIT_AUTHOR_EMAIL", "test@zt.invalid")
        .env("GIT_COMMITTER_NAME", "zt test")
        .env("GIT_COMMITTER_EMAIL", "test@zt.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies `src` into a new temporary directory (files made writable) and commits it.
pub fn checkout_of(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(src, dir.path());
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "fixture"]);
    dir
}

fn copy_tree(src: &Path, dst: &Path) {
    for entry in fs::read_dir(src).expect("read fixture dir").flatten() {
        let from = entry.path();
        let to = dst.join(entry.file_name());
        if from.is_dir() {
            fs::create_dir_all(&to).expect("mkdir");
            copy_tree(&from, &to);
        } else {
            fs::write(&to, fs::read(&from).expect("read fixture")).expect("write copy");
        }
    }
}

/// `git diff --numstat` of the work tree: path → (added, removed).
pub fn numstat(dir: &Path) -> BTreeMap<String, (usize, usize)> {
    git(dir, &["diff", "--numstat"])
        .lines()
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let added = parts.next()?.parse().ok()?;
            let removed = parts.next()?.parse().ok()?;
            Some((parts.next()?.to_string(), (added, removed)))
        })
        .collect()
}
