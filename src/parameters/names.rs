//! Parameter Store's naming rules, checked before anything is sent: a bad name would otherwise
//! fail half-way through a push, after some parameters were written.

/// The prefix the platform's ExternalSecrets read (one shared `prod`, as the old tooling had).
pub const DEFAULT_PREFIX: &str = "/zerotouch/prod";

/// The longest fully qualified name Parameter Store accepts for a path-style name.
pub const MAX_NAME_LEN: usize = 1011;

/// The deepest hierarchy Parameter Store accepts (levels separated by `/`).
pub const MAX_LEVELS: usize = 15;

/// The largest value a standard-tier parameter holds.
pub const MAX_VALUE_BYTES: usize = 4096;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

/// `/zerotouch/dev`: absolute, no trailing `/`, not in the `aws`/`ssm` namespaces AWS reserves.
pub fn check_prefix(p: &str) -> Result<(), String> {
    if !p.starts_with('/') || p.len() < 2 {
        return Err("must start with `/`, e.g. /zerotouch/dev".into());
    }
    if p.ends_with('/') {
        return Err("must not end with `/`".into());
    }
    let first = p[1..]
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err("names starting with aws or ssm are reserved by AWS".into());
    }
    check_chars(p)
}

/// `github/token`: below the prefix, so no leading or trailing `/`.
pub fn check_relative(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("empty path".into());
    }
    if p.starts_with('/') {
        return Err("a path is below the prefix: write it without the leading `/`".into());
    }
    if p.ends_with('/') {
        return Err("must not end with `/`".into());
    }
    check_chars(p)
}

/// The name as sent, after placeholders were filled in.
pub fn check_full(name: &str) -> Result<(), String> {
    check_chars(name)?;
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "is {} characters long; Parameter Store allows {MAX_NAME_LEN}",
            name.len()
        ));
    }
    let levels = name.split('/').filter(|s| !s.is_empty()).count();
    if levels > MAX_LEVELS {
        return Err(format!(
            "has {levels} levels; Parameter Store allows {MAX_LEVELS}"
        ));
    }
    Ok(())
}

fn check_chars(p: &str) -> Result<(), String> {
    if p.contains("//") {
        return Err("holds an empty level (`//`)".into());
    }
    if let Some(c) = p.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "holds {c:?}; Parameter Store names use letters, digits, `_`, `.`, `-` and `/`"
        ));
    }
    Ok(())
}

/// `prefix/path`.
pub fn join(prefix: &str, path: &str) -> String {
    format!("{prefix}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_paths_follow_parameter_store_rules() {
        assert!(check_prefix(DEFAULT_PREFIX).is_ok());
        assert!(check_prefix("/zerotouch/dev-2").is_ok());
        for bad in [
            "zerotouch",
            "/",
            "/zerotouch/",
            "/aws/x",
            "/SSM/x",
            "/a b",
            "/a//b",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad} accepted");
        }
        assert!(check_relative("argocd/repos/x/url").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a:b", "ä"] {
            assert!(check_relative(bad).is_err(), "{bad} accepted");
        }
        assert!(check_full(&join("/a", "b/".repeat(14).trim_end_matches('/'))).is_ok());
        assert!(check_full(&join("/a", "b/".repeat(15).trim_end_matches('/'))).is_err());
        assert!(check_full(&format!("/{}", "x".repeat(MAX_NAME_LEN))).is_err());
    }
}
