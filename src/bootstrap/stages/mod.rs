//! The actions a bootstrap plan is made of.

pub mod kubernetes;
pub mod kustomize;
pub mod talos;
