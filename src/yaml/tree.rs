//! A positioned YAML node tree built from parser events.
//!
//! Every node keeps its line, column and byte range, and every scalar its quoting style, so
//! loaders can report each problem where it is and editors can change a value in place.
//! Aliases are expanded, `<<` merge keys are applied as YAML 1.1 readers do, and duplicate keys
//! are errors. Everything built (every node, every alias expansion, every copy of an anchored
//! node kept for its aliases) is charged against [`MAX_NODES`] and [`MAX_TEXT_BYTES`] before it
//! is made, nesting stops at [`MAX_DEPTH`], and duplicate and merge checks use hash sets, so any
//! input is read or refused in time and memory linear in its size (the limits are in the module
//! docs of [`crate::yaml`]).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use granit_parser::{Event, Parser, ScanError, Span};

use super::scalar::{Resolved, resolve_plain};
use super::{Limit, MAX_INPUT_BYTES, YamlError, too_big};
use crate::diag::Pos;

pub use granit_parser::ScalarStyle;

/// The most nodes one stream may expand to, aliases included. Real tenant and platform files
/// stay far below; a billion-laughs document needs billions.
pub const MAX_NODES: usize = 1_000_000;

/// The most scalar text (bytes) one stream may expand to, aliases and anchor copies included.
pub const MAX_TEXT_BYTES: usize = 32 * 1024 * 1024;

/// The deepest nesting of collections accepted, by both readers. The deepest real file we read
/// (a CRD bundle) nests 31 levels; serde's recursion at 128 levels overflowed a 2 MiB thread
/// stack (test threads, tokio workers) in a debug build.
pub const MAX_DEPTH: usize = 64;

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

/// What a node costs: itself and everything under it, as a copy of it would cost again.
#[derive(Clone, Copy, Default)]
struct Cost {
    nodes: usize,
    /// Scalar text and tags.
    bytes: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        cost: Cost,
        pos: Pos,
        start: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<Entry>,
        key: Option<Node>,
        /// The line of the first entry of each scalar key, so a duplicate is found in constant
        /// time (a pairwise check took 100 s for a 2.5 MB mapping of 200k keys).
        seen: HashMap<String, usize>,
        cost: Cost,
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
    /// A copy of each anchored node of the current document, for its aliases, with its cost.
    anchors: HashMap<usize, (Node, Cost)>,
    /// Everything built so far: the tree, every alias expansion and every anchor copy. Charged
    /// before anything is allocated, so the budget bounds memory, not just the final tree.
    total: Cost,
    docs: Vec<Node>,
    doc_start: Option<(Pos, usize)>,
    root: Option<Node>,
}

impl Builder {
    fn charge(&mut self, cost: Cost, pos: Pos) -> Result<(), YamlError> {
        self.total.add(cost);
        if self.total.nodes > MAX_NODES {
            return Err(YamlError::limit(
                Some(pos),
                Limit::Nodes,
                format!(
                    "the stream expands to more than {MAX_NODES} nodes, aliases and anchors included (an alias bomb?); refusing to read it"
                ),
            ));
        }
        if self.total.bytes > MAX_TEXT_BYTES {
            return Err(YamlError::limit(
                Some(pos),
                Limit::TextBytes,
                format!(
                    "the stream expands to more than {} MiB of text, aliases and anchors included (an alias bomb?); refusing to read it",
                    MAX_TEXT_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    /// Opens a collection, refusing nesting deeper than [`MAX_DEPTH`]: every reader of the
    /// tree (conversion, comparison, editing, dropping it) recurses once per level.
    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::limit(
                Some(pos),
                Limit::Depth,
                format!("collections are nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.charge(Cost { nodes: 1, bytes: 0 }, pos)?;
        self.stack.push(frame);
        Ok(())
    }

    /// Places a complete node (costing `cost`) in its parent; an anchored one is also copied
    /// for its aliases, and that copy is charged like any other node.
    fn finish(&mut self, node: Node, anchor: usize, cost: Cost) -> Result<(), YamlError> {
        if anchor != 0 {
            self.charge(cost, node.pos)?;
            self.anchors.insert(anchor, (node.clone(), cost));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, cost: c, .. }) => {
                c.add(cost);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                key,
                seen,
                cost: c,
                ..
            }) => {
                c.add(cost);
                match key.take() {
                    None => *key = Some(node),
                    Some(k) => {
                        if let Some(ks) = k.as_scalar()
                            && !is_merge_key(&k)
                        {
                            if let Some(&first) = seen.get(&ks.text) {
                                let err = YamlError::new(
                                    Some(k.pos),
                                    format!(
                                        "duplicate key `{}` (first defined at line {first})",
                                        crate::diag::clip(&ks.text)
                                    ),
                                );
                                if !self.keep_duplicates {
                                    return Err(err);
                                }
                                self.duplicates.push(Duplicate {
                                    doc: self.docs.len(),
                                    error: err,
                                });
                            } else {
                                seen.insert(ks.text.clone(), k.pos.line);
                            }
                        }
                        entries.push(Entry {
                            key: k,
                            value: node,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `key` is the YAML 1.1 merge key: a plain `<<` (a quoted one is an ordinary key).
fn is_merge_key(key: &Node) -> bool {
    key.as_scalar()
        .is_some_and(|s| s.is_plain() && s.text == "<<")
}

/// YAML 1.1 merge keys: entries of `<<: *base` (or a list of them) are added where the mapping
/// does not set the key itself; earlier sources in a list win. Linear in the entries: the keys
/// present are a hash set (checking each merged key against every own key took 167 s for a 2 MB
/// merge).
fn apply_merges(entries: Vec<Entry>) -> Result<Vec<Entry>, YamlError> {
    if !entries.iter().any(|e| is_merge_key(&e.key)) {
        return Ok(entries);
    }
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| is_merge_key(&e.key));
    let mut present: HashSet<String> = own
        .iter()
        .filter_map(|e| e.key.as_scalar().map(|s| s.text.clone()))
        .collect();
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
                // Non-scalar keys are never equal to another key here (as before the hash set).
                let new = match e.key.as_scalar() {
                    Some(s) => !present.contains(&s.text) && present.insert(s.text.clone()),
                    None => true,
                };
                if new {
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
    if src.len() > MAX_INPUT_BYTES {
        return Err(too_big(src.len()));
    }
    let mut b = Builder {
        keep_duplicates,
        duplicates: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        total: Cost::default(),
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
                let node = match b.root.take() {
                    Some(node) => node,
                    None => {
                        // An empty document still becomes a node: `---` repeated is charged.
                        let (pos, at) = b.doc_start.unwrap_or((Pos::new(1, 1), 0));
                        b.charge(Cost { nodes: 1, bytes: 0 }, pos)?;
                        Node {
                            kind: NodeKind::Scalar(Scalar {
                                text: String::new(),
                                style: ScalarStyle::Plain,
                                tag: None,
                            }),
                            pos,
                            span: at..at,
                        }
                    }
                };
                b.docs.push(node);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let pos = pos_of(&span);
                let tag = tag.map(|t| t.to_string());
                let cost = Cost {
                    nodes: 1,
                    bytes: text.len() + tag.as_ref().map_or(0, String::len),
                };
                b.charge(cost, pos)?;
                let node = Node {
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        style,
                        tag,
                    }),
                    pos,
                    span: start..end,
                };
                b.finish(node, anchor, cost)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                let pos = pos_of(&span);
                let frame = Frame::Seq {
                    items: Vec::new(),
                    cost: Cost { nodes: 1, bytes: 0 },
                    pos,
                    start,
                    anchor,
                };
                b.open(frame, pos)?;
            }
            Event::MappingStart(_, anchor, _) => {
                let pos = pos_of(&span);
                let frame = Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    seen: HashMap::new(),
                    cost: Cost { nodes: 1, bytes: 0 },
                    pos,
                    start,
                    anchor,
                };
                b.open(frame, pos)?;
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    cost,
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
                        cost,
                    )?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    entries,
                    cost,
                    pos,
                    start: s,
                    anchor,
                    ..
                }) = b.stack.pop()
                {
                    let e = entries.last().map_or(end, |en| en.value.span.end.max(end));
                    // Merged entries were charged when their aliases were read; those a key of
                    // the mapping overrides are dropped here, so `cost` may overestimate.
                    let entries = apply_merges(entries)?;
                    b.finish(
                        Node {
                            kind: NodeKind::Map(entries),
                            pos,
                            span: s..e,
                        },
                        anchor,
                        cost,
                    )?;
                }
            }
            Event::Alias(id) => {
                let pos = pos_of(&span);
                let Some(cost) = b.anchors.get(&id).map(|(_, c)| *c) else {
                    return Err(YamlError::new(Some(pos), "alias to an unknown anchor"));
                };
                // Charged before the copy is made.
                b.charge(cost, pos)?;
                let Some((target, _)) = b.anchors.get(&id) else {
                    return Err(YamlError::new(Some(pos), "alias to an unknown anchor"));
                };
                let target = target.clone();
                b.finish(target, 0, cost)?;
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

    use crate::yaml::hostile;
    use crate::yaml::{Limit, MAX_INPUT_BYTES};

    #[test]
    fn anchor_copies_count_against_the_node_budget() {
        // 40 nested anchors and no alias: before the fix each anchored mapping was copied
        // whole (for aliases that never came) without counting, so the leaf was held 41
        // times and a 3 MB file grew past 5.6 GB.
        let leaf = MAX_NODES / 30;
        let src = hostile::nested_anchors(40, leaf);
        let err = parse_stream(&src).unwrap_err();
        assert_eq!(err.limit, Some(Limit::Nodes), "{err}");
        assert!(err.pos.is_some(), "{err}");
        // The same shape with one anchor is read.
        let one = hostile::nested_anchors(1, leaf);
        let doc = parse_document(&one).unwrap();
        let leaf_node = doc.get("a0").unwrap().get("leaf").unwrap();
        assert_eq!(leaf_node.as_map().unwrap().len(), leaf);
    }

    #[test]
    fn alias_copies_of_long_scalars_count_against_a_text_budget() {
        // 64 aliases of a 1 MiB scalar are only ~70 nodes, but 64 MiB of copied text.
        let src = hostile::scalar_alias_bomb(1024 * 1024, 64);
        let err = parse_stream(&src).unwrap_err();
        assert_eq!(err.limit, Some(Limit::TextBytes), "{err}");
        assert!(!err.message.contains("xxx"), "{err}");
        // A few copies are fine.
        let doc = parse_document(&hostile::scalar_alias_bomb(1024 * 1024, 4)).unwrap();
        assert_eq!(doc.get("b").unwrap().as_seq().unwrap().len(), 4);
    }

    #[test]
    fn many_keys_are_checked_for_duplicates_in_linear_time() {
        // 100,000 keys: the old pairwise check made ~5e9 comparisons.
        let keys = 100_000;
        let src = hostile::many_keys(keys);
        let doc = parse_document(&src).unwrap();
        assert_eq!(doc.as_map().unwrap().len(), keys);
        let err = parse_document(&format!("{src}k0: 2\n")).unwrap_err();
        assert_eq!(err.pos, Some(Pos::new(keys + 1, 1)), "{err}");
        assert!(err.message.contains("first defined at line 1"), "{err}");
        assert_eq!(err.limit, None);
    }

    #[test]
    fn big_merges_are_linear() {
        // 50,000 own keys and 50,000 merged ones: the old check made 2.5e9 comparisons.
        let keys = 50_000;
        let doc = parse_document(&hostile::big_merge(keys, keys)).unwrap();
        let m = doc.get("m").unwrap();
        assert_eq!(m.as_map().unwrap().len(), 2 * keys);
        assert_eq!(m.get("b0").unwrap().to_json(), 1);
        assert_eq!(m.get(&format!("o{}", keys - 1)).unwrap().to_json(), 1);
    }

    #[test]
    fn merge_semantics_hold() {
        // Own keys win over merged ones, earlier sources over later ones, whatever the order.
        let doc = parse_document(
            "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nm:\n  x: 0\n  <<: [*a, *b]\n  w: 0\n",
        )
        .unwrap();
        assert_eq!(
            doc.get("m").unwrap().to_json(),
            serde_json::json!({"x": 0, "w": 0, "y": 1, "z": 2})
        );
        // A quoted `<<` is an ordinary key, checked for duplicates like any other.
        let err = parse_document("\"<<\": 1\n'<<': 2\n").unwrap_err();
        assert_eq!(err.pos, Some(Pos::new(2, 1)), "{err}");
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_with_a_position() {
        // Block and flow nesting each stay under the parser's own limits (255), together
        // they do not.
        let half = MAX_DEPTH / 2 + 10;
        let mut src = hostile::deep_block(half);
        src.truncate(src.len() - 2);
        src.push_str(&hostile::deep_flow(half));
        let err = parse_stream(&src).unwrap_err();
        assert_eq!(err.limit, Some(Limit::Depth), "{err}");
        assert!(err.pos.is_some_and(|p| p.line > 1), "{err}");
        let ok = hostile::deep_flow(MAX_DEPTH - 1);
        assert!(parse_stream(&ok).is_ok());
    }

    #[test]
    fn empty_documents_are_charged_against_the_node_budget() {
        // `---` is four bytes: 10 MiB of them made 2.6 million nodes that nothing counted.
        let err = parse_stream(&hostile::many_documents(MAX_NODES + 1)).unwrap_err();
        assert_eq!(err.limit, Some(Limit::Nodes), "{err}");
        assert_eq!(
            parse_stream(&hostile::many_documents(1000)).unwrap().len(),
            1000
        );
    }

    #[test]
    fn input_over_the_size_cap_is_refused_without_quoting_it() {
        let mut src = String::from("secret: ");
        src.push_str(&"s3cr3t".repeat(MAX_INPUT_BYTES / 6));
        src.push('\n');
        let err = parse_stream(&src).unwrap_err();
        assert_eq!(err.limit, Some(Limit::InputBytes), "{err}");
        assert!(err.message.contains("10 MiB"), "{err}");
        assert!(!err.message.contains("s3cr3t"), "{err}");
        let err = parse_stream_keep_duplicates(&src).unwrap_err();
        assert_eq!(err.limit, Some(Limit::InputBytes), "{err}");
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
