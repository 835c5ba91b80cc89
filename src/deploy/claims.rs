//! Finding and reading a service's claims.
//!
//! Two layouts exist upstream: the current one, `platform/<service>/overlays/<env>/` (checked out
//! from the tenants repository), and the older `platform/claims/<namespace>/`. `--claims DIR`
//! names a directory directly. Every YAML document under the directory, recursively, is read in
//! a stable order (paths sorted byte-wise, documents in file order), so two runs apply the same
//! objects in the same order.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::fsio::confined::{self, EntryKind};
use crate::yaml::{self, Node, ScalarStyle};

/// Which layout the claims directory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `platform/<service>/overlays/<env>/`
    Current,
    /// `platform/claims/<namespace>/`
    Older,
    /// `--claims DIR`
    Explicit,
}

/// Where the claims are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsDir {
    pub dir: PathBuf,
    pub layout: Layout,
}

/// Picks the claims directory: `explicit` when given, else the current layout, else the older
/// one. The error names every place that was looked at.
pub fn locate(
    root: &Path,
    service: &str,
    namespace: &str,
    env: &str,
    explicit: Option<&Path>,
) -> Result<ClaimsDir, Diagnostic> {
    if let Some(dir) = explicit {
        return if dir.is_dir() {
            Ok(ClaimsDir {
                dir: dir.to_path_buf(),
                layout: Layout::Explicit,
            })
        } else {
            Err(Diagnostic::file(
                dir,
                "--claims: not a directory (expected a directory of claim YAML files)",
            ))
        };
    }
    // Each name becomes one path component below --root: `--env ../../etc` or an absolute
    // path must not take deploy outside the service repository.
    for (what, name) in [
        ("--env", env),
        ("the service name", service),
        ("the namespace", namespace),
    ] {
        let one_component = !name.is_empty()
            && matches!(
                Path::new(name).components().collect::<Vec<_>>().as_slice(),
                [std::path::Component::Normal(c)] if *c == std::ffi::OsStr::new(name)
            );
        if !one_component {
            return Err(Diagnostic::file(
                root,
                format!(
                    "{what} `{name}` is not a plain name (one path component, no `/`, `.` or `..`)"
                ),
            ));
        }
    }
    let current_rel = Path::new("platform")
        .join(service)
        .join("overlays")
        .join(env);
    let current = root.join(&current_rel);
    if confined::is_dir(root, &current_rel, root)? {
        return Ok(ClaimsDir {
            dir: current,
            layout: Layout::Current,
        });
    }
    let older_rel = Path::new("platform/claims").join(namespace);
    let older = root.join(&older_rel);
    if confined::is_dir(root, &older_rel, root)? {
        return Ok(ClaimsDir {
            dir: older,
            layout: Layout::Older,
        });
    }
    Err(Diagnostic::file(
        root,
        format!(
            "no claims found: looked for {} (current layout, --env {env}) and {} (older layout); pass --claims DIR to name the directory",
            current.display(),
            older.display()
        ),
    ))
}

/// One YAML document from a claims directory.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: PathBuf,
    pub pos: Pos,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// The object as Kubernetes reads it (YAML 1.1 scalars).
    pub value: Value,
    /// Where `spec.image` is written, when it is a scalar.
    pub image: Option<ImageSite>,
}

/// The written form of a `spec.image` scalar, for error positions and `--write`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    pub text: String,
    pub pos: Pos,
    pub span: Range<usize>,
    pub style: ScalarStyle,
}

impl Document {
    /// `Kind namespace/name` (or `Kind name`), for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// `file:line:col`, for messages.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.pos.line, self.pos.col)
    }
}

/// A file read from the claims directory, kept for `--write`.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// Everything read from a claims directory.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub files: Vec<SourceFile>,
    pub documents: Vec<Document>,
    /// Documents read but not applied, with the reason (kustomize files).
    pub skipped: Vec<String>,
}

/// The YAML files under `dir`, recursively, sorted; hidden files and directories are ignored.
/// Nothing below `dir` is followed: a link or special file is an error naming it.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let hidden = |name: &std::ffi::OsStr| name.to_string_lossy().starts_with('.');
    let mut files = Vec::new();
    for entry in confined::entries(dir, Path::new(""), dir, &|name| !hidden(name))? {
        if entry.rel.file_name().is_some_and(hidden) {
            continue;
        }
        match entry.kind {
            EntryKind::File => {
                let is_yaml = entry
                    .rel
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml");
                if is_yaml {
                    files.push(dir.join(entry.rel));
                }
            }
            other => return Err(other.error(dir.join(entry.rel)).into()),
        }
    }
    Ok(files)
}

/// Reads every document under `dir`. Problems in all files are reported together.
pub fn load(dir: &Path) -> Result<Loaded, Diagnostics> {
    let mut out = Loaded::default();
    let mut problems = Diagnostics::new();
    for path in yaml_files(dir)? {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let text = match confined::read_listed_text(dir, rel, dir) {
            Ok(t) => t,
            Err(e) => {
                problems.push(e.into());
                continue;
            }
        };
        match read_file(&path, &text) {
            Ok((docs, skipped)) => {
                out.documents.extend(docs);
                out.skipped.extend(skipped);
            }
            Err(d) => problems.extend(d),
        }
        out.files.push(SourceFile { path, text });
    }
    problems.into_result()?;
    Ok(out)
}

/// Reads the documents of one file.
pub fn read_file(path: &Path, text: &str) -> Result<(Vec<Document>, Vec<String>), Diagnostics> {
    let nodes = yaml::parse_stream(text).map_err(|e| {
        Diagnostics::from(Diagnostic::new(
            path,
            e.pos,
            "",
            format!(
                "not valid YAML: {}; every file under the claims directory must be Kubernetes YAML",
                e.message
            ),
        ))
    })?;
    let mut docs = Vec::new();
    let mut skipped = Vec::new();
    let mut problems = Diagnostics::new();
    for node in &nodes {
        if node.is_null() {
            continue;
        }
        match document(path, node) {
            Ok(Some(d)) => docs.push(d),
            Ok(None) => skipped.push(format!(
                "{}:{}: a kustomize Kustomization; kustomize is not run, the other documents are applied as written",
                path.display(),
                node.pos.line
            )),
            Err(d) => problems.push(d),
        }
    }
    problems.into_result()?;
    Ok((docs, skipped))
}

fn str_at<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.get(key)?.as_scalar().map(|s| s.text.as_str())
}

fn document(path: &Path, node: &Node) -> Result<Option<Document>, Diagnostic> {
    let at = |n: &Node, field: &str, msg: String| Diagnostic::new(path, Some(n.pos), field, msg);
    if node.as_map().is_none() {
        return Err(at(
            node,
            "",
            format!(
                "expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found {}",
                node.describe()
            ),
        ));
    }
    let api_version = str_at(node, "apiVersion").filter(|s| !s.is_empty());
    let kind = str_at(node, "kind").filter(|s| !s.is_empty());
    if let (Some(av), Some("Kustomization")) = (api_version, kind)
        && av.starts_with("kustomize.config.k8s.io/")
    {
        return Ok(None);
    }
    if node.get("sops").is_some() {
        return Err(at(
            node,
            "sops",
            "this document is SOPS-encrypted; decrypt it before deploying (kubectl zt deploy never decrypts secrets)".into(),
        ));
    }
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Err(at(
            node,
            "",
            "expected a Kubernetes object: `apiVersion` and `kind` are required".into(),
        ));
    };
    let metadata = node.get("metadata");
    let name = metadata
        .and_then(|m| str_at(m, "name"))
        .filter(|s| !s.is_empty());
    let Some(name) = name else {
        return Err(at(
            metadata.unwrap_or(node),
            "metadata.name",
            "required: every object needs a name".into(),
        ));
    };
    let namespace = metadata
        .and_then(|m| str_at(m, "namespace"))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let image = node.get("spec").and_then(|s| s.get("image")).and_then(|n| {
        n.as_scalar().map(|s| ImageSite {
            text: s.text.clone(),
            pos: n.pos,
            span: n.span.clone(),
            style: s.style,
        })
    });
    Ok(Some(Document {
        file: path.to_path_buf(),
        pos: node.pos,
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
        namespace,
        value: node.to_json(),
        image,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn locates_each_layout_in_order() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let err = locate(r, "svc", "ns", "pr", None).unwrap_err();
        assert!(
            err.message.contains("platform/svc/overlays/pr")
                && err.message.contains("platform/claims/ns"),
            "{err}"
        );
        fs::create_dir_all(r.join("platform/claims/ns")).unwrap();
        assert_eq!(
            locate(r, "svc", "ns", "pr", None).unwrap().layout,
            Layout::Older
        );
        fs::create_dir_all(r.join("platform/svc/overlays/pr")).unwrap();
        let c = locate(r, "svc", "ns", "pr", None).unwrap();
        assert_eq!(c.layout, Layout::Current);
        assert!(c.dir.ends_with("platform/svc/overlays/pr"));
        assert_eq!(
            locate(r, "svc", "ns", "dev", None).unwrap().layout,
            Layout::Older
        );
        let explicit = r.join("platform/claims/ns");
        assert_eq!(
            locate(r, "svc", "ns", "pr", Some(&explicit))
                .unwrap()
                .layout,
            Layout::Explicit
        );
        assert!(locate(r, "svc", "ns", "pr", Some(&r.join("nope"))).is_err());
    }

    #[test]
    fn reads_recursively_in_a_stable_order() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path();
        fs::create_dir_all(d.join("b/sub")).unwrap();
        fs::create_dir_all(d.join(".git")).unwrap();
        let obj = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n");
        fs::write(d.join("b/sub/z.yaml"), obj("bz")).unwrap();
        fs::write(d.join("b/a.yml"), obj("ba")).unwrap();
        fs::write(
            d.join("a.yaml"),
            format!("{}---\n---\n{}", obj("a1"), obj("a2")),
        )
        .unwrap();
        fs::write(d.join(".git/x.yaml"), obj("hidden")).unwrap();
        fs::write(d.join("README.md"), "not yaml: [").unwrap();
        fs::write(
            d.join("kustomization.yaml"),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
        )
        .unwrap();
        let loaded = load(d).unwrap();
        let names: Vec<&str> = loaded.documents.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["a1", "a2", "ba", "bz"]);
        assert_eq!(loaded.skipped.len(), 1);
        assert_eq!(loaded.documents[1].pos.line, 7);
    }

    #[test]
    fn bad_documents_are_reported_with_positions() {
        let p = Path::new("claims/x.yaml");
        let err = read_file(p, "a: [1,\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("claims/x.yaml:1:4: not valid YAML"),
            "{err}"
        );
        let err = read_file(
            p,
            "kind: WebService\nmetadata:\n  name: x\n---\n- 1\n---\napiVersion: v1\nkind: Secret\nmetadata: {}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nsops: {mac: x}\n",
        )
        .unwrap_err();
        let lines: Vec<String> = err.iter().map(|d| d.to_string()).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(
            lines[0].starts_with("claims/x.yaml:1:1: expected a Kubernetes object: `apiVersion`"),
            "{lines:#?}"
        );
        assert!(
            lines[1].starts_with("claims/x.yaml:5:1: expected a Kubernetes object (a mapping"),
            "{lines:#?}"
        );
        assert!(
            lines[2].starts_with("claims/x.yaml:9:11: metadata.name: required"),
            "{lines:#?}"
        );
        assert!(lines[3].contains("SOPS-encrypted"), "{lines:#?}");
    }
}
