//! `kubectl zt bootstrap --bare-metal` / `--hetzner` through the plugin binary: the dry-run plan,
//! flag checks, the confirmation before disks are overwritten, and a run that installs Talos on
//! the control plane's stand-in rescue system (Debian's sshd) before talos-apply.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use zt_test_support::cli::{self, text};
use zt_test_support::rescue::{PASSWORD, Rig};
use zt_test_support::{sshd, workspace_root};

const CREDENTIALS: &[(&str, &str)] = &[
    ("BOT_GITHUB_USERNAME", "zerotouch-example"),
    ("BOT_GITHUB_TOKEN", "ghp_BAREMETALTOKEN"),
    ("TENANTS_REPO_NAME", "zerotouch-tenants"),
    ("AWS_ACCESS_KEY_ID", "AKIABAREMETAL"),
    ("AWS_SECRET_ACCESS_KEY", "bare-metal-aws-secret"),
];

const HETZNER_TOKEN: &str = "hz-cli-token-90ab";

const BASE: &[&str] = &[
    "bootstrap",
    "dev",
    "--tenant-repo",
    "examples/tenant-repo",
    "--secrets",
    "examples/example-secrets.yaml",
    "--platform-repo",
    "examples/platform-repo",
];

fn zt(home: &Path, extra: &[&str]) -> Output {
    let mut args = BASE.to_vec();
    args.extend(extra);
    zt_raw(home, &args)
}

fn zt_raw(home: &Path, args: &[&str]) -> Output {
    plugin(home)
        .env_remove("HETZNER_API_TOKEN")
        .stdin(Stdio::null())
        .args(args)
        .output()
        .unwrap()
}

/// The plugin binary in the workspace, with only the example's credentials.
fn plugin(home: &Path) -> Command {
    let mut c = cli::command(
        env!("CARGO_BIN_EXE_kubectl-zt"),
        &workspace_root(),
        CREDENTIALS,
    );
    c.env("HOME", home);
    c
}

/// A 127.0.0.1 port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn dry_run_shows_rescue_and_install_per_node_and_no_secret() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("id_ed25519");
    sshd::keygen(&key);
    let o = plugin(home.path())
        .env("HETZNER_API_TOKEN", HETZNER_TOKEN)
        .args(BASE)
        .args([
            "--dry-run",
            "--hetzner",
            "--hetzner-endpoint",
            "http://127.0.0.1:1/v1",
        ])
        .arg("--ssh-key")
        .arg(&key)
        .arg("--cache")
        .arg(home.path().join("cache.json"))
        .output()
        .unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    let values =
        zt::tenant::load_env(&workspace_root().join("examples/tenant-repo"), "dev").unwrap();
    assert!(
        out.contains("24 stages"),
        "18 + rescue and install for 3 nodes:\n{out}"
    );
    for m in values.machines() {
        for want in [
            format!("rescue/{}", m.name),
            format!("talos-install/{}", m.name),
            format!("write Talos to {} on {} ({})", m.install_disk, m.name, m.ip),
        ] {
            assert!(out.contains(&want), "`{want}` missing:\n{out}");
        }
    }
    assert!(
        out.contains(&format!("logins tried: key {}, then", key.display())),
        "{out}"
    );
    assert!(out.contains("/v1.11.5/metal-amd64.raw.xz"), "{out}");
    assert!(
        out.contains("== stages 9-18 run together: worker01, worker02 (2 lanes)"),
        "{out}"
    );
    let private = std::fs::read_to_string(&key).unwrap();
    let private_body = private.lines().nth(1).unwrap();
    for secret in [
        HETZNER_TOKEN,
        "auto-generated",
        private_body,
        "ghp_BAREMETALTOKEN",
    ] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} leaked"
        );
    }
    assert!(!home.path().join("cache.json").exists());
}

#[test]
fn bare_metal_flags_are_checked_with_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--dry-run", "--ssh-key", "x", "--yes"],
            "--ssh-key, --yes only apply when starting from bare metal: add --bare-metal",
        ),
        (
            &["--dry-run", "--hetzner"],
            "--hetzner needs a Hetzner Cloud API token (read/write) in HETZNER_API_TOKEN",
        ),
        (
            &["--dry-run", "--bare-metal", "--ssh-key", "/nonexistent/key"],
            "--ssh-key: /nonexistent/key: not a usable SSH private key",
        ),
        (
            &[
                "--dry-run",
                "--bare-metal",
                "--talos-image",
                "/nonexistent.raw.xz",
            ],
            "--talos-image /nonexistent.raw.xz: no such file",
        ),
        (
            &["--dry-run", "--bare-metal", "--talos-image-url", "ftp://x"],
            "--talos-image-url ftp://x: expected an http(s):// URL",
        ),
        (
            &[
                "--dry-run",
                "--bare-metal",
                "--ssh-endpoint",
                "nosuch=127.0.0.1:22",
            ],
            "no node `nosuch` in environment dev",
        ),
        (
            &[
                "--dry-run",
                "--bare-metal",
                "--ssh-known-hosts",
                "/nonexistent",
            ],
            "--ssh-known-hosts /nonexistent: no such file",
        ),
    ];
    for (args, want) in cases {
        let o = zt(home.path(), args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: `{want}` missing from {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_run_without_a_terminal_or_yes_names_the_disks_and_does_nothing() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache.json");
    let o = zt(
        home.path(),
        &["--bare-metal", "--cache", cache.to_str().unwrap()],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let values =
        zt::tenant::load_env(&workspace_root().join("examples/tenant-repo"), "dev").unwrap();
    for m in values.machines() {
        assert!(
            err.contains(&format!("  {} on {} ({})", m.install_disk, m.name, m.ip)),
            "{err}"
        );
    }
    assert!(
        err.contains("rerun with --yes") && err.contains("nothing was done"),
        "{err}"
    );
    assert!(!cache.exists(), "no stage ran");
}

#[test]
fn installs_talos_on_the_control_plane_before_applying_its_config() {
    if !sshd::available_or_skip("installs_talos_on_the_control_plane_before_applying_its_config") {
        return;
    }
    // install_disk must be a /dev path: the "disk" is a file in /dev/shm (a tmpfs), removed on
    // drop.
    let Ok(disk) = tempfile::Builder::new()
        .prefix("zt-test-disk-")
        .tempfile_in("/dev/shm")
    else {
        eprintln!(
            "skipping installs_talos_on_the_control_plane_before_applying_its_config: no /dev/shm"
        );
        return;
    };
    std::fs::write(disk.path(), vec![0xAAu8; 5 << 20]).unwrap();
    let rig = Rig::start();
    let http = rig.serve();
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache.json");
    // A tenant repo whose control plane installs to that disk.
    let repo = home.path().join("tenant-repo");
    copy_dir(&workspace_root().join("examples/tenant-repo"), &repo);
    let values_file = repo.join("environments/dev/talos-values.yaml");
    let values = std::fs::read_to_string(&values_file).unwrap().replace(
        "  rescue_password: \"auto-generated\"",
        &format!(
            "  rescue_password: \"{PASSWORD}\"\n  install_disk: \"{}\"",
            disk.path().display()
        ),
    );
    std::fs::write(&values_file, values).unwrap();
    let ssh = format!("cp01-main={}", rig.sshd.addr());
    let talos: Vec<String> = ["cp01-main", "worker01", "worker02"]
        .iter()
        .map(|n| format!("{n}=127.0.0.1:{}", closed_port()))
        .collect();
    let url = http.url("/talos.raw.xz");
    let rescue_path = rig.dir.path().join("bin");
    let mut args: Vec<&str> = vec![
        "bootstrap",
        "dev",
        "--tenant-repo",
        repo.to_str().unwrap(),
        "--secrets",
        "examples/example-secrets.yaml",
        "--platform-repo",
        "examples/platform-repo",
        "--bare-metal",
        "--yes",
        "--insecure-skip-verify",
        "--ssh-endpoint",
        &ssh,
        "--talos-image-url",
        &url,
        "--rescue-path",
        rescue_path.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--node-timeout",
        "1s",
        "-v",
    ];
    for t in &talos {
        args.extend(["--talos-endpoint", t]);
    }
    // The workers are never reached (the run stops at the control plane); were they, only here.
    let worker_ssh: Vec<String> = ["worker01", "worker02"]
        .iter()
        .map(|n| format!("{n}=127.0.0.1:{}", closed_port()))
        .collect();
    for w in &worker_ssh {
        args.extend(["--ssh-endpoint", w]);
    }
    let o = zt_raw(home.path(), &args);
    let err = text(&o.stderr);
    // The install happened; then talos-apply waits for a maintenance API nothing serves here.
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("✓ talos-install/cp01-main"),
        "{err}\n{}",
        rig.sshd.log()
    );
    assert!(err.contains("talos-apply/cp01-main"), "{err}");
    assert!(err.contains("accepted the host key SHA256:"), "{err}");
    let written = std::fs::read(disk.path()).unwrap();
    assert_eq!(&written[..rig.image.len()], &rig.image[..]);
    assert_eq!(rig.reboots(), 1);
    assert!(!err.contains(PASSWORD), "{err}");
    let cache_text = std::fs::read_to_string(&cache).unwrap();
    assert!(cache_text.contains("talos-install/cp01-main") && !cache_text.contains(PASSWORD));
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
