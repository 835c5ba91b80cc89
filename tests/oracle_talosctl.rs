//! The real `talosctl` (built by `make oracles` from github.com/siderolabs/talos) with what we
//! render: our talosconfig authenticates it to a node of the cluster, and our machine configs
//! reach a node in maintenance mode byte for byte. The node is the in-process Talos test node
//! (tests/support/src/talos_api) serving certificates from the same secrets bundle; talosctl is
//! the judge of the talosconfig, the TLS set-up and the wire format. Skips, saying so, when
//! talosctl is not built; `ZT_REQUIRE_ORACLES=1` makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Output;

use zt::render::{self, Rendered, Request, TemplateSource};
use zt::talos::api::proto::machine::apply_configuration_request::Mode;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::TenantRepo;
use zt_test_support::oracles::oracle_or_skip;
use zt_test_support::talos_api::{Identity, NodeMode, TALOS_TAG, TalosTestServer};
use zt_test_support::workspace_root;

const TALOSCTL: &str = "talosctl-v1.11";

fn rendered(bundle: &SecretsBundle) -> Rendered {
    let tenant = TenantRepo::open(&workspace_root().join("examples/tenant-repo-flannel")).unwrap();
    render::render(&Request {
        tenant: &tenant,
        env: "edge",
        bundle,
        platform_repo: None,
        templates: &TemplateSource::default(),
    })
    .unwrap()
}

fn file(r: &Rendered, path: &str) -> Vec<u8> {
    r.tree.get(Path::new(path)).unwrap().bytes.clone()
}

/// talosctl with a private HOME, so no talosconfig of the machine can be read or written.
async fn talosctl(bin: &Path, home: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(bin)
        .args(args)
        .env("HOME", home)
        .env_remove("TALOSCONFIG")
        .output()
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[tokio::test]
async fn talosctl_version_works_with_our_talosconfig() {
    let test = "talosctl_version_works_with_our_talosconfig";
    let Some(bin) = oracle_or_skip(TALOSCTL, test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bundle = zt::examples::bundle().unwrap();
    let talosconfig = write(
        tmp.path(),
        "talosconfig",
        &file(&rendered(&bundle), "talos/talosconfig"),
    );
    let server = TalosTestServer::configured(&bundle).await;
    let endpoint = server.endpoint();
    let o = talosctl(
        &bin,
        tmp.path(),
        &[
            "--talosconfig",
            talosconfig.to_str().unwrap(),
            "-e",
            &endpoint,
            "-n",
            "127.0.0.1",
            "version",
        ],
    )
    .await;
    assert!(
        o.status.success(),
        "talosctl version: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let stdout = text(&o.stdout);
    // The server half of the answer came from the node, through mutual TLS with our admin
    // certificate and our CA.
    let server_part = stdout
        .split_once("Server:")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no server part: {stdout}"));
    assert!(server_part.contains(TALOS_TAG), "{stdout}");
    let calls = server.state().calls.clone();
    let version = calls
        .iter()
        .find(|c| c.method == "Version")
        .unwrap_or_else(|| panic!("no Version call: {calls:?}"));
    assert_eq!(version.mode, NodeMode::Configured);
    assert!(
        version.client_organizations.iter().any(|o| o == "os:admin"),
        "{version:?}"
    );
    // talosctl names the target node in gRPC metadata, as our client does.
    assert!(
        version.node.as_deref() == Some("127.0.0.1")
            || version.nodes.as_deref() == Some("127.0.0.1"),
        "{version:?}"
    );
}

#[tokio::test]
async fn talosctl_refuses_a_node_of_another_cluster_with_our_talosconfig() {
    let test = "talosctl_refuses_a_node_of_another_cluster_with_our_talosconfig";
    let Some(bin) = oracle_or_skip(TALOSCTL, test) else {
        return;
    };
    // The check above can fail: the node's certificate is from another bundle's CA.
    let tmp = tempfile::tempdir().unwrap();
    let talosconfig = write(
        tmp.path(),
        "talosconfig",
        &file(
            &rendered(&zt::examples::bundle().unwrap()),
            "talos/talosconfig",
        ),
    );
    let server = TalosTestServer::configured(&SecretsBundle::generate().unwrap()).await;
    let o = talosctl(
        &bin,
        tmp.path(),
        &[
            "--talosconfig",
            talosconfig.to_str().unwrap(),
            "-e",
            &server.endpoint(),
            "-n",
            "127.0.0.1",
            "version",
        ],
    )
    .await;
    assert!(!o.status.success(), "{}", text(&o.stdout));
    assert!(
        server.state().calls.iter().all(|c| c.method != "Version"),
        "a call got through"
    );
}

#[tokio::test]
async fn talosctl_apply_config_insecure_delivers_our_config_byte_for_byte() {
    let test = "talosctl_apply_config_insecure_delivers_our_config_byte_for_byte";
    let Some(bin) = oracle_or_skip(TALOSCTL, test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bundle = zt::examples::bundle().unwrap();
    let r = rendered(&bundle);
    for (name, role) in [
        ("talos/edge-cp.yaml", "controlplane"),
        ("talos/edge-storage.yaml", "worker"),
    ] {
        let config = file(&r, name);
        let path = write(tmp.path(), "node.yaml", &config);
        let server = TalosTestServer::maintenance(&Identity::maintenance()).await;
        server.state().machine_type = role.into();
        let node = server.endpoint();
        let o = talosctl(
            &bin,
            tmp.path(),
            &[
                "apply-config",
                "--insecure",
                "-n",
                &node,
                "--file",
                path.to_str().unwrap(),
            ],
        )
        .await;
        assert!(
            o.status.success(),
            "talosctl apply-config {name}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let state = server.state();
        assert_eq!(state.applied.len(), 1, "{name}");
        let applied = &state.applied[0];
        assert_eq!(applied.mode_in, NodeMode::Maintenance);
        // talosctl's default mode.
        assert_eq!(applied.mode, Mode::Auto);
        assert!(applied.data == config, "{name}: the node got other bytes");
    }
}

#[test]
fn talosctl_validate_agrees_with_talos_oracle_on_the_golden_configs() {
    // talos-oracle restates `talosctl validate --mode metal --strict` in a few lines of Go; the
    // real command must give the same verdicts, or the oracle is not the judge it claims to be.
    let test = "talosctl_validate_agrees_with_talos_oracle_on_the_golden_configs";
    let Some(bin) = oracle_or_skip(TALOSCTL, test) else {
        return;
    };
    let Some(oracle) = zt_test_support::oracles::talos_oracle_or_skip(test) else {
        return;
    };
    let validate = |f: &Path| {
        std::process::Command::new(&bin)
            .args(["validate", "--mode", "metal", "--strict", "--config"])
            .arg(f)
            .output()
            .unwrap()
    };
    let golden = workspace_root().join("golden");
    let mut files = Vec::new();
    for case in ["dev", "edge-flannel"] {
        for f in std::fs::read_dir(golden.join(case).join("talos")).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml") {
                files.push(f);
            }
        }
    }
    assert!(files.len() >= 4);
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(&files[0]).unwrap();
    files.push(write(
        tmp.path(),
        "unknown-key.yaml",
        good.replacen("machine:\n", "machine:\n  kubelett: {}\n", 1)
            .as_bytes(),
    ));
    let no_disk: Vec<&str> = good
        .lines()
        .map(|l| {
            if l.starts_with("    disk: ") {
                "    disk: \"\""
            } else {
                l
            }
        })
        .collect();
    assert_ne!(no_disk.join("\n"), good.trim_end());
    files.push(write(
        tmp.path(),
        "no-disk.yaml",
        (no_disk.join("\n") + "\n").as_bytes(),
    ));
    for f in &files {
        let real = validate(f);
        let ours = zt_test_support::oracles::talos_validate(&oracle, f);
        assert_eq!(
            real.status.success(),
            ours.success,
            "{}: talosctl says {}{}; talos-oracle says {:?}",
            f.display(),
            text(&real.stdout),
            text(&real.stderr),
            ours.errors
        );
    }
    let verdicts: Vec<bool> = files.iter().map(|f| validate(f).status.success()).collect();
    assert!(
        verdicts.contains(&true) && verdicts.contains(&false),
        "{verdicts:?}"
    );
}

#[tokio::test]
async fn talosctl_bootstraps_and_fetches_the_kubeconfig_from_the_test_node() {
    // The real client keeps the test node honest: what the double answers for Bootstrap and
    // Kubeconfig (a gzipped tar streamed in chunks) is what talosctl understands.
    let test = "talosctl_bootstraps_and_fetches_the_kubeconfig_from_the_test_node";
    let Some(bin) = oracle_or_skip(TALOSCTL, test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bundle = zt::examples::bundle().unwrap();
    let talosconfig = write(
        tmp.path(),
        "talosconfig",
        &file(&rendered(&bundle), "talos/talosconfig"),
    );
    let server = TalosTestServer::configured(&bundle).await;
    let endpoint = server.endpoint();
    let common = [
        "--talosconfig",
        talosconfig.to_str().unwrap(),
        "-e",
        endpoint.as_str(),
        "-n",
        "127.0.0.1",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        common.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let args = with(&["bootstrap"]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = talosctl(&bin, tmp.path(), &argv).await;
    assert!(o.status.success(), "bootstrap: {}", text(&o.stderr));
    assert!(server.state().bootstrapped);
    // A second bootstrap is refused by the node, and talosctl says so.
    let o = talosctl(&bin, tmp.path(), &argv).await;
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("AlreadyExists"),
        "{}",
        text(&o.stderr)
    );

    let out = tmp.path().join("kubeconfig");
    let args = with(&["kubeconfig", out.to_str().unwrap()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = talosctl(&bin, tmp.path(), &argv).await;
    assert!(o.status.success(), "kubeconfig: {}", text(&o.stderr));
    let got = std::fs::read_to_string(&out).unwrap();
    let want = std::str::from_utf8(zt_test_support::talos_api::DEFAULT_KUBECONFIG).unwrap();
    // talosctl writes the kubeconfig it unpacked (a new file is not merged into anything).
    let server_line = want.lines().find(|l| l.contains("server:")).unwrap().trim();
    assert!(got.contains(server_line), "{got}");
    assert!(got.contains("client-key-data"), "{got}");
}
