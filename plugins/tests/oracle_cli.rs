//! The commands as users run them, judged by the real components `make oracles` builds from
//! their Go modules: Talos's machinery and talosctl on secrets bundles (ours and theirs, both
//! ways), and the kind CLI on the preview cluster config. Each test skips, saying so, when its
//! oracle is not built; `ZT_REQUIRE_ORACLES=1` makes that a failure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use zt_test_support::cli::{self, text};
use zt_test_support::oracles::{
    oracle_or_skip, run, talos_bundle_check, talos_oracle_or_skip, talos_validate,
};
use zt_test_support::workspace_root;

/// Fake credentials, as a CI job would export them (preview render needs them).
const CREDENTIALS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_ORACLETESTTOKEN"),
    ("TENANTS_REPO_NAME", "zerotouch-tenants"),
    ("AWS_ACCESS_KEY_ID", "AKIAORACLETEST"),
    ("AWS_SECRET_ACCESS_KEY", "oracle-aws-secret"),
    ("AWS_SESSION_TOKEN", "oracle-session-token"),
    ("OPENAI_API_KEY", "sk-oracle-openai"),
    ("ANTHROPIC_API_KEY", "sk-ant-oracle"),
];

/// `kubectl-zt <args>` from the workspace root, with the fake credentials and no cluster.
fn zt(args: &[&str]) -> Output {
    cli::command(
        env!("CARGO_BIN_EXE_kubectl-zt"),
        &workspace_root(),
        CREDENTIALS,
    )
    .args(args)
    .output()
    .unwrap()
}

fn yaml(path: &Path) -> Value {
    zt::yaml::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- secrets bundles, both ways ----

#[test]
fn a_machinery_bundle_passes_secrets_check_and_renders_valid_configs() {
    let test = "a_machinery_bundle_passes_secrets_check_and_renders_valid_configs";
    let Some(oracle) = talos_oracle_or_skip(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("secrets.yaml");
    let o = run(
        &oracle,
        &["bundle-gen", s(&bundle), "--talos-version", "v1.11"],
    );
    assert!(o.status.success(), "bundle-gen: {}", text(&o.stderr));

    let o = zt(&["secrets", "check", "--secrets", s(&bundle)]);
    assert!(
        o.status.success(),
        "kubectl zt secrets check refuses Talos's own bundle: {}",
        text(&o.stderr)
    );

    let out = tmp.path().join("out");
    let o = zt(&[
        "render",
        "--tenant-repo",
        "examples/tenant-repo-flannel",
        "--env",
        "edge",
        "--secrets",
        s(&bundle),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "render: {}", text(&o.stderr));
    let theirs = yaml(&bundle);
    for node in ["edge-cp", "edge-storage"] {
        let f = out.join(format!("talos/{node}.yaml"));
        let v = talos_validate(&oracle, &f);
        assert!(v.success && v.errors.is_empty(), "{node}: {:?}", v.errors);
        assert!(v.warnings.is_empty(), "{node}: {:?}", v.warnings);
        // The render used Talos's bundle, not some other one.
        let cfg = yaml(&f);
        assert_eq!(cfg["machine"]["ca"]["crt"], theirs["certs"]["os"]["crt"]);
        assert_eq!(cfg["cluster"]["secret"], theirs["cluster"]["secret"]);
        assert_eq!(cfg["machine"]["token"], theirs["trustdinfo"]["token"]);
    }
}

#[test]
fn our_bundle_passes_machinery_and_real_talosctl_gen_config() {
    let test = "our_bundle_passes_machinery_and_real_talosctl_gen_config";
    let Some(oracle) = talos_oracle_or_skip(test) else {
        return;
    };
    let Some(talosctl) = oracle_or_skip("talosctl-v1.11", test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("secrets.yaml");
    let o = zt(&["secrets", "gen", "--out", s(&bundle)]);
    assert!(o.status.success(), "secrets gen: {}", text(&o.stderr));

    let v = talos_bundle_check(&oracle, &bundle);
    assert!(
        v.success && v.errors.is_empty(),
        "machinery: {:?}",
        v.errors
    );

    let out = tmp.path().join("talosctl");
    let o = Command::new(&talosctl)
        .args([
            "gen",
            "config",
            "--with-secrets",
            s(&bundle),
            "--output-dir",
            s(&out),
            "zerotouch-interop",
            "https://203.0.113.10:6443",
        ])
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "talosctl gen config --with-secrets: {}",
        text(&o.stderr)
    );
    let ours = yaml(&bundle);
    for f in ["controlplane.yaml", "worker.yaml"] {
        let path = out.join(f);
        let v = talos_validate(&oracle, &path);
        assert!(v.success && v.errors.is_empty(), "{f}: {:?}", v.errors);
        let cfg = yaml(&path);
        assert_eq!(
            cfg["machine"]["ca"]["crt"], ours["certs"]["os"]["crt"],
            "{f}"
        );
        assert_eq!(
            cfg["cluster"]["ca"]["crt"], ours["certs"]["k8s"]["crt"],
            "{f}"
        );
        assert_eq!(cfg["cluster"]["secret"], ours["cluster"]["secret"], "{f}");
        assert_eq!(cfg["machine"]["token"], ours["trustdinfo"]["token"], "{f}");
    }
    // talosctl issued its admin client certificate from our os CA.
    let talosconfig = yaml(&out.join("talosconfig"));
    let ctx = talosconfig["context"].as_str().unwrap();
    assert_eq!(
        talosconfig["contexts"][ctx]["ca"],
        ours["certs"]["os"]["crt"]
    );
}

#[test]
fn machinery_refuses_a_bundle_whose_key_belongs_to_another_ca() {
    let test = "machinery_refuses_a_bundle_whose_key_belongs_to_another_ca";
    let Some(oracle) = talos_oracle_or_skip(test) else {
        return;
    };
    // The bundle check can fail: the os CA paired with the etcd CA's key.
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("secrets.yaml");
    assert!(
        zt(&["secrets", "gen", "--out", s(&bundle)])
            .status
            .success()
    );
    let doc = yaml(&bundle);
    let os_key = doc["certs"]["os"]["key"].as_str().unwrap();
    let etcd_key = doc["certs"]["etcd"]["key"].as_str().unwrap();
    let text_bundle = fs::read_to_string(&bundle).unwrap();
    assert_eq!(text_bundle.matches(os_key).count(), 1);
    fs::write(&bundle, text_bundle.replace(os_key, etcd_key)).unwrap();
    let v = talos_bundle_check(&oracle, &bundle);
    assert!(!v.success);
    assert!(
        v.errors
            .iter()
            .any(|e| e.contains("certs.os") && e.contains("does not belong")),
        "{:?}",
        v.errors
    );
}

// ---- the preview Kind config in the real kind CLI ----

/// A stand-in for the docker CLI: answers what kind asks before it needs a node image
/// (`docker -v`, `docker info`, `docker ps`), records every call, and fails everything else
/// (there is no engine and no image). kind's first call about the node image is
/// `docker inspect --type=image`: reaching it means kind accepted the config (strict loading,
/// then `Validate`). The stub says the image is there, so kind fails at once on the next call
/// (the network) instead of retrying a pull with backoff.
const STUB_DOCKER: &str = r#"#!/bin/sh
printf '%s\n' "$*" >> "$ZT_STUB_DOCKER_LOG"
case "$1" in
  -v) echo "Docker version 27.5.1, build zt-stub" ;;
  info) echo '{"CgroupDriver":"systemd","CgroupVersion":"2","MemoryLimit":true,"PidsLimit":true,"CPUShares":true,"SecurityOptions":["name=seccomp,profile=builtin","name=cgroupns"]}' ;;
  ps) ;;
  inspect) [ "$2" = "--type=image" ] || exit 1 ;;
  *) echo "zt docker stub: no engine here ($1)" >&2; exit 1 ;;
esac
"#;

struct KindRun {
    output: Output,
    docker_calls: Vec<String>,
}

impl KindRun {
    fn reached_the_image_step(&self) -> bool {
        self.docker_calls
            .iter()
            .any(|c| c.starts_with("inspect --type=image kindest/node"))
    }
}

fn kind_create(kind: &Path, config: &Path) -> KindRun {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let docker = bin.join("docker");
    fs::write(&docker, STUB_DOCKER).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&docker, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = tmp.path().join("docker.log");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(kind)
        .args(["create", "cluster", "--config", s(config)])
        .env("PATH", path)
        .env("HOME", tmp.path())
        .env("KUBECONFIG", tmp.path().join("kubeconfig"))
        .env("ZT_STUB_DOCKER_LOG", &log)
        .env_remove("KIND_EXPERIMENTAL_PROVIDER")
        .output()
        .unwrap();
    let docker_calls = fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    KindRun {
        output,
        docker_calls,
    }
}

fn assert_kind_accepts(kind: &Path, config: &Path) {
    let r = kind_create(kind, config);
    // No engine exists here, so kind fails — but only after the image step.
    assert!(
        r.reached_the_image_step(),
        "kind stopped before the node image: {}\ndocker calls: {:?}",
        text(&r.output.stderr),
        r.docker_calls
    );
    assert!(!r.output.status.success());
}

/// `kubectl zt render --mode preview` of a fresh platform checkout, with `extra` arguments;
/// returns the Kind config it wrote.
fn preview_render(tmp: &Path, extra: &[&str]) -> PathBuf {
    let repo = tmp.join("platform");
    fs::create_dir_all(&repo).unwrap();
    fs::write(repo.join("README.md"), "platform\n").unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "x"]);
    let out = tmp.join("out");
    let mut args = vec![
        "render",
        "--mode",
        "preview",
        "--platform-repo",
        s(&repo),
        "--out",
        s(&out),
    ];
    args.extend(extra);
    let o = zt(&args);
    assert!(
        o.status.success(),
        "render --mode preview: {}",
        text(&o.stderr)
    );
    out.join("kind/cluster.yaml")
}

#[test]
fn kind_accepts_the_golden_and_the_rendered_preview_cluster_config() {
    let test = "kind_accepts_the_golden_and_the_rendered_preview_cluster_config";
    let Some(kind) = oracle_or_skip("kind", test) else {
        return;
    };
    assert_kind_accepts(
        &kind,
        &workspace_root().join("golden/preview/kind/cluster.yaml"),
    );
    let tmp = tempfile::tempdir().unwrap();
    assert_kind_accepts(&kind, &preview_render(tmp.path(), &[]));
}

#[test]
fn kind_reads_our_cluster_name_and_node_image() {
    let test = "kind_reads_our_cluster_name_and_node_image";
    let Some(kind) = oracle_or_skip("kind", test) else {
        return;
    };
    // The flags land where kind looks: it asks the engine for nodes of our cluster name and
    // for our node image, not its defaults.
    let tmp = tempfile::tempdir().unwrap();
    let image = "registry.example.com/kindest/node:v1.34.0";
    let config = preview_render(
        tmp.path(),
        &["--cluster-name", "zt-oracle-check", "--node-image", image],
    );
    let r = kind_create(&kind, &config);
    assert!(
        r.docker_calls
            .iter()
            .any(|c| c.starts_with("ps ") && c.contains("io.x-k8s.kind.cluster=zt-oracle-check")),
        "{:?}",
        r.docker_calls
    );
    assert!(
        r.docker_calls
            .iter()
            .any(|c| c == &format!("inspect --type=image {image}")),
        "{:?}",
        r.docker_calls
    );
}

#[test]
fn kind_refuses_broken_cluster_configs_before_the_image_step() {
    let test = "kind_refuses_broken_cluster_configs_before_the_image_step";
    let Some(kind) = oracle_or_skip("kind", test) else {
        return;
    };
    let good =
        fs::read_to_string(workspace_root().join("golden/preview/kind/cluster.yaml")).unwrap();
    let edit = |from: &str, to: &str| {
        assert!(good.contains(from), "`{from}` not in the golden config");
        good.replacen(from, to, 1)
    };
    let tmp = tempfile::tempdir().unwrap();
    for (name, config, expect) in [
        (
            "unknown field",
            edit(
                "- role: control-plane\n",
                "- role: control-plane\n  extraMountz: []\n",
            ),
            "field extraMountz not found",
        ),
        (
            "bad apiVersion",
            edit("kind.x-k8s.io/v1alpha4", "kind.x-k8s.io/v1alpha9"),
            "apiVersion",
        ),
        (
            "no control plane",
            edit("- role: control-plane\n", "- role: worker\n"),
            "control-plane",
        ),
    ] {
        let f = tmp.path().join(format!("{}.yaml", name.replace(' ', "-")));
        fs::write(&f, config).unwrap();
        let r = kind_create(&kind, &f);
        let stderr = text(&r.output.stderr);
        assert!(!r.output.status.success(), "{name}: kind accepted it");
        assert!(
            !r.reached_the_image_step(),
            "{name}: kind went on to the image step: {:?}",
            r.docker_calls
        );
        assert!(stderr.contains(expect), "{name}: {stderr}");
    }
}
