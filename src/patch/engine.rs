//! Runs a patch set over a platform repo in memory: every matched document is patched and every
//! changed file re-edited and checked before the caller writes anything.

use std::path::Path;

use serde_json::Value;

use super::apply::{self, ApplyError, OpKind, Operation};
use super::glob::Glob;
use super::overlay::{Overlay, Predicate, Selector, Test, UnlessCheck};
use super::path::{ExtPath, Segment, parse_index};
use super::repo::{self, Doc, RepoFile};
use super::vars::{Templates, Vars};
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::yaml::{Node, NodeKind, edit};

pub struct Request<'a> {
    /// The platform repo checkout.
    pub root: &'a Path,
    /// Applied in this order (the set is sorted by file name when loaded).
    pub overlays: &'a [Overlay],
    pub vars: &'a Vars,
}

/// What a run would do.
#[derive(Debug)]
pub struct Plan {
    /// Files whose text changes, in path order.
    pub changes: Vec<FileChange>,
    /// One per overlay, in order.
    pub reports: Vec<PatchReport>,
    /// How many files the patches looked at.
    pub files_read: usize,
}

impl Plan {
    /// Records the patched files as a commit on `branch` (on top of `head`, the tracked work
    /// tree otherwise as it is), for a `file:///repo` source Argo CD resolves by branch. `by`
    /// names the command in the commit message.
    pub fn commit_to(
        &self,
        git: &crate::git::Repo,
        branch: &str,
        head: &str,
        by: &str,
    ) -> Result<crate::git::CommitOutcome, crate::git::GitError> {
        let files: Vec<(String, Vec<u8>)> = self
            .changes
            .iter()
            .map(|c| (c.path.clone(), c.after.clone().into_bytes()))
            .collect();
        let mut names: Vec<&str> = self
            .changes
            .iter()
            .flat_map(|c| c.patches.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        let message = format!(
            "{by}: adapt the platform for a Kind preview\n\nBase: {head}\nPatches: {}\n",
            if names.is_empty() {
                "none changed anything".to_string()
            } else {
                names.join(", ")
            }
        );
        git.commit_files(branch, &files, &message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Relative to the platform repo, `/`-separated.
    pub path: String,
    pub before: String,
    pub after: String,
    /// The patches that changed it.
    pub patches: Vec<String>,
}

impl FileChange {
    /// Lines added and removed, as `git diff --numstat` counts them.
    pub fn numstat(&self) -> (usize, usize) {
        let diff = similar::TextDiff::from_lines(&self.before, &self.after);
        let mut counts = (0, 0);
        for change in diff.iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Insert => counts.0 += 1,
                similar::ChangeTag::Delete => counts.1 += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        counts
    }

    /// A unified diff (`a/<path>` before, `b/<path>` after).
    pub fn unified_diff(&self) -> String {
        similar::TextDiff::from_lines(&self.before, &self.after)
            .unified_diff()
            .header(&format!("a/{}", self.path), &format!("b/{}", self.path))
            .to_string()
    }
}

#[derive(Debug, Clone)]
pub struct PatchReport {
    pub name: String,
    pub description: String,
    pub outcome: PatchOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    /// `when:` was false.
    Disabled { condition: String },
    /// An `unless: document:` check holds: the work is done elsewhere.
    AlreadyDone { reason: String },
    /// Applied to (or found done in) these documents.
    Matched { docs: Vec<DocOutcome> },
    /// An optional patch that matched nothing.
    NoMatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocOutcome {
    pub file: String,
    /// Where the document starts.
    pub line: usize,
    pub name: Option<String>,
    pub result: DocResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocResult {
    Changed,
    /// The operations left the document as it was (a second run).
    Unchanged,
    /// An `unless: where:` check held.
    AlreadyDone(String),
}

/// An operation with its templates rendered.
struct ReadyOp<'o> {
    kind: OpKind,
    path: &'o ExtPath,
    from: Option<&'o ExtPath>,
    value: Option<Value>,
    pos: Pos,
    text: String,
}

/// An overlay with its templates rendered: what [`Run::patch_document`] applies.
struct ReadyOverlay<'o> {
    ops: Vec<ReadyOp<'o>>,
    target_where: Vec<ReadyPredicate<'o>>,
    /// `unless: where:` checks, each with its reason.
    unless_where: Vec<(&'o str, Vec<ReadyPredicate<'o>>)>,
}

/// A predicate with its template rendered and its glob compiled.
struct ReadyPredicate<'o> {
    path: &'o [Segment],
    test: ReadyTest,
}

enum ReadyTest {
    Equals(Value),
    Matches(Glob),
    Exists(bool),
}

struct Run<'a> {
    root: &'a Path,
    vars: &'a Vars,
    templates: Templates,
    diags: Diagnostics,
}

/// Plans the run: loads the files the patches name, applies every patch in memory, re-edits and
/// verifies every changed file. Nothing is written.
pub fn plan(req: &Request<'_>) -> Result<Plan, Diagnostics> {
    let mut globs: Vec<&Glob> = Vec::new();
    for o in req.overlays {
        globs.extend(&o.target.files);
        for u in &o.unless {
            if let UnlessCheck::Document(sel) = &u.check {
                globs.extend(&sel.files);
            }
        }
    }
    let rels = repo::discover(req.root, &globs)?;
    let mut files = repo::load(req.root, &rels)?;
    let mut run = Run {
        root: req.root,
        vars: req.vars,
        templates: Templates::new(),
        diags: Diagnostics::new(),
    };
    let mut reports = Vec::new();
    for o in req.overlays {
        let outcome = run.overlay(o, &mut files);
        reports.push(PatchReport {
            name: o.name.clone(),
            description: o.description.clone(),
            outcome,
        });
    }
    let mut changes = Vec::new();
    for f in &files {
        if !f.docs.iter().any(|d| d.changed) {
            continue;
        }
        let nodes: Vec<Node> = f.docs.iter().map(|d| d.node.clone()).collect();
        let new: Vec<(usize, &Value)> = f
            .docs
            .iter()
            .enumerate()
            .filter(|(_, d)| d.changed)
            .filter_map(|(i, d)| d.current().map(|v| (i, v)))
            .collect();
        match edit::edit_stream(&f.text, &nodes, &new) {
            Ok(after) if after != f.text => changes.push(FileChange {
                path: f.rel.clone(),
                before: f.text.clone(),
                after,
                patches: f.patched_by.clone(),
            }),
            Ok(_) => {}
            Err(e) => run.diags.push(Diagnostic::new(
                repo::display_path(req.root, &f.rel),
                None,
                "",
                format!("cannot write the patched documents back: {e}"),
            )),
        }
    }
    run.diags.clone().into_result()?;
    Ok(Plan {
        changes,
        reports,
        files_read: files.len(),
    })
}

impl Run<'_> {
    fn overlay_diag(&mut self, o: &Overlay, pos: Option<Pos>, message: String) {
        self.diags
            .push(Diagnostic::new(&o.file, pos, o.name.clone(), message));
    }

    fn doc_diag(&mut self, o: &Overlay, f: &RepoFile, pos: Pos, message: String) {
        self.doc_diag_at(o, f, pos, message, None);
    }

    /// Reports document `i` of `f` when it did not load (a duplicate key) and returns true: a
    /// patch must not read or change a document whose meaning is ambiguous. `uses` says what
    /// the patch does with it (`targets`, `checks`).
    fn refuse_invalid(&mut self, o: &Overlay, f: &RepoFile, i: usize, uses: &str) -> bool {
        let Some(d) = f.duplicates.iter().find(|d| d.doc == i) else {
            return false;
        };
        let pos = d.error.pos.unwrap_or(f.docs[i].node.pos);
        let message = format!(
            "{}; the document this patch {uses} must be valid",
            d.error.message
        );
        self.doc_diag(o, f, pos, message);
        true
    }

    /// A problem in a target document; `origin` is where in the overlay the failing part is.
    fn doc_diag_at(
        &mut self,
        o: &Overlay,
        f: &RepoFile,
        pos: Pos,
        message: String,
        origin: Option<Pos>,
    ) {
        let from = match origin {
            Some(p) => format!("{}:{}:{}", o.file.display(), p.line, p.col),
            None => o.file.display().to_string(),
        };
        self.diags.push(Diagnostic::new(
            repo::display_path(self.root, &f.rel),
            Some(pos),
            format!("patch {}", o.name),
            format!("{message} [patch from {from}]"),
        ));
    }

    fn ready_predicates<'o>(
        &mut self,
        o: &Overlay,
        preds: &'o [Predicate],
    ) -> Option<Vec<ReadyPredicate<'o>>> {
        let mut out = Vec::new();
        for p in preds {
            let test = match &p.test {
                Test::Exists(b) => ReadyTest::Exists(*b),
                Test::Equals(v) => match self.templates.render_value(v, self.vars) {
                    Ok(v) => ReadyTest::Equals(v),
                    Err(e) => {
                        self.overlay_diag(o, Some(p.pos), e);
                        return None;
                    }
                },
                Test::Matches(s) => {
                    let glob = self
                        .templates
                        .render_str(s, self.vars)
                        .and_then(|r| Glob::text(&r));
                    match glob {
                        Ok(g) => ReadyTest::Matches(g),
                        Err(e) => {
                            self.overlay_diag(o, Some(p.pos), e);
                            return None;
                        }
                    }
                }
            };
            out.push(ReadyPredicate {
                path: &p.path.segments,
                test,
            });
        }
        Some(out)
    }

    /// Applies overlay `o` to every document it targets: its condition, its templates, its
    /// `unless` checks, then each document in turn.
    fn overlay(&mut self, o: &Overlay, files: &mut [RepoFile]) -> PatchOutcome {
        if let Some(disabled) = self.disabled(o) {
            return disabled;
        }
        let Some(ops) = self.ready_ops(o) else {
            return PatchOutcome::NoMatch;
        };
        let Some(target_where) = self.ready_predicates(o, &o.target.where_) else {
            return PatchOutcome::NoMatch;
        };
        let unless_where = match self.ready_unless(o, files) {
            Ok(u) => u,
            Err(outcome) => return outcome,
        };
        let ready = ReadyOverlay {
            ops,
            target_where,
            unless_where,
        };

        let mut outcomes = Vec::new();
        let (mut files_seen, mut identities) = (0usize, 0usize);
        // Documents that matched but failed are reported on their own, not as "matched nothing".
        let errors_before = self.diags.len();
        for f in files.iter_mut() {
            if !o.target.matches_file(&f.rel) {
                continue;
            }
            files_seen += 1;
            for i in 0..f.docs.len() {
                if !identity_matches(&f.docs[i], &o.target) {
                    continue;
                }
                identities += 1;
                if let Some(outcome) = self.patch_document(o, f, i, &ready) {
                    outcomes.push(outcome);
                }
            }
        }
        if !outcomes.is_empty() {
            return PatchOutcome::Matched { docs: outcomes };
        }
        if !o.optional && self.diags.len() == errors_before {
            self.report_no_match(o, files_seen, identities);
        }
        PatchOutcome::NoMatch
    }

    /// `Some(Disabled)` when the overlay's `when:` is false (a broken condition is reported and
    /// disables it too).
    fn disabled(&mut self, o: &Overlay) -> Option<PatchOutcome> {
        let cond = o.when.as_ref()?;
        match self.templates.eval(cond, self.vars) {
            Ok(true) => None,
            Ok(false) => Some(PatchOutcome::Disabled {
                condition: cond.clone(),
            }),
            Err(e) => {
                self.overlay_diag(o, None, format!("when: {e}"));
                Some(PatchOutcome::NoMatch)
            }
        }
    }

    /// The overlay's operations with their value templates rendered.
    fn ready_ops<'o>(&mut self, o: &'o Overlay) -> Option<Vec<ReadyOp<'o>>> {
        let mut ops = Vec::new();
        for (i, spec) in o.ops.iter().enumerate() {
            let value = match &spec.value {
                Some(v) => match self.templates.render_value(v, self.vars) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.overlay_diag(o, Some(spec.pos), e);
                        return None;
                    }
                },
                None => None,
            };
            ops.push(ReadyOp {
                kind: spec.kind,
                path: &spec.path,
                from: spec.from.as_ref(),
                value,
                pos: spec.pos,
                text: format!("op {} ({})", i + 1, spec.describe()),
            });
        }
        Some(ops)
    }

    /// The overlay's per-document `unless` checks, ready; `Err` with the outcome when an
    /// `unless: document:` holds (the work is done elsewhere) or a check is broken.
    fn ready_unless<'o>(
        &mut self,
        o: &'o Overlay,
        files: &mut [RepoFile],
    ) -> Result<Vec<(&'o str, Vec<ReadyPredicate<'o>>)>, PatchOutcome> {
        let mut unless_where = Vec::new();
        for u in &o.unless {
            match &u.check {
                UnlessCheck::Document(sel) => match self.any_document(o, sel, files) {
                    Some(true) => {
                        return Err(PatchOutcome::AlreadyDone {
                            reason: u.reason.clone(),
                        });
                    }
                    Some(false) => {}
                    None => return Err(PatchOutcome::NoMatch),
                },
                UnlessCheck::Where(preds) => match self.ready_predicates(o, preds) {
                    Some(p) => unless_where.push((u.reason.as_str(), p)),
                    None => return Err(PatchOutcome::NoMatch),
                },
            }
        }
        Ok(unless_where)
    }

    /// Patches document `i` of `f`, whose identity matched: `None` when its predicates do not
    /// hold or it failed (the failure is reported).
    fn patch_document(
        &mut self,
        o: &Overlay,
        f: &mut RepoFile,
        i: usize,
        ready: &ReadyOverlay<'_>,
    ) -> Option<DocOutcome> {
        if self.refuse_invalid(o, f, i, "targets") {
            return None;
        }
        let doc_pos = f.docs[i].node.pos;
        let value = f.docs[i].value().clone();
        let name = f.docs[i].field(&["metadata", "name"]);
        let outcome = |result| DocOutcome {
            file: f.rel.clone(),
            line: doc_pos.line,
            name: name.clone(),
            result,
        };
        for (reason, preds) in &ready.unless_where {
            match all_hold(preds, &value) {
                Ok(true) => return Some(outcome(DocResult::AlreadyDone(reason.to_string()))),
                Ok(false) => {}
                Err(e) => {
                    self.doc_diag(o, f, doc_pos, format!("unless: {e}"));
                    return Some(outcome(DocResult::AlreadyDone(String::new())));
                }
            }
        }
        match all_hold(&ready.target_where, &value) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                self.doc_diag(o, f, doc_pos, format!("where: {e}"));
                return None;
            }
        }
        let mut patched = value.clone();
        for op in &ready.ops {
            let result = apply::apply(
                &mut patched,
                &Operation {
                    kind: op.kind,
                    path: &op.path.segments,
                    from: op.from.map(|p| p.segments.as_slice()),
                    value: op.value.as_ref(),
                },
            );
            if let Err(e) = result {
                let pos = locate(&f.docs[i].node, &op.path.segments);
                let msg = format!("{}: {e}", op.text);
                self.doc_diag_at(o, f, pos, msg, Some(op.pos));
                return None;
            }
        }
        let result = if patched != value {
            f.docs[i].set(patched);
            if f.patched_by.last() != Some(&o.name) {
                f.patched_by.push(o.name.clone());
            }
            DocResult::Changed
        } else {
            DocResult::Unchanged
        };
        Some(outcome(result))
    }

    /// Why a required overlay matched nothing, from how far its target got.
    fn report_no_match(&mut self, o: &Overlay, files_seen: usize, identities: usize) {
        let why = match (files_seen, identities) {
            (0, _) => "no file matches the file patterns".to_string(),
            (n, 0) => {
                format!("{n} file(s) match the file patterns, but no document has that identity")
            }
            (n, m) => {
                format!("{n} file(s) and {m} document(s) match, but none where the predicates hold")
            }
        };
        self.overlay_diag(
            o,
            Some(o.target.pos),
            format!(
                "matched no document ({why}); target: {}. Mark the patch `optional: true` if that is expected",
                o.target.describe()
            ),
        );
    }

    /// Whether any document of the repo matches `sel` (for `unless: document:`); `None` after
    /// reporting a problem.
    fn any_document(
        &mut self,
        o: &Overlay,
        sel: &Selector,
        files: &mut [RepoFile],
    ) -> Option<bool> {
        let preds = self.ready_predicates(o, &sel.where_)?;
        for f in files.iter_mut() {
            if !sel.matches_file(&f.rel) {
                continue;
            }
            for i in 0..f.docs.len() {
                if !identity_matches(&f.docs[i], sel) {
                    continue;
                }
                if self.refuse_invalid(o, f, i, "checks") {
                    return None;
                }
                let pos = f.docs[i].node.pos;
                match all_hold(&preds, f.docs[i].value()) {
                    Ok(true) => return Some(true),
                    Ok(false) => {}
                    Err(e) => {
                        self.doc_diag(o, f, pos, format!("unless: {e}"));
                        return None;
                    }
                }
            }
        }
        Some(false)
    }
}

fn identity_matches(doc: &Doc, sel: &Selector) -> bool {
    // Empty documents and bare scalars have no identity; a selector with none matches mappings.
    if doc.current().is_none() && !matches!(doc.node.kind, NodeKind::Map(_)) {
        return false;
    }
    let (api, kind, name) = doc.identity();
    sel.matches_identity(api.as_deref(), kind.as_deref(), name.as_deref())
}

fn all_hold(preds: &[ReadyPredicate<'_>], doc: &Value) -> Result<bool, ApplyError> {
    for p in preds {
        let values = apply::values_at(doc, p.path)?;
        let ok = match &p.test {
            ReadyTest::Exists(want) => values.is_empty() != *want,
            ReadyTest::Equals(v) => values.iter().any(|x| x == v),
            ReadyTest::Matches(g) => values
                .iter()
                .filter_map(apply::scalar_text)
                .any(|t| g.is_match(&t)),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The position of the deepest node `segs` reaches in the parsed document (best effort).
fn locate(node: &Node, segs: &[Segment]) -> Pos {
    let mut cur = node;
    for seg in segs {
        let next = match (&cur.kind, seg) {
            (NodeKind::Map(_), Segment::Key(k)) => cur.get(k),
            (NodeKind::Seq(items), Segment::Key(k)) => parse_index(k).and_then(|i| items.get(i)),
            (NodeKind::Seq(items), Segment::Select { key, pattern }) => items.iter().find(|item| {
                key.iter()
                    .try_fold(*item, |n, k| n.get(k))
                    .and_then(|n| n.as_scalar())
                    .is_some_and(|s| pattern.is_match(&s.text))
            }),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    cur.pos
}
