//! Talos: the secrets bundle and its PKI, the typed machine config and talosconfig, Talos's
//! strategic merge for config patches, and the machine API client.

pub mod api;
pub mod bundle;
pub mod config;
pub(crate) mod der;
pub mod keys;
pub mod merge;
pub mod pem;
pub mod pki;
#[cfg(test)]
mod testdata;
