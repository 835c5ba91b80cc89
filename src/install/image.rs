//! Which Talos disk image is written: the Image Factory's metal image for the tenant's Talos
//! version and schematic, another URL, or a local file streamed over SSH.

use std::path::PathBuf;

use crate::redact;

/// The Image Factory's ID of the schematic without customizations ("vanilla"), used when
/// talos-values.yaml names none.
pub const DEFAULT_SCHEMATIC: &str =
    "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

/// The official Image Factory.
pub const FACTORY: &str = "https://factory.talos.dev";

/// The metal disk image (xz-compressed raw) of `version` (`v1.11.5`) with `schematic` for
/// `arch` (`amd64`, `arm64`).
pub fn factory_url(version: &str, schematic: Option<&str>, arch: &str) -> String {
    format!(
        "{FACTORY}/image/{}/{version}/metal-{arch}.raw.xz",
        schematic.unwrap_or(DEFAULT_SCHEMATIC)
    )
}

/// Where the image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Downloaded by the server itself (it has internet; the factory or `--talos-image-url`).
    Url(String),
    /// `--talos-image FILE`: streamed from here over SSH, for servers without internet.
    File(PathBuf),
}

impl std::fmt::Display for ImageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // A URL may carry credentials (a private mirror): never shown.
            ImageSource::Url(u) => f.write_str(&redact::url_credentials(u)),
            ImageSource::File(p) => write!(f, "{} (streamed over SSH)", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_url_uses_the_schematic_or_the_vanilla_one() {
        assert_eq!(
            factory_url("v1.11.5", None, "amd64"),
            "https://factory.talos.dev/image/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba/v1.11.5/metal-amd64.raw.xz"
        );
        assert!(
            factory_url("v1.12.0", Some("abc"), "arm64")
                .ends_with("/image/abc/v1.12.0/metal-arm64.raw.xz")
        );
        assert_eq!(
            ImageSource::Url("https://u:tok@mirror.example/t.raw.xz".into()).to_string(),
            "https://<redacted>@mirror.example/t.raw.xz"
        );
    }
}
