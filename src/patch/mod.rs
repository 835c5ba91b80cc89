//! `preview-patch`: declarative JSON-patch overlays that adapt a platform repo checkout for Kind.
//!
//! - [`overlay`]: the overlay file format and its strict loader; the built-in preview set.
//! - [`path`], [`glob`]: extended JSON pointers (`[key=value]` list selectors) and glob patterns.
//! - [`apply`]: one RFC 6902 operation (through the `json-patch` crate), with selectors and
//!   descent into YAML held by strings.
//! - [`engine`]: runs a set over the repo in memory and re-edits each changed file with
//!   [`crate::yaml::edit`], so only the changed lines differ; [`write`](mod@write) writes all or nothing.
//! - [`context`]: the Kind-context rule. (The commit to pin and `--commit` are in [`crate::git`].)

pub mod apply;
pub mod context;
pub mod engine;
pub mod glob;
pub mod overlay;
pub mod path;
pub mod repo;
pub mod vars;
pub mod write;

pub use engine::{
    DocOutcome, DocResult, FileChange, PatchOutcome, PatchReport, Plan, Request, plan,
};
pub use overlay::Overlay;
pub use vars::{LOCAL_URL, Mode, Vars};
