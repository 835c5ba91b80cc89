//! Bare-metal stages: `rescue/<node>` puts a Hetzner server into its rescue system through the
//! API; `talos-install/<node>` writes the Talos metal image onto its install disk over SSH and
//! reboots it into maintenance mode, where `talos-apply/<node>` takes over. Both leave a node
//! alone that already answers the Talos API (maintenance or configured).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::super::context::Ctx;
use super::super::poll;
use super::super::stage::{Stage, StageError, StageFuture};
use super::talos::{Node, TalosAccess};
use crate::install::hetzner::Hetzner;
use crate::install::rescue::{self, ActionTiming};
use crate::install::{
    Event, HostKeyMemory, HostKeyPolicy, ImageSource, InstallError, InstallSpec, SshAuth, SshError,
    SshTarget,
};
use crate::kube::wait::Check;
use crate::secret::SecretString;
use crate::talos::api::{ClientOptions, TalosClient};

/// What every bare-metal stage of one run shares.
pub struct BareMetal {
    /// `--ssh-key`: its path (for the plan) and the key.
    pub ssh_key: Option<(PathBuf, SshAuth)>,
    /// `--ssh-known-hosts`: pin host keys instead of trusting them on first use.
    pub known_hosts: Option<PathBuf>,
    /// The host keys accepted so far in this run.
    pub host_keys: HostKeyMemory,
    pub image: ImageSource,
    /// The Hetzner API, with `--hetzner`.
    pub hetzner: Option<Hetzner>,
    /// Directories put in front of the rescue system's PATH (tests: a stand-in `reboot`).
    pub path_prefix: Option<String>,
    /// SSH addresses by node name, where a node is not reached at `<ip>:22` (tests).
    pub ssh_endpoints: BTreeMap<String, SocketAddr>,
    /// Rescue passwords the Hetzner API returned in this run, by node: memory only.
    pub api_passwords: Mutex<BTreeMap<String, SecretString>>,
    pub ssh_timeout: Duration,
    pub hetzner_actions: ActionTiming,
}

impl BareMetal {
    fn ssh_addr(&self, name: &str, ip: IpAddr) -> SocketAddr {
        self.ssh_endpoints
            .get(name)
            .copied()
            .unwrap_or(SocketAddr::new(ip, 22))
    }

    fn policy(&self) -> HostKeyPolicy {
        match &self.known_hosts {
            Some(f) => HostKeyPolicy::KnownHosts(f.clone()),
            None => HostKeyPolicy::TrustOnFirstUse(self.host_keys.clone()),
        }
    }

    fn describe_host_keys(&self) -> String {
        match &self.known_hosts {
            Some(f) => format!("host key pinned by {}", f.display()),
            None => "host key accepted on first use and shown (a rescue system makes a new one each boot; --ssh-known-hosts pins)".into(),
        }
    }
}

/// Whether the node answers the Talos API now: a maintenance-mode TLS handshake, or the
/// configured API with the rendered talosconfig.
async fn answers_talos(node: &Node, access: &TalosAccess) -> bool {
    let quick = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
    };
    if TalosClient::maintenance_with(&node.endpoint, &[], quick)
        .await
        .is_ok()
    {
        return true;
    }
    match TalosClient::configured_with(&node.endpoint, &access.talosconfig, None, quick).await {
        Ok(c) => c.version().await.is_ok(),
        Err(_) => false,
    }
}

/// One machine to install.
#[derive(Debug, Clone)]
pub struct Machine {
    pub node: Node,
    pub ip: IpAddr,
    pub disk: String,
    /// `rescue_password` from talos-values.yaml.
    pub rescue_password: Option<SecretString>,
}

/// `rescue/<node>`: enable Hetzner's rescue system and reset the server into it, then wait for
/// SSH. Runs every time (a rescue password lives only in memory), but not for a node that
/// already answers the Talos API.
pub struct Rescue {
    pub machine: Machine,
    pub bare_metal: Arc<BareMetal>,
    pub access: Arc<TalosAccess>,
}

impl Stage for Rescue {
    fn name(&self) -> String {
        format!("rescue/{}", self.machine.node.name)
    }

    fn summary(&self) -> String {
        format!(
            "boot {} ({}) into Hetzner's rescue system (linux64) through the API",
            self.machine.node.name, self.machine.ip
        )
    }

    fn details(&self) -> Vec<String> {
        vec![
            format!(
                "find the server with IP {}, enable_rescue{}, reset, wait until SSH answers at {}",
                self.machine.ip,
                if self.bare_metal.ssh_key.is_some() {
                    " with the project's copy of --ssh-key"
                } else {
                    ""
                },
                self.bare_metal
                    .ssh_addr(&self.machine.node.name, self.machine.ip)
            ),
            "the rescue root password the API returns is kept in memory only".into(),
            "skipped when the node already answers the Talos API".into(),
        ]
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let m = &self.machine;
            if answers_talos(&m.node, &self.access).await {
                ctx.detail("the node already answers the Talos API; not rescuing it");
                return Ok(());
            }
            let api = self.bare_metal.hetzner.as_ref().ok_or_else(|| {
                StageError::new("rescue needs the Hetzner API (--hetzner and HETZNER_API_TOKEN)")
            })?;
            let key = self.bare_metal.ssh_key.as_ref().and_then(|(_, a)| match a {
                SshAuth::Key(k) => Some(k.public_key().clone()),
                SshAuth::Password(_) => None,
            });
            let r = rescue::rescue(api, m.ip, key.as_ref(), self.bare_metal.hetzner_actions)
                .await
                .map_err(|e| StageError::new(e.to_string()))?;
            ctx.detail(&format!(
                "server {} (id {}) reset into rescue{}",
                r.server.name,
                r.server.id,
                if r.ssh_keys.is_empty() {
                    String::new()
                } else {
                    format!(" with SSH key id(s) {:?}", r.ssh_keys)
                }
            ));
            if let Some(p) = r.root_password {
                self.bare_metal
                    .api_passwords
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(m.node.name.clone(), p);
            }
            let addr = self.bare_metal.ssh_addr(&m.node.name, m.ip);
            // A new system answers there now, with a new host key.
            self.bare_metal.host_keys.forget(addr);
            let what = format!("SSH of the rescue system at {addr}");
            poll::until(ctx, &what, ctx.timing.talos, || async move {
                Ok(
                    match rescue::ssh_answers(addr, Duration::from_secs(5)).await {
                        Ok(()) => Check::Ready(()),
                        Err(why) => Check::Pending(why),
                    },
                )
            })
            .await
        })
    }
}

/// `talos-install/<node>`: log in to the rescue system, check the disk, write the image,
/// verify, reboot. Skipped when the node already answers the Talos API.
pub struct TalosInstall {
    pub machine: Machine,
    pub bare_metal: Arc<BareMetal>,
    pub access: Arc<TalosAccess>,
}

impl TalosInstall {
    /// The logins to try, in order: `--ssh-key`, the password the Hetzner API returned in this
    /// run, the node's `rescue_password`.
    fn logins(&self) -> Vec<SshAuth> {
        let mut out = Vec::new();
        if let Some((_, k)) = &self.bare_metal.ssh_key {
            out.push(k.clone());
        }
        let api = self
            .bare_metal
            .api_passwords
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&self.machine.node.name)
            .cloned();
        out.extend(api.map(SshAuth::Password));
        out.extend(self.machine.rescue_password.clone().map(SshAuth::Password));
        out
    }

    fn login_sources(&self) -> String {
        let mut s = Vec::new();
        if let Some((p, _)) = &self.bare_metal.ssh_key {
            s.push(format!("key {}", p.display()));
        }
        if self.bare_metal.hetzner.is_some() {
            s.push("the rescue password from the Hetzner API".into());
        }
        if self.machine.rescue_password.is_some() {
            s.push("rescue_password from talos-values.yaml".into());
        }
        if s.is_empty() {
            "none configured (set rescue_password, --ssh-key or --hetzner)".into()
        } else {
            s.join(", then ")
        }
    }
}

impl Stage for TalosInstall {
    fn name(&self) -> String {
        format!("talos-install/{}", self.machine.node.name)
    }

    fn summary(&self) -> String {
        format!(
            "write Talos to {} on {} ({}) from its rescue system over SSH, then reboot",
            self.machine.disk, self.machine.node.name, self.machine.ip
        )
    }

    fn details(&self) -> Vec<String> {
        let bm = &self.bare_metal;
        vec![
            format!(
                "SSH root@{}: logins tried: {}; {}",
                bm.ssh_addr(&self.machine.node.name, self.machine.ip),
                self.login_sources(),
                bm.describe_host_keys()
            ),
            format!("image: {}", bm.image),
            format!(
                "OVERWRITES {} (refused when missing, mounted or the rescue system's root): xz -d | dd, read back and compared by SHA-256, sync, reboot",
                self.machine.disk
            ),
            "skipped when the node already answers the Talos API".into(),
        ]
    }

    fn overwrites(&self) -> Option<String> {
        Some(format!(
            "{} on {} ({})",
            self.machine.disk, self.machine.node.name, self.machine.ip
        ))
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let m = &self.machine;
            if answers_talos(&m.node, &self.access).await {
                ctx.detail("the node already answers the Talos API; not installing");
                return Ok(());
            }
            let logins = self.logins();
            if logins.is_empty() {
                return Err(StageError::new(format!(
                    "no way to log in to the rescue system of {}: {}",
                    m.node.name,
                    self.login_sources()
                )));
            }
            let spec = InstallSpec {
                disk: m.disk.clone(),
                image: self.bare_metal.image.clone(),
                path_prefix: self.bare_metal.path_prefix.clone(),
                reboot_grace: Duration::from_secs(30),
            };
            let addr = self.bare_metal.ssh_addr(&m.node.name, m.ip);
            let ctx = &*ctx;
            let mut last_err = None;
            for auth in logins {
                let target = SshTarget {
                    addr,
                    user: "root".into(),
                    auth,
                    policy: self.bare_metal.policy(),
                    connect_timeout: self.bare_metal.ssh_timeout,
                };
                let tofu = self.bare_metal.known_hosts.is_none();
                let mut on_event = |e: Event<'_>| {
                    match e {
                    Event::Connected { host_key } if tofu => ctx.warn(&format!(
                        "accepted the host key {host_key} of {addr} on first use (pin it with --ssh-known-hosts)"
                    )),
                    Event::Connected { host_key } => {
                        ctx.detail(&format!("host key {host_key} matches the pin"))
                    }
                    Event::DiskChecked { size, lsblk } => {
                        ctx.detail(&format!("{} ({size} bytes) checked; lsblk:\n{lsblk}", spec.disk))
                    }
                    Event::Progress { bytes } => ctx.progress.status(
                        &ctx.stage,
                        &format!("{} MiB written to {}", bytes >> 20, spec.disk),
                    ),
                    Event::Verified { bytes, sha256 } => ctx.detail(&format!(
                        "wrote {bytes} bytes to {}, read back: SHA-256 {sha256}",
                        spec.disk
                    )),
                    Event::Rebooting => ctx.detail("sync; reboot into Talos maintenance mode"),
                }
                };
                match crate::install::install(&target, &spec, &mut on_event).await {
                    Ok(()) => return Ok(()),
                    Err(InstallError::Ssh(e @ SshError::AuthRejected { .. })) => {
                        ctx.detail(&e.to_string());
                        last_err = Some(e.to_string());
                    }
                    Err(e) => return Err(StageError::new(e.to_string())),
                }
            }
            Err(StageError::new(last_err.unwrap_or_default()).hint(
                "every login was refused: check rescue_password in talos-values.yaml, --ssh-key, or that the server really is in its rescue system",
            ))
        })
    }
}
