//! The final stage: the platform really runs (as `kubectl zt status`): every expected
//! Application Synced and Healthy, External Secrets synced, XRDs Established. A bootstrap that
//! stopped at "root Application Synced" could report success with half the platform broken.

use std::sync::Arc;

use crate::bootstrap::Ctx;
use crate::bootstrap::stage::{Stage, StageError, StageFuture};
use crate::progress::Progress;
use crate::status::{self, Options, State};

pub struct PlatformGates {
    pub options: Options,
}

impl Stage for PlatformGates {
    fn name(&self) -> String {
        "platform-gates".into()
    }

    fn summary(&self) -> String {
        let apps = match &self.options.expected {
            Some(list) => format!(
                "{} and the {} Applications it creates",
                self.options.root,
                list.len()
            ),
            None => format!("{} and every Application", self.options.root),
        };
        format!(
            "wait until the platform runs: {apps} Synced and Healthy, ClusterSecretStore {} and every ExternalSecret Ready, XRDs Established, their workloads and kube-system's DaemonSets rolled out",
            self.options.secret_store
        )
    }

    fn details(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(list) = &self.options.expected {
            out.push(format!("expected Applications: {}", list.join(", ")));
        }
        if !self.options.tolerated.is_empty() {
            out.push(format!(
                "may stay unhealthy: {}",
                self.options.tolerated.join(", ")
            ));
        }
        out
    }

    /// Always re-checked: a platform that ran yesterday says nothing about now.
    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let cluster = ctx.cluster().await?;
            let lines = Lines {
                progress: ctx.progress.clone(),
                stage: ctx.stage.clone(),
            };
            let report = status::run(&cluster, &self.options, &lines).await;
            if report.ready {
                return Ok(());
            }
            let mut message = String::from("the platform is not running yet:");
            for g in report.gates.iter().filter(|g| !g.ready) {
                message.push_str(&format!("\n  {}: {}", g.name, g.problem));
                for o in g.objects.iter().filter(|o| !o.verdict.state.ok()) {
                    message.push_str(&format!(
                        "\n    {} {}: {}",
                        o.verdict.kind, o.verdict.name, o.verdict.detail
                    ));
                    if o.verdict.state != State::Missing {
                        for c in &o.conditions {
                            message.push_str(&format!("\n      condition {c}"));
                        }
                        for e in &o.events {
                            message.push_str(&format!("\n      event {e}"));
                        }
                    }
                }
            }
            Err(StageError::new(message)
                .hint("`kubectl zt status` checks again (with -o json for CI) without rerunning the bootstrap"))
        })
    }
}

/// Gate progress as the stage's status lines.
struct Lines {
    progress: Arc<dyn Progress>,
    stage: String,
}

impl status::Progress for Lines {
    fn waiting(&self, gate: &str, what: &str) {
        self.progress
            .status(&self.stage, &format!("{gate}: waiting for {what}"));
    }

    fn pending(&self, gate: &str, why: &str) {
        self.progress.detail(&self.stage, &format!("{gate}: {why}"));
    }
}
