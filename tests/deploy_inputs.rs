//! What `deploy` decides offline: layouts, claim selection, image rewriting, `--write`, and every
//! bad input reported before anything is applied. The last tests check our reading of the
//! upstream schemas and examples in ../shared when it is present.

use std::fs;
use std::path::Path;

use zt::deploy::config::{self, Overrides};
use zt::deploy::image::{ImageRef, XRD_IMAGE_PATTERN, xrd_pattern_problem};
use zt::deploy::plan::Wave;
use zt::deploy::{self, Plan, Request};
use zt::diag::Diagnostics;

const D64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn repo(config: &str, dir: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("ci")).unwrap();
    fs::write(root.path().join("ci/config.yaml"), config).unwrap();
    for (name, text) in files {
        let p = root.path().join(dir).join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    root
}

const CONFIG: &str = "service:\n  name: my-svc\n  namespace: team-a\n";
const CURRENT: &str = "platform/my-svc/overlays/pr";

fn claim(kind: &str, name: &str, image: &str) -> String {
    format!(
        "apiVersion: platform.bizmatters.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  image: {image}\n"
    )
}

fn prepare_with(
    root: &Path,
    image: &str,
    names: &[String],
    write: bool,
) -> Result<Plan, Diagnostics> {
    deploy::prepare(&Request {
        root,
        overrides: Overrides::default(),
        env: "pr",
        claims_dir: None,
        image,
        claim_names: names,
        write,
    })
}

fn prepare(root: &Path, image: &str) -> Result<Plan, Diagnostics> {
    prepare_with(root, image, &[], false)
}

fn changes(p: &Plan) -> Vec<(String, String)> {
    p.changes
        .iter()
        .map(|c| (c.name.clone(), c.to.clone()))
        .collect()
}

#[test]
fn only_the_services_claims_change_compared_by_whole_path_component() {
    let files = [
        ("a.yaml", claim("WebService", "my-svc", "ghcr.io/org/my-svc:v1")),
        ("b.yaml", claim("WebService", "other", "ghcr.io/org/other-my-svc:v1")),
        ("c.yaml", claim("EventDrivenService", "migrate", "ghcr.io/org/my-svc-migrations:v1")),
        ("d.yaml", claim("AgentSandboxService", "sandbox", "localhost/my-svc")),
        ("e.yaml", claim("EventDrivenService", "worker", &format!("ghcr.io/org/my-svc@sha256:{D64}"))),
        // Not a service claim kind: never touched, whatever its image says.
        ("f.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: raw\nspec:\n  image: ghcr.io/org/my-svc:v1\n".into()),
        ("g.yaml", claim("ObjectStorage", "bucket", "ghcr.io/org/my-svc:v1")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let root = repo(CONFIG, CURRENT, &files);
    let p = prepare(root.path(), "sha-abc123").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        changes(&p),
        [
            (
                "my-svc".to_string(),
                "ghcr.io/org/my-svc:sha-abc123".to_string()
            ),
            ("sandbox".into(), "localhost/my-svc:sha-abc123".into()),
            ("worker".into(), "ghcr.io/org/my-svc:sha-abc123".into()),
        ]
    );
    let raw = p.objects.iter().find(|o| o.name == "raw").unwrap();
    assert_eq!(raw.value["spec"]["image"], "ghcr.io/org/my-svc:v1");
    let other = p.objects.iter().find(|o| o.name == "other").unwrap();
    assert_eq!(other.value["spec"]["image"], "ghcr.io/org/other-my-svc:v1");
    // Apply order: namespace, supporting objects, then service claims.
    let waves: Vec<Wave> = p.objects.iter().map(|o| o.wave).collect();
    let mut sorted = waves.clone();
    sorted.sort();
    assert_eq!(waves, sorted);
    assert_eq!(p.objects[0].kind, "Namespace");
    assert!(
        p.objects
            .iter()
            .all(|o| o.kind == "Namespace" || o.value["metadata"]["namespace"] == "team-a")
    );
}

#[test]
fn digests_and_full_references() {
    let root = repo(
        CONFIG,
        CURRENT,
        &[(
            "a.yaml",
            &claim("WebService", "my-svc", "ghcr.io/org/my-svc:v1"),
        )],
    );
    let digest = format!("sha256:{D64}");
    let p = prepare(root.path(), &format!("@{digest}")).unwrap();
    assert_eq!(changes(&p)[0].1, format!("ghcr.io/org/my-svc@{digest}"));
    let p = prepare(root.path(), "registry.example.com/team/my-svc:1.2.3").unwrap();
    assert_eq!(changes(&p)[0].1, "registry.example.com/team/my-svc:1.2.3");
    // A full reference the claim schema rejects is refused before anything happens.
    let err = prepare(root.path(), &format!("ghcr.io/org/my-svc:v1@{digest}")).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not accept a tag and a digest together"),
        "{err}"
    );
}

#[test]
fn layouts_older_current_and_explicit() {
    let web = claim("WebService", "my-svc", "ghcr.io/org/my-svc:v1");
    let root = repo(
        CONFIG,
        "platform/claims/team-a",
        &[("nested/web.yaml", &web)],
    );
    let p = prepare(root.path(), "v2").unwrap();
    assert_eq!(p.claims.layout, deploy::claims::Layout::Older);
    assert_eq!(changes(&p)[0].1, "ghcr.io/org/my-svc:v2");

    // --env picks another overlay of the current layout.
    let dev = root.path().join("platform/my-svc/overlays/dev");
    fs::create_dir_all(&dev).unwrap();
    fs::write(
        dev.join("web.yaml"),
        claim("WebService", "my-svc", "ghcr.io/org/my-svc:dev"),
    )
    .unwrap();
    let p = deploy::prepare(&Request {
        root: root.path(),
        overrides: Overrides::default(),
        env: "dev",
        claims_dir: None,
        image: "v3",
        claim_names: &[],
        write: false,
    })
    .unwrap();
    assert_eq!(p.claims.layout, deploy::claims::Layout::Current);
    assert_eq!(p.changes[0].from, "ghcr.io/org/my-svc:dev");

    let p = deploy::prepare(&Request {
        root: root.path(),
        overrides: Overrides::default(),
        env: "pr",
        claims_dir: Some(&dev),
        image: "v3",
        claim_names: &[],
        write: false,
    })
    .unwrap();
    assert_eq!(p.claims.layout, deploy::claims::Layout::Explicit);
}

#[test]
fn claims_chosen_by_name() {
    let files = [
        (
            "a.yaml",
            claim("WebService", "api", "ghcr.io/org/api-server:v1"),
        ),
        (
            "b.yaml",
            claim("EventDrivenService", "jobs", "ghcr.io/org/jobs:v1"),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let root = repo(CONFIG, CURRENT, &files);
    let p = prepare_with(root.path(), "sha-1", &["jobs".into()], false).unwrap();
    assert_eq!(
        changes(&p),
        [("jobs".to_string(), "ghcr.io/org/jobs:sha-1".to_string())]
    );
    let err = prepare_with(root.path(), "sha-1", &["job".into()], false).unwrap_err();
    assert!(
        err.to_string().contains(
            "--claim: no WebService, EventDrivenService or AgentSandboxService named `job`"
        ),
        "{err}"
    );
}

#[test]
fn no_matching_claim_lists_what_was_found() {
    let root = repo(
        CONFIG,
        CURRENT,
        &[(
            "a.yaml",
            &claim("WebService", "api", "ghcr.io/org/other-my-svc:v1"),
        )],
    );
    let err = prepare(root.path(), "sha-1").unwrap_err().to_string();
    assert!(err.contains("no claim runs the service `my-svc`"), "{err}");
    assert!(
        err.contains("found:\n  WebService api (image ghcr.io/org/other-my-svc:v1) at "),
        "{err}"
    );
    assert!(err.contains("a.yaml:1:1"), "{err}");

    let root = repo(
        CONFIG,
        CURRENT,
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        )],
    );
    let err = prepare(root.path(), "sha-1").unwrap_err().to_string();
    assert!(err.contains("found no service claims at all"), "{err}");
}

#[test]
fn every_bad_input_is_reported_at_once() {
    let files = [
        ("a.yaml", claim("WebService", "my-svc", "ghcr.io/org/my-svc:v1")),
        ("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: elsewhere\n".into()),
        ("c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n".into()),
        ("d.yaml", claim("WebService", "bad-image", "ghcr.io/Org/x:v1")),
        ("e.yaml", "apiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: no-image\nspec:\n  port: 80\n".into()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let root = repo(CONFIG, CURRENT, &files);
    let err = prepare(root.path(), "sha-abc123").unwrap_err();
    let lines: Vec<String> = err.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[0].ends_with("b.yaml:1:1: metadata.namespace: ConfigMap elsewhere/cm is in namespace `elsewhere`, but the service deploys to `team-a` (service.namespace or --namespace); remove the namespace or make them match"), "{lines:#?}");
    assert!(
        lines[1].contains("c.yaml:1:1: ConfigMap cm is defined twice (first at "),
        "{lines:#?}"
    );
    assert!(lines[2].contains("d.yaml:6:10: spec.image: `ghcr.io/Org/x:v1` is not an image reference: it repository names must be lower-case"), "{lines:#?}");
    assert!(lines[3].contains("e.yaml:1:1: spec.image: WebService no-image has no usable image: spec.image is required"), "{lines:#?}");

    // A bad --image and a file that is not YAML, together.
    let root = repo(
        CONFIG,
        CURRENT,
        &[
            (
                "a.yaml",
                &claim("WebService", "my-svc", "ghcr.io/org/my-svc:v1"),
            ),
            ("z.yaml", "a: b: c\n"),
        ],
    );
    let err = prepare(root.path(), "sha/").unwrap_err().to_string();
    assert!(
        err.contains("--image: `sha/` is not a tag or image reference"),
        "{err}"
    );
    assert!(err.contains("z.yaml:1:5: not valid YAML"), "{err}");
}

#[test]
fn an_existing_repository_the_schema_rejects_is_caught() {
    let root = repo(
        CONFIG,
        CURRENT,
        &[(
            "a.yaml",
            &claim("WebService", "my-svc", "localhost:5001/my-svc:old"),
        )],
    );
    let err = prepare(root.path(), "sha-1").unwrap_err().to_string();
    assert!(err.contains("a.yaml:6:10: spec.image: the new image `localhost:5001/my-svc:sha-1` would be rejected by the WebService schema: the claim schema does not accept a registry with a port (`localhost:5001`)"), "{err}");
}

#[test]
fn write_changes_only_the_image_values() {
    let text = "# service claims\napiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc   # keep\nspec:\n  image: 'ghcr.io/org/my-svc:v1'  # CI\n  port: 8080\n---\n# the migrations job uses another image: untouched\napiVersion: platform.bizmatters.io/v1alpha1\nkind: EventDrivenService\nmetadata: {name: migrations}\nspec:\n  image: ghcr.io/org/my-svc-migrations:v1\n---\napiVersion: platform.bizmatters.io/v1alpha1\nkind: EventDrivenService\nmetadata: {name: worker}\nspec: {image: ghcr.io/org/my-svc:v1, nats: {stream: A, consumer: b}}\n";
    let root = repo(CONFIG, CURRENT, &[("claims.yaml", text)]);
    let path = root.path().join(CURRENT).join("claims.yaml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    }
    let p = prepare_with(root.path(), "sha-abc123", &[], true).unwrap();
    let written = deploy::write_edits(&p).unwrap();
    assert_eq!(written, std::slice::from_ref(&path));
    let after = fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        text.replace("'ghcr.io/org/my-svc:v1'", "'ghcr.io/org/my-svc:sha-abc123'")
            .replace(
                "{image: ghcr.io/org/my-svc:v1,",
                "{image: ghcr.io/org/my-svc:sha-abc123,"
            )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
    // Running again finds nothing to write.
    let p = prepare_with(root.path(), "sha-abc123", &[], true).unwrap();
    assert!(p.edits.is_empty());
}

#[test]
fn flags_stand_in_for_a_missing_contract() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("platform/claims/ns1");
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("w.yaml"),
        claim("WebService", "svc", "ghcr.io/o/svc:1"),
    )
    .unwrap();
    let p = deploy::prepare(&Request {
        root: root.path(),
        overrides: Overrides {
            service: Some("svc".into()),
            namespace: Some("ns1".into()),
            timeout: Some(std::time::Duration::from_secs(9)),
        },
        env: "pr",
        claims_dir: None,
        image: "2",
        claim_names: &[],
        write: false,
    })
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(p.service.wait_timeout.as_secs(), 9);
    assert_eq!(changes(&p)[0].1, "ghcr.io/o/svc:2");
}

// ---- conformance with the upstream files in ../shared (skipped without it) ----

fn fixtures() -> Option<std::path::PathBuf> {
    let dir = zt_test_support::shared_dir()?;
    Some(dir)
}

#[test]
fn our_image_pattern_is_the_one_in_the_claim_xrds() {
    let Some(shared) = fixtures() else {
        eprintln!("../shared not present: skipping");
        return;
    };
    for xrd in [
        "xwebservices.platform.bizmatters.io.yaml",
        "xeventdrivenservices.platform.bizmatters.io.yaml",
        "xagentsandboxservices.platform.bizmatters.io.yaml",
    ] {
        let text = fs::read_to_string(shared.join("schemas/zerotouch").join(xrd)).unwrap();
        let v: serde_json::Value = zt::yaml::from_str(&text).unwrap();
        let pattern = v
            .pointer(
                "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/image/pattern",
            )
            .and_then(|p| p.as_str())
            .unwrap_or_else(|| panic!("{xrd}: no image pattern"));
        assert_eq!(pattern, XRD_IMAGE_PATTERN, "{xrd}");
    }
}

#[test]
fn upstream_example_claims_and_ci_configs_are_read() {
    let Some(shared) = fixtures() else {
        eprintln!("../shared not present: skipping");
        return;
    };
    let platform = shared.join("fixtures/zerotouch-platform@5edffa6");
    let mut seen = 0;
    for api in ["webservice", "event-driven-service"] {
        let dir = platform.join("platform/apis").join(api).join("examples");
        for f in deploy::claims::yaml_files(&dir).unwrap() {
            let text = fs::read_to_string(&f).unwrap();
            let (docs, _) = deploy::claims::read_file(&f, &text).unwrap_or_else(|d| panic!("{d}"));
            for d in docs {
                let site = d
                    .image
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: no image", d.location()));
                let r =
                    ImageRef::parse(&site.text).unwrap_or_else(|e| panic!("{}: {e}", d.location()));
                assert_eq!(xrd_pattern_problem(&site.text), None, "{}", d.location());
                let new = r.with_tag("sha-abc123").to_string();
                assert_eq!(xrd_pattern_problem(&new), None, "{new}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "{seen}");
    let examples = platform.join("scripts/bootstrap/preview/tenants/scripts/examples");
    for f in deploy::claims::yaml_files(&examples).unwrap() {
        let text = fs::read_to_string(&f).unwrap();
        let c = config::parse(&text, &f, &Overrides::default()).unwrap_or_else(|d| panic!("{d}"));
        assert!(c.dependencies.has_postgres(), "{}", f.display());
        assert_eq!(c.wait_timeout.as_secs(), 300);
        // Every example turns deploy's health checks on, with paths deploy asks.
        assert!(
            c.diagnostics
                .iter()
                .any(|d| d == "post_deploy.test_health_endpoint"),
            "{}",
            f.display()
        );
        assert!(c.health_endpoint.starts_with('/') && c.liveness_endpoint.starts_with('/'));
    }
}

#[test]
fn internal_dependencies_deploy_cannot_check_are_named_not_ignored() {
    let config = format!(
        "{CONFIG}dependencies:\n  internal: [postgres, redis, nats-streams, keda-scaler]\n"
    );
    let web = claim("WebService", "my-svc", "ghcr.io/org/my-svc:v1");
    let root = repo(&config, CURRENT, &[("web.yaml", &web)]);
    let p = prepare(root.path(), "sha-abc123").unwrap();
    let warnings = deploy::internal::unchecked(&p);
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(
        warnings[0].contains("`redis`, but the claims define no DragonflyInstance my-svc-cache")
    );
    assert!(warnings[1].contains("`nats-streams`, which deploy cannot check"));
    assert!(warnings[2].contains("`keda-scaler`"));

    // The cache among the claims: it is waited for with them, so only the unknown two remain.
    let cache = "apiVersion: database.bizmatters.io/v1alpha1\nkind: DragonflyInstance\nmetadata:\n  name: my-svc-cache\nspec:\n  size: small\n";
    let root = repo(
        &config,
        CURRENT,
        &[("web.yaml", &web), ("cache.yaml", cache)],
    );
    let p = prepare(root.path(), "sha-abc123").unwrap();
    let warnings = deploy::internal::unchecked(&p);
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings.iter().all(|w| !w.contains("`redis`")),
        "{warnings:#?}"
    );
}

#[test]
fn an_external_dependency_in_this_repository_is_deployed_as_written_in_its_namespace() {
    let other = "platform/other-svc/overlays/pr";
    let r = repo(
        CONFIG,
        CURRENT,
        &[(
            "web.yaml",
            &claim("WebService", "my-svc", "ghcr.io/o/my-svc:1"),
        )],
    );
    let base = config::load(r.path(), &Overrides::default()).unwrap();
    let write = |name: &str, text: &str| {
        let p = r.path().join(other).join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };

    // Not in this repository: nothing to deploy (the caller says it must already run).
    assert!(
        deploy::prepare_dependency(r.path(), &base, "other-svc", "pr")
            .unwrap()
            .is_none()
    );

    // Claims that name no namespace: where it runs is not clear, and that is said.
    write(
        "web.yaml",
        &claim("WebService", "other-svc", "ghcr.io/o/other-svc:7"),
    );
    let err = deploy::prepare_dependency(r.path(), &base, "other-svc", "pr").unwrap_err();
    assert!(
        err.to_string()
            .contains("name no namespace: set metadata.namespace"),
        "{err}"
    );

    // With their namespace: that namespace, first, and the claims as written.
    write(
        "web.yaml",
        &claim("WebService", "other-svc", "ghcr.io/o/other-svc:7")
            .replace("metadata:\n", "metadata:\n  namespace: team-b\n"),
    );
    let p = deploy::prepare_dependency(r.path(), &base, "other-svc", "pr")
        .unwrap()
        .unwrap();
    assert_eq!(p.service.namespace, "team-b");
    assert!(p.image.is_none() && p.changes.is_empty());
    let order: Vec<String> = p.objects.iter().map(|o| o.describe()).collect();
    assert_eq!(order, ["Namespace team-b", "WebService team-b/other-svc"]);
    assert_eq!(p.objects[1].value["spec"]["image"], "ghcr.io/o/other-svc:7");
}
