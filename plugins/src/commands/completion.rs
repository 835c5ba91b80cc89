//! `kubectl zt completion bash|zsh|fish`

use clap::CommandFactory;

use crate::CommandError;
use crate::args::{Cli, CompletionArgs, Shell};
use crate::messages::Outcome;

pub fn run(args: &CompletionArgs) -> Result<Outcome, CommandError> {
    let mut cmd = Cli::command();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "kubectl-zt", &mut std::io::stdout());
    Ok(Outcome::Success)
}
