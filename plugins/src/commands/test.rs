//! `kubectl zt test`

use std::io::Write;

use anyhow::Context;
use zt::deploy::config::{self, Overrides};
use zt::kube::{self, ClusterAccess};
use zt::progress::{LineProgress, format_duration};
use zt::testjob::{self, RunOptions, TestOverrides};

use crate::CommandError;
use crate::args::TestArgs;
use crate::messages::{Outcome, Printer};

pub fn run(args: &TestArgs, p: Printer) -> Result<Outcome, CommandError> {
    let service = config::load(
        &args.root,
        &Overrides {
            service: args.service.clone(),
            namespace: args.namespace.clone(),
            timeout: None,
        },
    )
    .map_err(CommandError::InputNotApplied)?;
    let overrides = TestOverrides {
        command: args.command.clone(),
        path: args.path.clone(),
        timeout: args.timeout,
        skip_migrations: args.no_migrations,
    };
    let run_id = testjob::spec::run_id();

    if args.dry_run {
        let image = args.image.clone().unwrap_or_else(|| {
            format!(
                "<the image of Deployment {}/{}>",
                service.namespace, service.name
            )
        });
        let plan = testjob::plan(&service, &args.root, &image, &overrides, &run_id);
        for w in &plan.warnings {
            p.warn(w);
        }
        print!("{}", plan.to_yaml().context("printing the Jobs")?);
        p.info(&format!(
            "dry run: {} Jobs for {} in namespace {}; no cluster was contacted",
            plan.jobs.len(),
            service.name,
            service.namespace
        ));
        return Ok(Outcome::Success);
    }

    let access = ClusterAccess {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    let runtime = super::runtime()?;
    let progress = LineProgress::new(p.verbose > 0);
    let opts = RunOptions {
        keep: args.keep,
        ..RunOptions::default()
    };
    let print_line = |line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    };
    runtime.block_on(async {
        let cluster = kube::connect(&access).await.map_err(anyhow::Error::from)?;
        let image = match &args.image {
            Some(i) => i.clone(),
            None => testjob::deployed_image(&cluster, &service.namespace, &service.name)
                .await
                .map_err(anyhow::Error::from)?,
        };
        let plan = testjob::plan(&service, &args.root, &image, &overrides, &run_id);
        for w in &plan.warnings {
            p.warn(w);
        }
        for job in &plan.jobs {
            p.info(&format!(
                "==> {} in Job {}/{} ({image})",
                job.kind.word(),
                job.namespace,
                job.name
            ));
            let run = testjob::run_job(&cluster, job, opts, &progress, &print_line);
            let done = tokio::select! {
                done = run => done.map_err(anyhow::Error::from)?,
                () = interrupted() => {
                    // Ctrl-C: the Job would go on running in the cluster; take it away unless
                    // it is to be kept.
                    if !args.keep {
                        testjob::clean_up(&cluster, job, &progress).await;
                    }
                    return Err(anyhow::anyhow!(
                        "interrupted: {} Job {}/{} {}",
                        job.kind.word(),
                        job.namespace,
                        job.name,
                        if args.keep { "is kept" } else { "was deleted" }
                    ));
                }
            };
            p.info(&format!(
                "{} passed in {}{}",
                job.kind.word(),
                format_duration(done.elapsed),
                if done.kept { " (Job kept)" } else { "" }
            ));
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(Outcome::Success)
}

/// Resolves on Ctrl-C; never when the handler cannot be installed (the default one still
/// ends the process).
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
