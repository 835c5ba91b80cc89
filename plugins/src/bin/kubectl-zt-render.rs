//! `kubectl-zt-render`: kubectl plugin for `kubectl zt render`.

fn main() -> std::process::ExitCode {
    zt_cli::main(zt_cli::Plugin::Command("render"))
}
