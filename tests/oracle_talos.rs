//! Our Talos output judged by Talos itself (the oracles `make oracles` builds from Talos's Go
//! modules; see tests/oracles/): every machine config we render and every golden one passes
//! Talos's own validation, has the keys and values `talosctl gen config` gives (but for the
//! differences docs/talos-conformance.md lists), and our machine API proto agrees with the
//! descriptors Talos generated its own API from. Each test skips, saying so, when its oracle
//! is not built; `ZT_REQUIRE_ORACLES=1` turns that into a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;
use zt::render::{self, Rendered, Request, TemplateSource};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::model::{Cni, Machine, Role};
use zt::tenant::{self, EnvValues, TenantRepo};
use zt_test_support::oracles::{
    self, TALOS_LINE, oracle_or_skip, talos_oracle_or_skip, talos_validate,
};
use zt_test_support::talos_lines::{EXAMPLES, LATER_LINES, Line, example_on_line};
use zt_test_support::workspace_root;

fn bundle() -> SecretsBundle {
    zt::examples::bundle().unwrap()
}

/// The Talos node configs of a render (not the talosconfig), by path.
fn talos_configs(r: &Rendered) -> BTreeMap<String, Vec<u8>> {
    r.tree
        .iter()
        .filter(|(p, _)| p.starts_with("talos") && p.extension().is_some_and(|e| e == "yaml"))
        .map(|(p, f)| (p.display().to_string(), f.bytes.clone()))
        .collect()
}

/// Every Talos line with its oracle: v1.11 renders the examples as written, each later line a
/// copy of them moved to that line (tests/support/src/talos_lines.rs). `None` for v1.11.
fn lines() -> Vec<(&'static str, Option<Line>)> {
    let mut out = vec![(TALOS_LINE, None)];
    out.extend(LATER_LINES.iter().map(|l| (l.oracle, Some(*l))));
    out
}

/// The oracle of `line` (`v1.12`), or skip.
fn line_oracle_or_skip(line: &str, test: &str) -> Option<PathBuf> {
    oracle_or_skip(&format!("talos-oracle-{line}"), test)
}

/// The example tenant repository `repo` on `line` (`None`: v1.11, the example itself; else a
/// copy moved to that line, kept alive in `copies`).
fn repo_on(repo: &str, env: &str, line: Option<&Line>, copies: &mut Vec<TempDir>) -> PathBuf {
    match line {
        None => workspace_root().join(repo),
        Some(l) => {
            let copy = example_on_line(repo, env, l);
            let path = copy.path().to_path_buf();
            copies.push(copy);
            path
        }
    }
}

/// Every shape of Talos config the product renders for `line` (`None`: v1.11): each example,
/// each CNI, each role, and the switches that change the structure (scheduling on control
/// planes, no labels/taints/nameservers).
fn rendered_variants(line: Option<&Line>) -> Vec<(String, Rendered)> {
    let root = workspace_root();
    let platform = RepoFiles::dir(&root.join("examples/platform-repo"));
    let templates = TemplateSource::default();
    let mut out = Vec::new();
    let mut copies = Vec::new();
    let dev = repo_on("examples/tenant-repo", "dev", line, &mut copies);
    let edge = repo_on("examples/tenant-repo-flannel", "edge", line, &mut copies);

    for (repo, env, with_platform) in [(&dev, "dev", true), (&edge, "edge", false)] {
        let tenant = TenantRepo::open(repo).unwrap();
        let r = render::render(&Request {
            tenant: &tenant,
            env,
            bundle: &bundle(),
            platform_repo: with_platform.then_some(&platform),
            templates: &templates,
        })
        .unwrap_or_else(|e| panic!("render {} {env}: {e}", repo.display()));
        out.push((env.to_string(), r));
    }

    for cni in [Cni::Flannel, Cni::None] {
        let mut v = tenant::load_env(&dev, "dev").unwrap();
        v.cluster.cni = cni;
        v.cluster.allow_scheduling_on_control_planes = true;
        let r = render::render_values(&v, &bundle(), None, &templates).unwrap();
        out.push((format!("dev with cni {}", cni.as_str()), r));
    }

    let mut v = tenant::load_env(&edge, "edge").unwrap();
    for w in &mut v.workers {
        w.labels.clear();
        w.taints.clear();
        w.nameservers.clear();
    }
    v.controlplane.nameservers.clear();
    v.cluster.allow_scheduling_on_control_planes = false;
    let r = render::render_values(&v, &bundle(), None, &templates).unwrap();
    out.push(("edge without labels, taints or DNS".into(), r));
    out
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name.replace(['/', ' '], "_"));
    fs::write(&p, bytes).unwrap();
    p
}

/// Zero errors; warnings fail too: none is expected, and one that appears must either be
/// fixed in the templates or pinned here with the reason.
fn assert_valid(oracle: &Path, name: &str, file: &Path) {
    let v = talos_validate(oracle, file);
    assert!(
        v.errors.is_empty() && v.success,
        "{name}: Talos refuses it: {:?}",
        v.errors
    );
    assert!(
        v.warnings.is_empty(),
        "{name}: Talos warns: {:?}",
        v.warnings
    );
}

#[test]
fn the_validator_refuses_what_talos_refuses() {
    let Some(oracle) = talos_oracle_or_skip("the_validator_refuses_what_talos_refuses") else {
        return;
    };
    // The oracle can say no: a misspelled key, a missing install disk and an invalid label
    // are each refused, so a pass below means something.
    let tmp = tempfile::tempdir().unwrap();
    let good =
        fs::read_to_string(workspace_root().join("golden/edge-flannel/talos/edge-storage.yaml"))
            .unwrap();
    let edit = |from: &str, to: &str| {
        assert!(good.contains(from), "`{from}` not in the golden file");
        good.replacen(from, to, 1)
    };
    for (name, text, expect) in [
        (
            "unknown key",
            edit("machine:\n", "machine:\n  kubelett: {}\n"),
            "unknown keys",
        ),
        (
            "no install disk",
            edit("disk: /dev/nvme1n1", "disk: \"\""),
            "install disk",
        ),
        (
            "bad label value",
            edit(
                "workload-type: stateful",
                "workload-type: \"not a label value\"",
            ),
            "label",
        ),
    ] {
        let f = write_temp(tmp.path(), name, text.as_bytes());
        let v = talos_validate(&oracle, &f);
        assert!(!v.success, "{name}: accepted");
        assert!(
            v.errors.iter().any(|e| e.contains(expect)),
            "{name}: {:?}",
            v.errors
        );
    }
}

/// The Talos line a golden directory is for: `dev@1.12` → `v1.12`, `dev` → v1.11.
fn golden_line(case: &str) -> String {
    match case.split_once('@') {
        Some((_, line)) => format!("v{line}"),
        None => TALOS_LINE.to_string(),
    }
}

#[test]
fn every_golden_talos_config_passes_its_lines_talos_validation() {
    let test = "every_golden_talos_config_passes_its_lines_talos_validation";
    let golden = workspace_root().join("golden");
    let mut checked = BTreeSet::new();
    for case in fs::read_dir(&golden).unwrap() {
        let case = case.unwrap();
        let case_name = case.file_name().to_string_lossy().into_owned();
        let line = golden_line(&case_name);
        let Ok(entries) = fs::read_dir(case.path().join("talos")) else {
            continue; // preview: no Talos
        };
        let Some(oracle) = line_oracle_or_skip(&line, test) else {
            return;
        };
        for f in entries {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml") {
                let name = f.strip_prefix(&golden).unwrap().display().to_string();
                assert_valid(&oracle, &format!("{name} ({line})"), &f);
                let docs: Vec<Value> =
                    zt::yaml::from_str_multi(&fs::read_to_string(&f).unwrap()).unwrap();
                checked.insert((
                    case_name.clone(),
                    docs[0]["machine"]["type"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    // Each example on each line, each role.
    for (_, _, example) in EXAMPLES {
        for (_, later) in lines() {
            let case = match later {
                None => example.to_string(),
                Some(l) => format!("{example}@{}", l.name),
            };
            for role in ["controlplane", "worker"] {
                assert!(
                    checked.contains(&(case.clone(), role.to_string())),
                    "no golden {role} config in {case}: {checked:?}"
                );
            }
        }
    }
}

#[test]
fn every_rendered_talos_config_passes_its_lines_talos_validation() {
    let test = "every_rendered_talos_config_passes_its_lines_talos_validation";
    let tmp = tempfile::tempdir().unwrap();
    for (line, later) in lines() {
        let Some(oracle) = line_oracle_or_skip(line, test) else {
            return;
        };
        let mut n = 0;
        for (case, r) in rendered_variants(later.as_ref()) {
            for (path, bytes) in talos_configs(&r) {
                let name = format!("{line} {case}: {path}");
                assert_valid(&oracle, &name, &write_temp(tmp.path(), &name, &bytes));
                n += 1;
            }
        }
        assert!(n >= 13, "{line}: only {n} configs rendered");
    }
}

/// The v1alpha1 fields Talos 1.12 deprecated, each with the document replacing it (Talos's
/// "what's new in 1.12"; `machine.features.stableHostname` is replaced by `HostnameConfig`'s
/// `auto`, and Talos refuses the pair).
const DEPRECATED_IN_1_12: &[(&str, &str)] = &[
    ("machine.network.hostname", "HostnameConfig"),
    ("machine.features.stableHostname", "HostnameConfig"),
    ("machine.network.nameservers", "ResolverConfig"),
    ("machine.network.searchDomains", "ResolverConfig"),
    ("machine.network.disableSearchDomain", "ResolverConfig"),
    ("machine.network.extraHostEntries", "StaticHostConfig"),
    ("machine.network.interfaces", "LinkConfig"),
    ("machine.time", "TimeSyncConfig"),
    ("machine.registries", "RegistryMirrorConfig"),
    (
        "machine.install.extraKernelArgs",
        "an Image Factory installer",
    ),
];

/// What is wrong with a multi-document config of Talos 1.12 or later: a deprecated field (with
/// or without its replacement next to it), a document kind twice, a hostname both static and
/// automatic, a v1alpha1 document that is not first.
fn multidoc_problems(text: &str) -> Vec<String> {
    let docs: Vec<Value> = zt::yaml::from_str_multi(text).unwrap();
    let mut problems = Vec::new();
    if docs.first().and_then(|d| d["version"].as_str()) != Some("v1alpha1") {
        problems.push("the first document is not v1alpha1".to_string());
    }
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for (field, replacement) in DEPRECATED_IN_1_12 {
        let present = field
            .split('.')
            .try_fold(&docs[0], |v, k| v.get(k))
            .is_some();
        if present {
            let next_to = if kinds.contains(replacement) {
                " next to its replacement"
            } else {
                ""
            };
            problems.push(format!("deprecated {field}{next_to} ({replacement})"));
        }
    }
    let unique: BTreeSet<&&str> = kinds.iter().collect();
    if unique.len() != kinds.len() {
        problems.push(format!("a document kind twice: {kinds:?}"));
    }
    for d in docs.iter().filter(|d| d["kind"] == "HostnameConfig") {
        let auto = d["auto"].as_str().unwrap_or("off");
        if auto != "off" && d.get("hostname").is_some() {
            problems.push("HostnameConfig is both automatic and static".into());
        }
    }
    problems
}

#[test]
fn no_config_of_talos_1_12_or_later_keeps_a_deprecated_field() {
    // Held to it: every golden and every rendered variant of every line after v1.11.
    let mut checked = 0;
    let golden = workspace_root().join("golden");
    for case in fs::read_dir(&golden).unwrap() {
        let case = case.unwrap().path();
        if !case.to_string_lossy().contains('@') {
            continue;
        }
        for f in fs::read_dir(case.join("talos")).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml") {
                let problems = multidoc_problems(&fs::read_to_string(&f).unwrap());
                assert!(problems.is_empty(), "{}: {problems:?}", f.display());
                checked += 1;
            }
        }
    }
    for line in LATER_LINES {
        for (case, r) in rendered_variants(Some(line)) {
            for (path, bytes) in talos_configs(&r) {
                let text = String::from_utf8(bytes).unwrap();
                let problems = multidoc_problems(&text);
                assert!(
                    problems.is_empty(),
                    "{} {case}: {path}: {problems:?}",
                    line.name
                );
                // Each node names itself statically, and its nameservers moved with it.
                assert!(
                    text.contains("kind: HostnameConfig\nauto: \"off\"\nhostname: "),
                    "{path}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 2 * (5 + 13), "only {checked} configs checked");

    // The check can fail: the v1.11 golden with the documents of 1.12 appended has a legacy
    // hostname and legacy nameservers next to their replacements, and a stable hostname.
    let legacy = fs::read_to_string(golden.join("edge-flannel/talos/edge-cp.yaml")).unwrap();
    let moved = fs::read_to_string(golden.join("edge-flannel@1.12/talos/edge-cp.yaml")).unwrap();
    let extra = moved.split_once("\n---\n").unwrap().1;
    let mixed = format!("{legacy}---\n{extra}");
    assert_eq!(
        multidoc_problems(&mixed),
        [
            "deprecated machine.network.hostname next to its replacement (HostnameConfig)",
            "deprecated machine.features.stableHostname next to its replacement (HostnameConfig)",
            "deprecated machine.network.nameservers next to its replacement (ResolverConfig)",
        ]
    );
    let twice = format!("{moved}---\n{}", extra.split_once("---\n").unwrap().0);
    assert_eq!(multidoc_problems(&twice).len(), 1, "{twice}");
}

#[test]
fn talos_1_12_and_later_refuse_a_legacy_field_next_to_its_replacement() {
    // What the test above guards against is what Talos itself refuses, on each later line.
    let test = "talos_1_12_and_later_refuse_a_legacy_field_next_to_its_replacement";
    let golden = workspace_root().join("golden");
    let tmp = tempfile::tempdir().unwrap();
    for line in LATER_LINES {
        let Some(oracle) = line_oracle_or_skip(line.oracle, test) else {
            return;
        };
        let moved = fs::read_to_string(
            golden.join(format!("edge-flannel@{}/talos/edge-cp.yaml", line.name)),
        )
        .unwrap();
        let (v1alpha1, extra) = moved.split_once("\n---\n").unwrap();
        for (name, text, expect) in [
            (
                "static hostname twice",
                v1alpha1.replacen(
                    "machine:\n",
                    "machine:\n  network:\n    hostname: edge-cp\n",
                    1,
                ) + "\n---\n"
                    + extra,
                "static hostname is already set",
            ),
            (
                "stable hostname next to HostnameConfig",
                v1alpha1.replacen(
                    "  features:\n",
                    "  features:\n    stableHostname: true\n",
                    1,
                ) + "\n---\n"
                    + extra,
                "stable hostname is already set",
            ),
            (
                "nameservers twice",
                v1alpha1.replacen(
                    "machine:\n",
                    "machine:\n  network:\n    nameservers: [\"1.1.1.1\"]\n",
                    1,
                ) + "\n---\n"
                    + extra,
                "nameservers is already set",
            ),
        ] {
            assert_ne!(text, moved, "{name}: the edit did not apply");
            let f = write_temp(
                tmp.path(),
                &format!("{}-{name}", line.name),
                text.as_bytes(),
            );
            let v = talos_validate(&oracle, &f);
            assert!(!v.success, "{} {name}: accepted", line.name);
            assert!(
                v.errors.iter().any(|e| e.contains(expect)),
                "{} {name}: {:?}",
                line.name,
                v.errors
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and values against `talosctl gen config`

/// One difference: a key present on one side only, a mapping on one side and something else
/// on the other, or a different value (a scalar, or a list of scalars as a whole).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Diff {
    OnlyTheirs(Vec<String>),
    OnlyOurs(Vec<String>),
    NotAMapping(Vec<String>),
    Value(Vec<String>),
}

/// Walks every mapping Talos's config has and compares its keys with ours at the same path,
/// and the values under keys both have. Sequences of mappings are followed element by element
/// (their indices become `[]`); sequences of scalars are compared whole.
fn diff_keys(ours: &Value, theirs: &Value, path: &mut Vec<String>, out: &mut BTreeSet<Diff>) {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            for (k, tv) in t {
                path.push(k.clone());
                match o.get(k) {
                    None => {
                        out.insert(Diff::OnlyTheirs(path.clone()));
                    }
                    Some(ov) => diff_keys(ov, tv, path, out),
                }
                path.pop();
            }
            for k in o.keys().filter(|k| !t.contains_key(*k)) {
                let mut p = path.clone();
                p.push(k.clone());
                out.insert(Diff::OnlyOurs(p));
            }
        }
        (Value::Array(o), Value::Array(t))
            if o.iter().chain(t).all(|v| !v.is_object() && !v.is_array()) =>
        {
            if o != t {
                out.insert(Diff::Value(path.clone()));
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            path.push("[]".into());
            for (ov, tv) in o.iter().zip(t) {
                diff_keys(ov, tv, path, out);
            }
            path.pop();
        }
        _ if ours.is_object() != theirs.is_object() => {
            out.insert(Diff::NotAMapping(path.clone()));
        }
        _ => {
            if ours != theirs {
                out.insert(Diff::Value(path.clone()));
            }
        }
    }
}

/// A row of one of the intended-differences tables.
#[derive(Debug)]
struct Row {
    path: Vec<String>,
    /// From the value table (both sides have the key, the values differ).
    value: bool,
    ours_absent: bool,
    theirs_absent: bool,
}

impl Row {
    fn matches(&self, d: &Diff) -> bool {
        let key_row = !self.value;
        let (p, ok) = match d {
            Diff::OnlyTheirs(p) => (p, key_row && self.ours_absent && !self.theirs_absent),
            Diff::OnlyOurs(p) => (p, key_row && self.theirs_absent && !self.ours_absent),
            Diff::NotAMapping(p) => (p, key_row && !self.ours_absent && !self.theirs_absent),
            Diff::Value(p) => (p, self.value),
        };
        ok && p.len() == self.path.len()
            && p.iter().zip(&self.path).all(|(a, b)| b == "*" || a == b)
    }
}

/// The "Intended differences" (keys) and "Intended value differences" tables of
/// docs/talos-conformance.md.
///
/// `later`: the tables for Talos v1.12 and later (headings ending in "on v1.12 and later").
fn intended_differences(later: bool) -> Vec<Row> {
    let suffix = if later { " on v1.12 and later" } else { "" };
    let mut rows = table(&format!("## Intended differences{suffix}"), false);
    rows.extend(table(
        &format!("## Intended value differences{suffix}"),
        true,
    ));
    rows
}

/// A multi-document config as one mapping for the comparison: the v1alpha1 document's keys,
/// and each further document under its `kind` (`HostnameConfig.auto`). A v1.11 config is its
/// one document unchanged.
fn as_one_mapping(text: &str) -> Value {
    let docs: Vec<Value> = zt::yaml::from_str_multi(text).unwrap();
    let mut it = docs.into_iter();
    let mut first = it.next().expect("a v1alpha1 document");
    for d in it {
        let kind = d["kind"].as_str().expect("a kind").to_string();
        assert!(first.get(&kind).is_none(), "{kind} twice");
        first[kind] = d;
    }
    first
}

fn table(heading: &str, value: bool) -> Vec<Row> {
    let doc = fs::read_to_string(workspace_root().join("docs/talos-conformance.md")).unwrap();
    let section = doc
        .split(&format!("{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/talos-conformance.md has no `{heading}` section"));
    let section = section.split("\n## ").next().unwrap_or_default();
    let rows: Vec<Row> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert!(cells.len() >= 4, "malformed row: {l}");
            Row {
                path: cells[0]
                    .trim_matches('`')
                    .split('.')
                    .map(str::to_string)
                    .collect(),
                value,
                ours_absent: cells[1] == "—",
                theirs_absent: cells[2] == "—",
            }
        })
        .collect();
    assert!(!rows.is_empty(), "no rows under `{heading}`");
    rows
}

/// Runs `talos-oracle gen` for the values of `v`, machine `m` and `bundle`: Talos's config for
/// the same cluster (name, endpoint, versions, DNS domain) and node (role, install disk and
/// image), as `talosctl gen config --with-secrets` writes it.
fn talos_gen(oracle: &Path, v: &EnvValues, m: &Machine, bundle_file: &Path, out: &Path) -> Value {
    let o = oracles::run(
        oracle,
        &[
            "gen",
            "--secrets",
            &bundle_file.to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
            "--cluster-name",
            &v.cluster.name,
            "--endpoint",
            &v.cluster.endpoint,
            "--kubernetes-version",
            &v.kubernetes.version.to_string(),
            "--install-disk",
            &m.install_disk,
            "--dns-domain",
            &v.cluster.dns_domain,
            "--install-image",
            &v.talos.installer_image,
            "--talos-version",
            &v.talos.version.to_string(),
        ],
    );
    assert!(
        o.status.success(),
        "talos-oracle gen: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |f: &str| -> Value { as_one_mapping(&fs::read_to_string(out.join(f)).unwrap()) };
    read(match m.role {
        Role::ControlPlane => "controlplane.yaml",
        Role::Worker => "worker.yaml",
    })
}

fn show(p: &[String]) -> String {
    p.join(".")
}

#[test]
fn configs_match_talosctl_gen_config_but_for_the_documented_differences() {
    let test = "configs_match_talosctl_gen_config_but_for_the_documented_differences";
    let tmp = tempfile::tempdir().unwrap();
    let bundle_file = tmp.path().join("secrets.yaml");
    fs::write(&bundle_file, bundle().to_yaml().unwrap()).unwrap();
    let platform = RepoFiles::dir(&workspace_root().join("examples/platform-repo"));
    let mut copies = Vec::new();

    // v1.11 against its table; v1.12 and v1.13 together against theirs (a row may hold on
    // one of them only, e.g. the empty `machine.network` v1.12's gen still writes).
    for later in [false, true] {
        let rows = intended_differences(later);
        let mut seen: BTreeSet<Diff> = BTreeSet::new();
        let mut unexplained = Vec::new();
        for (oracle_line, line) in lines().into_iter().filter(|(_, l)| l.is_some() == later) {
            let Some(oracle) = line_oracle_or_skip(oracle_line, test) else {
                return;
            };
            for (repo, env, with_platform) in [
                ("examples/tenant-repo", "dev", true),
                ("examples/tenant-repo-flannel", "edge", false),
            ] {
                let repo = repo_on(repo, env, line.as_ref(), &mut copies);
                let v = tenant::load_env(&repo, env).unwrap();
                let r = render::render_values(
                    &v,
                    &bundle(),
                    with_platform.then_some(&platform),
                    &TemplateSource::default(),
                )
                .unwrap();
                for m in v.machines() {
                    let out = tmp.path().join(oracle_line).join(&m.name);
                    let theirs = talos_gen(&oracle, &v, m, &bundle_file, &out);
                    let path = format!("talos/{}.yaml", m.name);
                    let ours = as_one_mapping(
                        std::str::from_utf8(&r.tree.get(Path::new(&path)).unwrap().bytes).unwrap(),
                    );
                    let mut diffs = BTreeSet::new();
                    diff_keys(&ours, &theirs, &mut Vec::new(), &mut diffs);
                    for d in diffs {
                        if !rows.iter().any(|row| row.matches(&d)) {
                            unexplained.push(format!("{oracle_line} {env} {path}: {d:?}"));
                        }
                        seen.insert(d);
                    }
                }
            }
        }
        assert!(
            unexplained.is_empty(),
            "differences from `talosctl gen config` not in docs/talos-conformance.md:\n{}",
            unexplained.join("\n")
        );
        let stale: Vec<String> = rows
            .iter()
            .filter(|row| !seen.iter().any(|d| row.matches(d)))
            .map(|row| show(&row.path))
            .collect();
        assert!(
            stale.is_empty(),
            "docs/talos-conformance.md lists differences that no longer exist: {stale:?}"
        );
    }
}

#[test]
fn the_comparison_sees_missing_and_extra_keys_and_other_values() {
    // The comparison itself can fail: a key Talos writes and we drop, a key we add, a
    // mapping replaced by a scalar, and different values are all reported.
    let theirs: Value = serde_json::json!({"machine": {"kubelet": {"image": "x"},
        "install": {"disk": "d"}, "certSANs": ["a"], "type": "worker"}});
    let ours: Value = serde_json::json!({"machine": {"kubelet": "x",
        "install": {"wipe": false}, "certSANs": ["a", "b"], "type": "worker"}});
    let mut d = BTreeSet::new();
    diff_keys(&ours, &theirs, &mut Vec::new(), &mut d);
    let p = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        d,
        BTreeSet::from([
            Diff::NotAMapping(p("machine.kubelet")),
            Diff::OnlyTheirs(p("machine.install.disk")),
            Diff::OnlyOurs(p("machine.install.wipe")),
            Diff::Value(p("machine.certSANs")),
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// The machine API on the wire

/// The wire-relevant shape of our proto (proto/), in the form `talos-oracle descriptors`
/// prints Talos's: methods, then per message its fields (name, number, kind, cardinality,
/// type) and per enum its values, for everything our methods reach.
fn our_descriptors() -> Value {
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, EnumDescriptorProto};

    let fds = protox::compile(["machine/machine.proto"], [workspace_root().join("proto")])
        .expect("our proto compiles");
    let mut messages: BTreeMap<String, &DescriptorProto> = BTreeMap::new();
    let mut enums: BTreeMap<String, &EnumDescriptorProto> = BTreeMap::new();
    fn collect<'a>(
        prefix: &str,
        ms: &'a [DescriptorProto],
        es: &'a [EnumDescriptorProto],
        messages: &mut BTreeMap<String, &'a DescriptorProto>,
        enums: &mut BTreeMap<String, &'a EnumDescriptorProto>,
    ) {
        for e in es {
            enums.insert(format!("{prefix}{}", e.name()), e);
        }
        for m in ms {
            let name = format!("{prefix}{}", m.name());
            collect(
                &format!("{name}."),
                &m.nested_type,
                &m.enum_type,
                messages,
                enums,
            );
            messages.insert(name, m);
        }
    }
    for f in &fds.file {
        let prefix = format!("{}.", f.package());
        collect(
            &prefix,
            &f.message_type,
            &f.enum_type,
            &mut messages,
            &mut enums,
        );
    }
    let service = fds
        .file
        .iter()
        .flat_map(|f| f.service.iter().map(move |s| (f.package(), s)))
        .find(|(p, s)| *p == "machine" && s.name() == "MachineService")
        .map(|(_, s)| s)
        .expect("machine.MachineService");

    let mut out_messages = serde_json::Map::new();
    let mut out_enums = serde_json::Map::new();
    let mut todo: Vec<String> = Vec::new();
    let mut methods = Vec::new();
    for m in &service.method {
        let input = m.input_type().trim_start_matches('.').to_string();
        let output = m.output_type().trim_start_matches('.').to_string();
        methods.push(serde_json::json!({
            "name": m.name(), "input": input, "output": output,
            "client_streaming": m.client_streaming(), "server_streaming": m.server_streaming(),
        }));
        todo.push(input);
        todo.push(output);
    }
    while let Some(name) = todo.pop() {
        if name.starts_with("google.protobuf.") || out_messages.contains_key(&name) {
            continue;
        }
        let m = messages
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not in our proto"));
        let mut fields = Vec::new();
        for f in &m.field {
            let kind = f.r#type().as_str_name().trim_start_matches("TYPE_");
            let cardinality = match f.label() {
                Label::Optional => "optional",
                Label::Required => "required",
                Label::Repeated => "repeated",
            };
            let ty = f.type_name().trim_start_matches('.').to_string();
            match f.r#type() {
                Type::Message => todo.push(ty.clone()),
                Type::Enum => {
                    let e = enums[&ty];
                    let values: Vec<Value> = e
                        .value
                        .iter()
                        .map(|v| serde_json::json!({"name": v.name(), "number": v.number()}))
                        .collect();
                    out_enums.insert(ty.clone(), Value::from(values));
                }
                _ => {}
            }
            fields.push(serde_json::json!({
                "name": f.name(), "number": f.number(), "kind": kind.to_lowercase(),
                "cardinality": cardinality, "type": ty,
            }));
        }
        out_messages.insert(name, Value::from(fields));
    }
    serde_json::json!({"methods": methods, "messages": out_messages, "enums": out_enums})
}

#[test]
fn our_machine_api_proto_matches_the_descriptors_talos_is_built_from() {
    let test = "our_machine_api_proto_matches_the_descriptors_talos_is_built_from";
    let Some(oracle) = talos_oracle_or_skip(test) else {
        return;
    };
    let ours = our_descriptors();
    let names: Vec<&str> = ours["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    // Every RPC the client calls is in our proto (and so in this comparison).
    for called in ["ApplyConfiguration", "Bootstrap", "Kubeconfig", "Version"] {
        assert!(names.contains(&called), "{called} missing from proto/");
    }
    let mut args = vec!["descriptors", "machine.MachineService"];
    args.extend(&names);
    let o = oracles::run(&oracle, &args);
    assert!(
        o.status.success(),
        "talos-oracle descriptors: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let theirs: Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = descriptor_problems(&ours, &theirs);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Not vacuous: the comparison covered the messages the client decodes, and it notices a
    // field whose number or type is off.
    for m in [
        "machine.VersionResponse",
        "machine.VersionInfo",
        "common.Metadata",
        "common.Data",
    ] {
        assert!(ours["messages"].get(m).is_some(), "{m} not compared");
    }
    let mut renumbered = ours.clone();
    renumbered["messages"]["machine.VersionInfo"][0]["number"] = Value::from(7);
    assert_eq!(descriptor_problems(&renumbered, &theirs).len(), 1);
    let mut retyped = ours.clone();
    retyped["messages"]["common.Data"][1]["kind"] = Value::from("string");
    assert_eq!(descriptor_problems(&retyped, &theirs).len(), 1);
}

/// Where our descriptors disagree with Talos's: RPC signatures must be equal; each of our
/// fields (we declare only those we send or read) must be Talos's field with that number
/// exactly; each of our enum values must be one of Talos's.
fn descriptor_problems(ours: &Value, theirs: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if ours["methods"] != theirs["methods"] {
        problems.push(format!(
            "RPC signatures differ: ours {} vs Talos {}",
            ours["methods"], theirs["methods"]
        ));
    }
    for (name, fields) in ours["messages"].as_object().unwrap() {
        let Some(their_fields) = theirs["messages"][name].as_array() else {
            problems.push(format!("{name}: not a message Talos has"));
            continue;
        };
        // We declare only the fields we read or send; each must be Talos's field exactly.
        for f in fields.as_array().unwrap() {
            match their_fields.iter().find(|t| t["number"] == f["number"]) {
                Some(t) if t == f => {}
                Some(t) => problems.push(format!("{name}: ours {f} vs Talos {t}")),
                None => problems.push(format!("{name}: Talos has no field {f}")),
            }
        }
    }
    for (name, values) in ours["enums"].as_object().unwrap() {
        let theirs_values = theirs["enums"][name].as_array();
        for v in values.as_array().unwrap() {
            if !theirs_values.is_some_and(|t| t.contains(v)) {
                problems.push(format!("enum {name}: Talos has no value {v}"));
            }
        }
    }
    problems
}

/// Config patches at every level and of both shapes, on each line: what they produce still
/// passes that line's Talos validation.
#[test]
fn a_patched_config_passes_its_lines_talos_validation() {
    let test = "a_patched_config_passes_its_lines_talos_validation";
    let tmp = tempfile::tempdir().unwrap();
    for (line, _) in lines() {
        let Some(oracle) = line_oracle_or_skip(line, test) else {
            return;
        };
        // v1.34 is in the support matrix of every line.
        let src = format!(
            r#"controlplane:
  name: cp01
  ip: "203.0.113.10"
  patches:
    - machine:
        certSANs:
          - api.example.com
          - 203.0.113.10
workers:
  - name: w1
    ip: "203.0.113.11"
    patches:
      - - op: replace
          path: /machine/install/disk
          value: /dev/nvme0n1
cluster:
  name: c1
  cni: flannel
talos:
  version: {line}.1
kubernetes:
  version: v1.34.2
patches:
  - machine:
      sysctls:
        vm.max_map_count: "262144"
controlplane_patches:
  - - op: add
      path: /machine/nodeLabels/role
      value: control
worker_patches:
  - machine:
      nodeLabels:
        role: worker
"#
        );
        let v = tenant::values::parse(&src, Path::new("talos-values.yaml"), "test").unwrap();
        let r = render::render_values(&v, &bundle(), None, &TemplateSource::default())
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        let configs = talos_configs(&r);
        assert_eq!(configs.len(), 2, "{line}");
        for (path, bytes) in configs {
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(text.contains("vm.max_map_count"), "{line} {path}");
            let name = format!("{line} patched: {path}");
            assert_valid(&oracle, &name, &write_temp(tmp.path(), &name, &bytes));
        }
    }
}

/// Patch cases for [`our_patches_merge_as_talosctl_merges_them`]: a name, the level in
/// talos-values.yaml, and the patch as YAML (a mapping: strategic merge; a list: RFC 6902).
const PATCH_CASES: &[(&str, &str, &str)] = &[
    (
        "lists append, mappings merge",
        "patches",
        r#"machine:
  certSANs: [api.example.com]
  nodeLabels:
    zone: a
  sysctls:
    vm.max_map_count: "262144"
  kubelet:
    extraArgs:
      max-pods: "200"
"#,
    ),
    (
        "subnets are replaced",
        "patches",
        "cluster:\n  network:\n    podSubnets: [10.32.0.0/16]\n    serviceSubnets: [10.33.0.0/16]\n",
    ),
    (
        "an empty string changes nothing, false and true do",
        "patches",
        "machine:\n  install:\n    disk: \"\"\n    wipe: true\n  features:\n    diskQuotaSupport: false\n",
    ),
    (
        "delete a key",
        "patches",
        "machine:\n  nodeLabels:\n    role:\n      $patch: delete\n",
    ),
    (
        "admission plugins merge by name",
        "controlplane_patches",
        r#"cluster:
  apiServer:
    admissionControl:
      - name: PodSecurity
        configuration:
          defaults:
            enforce: restricted
"#,
    ),
    (
        "delete a list item",
        "controlplane_patches",
        "cluster:\n  apiServer:\n    admissionControl:\n      - name: PodSecurity\n        $patch: delete\n",
    ),
    (
        "fields our templates never write",
        "patches",
        r#"machine:
  files:
    - content: "[plugins]\n"
      permissions: 0o644
      path: /var/cri/conf.d/extra.toml
      op: create
  env:
    GRPC_GO_LOG_SEVERITY_LEVEL: error
  sysfs:
    devices.system.cpu.cpu0.cpufreq.scaling_governor: performance
  kubelet:
    clusterDNS: [10.96.0.10]
    extraMounts:
      - destination: /var/lib/longhorn
        type: bind
        source: /var/lib/longhorn
        options: [bind, rshared, rw]
    extraConfig:
      maxPods: 250
      serializeImagePulls: false
  kernel:
    modules:
      - name: br_netfilter
        parameters: [nf_conntrack_max=131072]
  nodeAnnotations:
    example.com/owner: platform
cluster:
  apiServer:
    extraArgs:
      feature-gates: ExampleGate=true
  controllerManager:
    extraArgs:
      bind-address: 0.0.0.0
  scheduler:
    extraArgs:
      bind-address: 0.0.0.0
  proxy:
    mode: ipvs
    extraArgs:
      metrics-bind-address: 0.0.0.0:10249
  coreDNS:
    disabled: true
  extraManifests:
    - https://example.com/manifests/extra.yaml
"#,
    ),
    (
        "control-plane-only fields",
        "controlplane_patches",
        r#"machine:
  features:
    kubernetesTalosAPIAccess:
      enabled: true
      allowedRoles: ["os:reader"]
      allowedKubernetesNamespaces: [kube-system]
cluster:
  etcd:
    advertisedSubnets: [203.0.113.0/24]
    extraArgs:
      election-timeout: "5000"
"#,
    ),
    (
        "RFC 6902 operations",
        "worker_patches",
        "- op: add\n  path: /machine/nodeLabels/extra\n  value: x\n- op: replace\n  path: /machine/install/disk\n  value: /dev/nvme0n1\n- op: remove\n  path: /machine/nodeLabels/role\n",
    ),
];

/// talos-values.yaml for the patch tests, on `line`, with `extra` appended.
fn patch_values(line: &str, extra: &str) -> String {
    // v1.34 is in the support matrix of every line; every node has a `role` label to delete.
    format!(
        r#"controlplane:
  name: cp01
  ip: "203.0.113.10"
  labels:
    role: control
workers:
  - name: w1
    ip: "203.0.113.11"
    labels:
      role: worker
cluster:
  name: c1
  cni: flannel
talos:
  version: {line}.1
kubernetes:
  version: v1.34.2
{extra}"#
    )
}

/// `patch` as one item of a talos-values.yaml list under `level`.
fn as_list_item(level: &str, patch: &str) -> String {
    let mut out = format!("{level}:\n");
    for (i, l) in patch.lines().enumerate() {
        let lead = if i == 0 { "  - " } else { "    " };
        out.push_str(lead);
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The v1alpha1 document of a rendered config: its text up to the first `---`.
fn first_document(bytes: &[u8]) -> String {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut out = String::new();
    for l in text.lines() {
        if l == "---" {
            break;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// `talos-oracle patch`: `config` with `patches` applied by Talos's configpatcher, in
/// machinery's encoding.
fn talos_patch(oracle: &Path, config: &Path, patches: &[&Path]) -> String {
    let out = std::process::Command::new(oracle)
        .arg("patch")
        .arg(config)
        .args(patches)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "talos-oracle patch {}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every patch case, on every line and node: what our patching produces is what Talos's own
/// configpatcher produces from our unpatched config and the same patch (both encoded by
/// machinery, so only meaning is compared), and the patched config passes validation.
#[test]
fn our_patches_merge_as_talosctl_merges_them() {
    let test = "our_patches_merge_as_talosctl_merges_them";
    let tmp = tempfile::tempdir().unwrap();
    let render_src = |src: &str| {
        let v = tenant::values::parse(src, Path::new("talos-values.yaml"), "test").unwrap();
        render::render_values(&v, &bundle(), None, &TemplateSource::default())
    };
    for (line, _) in lines() {
        let Some(oracle) = line_oracle_or_skip(line, test) else {
            return;
        };
        let base = render_src(&patch_values(line, "")).unwrap();
        let base = talos_configs(&base);
        for (case, level, patch) in PATCH_CASES {
            let src = patch_values(line, &as_list_item(level, patch));
            let ours = render_src(&src).unwrap_or_else(|e| panic!("{line} {case}: {e}"));
            let patch_file = write_temp(
                tmp.path(),
                &format!("{line} {case} patch"),
                patch.as_bytes(),
            );
            for (path, ours) in talos_configs(&ours) {
                let name = format!("{line} {case}: {path}");
                let applies = match *level {
                    "controlplane_patches" => path.contains("cp01"),
                    "worker_patches" => !path.contains("cp01"),
                    _ => true,
                };
                let unpatched = write_temp(
                    tmp.path(),
                    &format!("{name} base"),
                    first_document(&base[&path]).as_bytes(),
                );
                let theirs = if applies {
                    talos_patch(&oracle, &unpatched, &[&patch_file])
                } else {
                    talos_patch(&oracle, &unpatched, &[])
                };
                let ours_file = write_temp(
                    tmp.path(),
                    &format!("{name} ours"),
                    first_document(&ours).as_bytes(),
                );
                let ours_encoded = talos_patch(&oracle, &ours_file, &[]);
                if ours_encoded != theirs {
                    let diff = similar::TextDiff::from_lines(&theirs, &ours_encoded)
                        .unified_diff()
                        .header("talosctl", "kubectl zt")
                        .to_string();
                    panic!("{name}: our patched config differs from Talos's:\n{diff}");
                }
                assert_valid(&oracle, &name, &write_temp(tmp.path(), &name, &ours));
            }
        }
    }
}
