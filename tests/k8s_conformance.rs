//! Conformance with upstream schemas, when ../shared is present (CI has it): every rendered
//! Application against the Argo CD CRD schema (with unknown top-level keys rejected too), the
//! Kind config against the kind schema, every Secret against Kubernetes v1.34's strict schema.
//! Skips without ../shared.

use std::path::Path;

use serde_json::Value;
use zt::credentials::{EnvSnapshot, Mode};
use zt::render::argocd::PlatformSource;
use zt::render::kind::KindSettings;
use zt::render::{self, PreviewRequest, ProductionRequest, TemplateSource};
use zt::tenant::TenantRepo;
use zt_test_support::{shared_dir, workspace_root};

fn schema(shared: &Path, rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(shared.join("schemas").join(rel)).unwrap())
        .unwrap()
}

fn rendered_documents() -> Vec<(String, Value)> {
    let tenant = TenantRepo::open(&workspace_root().join("examples/tenant-repo")).unwrap();
    let creds = zt::examples::env().credentials(Mode::Production).unwrap();
    let prod = render::render_production(&ProductionRequest {
        tenant: &tenant,
        env: "dev",
        bundle: None,
        platform_repo: None,
        platform: PlatformSource {
            url: "https://github.com/zerotouch-example/zerotouch-platform.git".into(),
            revision: "main".into(),
            overlay: "bootstrap/argocd/overlays/main/dev".into(),
        },
        credentials: Some(&creds),
        templates: &TemplateSource::default(),
    })
    .unwrap();
    let mut env: Vec<(&str, String)> = zt::credentials::ALL
        .iter()
        .map(|k| (*k, format!("v-{k}")))
        .collect();
    env[0].1 = "zerotouch-example".into();
    let preview_creds = EnvSnapshot::from_pairs(env)
        .credentials(Mode::Preview)
        .unwrap();
    let preview = render::render_preview(&PreviewRequest {
        platform: PlatformSource {
            url: render::LOCAL_REPO_URL.into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            overlay: render::PREVIEW_OVERLAY.into(),
        },
        kind: KindSettings {
            name: "zerotouch-preview".into(),
            node_image: Some("kindest/node:v1.34.0".into()),
            platform_repo: "/work/zerotouch-platform".into(),
        },
        credentials: Some(&preview_creds),
        templates: &TemplateSource::default(),
    })
    .unwrap();
    let mut out = Vec::new();
    for r in [prod, preview] {
        for (p, f) in r.tree.iter() {
            for d in
                zt::yaml::from_str_multi::<Value>(std::str::from_utf8(&f.bytes).unwrap()).unwrap()
            {
                out.push((p.display().to_string(), d));
            }
        }
    }
    out
}

fn check(validator: &jsonschema::Validator, docs: &[&(String, Value)]) -> Vec<String> {
    docs.iter()
        .flat_map(|(name, d)| {
            validator
                .iter_errors(d)
                .map(move |e| format!("{name}: {e} at {}", e.instance_path()))
        })
        .collect()
}

#[test]
fn rendered_kubernetes_objects_validate_against_upstream_schemas() {
    let Some(shared) = shared_dir() else {
        eprintln!("../shared not present: skipping Argo CD / kind / Kubernetes schema conformance");
        return;
    };
    let docs = rendered_documents();
    let by_kind = |k: &str| -> Vec<&(String, Value)> {
        docs.iter().filter(|(_, d)| d["kind"] == k).collect()
    };

    // The catalog leaves the Application root open; close it so a misspelled top-level key fails.
    let mut app_schema = schema(&shared, "argocd/application.json");
    app_schema["additionalProperties"] = Value::Bool(false);
    let apps = jsonschema::validator_for(&app_schema).unwrap();
    let kind =
        jsonschema::validator_for(&schema(&shared, "kind/kind-cluster.schema.json")).unwrap();
    let secret = jsonschema::validator_for(&schema(
        &shared,
        "kubernetes/v1.34-standalone-strict/secret-v1.json",
    ))
    .unwrap();

    let applications = by_kind("Application");
    let clusters = by_kind("Cluster");
    let secrets = by_kind("Secret");
    assert!(applications.len() >= 5 && clusters.len() == 1 && secrets.len() >= 7);

    // Each validator can fail.
    let mut bad = applications[0].1.clone();
    bad["spce"] = Value::from(1);
    bad["spec"]["syncPolicy"]["automated"]["selfheal"] = Value::from(true);
    assert_eq!(apps.iter_errors(&bad).count(), 2);
    let mut bad = clusters[0].1.clone();
    bad["nodes"][0]["extraMounts"][0]["readonly"] = Value::from(true);
    assert!(!kind.is_valid(&bad));
    let mut bad = secrets[0].1.clone();
    bad["metadata"]["lables"] = serde_json::json!({});
    assert!(!secret.is_valid(&bad));

    let mut failures = check(&apps, &applications);
    failures.extend(check(&kind, &clusters));
    failures.extend(check(&secret, &secrets));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
