//! How the plugins talk to people: exit codes, errors, warnings and progress, in one place.

use std::process::ExitCode;

use zt::diag::Diagnostics;

/// Success.
pub const OK: u8 = 0;
/// Failure, or differences found (`--check`). (Usage errors exit 2: clap's own code, passed
/// through in `main`.)
pub const FAILURE: u8 = 1;

/// The outcome of a command.
#[derive(Debug)]
pub enum Outcome {
    Success,
    /// The command ran and found what the user asked about (differences): exit 1, no error line.
    Differences,
}

impl Outcome {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::from(OK),
            Outcome::Differences => ExitCode::from(FAILURE),
        }
    }
}

/// Output verbosity chosen by `-q` / `-v`.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: u8,
}

impl Printer {
    /// A warning on stderr; `-q` asks for errors only, so it hides warnings too.
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    /// A progress or detail line on stderr, hidden with `-q`.
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, msg: &str) {
        if self.verbose > 0 {
            eprintln!("{msg}");
        }
    }
}

/// Input problems: one `file:line:col: field: message` line each, then a summary.
pub fn print_diagnostics(d: &Diagnostics, what: &str) {
    print_input_problems(d, what, "nothing was written");
}

/// Input problems, then a summary saying what did not happen because of them.
pub fn print_input_problems(d: &Diagnostics, what: &str, consequence: &str) {
    for line in d.iter() {
        eprintln!("{line}");
    }
    let n = d.len();
    eprintln!(
        "error: {n} problem{} in {what}; {consequence}",
        if n == 1 { "" } else { "s" }
    );
}

/// Any other failure, with its chain of causes.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Why uncommitted preview patches do not reach Argo CD, and what to do about it.
pub fn work_tree_invisible_to_argocd(head: &str, branch: &str) -> String {
    format!(
        "Argo CD reads git, not this work tree: with repoURL file:///repo it syncs commit {}, so \
these uncommitted edits are invisible to it (only manifests applied with kubectl, such as the \
root Application, are read from the work tree). Run with --commit to record the patched tree on \
branch {branch} and pin targetRevision to it.",
        zt::git::short(head)
    )
}

/// What to do after `preview-patch --commit`.
pub fn commit_next_steps(branch: &str) -> String {
    format!(
        "Argo CD resolves targetRevision {branch} through file:///repo. Apply the root Application \
from that branch, in the platform repo:\n  git show {branch}:./bootstrap/argocd/overlays/preview/root.yaml | kubectl apply -f -"
    )
}
