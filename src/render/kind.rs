//! The preview stage's Kind cluster config.

use std::path::PathBuf;

use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;

use super::output::OutputTree;
use super::templates::template_error;
use super::{RenderError, parse_typed};
use crate::kind::Cluster;

pub const TEMPLATE: &str = "kind/cluster.yaml";
pub const DEFAULT_CLUSTER_NAME: &str = "zerotouch-preview";

#[derive(Debug, Clone, Serialize)]
pub struct KindSettings {
    pub name: String,
    pub node_image: Option<String>,
    /// Absolute path of the platform repository on the machine running kind.
    pub platform_repo: String,
}

pub fn render(
    env: &Environment<'_>,
    kind: &KindSettings,
    tree: &mut OutputTree,
) -> Result<(), RenderError> {
    let text = env
        .get_template(TEMPLATE)
        .and_then(|t| t.render(minijinja::context! { kind => Serde(kind) }))
        .map_err(|e| template_error(TEMPLATE, &e))?;
    let out = PathBuf::from("kind/cluster.yaml");
    let cluster: Cluster = parse_typed(TEMPLATE, &out, &text)?;
    let fail = |message: String| RenderError::Invariant {
        output: out.clone(),
        message,
    };
    if cluster.kind != "Cluster" || cluster.api_version != "kind.x-k8s.io/v1alpha4" {
        return Err(fail("expected a kind.x-k8s.io/v1alpha4 Cluster".into()));
    }
    if !cluster.nodes.iter().any(|n| n.role == "control-plane") {
        return Err(fail("a kind cluster needs a control-plane node".into()));
    }
    if !cluster
        .nodes
        .iter()
        .flat_map(|n| &n.extra_mounts)
        .any(|m| m.container_path == "/repo" && m.host_path == kind.platform_repo)
    {
        return Err(fail(
            "the platform repository must be mounted at /repo".into(),
        ));
    }
    tree.insert(out, super::emit(&cluster)?, false)?;
    Ok(())
}

/// kind's own rule for cluster names.
pub fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
}
