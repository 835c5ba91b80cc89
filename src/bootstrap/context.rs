//! What stages share during one run: timing, where progress goes, the kubeconfig, and a
//! Kubernetes client connected once the cluster exists.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::stage::StageError;
use crate::kube::{Cluster, ClusterAccess};
use crate::progress::Progress;

/// Time limits, and the rhythm of the waits that cannot watch (the Talos API, a kind the
/// Kubernetes API does not serve yet). Kubernetes objects are watched up to their limit; nothing
/// sleeps a fixed time.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A Talos node answering (maintenance or configured API), incl. its reboot after a config.
    pub talos: Duration,
    /// The Kubernetes API answering and a node turning Ready.
    pub kubernetes: Duration,
    /// Argo CD's install and repo server.
    pub argocd: Duration,
    /// The root Application turning Synced and Healthy.
    pub platform: Duration,
    /// A `kind create cluster` run.
    pub kind: Duration,
    /// First probe delay of a wait that cannot watch, and first delay before a failed watch is
    /// restarted; doubles up to `poll_max`.
    pub poll_initial: Duration,
    pub poll_max: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            talos: Duration::from_secs(600),
            kubernetes: Duration::from_secs(600),
            argocd: Duration::from_secs(600),
            platform: Duration::from_secs(1800),
            kind: Duration::from_secs(600),
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
        }
    }
}

pub struct Ctx {
    pub timing: Timing,
    pub progress: Arc<dyn Progress>,
    /// The kubeconfig stages write (production: fetched from Talos) and read.
    pub kubeconfig: PathBuf,
    pub kube_context: Option<String>,
    /// The stage running now (for detail lines).
    pub stage: String,
    /// How many lanes of a block run at once (`--parallel`; see [`crate::bootstrap::Stage::lane`]).
    pub parallel: usize,
    cluster: Option<Cluster>,
    /// Set by a stage that replaced what earlier runs worked on (a new Kind cluster where the
    /// old one was deleted): the stages they recorded as done must run again.
    cache_invalidated: bool,
}

impl Ctx {
    pub fn new(
        timing: Timing,
        progress: Arc<dyn Progress>,
        kubeconfig: PathBuf,
        kube_context: Option<String>,
    ) -> Self {
        Ctx {
            timing,
            progress,
            kubeconfig,
            kube_context,
            stage: String::new(),
            parallel: 1,
            cluster: None,
            cache_invalidated: false,
        }
    }

    /// A context for one lane of a block: the same settings and client, its own current stage.
    pub fn fork(&self) -> Ctx {
        Ctx {
            timing: self.timing,
            progress: self.progress.clone(),
            kubeconfig: self.kubeconfig.clone(),
            kube_context: self.kube_context.clone(),
            stage: String::new(),
            parallel: self.parallel,
            cluster: self.cluster.clone(),
            cache_invalidated: false,
        }
    }

    /// A warning: shown whatever the verbosity.
    pub fn warn(&self, message: &str) {
        self.progress.warn(&self.stage, message);
    }

    /// Says that what earlier runs recorded as done no longer exists (the cluster was created
    /// afresh), so the runner forgets the stage cache once the current stage finishes.
    pub fn invalidate_cached_stages(&mut self) {
        self.cache_invalidated = true;
    }

    /// Whether [`Ctx::invalidate_cached_stages`] was called since the last look; resets it.
    pub fn take_cache_invalidation(&mut self) -> bool {
        std::mem::take(&mut self.cache_invalidated)
    }

    /// A detail line for `-v`.
    pub fn detail(&self, message: &str) {
        self.progress.detail(&self.stage, message);
    }

    /// The Kubernetes client for the kubeconfig, connected on first use (after the stage that
    /// writes the kubeconfig). Building it sends nothing.
    pub async fn cluster(&mut self) -> Result<Cluster, StageError> {
        if let Some(c) = &self.cluster {
            return Ok(c.clone());
        }
        let c = crate::kube::connect(&ClusterAccess {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: self.kube_context.clone(),
        })
        .await
        .map_err(|e| StageError::new(e.to_string()))?;
        self.cluster = Some(c.clone());
        Ok(c)
    }

    /// Forgets the client (the kubeconfig changed).
    pub fn reset_cluster(&mut self) {
        self.cluster = None;
    }
}
