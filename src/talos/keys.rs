//! Private key containers: what Talos writes versus what ring and rcgen read.
//!
//! Talos (Go's `crypto/x509`) writes
//! - Ed25519 keys as PEM `ED25519 PRIVATE KEY` holding PKCS#8 v1 (RFC 8410, seed only);
//! - ECDSA keys as PEM `EC PRIVATE KEY` holding SEC1 (RFC 5915) *with* the named-curve
//!   `parameters [0]`: Go's `x509.ParseECPrivateKey` cannot tell the curve without them.
//!
//! ring and rcgen produce and consume PKCS#8 only (v2 for Ed25519, with the public key). So every
//! key passes through [`PrivateKey`], which normalises to PKCS#8 on the way in and to Talos's
//! exact form on the way out.

use std::fmt;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519, SignatureAlgorithm};
use thiserror::Error;

use super::der::{self, DerError, Reader};
use super::pem::{self, Pem};

/// OID 1.3.101.112 (id-Ed25519), DER-encoded with tag and length.
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// OID 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// OID 1.2.840.10045.3.1.7 (prime256v1 / P-256).
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

const P256_SCALAR_LEN: usize = 32;
/// Uncompressed SEC1 point: 0x04 || X || Y.
const P256_POINT_LEN: usize = 65;
pub const ED25519_SEED_LEN: usize = 32;

/// The key algorithms a Talos secrets bundle uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Ed25519,
    EcdsaP256,
}

impl KeyAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "Ed25519",
            KeyAlgorithm::EcdsaP256 => "ECDSA P-256",
        }
    }

    /// The PEM label Talos uses for a private key of this algorithm.
    pub fn talos_pem_label(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => pem::LABEL_ED25519_PRIVATE_KEY,
            KeyAlgorithm::EcdsaP256 => pem::LABEL_EC_PRIVATE_KEY,
        }
    }

    pub(crate) fn rcgen(self) -> &'static SignatureAlgorithm {
        match self {
            KeyAlgorithm::Ed25519 => &PKCS_ED25519,
            KeyAlgorithm::EcdsaP256 => &PKCS_ECDSA_P256_SHA256,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a private key was not accepted. Never carries key bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("malformed private key: {0}")]
    Der(#[from] DerError),
    #[error("unsupported private key version {0}")]
    Version(u8),
    #[error("private key is neither Ed25519 nor ECDSA")]
    UnknownAlgorithm,
    #[error("EC private key is not on curve P-256")]
    UnsupportedCurve,
    #[error("EC private key does not name its curve (Talos needs the P-256 parameters)")]
    MissingCurve,
    #[error("EC private key does not include its public key")]
    MissingPublicKey,
    #[error("private key has the wrong length")]
    BadLength,
    #[error("PEM type `{0}` is not a private key type")]
    NotAKey(&'static str),
    #[error("private key is invalid or inconsistent with its public key")]
    Rejected,
}

/// A private key in PKCS#8 form with its algorithm. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    algorithm: KeyAlgorithm,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("pkcs8", &"<redacted>")
            .finish()
    }
}

impl PrivateKey {
    /// An Ed25519 key from its 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8; ED25519_SEED_LEN]) -> Self {
        PrivateKey {
            algorithm: KeyAlgorithm::Ed25519,
            pkcs8: ed25519_pkcs8_v1(seed),
        }
    }

    /// A key from PKCS#8 DER (any version); the algorithm is read from the structure.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let algorithm = pkcs8_algorithm(der)?;
        let pkcs8 = match algorithm {
            // Normalise v2 (ring's output, with public key) to the v1 Talos writes.
            KeyAlgorithm::Ed25519 => ed25519_pkcs8_v1(&ed25519_seed_from_pkcs8(der)?),
            // Normalise through SEC1 so the public key is present and the layout is ring's.
            KeyAlgorithm::EcdsaP256 => ec_sec1_to_pkcs8(&ec_pkcs8_to_sec1(der)?)?,
        };
        Ok(PrivateKey { algorithm, pkcs8 })
    }

    /// A key from a decoded PEM block: `ED25519 PRIVATE KEY` or `PRIVATE KEY` (PKCS#8),
    /// `EC PRIVATE KEY` (SEC1).
    pub fn from_pem(block: &Pem) -> Result<Self, KeyError> {
        match block.label.as_str() {
            pem::LABEL_ED25519_PRIVATE_KEY | pem::LABEL_PRIVATE_KEY => Self::from_pkcs8(&block.der),
            pem::LABEL_EC_PRIVATE_KEY => Ok(PrivateKey {
                algorithm: KeyAlgorithm::EcdsaP256,
                pkcs8: ec_sec1_to_pkcs8(&block.der)?,
            }),
            pem::LABEL_CERTIFICATE => Err(KeyError::NotAKey(pem::LABEL_CERTIFICATE)),
            _ => Err(KeyError::NotAKey("unrecognised")),
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// PKCS#8 DER, the form rustls and ring accept.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The DER Talos puts inside its PEM block (PKCS#8 v1 or SEC1 with curve parameters).
    pub fn talos_der(&self) -> Result<Vec<u8>, KeyError> {
        match self.algorithm {
            KeyAlgorithm::Ed25519 => Ok(self.pkcs8.clone()),
            KeyAlgorithm::EcdsaP256 => ec_pkcs8_to_sec1(&self.pkcs8),
        }
    }

    /// The PEM text Talos writes for this key.
    pub fn to_talos_pem(&self) -> Result<String, KeyError> {
        Ok(pem::encode(
            self.algorithm.talos_pem_label(),
            &self.talos_der()?,
        ))
    }

    /// Talos's YAML form: base64 of [`Self::to_talos_pem`].
    pub fn to_talos_pem_b64(&self) -> Result<String, KeyError> {
        Ok(pem::encode_b64(
            self.algorithm.talos_pem_label(),
            &self.talos_der()?,
        ))
    }

    /// The key loaded into ring (through rcgen), which checks it: the scalar is in range and the
    /// embedded public key belongs to it.
    pub fn key_pair(&self) -> Result<KeyPair, KeyError> {
        KeyPair::from_pkcs8_der_and_sign_algo(&self.pkcs8.as_slice().into(), self.algorithm.rcgen())
            .map_err(|_| KeyError::Rejected)
    }
}

/// PKCS#8 v1 (RFC 8410) for an Ed25519 seed: exactly what Go's `MarshalPKCS8PrivateKey` writes.
pub fn ed25519_pkcs8_v1(seed: &[u8; ED25519_SEED_LEN]) -> Vec<u8> {
    der::sequence(&[
        &der::tlv(der::TAG_INTEGER, &[0]),
        &der::sequence(&[OID_ED25519]),
        &der::tlv(
            der::TAG_OCTET_STRING,
            &der::tlv(der::TAG_OCTET_STRING, seed),
        ),
    ])
}

/// Opens a PKCS#8 structure (v1 or v2): the reader after its AlgorithmIdentifier, the
/// algorithm's OID (as a whole TLV) and the rest of the AlgorithmIdentifier (its parameters).
fn pkcs8_open(der_bytes: &[u8]) -> Result<(Reader<'_>, Vec<u8>, Reader<'_>), KeyError> {
    let mut r = der::single(der_bytes, der::TAG_SEQUENCE)?;
    let version = r.small_uint()?;
    if version > 1 {
        return Err(KeyError::Version(version));
    }
    let mut alg = Reader::new(r.expect(der::TAG_SEQUENCE)?);
    let (tag, oid) = alg.any()?;
    Ok((r, der::tlv(tag, oid), alg))
}

/// Reads the AlgorithmIdentifier of a PKCS#8 structure.
fn pkcs8_algorithm(der_bytes: &[u8]) -> Result<KeyAlgorithm, KeyError> {
    let (_, oid, _) = pkcs8_open(der_bytes)?;
    if oid == OID_ED25519 {
        Ok(KeyAlgorithm::Ed25519)
    } else if oid == OID_EC_PUBLIC_KEY {
        Ok(KeyAlgorithm::EcdsaP256)
    } else {
        Err(KeyError::UnknownAlgorithm)
    }
}

/// The 32-byte seed inside an Ed25519 PKCS#8 key, v1 or v2.
pub fn ed25519_seed_from_pkcs8(der_bytes: &[u8]) -> Result<[u8; ED25519_SEED_LEN], KeyError> {
    let (mut r, oid, alg) = pkcs8_open(der_bytes)?;
    // RFC 8410: the parameters are absent for Ed25519.
    if oid != OID_ED25519 || !alg.is_empty() {
        return Err(KeyError::UnknownAlgorithm);
    }
    let wrapped = r.expect(der::TAG_OCTET_STRING)?;
    let seed = der::single_content(wrapped, der::TAG_OCTET_STRING)?;
    // v1 may carry attributes [0]; v2 adds the public key [1] (ring writes it constructed).
    r.optional(der::TAG_CONTEXT_0)?;
    if r.optional(der::TAG_CONTEXT_1)?.is_none() {
        r.optional(der::TAG_CONTEXT_1_PRIMITIVE)?;
    }
    r.finish()?;
    seed.try_into().map_err(|_| KeyError::BadLength)
}

/// The parts of an EC private key both containers share.
struct EcParts<'a> {
    scalar: &'a [u8],
    /// BIT STRING content: unused-bits byte (0) followed by the uncompressed point.
    public_bits: &'a [u8],
}

/// Reads an RFC 5915 ECPrivateKey. `outer_curve_known` says an enclosing PKCS#8
/// AlgorithmIdentifier already named P-256; SEC1's own `parameters` must then agree with it, and
/// may only be left out in that case.
fn read_ec_private_key<'a>(
    der_bytes: &'a [u8],
    outer_curve_known: bool,
) -> Result<EcParts<'a>, KeyError> {
    let mut r = der::single(der_bytes, der::TAG_SEQUENCE)?;
    let version = r.small_uint()?;
    if version != 1 {
        return Err(KeyError::Version(version));
    }
    let scalar = r.expect(der::TAG_OCTET_STRING)?;
    if scalar.len() != P256_SCALAR_LEN {
        return Err(KeyError::BadLength);
    }
    match r.optional(der::TAG_CONTEXT_0)? {
        Some(params) if params == OID_P256 => {}
        Some(_) => return Err(KeyError::UnsupportedCurve),
        None if outer_curve_known => {}
        None => return Err(KeyError::MissingCurve),
    }
    let public = r
        .optional(der::TAG_CONTEXT_1)?
        .ok_or(KeyError::MissingPublicKey)?;
    let public_bits = der::single_content(public, der::TAG_BIT_STRING)?;
    // No unused bits, then an uncompressed point (the only form Go and ring write).
    if public_bits.len() != 1 + P256_POINT_LEN || public_bits[0] != 0 || public_bits[1] != 0x04 {
        return Err(KeyError::BadLength);
    }
    r.finish()?;
    Ok(EcParts {
        scalar,
        public_bits,
    })
}

/// SEC1 `EC PRIVATE KEY` (with or without `parameters`) → PKCS#8 as ring writes it.
pub fn ec_sec1_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>, KeyError> {
    let parts = read_ec_private_key(sec1, false)?;
    Ok(der::sequence(&[
        &der::tlv(der::TAG_INTEGER, &[0]),
        &der::sequence(&[OID_EC_PUBLIC_KEY, OID_P256]),
        &der::tlv(
            der::TAG_OCTET_STRING,
            // Inside PKCS#8 the curve lives in the AlgorithmIdentifier, so `parameters` is
            // omitted, exactly as in ring's template.
            &der::sequence(&[
                &der::tlv(der::TAG_INTEGER, &[1]),
                &der::tlv(der::TAG_OCTET_STRING, parts.scalar),
                &der::tlv(
                    der::TAG_CONTEXT_1,
                    &der::tlv(der::TAG_BIT_STRING, parts.public_bits),
                ),
            ]),
        ),
    ]))
}

/// PKCS#8 EC key → SEC1 `EC PRIVATE KEY` with the named curve, as Go's `MarshalECPrivateKey`.
pub fn ec_pkcs8_to_sec1(pkcs8: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut r = der::single(pkcs8, der::TAG_SEQUENCE)?;
    let version = r.small_uint()?;
    if version > 1 {
        return Err(KeyError::Version(version));
    }
    let mut alg = Reader::new(r.expect(der::TAG_SEQUENCE)?);
    let (tag, oid) = alg.any()?;
    if der::tlv(tag, oid) != OID_EC_PUBLIC_KEY {
        return Err(KeyError::UnknownAlgorithm);
    }
    let (tag, curve) = alg.any().map_err(|_| KeyError::MissingCurve)?;
    if der::tlv(tag, curve) != OID_P256 {
        return Err(KeyError::UnsupportedCurve);
    }
    alg.finish()?;
    let inner = r.expect(der::TAG_OCTET_STRING)?;
    r.optional(der::TAG_CONTEXT_0)?;
    r.finish()?;
    let parts = read_ec_private_key(inner, true)?;
    Ok(der::sequence(&[
        &der::tlv(der::TAG_INTEGER, &[1]),
        &der::tlv(der::TAG_OCTET_STRING, parts.scalar),
        &der::tlv(der::TAG_CONTEXT_0, OID_P256),
        &der::tlv(
            der::TAG_CONTEXT_1,
            &der::tlv(der::TAG_BIT_STRING, parts.public_bits),
        ),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talos::pem::LABEL_CERTIFICATE;
    use crate::talos::pki::CertInfo;
    use crate::talos::testdata;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair};

    fn ring_p256_pkcs8() -> Vec<u8> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn ec_pkcs8_to_sec1_and_back_is_lossless() {
        let pkcs8 = ring_p256_pkcs8();
        let sec1 = ec_pkcs8_to_sec1(&pkcs8).unwrap();
        // Go's MarshalECPrivateKey layout: 121 bytes, version 1, named curve in [0].
        assert_eq!(sec1.len(), 121);
        assert_eq!(&sec1[..7], &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
        assert_eq!(&sec1[39..41], &[0xa0, 0x0a]);
        assert_eq!(&sec1[41..51], OID_P256);
        assert_eq!(ec_sec1_to_pkcs8(&sec1).unwrap(), pkcs8);
    }

    #[test]
    fn sec1_without_curve_or_public_key_is_rejected() {
        let sec1 = ec_pkcs8_to_sec1(&ring_p256_pkcs8()).unwrap();
        let mut r = der::single(&sec1, der::TAG_SEQUENCE).unwrap();
        let version = r.expect(der::TAG_INTEGER).unwrap();
        let scalar = r.expect(der::TAG_OCTET_STRING).unwrap();
        let curve = r.expect(der::TAG_CONTEXT_0).unwrap();
        let public = r.expect(der::TAG_CONTEXT_1).unwrap();
        let int = der::tlv(der::TAG_INTEGER, version);
        let oct = der::tlv(der::TAG_OCTET_STRING, scalar);
        let cur = der::tlv(der::TAG_CONTEXT_0, curve);
        let publ = der::tlv(der::TAG_CONTEXT_1, public);
        assert_eq!(
            ec_sec1_to_pkcs8(&der::sequence(&[&int, &oct, &publ])),
            Err(KeyError::MissingCurve)
        );
        assert_eq!(
            ec_sec1_to_pkcs8(&der::sequence(&[&int, &oct, &cur])),
            Err(KeyError::MissingPublicKey)
        );
        let p384 = der::tlv(
            der::TAG_CONTEXT_0,
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        );
        assert_eq!(
            ec_sec1_to_pkcs8(&der::sequence(&[&int, &oct, &p384, &publ])),
            Err(KeyError::UnsupportedCurve)
        );
    }

    #[test]
    fn ec_key_with_foreign_public_key_is_rejected_by_ring() {
        let a = ec_pkcs8_to_sec1(&ring_p256_pkcs8()).unwrap();
        let b = ec_pkcs8_to_sec1(&ring_p256_pkcs8()).unwrap();
        // Same layout, so splice b's public key (the [1] element) after a's scalar and curve.
        let spliced = [&a[..51], &b[51..]].concat();
        let key = PrivateKey::from_pem(&Pem {
            label: pem::LABEL_EC_PRIVATE_KEY.into(),
            der: spliced,
        })
        .unwrap();
        assert_eq!(key.key_pair().unwrap_err(), KeyError::Rejected);
    }

    #[test]
    fn ed25519_v1_is_go_layout_and_v2_normalises_to_it() {
        let seed = [7u8; 32];
        let v1 = ed25519_pkcs8_v1(&seed);
        assert_eq!(v1.len(), 48);
        assert_eq!(ed25519_seed_from_pkcs8(&v1).unwrap(), seed);
        let v2 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let key = PrivateKey::from_pkcs8(v2.as_ref()).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
        assert_eq!(key.pkcs8_der().len(), 48);
        let from_v2 = Ed25519KeyPair::from_pkcs8(v2.as_ref()).unwrap();
        assert_eq!(
            key.key_pair().unwrap().public_key_raw(),
            ring::signature::KeyPair::public_key(&from_v2).as_ref()
        );
    }

    #[test]
    fn truncated_and_wrong_algorithm_keys_are_errors() {
        let v1 = ed25519_pkcs8_v1(&[1u8; 32]);
        assert!(matches!(
            ed25519_seed_from_pkcs8(&v1[..20]),
            Err(KeyError::Der(_))
        ));
        assert_eq!(
            ed25519_seed_from_pkcs8(&ring_p256_pkcs8()),
            Err(KeyError::UnknownAlgorithm)
        );
        assert_eq!(ec_pkcs8_to_sec1(&v1), Err(KeyError::UnknownAlgorithm));
        assert!(PrivateKey::from_pkcs8(&[0x30, 0x00]).is_err());
        assert_eq!(
            PrivateKey::from_pem(&Pem {
                label: LABEL_CERTIFICATE.into(),
                der: v1
            }),
            Err(KeyError::NotAKey(LABEL_CERTIFICATE))
        );
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = PrivateKey::ed25519_from_seed(&[0xab; 32]);
        let s = format!("{key:?}");
        assert!(s.contains("<redacted>") && !s.contains("171"), "{s}");
    }

    /// Real `talosctl` keys: decode, convert to PKCS#8, load with ring, check against the
    /// certificate, and convert back to the identical bytes Go wrote.
    #[test]
    fn talosctl_keys_convert_both_ways_and_match_their_certificates() {
        let Some(doc) = testdata::machine_config("base-controlplane.yaml") else {
            return;
        };
        let cases: [(&[&str], KeyAlgorithm); 4] = [
            (&["machine", "ca"], KeyAlgorithm::Ed25519),
            (&["cluster", "ca"], KeyAlgorithm::EcdsaP256),
            (&["cluster", "aggregatorCA"], KeyAlgorithm::EcdsaP256),
            (&["cluster", "etcd", "ca"], KeyAlgorithm::EcdsaP256),
        ];
        for (path, alg) in cases {
            let node = path.iter().fold(&doc, |n, k| n.get(k).unwrap());
            let value = |k: &str| node.get(k).unwrap().as_scalar().unwrap().text.clone();
            let key_pem = pem::decode_b64(&value("key")).unwrap();
            assert_eq!(key_pem.label, alg.talos_pem_label(), "{path:?}");
            let key = PrivateKey::from_pem(&key_pem).unwrap();
            assert_eq!(key.algorithm(), alg);
            // Back to Talos's container: byte-identical to what Go wrote.
            assert_eq!(key.talos_der().unwrap(), key_pem.der, "{path:?}");
            assert_eq!(key.to_talos_pem_b64().unwrap(), value("key"), "{path:?}");
            let cert_der = pem::decode_b64(&value("crt"))
                .unwrap()
                .into_der_labelled(LABEL_CERTIFICATE)
                .unwrap();
            let cert = CertInfo::parse(&cert_der).unwrap();
            assert!(cert.matches_key(&key).unwrap(), "{path:?}");
        }
        // The service-account key has no certificate; it must still load.
        let sa = doc
            .get("cluster")
            .and_then(|c| c.get("serviceAccount"))
            .and_then(|s| s.get("key"))
            .unwrap();
        let block = pem::decode_b64(&sa.as_scalar().unwrap().text).unwrap();
        let key = PrivateKey::from_pem(&block).unwrap();
        key.key_pair().unwrap();
        assert_eq!(key.talos_der().unwrap(), block.der);
    }
}
