//! A mapping plus the environment gives the parameters to push: full names and secret values.
//! Every unset variable is reported at once, by name, with the paths that need it; values never
//! appear in a message.

use std::collections::BTreeMap;

use crate::secret::SecretString;

use super::mapping::{Mapping, Piece, TENANTS_REPO, TENANTS_REPO_URL, Template};
use super::names;

/// One parameter, ready to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The full name, e.g. `/zerotouch/prod/github/token`.
    pub name: String,
    pub value: SecretString,
    /// The environment variables the value came from (for dry runs: where, never what).
    pub from: Vec<String>,
}

/// An optional parameter left out because a variable it needs is unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The full name, placeholders shown as written when they could not be filled in.
    pub name: String,
    pub unset: Vec<String>,
}

/// What a push will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub prefix: String,
    pub parameters: Vec<Parameter>,
    pub skipped: Vec<Skipped>,
}

/// Why a mapping could not be resolved: every problem, values never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ResolveError {
    /// Unset variables, each with the parameters that need it.
    pub missing: BTreeMap<String, Vec<String>>,
    /// Other problems: a bad `TENANTS_REPO_NAME`, a value too large, a name Parameter Store
    /// refuses.
    pub invalid: Vec<String>,
}

impl ResolveError {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            let names: Vec<&str> = self.missing.keys().map(String::as_str).collect();
            let mut s = format!(
                "these environment variables are not set: {}",
                names.join(", ")
            );
            for (var, paths) in &self.missing {
                s.push_str(&format!("\n  {var}: needed by {}", paths.join(", ")));
            }
            parts.push(s);
        }
        parts.extend(self.invalid.iter().cloned());
        parts.join("\n")
    }
}

/// Resolves `mapping` under `prefix` with variables from `env` (an empty value counts as
/// unset, as everywhere in kubectl zt).
pub fn resolve(
    mapping: &Mapping,
    prefix: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, ResolveError> {
    let lookup = Lookup::new(env);
    let mut err = ResolveError {
        missing: BTreeMap::new(),
        invalid: Vec::new(),
    };
    // A set but malformed TENANTS_REPO_NAME is reported once, as invalid, when a path or value
    // needs it.
    let mut repo_invalid_used = false;
    let mut parameters: Vec<Parameter> = Vec::new();
    let mut skipped = Vec::new();
    for e in &mapping.entries {
        let path = lookup.fill(&e.path);
        let value = lookup.fill(&e.value);
        let shown_path = path
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_else(|_| e.path.as_written());
        let name = names::join(prefix, &shown_path);
        let mut unset: Vec<String> = Vec::new();
        for r in [&path, &value] {
            if let Err(vars) = r {
                for v in vars {
                    if !unset.contains(v) {
                        unset.push(v.clone());
                    }
                }
            }
        }
        if lookup.tenants_repo_invalid.is_some() {
            let before = unset.len();
            unset.retain(|v| v != crate::credentials::TENANTS_REPO_NAME);
            if unset.len() != before {
                repo_invalid_used = true;
                continue;
            }
        }
        if !unset.is_empty() {
            if e.optional {
                skipped.push(Skipped { name, unset });
            } else {
                for v in unset {
                    err.missing.entry(v).or_default().push(name.clone());
                }
            }
            continue;
        }
        let (Ok(_), Ok(value)) = (path, value) else {
            continue;
        };
        if let Err(m) = names::check_full(&name) {
            err.invalid.push(format!("parameter {name} {m}"));
            continue;
        }
        if value.expose().len() > names::MAX_VALUE_BYTES {
            err.invalid.push(format!(
                "the value for {name} (from {}) is {} bytes; a standard parameter holds at most {}",
                e.value.variables().join(", "),
                value.expose().len(),
                names::MAX_VALUE_BYTES
            ));
            continue;
        }
        if parameters.iter().any(|p| p.name == name) {
            err.invalid.push(format!(
                "{name} is mapped twice in {}",
                mapping.source.display()
            ));
            continue;
        }
        parameters.push(Parameter {
            name,
            value,
            from: e.value.variables().iter().map(|v| v.to_string()).collect(),
        });
    }
    if repo_invalid_used && let Some(m) = lookup.tenants_repo_invalid {
        err.invalid.insert(0, m);
    }
    if err.missing.is_empty() && err.invalid.is_empty() {
        Ok(Plan {
            prefix: prefix.to_string(),
            parameters,
            skipped,
        })
    } else {
        Err(err)
    }
}

/// Variables by name, with the two derived from `TENANTS_REPO_NAME`.
struct Lookup<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    /// `owner/repo` parsed from `TENANTS_REPO_NAME` (owner defaulting to the bot user).
    tenants_repo: Option<crate::credentials::RepoName>,
    tenants_repo_invalid: Option<String>,
}

impl<'a> Lookup<'a> {
    fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| env(k).filter(|v| !v.is_empty());
        let mut tenants_repo = None;
        let mut tenants_repo_invalid = None;
        if let Some(v) = get(crate::credentials::TENANTS_REPO_NAME) {
            let owner = get(crate::credentials::BOT_GITHUB_USERNAME);
            match crate::credentials::parse_repo_name(&v, owner.as_deref()) {
                Some(r) => tenants_repo = Some(r),
                None => {
                    tenants_repo_invalid = Some(format!(
                        "{} must be `repo` (owner: {}) or `owner/repo`",
                        crate::credentials::TENANTS_REPO_NAME,
                        crate::credentials::BOT_GITHUB_USERNAME
                    ))
                }
            }
        }
        Lookup {
            env,
            tenants_repo,
            tenants_repo_invalid,
        }
    }

    /// The value of one placeholder, or the environment variables that must be set for it.
    fn get(&self, name: &str) -> Result<String, Vec<String>> {
        let direct = (self.env)(name).filter(|v| !v.is_empty());
        let needs_repo = || vec![crate::credentials::TENANTS_REPO_NAME.to_string()];
        match name {
            TENANTS_REPO => self
                .tenants_repo
                .as_ref()
                .map(|r| r.name.clone())
                .ok_or_else(needs_repo),
            TENANTS_REPO_URL => direct
                .or_else(|| {
                    self.tenants_repo
                        .as_ref()
                        .map(|r| format!("https://github.com/{}/{}.git", r.owner, r.name))
                })
                .ok_or_else(needs_repo),
            _ => direct.ok_or_else(|| vec![name.to_string()]),
        }
    }

    fn fill(&self, t: &Template) -> Result<SecretString, Vec<String>> {
        let mut out = String::new();
        let mut unset = Vec::new();
        for p in &t.pieces {
            match p {
                Piece::Text(s) => out.push_str(s),
                Piece::Var(v) => match self.get(v) {
                    Ok(val) => out.push_str(&val),
                    Err(vars) => unset.extend(vars),
                },
            }
        }
        if unset.is_empty() {
            Ok(SecretString::new(out))
        } else {
            Err(unset)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::parameters::mapping;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_builtin_mapping_fills_every_path_from_the_environment() {
        let m = mapping::builtin().unwrap();
        let plan = resolve(
            &m,
            "/zerotouch/dev",
            &env(&[
                ("BOT_GITHUB_USERNAME", "zt-bot"),
                ("BOT_GITHUB_TOKEN", "ghp_x"),
                ("TENANTS_REPO_NAME", "acme/zerotouch-tenants"),
                ("OPENAI_API_KEY", "sk-1"),
            ]),
        )
        .unwrap();
        let got: Vec<(&str, &str)> = plan
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p.value.expose()))
            .collect();
        assert!(got.contains(&("/zerotouch/dev/github/token", "ghp_x")));
        assert!(got.contains(&(
            "/zerotouch/dev/argocd/repos/zerotouch-tenants/url",
            "https://github.com/acme/zerotouch-tenants.git"
        )));
        assert!(got.contains(&(
            "/zerotouch/dev/argocd/repos/zerotouch-tenants/password",
            "ghp_x"
        )));
        assert!(got.contains(&("/zerotouch/dev/openai_api_key", "sk-1")));
        assert_eq!(
            plan.skipped,
            [Skipped {
                name: "/zerotouch/dev/anthropic_api_key".into(),
                unset: vec!["ANTHROPIC_API_KEY".into()]
            }]
        );
    }

    #[test]
    fn every_missing_variable_is_named_at_once_and_no_value_is_shown() {
        let m = mapping::builtin().unwrap();
        let err = resolve(&m, "/p", &env(&[("BOT_GITHUB_TOKEN", "ghp_secret_value")])).unwrap_err();
        let names: Vec<&str> = err.missing.keys().map(String::as_str).collect();
        assert_eq!(names, ["BOT_GITHUB_USERNAME", "TENANTS_REPO_NAME"]);
        let text = err.to_string();
        assert!(text.contains("/p/github/username"), "{text}");
        assert!(
            text.contains("/p/argocd/repos/${TENANTS_REPO}/url"),
            "{text}"
        );
        assert!(!text.contains("ghp_secret_value"), "{text}");
    }

    #[test]
    fn an_explicit_url_and_a_bad_repo_name() {
        let m = mapping::parse(
            "parameters:\n  - path: r/${TENANTS_REPO}/url\n    value: ${TENANTS_REPO_URL}\n",
            Path::new("p.yaml"),
        )
        .unwrap();
        let plan = resolve(
            &m,
            "/p",
            &env(&[
                ("TENANTS_REPO_NAME", "tenants"),
                ("BOT_GITHUB_USERNAME", "bot"),
                ("TENANTS_REPO_URL", "https://git.example/t.git"),
            ]),
        )
        .unwrap();
        assert_eq!(plan.parameters[0].name, "/p/r/tenants/url");
        assert_eq!(
            plan.parameters[0].value.expose(),
            "https://git.example/t.git"
        );
        let err = resolve(&m, "/p", &env(&[("TENANTS_REPO_NAME", "a/b/c")])).unwrap_err();
        assert!(err.missing.is_empty(), "{err}");
        assert!(
            err.to_string().contains("TENANTS_REPO_NAME must be"),
            "{err}"
        );
    }

    #[test]
    fn a_value_too_large_for_a_standard_parameter_is_refused_by_name() {
        let m = mapping::parse(
            "parameters:\n  - path: big\n    value: ${BIG}\n",
            Path::new("p"),
        )
        .unwrap();
        let big = "v".repeat(names::MAX_VALUE_BYTES + 1);
        let err = resolve(&m, "/p", &move |k: &str| (k == "BIG").then(|| big.clone())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/p/big (from BIG) is 4097 bytes"), "{text}");
        assert!(!text.contains("vvvv"), "{text}");
    }
}
