//! `kubectl zt ci`

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use clap::Parser;
use zt::bootstrap::cache::StageCache;
use zt::bootstrap::{self, Ctx, Plan, Timing};
use zt::ci::{DeleteKindCluster, DeployStage, StageResult, TestsStage, step_summary};
use zt::deploy::config::Overrides;
use zt::deploy::image::ImageArg;
use zt::deploy::{self, Options, Request};
use zt::progress::{LineProgress, Progress, StageStatus, format_duration};
use zt::testjob::{RunOptions, TestOverrides};

use crate::CommandError;
use crate::args::{CiArgs, Cli, Command};
use crate::messages::{Outcome, Printer};

pub fn run_command(args: &CiArgs, p: Printer) -> Result<Outcome, CommandError> {
    let (plan, context) = plan(args, p)?;
    let cache = StageCache::open(&args.cache, &plan.fingerprint(), args.fresh)
        .map_err(|e| CommandError::Other(e.into()))?;
    if args.dry_run {
        return Ok(super::bootstrap::print_dry_run(&plan, &cache));
    }
    execute(args, &plan, cache, p, context)
}

/// The stages: the preview platform (with --platform-repo), deploy, tests, cleanup.
fn plan(args: &CiArgs, p: Printer) -> Result<(Plan, Option<String>), CommandError> {
    let deploy_plan = deploy::prepare(&Request {
        root: &args.root,
        overrides: Overrides {
            service: args.service.clone(),
            namespace: args.namespace.clone(),
            timeout: args.timeout,
        },
        env: &args.env,
        claims_dir: None,
        image: &args.image,
        claim_names: &args.claim,
        write: false,
    })
    .map_err(CommandError::InputNotApplied)?;
    for s in &deploy_plan.skipped {
        p.warn(&format!("skipped {s}"));
    }
    let service = deploy_plan.service.clone();
    // The tests run what the deploy rolled out: the claims' new image when one changed.
    let image = deploy_plan
        .changes
        .first()
        .map(|c| c.to.clone())
        .or_else(|| {
            matches!(deploy_plan.image, Some(ImageArg::Full(_))).then(|| args.image.clone())
        });

    let (mut stages, context) = match &args.platform_repo {
        Some(dir) => {
            let (platform, context) = preview_platform(args, dir, image.as_deref(), p)?;
            (platform.stages, context)
        }
        None => (Vec::new(), args.context.clone()),
    };
    // Services this one depends on go first, as their claims are written, when their claims
    // are in this repository; the others must already run.
    for name in &service.dependencies.external {
        match deploy::prepare_dependency(&args.root, &service, name, &args.env)
            .map_err(CommandError::InputNotApplied)?
        {
            Some(plan) => stages.push(Box::new(DeployStage {
                stage: format!("deploy/{name}"),
                options: Options {
                    health: !args.skip_health,
                    ..Options::new(service.wait_timeout)
                },
                plan,
            })),
            None => p.warn(&format!(
                "dependencies.external lists {name}, whose claims are not in this repository (platform/{name}/overlays/{}/): this run does not deploy it, so it must already run",
                args.env
            )),
        }
    }
    stages.push(Box::new(DeployStage {
        stage: "deploy".into(),
        options: Options {
            sync_platform: args.sync_platform,
            health: !args.skip_health,
            ..Options::new(service.wait_timeout)
        },
        plan: deploy_plan,
    }));
    stages.push(Box::new(TestsStage {
        root: args.root.clone(),
        overrides: TestOverrides {
            command: Vec::new(),
            path: None,
            timeout: args.test_timeout,
            skip_migrations: args.no_migrations,
        },
        image,
        options: RunOptions {
            keep: args.keep,
            ..RunOptions::default()
        },
        run_id: zt::testjob::spec::run_id(),
        service: service.clone(),
    }));
    if args.cleanup {
        stages.push(Box::new(DeleteKindCluster {
            cluster: args.cluster_name.clone(),
            kind_program: bootstrap::preview::KIND.into(),
        }));
    }
    Ok((
        Plan {
            mode: "ci".into(),
            target: format!(
                "service {} in namespace {}",
                service.name, service.namespace
            ),
            stages,
        },
        context,
    ))
}

/// The preview bootstrap's plan, exactly as `kubectl zt bootstrap --mode preview` makes it,
/// with the CI-built image loaded into the Kind nodes.
fn preview_platform(
    args: &CiArgs,
    dir: &std::path::Path,
    image: Option<&str>,
    p: Printer,
) -> Result<(Plan, Option<String>), CommandError> {
    let mut argv: Vec<String> = [
        "kubectl-zt",
        "bootstrap",
        "--mode",
        "preview",
        "--cluster-name",
        &args.cluster_name,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.push("--platform-repo".into());
    argv.push(dir.display().to_string());
    if let Some(image) = image {
        argv.extend(["--load-image".into(), image.to_string()]);
    }
    let cli = Cli::try_parse_from(&argv).map_err(|e| anyhow!("--platform-repo: {e}"))?;
    let Command::Bootstrap(bootstrap) = cli.command else {
        return Err(anyhow!("--platform-repo: not a bootstrap command line").into());
    };
    let (plan, context) = super::bootstrap::preview_plan(&bootstrap, p)?;
    Ok((plan, args.context.clone().or(context)))
}

/// Progress on stderr, and how each stage ended, for the summary.
struct Recorded {
    lines: LineProgress,
    ended: Mutex<Vec<(String, StageStatus)>>,
}

impl Progress for Recorded {
    fn start(&self, step: &str, what: &str) {
        self.lines.start(step, what);
    }
    fn status(&self, step: &str, message: &str) {
        self.lines.status(step, message);
    }
    fn done(&self, step: &str, message: &str) {
        self.lines.done(step, message);
    }
    fn detail(&self, step: &str, message: &str) {
        self.lines.detail(step, message);
    }
    fn warn(&self, step: &str, message: &str) {
        self.lines.warn(step, message);
    }
    fn finish(&self, step: &str, status: &StageStatus, elapsed: Duration) {
        self.lines.finish(step, status, elapsed);
        if let Ok(mut ended) = self.ended.lock() {
            ended.push((step.to_string(), status.clone()));
        }
    }
}

fn execute(
    args: &CiArgs,
    plan: &Plan,
    mut cache: StageCache,
    p: Printer,
    context: Option<String>,
) -> Result<Outcome, CommandError> {
    let runtime = super::runtime()?;
    let progress = Arc::new(Recorded {
        lines: LineProgress::new(p.verbose > 0),
        ended: Mutex::new(Vec::new()),
    });
    let mut ctx = Ctx::new(
        Timing::default(),
        progress.clone(),
        super::bootstrap::kubeconfig_path(args.kubeconfig.as_ref())?,
        context,
    );
    p.info(&format!(
        "ci {}: {} stages (cache {})",
        plan.target,
        plan.stages.len(),
        args.cache.display()
    ));
    let result = super::bootstrap::run_stages(&runtime, plan, &mut ctx, &mut cache, &args.cache);
    let ended = progress.ended.lock().map(|e| e.clone()).unwrap_or_default();
    write_step_summary(plan, &ended, p);
    let summary = result?;
    println!(
        "ci passed: {} stages done, {} skipped as done earlier, in {}",
        summary.done.len(),
        summary.cached.len(),
        format_duration(summary.elapsed)
    );
    Ok(Outcome::Success)
}

/// Appends the table of stages to `GITHUB_STEP_SUMMARY` when the CI provides one.
fn write_step_summary(plan: &Plan, ended: &[(String, StageStatus)], p: Printer) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()) else {
        return;
    };
    let rows: Vec<(String, StageResult)> = plan
        .stages
        .iter()
        .map(|s| {
            let name = s.name();
            let result = match ended.iter().rev().find(|(n, _)| *n == name) {
                Some((_, StageStatus::Done)) => StageResult::Done,
                Some((_, StageStatus::Cached)) => StageResult::Cached,
                Some((_, StageStatus::Failed(why))) => StageResult::Failed(why.clone()),
                None => StageResult::NotRun,
            };
            (name, result)
        })
        .collect();
    let text = step_summary(&format!("kubectl zt ci: {}", plan.target), &rows);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        p.warn(&format!(
            "GITHUB_STEP_SUMMARY: cannot append the summary: {e}"
        ));
    }
}
