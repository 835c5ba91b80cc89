//! Reading an OpenSSH known_hosts file (`--ssh-known-hosts`): the keys it lists for one host.
//!
//! Our own reader rather than russh's: line numbers in messages must be the file's real ones
//! (comments count), one unparsable line must not hide the others, and `@revoked` must refuse.
//! Host patterns: plain names/addresses, `[host]:port`, and hashed entries (`|1|salt|hash`,
//! `ssh-keygen -H`); wildcard patterns are not matched.

use std::path::Path;

use base64::Engine as _;
use russh::keys::PublicKey;

/// One listed key for the host.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based line in the file.
    pub line: usize,
    pub key: PublicKey,
    /// Listed under `@revoked`: this key must be refused.
    pub revoked: bool,
}

/// The keys `path` lists for `host` on `port` (`[host]:port` unless the port is 22).
pub fn entries_for(path: &Path, host: &str, port: u16) -> std::io::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path)?;
    let name = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace().peekable();
        let revoked = match words.peek() {
            None => continue,
            Some(w) if w.starts_with('#') => continue,
            Some(&"@revoked") => {
                words.next();
                true
            }
            // @cert-authority lines name CAs, not host keys.
            Some(w) if w.starts_with('@') => continue,
            Some(_) => false,
        };
        let (Some(hosts), Some(_kind), Some(b64)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if !hosts.split(',').any(|p| host_matches(p, &name)) {
            continue;
        }
        if let Ok(key) = russh::keys::parse_public_key_base64(b64) {
            out.push(Entry {
                line: i + 1,
                key,
                revoked,
            });
        }
    }
    Ok(out)
}

fn host_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("|1|").and_then(|p| p.split_once('|')) {
        Some((salt, hash)) => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
                return false;
            };
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
            ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
        }
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn finds_plain_bracketed_and_hashed_entries_with_real_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        // `|1|` entry for "[192.0.2.10]:2222", made with ssh-keygen -H's scheme.
        let salt = [7u8; 20];
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let tag = ring::hmac::sign(&key, b"[192.0.2.10]:2222");
        let b64 = base64::engine::general_purpose::STANDARD;
        let hashed = format!("|1|{}|{}", b64.encode(salt), b64.encode(tag.as_ref()));
        std::fs::write(
            &path,
            format!(
                "# comment\n\n192.0.2.10 ssh-ed25519 {KEY}\nbroken line\n{hashed}  ssh-ed25519 {KEY} c\n@revoked [192.0.2.10]:2222 ssh-ed25519 {KEY}\nother,[192.0.2.10]:2222 ssh-ed25519 not-base64\n"
            ),
        )
        .unwrap();
        let port22 = entries_for(&path, "192.0.2.10", 22).unwrap();
        assert_eq!(port22.iter().map(|e| e.line).collect::<Vec<_>>(), [3]);
        let other = entries_for(&path, "192.0.2.10", 2222).unwrap();
        assert_eq!(
            other
                .iter()
                .map(|e| (e.line, e.revoked))
                .collect::<Vec<_>>(),
            [(5, false), (6, true)]
        );
        assert!(entries_for(&path, "192.0.2.11", 22).unwrap().is_empty());
    }
}
