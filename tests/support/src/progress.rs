//! A bootstrap `Progress` that records what a user would see, with elapsed times left out so
//! tests can compare lines: details as `  stage: message`, warnings as
//! `  warning: stage: message`, finished stages as `✓ stage`, `↷ stage` or `✗ stage: why`.

use std::sync::Mutex;
use std::time::Duration;

use zt::progress::{Progress, StageStatus, finish_line};

#[derive(Default)]
pub struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn start(&self, _stage: &str, _what: &str) {}
    fn detail(&self, stage: &str, message: &str) {
        self.push(format!("  {stage}: {message}"));
    }
    fn warn(&self, stage: &str, message: &str) {
        self.push(format!("  warning: {stage}: {message}"));
    }
    fn finish(&self, stage: &str, status: &StageStatus, elapsed: Duration) {
        let line = finish_line(stage, status, elapsed);
        // Elapsed times vary; keep the symbol and the stage.
        let stable = match status {
            StageStatus::Failed(why) => format!("✗ {stage}: {why}"),
            _ => line.split(" (").next().unwrap_or(&line).to_string(),
        };
        self.push(stable);
    }
}

impl Recorder {
    fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// The finished-stage lines, in order.
    pub fn finished(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| !l.starts_with("  "))
            .cloned()
            .collect()
    }

    /// Every line, for failure messages and secret checks.
    pub fn all(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }
}

/// The stages of the example environment's production plan (one control plane, two workers),
/// in order.
pub const EXAMPLE_PRODUCTION_STAGES: &[&str] = &[
    "render",
    "talos-apply/cp01-main",
    "talos-ready/cp01-main",
    "etcd-bootstrap",
    "kubeconfig",
    "node-ready/cp01-main",
    "talos-apply/worker01",
    "talos-ready/worker01",
    "node-ready/worker01",
    "talos-apply/worker02",
    "talos-ready/worker02",
    "node-ready/worker02",
    "argocd-install",
    "secrets",
    "deployment-ready/argocd/argocd-repo-server",
    "root-app",
    "application-synced/platform-bootstrap",
    "tenants",
];

/// The finished lines of `stages` all done in this run (`✓ stage`).
pub fn all_done(stages: &[&str]) -> Vec<String> {
    stages.iter().map(|s| format!("✓ {s}")).collect()
}
