//! PEM as Go's `encoding/pem` writes it, and the base64-of-PEM wrapping Talos stores in YAML.
//!
//! Talos keeps every certificate and key as `base64(PEM)`; the PEM block's label says what the
//! DER inside is (`CERTIFICATE`, `EC PRIVATE KEY`, `ED25519 PRIVATE KEY`). We read exactly one
//! block without headers, which is all Talos ever writes, and write byte-for-byte what Go writes
//! (64-column body, trailing newline), so our files diff cleanly against `talosctl` output.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

pub const LABEL_CERTIFICATE: &str = "CERTIFICATE";
pub const LABEL_EC_PRIVATE_KEY: &str = "EC PRIVATE KEY";
pub const LABEL_ED25519_PRIVATE_KEY: &str = "ED25519 PRIVATE KEY";
pub const LABEL_PRIVATE_KEY: &str = "PRIVATE KEY";
/// PKCS#1 RSA key: what Talos 1.7+ generates for the Kubernetes service-account key.
pub const LABEL_RSA_PRIVATE_KEY: &str = "RSA PRIVATE KEY";

/// A problem with a PEM value. Messages never contain the value itself: it may be a key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PemError {
    #[error("not valid base64 (expected base64 of a PEM block)")]
    OuterBase64,
    #[error("the base64 does not decode to text (expected a PEM block)")]
    NotText,
    #[error("no PEM block found (expected `-----BEGIN ...-----`)")]
    NoBlock,
    #[error("PEM block of type {0} has no matching END line")]
    Unterminated(String),
    #[error("PEM block body is not valid base64")]
    BodyBase64,
    #[error("unexpected data after the PEM block (expected exactly one block)")]
    TrailingData,
    #[error("expected a PEM block of type `{expected}`, found {found}")]
    WrongLabel {
        expected: &'static str,
        found: String,
    },
}

/// One decoded PEM block. `Debug` hides the DER: it is often a private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Pem {
    pub label: String,
    pub der: Vec<u8>,
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pem")
            .field("label", &self.label)
            .field("der", &"<redacted>")
            .finish()
    }
}

impl Pem {
    /// The DER content if the label is `expected`.
    pub fn into_der_labelled(self, expected: &'static str) -> Result<Vec<u8>, PemError> {
        if self.label == expected {
            Ok(self.der)
        } else {
            Err(PemError::WrongLabel {
                expected,
                found: describe_label(&self.label),
            })
        }
    }
}

/// A label is only echoed back when it looks like a label; a mangled file could otherwise put
/// arbitrary (secret) text into an error message.
fn describe_label(label: &str) -> String {
    let plausible = !label.is_empty()
        && label.len() <= 40
        && label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
    if plausible {
        format!("`{label}`")
    } else {
        "an unrecognised type".to_string()
    }
}

/// Decodes a text holding exactly one PEM block (surrounding whitespace allowed).
pub fn decode(text: &str) -> Result<Pem, PemError> {
    let mut lines = text.trim().lines().map(str::trim);
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or(PemError::NoBlock)?;
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut terminated = false;
    for line in lines.by_ref() {
        if line == end {
            terminated = true;
            break;
        }
        body.push_str(line);
    }
    if !terminated {
        return Err(PemError::Unterminated(describe_label(label)));
    }
    // `trim()` above removed trailing whitespace, so anything left is another block or junk.
    if lines.next().is_some() {
        return Err(PemError::TrailingData);
    }
    let der = STANDARD.decode(body).map_err(|_| PemError::BodyBase64)?;
    Ok(Pem {
        label: label.to_string(),
        der,
    })
}

/// Encodes one PEM block exactly as Go's `pem.Encode` does.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    // Base64 output is ASCII, so byte chunks are char boundaries.
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes Talos's YAML form of a certificate or key: base64 (standard, padded) of one PEM block.
pub fn decode_b64(value: &str) -> Result<Pem, PemError> {
    let bytes = STANDARD.decode(value).map_err(|_| PemError::OuterBase64)?;
    let text = String::from_utf8(bytes).map_err(|_| PemError::NotText)?;
    decode(&text)
}

/// Encodes `der` the way Talos stores it in YAML: base64 of a PEM block.
pub fn encode_b64(label: &str, der: &[u8]) -> String {
    STANDARD.encode(encode(label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_go_with_64_column_lines() {
        let der: Vec<u8> = (0u8..=99).collect();
        let text = encode("TEST", &der);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN TEST-----");
        // 100 bytes are 136 base64 characters: 64 + 64 + 8.
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 8);
        assert_eq!(lines[4], "-----END TEST-----");
        assert!(text.ends_with("-----\n"));
        assert_eq!(decode(&text).unwrap().der, der);
    }

    #[test]
    fn empty_der_has_no_body_lines() {
        assert_eq!(encode("X", &[]), "-----BEGIN X-----\n-----END X-----\n");
        assert_eq!(decode(&encode("X", &[])).unwrap().der, Vec::<u8>::new());
    }

    #[test]
    fn base64_wrapping_round_trips() {
        let b64 = encode_b64(LABEL_CERTIFICATE, b"abc");
        let pem = decode_b64(&b64).unwrap();
        assert_eq!(pem.label, LABEL_CERTIFICATE);
        assert_eq!(pem.into_der_labelled(LABEL_CERTIFICATE).unwrap(), b"abc");
    }

    #[test]
    fn rejects_malformed_blocks() {
        assert_eq!(decode("hello"), Err(PemError::NoBlock));
        assert!(matches!(
            decode("-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated(_))
        ));
        assert_eq!(
            decode("-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::BodyBase64)
        );
        let two = format!("{}{}", encode("X", b"a"), encode("X", b"b"));
        assert_eq!(decode(&two), Err(PemError::TrailingData));
        assert_eq!(decode_b64("***"), Err(PemError::OuterBase64));
        assert_eq!(
            decode_b64(&STANDARD.encode([0xff, 0xfe])),
            Err(PemError::NotText)
        );
    }

    #[test]
    fn wrong_label_names_both_but_never_echoes_junk() {
        let err = decode(&encode("PRIVATE KEY", b"k"))
            .unwrap()
            .into_der_labelled(LABEL_EC_PRIVATE_KEY)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a PEM block of type `EC PRIVATE KEY`, found `PRIVATE KEY`"
        );
        let junk = decode(&encode("hunter2 secret", b"k"))
            .unwrap()
            .into_der_labelled(LABEL_CERTIFICATE)
            .unwrap_err();
        assert!(!junk.to_string().contains("hunter2"), "{junk}");
    }

    #[test]
    fn debug_hides_the_der() {
        let p = Pem {
            label: "EC PRIVATE KEY".into(),
            der: vec![0xde, 0xad],
        };
        let s = format!("{p:?}");
        assert!(s.contains("<redacted>") && !s.contains("222"), "{s}");
    }
}
