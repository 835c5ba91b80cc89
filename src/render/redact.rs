//! Making secret files safe to show: every value under a secret-bearing key becomes
//! `<redacted>`, so diffs and dry runs can show structure without showing secrets.

use serde_json::Value;

use crate::secret::REDACTED;
use crate::yaml;

/// Keys whose values are secret wherever they appear in a secret file.
const SECRET_KEYS: &[&str] = &[
    "key",
    "token",
    "secret",
    "secretboxEncryptionSecret",
    "password",
    "bootstraptoken",
    "secretboxencryptionsecret",
];

fn redact_value(v: &mut Value, in_secret_data: bool) {
    match v {
        Value::Object(map) => {
            let is_k8s_secret = map.get("kind").and_then(Value::as_str) == Some("Secret");
            for (k, child) in map.iter_mut() {
                let data = is_k8s_secret && (k == "data" || k == "stringData");
                if in_secret_data
                    || (SECRET_KEYS.contains(&k.as_str())
                        && !child.is_object()
                        && !child.is_array())
                {
                    redact_leaves(child);
                } else {
                    redact_value(child, data);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| redact_value(i, in_secret_data)),
        _ if in_secret_data => *v = Value::String(REDACTED.into()),
        _ => {}
    }
}

fn redact_leaves(v: &mut Value) {
    match v {
        Value::Object(map) => map.values_mut().for_each(redact_leaves),
        Value::Array(items) => items.iter_mut().for_each(redact_leaves),
        Value::String(s) if s.is_empty() => {}
        _ => *v = Value::String(REDACTED.into()),
    }
}

/// The YAML text of a secret file with its secret values replaced, or `None` when the text is
/// not YAML (then nothing of it may be shown).
pub fn redact_yaml(text: &str) -> Option<String> {
    let mut docs: Vec<Value> = yaml::from_str_multi(text).ok()?;
    for d in &mut docs {
        redact_value(d, false);
    }
    yaml::to_string_multi(&docs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys_tokens_and_secret_data_but_not_certificates() {
        let text = "machine:\n  token: abc.def\n  ca:\n    crt: PUBLIC\n    key: PRIVATE\n---\napiVersion: v1\nkind: Secret\nstringData:\n  url: https://x\n  username: bot\n";
        let out = redact_yaml(text).unwrap();
        for s in ["abc.def", "PRIVATE", "https://x", "bot"] {
            assert!(!out.contains(s), "{s} leaked: {out}");
        }
        assert!(out.contains("PUBLIC"));
        assert!(out.contains("<redacted>"));
    }

    #[test]
    fn empty_worker_keys_stay_visible_as_empty() {
        let out = redact_yaml("ca:\n  key: \"\"\n").unwrap();
        assert!(out.contains("key: \"\""), "{out}");
    }

    #[test]
    fn non_yaml_is_not_shown() {
        assert!(redact_yaml("a: [\n").is_none());
    }
}
