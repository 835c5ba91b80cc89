//! `--check`: compare a fresh render with an output directory, as a unified diff with secret
//! values redacted. Golden tests as a user command.

use std::path::{Path, PathBuf};

use similar::TextDiff;

use super::output::OutputTree;
use crate::fsio::confined::{self, ConfinedError};
use crate::redact::redact_yaml;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// The render has a file the directory lacks.
    Missing,
    /// The directory has a file, inside a directory the render owns, that the render lacks.
    Extra,
    Modified,
}

#[derive(Debug, Clone)]
pub struct Change {
    pub path: PathBuf,
    pub kind: ChangeKind,
    /// A unified diff (`a/` on disk, `b/` rendered), secret values redacted; or a note when the
    /// difference cannot be shown.
    pub diff: String,
}

/// Compares `tree` with the directory `out`. Only the top-level directories the tree owns are
/// inspected for extra files.
///
/// `out` may hold anything (a tenant repo's CI checks it out from git): below it only regular
/// files are read, no link is followed and no file larger than [`confined::MAX_FILE_BYTES`] is
/// read. Anything else is an error naming the path, never showing content, and a file that
/// cannot be read is an error, never reported as missing.
pub fn compare(tree: &OutputTree, out: &Path) -> Result<Vec<Change>, ConfinedError> {
    let mut changes = Vec::new();
    for (rel, file) in tree.iter() {
        match confined::read(out, rel, confined::MAX_FILE_BYTES, out)? {
            None => changes.push(Change {
                path: rel.clone(),
                kind: ChangeKind::Missing,
                diff: format!("{}: missing in {}\n", rel.display(), out.display()),
            }),
            Some(old) if old != file.bytes => changes.push(Change {
                path: rel.clone(),
                kind: ChangeKind::Modified,
                diff: diff_text(rel, &old, &file.bytes, file.secret),
            }),
            Some(_) => {}
        }
    }
    for dir in tree.top_dirs() {
        for rel in confined::list_files(out, &dir, out)? {
            if tree.get(&rel).is_none() {
                changes.push(Change {
                    diff: format!("{}: not produced by this render\n", rel.display()),
                    path: rel,
                    kind: ChangeKind::Extra,
                });
            }
        }
    }
    Ok(changes)
}

fn diff_text(rel: &Path, old: &[u8], new: &[u8], secret: bool) -> String {
    let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return format!("{}: binary content differs\n", rel.display());
    };
    let (old_shown, new_shown) = if secret {
        match (redact_yaml(old), redact_yaml(new)) {
            (Some(o), Some(n)) if o == n => {
                return format!("{}: secret values differ (not shown)\n", rel.display());
            }
            (Some(o), Some(n)) => (o, n),
            _ => {
                return format!(
                    "{}: differs; the file on disk is not valid YAML and may hold secrets, so it is not shown\n",
                    rel.display()
                );
            }
        }
    } else {
        (old.to_string(), new.to_string())
    };
    let name = rel.display().to_string();
    TextDiff::from_lines(&old_shown, &new_shown)
        .unified_diff()
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reports_missing_modified_and_extra_with_redaction() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        fs::create_dir_all(out.join("talos")).unwrap();
        fs::write(
            out.join("talos/cp.yaml"),
            "machine:\n  token: OLD-TOKEN\n  type: controlplane\n",
        )
        .unwrap();
        fs::write(out.join("talos/gone.yaml"), "x: 1\n").unwrap();
        let mut t = OutputTree::new();
        t.insert(
            "talos/cp.yaml",
            b"machine:\n  token: NEW-TOKEN\n  type: worker\n".to_vec(),
            true,
        )
        .unwrap();
        t.insert("talos/new.yaml", b"y: 2\n".to_vec(), false)
            .unwrap();
        let changes = compare(&t, out).unwrap();
        let kinds: Vec<_> = changes
            .iter()
            .map(|c| (c.path.display().to_string(), c.kind.clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("talos/cp.yaml".into(), ChangeKind::Modified),
                ("talos/new.yaml".into(), ChangeKind::Missing),
                ("talos/gone.yaml".into(), ChangeKind::Extra),
            ]
        );
        let diff = &changes[0].diff;
        assert!(
            diff.contains("-  type: controlplane") && diff.contains("+  type: worker"),
            "{diff}"
        );
        assert!(
            !diff.contains("OLD-TOKEN") && !diff.contains("NEW-TOKEN"),
            "{diff}"
        );
    }

    #[test]
    fn secret_only_difference_is_reported_without_values() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("s")).unwrap();
        fs::write(dir.path().join("s/a.yaml"), "password: one\n").unwrap();
        let mut t = OutputTree::new();
        t.insert("s/a.yaml", b"password: two\n".to_vec(), true)
            .unwrap();
        let changes = compare(&t, dir.path()).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].diff,
            "s/a.yaml: secret values differ (not shown)\n"
        );
    }
}
