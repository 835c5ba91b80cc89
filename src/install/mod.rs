//! Bare metal to Talos maintenance mode: put a Hetzner server into its rescue system
//! ([`hetzner`], [`rescue`]), log in over SSH ([`ssh`], [`known_hosts`]), and write the Talos
//! metal image ([`image`]) onto its install disk with the scripts in [`remote`]
//! ([`run::install`]).

pub mod hetzner;
pub mod image;
pub mod known_hosts;
pub mod remote;
pub mod rescue;
pub mod run;
pub mod ssh;

pub use image::ImageSource;
pub use run::{Event, InstallError, InstallSpec, install};
pub use ssh::{HostKeyMemory, HostKeyPolicy, SshAuth, SshError, SshTarget};
