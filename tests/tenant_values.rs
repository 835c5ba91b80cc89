//! Every accepted and rejected `talos-values.yaml` is a fixture in tests/testdata/talos-values:
//! `valid-*.yaml` must load, `invalid-*.yaml` must fail with exactly the diagnostics in the
//! matching `.err` file (regenerate with `make golden`, then read the diff).

use std::fs;
use std::path::Path;

use zt::tenant::values;

const DIR: &str = "tests/testdata/talos-values";

fn fixtures(prefix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(prefix) && name.ends_with(".yaml")
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {prefix} fixtures");
    v
}

#[test]
fn valid_fixtures_load() {
    for path in fixtures("valid-") {
        let src = fs::read_to_string(&path).unwrap();
        if let Err(d) = values::parse(&src, Path::new("talos-values.yaml"), "test") {
            panic!("{} should load:\n{d}", path.display());
        }
    }
}

#[test]
fn invalid_fixtures_fail_with_the_expected_diagnostics() {
    let update = std::env::var_os("ZT_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for path in fixtures("invalid-") {
        let src = fs::read_to_string(&path).unwrap();
        let got = match values::parse(&src, Path::new("talos-values.yaml"), "test") {
            Ok(_) => "<loaded without error>\n".to_string(),
            Err(d) => format!("{d}\n"),
        };
        let err_path = path.with_extension("err");
        if update {
            fs::write(&err_path, &got).unwrap();
            continue;
        }
        let want = fs::read_to_string(&err_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- want\n{want}--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn values_flow_into_the_model_with_defaults() {
    let src = fs::read_to_string("tests/testdata/talos-values/valid-minimal.yaml").unwrap();
    let v = values::parse(&src, Path::new("v.yaml"), "dev").unwrap();
    assert_eq!(v.cluster.endpoint, "https://203.0.113.10:6443");
    assert_eq!(v.cluster.pod_subnet.to_string(), "10.244.0.0/16");
    assert_eq!(v.cluster.service_subnet.to_string(), "10.96.0.0/12");
    assert_eq!(v.cluster.dns_domain, "cluster.local");
    assert_eq!(v.cluster.cni, zt::tenant::model::Cni::Cilium);
    assert!(!v.cluster.allow_scheduling_on_control_planes);
    assert_eq!(v.controlplane.install_disk, "/dev/sda");
    assert_eq!(
        v.talos.installer_image,
        "ghcr.io/siderolabs/installer:v1.11.5"
    );
    assert!(v.workers.is_empty());

    let src =
        fs::read_to_string("tests/testdata/talos-values/valid-ipv6-and-taint-forms.yaml").unwrap();
    let v = values::parse(&src, Path::new("v.yaml"), "dev").unwrap();
    assert_eq!(v.cluster.endpoint, "https://[2001:db8::10]:6443");
    assert_eq!(v.workers[0].labels["quoted-number"], "0755");
    assert_eq!(v.workers[0].labels["single"], "yes");
    assert_eq!(
        v.controlplane.taints[0].key,
        "node-role.kubernetes.io/control-plane"
    );
    assert_eq!(v.workers[0].taints[0].value, "gpu");
}

#[test]
fn missing_environment_names_the_path_and_lists_what_exists() {
    let err = zt::tenant::load_env(Path::new("examples/tenant-repo"), "prod").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("examples/tenant-repo/environments/prod/talos-values.yaml"),
        "{msg}"
    );
    assert!(msg.contains("environments that exist: dev"), "{msg}");
    let err = zt::tenant::load_env(Path::new("does/not/exist"), "dev").unwrap_err();
    assert!(
        err.to_string().contains("tenant repository not found"),
        "{err}"
    );
}

#[test]
fn the_talos_version_picks_its_line_and_its_output_shape() {
    use zt::tenant::model::{ConfigShape, TALOS_LINES};
    for (fixture, minor, shape, image) in [
        (
            "valid-minimal.yaml",
            11,
            ConfigShape::SingleDocument,
            "ghcr.io/siderolabs/installer:v1.11.5",
        ),
        (
            "valid-talos-1.12.yaml",
            12,
            ConfigShape::MultiDocument,
            "ghcr.io/siderolabs/installer:v1.12.7",
        ),
        (
            "valid-talos-1.13.yaml",
            13,
            ConfigShape::MultiDocument,
            "ghcr.io/siderolabs/installer:v1.13.9",
        ),
    ] {
        let src = fs::read_to_string(Path::new(DIR).join(fixture)).unwrap();
        let v = values::parse(&src, Path::new("v.yaml"), "dev").unwrap();
        assert_eq!(v.talos.line.minor, minor, "{fixture}");
        assert_eq!(v.talos.line.shape, shape, "{fixture}");
        assert_eq!(v.talos.installer_image, image, "{fixture}");
    }
    // The support matrix from the Talos docs, one row per line.
    let matrix: Vec<(u32, (u32, u32))> = TALOS_LINES
        .iter()
        .map(|l| (l.minor, l.kubernetes_minors))
        .collect();
    assert_eq!(matrix, [(11, (29, 34)), (12, (30, 35)), (13, (31, 36))]);
}

#[test]
fn a_schematic_gives_the_image_factory_installer_unless_an_image_is_given() {
    let src = fs::read_to_string(Path::new(DIR).join("valid-schematic.yaml")).unwrap();
    let v = values::parse(&src, Path::new("v.yaml"), "dev").unwrap();
    let id = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";
    assert_eq!(v.talos.schematic.as_deref(), Some(id));
    assert_eq!(
        v.talos.installer_image,
        format!("factory.talos.dev/metal-installer/{id}:v1.12.7")
    );
    // An explicit installer image wins over the schematic.
    let src = src.replace(
        "  schematic:",
        "  installer_image: registry.example.com/talos/installer:v1.12.7\n  schematic:",
    );
    let v = values::parse(&src, Path::new("v.yaml"), "dev").unwrap();
    assert_eq!(v.talos.schematic.as_deref(), Some(id));
    assert_eq!(
        v.talos.installer_image,
        "registry.example.com/talos/installer:v1.12.7"
    );
}
