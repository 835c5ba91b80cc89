//! Strict loading of overlay files: every problem reported at once with its position, unknown
//! keys with a suggestion, templates and globs checked before anything is patched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{OpSpec, Overlay, Predicate, Selector, Test, Unless, UnlessCheck};
use crate::diag::{Diagnostic, Diagnostics, suggest};
use crate::patch::apply::OpKind;
use crate::patch::glob::Glob;
use crate::patch::path::{ExtPath, Segment};
use crate::patch::vars::{Templates, Vars};
use crate::yaml::decode::{Decoder, Fields};
use crate::yaml::{Node, parse_document};

const OVERLAY_KEYS: &[&str] = &[
    "name",
    "description",
    "when",
    "optional",
    "target",
    "unless",
    "ops",
];
const SELECTOR_KEYS: &[&str] = &["files", "apiVersion", "kind", "name", "where"];
const PREDICATE_KEYS: &[&str] = &["path", "equals", "matches", "exists"];
const UNLESS_KEYS: &[&str] = &["reason", "where", "document"];
const OP_KEYS: &[&str] = &["op", "path", "from", "value"];

/// Reads one overlay file.
pub fn parse(file: &Path, src: &str) -> Result<Overlay, Diagnostics> {
    let root = parse_document(src).map_err(|e| Diagnostic::new(file, e.pos, "", e.message))?;
    let mut l = Loader {
        d: Decoder::new(file),
        templates: Templates::new(),
        probe: Vars::probe(),
    };
    let overlay = l.overlay(&root, file);
    let diags = l.d.finish();
    match overlay {
        Some(o) if diags.is_empty() => Ok(o),
        _ => Err(diags.sorted()),
    }
}

/// Reads every `*.yaml` / `*.yml` file directly inside `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Overlay>, Diagnostics> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::file(dir, format!("cannot read the patch directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && path.is_file() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Diagnostic::file(&path, format!("cannot read: {e}")))?;
            files.push((path, text));
        }
    }
    if files.is_empty() {
        return Err(Diagnostic::file(dir, "no patch files (*.yaml) in this directory").into());
    }
    load_set(files)
}

/// Parses a set of overlay files, sorted by file name; names must be unique.
pub fn load_set(mut files: Vec<(PathBuf, String)>) -> Result<Vec<Overlay>, Diagnostics> {
    files.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    let mut diags = Diagnostics::new();
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, text) in &files {
        match parse(path, text) {
            Ok(o) => {
                if let Some(first) = seen.get(&o.name) {
                    diags.push(Diagnostic::new(
                        path,
                        None,
                        "name",
                        format!(
                            "patch name `{}` is already used by {}",
                            o.name,
                            first.display()
                        ),
                    ));
                } else {
                    seen.insert(o.name.clone(), path.clone());
                    out.push(o);
                }
            }
            Err(d) => diags.extend(d),
        }
    }
    diags.into_result().map(|()| out)
}

struct Loader {
    d: Decoder,
    templates: Templates,
    probe: Vars,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

impl Loader {
    fn overlay(&mut self, root: &Node, file: &Path) -> Option<Overlay> {
        let f = self.d.fields(root, "", OVERLAY_KEYS)?;
        let name = self.d.req_string(&f, "name");
        if let (Some(n), Some(node)) = (&name, f.get("name"))
            && !valid_name(n)
        {
            self.d.error(
                Some(node.pos),
                "name",
                "a patch name is lowercase letters, digits and `-` (at most 63)",
            );
        }
        let description = self.d.req_string(&f, "description");
        let when = self.d.opt_string(&f, "when");
        if let (Some(w), Some(node)) = (&when, f.get("when"))
            && let Err(e) = self.templates.eval(w, &self.probe)
        {
            self.d.error(
                Some(node.pos),
                "when",
                format!("not a valid condition: {e}"),
            );
        }
        let optional = self.d.opt_bool(&f, "optional").unwrap_or(false);
        let target = match self.d.required(&f, "target") {
            Some(t) => self.selector(t, "target"),
            None => None,
        };
        let unless = match f.get("unless") {
            Some(n) => self.unless(n),
            None => Some(Vec::new()),
        };
        let ops = match self.d.required(&f, "ops") {
            Some(n) => self.ops(n),
            None => None,
        };
        if let Some(ops) = &ops
            && ops.is_empty()
            && let Some(n) = f.get("ops")
        {
            self.d
                .error(Some(n.pos), "ops", "a patch needs at least one operation");
        }
        Some(Overlay {
            file: file.to_path_buf(),
            name: name?,
            description: description?,
            when,
            optional,
            target: target?,
            unless: unless?,
            ops: ops?,
        })
    }

    fn selector(&mut self, node: &Node, path: &str) -> Option<Selector> {
        let f = self.d.fields(node, path, SELECTOR_KEYS)?;
        let files = match self.d.required(&f, "files") {
            Some(n) => self.globs(n, &f.child("files")),
            None => None,
        };
        let api_version = self.d.opt_string(&f, "apiVersion");
        let kind = self.d.opt_string(&f, "kind");
        let name = match f.get("name") {
            Some(n) => {
                let s = self.d.string(n, &f.child("name"))?;
                match Glob::text(&s) {
                    Ok(g) => Some(g),
                    Err(e) => {
                        self.d.error(Some(n.pos), &f.child("name"), e);
                        return None;
                    }
                }
            }
            None => None,
        };
        let where_ = match f.get("where") {
            Some(n) => self.predicates(n, &f.child("where"))?,
            None => Vec::new(),
        };
        Some(Selector {
            pos: node.pos,
            files: files?,
            api_version,
            kind,
            name,
            where_,
        })
    }

    fn globs(&mut self, node: &Node, path: &str) -> Option<Vec<Glob>> {
        let items = self.d.seq(node, path)?;
        if items.is_empty() {
            self.d.error(
                Some(node.pos),
                path,
                "list at least one file pattern (e.g. bootstrap/**/*.yaml)",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match self.d.string(item, &p) {
                Some(s) => match Glob::path(&s) {
                    Ok(g) => out.push(g),
                    Err(e) => {
                        self.d.error(Some(item.pos), &p, e);
                        ok = false;
                    }
                },
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn ext_path(&mut self, node: &Node, field: &str) -> Option<ExtPath> {
        let s = self.d.string(node, field)?;
        match ExtPath::parse(&s) {
            Ok(p) => Some(p),
            Err(e) => {
                self.d
                    .error(Some(node.pos), field, format!("malformed path: {e}"));
                None
            }
        }
    }

    fn predicates(&mut self, node: &Node, path: &str) -> Option<Vec<Predicate>> {
        let items = self.d.seq(node, path)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.predicate(item, &format!("{path}[{i}]")) {
                Some(p) => out.push(p),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn predicate(&mut self, node: &Node, path: &str) -> Option<Predicate> {
        let f = self.d.fields(node, path, PREDICATE_KEYS)?;
        let p = match self.d.required(&f, "path") {
            Some(n) => self.ext_path(n, &f.child("path")),
            None => None,
        };
        let tests: Vec<&str> = ["equals", "matches", "exists"]
            .into_iter()
            .filter(|k| node.get(k).is_some())
            .collect();
        if tests.len() != 1 {
            self.d.error(
                Some(node.pos),
                path,
                format!(
                    "a predicate needs exactly one of `equals`, `matches`, `exists`; found {}",
                    if tests.is_empty() {
                        "none".to_string()
                    } else {
                        tests.join(", ")
                    }
                ),
            );
            return None;
        }
        let test = match tests[0] {
            "equals" => {
                let n = node.get("equals")?;
                let v = n.to_json();
                self.check_templates(&v, n, &f.child("equals"))?;
                Test::Equals(v)
            }
            "matches" => {
                let n = node.get("matches")?;
                let s = self.d.string(n, &f.child("matches"))?;
                let rendered = match self.templates.render_str(&s, &self.probe) {
                    Ok(r) => r,
                    Err(e) => {
                        self.d.error(Some(n.pos), &f.child("matches"), e);
                        return None;
                    }
                };
                if let Err(e) = Glob::text(&rendered) {
                    self.d.error(Some(n.pos), &f.child("matches"), e);
                    return None;
                }
                Test::Matches(s)
            }
            // `exists:` with no value is present but null: it must be reported, not skipped
            // (`opt_bool` reads null as absent, and the predicate then failed silently).
            _ => Test::Exists(self.d.bool(node.get("exists")?, &f.child("exists"))?),
        };
        Some(Predicate {
            pos: node.pos,
            path: p?,
            test,
        })
    }

    fn check_templates(&mut self, v: &Value, node: &Node, field: &str) -> Option<()> {
        match self.templates.render_value(v, &self.probe) {
            Ok(_) => Some(()),
            Err(e) => {
                self.d.error(Some(node.pos), field, e);
                None
            }
        }
    }

    fn unless(&mut self, node: &Node) -> Option<Vec<Unless>> {
        let items = self.d.seq(node, "unless")?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("unless[{i}]");
            let Some(f) = self.d.fields(item, &path, UNLESS_KEYS) else {
                ok = false;
                continue;
            };
            let reason = self.d.req_string(&f, "reason");
            let check = match (f.get("where"), f.get("document")) {
                (Some(w), None) => self
                    .predicates(w, &f.child("where"))
                    .map(UnlessCheck::Where),
                (None, Some(d)) => self
                    .selector(d, &f.child("document"))
                    .map(UnlessCheck::Document),
                _ => {
                    self.d.error(
                        Some(item.pos),
                        &path,
                        "an `unless` entry needs exactly one of `where` (this document) or `document` (another one)",
                    );
                    None
                }
            };
            match (reason, check) {
                (Some(reason), Some(check)) => out.push(Unless {
                    pos: item.pos,
                    reason,
                    check,
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn ops(&mut self, node: &Node) -> Option<Vec<OpSpec>> {
        let items = self.d.seq(node, "ops")?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.op(item, &format!("ops[{i}]")) {
                Some(o) => out.push(o),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn op(&mut self, node: &Node, path: &str) -> Option<OpSpec> {
        let f = self.d.fields(node, path, OP_KEYS)?;
        let kind = match self.d.required(&f, "op") {
            Some(n) => {
                let s = self.d.string(n, &f.child("op"))?;
                match OpKind::parse(&s) {
                    Some(k) => Some(k),
                    None => {
                        let hint = match suggest(&s, OpKind::NAMES) {
                            Some(m) => format!("; did you mean `{m}`?"),
                            None => String::new(),
                        };
                        self.d.error(
                            Some(n.pos),
                            &f.child("op"),
                            format!(
                                "unknown op `{s}`: expected one of {}{hint}",
                                OpKind::NAMES.join(", ")
                            ),
                        );
                        None
                    }
                }
            }
            None => None,
        };
        let p = match self.d.required(&f, "path") {
            Some(n) => self.op_path(n, &f.child("path")),
            None => None,
        };
        let kind = kind?;
        let p = p?;
        if kind == OpKind::Add && matches!(p.last(), Some(Segment::Select { .. })) {
            self.d.error(
                f.get("path").map(|n| n.pos),
                &f.child("path"),
                "add needs a new location (a key, an index or `-`), not a `[key=value]` selector",
            );
            return None;
        }
        let from = self.op_field(&f, kind.needs_from(), "from", kind);
        let value = self.op_field(&f, kind.needs_value(), "value", kind);
        let from = match (from?, f.get("from")) {
            (true, Some(n)) => Some(self.op_path(n, &f.child("from"))?),
            _ => None,
        };
        let value = match (value?, f.node().get("value")) {
            (true, Some(n)) => {
                let v = n.to_json();
                self.check_templates(&v, n, &f.child("value"))?;
                Some(v)
            }
            _ => None,
        };
        Some(OpSpec {
            pos: node.pos,
            kind,
            path: p,
            from,
            value,
        })
    }

    /// Checks that `key` is present exactly when the op needs it.
    fn op_field(&mut self, f: &Fields<'_>, needed: bool, key: &str, kind: OpKind) -> Option<bool> {
        // `value: null` is a value (RFC 6902 allows adding null), so look at the raw node.
        let present = f.node().get(key).is_some();
        match (needed, present) {
            (true, false) => {
                self.d.error(
                    Some(f.node().pos),
                    &f.child(key),
                    format!("{kind} needs `{key}`"),
                );
                None
            }
            (false, true) => {
                self.d.error(
                    f.node().get(key).map(|n| n.pos),
                    &f.child(key),
                    format!("`{key}` has no meaning for {kind}"),
                );
                None
            }
            _ => Some(needed),
        }
    }

    fn op_path(&mut self, node: &Node, field: &str) -> Option<ExtPath> {
        let p = self.ext_path(node, field)?;
        if p.segments.is_empty() {
            self.d.error(
                Some(node.pos),
                field,
                "the whole document cannot be patched; name a field (e.g. /spec/source)",
            );
            return None;
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> String {
        parse(Path::new("p.yaml"), src).unwrap_err().to_string()
    }

    const GOOD: &str = "\
name: pin-revision
description: Pin the platform repo
target:
  files: [\"bootstrap/**/*.yaml\"]
  kind: Application
  where:
    - path: /spec/source/repoURL
      matches: \"https://github.com/*/zerotouch-platform{,.git}\"
ops:
  - op: replace
    path: /spec/source/targetRevision
    value: \"{{ platform.revision }}\"
";

    #[test]
    fn a_good_overlay_loads() {
        let o = parse(Path::new("p.yaml"), GOOD).unwrap();
        assert_eq!(o.name, "pin-revision");
        assert_eq!(o.ops.len(), 1);
        assert!(o.target.matches_file("bootstrap/argocd/base/06-apis.yaml"));
        assert!(o.target.matches_identity(None, Some("Application"), None));
        assert!(!o.target.matches_identity(None, Some("Kustomization"), None));
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let src = "\
name: Bad_Name
description: x
optional: maybe
target:
  files: [\"/abs/*.yaml\"]
  knd: Application
ops:
  - op: repalce
    path: spec/x
  - op: remove
    path: /a~2b
    value: 1
  - op: move
    path: /a
  - op: add
    path: /l/[name=x]
    value: 1
  - op: add
    path: /x
    value: \"{{ platform.branch }}\"
";
        let e = errors(src);
        for want in [
            "p.yaml:1:7: name: a patch name is lowercase",
            "p.yaml:3:11: optional: expected",
            "p.yaml:5:11: target.files[0]: `/abs/*.yaml` is absolute",
            "p.yaml:6:3: target.knd: unknown key `knd`; did you mean `kind`?",
            "p.yaml:8:9: ops[0].op: unknown op `repalce`: expected one of add, remove, replace, move, copy, test; did you mean `replace`?",
            "p.yaml:9:11: ops[0].path: malformed path: `spec/x` is not a JSON pointer",
            "p.yaml:11:11: ops[1].path: malformed path: `/a~2b`: invalid escape `~2`",
            "ops[2].from: move needs `from`",
            "p.yaml:16:11: ops[3].path: add needs a new location",
            "p.yaml:20:12: ops[4].value: undefined value",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }

    #[test]
    fn bad_selectors_are_reported() {
        let src = "\
name: x
description: x
target:
  files: [\"bootstrap/{a,b/*.yaml\", \"../outside.yaml\"]
  name: \"{oops\"
ops:
  - op: replace
    path: /spec/sources/[repoURL]/targetRevision
    value: x
  - op: remove
    path: /spec/sources/[=x]
";
        let e = errors(src);
        for want in [
            "p.yaml:4:11: target.files[0]: `bootstrap/{a,b/*.yaml`: `{` is never closed",
            "p.yaml:4:36: target.files[1]: `../outside.yaml` must name paths inside the platform repo",
            "p.yaml:5:9: target.name: `{oops`: `{` is never closed",
            "p.yaml:8:11: ops[0].path: malformed path: `/spec/sources/[repoURL]/targetRevision`: a list selector is written `[key=value]`",
            "p.yaml:11:11: ops[1].path: malformed path: `/spec/sources/[=x]`: the selector `[=x]` names no key",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }

    #[test]
    fn predicates_and_unless_are_checked() {
        let src = "\
name: x
description: x
target:
  files: [a.yaml]
  where:
    - path: /a
    - path: /b
      exists: true
      equals: 1
    - path: /c
      matches: \"{x\"
unless:
  - reason: done
ops:
  - op: remove
    path: /a
";
        let e = errors(src);
        assert!(e.contains("target.where[0]: a predicate needs exactly one of `equals`, `matches`, `exists`; found none"), "{e}");
        assert!(e.contains("found equals, exists"), "{e}");
        assert!(
            e.contains("target.where[2].matches: `{x`: `{` is never closed"),
            "{e}"
        );
        assert!(
            e.contains("unless[0]: an `unless` entry needs exactly one of"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_names_and_bad_yaml_are_errors() {
        let set = load_set(vec![
            (PathBuf::from("d/10-a.yaml"), GOOD.to_string()),
            (PathBuf::from("d/20-b.yaml"), GOOD.to_string()),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            set.contains(
                "d/20-b.yaml: name: patch name `pin-revision` is already used by d/10-a.yaml"
            ),
            "{set}"
        );
        let e = errors("name: x\nname: y\n");
        assert!(
            e.contains("p.yaml:2:1: duplicate key `name` (first defined at line 1)"),
            "{e}"
        );
        let e = errors("name: [x\n");
        assert!(e.starts_with("p.yaml:"), "{e}");
    }
}
