//! Argo CD: the typed Application model kubectl zt renders.

pub mod application;

pub use application::Application;
