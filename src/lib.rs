//! `zt`: the library behind the `kubectl zt` plugins.
//!
//! The modules follow the data flow of `render`: [`tenant`] loads and validates the tenant
//! repository, [`talos`] holds the secrets bundle and the typed machine configs, [`render`] turns
//! both into an in-memory output tree and writes or diffs it. [`yaml`] is the only place YAML is
//! read or written; [`diag`] is how bad input is reported. [`deploy`] points a service's claims
//! at a new image and applies them through [`kube`]; [`patch`] adapts a platform repo checkout
//! for a Kind preview cluster. [`talos::api`] and [`docker`] talk to the outside world during
//! bootstrap: Talos nodes over gRPC, the local Docker engine. [`parameters`] pushes the
//! platform's secrets from the environment into AWS SSM Parameter Store; [`status`] watches the
//! gates that say the platform really runs.

pub mod argocd;
pub mod bootstrap;
pub mod ci;
pub mod credentials;
pub mod deploy;
pub mod diag;
pub mod docker;
pub mod examples;
pub mod fsio;
pub mod git;
pub mod install;
pub mod kind;
pub mod kube;
pub mod parameters;
pub mod patch;
pub mod process;
pub mod progress;
pub mod redact;
pub mod render;
pub mod secret;
pub mod source;
pub mod status;
pub mod talos;
pub mod tenant;
pub mod testjob;
pub mod yaml;

#[cfg(test)]
mod fuzz;
