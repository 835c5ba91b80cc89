//! The variables overlay values, predicates and `when` conditions may use:
//! `platform.url`, `platform.revision` and `mode`.
//!
//! Values are structured data, not text: a template renders into one string of the patched
//! document, so it cannot add keys or documents whatever the variable holds. Undefined variables
//! are errors, caught when an overlay is loaded.

use crate::render::templates::describe_error;
use std::fmt;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// How Argo CD will reach the platform repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Through the checkout mounted into the Kind node at `/repo` (`file:///repo`).
    Local,
    /// Through its GitHub URL, as CI pushes the commit being tested.
    Ci,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Ci => "ci",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the Kind node mounts the platform repo; Argo CD's repo server sees the same path.
pub const LOCAL_URL: &str = "file:///repo";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    /// `platform.url`: the URL Argo CD should use for the platform repo in local mode.
    pub platform_url: String,
    /// `platform.revision`: the commit (or branch, with `--commit`) to pin.
    pub platform_revision: String,
    pub mode: Mode,
}

impl Vars {
    /// Stand-in values used to check templates when overlays are loaded.
    pub fn probe() -> Vars {
        Vars {
            platform_url: LOCAL_URL.into(),
            platform_revision: "0000000000000000000000000000000000000000".into(),
            mode: Mode::Local,
        }
    }

    fn context(&self) -> minijinja::Value {
        minijinja::context! {
            platform => minijinja::context! {
                url => self.platform_url.clone(),
                revision => self.platform_revision.clone(),
            },
            mode => self.mode.as_str(),
        }
    }
}

/// Renders templated strings and evaluates conditions.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        Templates { env }
    }

    /// Renders `s` if it holds template syntax; other strings are returned as they are.
    pub fn render_str(&self, s: &str, vars: &Vars) -> Result<String, String> {
        if !(s.contains("{{") || s.contains("{%")) {
            return Ok(s.to_string());
        }
        self.env
            .render_str(s, vars.context())
            .map_err(|e| describe_error(&e))
    }

    /// Renders every string inside `v` (keys included).
    pub fn render_value(&self, v: &Value, vars: &Vars) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => Value::String(self.render_str(s, vars)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.render_value(i, vars))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(self.render_str(k, vars)?, self.render_value(v, vars)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Evaluates a `when:` expression such as `mode == "local"`.
    pub fn eval(&self, expr: &str, vars: &Vars) -> Result<bool, String> {
        let compiled = self
            .env
            .compile_expression(expr)
            .map_err(|e| describe_error(&e))?;
        compiled
            .eval(vars.context())
            .map(|v| v.is_true())
            .map_err(|e| describe_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_variables_and_conditions() {
        let t = Templates::new();
        let vars = Vars {
            platform_url: "file:///repo".into(),
            platform_revision: "abc".into(),
            mode: Mode::Ci,
        };
        assert_eq!(
            t.render_value(
                &json!({"a": "{{ platform.revision }}", "b": [1, "{{ mode }}"]}),
                &vars
            )
            .unwrap(),
            json!({"a": "abc", "b": [1, "ci"]})
        );
        assert!(t.eval("mode == \"ci\"", &vars).unwrap());
        assert!(!t.eval("mode == 'local'", &vars).unwrap());
    }

    #[test]
    fn unknown_variables_and_syntax_errors_are_errors() {
        let t = Templates::new();
        assert!(
            t.render_str("{{ platform.branch }}", &Vars::probe())
                .is_err()
        );
        assert!(t.render_str("{{ nope }}", &Vars::probe()).is_err());
        assert!(t.render_str("{{ oops", &Vars::probe()).is_err());
        assert!(t.eval("mode ==", &Vars::probe()).is_err());
        // Values that look like YAML stay one string.
        let vars = Vars {
            platform_url: "x\nkind: Secret".into(),
            ..Vars::probe()
        };
        assert_eq!(
            t.render_value(&json!("{{ platform.url }}"), &vars).unwrap(),
            json!("x\nkind: Secret")
        );
    }
}
