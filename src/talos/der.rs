//! Just enough DER to move private keys between the containers Talos writes (SEC1
//! `EC PRIVATE KEY`, PKCS#8 in `ED25519 PRIVATE KEY`) and the PKCS#8 that ring and rcgen read.
//!
//! Only definite lengths and single-byte tags occur in these structures, so that is all the
//! reader accepts; anything else is an error rather than a guess. Certificates are never parsed
//! here: x509-parser does that.

use thiserror::Error;

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_SEQUENCE: u8 = 0x30;
/// `[0]` constructed, context-specific (SEC1 `parameters`, PKCS#8 `attributes`).
pub const TAG_CONTEXT_0: u8 = 0xa0;
/// `[1]` constructed, context-specific (SEC1 `publicKey`).
pub const TAG_CONTEXT_1: u8 = 0xa1;
/// `[1]` primitive, context-specific (PKCS#8 v2 `publicKey`).
pub const TAG_CONTEXT_1_PRIMITIVE: u8 = 0x81;

/// Malformed DER. Messages name the structure, never its bytes (they are key material).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DerError {
    #[error("truncated DER data")]
    Truncated,
    #[error("unsupported DER length encoding")]
    BadLength,
    #[error("expected DER tag 0x{expected:02x}, found 0x{found:02x}")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("unexpected data after the DER structure")]
    TrailingData,
}

/// A cursor over a sequence of DER elements.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads the next element: its tag and its content.
    pub fn any(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let (&tag, rest) = self.data.split_first().ok_or(DerError::Truncated)?;
        // High tag numbers (0x1f) never occur in key structures.
        if tag & 0x1f == 0x1f {
            return Err(DerError::BadLength);
        }
        let (&first, mut rest) = rest.split_first().ok_or(DerError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            // Long form; 0x80 alone would be BER's indefinite length, which DER forbids.
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(DerError::BadLength);
            }
            let (len_bytes, after) = rest.split_at(n);
            rest = after;
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            // DER uses the shortest form; anything else is a sign of a hand-made or broken blob.
            if len < 0x80 || len_bytes.first() == Some(&0) {
                return Err(DerError::BadLength);
            }
            len
        };
        if rest.len() < len {
            return Err(DerError::Truncated);
        }
        let (content, after) = rest.split_at(len);
        self.data = after;
        Ok((tag, content))
    }

    /// Reads the next element, which must carry `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        let found = self.peek_tag().ok_or(DerError::Truncated)?;
        if found != tag {
            return Err(DerError::UnexpectedTag {
                expected: tag,
                found,
            });
        }
        self.any().map(|(_, content)| content)
    }

    /// Reads the next element if it carries `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a small non-negative INTEGER (versions).
    pub fn small_uint(&mut self) -> Result<u8, DerError> {
        match self.expect(TAG_INTEGER)? {
            [v] if *v < 0x80 => Ok(*v),
            _ => Err(DerError::BadLength),
        }
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData)
        }
    }
}

/// Reads `data` as exactly one element with `tag` and returns its content.
pub fn single_content(data: &[u8], tag: u8) -> Result<&[u8], DerError> {
    let mut outer = Reader::new(data);
    let content = outer.expect(tag)?;
    outer.finish()?;
    Ok(content)
}

/// Reads `data` as exactly one constructed element with `tag` and returns a reader over the
/// elements inside it.
pub fn single(data: &[u8], tag: u8) -> Result<Reader<'_>, DerError> {
    single_content(data, tag).map(Reader::new)
}

/// Encodes one element.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a SEQUENCE of already-encoded elements.
pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let enc = tlv(TAG_OCTET_STRING, &content);
            let mut r = Reader::new(&enc);
            assert_eq!(r.expect(TAG_OCTET_STRING).unwrap(), &content[..], "{len}");
            r.finish().unwrap();
        }
    }

    #[test]
    fn rejects_non_der_lengths_and_truncation() {
        // Indefinite length (BER only).
        assert_eq!(
            Reader::new(&[0x30, 0x80, 0, 0]).any(),
            Err(DerError::BadLength)
        );
        // Long form for a short length.
        assert_eq!(
            Reader::new(&[0x04, 0x81, 0x01, 0xff]).any(),
            Err(DerError::BadLength)
        );
        // Content shorter than announced.
        assert_eq!(
            Reader::new(&[0x04, 0x05, 1, 2]).any(),
            Err(DerError::Truncated)
        );
        assert_eq!(Reader::new(&[]).any(), Err(DerError::Truncated));
    }

    #[test]
    fn expect_reports_the_tag_it_found() {
        let enc = tlv(TAG_INTEGER, &[1]);
        assert_eq!(
            Reader::new(&enc).expect(TAG_SEQUENCE),
            Err(DerError::UnexpectedTag {
                expected: TAG_SEQUENCE,
                found: TAG_INTEGER
            })
        );
        assert!(single(&[enc.clone(), vec![0]].concat(), TAG_INTEGER).is_err());
    }
}
