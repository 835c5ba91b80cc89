//! An in-process stand-in for one Talos node's machine API (`machine.MachineService`), built
//! from the same proto as the client and served over real TLS on 127.0.0.1.
//!
//! What it models, from shared/talos-api.md:
//! - **Maintenance mode**: TLS with a certificate no client can verify and no client
//!   certificate asked for. `ApplyConfiguration` accepts REBOOT, AUTO and TRY; NO_REBOOT and
//!   STAGED answer `Unimplemented`; a dry run answers with `mode_details` and changes nothing; a
//!   config that is not a v1alpha1 machine config answers `InvalidArgument`. `Version`,
//!   `Bootstrap` and `Kubeconfig` answer `Unimplemented`. A successful apply "reboots" the node
//!   into configured mode when the server was given a configured identity: new connections then
//!   get the configured TLS.
//! - **Configured mode**: mutual TLS; the server presents a certificate signed by the cluster's
//!   os CA and requires a client certificate signed by it, and calls also need the `os:admin`
//!   organisation (else `PermissionDenied`). `Version` answers; `Bootstrap` succeeds once, then
//!   answers `AlreadyExists` ("etcd data directory is not empty"), and `FailedPrecondition` on a
//!   worker; `Kubeconfig` streams a gzipped tar holding `kubeconfig` in small chunks. `node`
//!   metadata naming a node other than this one answers `Unavailable`, like apid failing to
//!   proxy; the node's hostname comes back in each reply's metadata.
//!
//! The real `talosctl` (built by `make oracles`) is run against it in tests/oracle_talosctl.rs
//! (version, bootstrap, kubeconfig, apply-config in maintenance mode), so what it answers is
//! what the real client understands.
//!
//! Its limits, on purpose: one node (no real proxying to others, no `nodes` fan-out); the
//! config check is a shape check (YAML stream, first document `version: v1alpha1` with
//! `machine.type`), not Talos's validation; "rebooting" is instantaneous and leaves open
//! connections alone; the maintenance certificate is signed by a throwaway CA rather than
//! self-signed (to a client both are equally unverifiable); TRY mode never rolls back; no other
//! RPC of the real service exists here (they answer `Unimplemented`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::stream::{self, BoxStream};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};
use zt::talos::api::proto::common::{Data, Metadata};
use zt::talos::api::proto::machine::apply_configuration_request::Mode;
use zt::talos::api::proto::machine::machine_service_server::{
    MachineService, MachineServiceServer,
};
use zt::talos::api::proto::machine::{
    ApplyConfiguration, ApplyConfigurationRequest, ApplyConfigurationResponse, Bootstrap,
    BootstrapRequest, BootstrapResponse, FeaturesInfo, PlatformInfo, Version, VersionInfo,
    VersionResponse,
};
use zt::talos::bundle::SecretsBundle;
use zt::talos::pki::{self, CertInfo};

/// The Talos release the double claims to run.
pub const TALOS_TAG: &str = "v1.11.5";

/// A certificate and PKCS#8 key, as DER.
#[derive(Clone)]
pub struct Identity {
    pub cert_der: Vec<u8>,
    pub key_pkcs8: Vec<u8>,
}

impl Identity {
    /// An apid certificate for 127.0.0.1 signed by `bundle`'s os CA.
    pub fn api_server(bundle: &SecretsBundle) -> Identity {
        let issued = pki::issue_api_server_cert(
            bundle,
            &["127.0.0.1", "localhost"],
            time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
            time::Duration::hours(1),
        )
        .expect("issue a test server certificate");
        Identity {
            cert_der: pki::certificate_der_from_b64("crt", &issued.crt).expect("certificate"),
            key_pkcs8: pki::private_key_from_b64("key", issued.key.expose())
                .expect("key")
                .pkcs8_der()
                .to_vec(),
        }
    }

    /// What a node in maintenance mode presents: a certificate nobody can chain (signed by a
    /// throwaway CA).
    pub fn maintenance() -> Identity {
        Identity::api_server(&SecretsBundle::generate().expect("throwaway bundle"))
    }
}

/// The mode a connection was accepted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeMode {
    Maintenance,
    Configured,
}

/// One config the node accepted (dry runs are not recorded here).
#[derive(Clone)]
pub struct AppliedConfig {
    pub data: Vec<u8>,
    pub mode: Mode,
    pub mode_in: NodeMode,
}

/// One call as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub method: &'static str,
    pub mode: NodeMode,
    /// The `node` / `nodes` gRPC metadata, when sent.
    pub node: Option<String>,
    pub nodes: Option<String>,
    pub dry_run: bool,
    /// Organisations of the client certificate (configured mode).
    pub client_organizations: Vec<String>,
}

/// Everything the test can look at or steer.
pub struct NodeState {
    pub mode: NodeMode,
    pub hostname: String,
    /// Addresses or names that `node` metadata may carry for this node.
    pub node_names: Vec<String>,
    pub machine_type: String,
    pub applied: Vec<AppliedConfig>,
    pub bootstrapped: bool,
    pub calls: Vec<CallRecord>,
    /// TLS handshakes the server refused, with rustls's reason.
    pub refused_handshakes: Vec<String>,
    pub kubeconfig: Vec<u8>,
    pub chunk_size: usize,
    /// When set, replies carry this in `metadata.error`, as apid does for a failed proxied call.
    pub metadata_error: Option<String>,
    /// How long the node is down after a config is applied (installing, rebooting): new
    /// connections are closed unanswered until then.
    pub reboot_delay: std::time::Duration,
    down_until: Option<std::time::Instant>,
}

struct Shared {
    state: Mutex<NodeState>,
    maintenance_tls: Option<Arc<rustls::ServerConfig>>,
    configured_tls: Option<Arc<rustls::ServerConfig>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, NodeState> {
        // A test that panicked while holding the lock has already failed; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running test node. Dropping it stops accepting connections.
pub struct TalosTestServer {
    addr: SocketAddr,
    /// The maintenance identity's certificate, as presented in maintenance mode.
    maintenance_cert: Option<Vec<u8>>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for TalosTestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The kubeconfig the double hands out unless a test sets another.
pub const DEFAULT_KUBECONFIG: &[u8] = b"apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  \
cluster:\n    server: https://127.0.0.1:6443\nusers:\n- name: admin@test\n  user:\n    \
client-key-data: dGVzdC1vbmx5LW5vdC1hLXJlYWwta2V5\ncurrent-context: admin@test\n";

fn server_config(identity: &Identity, client_ca_der: Option<&[u8]>) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions");
    let builder = match client_ca_der {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from(ca.to_vec()))
                .expect("client CA");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(
            vec![CertificateDer::from(identity.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_pkcs8.clone())),
        )
        .expect("server identity");
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

impl TalosTestServer {
    /// A node in maintenance mode that stays there (no configured identity to reboot into).
    pub async fn maintenance(identity: &Identity) -> TalosTestServer {
        Self::start(Some(identity), None).await
    }

    /// A configured node of `bundle`'s cluster.
    pub async fn configured(bundle: &SecretsBundle) -> TalosTestServer {
        let os_ca = pki::certificate_der_from_b64("ca", &bundle.certs.os.crt).expect("os CA");
        Self::start(
            None,
            Some((&Identity::api_server(bundle), os_ca.as_slice())),
        )
        .await
    }

    /// A node in maintenance mode that joins `bundle`'s cluster once a config is applied.
    pub async fn maintenance_then_configured(bundle: &SecretsBundle) -> TalosTestServer {
        let os_ca = pki::certificate_der_from_b64("ca", &bundle.certs.os.crt).expect("os CA");
        Self::start(
            Some(&Identity::maintenance()),
            Some((&Identity::api_server(bundle), os_ca.as_slice())),
        )
        .await
    }

    /// Serves with the given identities: `maintenance` without client authentication,
    /// `configured` as (server identity, client CA).
    pub async fn start(
        maintenance: Option<&Identity>,
        configured: Option<(&Identity, &[u8])>,
    ) -> TalosTestServer {
        let mode = if maintenance.is_some() {
            NodeMode::Maintenance
        } else {
            NodeMode::Configured
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(NodeState {
                mode,
                hostname: "talos-test-node".into(),
                node_names: vec!["127.0.0.1".into(), "talos-test-node".into()],
                machine_type: "controlplane".into(),
                applied: Vec::new(),
                bootstrapped: false,
                calls: Vec::new(),
                refused_handshakes: Vec::new(),
                kubeconfig: DEFAULT_KUBECONFIG.to_vec(),
                chunk_size: 64,
                metadata_error: None,
                reboot_delay: std::time::Duration::ZERO,
                down_until: None,
            }),
            maintenance_tls: maintenance.map(|id| server_config(id, None)),
            configured_tls: configured.map(|(id, ca)| server_config(id, Some(ca))),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        TalosTestServer {
            addr,
            maintenance_cert: maintenance.map(|id| id.cert_der.clone()),
            shared,
            task,
        }
    }

    /// The Talos (SPKI) fingerprint of the certificate presented in maintenance mode, as a node
    /// shows it on its console.
    pub fn maintenance_fingerprint(&self) -> Option<zt::talos::api::Fingerprint> {
        self.maintenance_cert
            .as_deref()
            .and_then(zt::talos::api::Fingerprint::spki_of)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:<port>`, ready for `TalosEndpoint::from_str`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Inspect or steer the node.
    pub fn state(&self) -> MutexGuard<'_, NodeState> {
        self.shared.state()
    }

    /// The TLS handshakes the server refused, once there are at least `n`. The server notes a
    /// refusal just after sending its alert, so the client can see the alert first: probe with
    /// backoff (up to about 5 s) instead of assuming an order.
    pub async fn refused_handshakes(&self, n: usize) -> Vec<String> {
        let mut delay = std::time::Duration::from_millis(1);
        for _ in 0..16 {
            {
                let state = self.state();
                if state.refused_handshakes.len() >= n {
                    return state.refused_handshakes.clone();
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_millis(500));
        }
        self.state().refused_handshakes.clone()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(serve_connection(tcp, shared.clone()));
    }
}

async fn serve_connection(tcp: tokio::net::TcpStream, shared: Arc<Shared>) {
    let (mode, down_until) = {
        let state = shared.state();
        (state.mode, state.down_until)
    };
    if down_until.is_some_and(|t| std::time::Instant::now() < t) {
        return;
    }
    let config = match mode {
        NodeMode::Maintenance => shared.maintenance_tls.clone(),
        NodeMode::Configured => shared.configured_tls.clone(),
    };
    let Some(config) = config else {
        return;
    };
    let tls = match tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            shared.state().refused_handshakes.push(e.to_string());
            return;
        }
    };
    let client_organizations = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| CertInfo::parse(leaf).ok())
        .map(|info| info.organizations)
        .unwrap_or_default();
    let node = Node {
        shared,
        mode,
        client_organizations,
    };
    let service = TowerToHyperService::new(MachineServiceServer::new(node));
    // A connection error just ends this connection, as it would on a real node.
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// The service as seen by one connection (one TLS session, one mode).
struct Node {
    shared: Arc<Shared>,
    mode: NodeMode,
    client_organizations: Vec<String>,
}

fn metadata_value<T>(request: &Request<T>, key: &str) -> Option<String> {
    request
        .metadata()
        .get(key)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Node {
    /// Records the call and applies what every call shares: authorisation and node routing.
    /// Returns the reply metadata.
    fn admit<T>(
        &self,
        method: &'static str,
        request: &Request<T>,
        dry_run: bool,
    ) -> Result<Metadata, Status> {
        let node = metadata_value(request, "node");
        let nodes = metadata_value(request, "nodes");
        let mut state = self.shared.state();
        state.calls.push(CallRecord {
            method,
            mode: self.mode,
            node: node.clone(),
            nodes: nodes.clone(),
            dry_run,
            client_organizations: self.client_organizations.clone(),
        });
        if self.mode == NodeMode::Configured
            && !self.client_organizations.iter().any(|o| o == "os:admin")
        {
            return Err(Status::permission_denied("not authorized"));
        }
        if let Some(target) = node.as_ref().or(nodes.as_ref())
            && !state.node_names.iter().any(|n| n == target)
        {
            return Err(Status::unavailable(format!(
                "error proxying to node {target}: connection refused"
            )));
        }
        Ok(Metadata {
            hostname: if node.is_some() || nodes.is_some() {
                state.hostname.clone()
            } else {
                String::new()
            },
            error: state.metadata_error.clone().unwrap_or_default(),
            status: None,
        })
    }

    fn maintenance_unimplemented(&self) -> Result<(), Status> {
        if self.mode == NodeMode::Maintenance {
            return Err(Status::unimplemented(
                "API is not implemented in maintenance mode",
            ));
        }
        Ok(())
    }
}

/// The shape check standing in for Talos's config validation. Its messages never quote the
/// config.
fn check_config(data: &[u8]) -> Result<String, Status> {
    let text = std::str::from_utf8(data)
        .map_err(|_| Status::invalid_argument("failed to parse config: not UTF-8"))?;
    let docs: Vec<serde_json::Value> = zt::yaml::from_str_multi(text)
        .map_err(|_| Status::invalid_argument("failed to parse config: not a YAML stream"))?;
    let first = docs
        .first()
        .ok_or_else(|| Status::invalid_argument("failed to parse config: empty"))?;
    if first.get("version").and_then(|v| v.as_str()) != Some("v1alpha1") {
        return Err(Status::invalid_argument(
            "failed to parse config: the first document is not `version: v1alpha1`",
        ));
    }
    match first.pointer("/machine/type").and_then(|v| v.as_str()) {
        Some(t @ ("controlplane" | "worker" | "init")) => Ok(t.to_string()),
        _ => Err(Status::invalid_argument(
            "1 error occurred:\n\t* machine.type: unknown machine type",
        )),
    }
}

#[tonic::async_trait]
impl MachineService for Node {
    async fn apply_configuration(
        &self,
        request: Request<ApplyConfigurationRequest>,
    ) -> Result<Response<ApplyConfigurationResponse>, Status> {
        let dry_run = request.get_ref().dry_run;
        let metadata = self.admit("ApplyConfiguration", &request, dry_run)?;
        let req = request.into_inner();
        let mode =
            Mode::try_from(req.mode).map_err(|_| Status::invalid_argument("unknown apply mode"))?;
        if self.mode == NodeMode::Maintenance && matches!(mode, Mode::NoReboot | Mode::Staged) {
            return Err(Status::unimplemented(format!(
                "apply configuration --mode='{}' is not supported in maintenance mode",
                mode.as_str_name().to_ascii_lowercase().replace('_', "-")
            )));
        }
        let machine_type = check_config(&req.data)?;
        let mode_details = if dry_run {
            match self.mode {
                NodeMode::Maintenance => "Dry run summary:\nNode is running in maintenance mode \
                                          and does not have a config yet."
                    .to_string(),
                NodeMode::Configured => "Dry run summary:\nApplied configuration without a \
                                         reboot (no changes)."
                    .to_string(),
            }
        } else {
            let mut state = self.shared.state();
            state.applied.push(AppliedConfig {
                data: req.data,
                mode,
                mode_in: self.mode,
            });
            state.machine_type = machine_type;
            // Installing and rebooting into the config: new connections meet the configured
            // node (when this server has one to become).
            if self.mode == NodeMode::Maintenance && self.shared.configured_tls.is_some() {
                state.mode = NodeMode::Configured;
                state.down_until = Some(std::time::Instant::now() + state.reboot_delay);
            }
            format!("Applied configuration with mode {}", mode.as_str_name())
        };
        Ok(Response::new(ApplyConfigurationResponse {
            messages: vec![ApplyConfiguration {
                metadata: Some(metadata),
                warnings: Vec::new(),
                mode: mode as i32,
                mode_details,
            }],
        }))
    }

    async fn bootstrap(
        &self,
        request: Request<BootstrapRequest>,
    ) -> Result<Response<BootstrapResponse>, Status> {
        let metadata = self.admit("Bootstrap", &request, false)?;
        self.maintenance_unimplemented()?;
        let mut state = self.shared.state();
        if state.machine_type == "worker" {
            return Err(Status::failed_precondition(
                "bootstrap can only be performed on a control plane node",
            ));
        }
        if state.bootstrapped {
            return Err(Status::already_exists("etcd data directory is not empty"));
        }
        state.bootstrapped = true;
        Ok(Response::new(BootstrapResponse {
            messages: vec![Bootstrap {
                metadata: Some(metadata),
            }],
        }))
    }

    type KubeconfigStream = BoxStream<'static, Result<Data, Status>>;

    async fn kubeconfig(
        &self,
        request: Request<()>,
    ) -> Result<Response<Self::KubeconfigStream>, Status> {
        let metadata = self.admit("Kubeconfig", &request, false)?;
        self.maintenance_unimplemented()?;
        let (kubeconfig, chunk_size) = {
            let state = self.shared.state();
            (state.kubeconfig.clone(), state.chunk_size.max(1))
        };
        let archive = kubeconfig_archive(&kubeconfig)
            .map_err(|_| Status::internal("failed to build the kubeconfig archive"))?;
        let chunks: Vec<Result<Data, Status>> = archive
            .chunks(chunk_size)
            .map(|c| {
                Ok(Data {
                    metadata: Some(metadata.clone()),
                    bytes: c.to_vec(),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(stream::iter(chunks))))
    }

    async fn version(&self, request: Request<()>) -> Result<Response<VersionResponse>, Status> {
        let metadata = self.admit("Version", &request, false)?;
        self.maintenance_unimplemented()?;
        Ok(Response::new(VersionResponse {
            messages: vec![Version {
                metadata: Some(metadata),
                version: Some(VersionInfo {
                    tag: TALOS_TAG.into(),
                    sha: "0123456".into(),
                    built: String::new(),
                    go_version: "go1.24".into(),
                    os: "linux".into(),
                    arch: "amd64".into(),
                }),
                platform: Some(PlatformInfo {
                    name: "metal".into(),
                    mode: "metal".into(),
                }),
                features: Some(FeaturesInfo { rbac: true }),
            }],
        }))
    }
}

/// A gzipped tar holding one file, `kubeconfig`, as Talos streams it.
pub fn kubeconfig_archive(kubeconfig: &[u8]) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(kubeconfig.len() as u64);
    header.set_mode(0o600);
    tar.append_data(&mut header, "kubeconfig", kubeconfig)?;
    tar.into_inner()?.finish()
}
