//! Installing Talos from a rescue system, against Debian's real OpenSSH server on 127.0.0.1
//! (tests/support/src/sshd.rs), the real `xz`, `dd` and `curl` under it, a disk that is a
//! file, and the image served by a test HTTP server. A stand-in `reboot` on the PATH prefix
//! records that it ran.

use std::path::Path;

use zt::install::{
    HostKeyMemory, HostKeyPolicy, ImageSource, InstallError, InstallSpec, SshAuth, SshError,
    SshTarget, install,
};
use zt::secret::SecretString;
use zt_test_support::rescue::{DISK_LEN, FILL, PASSWORD, Rig, write_script};
use zt_test_support::sshd;

async fn run(target: &SshTarget, spec: &InstallSpec) -> (Result<(), InstallError>, Vec<String>) {
    let mut events = Vec::new();
    let r = install(target, spec, &mut |e| events.push(format!("{e:?}"))).await;
    (r, events)
}

fn fingerprint_of(pub_line: &str) -> String {
    let key = russh_key(pub_line);
    zt::install::ssh::fingerprint(&key)
}

fn russh_key(pub_line: &str) -> russh::keys::PublicKey {
    russh::keys::parse_public_key_base64(pub_line.split_whitespace().nth(1).unwrap()).unwrap()
}

fn tofu() -> HostKeyPolicy {
    HostKeyPolicy::TrustOnFirstUse(HostKeyMemory::default())
}

#[tokio::test]
async fn writes_the_downloaded_image_verifies_it_and_reboots() {
    if !sshd::available_or_skip("writes_the_downloaded_image_verifies_it_and_reboots") {
        return;
    }
    let rig = Rig::start();
    let http = rig.serve();
    let spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::Url(http.url("/talos.raw.xz")),
    );
    let (r, events) = run(&rig.target(rig.password(), tofu()), &spec).await;
    r.unwrap_or_else(|e| panic!("{e}\nsshd log: {}", rig.sshd.log()));

    let disk = std::fs::read(rig.disk()).unwrap();
    assert_eq!(
        &disk[..rig.image.len()],
        &rig.image[..],
        "the disk holds the image"
    );
    assert!(
        disk[rig.image.len()..].iter().all(|b| *b == FILL),
        "nothing past it"
    );
    assert_eq!(disk.len(), DISK_LEN, "a disk is not truncated");
    assert_eq!(rig.reboots(), 1, "reboot ran once");

    let all = events.join("\n");
    let fp = fingerprint_of(&rig.sshd.host_key_pub());
    assert!(
        all.contains(&fp),
        "the host key fingerprint is reported: {all}"
    );
    assert!(
        all.contains(&format!("Verified {{ bytes: {}", rig.image.len())),
        "{all}"
    );
    assert!(all.contains("Progress"), "{all}");
    assert!(!all.contains(PASSWORD), "{all}");
}

#[tokio::test]
async fn streams_a_local_image_and_logs_in_with_a_key() {
    if !sshd::available_or_skip("streams_a_local_image_and_logs_in_with_a_key") {
        return;
    }
    let rig = Rig::start();
    let spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::File(rig.dir.path().join("talos.raw.xz")),
    );
    let auth = SshAuth::key_file(&rig.client_key).unwrap();
    let (r, _) = run(&rig.target(auth, tofu()), &spec).await;
    r.unwrap_or_else(|e| panic!("{e}\nsshd log: {}", rig.sshd.log()));
    let disk = std::fs::read(rig.disk()).unwrap();
    assert_eq!(&disk[..rig.image.len()], &rig.image[..]);
    assert_eq!(rig.reboots(), 1);
}

#[tokio::test]
async fn a_wrong_password_is_refused_before_anything_runs() {
    if !sshd::available_or_skip("a_wrong_password_is_refused_before_anything_runs") {
        return;
    }
    let rig = Rig::start();
    let http = rig.serve();
    let spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::Url(http.url("/talos.raw.xz")),
    );
    let wrong = SshAuth::Password(SecretString::new("not-the-password"));
    let (r, _) = run(&rig.target(wrong, tofu()), &spec).await;
    let e = r.unwrap_err();
    assert!(
        matches!(e, InstallError::Ssh(SshError::AuthRejected { .. })),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("refused the password login as root"), "{msg}");
    assert!(!msg.contains("not-the-password"), "{msg}");
    assert!(rig.disk_is_untouched());
    assert_eq!(rig.reboots(), 0);
}

#[tokio::test]
async fn an_unknown_disk_is_an_error_naming_it() {
    if !sshd::available_or_skip("an_unknown_disk_is_an_error_naming_it") {
        return;
    }
    let rig = Rig::start();
    let http = rig.serve();
    let spec = rig.spec(
        "/dev/zt-no-such-disk",
        ImageSource::Url(http.url("/talos.raw.xz")),
    );
    let (r, _) = run(&rig.target(rig.password(), tofu()), &spec).await;
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("install disk /dev/zt-no-such-disk does not exist on 127.0.0.1"),
        "{msg}"
    );
    assert_eq!(rig.reboots(), 0);
}

#[tokio::test]
async fn the_disk_the_running_system_lives_on_is_refused() {
    const TEST: &str = "the_disk_the_running_system_lives_on_is_refused";
    if !sshd::available_or_skip(TEST) {
        return;
    }
    // The disk this machine's root filesystem is on: what the "rescue system" runs from.
    let out = std::process::Command::new("findmnt")
        .args(["-n", "-o", "SOURCE", "/"])
        .output()
        .unwrap();
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !Path::new(&root).exists() {
        eprintln!("skipping {TEST}: / is on {root:?}, not a block device");
        return;
    }
    let rig = Rig::start();
    // Belt and braces: were the check ever to let it through, the image is a 404 and dd is a
    // stand-in that refuses and records that it was called.
    write_script(
        &rig.dir.path().join("bin/dd"),
        &format!(
            "echo dd >> {}; exit 1\n",
            rig.dir.path().join("dd.log").display()
        ),
    );
    let http = rig.serve();
    let spec = rig.spec(&root, ImageSource::Url(http.url("/missing.raw.xz")));
    let (r, _) = run(&rig.target(rig.password(), tofu()), &spec).await;
    let e = r.unwrap_err();
    assert!(matches!(e, InstallError::DiskIsRoot { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "install disk {root} is what the running system's root filesystem"
        )),
        "{msg}"
    );
    assert!(msg.contains("nothing was written"), "{msg}");
    assert!(!rig.dir.path().join("dd.log").exists(), "dd never ran");
    assert_eq!(rig.reboots(), 0);
}

#[tokio::test]
async fn an_image_url_that_404s_writes_nothing() {
    if !sshd::available_or_skip("an_image_url_that_404s_writes_nothing") {
        return;
    }
    let rig = Rig::start();
    let http = rig.serve();
    let url = http.url("/v1.11.5/metal-amd64.raw.xz");
    let spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::Url(url.clone()),
    );
    let (r, _) = run(&rig.target(rig.password(), tofu()), &spec).await;
    let e = r.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, InstallError::Download { .. }), "{msg}");
    assert!(msg.contains(&url) && msg.contains("404"), "{msg}");
    assert!(msg.contains("nothing was written"), "{msg}");
    assert!(
        rig.disk_is_untouched(),
        "the disk keeps its bytes and its length"
    );
    assert_eq!(rig.reboots(), 0);
}

#[tokio::test]
async fn a_truncated_image_says_how_much_was_written() {
    if !sshd::available_or_skip("a_truncated_image_says_how_much_was_written") {
        return;
    }
    let rig = Rig::start();
    let http = rig.serve();
    let spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::Url(http.url("/truncated.raw.xz")),
    );
    let (r, _) = run(&rig.target(rig.password(), tofu()), &spec).await;
    let e = r.unwrap_err();
    let InstallError::Corrupt {
        written,
        ref message,
        ..
    } = e
    else {
        panic!("{e}");
    };
    let msg = e.to_string();
    assert!(message.contains("xz:"), "xz's own complaint: {msg}");
    assert!(
        msg.contains("partial image") && msg.contains(&format!("{written} bytes")),
        "{msg}"
    );
    let disk = std::fs::read(rig.disk()).unwrap();
    let written = usize::try_from(written).unwrap();
    assert!(written < rig.image.len());
    assert_eq!(
        &disk[..written],
        &rig.image[..written],
        "what was written is the image's start"
    );
    assert!(
        disk[written..].iter().all(|b| *b == FILL),
        "nothing beyond what the message says"
    );
    assert_eq!(rig.reboots(), 0, "no reboot into a partial image");
}

#[tokio::test]
async fn a_host_key_that_changes_mid_run_is_refused() {
    if !sshd::available_or_skip("a_host_key_that_changes_mid_run_is_refused") {
        return;
    }
    let mut rig = Rig::start();
    let http = rig.serve();
    let spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::Url(http.url("/talos.raw.xz")),
    );
    let known_hosts = rig.dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("# pinned\n{}\n", rig.sshd.known_hosts_line()),
    )
    .unwrap();
    let pinned = HostKeyPolicy::KnownHosts(known_hosts.clone());
    let memory = HostKeyPolicy::TrustOnFirstUse(HostKeyMemory::default());

    run(&rig.target(rig.password(), pinned.clone()), &spec)
        .await
        .0
        .unwrap();
    run(&rig.target(rig.password(), memory.clone()), &spec)
        .await
        .0
        .unwrap();
    assert_eq!(rig.reboots(), 2);
    let old = fingerprint_of(&rig.sshd.host_key_pub());

    rig.sshd.restart_with_new_host_key();
    std::fs::write(rig.disk(), vec![FILL; DISK_LEN]).unwrap();
    let new = fingerprint_of(&rig.sshd.host_key_pub());
    for (policy, names) in [
        (&pinned, format!("pinned at {}:2", known_hosts.display())),
        (&memory, "accepted earlier in this run".to_string()),
    ] {
        let (r, _) = run(&rig.target(rig.password(), policy.clone()), &spec).await;
        let e = r.unwrap_err();
        assert!(
            matches!(e, InstallError::Ssh(SshError::HostKeyChanged { .. })),
            "{e}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&old) && msg.contains(&new) && msg.contains(&names),
            "{msg}"
        );
    }
    assert!(rig.disk_is_untouched());
    assert_eq!(rig.reboots(), 2, "no login, no reboot");

    // A known_hosts file that does not know the host at all.
    std::fs::write(&known_hosts, "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n").unwrap();
    let (r, _) = run(&rig.target(rig.password(), pinned), &spec).await;
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("is not in") && msg.contains(&new), "{msg}");
}

#[tokio::test]
async fn a_reboot_that_never_answers_counts_as_rebooting_after_the_grace_time() {
    if !sshd::available_or_skip(
        "a_reboot_that_never_answers_counts_as_rebooting_after_the_grace_time",
    ) {
        return;
    }
    let rig = Rig::start();
    // A reboot that keeps the session open and silent for 20 s, as a server whose network went
    // down without closing the connection, then notes that it ended.
    let ended = rig.dir.path().join("reboot-ended");
    write_script(
        &rig.dir.path().join("bin/reboot"),
        &format!(
            "echo reboot >> {}; sleep 20 </dev/null >/dev/null 2>&1; touch {}\n",
            rig.dir.path().join("reboot.log").display(),
            ended.display()
        ),
    );
    let mut spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::File(rig.dir.path().join("talos.raw.xz")),
    );
    spec.reboot_grace = std::time::Duration::from_secs(1);
    let (r, _) = run(&rig.target(rig.password(), tofu()), &spec).await;
    r.unwrap();
    assert!(
        !ended.exists(),
        "install returned without waiting for the silent reboot to end"
    );
    // On a loaded machine the stand-in may note its start only after the grace time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rig.reboots() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(rig.reboots(), 1);
}

#[tokio::test]
async fn a_local_image_that_cannot_be_read_is_named_and_the_remote_side_does_not_hang() {
    if !sshd::available_or_skip(
        "a_local_image_that_cannot_be_read_is_named_and_the_remote_side_does_not_hang",
    ) {
        return;
    }
    let rig = Rig::start();
    // A directory opens but cannot be read: the first read fails.
    let not_a_file = rig.dir.path().join("bin");
    let spec = rig.spec(
        &rig.disk().display().to_string(),
        ImageSource::File(not_a_file.clone()),
    );
    let target = rig.target(rig.password(), tofu());
    let r = tokio::time::timeout(std::time::Duration::from_secs(60), run(&target, &spec))
        .await
        .expect("the install ends instead of waiting for input forever");
    let e = r.0.unwrap_err();
    assert!(matches!(e, InstallError::LocalImage { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "cannot read the local Talos image {}",
            not_a_file.display()
        )) && msg.contains("0 bytes of it reached"),
        "{msg}"
    );
    assert!(rig.disk_is_untouched());
    assert_eq!(rig.reboots(), 0);
}
