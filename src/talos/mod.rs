//! Talos: the secrets bundle and its PKI, the typed machine config and talosconfig.

pub mod bundle;
pub mod config;
pub mod pki;
