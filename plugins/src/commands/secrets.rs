//! `kubectl zt secrets gen|check|push`

use std::io::Write;

use anyhow::Context;
use zt::talos::bundle::SecretsBundle;

use crate::CommandError;
use crate::args::{SecretsCheckArgs, SecretsCommand, SecretsGenArgs, SecretsPushArgs};
use crate::inputs::{STDIO, load_bundle};
use crate::messages::{Outcome, Printer};

pub fn run(cmd: &SecretsCommand, p: Printer) -> Result<Outcome, CommandError> {
    match cmd {
        SecretsCommand::Gen(a) => generate(a, p),
        SecretsCommand::Check(a) => check(a, p),
        SecretsCommand::Push(a) => push(a, p),
    }
}

fn generate(args: &SecretsGenArgs, p: Printer) -> Result<Outcome, CommandError> {
    let bundle = SecretsBundle::generate().context("generating the secrets bundle")?;
    if args.out.as_os_str() == STDIO {
        // For a pipe into an encrypter or a secret store: the bundle never touches the disk.
        let text = bundle.to_yaml().context("encoding the secrets bundle")?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("writing the secrets bundle to stdout")?;
        p.info("wrote a new secrets bundle to stdout");
        return Ok(Outcome::Success);
    }
    bundle
        .write_new(&args.out, args.force)
        .map_err(|e| CommandError::Other(e.into()))?;
    p.info(&format!(
        "wrote a new secrets bundle to {} (mode 0600); keep it out of git",
        args.out.display()
    ));
    Ok(Outcome::Success)
}

fn check(args: &SecretsCheckArgs, p: Printer) -> Result<Outcome, CommandError> {
    load_bundle(&args.secrets)?;
    let shown = if args.secrets.as_os_str() == STDIO {
        "<stdin>".into()
    } else {
        args.secrets.display().to_string()
    };
    p.info(&format!("{shown}: valid secrets bundle"));
    Ok(Outcome::Success)
}

fn push(args: &SecretsPushArgs, p: Printer) -> Result<Outcome, CommandError> {
    use zt::parameters::{mapping, names, ssm};

    let mapping = match &args.mapping {
        Some(file) => mapping::load_file(file)?,
        None => mapping::load(&args.tenant.tenant_repo)?,
    };
    let prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| mapping.prefix.clone());
    if let Err(m) = names::check_prefix(&prefix) {
        return Err(anyhow::anyhow!("--prefix {prefix}: {m}").into());
    }
    p.detail(&format!("mapping: {}", mapping.source.display()));
    // The library never reads the process environment itself: the lookup is handed in here.
    let env = |k: &str| std::env::var(k).ok();
    let plan = zt::parameters::resolve(&mapping, &prefix, &env).map_err(|e| {
        anyhow::Error::new(e).context("the parameters cannot be filled in; nothing was sent")
    })?;
    for s in &plan.skipped {
        p.info(&format!(
            "skipped {} (optional; not set: {})",
            s.name,
            s.unset.join(", ")
        ));
    }
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        for param in &plan.parameters {
            writeln!(out, "{}  (from {})", param.name, param.from.join(", "))
                .context("writing to stdout")?;
        }
        p.info(&format!(
            "dry run: {} parameter{} would be pushed as SecureString; nothing was contacted",
            plan.parameters.len(),
            plural(plan.parameters.len())
        ));
        return Ok(Outcome::Success);
    }
    let region_env = std::env::var("AWS_REGION").ok();
    let region =
        ssm::region(args.region.as_deref(), region_env.as_deref()).map_err(anyhow::Error::new)?;
    let target = ssm::Target {
        region,
        endpoint_url: args.endpoint_url.clone(),
    };
    p.info(&format!(
        "pushing {} parameter{} to Parameter Store in {}{}",
        plan.parameters.len(),
        plural(plan.parameters.len()),
        target.region,
        args.endpoint_url
            .as_ref()
            .map(|u| format!(" at {u}"))
            .unwrap_or_default()
    ));
    let runtime = super::runtime()?;
    let mut write_error = None;
    let result = runtime.block_on(async {
        let store = ssm::Ssm::new(target.clone(), &prefix).await;
        zt::parameters::push(&store, &plan, &mut |param, outcome| {
            // Said as it happens (stdout, not a held lock: the push may run on any thread).
            if let Err(e) = writeln!(std::io::stdout(), "{:<9} {}", outcome.as_str(), param.name) {
                write_error.get_or_insert(e);
            }
        })
        .await
    });
    if let Some(e) = write_error {
        return Err(anyhow::Error::new(e).context("writing to stdout").into());
    }
    let outcomes = result.map_err(anyhow::Error::new)?;
    let count = |o: zt::parameters::Outcome| outcomes.iter().filter(|x| **x == o).count();
    p.info(&format!(
        "{} created, {} updated, {} unchanged",
        count(zt::parameters::Outcome::Created),
        count(zt::parameters::Outcome::Updated),
        count(zt::parameters::Outcome::Unchanged)
    ));
    Ok(Outcome::Success)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
