//! The `kubectl zt` command line: flags ([`args`]), commands ([`commands`]), and how results
//! reach the user ([`messages`]). Every plugin executable is a one-line `main` over [`run`].

pub mod args;
pub mod commands;
pub mod complete;
pub mod inputs;
pub mod messages;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use zt::diag::{Diagnostic, Diagnostics};
use zt::render::RenderError;

use args::{Cli, Command};
use messages::{Outcome, Printer};

/// Why a command failed.
#[derive(Debug)]
pub enum CommandError {
    /// Bad input files: printed as `file:line:col` lines.
    Input(Diagnostics),
    /// Bad input to a command that changes a cluster: as `Input`, and nothing was applied.
    InputNotApplied(Diagnostics),
    Other(anyhow::Error),
}

impl From<Diagnostics> for CommandError {
    fn from(d: Diagnostics) -> Self {
        CommandError::Input(d)
    }
}

impl From<Diagnostic> for CommandError {
    fn from(d: Diagnostic) -> Self {
        CommandError::Input(d.into())
    }
}

impl From<anyhow::Error> for CommandError {
    fn from(e: anyhow::Error) -> Self {
        CommandError::Other(e)
    }
}

impl From<RenderError> for CommandError {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::Input(d) => CommandError::Input(d),
            other => CommandError::Other(other.into()),
        }
    }
}

/// Which executable is running: `kubectl-zt` (all commands) or a per-command plugin.
#[derive(Debug, Clone, Copy)]
pub enum Plugin {
    All,
    /// `kubectl-zt-<name>`: the command name is implied.
    Command(&'static str),
}

/// Runs the plugin with the process arguments.
pub fn main(plugin: Plugin) -> ExitCode {
    restore_sigpipe();
    let argv: Vec<OsString> = std::env::args_os().collect();
    // `make install` links every per-command name to the one `kubectl-zt` binary; the name it
    // was started under says which command it is.
    let plugin = match plugin {
        Plugin::All => argv
            .first()
            .and_then(|a| std::path::Path::new(a).file_name())
            .and_then(|n| n.to_str())
            .and_then(Plugin::from_executable_name)
            .unwrap_or(Plugin::All),
        p => p,
    };
    run(plugin, argv)
}

/// A reader that goes away (`kubectl zt render -o yaml | head`) ends the process quietly, as it
/// does any Unix filter. Rust ignores SIGPIPE, which turns every later `println!` into a panic.
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The commands a per-command plugin executable can stand for, by their name in the file name
/// (`kubectl-zt-preview_patch`: kubectl maps a `-` in a command to `_` in file names).
const COMMANDS: &[(&str, &str)] = &[
    ("render", "render"),
    ("validate", "validate"),
    ("secrets", "secrets"),
    ("preview_patch", "preview-patch"),
    ("deploy", "deploy"),
    ("bootstrap", "bootstrap"),
    ("status", "status"),
    ("test", "test"),
    ("ci", "ci"),
];

impl Plugin {
    /// `kubectl-zt-render` → the render command; `kubectl-zt` or anything else → `None`.
    pub fn from_executable_name(name: &str) -> Option<Plugin> {
        let cmd = name.strip_prefix("kubectl-zt-")?;
        COMMANDS
            .iter()
            .find(|(file, _)| *file == cmd)
            .map(|(_, command)| Plugin::Command(command))
    }
}

/// Runs the plugin with `argv` (argv[0] included).
pub fn run(plugin: Plugin, argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut argv: Vec<OsString> = argv.into_iter().collect();
    // kubectl runs a per-command plugin without the command name; put it back so one parser
    // (and one set of help texts) serves every executable.
    if let Plugin::Command(name) = plugin {
        argv.insert(1.min(argv.len()), name.into());
    }
    if argv.is_empty() {
        argv.push("kubectl-zt".into());
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let printer = Printer {
        quiet: cli.global.quiet,
        verbose: cli.global.verbose,
    };
    let result = match &cli.command {
        Command::Render(a) => commands::render::run(a, printer),
        Command::Validate(a) => commands::validate::run(a, printer),
        Command::Secrets(c) => commands::secrets::run(c, printer),
        Command::Deploy(a) => commands::deploy::run(a, printer),
        Command::Test(a) => commands::test::run(a, printer),
        Command::Ci(a) => commands::ci::run_command(a, printer),
        Command::PreviewPatch(a) => commands::preview_patch::run(a, printer),
        Command::Bootstrap(a) => commands::bootstrap::run_command(a, printer),
        Command::Status(a) => commands::status::run(a, printer),
        Command::Completion(a) => commands::completion::run(a),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(CommandError::Input(d)) => {
            messages::print_diagnostics(&d, "the input");
            Outcome::Differences.exit_code()
        }
        Err(CommandError::InputNotApplied(d)) => {
            messages::print_input_problems(&d, "the input", "nothing was applied");
            Outcome::Differences.exit_code()
        }
        Err(CommandError::Other(e)) => {
            messages::print_error(&e);
            ExitCode::from(messages::FAILURE)
        }
    }
}
