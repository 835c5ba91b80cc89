//! One module per command: turn parsed flags into library calls and print the result.

pub mod bare_metal;
pub mod bootstrap;
pub mod ci;
pub mod completion;
pub mod deploy;
pub mod preview_patch;
pub mod render;
pub mod secrets;
pub mod status;
pub mod test;
pub mod validate;

/// The async runtime of a command that talks to a cluster, a node or a cloud API: one thread
/// (the work is waiting, not computing), with timers and IO.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
