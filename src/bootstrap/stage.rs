//! A bootstrap stage: one step with a name (its cache key), a one-line summary for the plan,
//! what it would send (for `--dry-run`, secrets redacted), and the work itself.

use std::future::Future;
use std::pin::Pin;

use super::context::Ctx;

/// Why a stage failed: a message for people, already free of secrets, and an optional hint on
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct StageError {
    pub message: String,
    pub hint: Option<String>,
}

impl StageError {
    pub fn new(message: impl Into<String>) -> Self {
        StageError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The future a stage runs.
pub type StageFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StageError>> + Send + 'a>>;

pub trait Stage: Send + Sync {
    /// Stable identifier, used as the stage-cache key (`talos-apply/cp01-main`).
    fn name(&self) -> String;
    /// What the stage does, in one line, for the plan and the progress line.
    fn summary(&self) -> String;
    /// What it would send or run, for `--dry-run`: targets, modes, sizes; never secret values.
    fn details(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether a finished run may be skipped next time. Stages whose work is not visible from
    /// outside (rendering in memory) or that must always re-check run every time.
    fn cacheable(&self) -> bool {
        true
    }
    /// What the stage destroys, for the confirmation a run asks before it starts
    /// (`/dev/sda on cp01-main (203.0.113.10)`); `None` for the stages that destroy nothing.
    fn overwrites(&self) -> Option<String> {
        None
    }
    /// The lane the stage runs in: consecutive stages with lanes form a block in which each
    /// lane's stages run in order and different lanes run concurrently (one lane per worker
    /// node). `None`: the stage runs alone, after everything before it.
    fn lane(&self) -> Option<&str> {
        None
    }
    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a>;
}

/// `stage`, placed in `lane` (see [`Stage::lane`]); everything else is the stage's own.
pub struct InLane {
    pub lane: String,
    pub stage: Box<dyn Stage>,
}

impl InLane {
    pub fn boxed(lane: &str, stage: Box<dyn Stage>) -> Box<dyn Stage> {
        Box::new(InLane {
            lane: lane.to_string(),
            stage,
        })
    }
}

impl Stage for InLane {
    fn name(&self) -> String {
        self.stage.name()
    }
    fn summary(&self) -> String {
        self.stage.summary()
    }
    fn details(&self) -> Vec<String> {
        self.stage.details()
    }
    fn cacheable(&self) -> bool {
        self.stage.cacheable()
    }
    fn overwrites(&self) -> Option<String> {
        self.stage.overwrites()
    }
    fn lane(&self) -> Option<&str> {
        Some(&self.lane)
    }
    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        self.stage.run(ctx)
    }
}
