//! `kubectl zt preview-patch`

use anyhow::{Context, anyhow};
use zt::diag::Diagnostics;
use zt::git::{CommitOutcome, Repo};
use zt::patch::{
    self, DocResult, LOCAL_URL, Mode, Overlay, PatchOutcome, Plan, Request, Vars, context, overlay,
    write,
};

use crate::CommandError;
use crate::args::PreviewPatchArgs;
use crate::inputs::ci_requested;
use crate::messages::{self, Outcome, Printer};

fn mode_of(args: &PreviewPatchArgs) -> Mode {
    if !args.local && ci_requested(args.ci) {
        Mode::Ci
    } else {
        Mode::Local
    }
}

pub fn run(args: &PreviewPatchArgs, p: Printer) -> Result<Outcome, CommandError> {
    let root = &args.platform_repo;
    if !root.is_dir() {
        return Err(anyhow!("--platform-repo {}: not a directory", root.display()).into());
    }
    if args.force {
        p.detail("--force: not checking the kubeconfig context");
    } else {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let ctx = context::require_kind(std::env::var_os("KUBECONFIG").as_deref(), home.as_deref())
            .map_err(|e| CommandError::Other(e.into()))?;
        p.detail(&format!("kubeconfig context {ctx}: a Kind cluster"));
    }
    let mode = mode_of(args);
    if args.commit && mode == Mode::Ci {
        return Err(anyhow!(
            "--commit pins targetRevision to a local branch, which Argo CD can only see through {LOCAL_URL}; \
             CI mode (CI or GITHUB_ACTIONS is set) keeps the GitHub URLs. Add --local to use the local checkout"
        )
        .into());
    }
    let overlays: Vec<Overlay> = match &args.patches {
        Some(dir) => overlay::load_dir(dir)?,
        None => overlay::preview()?,
    };
    let (git, head) = Repo::open_at_head(root).map_err(|e| CommandError::Other(e.into()))?;
    let revision = if args.commit {
        args.branch.clone()
    } else {
        head.clone()
    };
    let vars = Vars {
        platform_url: LOCAL_URL.to_string(),
        platform_revision: revision,
        mode,
    };
    p.info(&format!(
        "preview-patch {}: {mode} mode, {} patches, targetRevision {}",
        root.display(),
        overlays.len(),
        if args.commit {
            format!("{} (branch)", vars.platform_revision)
        } else {
            format!("{} (HEAD)", zt::git::short(&head))
        }
    ));
    let plan = patch::plan(&Request {
        root,
        overlays: &overlays,
        vars: &vars,
    })
    .map_err(input)?;
    report(&plan, p);

    if args.check || args.diff {
        return Ok(dry_run(args, &plan));
    }
    if args.commit {
        return commit(args, &git, &head, &plan, p);
    }
    if plan.changes.is_empty() {
        println!(
            "no changes: {} is already patched for preview",
            root.display()
        );
    } else {
        write::write_all(root, &plan.changes).map_err(|e| CommandError::Other(e.into()))?;
        print_changes("patched", &plan);
    }
    if mode == Mode::Local {
        p.warn(&messages::work_tree_invisible_to_argocd(
            &head,
            &args.branch,
        ));
    }
    Ok(Outcome::Success)
}

fn input(d: Diagnostics) -> CommandError {
    CommandError::Input(d)
}

/// One line per patch on stderr (hidden with -q): what it did and why.
fn report(plan: &Plan, p: Printer) {
    let width = plan.reports.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in &plan.reports {
        let what = match &r.outcome {
            PatchOutcome::Disabled { condition } => format!("skipped: `{condition}` is false"),
            PatchOutcome::AlreadyDone { reason } => format!("already done: {reason}"),
            PatchOutcome::NoMatch => "optional, matched nothing".to_string(),
            PatchOutcome::Matched { docs } => {
                let count =
                    |f: fn(&DocResult) -> bool| docs.iter().filter(|d| f(&d.result)).count();
                let changed = count(|r| matches!(r, DocResult::Changed));
                let same = count(|r| matches!(r, DocResult::Unchanged));
                let done: Vec<&str> = docs
                    .iter()
                    .filter_map(|d| match &d.result {
                        DocResult::AlreadyDone(reason) => Some(reason.as_str()),
                        _ => None,
                    })
                    .collect();
                let mut parts = Vec::new();
                if changed > 0 {
                    parts.push(format!("changed {changed} {}", plural(changed, "document")));
                }
                if same > 0 {
                    parts.push(format!("{same} already as wanted"));
                }
                if let Some(reason) = done.first() {
                    parts.push(format!("already done: {reason}"));
                }
                parts.join(", ")
            }
        };
        p.info(&format!("  {:width$}  {what}", r.name));
        if p.verbose > 0
            && let PatchOutcome::Matched { docs } = &r.outcome
        {
            for d in docs {
                p.detail(&format!(
                    "    {}:{} {} {:?}",
                    d.file,
                    d.line,
                    d.name.as_deref().unwrap_or("-"),
                    d.result
                ));
            }
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn print_changes(verb: &str, plan: &Plan) {
    let (add, del) = plan.changes.iter().fold((0, 0), |(a, d), c| {
        let (x, y) = c.numstat();
        (a + x, d + y)
    });
    let n = plan.changes.len();
    println!("{verb} {n} {} (+{add} -{del}):", plural(n, "file"));
    let width = plan.changes.iter().map(|c| c.path.len()).max().unwrap_or(0);
    for c in &plan.changes {
        let (a, d) = c.numstat();
        println!("  {:width$}  +{a} -{d}  {}", c.path, c.patches.join(", "));
    }
}

fn dry_run(args: &PreviewPatchArgs, plan: &Plan) -> Outcome {
    if plan.changes.is_empty() {
        println!(
            "no changes: {} is already patched for preview",
            args.platform_repo.display()
        );
        return Outcome::Success;
    }
    if args.diff {
        for c in &plan.changes {
            print!("{}", c.unified_diff());
        }
    }
    if args.check || !args.diff {
        print_changes("would change", plan);
    }
    Outcome::Differences
}

fn commit(
    args: &PreviewPatchArgs,
    git: &Repo,
    head: &str,
    plan: &Plan,
    p: Printer,
) -> Result<Outcome, CommandError> {
    let outcome = plan
        .commit_to(git, &args.branch, head, "kubectl zt preview-patch")
        .context("--commit")
        .map_err(CommandError::Other)?;
    let short = zt::git::short;
    match outcome {
        CommitOutcome::UpToDate { commit } => println!(
            "no changes: branch {} ({}) already holds this patched tree on top of HEAD",
            args.branch,
            short(&commit)
        ),
        CommitOutcome::Created { commit } => {
            print_changes(
                &format!("committed {} on branch {}:", short(&commit), args.branch),
                plan,
            );
            p.info("your branch, index and work tree are unchanged");
        }
    }
    p.info(&messages::commit_next_steps(&args.branch));
    Ok(Outcome::Success)
}
