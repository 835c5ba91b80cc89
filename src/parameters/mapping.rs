//! The mapping of environment variables to Parameter Store paths, as data: the built-in
//! [`DEFAULT`] (the paths the platform's ExternalSecrets read) or a tenant repository's own
//! [`FILE`], read strictly (unknown keys, bad placeholders and bad paths are `file:line:col`
//! diagnostics, all at once).

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::fsio::confined;
use crate::yaml::Node;
use crate::yaml::decode::Decoder;

use super::names;

/// Where a tenant repository keeps its own mapping.
pub const FILE: &str = "parameters.yaml";

/// The built-in mapping (the old tooling's `.env.ssm.example`, as data).
pub const DEFAULT: &str = include_str!("default.yaml");

/// What [`DEFAULT`] is called in diagnostics and output.
pub const DEFAULT_NAME: &str = "<built-in parameters.yaml>";

/// The one placeholder a path may hold. Paths are printed; a path built from a credential would
/// print it, so only the tenants repository's name is allowed there.
pub const PATH_PLACEHOLDERS: &[&str] = &[TENANTS_REPO];

/// The repository part of `TENANTS_REPO_NAME` (`owner/repo` or `repo`).
pub const TENANTS_REPO: &str = "TENANTS_REPO";
/// `TENANTS_REPO_URL` when set, else `https://github.com/<owner>/<repo>.git`.
pub const TENANTS_REPO_URL: &str = "TENANTS_REPO_URL";

const TOP_KEYS: &[&str] = &["prefix", "parameters"];
const ENTRY_KEYS: &[&str] = &["path", "value", "optional"];

/// A loaded mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The file it came from, or [`DEFAULT_NAME`].
    pub source: PathBuf,
    /// `/zerotouch/prod` unless the file says otherwise.
    pub prefix: String,
    pub entries: Vec<Entry>,
}

/// One parameter: where it goes and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Below the prefix, e.g. `github/token`.
    pub path: Template,
    pub value: Template,
    /// Skipped (and said so) when one of its variables is unset, instead of an error.
    pub optional: bool,
    /// Where the entry is written, for messages about it.
    pub pos: Pos,
}

impl Mapping {
    /// The mapping for a preview: previews run without tenants, so the parameters of the
    /// tenants' repository (those that name `TENANTS_REPO` or `TENANTS_REPO_URL`) become
    /// optional: pushed when `TENANTS_REPO_NAME` is set, skipped and said so when not.
    pub fn for_preview(mut self) -> Mapping {
        for e in &mut self.entries {
            let vars = e.path.variables().into_iter().chain(e.value.variables());
            if vars
                .into_iter()
                .any(|v| v == TENANTS_REPO || v == TENANTS_REPO_URL)
            {
                e.optional = true;
            }
        }
        self
    }
}

/// Text with `${NAME}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Var(String),
}

impl Template {
    /// Parses `${NAME}` placeholders; a `$` not followed by `{` is text. Names are environment
    /// variable names: upper-case letters, digits and `_`, not starting with a digit.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            if at > 0 {
                pieces.push(Piece::Text(rest[..at].to_string()));
            }
            let after = &rest[at + 2..];
            let Some(end) = after.find('}') else {
                return Err("`${` without a closing `}`".into());
            };
            let name = &after[..end];
            if !is_variable_name(name) {
                return Err(format!(
                    "`${{{}}}` is not an environment variable name (upper-case letters, digits and _)",
                    crate::diag::clip(name)
                ));
            }
            pieces.push(Piece::Var(name.to_string()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// The placeholders, in order, each once.
    pub fn variables(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.pieces {
            if let Piece::Var(v) = p
                && !out.contains(&v.as_str())
            {
                out.push(v);
            }
        }
        out
    }

    /// The template as written (placeholders included): what a path is shown as before its
    /// variables are known.
    pub fn as_written(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Var(v) => format!("${{{v}}}"),
            })
            .collect()
    }
}

fn is_variable_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The mapping for a tenant repository: its [`FILE`] when it has one, else [`DEFAULT`].
pub fn load(tenant_repo: &Path) -> Result<Mapping, Diagnostics> {
    let shown = tenant_repo.join(FILE);
    match confined::read_text(tenant_repo, Path::new(FILE), tenant_repo) {
        Ok(Some(src)) => parse(&src, &shown),
        Ok(None) => builtin(),
        Err(e) => Err(Diagnostic::from(e).into()),
    }
}

/// A mapping file named on the command line (`--mapping`), anywhere.
pub fn load_file(file: &Path) -> Result<Mapping, Diagnostics> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(name) = file.file_name() else {
        return Err(Diagnostic::file(file, "not a file name").into());
    };
    match confined::read_text(dir, Path::new(name), dir) {
        Ok(Some(src)) => parse(&src, file),
        Ok(None) => Err(Diagnostic::file(file, "not found").into()),
        Err(e) => Err(Diagnostic::from(e).into()),
    }
}

/// The built-in mapping.
pub fn builtin() -> Result<Mapping, Diagnostics> {
    parse(DEFAULT, Path::new(DEFAULT_NAME))
}

/// Parses a mapping's text; `file` names it in diagnostics.
pub fn parse(src: &str, file: &Path) -> Result<Mapping, Diagnostics> {
    let doc =
        crate::yaml::decode::document(src, file, "`parameters:` with a list of {path, value}")?;
    let mut d = Decoder::new(file);
    let Some(top) = d.fields(&doc, "", TOP_KEYS) else {
        return Err(d.finish_sorted());
    };
    let prefix = match top.get("prefix") {
        Some(n) => d
            .string(n, "prefix")
            .and_then(|p| match names::check_prefix(&p) {
                Ok(()) => Some(p),
                Err(m) => {
                    d.error(Some(n.pos), "prefix", m);
                    None
                }
            }),
        None => Some(names::DEFAULT_PREFIX.to_string()),
    };
    let mut entries = Vec::new();
    match top.get("parameters") {
        None => d.error(
            Some(doc.pos),
            "parameters",
            "required key `parameters` is missing; expected a list of {path, value}",
        ),
        Some(n) => {
            if let Some(items) = d.seq(n, "parameters") {
                if items.is_empty() {
                    d.error(
                        Some(n.pos),
                        "parameters",
                        "the list is empty: nothing to push",
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    if let Some(e) = entry(&mut d, item, &format!("parameters[{i}]")) {
                        entries.push((i, e));
                    }
                }
            }
        }
    }
    duplicates(&mut d, &entries);
    if d.has_errors() {
        return Err(d.finish_sorted());
    }
    Ok(Mapping {
        source: file.to_path_buf(),
        prefix: prefix.unwrap_or_default(),
        entries: entries.into_iter().map(|(_, e)| e).collect(),
    })
}

fn entry(d: &mut Decoder, node: &Node, at: &str) -> Option<Entry> {
    let f = d.fields(node, at, ENTRY_KEYS)?;
    let path_node = d.required(&f, "path");
    let value_node = d.required(&f, "value");
    let (path_node, value_node) = (path_node?, value_node?);
    let path = d
        .string(path_node, &f.child("path"))
        .and_then(|p| template(d, path_node, &f.child("path"), &p))
        .and_then(|t| check_path(d, path_node, &f.child("path"), t));
    let value = d
        .string(value_node, &f.child("value"))
        .and_then(|v| template(d, value_node, &f.child("value"), &v))
        .and_then(|t| {
            if t.pieces.is_empty() {
                d.error(
                    Some(value_node.pos),
                    &f.child("value"),
                    "empty: Parameter Store keeps no empty values; write ${NAME} for an environment variable",
                );
                None
            } else {
                Some(t)
            }
        });
    let optional = d.opt_bool(&f, "optional").unwrap_or(false);
    Some(Entry {
        path: path?,
        value: value?,
        optional,
        pos: node.pos,
    })
}

fn template(d: &mut Decoder, node: &Node, field: &str, text: &str) -> Option<Template> {
    match Template::parse(text) {
        Ok(t) => Some(t),
        Err(m) => {
            d.error(Some(node.pos), field, m);
            None
        }
    }
}

/// A path is relative to the prefix and uses the characters Parameter Store allows; its only
/// placeholder may be [`TENANTS_REPO`].
fn check_path(d: &mut Decoder, node: &Node, field: &str, t: Template) -> Option<Template> {
    let mut ok = true;
    for v in t.variables() {
        if !PATH_PLACEHOLDERS.contains(&v) {
            d.error(
                Some(node.pos),
                field,
                format!(
                    "`${{{v}}}` cannot be part of a path (paths are printed; values never are); a path may hold only ${{{TENANTS_REPO}}}"
                ),
            );
            ok = false;
        }
    }
    // The placeholder's own value is checked when it is known; the text around it here.
    let text: String = t
        .pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) => s.as_str(),
            Piece::Var(_) => "x",
        })
        .collect();
    if let Err(m) = names::check_relative(&text) {
        d.error(Some(node.pos), field, m);
        ok = false;
    }
    ok.then_some(t)
}

/// Two entries with the same path would write one parameter twice, the second silently winning.
fn duplicates(d: &mut Decoder, entries: &[(usize, Entry)]) {
    for (k, (i, e)) in entries.iter().enumerate() {
        if let Some((_, first)) = entries[..k].iter().find(|(_, o)| o.path == e.path) {
            d.error(
                Some(e.pos),
                &format!("parameters[{i}].path"),
                format!(
                    "`{}` is already mapped at line {}",
                    e.path.as_written(),
                    first.pos.line
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(src: &str) -> Result<Mapping, Vec<String>> {
        parse(src, Path::new("parameters.yaml"))
            .map_err(|d| d.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn the_builtin_mapping_is_the_platforms() {
        let m = builtin().expect("the built-in mapping parses");
        assert_eq!(m.prefix, "/zerotouch/prod");
        let paths: Vec<String> = m.entries.iter().map(|e| e.path.as_written()).collect();
        for want in [
            "github/username",
            "github/token",
            "openai_api_key",
            "anthropic_api_key",
            "argocd/repos/${TENANTS_REPO}/url",
            "argocd/repos/${TENANTS_REPO}/username",
            "argocd/repos/${TENANTS_REPO}/password",
        ] {
            assert!(paths.iter().any(|p| p == want), "{want} not in {paths:?}");
        }
        let optional: Vec<&str> = m
            .entries
            .iter()
            .filter(|e| e.optional)
            .map(|e| e.value.variables()[0])
            .collect();
        assert_eq!(optional, ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]);
    }

    #[test]
    fn templates_split_text_and_variables() {
        let t = Template::parse("https://x/${A_1}/${B}.git").unwrap();
        assert_eq!(t.variables(), ["A_1", "B"]);
        assert_eq!(t.as_written(), "https://x/${A_1}/${B}.git");
        assert_eq!(
            Template::parse("a$b").unwrap().variables(),
            Vec::<&str>::new()
        );
        assert!(Template::parse("${lower}").is_err());
        assert!(Template::parse("${OPEN").is_err());
        assert!(Template::parse("${}").is_err());
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let src = "prefix: zerotouch/prod\nparameters:\n  - path: github/token\n    value: ${BOT_GITHUB_TOKEN}\n    secure: true\n  - path: tokens/${BOT_GITHUB_TOKEN}\n    value: x\n  - path: /abs\n    value: ${bad}\n  - value: ${A}\n  - path: github/token\n    value: ${B}\n";
        let errs = parse_str(src).unwrap_err();
        let want = [
            "parameters.yaml:1:9: prefix: ",
            "parameters.yaml:5:5: parameters[0].secure: unknown key `secure`",
            "parameters.yaml:6:11: parameters[1].path: `${BOT_GITHUB_TOKEN}` cannot be part of a path",
            "parameters.yaml:8:11: parameters[2].path: ",
            "parameters.yaml:9:12: parameters[2].value: `${bad}` is not an environment variable name",
            "parameters.yaml:10:5: parameters[3].path: required key `path` is missing",
            "parameters.yaml:11:5: parameters[4].path: `github/token` is already mapped at line 3",
        ];
        for w in want {
            assert!(
                errs.iter().any(|e| e.starts_with(w)),
                "no `{w}` in {errs:#?}"
            );
        }
        assert_eq!(errs.len(), want.len(), "{errs:#?}");
    }

    #[test]
    fn a_file_may_keep_the_default_prefix_and_mark_entries_optional() {
        let m = parse_str("parameters:\n  - path: a/b\n    value: v-${X}\n    optional: true\n")
            .unwrap();
        assert_eq!(m.prefix, names::DEFAULT_PREFIX);
        assert!(m.entries[0].optional);
        assert_eq!(m.entries[0].value.variables(), ["X"]);
        let errs = parse_str("parameters: []\n").unwrap_err();
        assert!(errs[0].contains("nothing to push"), "{errs:?}");
    }

    #[test]
    fn a_preview_needs_no_tenants_repository() {
        let m = builtin().unwrap().for_preview();
        let optional: Vec<String> = m
            .entries
            .iter()
            .filter(|e| e.optional)
            .map(|e| e.path.as_written())
            .collect();
        assert_eq!(
            optional,
            [
                "argocd/repos/${TENANTS_REPO}/url",
                "argocd/repos/${TENANTS_REPO}/username",
                "argocd/repos/${TENANTS_REPO}/password",
                "openai_api_key",
                "anthropic_api_key",
            ]
        );
    }
}
