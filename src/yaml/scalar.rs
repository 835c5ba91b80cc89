//! How a plain (unquoted) scalar is read by the consumers we feed: Kubernetes and Argo CD read
//! YAML 1.1 through sigs.k8s.io/yaml, so `yes`/`on`/`y` are booleans and `0755` is octal 493.
//! Quoted and block scalars are always strings.

/// The type a scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

impl Resolved {
    /// A short noun for error messages: "a boolean", "a number", ...
    pub fn describe(&self) -> &'static str {
        match self {
            Resolved::Null => "null",
            Resolved::Bool(_) => "a boolean",
            Resolved::Int(_) | Resolved::Float(_) => "a number",
            Resolved::Str => "a string",
        }
    }
}

/// Resolves a plain scalar with YAML 1.1 rules.
pub fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Resolved::Int(i);
    }
    if looks_like_float(text)
        && let Ok(f) = text.replace('_', "").parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::Str
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() || body.starts_with('_') {
        return None;
    }
    let clean = body.replace('_', "");
    let value = if let Some(hex) = clean.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = clean.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if let Some(oct) = clean.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') {
        // YAML 1.1: a leading zero means octal (`0755` is 493).
        i64::from_str_radix(&clean[1..], 8).ok()?
    } else if clean.bytes().all(|b| b.is_ascii_digit()) {
        clean.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

fn looks_like_float(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    let mut digits = false;
    let mut dot = false;
    let mut exp = false;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => digits = true,
            b'_' if digits => {}
            b'.' if !dot && !exp => dot = true,
            b'e' | b'E' if digits && !exp => {
                exp = true;
                if matches!(bytes.get(i + 1), Some(b'-' | b'+')) {
                    i += 1;
                }
                if !matches!(bytes.get(i + 1), Some(b'0'..=b'9')) {
                    return false;
                }
            }
            _ => return false,
        }
        i += 1;
    }
    digits && (dot || exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_11_booleans_and_octals() {
        for t in ["yes", "on", "y", "True", "OFF", "no", "n"] {
            assert!(matches!(resolve_plain(t), Resolved::Bool(_)), "{t}");
        }
        assert_eq!(resolve_plain("0755"), Resolved::Int(493));
        assert_eq!(resolve_plain("1_000"), Resolved::Int(1000));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("1.5"), Resolved::Float(1.5));
        assert_eq!(resolve_plain("~"), Resolved::Null);
    }

    #[test]
    fn strings_stay_strings() {
        for t in [
            "203.0.113.10",
            "v1.11.5",
            "cp01-main",
            "0755x",
            "2024-01-01",
            "e3",
            "1.2.3",
            "/dev/sda",
            "10.244.0.0/16",
        ] {
            assert_eq!(resolve_plain(t), Resolved::Str, "{t}");
        }
    }
}
