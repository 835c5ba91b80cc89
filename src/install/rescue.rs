//! Putting a Hetzner server into its rescue system: find it by IP, enable rescue (linux64, with
//! the project's copy of our SSH key when there is one), reset it (or power it on), and wait
//! until SSH answers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use russh::keys::PublicKey;
use tokio::io::AsyncReadExt;

use super::hetzner::{Hetzner, HetznerError, Server};
use crate::secret::SecretString;

/// A server on its way into the rescue system.
#[derive(Debug)]
pub struct Rescued {
    pub server: Server,
    /// The rescue system's root password, from the API (in memory only).
    pub root_password: Option<SecretString>,
    /// The project's SSH key IDs put into the rescue system.
    pub ssh_keys: Vec<u64>,
}

/// The MD5 fingerprint (`aa:bb:...`) the Hetzner API lists SSH keys by.
pub fn md5_fingerprint(key: &PublicKey) -> Option<String> {
    let blob = key.to_bytes().ok()?;
    let d = md5::compute(blob);
    Some(
        d.0.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// How long the API's actions (enable rescue, reset) may take, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct ActionTiming {
    pub timeout: Duration,
    pub interval: Duration,
}

/// Enables rescue for the server at `ip` and resets it into the rescue system. `key`: the
/// public half of `--ssh-key`; when the project holds it, the rescue system accepts it.
pub async fn rescue(
    api: &Hetzner,
    ip: IpAddr,
    key: Option<&PublicKey>,
    timing: ActionTiming,
) -> Result<Rescued, HetznerError> {
    let server = api.server_by_ip(ip).await?;
    let ssh_keys = match key.and_then(md5_fingerprint) {
        Some(fp) => api.ssh_key_ids(&fp).await?,
        None => Vec::new(),
    };
    let enabled = api.enable_rescue(server.id, &ssh_keys).await?;
    api.wait_action(&enabled.action, timing.timeout, timing.interval)
        .await?;
    let reset = api.restart(&server).await?;
    api.wait_action(&reset, timing.timeout, timing.interval)
        .await?;
    Ok(Rescued {
        server,
        root_password: enabled.root_password,
        ssh_keys,
    })
}

/// Whether an SSH server answers at `addr`: it accepts a connection and sends its `SSH-`
/// version line within `timeout`. Nothing is sent, no key is looked at.
pub async fn ssh_answers(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        if &buf == b"SSH-" {
            Ok(())
        } else {
            Err("something answers, but not SSH".to_string())
        }
    };
    tokio::time::timeout(timeout, probe)
        .await
        .map_err(|_| format!("no answer within {}s", timeout.as_secs()))?
}
