//! Extended JSON pointers: RFC 6901 plus list elements addressed by key.
//!
//! `/spec/sources/[repoURL=https://github.com/*/zerotouch-platform.git]/targetRevision` selects
//! every element of `sources` whose `repoURL` matches the glob; the key may itself be a path
//! (`[target/name=foundation-config]`). Everything else is strict RFC 6901: only `~0` and `~1`
//! are escapes, array indexes have no leading zeros (checked where the array is met). A path
//! that reaches a string and goes on continues inside the YAML that string holds; that is decided
//! while walking a document, not here.

use std::fmt;

use super::glob::Glob;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A reference token, unescaped: an object key, or an array index / `-` in an array.
    Key(String),
    /// `[key=pattern]`: the elements of a list whose `key` (a path of tokens) matches.
    Select { key: Vec<String>, pattern: Glob },
}

/// A parsed extended pointer.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtPath {
    raw: String,
    pub segments: Vec<Segment>,
}

impl fmt::Debug for ExtPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtPath({:?})", self.raw)
    }
}

impl fmt::Display for ExtPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl ExtPath {
    pub fn parse(raw: &str) -> Result<ExtPath, String> {
        let mut segments = Vec::new();
        if raw.is_empty() {
            return Ok(ExtPath {
                raw: String::new(),
                segments,
            });
        }
        let Some(mut rest) = raw.strip_prefix('/') else {
            return Err(format!(
                "`{raw}` is not a JSON pointer: it must be empty or start with `/`"
            ));
        };
        loop {
            if rest.starts_with('[') {
                let (seg, after) = selector(raw, rest)?;
                segments.push(seg);
                match after {
                    Some(next) => rest = next,
                    None => break,
                }
            } else {
                let (token, after) = match rest.find('/') {
                    Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                    None => (rest, None),
                };
                segments.push(Segment::Key(unescape(raw, token)?));
                match after {
                    Some(next) => rest = next,
                    None => break,
                }
            }
        }
        Ok(ExtPath {
            raw: raw.to_string(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn last(&self) -> Option<&Segment> {
        self.segments.last()
    }
}

/// `[key=pattern]` at the start of `rest`; returns the segment and what follows its `/`.
fn selector<'a>(raw: &str, rest: &'a str) -> Result<(Segment, Option<&'a str>), String> {
    // The selector ends at the first `]` that ends the path or is followed by `/`, so values
    // may hold `/` (URLs) and `]` elsewhere.
    let mut end = None;
    for (i, c) in rest.char_indices() {
        if c == ']' && (i + 1 == rest.len() || rest[i + 1..].starts_with('/')) {
            end = Some(i);
            break;
        }
    }
    let Some(end) = end else {
        return Err(format!(
            "`{raw}`: the selector `{rest}` is not closed with `]`"
        ));
    };
    let inner = &rest[1..end];
    let Some((key, pattern)) = inner.split_once('=') else {
        return Err(format!(
            "`{raw}`: a list selector is written `[key=value]`, found `[{inner}]`"
        ));
    };
    if key.is_empty() {
        return Err(format!("`{raw}`: the selector `[{inner}]` names no key"));
    }
    let key = key
        .split('/')
        .map(|t| unescape(raw, t))
        .collect::<Result<Vec<_>, _>>()?;
    let pattern = Glob::text(pattern).map_err(|e| format!("`{raw}`: {e}"))?;
    let after = if end + 1 == rest.len() {
        None
    } else {
        Some(&rest[end + 2..])
    };
    Ok((Segment::Select { key, pattern }, after))
}

/// RFC 6901 unescaping: `~1` is `/`, `~0` is `~`, any other `~` is an error.
fn unescape(raw: &str, token: &str) -> Result<String, String> {
    if !token.contains('~') {
        return Ok(token.to_string());
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            other => {
                return Err(format!(
                    "`{raw}`: invalid escape `~{}` (RFC 6901 allows only ~0 for `~` and ~1 for `/`)",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        }
    }
    Ok(out)
}

/// Whether `token` is a valid array index per RFC 6901 (`0` or no leading zero).
pub fn parse_index(token: &str) -> Option<usize> {
    let ok = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    if ok { token.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &ExtPath) -> Vec<String> {
        p.segments
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.clone(),
                Segment::Select { key, pattern } => format!("[{}={}]", key.join("/"), pattern),
            })
            .collect()
    }

    #[test]
    fn rfc6901_tokens_and_escapes() {
        let p = ExtPath::parse("/metadata/annotations/example.com~1a~0b").unwrap();
        assert_eq!(keys(&p), ["metadata", "annotations", "example.com/a~b"]);
        assert!(ExtPath::parse("").unwrap().segments.is_empty());
        assert_eq!(keys(&ExtPath::parse("/").unwrap()), [""]);
        assert_eq!(keys(&ExtPath::parse("/a/").unwrap()), ["a", ""]);
    }

    #[test]
    fn malformed_pointers_are_errors() {
        assert!(
            ExtPath::parse("spec/x")
                .unwrap_err()
                .contains("start with `/`")
        );
        assert!(
            ExtPath::parse("/a~2b")
                .unwrap_err()
                .contains("invalid escape `~2`")
        );
        assert!(
            ExtPath::parse("/a~")
                .unwrap_err()
                .contains("invalid escape")
        );
        assert!(
            ExtPath::parse("/l/[name]")
                .unwrap_err()
                .contains("[key=value]")
        );
        assert!(
            ExtPath::parse("/l/[=x]")
                .unwrap_err()
                .contains("names no key")
        );
        assert!(
            ExtPath::parse("/l/[name=x")
                .unwrap_err()
                .contains("not closed")
        );
        assert!(ExtPath::parse("/l/[name={x]").is_err());
    }

    #[test]
    fn selectors_hold_urls_and_nested_keys() {
        let p = ExtPath::parse(
            "/spec/sources/[repoURL=https://github.com/*/zerotouch-platform.git]/targetRevision",
        )
        .unwrap();
        assert_eq!(
            keys(&p),
            [
                "spec",
                "sources",
                "[repoURL=https://github.com/*/zerotouch-platform.git]",
                "targetRevision"
            ]
        );
        let p = ExtPath::parse("/patches/[target/name=foundation-config]").unwrap();
        assert_eq!(keys(&p), ["patches", "[target/name=foundation-config]"]);
    }

    #[test]
    fn indexes_are_strict() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("12"), Some(12));
        assert_eq!(parse_index("00"), None);
        assert_eq!(parse_index("01"), None);
        assert_eq!(parse_index("-"), None);
        assert_eq!(parse_index("+1"), None);
    }
}
