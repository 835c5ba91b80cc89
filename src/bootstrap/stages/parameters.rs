//! The `parameters` stage: the platform's secrets into Parameter Store (as `kubectl zt secrets
//! push`), before anything that reads them through External Secrets is applied. The mapping was
//! resolved when the plan was made, so a missing variable stops the run before its first stage.

use crate::bootstrap::Ctx;
use crate::bootstrap::stage::{Stage, StageError, StageFuture};
use crate::parameters::ssm::{Ssm, Target};
use crate::parameters::{self, Plan, PushError};

pub struct PushParameters {
    pub plan: Plan,
    pub target: Target,
}

impl Stage for PushParameters {
    fn name(&self) -> String {
        "parameters".into()
    }

    fn summary(&self) -> String {
        format!(
            "push {} parameters under {} to Parameter Store in {} (SecureString, only what differs)",
            self.plan.parameters.len(),
            self.plan.prefix,
            self.target.region
        )
    }

    /// Paths and the variables they come from; never a value.
    fn details(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .plan
            .parameters
            .iter()
            .map(|p| format!("{} (from {})", p.name, p.from.join(", ")))
            .collect();
        out.extend(self.plan.skipped.iter().map(|s| {
            format!(
                "{} skipped (optional; not set: {})",
                s.name,
                s.unset.join(", ")
            )
        }));
        out
    }

    /// Always re-checked: the values come from this run's environment, which a cached run
    /// cannot vouch for; an unchanged parameter costs one read.
    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let store = Ssm::new(self.target.clone(), &self.plan.prefix).await;
            let (progress, stage) = (ctx.progress.clone(), ctx.stage.clone());
            parameters::push(&store, &self.plan, &mut |p, outcome| {
                progress.done(&stage, &format!("{} {}", outcome.as_str(), p.name));
            })
            .await
            .map(|_| ())
            .map_err(stage_error)
        })
    }
}

fn stage_error(e: PushError) -> StageError {
    let hint = match &e {
        PushError::Throttled { .. } => {
            Some("rerun: finished stages are skipped, and only what still differs is written")
        }
        PushError::NoCredentials { .. } | PushError::Refused { .. } => {
            Some("`kubectl zt secrets push --dry-run` shows what would be pushed without AWS")
        }
        _ => None,
    };
    let err = StageError::new(e.to_string());
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}
