//! Bare metal to Talos maintenance mode: log in to a server's rescue system over SSH ([`ssh`]),
//! and write the Talos metal image ([`image`]) onto its install disk with the scripts in
//! [`remote`] ([`run::install`]).

pub mod image;
pub mod known_hosts;
pub mod remote;
pub mod run;
pub mod ssh;

pub use image::ImageSource;
pub use run::{Event, InstallError, InstallSpec, install};
pub use ssh::{HostKeyMemory, HostKeyPolicy, SshAuth, SshError, SshTarget};
