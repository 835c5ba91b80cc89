//! The Secrets stage: Argo CD repository credentials, the AWS credentials External Secrets uses,
//! and the LLM keys the platform's agents read. Written 0600; shown redacted.

use std::path::PathBuf;

use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;
use serde_json::Value;

use super::strict::roundtrip;
use super::templates::template_error;
use super::{ObjectRole, RenderError, Rendered, RenderedObject, yaml_output};
use crate::credentials::Credentials;

pub const GIT_TEMPLATE: &str = "secrets/git-repository.yaml";
pub const AWS_TEMPLATE: &str = "secrets/aws-access-token.yaml";
pub const API_KEY_TEMPLATE: &str = "secrets/api-key.yaml";

/// Name of the platform repository credential (what the old bootstrap created imperatively).
pub const PLATFORM_REPO_SECRET: &str = "repo-credentials";

/// Where each LLM key goes: (namespace, Secret name, data key).
pub const OPENAI_SECRET: (&str, &str, &str) = ("kagent", "kagent-openai", "OPENAI_API_KEY");
pub const ANTHROPIC_SECRET: (&str, &str, &str) =
    ("kagent", "kagent-anthropic", "ANTHROPIC_API_KEY");

#[derive(Serialize)]
struct GitCtx<'a> {
    name: String,
    url: &'a str,
    username: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct AwsCtx<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
}

#[derive(Serialize)]
struct KeyCtx<'a> {
    namespace: &'a str,
    name: &'a str,
    key: &'a str,
    value: &'a str,
}

/// Renders the Secrets. `platform_url` is the platform repository Argo CD reads (its credential
/// is only useful for an https URL; `file:///repo` needs none, but the Secret is harmless).
pub fn render(
    env: &Environment<'_>,
    creds: &Credentials,
    platform_url: &str,
    rendered: &mut Rendered,
) -> Result<(), RenderError> {
    let mut warnings = Vec::new();
    let mut emit = |template: &str, name: &str, ctx: Value| -> Result<(), RenderError> {
        let text = env
            .get_template(template)
            .and_then(|t| t.render(Serde(&ctx)))
            .map_err(|e| template_error(template, &e))?;
        let out = PathBuf::from("secrets").join(format!("{name}.yaml"));
        let value: Value = crate::yaml::from_str(&text).map_err(|e| RenderError::Output {
            template: template.into(),
            output: out.clone(),
            pos: e.pos,
            message: e.message,
        })?;
        let secret: k8s_openapi::api::core::v1::Secret =
            roundtrip(&value).map_err(|message| RenderError::Output {
                template: template.into(),
                output: out.clone(),
                pos: None,
                message,
            })?;
        if secret.metadata.name.as_deref() != Some(name) {
            return Err(RenderError::Invariant {
                output: out,
                message: format!("metadata.name must be `{name}`"),
            });
        }
        rendered
            .tree
            .insert(out.clone(), yaml_output(&value)?, true)?;
        rendered.objects.push(RenderedObject {
            role: ObjectRole::Secret,
            file: out,
            value,
        });
        Ok(())
    };
    let platform = GitCtx {
        name: PLATFORM_REPO_SECRET.into(),
        url: platform_url,
        username: &creds.bot_username,
        password: creds.bot_token.expose(),
    };
    emit(GIT_TEMPLATE, PLATFORM_REPO_SECRET, ctx("secret", &platform))?;
    if let Some(repo) = &creds.tenants_repo {
        let name = format!(
            "repo-{}",
            repo.name.to_ascii_lowercase().replace(['_', '.'], "-")
        );
        let url = repo.https_url();
        let tenants = GitCtx {
            name: name.clone(),
            url: &url,
            username: &creds.bot_username,
            password: creds.bot_token.expose(),
        };
        emit(GIT_TEMPLATE, &name, ctx("secret", &tenants))?;
    }
    let aws = AwsCtx {
        access_key_id: creds.aws_access_key_id.expose(),
        secret_access_key: creds.aws_secret_access_key.expose(),
        session_token: creds.aws_session_token.expose(),
    };
    emit(AWS_TEMPLATE, "aws-access-token", ctx("aws", &aws))?;
    for ((ns, name, key), value, var) in [
        (
            OPENAI_SECRET,
            &creds.openai_api_key,
            crate::credentials::OPENAI_API_KEY,
        ),
        (
            ANTHROPIC_SECRET,
            &creds.anthropic_api_key,
            crate::credentials::ANTHROPIC_API_KEY,
        ),
    ] {
        match value {
            Some(v) => {
                let k = KeyCtx {
                    namespace: ns,
                    name,
                    key,
                    value: v.expose(),
                };
                emit(API_KEY_TEMPLATE, name, ctx("secret", &k))?;
            }
            None => warnings.push(format!(
                "{var} is not set: no {ns}/{name} Secret is rendered, and agents that need it will not start"
            )),
        }
    }
    rendered.warnings.extend(warnings);
    Ok(())
}

fn ctx<T: Serialize>(key: &str, v: &T) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(key.into(), serde_json::to_value(v).unwrap_or(Value::Null));
    Value::Object(m)
}
