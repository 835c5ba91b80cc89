//! The preview patch set built into the binary (templates/patches/preview/*.yaml), used unless
//! `--patches DIR` names another set.

use std::path::PathBuf;

use super::{Overlay, load_set};
use crate::diag::Diagnostics;

/// How messages name the built-in files.
pub const EMBEDDED_DIR: &str = "<embedded>/templates/patches/preview";

/// `(file name, contents)` of every built-in preview patch, in application order.
pub const PREVIEW: &[(&str, &str)] = &[
    (
        "10-platform-repo-url.yaml",
        include_str!("../../../templates/patches/preview/10-platform-repo-url.yaml"),
    ),
    (
        "11-platform-repo-url-multi-source.yaml",
        include_str!("../../../templates/patches/preview/11-platform-repo-url-multi-source.yaml"),
    ),
    (
        "12-platform-repo-revision.yaml",
        include_str!("../../../templates/patches/preview/12-platform-repo-revision.yaml"),
    ),
    (
        "13-platform-repo-revision-multi-source.yaml",
        include_str!(
            "../../../templates/patches/preview/13-platform-repo-revision-multi-source.yaml"
        ),
    ),
    (
        "20-nats-memory-only.yaml",
        include_str!("../../../templates/patches/preview/20-nats-memory-only.yaml"),
    ),
    (
        "30-foundation-config-without-cilium.yaml",
        include_str!("../../../templates/patches/preview/30-foundation-config-without-cilium.yaml"),
    ),
    (
        "40-dragonfly-without-security-context.yaml",
        include_str!(
            "../../../templates/patches/preview/40-dragonfly-without-security-context.yaml"
        ),
    ),
    (
        "50-crossplane-resources.yaml",
        include_str!("../../../templates/patches/preview/50-crossplane-resources.yaml"),
    ),
    (
        "51-keda-resources.yaml",
        include_str!("../../../templates/patches/preview/51-keda-resources.yaml"),
    ),
    (
        "52-kagent-resources.yaml",
        include_str!("../../../templates/patches/preview/52-kagent-resources.yaml"),
    ),
];

/// The built-in preview patch set, parsed.
pub fn preview() -> Result<Vec<Overlay>, Diagnostics> {
    load_set(
        PREVIEW
            .iter()
            .map(|(name, text)| (PathBuf::from(EMBEDDED_DIR).join(name), (*text).to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_set_loads_and_matches_the_template_directory() {
        let set = preview().unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(set.len(), PREVIEW.len());
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/patches/preview");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = PREVIEW.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            on_disk, embedded,
            "every file in templates/patches/preview is embedded"
        );
    }
}
