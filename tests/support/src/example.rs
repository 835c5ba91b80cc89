//! The example tenant repository rendered for production, as the bootstrap and Argo CD tests
//! start from it.

use std::path::Path;

use zt::credentials::Mode;
use zt::render::argocd::PlatformSource;
use zt::render::{self, ProductionRequest, Rendered, TemplateSource};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::TenantRepo;

use crate::workspace_root;

/// Where the example's root Application points Argo CD unless a test serves its own.
pub const PLATFORM_URL: &str = "https://github.com/zerotouch-example/zerotouch-platform.git";

/// Environment `dev` of the tenant repository at `repo`, rendered for production with `bundle`,
/// the example platform repo and credentials, and the platform read from `platform_url`.
pub fn production_dev(repo: &Path, bundle: &SecretsBundle, platform_url: &str) -> Rendered {
    let tenant = TenantRepo::open(repo).unwrap();
    let platform = RepoFiles::dir(&workspace_root().join("examples/platform-repo"));
    let creds = zt::examples::env().credentials(Mode::Production).unwrap();
    render::render_production(&ProductionRequest {
        tenant: &tenant,
        env: "dev",
        bundle: Some(bundle),
        platform_repo: Some(&platform),
        platform: PlatformSource {
            url: platform_url.into(),
            revision: "main".into(),
            overlay: render::DEFAULT_OVERLAY.replace("{env}", "dev"),
        },
        credentials: Some(&creds),
        templates: &TemplateSource::default(),
    })
    .unwrap()
}

/// [`production_dev`] of the example tenant repository.
pub fn example_production_dev(bundle: &SecretsBundle, platform_url: &str) -> Rendered {
    production_dev(
        &workspace_root().join("examples/tenant-repo"),
        bundle,
        platform_url,
    )
}
