//! Waiting on what cannot be watched: the Talos API (no watch) and the Kubernetes API's
//! discovery while a kind is not served yet. A probe is called with exponential backoff (fast
//! at first, then at most `poll_max` apart, never sleeping past the deadline) until it says
//! ready, fails for good, or the deadline passes; the timeout error carries the probe's last
//! diagnosis. Kubernetes objects are watched instead ([`crate::kube::wait`]).

use std::future::Future;
use std::time::{Duration, Instant};

use super::context::Ctx;
use super::stage::StageError;
use crate::kube::wait::{Backoff, Check};

/// The timeout message every bootstrap wait ends with.
pub fn timed_out(what: &str, limit: Duration, last: &str) -> StageError {
    StageError::new(format!(
        "timed out after {} waiting for {what}; last seen: {last}",
        crate::progress::format_duration(limit)
    ))
}

/// Probes until ready. `what` names the thing waited for in messages. A probe that knows why
/// it failed for good (and what to suggest) returns that [`StageError`] itself; a
/// [`Check::Failed`] becomes `what: why`.
pub async fn until<T, F, Fut>(
    ctx: &Ctx,
    what: &str,
    limit: Duration,
    mut probe: F,
) -> Result<T, StageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, StageError>>,
{
    let start = Instant::now();
    let deadline = start + limit;
    let mut backoff = Backoff::new(ctx.timing.poll_initial, ctx.timing.poll_max);
    let mut last = String::new();
    loop {
        match probe().await? {
            Check::Ready(v) => return Ok(v),
            Check::Failed(why) => return Err(StageError::new(format!("{what}: {why}"))),
            Check::Pending(why) => {
                if why != last {
                    ctx.detail(&format!("waiting for {what}: {why}"));
                    last = why;
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out(what, limit, &last));
        }
        tokio::time::sleep(backoff.next_delay().min(deadline - now)).await;
    }
}
