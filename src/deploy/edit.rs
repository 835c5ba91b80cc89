//! `--write`: puts the new image into the claim files by replacing the bytes of the `spec.image`
//! scalar and nothing else, so comments, key order, indentation and every other line stay as
//! they were. The scalar keeps its quoting style; a plain scalar is quoted only when the new
//! value would otherwise read as something other than a string.
//!
//! This is deliberately narrow (one scalar, same line); general minimal-diff YAML editing lives
//! with the preview patches.

use std::ops::Range;

use crate::yaml::ScalarStyle;
use crate::yaml::edit::render_string;

/// One scalar to replace: its byte range in the file (quotes included) and how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarEdit {
    pub span: Range<usize>,
    pub style: ScalarStyle,
    pub value: String,
}

/// Why an edit cannot be made in place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the value is a block scalar (`|` or `>`); --write only edits plain or quoted values")]
    BlockScalar,
    #[error("the value's position does not match the file (was it changed while we ran?)")]
    Span,
    #[error("two edits overlap")]
    Overlap,
}

/// How `value` is written in `style`, or `None` for block styles (`--write` edits one-line
/// scalars only). The quoting rule is the YAML editor's.
pub fn render_scalar(style: ScalarStyle, value: &str) -> Option<String> {
    match style {
        ScalarStyle::Plain | ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted => {
            Some(render_string(Some(style), value))
        }
        _ => None,
    }
}

/// Applies `edits` to `src`. Spans must lie on char boundaries and must not overlap; the text
/// outside them is copied unchanged.
pub fn apply(src: &str, edits: &[ScalarEdit]) -> Result<String, EditError> {
    let mut sorted: Vec<&ScalarEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.span.start);
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for e in sorted {
        if e.span.start < at {
            return Err(EditError::Overlap);
        }
        if e.span.end > src.len()
            || e.span.start > e.span.end
            || !src.is_char_boundary(e.span.start)
            || !src.is_char_boundary(e.span.end)
        {
            return Err(EditError::Span);
        }
        let text = render_scalar(e.style, &e.value).ok_or(EditError::BlockScalar)?;
        out.push_str(&src[at..e.span.start]);
        out.push_str(&text);
        at = e.span.end;
    }
    out.push_str(&src[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_the_yaml_editors_rule() {
        // A date-like or flow-ish value read back by a YAML 1.1 reader (Kubernetes) would not
        // stay a string unquoted.
        for v in ["2026-12-06", "a,b", " lead", "on", "0x1F", "a: b"] {
            assert_eq!(
                render_scalar(ScalarStyle::Plain, v).unwrap(),
                serde_json::Value::String(v.into()).to_string(),
                "{v}"
            );
        }
        assert_eq!(
            render_scalar(ScalarStyle::Plain, "ghcr.io/acme/api:sha-abc123").unwrap(),
            "ghcr.io/acme/api:sha-abc123"
        );
        assert_eq!(
            render_scalar(ScalarStyle::SingleQuoted, "it's").unwrap(),
            "'it''s'"
        );
        assert_eq!(render_scalar(ScalarStyle::Literal, "x"), None);
    }
    use crate::yaml::parse_stream;

    /// Edits `spec.image` of every document and returns the new text.
    fn set_images(src: &str, image: &str) -> String {
        let docs = parse_stream(src).unwrap();
        let edits: Vec<ScalarEdit> = docs
            .iter()
            .filter_map(|d| d.get("spec")?.get("image"))
            .map(|n| ScalarEdit {
                span: n.span.clone(),
                style: n.as_scalar().unwrap().style,
                value: image.to_string(),
            })
            .collect();
        apply(src, &edits).unwrap()
    }

    #[test]
    fn only_the_image_changes_and_comments_stay() {
        let src = "# my service\napiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc   # the claim\nspec:\n  # the image CI builds\n  image: ghcr.io/org/my-svc:v1   # pinned by CI\n  port: 8080\n  initContainer:\n    command: [\"/bin/sh\"]   # image: not this one\n";
        let out = set_images(src, "ghcr.io/org/my-svc:sha-abc123");
        let changed: Vec<(&str, &str)> = src
            .lines()
            .zip(out.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            changed,
            [(
                "  image: ghcr.io/org/my-svc:v1   # pinned by CI",
                "  image: ghcr.io/org/my-svc:sha-abc123   # pinned by CI"
            )]
        );
        assert_eq!(src.lines().count(), out.lines().count());
    }

    #[test]
    fn quoting_style_is_kept() {
        let src = "spec:\n  image: \"ghcr.io/org/a:v1\"\n---\nspec:\n  image: 'ghcr.io/org/a:v1'\n---\nspec: {image: ghcr.io/org/a:v1, port: 80}\n";
        let out = set_images(src, "ghcr.io/org/a:v2");
        assert_eq!(
            out,
            "spec:\n  image: \"ghcr.io/org/a:v2\"\n---\nspec:\n  image: 'ghcr.io/org/a:v2'\n---\nspec: {image: ghcr.io/org/a:v2, port: 80}\n"
        );
        // And the result still parses to the new value everywhere.
        for d in parse_stream(&out).unwrap() {
            assert_eq!(
                d.get("spec").unwrap().get("image").unwrap().to_json(),
                "ghcr.io/org/a:v2"
            );
        }
    }

    #[test]
    fn crlf_and_multibyte_text_around_the_value_survive() {
        let src = "# café ☕\r\nspec:\r\n  image: app:v1 # ünïcode\r\n  port: 1\r\n";
        let out = set_images(src, "app:v2");
        assert_eq!(out, src.replace("app:v1", "app:v2"));
    }

    #[test]
    fn plain_values_that_would_change_type_get_quoted() {
        assert_eq!(
            render_scalar(ScalarStyle::Plain, "app:v1").unwrap(),
            "app:v1"
        );
        assert_eq!(
            render_scalar(ScalarStyle::Plain, "1234").unwrap(),
            "\"1234\""
        );
        assert_eq!(render_scalar(ScalarStyle::Plain, "yes").unwrap(), "\"yes\"");
        assert_eq!(
            render_scalar(ScalarStyle::SingleQuoted, "it's").unwrap(),
            "'it''s'"
        );
        assert_eq!(
            render_scalar(ScalarStyle::DoubleQuoted, "a\"b").unwrap(),
            "\"a\\\"b\""
        );
        assert!(render_scalar(ScalarStyle::Literal, "x").is_none());
    }

    #[test]
    fn bad_spans_are_errors_not_panics() {
        let e = |span: Range<usize>| ScalarEdit {
            span,
            style: ScalarStyle::Plain,
            value: "x".into(),
        };
        assert_eq!(apply("abc", &[e(2..9)]), Err(EditError::Span));
        assert_eq!(apply("é", &[e(1..2)]), Err(EditError::Span));
        assert_eq!(
            apply("abcdef", &[e(0..3), e(2..4)]),
            Err(EditError::Overlap)
        );
        let block = ScalarEdit {
            span: 0..1,
            style: ScalarStyle::Literal,
            value: "x".into(),
        };
        assert_eq!(apply("a", &[block]), Err(EditError::BlockScalar));
    }
}
