//! `kubectl zt secrets gen|check`

use anyhow::Context;
use zt::talos::bundle::SecretsBundle;

use crate::CommandError;
use crate::args::{SecretsCheckArgs, SecretsCommand, SecretsGenArgs};
use crate::messages::{Outcome, Printer};

pub fn run(cmd: &SecretsCommand, p: Printer) -> Result<Outcome, CommandError> {
    match cmd {
        SecretsCommand::Gen(a) => generate(a, p),
        SecretsCommand::Check(a) => check(a, p),
    }
}

fn generate(args: &SecretsGenArgs, p: Printer) -> Result<Outcome, CommandError> {
    let bundle = SecretsBundle::generate().context("generating the secrets bundle")?;
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
    SecretsBundle::load(&args.secrets)?;
    p.info(&format!("{}: valid secrets bundle", args.secrets.display()));
    Ok(Outcome::Success)
}
