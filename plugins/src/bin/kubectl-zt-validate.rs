//! `kubectl-zt-validate`: kubectl plugin for `kubectl zt validate`.

fn main() -> std::process::ExitCode {
    zt_cli::main(zt_cli::Plugin::Command("validate"))
}
