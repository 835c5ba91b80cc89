//! Container image references, parsed with the grammar of the Docker/OCI distribution project
//! (`github.com/distribution/reference`), and the narrower pattern the platform's claim schemas
//! accept for `spec.image`.
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*
//! domain     := host [ ":" port ]          host: DNS labels or an [IPv6] address
//! path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := "sha256:" 64 hex | "sha384:" 96 hex | "sha512:" 128 hex   (lower-case hex)
//! ```
//!
//! As in Docker, the first component is a registry host only when the name has more than one
//! component and the first contains `.` or `:`, or is `localhost`. Matching a claim to a service
//! compares whole path components, so `other-my-svc` and `my-svc-migrations` never match
//! `my-svc` (the upstream sed matched both).

use std::fmt;

/// The most characters a repository name (domain included) may have.
pub const MAX_NAME_LEN: usize = 255;
/// The most characters a tag may have.
pub const MAX_TAG_LEN: usize = 128;

/// The `spec.image` pattern of the WebService, EventDrivenService and AgentSandboxService XRDs.
/// It is narrower than the Docker grammar: no registry port, no upper case, not both a tag and a
/// digest, sha256 digests only. [`xrd_pattern_problem`] implements it.
pub const XRD_IMAGE_PATTERN: &str = r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*(:[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}|@sha256:[a-f0-9]{64})?$";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    domain: Option<String>,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not an image reference. Messages say what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("is empty")]
    Empty,
    #[error(
        "contains whitespace or a control character (a trailing comment or a stray space?); an image reference is one word like ghcr.io/org/app:v1"
    )]
    Whitespace,
    #[error("has an empty path component (`//`, or a leading or trailing `/`)")]
    EmptyComponent,
    #[error("repository names must be lower-case; found `{0}`")]
    UpperCase(String),
    #[error(
        "path component `{0}` is invalid: expected lower-case letters and digits, separated by `.`, `_`, `__` or dashes, not starting or ending with a separator"
    )]
    Component(String),
    #[error(
        "registry `{0}` is invalid: expected a host name or [IPv6] address, optionally with :port"
    )]
    Domain(String),
    #[error(
        "tag `{0}` is invalid: expected up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
    )]
    Tag(String),
    #[error("repository name is longer than {MAX_NAME_LEN} characters")]
    NameTooLong,
    #[error(
        "digest `{0}` is invalid: expected sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex> in lower case"
    )]
    Digest(String),
}

impl ImageRef {
    /// Parses a full reference (`ghcr.io/org/app:v1`, `localhost:5001/app`, `app@sha256:...`).
    pub fn parse(s: &str) -> Result<ImageRef, ImageRefError> {
        if s.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ImageRefError::Whitespace);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                check_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last `:` after the last `/`; a `:` before that is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = &rest[at + 1..];
                check_tag(tag)?;
                (&rest[..at], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ImageRefError::EmptyComponent);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(ImageRefError::NameTooLong);
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder)) if is_domain_like(first) => {
                check_domain(first)?;
                (Some(first.to_string()), remainder)
            }
            _ => (None, name),
        };
        for component in path.split('/') {
            check_component(component)?;
        }
        Ok(ImageRef {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// The registry host (with port), if the reference names one.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The path after the registry (`org/app`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Registry and path, without tag or digest (`ghcr.io/org/app`).
    pub fn repository(&self) -> String {
        match &self.domain {
            Some(d) => format!("{d}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// The last path component (`app` in `ghcr.io/org/app:v1`).
    pub fn last_component(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether `name` is the repository's last path component, compared whole.
    pub fn is_service(&self, name: &str) -> bool {
        self.last_component() == name
    }

    /// The same repository with `tag` instead of any tag or digest.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to `digest` instead of any tag or digest.
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.domain {
            write!(f, "{d}/")?;
        }
        f.write_str(&self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ImageRefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

/// What `--image` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageArg {
    /// A tag alone (`sha-abc123`): each claim keeps its repository.
    Tag(String),
    /// A digest alone (`@sha256:...` or `sha256:...`): each claim keeps its repository.
    Digest(String),
    /// A whole reference: used as it is.
    Full(ImageRef),
}

impl ImageArg {
    /// A value with `/`, `:` or `@` is a reference; a single word is a tag. A digest may be given
    /// alone as `@sha256:<hex>` or `sha256:<hex>`.
    pub fn parse(s: &str) -> Result<ImageArg, ImageRefError> {
        if s.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ImageRefError::Whitespace);
        }
        if let Some(d) = s.strip_prefix('@') {
            check_digest(d)?;
            return Ok(ImageArg::Digest(d.to_string()));
        }
        if ["sha256:", "sha384:", "sha512:"]
            .iter()
            .any(|p| s.starts_with(p))
            && !s.contains('/')
            && !s.contains('@')
        {
            check_digest(s)?;
            return Ok(ImageArg::Digest(s.to_string()));
        }
        if s.contains(['/', ':', '@']) {
            return ImageRef::parse(s).map(ImageArg::Full);
        }
        check_tag(s)?;
        Ok(ImageArg::Tag(s.to_string()))
    }

    /// The reference a claim whose image is `current` gets.
    pub fn apply_to(&self, current: &ImageRef) -> ImageRef {
        match self {
            ImageArg::Tag(t) => current.with_tag(t),
            ImageArg::Digest(d) => current.with_digest(d),
            ImageArg::Full(r) => r.clone(),
        }
    }
}

impl fmt::Display for ImageArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageArg::Tag(t) => write!(f, "tag {t}"),
            ImageArg::Digest(d) => write!(f, "digest {d}"),
            ImageArg::Full(r) => write!(f, "{r}"),
        }
    }
}

fn is_domain_like(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn check_domain(d: &str) -> Result<(), ImageRefError> {
    let bad = || ImageRefError::Domain(d.to_string());
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        // [IPv6]:port
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        match after {
            "" => return Ok(()),
            p => (None, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    if let Some(h) = host {
        let ok = !h.is_empty()
            && h.split('.').all(|label| {
                let b = label.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_alphanumeric()
                    && b[b.len() - 1].is_ascii_alphanumeric()
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            });
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`, followed by an alphanumeric.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if b.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !b.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

fn check_component(c: &str) -> Result<(), ImageRefError> {
    if c.is_empty() {
        return Err(ImageRefError::EmptyComponent);
    }
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ImageRefError::UpperCase(c.to_string()));
    }
    if component_ok(c) {
        Ok(())
    } else {
        Err(ImageRefError::Component(c.to_string()))
    }
}

fn tag_ok(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

fn check_tag(t: &str) -> Result<(), ImageRefError> {
    if tag_ok(t) {
        Ok(())
    } else {
        Err(ImageRefError::Tag(t.to_string()))
    }
}

fn check_digest(d: &str) -> Result<(), ImageRefError> {
    let bad = || ImageRefError::Digest(d.to_string());
    let (algo, hex) = d.split_once(':').ok_or_else(bad)?;
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(bad()),
    };
    if hex.len() == len
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Why `image` fails [`XRD_IMAGE_PATTERN`], or `None` when the claim schema accepts it.
pub fn xrd_pattern_problem(image: &str) -> Option<String> {
    // The pattern's name part has no `:` or `@`, so the first of them starts the suffix.
    let (name, suffix) = image.split_at(image.find([':', '@']).unwrap_or(image.len()));
    if let Some(tag) = suffix.strip_prefix(':') {
        if tag.contains('/') {
            let registry = image.split('/').next().unwrap_or(image);
            return Some(format!(
                "the claim schema does not accept a registry with a port (`{registry}`); use a registry address without one"
            ));
        }
        if tag.contains('@') {
            return Some(
                "the claim schema does not accept a tag and a digest together; give one of them"
                    .into(),
            );
        }
        if !tag_ok(tag) {
            return Some(format!(
                "the tag `{tag}` does not match the claim schema's pattern"
            ));
        }
    } else if let Some(digest) = suffix.strip_prefix('@') {
        let sha256 = digest.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !sha256 {
            return Some(
                "the claim schema accepts only sha256 digests (`@sha256:<64 hex>`)".into(),
            );
        }
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some("the claim schema accepts only lower-case repository names".into());
    }
    if !name.split('/').all(component_ok) {
        return Some(format!(
            "the repository does not match the claim schema's pattern {XRD_IMAGE_PATTERN}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, Ok((domain, path, tag, digest)) or Err(fragment of the message)).
    type Case = (
        &'static str,
        Result<
            (
                Option<&'static str>,
                &'static str,
                Option<&'static str>,
                Option<&'static str>,
            ),
            &'static str,
        >,
    );

    const D64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_reference_grammar_table() {
        let digest = format!("sha256:{D64}");
        let d: &'static str = Box::leak(digest.clone().into_boxed_str());
        let with_digest: &'static str =
            Box::leak(format!("ghcr.io/org/my-svc@{digest}").into_boxed_str());
        let tag_and_digest: &'static str =
            Box::leak(format!("ghcr.io/org/my-svc:v1@{digest}").into_boxed_str());
        let short_digest: &'static str =
            Box::leak(format!("app@sha256:{}", &D64[..63]).into_boxed_str());
        let upper_digest: &'static str =
            Box::leak(format!("app@sha256:{}", D64.to_uppercase()).into_boxed_str());
        let long_tag: &'static str = Box::leak(format!("app:{}", "a".repeat(128)).into_boxed_str());
        let too_long_tag: &'static str =
            Box::leak(format!("app:{}", "a".repeat(129)).into_boxed_str());
        let long_name: &'static str =
            Box::leak(format!("ghcr.io/{}", "a".repeat(250)).into_boxed_str());
        let sha512: &'static str =
            Box::leak(format!("app@sha512:{}", "ab".repeat(64)).into_boxed_str());
        let md5: &'static str = Box::leak(format!("app@md5:{}", "ab".repeat(16)).into_boxed_str());
        let cases: Vec<Case> = vec![
            ("my-svc", Ok((None, "my-svc", None, None))),
            (
                "my-svc:sha-abc123",
                Ok((None, "my-svc", Some("sha-abc123"), None)),
            ),
            (
                "ghcr.io/org/my-svc:sha-abc123",
                Ok((Some("ghcr.io"), "org/my-svc", Some("sha-abc123"), None)),
            ),
            (
                "ghcr.io/org/other-my-svc:v1",
                Ok((Some("ghcr.io"), "org/other-my-svc", Some("v1"), None)),
            ),
            (
                "ghcr.io/org/my-svc-migrations:v1",
                Ok((Some("ghcr.io"), "org/my-svc-migrations", Some("v1"), None)),
            ),
            (
                "localhost:5001/my-svc:dev",
                Ok((Some("localhost:5001"), "my-svc", Some("dev"), None)),
            ),
            (
                "localhost/my-svc",
                Ok((Some("localhost"), "my-svc", None, None)),
            ),
            (
                "registry.example.com:443/team/app:1.2.3",
                Ok((
                    Some("registry.example.com:443"),
                    "team/app",
                    Some("1.2.3"),
                    None,
                )),
            ),
            (
                "127.0.0.1:5000/app",
                Ok((Some("127.0.0.1:5000"), "app", None, None)),
            ),
            (
                "[::1]:5000/app:t",
                Ok((Some("[::1]:5000"), "app", Some("t"), None)),
            ),
            (
                "[2001:db8::1]/app",
                Ok((Some("[2001:db8::1]"), "app", None, None)),
            ),
            (
                "docker.io/library/nginx:1.25",
                Ok((Some("docker.io"), "library/nginx", Some("1.25"), None)),
            ),
            ("nginx:1.25", Ok((None, "nginx", Some("1.25"), None))),
            ("org/app", Ok((None, "org/app", None, None))),
            (
                "a/b/c/d/e:latest",
                Ok((None, "a/b/c/d/e", Some("latest"), None)),
            ),
            ("my_svc", Ok((None, "my_svc", None, None))),
            ("my__svc", Ok((None, "my__svc", None, None))),
            ("my---svc", Ok((None, "my---svc", None, None))),
            ("my.svc", Ok((None, "my.svc", None, None))),
            (
                "app:V1_Release-2.0",
                Ok((None, "app", Some("V1_Release-2.0"), None)),
            ),
            ("app:_x", Ok((None, "app", Some("_x"), None))),
            (long_tag, Ok((None, "app", Some(&long_tag[4..]), None))),
            (
                with_digest,
                Ok((Some("ghcr.io"), "org/my-svc", None, Some(d))),
            ),
            (
                tag_and_digest,
                Ok((Some("ghcr.io"), "org/my-svc", Some("v1"), Some(d))),
            ),
            (sha512, Ok((None, "app", None, Some(&sha512[4..])))),
            ("", Err("is empty")),
            ("ghcr.io/org/my-svc:v1 # pinned", Err("trailing comment")),
            (" my-svc", Err("whitespace")),
            ("ghcr.io/Org/app", Err("lower-case")),
            ("App", Err("lower-case")),
            ("-app", Err("path component `-app`")),
            ("app-", Err("path component `app-`")),
            ("a..b", Err("path component `a..b`")),
            ("a___b", Err("path component `a___b`")),
            ("a_.b", Err("path component `a_.b`")),
            ("ghcr.io//app", Err("empty path component")),
            ("ghcr.io/app/", Err("empty path component")),
            ("app:", Err("tag ``")),
            ("app:-x", Err("tag `-x`")),
            ("app:.x", Err("tag `.x`")),
            (too_long_tag, Err("tag `")),
            ("app:a+b", Err("tag `a+b`")),
            ("localhost:abc/app", Err("registry `localhost:abc`")),
            ("-bad.io/app", Err("registry `-bad.io`")),
            ("bad_host.io/app", Err("registry `bad_host.io`")),
            ("[::1/app", Err("registry")),
            ("[zz::1]:5000/app", Err("registry")),
            (short_digest, Err("digest")),
            (upper_digest, Err("digest")),
            (md5, Err("digest")),
            ("app@", Err("digest")),
            (long_name, Err("longer than 255")),
            ("ghcr.io/org/app:v1:v2", Err("path component `app:v1`")),
        ];
        assert!(cases.len() >= 40, "{}", cases.len());
        for (input, want) in cases {
            let got = ImageRef::parse(input);
            match (want, got) {
                (Ok((dom, path, tag, dig)), Ok(r)) => {
                    assert_eq!(r.domain(), dom, "{input}: domain");
                    assert_eq!(r.path(), path, "{input}: path");
                    assert_eq!(r.tag(), tag, "{input}: tag");
                    assert_eq!(r.digest(), dig, "{input}: digest");
                    assert_eq!(r.to_string(), input, "{input}: round trip");
                }
                (Err(fragment), Err(e)) => {
                    assert!(
                        e.to_string().contains(fragment),
                        "{input}: `{e}` lacks `{fragment}`"
                    )
                }
                (want, got) => panic!("{input}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn service_matching_compares_whole_components() {
        let is = |img: &str| ImageRef::parse(img).unwrap().is_service("my-svc");
        assert!(is("ghcr.io/org/my-svc:v1"));
        assert!(is("my-svc"));
        assert!(is("localhost:5001/my-svc:dev"));
        assert!(is(&format!("ghcr.io/org/my-svc@sha256:{D64}")));
        assert!(!is("ghcr.io/org/other-my-svc:v1"));
        assert!(!is("ghcr.io/org/my-svc-migrations:v1"));
        assert!(!is("ghcr.io/my-svc/worker:v1"));
        assert!(!is("my-svc.io/app"));
    }

    #[test]
    fn image_argument_kinds() {
        assert_eq!(
            ImageArg::parse("sha-abc123").unwrap(),
            ImageArg::Tag("sha-abc123".into())
        );
        let digest = format!("sha256:{D64}");
        assert_eq!(
            ImageArg::parse(&format!("@{digest}")).unwrap(),
            ImageArg::Digest(digest.clone())
        );
        assert_eq!(
            ImageArg::parse(&digest).unwrap(),
            ImageArg::Digest(digest.clone())
        );
        assert!(matches!(
            ImageArg::parse("ghcr.io/org/svc:sha-abc123").unwrap(),
            ImageArg::Full(_)
        ));
        assert!(matches!(
            ImageArg::parse("localhost:5001/svc:tag").unwrap(),
            ImageArg::Full(_)
        ));
        assert!(matches!(
            ImageArg::parse(&format!("svc@{digest}")).unwrap(),
            ImageArg::Full(_)
        ));
        for bad in ["", "-x", "sha abc", "a+b", "ghcr.io/X:y", "sha256:abc"] {
            assert!(ImageArg::parse(bad).is_err(), "{bad}");
        }

        let current = ImageRef::parse(&format!("ghcr.io/org/my-svc:v1@{digest}")).unwrap();
        assert_eq!(
            ImageArg::parse("sha-abc123")
                .unwrap()
                .apply_to(&current)
                .to_string(),
            "ghcr.io/org/my-svc:sha-abc123"
        );
        let d2 = format!("sha256:{}", "f".repeat(64));
        assert_eq!(
            ImageArg::parse(&format!("@{d2}"))
                .unwrap()
                .apply_to(&current)
                .to_string(),
            format!("ghcr.io/org/my-svc@{d2}")
        );
        assert_eq!(
            ImageArg::parse("reg.io/x/y:z")
                .unwrap()
                .apply_to(&current)
                .to_string(),
            "reg.io/x/y:z"
        );
    }

    #[test]
    fn the_claim_schema_pattern() {
        for ok in [
            "ghcr.io/org/app:v1.0.0",
            "nginx:1.25",
            "my-svc",
            "a_b/c__d/e---f:T_1",
            &format!("ghcr.io/org/app@sha256:{D64}"),
        ] {
            assert_eq!(xrd_pattern_problem(ok), None, "{ok}");
        }
        let cases = [
            ("localhost:5001/api:dev", "port"),
            ("127.0.0.1:5000/api", "port"),
            ("Ghcr.io/org/app:v1", "lower-case"),
            (
                &format!("ghcr.io/org/app:v1@sha256:{D64}") as &str,
                "tag and a digest",
            ),
            (&format!("app@sha512:{}", "ab".repeat(64)), "sha256"),
            ("app:-x", "tag"),
            ("a..b", "pattern"),
        ];
        for (bad, why) in cases {
            let p = xrd_pattern_problem(bad).unwrap_or_else(|| panic!("{bad} passed"));
            assert!(p.contains(why), "{bad}: {p}");
        }
    }
}
