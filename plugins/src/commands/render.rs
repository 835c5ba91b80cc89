//! `kubectl zt render`

use std::path::{Path, PathBuf};

use anyhow::Context;
use zt::render::{self, Request, TemplateSource, check};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::TenantRepo;

use crate::CommandError;
use crate::args::RenderArgs;
use crate::messages::{Outcome, Printer};

pub fn run(args: &RenderArgs, p: Printer) -> Result<Outcome, CommandError> {
    let (tenant, env, bundle, platform) = if args.example {
        let bundle =
            SecretsBundle::parse(zt::examples::SECRETS, Path::new(zt::examples::SECRETS_PATH))?;
        (
            TenantRepo::embedded(zt::examples::tenant_repo()),
            args.env
                .clone()
                .unwrap_or_else(|| zt::examples::ENV.to_string()),
            bundle,
            Some(zt::examples::platform_repo()),
        )
    } else {
        let Some(secrets) = &args.secrets else {
            return Err(anyhow::anyhow!(
                "no secrets bundle given: pass --secrets FILE. Create one once per cluster with\n  kubectl zt secrets gen --out secrets.yaml\nand keep it out of git (it holds the cluster's private keys)"
            )
            .into());
        };
        let tenant = TenantRepo::open(&args.tenant.tenant_repo)?;
        let bundle = SecretsBundle::load(secrets)?;
        let platform = match &args.platform_repo {
            Some(dir) if !dir.is_dir() => {
                return Err(
                    anyhow::anyhow!("--platform-repo {}: not a directory", dir.display()).into(),
                );
            }
            Some(dir) => Some(RepoFiles::dir(dir)),
            None => None,
        };
        let Some(env) = args.env.clone() else {
            return Err(anyhow::anyhow!("--env is required").into());
        };
        (tenant, env, bundle, platform)
    };
    let templates = TemplateSource {
        override_dir: args.templates.clone(),
    };
    let rendered = render::render(&Request {
        tenant: &tenant,
        env: &env,
        bundle: &bundle,
        platform_repo: platform.as_ref(),
        templates: &templates,
    })?;
    for w in &rendered.warnings {
        p.warn(w);
    }
    if args.check {
        return check_against(&rendered.tree, &args.out, p);
    }
    rendered
        .tree
        .write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))
        .map_err(CommandError::Other)?;
    summarize(&rendered.tree, &args.out, &env);
    Ok(Outcome::Success)
}

fn check_against(
    tree: &render::OutputTree,
    out: &Path,
    p: Printer,
) -> Result<Outcome, CommandError> {
    if !out.is_dir() {
        return Err(anyhow::anyhow!(
            "--check: {} does not exist; render into it first (without --check)",
            out.display()
        )
        .into());
    }
    let changes = check::compare(tree, out);
    if changes.is_empty() {
        p.info(&format!(
            "{}: up to date ({} files)",
            out.display(),
            tree.len()
        ));
        return Ok(Outcome::Success);
    }
    for c in &changes {
        print!("{}", c.diff);
    }
    eprintln!(
        "{}: {} file{} differ from a fresh render",
        out.display(),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    );
    Ok(Outcome::Differences)
}

fn summarize(tree: &render::OutputTree, out: &Path, env: &str) {
    let files: Vec<PathBuf> = tree.iter().map(|(p, _)| p.clone()).collect();
    println!("rendered environment {env} into {}:", out.display());
    for f in files {
        println!("  {}", f.display());
    }
}
