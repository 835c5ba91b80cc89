//! `kubectl zt render`

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, anyhow};
use zt::render::{OutputTree, TemplateSource, check, stream};

use crate::CommandError;
use crate::args::{RenderArgs, RenderMode};
use crate::inputs::{self, How};
use crate::messages::{Outcome, Printer};

pub fn run(args: &RenderArgs, p: Printer) -> Result<Outcome, CommandError> {
    let templates = TemplateSource {
        override_dir: args.source.templates.clone(),
    };
    let how = How {
        example: args.example,
        skip_secrets: args.skip_secrets,
        need_bundle: args.output.is_none(),
    };
    let (rendered, what) = match args.source.mode {
        RenderMode::Production => inputs::production(&args.source, &how, &templates)?,
        RenderMode::Preview => inputs::preview(&args.source, &how, &templates)?,
    };
    for w in &rendered.warnings {
        p.warn(w);
    }
    if args.output.is_some() {
        let text = stream::apply_stream(&rendered, args.include_secrets)?;
        std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to stdout")?;
        return Ok(Outcome::Success);
    }
    if args.check {
        return check_against(&rendered.tree, &args.out, p);
    }
    let report = rendered
        .tree
        .write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    for stale in &report.removed_stale {
        p.warn(&format!(
            "removed {}, left by a render that was interrupted (it may have held secrets)",
            stale.display()
        ));
    }
    if p.quiet {
        return Ok(Outcome::Success);
    }
    println!("rendered {what} into {}:", args.out.display());
    for (f, file) in rendered.tree.iter() {
        println!(
            "  {}{}",
            f.display(),
            if file.secret { "  (0600)" } else { "" }
        );
    }
    Ok(Outcome::Success)
}

fn check_against(tree: &OutputTree, out: &Path, p: Printer) -> Result<Outcome, CommandError> {
    if !out.is_dir() {
        return Err(anyhow!(
            "--check: {} does not exist; render into it first (without --check)",
            out.display()
        )
        .into());
    }
    let changes = check::compare(tree, out).map_err(|e| {
        anyhow!(
            "--check: {e}. A render writes only regular files there: remove it, or render \
             without --check to replace the output"
        )
    })?;
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
