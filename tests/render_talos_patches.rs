//! Talos config patches from talos-values.yaml: applied environment → role → node after the
//! templates, both RFC 6902 and Talos's strategic merge, and every patch that does nothing, does not
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
fn strategic_merge_is_talos_merge_mappings_merge_and_lists_append() {
    let src = with(
        r#"worker_patches:
  - machine:
      nodeLabels:
        zone: "a"
      certSANs:
        - api.example.com
controlplane_patches:
  - machine:
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
    assert_eq!(w1["machine"]["certSANs"], json!(["api.example.com"]));
    // Lists append, as with talosctl: the control plane keeps its own SANs (its IP).
    let cp = doc(&r, "cp01");
    assert_eq!(
        cp["machine"]["certSANs"],
        json!(["203.0.113.10", "api.example.com"])
    );
}

#[test]
fn subnets_are_replaced_not_appended() {
    let src = with(
        r#"patches:
  - cluster:
      network:
        podSubnets: [10.32.0.0/16]
"#,
    );
    let r = render(&src).unwrap();
    for node in ["cp01", "w1"] {
        assert_eq!(
            doc(&r, node)["cluster"]["network"]["podSubnets"],
            json!(["10.32.0.0/16"]),
            "{node}"
        );
    }
}

#[test]
fn patch_delete_removes_a_key_and_a_list_item() {
    let src = with(
        r#"controlplane_patches:
  - cluster:
      apiServer:
        admissionControl:
          - name: PodSecurity
            $patch: delete
"#,
    );
    // w1's own patch: w2 has no `tier` label, and a delete that finds nothing is an error.
    let src = src.replace(
        "      tier: \"db\"\n",
        "      tier: \"db\"\n    patches:\n      - machine:\n          nodeLabels:\n            tier:\n              $patch: delete\n",
    );
    let r = render(&src).unwrap();
    let w1 = doc(&r, "w1");
    assert!(w1["machine"]["nodeLabels"].get("tier").is_none(), "{w1}");
    let cp = doc(&r, "cp01");
    assert!(
        cp["cluster"]["apiServer"].get("admissionControl").is_none(),
        "{}",
        cp["cluster"]["apiServer"]
    );
}

#[test]
fn a_delete_that_finds_nothing_is_an_error_at_the_patch() {
    let src = with(
        r#"patches:
  - machine:
      nodeLabels:
        nothere:
          $patch: delete
"#,
    );
    let e = render(&src).unwrap_err();
    assert_eq!(
        e,
        "talos-values.yaml:18:5: patches[0]: on node `cp01`: the patch does not merge at \
         `machine.nodeLabels.nothere`: nothing here to delete"
    );
}

#[test]
fn fields_our_templates_never_write_can_be_patched_in() {
    let src = with(
        r#"patches:
  - machine:
      files:
        - content: "[plugins]\n"
          permissions: 0o644
          path: /var/cri/conf.d/extra.toml
          op: create
      kubelet:
        extraMounts:
          - destination: /var/lib/longhorn
            type: bind
            source: /var/lib/longhorn
            options: [bind, rshared, rw]
        extraConfig:
          maxPods: 250
      kernel:
        modules:
          - name: br_netfilter
      nodeAnnotations:
        example.com/owner: platform
    cluster:
      apiServer:
        extraArgs:
          feature-gates: ExampleGate=true
      proxy:
        mode: ipvs
      coreDNS:
        disabled: true
"#,
    );
    let r = render(&src).unwrap();
    let cp = doc(&r, "cp01");
    assert_eq!(cp["machine"]["files"][0]["permissions"], json!(0o644));
    assert_eq!(
        cp["machine"]["kubelet"]["extraConfig"],
        json!({"maxPods": 250})
    );
    assert_eq!(
        cp["machine"]["kernel"]["modules"][0]["name"],
        "br_netfilter"
    );
    assert_eq!(
        cp["cluster"]["apiServer"]["extraArgs"]["feature-gates"],
        "ExampleGate=true"
    );
    // The patch gives a worker only what it says; the control plane keeps its image.
    let w1 = doc(&r, "w1");
    assert_eq!(
        w1["cluster"]["apiServer"],
        json!({"extraArgs": {"feature-gates": "ExampleGate=true"}})
    );
    assert!(
        cp["cluster"]["apiServer"]["image"]
            .as_str()
            .is_some_and(|i| i.contains("kube-apiserver")),
        "{}",
        cp["cluster"]["apiServer"]
    );
}

#[test]
fn time_and_registries_are_refused_from_talos_1_12() {
    let patch = r#"patches:
  - machine:
      time:
        servers: [time.example.com]
"#;
    render(&with(patch)).unwrap();
    let e = render(&with(patch).replace("v1.11.5", "v1.12.7")).unwrap_err();
    assert!(
        e.contains("machine.time is deprecated in Talos v1.12: write a TimeSyncConfig document"),
        "{e}"
    );
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

#[test]
fn control_plane_only_settings_on_a_worker_are_refused_as_talos_refuses_them() {
    let src = with(
        r#"patches:
  - cluster:
      etcd:
        advertisedSubnets: [203.0.113.0/24]
"#,
    );
    let e = render(&src).unwrap_err();
    assert_eq!(
        e,
        "talos-values.yaml:18:5: patches[0]: on node `w1`: the patched machine config is \
         invalid: cluster.etcd is for control-plane nodes only (Talos refuses it on a worker)"
    );
    let cp_only = src.replace("patches:", "controlplane_patches:");
    render(&cp_only).unwrap();
}
