//! `kubectl-zt-secrets`: kubectl plugin for `kubectl zt secrets`.

fn main() -> std::process::ExitCode {
    zt_cli::main(zt_cli::Plugin::Command("secrets"))
}
