//! The template set: built into the binary, each file overridable from `--templates DIR`.
//!
//! Every template is auto-escaped as JSON, which YAML reads as a quoted scalar, a flow list or a
//! flow mapping. So `{{ value }}` can never add a key, a document or a type change, whatever the
//! value holds (`\n`, `: `, `#`, `---`, `{{`, `"true"`). Undefined variables are errors.

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::RenderError;

/// The embedded templates, by name (their path under `templates/`).
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "talos/machine.yaml",
        include_str!("../../templates/talos/machine.yaml"),
    ),
    (
        "talos/talosconfig.yaml",
        include_str!("../../templates/talos/talosconfig.yaml"),
    ),
    (
        "argocd/root.yaml",
        include_str!("../../templates/argocd/root.yaml"),
    ),
    (
        "argocd/tenant.yaml",
        include_str!("../../templates/argocd/tenant.yaml"),
    ),
    (
        "kind/cluster.yaml",
        include_str!("../../templates/kind/cluster.yaml"),
    ),
    (
        "secrets/git-repository.yaml",
        include_str!("../../templates/secrets/git-repository.yaml"),
    ),
    (
        "secrets/aws-access-token.yaml",
        include_str!("../../templates/secrets/aws-access-token.yaml"),
    ),
    (
        "secrets/api-key.yaml",
        include_str!("../../templates/secrets/api-key.yaml"),
    ),
];

/// Where templates come from.
#[derive(Debug, Clone, Default)]
pub struct TemplateSource {
    /// A directory whose files replace embedded templates of the same name.
    pub override_dir: Option<PathBuf>,
}

impl TemplateSource {
    /// Builds the MiniJinja environment with every template loaded up front, so a broken
    /// override fails before anything renders.
    pub fn environment(&self) -> Result<Environment<'static>, RenderError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Json);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .map_err(|e| template_error("<syntax>", &e))?,
        );
        // `value | b64`: base64 for Secret `data`, applied before JSON escaping.
        env.add_filter("b64", |value: String| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        });
        if let Some(dir) = &self.override_dir
            && !dir.is_dir()
        {
            return Err(RenderError::TemplateDir {
                dir: dir.clone(),
                message: "not a directory".into(),
            });
        }
        for (name, embedded) in EMBEDDED {
            let source = match self.override_file(name) {
                Some(path) => {
                    std::fs::read_to_string(&path).map_err(|e| RenderError::TemplateDir {
                        dir: path.clone(),
                        message: format!("cannot read: {e}"),
                    })?
                }
                None => (*embedded).to_string(),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| template_error(name, &e))?;
        }
        Ok(env)
    }

    fn override_file(&self, name: &str) -> Option<PathBuf> {
        let path = self.override_dir.as_deref()?.join(name);
        path.is_file().then_some(path)
    }

    /// Where the template `name` was read from, for messages.
    pub fn origin(&self, name: &str) -> PathBuf {
        self.override_file(name)
            .unwrap_or_else(|| Path::new("<embedded>/templates").join(name))
    }
}

/// A template error with its name and line. MiniJinja's message names the failing expression,
/// never the values in the context.
pub fn template_error(name: &str, e: &minijinja::Error) -> RenderError {
    RenderError::Template {
        template: name.to_string(),
        line: e.line(),
        message: describe_error(e),
    }
}

/// MiniJinja's error kind and detail, never the values in the context.
pub fn describe_error(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}
