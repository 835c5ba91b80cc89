//! Waiting by probing: call a probe with exponential backoff until it says ready, fails for
//! good, or the deadline passes; the timeout error carries the probe's last diagnosis.

use std::future::Future;
use std::time::{Duration, Instant};

use super::context::Ctx;
use super::stage::StageError;
use crate::kube::wait::Backoff;

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe<T> {
    Ready(T),
    /// Not yet; why (shown with `-v` when it changes, and in the timeout error).
    Pending(String),
    /// Waiting will not help.
    Failed(String),
}

/// Probes until ready. `what` names the thing waited for in messages.
pub async fn until<T, F, Fut>(
    ctx: &Ctx,
    what: &str,
    limit: Duration,
    mut probe: F,
) -> Result<T, StageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Probe<T>>,
{
    let start = Instant::now();
    let deadline = start + limit;
    let mut backoff = Backoff::new(ctx.timing.poll_initial, ctx.timing.poll_max);
    let mut last = String::new();
    loop {
        match probe().await {
            Probe::Ready(v) => return Ok(v),
            Probe::Failed(why) => return Err(StageError::new(format!("{what}: {why}"))),
            Probe::Pending(why) => {
                if why != last {
                    ctx.detail(&format!("waiting for {what}: {why}"));
                    last = why;
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(StageError::new(format!(
                "timed out after {} waiting for {what}; last seen: {last}",
                super::progress::format_elapsed(limit)
            )));
        }
        tokio::time::sleep(backoff.next_delay().min(deadline - now)).await;
    }
}
