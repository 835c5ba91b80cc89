//! Talking to a Kubernetes cluster the way kubectl does: which cluster ([`connect`]), which
//! resources it serves ([`discover`]), server-side apply ([`apply`]) and reading objects back
//! for waits ([`wait`]). kube-rs is the client; nothing here shells out to kubectl.
//!
//! Error messages never contain kubeconfig contents (tokens, keys): parse errors are re-derived
//! by our own YAML reader, which reports positions without quoting values.

pub mod apply;
pub mod discover;
pub mod kubeconfig;
pub mod manifests;
pub mod wait;

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use crate::diag::error_chain;
use crate::yaml;

pub use apply::{ApplyOptions, FIELD_MANAGER};
pub use discover::{Resolved, resolve};

/// Failures talking to the cluster. Messages are meant for people and never quote secrets.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("kubeconfig {}: {message}", path.display())]
    Kubeconfig { path: PathBuf, message: String },

    #[error(
        "no cluster configured: pass --kubeconfig FILE, set KUBECONFIG, create ~/.kube/config, or run inside a pod ({0})"
    )]
    NoConfig(String),

    #[error("cannot reach the Kubernetes API at {url}: {message}")]
    Unreachable { url: String, message: String },

    #[error(
        "the cluster does not serve {}: is the ZeroTouch platform installed? (its Crossplane XRDs and CRDs define these kinds; check with `kubectl api-resources`)",
        kinds.join(", ")
    )]
    MissingKinds { kinds: Vec<String> },

    #[error(
        "{object}: field manager conflict: {message}\n  Another manager (kubectl, Argo CD, a controller) owns these fields. Rerun with --force-conflicts to take them over."
    )]
    Conflict { object: String, message: String },

    #[error("{object}: {message}")]
    Api {
        object: String,
        code: u16,
        message: String,
    },
}

/// Which cluster to use, as kubectl's `--kubeconfig` and `--context` say.
#[derive(Debug, Clone, Default)]
pub struct ClusterAccess {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A connected client and the address it talks to (for messages).
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    /// The same cluster without kube-rs's own retries of 429, 503 and 504 answers: for the
    /// service proxy, where a 503 is the service's answer to report (and retry on our own
    /// deadline), not an overloaded API server. With the retries, one probe could take minutes.
    pub unretried: kube::Client,
    pub url: String,
}

impl KubeError {
    /// The same error with `scrubber`'s secrets cut from what the server said: an API server
    /// (or a webhook) may quote a rejected value, and that value may be a Secret's.
    pub fn scrubbed(self, scrubber: &crate::redact::Scrubber) -> KubeError {
        match self {
            KubeError::Conflict { object, message } => KubeError::Conflict {
                object,
                message: scrubber.scrub(&message),
            },
            KubeError::Api {
                object,
                code,
                message,
            } => KubeError::Api {
                object,
                code,
                message: scrubber.scrub(&message),
            },
            KubeError::Unreachable { url, message } => KubeError::Unreachable {
                url,
                message: scrubber.scrub(&message),
            },
            other => other,
        }
    }
}

/// Builds a client like kubectl picks its cluster: `--kubeconfig`, else `KUBECONFIG` (a list of
/// files, merged), else `~/.kube/config`, else the in-cluster service account. Nothing is sent.
pub async fn connect(access: &ClusterAccess) -> Result<Cluster, KubeError> {
    let options = KubeConfigOptions {
        context: access.context.clone(),
        cluster: None,
        user: None,
    };
    let (config, shown) = if let Some(path) = &access.kubeconfig {
        (
            from_files(std::slice::from_ref(path), &options).await?,
            path.clone(),
        )
    } else if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let existing: Vec<PathBuf> = kubeconfig::files(Some(&list), None)
            .into_iter()
            .filter(|p| p.exists())
            .collect();
        if existing.is_empty() {
            return Err(KubeError::Kubeconfig {
                path: PathBuf::from(list),
                message: "KUBECONFIG names no existing file".into(),
            });
        }
        let shown = existing[0].clone();
        (from_files(&existing, &options).await?, shown)
    } else if let Some(path) = kubeconfig::files_from_environment()
        .into_iter()
        .next()
        .filter(|p| p.exists())
    {
        (
            from_files(std::slice::from_ref(&path), &options).await?,
            path,
        )
    } else {
        if access.context.is_some() {
            return Err(KubeError::NoConfig("--context needs a kubeconfig".into()));
        }
        let config = kube::Config::incluster()
            .map_err(|e| KubeError::NoConfig(format!("not in a pod either: {e}")))?;
        (config, PathBuf::from("<in-cluster>"))
    };
    let url = config.cluster_url.to_string();
    let build = |config: kube::Config| {
        kube::Client::try_from(config).map_err(|e| KubeError::Kubeconfig {
            path: shown.clone(),
            message: format!("cannot build a client: {}", error_chain(&e)),
        })
    };
    let mut without_retries = config.clone();
    without_retries.default_retry = false;
    let unretried = build(without_retries)?;
    let client = build(config)?;
    Ok(Cluster {
        client,
        unretried,
        url,
    })
}

async fn from_files(
    paths: &[PathBuf],
    options: &KubeConfigOptions,
) -> Result<kube::Config, KubeError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let kc = read_kubeconfig(path)?;
        merged = Some(match merged {
            None => kc,
            Some(m) => m.merge(kc).map_err(|e| kubeconfig_error(path, &e))?,
        });
    }
    let kc = merged.unwrap_or_default();
    let first = paths.first().cloned().unwrap_or_default();
    kube::Config::from_custom_kubeconfig(kc, options)
        .await
        .map_err(|e| kubeconfig_error(&first, &e))
}

/// Reads one kubeconfig file; a parse error is re-derived with our reader so that the message
/// has a position and no quoted content (kubeconfigs hold tokens and keys).
fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, KubeError> {
    match Kubeconfig::read_from(path) {
        Ok(k) => Ok(k),
        Err(KubeconfigError::Parse(_)) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let message = match yaml::from_str_multi::<Kubeconfig>(&text) {
                Err(e) => format!("not a valid kubeconfig: {e}"),
                Ok(_) => "not a valid kubeconfig".into(),
            };
            Err(KubeError::Kubeconfig {
                path: path.to_path_buf(),
                message,
            })
        }
        Err(e) => Err(kubeconfig_error(path, &e)),
    }
}

fn kubeconfig_error(path: &Path, e: &KubeconfigError) -> KubeError {
    let message = match e {
        // These wrap decoders of key and certificate data; their details can quote it.
        KubeconfigError::LoadCertificateAuthority(_) => {
            "cannot load the cluster's certificate-authority(-data)".into()
        }
        KubeconfigError::LoadClientCertificate(_) => {
            "cannot load the user's client-certificate(-data)".into()
        }
        KubeconfigError::LoadClientKey(_) => "cannot load the user's client-key(-data)".into(),
        KubeconfigError::ParseCertificates(_) => "cannot parse the PEM certificates".into(),
        KubeconfigError::Parse(_) => "not a valid kubeconfig".into(),
        KubeconfigError::ReadConfig(io, _) => format!("cannot read: {io}"),
        other => other.to_string(),
    };
    KubeError::Kubeconfig {
        path: path.to_path_buf(),
        message,
    }
}

/// Whether a client error means the server could not be reached at all.
pub fn is_connection_error(e: &kube::Error) -> bool {
    matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_))
}

/// Maps a client error about `object` to a [`KubeError`].
pub fn api_error(cluster: &Cluster, object: &str, e: kube::Error) -> KubeError {
    match e {
        kube::Error::Api(status) if status.code == 409 => KubeError::Conflict {
            object: object.to_string(),
            message: status.message.clone(),
        },
        kube::Error::Api(status) if !undeclared_fields(&status.message).is_empty() => {
            KubeError::Api {
                object: object.to_string(),
                code: status.code,
                message: format!(
                    "its schema does not declare {}: a misspelt or misplaced field? (the API server refuses a server-side apply with fields its schema does not know)",
                    undeclared_fields(&status.message).join(", ")
                ),
            }
        }
        kube::Error::Api(status) => KubeError::Api {
            object: object.to_string(),
            code: status.code,
            message: format!(
                "{} ({} {})",
                status.message,
                status.code,
                if status.reason.is_empty() {
                    "error"
                } else {
                    status.reason.as_str()
                }
            ),
        },
        e if is_connection_error(&e) => KubeError::Unreachable {
            url: cluster.url.clone(),
            message: error_chain(&e),
        },
        e => KubeError::Api {
            object: object.to_string(),
            code: 0,
            message: error_chain(&e),
        },
    }
}

/// The fields a server-side apply was refused for because the schema does not declare them.
/// The API server answers such an apply with `500`, "failed to create typed patch object
/// (...): .spec.prot: field not declared in schema" (one `path: reason` per field).
fn undeclared_fields(message: &str) -> Vec<&str> {
    const NOT_DECLARED: &str = ": field not declared in schema";
    if !message.starts_with("failed to create typed patch object") {
        return Vec::new();
    }
    message
        .match_indices(NOT_DECLARED)
        .filter_map(|(at, _)| {
            message[..at]
                .rsplit(|c: char| c.is_whitespace())
                .next()
                .filter(|path| path.starts_with('.'))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::undeclared_fields;

    #[test]
    fn undeclared_fields_are_read_from_the_servers_message() {
        let m = "failed to create typed patch object (ns/my-svc; platform.bizmatters.io/v1alpha1, Kind=WebService): errors:\n  .spec.prot: field not declared in schema\n  .spec.imge: field not declared in schema";
        assert_eq!(undeclared_fields(m), [".spec.prot", ".spec.imge"]);
        let one = "failed to create typed patch object (ns/s; /v1, Kind=Secret): .strinData: field not declared in schema";
        assert_eq!(undeclared_fields(one), [".strinData"]);
        assert!(undeclared_fields("etcdserver: request timed out").is_empty());
        assert!(undeclared_fields(".a: field not declared in schema").is_empty());
    }
}
