//! The Argo CD stage: the root Application, one Application per tenant, and the repository
//! credential ExternalSecrets passed through.

use std::path::PathBuf;

use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;

use super::templates::template_error;
use super::{ObjectRole, RenderError, Rendered, RenderedObject, parse_typed};
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
    out: &mut Rendered,
) -> Result<(), RenderError> {
    let text = env
        .get_template(ROOT_TEMPLATE)
        .and_then(|t| t.render(minijinja::context! { platform => Serde(platform) }))
        .map_err(|e| template_error(ROOT_TEMPLATE, &e))?;
    let file = PathBuf::from("argocd/root.yaml");
    let app: Application = parse_typed(ROOT_TEMPLATE, &file, &text)?;
    check_application(&app, &file)?;
    add_object(out, ObjectRole::RootApplication, file, &app)
}

/// Renders `argocd/tenants/<tenant>.yaml` for every tenant.
pub fn render_tenants(
    env: &Environment<'_>,
    tenants: &[TenantApp],
    rendered: &mut Rendered,
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
        add_object(rendered, ObjectRole::TenantApplication, out, &app)?;
    }
    Ok(())
}

/// Writes `app` to `file` and records it as an object of `role`.
fn add_object(
    out: &mut Rendered,
    role: ObjectRole,
    file: PathBuf,
    app: &Application,
) -> Result<(), RenderError> {
    let value = serde_json::to_value(app).map_err(|e| RenderError::Emit(e.to_string()))?;
    out.tree.insert(file.clone(), super::emit(app)?, false)?;
    out.objects.push(RenderedObject { role, file, value });
    Ok(())
}

/// Copies each validated `repositories/<name>-repo.yaml` to `argocd/repositories/<name>.yaml`
/// (bytes as the tenant wrote them) and records its objects.
pub fn pass_repositories(
    repos: &[RepositorySecret],
    out: &mut Rendered,
) -> Result<(), RenderError> {
    for r in repos {
        let file = PathBuf::from("argocd/repositories").join(format!("{}.yaml", r.name));
        let docs: Vec<serde_json::Value> =
            crate::yaml::from_str_multi(&r.contents).map_err(|e| RenderError::Output {
                template: format!("repositories/{}-repo.yaml", r.name),
                output: file.clone(),
                pos: e.pos,
                message: e.message,
            })?;
        out.tree
            .insert(file.clone(), r.contents.clone().into_bytes(), false)?;
        for value in docs.into_iter().filter(|d| !d.is_null()) {
            out.objects.push(RenderedObject {
                role: ObjectRole::Repository,
                file: file.clone(),
                value,
            });
        }
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
