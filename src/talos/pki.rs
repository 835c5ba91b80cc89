//! Talos PKI: certificate authorities, key formats and the talosconfig admin certificate.
//!
//! Two kinds of operation live here and must not be confused:
//! - *generation* (`kubectl zt secrets gen`): fresh randomness, the current time; run once.
//! - *derivation* ([`admin_client_cert`], used by `render`): a pure function of the secrets
//!   bundle, so the same bundle renders the same bytes forever. Nothing in it reads the clock or
//!   the random number generator.

use std::fmt;

use rcgen::string::{Ia5String, PrintableString};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, signature};
use thiserror::Error;
use time::{Duration, OffsetDateTime};
use x509_parser::oid_registry;

use super::bundle::SecretsBundle;
pub use super::keys::{KeyAlgorithm, KeyError, PrivateKey};
use super::pem::{self as pemfmt, LABEL_CERTIFICATE};
pub use super::pem::{Pem, PemError};
use crate::secret::SecretString;
use crate::yaml::YamlError;

/// Talos's `CAValidityTime`: 87600 hours, ten years of 365 days.
pub const CA_VALIDITY: Duration = Duration::hours(87_600);

/// Organization of the talosconfig client certificate: Talos maps it to the `os:admin` role.
pub const ADMIN_ORGANIZATION: &str = "os:admin";
pub const ADMIN_COMMON_NAME: &str = "admin";

/// Domain separation for everything derived from the os CA key. Changing it changes every
/// rendered talosconfig, so it carries a version.
const ADMIN_DERIVATION_SALT: &[u8] = b"kubectl-zt talosconfig admin client certificate v1";

/// A PKI failure. Messages name the field and the problem, never a key or token.
#[derive(Debug, Error)]
pub enum PkiError {
    #[error("the system random number generator failed")]
    Rng,
    #[error("the system clock is outside the range a certificate can hold")]
    Clock,
    #[error("{field}: {source}")]
    Pem {
        field: &'static str,
        source: PemError,
    },
    #[error("{field}: {source}")]
    Key {
        field: &'static str,
        source: KeyError,
    },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("cannot build a certificate: {0}")]
    Build(#[from] rcgen::Error),
    #[error("cannot write YAML: {0}")]
    Yaml(#[from] YamlError),
}

impl PkiError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        PkiError::Invalid {
            field,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading certificates

/// The facts about a certificate that bundle validation and signing need, copied out of
/// x509-parser's borrowed view so callers need not juggle lifetimes.
#[derive(Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub der: Vec<u8>,
    /// Public key algorithm, `None` when it is neither Ed25519 nor ECDSA P-256.
    pub algorithm: Option<KeyAlgorithm>,
    /// The subjectPublicKey bits: a 32-byte Ed25519 key or an uncompressed P-256 point.
    pub public_key: Vec<u8>,
    pub is_ca: bool,
    pub key_cert_sign: bool,
    pub digital_signature: bool,
    pub server_auth: bool,
    pub client_auth: bool,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub serial: Vec<u8>,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    pub organizations: Vec<String>,
    pub common_names: Vec<String>,
    /// Every RDN holds exactly one attribute (rcgen can only re-encode such names).
    pub subject_single_valued: bool,
    tbs: Vec<u8>,
    signature_algorithm: Option<KeyAlgorithm>,
    signature: Vec<u8>,
}

impl fmt::Debug for CertInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertInfo")
            .field("algorithm", &self.algorithm)
            .field("is_ca", &self.is_ca)
            .field("organizations", &self.organizations)
            .field("common_names", &self.common_names)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertError {
    #[error("not a valid X.509 certificate")]
    Parse,
    #[error("unexpected data after the certificate")]
    TrailingData,
    #[error("certificate has a malformed or duplicated extension")]
    Extension,
}

impl CertInfo {
    pub fn parse(der: &[u8]) -> Result<CertInfo, CertError> {
        let (rest, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|_| CertError::Parse)?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData);
        }
        let spki = cert.public_key();
        let algorithm = if spki.algorithm.algorithm == oid_registry::OID_SIG_ED25519 {
            Some(KeyAlgorithm::Ed25519)
        } else if spki.algorithm.algorithm == oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
            && spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .is_some_and(|oid| oid == oid_registry::OID_EC_P256)
        {
            Some(KeyAlgorithm::EcdsaP256)
        } else {
            None
        };
        let signature_algorithm = if cert.signature_algorithm.algorithm
            == oid_registry::OID_SIG_ED25519
        {
            Some(KeyAlgorithm::Ed25519)
        } else if cert.signature_algorithm.algorithm == oid_registry::OID_SIG_ECDSA_WITH_SHA256 {
            Some(KeyAlgorithm::EcdsaP256)
        } else {
            None
        };
        let basic = cert.basic_constraints().map_err(|_| CertError::Extension)?;
        let ku = cert.key_usage().map_err(|_| CertError::Extension)?;
        let eku = cert
            .extended_key_usage()
            .map_err(|_| CertError::Extension)?;
        let strings = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
            it.map(|a| a.as_str().map(str::to_string).unwrap_or_default())
                .collect::<Vec<_>>()
        };
        let subject = cert.subject();
        Ok(CertInfo {
            der: der.to_vec(),
            algorithm,
            public_key: spki.subject_public_key.data.to_vec(),
            is_ca: basic.is_some_and(|b| b.value.ca),
            key_cert_sign: ku.as_ref().is_some_and(|k| k.value.key_cert_sign()),
            digital_signature: ku.as_ref().is_some_and(|k| k.value.digital_signature()),
            server_auth: eku.as_ref().is_some_and(|e| e.value.server_auth),
            client_auth: eku.as_ref().is_some_and(|e| e.value.client_auth),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            serial: cert.raw_serial().to_vec(),
            subject_raw: subject.as_raw().to_vec(),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            organizations: strings(&mut subject.iter_organization()),
            common_names: strings(&mut subject.iter_common_name()),
            subject_single_valued: subject.iter().all(|rdn| rdn.iter().count() == 1),
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            signature_algorithm,
            signature: cert.signature_value.data.to_vec(),
        })
    }

    /// Whether `issuer`'s key signed this certificate (pass `self` for a self-signed CA).
    pub fn is_signed_by(&self, issuer: &CertInfo) -> bool {
        let alg: &dyn signature::VerificationAlgorithm =
            match (self.signature_algorithm, issuer.algorithm) {
                (Some(KeyAlgorithm::Ed25519), Some(KeyAlgorithm::Ed25519)) => &signature::ED25519,
                (Some(KeyAlgorithm::EcdsaP256), Some(KeyAlgorithm::EcdsaP256)) => {
                    &signature::ECDSA_P256_SHA256_ASN1
                }
                _ => return false,
            };
        signature::UnparsedPublicKey::new(alg, &issuer.public_key)
            .verify(&self.tbs, &self.signature)
            .is_ok()
    }

    /// Whether `key` is the private half of this certificate's public key.
    pub fn matches_key(&self, key: &PrivateKey) -> Result<bool, KeyError> {
        if self.algorithm != Some(key.algorithm()) {
            return Ok(false);
        }
        Ok(key.key_pair()?.public_key_raw() == self.public_key.as_slice())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for code that builds TLS connections from bundle or talosconfig values

/// Decodes Talos's YAML form of a certificate or key (base64 of one PEM block).
pub fn decode_pem_b64(value: &str) -> Result<Pem, PemError> {
    pemfmt::decode_b64(value)
}

/// The DER of a base64-of-PEM `CERTIFICATE` value.
pub fn certificate_der_from_b64(field: &'static str, value: &str) -> Result<Vec<u8>, PkiError> {
    decode_pem_b64(value)
        .and_then(|p| p.into_der_labelled(LABEL_CERTIFICATE))
        .map_err(|source| PkiError::Pem { field, source })
}

/// A base64-of-PEM private key in any form Talos writes (`ED25519 PRIVATE KEY`,
/// `EC PRIVATE KEY`) or PKCS#8 `PRIVATE KEY`.
pub fn private_key_from_b64(field: &'static str, value: &str) -> Result<PrivateKey, PkiError> {
    let block = decode_pem_b64(value).map_err(|source| PkiError::Pem { field, source })?;
    PrivateKey::from_pem(&block).map_err(|source| PkiError::Key { field, source })
}

/// A certificate and key as standard PEM (`CERTIFICATE`, PKCS#8 `PRIVATE KEY`), the forms
/// rustls and tonic load; Talos's `ED25519 PRIVATE KEY` label is unknown to them.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsIdentityPem {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for TlsIdentityPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentityPem")
            .field("cert_pem", &"<certificate>")
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Converts a talosconfig-style `crt`/`key` pair (base64 of PEM) into a [`TlsIdentityPem`].
pub fn tls_identity_pem(crt_b64: &str, key_b64: &str) -> Result<TlsIdentityPem, PkiError> {
    let cert = certificate_der_from_b64("crt", crt_b64)?;
    let key = private_key_from_b64("key", key_b64)?;
    Ok(TlsIdentityPem {
        cert_pem: pemfmt::encode(LABEL_CERTIFICATE, &cert),
        key_pem: pemfmt::encode(pemfmt::LABEL_PRIVATE_KEY, key.pkcs8_der()),
    })
}

// ---------------------------------------------------------------------------------------------
// Generation (random, time-dependent: `secrets gen` only)

fn random_bytes<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], PkiError> {
    let mut out = [0u8; N];
    rng.fill(&mut out).map_err(|_| PkiError::Rng)?;
    Ok(out)
}

/// `n` characters of `[a-z0-9]`, uniformly distributed.
fn random_token_part(rng: &SystemRandom, n: usize) -> Result<String, PkiError> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    // 252 is the largest multiple of 36 that fits a byte; rejecting bytes at or above it keeps
    // `b % 36` unbiased.
    const LIMIT: u8 = 252;
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<32>(rng)? {
            if b < LIMIT && out.len() < n {
                out.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    Ok(out)
}

/// A token of the form `[a-z0-9]{6}.[a-z0-9]{16}` (Kubernetes bootstrap token, trustd token).
pub fn random_token() -> Result<String, PkiError> {
    let rng = SystemRandom::new();
    Ok(format!(
        "{}.{}",
        random_token_part(&rng, 6)?,
        random_token_part(&rng, 16)?
    ))
}

/// 32 random bytes.
pub fn random_secret() -> Result<[u8; 32], PkiError> {
    random_bytes(&SystemRandom::new())
}

/// A fresh Ed25519 key (PKCS#8 v1, as Talos writes it).
pub fn generate_ed25519_key() -> Result<PrivateKey, PkiError> {
    Ok(PrivateKey::ed25519_from_seed(&random_bytes(
        &SystemRandom::new(),
    )?))
}

/// A fresh ECDSA P-256 key.
pub fn generate_ecdsa_p256_key() -> Result<PrivateKey, PkiError> {
    let pair = KeyPair::generate_for(KeyAlgorithm::EcdsaP256.rcgen())?;
    PrivateKey::from_pkcs8(pair.serialized_der()).map_err(|source| PkiError::Key {
        field: "generated key",
        source,
    })
}

/// The certificate authorities of a Talos cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaKind {
    /// `certs.os`: the Talos API CA.
    Os,
    /// `certs.etcd`.
    Etcd,
    /// `certs.k8s`: the Kubernetes cluster CA.
    Kubernetes,
    /// `certs.k8saggregator`: the front-proxy CA.
    Aggregator,
}

impl CaKind {
    pub fn algorithm(self) -> KeyAlgorithm {
        match self {
            CaKind::Os => KeyAlgorithm::Ed25519,
            _ => KeyAlgorithm::EcdsaP256,
        }
    }

    /// Subject attributes, as Talos sets them. The aggregator CA has CN `front-proxy` in current
    /// Talos; bundles from older releases carry an empty subject, which loading still accepts.
    fn subject(self) -> (DnType, &'static str) {
        match self {
            CaKind::Os => (DnType::OrganizationName, "talos"),
            CaKind::Etcd => (DnType::OrganizationName, "etcd"),
            CaKind::Kubernetes => (DnType::OrganizationName, "kubernetes"),
            CaKind::Aggregator => (DnType::CommonName, "front-proxy"),
        }
    }
}

/// A freshly generated CA in Talos's YAML form (base64 of PEM).
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedCa {
    pub crt: String,
    pub key: String,
}

impl fmt::Debug for GeneratedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCa")
            .field("crt", &"<certificate>")
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Go's `pkix.Name` marshals ASCII-safe strings as PrintableString; do the same so our names
/// compare byte-for-byte with those `talosctl` writes.
fn printable(value: &str) -> Result<DnValue, PkiError> {
    PrintableString::try_from(value)
        .map(DnValue::PrintableString)
        .map_err(|_| PkiError::invalid("subject", "not a PrintableString"))
}

/// Whole seconds: X.509 times carry no fractions, and a rounded-up `notAfter` would otherwise
/// depend on how the encoder truncates.
fn whole_seconds(t: OffsetDateTime) -> Result<OffsetDateTime, PkiError> {
    OffsetDateTime::from_unix_timestamp(t.unix_timestamp()).map_err(|_| PkiError::Clock)
}

/// A self-signed CA like Talos's `NewSelfSignedCertificateAuthority`: valid from `now` for
/// [`CA_VALIDITY`], basicConstraints CA:TRUE, keyUsage digitalSignature + keyCertSign (critical),
/// extKeyUsage serverAuth + clientAuth, a random 128-bit serial.
pub fn generate_ca(kind: CaKind, now: OffsetDateTime) -> Result<GeneratedCa, PkiError> {
    let key = match kind.algorithm() {
        KeyAlgorithm::Ed25519 => generate_ed25519_key()?,
        KeyAlgorithm::EcdsaP256 => generate_ecdsa_p256_key()?,
    };
    let serial = random_bytes::<16>(&SystemRandom::new())?;
    build_ca(kind, &key, now, serial)
}

/// The certificate part of [`generate_ca`], separated from its randomness so tests can build a
/// reproducible CA.
fn build_ca(
    kind: CaKind,
    key: &PrivateKey,
    now: OffsetDateTime,
    mut serial: [u8; 16],
) -> Result<GeneratedCa, PkiError> {
    let key_error = |source| PkiError::Key {
        field: "generated key",
        source,
    };
    if key.algorithm() != kind.algorithm() {
        return Err(PkiError::invalid(
            "generated key",
            format!("a {kind:?} CA needs an {} key", kind.algorithm()),
        ));
    }
    let pair = key.key_pair().map_err(key_error)?;

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let (ty, value) = kind.subject();
    dn.push(ty, printable(value)?);
    params.distinguished_name = dn;
    let not_before = whole_seconds(now)?;
    params.not_before = not_before;
    params.not_after = not_before.checked_add(CA_VALIDITY).ok_or(PkiError::Clock)?;
    // Positive and exactly 16 bytes: clear the sign bit, set the next so it is never zero.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&pair)?;
    Ok(GeneratedCa {
        crt: pemfmt::encode_b64(LABEL_CERTIFICATE, cert.der()),
        key: key.to_talos_pem_b64().map_err(key_error)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Derivation (deterministic: `render`)

/// A certificate and its key, base64 of PEM like every Talos credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    pub crt: String,
    pub key: SecretString,
}

/// The talosconfig client certificate and key.
pub type ClientCert = IssuedCert;

/// Output length for ring's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand<const N: usize>(prk: &hkdf::Prk, info: &[u8]) -> Result<[u8; N], PkiError> {
    let mut out = [0u8; N];
    prk.expand(&[info], Len(N))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| PkiError::invalid("certs.os", "key derivation failed"))?;
    Ok(out)
}

/// The bundle's os CA, checked to be usable as an issuer.
struct OsCa {
    der: Vec<u8>,
    info: CertInfo,
    key: PrivateKey,
    pair: KeyPair,
}

const OS_CRT: &str = "certs.os.crt";
const OS_KEY: &str = "certs.os.key";

fn load_os_ca(bundle: &SecretsBundle) -> Result<OsCa, PkiError> {
    let ca_der = certificate_der_from_b64(OS_CRT, &bundle.certs.os.crt)?;
    let ca = CertInfo::parse(&ca_der).map_err(|e| PkiError::invalid(OS_CRT, e.to_string()))?;
    if ca.algorithm != Some(KeyAlgorithm::Ed25519) {
        return Err(PkiError::invalid(
            OS_CRT,
            "the os CA must use an Ed25519 key",
        ));
    }
    if !ca.is_ca {
        return Err(PkiError::invalid(OS_CRT, "not a CA certificate"));
    }
    // rcgen re-encodes the issuer name from the CA's subject; it can only do that faithfully
    // (and without panicking) when every RDN holds exactly one attribute.
    if !ca.subject_single_valued {
        return Err(PkiError::invalid(
            OS_CRT,
            "the os CA subject has multi-valued names, which are not supported",
        ));
    }
    let ca_key = private_key_from_b64(OS_KEY, bundle.certs.os.key.expose())?;
    if !ca.matches_key(&ca_key).map_err(|source| PkiError::Key {
        field: OS_KEY,
        source,
    })? {
        return Err(PkiError::invalid(
            OS_KEY,
            "does not match the public key of certs.os.crt",
        ));
    }
    let pair = ca_key.key_pair().map_err(|source| PkiError::Key {
        field: OS_KEY,
        source,
    })?;
    Ok(OsCa {
        der: ca_der,
        info: ca,
        key: ca_key,
        pair,
    })
}

/// Chain building compares names as bytes; refuse a certificate whose issuer rcgen re-encoded
/// differently from the CA's subject.
fn check_issuer(cert_der: &[u8], ca: &CertInfo, what: &'static str) -> Result<(), PkiError> {
    let leaf = CertInfo::parse(cert_der).map_err(|e| PkiError::invalid(what, e.to_string()))?;
    if leaf.issuer_raw != ca.subject_raw {
        return Err(PkiError::invalid(
            OS_CRT,
            "the os CA subject cannot be reproduced as an issuer name",
        ));
    }
    Ok(())
}

/// The talosconfig admin client certificate, signed by the bundle's os CA: Organization
/// `os:admin`, CN `admin`, keyUsage digitalSignature, extKeyUsage clientAuth, an Ed25519 key.
///
/// Deterministic by construction, because `render` output is golden-tested byte for byte and
/// must never depend on when it ran:
/// - the key seed and the serial come from HKDF-SHA256 over the os CA private key and the CA
///   certificate, under a fixed salt and distinct labels, so they are secret, unique per CA and
///   stable;
/// - the validity window is the os CA's own (so the certificate lives exactly as long as the CA
///   that can verify it, and no clock is read);
/// - Ed25519 signatures are deterministic (RFC 8032).
pub fn admin_client_cert(bundle: &SecretsBundle) -> Result<ClientCert, PkiError> {
    let OsCa {
        der: ca_der,
        info: ca,
        key: ca_key,
        pair: ca_pair,
    } = load_os_ca(bundle)?;

    // IKM = CA private key (PKCS#8 v1, i.e. the seed) || SHA-256(CA certificate). Binding the
    // certificate means a re-issued CA (same key, new window) also gets a new serial.
    let ca_cert_hash = digest::digest(&digest::SHA256, &ca_der);
    let ikm = [ca_key.pkcs8_der(), ca_cert_hash.as_ref()].concat();
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, ADMIN_DERIVATION_SALT).extract(&ikm);
    let seed: [u8; 32] = expand(&prk, b"ed25519 private key seed")?;
    let mut serial: [u8; 16] = expand(&prk, b"certificate serial number")?;
    serial[0] = (serial[0] & 0x7f) | 0x40;

    let leaf_key = PrivateKey::ed25519_from_seed(&seed);
    let leaf_pair = leaf_key.key_pair().map_err(|source| PkiError::Key {
        field: "admin key",
        source,
    })?;

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    // Go's pkix.Name order: Organization before CommonName.
    dn.push(DnType::OrganizationName, printable(ADMIN_ORGANIZATION)?);
    dn.push(DnType::CommonName, printable(ADMIN_COMMON_NAME)?);
    params.distinguished_name = dn;
    params.not_before = ca.not_before;
    params.not_after = ca.not_after;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    // Go fills authorityKeyIdentifier from the parent's subjectKeyIdentifier; so do we.
    params.use_authority_key_identifier_extension = true;

    let issuer = Issuer::from_ca_cert_der(&ca_der.as_slice().into(), &ca_pair)?;
    let cert = params.signed_by(&leaf_pair, &issuer)?;

    check_issuer(cert.der(), &ca, "admin certificate")?;

    Ok(ClientCert {
        crt: pemfmt::encode_b64(LABEL_CERTIFICATE, cert.der()),
        key: SecretString::new(
            leaf_key
                .to_talos_pem_b64()
                .map_err(|source| PkiError::Key {
                    field: "admin key",
                    source,
                })?,
        ),
    })
}

/// A Talos API (apid) server certificate for `sans`, signed by the bundle's os CA: keyUsage
/// digitalSignature, extKeyUsage serverAuth, a fresh Ed25519 key, valid from `now` for
/// `validity`. Each entry of `sans` becomes an IP address SAN when it parses as one and a DNS
/// name otherwise.
///
/// Real nodes issue their own; this one lets the in-process test server (and any local stand-in
/// for a node) present exactly what a configured node presents, so the client's verification
/// is exercised for real. It is *generation*: random key and serial, never used by `render`.
pub fn issue_api_server_cert(
    bundle: &SecretsBundle,
    sans: &[&str],
    now: OffsetDateTime,
    validity: Duration,
) -> Result<IssuedCert, PkiError> {
    const FIELD: &str = "server certificate";
    if sans.is_empty() {
        return Err(PkiError::invalid(
            FIELD,
            "needs at least one address or name",
        ));
    }
    let OsCa {
        der: ca_der,
        info: ca,
        pair: ca_pair,
        ..
    } = load_os_ca(bundle)?;

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, sans[0]);
    params.distinguished_name = dn;
    params.subject_alt_names = sans
        .iter()
        .map(|san| match san.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ia5String::try_from(*san)
                .map(SanType::DnsName)
                .map_err(|_| PkiError::invalid(FIELD, format!("{san:?} is not a host name"))),
        })
        .collect::<Result<_, _>>()?;
    let not_before = whole_seconds(now)?;
    params.not_before = not_before;
    params.not_after = not_before.checked_add(validity).ok_or(PkiError::Clock)?;
    let mut serial = random_bytes::<16>(&SystemRandom::new())?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;

    let key = generate_ed25519_key()?;
    let pair = key.key_pair().map_err(|source| PkiError::Key {
        field: "server key",
        source,
    })?;
    let issuer = Issuer::from_ca_cert_der(&ca_der.as_slice().into(), &ca_pair)?;
    let cert = params.signed_by(&pair, &issuer)?;
    check_issuer(cert.der(), &ca, FIELD)?;
    Ok(IssuedCert {
        crt: pemfmt::encode_b64(LABEL_CERTIFICATE, cert.der()),
        key: SecretString::new(key.to_talos_pem_b64().map_err(|source| PkiError::Key {
            field: "server key",
            source,
        })?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talos::bundle::CertAndKey;
    use crate::talos::pem::LABEL_ED25519_PRIVATE_KEY;
    use crate::talos::testdata;

    fn cert_of(crt_b64: &str) -> CertInfo {
        CertInfo::parse(&certificate_der_from_b64("crt", crt_b64).unwrap()).unwrap()
    }

    fn key_of(key_b64: &str) -> PrivateKey {
        private_key_from_b64("key", key_b64).unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_750_000_000).unwrap()
    }

    #[test]
    fn generated_cas_look_like_talos_cas() {
        let cases = [
            (
                CaKind::Os,
                KeyAlgorithm::Ed25519,
                LABEL_ED25519_PRIVATE_KEY,
                Some("talos"),
                None,
            ),
            (
                CaKind::Etcd,
                KeyAlgorithm::EcdsaP256,
                "EC PRIVATE KEY",
                Some("etcd"),
                None,
            ),
            (
                CaKind::Kubernetes,
                KeyAlgorithm::EcdsaP256,
                "EC PRIVATE KEY",
                Some("kubernetes"),
                None,
            ),
            (
                CaKind::Aggregator,
                KeyAlgorithm::EcdsaP256,
                "EC PRIVATE KEY",
                None,
                Some("front-proxy"),
            ),
        ];
        for (kind, alg, key_label, org, cn) in cases {
            let ca = generate_ca(kind, now()).unwrap();
            let cert = cert_of(&ca.crt);
            assert_eq!(cert.algorithm, Some(alg), "{kind:?}");
            assert_eq!(
                cert.organizations,
                org.into_iter().collect::<Vec<_>>(),
                "{kind:?}"
            );
            assert_eq!(
                cert.common_names,
                cn.into_iter().collect::<Vec<_>>(),
                "{kind:?}"
            );
            assert!(
                cert.is_ca && cert.key_cert_sign && cert.digital_signature,
                "{kind:?}"
            );
            assert!(cert.server_auth && cert.client_auth, "{kind:?}");
            assert_eq!(cert.not_before, now());
            assert_eq!(cert.not_after - cert.not_before, Duration::hours(87_600));
            assert!(cert.is_signed_by(&cert), "{kind:?} must be self-signed");
            assert_eq!(cert.subject_raw, cert.issuer_raw);
            // A positive 16-byte serial, like Talos's 128-bit random serials.
            assert_eq!(cert.serial.len(), 16);
            assert!(cert.serial[0] < 0x80 && cert.serial[0] >= 0x40);
            assert_eq!(decode_pem_b64(&ca.key).unwrap().label, key_label);
            let key = key_of(&ca.key);
            assert_eq!(key.algorithm(), alg);
            assert!(cert.matches_key(&key).unwrap(), "{kind:?}");
        }
    }

    #[test]
    fn two_generated_cas_differ() {
        let a = generate_ca(CaKind::Etcd, now()).unwrap();
        let b = generate_ca(CaKind::Etcd, now()).unwrap();
        assert_ne!(a.key, b.key);
        assert_ne!(cert_of(&a.crt).serial, cert_of(&b.crt).serial);
        assert!(!cert_of(&a.crt).matches_key(&key_of(&b.key)).unwrap());
    }

    #[test]
    fn tokens_have_talos_form_and_use_the_whole_alphabet() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let t = random_token().unwrap();
            assert!(crate::talos::bundle::is_token(&t), "{t}");
            seen.extend(t.chars().filter(|c| *c != '.'));
        }
        // 6,600 draws over 36 symbols: missing one by chance is ~1e-78.
        assert_eq!(seen.len(), 36, "{seen:?}");
    }

    /// A bundle whose os CA is reproducible: fixed key, time and serial (Ed25519 signs
    /// deterministically). The other CAs are irrelevant to the admin certificate.
    fn bundle_with_os(os: CertAndKey) -> SecretsBundle {
        let mut b = SecretsBundle::generate_at(now()).unwrap();
        b.certs.os = os;
        b
    }

    fn fixed_os_ca(seed: u8) -> CertAndKey {
        let key = PrivateKey::ed25519_from_seed(&[seed; 32]);
        build_ca(CaKind::Os, &key, now(), [seed; 16])
            .unwrap()
            .into()
    }

    #[test]
    fn admin_cert_is_deterministic_and_signed_by_the_os_ca() {
        let bundle = bundle_with_os(generate_ca(CaKind::Os, now()).unwrap().into());
        let a = admin_client_cert(&bundle).unwrap();
        let b = admin_client_cert(&bundle).unwrap();
        assert_eq!(a, b);

        let ca = cert_of(&bundle.certs.os.crt);
        let leaf = cert_of(&a.crt);
        assert!(leaf.is_signed_by(&ca));
        assert!(!leaf.is_signed_by(&leaf));
        assert_eq!(leaf.issuer_raw, ca.subject_raw);
        assert_eq!(leaf.organizations, ["os:admin"]);
        assert_eq!(leaf.common_names, ["admin"]);
        assert!(leaf.client_auth && !leaf.server_auth);
        assert!(leaf.digital_signature && !leaf.key_cert_sign && !leaf.is_ca);
        assert_eq!(leaf.algorithm, Some(KeyAlgorithm::Ed25519));
        // Inside the CA window, and in fact exactly it: no clock is read.
        assert!(leaf.not_before >= ca.not_before && leaf.not_after <= ca.not_after);
        assert_eq!(
            (leaf.not_before, leaf.not_after),
            (ca.not_before, ca.not_after)
        );
        assert_eq!(leaf.serial.len(), 16);

        assert_eq!(
            decode_pem_b64(a.key.expose()).unwrap().label,
            LABEL_ED25519_PRIVATE_KEY
        );
        let key = key_of(a.key.expose());
        assert!(leaf.matches_key(&key).unwrap());
        // The derived key is not the CA key.
        assert_ne!(
            key.pkcs8_der(),
            key_of(bundle.certs.os.key.expose()).pkcs8_der()
        );
    }

    #[test]
    fn admin_cert_depends_on_the_os_ca() {
        let a = admin_client_cert(&bundle_with_os(fixed_os_ca(1))).unwrap();
        let b = admin_client_cert(&bundle_with_os(fixed_os_ca(2))).unwrap();
        assert_ne!(a.crt, b.crt);
        assert_ne!(a.key, b.key);
        assert_ne!(cert_of(&a.crt).serial, cert_of(&b.crt).serial);
        // Only the os CA matters: regenerating the other secrets changes nothing.
        let c = admin_client_cert(&bundle_with_os(fixed_os_ca(1))).unwrap();
        assert_eq!(a, c);
    }

    /// Pins the derivation: a change here changes every rendered talosconfig, so it must be a
    /// deliberate one (bump the salt's version and this digest together).
    #[test]
    fn admin_cert_derivation_is_pinned() {
        let cert = admin_client_cert(&bundle_with_os(fixed_os_ca(9))).unwrap();
        let d = digest::digest(
            &digest::SHA256,
            format!("{}\n{}", cert.crt, cert.key.expose()).as_bytes(),
        );
        let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "fd06ca571ed65dcbd099be39f1d9330ce43fd62a1ef96c664a021f635d914a3e"
        );
    }

    #[test]
    fn admin_cert_from_a_talosctl_os_ca_chains_to_it() {
        let Some(bundle) = testdata::controlplane_bundle() else {
            return;
        };
        let cert = admin_client_cert(&bundle).unwrap();
        let ca = cert_of(&bundle.certs.os.crt);
        let leaf = cert_of(&cert.crt);
        assert!(leaf.is_signed_by(&ca));
        // Go encodes `O=talos` as PrintableString; the issuer must match it byte for byte.
        assert_eq!(leaf.issuer_raw, ca.subject_raw);
        assert_eq!(
            (leaf.not_before, leaf.not_after),
            (ca.not_before, ca.not_after)
        );
        assert_eq!(admin_client_cert(&bundle).unwrap(), cert);
    }

    #[test]
    fn admin_cert_refuses_a_broken_os_ca() {
        let good = bundle_with_os(fixed_os_ca(3));
        let mut wrong_key = good.clone();
        wrong_key.certs.os.key = fixed_os_ca(4).key;
        let err = admin_client_cert(&wrong_key).unwrap_err().to_string();
        assert!(err.starts_with("certs.os.key: does not match"), "{err}");

        let mut ecdsa = good.clone();
        ecdsa.certs.os = ecdsa.certs.k8s.clone();
        let err = admin_client_cert(&ecdsa).unwrap_err().to_string();
        assert!(err.contains("Ed25519"), "{err}");

        let mut garbage = good.clone();
        garbage.certs.os.crt = "not base64!".into();
        let err = admin_client_cert(&garbage).unwrap_err().to_string();
        assert!(err.starts_with("certs.os.crt: not valid base64"), "{err}");

        // A leaf (the admin cert itself) cannot act as the os CA.
        let admin = admin_client_cert(&good).unwrap();
        let mut leaf = good;
        leaf.certs.os = CertAndKey {
            crt: admin.crt,
            key: admin.key,
        };
        let err = admin_client_cert(&leaf).unwrap_err().to_string();
        assert!(err.contains("not a CA"), "{err}");
    }

    fn sans_of(crt_b64: &str) -> Vec<String> {
        let der = certificate_der_from_b64("crt", crt_b64).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        san.value
            .general_names
            .iter()
            .map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => format!("dns:{d}"),
                x509_parser::extensions::GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn server_cert_is_an_apid_certificate_signed_by_the_os_ca() {
        let bundle = bundle_with_os(fixed_os_ca(6));
        let validity = Duration::hours(1);
        let issued = issue_api_server_cert(
            &bundle,
            &["127.0.0.1", "::1", "cp01.example"],
            now(),
            validity,
        )
        .unwrap();
        let ca = cert_of(&bundle.certs.os.crt);
        let leaf = cert_of(&issued.crt);
        assert!(leaf.is_signed_by(&ca));
        assert_eq!(leaf.issuer_raw, ca.subject_raw);
        assert!(leaf.server_auth && !leaf.client_auth);
        assert!(leaf.digital_signature && !leaf.key_cert_sign && !leaf.is_ca);
        assert_eq!((leaf.not_before, leaf.not_after), (now(), now() + validity));
        assert_eq!(
            sans_of(&issued.crt),
            [
                "ip:[127, 0, 0, 1]",
                "ip:[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]",
                "dns:cp01.example"
            ]
        );
        assert!(leaf.matches_key(&key_of(issued.key.expose())).unwrap());
        assert!(!format!("{issued:?}").contains(issued.key.expose()));

        // Generation, not derivation: every call gets its own key and serial.
        let again = issue_api_server_cert(&bundle, &["127.0.0.1"], now(), validity).unwrap();
        assert_ne!(again.key, issued.key);
        assert_ne!(cert_of(&again.crt).serial, leaf.serial);
    }

    #[test]
    fn server_cert_refuses_bad_input() {
        let good = bundle_with_os(fixed_os_ca(7));
        let hour = Duration::hours(1);
        let err = issue_api_server_cert(&good, &[], now(), hour).unwrap_err();
        assert!(err.to_string().contains("at least one"), "{err}");
        let err = issue_api_server_cert(&good, &["bad name ü"], now(), hour).unwrap_err();
        assert!(err.to_string().contains("not a host name"), "{err}");
        let mut wrong_key = good.clone();
        wrong_key.certs.os.key = fixed_os_ca(8).key;
        let err = issue_api_server_cert(&wrong_key, &["127.0.0.1"], now(), hour).unwrap_err();
        assert!(
            err.to_string().starts_with("certs.os.key: does not match"),
            "{err}"
        );
    }

    #[test]
    fn tls_identity_is_standard_pem() {
        let cert = admin_client_cert(&bundle_with_os(fixed_os_ca(5))).unwrap();
        let id = tls_identity_pem(&cert.crt, cert.key.expose()).unwrap();
        assert!(id.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(id.key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        // rcgen (ring) reads PKCS#8 PEM as rustls would.
        let pair = KeyPair::from_pem(&id.key_pem).unwrap();
        assert_eq!(
            pair.public_key_raw(),
            cert_of(&cert.crt).public_key.as_slice()
        );
        assert!(!format!("{id:?}").contains("PRIVATE"));
        assert!(!format!("{cert:?}").contains(cert.key.expose()));
    }
}
