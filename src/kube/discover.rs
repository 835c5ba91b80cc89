//! Which resources the cluster serves, asked once per group-version (`/api/v1`,
//! `/apis/<group>/<version>`), so a missing CRD is known before anything is applied.

use std::collections::{BTreeMap, BTreeSet};

use kube::discovery::ApiResource;

use super::{Cluster, KubeError, api_error, is_connection_error};

/// A kind the cluster serves: how to address it, and whether it lives in a namespace.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Resolves every `(apiVersion, kind)`. All kinds the cluster lacks are reported together;
/// `origin` names where each kind was asked for (a file position) in that report.
pub async fn resolve(
    cluster: &Cluster,
    kinds: &[(String, String, String)],
) -> Result<BTreeMap<(String, String), Resolved>, KubeError> {
    let versions: BTreeSet<&str> = kinds.iter().map(|(av, _, _)| av.as_str()).collect();
    let mut served: BTreeMap<
        &str,
        Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList>,
    > = BTreeMap::new();
    for av in versions {
        let list = if av.contains('/') {
            cluster.client.list_api_group_resources(av).await
        } else {
            cluster.client.list_core_api_resources(av).await
        };
        match list {
            Ok(l) => {
                served.insert(av, Some(l));
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                served.insert(av, None);
            }
            Err(e) if is_connection_error(&e) => return Err(api_error(cluster, av, e)),
            Err(e) => return Err(api_error(cluster, &format!("discovery of {av}"), e)),
        }
    }
    let mut out = BTreeMap::new();
    // (apiVersion kind) → where it was first asked for, and how many more times.
    let mut missing: Vec<(String, String, usize)> = Vec::new();
    for (av, kind, origin) in kinds {
        if out.contains_key(&(av.clone(), kind.clone())) {
            continue;
        }
        let found = served
            .get(av.as_str())
            .and_then(Option::as_ref)
            .and_then(|l| {
                l.resources
                    .iter()
                    .find(|r| &r.kind == kind && !r.name.contains('/'))
            });
        match found {
            Some(r) => {
                let (group, version) = match av.split_once('/') {
                    Some((g, v)) => (g.to_string(), v.to_string()),
                    None => (String::new(), av.clone()),
                };
                out.insert(
                    (av.clone(), kind.clone()),
                    Resolved {
                        resource: ApiResource {
                            group,
                            version,
                            api_version: av.clone(),
                            kind: kind.clone(),
                            plural: r.name.clone(),
                        },
                        namespaced: r.namespaced,
                    },
                );
            }
            None => {
                let what = format!("{av} {kind}");
                match missing.iter_mut().find(|(w, _, _)| w == &what) {
                    Some((_, _, more)) => *more += 1,
                    None => missing.push((what, origin.clone(), 0)),
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(KubeError::MissingKinds {
            kinds: missing
                .into_iter()
                .map(|(what, origin, more)| match more {
                    0 => format!("{what} ({origin})"),
                    n => format!("{what} ({origin} and {n} more)"),
                })
                .collect(),
        })
    }
}
