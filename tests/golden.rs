//! Golden tests: the example tenant repositories render byte for byte to golden/<case>/.
//! Update only with `make golden`, and read the diff like code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zt::render::{self, Request, TemplateSource};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::TenantRepo;
use zt_test_support::{golden, workspace_root};

fn example_bundle() -> SecretsBundle {
    SecretsBundle::parse(zt::examples::SECRETS, Path::new(zt::examples::SECRETS_PATH)).unwrap()
}

fn render_case(tenant: &str, env: &str, platform: Option<&str>) -> BTreeMap<PathBuf, Vec<u8>> {
    let root = workspace_root();
    let tenant = TenantRepo::open(&root.join(tenant)).unwrap();
    let platform = platform.map(|p| RepoFiles::dir(&root.join(p)));
    let rendered = render::render(&Request {
        tenant: &tenant,
        env,
        bundle: &example_bundle(),
        platform_repo: platform.as_ref(),
        templates: &TemplateSource::default(),
    })
    .unwrap_or_else(|e| panic!("render failed: {e}"));
    rendered
        .tree
        .iter()
        .map(|(p, f)| (p.clone(), f.bytes.clone()))
        .collect()
}

#[test]
fn golden_dev_one_control_plane_two_workers_cilium() {
    let files = render_case(
        "examples/tenant-repo",
        "dev",
        Some("examples/platform-repo"),
    );
    golden::check_dir(&workspace_root().join("golden/dev"), &files)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn golden_edge_flannel_taints_custom_disks() {
    let files = render_case("examples/tenant-repo-flannel", "edge", None);
    golden::check_dir(&workspace_root().join("golden/edge-flannel"), &files)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let a = render_case(
        "examples/tenant-repo",
        "dev",
        Some("examples/platform-repo"),
    );
    let b = render_case(
        "examples/tenant-repo",
        "dev",
        Some("examples/platform-repo"),
    );
    assert_eq!(a, b);
}
