//! `kubectl zt bootstrap`

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use zt::bootstrap::cache::StageCache;
use zt::bootstrap::preview::{self, PreviewInputs};
use zt::bootstrap::production::{self, MaintenanceTrust, ProductionInputs};
use zt::bootstrap::stages::preview_patch::PatchTarget;
use zt::bootstrap::{Ctx, Plan, RunError, Timing, run};
use zt::credentials::EnvSnapshot;
use zt::progress::LineProgress;
use zt::render::TemplateSource;
use zt::talos::api::{ClientOptions, Fingerprint};

use crate::CommandError;
use crate::args::{BootstrapArgs, RenderMode};
use crate::commands::bare_metal;
use crate::inputs::{self, How};
use crate::messages::{Outcome, Printer};

pub fn run_command(args: &BootstrapArgs, p: Printer) -> Result<Outcome, CommandError> {
    let (mut plan, context) = match args.source.mode {
        RenderMode::Production => {
            if !args.load_images.is_empty() {
                return Err(anyhow!(
                    "--load-image loads images into a Kind cluster: it needs --mode preview"
                )
                .into());
            }
            (production_plan(args, p)?, None)
        }
        RenderMode::Preview => preview_plan(args, p)?,
    };
    add_platform_stages(&mut plan, args, p)?;
    let cache = StageCache::open(&args.cache, &plan.fingerprint(), args.fresh)
        .map_err(|e| CommandError::Other(e.into()))?;
    if args.dry_run {
        return Ok(print_dry_run(&plan, &cache));
    }
    confirm_overwrites(args, &plan, &cache)?;
    execute(args, &plan, cache, p, context)
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
    zt::kube::kubeconfig::files_from_environment()
        .into_iter()
        .next()
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
    let Some(values) = rendered.values.as_ref() else {
        return Err(anyhow!("the render loaded no environment values").into());
    };
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
        values,
        rendered: &rendered,
        platform_repo: args.source.platform_repo.as_deref(),
        argocd_install: args.argocd_install.clone(),
        maintenance: if !pins.is_empty() {
            MaintenanceTrust::Pinned(pins)
        } else if args.insecure_skip_verify {
            MaintenanceTrust::Unverified
        } else {
            MaintenanceTrust::Refuse
        },
        endpoints,
        client_options: ClientOptions::default(),
        bare_metal: bare_metal::inputs(&args.bare_metal, values)?,
    })
    .map_err(|e| anyhow!(e).into())
}

/// The preview plan and the kubeconfig context it works in (`kind-<cluster>`, the one kind
/// writes).
pub(crate) fn preview_plan(
    args: &BootstrapArgs,
    p: Printer,
) -> Result<(Plan, Option<String>), CommandError> {
    if args.environment.is_some() {
        return Err(anyhow!(
            "an environment is a production argument: preview brings up the Kind cluster --cluster-name (default zerotouch-preview)"
        )
        .into());
    }
    if !args.cert_fingerprints.is_empty()
        || args.insecure_skip_verify
        || !args.talos_endpoints.is_empty()
        || args.bare_metal.enabled()
        || !args.bare_metal.stray().is_empty()
    {
        return Err(anyhow!(
            "--cert-fingerprint, --insecure-skip-verify, --talos-endpoint and the bare-metal flags are about Talos nodes: production only"
        )
        .into());
    }
    if args.argocd_install.as_ref().is_some_and(|f| !f.is_file()) {
        return Err(anyhow!("--argocd-install: no such file").into());
    }
    let templates = TemplateSource {
        override_dir: args.source.templates.clone(),
    };
    let ci = inputs::preview_in_ci(&args.source);
    // Locally, Argo CD reads the checkout Kind mounts at /repo: the patched platform is
    // committed to a branch there and the root Application tracks that branch. In CI it reads
    // GitHub at the checkout's commit (the render's default).
    let revision = (!ci).then_some(preview::BRANCH);
    let (rendered, _) = inputs::preview_at(
        &args.source,
        &How {
            example: false,
            skip_secrets: false,
            need_bundle: false,
        },
        &templates,
        revision,
    )?;
    for w in &rendered.warnings {
        p.warn(w);
    }
    let dir = args
        .source
        .platform_repo
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let platform_repo = dir
        .canonicalize()
        .with_context(|| format!("--platform-repo {}", dir.display()))?;
    let patch_target = match revision {
        Some(branch) => PatchTarget::Branch(branch.to_string()),
        None => PatchTarget::Remote {
            url: inputs::remote_platform_url(&args.source, &EnvSnapshot::from_process())?,
        },
    };
    let plan = preview::plan(PreviewInputs {
        rendered: &rendered,
        cluster: args.source.cluster_name.clone(),
        platform_repo: &platform_repo,
        argocd_install: args.argocd_install.clone(),
        load_images: args.load_images.clone(),
        patch_target,
        kind_program: preview::KIND.into(),
    })
    .map_err(|e| anyhow!(e))?;
    Ok((plan, Some(format!("kind-{}", args.source.cluster_name))))
}

/// Asks before a run that would overwrite disks (the stages not already done), unless --yes.
fn confirm_overwrites(
    args: &BootstrapArgs,
    plan: &Plan,
    cache: &StageCache,
) -> Result<(), CommandError> {
    let disks: Vec<String> = plan
        .stages
        .iter()
        .filter(|s| !(s.cacheable() && cache.is_done(&s.name())))
        .filter_map(|s| s.overwrites())
        .collect();
    if disks.is_empty() || args.bare_metal.yes {
        return Ok(());
    }
    let list = disks
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n");
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!(
            "this run would overwrite these disks (nodes that already answer the Talos API are \
             skipped):\n{list}\nnot asking without a terminal: rerun with --yes to confirm; nothing was done"
        )
        .into());
    }
    eprint!(
        "this run OVERWRITES these disks with Talos (nodes that already answer the Talos API are \
         skipped and keep theirs):\n{list}\ntype yes to continue: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    if answer.trim() != "yes" {
        return Err(anyhow!("not confirmed; nothing was done").into());
    }
    Ok(())
}

fn execute(
    args: &BootstrapArgs,
    plan: &Plan,
    mut cache: StageCache,
    p: Printer,
    context: Option<String>,
) -> Result<Outcome, CommandError> {
    let runtime = super::runtime()?;
    let progress = Arc::new(LineProgress::new(p.verbose > 0));
    let mut ctx = Ctx::new(
        timing(args),
        progress,
        kubeconfig_path(args.kubeconfig.as_ref())?,
        context,
    );
    ctx.parallel = usize::from(args.parallel);
    p.info(&format!(
        "bootstrap {} {}: {} stages (cache {})",
        plan.mode,
        plan.target,
        plan.stages.len(),
        args.cache.display()
    ));
    let summary = run_stages(&runtime, plan, &mut ctx, &mut cache, &args.cache)?;
    println!(
        "bootstrap complete: {} stages done, {} skipped as done earlier, in {}",
        summary.done.len(),
        summary.cached.len(),
        zt::progress::format_duration(summary.elapsed)
    );
    Ok(Outcome::Success)
}

/// `--dry-run`: the plan, what each stage would send, which are done already; nothing else.
pub(crate) fn print_dry_run(plan: &Plan, cache: &StageCache) -> Outcome {
    print!("{}", plan.describe(Some(cache)));
    println!("dry run: nothing was sent, nothing was written");
    Outcome::Success
}

/// Runs `plan`'s stages until done, a stage fails or Ctrl-C; a failure says how to resume.
pub(crate) fn run_stages(
    runtime: &tokio::runtime::Runtime,
    plan: &Plan,
    ctx: &mut Ctx,
    cache: &mut StageCache,
    cache_path: &std::path::Path,
) -> Result<zt::bootstrap::RunSummary, CommandError> {
    let interrupt = async {
        // If the signal handler cannot be installed, never interrupt (the default handler
        // still kills the process).
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match runtime.block_on(run(plan, ctx, cache, interrupt)) {
        Ok(summary) => Ok(summary),
        Err(e @ RunError::Stage { .. }) => Err(anyhow!(
            "{e}\nfinished stages are recorded in {}; rerun the same command to resume",
            cache_path.display()
        )
        .into()),
        Err(e) => Err(anyhow!(e).into()),
    }
}

/// `--push-parameters` and the gates: the Parameter Store push right after the render (before
/// anything that reads the parameters through External Secrets is applied) and the platform
/// gates last (unless `--no-gates`). The mapping is resolved now, so an unset variable stops the run before its first
/// stage and `--dry-run` lists the paths.
fn add_platform_stages(
    plan: &mut Plan,
    args: &BootstrapArgs,
    p: Printer,
) -> Result<(), CommandError> {
    use zt::bootstrap::stages::gates::PlatformGates;
    use zt::bootstrap::stages::parameters::PushParameters;
    use zt::parameters::{mapping, names, ssm};

    let preview = args.source.mode == RenderMode::Preview;
    if args.push_parameters {
        let mapping = mapping::load(&args.source.tenant.tenant_repo)?;
        let mapping = if preview {
            mapping.for_preview()
        } else {
            mapping
        };
        let prefix = args
            .parameters_prefix
            .clone()
            .unwrap_or_else(|| mapping.prefix.clone());
        names::check_prefix(&prefix).map_err(|m| anyhow!("--parameters-prefix {prefix}: {m}"))?;
        let env = |k: &str| std::env::var(k).ok();
        let resolved = zt::parameters::resolve(&mapping, &prefix, &env).map_err(|e| {
            anyhow::Error::new(e)
                .context("--push-parameters: the parameters cannot be filled in; nothing was run")
        })?;
        let region_env = std::env::var("AWS_REGION").ok();
        let region = ssm::region(None, region_env.as_deref()).map_err(anyhow::Error::new)?;
        let at = plan
            .stages
            .iter()
            .position(|s| s.name() == "render")
            .map_or(0, |i| i + 1);
        plan.stages.insert(
            at,
            Box::new(PushParameters {
                plan: resolved,
                target: ssm::Target {
                    region,
                    endpoint_url: args.ssm_endpoint_url.clone(),
                },
            }),
        );
    }
    if !args.no_gates {
        let expected = match &args.source.platform_repo {
            None => None,
            Some(repo) => {
                // The overlay the rendered root Application points at, found the way the
                // render finds it.
                let overlay = if preview {
                    crate::inputs::overlay_path(
                        &args.source,
                        zt::render::PREVIEW_OVERLAY,
                        "preview",
                    )?
                } else {
                    let env = args.source.env.as_deref().or(args.environment.as_deref());
                    crate::inputs::overlay_path(
                        &args.source,
                        zt::render::DEFAULT_OVERLAY,
                        env.unwrap_or_default(),
                    )?
                };
                Some(
                    super::status::expected_applications(repo, &overlay, p).context(
                        "the platform gates: reading the expected Applications from the platform repo (--no-gates skips the gates)",
                    )?,
                )
            }
        };
        let tolerated = if preview {
            zt::status::PREVIEW_TOLERATED
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            Vec::new()
        };
        plan.stages.push(Box::new(PlatformGates {
            options: zt::status::Options {
                argocd_namespace: "argocd".into(),
                root: zt::bootstrap::platform::ROOT_APP.into(),
                expected,
                tolerated,
                secret_store: "aws-parameter-store".into(),
                timeout: args.timeout,
            },
        }));
    }
    Ok(())
}
