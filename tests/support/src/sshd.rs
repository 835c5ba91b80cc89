//! Debian's OpenSSH server, started by a test on a free 127.0.0.1 port: the stand-in for a
//! rescue system. It runs as root (logins as root, like Hetzner's rescue) in a private mount
//! namespace (`unshare --mount`) where a copy of /etc/shadow with the test password is bound
//! over the real one, and /run is a fresh tmpfs for sshd's privilege-separation directory: the
//! machine's users, passwords and /run stay as they were.
//!
//! Tests skip with one line when sshd (or root) is missing; with `ZT_REQUIRE_ORACLES` set (CI)
//! they fail instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

/// Whether sshd can run here; says why not (one line) or panics under `ZT_REQUIRE_ORACLES`.
pub fn available_or_skip(test: &str) -> bool {
    let why = if !Path::new(SSHD).is_file() {
        Some(format!(
            "{SSHD} is not installed (apt-get install openssh-server)"
        ))
    } else if unsafe { libc::geteuid() } != 0 {
        Some("the OpenSSH test server needs root (it logs in as root, like a rescue system)".into())
    } else if !Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        Some("cannot make a private mount namespace (unshare --mount) for the test sshd".into())
    } else {
        None
    };
    match why {
        None => true,
        Some(why) if std::env::var_os("ZT_REQUIRE_ORACLES").is_some() => {
            panic!("{test}: ZT_REQUIRE_ORACLES is set but {why}")
        }
        Some(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes an ed25519 key pair at `path` (and `path.pub`); returns the public key line.
pub fn keygen(path: &Path) -> String {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "zt-test", "-f"])
        .arg(path));
    std::fs::read_to_string(format!("{}.pub", path.display())).expect("read public key")
}

/// A running sshd. Killed on drop.
pub struct Sshd {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Sshd {
    /// Starts sshd in `dir` (config, host key, shadow copy, log go there) accepting root with
    /// `password` and the keys in `authorized_keys`.
    pub fn start(dir: &Path, password: &str, authorized_keys: &str) -> Sshd {
        std::fs::create_dir_all(dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        std::fs::write(dir.join("authorized_keys"), authorized_keys).unwrap();
        let hash = run(Command::new("openssl").args(["passwd", "-6", password]));
        let shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
        let mut lines: Vec<String> = shadow
            .lines()
            .filter(|l| !l.starts_with("root:"))
            .map(str::to_string)
            .collect();
        lines.insert(0, format!("root:{}:19000:0:99999:7:::", hash.trim()));
        std::fs::write(dir.join("shadow"), lines.join("\n") + "\n").unwrap();
        keygen(&dir.join("host_key"));
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
                 UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin yes\nAuthorizedKeysFile {d}/authorized_keys\n\
                 StrictModes no\nLogLevel VERBOSE\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let mut s = Sshd {
            dir: dir.to_path_buf(),
            port,
            child: None,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sshd.log"))
            .unwrap();
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount --bind \"$1\" /etc/shadow && mount -t tmpfs zt-test /run && \
                 mkdir -m 755 /run/sshd && exec \"$3\" -D -e -f \"$2\"",
            )
            .arg("sh")
            .arg(self.dir.join("shadow"))
            .arg(self.dir.join("sshd_config"))
            .arg(SSHD)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::Read;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 8];
                if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"SSH-") {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("sshd exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not answer: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// The host key's public line (`ssh-ed25519 AAAA... zt-test`).
    pub fn host_key_pub(&self) -> String {
        std::fs::read_to_string(self.dir.join("host_key.pub")).unwrap()
    }

    /// A known_hosts line pinning this server's current host key.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key_pub().trim())
    }

    /// Restarts on the same port with a new host key: a rebooted rescue system, or another
    /// machine at the same address.
    pub fn restart_with_new_host_key(&mut self) {
        self.stop();
        keygen(&self.dir.join("host_key"));
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}
