//! Conformance with upstream Talos, when ../shared is present (CI has it): every rendered
//! machine config validates against the Talos v1.11 JSON schema, one document at a time, and has
//! the key structure of real `talosctl gen config` output. Skips without ../shared.

use std::collections::BTreeSet;

use serde_json::Value;
use zt::render::{self, TemplateSource};
use zt::source::RepoFiles;
use zt_test_support::{shared_dir, workspace_root};

fn rendered_configs() -> Vec<(String, Value)> {
    let bundle = zt::examples::bundle().unwrap();
    let mut out = Vec::new();
    for (repo, env, platform) in [
        (
            "examples/tenant-repo",
            "dev",
            Some("examples/platform-repo"),
        ),
        ("examples/tenant-repo-flannel", "edge", None),
    ] {
        let values = zt::tenant::load_env(&workspace_root().join(repo), env).unwrap();
        let platform = platform.map(|p| RepoFiles::dir(&workspace_root().join(p)));
        let r = render::render_values(
            &values,
            &bundle,
            platform.as_ref(),
            &TemplateSource::default(),
        )
        .unwrap();
        for (path, file) in r.tree.iter() {
            if path.extension().is_some_and(|e| e == "yaml") {
                let docs: Vec<Value> =
                    zt::yaml::from_str_multi(std::str::from_utf8(&file.bytes).unwrap()).unwrap();
                for d in docs {
                    out.push((format!("{repo}/{}", path.display()), d));
                }
            }
        }
    }
    out
}

/// Dotted key paths of a document (list items share their list's path).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(child, &p, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| key_paths(i, prefix, out)),
        _ => {}
    }
}

#[test]
fn rendered_configs_validate_against_the_talos_schema() {
    let Some(shared) = shared_dir() else {
        eprintln!("../shared not present: skipping Talos schema conformance");
        return;
    };
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("schemas/talos/v1.11/config.schema.json")).unwrap(),
    )
    .unwrap();
    // Validate per document through the v1alpha1 definition, which gives precise error paths.
    let wrapper = serde_json::json!({
        "$schema": schema["$schema"],
        "$ref": "#/$defs/v1alpha1.Config",
        "$defs": schema["$defs"],
    });
    let validator = jsonschema::validator_for(&wrapper).unwrap();
    let configs = rendered_configs();
    assert!(configs.len() >= 5);
    // The check can fail: a misspelled key and a wrong type are both rejected.
    let mut broken = configs[0].1.clone();
    broken["machine"]["kubelet"]["imag"] = Value::from("x");
    broken["machine"]["install"]["wipe"] = Value::from("no");
    assert_eq!(validator.iter_errors(&broken).count(), 2);
    let mut failures = Vec::new();
    for (name, doc) in &configs {
        for err in validator.iter_errors(doc) {
            failures.push(format!("{name}: {} at {}", err, err.instance_path()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rendered_configs_have_the_key_structure_of_talosctl_output() {
    let Some(shared) = shared_dir() else {
        eprintln!("../shared not present: skipping Talos testdata comparison");
        return;
    };
    // Keys talosctl writes that we leave out on purpose:
    // - `persist`: deprecated, and absent from the published schema;
    // - `cluster.proxy.image` on Cilium clusters, where kube-proxy is disabled instead.
    let allowed_missing = ["persist"];
    let configs = rendered_configs();
    for (fixture, role) in [
        ("base-controlplane.yaml", "controlplane"),
        ("base-worker.yaml", "worker"),
    ] {
        let text =
            std::fs::read_to_string(shared.join("schemas/talos/v1.11/testdata").join(fixture))
                .unwrap();
        let upstream: Value = zt::yaml::from_str(&text).unwrap();
        let mut want = BTreeSet::new();
        key_paths(&upstream, "", &mut want);
        for (name, doc) in configs.iter().filter(|(_, d)| d["machine"]["type"] == role) {
            let mut have = BTreeSet::new();
            key_paths(doc, "", &mut have);
            let cilium = doc["cluster"]["network"]["cni"]["name"] == "none";
            let missing: Vec<&String> = want
                .iter()
                .filter(|k| !allowed_missing.contains(&k.as_str()))
                .filter(|k| !(cilium && k.as_str() == "cluster.proxy.image"))
                .filter(|k| !have.contains(*k))
                .collect();
            assert!(
                missing.is_empty(),
                "{name} lacks keys talosctl writes: {missing:?}"
            );
        }
    }
}
