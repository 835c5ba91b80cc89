//! The example built into the binary, so `kubectl zt render --example` shows real output with
//! no set-up: a tenant repository, a small platform repository, and a secrets bundle generated
//! once for this purpose. That bundle is public: never use it for a real cluster.

use crate::credentials::EnvSnapshot;
use crate::source::RepoFiles;

/// The environment `--example` renders.
pub const ENV: &str = "dev";

const TENANT_FILES: &[(&str, &str)] = &[
    (
        "environments/dev/talos-values.yaml",
        include_str!("../examples/tenant-repo/environments/dev/talos-values.yaml"),
    ),
    (
        "repositories/catalog-repo.yaml",
        include_str!("../examples/tenant-repo/repositories/catalog-repo.yaml"),
    ),
    (
        "repositories/zerotouch-tenants-repo.yaml",
        include_str!("../examples/tenant-repo/repositories/zerotouch-tenants-repo.yaml"),
    ),
    (
        "tenants/billing/overlays/dev/config.yaml",
        include_str!("../examples/tenant-repo/tenants/billing/overlays/dev/config.yaml"),
    ),
    (
        "tenants/catalog/config.yaml",
        include_str!("../examples/tenant-repo/tenants/catalog/config.yaml"),
    ),
    (
        "tenants/catalog/overlays/dev/config.yaml",
        include_str!("../examples/tenant-repo/tenants/catalog/overlays/dev/config.yaml"),
    ),
    (
        "tenants/identity-service/config.yaml",
        include_str!("../examples/tenant-repo/tenants/identity-service/config.yaml"),
    ),
];

const PLATFORM_FILES: &[(&str, &str)] = &[(
    "bootstrap/talos/templates/cilium-bootstrap.yaml",
    include_str!("../examples/platform-repo/bootstrap/talos/templates/cilium-bootstrap.yaml"),
)];

/// The example secrets bundle (public; for examples and tests only).
pub const SECRETS: &str = include_str!("../examples/example-secrets.yaml");
/// How messages name the example bundle.
pub const SECRETS_PATH: &str = "<example>/example-secrets.yaml";

/// The example secrets bundle, parsed.
pub fn bundle() -> Result<crate::talos::bundle::SecretsBundle, crate::diag::Diagnostics> {
    crate::talos::bundle::SecretsBundle::parse(SECRETS, std::path::Path::new(SECRETS_PATH))
}

pub fn tenant_repo() -> RepoFiles {
    RepoFiles::embedded("<example>/tenant-repo", TENANT_FILES)
}

pub fn platform_repo() -> RepoFiles {
    RepoFiles::embedded("<example>/platform-repo", PLATFORM_FILES)
}

/// Environment variables for the example: obviously fake values, so `--example` shows every
/// output (Secrets included) without touching real credentials.
pub fn env() -> EnvSnapshot {
    use crate::credentials::*;
    EnvSnapshot::from_pairs([
        (BOT_GITHUB_USERNAME, "zerotouch-example".to_string()),
        (BOT_GITHUB_TOKEN, "example-token-not-a-secret".to_string()),
        (TENANTS_REPO_NAME, "zerotouch-tenants".to_string()),
        (AWS_ACCESS_KEY_ID, "AKIAEXAMPLENOTAKEY00".to_string()),
        (
            AWS_SECRET_ACCESS_KEY,
            "example-aws-secret-not-a-secret".to_string(),
        ),
        (OPENAI_API_KEY, "sk-example-not-a-key".to_string()),
        (ANTHROPIC_API_KEY, "sk-ant-example-not-a-key".to_string()),
    ])
}
