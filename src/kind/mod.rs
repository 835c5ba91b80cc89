//! kind: the typed cluster config for preview clusters.

pub mod cluster;

pub use cluster::Cluster;
