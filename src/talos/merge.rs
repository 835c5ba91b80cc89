//! Talos's strategic merge, on the JSON form of a v1alpha1 document: what `talosctl
//! --config-patch` does with a patch that is a mapping, so a patch written for talosctl means
//! the same here.
//!
//! Talos merges into its Go types, so the rules follow the types (machinery's `config/merge`):
//! - mappings merge key by key;
//! - lists are appended to, except `cluster.network.podSubnets`/`serviceSubnets` and
//!   `cluster.apiServer.auditPolicy`, which a patch replaces, and
//!   `cluster.apiServer.admissionControl`, merged by plugin `name`;
//! - a scalar replaces, except that an empty string, a `0` or a `null` leaves the value as it
//!   was (Go cannot tell them from "not set"); `false` does replace;
//! - `$patch: delete` in a mapping removes that key from the document; in a list item
//!   (`- {$patch: delete, name: foo}`) it removes the first item whose `name` is `foo`.
//!   Deletes apply before the rest of the patch merges. A delete that finds nothing is an
//!   error (Talos says "lookup failed"), as is one under a list (`a: [{b: {$patch: delete}}]`).
//!
//! Types are checked after the merge, by reading the result back into [`super::config`]'s
//! strict types; here a mapping merged onto a list (or the like) is an error naming the path.

use serde_json::{Map, Value};

/// Why a patch could not be merged; never quotes a value (patches may carry secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at `{path}`: {message}")]
pub struct MergeError {
    /// Dotted path in the document (`machine.kubelet`), `.` for the root.
    pub path: String,
    pub message: String,
}

/// Lists a patch replaces instead of appending to (`merge:"replace"` in Talos's types).
const REPLACED: &[&[&str]] = &[
    &["cluster", "network", "podSubnets"],
    &["cluster", "network", "serviceSubnets"],
    &["cluster", "apiServer", "auditPolicy"],
];

/// Lists merged item by item, matched on a key (Talos's `Merge` methods on those lists).
const KEYED: &[(&[&str], &str)] = &[(&["cluster", "apiServer", "admissionControl"], "name")];

const PATCH_KEY: &str = "$patch";
const DELETE: &str = "delete";

/// Merges `patch` (a mapping) into `doc` as `talosctl` would.
pub fn strategic_merge(doc: &mut Value, patch: &Value) -> Result<(), MergeError> {
    let mut patch = patch.clone();
    let mut deletes = Vec::new();
    collect_deletes(&mut patch, &mut Vec::new(), false, &mut deletes)?;
    for d in &deletes {
        apply_delete(doc, d)?;
    }
    merge(doc, &patch, &mut Vec::new())
}

/// A `$patch: delete` found in a patch: the path to a key, or to a list and the item's key and
/// value.
#[derive(Debug)]
struct Delete {
    path: Vec<String>,
    item: Option<(String, String)>,
}

fn shown(path: &[String]) -> String {
    if path.is_empty() {
        ".".to_owned()
    } else {
        path.join(".")
    }
}

fn error(path: &[String], message: impl Into<String>) -> MergeError {
    MergeError {
        path: shown(path),
        message: message.into(),
    }
}

/// Takes every `$patch: delete` out of `v` (dropping the mappings and lists that leaves empty,
/// as Talos does) and records it. Returns whether `v` itself is to be dropped.
fn collect_deletes(
    v: &mut Value,
    path: &mut Vec<String>,
    in_list: bool,
    out: &mut Vec<Delete>,
) -> Result<bool, MergeError> {
    match v {
        Value::Object(map) => {
            if let Some(marker) = map.get(PATCH_KEY) {
                if marker.as_str() != Some(DELETE) {
                    return Err(error(path, "`$patch` takes only `delete`"));
                }
                if in_list {
                    // The item to remove is named by its first other key.
                    let Some((key, value)) = map.iter().find(|(k, _)| *k != PATCH_KEY) else {
                        return Err(error(
                            path,
                            "a list item with `$patch: delete` needs a key naming the item, \
                             like `name: foo`",
                        ));
                    };
                    let Some(value) = scalar_text(value) else {
                        return Err(error(path, "the item to delete is named by a scalar value"));
                    };
                    let list = path[..path.len() - 1].to_vec();
                    out.push(Delete {
                        path: list,
                        item: Some((key.clone(), value)),
                    });
                } else {
                    if path.is_empty() {
                        return Err(error(path, "the machine config itself cannot be deleted"));
                    }
                    if path.iter().any(|p| p.starts_with('[')) {
                        return Err(error(
                            path,
                            "a key inside a list item cannot be deleted (delete the item)",
                        ));
                    }
                    out.push(Delete {
                        path: path.clone(),
                        item: None,
                    });
                }
                return Ok(true);
            }
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                path.push(k.clone());
                let drop = match map.get_mut(&k) {
                    Some(child) => collect_deletes(child, path, false, out)?,
                    None => false,
                };
                path.pop();
                if drop {
                    map.remove(&k);
                    if map.is_empty() {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        }
        Value::Array(items) => {
            let mut kept = Vec::with_capacity(items.len());
            let mut dropped = false;
            for (i, mut item) in std::mem::take(items).into_iter().enumerate() {
                path.push(format!("[{i}]"));
                let drop = collect_deletes(&mut item, path, true, out)?;
                path.pop();
                if drop {
                    dropped = true;
                } else {
                    kept.push(item);
                }
            }
            *items = kept;
            Ok(dropped && items.is_empty())
        }
        _ => Ok(false),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn apply_delete(doc: &mut Value, d: &Delete) -> Result<(), MergeError> {
    let (parent_path, last) = match &d.item {
        Some(_) => (&d.path[..], None),
        None => (&d.path[..d.path.len() - 1], d.path.last()),
    };
    let mut at = doc;
    for key in parent_path {
        at = at
            .get_mut(key)
            .ok_or_else(|| error(&d.path, "nothing here to delete"))?;
    }
    match (last, &d.item) {
        (Some(key), _) => match at.as_object_mut().and_then(|m| m.remove(key)) {
            Some(_) => Ok(()),
            None => Err(error(&d.path, "nothing here to delete")),
        },
        (None, Some((key, value))) => {
            let items = at.as_array_mut().ok_or_else(|| {
                error(&d.path, "`$patch: delete` in a list item, but no list here")
            })?;
            let found = items
                .iter()
                .position(|item| item.get(key).and_then(Value::as_str) == Some(value.as_str()));
            match found {
                Some(i) => {
                    items.remove(i);
                    Ok(())
                }
                None => Err(error(
                    &d.path,
                    format!("no item whose `{key}` is the one named to delete"),
                )),
            }
        }
        (None, None) => Ok(()),
    }
}

/// Go's zero values: what a patch cannot set, because Talos reads them as "not set".
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn is_at(path: &[String], table: &[&str]) -> bool {
    path.len() == table.len() && path.iter().zip(table).all(|(a, b)| a == b)
}

fn merge(left: &mut Value, right: &Value, path: &mut Vec<String>) -> Result<(), MergeError> {
    if is_zero(right) {
        return Ok(());
    }
    if left.is_null() {
        *left = right.clone();
        return Ok(());
    }
    if REPLACED.iter().any(|p| is_at(path, p)) {
        *left = right.clone();
        return Ok(());
    }
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => merge_maps(l, r, path),
        (Value::Array(l), Value::Array(r)) => {
            match KEYED.iter().find(|(p, _)| is_at(path, p)) {
                Some((_, key)) => merge_keyed(l, r, key, path)?,
                None => l.extend(r.iter().cloned()),
            }
            Ok(())
        }
        (l @ (Value::String(_) | Value::Number(_) | Value::Bool(_)), r)
            if !r.is_object() && !r.is_array() =>
        {
            *l = r.clone();
            Ok(())
        }
        (l, r) => Err(error(
            path,
            format!("the patch has {} where the config has {}", kind(r), kind(l)),
        )),
    }
}

fn merge_maps(
    l: &mut Map<String, Value>,
    r: &Map<String, Value>,
    path: &mut Vec<String>,
) -> Result<(), MergeError> {
    for (k, rv) in r {
        path.push(k.clone());
        match l.get_mut(k) {
            Some(lv) => merge(lv, rv, path)?,
            None if rv.is_null() => {}
            None => {
                l.insert(k.clone(), rv.clone());
            }
        }
        path.pop();
    }
    Ok(())
}

fn merge_keyed(
    l: &mut Vec<Value>,
    r: &[Value],
    key: &str,
    path: &mut Vec<String>,
) -> Result<(), MergeError> {
    for item in r {
        let name = item.get(key);
        match l
            .iter_mut()
            .position(|x| name.is_some() && x.get(key) == name)
        {
            Some(i) => {
                path.push(format!("[{i}]"));
                merge(&mut l[i], item, path)?;
                path.pop();
            }
            None => l.push(item.clone()),
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(doc: Value, patch: Value) -> Result<Value, MergeError> {
        let mut doc = doc;
        strategic_merge(&mut doc, &patch)?;
        Ok(doc)
    }

    #[test]
    fn mappings_merge_and_lists_append() {
        let out = merged(
            json!({"machine": {"certSANs": ["a"], "nodeLabels": {"x": "1"}}}),
            json!({"machine": {"certSANs": ["b"], "nodeLabels": {"y": "2"}}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"machine": {"certSANs": ["a", "b"], "nodeLabels": {"x": "1", "y": "2"}}})
        );
    }

    #[test]
    fn subnets_and_audit_policy_are_replaced() {
        let out = merged(
            json!({"cluster": {"network": {"podSubnets": ["10.244.0.0/16"], "serviceSubnets": ["10.96.0.0/12"]},
                   "apiServer": {"auditPolicy": {"rules": [{"level": "Metadata"}]}}}}),
            json!({"cluster": {"network": {"podSubnets": ["10.0.0.0/16"]},
                   "apiServer": {"auditPolicy": {"rules": [{"level": "None"}]}}}}),
        )
        .unwrap();
        assert_eq!(
            out["cluster"]["network"]["podSubnets"],
            json!(["10.0.0.0/16"])
        );
        assert_eq!(
            out["cluster"]["network"]["serviceSubnets"],
            json!(["10.96.0.0/12"])
        );
        assert_eq!(
            out["cluster"]["apiServer"]["auditPolicy"],
            json!({"rules": [{"level": "None"}]})
        );
    }

    #[test]
    fn admission_plugins_merge_by_name() {
        let out = merged(
            json!({"cluster": {"apiServer": {"admissionControl": [
                {"name": "PodSecurity", "configuration": {"defaults": {"enforce": "baseline"}, "exemptions": {}}}]}}}),
            json!({"cluster": {"apiServer": {"admissionControl": [
                {"name": "PodSecurity", "configuration": {"defaults": {"enforce": "restricted"}}},
                {"name": "Other", "configuration": {}}]}}}),
        )
        .unwrap();
        assert_eq!(
            out["cluster"]["apiServer"]["admissionControl"],
            json!([
                {"name": "PodSecurity", "configuration": {"defaults": {"enforce": "restricted"}, "exemptions": {}}},
                {"name": "Other", "configuration": {}}
            ])
        );
    }

    #[test]
    fn zero_values_leave_the_config_alone_but_false_sets() {
        let out = merged(
            json!({"a": {"s": "x", "n": 5, "b": true}}),
            json!({"a": {"s": "", "n": 0, "b": false, "z": null}}),
        )
        .unwrap();
        assert_eq!(out, json!({"a": {"s": "x", "n": 5, "b": false}}));
    }

    #[test]
    fn deletes_remove_keys_and_list_items_before_the_merge() {
        let out = merged(
            json!({"machine": {"nodeLabels": {"x": "1", "y": "2"}, "sysctls": {"a": "1"}},
                   "cluster": {"apiServer": {"admissionControl": [{"name": "A"}, {"name": "B"}]}}}),
            json!({"machine": {"nodeLabels": {"x": {"$patch": "delete"}},
                               "sysctls": {"$patch": "delete"}},
                   "cluster": {"apiServer": {"admissionControl": [{"$patch": "delete", "name": "A"}]}}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"machine": {"nodeLabels": {"y": "2"}},
                   "cluster": {"apiServer": {"admissionControl": [{"name": "B"}]}}})
        );
    }

    #[test]
    fn a_delete_that_finds_nothing_is_an_error_with_its_path() {
        let e = merged(
            json!({"machine": {"nodeLabels": {}}}),
            json!({"machine": {"nodeLabels": {"gone": {"$patch": "delete"}}}}),
        )
        .unwrap_err();
        assert_eq!(e.path, "machine.nodeLabels.gone");
        let e = merged(
            json!({"l": [{"name": "a"}]}),
            json!({"l": [{"$patch": "delete", "name": "b"}]}),
        )
        .unwrap_err();
        assert_eq!(e.path, "l");
        let e = merged(json!({"a": 1}), json!({"$patch": "delete"})).unwrap_err();
        assert_eq!(e.path, ".");
        let e = merged(json!({"a": 1}), json!({"a": {"$patch": "remove"}})).unwrap_err();
        assert!(e.message.contains("only `delete`"), "{e}");
    }

    #[test]
    fn a_shape_mismatch_names_the_path_and_never_the_value() {
        let e = merged(
            json!({"machine": {"certSANs": ["secret-ish"]}}),
            json!({"machine": {"certSANs": {"k": "v"}}}),
        )
        .unwrap_err();
        assert_eq!(e.path, "machine.certSANs");
        assert!(
            e.message.contains("a mapping where the config has a list"),
            "{e}"
        );
        assert!(!e.to_string().contains("secret-ish"));
    }
}
