//! Keeping secrets out of everything the tool shows: the one place that decides what is
//! redacted.
//!
//! - [`redact_yaml`]: a secret *file* (machine configs, talosconfig, rendered Secrets) for a
//!   diff: values under secret-bearing keys and every Secret's `data`/`stringData` become
//!   `<redacted>`; certificates and structure stay.
//! - [`for_display`]: a Kubernetes *object* for a dry run: a Secret's values and its
//!   last-applied annotation become `<redacted>`; other objects are shown as they are.
//! - [`Scrubber`]: removes the secret strings of the objects being applied from any text that
//!   came back from a cluster (API error messages may quote the rejected value).

use base64::Engine as _;
use serde_json::Value;

use crate::secret::REDACTED;
use crate::yaml;

/// The annotation `kubectl apply` (client-side) stores the whole object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn is_secret(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("Secret")
        && v.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// A copy of `v` that is safe to print: for a Secret, every `data` and `stringData` value (and
/// the last-applied annotation, which embeds them) becomes `<redacted>`. Keys stay visible.
pub fn for_display(v: &Value) -> Value {
    let mut out = v.clone();
    if !is_secret(v) {
        return out;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = out.get_mut(field).and_then(Value::as_object_mut) {
            for value in map.values_mut() {
                *value = Value::String(REDACTED.into());
            }
        }
    }
    if let Some(ann) = out
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
        && let Some(a) = ann.get_mut(LAST_APPLIED)
    {
        *a = Value::String(REDACTED.into());
    }
    out
}

/// Removes known secret strings from text.
#[derive(Debug, Default, Clone)]
pub struct Scrubber {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

/// Values this short are not scrubbed: replacing every `1` or `ok` in a message would make it
/// unreadable, and such values are not secrets anyone relies on.
const MIN_LEN: usize = 3;

impl Scrubber {
    /// Collects the secret values of every Secret among `objects`, in their written form and in
    /// base64 (the API shows `data` encoded) or decoded form.
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Scrubber {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut secrets = Vec::new();
        for v in objects.into_iter().filter(|v| is_secret(v)) {
            if let Some(data) = v.get("data").and_then(Value::as_object) {
                for s in data.values().filter_map(Value::as_str) {
                    secrets.push(s.to_string());
                    if let Ok(raw) = b64.decode(s)
                        && let Ok(text) = String::from_utf8(raw)
                    {
                        secrets.push(text);
                    }
                }
            }
            if let Some(data) = v.get("stringData").and_then(Value::as_object) {
                for s in data.values().filter_map(Value::as_str) {
                    secrets.push(s.to_string());
                    secrets.push(b64.encode(s));
                }
            }
        }
        secrets.retain(|s| s.len() >= MIN_LEN);
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Scrubber { secrets }
    }

    /// `text` with every known secret replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

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

fn redact_value(v: &mut Value) {
    if is_secret(v) {
        // The same rule as a dry run shows.
        *v = for_display(v);
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && !child.is_object() && !child.is_array() {
                    redact_leaves(child);
                } else {
                    redact_value(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
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

/// For diffs: the YAML text of a secret file with its secret values replaced, or `None` when the text is
/// not YAML (then nothing of it may be shown).
pub fn redact_yaml(text: &str) -> Option<String> {
    let mut docs: Vec<Value> = yaml::from_str_multi(text).ok()?;
    for d in &mut docs {
        redact_value(d);
    }
    yaml::to_string_multi(&docs).ok()
}

/// `text` with the user information of every URL in it (`https://user:token@host`) replaced
/// by `<redacted>`: for output of programs we run (git, kustomize, kind), which may quote a URL
/// from a file they read.
pub fn url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || "/?#\"'<>`".contains(c))
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str(REDACTED);
                out.push_str(&tail[userinfo_end..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "annotations": {LAST_APPLIED: "{\"stringData\":{\"password\":\"hunter2\"}}"}},
            "data": {"token": "c3VwZXJzZWNyZXQ="},
            "stringData": {"password": "hunter2", "url": "https://bot:pat@github.com"},
        })
    }

    #[test]
    fn secret_values_are_redacted_for_display_but_keys_stay() {
        let out = serde_json::to_string(&for_display(&secret())).unwrap();
        for leak in ["hunter2", "c3VwZXJzZWNyZXQ=", "bot:pat"] {
            assert!(!out.contains(leak), "{leak} leaked: {out}");
        }
        assert!(out.contains("\"password\":\"<redacted>\"") && out.contains("\"token\""));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "visible"}});
        assert_eq!(for_display(&cm), cm);
    }

    #[test]
    fn scrubber_removes_plain_encoded_and_decoded_forms() {
        let s = Scrubber::from_objects([&secret()]);
        let msg = "Secret \"s\" is invalid: data[token]: Invalid value: \"supersecret\"; stringData: aHVudGVyMg== and hunter2; keep the name s";
        let out = s.scrub(msg);
        assert!(
            !out.contains("supersecret")
                && !out.contains("hunter2")
                && !out.contains("aHVudGVyMg=="),
            "{out}"
        );
        assert!(out.contains("keep the name s"), "{out}");
    }

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

    #[test]
    fn url_credentials_are_cut_from_any_text() {
        let line = "error: fetching https://bot:ghp_SECRET@github.com/org/repo.git?ref=v1 and git@github.com:org/x, see http://host/p";
        let out = url_credentials(line);
        assert!(
            !out.contains("ghp_SECRET") && !out.contains("bot:"),
            "{out}"
        );
        assert!(
            out.contains("https://<redacted>@github.com/org/repo.git?ref=v1"),
            "{out}"
        );
        assert!(
            out.ends_with("git@github.com:org/x, see http://host/p"),
            "{out}"
        );
        assert_eq!(url_credentials("no urls here"), "no urls here");
    }
}
