//! `kubectl-zt`: kubectl plugin for all commands.

fn main() -> std::process::ExitCode {
    zt_cli::main(zt_cli::Plugin::All)
}
