//! The platform repo's YAML files as the patcher sees them: found by glob, read once, parsed with
//! positions, converted to JSON only for the documents a patch looks at.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::glob::Glob;
use crate::diag::Diagnostic;
use crate::fsio::confined::{self, EntryKind};
use crate::yaml::{Duplicate, Node, parse_stream_keep_duplicates};

/// One document of a file.
#[derive(Debug)]
pub struct Doc {
    /// As parsed from the file (positions, styles).
    pub node: Node,
    /// The current value, once a patch has looked at the document.
    current: Option<Value>,
    /// Changed by at least one patch.
    pub changed: bool,
}

impl Doc {
    /// The current value (computed on first use).
    pub fn value(&mut self) -> &Value {
        self.current.get_or_insert_with(|| self.node.to_json())
    }

    pub fn set(&mut self, v: Value) {
        self.current = Some(v);
        self.changed = true;
    }

    pub fn current(&self) -> Option<&Value> {
        self.current.as_ref()
    }

    /// A top-level string field (`kind`, `apiVersion`) or `metadata.name`, as it is now.
    pub fn field(&self, path: &[&str]) -> Option<String> {
        match &self.current {
            Some(v) => path
                .iter()
                .try_fold(v, |cur, k| cur.get(k))
                .and_then(Value::as_str)
                .map(str::to_string),
            None => {
                let node = path.iter().try_fold(&self.node, |cur, k| cur.get(k))?;
                let s = node.as_scalar()?;
                (s.resolve() == crate::yaml::scalar::Resolved::Str).then(|| s.text.clone())
            }
        }
    }

    pub fn identity(&self) -> (Option<String>, Option<String>, Option<String>) {
        (
            self.field(&["apiVersion"]),
            self.field(&["kind"]),
            self.field(&["metadata", "name"]),
        )
    }
}

/// A YAML file of the platform repo.
#[derive(Debug)]
pub struct RepoFile {
    /// Relative to the platform repo, `/`-separated.
    pub rel: String,
    pub text: String,
    pub docs: Vec<Doc>,
    pub duplicates: Vec<Duplicate>,
    /// Names of the patches that changed a document of this file, in order.
    pub patched_by: Vec<String>,
}

impl RepoFile {
    pub fn parse(rel: &str, text: String, display: &Path) -> Result<RepoFile, Diagnostic> {
        let stream = parse_stream_keep_duplicates(&text).map_err(|e| {
            Diagnostic::new(display, e.pos, "", format!("not valid YAML: {}", e.message))
        })?;
        Ok(RepoFile {
            rel: rel.to_string(),
            docs: stream
                .docs
                .into_iter()
                .map(|node| Doc {
                    node,
                    current: None,
                    changed: false,
                })
                .collect(),
            duplicates: stream.duplicates,
            text,
            patched_by: Vec::new(),
        })
    }
}

/// How a file is named in messages: the path the user would type.
pub fn display_path(root: &Path, rel: &str) -> PathBuf {
    if root == Path::new(".") || root.as_os_str().is_empty() {
        PathBuf::from(rel)
    } else {
        root.join(rel)
    }
}

/// Every file under `root` that one of `globs` matches, sorted. Only the literal leading
/// directories of the patterns are walked, and `.git` is never entered. Nothing is followed
/// (`fsio::confined`): a link among the leading directories, or a link or special file whose
/// path a pattern matches, is an error (patching it would write outside the repo or replace the
/// link); other links are left alone.
pub fn discover(root: &Path, globs: &[&Glob]) -> Result<Vec<String>, Diagnostic> {
    if !root.is_dir() {
        return Err(Diagnostic::file(
            root,
            "the platform repo is not a directory (pass --platform-repo DIR)",
        ));
    }
    let mut bases: BTreeSet<String> = globs.iter().flat_map(|g| g.base_dirs()).collect();
    // A base inside another base is walked as part of it.
    let all: Vec<String> = bases.iter().cloned().collect();
    bases.retain(|b| {
        !all.iter()
            .any(|o| o != b && (o.is_empty() || b.starts_with(&format!("{o}/"))))
    });
    let shown = display_path(root, "");
    let mut found = BTreeSet::new();
    for base in bases {
        let entries = confined::entries(root, Path::new(&base), &shown, &|name| name != ".git")?;
        for entry in entries {
            let Some(rel) = rel_string(&entry.rel) else {
                continue;
            };
            if !globs.iter().any(|g| g.is_match(&rel)) {
                continue;
            }
            match entry.kind {
                EntryKind::File => {
                    found.insert(rel);
                }
                other => return Err(other.error(display_path(root, &rel)).into()),
            }
        }
    }
    Ok(found.into_iter().collect())
}

fn rel_string(rel: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// Reads and parses the files, reporting every unreadable or invalid one.
pub fn load(root: &Path, rels: &[String]) -> Result<Vec<RepoFile>, crate::diag::Diagnostics> {
    let mut diags = crate::diag::Diagnostics::new();
    let mut out = Vec::with_capacity(rels.len());
    for rel in rels {
        let display = display_path(root, rel);
        let text = match confined::read_listed_text(root, Path::new(rel), &display_path(root, "")) {
            Ok(t) => t,
            Err(e) => {
                diags.push(e.into());
                continue;
            }
        };
        match RepoFile::parse(rel, text, &display) {
            Ok(f) => out.push(f),
            Err(d) => diags.push(d),
        }
    }
    diags.into_result().map(|()| out)
}

/// Used by tests and the CLI to name a repo-relative path on disk.
pub fn on_disk(root: &Path, rel: &str) -> PathBuf {
    root.join(rel)
}
