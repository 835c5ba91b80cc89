//! Bootstrap: the whole platform bring-up as a list of resumable stages.

pub mod cache;
pub mod progress;
