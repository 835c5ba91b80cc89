//! `kubectl-zt-deploy`: kubectl plugin for `kubectl zt deploy`.

fn main() -> std::process::ExitCode {
    zt_cli::main(zt_cli::Plugin::Command("deploy"))
}
