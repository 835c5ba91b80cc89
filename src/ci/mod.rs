//! `kubectl zt ci`: a service's whole preview CI in one resumable run on the bootstrap stage
//! framework: (the preview platform, when asked) → deploy the CI-built image → migrations and
//! tests → a summary for the CI log and `GITHUB_STEP_SUMMARY`.
//!
//! - [`stages`]: `deploy` and `tests` as bootstrap stages (the same deploy and test Jobs as the
//!   commands of those names, reporting through the stage's progress);
//! - [`summary`]: what the run did, as Markdown for the CI's step summary.

pub mod stages;
pub mod summary;

pub use stages::{DeleteKindCluster, DeployStage, TestsStage};
pub use summary::{StageResult, step_summary};
