//! `kubectl zt bootstrap`

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use zt::bootstrap::cache::StageCache;
use zt::bootstrap::production::{self, ProductionInputs};
use zt::bootstrap::progress::LineProgress;
use zt::bootstrap::{Ctx, Plan, RunError, Timing, run};
use zt::render::TemplateSource;
use zt::talos::api::{ClientOptions, Fingerprint};

use crate::CommandError;
use crate::args::{BootstrapArgs, RenderMode};
use crate::inputs::{self, How};
use crate::messages::{Outcome, Printer};

pub fn run_command(args: &BootstrapArgs, p: Printer) -> Result<Outcome, CommandError> {
    let plan = match args.source.mode {
        RenderMode::Production => production_plan(args, p)?,
        RenderMode::Preview => {
            return Err(anyhow!("bootstrap --mode preview is not available in this build").into());
        }
    };
    let cache = StageCache::open(&args.cache, &plan.fingerprint(), args.fresh)
        .map_err(|e| CommandError::Other(e.into()))?;
    if args.dry_run {
        print!("{}", plan.describe(Some(&cache)));
        println!("dry run: nothing was sent, nothing was written");
        return Ok(Outcome::Success);
    }
    execute(args, &plan, cache, p)
}

fn timing(args: &BootstrapArgs) -> Timing {
    Timing {
        talos: args.node_timeout,
        kubernetes: args.node_timeout,
        argocd: args.node_timeout,
        platform: args.timeout,
        kind: args.node_timeout,
        ..Timing::default()
    }
}

/// The kubeconfig the run writes and reads, like kubectl picks it.
pub fn kubeconfig_path(explicit: Option<&PathBuf>) -> Result<PathBuf, CommandError> {
    if let Some(p) = explicit {
        return Ok(p.clone());
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty())
        && let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".kube/config"))
        .ok_or_else(|| anyhow!("no kubeconfig location: pass --kubeconfig FILE").into())
}

fn production_plan(args: &BootstrapArgs, p: Printer) -> Result<Plan, CommandError> {
    let mut source_env = args.source.env.clone();
    if source_env.is_none() {
        source_env = args.environment.clone();
    }
    let Some(env) = source_env else {
        return Err(anyhow!(
            "which environment? e.g. `kubectl zt bootstrap dev` (a directory under environments/)"
        )
        .into());
    };
    let templates = TemplateSource {
        override_dir: args.source.templates.clone(),
    };
    let tenant = zt::tenant::TenantRepo::open(&args.source.tenant.tenant_repo)?;
    let values = zt::tenant::load(&tenant, &env)?;
    let mut source = args.source.clone();
    source.env = Some(env);
    let (rendered, _) = inputs::production(
        &source,
        &How {
            example: false,
            skip_secrets: false,
            need_bundle: true,
        },
        &templates,
    )?;
    for w in &rendered.warnings {
        p.warn(w);
    }
    let pins = args
        .cert_fingerprints
        .iter()
        .map(|f| {
            f.parse::<Fingerprint>()
                .map_err(|_| anyhow!("--cert-fingerprint {f}: not a certificate fingerprint (base64 SPKI SHA-256 as Talos prints it, or hex SHA-256)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.argocd_install.as_ref().is_some_and(|f| !f.is_file()) {
        return Err(anyhow!("--argocd-install: no such file").into());
    }
    let mut endpoints = std::collections::BTreeMap::new();
    for spec in &args.talos_endpoints {
        let Some((node, addr)) = spec.split_once('=') else {
            return Err(anyhow!("--talos-endpoint {spec}: expected NODE=HOST[:PORT]").into());
        };
        if !values.machines().any(|m| m.name == node) {
            return Err(anyhow!(
                "--talos-endpoint {spec}: no node `{node}` in environment {}",
                values.env
            )
            .into());
        }
        let endpoint = addr
            .parse::<zt::talos::api::TalosEndpoint>()
            .map_err(|e| anyhow!("--talos-endpoint {spec}: {e}"))?;
        endpoints.insert(node.to_string(), endpoint);
    }
    production::plan(ProductionInputs {
        values: &values,
        rendered: &rendered,
        platform_repo: args.source.platform_repo.as_deref(),
        argocd_install: args.argocd_install.clone(),
        pins,
        endpoints,
        client_options: ClientOptions::default(),
    })
    .map_err(|e| anyhow!(e).into())
}

fn execute(
    args: &BootstrapArgs,
    plan: &Plan,
    mut cache: StageCache,
    p: Printer,
) -> Result<Outcome, CommandError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let progress = Arc::new(LineProgress::new(p.verbose > 0));
    let mut ctx = Ctx::new(
        timing(args),
        progress,
        kubeconfig_path(args.kubeconfig.as_ref())?,
        None,
    );
    p.info(&format!(
        "bootstrap {} {}: {} stages (cache {})",
        plan.mode,
        plan.target,
        plan.stages.len(),
        args.cache.display()
    ));
    let interrupt = async {
        // If the signal handler cannot be installed, never interrupt (the default handler
        // still kills the process).
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match runtime.block_on(run(plan, &mut ctx, &mut cache, interrupt)) {
        Ok(summary) => {
            println!(
                "bootstrap complete: {} stages done, {} skipped as done earlier, in {}",
                summary.done.len(),
                summary.cached.len(),
                zt::bootstrap::progress::format_elapsed(summary.elapsed)
            );
            Ok(Outcome::Success)
        }
        Err(e @ RunError::Stage { .. }) => Err(anyhow!(
            "{e}\nfinished stages are recorded in {}; rerun the same command to resume",
            args.cache.display()
        )
        .into()),
        Err(e) => Err(anyhow!(e).into()),
    }
}
