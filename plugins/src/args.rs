//! Every flag of every command, defined once with its help text. The plugin binaries, the shell
//! completion scripts and `kubectl_complete-zt` are all generated from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Each command is also its own kubectl plugin: `kubectl zt render` runs kubectl-zt-render when it
is on PATH, and kubectl-zt otherwise. Exit codes: 0 success, 1 failure or differences found,
2 usage error.";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl zt",
    bin_name = "kubectl zt",
    version,
    about = "Bootstrap the ZeroTouch platform: render, validate and apply Talos, Kind and Argo CD config",
    after_help = AFTER_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Print more detail on stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render Talos machine configs and talosconfig from the tenant repository
    #[command(long_about = RENDER_ABOUT)]
    Render(RenderArgs),

    /// Check the tenant repository's inputs without rendering (for the tenant repo's own CI)
    #[command(long_about = VALIDATE_ABOUT)]
    Validate(ValidateArgs),

    /// Manage the Talos secrets bundle (the PKI and tokens every node config needs)
    #[command(subcommand)]
    Secrets(SecretsCommand),

    /// Adapt a platform repo checkout for a Kind preview cluster (JSON-patch overlays)
    #[command(long_about = PREVIEW_PATCH_ABOUT)]
    PreviewPatch(PreviewPatchArgs),

    /// Print a shell completion script for kubectl-zt
    #[command(long_about = COMPLETION_ABOUT)]
    Completion(CompletionArgs),
}

const RENDER_ABOUT: &str = "\
Render everything a ZeroTouch environment needs from the tenant repository.

Reads environments/<ENV>/talos-values.yaml and the secrets bundle, and writes:
  OUT/talos/<node>.yaml    one Talos machine config per node (mode 0600: holds keys)
  OUT/talos/talosconfig    talosctl client config with an admin certificate (mode 0600)

Every value is validated first; all problems are reported at once as file:line:col, and nothing
is written unless everything is valid. The same inputs always give the same bytes.

Examples:
  kubectl zt secrets gen --out secrets.yaml
  kubectl zt render --tenant-repo ./tenants --env dev --secrets secrets.yaml --out ./out
  kubectl zt render --env dev --secrets secrets.yaml --out ./out --check   # CI: exit 1 on drift
  kubectl zt render --example --out ./example-out                          # no set-up needed";

const VALIDATE_ABOUT: &str = "\
Check the tenant repository without rendering: every environment (or just --env), with every
problem reported at once as file:line:col. Exit 1 when anything is wrong.

Examples:
  kubectl zt validate --tenant-repo .
  kubectl zt validate --tenant-repo . --env dev --secrets secrets.yaml";

const PREVIEW_PATCH_ABOUT: &str = "\
Adapt a platform repo checkout for a Kind preview cluster with declarative JSON-patch overlays.

The built-in preview patch set (or the overlay files of --patches DIR) is applied in file-name
order: Applications whose source is the platform repo point at the checkout mounted in the Kind
node (file:///repo; with --ci the GitHub URL stays) and are pinned to the current commit; NATS runs
memory-only; foundation-config leaves Cilium out; the dragonfly composition loses the
securityContext Kind cannot run; Crossplane, KEDA and kagent get smaller resources where they set
any. Every file is patched in memory and checked first; only the changed lines differ afterwards,
and any error leaves every file as it was. A second run changes nothing and says so.

Without --force the current kubeconfig context must be a Kind context (kind-*).

Argo CD reads git, not the work tree: with --commit the patched tree becomes a commit on a local
branch (default zt-preview; your branch, index and work tree are untouched) and targetRevision is
pinned to that branch, so Argo CD syncs exactly what was patched.

Examples:
  kubectl zt preview-patch --force                    # CI: patch the checkout in .
  kubectl zt preview-patch --check                    # exit 1 and list what would change
  kubectl zt preview-patch --diff --platform-repo ../zerotouch-platform
  kubectl zt preview-patch --commit                   # patched tree on branch zt-preview";

const COMPLETION_ABOUT: &str = "\
Print a completion script for the kubectl-zt executable.

For `kubectl zt <TAB>`, kubectl itself asks the kubectl_complete-zt executable, which `make
install` puts next to the plugins; no script is needed for that.

Examples:
  source <(kubectl-zt completion bash)
  kubectl-zt completion zsh > \"${fpath[1]}/_kubectl-zt\"";

#[derive(Debug, Args)]
pub struct TenantArgs {
    /// The tenant repository checkout
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub tenant_repo: PathBuf,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// The environment to render (a directory under environments/)
    #[arg(long, value_name = "ENV", required_unless_present = "example")]
    pub env: Option<String>,

    /// The Talos secrets bundle (create one with `kubectl zt secrets gen`)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub secrets: Option<PathBuf>,

    /// Where to write the output tree
    #[arg(long, value_name = "DIR", default_value = "out", value_hint = clap::ValueHint::DirPath)]
    pub out: PathBuf,

    /// A platform repository checkout; its bootstrap/talos/templates/cilium-bootstrap.yaml becomes
    /// the control plane's inline Cilium manifest when cluster.cni is cilium
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub platform_repo: Option<PathBuf>,

    /// Use templates from DIR instead of the built-in ones (same file names, e.g. talos/machine.yaml)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub templates: Option<PathBuf>,

    /// Compare a fresh render with OUT instead of writing; print a diff (secrets redacted) and
    /// exit 1 on any difference
    #[arg(long)]
    pub check: bool,

    /// Render the built-in example tenant repository with its built-in test secrets bundle
    #[arg(long, conflicts_with_all = ["secrets", "platform_repo"])]
    pub example: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// Check only this environment (default: all of them)
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// Also check this secrets bundle
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub secrets: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PreviewPatchArgs {
    /// The platform repo checkout to patch (a git work tree)
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub platform_repo: PathBuf,

    /// Skip the check that the current kubeconfig context is a Kind cluster (kind-*)
    #[arg(long)]
    pub force: bool,

    /// Change nothing: list the files that would change and exit 1 if there are any
    #[arg(long)]
    pub check: bool,

    /// Change nothing: print a unified diff of what would change and exit 1 if anything would
    #[arg(long)]
    pub diff: bool,

    /// CI mode: keep the GitHub URLs and pin only targetRevision (the default when the CI or
    /// GITHUB_ACTIONS environment variable is set)
    #[arg(long, conflicts_with = "local")]
    pub ci: bool,

    /// Local mode even when CI or GITHUB_ACTIONS is set: point Argo CD at file:///repo
    #[arg(long)]
    pub local: bool,

    /// Record the patched tree as a commit on a local branch instead of editing the work tree,
    /// and pin targetRevision to that branch
    #[arg(long, conflicts_with_all = ["check", "diff", "ci"])]
    pub commit: bool,

    /// The branch --commit writes
    #[arg(
        long,
        value_name = "NAME",
        default_value = "zt-preview",
        requires = "commit"
    )]
    pub branch: String,

    /// Use the overlay files (*.yaml) in DIR instead of the built-in preview patch set
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub patches: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Generate a new secrets bundle, like `talosctl gen secrets` (once per cluster)
    #[command(long_about = SECRETS_GEN_ABOUT)]
    Gen(SecretsGenArgs),

    /// Check a secrets bundle: structure, encodings, certificates and keys
    Check(SecretsCheckArgs),
}

const SECRETS_GEN_ABOUT: &str = "\
Generate a Talos secrets bundle: cluster identity, bootstrap and trustd tokens, the secretbox
key, and the certificate authorities (Talos API: Ed25519; etcd, Kubernetes, aggregator and the
service-account key: ECDSA P-256; 10-year validity).

The file is written with mode 0600 and never overwritten unless --force is given. Keep it out of
git (or encrypt it): anyone who has it controls the cluster.

Example:
  kubectl zt secrets gen --out secrets.yaml";

#[derive(Debug, Args)]
pub struct SecretsGenArgs {
    /// Where to write the bundle
    #[arg(long, value_name = "FILE", default_value = "secrets.yaml", value_hint = clap::ValueHint::FilePath)]
    pub out: PathBuf,

    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SecretsCheckArgs {
    /// The bundle to check
    #[arg(long, value_name = "FILE", default_value = "secrets.yaml", value_hint = clap::ValueHint::FilePath)]
    pub secrets: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to print a script for
    #[arg(value_enum)]
    pub shell: Shell,
}
