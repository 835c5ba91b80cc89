//! What users rely on in the rendered Talos configs: every tenant value lands where Talos reads
//! it, every bundle value where Talos expects it, workers hold no CA keys, and no value can
//! change the structure of a document.

use std::fs;
use std::path::Path;

use serde_json::Value;
use zt::render::{self, RenderError, Rendered, TemplateSource};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::{self, EnvValues};
use zt_test_support::workspace_root;

fn bundle() -> SecretsBundle {
    zt::examples::bundle().unwrap()
}

fn values(repo: &str, env: &str) -> EnvValues {
    tenant::load_env(&workspace_root().join(repo), env).unwrap()
}

fn render_with(
    v: &EnvValues,
    platform: Option<&RepoFiles>,
    templates: &TemplateSource,
) -> Result<Rendered, RenderError> {
    render::render_values(v, &bundle(), platform, templates)
}

fn doc(r: &Rendered, path: &str) -> Value {
    let f = r
        .tree
        .get(Path::new(path))
        .unwrap_or_else(|| panic!("{path} not rendered"));
    zt::yaml::from_str(std::str::from_utf8(&f.bytes).unwrap()).unwrap()
}

#[test]
fn every_tenant_value_flows_into_the_machine_configs() {
    let v = values("examples/tenant-repo-flannel", "edge");
    let r = render_with(&v, None, &TemplateSource::default()).unwrap();
    let cp = doc(&r, "talos/edge-cp.yaml");
    let w = doc(&r, "talos/edge-storage.yaml");
    assert_eq!(cp["machine"]["type"], "controlplane");
    assert_eq!(w["machine"]["type"], "worker");
    assert_eq!(cp["machine"]["network"]["hostname"], "edge-cp");
    assert_eq!(w["machine"]["network"]["hostname"], "edge-storage");
    assert_eq!(
        cp["machine"]["network"]["nameservers"],
        serde_json::json!(["1.1.1.1", "9.9.9.9"])
    );
    assert_eq!(cp["machine"]["install"]["disk"], "/dev/nvme0n1");
    assert_eq!(w["machine"]["install"]["disk"], "/dev/nvme1n1");
    let installer = "factory.talos.dev/installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.11.5";
    assert_eq!(w["machine"]["install"]["image"], installer);
    assert_eq!(
        w["machine"]["kubelet"]["image"],
        "ghcr.io/siderolabs/kubelet:v1.33.6"
    );
    assert_eq!(
        w["machine"]["nodeLabels"]["workload.zerotouch.dev/databases"],
        "true"
    );
    assert_eq!(w["machine"]["nodeLabels"]["workload-type"], "stateful");
    assert_eq!(
        w["machine"]["nodeTaints"]["workload.zerotouch.dev/databases"],
        "true:NoSchedule"
    );
    assert_eq!(
        w["machine"]["nodeTaints"]["dedicated"],
        "storage:PreferNoSchedule"
    );
    for d in [&cp, &w] {
        assert_eq!(d["cluster"]["clusterName"], "zerotouch-edge-01");
        assert_eq!(
            d["cluster"]["controlPlane"]["endpoint"],
            "https://edge-api.example.com:6443"
        );
        assert_eq!(
            d["cluster"]["network"]["podSubnets"],
            serde_json::json!(["10.42.0.0/16"])
        );
        assert_eq!(
            d["cluster"]["network"]["serviceSubnets"],
            serde_json::json!(["10.43.0.0/16"])
        );
        assert_eq!(d["cluster"]["network"]["dnsDomain"], "edge.local");
        // flannel: Talos's default CNI, so no cni block at all.
        assert!(d["cluster"]["network"].get("cni").is_none());
    }
    // kube-proxy is deployed by the control plane: only its config says which image.
    assert_eq!(
        cp["cluster"]["proxy"]["image"],
        "registry.k8s.io/kube-proxy:v1.33.6"
    );
    assert!(
        w["cluster"].get("proxy").is_none(),
        "workers carry no proxy"
    );
    assert_eq!(
        cp["cluster"]["apiServer"]["certSANs"],
        serde_json::json!(["198.51.100.20", "edge-api.example.com"])
    );
    assert_eq!(
        cp["cluster"]["apiServer"]["image"],
        "registry.k8s.io/kube-apiserver:v1.33.6"
    );
    assert_eq!(cp["cluster"]["allowSchedulingOnControlPlanes"], true);
}

#[test]
fn cilium_disables_the_default_cni_and_inlines_the_platform_manifest() {
    let v = values("examples/tenant-repo", "dev");
    let platform = RepoFiles::dir(&workspace_root().join("examples/platform-repo"));
    let r = render_with(&v, Some(&platform), &TemplateSource::default()).unwrap();
    let cp = doc(&r, "talos/cp01-main.yaml");
    assert_eq!(cp["cluster"]["network"]["cni"]["name"], "none");
    assert_eq!(cp["cluster"]["proxy"]["disabled"], true);
    let manifest = fs::read_to_string(
        workspace_root()
            .join("examples/platform-repo/bootstrap/talos/templates/cilium-bootstrap.yaml"),
    )
    .unwrap();
    assert_eq!(
        cp["cluster"]["inlineManifests"][0]["name"],
        "cilium-bootstrap"
    );
    assert_eq!(
        cp["cluster"]["inlineManifests"][0]["contents"],
        manifest.as_str()
    );
    assert_eq!(cp["cluster"]["allowSchedulingOnControlPlanes"], false);
    assert_eq!(
        cp["cluster"]["controlPlane"]["endpoint"],
        "https://203.0.113.10:6443"
    );
    let w = doc(&r, "talos/worker01.yaml");
    assert!(
        w["cluster"].get("inlineManifests").is_none(),
        "workers get no inline manifests"
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    // Without the platform repo the render still works, and says what is missing.
    let r = render_with(&v, None, &TemplateSource::default()).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("cilium-bootstrap.yaml")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn bundle_values_land_where_talos_expects_them_and_workers_get_no_keys() {
    let b = bundle();
    let v = values("examples/tenant-repo", "dev");
    let r = render_with(&v, None, &TemplateSource::default()).unwrap();
    let cp = doc(&r, "talos/cp01-main.yaml");
    assert_eq!(cp["machine"]["token"], b.trustd_info.token.expose());
    assert_eq!(cp["machine"]["ca"]["crt"], b.certs.os.crt.as_str());
    assert_eq!(cp["machine"]["ca"]["key"], b.certs.os.key.expose());
    assert_eq!(cp["cluster"]["id"], b.cluster.id.expose());
    assert_eq!(cp["cluster"]["secret"], b.cluster.secret.expose());
    assert_eq!(cp["cluster"]["token"], b.secrets.bootstrap_token.expose());
    assert_eq!(
        cp["cluster"]["secretboxEncryptionSecret"],
        b.secrets.secretbox_encryption_secret.expose()
    );
    assert_eq!(cp["cluster"]["ca"]["key"], b.certs.k8s.key.expose());
    assert_eq!(
        cp["cluster"]["aggregatorCA"]["key"],
        b.certs.k8s_aggregator.key.expose()
    );
    assert_eq!(
        cp["cluster"]["serviceAccount"]["key"],
        b.certs.k8s_service_account.key.expose()
    );
    assert_eq!(
        cp["cluster"]["etcd"]["ca"]["crt"],
        b.certs.etcd.crt.as_str()
    );
    assert_eq!(
        cp["cluster"]["etcd"]["ca"]["key"],
        b.certs.etcd.key.expose()
    );

    for w in ["talos/worker01.yaml", "talos/worker02.yaml"] {
        let w = doc(&r, w);
        assert_eq!(w["machine"]["ca"]["crt"], b.certs.os.crt.as_str());
        assert_eq!(w["machine"]["ca"]["key"], "");
        assert_eq!(w["cluster"]["ca"]["key"], "");
        assert_eq!(w["cluster"]["token"], b.secrets.bootstrap_token.expose());
        for absent in [
            "aggregatorCA",
            "serviceAccount",
            "etcd",
            "secretboxEncryptionSecret",
            "apiServer",
        ] {
            assert!(
                w["cluster"].get(absent).is_none(),
                "worker carries cluster.{absent}"
            );
        }
        let text = serde_json::to_string(&w).unwrap();
        for key in [
            &b.certs.os.key,
            &b.certs.k8s.key,
            &b.certs.etcd.key,
            &b.certs.k8s_aggregator.key,
            &b.certs.k8s_service_account.key,
        ] {
            assert!(
                !text.contains(key.expose()),
                "a CA private key reached a worker"
            );
        }
    }
    for (path, file) in r.tree.iter() {
        assert!(
            file.secret,
            "{} holds secrets and must be written 0600",
            path.display()
        );
    }
}

#[test]
fn talosconfig_points_at_the_control_plane_with_the_os_ca() {
    let b = bundle();
    let v = values("examples/tenant-repo", "dev");
    let r = render_with(&v, None, &TemplateSource::default()).unwrap();
    let tc = doc(&r, "talos/talosconfig");
    assert_eq!(tc["context"], "zerotouch-dev-01");
    let ctx = &tc["contexts"]["zerotouch-dev-01"];
    assert_eq!(ctx["endpoints"], serde_json::json!(["203.0.113.10"]));
    assert_eq!(ctx["ca"], b.certs.os.crt.as_str());
    let admin = zt::talos::pki::admin_client_cert(&b).unwrap();
    assert_eq!(ctx["crt"], admin.crt.as_str());
    assert_eq!(ctx["key"], admin.key.expose());
}

/// Values are validated on load, but templates must be safe even for values that got past
/// validation: auto-escaping writes every value as a quoted scalar.
#[test]
fn hostile_values_cannot_change_the_document_structure() {
    let mut v = values("examples/tenant-repo", "dev");
    let hostile = [
        "a\nkind: ClusterRole",
        "x: y",
        "# comment",
        "---",
        "{{ secrets.os.key }}",
        "\"true\"",
        "true",
        "'; rm -rf /",
        "- item",
        "&anchor *alias",
        "multi\nline: [1]\n---\nkind: Secret",
    ];
    for (i, h) in hostile.iter().enumerate() {
        v.workers[0]
            .labels
            .insert(format!("k{i}"), (*h).to_string());
    }
    v.cluster.name = "evil\nmachine:\n  type: controlplane".into();
    let r = render_with(&v, None, &TemplateSource::default()).unwrap();
    let f = r.tree.get(Path::new("talos/worker01.yaml")).unwrap();
    let text = std::str::from_utf8(&f.bytes).unwrap();
    let docs: Vec<Value> = zt::yaml::from_str_multi(text).unwrap();
    assert_eq!(docs.len(), 1, "a value started a new document");
    let w = &docs[0];
    for (i, h) in hostile.iter().enumerate() {
        assert_eq!(
            w["machine"]["nodeLabels"][format!("k{i}")],
            *h,
            "label k{i} changed"
        );
    }
    assert_eq!(w["machine"]["type"], "worker");
    assert_eq!(
        w["cluster"]["clusterName"],
        "evil\nmachine:\n  type: controlplane"
    );
    let keys: Vec<&String> = w.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["version", "debug", "machine", "cluster"]);
}

/// `template` with `from` replaced; fails loudly when `from` is not in it, so a test can never
/// silently exercise the unchanged template.
fn edit(template: &str, from: &str, to: &str) -> String {
    assert!(
        template.contains(from),
        "pattern `{from}` is not in the template"
    );
    template.replace(from, to)
}

fn override_dir(template: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("talos")).unwrap();
    fs::write(dir.path().join("talos/machine.yaml"), template).unwrap();
    dir
}

#[test]
fn template_overrides_are_used_and_checked() {
    let v = values("examples/tenant-repo", "dev");
    let embedded = zt::render::templates::EMBEDDED[0].1;

    // A working override is used.
    let dir = override_dir(&edit(embedded, "debug: false", "debug: true"));
    let r = render_with(
        &v,
        None,
        &TemplateSource {
            override_dir: Some(dir.path().into()),
        },
    )
    .unwrap();
    assert_eq!(doc(&r, "talos/worker01.yaml")["debug"], true);

    // A typo in a field name is caught by the typed model.
    let dir = override_dir(&edit(embedded, "stableHostname:", "stableHostnme:"));
    let err = render_with(
        &v,
        None,
        &TemplateSource {
            override_dir: Some(dir.path().into()),
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("talos/machine.yaml") && msg.contains("stableHostnme"),
        "{msg}"
    );

    // A syntax error names the template and the line.
    let dir = override_dir("version: {{ oops\n");
    let err = render_with(
        &v,
        None,
        &TemplateSource {
            override_dir: Some(dir.path().into()),
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, RenderError::Template { line: Some(1), .. }),
        "{err}"
    );

    // An undefined variable is an error, not an empty string.
    let dir = override_dir(&edit(
        embedded,
        "{{ node.install_disk }}",
        "{{ node.instal_disk }}",
    ));
    let err = render_with(
        &v,
        None,
        &TemplateSource {
            override_dir: Some(dir.path().into()),
        },
    )
    .unwrap_err();
    assert!(matches!(err, RenderError::Template { .. }), "{err}");

    // A template that hands a worker the control-plane secrets is refused.
    let dir = override_dir(&edit(
        embedded,
        "{% if node.controlplane %}\n  secretboxEncryptionSecret",
        "{% if true %}\n  secretboxEncryptionSecret",
    ));
    let err = render_with(
        &v,
        None,
        &TemplateSource {
            override_dir: Some(dir.path().into()),
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            RenderError::Invariant { .. } | RenderError::Output { .. }
        ),
        "{err}"
    );
}

#[test]
fn a_missing_cilium_manifest_is_an_error_naming_the_file() {
    let v = values("examples/tenant-repo", "dev");
    let empty = tempfile::tempdir().unwrap();
    let err = render_with(
        &v,
        Some(&RepoFiles::dir(empty.path())),
        &TemplateSource::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("bootstrap/talos/templates/cilium-bootstrap.yaml"),
        "{err}"
    );
}

#[test]
fn each_talos_lines_shape_is_enforced_on_override_templates() {
    use zt_test_support::talos_lines::{LATER_LINES, example_on_line};
    let embedded = zt::render::templates::EMBEDDED[0].1;
    let copy = example_on_line("examples/tenant-repo-flannel", "edge", &LATER_LINES[0]);
    let v12 = tenant::load_env(copy.path(), "edge").unwrap();
    let v11 = values("examples/tenant-repo-flannel", "edge");
    let render = |v: &EnvValues, template: &str| {
        let dir = override_dir(template);
        render_with(
            v,
            None,
            &TemplateSource {
                override_dir: Some(dir.path().into()),
            },
        )
    };

    // The embedded template renders both shapes.
    let r = render(&v12, embedded).unwrap();
    let text = std::str::from_utf8(&r.tree.get(Path::new("talos/edge-cp.yaml")).unwrap().bytes)
        .unwrap()
        .to_string();
    let docs: Vec<Value> = zt::yaml::from_str_multi(&text).unwrap();
    let kinds: Vec<&str> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or("v1alpha1"))
        .collect();
    assert_eq!(kinds, ["v1alpha1", "HostnameConfig", "ResolverConfig"]);
    assert_eq!(docs[1]["hostname"], "edge-cp");
    assert_eq!(docs[2]["nameservers"][1]["address"], "9.9.9.9");
    assert!(docs[0]["machine"].get("network").is_none(), "{text}");
    assert!(render(&v11, embedded).is_ok());

    // Talos 1.12: a legacy hostname (next to HostnameConfig) is refused, naming the field.
    let legacy = edit(
        embedded,
        "{% if not talos.multidoc %}\n  network:",
        "{% if true %}\n  network:",
    );
    let err = render(&v12, &legacy).unwrap_err();
    assert!(
        matches!(err, RenderError::Invariant { .. })
            && err
                .to_string()
                .contains("machine.network.hostname is deprecated"),
        "{err}"
    );
    // A misspelled field of a 1.12 document is caught by the typed model, at its line in the
    // whole stream.
    let typo = edit(
        embedded,
        "hostname: {{ node.name }}\n{% if node.nameservers",
        "hostnme: {{ node.name }}\n{% if node.nameservers",
    );
    let err = render(&v12, &typo).unwrap_err();
    match &err {
        RenderError::Output {
            pos: Some(p),
            message,
            ..
        } => {
            assert!(message.contains("hostnme"), "{err}");
            // The line in the rendered stream (the last document's fifth line), not in its
            // own document.
            assert!(p.line > 80 && p.col == 1, "{err}");
        }
        _ => panic!("{err}"),
    }
    // A document kind we do not write is refused rather than passed through unchecked.
    let unknown = format!("{embedded}---\napiVersion: v1alpha1\nkind: TimeSyncConfig\n");
    let err = render(&v12, &unknown).unwrap_err();
    assert!(
        err.to_string().contains("HostnameConfig or ResolverConfig"),
        "{err}"
    );
    // Talos 1.11 reads one document: a 1.12 document in its config is refused.
    let both = edit(
        embedded,
        "{% if talos.multidoc %}\n---",
        "{% if true %}\n---",
    );
    let err = render(&v11, &both).unwrap_err();
    assert!(
        err.to_string().contains("reads one v1alpha1 document"),
        "{err}"
    );
}
