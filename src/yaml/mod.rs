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
//!
//! # Limits
//!
//! Every loader (tenant values and configs, secrets bundles, claims, patch overlays, platform
//! files, rendered output) reads through one of the two readers, so these limits hold for all of
//! them. Anyone who can commit to a tenant repo can hand us a file; with the limits, any text up
//! to [`MAX_INPUT_BYTES`] is read or refused in bounded time and memory (goal: under 2 s and
//! 300 MB for 10 MB; `make bench` measures the worst cases of [`hostile`]). A refused input
//! gets a [`YamlError`] whose [`YamlError::limit`] says which limit it broke; the message names
//! the limit, never the content, and callers add the file name.
//!
//! | Limit | Value | Guards against |
//! |---|---|---|
//! | [`MAX_INPUT_BYTES`] | 10 MiB | everything else scaling with the input |
//! | [`tree::MAX_NODES`] | 1,000,000 nodes | alias bombs, anchor copies, dense flow lists, `---` storms |
//! | [`tree::MAX_TEXT_BYTES`] | 32 MiB of scalar text | aliases of one long scalar |
//! | [`tree::MAX_DEPTH`] | 64 levels | stack overflow in every recursive reader of the tree |
//! | [`MAX_TYPED_NODES`] (typed) | 500,000 nodes | the same, at serde-saphyr's speed |
//! | [`MAX_DOCUMENTS`] (typed) | 100,000 documents | document storms |
//! | [`MAX_REPLAYED_EVENTS`] (typed) | 100,000 | memory for `<<` merges and aliases |
//! | [`decode::MAX_PROBLEMS`] | 100 problems a file | floods of diagnostics |
//!
//! Node and text budgets count what is *built*: every node of the tree, every alias expansion
//! and every copy of an anchored node kept for its aliases, each charged before it is made.
//! Duplicate keys and merge keys are handled with hash sets, linear in the size of a mapping.
//! The typed reader enforces its limits through serde-saphyr's budget, on the parser's events.

pub mod decode;
pub mod edit;
pub mod hostile;
pub mod scalar;
pub mod tree;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::diag::Pos;

pub use tree::{
    Duplicate, Entry, Node, NodeKind, Scalar, ScalarStyle, Stream, parse_document, parse_stream,
    parse_stream_keep_duplicates,
};

/// The most bytes one YAML text may have. Checked before parsing, by both readers: the largest
/// real file we read (a CRD bundle) is under 1 MiB, and below this size every input is read or
/// refused in bounded time and memory (see the module docs).
pub const MAX_INPUT_BYTES: usize = 10 * 1024 * 1024;

/// A YAML problem: where it is and what is wrong. The message never quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", pos.map(|p| format!("{}:{}: ", p.line, p.col)).unwrap_or_default())]
pub struct YamlError {
    pub pos: Option<Pos>,
    pub message: String,
    /// Set when the input was refused for breaking a resource limit rather than for its syntax
    /// or shape: callers and tests can tell "too big" from "wrong".
    pub limit: Option<Limit>,
}

/// The resource limit a refused input broke. The values are in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Longer than [`MAX_INPUT_BYTES`].
    InputBytes,
    /// More nodes than [`tree::MAX_NODES`] ([`MAX_TYPED_NODES`] for typed reads), documents
    /// than [`MAX_DOCUMENTS`], or alias replays than [`MAX_REPLAYED_EVENTS`], once aliases and
    /// anchors are expanded.
    Nodes,
    /// More scalar text than [`tree::MAX_TEXT_BYTES`] once aliases and anchors are expanded.
    TextBytes,
    /// Nested deeper than [`tree::MAX_DEPTH`].
    Depth,
    /// Another limit of the typed reader (aliases, anchors or merge keys in number, or too many
    /// aliases per anchor).
    Other,
}

impl YamlError {
    pub fn new(pos: Option<Pos>, message: impl Into<String>) -> Self {
        YamlError {
            pos,
            message: message.into(),
            limit: None,
        }
    }

    /// An input refused for breaking `limit`.
    pub fn limit(pos: Option<Pos>, limit: Limit, message: impl Into<String>) -> Self {
        YamlError {
            limit: Some(limit),
            ..YamlError::new(pos, message)
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

/// The error for a text over [`MAX_INPUT_BYTES`]: names the limit, never the content.
fn too_big(len: usize) -> YamlError {
    YamlError::limit(
        None,
        Limit::InputBytes,
        format!(
            "the text is {len} bytes; YAML input is limited to {} MiB ({MAX_INPUT_BYTES} bytes)",
            MAX_INPUT_BYTES >> 20
        ),
    )
}

/// Parses a hand-written single-document file into a positioned tree, or the diagnostic that
/// says where it is not YAML.
pub fn parse_file_document(
    src: &str,
    file: &std::path::Path,
) -> Result<Node, crate::diag::Diagnostics> {
    parse_document(src).map_err(|e| e.in_file(file).into())
}

/// The typed reader's limits: the text and depth limits of the positioned tree and half its
/// node budget (see the module docs). serde-saphyr checks them on the
/// parser's events as they come; its own defaults bound the rest (50,000 aliases and anchors,
/// 1,000,000 retained anchor events, 10,000 merge keys).
fn read_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        // Each entry merged through `<<: *alias` costs about 2 KB while its mapping is read
        // (the default of a million replayed events let a 6 MB merge take 550 MB); real
        // manifests replay a handful.
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
        },
        budget: serde_saphyr::budget! {
            max_documents: MAX_DOCUMENTS,
            max_nodes: MAX_TYPED_NODES,
            // Every node is one event, every collection one more for its end, and every
            // document two.
            max_events: 2 * MAX_TYPED_NODES + 2 * MAX_DOCUMENTS,
            max_total_scalar_bytes: tree::MAX_TEXT_BYTES,
            max_depth: tree::MAX_DEPTH,
        },
    }
}

/// The most documents one stream may hold in a typed read (a real CRD bundle has hundreds).
pub const MAX_DOCUMENTS: usize = 100_000;

/// The most nodes one typed read may hold: half the tree's budget, because serde-saphyr takes
/// about twice as long per node (1.2-1.4 s to refuse a stream at a million nodes, too close to
/// the 2 s goal). Typed reads are of rendered output and platform manifests; the largest real
/// one (a 700 KB CRD bundle) has 13,000 nodes.
pub const MAX_TYPED_NODES: usize = tree::MAX_NODES / 2;

/// The most parser events aliases may replay in one typed read: two per merged or aliased
/// entry, so 50,000 entries.
pub const MAX_REPLAYED_EVENTS: usize = 100_000;

/// The resource limit behind a typed-reader error, if it is one.
fn limit_of(e: &serde_saphyr::Error) -> Option<Limit> {
    use serde_saphyr::budget::BudgetBreach as B;
    match e {
        // A limit hit while replaying an alias comes wrapped with the alias's locations.
        serde_saphyr::Error::AliasError { error, .. } => limit_of(error),
        serde_saphyr::Error::WithSnippet { error, .. } => limit_of(error),
        serde_saphyr::Error::Budget { breach, .. } => Some(match breach {
            B::Nodes { .. } | B::Events { .. } | B::Documents { .. } => Limit::Nodes,
            B::RecordedAnchorEvents { .. } => Limit::Nodes,
            B::ScalarBytes { .. } | B::RecordedAnchorBytes { .. } => Limit::TextBytes,
            B::Depth { .. } => Limit::Depth,
            _ => Limit::Other,
        }),
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => Some(Limit::Nodes),
        _ => None,
    }
}

/// What a broken limit means, in words: serde-saphyr's own text for a breach is its `Debug`.
fn limit_message(limit: Limit) -> String {
    match limit {
        Limit::InputBytes => format!("YAML input is limited to {} MiB", MAX_INPUT_BYTES >> 20),
        Limit::Nodes => format!(
            "the stream expands to too many nodes, aliases and anchors included (an alias bomb?); refusing to read it (limits: {MAX_TYPED_NODES} nodes, {MAX_DOCUMENTS} documents, {MAX_REPLAYED_EVENTS} events replayed by aliases)"
        ),
        Limit::TextBytes => format!(
            "the stream expands to more than {} MiB of text, aliases and anchors included (an alias bomb?); refusing to read it",
            tree::MAX_TEXT_BYTES >> 20
        ),
        Limit::Depth => format!(
            "collections are nested more than {} levels deep",
            tree::MAX_DEPTH
        ),
        Limit::Other => "too many aliases, anchors or merge keys; refusing to read it".to_string(),
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
    match limit_of(inner) {
        Some(limit) => YamlError::limit(pos, limit, limit_message(limit)),
        None => YamlError::new(pos, redact_quoted(&message)),
    }
}

/// serde quotes offending values in its messages (`invalid type: string "..."`); the value may be
/// a secret, so every double-quoted span becomes `<value>`. Field names (in backticks) stay.
pub fn redact_quoted(message: &str) -> String {
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
    if src.len() > MAX_INPUT_BYTES {
        return Err(too_big(src.len()));
    }
    serde_saphyr::from_str_with_options(src, read_options()).map_err(|e| de_error(&e))
}

/// Reads every non-empty document of a stream into `T`.
pub fn from_str_multi<T: DeserializeOwned>(src: &str) -> Result<Vec<T>, YamlError> {
    if src.len() > MAX_INPUT_BYTES {
        return Err(too_big(src.len()));
    }
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

    type V = serde_json::Value;

    /// Both typed entry points on one text: the outcome must be the same.
    fn typed(src: &str) -> Result<(), YamlError> {
        let one = from_str::<V>(src).map(|_| ());
        let multi = from_str_multi::<V>(src).map(|_| ());
        assert_eq!(
            one.as_ref().err().and_then(|e| e.limit),
            multi.as_ref().err().and_then(|e| e.limit)
        );
        multi
    }

    #[test]
    fn typed_reads_refuse_input_over_the_size_cap_without_quoting_it() {
        let src = format!("k: {}\n", "s3cr3t".repeat(MAX_INPUT_BYTES / 6 + 1));
        let err = typed(&src).unwrap_err();
        assert_eq!(err.limit, Some(Limit::InputBytes), "{err}");
        assert!(err.message.contains("10 MiB"), "{err}");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn an_oversized_file_is_named_with_the_limit() {
        let file = std::path::Path::new("environments/dev/talos-values.yaml");
        let src = format!("k: {}\n", "s3cr3t".repeat(MAX_INPUT_BYTES / 6 + 1));
        let diags = parse_file_document(&src, file).unwrap_err();
        let shown = diags.to_string();
        assert!(
            shown.starts_with("environments/dev/talos-values.yaml: invalid YAML: the text is "),
            "{shown}"
        );
        assert!(
            shown.ends_with("bytes; YAML input is limited to 10 MiB (10485760 bytes)"),
            "{shown}"
        );
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn typed_reads_bound_alias_and_anchor_expansion() {
        for (name, src) in [
            (
                "nested anchors",
                hostile::nested_anchors(40, tree::MAX_NODES / 30),
            ),
            ("alias bomb", hostile::alias_bomb(12)),
            ("merge list", hostile::merge_list(1_000, 2_000)),
        ] {
            let err = typed(&src).unwrap_err();
            assert_eq!(err.limit, Some(Limit::Nodes), "{name}: {err}");
            assert!(err.pos.is_some(), "{name}: {err}");
        }
        let err = typed(&hostile::scalar_alias_bomb(1024 * 1024, 64)).unwrap_err();
        assert_eq!(err.limit, Some(Limit::TextBytes), "{err}");
        assert!(!err.to_string().contains("xxx"), "{err}");
        let err = typed(&hostile::many_aliases(60_000)).unwrap_err();
        assert_eq!(err.limit, Some(Limit::Nodes), "{err}");
    }

    #[test]
    fn typed_reads_bound_nodes_documents_and_depth() {
        let err = typed(&hostile::dense_nodes(MAX_TYPED_NODES + 1)).unwrap_err();
        assert_eq!(err.limit, Some(Limit::Nodes), "{err}");
        let err = from_str_multi::<V>(&hostile::many_documents(MAX_DOCUMENTS + 1)).unwrap_err();
        assert_eq!(err.limit, Some(Limit::Nodes), "{err}");
        let err = typed(&hostile::deep_block(tree::MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(err.limit, Some(Limit::Depth), "{err}");
        assert!(err.pos.is_some(), "{err}");
        // Flow nesting past the parser's own limit (255) is a syntax error with a position.
        let err = typed(&hostile::deep_flow(300)).unwrap_err();
        assert!(err.pos.is_some(), "{err}");
        // Up to the limit, both shapes are read, on a test thread's small stack.
        let deep: V = from_str(&hostile::deep_block(tree::MAX_DEPTH - 1)).unwrap();
        assert!(deep.is_array());
        let deep: V = from_str(&hostile::deep_flow(tree::MAX_DEPTH - 1)).unwrap();
        assert!(deep.is_array());
    }

    #[test]
    fn typed_reads_take_many_keys_and_big_merges() {
        let v: V = from_str(&hostile::many_keys(100_000)).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 100_000);
        let v: V = from_str(&hostile::big_merge(40_000, 40_000)).unwrap();
        assert_eq!(v["m"].as_object().unwrap().len(), 80_000);
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
