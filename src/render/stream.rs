//! `-o yaml`: the Kubernetes objects of a render as one multi-document stream, in apply order,
//! for `kubectl zt render ... -o yaml | kubectl apply -f -`.
//!
//! Order: Namespaces (synthesised for every namespace the stream's objects live in), Secrets
//! (only when asked for), ExternalSecrets, the root Application, then tenant Applications.
//! Talos configs and the Kind config are not Kubernetes objects and are left out.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{OutputTree, RenderError};

/// Builds the stream. `include_secrets` adds the rendered Secrets (with their real values: the
/// stream is meant for a pipe into kubectl, never for a log).
pub fn apply_stream(tree: &OutputTree, include_secrets: bool) -> Result<String, RenderError> {
    let mut secrets = Vec::new();
    let mut external = Vec::new();
    let mut root = Vec::new();
    let mut apps = Vec::new();
    for (path, file) in tree.iter() {
        let top = path
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        match top.as_deref() {
            Some("secrets") if include_secrets => {}
            Some("argocd") => {}
            _ => continue,
        }
        let text = String::from_utf8_lossy(&file.bytes);
        let docs: Vec<Value> =
            crate::yaml::from_str_multi(&text).map_err(|e| RenderError::Output {
                template: "<stream>".into(),
                output: path.clone(),
                pos: e.pos,
                message: e.message,
            })?;
        for d in docs {
            match d.get("kind").and_then(Value::as_str) {
                Some("Secret") => secrets.push(d),
                Some("ExternalSecret") => external.push(d),
                Some("Application") if path.as_os_str() == "argocd/root.yaml" => root.push(d),
                _ => apps.push(d),
            }
        }
    }
    let groups = [secrets, external, root, apps];
    let namespaces: BTreeSet<String> = groups
        .iter()
        .flatten()
        .filter_map(|d| d.pointer("/metadata/namespace").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let mut docs: Vec<Value> = namespaces
        .into_iter()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect();
    docs.extend(groups.into_iter().flatten());
    crate::yaml::to_string_multi(&docs).map_err(|e| RenderError::Emit(e.message))
}
