//! The overlay format: one YAML file per patch.
//!
//! ```yaml
//! name: pin-platform-revision          # unique in the set; [a-z0-9-]
//! description: Pin Applications that deploy the platform repo to the commit being previewed
//! when: mode == "local"                # optional MiniJinja condition over the variables
//! optional: false                      # true: matching no document is fine
//! target:
//!   files: ["bootstrap/**/*.yaml"]     # globs relative to the platform repo
//!   apiVersion: argoproj.io/v1alpha1   # optional selectors, compared with each document
//!   kind: Application
//!   name: nats                         # metadata.name; a glob
//!   where:                             # optional value predicates, all must hold
//!     - path: /spec/source/repoURL
//!       matches: "https://github.com/*/zerotouch-platform{,.git}"
//! unless:                              # optional: the work is already done when ...
//!   - reason: the securityContext is already gone
//!     where: [{path: /spec/securityContext, exists: false}]   # ... this document says so
//!   - reason: the preview overlay already does it
//!     document: {files: [...], kind: Kustomization, where: [...]}  # ... or another one does
//! ops:                                 # RFC 6902, with the extended paths of `patch::path`
//!   - op: replace
//!     path: /spec/source/targetRevision
//!     value: "{{ platform.revision }}"
//! ```

mod embedded;
mod load;

use std::path::PathBuf;

use serde_json::Value;

pub use embedded::{EMBEDDED_DIR, PREVIEW, preview};
pub use load::{load_dir, load_set, parse};

use super::apply::OpKind;
use super::glob::Glob;
use super::path::ExtPath;
use crate::diag::Pos;

/// One patch.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// The file it was read from (`<embedded>/...` for the built-in set).
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    /// A condition over the variables; the patch is skipped when it is false.
    pub when: Option<String>,
    pub optional: bool,
    pub target: Selector,
    pub unless: Vec<Unless>,
    pub ops: Vec<OpSpec>,
}

/// Which documents a patch (or an `unless` check) is about.
#[derive(Debug, Clone)]
pub struct Selector {
    pub pos: Pos,
    pub files: Vec<Glob>,
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<Glob>,
    pub where_: Vec<Predicate>,
}

impl Selector {
    pub fn matches_file(&self, rel: &str) -> bool {
        self.files.iter().any(|g| g.is_match(rel))
    }

    /// Whether a document's identity matches; `None` for a missing field.
    pub fn matches_identity(
        &self,
        api_version: Option<&str>,
        kind: Option<&str>,
        name: Option<&str>,
    ) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        eq(&self.api_version, api_version)
            && eq(&self.kind, kind)
            && self
                .name
                .as_ref()
                .is_none_or(|g| name.is_some_and(|n| g.is_match(n)))
    }

    /// `kind Application named nats in bootstrap/**/*.yaml`, for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(k) = &self.kind {
            parts.push(format!("kind {k}"));
        }
        if let Some(a) = &self.api_version {
            parts.push(format!("apiVersion {a}"));
        }
        if let Some(n) = &self.name {
            parts.push(format!("named {n}"));
        }
        let files: Vec<&str> = self.files.iter().map(Glob::as_str).collect();
        let mut s = if parts.is_empty() {
            "documents".to_string()
        } else {
            parts.join(", ")
        };
        s.push_str(&format!(" in {}", files.join(", ")));
        if !self.where_.is_empty() {
            let w: Vec<String> = self.where_.iter().map(Predicate::describe).collect();
            s.push_str(&format!(" where {}", w.join(" and ")));
        }
        s
    }
}

/// A question about a value in a document.
#[derive(Debug, Clone)]
pub struct Predicate {
    pub pos: Pos,
    pub path: ExtPath,
    pub test: Test,
}

impl Predicate {
    pub fn describe(&self) -> String {
        match &self.test {
            Test::Equals(v) => format!("{} equals {v}", self.path),
            Test::Matches(g) => format!("{} matches `{g}`", self.path),
            Test::Exists(true) => format!("{} exists", self.path),
            Test::Exists(false) => format!("{} does not exist", self.path),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Test {
    /// Some value at the path equals this one (templates rendered).
    Equals(Value),
    /// Some scalar at the path matches this glob (a template, rendered before compiling).
    Matches(String),
    /// Some value exists at the path (`true`), or none does (`false`).
    Exists(bool),
}

/// A reason not to apply a patch to a matched document: the work is already done.
#[derive(Debug, Clone)]
pub struct Unless {
    pub pos: Pos,
    pub reason: String,
    pub check: UnlessCheck,
}

#[derive(Debug, Clone)]
pub enum UnlessCheck {
    /// Predicates on the matched document itself.
    Where(Vec<Predicate>),
    /// Some document of the platform repo matches this selector.
    Document(Selector),
}

/// One RFC 6902 operation as written in the overlay.
#[derive(Debug, Clone)]
pub struct OpSpec {
    pub pos: Pos,
    pub kind: OpKind,
    pub path: ExtPath,
    pub from: Option<ExtPath>,
    /// With templates not yet rendered.
    pub value: Option<Value>,
}

impl OpSpec {
    /// `replace /spec/source/targetRevision`, for messages.
    pub fn describe(&self) -> String {
        match &self.from {
            Some(f) => format!("{} {} to {}", self.kind, f, self.path),
            None => format!("{} {}", self.kind, self.path),
        }
    }
}
