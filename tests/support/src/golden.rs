//! Byte-for-byte comparison of a rendered tree with a directory of expected files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Compares `files` (relative path → bytes) with `dir`. With `ZT_UPDATE_GOLDEN` set the directory
/// is rewritten instead. Returns a readable report of every difference, or `Ok(())`.
pub fn check_dir(dir: &Path, files: &BTreeMap<PathBuf, Vec<u8>>) -> Result<(), String> {
    if super::updating_golden() {
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
        }
        for (rel, bytes) in files {
            let path = dir.join(rel);
            fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(|e| e.to_string())?;
            fs::write(&path, bytes).map_err(|e| e.to_string())?;
        }
        return Ok(());
    }
    let mut problems = Vec::new();
    let mut on_disk = BTreeMap::new();
    for entry in walk(dir) {
        let rel = entry.strip_prefix(dir).unwrap_or(&entry).to_path_buf();
        on_disk.insert(rel, fs::read(&entry).unwrap_or_default());
    }
    for (rel, bytes) in files {
        match on_disk.get(rel) {
            None => problems.push(format!("{}: missing from {}", rel.display(), dir.display())),
            Some(expected) if expected != bytes => {
                let want = String::from_utf8_lossy(expected);
                let got = String::from_utf8_lossy(bytes);
                let diff = similar::TextDiff::from_lines(want.as_ref(), got.as_ref())
                    .unified_diff()
                    .header("expected", "rendered")
                    .to_string();
                problems.push(format!("{} differs:\n{diff}", rel.display()));
            }
            Some(_) => {}
        }
    }
    for rel in on_disk.keys() {
        if !files.contains_key(rel) {
            problems.push(format!("{}: expected but not rendered", rel.display()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} golden difference(s) in {} (run `make golden` if the change is intended, then review the git diff):\n{}",
            problems.len(),
            dir.display(),
            problems.join("\n")
        ))
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
