//! Applying objects in waves, the one way both `deploy` and `bootstrap` change a cluster.
//!
//! [`apply_wave`] sends one wave with server-side apply, as a dry run of the whole wave first;
//! [`resolve_kinds`] checks beforehand that the cluster serves every kind. [`apply_manifests`]
//! orders arbitrary manifests (an Argo CD install, Secrets, Applications) the way a cluster can
//! accept them: CustomResourceDefinitions first, waited for until the API serves them; then
//! Namespaces; then everything else. `deploy` orders its own waves (namespace, config, claims).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use super::wait::{self, Check, WaitError, crd_established};
use super::{ApplyOptions, Cluster, KubeError, Resolved, api_error, apply, resolve};

/// How long to wait for applied CRDs to become established (watched, not polled).
#[derive(Debug, Clone, Copy)]
pub struct ManifestTiming {
    pub crd_timeout: Duration,
}

impl Default for ManifestTiming {
    fn default() -> Self {
        ManifestTiming {
            crd_timeout: Duration::from_secs(60),
        }
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// `Kind namespace/name` (or `Kind name` for a cluster-scoped object), for messages: the one
/// way every applied object is named.
pub fn describe(doc: &Value) -> String {
    let ns = s(doc, "/metadata/namespace");
    if ns.is_empty() {
        format!("{} {}", s(doc, "/kind"), s(doc, "/metadata/name"))
    } else {
        format!("{} {ns}/{}", s(doc, "/kind"), s(doc, "/metadata/name"))
    }
}

fn is_crd(doc: &Value) -> bool {
    s(doc, "/kind") == "CustomResourceDefinition"
        && s(doc, "/apiVersion").starts_with("apiextensions.k8s.io/")
}

fn is_namespace(doc: &Value) -> bool {
    s(doc, "/kind") == "Namespace" && s(doc, "/apiVersion") == "v1"
}

/// The kinds of a set of objects, resolved through discovery: `(apiVersion, kind)` → resource.
pub type Kinds = BTreeMap<(String, String), Resolved>;

/// Resolves the kinds of `docs`; every kind the cluster does not serve is reported at once.
pub async fn resolve_kinds(cluster: &Cluster, docs: &[&Value]) -> Result<Kinds, KubeError> {
    let kinds: Vec<(String, String, String)> = docs
        .iter()
        .map(|d| {
            (
                s(d, "/apiVersion").to_string(),
                s(d, "/kind").to_string(),
                describe(d),
            )
        })
        .collect();
    resolve(cluster, &kinds).await
}

/// Sends one wave: every object as a server-side dry run first, then for real (a run that is
/// itself a dry run sends one pass), so an object the server refuses (a schema error, a
/// conflict) leaves the rest of the wave unchanged. Each object applied is pushed to `applied`
/// and told to `on_applied`, so a caller can say what went in before a failure.
pub async fn apply_wave(
    cluster: &Cluster,
    kinds: &Kinds,
    docs: &[&Value],
    opts: ApplyOptions,
    applied: &mut Vec<String>,
    on_applied: &(dyn Fn(&str) + Sync),
) -> Result<(), KubeError> {
    let passes: &[bool] = if opts.dry_run {
        &[true]
    } else {
        &[true, false]
    };
    for &dry_run in passes {
        for d in docs {
            let key = (s(d, "/apiVersion").to_string(), s(d, "/kind").to_string());
            let Some(r) = kinds.get(&key) else {
                // The caller resolved every kind of the wave; report rather than panic.
                return Err(KubeError::MissingKinds {
                    kinds: vec![format!("{} {}", key.0, key.1)],
                });
            };
            let name = s(d, "/metadata/name");
            let ns = Some(s(d, "/metadata/namespace")).filter(|n| !n.is_empty());
            let what = describe(d);
            apply::apply(
                &cluster.client,
                r,
                ns,
                name,
                d,
                ApplyOptions { dry_run, ..opts },
            )
            .await
            .map_err(|e| api_error(cluster, &what, e))?;
            if dry_run == opts.dry_run {
                on_applied(&what);
                applied.push(what);
            }
        }
    }
    Ok(())
}

/// Applies `docs` server-side. Documents without `kind` or `metadata.name` are refused before
/// anything is sent. Returns what was applied, in order.
pub async fn apply_manifests(
    cluster: &Cluster,
    docs: &[Value],
    opts: ApplyOptions,
    timing: ManifestTiming,
    on_applied: &(dyn Fn(&str) + Sync),
) -> Result<Vec<String>, KubeError> {
    if let Some(bad) = docs.iter().find(|d| {
        s(d, "/kind").is_empty()
            || s(d, "/apiVersion").is_empty()
            || s(d, "/metadata/name").is_empty()
    }) {
        return Err(KubeError::Api {
            object: describe(bad),
            code: 0,
            message: "a manifest needs apiVersion, kind and metadata.name".into(),
        });
    }
    let crds: Vec<&Value> = docs.iter().filter(|d| is_crd(d)).collect();
    let namespaces: Vec<&Value> = docs.iter().filter(|d| is_namespace(d)).collect();
    let rest: Vec<&Value> = docs
        .iter()
        .filter(|d| !is_crd(d) && !is_namespace(d))
        .collect();

    let mut applied = Vec::new();
    if !crds.is_empty() {
        let kinds = resolve_kinds(cluster, &crds).await?;
        apply_wave(cluster, &kinds, &crds, opts, &mut applied, on_applied).await?;
        if !opts.dry_run {
            wait_established(cluster, &crds, timing).await?;
        }
    }
    // With the CRDs served, every other kind resolves; one missing is reported before any of
    // them is sent.
    let others: Vec<&Value> = namespaces.iter().chain(&rest).copied().collect();
    let kinds = resolve_kinds(cluster, &others).await?;
    apply_wave(cluster, &kinds, &namespaces, opts, &mut applied, on_applied).await?;
    apply_wave(cluster, &kinds, &rest, opts, &mut applied, on_applied).await?;
    Ok(applied)
}

async fn wait_established(
    cluster: &Cluster,
    crds: &[&Value],
    timing: ManifestTiming,
) -> Result<(), KubeError> {
    let deadline = Instant::now() + timing.crd_timeout;
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(cluster.client.clone());
    for crd in crds {
        let name = s(crd, "/metadata/name");
        // A client error ends the wait with that error; the watch's own hiccups are retried.
        let mut fatal: Option<KubeError> = None;
        let waited = wait::until(
            deadline.saturating_duration_since(Instant::now()),
            wait::object(api.clone(), name, wait::Backoff::default()),
            |c: &Option<CustomResourceDefinition>| match c {
                Some(c) => crd_established(c),
                None => Check::Pending("not found".into()),
            },
            |e| match wait::client_error(e) {
                Ok(e) => {
                    let why = e.to_string();
                    fatal = Some(api_error(cluster, &describe(crd), e));
                    Check::Failed(why)
                }
                Err(e) => Check::Pending(e.to_string()),
            },
            |_| {},
        )
        .await;
        match waited {
            Ok(()) => {}
            Err(WaitError::Failed(why)) => {
                return Err(fatal.unwrap_or_else(|| KubeError::Api {
                    object: describe(crd),
                    code: 0,
                    message: why,
                }));
            }
            Err(WaitError::TimedOut { last }) => {
                return Err(KubeError::Api {
                    object: describe(crd),
                    code: 0,
                    message: format!(
                        "not established after {}s: {last}",
                        timing.crd_timeout.as_secs()
                    ),
                });
            }
        }
    }
    Ok(())
}
