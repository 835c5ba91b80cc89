//! Minimal-diff, in-place editing of YAML text.
//!
//! Given the source of a YAML stream and the new value of some of its documents, [`edit_stream`]
//! changes only the text that must change: a scalar is rewritten where it stands (keeping its
//! quoting style where the new value allows it), a removed key or list item loses exactly its own
//! lines, a new key or item is inserted after its siblings at their indentation, and a changed
//! literal block (`values: |`) is rewritten line by line. Comments, key order, blank lines,
//! indentation and every untouched document stay byte-identical, so `git diff` shows the edit and
//! nothing else.
//!
//! Every result is parsed back and compared with the requested values; an edit that would not
//! read back exactly (anchors and merge keys can make in-place edits ambiguous) is an error,
//! never a silently different file.

use std::collections::HashSet;
use std::ops::Range;

use serde_json::Value;

use super::YamlError;
use super::scalar::{Resolved, resolve_plain};
use super::tree::{Node, NodeKind, ScalarStyle, parse_stream_keep_duplicates};

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// The source (or, for a bug, the result) is not valid YAML.
    #[error("{0}")]
    Parse(YamlError),
    #[error("the stream has {count} documents; there is no document {index}")]
    NoSuchDocument { index: usize, count: usize },
    /// The in-place edit did not read back as the requested value.
    #[error(
        "line {line}: editing document {doc} in place would not give the requested value (anchors, aliases or merge keys make in-place edits ambiguous); the file was left as it was"
    )]
    Mismatch { doc: usize, line: usize },
    #[error("line {line}: cannot edit in place: {what}")]
    Unsupported { line: usize, what: String },
    #[error("cannot write YAML: {0}")]
    Render(String),
}

/// Rewrites the documents `changes` names (`(index, new value)`) in `src`, leaving everything
/// else byte-identical. `docs` must be the parsed documents of `src`
/// ([`super::tree::parse_stream_keep_duplicates`] or [`super::parse_stream`]).
pub fn edit_stream(
    src: &str,
    docs: &[Node],
    changes: &[(usize, &Value)],
) -> Result<String, EditError> {
    let mut ed = Editor {
        src,
        splices: Vec::new(),
        indented_lists: true,
    };
    if let Some(node) = changes.first().and_then(|(i, _)| docs.get(*i)) {
        ed.indented_lists = ed.list_style(node).unwrap_or(true);
    }
    for &(index, new) in changes {
        let node = docs.get(index).ok_or(EditError::NoSuchDocument {
            index,
            count: docs.len(),
        })?;
        ed.diff(node, new, Slot::Root)?;
    }
    let out = ed.apply()?;
    verify(&out, docs, changes)?;
    Ok(out)
}

/// [`edit_stream`] for a text holding a single document (a file, or the YAML inside a string).
pub fn edit_document(src: &str, new: &Value) -> Result<String, EditError> {
    let stream = parse_stream_keep_duplicates(src).map_err(EditError::Parse)?;
    if let Some(d) = stream.duplicates.first() {
        return Err(EditError::Parse(d.error.clone()));
    }
    match stream.docs.len() {
        0 => Err(EditError::NoSuchDocument { index: 0, count: 0 }),
        1 => edit_stream(src, &stream.docs, &[(0, new)]),
        n => Err(EditError::Parse(YamlError::new(
            Some(stream.docs[1].pos),
            format!("expected a single YAML document, found {n}"),
        ))),
    }
}

/// Whether `node` reads as `value` (the same resolution as [`Node::to_json`], key order ignored).
pub fn node_equals(node: &Node, value: &Value) -> bool {
    match (&node.kind, value) {
        (NodeKind::Scalar(_), _) => node.to_json() == *value,
        (NodeKind::Seq(items), Value::Array(arr)) => {
            items.len() == arr.len() && items.iter().zip(arr).all(|(n, v)| node_equals(n, v))
        }
        (NodeKind::Map(entries), Value::Object(obj)) => {
            entries.len() == obj.len()
                && entries.iter().all(|e| {
                    obj.get(&key_text(&e.key))
                        .is_some_and(|v| node_equals(&e.value, v))
                })
        }
        _ => false,
    }
}

/// The key of a mapping entry as [`Node::to_json`] spells it.
fn key_text(key: &Node) -> String {
    match key.as_scalar() {
        Some(s) => s.text.clone(),
        None => key.to_json().to_string(),
    }
}

/// One replacement of a byte range of the source.
#[derive(Debug)]
struct Splice {
    range: Range<usize>,
    text: String,
}

/// Where a node sits, which decides how a replacement is written.
#[derive(Clone, Copy)]
enum Slot<'n> {
    /// The root of a document.
    Root,
    /// The value of `key: ...`.
    MapValue { key: &'n Node },
    /// An item of a block sequence; `dash` is the byte offset of its `-`.
    SeqItem { dash: usize },
    /// A scalar inside a flow collection (`{cpu: 100m}`), replaced where it stands.
    Flow,
}

struct Editor<'s> {
    src: &'s str,
    splices: Vec<Splice>,
    /// Whether new lists under a key are indented (`key:\n  - a`) or not (`key:\n- a`),
    /// following the document being edited.
    indented_lists: bool,
}

impl<'s> Editor<'s> {
    fn line_of(&self, at: usize) -> usize {
        self.src[..at.min(self.src.len())].matches('\n').count() + 1
    }

    fn line_start(&self, at: usize) -> usize {
        self.src[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    /// The offset just past the newline ending the line that holds `at` (or the end of input).
    fn line_end_incl(&self, at: usize) -> usize {
        self.src[at..]
            .find('\n')
            .map_or(self.src.len(), |i| at + i + 1)
    }

    fn col(&self, at: usize) -> usize {
        at - self.line_start(at)
    }

    /// Whether only spaces precede `at` on its line.
    fn starts_line(&self, at: usize) -> bool {
        self.src[self.line_start(at)..at].bytes().all(|b| b == b' ')
    }

    fn is_flow(&self, node: &Node) -> bool {
        matches!(node.kind, NodeKind::Seq(_) | NodeKind::Map(_))
            && matches!(self.src.as_bytes().get(node.span.start), Some(b'[' | b'{'))
    }

    /// Where the node's own text ends: the last character of its content, without the trailing
    /// newlines and blank lines block scalars and block collections extend over.
    fn content_end(&self, node: &Node) -> usize {
        match &node.kind {
            NodeKind::Scalar(s) => match s.style {
                ScalarStyle::Literal | ScalarStyle::Folded => {
                    let text = &self.src[node.span.clone()];
                    node.span.start + text.trim_end().len()
                }
                _ => node.span.end,
            },
            _ if self.is_flow(node) => node.span.end,
            NodeKind::Seq(items) => items.last().map_or(node.span.end, |n| self.content_end(n)),
            NodeKind::Map(entries) => entries.last().map_or(node.span.end, |e| {
                self.content_end(&e.key).max(self.content_end(&e.value))
            }),
        }
    }

    /// Where a block scalar being replaced whole ends: after its last content line and the
    /// whitespace-only lines it extends over, before the newline that ends them, so none of
    /// its lines are left behind.
    fn block_scalar_end(&self, node: &Node) -> usize {
        let end = self.content_end(node);
        let rest = self.src.get(end..node.span.end).unwrap_or("");
        if rest
            .bytes()
            .all(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        {
            end + rest.rfind('\n').unwrap_or(0)
        } else {
            end
        }
    }

    /// The offset just after the `:` that follows a mapping key.
    fn colon_end(&self, key: &Node) -> Result<usize, EditError> {
        let from = self.content_end(key);
        let rest = &self.src[from..];
        let skipped = rest.len() - rest.trim_start_matches(' ').len();
        if rest[skipped..].starts_with(':') {
            Ok(from + skipped + 1)
        } else {
            Err(EditError::Unsupported {
                line: self.line_of(from),
                what: "a mapping key not followed by `:` (complex keys are not supported)".into(),
            })
        }
    }

    /// The `-` of a block sequence item, scanning back over the spaces and newlines before it.
    /// A block scalar item's span starts at its first content line, so its header (`|`, `>-`,
    /// `|2+`, with an optional comment) is skipped too.
    fn dash_of(&self, item: &Node) -> Option<usize> {
        let before = &self.src[..item.span.start];
        let mut trimmed = before.trim_end_matches([' ', '\n', '\r']);
        let block_scalar = matches!(
            item.as_scalar().map(|s| s.style),
            Some(ScalarStyle::Literal | ScalarStyle::Folded)
        );
        if block_scalar {
            let line_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
            let line = &trimmed[line_start..];
            let header = line.find(" #").map_or(line, |i| &line[..i]).trim_end();
            let indicators = header.trim_end_matches(|c: char| "+-0123456789".contains(c));
            let bare = indicators.strip_suffix(['|', '>'])?;
            trimmed = &trimmed[..line_start + bare.trim_end_matches(' ').len()];
        }
        trimmed.ends_with('-').then(|| trimmed.len() - 1)
    }

    /// How the first block list under a key in `node` is indented, if there is one.
    fn list_style(&self, node: &Node) -> Option<bool> {
        match &node.kind {
            NodeKind::Map(entries) => entries.iter().find_map(|e| match &e.value.kind {
                NodeKind::Seq(items) if !self.is_flow(&e.value) => {
                    let dash = self.dash_of(items.first()?)?;
                    Some(self.col(dash) > self.col(e.key.span.start))
                }
                _ => self.list_style(&e.value),
            }),
            NodeKind::Seq(items) => items.iter().find_map(|n| self.list_style(n)),
            NodeKind::Scalar(_) => None,
        }
    }

    fn block(&self, value: &Value, indent: usize) -> Result<String, EditError> {
        render_block(value, indent, self.indented_lists)
    }

    fn splice(&mut self, range: Range<usize>, text: String) {
        self.splices.push(Splice { range, text });
    }

    fn diff(&mut self, node: &Node, new: &Value, slot: Slot<'_>) -> Result<(), EditError> {
        if node_equals(node, new) {
            return Ok(());
        }
        let flow = self.is_flow(node);
        if flow && flow_in_place(node, new) {
            // Same keys, only scalars changed: edit them inside the braces, keeping the style.
            match (&node.kind, new) {
                (NodeKind::Map(entries), Value::Object(obj)) => {
                    for e in entries {
                        self.diff(&e.value, &obj[&key_text(&e.key)], Slot::Flow)?;
                    }
                }
                (NodeKind::Seq(items), Value::Array(arr)) => {
                    for (item, v) in items.iter().zip(arr) {
                        self.diff(item, v, Slot::Flow)?;
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        match (&node.kind, new) {
            (NodeKind::Map(entries), Value::Object(obj)) if !flow && !obj.is_empty() => {
                self.diff_map(node, entries, obj, slot)
            }
            (NodeKind::Seq(items), Value::Array(arr)) if !flow && !arr.is_empty() => {
                self.diff_seq(node, items, arr, slot)
            }
            (NodeKind::Scalar(s), Value::String(text))
                if s.style == ScalarStyle::Literal && s.resolve() == Resolved::Str =>
            {
                if !self.diff_literal(node, &s.text, text) {
                    self.replace_value(node, new, slot)?;
                }
                Ok(())
            }
            _ => self.replace_value(node, new, slot),
        }
    }

    fn diff_map(
        &mut self,
        node: &Node,
        entries: &[super::tree::Entry],
        obj: &serde_json::Map<String, Value>,
        slot: Slot<'_>,
    ) -> Result<(), EditError> {
        if entries.is_empty() {
            return self.replace_value(node, &Value::Object(obj.clone()), slot);
        }
        let keys: Vec<String> = entries.iter().map(|e| key_text(&e.key)).collect();
        let kept: Vec<bool> = keys.iter().map(|k| obj.contains_key(k)).collect();
        if !kept.iter().any(|k| *k) {
            // Nothing survives: writing the mapping anew is the smallest honest edit.
            return self.replace_value(node, &Value::Object(obj.clone()), slot);
        }
        let first_inline = !self.starts_line(entries[0].key.span.start);
        let mut i = 0;
        while i < entries.len() {
            let e = &entries[i];
            if kept[i] {
                self.diff(&e.value, &obj[&keys[i]], Slot::MapValue { key: &e.key })?;
                i += 1;
                continue;
            }
            if i == 0 && first_inline {
                // `- name: x` loses `name`: the next surviving key moves up behind the dash.
                let next = kept.iter().position(|k| *k).unwrap_or(entries.len());
                let end = entries[next].key.span.start;
                self.splice(e.key.span.start..end, String::new());
                i = next;
                continue;
            }
            let start = self.line_start(e.key.span.start);
            let end = self.line_end_incl(self.content_end(&e.key).max(self.content_end(&e.value)));
            self.splice(start..end, String::new());
            i += 1;
        }
        let old: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let added: Vec<(&String, &Value)> = obj
            .iter()
            .filter(|(k, _)| !old.contains(k.as_str()))
            .collect();
        if !added.is_empty() {
            let last = &entries[entries.len() - 1];
            let at = self.line_end_incl(
                self.content_end(&last.key)
                    .max(self.content_end(&last.value)),
            );
            let indent = self.col(entries[0].key.span.start);
            let mut text = String::new();
            if at == self.src.len() && !self.src.ends_with('\n') {
                text.push('\n');
            }
            for (k, v) in added {
                let mut one = serde_json::Map::new();
                one.insert(k.clone(), v.clone());
                text.push_str(&self.block(&Value::Object(one), indent)?);
                text.push('\n');
            }
            self.splice(at..at, text);
        }
        Ok(())
    }

    fn diff_seq(
        &mut self,
        node: &Node,
        items: &[Node],
        arr: &[Value],
        slot: Slot<'_>,
    ) -> Result<(), EditError> {
        if items.is_empty() {
            return self.replace_value(node, &Value::Array(arr.to_vec()), slot);
        }
        let mut dashes = Vec::with_capacity(items.len());
        for item in items {
            match self.dash_of(item) {
                Some(d) if self.starts_line(d) => dashes.push(d),
                // `- - a` or other compact forms: write the whole list anew.
                _ => return self.replace_value(node, &Value::Array(arr.to_vec()), slot),
            }
        }
        let (n, m) = (items.len(), arr.len());
        if n == m {
            for (i, (item, v)) in items.iter().zip(arr).enumerate() {
                self.diff(item, v, Slot::SeqItem { dash: dashes[i] })?;
            }
            return Ok(());
        }
        // Items equal at both ends stay; the middle is removed and the new middle inserted.
        let mut prefix = 0;
        while prefix < n.min(m) && node_equals(&items[prefix], &arr[prefix]) {
            prefix += 1;
        }
        let mut suffix = 0;
        while suffix < n.min(m) - prefix
            && node_equals(&items[n - 1 - suffix], &arr[m - 1 - suffix])
        {
            suffix += 1;
        }
        let (old_mid, new_mid) = (prefix..n - suffix, prefix..m - suffix);
        if old_mid.len() == n && new_mid.is_empty() {
            return self.replace_value(node, &Value::Array(arr.to_vec()), slot);
        }
        for i in old_mid.clone() {
            let start = self.line_start(dashes[i]);
            let end = self.line_end_incl(self.content_end(&items[i]));
            self.splice(start..end, String::new());
        }
        if !new_mid.is_empty() {
            let indent = self.col(dashes[0]);
            let at = if prefix > 0 {
                self.line_end_incl(self.content_end(&items[prefix - 1]))
            } else {
                self.line_start(dashes[0])
            };
            let mut text = String::new();
            if at == self.src.len() && !self.src.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&self.block(&Value::Array(arr[new_mid].to_vec()), indent)?);
            text.push('\n');
            self.splice(at..at, text);
        }
        Ok(())
    }

    /// A literal block scalar (`|`) whose text changed: rewrite only the changed lines, keeping
    /// the header, the indentation and the untouched lines byte for byte. Returns false when the
    /// block cannot be edited line by line (then the caller writes the value anew).
    fn diff_literal(&mut self, node: &Node, old: &str, new: &str) -> bool {
        let trailing = |s: &str| s.len() - s.trim_end_matches('\n').len();
        if new.is_empty()
            || old.is_empty()
            || trailing(old) != trailing(new)
            || old.starts_with([' ', '\n'])
            || new.starts_with([' ', '\n'])
        {
            return false;
        }
        let first = self.line_start(node.span.start);
        let indent = node.span.start - first;
        if !self.src[first..node.span.start].bytes().all(|b| b == b' ') {
            return false;
        }
        let split = |s: &'_ str| -> Vec<String> {
            let body = if trailing(s) > 0 {
                &s[..s.len() - 1]
            } else {
                s
            };
            body.split('\n').map(str::to_string).collect()
        };
        let (old_lines, new_lines) = (split(old), split(new));
        // Map each line of the value to its source line; give up on anything unexpected.
        let mut src_lines: Vec<&str> = Vec::with_capacity(old_lines.len());
        let mut at = first;
        for line in &old_lines {
            if at > self.src.len() {
                return false;
            }
            let end = self.src[at..].find('\n').map_or(self.src.len(), |i| at + i);
            let s = &self.src[at..end];
            let ok = if line.is_empty() {
                s.trim_matches(' ').is_empty()
            } else {
                s.len() == indent + line.len()
                    && s.get(..indent)
                        .is_some_and(|pad| pad.bytes().all(|b| b == b' '))
                    && s.get(indent..) == Some(line.as_str())
            };
            if !ok {
                return false;
            }
            src_lines.push(s);
            at = end + 1;
        }
        let region_end = (at).min(self.src.len());
        let pad = " ".repeat(indent);
        let mut text = String::new();
        for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old_lines, &new_lines) {
            match op {
                similar::DiffOp::Equal { old_index, len, .. } => {
                    for s in &src_lines[old_index..old_index + len] {
                        text.push_str(s);
                        text.push('\n');
                    }
                }
                similar::DiffOp::Delete { .. } => {}
                similar::DiffOp::Insert {
                    new_index, new_len, ..
                }
                | similar::DiffOp::Replace {
                    new_index, new_len, ..
                } => {
                    for l in &new_lines[new_index..new_index + new_len] {
                        if !l.is_empty() {
                            text.push_str(&pad);
                            text.push_str(l);
                        }
                        text.push('\n');
                    }
                }
            }
        }
        if region_end == self.src.len() && !self.src.ends_with('\n') {
            text.pop();
        }
        self.splice(first..region_end, text);
        true
    }

    /// Writes `new` in place of `node`, as a scalar or flow value on the same line where that
    /// suffices, as an indented block otherwise.
    fn replace_value(&mut self, node: &Node, new: &Value, slot: Slot<'_>) -> Result<(), EditError> {
        let scalar_style = node.as_scalar().map(|s| s.style);
        let block_scalar = matches!(
            scalar_style,
            Some(ScalarStyle::Literal | ScalarStyle::Folded)
        );
        let inline = match new {
            Value::Array(a) if !a.is_empty() && !self.is_flow(node) => None,
            Value::Object(o) if !o.is_empty() && !self.is_flow(node) => None,
            Value::String(s) if s.contains('\n') => None,
            _ => Some(render_inline(new, scalar_style)?),
        };
        let empty_node = node.span.is_empty();
        match slot {
            Slot::Flow => match inline {
                Some(t) if !empty_node => self.splice(node.span.clone(), t),
                _ => {
                    return Err(EditError::Unsupported {
                        line: self.line_of(node.span.start),
                        what: "a value inside a flow collection that cannot stay on its line"
                            .into(),
                    });
                }
            },
            Slot::Root => {
                let text = match &inline {
                    Some(t) => t.clone(),
                    None => self.block(new, 0)?,
                };
                let end = self.content_end(node);
                self.splice(node.span.start..end, text);
            }
            Slot::MapValue { key } => {
                if let (Some(t), false, false) = (&inline, empty_node, block_scalar)
                    && (node.as_scalar().is_some() || self.is_flow(node))
                {
                    self.splice(node.span.clone(), t.clone());
                    return Ok(());
                }
                let from = self.colon_end(key)?;
                let end = if empty_node {
                    from
                } else if block_scalar {
                    self.block_scalar_end(node).max(from)
                } else {
                    self.content_end(node).max(from)
                };
                let text = match inline {
                    Some(t) => format!(" {t}"),
                    None => format!("\n{}", self.block(new, self.col(key.span.start) + 2)?),
                };
                self.splice(from..end, text);
            }
            Slot::SeqItem { dash } => {
                let text = match inline {
                    Some(t) => t,
                    None => {
                        let block = self.block(new, self.col(dash) + 2)?;
                        block.trim_start_matches(' ').to_string()
                    }
                };
                if empty_node {
                    self.splice(dash + 1..dash + 1, format!(" {text}"));
                } else if block_scalar {
                    // A block scalar's span starts at its first content line: its header
                    // (`|`, `>-`, ...) after the dash goes too.
                    let end = self.block_scalar_end(node);
                    self.splice(dash + 1..end, format!(" {text}"));
                } else {
                    let end = self.content_end(node);
                    self.splice(node.span.start..end, text);
                }
            }
        }
        Ok(())
    }

    fn apply(mut self) -> Result<String, EditError> {
        // Stable: insertions at the same offset keep the order they were made in.
        self.splices.sort_by_key(|s| (s.range.start, s.range.end));
        let mut out = String::with_capacity(self.src.len() + 256);
        let mut at = 0;
        for s in &self.splices {
            if s.range.start < at {
                return Err(EditError::Unsupported {
                    line: self.line_of(s.range.start),
                    what: "overlapping edits".into(),
                });
            }
            out.push_str(&self.src[at..s.range.start]);
            out.push_str(&s.text);
            at = s.range.end;
        }
        out.push_str(&self.src[at..]);
        Ok(out)
    }
}

/// Whether `new` differs from the flow collection `node` only in scalars (same keys, same
/// lengths), so each can be replaced inside the braces.
fn flow_in_place(node: &Node, new: &Value) -> bool {
    let child_ok = |n: &Node, v: &Value| match (&n.kind, v) {
        (
            NodeKind::Scalar(s),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_),
        ) => {
            !matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded)
                && !n.span.is_empty()
                && !v.as_str().is_some_and(|t| t.contains('\n'))
        }
        (NodeKind::Map(_) | NodeKind::Seq(_), _) => node_equals(n, v) || flow_in_place(n, v),
        _ => false,
    };
    match (&node.kind, new) {
        (NodeKind::Map(entries), Value::Object(obj)) => {
            entries.len() == obj.len()
                && entries.iter().all(|e| {
                    obj.get(&key_text(&e.key))
                        .is_some_and(|v| node_equals(&e.value, v) || child_ok(&e.value, v))
                })
        }
        (NodeKind::Seq(items), Value::Array(arr)) => {
            items.len() == arr.len()
                && items
                    .iter()
                    .zip(arr)
                    .all(|(n, v)| node_equals(n, v) || child_ok(n, v))
        }
        _ => false,
    }
}

/// Parses the result and checks that every document reads as requested: the changed ones as
/// their new values, all others as before.
fn verify(out: &str, docs: &[Node], changes: &[(usize, &Value)]) -> Result<(), EditError> {
    let back = parse_stream_keep_duplicates(out).map_err(EditError::Parse)?;
    let mismatch = |doc: usize| EditError::Mismatch {
        doc,
        line: docs.get(doc).map_or(1, |d| d.pos.line),
    };
    if back.docs.len() != docs.len() {
        return Err(mismatch(0));
    }
    for (i, (before, after)) in docs.iter().zip(&back.docs).enumerate() {
        let ok = match changes.iter().rev().find(|(idx, _)| *idx == i) {
            Some((_, new)) => node_equals(after, new),
            None => before == after || after.to_json() == before.to_json(),
        };
        if !ok {
            return Err(mismatch(i));
        }
    }
    Ok(())
}

/// A value as a block of YAML lines indented by `indent` spaces, without a final newline.
fn render_block(value: &Value, indent: usize, indented_lists: bool) -> Result<String, EditError> {
    let mut options = super::write_options();
    options.compact_list_indent = !indented_lists;
    let text = serde_saphyr::to_string_with_options(value, options)
        .map_err(|e| EditError::Render(e.to_string()))?;
    let pad = " ".repeat(indent);
    let lines: Vec<String> = text
        .trim_end_matches('\n')
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect();
    Ok(lines.join("\n"))
}

/// A scalar or a flow collection on one line. Strings keep the quoting style of the value they
/// replace when that style can hold them and reads them back as strings.
fn render_inline(value: &Value, style: Option<ScalarStyle>) -> Result<String, EditError> {
    let json = |v: &Value| serde_json::to_string(v).map_err(|e| EditError::Render(e.to_string()));
    match value {
        Value::Null => Ok("null".into()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) | Value::Object(_) => json(value),
        Value::String(s) => Ok(render_string(style, s)),
    }
}

/// `s` as a one-line YAML scalar in `style` when that style can hold it and reads it back as
/// this exact string (plain only when [`plain_safe`]), else double-quoted. The one quoting rule
/// for every in-place edit (preview patches, `deploy --write`).
pub fn render_string(style: Option<ScalarStyle>, s: &str) -> String {
    match style {
        Some(ScalarStyle::SingleQuoted) if !s.contains('\n') && printable(s) => {
            format!("'{}'", s.replace('\'', "''"))
        }
        Some(ScalarStyle::Plain) | None if plain_safe(s) => s.to_owned(),
        // A JSON string is a valid YAML double-quoted scalar with the same value.
        _ => Value::String(s.to_owned()).to_string(),
    }
}

fn printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control())
}

/// Whether `s` can be written unquoted and still read back as this exact string by YAML 1.1
/// readers (Kubernetes, Argo CD) and by our own parser.
pub fn plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let second = s.chars().nth(1);
    let indicator = match first {
        '-' | '?' | ':' => second.is_none_or(|c| c == ' '),
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => true,
        _ => false,
    };
    let looks_like_date =
        s.len() >= 8 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit) && s.as_bytes()[4] == b'-';
    !indicator
        && !looks_like_date
        && s.trim() == s
        && printable(s)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.contains(['\t', ',', '[', ']', '{', '}'])
        && resolve_plain(s) == Resolved::Str
        && s != "<<"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_stream;
    use serde_json::json;

    /// Applies `f` to the JSON of document `doc` and edits the text accordingly.
    fn edit(src: &str, doc: usize, f: impl FnOnce(&mut Value)) -> String {
        let docs = parse_stream(src).unwrap();
        let mut v = docs[doc].to_json();
        f(&mut v);
        edit_stream(src, &docs, &[(doc, &v)]).unwrap()
    }

    /// Lines removed and added, as `git diff --numstat` would count them.
    fn numstat(a: &str, b: &str) -> (usize, usize) {
        let d = similar::TextDiff::from_lines(a, b);
        let mut del = 0;
        let mut add = 0;
        for c in d.iter_all_changes() {
            match c.tag() {
                similar::ChangeTag::Delete => del += 1,
                similar::ChangeTag::Insert => add += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        (add, del)
    }

    const APP: &str = "\
# An Argo CD Application
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: apis   # the platform APIs
  annotations:
    argocd.argoproj.io/sync-wave: \"6\"
spec:
  source:
    repoURL: https://github.com/example/zerotouch-platform.git
    targetRevision: 'main'

    path: platform/apis
  syncPolicy:
    syncOptions:
      - ServerSideApply=true
      - CreateNamespace=true
";

    #[test]
    fn scalar_change_touches_one_line_and_keeps_style_and_comments() {
        let out = edit(APP, 0, |v| {
            v["spec"]["source"]["targetRevision"] = json!("0123abc");
            v["metadata"]["name"] = json!("apis-preview");
        });
        assert_eq!(numstat(APP, &out), (2, 2), "{out}");
        assert!(out.contains("    targetRevision: '0123abc'\n"), "{out}");
        assert!(
            out.contains("  name: apis-preview   # the platform APIs\n"),
            "{out}"
        );
        assert!(out.starts_with("# An Argo CD Application\n"));
    }

    #[test]
    fn strings_that_would_change_type_are_quoted() {
        let out = edit(APP, 0, |v| {
            v["spec"]["source"]["path"] = json!("yes");
            v["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = json!("7");
        });
        assert!(out.contains("    path: \"yes\"\n"), "{out}");
        assert!(
            out.contains("argocd.argoproj.io/sync-wave: \"7\"\n"),
            "{out}"
        );
        let out = edit(APP, 0, |v| v["spec"]["source"]["path"] = json!(5));
        assert!(out.contains("    path: 5\n"), "{out}");
    }

    #[test]
    fn removing_and_adding_keys_changes_only_their_lines() {
        let out = edit(APP, 0, |v| {
            v["spec"]["source"].as_object_mut().unwrap().remove("path");
            v["spec"]["source"]["directory"] = json!({"exclude": "cilium.yaml", "recurse": true});
        });
        assert_eq!(numstat(APP, &out), (3, 1), "{out}");
        assert!(
            out.contains("    targetRevision: 'main'\n\n    directory:\n      exclude: cilium.yaml\n      recurse: true\n  syncPolicy:"),
            "{out}"
        );
    }

    #[test]
    fn list_items_are_removed_and_appended_in_place() {
        let out = edit(APP, 0, |v| {
            let opts = v["spec"]["syncPolicy"]["syncOptions"]
                .as_array_mut()
                .unwrap();
            opts.remove(0);
            opts.push(json!("PruneLast=true"));
        });
        assert_eq!(numstat(APP, &out), (1, 1), "{out}");
        assert!(
            out.ends_with("      - CreateNamespace=true\n      - PruneLast=true\n"),
            "{out}"
        );
    }

    #[test]
    fn list_items_keyed_by_name_keep_their_neighbours() {
        let src = "\
containers:
  - name: app
    image: app:1
    securityContext:
      runAsUser: 1000
      capabilities:
        drop:
          - ALL
    ports:
      - containerPort: 80
  - name: sidecar
    image: side:1
";
        let out = edit(src, 0, |v| {
            v["containers"][0]
                .as_object_mut()
                .unwrap()
                .remove("securityContext");
            v["containers"][1]["image"] = json!("side:2");
        });
        assert_eq!(numstat(src, &out), (1, 6), "{out}");
        assert_eq!(
            out,
            "containers:\n  - name: app\n    image: app:1\n    ports:\n      - containerPort: 80\n  - name: sidecar\n    image: side:2\n"
        );
    }

    #[test]
    fn first_key_of_a_list_item_can_go() {
        let src = "items:\n- name: a\n  value: 1\n- name: b\n";
        let out = edit(src, 0, |v| {
            v["items"][0].as_object_mut().unwrap().remove("name");
        });
        assert_eq!(out, "items:\n- value: 1\n- name: b\n");
    }

    #[test]
    fn other_documents_stay_byte_identical() {
        let src = "a: 1\n---\n# second\nb:   [1,2]   # flow\nc: x\n---\nd: {e: 1}\n";
        let out = edit(src, 1, |v| v["c"] = json!("z"));
        assert_eq!(
            out,
            "a: 1\n---\n# second\nb:   [1,2]   # flow\nc: z\n---\nd: {e: 1}\n"
        );
        let out = edit(src, 1, |v| v["b"] = json!([1, 2, 3]));
        assert_eq!(
            out,
            "a: 1\n---\n# second\nb:   [1,2,3]   # flow\nc: x\n---\nd: {e: 1}\n"
        );
    }

    #[test]
    fn literal_blocks_change_line_by_line() {
        let src =
            "spec:\n  values: |\n    # keep me\n    a: 1\n      \n    b:\n      c: 2\n  next: x\n";
        let docs = parse_stream(src).unwrap();
        let mut v = docs[0].to_json();
        let inner = v["spec"]["values"].as_str().unwrap().to_string();
        let edited = edit_document(&inner, &json!({"a": 1, "b": {"c": 3}})).unwrap();
        assert_eq!(edited, "# keep me\na: 1\n  \nb:\n  c: 3\n");
        v["spec"]["values"] = json!(edited);
        let out = edit_stream(src, &docs, &[(0, &v)]).unwrap();
        assert_eq!(numstat(src, &out), (1, 1), "{out}");
        assert!(
            out.contains("    # keep me\n    a: 1\n      \n    b:\n      c: 3\n  next: x\n"),
            "{out}"
        );
    }

    #[test]
    fn a_block_scalar_item_of_a_sequence_can_be_replaced() {
        // As in Cilium's agent DaemonSet: `command: [bash, -c, <literal block>]`, the block
        // indented deeper than the item and holding whitespace-only lines.
        let src =
            "command:\n- \"bash\"\n- |\n      set -e\n      \n      echo done\n      \nnext: x\n";
        let docs = parse_stream(src).unwrap();
        for (new, want) in [
            (
                json!("new-1"),
                "command:\n- \"bash\"\n- \"new-1\"\nnext: x\n",
            ),
            // Line by line, keeping the block's indentation and its trailing blank line.
            (
                json!("a\nb\n"),
                "command:\n- \"bash\"\n- |\n      a\n      b\n      \nnext: x\n",
            ),
        ] {
            let mut v = docs[0].to_json();
            v["command"][1] = new.clone();
            let out = edit_stream(src, &docs, &[(0, &v)]).unwrap_or_else(|e| panic!("{new}: {e}"));
            assert_eq!(out, want, "{new}");
        }
    }

    #[test]
    fn non_ascii_text_is_edited_on_character_boundaries() {
        let src = "v: |\n  é: ü\n  a: 1\nname: naïve\n";
        let docs = parse_stream(src).unwrap();
        let mut v = docs[0].to_json();
        let inner = edit_document(v["v"].as_str().unwrap(), &json!({"é": "ü", "a": 2})).unwrap();
        v["v"] = json!(inner);
        v["name"] = json!("größer");
        let out = edit_stream(src, &docs, &[(0, &v)]).unwrap();
        assert_eq!(out, "v: |\n  é: ü\n  a: 2\nname: größer\n");
        // A line whose first bytes are not all spaces cannot be sliced mid-character.
        let src = "v: |\n    a\n  éb\n";
        if let Ok(docs) = parse_stream(src) {
            let mut v = docs[0].to_json();
            v["v"] = json!("x\n");
            let _ = edit_stream(src, &docs, &[(0, &v)]);
        }
    }

    #[test]
    fn type_changes_and_empty_collections() {
        let src = "a:\n  b: 1\n  c: 2\nd: null\ne:\n- x\n";
        let out = edit(src, 0, |v| {
            v["a"] = json!({});
            v["d"] = json!({"k": ["v"]});
            v["e"] = json!([]);
        });
        assert_eq!(
            out, "a: {}\nd:\n  k:\n  - v\ne: []\n",
            "lists follow the file: not indented here"
        );
        let src = "a:\n  - x\nd: null\n";
        let out = edit(src, 0, |v| v["d"] = json!({"k": ["v"]}));
        assert_eq!(
            out, "a:\n  - x\nd:\n  k:\n    - v\n",
            "lists follow the file: indented here"
        );
        let out = edit("a:\nb: 1\n", 0, |v| v["a"] = json!("set"));
        assert_eq!(out, "a: set\nb: 1\n");
    }

    #[test]
    fn scalars_inside_flow_collections_keep_the_flow_style() {
        let src = "r:\n  requests: {cpu: 100m, memory: '128Mi'}\n  l: [a, {b: 1}]\n";
        let out = edit(src, 0, |v| {
            v["r"]["requests"]["cpu"] = json!("25m");
            v["r"]["requests"]["memory"] = json!("64Mi");
            v["r"]["l"][1]["b"] = json!("x,y");
        });
        assert_eq!(
            out,
            "r:\n  requests: {cpu: 25m, memory: '64Mi'}\n  l: [a, {b: \"x,y\"}]\n"
        );
        // A new key cannot be placed inside the braces by hand: the collection is rewritten.
        let out = edit(src, 0, |v| v["r"]["requests"]["extra"] = json!(1));
        assert!(
            out.contains("requests: {\"cpu\":\"100m\",\"memory\":\"128Mi\",\"extra\":1}"),
            "{out}"
        );
    }

    #[test]
    fn missing_trailing_newline_is_respected() {
        let out = edit("a: 1\nl:\n- x", 0, |v| {
            v["l"].as_array_mut().unwrap().push(json!("z"));
        });
        assert_eq!(out, "a: 1\nl:\n- x\n- z\n");
        let out = edit("a: 1", 0, |v| v["b"] = json!(2));
        assert_eq!(out, "a: 1\nb: 2\n");
    }

    #[test]
    fn aliases_that_would_edit_two_places_are_refused() {
        let src = "base: &b\n  x: 1\nother: *b\n";
        let docs = parse_stream(src).unwrap();
        let mut v = docs[0].to_json();
        v["other"]["x"] = json!(2);
        let err = edit_stream(src, &docs, &[(0, &v)]).unwrap_err();
        assert!(
            matches!(
                err,
                EditError::Mismatch { .. } | EditError::Unsupported { .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn plain_safety() {
        for s in [
            "main",
            "file:///repo",
            "50m",
            "--enable-composition-revisions",
            "a b",
            "x:y",
        ] {
            assert!(plain_safe(s), "{s}");
        }
        for s in [
            "",
            "yes",
            "0755",
            "1.5",
            "- x",
            "a: b",
            "#c",
            "2024-01-01",
            " x",
            "a #b",
            "{x}",
            "*",
            "~",
        ] {
            assert!(!plain_safe(s), "{s}");
        }
    }
}
