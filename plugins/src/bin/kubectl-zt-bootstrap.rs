//! `kubectl-zt-bootstrap`: kubectl plugin for `kubectl zt bootstrap`.

fn main() -> std::process::ExitCode {
    zt_cli::main(zt_cli::Plugin::Command("bootstrap"))
}
