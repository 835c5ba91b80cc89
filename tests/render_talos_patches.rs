//! Talos config patches from talos-values.yaml: applied environment → role → node after the
//! templates, both RFC 6902 and strategic merge, and every patch that does nothing, does not
//! apply or makes a config our checks refuse is an error at the patch's position.

use std::path::Path;

use serde_json::{Value, json};
use zt::render::{self, Rendered, TemplateSource};
use zt::tenant::EnvValues;
use zt::tenant::values;

const BASE: &str = r#"controlplane:
  name: cp01
  ip: "203.0.113.10"
workers:
  - name: w1
    ip: "203.0.113.11"
    labels:
      tier: "db"
  - name: w2
    ip: "203.0.113.12"
cluster:
  name: c1
talos:
  version: v1.11.5
kubernetes:
  version: v1.34.2
"#;

fn load(src: &str) -> EnvValues {
    values::parse(src, Path::new("talos-values.yaml"), "test")
        .unwrap_or_else(|d| panic!("should load:\n{d}"))
}

fn render(src: &str) -> Result<Rendered, String> {
    let v = load(src);
    render::render_values(
        &v,
        &zt::examples::bundle().unwrap(),
        None,
        &TemplateSource::default(),
    )
    .map_err(|e| e.to_string())
}

fn doc(r: &Rendered, node: &str) -> Value {
    let f = r
        .tree
        .get(Path::new(&format!("talos/{node}.yaml")))
        .unwrap_or_else(|| panic!("{node} not rendered"));
    // The first document is v1alpha1 on every line.
    let docs: Vec<Value> =
        zt::yaml::from_str_multi(std::str::from_utf8(&f.bytes).unwrap()).unwrap();
    docs.into_iter().next().unwrap()
}

/// `BASE` with `extra` top-level YAML appended and `w2:` patches inserted.
fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn patches_apply_environment_then_role_then_node_and_the_node_wins() {
    let src = with(
        r#"patches:
  - machine:
      install:
        disk: /dev/sdb
      sysctls:
        vm.max_map_count: "262144"
controlplane_patches:
  - machine:
      install:
        disk: /dev/sdc
worker_patches:
  - - op: replace
      path: /machine/install/disk
      value: /dev/sdd
"#,
    )
    .replace(
        "  - name: w2\n    ip: \"203.0.113.12\"\n",
        "  - name: w2\n    ip: \"203.0.113.12\"\n    patches:\n      - machine:\n          install:\n            disk: /dev/sde\n",
    );
    let r = render(&src).unwrap();
    let (cp, w1, w2) = (doc(&r, "cp01"), doc(&r, "w1"), doc(&r, "w2"));
    assert_eq!(cp["machine"]["install"]["disk"], "/dev/sdc");
    assert_eq!(w1["machine"]["install"]["disk"], "/dev/sdd");
    assert_eq!(w2["machine"]["install"]["disk"], "/dev/sde");
    // The environment patch reaches every node, whatever later levels change.
    for d in [&cp, &w1, &w2] {
        assert_eq!(d["machine"]["sysctls"]["vm.max_map_count"], "262144");
    }
}

#[test]
fn strategic_merge_merges_mappings_and_replaces_lists() {
    let src = with(
        r#"worker_patches:
  - machine:
      nodeLabels:
        zone: "a"
      certSANs:
        - api.example.com
"#,
    );
    let r = render(&src).unwrap();
    let w1 = doc(&r, "w1");
    // Mappings merge: the tenant's label stays next to the patch's.
    assert_eq!(
        w1["machine"]["nodeLabels"],
        json!({"tier": "db", "zone": "a"})
    );
    // Lists replace whole.
    assert_eq!(w1["machine"]["certSANs"], json!(["api.example.com"]));
    let cp = doc(&r, "cp01");
    assert_ne!(cp["machine"]["certSANs"], json!(["api.example.com"]));
}

#[test]
fn rfc6902_ops_add_and_test() {
    let src = with(
        r#"controlplane_patches:
  - - op: test
      path: /machine/install/disk
      value: /dev/sda
    - op: add
      path: /machine/nodeLabels/extra
      value: "yes"
"#,
    );
    let r = render(&src).unwrap();
    assert_eq!(doc(&r, "cp01")["machine"]["nodeLabels"]["extra"], "yes");
}

#[test]
fn patched_output_is_deterministic() {
    let src = with(
        r#"patches:
  - machine:
      sysctls:
        net.core.somaxconn: "65535"
        vm.max_map_count: "262144"
"#,
    );
    let a = render(&src).unwrap();
    let b = render(&src).unwrap();
    for (p, f) in a.tree.iter() {
        assert_eq!(f.bytes, b.tree.get(p).unwrap().bytes, "{}", p.display());
    }
}

#[test]
fn a_patch_that_changes_nothing_is_an_error_at_its_position() {
    let src = with(
        r#"worker_patches:
  - machine:
      install:
        disk: /dev/sda
"#,
    );
    let e = render(&src).unwrap_err();
    assert_eq!(
        e,
        "talos-values.yaml:18:5: worker_patches[0]: this patch changes nothing"
    );
}

#[test]
fn a_shared_patch_may_leave_some_nodes_as_they_were() {
    // w1 already has the disk the environment patch sets; the patch still does its work on
    // the other nodes, so it is not dead.
    let src = with(
        r#"patches:
  - machine:
      install:
        disk: /dev/nvme0n1
"#,
    )
    .replace(
        "  - name: w1\n",
        "  - name: w1\n    install_disk: /dev/nvme0n1\n",
    );
    let r = render(&src).unwrap();
    for node in ["cp01", "w1", "w2"] {
        assert_eq!(doc(&r, node)["machine"]["install"]["disk"], "/dev/nvme0n1");
    }
}

#[test]
fn every_dead_patch_is_reported_and_worker_patches_need_workers() {
    let src = r#"controlplane:
  name: cp01
  ip: "203.0.113.10"
  patches:
    - - op: test
        path: /machine/type
        value: controlplane
cluster:
  name: c1
talos:
  version: v1.11.5
kubernetes:
  version: v1.34.2
worker_patches:
  - machine:
      install:
        disk: /dev/sdb
"#;
    let e = render(src).unwrap_err();
    assert_eq!(
        e,
        "talos-values.yaml:5:7: controlplane.patches[0]: this patch changes nothing\n\
         talos-values.yaml:15:5: worker_patches[0]: this patch applies to no node (there are no workers)"
    );
}

#[test]
fn an_rfc6902_path_that_does_not_exist_is_an_error() {
    let src = with(
        r#"patches:
  - - op: replace
      path: /machine/nothere/disk
      value: /dev/sdb
"#,
    );
    let e = render(&src).unwrap_err();
    assert!(
        e.starts_with("talos-values.yaml:18:5: patches[0]: on node `cp01`: operation [0]"),
        "{e}"
    );
    assert!(e.contains("the path does not exist"), "{e}");
}

#[test]
fn a_failed_rfc6902_test_is_an_error() {
    let src = with(
        r#"patches:
  - - op: test
      path: /machine/install/disk
      value: /dev/nvme9n9
    - op: replace
      path: /machine/install/disk
      value: /dev/sdb
"#,
    );
    let e = render(&src).unwrap_err();
    assert!(e.contains("the `test` value does not match"), "{e}");
    assert!(!e.contains("nvme9n9"), "values are never quoted: {e}");
}

#[test]
fn a_worker_patch_cannot_add_a_ca_private_key() {
    let secret = "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t";
    let src = with(&format!(
        "worker_patches:\n  - machine:\n      ca:\n        key: \"{secret}\"\n"
    ));
    let e = render(&src).unwrap_err();
    assert!(
        e.starts_with("talos-values.yaml:18:5: worker_patches[0]: on node `w1`:"),
        "{e}"
    );
    assert!(e.contains("must not carry machine.ca.key"), "{e}");
    assert!(!e.contains(secret), "the key is never quoted: {e}");
}

#[test]
fn a_patch_cannot_bring_back_a_deprecated_field_on_1_12() {
    let src = with(
        r#"patches:
  - machine:
      network:
        hostname: other
"#,
    )
    .replace("v1.11.5", "v1.12.7");
    let e = render(&src).unwrap_err();
    assert!(
        e.starts_with("talos-values.yaml:18:5: patches[0]: on node `cp01`:"),
        "{e}"
    );
    assert!(
        e.contains("machine.network.hostname is deprecated in Talos v1.12"),
        "{e}"
    );
    // The same patch on v1.11 is a valid hostname change but fails our own node check.
    let e = render(&src.replace("v1.12.7", "v1.11.5")).unwrap_err();
    assert!(e.contains("machine.network.hostname must be `cp01`"), "{e}");
}

#[test]
fn an_invalid_result_blames_the_patch_that_made_it_invalid() {
    let src = with(
        r#"patches:
  - machine:
      notAField: 1
  - machine:
      install:
        disk: /dev/sdb
"#,
    );
    let e = render(&src).unwrap_err();
    assert!(
        e.starts_with("talos-values.yaml:18:5: patches[0]: on node `cp01`: the patched machine config is invalid:"),
        "{e}"
    );
    assert!(e.contains("notAField"), "{e}");
}
