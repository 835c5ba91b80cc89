//! Argo CD Applications, repository ExternalSecrets, platform Secrets and the preview Kind
//! config: what users rely on, and every kind of bad input the issue lists.

use std::fs;
use std::path::Path;

use serde_json::Value;
use zt::credentials::{self, EnvSnapshot, Mode};
use zt::render::argocd::PlatformSource;
use zt::render::kind::KindSettings;
use zt::render::{self, PreviewRequest, ProductionRequest, RenderError, Rendered, TemplateSource};
use zt::tenant::TenantRepo;
use zt_test_support::workspace_root;

fn platform(env: &str) -> PlatformSource {
    PlatformSource {
        url: "https://github.com/zerotouch-example/zerotouch-platform.git".into(),
        revision: "main".into(),
        overlay: render::DEFAULT_OVERLAY.replace("{env}", env),
    }
}

fn production(
    repo: &Path,
    env: &str,
    creds: Option<&credentials::Credentials>,
) -> Result<Rendered, RenderError> {
    let tenant = TenantRepo::open(repo).unwrap();
    render::render_production(&ProductionRequest {
        tenant: &tenant,
        env,
        bundle: None,
        platform_repo: None,
        platform: platform(env),
        credentials: creds,
        templates: &TemplateSource::default(),
    })
}

fn doc(r: &Rendered, path: &str) -> Value {
    let f = r
        .tree
        .get(Path::new(path))
        .unwrap_or_else(|| panic!("{path} not rendered"));
    zt::yaml::from_str(std::str::from_utf8(&f.bytes).unwrap()).unwrap()
}

fn example() -> std::path::PathBuf {
    workspace_root().join("examples/tenant-repo")
}

#[test]
fn root_application_points_at_the_environment_overlay() {
    let r = production(&example(), "dev", None).unwrap();
    let root = doc(&r, "argocd/root.yaml");
    assert_eq!(root["metadata"]["name"], "platform-bootstrap");
    assert_eq!(root["metadata"]["namespace"], "argocd");
    assert_eq!(
        root["metadata"]["finalizers"][0],
        "resources-finalizer.argocd.argoproj.io"
    );
    assert_eq!(root["spec"]["project"], "default");
    assert_eq!(
        root["spec"]["source"]["repoURL"],
        "https://github.com/zerotouch-example/zerotouch-platform.git"
    );
    assert_eq!(root["spec"]["source"]["targetRevision"], "main");
    assert_eq!(
        root["spec"]["source"]["path"],
        "bootstrap/argocd/overlays/main/dev"
    );
    assert_eq!(
        root["spec"]["destination"]["server"],
        "https://kubernetes.default.svc"
    );
    assert_eq!(root["spec"]["destination"]["namespace"], "argocd");
    assert_eq!(
        root["spec"]["syncPolicy"]["automated"],
        serde_json::json!({"prune": true, "selfHeal": true})
    );
    assert_eq!(
        root["spec"]["syncPolicy"]["syncOptions"],
        serde_json::json!(["CreateNamespace=true"])
    );
    assert!(
        r.tree
            .get(Path::new("secrets/repo-credentials.yaml"))
            .is_none(),
        "no credentials, no secrets"
    );
    assert!(
        r.tree.get(Path::new("talos/cp01-main.yaml")).is_none(),
        "no bundle, no Talos stage"
    );
}

#[test]
fn one_application_per_tenant_and_the_per_environment_file_wins() {
    let r = production(&example(), "dev", None).unwrap();
    let names: Vec<String> = r
        .tree
        .iter()
        .filter_map(|(p, _)| {
            p.strip_prefix("argocd/tenants")
                .ok()
                .map(|p| p.display().to_string())
        })
        .collect();
    assert_eq!(
        names,
        ["billing.yaml", "catalog.yaml", "identity-service.yaml"]
    );
    let catalog = doc(&r, "argocd/tenants/catalog.yaml");
    assert_eq!(
        catalog["spec"]["source"]["targetRevision"], "main",
        "per-env config wins over tenants/catalog/config.yaml"
    );
    assert_eq!(catalog["spec"]["source"]["path"], "deploy/overlays/dev");
    assert_eq!(catalog["spec"]["destination"]["namespace"], "catalog-dev");
    let identity = doc(&r, "argocd/tenants/identity-service.yaml");
    assert_eq!(
        identity["spec"]["source"]["path"],
        "tenants/identity-service/base"
    );
    assert_eq!(
        identity["metadata"]["labels"],
        serde_json::json!({"managed-by": "zt", "tenant": "identity-service"})
    );
    assert_eq!(
        identity["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
        "100"
    );
    assert_eq!(identity["spec"]["source"]["directory"]["recurse"], true);
    assert_eq!(identity["spec"]["syncPolicy"]["retry"]["limit"], 5);
    assert_eq!(
        identity["spec"]["syncPolicy"]["retry"]["backoff"]["maxDuration"],
        "3m"
    );

    // In another environment only the original layout applies.
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&example(), repo.path());
    fs::create_dir_all(repo.path().join("environments/staging")).unwrap();
    fs::copy(
        example().join("environments/dev/talos-values.yaml"),
        repo.path().join("environments/staging/talos-values.yaml"),
    )
    .unwrap();
    let r = production(repo.path(), "staging", None).unwrap();
    let catalog = doc(&r, "argocd/tenants/catalog.yaml");
    assert_eq!(catalog["spec"]["source"]["targetRevision"], "v1.0.0");
    assert!(
        r.tree
            .get(Path::new("argocd/tenants/billing.yaml"))
            .is_none(),
        "billing has only a dev overlay"
    );
}

#[test]
fn repository_external_secrets_pass_through_unchanged() {
    let r = production(&example(), "dev", None).unwrap();
    for (out, src) in [
        (
            "argocd/repositories/zerotouch-tenants.yaml",
            "repositories/zerotouch-tenants-repo.yaml",
        ),
        (
            "argocd/repositories/catalog.yaml",
            "repositories/catalog-repo.yaml",
        ),
    ] {
        assert_eq!(
            r.tree.get(Path::new(out)).unwrap().bytes,
            fs::read(example().join(src)).unwrap()
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walk(from) {
        let rel = e.strip_prefix(from).unwrap();
        fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        fs::copy(&e, to.join(rel)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A copy of the example repository with `rel` replaced by `contents`.
fn repo_with(rel: &str, contents: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&example(), repo.path());
    let p = repo.path().join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, contents).unwrap();
    repo
}

fn input_errors(repo: &Path) -> String {
    match production(repo, "dev", None) {
        Err(RenderError::Input(d)) => d.to_string(),
        other => panic!(
            "expected input errors, got {:?}",
            other.map(|r| r.tree.len())
        ),
    }
}

#[test]
fn bad_tenant_configs_are_reported_with_positions() {
    let cases = [
        (
            "missing key",
            "tenant: billing\nrepoURL: https://github.com/o/r.git\ntargetRevision: main\nappPath: x\n",
            "tenants/billing/config.yaml:1:1: namespace: required key `namespace` is missing",
        ),
        (
            "misspelled key",
            "tenant: billing\nrepoUrl: https://github.com/o/r.git\ntargetRevision: main\nappPath: x\nnamespace: b\n",
            "tenants/billing/config.yaml:2:1: repoUrl: unknown key `repoUrl`; did you mean `repoURL`?",
        ),
        (
            "name differs",
            "tenant: bill\nrepoURL: https://github.com/o/r.git\ntargetRevision: main\nappPath: x\nnamespace: b\n",
            "tenants/billing/config.yaml:1:9: tenant: `bill` must equal its directory name `billing`",
        ),
        (
            "not a URL",
            "tenant: billing\nrepoURL: github.com/o/r\ntargetRevision: main\nappPath: x\nnamespace: b\n",
            "tenants/billing/config.yaml:2:10: repoURL: expected a git repository URL",
        ),
        (
            "path escapes",
            "tenant: billing\nrepoURL: https://github.com/o/r.git\ntargetRevision: main\nappPath: ../../etc\nnamespace: b\n",
            "tenants/billing/config.yaml:4:10: appPath: expected a relative path",
        ),
        (
            "bad namespace",
            "tenant: billing\nrepoURL: https://github.com/o/r.git\ntargetRevision: main\nappPath: x\nnamespace: Billing_NS\n",
            "tenants/billing/config.yaml:5:12: namespace: must be a DNS-1123 label",
        ),
    ];
    for (what, yaml, want) in cases {
        let repo = repo_with("tenants/billing/config.yaml", yaml);
        // The per-env billing config would win; remove it so the case is what is read.
        fs::remove_dir_all(repo.path().join("tenants/billing/overlays")).unwrap();
        let got = input_errors(repo.path());
        assert!(got.contains(want), "{what}: want `{want}` in:\n{got}");
    }
    let repo = repo_with(
        "tenants/billing/overlays/dev/config.yaml",
        "tenant: billing\nenvironment: prod\nrepoURL: https://github.com/o/r.git\ntargetRevision: main\nappPath: x\nnamespace: b\n",
    );
    assert!(
        input_errors(repo.path())
            .contains("environment: `prod` does not match the overlay directory `dev`")
    );
}

#[test]
fn tenant_directories_must_be_dns_labels() {
    let repo = repo_with(
        "tenants/Bad_Name/config.yaml",
        "tenant: Bad_Name\nrepoURL: https://github.com/o/r.git\ntargetRevision: main\nappPath: x\nnamespace: b\n",
    );
    let got = input_errors(repo.path());
    assert!(
        got.contains("tenant directory `Bad_Name`: must be a DNS-1123 label"),
        "{got}"
    );
}

#[test]
fn external_secrets_of_the_wrong_shape_name_the_file() {
    let cases = [
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: argocd}\n",
            "expected an ExternalSecret",
        ),
        (
            "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: x, namespace: default}\nspec: {target: {template: {metadata: {labels: {argocd.argoproj.io/secret-type: repository}}}}}\n",
            "metadata.namespace: must be `argocd`",
        ),
        (
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: x, namespace: argocd}\nspec: {target: {name: x}}\n",
            "argocd.argoproj.io/secret-type: repository",
        ),
        ("a: [", "invalid YAML"),
    ];
    for (yaml, want) in cases {
        let repo = repo_with("repositories/extra-repo.yaml", yaml);
        let got = input_errors(repo.path());
        assert!(
            got.contains("repositories/extra-repo.yaml") && got.contains(want),
            "want `{want}` in:\n{got}"
        );
    }
    let repo = repo_with("repositories/extra.yaml", "x: 1\n");
    assert!(input_errors(repo.path()).contains("must be named <name>-repo.yaml"));
}

#[test]
fn all_problems_across_files_are_reported_at_once() {
    let repo = repo_with("repositories/extra-repo.yaml", "kind: Nope\n");
    let p = repo.path().join("tenants/identity-service/config.yaml");
    fs::write(&p, "tenant: identity-service\n").unwrap();
    let vals = repo.path().join("environments/dev/talos-values.yaml");
    fs::write(
        &vals,
        fs::read_to_string(&vals)
            .unwrap()
            .replace("\"203.0.113.11\"", "SERVER_IP"),
    )
    .unwrap();
    let got = input_errors(repo.path());
    for want in [
        "talos-values.yaml",
        "identity-service/config.yaml",
        "extra-repo.yaml",
    ] {
        assert!(got.contains(want), "{want} missing from:\n{got}");
    }
}

fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
    EnvSnapshot::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string())))
}

const PROD_ENV: &[(&str, &str)] = &[
    (credentials::BOT_GITHUB_USERNAME, "zt-bot"),
    (credentials::BOT_GITHUB_TOKEN, "ghp_SECRETTOKEN123"),
    (credentials::TENANTS_REPO_NAME, "acme/zerotouch-tenants"),
    (credentials::AWS_ACCESS_KEY_ID, "AKIASECRETID"),
    (credentials::AWS_SECRET_ACCESS_KEY, "aws-secret-value"),
];

#[test]
fn secrets_from_environment_variables() {
    let creds = env(PROD_ENV).credentials(Mode::Production).unwrap();
    let r = production(&example(), "dev", Some(&creds)).unwrap();
    let decode = |d: &Value, k: &str| {
        use base64::Engine as _;
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(d["data"][k].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let platform = doc(&r, "secrets/repo-credentials.yaml");
    assert_eq!(platform["metadata"]["namespace"], "argocd");
    assert_eq!(
        platform["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
        "repository"
    );
    assert_eq!(decode(&platform, "type"), "git");
    assert_eq!(
        decode(&platform, "url"),
        "https://github.com/zerotouch-example/zerotouch-platform.git"
    );
    assert_eq!(decode(&platform, "username"), "zt-bot");
    assert_eq!(decode(&platform, "password"), "ghp_SECRETTOKEN123");
    let tenants = doc(&r, "secrets/repo-zerotouch-tenants.yaml");
    assert_eq!(
        decode(&tenants, "url"),
        "https://github.com/acme/zerotouch-tenants.git"
    );
    let aws = doc(&r, "secrets/aws-access-token.yaml");
    assert_eq!(aws["metadata"]["namespace"], "external-secrets");
    assert_eq!(decode(&aws, "AWS_ACCESS_KEY_ID"), "AKIASECRETID");
    assert_eq!(decode(&aws, "AWS_SECRET_ACCESS_KEY"), "aws-secret-value");
    assert_eq!(
        decode(&aws, "AWS_SESSION_TOKEN"),
        "",
        "may be empty in production"
    );
    assert!(
        r.tree
            .get(Path::new("secrets/kagent-openai.yaml"))
            .is_none()
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("OPENAI_API_KEY is not set")),
        "{:?}",
        r.warnings
    );
    for (p, f) in r.tree.iter() {
        assert_eq!(
            f.secret,
            p.starts_with("secrets"),
            "{}: secret flag",
            p.display()
        );
    }
    // The redacted view used by --check and dry runs shows none of the values.
    for (_, f) in r.tree.iter().filter(|(_, f)| f.secret) {
        let shown = zt::redact::redact_yaml(std::str::from_utf8(&f.bytes).unwrap()).unwrap();
        for (_, v) in PROD_ENV.iter().filter(|(k, _)| {
            *k != credentials::BOT_GITHUB_USERNAME && *k != credentials::TENANTS_REPO_NAME
        }) {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(v);
            assert!(
                !shown.contains(v) && !shown.contains(&b64),
                "a secret leaked into the redacted view"
            );
        }
    }
}

fn preview(
    kind_path: &str,
    creds: Option<&credentials::Credentials>,
) -> Result<Rendered, RenderError> {
    render::render_preview(&PreviewRequest {
        platform: PlatformSource {
            url: render::LOCAL_REPO_URL.into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            overlay: render::PREVIEW_OVERLAY.into(),
        },
        kind: KindSettings {
            name: "zerotouch-preview".into(),
            node_image: Some("kindest/node:v1.34.0".into()),
            platform_repo: kind_path.into(),
        },
        credentials: creds,
        templates: &TemplateSource::default(),
    })
}

#[test]
fn preview_renders_kind_root_and_secrets_but_no_tenants() {
    let mut pairs = PROD_ENV.to_vec();
    pairs.push((credentials::AWS_SESSION_TOKEN, "session"));
    let creds = env(&pairs).credentials(Mode::Preview).unwrap();
    let r = preview("/home/ci/work/zerotouch-platform", Some(&creds)).unwrap();
    let k = doc(&r, "kind/cluster.yaml");
    assert_eq!(k["nodes"][0]["image"], "kindest/node:v1.34.0");
    assert_eq!(
        k["nodes"][0]["labels"]["workload.zerotouch.dev/databases"],
        "true"
    );
    assert_eq!(
        k["nodes"][0]["extraMounts"][0],
        serde_json::json!({"hostPath": "/home/ci/work/zerotouch-platform", "containerPath": "/repo", "readOnly": true})
    );
    let ports: Vec<(u64, u64)> = k["nodes"][0]["extraPortMappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["containerPort"].as_u64().unwrap(),
                p["hostPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports, [(30080, 4222), (30432, 5432), (30379, 6379)]);
    assert!(
        k.get("networking").is_none(),
        "kindnet: no disableDefaultCNI"
    );
    let root = doc(&r, "argocd/root.yaml");
    assert_eq!(root["spec"]["source"]["repoURL"], "file:///repo");
    assert_eq!(
        root["spec"]["source"]["path"],
        "bootstrap/argocd/overlays/preview"
    );
    assert!(r.tree.iter().all(|(p, _)| !p.starts_with("argocd/tenants")));
    assert!(
        r.tree
            .get(Path::new("secrets/repo-zerotouch-tenants.yaml"))
            .is_none(),
        "no tenants repo in preview"
    );
    let aws = doc(&r, "secrets/aws-access-token.yaml");
    assert!(
        aws["data"]["AWS_SESSION_TOKEN"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
}

#[test]
fn preview_without_aws_variables_lists_them_by_name() {
    let e = env(&PROD_ENV[..2]).credentials(Mode::Preview).unwrap_err();
    assert_eq!(
        e.missing,
        [
            credentials::AWS_ACCESS_KEY_ID,
            credentials::AWS_SECRET_ACCESS_KEY,
            credentials::AWS_SESSION_TOKEN
        ]
    );
    assert!(!e.to_string().contains("ghp_SECRETTOKEN123"));
}

#[test]
fn hostile_mount_paths_stay_strings() {
    let r = preview("/tmp/a: b\n- x #c", None).unwrap();
    assert_eq!(
        doc(&r, "kind/cluster.yaml")["nodes"][0]["extraMounts"][0]["hostPath"],
        "/tmp/a: b\n- x #c"
    );
}

#[test]
fn the_apply_stream_puts_namespaces_and_secrets_first() {
    let creds = env(PROD_ENV).credentials(Mode::Production).unwrap();
    let r = production(&example(), "dev", Some(&creds)).unwrap();
    let kinds = |s: &str| -> Vec<String> {
        zt::yaml::from_str_multi::<Value>(s)
            .unwrap()
            .iter()
            .map(|d| {
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let without = render::stream::apply_stream(&r, false).unwrap();
    assert_eq!(
        kinds(&without),
        [
            "Namespace/argocd",
            "ExternalSecret/repo-catalog",
            "ExternalSecret/repo-zerotouch-tenants",
            "Application/platform-bootstrap",
            "Application/billing",
            "Application/catalog",
            "Application/identity-service",
        ]
    );
    assert!(!without.contains("kind: Secret\n"));
    let with = render::stream::apply_stream(&r, true).unwrap();
    let k = kinds(&with);
    assert_eq!(&k[..2], ["Namespace/argocd", "Namespace/external-secrets"]);
    assert_eq!(k[2], "Secret/aws-access-token");
    assert!(
        k.iter().position(|x| x.starts_with("Secret/")).unwrap()
            < k.iter()
                .position(|x| x.starts_with("Application/"))
                .unwrap()
    );
}

/// The render hands its Kubernetes objects over typed, each with its role and file, matching
/// the bytes written (so nothing downstream parses our output back), and never shows a
/// Secret's values in `{:?}`.
#[test]
fn rendered_objects_carry_their_role_and_match_the_files() {
    use render::ObjectRole;
    let creds = env(PROD_ENV).credentials(Mode::Production).unwrap();
    let r = production(&example(), "dev", Some(&creds)).unwrap();
    let count = |role| r.objects_of(role).len();
    assert_eq!(count(ObjectRole::RootApplication), 1);
    assert_eq!(count(ObjectRole::TenantApplication), 3);
    assert_eq!(count(ObjectRole::Repository), 2);
    assert!(count(ObjectRole::Secret) >= 2);
    for o in &r.objects {
        let file = r
            .tree
            .get(&o.file)
            .unwrap_or_else(|| panic!("{:?}", o.file));
        let written: Vec<Value> =
            zt::yaml::from_str_multi(std::str::from_utf8(&file.bytes).unwrap()).unwrap();
        assert!(written.contains(&o.value), "{:?}", o.file);
        let shown = format!("{o:?}");
        if o.role == ObjectRole::Secret {
            let values: Vec<&str> = ["data", "stringData"]
                .iter()
                .filter_map(|f| o.value[*f].as_object())
                .flat_map(|m| m.values().filter_map(Value::as_str))
                .filter(|v| v.len() >= 3)
                .collect();
            assert!(!values.is_empty(), "{:?}", o.file);
            for v in values {
                assert!(!shown.contains(v), "{shown}");
            }
        }
    }
    // Roles follow the files: every tenant Application is under argocd/tenants/.
    assert!(
        r.objects_of(ObjectRole::TenantApplication)
            .iter()
            .all(|o| o.file.starts_with("argocd/tenants"))
    );
}
