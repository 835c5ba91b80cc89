//! `kubectl zt deploy`: point a service's Crossplane claims at a CI-built image, apply them with
//! server-side apply in a safe order, and wait until the service is ready.
//!
//! The flow is two halves. [`plan::prepare`] reads and checks everything offline (the service
//! contract in [`config`], the claims in [`claims`], the image in [`image`]) and yields a
//! [`plan::Plan`]: objects in apply order, the image changes, and the file edits for `--write`.
//! [`run::execute`] then talks to the cluster through [`crate::kube`]. Bad input stops the
//! first half, so nothing is applied.
//!
//! This replaces the upstream `deploy.sh` + `patch-service-images.sh`, which rewrote `image:`
//! lines with sed after applying (so the cluster never got the new image), hit every `image:`
//! line including comments and other services, and waited with fixed sleeps.

pub mod claims;
pub mod config;
pub mod edit;
pub mod health;
pub mod image;
pub mod internal;
pub mod plan;

pub mod run;

use std::path::PathBuf;

pub use plan::{Plan, Request, prepare, prepare_dependency};
pub use run::{DryRun, Options, Report, execute};

use crate::kube::KubeError;

/// Why a deploy failed after its inputs were accepted.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Kube(#[from] KubeError),

    /// Some objects were applied before one failed. The failure is part of the message (not
    /// a `source`), so it is not printed twice as a cause.
    #[error("{error}\n  applied before the failure: {}", applied.join(", "))]
    PartlyApplied {
        error: KubeError,
        applied: Vec<String>,
    },

    #[error("timed out after {} waiting for the service to become ready:\n{}", crate::progress::format_duration(*after), diagnosis.join("\n"))]
    Timeout {
        after: std::time::Duration,
        /// One line per object still not ready: what, which condition, its last message.
        diagnosis: Vec<String>,
    },

    #[error("the service is failing: {0}")]
    PodFailed(String),

    /// The service's health or liveness endpoint did not answer 2xx before the deadline.
    #[error("the service's health checks did not pass within {} (through the API server's service proxy; deployment.wait_timeout or --timeout):\n{}", crate::progress::format_duration(*after), diagnosis.join("\n"))]
    Unhealthy {
        after: std::time::Duration,
        /// One line per endpoint that did not pass: which, and its last answer (scrubbed).
        diagnosis: Vec<String>,
    },

    /// A health check that waiting cannot fix (the proxy refused, a path that is no URL).
    #[error("health check: {0}")]
    HealthCheck(String),

    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The objects a client dry run shows: every object in apply order as one YAML stream, Secret
/// values redacted.
pub fn render_objects(plan: &Plan) -> Result<String, crate::yaml::YamlError> {
    let shown: Vec<serde_json::Value> = plan
        .objects
        .iter()
        .map(|o| crate::redact::for_display(&o.value))
        .collect();
    crate::yaml::to_string_multi(&shown)
}

/// Writes the `--write` edits, each file atomically with its mode kept.
pub fn write_edits(plan: &Plan) -> Result<Vec<PathBuf>, DeployError> {
    let mut written = Vec::with_capacity(plan.edits.len());
    for e in &plan.edits {
        let mode = file_mode(&e.path);
        crate::fsio::write_atomic(&e.path, e.text.as_bytes(), mode, true).map_err(|source| {
            DeployError::Write {
                path: e.path.clone(),
                source,
            }
        })?;
        written.push(e.path.clone());
    }
    Ok(written)
}

#[cfg(unix)]
fn file_mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(crate::fsio::PUBLIC_MODE)
}

#[cfg(not(unix))]
fn file_mode(_path: &std::path::Path) -> u32 {
    crate::fsio::PUBLIC_MODE
}
