//! The minimal-diff editor on real files (../shared/fixtures, skipped without it): for a sample
//! of values in every document of both platform-repo trees, replace the value, remove it, or add
//! a sibling. Every edit must succeed and read back exactly (the editor verifies that itself), and
//! replacing a value may only change the lines that value spanned.

use serde_json::{Value, json};
use zt::yaml::{Node, NodeKind, parse_stream_keep_duplicates};

fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                path.push(k.clone());
                leaves(c, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                path.push(i.to_string());
                leaves(c, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn value_mut<'a>(v: &'a mut Value, p: &[String]) -> Option<&'a mut Value> {
    p.iter().try_fold(v, |cur, t| match cur {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => a.get_mut(t.parse::<usize>().ok()?),
        _ => None,
    })
}

fn node_at<'n>(n: &'n Node, p: &[String]) -> Option<&'n Node> {
    p.iter().try_fold(n, |cur, t| match &cur.kind {
        NodeKind::Map(_) => cur.get(t),
        NodeKind::Seq(items) => items.get(t.parse::<usize>().ok()?),
        NodeKind::Scalar(_) => None,
    })
}

#[test]
fn edits_on_every_real_document_read_back_and_stay_local() {
    let Some(shared) = zt_test_support::shared_dir() else {
        eprintln!("../shared not present: skipping");
        return;
    };
    let mut files: Vec<_> = walkdir::WalkDir::new(shared.join("fixtures"))
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut edits = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let Ok(stream) = parse_stream_keep_duplicates(&text) else {
            continue;
        };
        for (i, doc) in stream.docs.iter().enumerate() {
            if stream.duplicates.iter().any(|d| d.doc == i) {
                continue;
            }
            let base = doc.to_json();
            let mut all = Vec::new();
            leaves(&base, &mut Vec::new(), &mut all);
            // Every edit re-parses the whole file to verify it: sample big files lightly.
            let samples = if text.len() > 100_000 { 2 } else { 20 };
            for (n, path) in all
                .iter()
                .enumerate()
                .filter(|(n, p)| n % 11 == 0 && !p.is_empty())
                .take(samples)
            {
                for variant in 0..3 {
                    let mut v = base.clone();
                    let (last, parent) = path.split_last().unwrap();
                    match (variant, value_mut(&mut v, parent)) {
                        (0, Some(p)) => {
                            if let Some(leaf) = value_mut(p, std::slice::from_ref(last)) {
                                *leaf = json!(format!("new-{n}"));
                            }
                        }
                        (1, Some(Value::Object(m))) => {
                            m.remove(last);
                        }
                        (1, Some(Value::Array(a))) => {
                            a.remove(last.parse().unwrap());
                        }
                        (2, Some(Value::Object(m))) => {
                            m.insert("zz-added".into(), json!({"a": [1, "b"]}));
                        }
                        (2, Some(Value::Array(a))) => a.push(json!("added")),
                        _ => continue,
                    }
                    edits += 1;
                    let out = zt::yaml::edit::edit_stream(&text, &stream.docs, &[(i, &v)])
                        .unwrap_or_else(|e| {
                            panic!(
                                "{}: document {i}, {path:?}, edit {variant}: {e}",
                                f.display()
                            )
                        });
                    if variant == 0
                        && let Some(node) = node_at(doc, path)
                    {
                        // A block scalar's `|` header sits on the line before its content.
                        let block = node.as_scalar().is_some_and(|s| {
                            matches!(
                                s.style,
                                zt::yaml::ScalarStyle::Literal | zt::yaml::ScalarStyle::Folded
                            )
                        });
                        let first = node.pos.line - usize::from(block);
                        let last_line = text[..node.span.end].trim_end().matches('\n').count() + 1;
                        let diff = similar::TextDiff::from_lines(&text, &out);
                        for op in diff.ops() {
                            let old = op.old_range();
                            if op.tag() != similar::DiffTag::Equal && !old.is_empty() {
                                assert!(
                                    old.start + 1 >= first && old.end <= last_line.max(first),
                                    "{}: replacing {path:?} (lines {first}-{last_line}) changed lines {old:?}",
                                    f.display()
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(edits > 1000, "only {edits} edits: are the fixtures there?");
}
