//! The one place YAML is read and written.
//!
//! Two readers:
//! - [`from_str`] / [`from_str_multi`]: typed reads through serde-saphyr, for documents whose shape
//!   a Rust type describes (rendered output read back, secrets bundles, patch overlays).
//! - [`tree::parse_stream`]: a positioned node tree for hand-written input, where every problem
//!   must be reported with its line and column, all at once, and where the quoting style of a
//!   scalar matters (`"true"` is a string, `true` is not).
//!
//! One writer, [`to_string`], tuned for YAML 1.1 consumers (Kubernetes, Argo CD, kind, Talos):
//! ambiguous scalars (`yes`, `on`, `0755`, ...) are always quoted, multi-line strings are literal
//! blocks, long single-line strings (certificates) stay on one line.
//!
//! Errors never carry a source snippet: the text being parsed may hold secrets.

pub mod decode;
pub mod edit;
pub mod scalar;
pub mod tree;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::diag::Pos;

pub use tree::{
    Duplicate, Entry, Node, NodeKind, Scalar, ScalarStyle, Stream, parse_document, parse_stream,
    parse_stream_keep_duplicates,
};

/// A YAML problem: where it is and what is wrong. The message never quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", pos.map(|p| format!("{}:{}: ", p.line, p.col)).unwrap_or_default())]
pub struct YamlError {
    pub pos: Option<Pos>,
    pub message: String,
}

impl YamlError {
    pub fn new(pos: Option<Pos>, message: impl Into<String>) -> Self {
        YamlError {
            pos,
            message: message.into(),
        }
    }
}

impl YamlError {
    /// This error as the diagnostic of `file` (`file:line:col: invalid YAML: ...`).
    pub fn in_file(&self, file: &std::path::Path) -> crate::diag::Diagnostic {
        crate::diag::Diagnostic::new(
            file,
            self.pos,
            "",
            format!("invalid YAML: {}", self.message),
        )
    }
}

/// Parses a hand-written single-document file into a positioned tree, or the diagnostic that
/// says where it is not YAML.
pub fn parse_file_document(
    src: &str,
    file: &std::path::Path,
) -> Result<Node, crate::diag::Diagnostics> {
    parse_document(src).map_err(|e| e.in_file(file).into())
}

/// Limits that keep hostile input (alias bombs, huge streams) from exhausting memory, yet admit
/// the largest real files we read (a 10k-line CRD bundle, a 1,700-line Cilium manifest).
fn read_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        budget: serde_saphyr::budget! {
            max_documents: 100_000,
            max_nodes: 5_000_000,
            max_events: 20_000_000,
        },
    }
}

fn de_error(e: &serde_saphyr::Error) -> YamlError {
    let inner = e.without_snippet();
    let pos = inner
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| Pos::new(l.line() as usize, l.column() as usize));
    // The plain rendering of the innermost error is a one-line message; the location is
    // reported separately, so strip the trailing "at line N column M" the crate appends.
    let mut message = inner
        .render_with_options(serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
        })
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .to_string();
    if let Some(idx) = message.find(" at line ") {
        message.truncate(idx);
    }
    YamlError {
        pos,
        message: redact_quoted(&message),
    }
}

/// serde quotes offending values in its messages (`invalid type: string "..."`); the value may be
/// a secret, so every double-quoted span becomes `<value>`. Field names (in backticks) stay.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('"') {
        match rest[start + 1..].rfind('"').map(|i| start + 1 + i) {
            Some(end) => {
                out.push_str(&rest[..start]);
                out.push_str("<value>");
                rest = &rest[end + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Reads one document into `T`. Unknown fields are rejected where `T` says so
/// (`#[serde(deny_unknown_fields)]`); duplicate keys are always an error.
pub fn from_str<T: DeserializeOwned>(src: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(src, read_options()).map_err(|e| de_error(&e))
}

/// Reads every non-empty document of a stream into `T`.
pub fn from_str_multi<T: DeserializeOwned>(src: &str) -> Result<Vec<T>, YamlError> {
    serde_saphyr::from_multiple_with_options(src, read_options()).map_err(|e| de_error(&e))
}

fn write_options() -> serde_saphyr::SerializerOptions {
    let mut o = serde_saphyr::SerializerOptions::default();
    // Never fold long single-line strings (base64 certificates) into `>-` blocks.
    o.folded_wrap_chars = usize::MAX;
    o
}

/// Writes one document. Output ends with a newline and quotes every YAML-1.1-ambiguous scalar.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    serde_saphyr::to_string_with_options(value, write_options())
        .map_err(|e| YamlError::new(None, format!("cannot write YAML: {e}")))
}

/// Writes several documents as one stream separated by `---`.
pub fn to_string_multi<T: Serialize>(values: &[T]) -> Result<String, YamlError> {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_string(v)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn reads_like_kubernetes_reads() {
        let v: serde_json::Value =
            from_str("a: 0755\nb: yes\nc: 1_000\nd: \"true\"\ne: 2024-01-01\n").unwrap();
        assert_eq!(v["a"], 493);
        assert_eq!(v["b"], true);
        assert_eq!(v["c"], 1000);
        assert_eq!(v["d"], "true");
        assert_eq!(v["e"], "2024-01-01");
    }

    #[test]
    fn writes_ambiguous_strings_quoted_and_keeps_them_strings() {
        let v =
            serde_json::json!({"on": "yes", "mode": "0755", "t": "true", "s": "x: y", "n": "~"});
        let text = to_string(&v).unwrap();
        let back: serde_json::Value = from_str(&text).unwrap();
        assert_eq!(back, v);
        assert!(text.contains("\"on\": \"yes\""), "{text}");
    }

    #[test]
    fn long_lines_stay_plain_and_multiline_is_literal() {
        let long = "A".repeat(500);
        let v = serde_json::json!({"crt": long, "contents": "a: 1\nb: 2\n"});
        let text = to_string(&v).unwrap();
        assert!(text.starts_with(&format!("crt: {long}\n")), "{text}");
        assert!(text.contains("contents: |\n  a: 1\n  b: 2\n"), "{text}");
    }

    #[test]
    fn duplicate_keys_are_errors_with_position() {
        let err = from_str::<serde_json::Value>("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos.map(|p| p.line), Some(3), "{err}");
    }

    #[test]
    fn unknown_fields_are_errors_when_the_type_denies_them() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            name: String,
        }
        let err = from_str::<T>("name: x\nnmae: y\n").unwrap_err();
        assert!(err.message.contains("nmae"), "{err}");
        assert_eq!(err.pos.map(|p| p.line), Some(2));
    }

    #[test]
    fn error_messages_do_not_quote_values() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            port: u16,
        }
        let err = from_str::<T>("port: hunter2-secret\n").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
