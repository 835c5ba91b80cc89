//! Validation rules borrowed from the systems that consume our output: Kubernetes names, labels
//! and taints, semantic versions, CIDRs and URLs. Each returns `Err(message)` describing what was
//! expected, never echoing secrets (none of these inputs is secret).

use std::net::IpAddr;

/// A DNS-1123 label: what Kubernetes requires of node names, namespaces and most object names.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.contains('/') || s.contains("..") {
        return Err("must not contain `/` or `..` (it becomes a file name)".into());
    }
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    let b = s.as_bytes();
    let ok_inner = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    let ok_ends = b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric();
    if ok_inner && ok_ends {
        Ok(())
    } else {
        Err("must be a DNS-1123 label: lower-case letters, digits and `-`, starting and ending with a letter or digit".into())
    }
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err("must be 1 to 253 characters".into());
    }
    for part in s.split('.') {
        if part.is_empty()
            || !part
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            || part.starts_with('-')
            || part.ends_with('-')
        {
            return Err("must be a DNS-1123 subdomain: dot-separated lower-case labels of letters, digits and `-`".into());
        }
    }
    Ok(())
}

/// The name part of a qualified name or a label value: alphanumerics, `-`, `_`, `.`, beginning
/// and ending with an alphanumeric, at most 63 characters.
fn label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A label or taint key: `[prefix/]name`, the prefix a DNS-1123 subdomain.
pub fn label_key(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix
        && dns1123_subdomain(p).is_err()
    {
        return Err(format!(
            "key prefix `{p}` must be a DNS-1123 subdomain (like `example.com`)"
        ));
    }
    if !label_name(name) {
        return Err("key name must be 1 to 63 characters of letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit".into());
    }
    Ok(())
}

/// A label or taint value: empty, or a label name.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || label_name(s) {
        Ok(())
    } else {
        Err("value must be empty or 1 to 63 characters of letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit".into())
    }
}

/// A `vMAJOR.MINOR.PATCH` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

pub fn version(s: &str) -> Result<Version, String> {
    let expected = || format!("expected a version like v1.11.5, found `{s}`");
    let body = s.strip_prefix('v').ok_or_else(expected)?;
    let parts: Vec<&str> = body.split('.').collect();
    if parts.len() != 3
        || parts.iter().any(|p| {
            p.is_empty()
                || !p.bytes().all(|c| c.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
        })
    {
        return Err(expected());
    }
    let n = |p: &str| p.parse::<u32>().map_err(|_| expected());
    Ok(Version {
        major: n(parts[0])?,
        minor: n(parts[1])?,
        patch: n(parts[2])?,
    })
}

/// An IP network in CIDR notation with the host bits clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    fn bits(&self) -> (u128, u32) {
        match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// Whether two networks share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let ((a, wa), (b, wb)) = (self.bits(), other.bits());
        if wa != wb {
            return false;
        }
        let p = u32::from(self.prefix.min(other.prefix));
        let shift = wa - p;
        if shift >= 128 {
            return true;
        }
        (a >> shift) == (b >> shift)
    }
}

pub fn cidr(s: &str) -> Result<Cidr, String> {
    let expected =
        || format!("expected a network in CIDR notation like 10.244.0.0/16, found `{s}`");
    let (a, p) = s.split_once('/').ok_or_else(expected)?;
    let addr: IpAddr = a.parse().map_err(|_| expected())?;
    let prefix: u8 = p.parse().map_err(|_| expected())?;
    let c = Cidr { addr, prefix };
    let (bits, width) = c.bits();
    if u32::from(prefix) > width {
        return Err(expected());
    }
    let host_bits = width - u32::from(prefix);
    // A /0 has every bit a host bit (IPv6: all 128, which `1 << 128` cannot express).
    let host_mask = 1u128
        .checked_shl(host_bits)
        .map_or(u128::MAX, |b| b.wrapping_sub(1));
    if bits & host_mask != 0 {
        return Err(format!(
            "`{s}` has host bits set; did you mean the network address?"
        ));
    }
    Ok(c)
}

/// `url` as it may be shown: credentials in its authority (`https://user:TOKEN@host`) replaced
/// by `<redacted>`. Every message that quotes a URL the user gave goes through this.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // scp-like `user@host:path`, or anything else: nothing before an `@` is shown.
        return match url.rfind('@') {
            Some(at) => format!("<redacted>{}", &url[at..]),
            None => url.to_string(),
        };
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Whether the URL's authority carries a password (`user:password@`), or, for `https`, any
/// userinfo at all (a token alone is a credential too).
pub fn url_has_credentials(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => scheme != "ssh" || rest[..at].contains(':'),
        None => false,
    }
}

/// The message for a URL that carries credentials; it never repeats them.
pub fn credentials_in_url(url: &str) -> String {
    format!(
        "`{}` carries credentials in the URL; they would be written into files readable by \
         anyone and shown in logs. Remove them: repository credentials come from \
         BOT_GITHUB_TOKEN or the repository's Secret",
        shown_url(url)
    )
}

/// An `https://host[:port][/path]` URL.
pub fn https_url(s: &str) -> Result<(), String> {
    if url_has_credentials(s) {
        return Err(credentials_in_url(s));
    }
    let expected = || {
        format!(
            "expected an https URL like https://203.0.113.10:6443, found `{}`",
            shown_url(s)
        )
    };
    let rest = s.strip_prefix("https://").ok_or_else(expected)?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'')
    {
        return Err(expected());
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(expected)?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(expected());
        }
        if !after.is_empty() {
            port(after.strip_prefix(':').ok_or_else(expected)?).ok_or_else(expected)?;
        }
        return Ok(());
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => {
                port(p).ok_or_else(expected)?;
                h
            }
            None => authority,
        }
    };
    if host.parse::<IpAddr>().is_ok() || dns1123_subdomain(&host.to_ascii_lowercase()).is_ok() {
        Ok(())
    } else {
        Err(expected())
    }
}

fn port(p: &str) -> Option<u16> {
    p.parse::<u16>().ok().filter(|p| *p > 0)
}

/// A container image reference, loosely: no whitespace, no quotes, not empty. The precise grammar
/// lives with `deploy`; here we only keep the template from receiving something absurd.
pub fn image_ref(s: &str) -> Result<(), String> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'')
    {
        Err(format!(
            "expected a container image like ghcr.io/siderolabs/installer:v1.11.5, found `{}`",
            s.escape_debug()
        ))
    } else {
        Ok(())
    }
}

/// An Image Factory schematic ID: the SHA-256 of the schematic, as the factory prints it
/// (64 lower-case hexadecimal digits).
pub fn schematic_id(s: &str) -> Result<(), String> {
    let found = if s.chars().any(|c| !c.is_ascii_hexdigit()) {
        "characters that are not hexadecimal digits".to_string()
    } else if s.len() != 64 {
        format!("{} digits", s.len())
    } else if s.bytes().any(|c| c.is_ascii_uppercase()) {
        "upper-case letters (the factory writes IDs in lower case)".to_string()
    } else {
        return Ok(());
    };
    Err(format!(
        "expected an Image Factory schematic ID (64 lower-case hexadecimal digits), found {found}"
    ))
}

/// A node's `ip` is where bootstrap sends its machine config, CA keys included: it must name
/// one machine on the network. The unspecified address, loopback, link-local, multicast and
/// broadcast addresses never do (a loopback address would hand the keys to whatever listens on
/// the machine running bootstrap); `--talos-endpoint` is the explicit way to reach a node
/// through a forwarded port.
pub fn node_address(ip: IpAddr) -> Result<(), String> {
    match unfit_for_a_node(ip) {
        None => Ok(()),
        Some(why) => Err(format!(
            "`{ip}` is {why}, not a node's address; expected the address the node answers on \
             (to reach a node through a forwarded port, use bootstrap's --talos-endpoint)"
        )),
    }
}

fn unfit_for_a_node(ip: IpAddr) -> Option<String> {
    let why = match ip {
        IpAddr::V4(a) if a.is_unspecified() => "the unspecified address",
        IpAddr::V4(a) if a.is_loopback() => "a loopback address",
        IpAddr::V4(a) if a.is_link_local() => "a link-local address",
        IpAddr::V4(a) if a.is_multicast() => "a multicast address",
        IpAddr::V4(a) if a.is_broadcast() => "the broadcast address",
        IpAddr::V6(a) if a.is_unspecified() => "the unspecified address",
        IpAddr::V6(a) if a.is_loopback() => "a loopback address",
        IpAddr::V6(a) if a.is_unicast_link_local() => "a link-local address",
        IpAddr::V6(a) if a.is_multicast() => "a multicast address",
        // `::ffff:127.0.0.1` dials 127.0.0.1.
        IpAddr::V6(a) => {
            let v4 = a.to_ipv4_mapped()?;
            return unfit_for_a_node(IpAddr::V4(v4)).map(|why| format!("{why} (IPv4-mapped)"));
        }
        IpAddr::V4(_) => return None,
    };
    Some(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_refused_and_never_repeated() {
        for url in [
            "https://x-access-token:ghp_SECRET@github.com/org/repo.git",
            "https://ghp_SECRET@github.com/org/repo.git",
            "ssh://git:ghp_SECRET@github.com/org/repo.git",
        ] {
            assert!(url_has_credentials(url), "{url}");
            let m = crate::tenant::apps::git_url(url).unwrap_err();
            assert!(
                !m.contains("ghp_SECRET") && m.contains("<redacted>@github.com"),
                "{m}"
            );
        }
        let m = https_url("https://admin:ghp_SECRET@203.0.113.10:6443").unwrap_err();
        assert!(!m.contains("ghp_SECRET"), "{m}");
        // Not credentials: a user name for ssh, scp-like syntax.
        for url in [
            "ssh://git@github.com/org/repo.git",
            "git@github.com:org/repo.git",
        ] {
            assert!(!url_has_credentials(url), "{url}");
            assert!(crate::tenant::apps::git_url(url).is_ok(), "{url}");
        }
        // A malformed URL is quoted without what precedes an `@`.
        let m = crate::tenant::apps::git_url("user:ghp_SECRET@host").unwrap_err();
        assert!(!m.contains("ghp_SECRET"), "{m}");
        assert_eq!(
            shown_url("https://github.com/a/b@c"),
            "https://github.com/a/b@c"
        );
    }

    #[test]
    fn host_bits_are_checked_for_every_prefix_length() {
        assert!(cidr("::1/0").is_err());
        assert!(cidr("10.0.0.1/0").is_err());
        assert!(cidr("::/0").is_ok());
        assert!(cidr("0.0.0.0/0").is_ok());
        assert!(cidr("fd00::1/128").is_ok());
        assert!(cidr("10.0.0.1/32").is_ok());
    }

    #[test]
    fn dns_labels() {
        assert!(dns1123_label("cp01-main").is_ok());
        for bad in [
            "",
            "Cp01",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "../etc",
            "a/b",
            &"a".repeat(64),
        ] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
        assert!(dns1123_label("../x").unwrap_err().contains("file name"));
    }

    #[test]
    fn label_keys_and_values() {
        assert!(label_key("workload.zerotouch.dev/databases").is_ok());
        assert!(label_key("node-role.kubernetes.io/worker").is_ok());
        assert!(label_key("topology.kubernetes.io/zone").is_ok());
        assert!(label_key("simple").is_ok());
        for bad in ["", "/x", "Bad_Prefix/x", "a/-x", "a/b/c", &"k".repeat(64)] {
            assert!(label_key(bad).is_err(), "{bad}");
        }
        assert!(label_value("").is_ok());
        assert!(label_value("true").is_ok());
        assert!(label_value("a.b-c_d").is_ok());
        for bad in ["-a", "a b", "a:b", &"v".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(
            version("v1.11.5").unwrap(),
            Version {
                major: 1,
                minor: 11,
                patch: 5
            }
        );
        for bad in [
            "1.11.5",
            "v1.11",
            "v1.11.5-rc1",
            "v01.1.1",
            "latest",
            "v1..1",
        ] {
            assert!(version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert!(cidr("10.244.0.0/16").is_ok());
        assert!(cidr("fd00::/64").is_ok());
        assert!(cidr("10.244.0.1/16").unwrap_err().contains("host bits"));
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("10.0.0.0").is_err());
        let a = cidr("10.96.0.0/12").unwrap();
        assert!(a.overlaps(&cidr("10.100.0.0/16").unwrap()));
        assert!(!a.overlaps(&cidr("10.244.0.0/16").unwrap()));
        assert!(!a.overlaps(&cidr("fd00::/8").unwrap()));
    }

    #[test]
    fn urls() {
        for ok in [
            "https://203.0.113.10:6443",
            "https://k8s.example.com:6443",
            "https://[2001:db8::1]:6443",
            "https://api.example.com",
        ] {
            assert!(https_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://1.2.3.4:6443",
            "https://",
            "https://a b",
            "https://1.2.3.4:99999",
            "ftp://x",
            "https://[::1",
        ] {
            assert!(https_url(bad).is_err(), "{bad}");
        }
    }
}
