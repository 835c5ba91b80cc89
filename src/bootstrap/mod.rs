//! Bootstrap: the whole platform bring-up as a list of resumable stages.
//!
//! - [`stage`]: what a stage is; [`runner`]: plans, running them, the `--dry-run` text;
//!   [`cache`]: which stages finished; [`poll`]: waits by
//!   probing with backoff; [`context`]: what stages share.
//! - [`stages`]: the actions (Talos, Kubernetes, Argo CD, kind, images, preview patches);
//!   [`production`] and [`preview`] assemble them into plans.

pub mod cache;
pub mod context;
pub mod platform;
pub mod poll;
pub mod preview;
pub mod production;
pub mod runner;
pub mod stage;
pub mod stages;

pub use context::{Ctx, Timing};
pub use runner::{Plan, RunError, RunSummary, run};
pub use stage::{Stage, StageError, StageFuture};
