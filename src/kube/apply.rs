//! Server-side apply of dynamic objects, and reading objects back.

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;

use super::Resolved;

/// The field manager every apply uses, so ownership is visible in `managedFields`.
pub const FIELD_MANAGER: &str = "kubectl-zt";

/// How to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Take over fields another manager owns (`--force-conflicts`).
    pub force: bool,
    /// Ask the server to validate and return the result without storing it (`dryRun=All`).
    pub dry_run: bool,
}

fn api(client: &kube::Client, r: &Resolved, namespace: Option<&str>) -> Api<DynamicObject> {
    match (r.namespaced, namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &r.resource),
        (true, None) => Api::default_namespaced_with(client.clone(), &r.resource),
        (false, _) => Api::all_with(client.clone(), &r.resource),
    }
}

/// Server-side applies `object` (which carries apiVersion, kind and metadata.name) and returns
/// what the server stored (or would store, on a dry run).
pub async fn apply(
    client: &kube::Client,
    r: &Resolved,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
    opts: ApplyOptions,
) -> Result<Value, kube::Error> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if opts.force {
        params = params.force();
    }
    if opts.dry_run {
        params = params.dry_run();
    }
    let mut object = object.clone();
    // A cluster-scoped object must not carry a namespace; the server would reject it.
    if !r.namespaced
        && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.remove("namespace");
    }
    let stored = api(client, r, namespace)
        .patch(name, &params, &Patch::Apply(&object))
        .await?;
    serde_json::to_value(stored).map_err(kube::Error::SerdeError)
}

/// The object, or `None` when it does not exist.
pub async fn get(
    client: &kube::Client,
    r: &Resolved,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, kube::Error> {
    let found = api(client, r, namespace).get_opt(name).await?;
    found
        .map(serde_json::to_value)
        .transpose()
        .map_err(kube::Error::SerdeError)
}

/// Objects matching `selector` (`a=b,c=d`).
pub async fn list(
    client: &kube::Client,
    r: &Resolved,
    namespace: Option<&str>,
    selector: &str,
) -> Result<Vec<Value>, kube::Error> {
    let list = api(client, r, namespace)
        .list(&ListParams::default().labels(selector))
        .await?;
    list.items
        .into_iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(kube::Error::SerdeError)
}
