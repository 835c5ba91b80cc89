//! A positioned YAML node tree built from parser events.
//!
//! Every node keeps its line, column and byte range, and every scalar its quoting style, so
//! loaders can report each problem where it is and editors can change a value in place.
//! Aliases are expanded under a node budget (an alias bomb is an error, not an out-of-memory),
//! `<<` merge keys are applied as YAML 1.1 readers do, and duplicate keys are errors.

use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Parser, ScanError, Span};

use super::YamlError;
use super::scalar::{Resolved, resolve_plain};
use crate::diag::Pos;

pub use granit_parser::ScalarStyle;

/// The most nodes one stream may expand to, aliases included. Real tenant and platform files
/// stay far below; a billion-laughs document needs billions.
pub const MAX_NODES: usize = 2_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    /// Where the node starts (1-based line and column).
    pub pos: Pos,
    /// Byte range of the node in the source, as written (quotes and block headers included).
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The value after escape processing.
    pub text: String,
    pub style: ScalarStyle,
    /// An explicit tag (`!!str`), if any, as `handle` + `suffix`.
    pub tag: Option<String>,
}

impl Scalar {
    /// What Kubernetes-style YAML 1.1 readers make of this scalar.
    pub fn resolve(&self) -> Resolved {
        match (&self.tag, self.style) {
            (Some(t), _) if t.ends_with("str") => Resolved::Str,
            (_, ScalarStyle::Plain) => resolve_plain(&self.text),
            _ => Resolved::Str,
        }
    }

    pub fn is_plain(&self) -> bool {
        self.style == ScalarStyle::Plain
    }
}

impl Node {
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|e| e.key.as_scalar().is_some_and(|s| s.text == key))
            .map(|e| &e.value)
    }

    /// True for an explicit or implicit null (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        self.as_scalar()
            .is_some_and(|s| s.resolve() == Resolved::Null)
    }

    /// "a mapping", "a list", "a string", ... for error messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(s) => s.resolve().describe(),
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON with the same scalar resolution as Kubernetes.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Null => Value::Null,
                Resolved::Bool(b) => Value::Bool(b),
                Resolved::Int(i) => Value::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(s.text.clone())),
                Resolved::Str => Value::String(s.text.clone()),
            },
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| {
                        let k = match e.key.as_scalar() {
                            Some(s) => s.text.clone(),
                            None => e.key.to_json().to_string(),
                        };
                        (k, e.value.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos::new(span.start.line(), span.start.col() + 1)
}

fn scan_error(e: &ScanError) -> YamlError {
    let m = e.marker();
    YamlError::new(Some(Pos::new(m.line(), m.col() + 1)), e.info())
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        start: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<Entry>,
        key: Option<Node>,
        pos: Pos,
        start: usize,
        anchor: usize,
    },
}

struct Builder {
    /// Record duplicate keys in `duplicates` instead of failing (see [`parse_stream_keep_duplicates`]).
    keep_duplicates: bool,
    duplicates: Vec<Duplicate>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    docs: Vec<Node>,
    doc_start: Option<(Pos, usize)>,
    root: Option<Node>,
}

fn count_nodes(n: &Node) -> usize {
    1 + match &n.kind {
        NodeKind::Scalar(_) => 0,
        NodeKind::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|e| count_nodes(&e.key) + count_nodes(&e.value))
            .sum(),
    }
}

impl Builder {
    fn budget(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(YamlError::new(
                Some(pos),
                format!(
                    "document expands to more than {MAX_NODES} nodes (an alias bomb?); refusing to read it"
                ),
            ));
        }
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Some(ks) = k.as_scalar() {
                        let is_merge = ks.is_plain() && ks.text == "<<";
                        if !is_merge
                            && let Some(first) = entries
                                .iter()
                                .find(|e| e.key.as_scalar().is_some_and(|s| s.text == ks.text))
                        {
                            let err = YamlError::new(
                                Some(k.pos),
                                format!(
                                    "duplicate key `{}` (first defined at line {})",
                                    ks.text, first.key.pos.line
                                ),
                            );
                            if !self.keep_duplicates {
                                return Err(err);
                            }
                            self.duplicates.push(Duplicate {
                                doc: self.docs.len(),
                                error: err,
                            });
                        }
                    }
                    entries.push(Entry {
                        key: k,
                        value: node,
                    });
                }
            },
        }
        Ok(())
    }
}

/// YAML 1.1 merge keys: entries of `<<: *base` (or a list of them) are added where the mapping
/// does not set the key itself; earlier sources in a list win.
fn apply_merges(entries: Vec<Entry>) -> Result<Vec<Entry>, YamlError> {
    if !entries.iter().any(|e| {
        e.key
            .as_scalar()
            .is_some_and(|s| s.is_plain() && s.text == "<<")
    }) {
        return Ok(entries);
    }
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(|e| {
        e.key
            .as_scalar()
            .is_some_and(|s| s.is_plain() && s.text == "<<")
    });
    for m in merges {
        let sources: Vec<Node> = match m.value.kind {
            NodeKind::Map(_) => vec![m.value],
            NodeKind::Seq(items) => items,
            _ => {
                return Err(YamlError::new(
                    Some(m.value.pos),
                    "a merge key `<<` needs a mapping or a list of mappings",
                ));
            }
        };
        for src in sources {
            let NodeKind::Map(src_entries) = src.kind else {
                return Err(YamlError::new(
                    Some(src.pos),
                    "a merge key `<<` needs a mapping or a list of mappings",
                ));
            };
            for e in src_entries {
                let present = own.iter().any(|o| {
                    matches!((o.key.as_scalar(), e.key.as_scalar()), (Some(a), Some(b)) if a.text == b.text)
                });
                if !present {
                    own.push(e);
                }
            }
        }
    }
    Ok(own)
}

/// Parses every document of a stream. Empty documents are kept as null scalars so document
/// indexes match what a reader counts in the file.
pub fn parse_stream(src: &str) -> Result<Vec<Node>, YamlError> {
    build(src, false).map(|s| s.docs)
}

/// A duplicate key found by [`parse_stream_keep_duplicates`].
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    /// Index of the document that holds it.
    pub doc: usize,
    /// Names the key, its line and the line of the first definition.
    pub error: YamlError,
}

/// Every document of a stream plus the duplicate keys found in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub docs: Vec<Node>,
    pub duplicates: Vec<Duplicate>,
}

/// Like [`parse_stream`], but a duplicate key is recorded instead of failing the whole stream.
/// For tools that edit some documents of a file and must leave the others alone: a real
/// 10,000-line CRD bundle carries a duplicate annotation, and that must not stop an edit of a
/// different document. Both entries are kept in the mapping ([`Node::get`] finds the first);
/// callers decide whether the document holding a duplicate may be used.
pub fn parse_stream_keep_duplicates(src: &str) -> Result<Stream, YamlError> {
    build(src, true)
}

fn build(src: &str, keep_duplicates: bool) -> Result<Stream, YamlError> {
    let mut b = Builder {
        keep_duplicates,
        duplicates: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        docs: Vec::new(),
        doc_start: None,
        root: None,
    };
    for ev in Parser::new_from_str(src) {
        let (event, span) = ev.map_err(|e| scan_error(&e))?;
        let start = span.start.byte_offset().unwrap_or(0);
        let end = span.end.byte_offset().unwrap_or(start);
        match event {
            Event::DocumentStart(..) => {
                b.anchors.clear();
                b.root = None;
                b.doc_start = Some((pos_of(&span), start));
            }
            Event::DocumentEnd => {
                let node = b.root.take().unwrap_or_else(|| {
                    let (pos, at) = b.doc_start.unwrap_or((Pos::new(1, 1), 0));
                    Node {
                        kind: NodeKind::Scalar(Scalar {
                            text: String::new(),
                            style: ScalarStyle::Plain,
                            tag: None,
                        }),
                        pos,
                        span: at..at,
                    }
                });
                b.docs.push(node);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let pos = pos_of(&span);
                b.budget(1, pos)?;
                let node = Node {
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        style,
                        tag: tag.map(|t| t.to_string()),
                    }),
                    pos,
                    span: start..end,
                };
                b.finish(node, anchor)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                let pos = pos_of(&span);
                b.budget(1, pos)?;
                b.stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos,
                    start,
                    anchor,
                });
            }
            Event::MappingStart(_, anchor, _) => {
                let pos = pos_of(&span);
                b.budget(1, pos)?;
                b.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    pos,
                    start,
                    anchor,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    pos,
                    start: s,
                    anchor,
                }) = b.stack.pop()
                {
                    let e = items.last().map_or(end, |n| n.span.end.max(end));
                    b.finish(
                        Node {
                            kind: NodeKind::Seq(items),
                            pos,
                            span: s..e,
                        },
                        anchor,
                    )?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    entries,
                    pos,
                    start: s,
                    anchor,
                    ..
                }) = b.stack.pop()
                {
                    let e = entries.last().map_or(end, |en| en.value.span.end.max(end));
                    let entries = apply_merges(entries)?;
                    b.finish(
                        Node {
                            kind: NodeKind::Map(entries),
                            pos,
                            span: s..e,
                        },
                        anchor,
                    )?;
                }
            }
            Event::Alias(id) => {
                let pos = pos_of(&span);
                let Some(target) = b.anchors.get(&id).cloned() else {
                    return Err(YamlError::new(Some(pos), "alias to an unknown anchor"));
                };
                b.budget(count_nodes(&target), pos)?;
                b.finish(target, 0)?;
            }
            _ => {}
        }
    }
    Ok(Stream {
        docs: b.docs,
        duplicates: b.duplicates,
    })
}

/// Parses a stream that must hold at most one document; an empty file is a null node.
pub fn parse_document(src: &str) -> Result<Node, YamlError> {
    let mut docs = parse_stream(src)?;
    match docs.len() {
        0 => Ok(Node {
            kind: NodeKind::Scalar(Scalar {
                text: String::new(),
                style: ScalarStyle::Plain,
                tag: None,
            }),
            pos: Pos::new(1, 1),
            span: 0..0,
        }),
        1 => Ok(docs.remove(0)),
        _ => Err(YamlError::new(
            Some(docs[1].pos),
            "expected a single YAML document, found several (`---`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_line_and_column() {
        let doc = parse_document("a:\n  b: \"x\"\n  c: [1, 2]\n").unwrap();
        let b = doc.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.pos, Pos::new(2, 6));
        assert_eq!(b.as_scalar().unwrap().style, ScalarStyle::DoubleQuoted);
        let c = doc.get("a").unwrap().get("c").unwrap();
        assert_eq!(c.pos, Pos::new(3, 6));
    }

    #[test]
    fn spans_cover_the_source_text() {
        let src = "name: 'quoted'\nport: 6443\n";
        let doc = parse_document(src).unwrap();
        assert_eq!(&src[doc.get("name").unwrap().span.clone()], "'quoted'");
        assert_eq!(&src[doc.get("port").unwrap().span.clone()], "6443");
    }

    #[test]
    fn quoted_true_is_a_string_plain_true_is_not() {
        let doc = parse_document("a: \"true\"\nb: true\nc: yes\n").unwrap();
        let r = |k| doc.get(k).unwrap().as_scalar().unwrap().resolve();
        assert_eq!(r("a"), Resolved::Str);
        assert_eq!(r("b"), Resolved::Bool(true));
        assert_eq!(r("c"), Resolved::Bool(true));
    }

    #[test]
    fn duplicate_key_names_both_lines() {
        let err = parse_document("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos, Some(Pos::new(3, 1)));
        assert!(err.message.contains("first defined at line 1"), "{err}");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = format!("*a{}", i - 1);
            src.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                std::iter::repeat_n(prev.as_str(), 10)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let err = parse_document(&src).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{err}");
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let doc = parse_document("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nl: *b\n").unwrap();
        let m = doc.get("m").unwrap().to_json();
        assert_eq!(m, serde_json::json!({"y": 3, "x": 1}));
        assert_eq!(
            doc.get("l").unwrap().to_json(),
            serde_json::json!({"x": 1, "y": 2})
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse_document("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.is_some(), "{err}");
    }

    #[test]
    fn duplicates_can_be_recorded_per_document() {
        let s = parse_stream_keep_duplicates("a: 1\n---\nb: 1\nc: 2\nb: 3\n").unwrap();
        assert_eq!(s.docs.len(), 2);
        assert_eq!(s.duplicates.len(), 1);
        assert_eq!(s.duplicates[0].doc, 1);
        assert_eq!(s.duplicates[0].error.pos, Some(Pos::new(5, 1)));
        assert!(
            s.duplicates[0]
                .error
                .message
                .contains("first defined at line 3")
        );
        assert_eq!(s.docs[1].get("b").unwrap().to_json(), 1);
        assert!(parse_stream("a: 1\n---\nb: 1\nb: 3\n").is_err());
    }

    #[test]
    fn streams_keep_every_document() {
        let docs = parse_stream("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].pos.line, 3);
    }
}
