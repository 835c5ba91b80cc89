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
