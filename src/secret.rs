//! Values that must never be printed: passwords, tokens, keys, kubeconfigs.

use std::fmt;

/// What logs, errors, diffs and dry runs show in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// Holds a secret value. `Debug` and `Display` print [`REDACTED`]; the only way to the value is
/// [`SecretString::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself. Call only where the value is written to a secret file or sent to a
    /// system that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serialized as the plain string: writing a secret into its (0600) file or onto the wire is the
/// point of holding it. Typed documents that carry keys (machine configs, talosconfigs) use this
/// type for them, so their derived `Debug` never shows one.
impl serde::Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Secret bytes (a kubeconfig fetched from a node, a machine config with keys in it). `Debug`
/// shows only the length; [`SecretBytes::expose`] is the only way to the bytes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        SecretBytes(value.into())
    }

    /// The secret itself. Call only where the bytes are written to a secret file or sent to a
    /// system that needs them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{REDACTED} ({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let s = SecretString::new("hunter2");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_bytes_debug_shows_only_the_length() {
        let s = SecretBytes::new(b"apiVersion: v1\nusers: [token: abc]".to_vec());
        assert_eq!(format!("{s:?}"), "<redacted> (34 bytes)");
        assert_eq!(s.expose(), b"apiVersion: v1\nusers: [token: abc]");
        assert_eq!(s.len(), 34);
    }
}
