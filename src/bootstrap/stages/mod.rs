//! The actions a bootstrap plan is made of.

pub mod gates;
pub mod images;
pub mod install;
pub mod kind;
pub mod kubernetes;
pub mod kustomize;
pub mod parameters;
pub mod preview_patch;
pub mod talos;
