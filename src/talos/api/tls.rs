//! TLS for the Talos API: the two ways `talosctl` talks to a node, built on rustls (ring).
//!
//! - Maintenance mode (`talosctl apply-config --insecure`): the node has no config yet and so no
//!   CA; it presents a self-issued certificate. We send no client certificate. Fingerprint pins
//!   mean "accept exactly this certificate"; without pins the first certificate a client sees is
//!   accepted and then held for that client's lifetime (a reconnect to another peer fails), and
//!   its fingerprint is recorded so the caller can show it (and decide whether to send anything
//!   at all: see the bootstrap's `talos-apply` stage).
//! - Configured mode: mutual TLS. The server must chain to the cluster's os CA (talosconfig `ca`)
//!   and carry the address we dialled; we present the talosconfig admin certificate.
//!
//! tonic's own TLS support cannot express "no verification" or pinning, so the connector here
//! dials TCP and runs the rustls handshake itself, and tonic speaks HTTP/2 over the result.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper_util::rt::TokioIo;
use ring::digest;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, OtherError,
    RootCertStore, SignatureScheme,
};
use thiserror::Error;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// gRPC runs over HTTP/2; Go's gRPC servers (Talos apid) refuse a TLS client that does not
/// offer it through ALPN.
const ALPN_H2: &[u8] = b"h2";

/// How long to wait for the server's first bytes after the handshake (see
/// [`Connector::connect`]). A gRPC server sends them at once; one that does not costs this much
/// per connection and nothing else.
const FIRST_BYTES_WAIT: Duration = Duration::from_secs(1);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

// ---------------------------------------------------------------------------------------------
// Fingerprints

/// A pinned server certificate, for maintenance mode where there is no CA to check against.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fingerprint {
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, in standard base64: the form Talos
    /// prints on the node console and `talosctl --cert-fingerprint` takes. It survives
    /// certificate re-issue with the same key.
    Spki([u8; 32]),
    /// SHA-256 of the whole certificate (DER) in hex, colons optional: the form
    /// `openssl x509 -fingerprint -sha256` prints.
    Certificate([u8; 32]),
}

/// Why a fingerprint string was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "not a certificate fingerprint: expected Talos's base64 SHA-256 SPKI fingerprint \
     (44 characters, as printed on the node console) or a SHA-256 certificate fingerprint \
     in hex (64 digits, colons allowed)"
)]
pub struct FingerprintError;

impl Fingerprint {
    /// Talos's fingerprint of a DER certificate (SHA-256 of its SubjectPublicKeyInfo).
    pub fn spki_of(cert_der: &[u8]) -> Option<Fingerprint> {
        let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
        Some(Fingerprint::Spki(sha256(
            cert.tbs_certificate.subject_pki.raw,
        )))
    }

    /// The whole-certificate fingerprint of a DER certificate.
    pub fn certificate_of(cert_der: &[u8]) -> Fingerprint {
        Fingerprint::Certificate(sha256(cert_der))
    }

    /// Whether `cert_der` is the pinned certificate.
    pub fn matches(&self, cert_der: &[u8]) -> bool {
        match self {
            Fingerprint::Spki(_) => Fingerprint::spki_of(cert_der).as_ref() == Some(self),
            Fingerprint::Certificate(_) => Fingerprint::certificate_of(cert_der) == *self,
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let hex: String = s.chars().filter(|c| *c != ':').collect();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = [0u8; 32];
            for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
                let text = std::str::from_utf8(pair).map_err(|_| FingerprintError)?;
                out[i] = u8::from_str_radix(text, 16).map_err(|_| FingerprintError)?;
            }
            return Ok(Fingerprint::Certificate(out));
        }
        let bytes = STANDARD.decode(s).map_err(|_| FingerprintError)?;
        let out: [u8; 32] = bytes.try_into().map_err(|_| FingerprintError)?;
        Ok(Fingerprint::Spki(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fingerprint::Spki(d) => f.write_str(&STANDARD.encode(d)),
            Fingerprint::Certificate(d) => {
                for (i, b) in d.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{b:02X}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fingerprint::Spki(_) => write!(f, "Spki({self})"),
            Fingerprint::Certificate(_) => write!(f, "Certificate({self})"),
        }
    }
}

/// The certificate the node presented did not match any pin. Carried inside rustls's error so
/// the client can say which fingerprint it saw.
#[derive(Debug, Error)]
#[error("the server certificate matches no pinned fingerprint")]
pub(crate) struct PinMismatch {
    pub presented: Option<Fingerprint>,
}

/// Maintenance-mode verification: no chain and no name to check (the node's certificate is
/// self-issued), so either exactly the pinned certificates or, without pins, the first one seen.
/// The handshake signature is still verified, so a pin also proves the server holds the pinned
/// key.
#[derive(Debug)]
struct MaintenanceVerifier {
    pins: Vec<Fingerprint>,
    /// The SPKI fingerprint of the first certificate presented (shared with the client).
    seen: PeerFingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

/// The SPKI fingerprint a maintenance-mode server presented, once a handshake has happened.
#[derive(Debug, Clone, Default)]
pub struct PeerFingerprint(Arc<Mutex<Option<Fingerprint>>>);

impl PeerFingerprint {
    pub fn get(&self) -> Option<Fingerprint> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ServerCertVerifier for MaintenanceVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::spki_of(end_entity);
        let accepted = if self.pins.is_empty() {
            // Trust on first use, for this client only: the certificate that answered first is
            // the one any reconnect must present again.
            let mut seen = self.seen.0.lock().unwrap_or_else(|e| e.into_inner());
            match (*seen, presented) {
                (None, Some(p)) => {
                    *seen = Some(p);
                    true
                }
                (Some(first), Some(p)) => first == p,
                (_, None) => false,
            }
        } else if self.pins.iter().any(|p| p.matches(end_entity)) {
            *self.seen.0.lock().unwrap_or_else(|e| e.into_inner()) = presented;
            true
        } else {
            false
        };
        if accepted {
            return Ok(ServerCertVerified::assertion());
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(PinMismatch { presented })),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------------
// Client configurations

/// Why a TLS client configuration could not be built (a key rustls cannot use, say).
#[derive(Debug, Error)]
#[error("{0}")]
pub struct TlsSetupError(String);

fn base_builder()
-> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, TlsSetupError> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(e.to_string()))
}

fn finish(mut config: ClientConfig) -> Arc<ClientConfig> {
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Arc::new(config)
}

/// Maintenance mode: no client certificate; only pinned server certificates, or without pins
/// the first one seen. The returned handle tells which certificate the server presented.
pub(crate) fn maintenance_config(
    pins: &[Fingerprint],
) -> Result<(Arc<ClientConfig>, PeerFingerprint), TlsSetupError> {
    let seen = PeerFingerprint::default();
    let verifier = MaintenanceVerifier {
        pins: pins.to_vec(),
        seen: seen.clone(),
        algorithms: provider().signature_verification_algorithms,
    };
    let config = base_builder()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok((finish(config), seen))
}

/// Configured mode: the server must chain to `ca_der` (the os CA) and name the address we
/// dialled; we authenticate with `cert_der` and its PKCS#8 key.
pub(crate) fn mutual_config(
    ca_der: Vec<u8>,
    cert_der: Vec<u8>,
    key_pkcs8: Vec<u8>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der))
        .map_err(|e| TlsSetupError(format!("the talosconfig CA cannot be used: {e}")))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsSetupError(format!("the talosconfig CA cannot be used: {e}")))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8));
    let config = base_builder()?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(vec![CertificateDer::from(cert_der)], key)
        // rustls's message names the problem (unsupported key type), never key material.
        .map_err(|e| TlsSetupError(format!("the talosconfig client key cannot be used: {e}")))?;
    Ok(finish(config))
}

// ---------------------------------------------------------------------------------------------
// Connecting

/// Why one connection attempt failed. tonic hands it back inside its transport error; the client
/// finds it again by walking the error's sources.
#[derive(Debug, Error)]
pub(crate) enum ConnectFailure {
    #[error("{0}")]
    Tcp(io::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("TLS handshake failed: {0}")]
    Tls(rustls::Error),
    #[error("TLS handshake failed: {0}")]
    TlsIo(io::Error),
}

/// Dials the endpoint and completes the TLS handshake; tonic runs HTTP/2 over the stream.
#[derive(Clone)]
pub(crate) struct Connector {
    pub config: Arc<ClientConfig>,
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
}

impl Connector {
    pub fn server_name(&self) -> Result<ServerName<'static>, TlsSetupError> {
        // Bracketed IPv6 literals are stored without brackets; parse addresses first so they
        // are checked against IP SANs, as Go's crypto/tls does.
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(ServerName::IpAddress(ip.into()));
        }
        ServerName::try_from(self.host.clone())
            .map_err(|_| TlsSetupError(format!("{:?} is not a valid server name", self.host)))
    }

    pub async fn connect(self) -> Result<TokioIo<TlsStream<TcpStream>>, ConnectFailure> {
        let name = self
            .server_name()
            .map_err(|e| ConnectFailure::Tcp(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let attempt = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(ConnectFailure::Tcp)?;
            // gRPC sends many small frames; Nagle's algorithm only adds latency.
            tcp.set_nodelay(true).map_err(ConnectFailure::Tcp)?;
            let classify = |e: io::Error| match tls_error_of_io(&e) {
                Some(tls) => ConnectFailure::Tls(tls.clone()),
                None => ConnectFailure::TlsIo(e),
            };
            let mut tls = tokio_rustls::TlsConnector::from(self.config.clone())
                .connect(name, tcp)
                .await
                .map_err(classify)?;
            // In TLS 1.3 the client finishes its handshake before the server has checked the
            // client certificate, so a refusal only arrives as an alert with the server's first
            // bytes. gRPC servers speak first (HTTP/2 SETTINGS), so peek at those, without
            // consuming them: a refused certificate is then reported here, typed, instead of
            // as an opaque "transport error" from the first call (HTTP/2 keeps only the text
            // of I/O errors).
            match tokio::time::timeout(FIRST_BYTES_WAIT, tls.fill_buf()).await {
                Ok(Ok([])) => Err(ConnectFailure::TlsIo(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection right after the TLS handshake",
                ))),
                Ok(Err(e)) => Err(classify(e)),
                // Data, or a server that waits for us to speak first: carry on.
                Ok(Ok(_)) | Err(_) => Ok(tls),
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result.map(TokioIo::new),
            Err(_) => Err(ConnectFailure::Timeout(self.timeout)),
        }
    }
}

/// tokio-rustls reports handshake failures as `io::Error`s wrapping the `rustls::Error`.
pub(crate) fn tls_error_of_io(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

// ---------------------------------------------------------------------------------------------
// Explaining failures

/// What went wrong in a TLS handshake, in the terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server's certificate does not chain to the talosconfig CA: a different cluster, a
    /// node still in maintenance mode (self-issued certificate), or a stale talosconfig.
    ServerNotTrusted,
    /// The certificate chains to the CA but does not name the address we dialled.
    ServerNameMismatch { detail: String },
    /// The certificate is expired or not yet valid (or the local clock is wrong).
    ServerCertificateTime { detail: String },
    /// Maintenance mode with pins: the node presented another certificate.
    FingerprintMismatch { presented: Option<Fingerprint> },
    /// The server refused our client certificate (or that we sent none).
    ClientCertificateRefused { alert: String },
    /// Anything else rustls reported.
    Other { detail: String },
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::ServerNotTrusted => f.write_str(
                "the server certificate is not signed by the cluster's Talos CA (talosconfig \
                 `ca`, certs.os in the secrets bundle); is this node in another cluster or \
                 still in maintenance mode?",
            ),
            TlsFailure::ServerNameMismatch { detail } => write!(
                f,
                "the server certificate is not valid for the address dialled ({detail})"
            ),
            TlsFailure::ServerCertificateTime { detail } => write!(
                f,
                "the server certificate is outside its validity period ({detail}); check the \
                 clocks"
            ),
            TlsFailure::FingerprintMismatch { presented: Some(p) } => write!(
                f,
                "the server certificate does not match the pinned fingerprint (it presented \
                 SPKI fingerprint {p})"
            ),
            TlsFailure::FingerprintMismatch { presented: None } => f.write_str(
                "the server certificate does not match the pinned fingerprint (and cannot be \
                 parsed)",
            ),
            TlsFailure::ClientCertificateRefused { alert } => write!(
                f,
                "the server refused our client certificate ({alert}); is the talosconfig from \
                 this cluster's secrets bundle?"
            ),
            TlsFailure::Other { detail } => f.write_str(detail),
        }
    }
}

impl TlsFailure {
    pub(crate) fn from_rustls(e: &rustls::Error) -> TlsFailure {
        match e {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    TlsFailure::ServerNotTrusted
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    TlsFailure::ServerNameMismatch {
                        detail: e.to_string(),
                    }
                }
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => {
                    TlsFailure::ServerCertificateTime {
                        detail: e.to_string(),
                    }
                }
                CertificateError::Other(other) => {
                    let inner: &(dyn std::error::Error + 'static) = &*other.0;
                    match inner.downcast_ref::<PinMismatch>() {
                        Some(m) => TlsFailure::FingerprintMismatch {
                            presented: m.presented,
                        },
                        None => TlsFailure::Other {
                            detail: e.to_string(),
                        },
                    }
                }
                _ => TlsFailure::Other {
                    detail: e.to_string(),
                },
            },
            // The alerts a TLS server sends when it rejects (or misses) a client certificate.
            rustls::Error::AlertReceived(
                alert @ (AlertDescription::BadCertificate
                | AlertDescription::CertificateRequired
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::AccessDenied
                | AlertDescription::HandshakeFailure
                // A client certificate from another Talos cluster: every os CA is named
                // `O=talos`, so the server finds an issuer by name and then the signature
                // check fails.
                | AlertDescription::DecryptError),
            ) => TlsFailure::ClientCertificateRefused {
                alert: format!("TLS alert {alert:?}"),
            },
            other => TlsFailure::Other {
                detail: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_forms_parse_and_print_back() {
        let spki: Fingerprint = "pnduMqbUZ/sQyDW1o4kP6c1u1PoB2gRQu8KEV38guAM="
            .parse()
            .unwrap();
        assert!(matches!(spki, Fingerprint::Spki(_)));
        assert_eq!(
            spki.to_string(),
            "pnduMqbUZ/sQyDW1o4kP6c1u1PoB2gRQu8KEV38guAM="
        );

        let openssl = "A6:77:6E:32:A6:D4:67:FB:10:C8:35:B5:A3:89:0F:E9:\
                       CD:6E:D4:FA:01:DA:04:50:BB:C2:84:57:7F:20:B8:03";
        let cert: Fingerprint = openssl.parse().unwrap();
        assert!(matches!(cert, Fingerprint::Certificate(_)));
        assert_eq!(cert.to_string(), openssl);
        // The same digest without colons, lower case.
        let plain: Fingerprint = openssl.replace(':', "").to_lowercase().parse().unwrap();
        assert_eq!(plain, cert);
        // Same 32 bytes, different kinds: never equal.
        match (spki, cert) {
            (Fingerprint::Spki(a), Fingerprint::Certificate(b)) => assert_eq!(a, b),
            _ => unreachable!(),
        }
        assert_ne!(spki, cert);

        for bad in [
            "",
            "abc",
            "AAAA",
            "not base64!!",
            &"ab".repeat(31),
            &"zz".repeat(32),
        ] {
            assert_eq!(bad.parse::<Fingerprint>(), Err(FingerprintError), "{bad:?}");
        }
    }

    #[test]
    fn pin_mismatch_is_explained_with_the_presented_fingerprint() {
        let presented: Fingerprint = "pnduMqbUZ/sQyDW1o4kP6c1u1PoB2gRQu8KEV38guAM="
            .parse()
            .unwrap();
        let err = rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
            PinMismatch {
                presented: Some(presented),
            },
        ))));
        let failure = TlsFailure::from_rustls(&err);
        assert_eq!(
            failure,
            TlsFailure::FingerprintMismatch {
                presented: Some(presented)
            }
        );
        assert!(failure.to_string().contains(&presented.to_string()));
    }

    #[test]
    fn rustls_errors_map_to_actionable_failures() {
        let cases = [
            (
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                "not signed by the cluster's Talos CA",
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
                "not valid for the address",
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Expired),
                "validity period",
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
                "refused our client certificate",
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::DecryptError),
                "refused our client certificate",
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::DecodeError),
                "DecodeError",
            ),
        ];
        for (err, expected) in cases {
            let text = TlsFailure::from_rustls(&err).to_string();
            assert!(text.contains(expected), "{err:?} → {text}");
        }
    }

    #[test]
    fn server_names_accept_addresses_and_host_names() {
        let c = |host: &str| Connector {
            config: maintenance_config(&[]).unwrap().0,
            host: host.into(),
            port: 50000,
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(
            c("203.0.113.10").server_name(),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            c("::1").server_name(),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            c("cp01.example.com").server_name(),
            Ok(ServerName::DnsName(_))
        ));
        assert!(c("not a name").server_name().is_err());
    }
}
