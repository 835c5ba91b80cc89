//! `kubectl_complete-zt`: the completion helper kubectl (1.26+) runs for `kubectl zt <TAB>`.
//!
//! kubectl passes the words after the plugin name, the last one being the word under the cursor
//! (possibly empty), and expects Cobra's `__complete` answer: one candidate per line
//! (`value<TAB>description`), then `:<directive>`. Candidates come from the same clap
//! definitions as the help text; `--env` completes to the environments of the tenant repo.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::args::Cli;

/// Cobra's ShellCompDirective bits.
pub mod directive {
    /// Let the shell complete file names.
    pub const DEFAULT: u32 = 0;
    pub const NO_FILE_COMP: u32 = 4;
    pub const FILTER_DIRS: u32 = 16;
}

/// Candidates and the directive for completing `words` (the last is the partial word).
pub fn complete(prefix_command: Option<&str>, words: &[String]) -> (Vec<String>, u32) {
    let root = Cli::command();
    let mut cmd = &root;
    let (done, current) = match words.split_last() {
        Some((last, rest)) => (rest.to_vec(), last.as_str()),
        None => (Vec::new(), ""),
    };
    let mut done: Vec<String> = done;
    if let Some(name) = prefix_command {
        done.insert(0, name.to_string());
    }

    // Walk the words already typed: descend into subcommands, skip flag values.
    let mut expecting_value_of: Option<clap::Arg> = None;
    let mut tenant_repo: Option<PathBuf> = None;
    for w in &done {
        if let Some(arg) = expecting_value_of.take() {
            if arg.get_id() == "tenant_repo" {
                tenant_repo = Some(PathBuf::from(w));
            }
            continue;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if let Some(arg) = find_long(cmd, name) {
                if let (Some(v), "tenant_repo") = (inline, arg.get_id().as_str()) {
                    tenant_repo = Some(PathBuf::from(v));
                }
                if takes_value(&arg) && inline.is_none() {
                    expecting_value_of = Some(arg);
                }
            }
        } else if !w.starts_with('-')
            && let Some(sub) = cmd.find_subcommand(w)
        {
            cmd = sub;
        }
    }

    if let Some(arg) = expecting_value_of {
        if cmd.get_name() == "deploy" && arg.get_id() == "env" {
            return (
                deploy_envs(Path::new("."), current),
                directive::NO_FILE_COMP,
            );
        }
        return complete_value(&arg, current, tenant_repo.as_deref());
    }
    if current.starts_with('-') {
        let mut out = Vec::new();
        for a in cmd
            .get_arguments()
            .chain(root.get_arguments().filter(|a| a.is_global_set()))
        {
            if let Some(long) = a.get_long() {
                let flag = format!("--{long}");
                if flag.starts_with(current)
                    && !out
                        .iter()
                        .any(|o: &String| o.starts_with(&format!("{flag}\t")))
                {
                    out.push(format!("{flag}\t{}", first_line(a.get_help())));
                }
            }
        }
        return (out, directive::NO_FILE_COMP);
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| s.get_name().starts_with(current))
        .map(|s| format!("{}\t{}", s.get_name(), first_line(s.get_about())))
        .collect();
    if !subs.is_empty() || cmd.has_subcommands() {
        return (subs, directive::NO_FILE_COMP);
    }
    // A positional value (e.g. `completion bash`).
    match cmd.get_positionals().next() {
        Some(p) => complete_value(p, current, None),
        None => (Vec::new(), directive::NO_FILE_COMP),
    }
}

fn complete_value(
    arg: &clap::Arg,
    current: &str,
    tenant_repo: Option<&Path>,
) -> (Vec<String>, u32) {
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|v| v.get_name().to_string())
        .filter(|v| v.starts_with(current))
        .collect();
    if !values.is_empty() {
        return (values, directive::NO_FILE_COMP);
    }
    if arg.get_id() == "env" {
        let repo = zt::source::RepoFiles::dir(tenant_repo.unwrap_or(Path::new(".")));
        let envs = repo
            .subdirs_with(Path::new("environments"), Path::new("talos-values.yaml"))
            .into_iter()
            .filter(|e| e.starts_with(current))
            .collect();
        return (envs, directive::NO_FILE_COMP);
    }
    match arg.get_value_hint() {
        clap::ValueHint::DirPath => (Vec::new(), directive::FILTER_DIRS),
        clap::ValueHint::FilePath | clap::ValueHint::AnyPath => (Vec::new(), directive::DEFAULT),
        _ => (Vec::new(), directive::NO_FILE_COMP),
    }
}

fn find_long(cmd: &clap::Command, name: &str) -> Option<clap::Arg> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(name))
        .cloned()
}

/// `deploy --env`: the overlays of the current claims layout, `platform/*/overlays/<env>/`.
fn deploy_envs(root: &Path, current: &str) -> Vec<String> {
    let mut envs: Vec<String> = std::fs::read_dir(root.join("platform"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|svc| {
            std::fs::read_dir(svc.path().join("overlays"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|e| e.starts_with(current))
        .collect();
    envs.sort();
    envs.dedup();
    envs
}

fn takes_value(arg: &clap::Arg) -> bool {
    // `--dry-run[=MODE]`: the next word is never its value.
    if arg.is_require_equals_set() {
        return false;
    }
    arg.get_num_args().is_some_and(|n| n.takes_values())
        || matches!(
            arg.get_action(),
            clap::ArgAction::Set | clap::ArgAction::Append
        )
}

fn first_line(s: Option<&clap::builder::StyledStr>) -> String {
    s.map(|s| s.to_string().lines().next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// The `kubectl_complete-zt[-<command>]` entry point: prints candidates and the directive.
pub fn main() -> std::process::ExitCode {
    let mut args = std::env::args();
    let exe = args.next().unwrap_or_default();
    // kubectl_complete-zt-render completes `kubectl zt render ...` (kubectl picks the completer
    // of the plugin executable it would run).
    let file = Path::new(&exe)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default()
        .to_string();
    let prefix = file
        .strip_prefix("kubectl_complete-zt-")
        .map(|c| c.replace('_', "-"));
    let words: Vec<String> = args.collect();
    let (candidates, directive) = complete(prefix.as_deref(), &words);
    for c in candidates {
        println!("{c}");
    }
    println!(":{directive}");
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(words: &[&str]) -> (Vec<String>, u32) {
        let w: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        let (c, d) = complete(None, &w);
        (
            c.into_iter()
                .map(|c| c.split('\t').next().unwrap().to_string())
                .collect(),
            d,
        )
    }

    #[test]
    fn completes_subcommands_flags_and_values() {
        let (c, d) = names(&[""]);
        assert!(
            c.contains(&"render".to_string()) && c.contains(&"secrets".to_string()),
            "{c:?}"
        );
        assert_eq!(d, directive::NO_FILE_COMP);
        let (c, _) = names(&["ren"]);
        assert_eq!(c, ["render"]);
        let (c, _) = names(&["render", "--te"]);
        assert_eq!(c, ["--tenant-repo", "--templates"]);
        let (c, _) = names(&["completion", ""]);
        assert_eq!(c, ["bash", "zsh", "fish"]);
        let (c, _) = names(&["secrets", ""]);
        assert_eq!(c, ["gen", "check", "push"]);
        let (_, d) = names(&["render", "--out", ""]);
        assert_eq!(d, directive::FILTER_DIRS);
        let (_, d) = names(&["render", "--secrets", ""]);
        assert_eq!(d, directive::DEFAULT);
    }

    #[test]
    fn deploy_flags_and_overlays() {
        let (c, _) = names(&["deploy", "--dry"]);
        assert_eq!(c, ["--dry-run"]);
        let (c, d) = names(&["deploy", "--dry-run", "--im"]);
        assert_eq!(
            (c, d),
            (vec!["--image".to_string()], directive::NO_FILE_COMP)
        );
        let dir = tempfile::tempdir().unwrap();
        for p in [
            "platform/a/overlays/pr",
            "platform/a/overlays/dev",
            "platform/b/overlays/pr",
        ] {
            std::fs::create_dir_all(dir.path().join(p)).unwrap();
        }
        assert_eq!(deploy_envs(dir.path(), ""), ["dev", "pr"]);
        assert_eq!(deploy_envs(dir.path(), "p"), ["pr"]);
    }

    #[test]
    fn env_completes_from_the_tenant_repo() {
        let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/tenant-repo");
        let (c, _) = names(&["render", "--tenant-repo", repo, "--env", ""]);
        assert_eq!(c, ["dev"]);
        let w = vec!["--env".to_string(), "d".to_string()];
        let (c, _) = complete(
            Some("render"),
            &[vec![format!("--tenant-repo={repo}")], w].concat(),
        );
        assert_eq!(c, ["dev"]);
    }
}
