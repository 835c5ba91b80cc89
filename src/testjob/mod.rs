//! `kubectl zt test`: a service's migrations and in-cluster tests, each run as a Kubernetes Job
//! from the service's image in the service's namespace.
//!
//! - [`plan`] decides which Jobs run (migrations first) and with which image;
//! - [`spec`] builds the Job (and the Secret its environment comes from) from the contract
//!   (`ci/config.yaml`: `test`, `migrations`, `env`);
//! - [`run`] applies them with the one apply engine, streams the pod's log as it comes, waits
//!   on a watch until the Job completes or fails, diagnoses a failure (the failed container,
//!   the last lines of its log, the pod's and Job's events) and cleans up unless told to keep.
//!
//! Every value of `env` goes into a Secret, never into the Job: nothing tells which of them are
//! secret, and the old scripts logged them all. Those values are cut from every line shown,
//! the test's own log included.

pub mod plan;
pub mod run;
pub mod spec;

pub use plan::{TestOverrides, TestPlan, deployed_image, plan};
pub use run::{JobOutcome, RunError, RunOptions, clean_up, run_job};
pub use spec::{JobKind, JobObjects, JobRequest, build};
