//! `-o yaml`: the Kubernetes objects of a render as one multi-document stream, in apply order
//! ([`Rendered::apply_order`]), for `kubectl zt render ... -o yaml | kubectl apply -f -`.
//! Talos configs and the Kind config are not Kubernetes objects and are left out.

use super::{RenderError, Rendered};

/// Builds the stream. `include_secrets` adds the rendered Secrets (with their real values: the
/// stream is meant for a pipe into kubectl, never for a log).
pub fn apply_stream(rendered: &Rendered, include_secrets: bool) -> Result<String, RenderError> {
    crate::yaml::to_string_multi(&rendered.apply_order(include_secrets))
        .map_err(|e| RenderError::Emit(e.message))
}
