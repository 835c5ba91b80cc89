//! One SSH session to a rescue system: host-key policy, password or key login, and running a
//! command with its output streamed back. A real SSH client (russh), never an `ssh` subprocess,
//! so a password is never on a command line and host keys are checked by our own rules.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::ChannelMsg;
use russh::client::{self, AuthResult, Handle};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use tokio::io::AsyncRead;

use super::known_hosts;
use crate::secret::SecretString;

/// How a rescue system is logged into.
#[derive(Clone)]
pub enum SshAuth {
    /// The rescue password (talos-values.yaml, or the one the Hetzner API returned).
    Password(SecretString),
    /// A private key (`--ssh-key`), also what Hetzner can put into the rescue system.
    Key(Arc<PrivateKey>),
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SshAuth::Password(_) => f.write_str("password <redacted>"),
            SshAuth::Key(k) => write!(f, "key {}", k.public_key().fingerprint(HashAlg::Sha256)),
        }
    }
}

impl SshAuth {
    /// Reads an OpenSSH private key file. Passphrase-protected keys are refused (no prompt
    /// here): use an unencrypted deploy key.
    pub fn key_file(path: &Path) -> Result<SshAuth, SshError> {
        russh::keys::load_secret_key(path, None)
            .map(|k| SshAuth::Key(Arc::new(k)))
            .map_err(|e| SshError::Key {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    }

    fn method(&self) -> &'static str {
        match self {
            SshAuth::Password(_) => "password",
            SshAuth::Key(_) => "public key",
        }
    }
}

/// Which server host keys are accepted.
///
/// A rescue system makes a new host key every time it boots, so no known_hosts file can know it
/// in advance: by default the first key a host presents in a run is accepted, its fingerprint
/// shown, and every later connection of the same run must present the same key (a change
/// mid-run is an error). `--ssh-known-hosts FILE` pins instead: only keys listed there for the
/// host (OpenSSH format, `[host]:port` for other ports) are accepted.
#[derive(Debug, Clone)]
pub enum HostKeyPolicy {
    TrustOnFirstUse(HostKeyMemory),
    KnownHosts(PathBuf),
}

/// The host keys accepted so far in this run, by `host:port`.
#[derive(Debug, Clone, Default)]
pub struct HostKeyMemory(Arc<Mutex<BTreeMap<String, PublicKey>>>);

impl HostKeyMemory {
    /// Forgets `addr`'s key: after a deliberate reboot into a new rescue system.
    pub fn forget(&self, addr: SocketAddr) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&addr.to_string());
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {addr} over SSH: {message}")]
    Connect { addr: SocketAddr, message: String },
    #[error(
        "{addr} refused the {method} login as {user}: wrong password or key (the rescue password of this node, or --ssh-key)"
    )]
    AuthRejected {
        addr: SocketAddr,
        user: String,
        method: &'static str,
    },
    #[error(
        "host key of {addr} changed: {expected}, now {presented}; not connecting (a different machine answers at that address, or it rebooted into a new system)"
    )]
    HostKeyChanged {
        addr: SocketAddr,
        expected: String,
        presented: String,
    },
    #[error("host key of {addr} ({presented}) is not in {}; add it there or leave out --ssh-known-hosts to accept it on first use", file.display())]
    HostKeyUnknown {
        addr: SocketAddr,
        presented: String,
        file: PathBuf,
    },
    #[error("{}: cannot read the known-hosts file: {message}", file.display())]
    KnownHosts { file: PathBuf, message: String },
    #[error("{}: not a usable SSH private key ({message}); expected an unencrypted OpenSSH or PEM key", path.display())]
    Key { path: PathBuf, message: String },
    #[error("SSH session to {addr}: {message}")]
    Session { addr: SocketAddr, message: String },
    #[error("SSH session to {addr}: no answer within {}s", timeout.as_secs())]
    Timeout { addr: SocketAddr, timeout: Duration },
}

/// The `SHA256:...` fingerprint OpenSSH shows for a key.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// What the host-key check decided, kept for the error message (russh only sees a bool).
#[derive(Default)]
struct Verdict {
    presented: Option<String>,
    refusal: Option<SshError>,
}

struct Client {
    addr: SocketAddr,
    policy: HostKeyPolicy,
    verdict: Arc<Mutex<Verdict>>,
}

impl Client {
    fn check(&self, key: &PublicKey) -> Result<(), SshError> {
        let presented = fingerprint(key);
        match &self.policy {
            HostKeyPolicy::TrustOnFirstUse(memory) => {
                let mut known = memory.0.lock().map_err(|_| SshError::Session {
                    addr: self.addr,
                    message: "host key memory poisoned".into(),
                })?;
                match known.get(&self.addr.to_string()) {
                    Some(k) if k == key => Ok(()),
                    Some(k) => Err(SshError::HostKeyChanged {
                        addr: self.addr,
                        expected: format!("{} accepted earlier in this run", fingerprint(k)),
                        presented,
                    }),
                    None => {
                        known.insert(self.addr.to_string(), key.clone());
                        Ok(())
                    }
                }
            }
            HostKeyPolicy::KnownHosts(file) => {
                let listed =
                    known_hosts::entries_for(file, &self.addr.ip().to_string(), self.addr.port())
                        .map_err(|e| SshError::KnownHosts {
                        file: file.clone(),
                        message: e.to_string(),
                    })?;
                let at = |line: usize| format!("{}:{line}", file.display());
                if let Some(e) = listed.iter().find(|e| e.revoked && e.key == *key) {
                    return Err(SshError::HostKeyChanged {
                        addr: self.addr,
                        expected: format!("a key other than the one revoked at {}", at(e.line)),
                        presented,
                    });
                }
                if listed.iter().any(|e| !e.revoked && e.key == *key) {
                    return Ok(());
                }
                match listed.iter().find(|e| !e.revoked) {
                    Some(e) => Err(SshError::HostKeyChanged {
                        addr: self.addr,
                        expected: format!("{} pinned at {}", fingerprint(&e.key), at(e.line)),
                        presented,
                    }),
                    None => Err(SshError::HostKeyUnknown {
                        addr: self.addr,
                        presented,
                        file: file.clone(),
                    }),
                }
            }
        }
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // A host certificate is checked by its key: no CA is configured for rescue systems.
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => PublicKey::from(c.public_key().clone()),
        };
        let result = self.check(&key);
        let mut v = self.verdict.lock().unwrap_or_else(|p| p.into_inner());
        v.presented = Some(fingerprint(&key));
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                v.refusal = Some(e);
                Ok(false)
            }
        }
    }
}

/// Where and how to log in.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub addr: SocketAddr,
    pub user: String,
    pub auth: SshAuth,
    pub policy: HostKeyPolicy,
    /// TCP connect, key exchange and login.
    pub connect_timeout: Duration,
}

/// A logged-in session.
pub struct Session {
    addr: SocketAddr,
    handle: Handle<Client>,
    host_key: String,
}

/// What a remote command printed and how it ended.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `None` when the channel closed without an exit status (the server went away: a reboot).
    pub status: Option<u32>,
    /// Why the input given to [`Session::run`] could not be read to its end.
    pub stdin_error: Option<String>,
}

/// Keeps the last `MAX_STDERR` bytes of stderr: enough for any error message, bounded for dd's
/// progress lines over a long write.
const MAX_STDERR: usize = 64 * 1024;

impl Session {
    pub async fn connect(target: &SshTarget) -> Result<Session, SshError> {
        let addr = target.addr;
        let timeout = target.connect_timeout;
        tokio::time::timeout(timeout, Self::connect_inner(target))
            .await
            .map_err(|_| SshError::Timeout { addr, timeout })?
    }

    async fn connect_inner(target: &SshTarget) -> Result<Session, SshError> {
        let addr = target.addr;
        let verdict = Arc::new(Mutex::new(Verdict::default()));
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(600)),
            keepalive_interval: Some(Duration::from_secs(15)),
            ..Default::default()
        });
        let handler = Client {
            addr,
            policy: target.policy.clone(),
            verdict: verdict.clone(),
        };
        let connected = client::connect(config, addr, handler).await;
        let (presented, refusal) = {
            let mut v = verdict.lock().unwrap_or_else(|p| p.into_inner());
            (v.presented.clone(), v.refusal.take())
        };
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
        let mut handle = connected.map_err(|e| SshError::Connect {
            addr,
            message: e.to_string(),
        })?;
        let session_err = |e: russh::Error| SshError::Session {
            addr,
            message: e.to_string(),
        };
        let result = match &target.auth {
            SshAuth::Password(p) => handle
                .authenticate_password(target.user.clone(), p.expose())
                .await
                .map_err(session_err)?,
            SshAuth::Key(k) => {
                let hash = handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(session_err)?
                    .flatten();
                handle
                    .authenticate_publickey(
                        target.user.clone(),
                        PrivateKeyWithHashAlg::new(k.clone(), hash),
                    )
                    .await
                    .map_err(session_err)?
            }
        };
        if !matches!(result, AuthResult::Success) {
            return Err(SshError::AuthRejected {
                addr,
                user: target.user.clone(),
                method: target.auth.method(),
            });
        }
        Ok(Session {
            addr,
            handle,
            host_key: presented.unwrap_or_default(),
        })
    }

    /// The fingerprint of the host key the server presented.
    pub fn host_key(&self) -> &str {
        &self.host_key
    }

    /// Runs `command` (a shell command line), feeding `stdin` when given, and calls `on_stderr`
    /// with every chunk of stderr as it arrives (progress).
    pub async fn run(
        &self,
        command: &str,
        stdin: Option<Box<dyn AsyncRead + Send + Unpin + '_>>,
        on_stderr: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Output, SshError> {
        let addr = self.addr;
        let err = |e: russh::Error| SshError::Session {
            addr,
            message: e.to_string(),
        };
        let channel = self.handle.channel_open_session().await.map_err(err)?;
        channel.exec(true, command).await.map_err(err)?;
        let (mut read, write) = channel.split();
        // End the input whatever happens to it: a local read error must not leave the remote
        // command waiting for more.
        let feed = async {
            let sent = match stdin {
                Some(input) => write.data(input).await,
                None => Ok(()),
            };
            let ended = write.eof().await;
            sent.and(ended)
        };
        let collect = async {
            let mut out = Output::default();
            while let Some(msg) = read.wait().await {
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        on_stderr(&data);
                        out.stderr.extend_from_slice(&data);
                        if out.stderr.len() > MAX_STDERR {
                            let cut = out.stderr.len() - MAX_STDERR;
                            out.stderr.drain(..cut);
                        }
                    }
                    ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                    _ => {}
                }
            }
            out
        };
        let (fed, mut out) = tokio::join!(feed, collect);
        match fed {
            // Our side could not read what it was sending (a local file).
            Err(russh::Error::IO(e)) => out.stdin_error = Some(e.to_string()),
            // A command that exits before reading all its input closes the channel under the
            // writer; its exit status says more than the write error does.
            Err(e) if out.status.is_none() => return Err(err(e)),
            _ => {}
        }
        Ok(out)
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}
