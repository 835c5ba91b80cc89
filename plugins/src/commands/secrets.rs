//! `kubectl zt secrets gen|check`

use std::io::Write;

use anyhow::Context;
use zt::talos::bundle::SecretsBundle;

use crate::CommandError;
use crate::args::{SecretsCheckArgs, SecretsCommand, SecretsGenArgs};
use crate::inputs::{STDIO, load_bundle};
use crate::messages::{Outcome, Printer};

pub fn run(cmd: &SecretsCommand, p: Printer) -> Result<Outcome, CommandError> {
    match cmd {
        SecretsCommand::Gen(a) => generate(a, p),
        SecretsCommand::Check(a) => check(a, p),
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
