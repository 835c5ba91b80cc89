//! Reading rendered YAML back into typed models, strictly: every rendered document must be
//! exactly what its type describes.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Deserializes `value` into `T` and checks nothing was lost on the way: a field `T` does not
/// know (which serde would silently drop, as k8s-openapi types do) is reported by its path.
pub fn roundtrip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| redact(&e.to_string()))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    match first_lost(value, &back, String::new()) {
        None => Ok(typed),
        Some(path) => Err(format!("unknown field `{path}`")),
    }
}

/// The first path present in `original` that is missing (or different) in `back`.
fn first_lost(original: &Value, back: &Value, path: String) -> Option<String> {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            match b.get(k) {
                None if !v.is_null() => Some(p),
                None => None,
                Some(bv) => first_lost(v, bv, p),
            }
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_lost(x, y, format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        _ => Some(if path.is_empty() {
            "<document>".into()
        } else {
            path
        }),
    }
}

/// serde_json quotes offending values in its messages; they may be secrets.
fn redact(msg: &str) -> String {
    match (msg.find('"'), msg.rfind('"')) {
        (Some(a), Some(b)) if b > a => format!("{}<value>{}", &msg[..a], &msg[b + 1..]),
        _ => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;

    #[test]
    fn unknown_fields_of_lenient_types_are_caught() {
        let ok = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "data": {"k": "dg=="}});
        assert!(roundtrip::<Secret>(&ok).is_ok());
        let bad = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "lables": {}}});
        assert_eq!(
            roundtrip::<Secret>(&bad).unwrap_err(),
            "unknown field `metadata.lables`"
        );
    }

    #[test]
    fn bad_base64_is_an_error_without_the_value() {
        let bad = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "data": {"k": "hunter2!!"}});
        let err = roundtrip::<Secret>(&bad).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
