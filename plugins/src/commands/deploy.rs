//! `kubectl zt deploy`

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use zt::bootstrap::stages::images::load_error;
use zt::deploy::config::Overrides;
use zt::deploy::image::ImageArg;
use zt::deploy::{self, DryRun, Options, Plan, Request};
use zt::docker::ImageLoader;
use zt::kube::ClusterAccess;
use zt::progress::{Progress, format_duration};

use crate::CommandError;
use crate::args::{DeployArgs, DryRunMode};
use crate::messages::{Outcome, Printer};

pub fn run(args: &DeployArgs, p: Printer) -> Result<Outcome, CommandError> {
    let plan = deploy::prepare(&Request {
        root: &args.root,
        overrides: Overrides {
            service: args.service.clone(),
            namespace: args.namespace.clone(),
            timeout: args.timeout,
        },
        env: &args.env,
        claims_dir: args.claims.as_deref(),
        image: &args.image,
        claim_names: &args.claim,
        write: args.write,
    })
    .map_err(CommandError::InputNotApplied)?;

    for s in &plan.skipped {
        p.warn(&format!("skipped {s}"));
    }
    for c in &plan.changes {
        p.info(&format!(
            "{} {}: image {} -> {}",
            c.kind, c.name, c.from, c.to
        ));
    }
    if args.write {
        let written = deploy::write_edits(&plan).context("--write")?;
        for f in &written {
            p.info(&format!("wrote {}", f.display()));
        }
        if written.is_empty() {
            p.info("--write: the claim files already name this image");
        }
    }

    let dry_run = match args.dry_run {
        None | Some(DryRunMode::None) => DryRun::None,
        Some(DryRunMode::Client) => DryRun::Client,
        Some(DryRunMode::Server) => DryRun::Server,
    };
    let kind_load = match &args.load_into_kind {
        Some(cluster) => Some((cluster.as_str(), kind_images(&plan)?)),
        None => None,
    };
    if dry_run == DryRun::Client {
        // The objects are the output, like `kubectl apply --dry-run=client -o yaml`.
        let text = deploy::render_objects(&plan).context("printing the objects")?;
        print!("{text}");
        if let Some((cluster, images)) = &kind_load {
            p.info(&format!(
                "client dry run: would load {} from the local Docker engine into the nodes of Kind cluster {cluster}; nothing was loaded",
                images.join(", ")
            ));
        }
        p.info(&format!(
            "client dry run: {} objects for {} in namespace {}; no cluster was contacted",
            plan.objects.len(),
            plan.service.name,
            plan.service.namespace
        ));
        return Ok(Outcome::Success);
    }

    let opts = Options {
        dry_run,
        force_conflicts: args.force_conflicts,
        wait: !args.no_wait,
        sync_platform: args.sync_platform,
        health: !args.skip_health,
        ..Options::new(plan.service.wait_timeout)
    };
    let access = ClusterAccess {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    let reporter = Reporter::new(p);
    let runtime = super::runtime()?;
    if let Some((cluster, images)) = &kind_load {
        if dry_run == DryRun::Server {
            // A server dry run stores nothing; loading an image would change the nodes.
            reporter.warn(
                LOAD,
                &format!(
                    "server dry run: not loading {} into Kind cluster {cluster}",
                    images.join(", ")
                ),
            );
        } else {
            let loaded = runtime.block_on(load_into_kind(images, cluster, &reporter));
            if let Err(e) = loaded {
                reporter.close();
                return Err(e);
            }
        }
    }
    let result = runtime.block_on(deploy::execute(&plan, &access, &opts, &reporter));
    reporter.close();
    let report = result.map_err(|e| CommandError::Other(e.into()))?;
    summarize(&plan, &report, &opts);
    Ok(Outcome::Success)
}

/// The full references the claims get: what must be in the Kind nodes. A tag or digest alone
/// was resolved against each claim's repository by the plan.
fn kind_images(plan: &Plan) -> Result<Vec<String>, CommandError> {
    let mut images: Vec<String> = Vec::new();
    for c in &plan.changes {
        if !images.contains(&c.to) {
            images.push(c.to.clone());
        }
    }
    if images.is_empty() {
        match &plan.image {
            Some(ImageArg::Full(r)) => images.push(r.to_string()),
            other => {
                let other = other.as_ref().map(ToString::to_string).unwrap_or_default();
                return Err(anyhow!(
                    "--load-into-kind: no claim gets the image, so {other} has no repository to load; pass --image a full reference"
                )
                .into());
            }
        }
    }
    Ok(images)
}

/// The step `--load-into-kind` reports under.
const LOAD: &str = "load-image";

/// Loads `images` into every node of Kind cluster `cluster`, before anything is applied.
async fn load_into_kind(
    images: &[String],
    cluster: &str,
    reporter: &Reporter,
) -> Result<(), CommandError> {
    let docker = zt::docker::connect().await.map_err(|e| {
        anyhow!("--load-into-kind: {e}\n  hint: the image is loaded from the local Docker engine; start it (or point DOCKER_HOST=unix://... at it)")
    })?;
    let loader = ImageLoader::new(docker);
    for image in images {
        reporter.start(LOAD, &format!("load {image} into Kind cluster {cluster}"));
        let report = loader
            .load(image, cluster)
            .await
            .map_err(|e| anyhow!("--load-into-kind: {}", load_error(&e)))?;
        let nodes: Vec<&str> = report.nodes.iter().map(|n| n.node.as_str()).collect();
        reporter.done(
            LOAD,
            &format!(
                "loaded {image} ({} bytes) into {}",
                report.archive_bytes,
                nodes.join(", ")
            ),
        );
    }
    Ok(())
}

fn summarize(plan: &Plan, report: &deploy::Report, opts: &Options) {
    let svc = &plan.service;
    let images: Vec<&str> = plan.changes.iter().map(|c| c.to.as_str()).collect();
    match report.dry_run {
        DryRun::Server => println!(
            "server dry run: {} objects for {} in namespace {} validated; nothing was stored",
            report.applied.len(),
            svc.name,
            svc.namespace
        ),
        _ if !opts.wait => println!(
            "applied {} objects for {} in namespace {} ({}); not waiting for readiness (--no-wait)",
            report.applied.len(),
            svc.name,
            svc.namespace,
            images.join(", ")
        ),
        _ => println!(
            "deployed {} to namespace {}: {} is ready after {} ({} objects applied)",
            svc.name,
            svc.namespace,
            images.join(", "),
            format_duration(report.elapsed),
            report.applied.len()
        ),
    }
    if !report.health.is_empty() {
        println!(
            "health checks passed through the API server's service proxy: {}",
            report.health.join(", ")
        );
    }
}

/// Progress on stderr: a spinner with the current wait on a terminal, plain lines otherwise
/// (CI logs), nothing with `-q`.
struct Reporter {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// The last status line printed in plain mode, so a status that says nothing new is silent.
    last_status: Mutex<String>,
}

impl Reporter {
    fn new(p: Printer) -> Self {
        let bar = (!p.quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Reporter {
            bar,
            quiet: p.quiet,
            last_status: Mutex::new(String::new()),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.quiet => eprintln!("{text}"),
            None => {}
        }
    }

    fn close(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn start(&self, _step: &str, msg: &str) {
        self.line(&format!("==> {msg}"));
    }

    fn status(&self, _step: &str, msg: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None => {
                let mut last = self.last_status.lock().unwrap_or_else(|e| e.into_inner());
                if *last != msg {
                    msg.clone_into(&mut last);
                    if !self.quiet {
                        eprintln!("    {msg}");
                    }
                }
            }
        }
    }

    fn done(&self, _step: &str, msg: &str) {
        self.line(&format!("  ✓ {msg}"));
    }

    fn warn(&self, _step: &str, msg: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("warning: {msg}")),
            None => eprintln!("warning: {msg}"),
        }
    }
}
