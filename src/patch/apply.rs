//! Applying one RFC 6902 operation to a document, with the two extensions of [`super::path`]:
//! list elements selected by key, and paths that continue into the YAML held by a string.
//!
//! The extended path is first walked to concrete RFC 6901 pointers; the operation itself is then
//! carried out by the `json-patch` crate, so its semantics are exactly RFC 6902 (`replace` of a
//! missing key fails, `add` never creates parents, `remove` of `-` fails). A string that a path
//! enters is parsed, patched recursively and written back with [`crate::yaml::edit`], so its
//! comments and layout survive.

use std::fmt;

use json_patch::jsonptr::{PointerBuf, Token};
use json_patch::{
    AddOperation, CopyOperation, MoveOperation, PatchErrorKind, PatchOperation, RemoveOperation,
    ReplaceOperation, TestOperation,
};
use serde_json::Value;

use super::path::{Segment, parse_index};
use crate::yaml::{self, NodeKind, YamlError, edit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

impl OpKind {
    pub const NAMES: [&'static str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

    pub fn parse(s: &str) -> Option<OpKind> {
        Some(match s {
            "add" => OpKind::Add,
            "remove" => OpKind::Remove,
            "replace" => OpKind::Replace,
            "move" => OpKind::Move,
            "copy" => OpKind::Copy,
            "test" => OpKind::Test,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn needs_value(self) -> bool {
        matches!(self, OpKind::Add | OpKind::Replace | OpKind::Test)
    }

    pub fn needs_from(self) -> bool {
        matches!(self, OpKind::Move | OpKind::Copy)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an operation could not be applied. Paths are shown as concrete RFC 6901 pointers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    #[error("path {path} does not exist{detail}")]
    Missing { path: String, detail: String },
    #[error("no element of {list} has {key} matching `{pattern}`")]
    NoElement {
        list: String,
        key: String,
        pattern: String,
    },
    #[error("{path} selects {count} elements; {op} needs exactly one")]
    Ambiguous {
        path: String,
        count: usize,
        op: OpKind,
    },
    #[error("test failed: {path} is {actual}, expected {expected}")]
    TestFailed {
        path: String,
        actual: String,
        expected: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the YAML in the string at {at}: {error}")]
    Embedded { at: String, error: YamlError },
    #[error("rewriting the YAML in the string at {at}: {message}")]
    EmbeddedEdit { at: String, message: String },
}

/// An operation ready to apply: paths parsed, templates rendered.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    pub kind: OpKind,
    pub path: &'a [Segment],
    pub from: Option<&'a [Segment]>,
    pub value: Option<&'a Value>,
}

/// Where an extended path leads in a document.
#[derive(Debug, Clone, PartialEq)]
enum Loc {
    /// A concrete pointer, as unescaped tokens.
    At(Vec<String>),
    /// Inside the YAML held by the string at `string`; `rest` indexes the remaining segments.
    Inside { string: Vec<String>, rest: usize },
}

pub fn pointer_text(tokens: &[String]) -> String {
    if tokens.is_empty() {
        return "/ (the document)".into();
    }
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The scalar text a selector or predicate compares with a glob.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Walks `segs` from `v`. The last segment of a path need not exist (for `add`, and so that
/// `json-patch` reports missing targets with RFC semantics), except a selector, which must match.
fn walk(
    v: &Value,
    segs: &[Segment],
    i: usize,
    prefix: &mut Vec<String>,
    out: &mut Vec<Loc>,
) -> Result<(), ApplyError> {
    if i == segs.len() {
        out.push(Loc::At(prefix.clone()));
        return Ok(());
    }
    if let Value::String(_) = v {
        out.push(Loc::Inside {
            string: prefix.clone(),
            rest: i,
        });
        return Ok(());
    }
    let last = i + 1 == segs.len();
    match &segs[i] {
        Segment::Key(tok) => {
            let child = match v {
                Value::Object(map) => map.get(tok),
                Value::Array(items) => {
                    if !(last && tok == "-") {
                        match parse_index(tok) {
                            Some(idx) => items.get(idx),
                            None => {
                                prefix.push(tok.clone());
                                return Err(ApplyError::Invalid(format!(
                                    "{}: `{tok}` is not an array index (RFC 6901: `0`, or digits without a leading zero{})",
                                    pointer_text(prefix),
                                    if last { ", or `-` to append" } else { "" }
                                )));
                            }
                        }
                    } else {
                        None
                    }
                }
                _ => None,
            };
            prefix.push(tok.clone());
            match child {
                Some(c) if !last => walk(c, segs, i + 1, prefix, out)?,
                _ if last => out.push(Loc::At(prefix.clone())),
                _ => {
                    let detail = match v {
                        Value::Object(_) | Value::Array(_) => String::new(),
                        other => format!(
                            " (its parent is {}, not a mapping or a list)",
                            describe(other)
                        ),
                    };
                    return Err(ApplyError::Missing {
                        path: pointer_text(prefix),
                        detail,
                    });
                }
            }
            prefix.pop();
        }
        Segment::Select { key, pattern } => {
            let Value::Array(items) = v else {
                return Err(ApplyError::Invalid(format!(
                    "{} is {}; a `[{}=...]` selector needs a list",
                    pointer_text(prefix),
                    describe(v),
                    key.join("/")
                )));
            };
            let mut found = false;
            for (idx, item) in items.iter().enumerate() {
                let at = key.iter().try_fold(item, |cur, k| cur.as_object()?.get(k));
                if at
                    .and_then(scalar_text)
                    .is_some_and(|t| pattern.is_match(&t))
                {
                    found = true;
                    prefix.push(idx.to_string());
                    walk(item, segs, i + 1, prefix, out)?;
                    prefix.pop();
                }
            }
            if !found {
                return Err(ApplyError::NoElement {
                    list: pointer_text(prefix),
                    key: key.join("/"),
                    pattern: pattern.to_string(),
                });
            }
        }
    }
    Ok(())
}

fn resolve(doc: &Value, segs: &[Segment]) -> Result<Vec<Loc>, ApplyError> {
    let mut out = Vec::new();
    walk(doc, segs, 0, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn pointer(tokens: &[String]) -> PointerBuf {
    PointerBuf::from_tokens(tokens.iter().map(|t| Token::new(t.as_str())))
}

fn get<'v>(doc: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens.iter().try_fold(doc, |cur, t| match cur {
        Value::Object(m) => m.get(t),
        Value::Array(a) => a.get(parse_index(t)?),
        _ => None,
    })
}

fn get_mut<'v>(doc: &'v mut Value, tokens: &[String]) -> Option<&'v mut Value> {
    tokens.iter().try_fold(doc, |cur, t| match cur {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => a.get_mut(parse_index(t)?),
        _ => None,
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Runs one operation with concrete pointers through `json-patch`.
fn run_direct(
    doc: &mut Value,
    kind: OpKind,
    path: &[String],
    from: Option<&[String]>,
    value: Option<&Value>,
) -> Result<(), ApplyError> {
    let p = pointer(path);
    let value = value.cloned().unwrap_or(Value::Null);
    let expected = (kind == OpKind::Test).then(|| value.clone());
    let op = match kind {
        OpKind::Add => PatchOperation::Add(AddOperation { path: p, value }),
        OpKind::Remove => PatchOperation::Remove(RemoveOperation { path: p }),
        OpKind::Replace => PatchOperation::Replace(ReplaceOperation { path: p, value }),
        OpKind::Test => PatchOperation::Test(TestOperation { path: p, value }),
        OpKind::Move => PatchOperation::Move(MoveOperation {
            from: pointer(from.unwrap_or_default()),
            path: p,
        }),
        OpKind::Copy => PatchOperation::Copy(CopyOperation {
            from: pointer(from.unwrap_or_default()),
            path: p,
        }),
    };
    let before = (kind == OpKind::Test).then(|| get(doc, path).cloned());
    json_patch::patch(doc, &[op]).map_err(|e| match e.kind {
        PatchErrorKind::TestFailed => ApplyError::TestFailed {
            path: pointer_text(path),
            actual: before.flatten().map(|v| short(&v)).unwrap_or_default(),
            expected: expected.as_ref().map(short).unwrap_or_default(),
        },
        PatchErrorKind::InvalidFromPointer => ApplyError::Missing {
            path: pointer_text(from.unwrap_or_default()),
            detail: " (the `from` of this operation)".into(),
        },
        PatchErrorKind::CannotMoveInsideItself => {
            ApplyError::Invalid("cannot move a value inside itself".into())
        }
        _ => missing_detail(doc, kind, path),
    })
}

/// Explains an RFC 6902 "invalid pointer" failure in the terms of the operation.
fn missing_detail(doc: &Value, kind: OpKind, path: &[String]) -> ApplyError {
    let Some((last, parent)) = path.split_last() else {
        return ApplyError::Invalid(format!("{kind} cannot apply to the whole document"));
    };
    match get(doc, parent) {
        None => ApplyError::Missing {
            path: pointer_text(parent),
            detail: " (RFC 6902 never creates parents; add the parent first)".into(),
        },
        Some(Value::Array(items)) => {
            let detail = match (kind, last.as_str()) {
                (OpKind::Add, _) => format!(
                    " (index {last} is past the end of a list of {}; use `-` to append)",
                    items.len()
                ),
                (_, "-") => {
                    " (`-` names the position after the last element; it exists only for add)"
                        .into()
                }
                _ => format!(" (the list has {} elements)", items.len()),
            };
            ApplyError::Missing {
                path: pointer_text(path),
                detail,
            }
        }
        Some(Value::Object(_)) => ApplyError::Missing {
            path: pointer_text(path),
            detail: if kind == OpKind::Replace {
                " (replace only changes existing keys; use add to create one)".into()
            } else {
                String::new()
            },
        },
        Some(other) => ApplyError::Missing {
            path: pointer_text(path),
            detail: format!(
                " (its parent is {}, not a mapping or a list)",
                describe(other)
            ),
        },
    }
}

/// Parses the YAML held by the string at `at`; it must be a mapping or a list.
fn open_string(doc: &Value, at: &[String]) -> Result<(String, Vec<yaml::Node>), ApplyError> {
    let Some(Value::String(text)) = get(doc, at) else {
        return Err(ApplyError::Missing {
            path: pointer_text(at),
            detail: String::new(),
        });
    };
    let stream =
        yaml::parse_stream_keep_duplicates(text).map_err(|error| ApplyError::Embedded {
            at: pointer_text(at),
            error,
        })?;
    if let Some(d) = stream.duplicates.first() {
        return Err(ApplyError::Embedded {
            at: pointer_text(at),
            error: d.error.clone(),
        });
    }
    let collection = stream.docs.len() == 1
        && matches!(stream.docs[0].kind, NodeKind::Map(_) | NodeKind::Seq(_));
    if !collection {
        return Err(ApplyError::Missing {
            path: pointer_text(at),
            detail: " goes on, but that string does not hold a YAML mapping or list".into(),
        });
    }
    Ok((text.clone(), stream.docs))
}

/// Applies `op` to `doc` (a document or the YAML inside one of its strings).
pub fn apply(doc: &mut Value, op: &Operation<'_>) -> Result<(), ApplyError> {
    let locs = resolve(doc, op.path)?;
    if let Some(from) = op.from {
        let froms = resolve(doc, from)?;
        let one = |locs: &[Loc], segs: &[Segment]| -> Result<Loc, ApplyError> {
            match locs {
                [l] => Ok(l.clone()),
                _ => Err(ApplyError::Ambiguous {
                    path: segs_text(segs),
                    count: locs.len(),
                    op: op.kind,
                }),
            }
        };
        return match (one(&froms, from)?, one(&locs, op.path)?) {
            (Loc::At(f), Loc::At(p)) => run_direct(doc, op.kind, &p, Some(&f), None),
            (
                Loc::Inside {
                    string: sf,
                    rest: rf,
                },
                Loc::Inside {
                    string: sp,
                    rest: rp,
                },
            ) if sf == sp => within_string(doc, &sp, |inner| {
                apply(
                    inner,
                    &Operation {
                        kind: op.kind,
                        path: &op.path[rp..],
                        from: Some(&from[rf..]),
                        value: None,
                    },
                )
            }),
            _ => Err(ApplyError::Invalid(format!(
                "{} cannot move or copy between a document and the YAML inside one of its strings",
                op.kind
            ))),
        };
    }
    // Last first: removing selected list elements from the end keeps earlier indexes valid.
    for loc in locs.into_iter().rev() {
        match loc {
            Loc::At(p) => run_direct(doc, op.kind, &p, None, op.value)?,
            Loc::Inside { string, rest } => within_string(doc, &string, |inner| {
                apply(
                    inner,
                    &Operation {
                        kind: op.kind,
                        path: &op.path[rest..],
                        from: None,
                        value: op.value,
                    },
                )
            })?,
        }
    }
    Ok(())
}

/// Parses the string at `at`, lets `f` change its value and writes the string back with the
/// minimal-diff editor.
fn within_string(
    doc: &mut Value,
    at: &[String],
    f: impl FnOnce(&mut Value) -> Result<(), ApplyError>,
) -> Result<(), ApplyError> {
    let (text, docs) = open_string(doc, at)?;
    let before = docs[0].to_json();
    let mut inner = before.clone();
    f(&mut inner)?;
    if inner == before {
        return Ok(());
    }
    let edited =
        edit::edit_stream(&text, &docs, &[(0, &inner)]).map_err(|e| ApplyError::EmbeddedEdit {
            at: pointer_text(at),
            message: e.to_string(),
        })?;
    if let Some(slot) = get_mut(doc, at) {
        *slot = Value::String(edited);
    }
    Ok(())
}

fn segs_text(segs: &[Segment]) -> String {
    segs.iter()
        .map(|s| match s {
            Segment::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Segment::Select { key, pattern } => format!("/[{}={pattern}]", key.join("/")),
        })
        .collect()
}

/// Every value an extended path reaches in `doc` (descending into YAML strings); a path that
/// leads nowhere reaches nothing. Used by predicates, which ask questions rather than demand.
pub fn values_at(doc: &Value, segs: &[Segment]) -> Result<Vec<Value>, ApplyError> {
    let mut out = Vec::new();
    collect(doc, segs, &mut out)?;
    Ok(out)
}

fn collect(v: &Value, segs: &[Segment], out: &mut Vec<Value>) -> Result<(), ApplyError> {
    let Some((first, rest)) = segs.split_first() else {
        out.push(v.clone());
        return Ok(());
    };
    match (v, first) {
        (Value::String(text), _) => {
            let stream =
                yaml::parse_stream_keep_duplicates(text).map_err(|error| ApplyError::Embedded {
                    at: "a string on the path".into(),
                    error,
                })?;
            if let Some(d) = stream.duplicates.first() {
                return Err(ApplyError::Embedded {
                    at: "a string on the path".into(),
                    error: d.error.clone(),
                });
            }
            if let [doc] = stream.docs.as_slice()
                && matches!(doc.kind, NodeKind::Map(_) | NodeKind::Seq(_))
            {
                collect(&doc.to_json(), segs, out)?;
            }
        }
        (Value::Object(m), Segment::Key(k)) => {
            if let Some(c) = m.get(k) {
                collect(c, rest, out)?;
            }
        }
        (Value::Array(a), Segment::Key(k)) => {
            if let Some(c) = parse_index(k).and_then(|i| a.get(i)) {
                collect(c, rest, out)?;
            }
        }
        (Value::Array(a), Segment::Select { key, pattern }) => {
            for item in a {
                let at = key.iter().try_fold(item, |cur, k| cur.as_object()?.get(k));
                if at
                    .and_then(scalar_text)
                    .is_some_and(|t| pattern.is_match(&t))
                {
                    collect(item, rest, out)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::path::ExtPath;
    use serde_json::json;

    fn run(
        doc: &mut Value,
        kind: OpKind,
        path: &str,
        value: Option<Value>,
    ) -> Result<(), ApplyError> {
        let p = ExtPath::parse(path).unwrap();
        apply(
            doc,
            &Operation {
                kind,
                path: &p.segments,
                from: None,
                value: value.as_ref(),
            },
        )
    }

    fn mv(doc: &mut Value, kind: OpKind, from: &str, path: &str) -> Result<(), ApplyError> {
        let p = ExtPath::parse(path).unwrap();
        let f = ExtPath::parse(from).unwrap();
        apply(
            doc,
            &Operation {
                kind,
                path: &p.segments,
                from: Some(&f.segments),
                value: None,
            },
        )
    }

    #[test]
    fn strict_rfc6902_not_kustomize() {
        let base = json!({"spec": {"replicas": 1, "args": ["a"]}, "metadata": {"annotations": {}}});
        // replace of a missing key fails (kustomize adds it)
        let mut d = base.clone();
        let e = run(&mut d, OpKind::Replace, "/spec/nope", Some(json!(1))).unwrap_err();
        assert!(e.to_string().contains("/spec/nope does not exist"), "{e}");
        assert!(e.to_string().contains("use add"), "{e}");
        // remove of a missing key fails
        assert!(run(&mut d, OpKind::Remove, "/spec/nope", None).is_err());
        // add never creates parents
        let e = run(&mut d, OpKind::Add, "/spec/a/b", Some(json!(1))).unwrap_err();
        assert!(e.to_string().contains("/spec/a does not exist"), "{e}");
        // index 00 is not 0 (kustomize reads it as 0)
        let e = run(&mut d, OpKind::Replace, "/spec/args/00", Some(json!("x"))).unwrap_err();
        assert!(e.to_string().contains("not an array index"), "{e}");
        // remove of `-` fails; add past the end fails; add of `-` appends
        assert!(run(&mut d, OpKind::Remove, "/spec/args/-", None).is_err());
        let e = run(&mut d, OpKind::Add, "/spec/args/5", Some(json!("x"))).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
        run(&mut d, OpKind::Add, "/spec/args/-", Some(json!("b"))).unwrap();
        run(&mut d, OpKind::Add, "/spec/args/2", Some(json!("c"))).unwrap();
        assert_eq!(d["spec"]["args"], json!(["a", "b", "c"]));
        // add to an existing key overwrites; test compares
        run(&mut d, OpKind::Add, "/spec/replicas", Some(json!(2))).unwrap();
        run(&mut d, OpKind::Test, "/spec/replicas", Some(json!(2))).unwrap();
        let e = run(&mut d, OpKind::Test, "/spec/replicas", Some(json!(3))).unwrap_err();
        assert!(
            e.to_string().contains("test failed: /spec/replicas is 2"),
            "{e}"
        );
        // key "0" on a mapping and the empty key are ordinary keys
        run(
            &mut d,
            OpKind::Add,
            "/metadata/annotations/0",
            Some(json!("zero")),
        )
        .unwrap();
        run(
            &mut d,
            OpKind::Add,
            "/metadata/annotations/",
            Some(json!("empty")),
        )
        .unwrap();
        assert_eq!(
            d["metadata"]["annotations"],
            json!({"0": "zero", "": "empty"})
        );
        // move and copy
        mv(&mut d, OpKind::Copy, "/spec/replicas", "/spec/copied").unwrap();
        mv(&mut d, OpKind::Move, "/spec/copied", "/spec/moved").unwrap();
        assert_eq!(d["spec"]["moved"], json!(2));
        assert!(d["spec"].get("copied").is_none());
        assert!(mv(&mut d, OpKind::Move, "/spec/gone", "/spec/x").is_err());
    }

    #[test]
    fn selectors_address_list_elements_by_key() {
        let mut d = json!({"spec": {"sources": [
            {"repoURL": "https://charts.example.com", "chart": "x", "targetRevision": "1.2.3"},
            {"repoURL": "https://github.com/o/zerotouch-platform.git", "targetRevision": "main"},
        ]}});
        run(
            &mut d,
            OpKind::Replace,
            "/spec/sources/[repoURL=https://github.com/*/zerotouch-platform{,.git}]/targetRevision",
            Some(json!("abc")),
        )
        .unwrap();
        assert_eq!(d["spec"]["sources"][0]["targetRevision"], "1.2.3");
        assert_eq!(d["spec"]["sources"][1]["targetRevision"], "abc");
        let e = run(
            &mut d,
            OpKind::Replace,
            "/spec/sources/[repoURL=nope]/x",
            Some(json!(1)),
        )
        .unwrap_err();
        assert!(matches!(e, ApplyError::NoElement { .. }), "{e}");
        let mut l = json!({"c": [{"name": "a"}, {"name": "b"}, {"name": "a"}]});
        run(&mut l, OpKind::Remove, "/c/[name=a]", None).unwrap();
        assert_eq!(l, json!({"c": [{"name": "b"}]}));
    }

    #[test]
    fn paths_continue_into_yaml_strings() {
        let values = "# run on the control plane\ntolerations:\n  - key: cp\n    operator: Exists\nresources:\n  requests:\n    cpu: 100m # default\n";
        let mut d = json!({"spec": {"helm": {"values": values}}});
        run(
            &mut d,
            OpKind::Replace,
            "/spec/helm/values/resources/requests/cpu",
            Some(json!("50m")),
        )
        .unwrap();
        run(
            &mut d,
            OpKind::Remove,
            "/spec/helm/values/tolerations",
            None,
        )
        .unwrap();
        assert_eq!(
            d["spec"]["helm"]["values"],
            "# run on the control plane\nresources:\n  requests:\n    cpu: 50m # default\n"
        );
        // A plain string is not YAML to descend into.
        let mut d = json!({"spec": {"rev": "main"}});
        let e = run(&mut d, OpKind::Add, "/spec/rev/x", Some(json!(1))).unwrap_err();
        assert!(
            e.to_string().contains("does not hold a YAML mapping"),
            "{e}"
        );
        // Duplicate keys inside the string are reported with their lines.
        let mut d = json!({"v": "a: 1\nb: 2\na: 3\n"});
        let e = run(&mut d, OpKind::Replace, "/v/b", Some(json!(5))).unwrap_err();
        assert!(
            e.to_string()
                .contains("duplicate key `a` (first defined at line 1)"),
            "{e}"
        );
    }

    #[test]
    fn predicates_read_without_failing() {
        let d = json!({"spec": {"values": "resources:\n  cpu: 1\n", "list": [{"n": "a", "v": 1}]}});
        let at = |p: &str| values_at(&d, &ExtPath::parse(p).unwrap().segments).unwrap();
        assert_eq!(at("/spec/values/resources/cpu"), [json!(1)]);
        assert!(at("/spec/values/nope").is_empty());
        assert!(at("/spec/nope/deeper").is_empty());
        assert_eq!(at("/spec/list/[n=a]/v"), [json!(1)]);
        assert!(at("/spec/list/[n=b]/v").is_empty());
    }
}
