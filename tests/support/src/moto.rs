//! moto (PyPI `moto[server]`) in server mode: AWS APIs on 127.0.0.1, for the Parameter Store
//! tests. `.ci/run` installs the pinned version; without it the tests skip with one line, and
//! with `ZT_REQUIRE_ORACLES` set (CI) a missing moto fails them instead.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `python3 -m moto.server`, killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `python3` can import moto's server (flask comes with the `server` extra).
fn installed() -> bool {
    Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free port on 127.0.0.1 (the listener is dropped; moto binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free port on 127.0.0.1")
}

/// Starts moto with extra environment `env` (e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0`, which makes
/// it check credentials), or skips `test` with one line when moto is not installed.
pub fn moto_or_skip(test: &str, env: &[(&str, &str)]) -> Option<Moto> {
    if !installed() {
        let why = "moto is not installed (pip3 install 'moto[server]==5.2.1')";
        if std::env::var_os("ZT_REQUIRE_ORACLES").is_some() {
            panic!("{test}: ZT_REQUIRE_ORACLES is set but {why}");
        }
        eprintln!("skipping {test}: {why}");
        return None;
    }
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starting python3 -m moto.server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{test}: moto exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{test}: moto did not listen on 127.0.0.1:{port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Moto { child, port })
}
