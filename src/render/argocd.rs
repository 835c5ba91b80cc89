//! The Argo CD stage: the root Application, one Application per tenant, and the repository
//! credential ExternalSecrets passed through.

use std::path::PathBuf;

use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;

use super::output::OutputTree;
use super::templates::template_error;
use super::{RenderError, parse_typed};
use crate::argocd::Application;
use crate::tenant::apps::TenantApp;
use crate::tenant::repositories::RepositorySecret;

pub const ROOT_TEMPLATE: &str = "argocd/root.yaml";
pub const TENANT_TEMPLATE: &str = "argocd/tenant.yaml";

/// Where the root Application points.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformSource {
    pub url: String,
    pub revision: String,
    /// The overlay directory inside the platform repository.
    pub overlay: String,
}

#[derive(Serialize)]
struct TenantCtx<'a> {
    name: &'a str,
    repo_url: &'a str,
    target_revision: &'a str,
    path: &'a str,
    namespace: &'a str,
}

/// Renders `argocd/root.yaml`.
pub fn render_root(
    env: &Environment<'_>,
    platform: &PlatformSource,
    tree: &mut OutputTree,
) -> Result<(), RenderError> {
    let text = env
        .get_template(ROOT_TEMPLATE)
        .and_then(|t| t.render(minijinja::context! { platform => Serde(platform) }))
        .map_err(|e| template_error(ROOT_TEMPLATE, &e))?;
    let out = PathBuf::from("argocd/root.yaml");
    let app: Application = parse_typed(ROOT_TEMPLATE, &out, &text)?;
    check_application(&app, &out)?;
    tree.insert(out, super::emit(&app)?, false)?;
    Ok(())
}

/// Renders `argocd/tenants/<tenant>.yaml` for every tenant.
pub fn render_tenants(
    env: &Environment<'_>,
    tenants: &[TenantApp],
    tree: &mut OutputTree,
) -> Result<(), RenderError> {
    let tmpl = env
        .get_template(TENANT_TEMPLATE)
        .map_err(|e| template_error(TENANT_TEMPLATE, &e))?;
    for t in tenants {
        let ctx = TenantCtx {
            name: &t.name,
            repo_url: &t.repo_url,
            target_revision: &t.target_revision,
            path: &t.path,
            namespace: &t.namespace,
        };
        let text = tmpl
            .render(minijinja::context! { tenant => Serde(&ctx) })
            .map_err(|e| template_error(TENANT_TEMPLATE, &e))?;
        let out = PathBuf::from("argocd/tenants").join(format!("{}.yaml", t.name));
        let app: Application = parse_typed(TENANT_TEMPLATE, &out, &text)?;
        check_application(&app, &out)?;
        if app.metadata.name != t.name {
            return Err(RenderError::Invariant {
                output: out,
                message: format!("metadata.name must be the tenant name `{}`", t.name),
            });
        }
        tree.insert(out, super::emit(&app)?, false)?;
    }
    Ok(())
}

/// Copies each validated `repositories/<name>-repo.yaml` to `argocd/repositories/<name>.yaml`.
pub fn pass_repositories(
    repos: &[RepositorySecret],
    tree: &mut OutputTree,
) -> Result<(), RenderError> {
    for r in repos {
        tree.insert(
            PathBuf::from("argocd/repositories").join(format!("{}.yaml", r.name)),
            r.contents.clone().into_bytes(),
            false,
        )?;
    }
    Ok(())
}

fn check_application(app: &Application, out: &std::path::Path) -> Result<(), RenderError> {
    let fail = |message: String| {
        Err(RenderError::Invariant {
            output: out.to_path_buf(),
            message,
        })
    };
    if app.api_version != "argoproj.io/v1alpha1" || app.kind != "Application" {
        return fail(format!(
            "expected an argoproj.io/v1alpha1 Application, found {} {}",
            app.api_version, app.kind
        ));
    }
    if app.metadata.namespace != "argocd" {
        return fail("Applications must live in the argocd namespace".into());
    }
    Ok(())
}
