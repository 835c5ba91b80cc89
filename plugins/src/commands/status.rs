//! `kubectl zt status`

use std::io::Write;

use anyhow::Context;
use zt::kube::ClusterAccess;
use zt::status::{self, Options, PREVIEW_TOLERATED, Report};

use crate::CommandError;
use crate::args::{StatusArgs, StatusFormat};
use crate::messages::{Outcome, Printer};

/// The Applications the root overlay of `repo` creates, said with `-v`.
pub(crate) fn expected_applications(
    repo: &std::path::Path,
    overlay: &str,
    p: Printer,
) -> Result<Vec<String>, status::expected::ExpectedError> {
    let names = status::expected::applications(repo, overlay)?;
    p.detail(&format!(
        "expected Applications ({overlay}): {}",
        names.join(", ")
    ));
    Ok(names)
}

pub fn run(args: &StatusArgs, p: Printer) -> Result<Outcome, CommandError> {
    let expected = match &args.platform_repo {
        None => None,
        Some(repo) => {
            let overlay = status::expected::root_overlay(
                args.overlay.as_deref(),
                args.preview,
                args.env.as_deref(),
            )
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--platform-repo needs --env ENV (or --overlay PATH, or --preview) to know which overlay the root Application syncs"
                )
            })?;
            Some(
                expected_applications(repo, &overlay, p)
                    .context("reading the expected Applications from the platform repo")?,
            )
        }
    };
    let mut tolerated: Vec<String> = Vec::new();
    if args.preview {
        tolerated.extend(PREVIEW_TOLERATED.iter().map(|s| s.to_string()));
    }
    tolerated.extend(args.tolerate.iter().cloned());
    let options = Options {
        argocd_namespace: args.argocd_namespace.clone(),
        root: args.root.clone(),
        expected,
        tolerated,
        secret_store: args.secret_store.clone(),
        timeout: args.timeout,
    };
    let access = ClusterAccess {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    let runtime = super::runtime()?;
    let report = runtime.block_on(async {
        let cluster = zt::kube::connect(&access).await?;
        Ok::<Report, zt::kube::KubeError>(status::run(&cluster, &options, &Lines(p)).await)
    });
    let report = report.map_err(anyhow::Error::new)?;
    if args.output == Some(StatusFormat::Json) {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(anyhow::Error::new)
            .and_then(|()| writeln!(out).map_err(anyhow::Error::new))
            .context("writing the report to stdout")?;
    }
    print_report(&report, p);
    Ok(if report.ready {
        Outcome::Success
    } else {
        Outcome::Differences
    })
}

/// Progress on stderr: each gate as it starts, each new reason it is still waiting (with -v).
struct Lines(Printer);

impl status::Progress for Lines {
    fn waiting(&self, gate: &str, what: &str) {
        self.0.info(&format!("{gate}: waiting for {what}"));
    }

    fn pending(&self, gate: &str, why: &str) {
        self.0.detail(&format!("{gate}: {why}"));
    }
}

/// The verdict of every gate on stderr; what is wrong in detail.
fn print_report(r: &Report, p: Printer) {
    for g in &r.gates {
        if g.ready {
            let tolerated: Vec<&str> = g
                .objects
                .iter()
                .filter(|o| o.verdict.state == status::State::Tolerated)
                .map(|o| o.verdict.name.as_str())
                .collect();
            let mut line = format!("✓ {}: {} ready", g.name, g.objects.len());
            if !tolerated.is_empty() {
                line.push_str(&format!(
                    " ({} tolerated: {})",
                    tolerated.len(),
                    tolerated.join(", ")
                ));
            }
            p.info(&line);
            continue;
        }
        // Failures are shown even with -q: they are the answer.
        eprintln!("✗ {}: {}", g.name, g.problem);
        for o in g.objects.iter().filter(|o| !o.verdict.state.ok()) {
            eprintln!(
                "  {} {}: {}",
                o.verdict.kind, o.verdict.name, o.verdict.detail
            );
            for c in &o.conditions {
                eprintln!("    condition {c}");
            }
            for e in &o.events {
                eprintln!("    event {e}");
            }
        }
    }
    if r.ready {
        p.info("the platform is running");
    }
}
