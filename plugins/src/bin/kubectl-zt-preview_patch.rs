//! `kubectl-zt-preview_patch`: kubectl plugin for `kubectl zt preview-patch` (kubectl maps the
//! dash in a command name to an underscore in the file name).

fn main() -> std::process::ExitCode {
    zt_cli::main(zt_cli::Plugin::Command("preview-patch"))
}
