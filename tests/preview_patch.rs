//! preview-patch at library level: the built-in patch set on the project's own platform fixture
//! (examples/platform-repo), the exact lines it changes (`git diff --numstat`), idempotency, strict
//! RFC 6902 failures, bad input, all-or-nothing writes; and, when ../shared/fixtures exists, the
//! same guarantees on two real platform-repo trees.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use zt::diag::Diagnostics;
use zt::patch::overlay::{self, Overlay};
use zt::patch::write::{WriteError, write_all};
use zt::patch::{self, DocResult, LOCAL_URL, Mode, PatchOutcome, Plan, Request, Vars};
use zt_test_support::git::{checkout_of, git, numstat};
use zt_test_support::{shared_dir, workspace_root};

fn example() -> tempfile::TempDir {
    checkout_of(&workspace_root().join("examples/platform-repo"))
}

fn head(root: &Path) -> String {
    git(root, &["rev-parse", "HEAD"]).trim().to_string()
}

fn vars(root: &Path, mode: Mode) -> Vars {
    Vars {
        platform_url: LOCAL_URL.into(),
        platform_revision: head(root),
        mode,
    }
}

fn plan_with(root: &Path, overlays: &[Overlay], mode: Mode) -> Result<Plan, Diagnostics> {
    patch::plan(&Request {
        root,
        overlays,
        vars: &vars(root, mode),
    })
}

/// Plans and writes the built-in set.
fn run(root: &Path, mode: Mode) -> Plan {
    let set = overlay::preview().unwrap();
    let plan = plan_with(root, &set, mode).unwrap_or_else(|d| panic!("{d}"));
    write_all(root, &plan.changes).unwrap();
    plan
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap()
}

fn value(root: &Path, rel: &str) -> serde_json::Value {
    zt::yaml::parse_document(&read(root, rel))
        .unwrap()
        .to_json()
}

fn outcome<'p>(plan: &'p Plan, name: &str) -> &'p PatchOutcome {
    &plan
        .reports
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no report for {name}"))
        .outcome
}

fn expect(pairs: &[(&str, (usize, usize))]) -> BTreeMap<String, (usize, usize)> {
    pairs.iter().map(|(p, n)| (p.to_string(), *n)).collect()
}

fn assert_second_run_changes_nothing(root: &Path, mode: Mode) {
    let set = overlay::preview().unwrap();
    let again = plan_with(root, &set, mode).unwrap_or_else(|d| panic!("{d}"));
    assert!(
        again.changes.is_empty(),
        "a second run changed: {:?}",
        again.changes.iter().map(|c| &c.path).collect::<Vec<_>>()
    );
    for r in &again.reports {
        if let PatchOutcome::Matched { docs } = &r.outcome {
            assert!(
                docs.iter().all(|d| d.result != DocResult::Changed),
                "{} changed something on the second run",
                r.name
            );
        }
    }
}

/// Every changed file still parses, with no duplicate keys.
fn assert_changed_files_parse(root: &Path, changed: &BTreeMap<String, (usize, usize)>) {
    for rel in changed.keys() {
        zt::yaml::parse_stream(&read(root, rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
}

const EXAMPLE_LOCAL: &[(&str, (usize, usize))] = &[
    ("bootstrap/argocd/base/01-crossplane.yaml", (4, 4)),
    ("bootstrap/argocd/base/03-foundation-config.yaml", (4, 2)),
    ("bootstrap/argocd/base/04-kagent.yaml", (2, 2)),
    ("bootstrap/argocd/base/05-nats.yaml", (7, 7)),
    ("bootstrap/argocd/base/06-apis.yaml", (2, 2)),
    ("bootstrap/argocd/base/06-databases.yaml", (2, 1)),
    ("bootstrap/argocd/base/07-observability.yaml", (2, 2)),
    ("bootstrap/argocd/overlays/preview/root.yaml", (2, 2)),
    ("bootstrap/argocd/overlays/production/root.yaml", (2, 2)),
    (
        "platform/databases/dragonfly/dragonfly-composition.yaml",
        (0, 9),
    ),
];

#[test]
fn the_example_repo_changes_exactly_the_expected_lines_and_a_second_run_nothing() {
    let repo = example();
    let root = repo.path();
    let plan = run(root, Mode::Local);
    let changed = numstat(root);
    assert_eq!(changed, expect(EXAMPLE_LOCAL));
    assert_eq!(plan.changes.len(), EXAMPLE_LOCAL.len());
    assert_changed_files_parse(root, &changed);
    assert_second_run_changes_nothing(root, Mode::Local);
    // Untouched files are byte-identical, including a document with a duplicate key that no
    // patch targets and the large Cilium manifest.
    assert!(
        git(
            root,
            &[
                "status",
                "--porcelain",
                "bootstrap/argocd/base/09-crds.yaml"
            ]
        )
        .is_empty()
    );
    assert!(git(root, &["status", "--porcelain", "bootstrap/talos"]).is_empty());
}

#[test]
fn platform_repo_sources_point_at_the_checkout_and_the_commit() {
    let repo = example();
    let root = repo.path();
    let sha = head(root);
    run(root, Mode::Local);
    for rel in [
        "bootstrap/argocd/base/03-foundation-config.yaml",
        "bootstrap/argocd/base/06-apis.yaml",
        "bootstrap/argocd/base/06-databases.yaml",
        "bootstrap/argocd/overlays/preview/root.yaml",
    ] {
        let v = value(root, rel);
        assert_eq!(v["spec"]["source"]["repoURL"], LOCAL_URL, "{rel}");
        assert_eq!(v["spec"]["source"]["targetRevision"], sha.as_str(), "{rel}");
    }
    // Quoting styles survive: 'main' was single-quoted, the URL double-quoted.
    let apis = read(root, "bootstrap/argocd/base/06-apis.yaml");
    assert!(apis.contains("    repoURL: \"file:///repo\"\n"), "{apis}");
    assert!(
        apis.contains(&format!("    targetRevision: '{sha}'\n")),
        "{apis}"
    );
    // 06-databases had no targetRevision (Argo CD's default, HEAD): it is added.
    assert!(
        read(root, "bootstrap/argocd/base/06-databases.yaml")
            .contains(&format!("targetRevision: {sha}"))
    );
    // Multi-source: only the platform-repo source; the Helm chart keeps its URL and version.
    let obs = value(root, "bootstrap/argocd/base/07-observability.yaml");
    assert_eq!(
        obs["spec"]["sources"][0]["repoURL"],
        "https://prometheus-community.github.io/helm-charts"
    );
    assert_eq!(obs["spec"]["sources"][0]["targetRevision"], "65.1.0");
    assert_eq!(obs["spec"]["sources"][1]["repoURL"], LOCAL_URL);
    assert_eq!(obs["spec"]["sources"][1]["targetRevision"], sha.as_str());
    // A chart version and another project's git repo are never pinned.
    assert_eq!(
        value(root, "bootstrap/argocd/base/01-crossplane.yaml")["spec"]["source"]["targetRevision"],
        "1.16.0"
    );
    assert_eq!(
        value(root, "bootstrap/argocd/base/08-sandbox.yaml")["spec"]["source"]["targetRevision"],
        "main"
    );
}

#[test]
fn ci_mode_keeps_the_github_urls_and_pins_only_the_revision() {
    let repo = example();
    let root = repo.path();
    let sha = head(root);
    let plan = run(root, Mode::Ci);
    assert!(matches!(
        outcome(&plan, "platform-repo-url"),
        PatchOutcome::Disabled { .. }
    ));
    let changed = numstat(root);
    assert_eq!(
        changed["bootstrap/argocd/base/03-foundation-config.yaml"],
        (3, 1)
    );
    assert_eq!(
        changed["bootstrap/argocd/overlays/preview/root.yaml"],
        (1, 1)
    );
    let root_app = value(root, "bootstrap/argocd/overlays/preview/root.yaml");
    assert_eq!(
        root_app["spec"]["source"]["repoURL"],
        "https://github.com/example-org/zerotouch-platform.git"
    );
    assert_eq!(root_app["spec"]["source"]["targetRevision"], sha.as_str());
    let obs = value(root, "bootstrap/argocd/base/07-observability.yaml");
    assert_eq!(
        obs["spec"]["sources"][1]["repoURL"],
        "https://github.com/example-org/zerotouch-platform.git"
    );
    assert_eq!(obs["spec"]["sources"][1]["targetRevision"], sha.as_str());
    assert_second_run_changes_nothing(root, Mode::Ci);
}

#[test]
fn nats_runs_memory_only_with_small_resources() {
    let repo = example();
    let root = repo.path();
    run(root, Mode::Local);
    let v = value(root, "bootstrap/argocd/base/05-nats.yaml");
    let values = &v["spec"]["source"]["helm"]["valuesObject"];
    assert_eq!(values["config"]["jetstream"]["fileStore"]["enabled"], false);
    assert_eq!(
        values["config"]["jetstream"]["fileStore"]["pvc"]["enabled"],
        false
    );
    assert_eq!(
        values["config"]["jetstream"]["memoryStore"]["enabled"],
        true
    );
    assert_eq!(
        values["container"]["resources"],
        serde_json::json!({"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "250m", "memory": "512Mi"}})
    );
    // The comment on the edited line stays.
    assert!(
        read(root, "bootstrap/argocd/base/05-nats.yaml")
            .contains("enabled: false   # production keeps streams on disk")
    );
}

#[test]
fn foundation_config_leaves_cilium_out_unless_the_preview_overlay_already_does() {
    let repo = example();
    let root = repo.path();
    let plan = run(root, Mode::Local);
    assert!(matches!(
        outcome(&plan, "foundation-config-without-cilium"),
        PatchOutcome::Matched { .. }
    ));
    let v = value(root, "bootstrap/argocd/base/03-foundation-config.yaml");
    assert_eq!(v["spec"]["source"]["directory"]["exclude"], "cilium.yaml");

    // When the upstream preview overlay excludes Cilium itself, the base is left alone.
    let repo = example();
    let root = repo.path();
    let k = root.join("bootstrap/argocd/overlays/preview/kustomization.yaml");
    let mut text = fs::read_to_string(&k).unwrap();
    text.push_str(
        "- target:\n    kind: Application\n    name: foundation-config\n  patch: |-\n    apiVersion: argoproj.io/v1alpha1\n    kind: Application\n    metadata:\n      name: foundation-config\n    spec:\n      source:\n        directory:\n          exclude: '{cilium.yaml,network-policies/*}'\n",
    );
    fs::write(&k, text).unwrap();
    let plan = run(root, Mode::Local);
    match outcome(&plan, "foundation-config-without-cilium") {
        PatchOutcome::AlreadyDone { reason } => {
            assert!(reason.contains("preview overlay"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        value(root, "bootstrap/argocd/base/03-foundation-config.yaml")["spec"]["source"]
            .get("directory")
            .is_none()
    );
}

#[test]
fn dragonfly_loses_exactly_its_security_context_lines() {
    let repo = example();
    let root = repo.path();
    let rel = "platform/databases/dragonfly/dragonfly-composition.yaml";
    let before = read(root, rel);
    run(root, Mode::Local);
    let after = read(root, rel);
    let removed: Vec<&str> = before
        .lines()
        .filter(|l| !after.lines().any(|a| a == *l))
        .collect();
    assert_eq!(
        removed.iter().map(|l| l.trim()).collect::<Vec<_>>(),
        [
            "securityContext:",
            "runAsNonRoot: true",
            "runAsUser: 1000",
            "fsGroup: 2000",
            "securityContext:",
            "allowPrivilegeEscalation: false",
            "capabilities:",
            "drop:",
            "- ALL"
        ]
    );
    assert!(
        after.contains("    # The database itself.\n"),
        "comments stay"
    );
    // Second run: already done, and the reason says why.
    let set = overlay::preview().unwrap();
    let plan = plan_with(root, &set, Mode::Local).unwrap();
    match outcome(&plan, "dragonfly-without-security-context") {
        PatchOutcome::Matched { docs } => assert!(
            matches!(&docs[0].result, DocResult::AlreadyDone(r) if r.contains("securityContext")),
            "{docs:?}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn helm_values_strings_are_patched_in_place() {
    let repo = example();
    let root = repo.path();
    let plan = run(root, Mode::Local);
    // Crossplane: the path continues into `values: |`; comments, blank lines and quoting stay.
    let text = read(root, "bootstrap/argocd/base/01-crossplane.yaml");
    assert!(
        text.contains("        # Crossplane core; the RBAC manager keeps the chart defaults.\n        resourcesCrossplane:\n          requests:\n            cpu: 50m\n            memory: 128Mi\n\n          limits:\n            cpu: \"500m\"    # quoted on purpose\n            memory: 1Gi\n"),
        "{text}"
    );
    // kagent: flow mappings keep their style.
    let text = read(root, "bootstrap/argocd/base/04-kagent.yaml");
    assert!(
        text.contains("requests: {cpu: 25m, memory: 64Mi}"),
        "{text}"
    );
    assert!(
        text.contains("limits: {cpu: 100m, memory: 256Mi}"),
        "{text}"
    );
    // KEDA: the preview overlay replaces its Helm values, so editing the base would do nothing.
    match outcome(&plan, "keda-resources") {
        PatchOutcome::AlreadyDone { reason } => {
            assert!(reason.contains("preview overlay"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!numstat(root).contains_key("bootstrap/argocd/base/04-keda.yaml"));

    // Without that overlay patch, KEDA's values are edited too.
    let repo = example();
    let root = repo.path();
    let k = root.join("bootstrap/argocd/overlays/preview/kustomization.yaml");
    let text = fs::read_to_string(&k).unwrap();
    fs::write(&k, &text[..text.find("patches:").unwrap()]).unwrap();
    run(root, Mode::Local);
    let values =
        value(root, "bootstrap/argocd/base/04-keda.yaml")["spec"]["source"]["helm"]["values"]
            .as_str()
            .unwrap()
            .to_string();
    let inner = zt::yaml::parse_document(&values).unwrap().to_json();
    assert_eq!(
        inner["resources"]["operator"],
        serde_json::json!({"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}})
    );
    assert_eq!(numstat(root)["bootstrap/argocd/base/04-keda.yaml"], (4, 4));
}

/// Writes overlay files into a temporary directory and loads them.
fn overlays(files: &[(&str, &str)]) -> Result<Vec<Overlay>, Diagnostics> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    overlay::load_dir(dir.path())
}

#[test]
fn a_patch_that_matches_nothing_or_misses_a_path_fails_the_run_with_names() {
    let repo = example();
    let root = repo.path();
    let set = overlays(&[
        (
            "10-gone.yaml",
            "name: gone\ndescription: x\ntarget:\n  files: [\"bootstrap/**/*.yaml\"]\n  kind: Application\n  name: no-such-app\nops:\n  - op: remove\n    path: /spec\n",
        ),
        (
            "20-missing.yaml",
            "name: missing-path\ndescription: x\ntarget:\n  files: [\"bootstrap/argocd/base/*.yaml\"]\n  kind: Application\n  name: nats\nops:\n  - op: replace\n    path: /spec/source/helm/valuesObject/config/jetstream/nope/enabled\n    value: false\n",
        ),
        (
            "30-optional.yaml",
            "name: optional-gone\ndescription: x\noptional: true\ntarget:\n  files: [\"nothing/*.yaml\"]\nops:\n  - op: remove\n    path: /x\n",
        ),
    ])
    .unwrap();
    let err = plan_with(root, &set, Mode::Local).unwrap_err().to_string();
    assert!(
        err.contains("10-gone.yaml:4:3: gone: matched no document"),
        "{err}"
    );
    assert!(err.contains("no document has that identity"), "{err}");
    assert!(
        err.contains("bootstrap/argocd/base/05-nats.yaml:18:13: patch missing-path: op 1 (replace /spec/source/helm/valuesObject/config/jetstream/nope/enabled): path /spec/source/helm/valuesObject/config/jetstream/nope does not exist"),
        "{err}"
    );
    assert!(
        err.contains("20-missing.yaml:8:5]"),
        "names where in the overlay: {err}"
    );
    assert!(
        !err.contains("missing-path: matched no document"),
        "one error per problem: {err}"
    );
    assert!(
        !err.contains("optional-gone"),
        "an optional patch may match nothing: {err}"
    );
    assert!(numstat(root).is_empty());
}

#[test]
fn a_duplicate_key_in_a_targeted_document_names_both_lines() {
    let repo = example();
    let root = repo.path();
    let set = overlays(&[(
        "10-gadget.yaml",
        "name: gadget\ndescription: x\ntarget:\n  files: [\"bootstrap/argocd/base/09-crds.yaml\"]\n  kind: CustomResourceDefinition\n  name: gadgets.example.dev\nops:\n  - op: replace\n    path: /spec/scope\n    value: Cluster\n",
    )])
    .unwrap();
    let err = plan_with(root, &set, Mode::Local).unwrap_err().to_string();
    assert!(
        err.contains("bootstrap/argocd/base/09-crds.yaml:25:5: patch gadget: duplicate key `argocd.argoproj.io/sync-options` (first defined at line 24)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // The other document of the same file is fine to patch.
    let set = overlays(&[(
        "10-widget.yaml",
        "name: widget\ndescription: x\ntarget:\n  files: [\"bootstrap/argocd/base/09-crds.yaml\"]\n  kind: CustomResourceDefinition\n  name: widgets.example.dev\nops:\n  - op: replace\n    path: /spec/scope\n    value: Cluster\n",
    )])
    .unwrap();
    let plan = plan_with(root, &set, Mode::Local).unwrap();
    write_all(root, &plan.changes).unwrap();
    assert_eq!(
        numstat(root),
        expect(&[("bootstrap/argocd/base/09-crds.yaml", (1, 1))])
    );
}

#[test]
fn invalid_yaml_is_named_with_line_and_column_and_nothing_is_written() {
    let repo = example();
    let root = repo.path();
    fs::write(
        root.join("bootstrap/argocd/base/99-broken.yaml"),
        "kind: Application\nspec: [unclosed\n",
    )
    .unwrap();
    let set = overlay::preview().unwrap();
    let err = plan_with(root, &set, Mode::Local).unwrap_err().to_string();
    assert!(
        err.starts_with("bootstrap/argocd/base/99-broken.yaml:")
            || err.contains("/bootstrap/argocd/base/99-broken.yaml:"),
        "{err}"
    );
    let line = err.lines().next().unwrap();
    let rest = line.split("99-broken.yaml:").nth(1).unwrap();
    let mut nums = rest.split(':').take(2).map(|n| n.parse::<usize>());
    assert!(nums.all(|n| n.is_ok()), "line and column: {err}");
    assert!(numstat(root).is_empty(), "other files untouched");
}

#[cfg(unix)]
#[test]
fn a_read_only_file_stops_the_run_before_anything_is_written() {
    use std::os::unix::fs::PermissionsExt;
    let repo = example();
    let root = repo.path();
    let ro = root.join("platform/databases/dragonfly/dragonfly-composition.yaml");
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o444)).unwrap();
    let set = overlay::preview().unwrap();
    let plan = plan_with(root, &set, Mode::Local).unwrap();
    let err = write_all(root, &plan.changes).unwrap_err();
    assert!(
        matches!(&err, WriteError::ReadOnly(p) if p.ends_with("dragonfly-composition.yaml")),
        "{err}"
    );
    assert!(
        numstat(root).is_empty(),
        "no file may change when one cannot be written"
    );
    let leftovers = git(root, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(leftovers.is_empty(), "no temporary files left: {leftovers}");
}

#[test]
fn files_keep_their_mode() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let repo = example();
        let root = repo.path();
        let f = root.join("bootstrap/argocd/base/06-apis.yaml");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        run(root, Mode::Local);
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
}

// ---- conformance over the real platform-repo trees (../shared/fixtures), when present ----

fn real_tree(name: &str) -> Option<PathBuf> {
    let dir = shared_dir()?.join("fixtures").join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "{} not present: skipping the conformance run",
            dir.display()
        );
        None
    }
}

const REAL_5EDFFA6_URL_PINNED: &[&str] = &[
    "bootstrap/argocd/base/03-foundation-config.yaml",
    "bootstrap/argocd/base/06-apis.yaml",
    "bootstrap/argocd/base/06-databases.yaml",
    "bootstrap/argocd/base/06-intelligence.yaml",
    "bootstrap/argocd/overlays/preview/root.yaml",
    "bootstrap/argocd/overlays/production/00-repo-registry-app.yaml",
    "bootstrap/argocd/overlays/production/cilium/01-cilium.yaml",
    "bootstrap/argocd/overlays/production/root.yaml",
];

const REAL_3BBCE4B_URL_PINNED: &[&str] = &[
    "bootstrap/argocd/base/00-secrets.yaml",
    "bootstrap/argocd/base/03-foundation-config.yaml",
    "bootstrap/argocd/base/06-agentgateway.yaml",
    "bootstrap/argocd/base/06-apis.yaml",
    "bootstrap/argocd/base/06-databases.yaml",
    "bootstrap/argocd/base/06-intelligence.yaml",
    "bootstrap/argocd/base/06-postgres.yaml",
    "bootstrap/argocd/overlays/main/core/06-agentgateway-httproute.yaml",
    "bootstrap/argocd/overlays/main/dev/04-gateway-config.yaml",
    "bootstrap/argocd/overlays/main/dev/root.yaml",
    "bootstrap/argocd/overlays/main/prod/root.yaml",
    "bootstrap/argocd/overlays/main/root.yaml",
    "bootstrap/argocd/overlays/main/staging/04-gateway-config.yaml",
    "bootstrap/argocd/overlays/main/staging/root.yaml",
    "bootstrap/argocd/overlays/preview/06-postgres.yaml",
    "bootstrap/argocd/overlays/preview/root.yaml",
];

/// One Application per listed file (two lines each in local mode, one in CI mode), plus the
/// files with more.
fn real_expectation(
    one_app: &[&str],
    extra: &[(&str, (usize, usize))],
    mode: Mode,
) -> BTreeMap<String, (usize, usize)> {
    let per_app = if mode == Mode::Local { 2 } else { 1 };
    let mut m: BTreeMap<String, (usize, usize)> = one_app
        .iter()
        .map(|f| (f.to_string(), (per_app, per_app)))
        .collect();
    for (f, n) in extra {
        m.insert(f.to_string(), *n);
    }
    m
}

fn conformance(tree: &str, one_app: &[&str], extra: &[(&str, (usize, usize))]) {
    let Some(src) = real_tree(tree) else {
        return;
    };
    for mode in [Mode::Local, Mode::Ci] {
        let repo = checkout_of(&src);
        let root = repo.path();
        let plan = run(root, mode);
        let mut extra = extra.to_vec();
        if mode == Mode::Ci {
            for (f, n) in extra.iter_mut() {
                if f.ends_with("04-gateway-config.yaml") {
                    *n = (3, 3);
                }
            }
        }
        let changed = numstat(root);
        assert_eq!(
            changed,
            real_expectation(one_app, &extra, mode),
            "{tree} in {mode} mode"
        );
        assert_changed_files_parse(root, &changed);
        // Where the upstream preview overlay already does it, the patch says so and does nothing.
        for name in [
            "foundation-config-without-cilium",
            "crossplane-resources",
            "keda-resources",
            "kagent-resources",
        ] {
            assert!(
                matches!(outcome(&plan, name), PatchOutcome::AlreadyDone { reason } if reason.contains("preview overlay")),
                "{tree}: {name}: {:?}",
                outcome(&plan, name)
            );
        }
        let nats = value(root, "bootstrap/argocd/base/05-nats.yaml");
        assert_eq!(
            nats["spec"]["source"]["helm"]["valuesObject"]["config"]["jetstream"]["fileStore"]["pvc"]
                ["enabled"],
            false
        );
        assert_second_run_changes_nothing(root, mode);
    }
}

#[test]
fn conformance_zerotouch_platform_5edffa6() {
    conformance(
        "zerotouch-platform@5edffa6",
        REAL_5EDFFA6_URL_PINNED,
        &[("bootstrap/argocd/base/05-nats.yaml", (6, 6))],
    );
}

#[test]
fn conformance_zerotouch_platform_3bbce4b() {
    conformance(
        "zerotouch-platform@3bbce4b",
        REAL_3BBCE4B_URL_PINNED,
        &[
            ("bootstrap/argocd/base/05-nats.yaml", (6, 6)),
            // Three Applications in one file.
            (
                "bootstrap/argocd/overlays/main/core/04-gateway-config.yaml",
                (6, 6),
            ),
            // The pod and container securityContext: the 12 lines the upstream sed deleted.
            (
                "platform/databases/dragonfly/dragonfly-composition.yaml",
                (0, 12),
            ),
        ],
    );
}
