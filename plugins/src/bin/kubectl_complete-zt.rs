//! `kubectl_complete-zt`: completions for `kubectl zt <TAB>` (kubectl 1.26+ runs it).

fn main() -> std::process::ExitCode {
    zt_cli::complete::main()
}
