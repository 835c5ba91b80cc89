//! Running a plan: stages in order, each skipped when an earlier run of the same plan finished
//! it, recorded in the stage cache as soon as it finishes, and stopped cleanly on Ctrl-C (the
//! interrupted stage is not recorded, so the next run starts there).

use std::cell::RefCell;
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

    /// The line announcing the block of lanes that starts at stage `start`.
    fn block_header(&self, start: usize) -> String {
        let mut lanes: Vec<&str> = Vec::new();
        let mut end = start;
        while let Some(lane) = self.stages.get(end).and_then(|s| s.lane()) {
            if !lanes.contains(&lane) {
                lanes.push(lane);
            }
            end += 1;
        }
        format!(
            "     == stages {}-{} run together: {} ({} lanes), each lane's stages in order, up to --parallel lanes at a time\n",
            start + 1,
            end,
            lanes.join(", "),
            lanes.len()
        )
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
            let starts_block =
                s.lane().is_some() && (i == 0 || self.stages[i - 1].lane().is_none());
            if starts_block {
                out.push_str(&self.block_header(i));
            }
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

/// Runs `plan`. `interrupt` resolves when the user asks to stop (Ctrl-C); the running stages
/// are dropped (their work is idempotent and will be redone) and the cache stays as it was
/// after the last finished stage. Consecutive stages with a lane ([`Stage::lane`]) run lane by
/// lane, up to `ctx.parallel` lanes at once; a failed lane stops, the others finish theirs.
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
    let state = RunState {
        cache: RefCell::new(cache),
        summary: RefCell::new(RunSummary::default()),
        running: RefCell::new(Vec::new()),
    };
    tokio::pin!(interrupt);
    for step in steps(&plan.stages) {
        let work = async {
            match step {
                Step::Alone(stage) => run_stage(stage, ctx, &state).await,
                Step::Lanes(lanes) => run_lanes(lanes, ctx, &state).await,
            }
        };
        let result = tokio::select! {
            r = work => Some(r),
            () = &mut interrupt => None,
        };
        match result {
            Some(r) => r?,
            None => {
                let running = state.running.borrow().join(", ");
                for name in state.running.borrow().iter() {
                    ctx.progress.finish(
                        name,
                        &StageStatus::Failed("interrupted".into()),
                        Duration::ZERO,
                    );
                }
                let summary = state.summary.borrow();
                return Err(RunError::Interrupted {
                    stage: running,
                    done: summary.done.len() + summary.cached.len(),
                    cache: state.cache.borrow().path().display().to_string(),
                });
            }
        }
    }
    let mut summary = state.summary.into_inner();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// What a run shares between its lanes (all in one task: no stage future is spawned).
struct RunState<'c> {
    cache: RefCell<&'c mut StageCache>,
    summary: RefCell<RunSummary>,
    /// The stages running now, for the interruption message.
    running: RefCell<Vec<String>>,
}

/// A stage on its own, or a block of lanes (each a list of stages in order).
enum Step<'p> {
    Alone(&'p dyn Stage),
    Lanes(Vec<Vec<&'p dyn Stage>>),
}

/// Groups consecutive stages with lanes into blocks, keeping each lane's stages in plan order.
fn steps(stages: &[Box<dyn Stage>]) -> Vec<Step<'_>> {
    fn flush<'p>(block: &mut Vec<(String, Vec<&'p dyn Stage>)>, out: &mut Vec<Step<'p>>) {
        if !block.is_empty() {
            let lanes = std::mem::take(block).into_iter().map(|(_, l)| l).collect();
            out.push(Step::Lanes(lanes));
        }
    }
    let mut out = Vec::new();
    let mut block: Vec<(String, Vec<&dyn Stage>)> = Vec::new();
    for s in stages {
        match s.lane() {
            Some(lane) => match block.iter_mut().find(|(l, _)| l == lane) {
                Some((_, stages)) => stages.push(s.as_ref()),
                None => block.push((lane.to_string(), vec![s.as_ref()])),
            },
            None => {
                flush(&mut block, &mut out);
                out.push(Step::Alone(s.as_ref()));
            }
        }
    }
    flush(&mut block, &mut out);
    out
}

/// The lanes of a block, up to `ctx.parallel` at once, each in its own forked context. Every
/// lane runs until it finishes or fails; the first failure (in plan order) is returned.
async fn run_lanes(
    lanes: Vec<Vec<&dyn Stage>>,
    ctx: &Ctx,
    state: &RunState<'_>,
) -> Result<(), RunError> {
    use futures_util::StreamExt as _;
    let limit = ctx.parallel.max(1);
    let results: Vec<(usize, Result<(), RunError>)> =
        futures_util::stream::iter(lanes.into_iter().enumerate())
            .map(|(i, lane)| {
                let mut lane_ctx = ctx.fork();
                async move {
                    for stage in lane {
                        if let Err(e) = run_stage(stage, &mut lane_ctx, state).await {
                            return (i, Err(e));
                        }
                    }
                    (i, Ok(()))
                }
            })
            .buffer_unordered(limit)
            .collect()
            .await;
    let mut failures: Vec<(usize, RunError)> = results
        .into_iter()
        .filter_map(|(i, r)| r.err().map(|e| (i, e)))
        .collect();
    failures.sort_by_key(|(i, _)| *i);
    match failures.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// One stage: skipped when the cache has it, else run and recorded.
async fn run_stage(stage: &dyn Stage, ctx: &mut Ctx, state: &RunState<'_>) -> Result<(), RunError> {
    let name = stage.name();
    if stage.cacheable() && state.cache.borrow().is_done(&name) {
        ctx.progress
            .finish(&name, &StageStatus::Cached, Duration::ZERO);
        state.summary.borrow_mut().cached.push(name);
        return Ok(());
    }
    ctx.stage = name.clone();
    ctx.progress.start(&name, &stage.summary());
    state.running.borrow_mut().push(name.clone());
    let t0 = Instant::now();
    let result = stage.run(ctx).await;
    state.running.borrow_mut().retain(|n| *n != name);
    match result {
        Err(error) => {
            ctx.progress
                .finish(&name, &StageStatus::Failed(error.to_string()), t0.elapsed());
            Err(RunError::Stage { stage: name, error })
        }
        Ok(()) => {
            let mut cache = state.cache.borrow_mut();
            if ctx.take_cache_invalidation() {
                // The stage rebuilt what the recorded stages had worked on: none of them
                // may be skipped any more, in this run or the next.
                cache.forget_all()?;
            }
            if stage.cacheable() {
                cache.mark_done(&name, &now_utc())?;
            }
            drop(cache);
            ctx.progress.finish(&name, &StageStatus::Done, t0.elapsed());
            state.summary.borrow_mut().done.push(name);
            Ok(())
        }
    }
}
