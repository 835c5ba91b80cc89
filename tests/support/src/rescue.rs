//! A stand-in rescue system for the bare-metal tests: Debian's sshd ([`crate::sshd`]), a disk
//! that is a file, a stand-in `reboot` on a PATH prefix that records it ran, a small Talos
//! image compressed with the real `xz`, and an HTTP server serving it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use zt::install::{HostKeyPolicy, ImageSource, InstallSpec, SshAuth, SshTarget};
use zt::secret::SecretString;

use crate::http::{HttpServer, Response};
use crate::sshd::{self, Sshd};

pub const PASSWORD: &str = "rescue-pw-7f3a";
pub const DISK_LEN: usize = 5 << 20;
pub const FILL: u8 = 0xAA;

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub sshd: Sshd,
    pub image: Vec<u8>,
    pub xz: Vec<u8>,
    pub client_key: PathBuf,
}

impl Rig {
    /// Starts sshd accepting root with [`PASSWORD`] (or `password`) and the rig's client key.
    pub fn start() -> Rig {
        Rig::with_password(PASSWORD)
    }

    pub fn with_password(password: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let client_key = dir.path().join("id_ed25519");
        let client_pub = sshd::keygen(&client_key);
        let sshd = Sshd::start(&dir.path().join("sshd"), password, &client_pub);
        // A stand-in reboot, and a disk file.
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        write_script(
            &bin.join("reboot"),
            &format!(
                "echo reboot >> {}\n",
                dir.path().join("reboot.log").display()
            ),
        );
        std::fs::write(dir.path().join("disk.img"), vec![FILL; DISK_LEN]).unwrap();
        // An image of 3 MiB plus a bit: not a multiple of dd's block size, partly random.
        let mut image = Vec::new();
        let mut x: u32 = 12345;
        for i in 0..(3 << 20) + 4321 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            image.push(if i % 3 == 0 {
                (x >> 16) as u8
            } else {
                (i % 251) as u8
            });
        }
        let raw = dir.path().join("talos.raw");
        std::fs::write(&raw, &image).unwrap();
        let st = std::process::Command::new("xz")
            .args(["-z", "-k", "-T1"])
            .arg(&raw)
            .status()
            .unwrap();
        assert!(st.success());
        let xz = std::fs::read(dir.path().join("talos.raw.xz")).unwrap();
        Rig {
            dir,
            sshd,
            image,
            xz,
            client_key,
        }
    }

    pub fn disk(&self) -> PathBuf {
        self.dir.path().join("disk.img")
    }

    pub fn reboots(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("reboot.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    pub fn target(&self, auth: SshAuth, policy: HostKeyPolicy) -> SshTarget {
        SshTarget {
            addr: self.sshd.addr(),
            user: "root".into(),
            auth,
            policy,
            connect_timeout: Duration::from_secs(20),
        }
    }

    pub fn password(&self) -> SshAuth {
        SshAuth::Password(SecretString::new(PASSWORD))
    }

    pub fn spec(&self, disk: &str, image: ImageSource) -> InstallSpec {
        InstallSpec {
            disk: disk.into(),
            image,
            path_prefix: Some(self.dir.path().join("bin").display().to_string()),
            reboot_grace: Duration::from_secs(30),
        }
    }

    /// Serves the image at /talos.raw.xz, a truncated copy at /truncated.raw.xz, 404 else.
    pub fn serve(&self) -> HttpServer {
        let xz = self.xz.clone();
        HttpServer::start(Arc::new(move |req| match req.target.as_str() {
            "/talos.raw.xz" => Response::bytes(xz.clone()),
            "/truncated.raw.xz" => Response::bytes(xz[..xz.len() / 2].to_vec()),
            _ => Response::not_found(),
        }))
    }

    pub fn disk_is_untouched(&self) -> bool {
        std::fs::read(self.disk()).unwrap() == vec![FILL; DISK_LEN]
    }
}

pub fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
