//! `repositories/<name>-repo.yaml`: ExternalSecrets that give Argo CD read access to private
//! repositories (the credentials live in AWS SSM, not in git). They are passed through unchanged
//! after validation.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::repo::TenantRepo;
use super::rules;
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::yaml;

pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
const API_VERSIONS: &[&str] = &["external-secrets.io/v1beta1", "external-secrets.io/v1"];

/// A validated repository credential manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositorySecret {
    /// `<name>` of `repositories/<name>-repo.yaml`.
    pub name: String,
    /// The file as written (passed through byte for byte).
    pub contents: String,
    pub source: PathBuf,
}

/// Loads every `repositories/*-repo.yaml`, sorted by name.
pub fn load_all(repo: &TenantRepo) -> Result<Vec<RepositorySecret>, Diagnostics> {
    let files = repo.files();
    let mut out = Vec::new();
    let mut diags = Diagnostics::new();
    for file_name in files.list_files(Path::new("repositories")) {
        let rel = Path::new("repositories").join(&file_name);
        let shown = files.display_path(&rel);
        let Some(name) = file_name.strip_suffix("-repo.yaml") else {
            if file_name.ends_with(".yaml") || file_name.ends_with(".yml") {
                diags.push(Diagnostic::file(
                    &shown,
                    "repository files must be named <name>-repo.yaml",
                ));
            }
            continue;
        };
        let src = match files.read(&rel) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        match check(&src, &shown, name) {
            Ok(()) => out.push(RepositorySecret {
                name: name.to_string(),
                contents: src,
                source: shown,
            }),
            Err(d) => diags.extend(d),
        }
    }
    diags.into_result().map(|()| out)
}

/// Checks one repository manifest: a single ExternalSecret in namespace `argocd` whose target
/// Secret is labelled as an Argo CD repository.
pub fn check(src: &str, file: &Path, name: &str) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::new();
    let err = |pos: Option<Pos>, field: &str, msg: String| Diagnostic::new(file, pos, field, msg);
    if let Err(m) = rules::dns1123_label(name) {
        diags.push(err(None, "", format!("repository name `{name}`: {m}")));
    }
    let docs = yaml::parse_stream(src).map_err(|e| Diagnostics::from(e.in_file(file)))?;
    let docs: Vec<_> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.len() != 1 {
        diags.push(err(
            None,
            "",
            format!(
                "expected exactly one ExternalSecret, found {} documents",
                docs.len()
            ),
        ));
        return Err(diags);
    }
    let node = &docs[0];
    let v: Value = node.to_json();
    let at = |path: &[&str]| -> Option<Pos> {
        let mut n = node;
        for p in path {
            n = n.get(p)?;
        }
        Some(n.pos)
    };
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "ExternalSecret" || !API_VERSIONS.contains(&api) {
        diags.push(err(
            at(&["kind"]).or(Some(node.pos)),
            "kind",
            format!(
                "expected an ExternalSecret ({}), found {} {}",
                API_VERSIONS.join(" or "),
                if api.is_empty() {
                    "<no apiVersion>"
                } else {
                    api
                },
                if kind.is_empty() { "<no kind>" } else { kind }
            ),
        ));
        return Err(diags);
    }
    let ns = v.pointer("/metadata/namespace").and_then(Value::as_str);
    if ns != Some("argocd") {
        diags.push(err(
            at(&["metadata", "namespace"]).or(at(&["metadata"])),
            "metadata.namespace",
            "must be `argocd`: Argo CD only reads repository Secrets from its own namespace".into(),
        ));
    }
    let label = v
        .pointer("/spec/target/template/metadata/labels")
        .and_then(|l| l.get(SECRET_TYPE_LABEL))
        .and_then(Value::as_str);
    if label != Some("repository") && label != Some("repo-creds") {
        diags.push(err(
            at(&["spec", "target"]).or(at(&["spec"])),
            "spec.target.template.metadata.labels",
            format!("the target Secret must carry the label `{SECRET_TYPE_LABEL}: repository`, or Argo CD ignores it"),
        ));
    }
    diags.into_result()
}
