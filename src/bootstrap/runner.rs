//! Running a plan: stages in order, each skipped when an earlier run of the same plan finished
//! it, recorded in the stage cache as soon as it finishes, and stopped cleanly on Ctrl-C (the
//! interrupted stage is not recorded, so the next run starts there).

use std::future::Future;
use std::time::{Duration, Instant};

use super::cache::{CacheError, StageCache, fingerprint};
use super::context::Ctx;
use super::stage::{Stage, StageError};
use crate::progress::StageStatus;

/// What a bootstrap will do, in order.
pub struct Plan {
    /// `production` or `preview`, for messages.
    pub mode: String,
    /// What the plan brings up (an environment, a cluster name).
    pub target: String,
    pub stages: Vec<Box<dyn Stage>>,
}

impl Plan {
    /// `name: summary` per stage; the cache fingerprint is taken over these lines.
    pub fn lines(&self) -> Vec<String> {
        self.stages
            .iter()
            .map(|s| format!("{}: {}", s.name(), s.summary()))
            .collect()
    }

    pub fn fingerprint(&self) -> String {
        let mut lines = vec![format!("{} {}", self.mode, self.target)];
        lines.extend(self.lines());
        fingerprint(&lines)
    }

    /// The `--dry-run` text: every stage, what it targets and what it would send.
    pub fn describe(&self, cache: Option<&StageCache>) -> String {
        let mut out = format!(
            "bootstrap plan ({} {}), {} stages:\n",
            self.mode,
            self.target,
            self.stages.len()
        );
        for (i, s) in self.stages.iter().enumerate() {
            let cached = cache.is_some_and(|c| s.cacheable() && c.is_done(&s.name()));
            out.push_str(&format!(
                "{:>3}. {}{}\n     {}\n",
                i + 1,
                s.name(),
                if cached {
                    "  (done in an earlier run: would be skipped)"
                } else {
                    ""
                },
                s.summary()
            ));
            for d in s.details() {
                out.push_str(&format!("       - {d}\n"));
            }
        }
        out
    }
}

#[derive(Debug, Default)]
pub struct RunSummary {
    pub done: Vec<String>,
    pub cached: Vec<String>,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("stage {stage} failed: {error}")]
    Stage { stage: String, error: StageError },
    #[error(
        "interrupted during stage {stage}; {done} finished stages are recorded in {cache}, a rerun resumes at {stage}"
    )]
    Interrupted {
        stage: String,
        done: usize,
        cache: String,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Runs `plan`. `interrupt` resolves when the user asks to stop (Ctrl-C); the running stage is
/// dropped (its work is idempotent and will be redone) and the cache stays as it was after the
/// last finished stage.
pub async fn run<I>(
    plan: &Plan,
    ctx: &mut Ctx,
    cache: &mut StageCache,
    interrupt: I,
) -> Result<RunSummary, RunError>
where
    I: Future<Output = ()>,
{
    let started = Instant::now();
    let mut summary = RunSummary::default();
    tokio::pin!(interrupt);
    for stage in &plan.stages {
        let name = stage.name();
        if stage.cacheable() && cache.is_done(&name) {
            ctx.progress
                .finish(&name, &StageStatus::Cached, Duration::ZERO);
            summary.cached.push(name);
            continue;
        }
        ctx.stage = name.clone();
        ctx.progress.start(&name, &stage.summary());
        let t0 = Instant::now();
        let result = tokio::select! {
            r = stage.run(ctx) => Some(r),
            () = &mut interrupt => None,
        };
        match result {
            None => {
                ctx.progress.finish(
                    &name,
                    &StageStatus::Failed("interrupted".into()),
                    t0.elapsed(),
                );
                return Err(RunError::Interrupted {
                    stage: name,
                    done: summary.done.len() + summary.cached.len(),
                    cache: cache.path().display().to_string(),
                });
            }
            Some(Err(error)) => {
                ctx.progress
                    .finish(&name, &StageStatus::Failed(error.to_string()), t0.elapsed());
                return Err(RunError::Stage { stage: name, error });
            }
            Some(Ok(())) => {
                if ctx.take_cache_invalidation() {
                    // The stage rebuilt what the recorded stages had worked on: none of them
                    // may be skipped any more, in this run or the next.
                    cache.forget_all()?;
                }
                if stage.cacheable() {
                    cache.mark_done(&name, &now_utc())?;
                }
                ctx.progress.finish(&name, &StageStatus::Done, t0.elapsed());
                summary.done.push(name);
            }
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}
