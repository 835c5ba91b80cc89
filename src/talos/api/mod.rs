//! A client for the Talos machine API (gRPC, port 50000): the four calls a bootstrap needs.
//!
//! ```text
//! maintenance node ──ApplyConfiguration (TLS, no client cert)──▶ reboots into its config
//! configured node  ──Version / Bootstrap / Kubeconfig (mutual TLS, os CA)──▶
//! ```
//!
//! - [`TalosClient::maintenance`] talks to a node that has no config yet: TLS without a client
//!   certificate and, unless pinned with a [`Fingerprint`], without verifying the server
//!   (`talosctl --insecure`). Only `ApplyConfiguration` works there; the node answers the rest
//!   with `Unimplemented`.
//! - [`TalosClient::configured`] uses the talosconfig: the server must chain to its `ca`, we
//!   present its `crt`/`key`, and an optional target node goes in the `node` gRPC metadata so
//!   the endpoint's apid proxies the call.
//!
//! The client never sleeps or retries: readiness waits belong to the caller, which can ask
//! [`TalosError::is_transient`] whether another attempt may help.

mod error;
pub mod kubeconfig;
pub mod proto;
mod tls;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use futures_util::StreamExt;
use tonic::Code;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::Channel;

pub use self::error::{Call, TalosError, scrub};
pub use self::kubeconfig::KubeconfigError;
use self::proto::machine::apply_configuration_request::Mode as ProtoMode;
use self::proto::machine::machine_service_client::MachineServiceClient;
use self::proto::machine::{ApplyConfigurationRequest, BootstrapRequest};
pub use self::tls::{Fingerprint, FingerprintError, PeerFingerprint, TlsFailure, TlsSetupError};
use crate::secret::SecretBytes;
use crate::talos::config::{TalosConfig, TalosContext};
use crate::talos::pki;

/// apid's port (`constants.ApidPort`); the maintenance service listens on it too.
pub const DEFAULT_PORT: u16 = 50000;

/// Where the Talos API listens: an address or host name and a port.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TalosEndpoint {
    host: String,
    port: u16,
}

impl TalosEndpoint {
    pub fn new(host: impl Into<String>, port: u16) -> Result<TalosEndpoint, TalosError> {
        let host = host.into();
        let invalid = |reason| TalosError::InvalidEndpoint {
            input: host.clone(),
            reason,
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        if host.parse::<IpAddr>().is_err()
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(invalid("expected an IP address or a host name"));
        }
        if port == 0 {
            return Err(invalid("port 0"));
        }
        Ok(TalosEndpoint { host, port })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for TalosEndpoint {
    type Err = TalosError;

    /// `203.0.113.10`, `203.0.113.10:50000`, `cp01.example.com`, `2001:db8::1`,
    /// `[2001:db8::1]:50000`; the port defaults to [`DEFAULT_PORT`], as in talosconfig
    /// `endpoints`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| TalosError::InvalidEndpoint {
            input: s.to_string(),
            reason,
        };
        if s.parse::<IpAddr>().is_ok() {
            return TalosEndpoint::new(s, DEFAULT_PORT);
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid("unclosed `[`"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid("only IPv6 addresses go in brackets"));
            }
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| invalid("expected `:port`"))?,
                    ),
                ),
            }
        } else {
            match s.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (s, None),
            }
        };
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p.parse().map_err(|_| invalid("the port is not a number"))?,
        };
        TalosEndpoint::new(host, port)
    }
}

impl fmt::Display for TalosEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for TalosEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TalosEndpoint({self})")
    }
}

/// The endpoints of the talosconfig's current context, in order: where `talosctl` would
/// connect.
pub fn context_endpoints(talosconfig: &TalosConfig) -> Result<Vec<TalosEndpoint>, TalosError> {
    let context = current_context(talosconfig)?;
    if context.endpoints.is_empty() {
        return Err(TalosError::Talosconfig(format!(
            "context {:?} has no endpoints",
            talosconfig.context
        )));
    }
    context.endpoints.iter().map(|e| e.parse()).collect()
}

fn current_context(talosconfig: &TalosConfig) -> Result<&TalosContext, TalosError> {
    talosconfig
        .contexts
        .get(&talosconfig.context)
        .ok_or_else(|| {
            TalosError::Talosconfig(format!(
                "the current context {:?} is not among its contexts",
                talosconfig.context
            ))
        })
}

/// Time limits of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// One whole call, including reading a streamed reply.
    pub request_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// How `ApplyConfiguration` puts the config into effect (Talos's `--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// Apply and reboot.
    Reboot,
    /// Let the node choose: reboot if the change needs it. What a maintenance-mode node uses.
    Auto,
    /// Apply without rebooting; refused if the change needs a reboot. Not in maintenance mode.
    NoReboot,
    /// Store the config for the next reboot. Not in maintenance mode.
    Staged,
    /// Apply, and roll back unless confirmed within `timeout`.
    Try { timeout: Duration },
}

impl ApplyMode {
    fn proto(self) -> ProtoMode {
        match self {
            ApplyMode::Reboot => ProtoMode::Reboot,
            ApplyMode::Auto => ProtoMode::Auto,
            ApplyMode::NoReboot => ProtoMode::NoReboot,
            ApplyMode::Staged => ProtoMode::Staged,
            ApplyMode::Try { .. } => ProtoMode::Try,
        }
    }
}

/// What the node said about an applied (or dry-run) config. Server text is [`scrub`]bed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// The node's hostname when the call was proxied to it.
    pub hostname: Option<String>,
    /// The mode the node actually used (`AUTO` resolves to one of the others).
    pub mode: String,
    /// Human-readable summary; for a dry run, what would happen.
    pub mode_details: String,
    pub warnings: Vec<String>,
}

/// The result of `Bootstrap`, which may run only once per cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// etcd was bootstrapped by this call.
    Bootstrapped,
    /// An earlier call did it: the node says so (`AlreadyExists`, e.g. "etcd data directory is
    /// not empty"). A re-run of the bootstrap counts this as done.
    AlreadyBootstrapped { message: String },
}

/// A node's answer to `Version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionReport {
    pub hostname: Option<String>,
    pub tag: String,
    pub sha: String,
    pub built: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub platform: Option<String>,
    pub platform_mode: Option<String>,
    pub rbac: bool,
}

/// Which of Talos's two TLS set-ups a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    Maintenance,
    Configured,
}

/// A connection to one Talos API endpoint.
#[derive(Clone)]
pub struct TalosClient {
    rpc: MachineServiceClient<Channel>,
    endpoint: TalosEndpoint,
    label: String,
    mode: ClientMode,
    node: Option<AsciiMetadataValue>,
    options: ClientOptions,
    /// Maintenance mode: the certificate the server presented.
    peer: Option<PeerFingerprint>,
}

impl fmt::Debug for TalosClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TalosClient")
            .field("endpoint", &self.endpoint)
            .field("mode", &self.mode)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl TalosClient {
    /// A node in maintenance mode: TLS without a client certificate. With `pins`, only a
    /// certificate matching one of them is accepted. With no pins the node's certificate (it is
    /// self-issued) is not verified: the first one presented is accepted and held for this
    /// client's lifetime. Either way [`TalosClient::peer_fingerprint`] tells which certificate
    /// answered, so a caller can refuse to send secrets to an unverified peer, or show it.
    pub async fn maintenance(
        endpoint: &TalosEndpoint,
        pins: &[Fingerprint],
    ) -> Result<TalosClient, TalosError> {
        Self::maintenance_with(endpoint, pins, ClientOptions::default()).await
    }

    pub async fn maintenance_with(
        endpoint: &TalosEndpoint,
        pins: &[Fingerprint],
        options: ClientOptions,
    ) -> Result<TalosClient, TalosError> {
        let (config, peer) = tls::maintenance_config(pins)?;
        let mut client =
            Self::connect(endpoint, config, ClientMode::Maintenance, None, options).await?;
        client.peer = Some(peer);
        Ok(client)
    }

    /// The SPKI fingerprint (Talos's form) of the certificate a maintenance-mode node
    /// presented; `None` for a configured client, whose server is verified against the CA.
    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        self.peer.as_ref().and_then(PeerFingerprint::get)
    }

    /// A configured node, with the current context of `talosconfig`: mutual TLS, the server
    /// verified against the context's CA. `node` (an address or name apid knows) makes the
    /// endpoint proxy each call to that node; `None` talks to the endpoint itself.
    pub async fn configured(
        endpoint: &TalosEndpoint,
        talosconfig: &TalosConfig,
        node: Option<&str>,
    ) -> Result<TalosClient, TalosError> {
        Self::configured_with(endpoint, talosconfig, node, ClientOptions::default()).await
    }

    pub async fn configured_with(
        endpoint: &TalosEndpoint,
        talosconfig: &TalosConfig,
        node: Option<&str>,
        options: ClientOptions,
    ) -> Result<TalosClient, TalosError> {
        let context = current_context(talosconfig)?;
        let ca =
            pki::certificate_der_from_b64("ca", &context.ca).map_err(TalosError::Credentials)?;
        let crt =
            pki::certificate_der_from_b64("crt", &context.crt).map_err(TalosError::Credentials)?;
        let key = pki::private_key_from_b64("key", context.key.expose())
            .map_err(TalosError::Credentials)?;
        let config = tls::mutual_config(ca, crt, key.pkcs8_der().to_vec())?;
        let node = node
            .map(|n| {
                // apid matches the value against node addresses and names: printable ASCII.
                Some(n)
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
                    .and_then(|n| MetadataValue::try_from(n).ok())
                    .ok_or_else(|| TalosError::InvalidNode {
                        node: n.to_string(),
                    })
            })
            .transpose()?;
        Self::connect(endpoint, config, ClientMode::Configured, node, options).await
    }

    async fn connect(
        endpoint: &TalosEndpoint,
        config: std::sync::Arc<rustls::ClientConfig>,
        mode: ClientMode,
        node: Option<AsciiMetadataValue>,
        options: ClientOptions,
    ) -> Result<TalosClient, TalosError> {
        let label = endpoint.to_string();
        let connector = tls::Connector {
            config,
            host: endpoint.host.clone(),
            port: endpoint.port,
            timeout: options.connect_timeout,
        };
        connector.server_name()?;
        // The URI only feeds HTTP/2's :authority; the connector decides where to dial and does
        // TLS itself, so the scheme is plain http to keep tonic's TLS out of the way.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{label}"))
            .map_err(|_| TalosError::InvalidEndpoint {
                input: label.clone(),
                reason: "not usable as a URI authority",
            })?
            .connect_timeout(options.connect_timeout)
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                connector.clone().connect()
            }))
            .await
            .map_err(|e| TalosError::from_transport(&label, &e))?;
        Ok(TalosClient {
            rpc: MachineServiceClient::new(channel),
            endpoint: endpoint.clone(),
            label,
            mode,
            node,
            options,
            peer: None,
        })
    }

    pub fn endpoint(&self) -> &TalosEndpoint {
        &self.endpoint
    }

    pub fn mode(&self) -> ClientMode {
        self.mode
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(node) = &self.node {
            request.metadata_mut().insert("node", node.clone());
        }
        request
    }

    /// Runs one whole call under the request timeout.
    async fn timed<T>(
        &self,
        call: Call,
        work: impl Future<Output = Result<T, TalosError>>,
    ) -> Result<T, TalosError> {
        tokio::time::timeout(self.options.request_timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(TalosError::Timeout {
                    endpoint: self.label.clone(),
                    call,
                    after: self.options.request_timeout,
                })
            })
    }

    /// One unary call within the call timeout, its status turned into a [`TalosError`].
    async fn unary<R>(
        &self,
        call: Call,
        send: impl Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    ) -> Result<R, TalosError> {
        self.timed(call, async {
            send.await
                .map(tonic::Response::into_inner)
                .map_err(|s| self.status_error(call, &s))
        })
        .await
    }

    /// The one message a reply from a single node carries.
    fn first<M>(&self, call: Call, messages: Vec<M>) -> Result<M, TalosError> {
        messages.into_iter().next().ok_or(TalosError::EmptyReply {
            endpoint: self.label.clone(),
            call,
        })
    }

    fn status_error(&self, call: Call, status: &tonic::Status) -> TalosError {
        TalosError::from_status(&self.label, call, status)
    }

    /// apid reports a failure on a proxied node inside the reply, not as a gRPC status.
    fn check_metadata(
        &self,
        call: Call,
        metadata: Option<&proto::common::Metadata>,
    ) -> Result<Option<String>, TalosError> {
        let Some(m) = metadata else {
            return Ok(None);
        };
        if !m.error.is_empty() {
            return Err(TalosError::Node {
                endpoint: self.label.clone(),
                call,
                node: if m.hostname.is_empty() {
                    "(unnamed)".into()
                } else {
                    m.hostname.clone()
                },
                message: scrub(&m.error),
            });
        }
        Ok((!m.hostname.is_empty()).then(|| m.hostname.clone()))
    }

    /// Sends a machine config. `config` is never logged or put in an error; a node that rejects
    /// it answers `InvalidArgument` with its (scrubbed) reason.
    pub async fn apply_configuration(
        &self,
        config: &[u8],
        mode: ApplyMode,
        dry_run: bool,
    ) -> Result<ApplyReport, TalosError> {
        let call = Call::ApplyConfiguration;
        let request = self.request(ApplyConfigurationRequest {
            data: config.to_vec(),
            mode: mode.proto() as i32,
            dry_run,
            try_mode_timeout: match mode {
                ApplyMode::Try { timeout } => Some(prost_types::Duration {
                    seconds: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
                    nanos: i32::try_from(timeout.subsec_nanos()).unwrap_or(0),
                }),
                _ => None,
            },
        });
        let mut rpc = self.rpc.clone();
        let reply = self.unary(call, rpc.apply_configuration(request)).await?;
        let message = self.first(call, reply.messages)?;
        let hostname = self.check_metadata(call, message.metadata.as_ref())?;
        Ok(ApplyReport {
            hostname,
            mode: message.mode().as_str_name().to_string(),
            mode_details: scrub_multiline(&message.mode_details),
            warnings: message.warnings.iter().map(|w| scrub(w)).collect(),
        })
    }

    /// Bootstraps etcd on this (control-plane) node. Safe to repeat: a node that was already
    /// bootstrapped gives [`BootstrapOutcome::AlreadyBootstrapped`].
    pub async fn bootstrap(&self) -> Result<BootstrapOutcome, TalosError> {
        let call = Call::Bootstrap;
        let request = self.request(BootstrapRequest {
            recover_etcd: false,
            recover_skip_hash_check: false,
        });
        let mut rpc = self.rpc.clone();
        let result = self
            .timed(call, async {
                match rpc.bootstrap(request).await {
                    Ok(reply) => Ok(Ok(reply.into_inner())),
                    Err(status) => match self.status_error(call, &status) {
                        TalosError::Rpc { code, message, .. }
                            if already_bootstrapped(code, &message) =>
                        {
                            Ok(Err(message))
                        }
                        other => Err(other),
                    },
                }
            })
            .await?;
        match result {
            Ok(reply) => {
                for m in &reply.messages {
                    self.check_metadata(call, m.metadata.as_ref())?;
                }
                Ok(BootstrapOutcome::Bootstrapped)
            }
            Err(message) => Ok(BootstrapOutcome::AlreadyBootstrapped { message }),
        }
    }

    /// The node's Talos version. In maintenance mode nodes answer `Unimplemented`, so this is
    /// a readiness probe for configured nodes only.
    pub async fn version(&self) -> Result<VersionReport, TalosError> {
        let call = Call::Version;
        let request = self.request(());
        let mut rpc = self.rpc.clone();
        let reply = self.unary(call, rpc.version(request)).await?;
        let message = self.first(call, reply.messages)?;
        let hostname = self.check_metadata(call, message.metadata.as_ref())?;
        let info = message.version.unwrap_or_default();
        Ok(VersionReport {
            hostname,
            tag: info.tag,
            sha: info.sha,
            built: info.built,
            go_version: info.go_version,
            os: info.os,
            arch: info.arch,
            platform: message.platform.as_ref().map(|p| p.name.clone()),
            platform_mode: message.platform.as_ref().map(|p| p.mode.clone()),
            rbac: message.features.is_some_and(|f| f.rbac),
        })
    }

    /// The cluster's admin kubeconfig: the streamed gzipped tar is reassembled and its
    /// `kubeconfig` file returned. Treat the bytes as a secret (write them 0600, never print).
    pub async fn kubeconfig(&self) -> Result<SecretBytes, TalosError> {
        let call = Call::Kubeconfig;
        let request = self.request(());
        let mut rpc = self.rpc.clone();
        self.timed(call, async {
            let mut stream = rpc
                .kubeconfig(request)
                .await
                .map_err(|s| self.status_error(call, &s))?
                .into_inner();
            let mut archive = kubeconfig::ArchiveBuffer::default();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|s| self.status_error(call, &s))?;
                self.check_metadata(call, chunk.metadata.as_ref())?;
                archive
                    .push(&chunk.bytes)
                    .map_err(|problem| TalosError::Kubeconfig {
                        endpoint: self.label.clone(),
                        problem,
                    })?;
            }
            archive.finish().map_err(|problem| TalosError::Kubeconfig {
                endpoint: self.label.clone(),
                problem,
            })
        })
        .await
    }
}

/// Talos answers a repeated Bootstrap with `AlreadyExists` ("etcd data directory is not
/// empty"). `FailedPrecondition` also means "not now" ("bootstrap is not available yet", "time
/// is not in sync yet") or "never here" (a worker), so it counts as done only when the node
/// says "already".
fn already_bootstrapped(code: Code, message: &str) -> bool {
    code == Code::AlreadyExists
        || (code == Code::FailedPrecondition && message.to_ascii_lowercase().contains("already"))
}

fn scrub_multiline(text: &str) -> String {
    text.lines().map(scrub).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_like_talosconfig_endpoints() {
        let ok = [
            ("203.0.113.10", "203.0.113.10", 50000),
            ("203.0.113.10:50001", "203.0.113.10", 50001),
            ("cp01.example.com", "cp01.example.com", 50000),
            ("localhost:1234", "localhost", 1234),
            ("2001:db8::1", "2001:db8::1", 50000),
            ("[2001:db8::1]", "2001:db8::1", 50000),
            ("[2001:db8::1]:443", "2001:db8::1", 443),
        ];
        for (input, host, port) in ok {
            let e: TalosEndpoint = input.parse().unwrap();
            assert_eq!((e.host(), e.port()), (host, port), "{input}");
        }
        assert_eq!(
            "[2001:db8::1]"
                .parse::<TalosEndpoint>()
                .unwrap()
                .to_string(),
            "[2001:db8::1]:50000"
        );
        assert_eq!(
            "203.0.113.10".parse::<TalosEndpoint>().unwrap().to_string(),
            "203.0.113.10:50000"
        );
        for bad in [
            "",
            ":50000",
            "host:port",
            "host:70000",
            "host:0",
            "[203.0.113.10]:1",
            "[2001:db8::1",
            "[::1]x",
            "https://host",
            "a b",
        ] {
            let err = bad.parse::<TalosEndpoint>().unwrap_err();
            assert!(
                matches!(err, TalosError::InvalidEndpoint { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn context_endpoints_come_from_the_current_context() {
        use std::collections::BTreeMap;
        let ctx = |endpoints: &[&str]| TalosContext {
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            nodes: vec![],
            ca: String::new(),
            crt: String::new(),
            key: crate::secret::SecretString::default(),
        };
        let mut config = TalosConfig {
            context: "dev".into(),
            contexts: BTreeMap::from([
                ("dev".into(), ctx(&["203.0.113.10", "203.0.113.11:50001"])),
                ("other".into(), ctx(&["198.51.100.1"])),
            ]),
        };
        let endpoints = context_endpoints(&config).unwrap();
        let shown: Vec<_> = endpoints.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown, ["203.0.113.10:50000", "203.0.113.11:50001"]);

        config.context = "missing".into();
        assert!(matches!(
            context_endpoints(&config),
            Err(TalosError::Talosconfig(_))
        ));
        config.context = "dev".into();
        config.contexts.insert("dev".into(), ctx(&[]));
        assert!(matches!(
            context_endpoints(&config),
            Err(TalosError::Talosconfig(_))
        ));
        config
            .contexts
            .insert("dev".into(), ctx(&["not an endpoint"]));
        assert!(matches!(
            context_endpoints(&config),
            Err(TalosError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn only_already_means_bootstrapped() {
        assert!(already_bootstrapped(
            Code::AlreadyExists,
            "etcd data directory is not empty"
        ));
        assert!(already_bootstrapped(
            Code::FailedPrecondition,
            "cluster is already bootstrapped"
        ));
        assert!(!already_bootstrapped(
            Code::FailedPrecondition,
            "bootstrap is not available yet"
        ));
        assert!(!already_bootstrapped(
            Code::FailedPrecondition,
            "bootstrap can only be performed on a control plane node"
        ));
        assert!(!already_bootstrapped(Code::Unavailable, "already"));
    }

    #[test]
    fn apply_modes_map_to_talos_modes() {
        assert_eq!(ApplyMode::Reboot.proto() as i32, 0);
        assert_eq!(ApplyMode::Auto.proto() as i32, 1);
        assert_eq!(ApplyMode::NoReboot.proto() as i32, 2);
        assert_eq!(ApplyMode::Staged.proto() as i32, 3);
        assert_eq!(
            ApplyMode::Try {
                timeout: Duration::from_secs(1)
            }
            .proto() as i32,
            4
        );
    }
}
