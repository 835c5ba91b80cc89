//! Decoding a positioned YAML tree into a typed model while collecting every problem.
//!
//! serde stops at the first error; hand-written inputs (tenant values, tenant configs, service
//! contracts) deserve all problems at once, each with its position, the dotted field path, and a
//! suggestion for a misspelled key. A [`Decoder`] walks the tree, records diagnostics and returns
//! `None` for fields it could not read, so callers keep going and report the rest.

use std::path::{Path, PathBuf};

use super::scalar::Resolved;
use super::tree::{Node, NodeKind};
use crate::diag::{Diagnostic, Diagnostics, Pos, clip, suggest};

/// The most problems one [`Decoder`] records; the rest are counted in one closing diagnostic.
/// A mapping of 300,000 unknown keys otherwise made 300,000 diagnostics (200 MB, 3 s), and
/// nobody reads past the first screenful.
pub const MAX_PROBLEMS: usize = 100;

pub struct Decoder {
    file: PathBuf,
    diags: Diagnostics,
    /// Problems found past [`MAX_PROBLEMS`], not recorded.
    omitted: usize,
}

/// A mapping whose keys were checked against the known ones.
pub struct Fields<'n> {
    node: &'n Node,
    path: String,
}

impl<'n> Fields<'n> {
    pub fn node(&self) -> &'n Node {
        self.node
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value of `key`, or `None` when absent or explicitly null.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.node.get(key).filter(|n| !n.is_null())
    }

    /// The dotted path of a child field.
    pub fn child(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

/// Whether `key` looks like a key name (and so may be echoed in a message): at most 40
/// characters of letters, digits, `_`, `-` and `.`. A mis-indented value (a base64 key with
/// `+`, `/` or `=`, a URL, a sentence) is not shown back.
/// The one document of a config file, parsed with positions; an empty file is an error that
/// says what the file should hold (`expected`).
pub fn document(src: &str, file: &Path, expected: &str) -> Result<Node, Diagnostics> {
    let doc = super::parse_file_document(src, file)?;
    if doc.is_null() {
        return Err(Diagnostic::new(
            file,
            Some(Pos::new(1, 1)),
            "",
            format!("the file is empty; expected {expected}"),
        )
        .into());
    }
    Ok(doc)
}

pub fn plausible_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `parent.key`, or `key` at the top level.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Decoder {
    pub fn new(file: impl Into<PathBuf>) -> Self {
        Decoder {
            file: file.into(),
            diags: Diagnostics::new(),
            omitted: 0,
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Records a problem at `pos`.
    pub fn error(&mut self, pos: Option<Pos>, field: &str, message: impl Into<String>) {
        if self.full() {
            self.omitted += 1;
            return;
        }
        self.diags
            .push(Diagnostic::new(&self.file, pos, field, message));
    }

    /// Whether [`MAX_PROBLEMS`] were recorded: further problems are only counted, so callers
    /// may skip the work of describing them.
    fn full(&self) -> bool {
        self.diags.len() >= MAX_PROBLEMS
    }

    pub fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// [`Decoder::finish`] with the problems in source order; the count of omitted ones, if
    /// any, stays last.
    pub fn finish_sorted(mut self) -> Diagnostics {
        self.diags = std::mem::take(&mut self.diags).sorted();
        self.finish()
    }

    pub fn finish(mut self) -> Diagnostics {
        if self.omitted > 0 {
            self.diags.push(Diagnostic::file(
                &self.file,
                format!(
                    "{} more problems not shown (only the first {MAX_PROBLEMS} are reported)",
                    self.omitted
                ),
            ));
        }
        self.diags
    }

    /// Checks that `node` is a mapping with only `known` keys; unknown keys are reported with
    /// the nearest known key as a suggestion.
    pub fn fields<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
        let NodeKind::Map(entries) = &node.kind else {
            return self.expected(node, path, "a mapping");
        };
        for e in entries {
            let Some(k) = e.key.as_scalar() else {
                self.error(Some(e.key.pos), path, "keys must be plain strings");
                continue;
            };
            if !known.contains(&k.text.as_str()) {
                if self.full() {
                    self.omitted += 1;
                    continue;
                }
                // A key that does not look like a key name may be a mis-indented value (a
                // token, a key): it is not echoed, in the message or in the field path.
                if !plausible_key(&k.text) {
                    self.error(
                        Some(e.key.pos),
                        path,
                        format!("unknown key; known keys: {}", known.join(", ")),
                    );
                    continue;
                }
                let hint = match suggest(&k.text, known.iter().copied()) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => format!("; known keys: {}", known.join(", ")),
                };
                let key = clip(&k.text);
                self.error(
                    Some(e.key.pos),
                    &join(path, &key),
                    format!("unknown key `{key}`{hint}"),
                );
            }
        }
        Some(Fields {
            node,
            path: path.to_string(),
        })
    }

    /// A mapping that must hold exactly `keys` (every one required): [`Decoder::fields`], then
    /// each missing key reported at the mapping. `None` when `node` is not a mapping; an empty
    /// one says so.
    pub fn exact_fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        keys: &[&str],
    ) -> Option<Fields<'n>> {
        if node.is_null() {
            let what = if path.is_empty() {
                "the file"
            } else {
                "this section"
            };
            self.error(
                Some(node.pos),
                path,
                format!(
                    "{what} is empty; expected a mapping with {}",
                    keys.join(", ")
                ),
            );
            return None;
        }
        let f = self.fields(node, path, keys)?;
        // A key written with no value is present: what it holds is for its reader to judge.
        for key in keys.iter().filter(|k| node.get(k).is_none()) {
            self.error(
                Some(node.pos),
                &f.child(key),
                format!("required key `{key}` is missing"),
            );
        }
        Some(f)
    }

    /// A required field: reports its absence at the mapping's position.
    pub fn required<'n>(&mut self, f: &Fields<'n>, key: &str) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_none() {
            self.error(
                Some(f.node.pos),
                &f.child(key),
                format!("required key `{key}` is missing"),
            );
        }
        v
    }

    /// Reports that `node` is not the `what` expected at `path`; `None` for the caller to return.
    fn expected<T>(&mut self, node: &Node, path: &str, what: &str) -> Option<T> {
        self.error(
            Some(node.pos),
            path,
            format!("expected {what}, found {}", node.describe()),
        );
        None
    }

    /// A string scalar. Unquoted values that YAML 1.1 reads as something else (`true`, `yes`,
    /// `0755`, `1.0`) are errors: Kubernetes would read them as that other type, and the fix is
    /// to quote them. The value itself is never echoed: it may be a secret.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Str => Some(s.text.clone()),
                other => {
                    self.error(
                        Some(node.pos),
                        path,
                        format!(
                            "expected a string, found {} (YAML reads this unquoted value as {}); write it in quotes",
                            other.describe(),
                            other.describe()
                        ),
                    );
                    None
                }
            },
            _ => self.expected(node, path, "a string"),
        }
    }

    pub fn opt_string(&mut self, f: &Fields<'_>, key: &str) -> Option<String> {
        f.get(key).and_then(|n| self.string(n, &f.child(key)))
    }

    pub fn req_string(&mut self, f: &Fields<'_>, key: &str) -> Option<String> {
        self.required(f, key)
            .and_then(|n| self.string(n, &f.child(key)))
    }

    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node.as_scalar().map(|s| s.resolve()) {
            Some(Resolved::Bool(b)) => Some(b),
            _ => self.expected(node, path, "true or false"),
        }
    }

    pub fn opt_bool(&mut self, f: &Fields<'_>, key: &str) -> Option<bool> {
        f.get(key).and_then(|n| self.bool(n, &f.child(key)))
    }

    /// An unsigned integer within `range`.
    pub fn uint(
        &mut self,
        node: &Node,
        path: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<u64> {
        let value = match node.as_scalar().map(|s| (s.resolve(), s)) {
            Some((Resolved::Int(i), _)) => u64::try_from(i).ok(),
            _ => None,
        };
        match value {
            Some(v) if range.contains(&v) => Some(v),
            _ => {
                self.error(
                    Some(node.pos),
                    path,
                    format!(
                        "expected a whole number from {} to {}, found {}",
                        range.start(),
                        range.end(),
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// A list; `None` (with a diagnostic) when the node is not one.
    pub fn seq<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            _ => self.expected(node, path, "a list"),
        }
    }

    /// A mapping of string keys to string values (labels, annotations), in source order.
    pub fn string_map(&mut self, node: &Node, path: &str) -> Option<Vec<(String, String, Pos)>> {
        let NodeKind::Map(entries) = &node.kind else {
            return self.expected(node, path, "a mapping");
        };
        let mut out = Vec::with_capacity(entries.len());
        let mut ok = true;
        for e in entries {
            let key = match e.key.as_scalar() {
                Some(k) => k.text.clone(),
                None => {
                    self.error(Some(e.key.pos), path, "keys must be plain strings");
                    ok = false;
                    continue;
                }
            };
            let field = format!("{path}[{}]", clip(&key));
            match self.string(&e.value, &field) {
                Some(v) => out.push((key, v, e.value.pos)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_document;

    #[test]
    fn reports_every_problem_with_positions() {
        let doc =
            parse_document("nmae: x\nport: yes\nlabels:\n  a: true\n  b: \"true\"\n").unwrap();
        let mut d = Decoder::new("f.yaml");
        let f = d.fields(&doc, "", &["name", "port", "labels"]).unwrap();
        assert!(d.req_string(&f, "name").is_none());
        let port = f.get("port").unwrap();
        assert!(d.uint(port, "port", 1..=65535).is_none());
        assert!(d.string_map(f.get("labels").unwrap(), "labels").is_none());
        let out: Vec<String> = d.finish().sorted().iter().map(|x| x.to_string()).collect();
        assert_eq!(out.len(), 4, "{out:#?}");
        assert_eq!(out[0], "f.yaml:1:1: name: required key `name` is missing");
        assert_eq!(
            out[1],
            "f.yaml:1:1: nmae: unknown key `nmae`; did you mean `name`?"
        );
        assert!(
            out[2].starts_with("f.yaml:2:7: port: expected a whole number"),
            "{}",
            out[2]
        );
        assert!(
            out[3].starts_with("f.yaml:4:6: labels[a]: expected a string, found a boolean"),
            "{}",
            out[3]
        );
    }

    #[test]
    fn a_flood_of_problems_is_cut_at_the_cap_and_counted() {
        let keys = 10 * MAX_PROBLEMS;
        let doc = parse_document(&crate::yaml::hostile::many_keys(keys)).unwrap();
        let mut d = Decoder::new("f.yaml");
        d.fields(&doc, "", &["name"]);
        let out = d.finish();
        assert_eq!(out.len(), MAX_PROBLEMS + 1);
        let last = out.iter().last().unwrap().to_string();
        assert_eq!(
            last,
            format!(
                "f.yaml: {} more problems not shown (only the first {MAX_PROBLEMS} are reported)",
                keys - MAX_PROBLEMS
            )
        );
    }

    #[test]
    fn long_or_odd_keys_are_not_echoed() {
        let doc = parse_document(&crate::yaml::hostile::long_key(100_000)).unwrap();
        let mut d = Decoder::new("f.yaml");
        d.fields(&doc, "", &["name"]);
        let out = d.finish();
        let line = out.iter().next().unwrap().to_string();
        assert!(line.len() < 400, "{} bytes", line.len());
        assert!(line.ends_with("unknown key; known keys: name"), "{line}");
        // A mis-indented secret (base64 with `+`, `/`, `=`) is not shown back either.
        let doc = parse_document("aHVudGVy/Mi1+zdXBlcg==: x\n").unwrap();
        let mut d = Decoder::new("f.yaml");
        d.fields(&doc, "", &["name"]);
        let line = d.finish().iter().next().unwrap().to_string();
        assert!(!line.contains("aHVudGVy"), "{line}");
        let doc = parse_document(&format!("{}: x\n", "k".repeat(1000))).unwrap();
        let mut d = Decoder::new("f.yaml");
        assert!(d.string_map(&doc, "labels").is_some());
    }

    #[test]
    fn quoted_true_is_accepted_as_string() {
        let doc = parse_document("a: \"true\"\n").unwrap();
        let mut d = Decoder::new("f.yaml");
        let m = d.string_map(&doc, "labels").unwrap();
        assert_eq!(m[0].1, "true");
        assert!(!d.has_errors());
    }
}
