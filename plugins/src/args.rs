//! Every flag of every command, defined once with its help text. The plugin binaries, the shell
//! completion scripts and `kubectl_complete-zt` are all generated from these definitions.

use std::path::PathBuf;
use std::time::Duration;

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
    /// Render Talos configs, Argo CD Applications, Secrets and the preview Kind config
    #[command(long_about = RENDER_ABOUT)]
    Render(RenderArgs),

    /// Check the tenant repository's inputs without rendering (for the tenant repo's own CI)
    #[command(long_about = VALIDATE_ABOUT)]
    Validate(ValidateArgs),

    /// Manage the Talos secrets bundle (the PKI and tokens every node config needs)
    #[command(subcommand)]
    Secrets(SecretsCommand),

    /// Point a service's claims at a CI-built image, apply them and wait until it is ready
    #[command(long_about = DEPLOY_ABOUT)]
    Deploy(DeployArgs),
    /// A service's whole preview CI: (the platform,) deploy the image, migrations and tests
    #[command(long_about = CI_ABOUT)]
    Ci(Box<CiArgs>),

    /// Run the service's migrations and in-cluster tests as Kubernetes Jobs, with their logs
    #[command(long_about = TEST_ABOUT)]
    Test(TestArgs),

    /// Adapt a platform repo checkout for a Kind preview cluster (JSON-patch overlays)
    #[command(long_about = PREVIEW_PATCH_ABOUT)]
    PreviewPatch(PreviewPatchArgs),

    /// Bring up the whole platform: Talos nodes to a syncing Argo CD (or a Kind preview)
    #[command(long_about = BOOTSTRAP_ABOUT)]
    Bootstrap(Box<BootstrapArgs>),

    /// Is the platform running? Applications, External Secrets and XRDs, with diagnoses
    #[command(long_about = STATUS_ABOUT)]
    Status(StatusArgs),

    /// Print a shell completion script for kubectl-zt
    #[command(long_about = COMPLETION_ABOUT)]
    Completion(CompletionArgs),
}

const RENDER_ABOUT: &str = "\
Render everything a ZeroTouch environment needs.

Production (default) reads the tenant repository (environments/<ENV>/talos-values.yaml,
tenants/, repositories/), the secrets bundle and credentials from environment variables:
  OUT/talos/<node>.yaml, OUT/talos/talosconfig   Talos machine configs, talosctl config (0600)
  OUT/argocd/root.yaml                          the root Application (app-of-apps)
  OUT/argocd/tenants/<tenant>.yaml              one Application per tenant
  OUT/argocd/repositories/<name>.yaml           repository ExternalSecrets, validated
  OUT/secrets/<name>.yaml                       Secrets from environment variables (0600)
Preview (--mode preview) reads only environment variables and the platform repo checkout:
  OUT/kind/cluster.yaml, OUT/argocd/root.yaml, OUT/secrets/<name>.yaml

Environment variables (values never printed): BOT_GITHUB_USERNAME, BOT_GITHUB_TOKEN,
TENANTS_REPO_NAME (production), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
(required in preview), OPENAI_API_KEY and ANTHROPIC_API_KEY (optional).

Every value is validated first; all problems are reported at once as file:line:col, and nothing
is written unless everything is valid. The same inputs always give the same bytes.

Examples:
  kubectl zt secrets gen --out secrets.yaml
  kubectl zt render --tenant-repo ./tenants --env dev --secrets secrets.yaml --out ./out
  kubectl zt render --env dev --secrets secrets.yaml --out ./out --check   # CI: exit 1 on drift
  kubectl zt render --example --out ./example-out                          # no set-up needed
  kubectl zt render --mode preview --platform-repo . --out ./preview
  kubectl zt render --env dev -o yaml --include-secrets | kubectl apply -f -";

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

const STATUS_ABOUT: &str = "\
Check that the platform really runs, gate by gate, watching the objects (no polling):
  applications      the root Application and every Application it creates Synced and Healthy
                    (the expected ones read from --platform-repo's overlay; without it, every
                    Application present)
  secret-store      ClusterSecretStore aws-parameter-store Ready
  external-secrets  every ExternalSecret Ready
  xrds              every Crossplane CompositeResourceDefinition Established
  deployments,      every Deployment and StatefulSet (NATS, the database operators, ...) ready
  statefulsets      in the namespaces the Applications deploy to
  daemonsets        every DaemonSet there and in kube-system (Cilium) on every node
Each gate prints what it waits for. All gates share --timeout; on timeout the report names every
object that is not ready with its conditions and last events. --preview lets the Applications
a Kind cluster cannot run stay unhealthy (cilium, argocd-repo-credentials, intelligence,
local-path-provisioner; add more with --tolerate). Exit 0 when every gate passes, else 1.

Examples:
  kubectl zt status --timeout 30s
  kubectl zt status --platform-repo ../platform --env dev --timeout 20m
  kubectl zt status --preview --platform-repo . -o json";

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A platform repository checkout: the Applications its root overlay creates are the ones
    /// expected
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub platform_repo: Option<PathBuf>,

    /// The environment whose overlay (bootstrap/argocd/overlays/main/ENV) the root syncs
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// The root overlay in the platform repo
    /// [default: bootstrap/argocd/overlays/main/ENV, preview: bootstrap/argocd/overlays/preview]
    #[arg(long, value_name = "PATH")]
    pub overlay: Option<String>,

    /// A Kind preview cluster: the Applications it cannot run may stay unhealthy
    #[arg(long)]
    pub preview: bool,

    /// Allow this Application to stay unhealthy (it must still exist); repeatable
    #[arg(long = "tolerate", value_name = "NAME")]
    pub tolerate: Vec<String>,

    /// The root Application (app-of-apps)
    #[arg(long, value_name = "NAME", default_value = "platform-bootstrap")]
    pub root: String,

    /// The namespace of Argo CD and its Applications
    #[arg(long, value_name = "NAMESPACE", default_value = "argocd")]
    pub argocd_namespace: String,

    /// The ClusterSecretStore the platform's ExternalSecrets read
    #[arg(long, value_name = "NAME", default_value = "aws-parameter-store")]
    pub secret_store: String,

    /// How long to wait for all gates together
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// json: the whole report on stdout, for CI
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<StatusFormat>,

    /// The kubeconfig file [default: KUBECONFIG, then ~/.kube/config, then in-cluster]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use [default: its current-context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// One JSON document: ready, and every gate with its objects
    Json,
}

const COMPLETION_ABOUT: &str = "\
Print a completion script for the kubectl-zt executable.

For `kubectl zt <TAB>`, kubectl itself asks the kubectl_complete-zt executable, which `make
install` puts next to the plugins; no script is needed for that.

Examples:
  source <(kubectl-zt completion bash)
  kubectl-zt completion zsh > \"${fpath[1]}/_kubectl-zt\"";

#[derive(Debug, Clone, Args)]
pub struct TenantArgs {
    /// The tenant repository checkout
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub tenant_repo: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderMode {
    /// Bare-metal Talos from the tenant repository: Talos, Argo CD (root + tenants), Secrets
    Production,
    /// Kind in CI from environment variables: Kind config, Argo CD root on the preview overlay,
    /// Secrets; no tenants
    Preview,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One multi-document YAML stream on stdout, in apply order
    Yaml,
}

/// What to render from: shared by `render` and `bootstrap`.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// What to render
    #[arg(long, value_enum, default_value_t = RenderMode::Production)]
    pub mode: RenderMode,

    /// The environment to render (a directory under environments/); production only
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// The Talos secrets bundle (create one with `kubectl zt secrets gen`; `-`: standard
    /// input); production only
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub secrets: Option<PathBuf>,

    /// A platform repository checkout. Production: its bootstrap/talos/templates/cilium-bootstrap.yaml
    /// becomes the control plane's inline Cilium manifest. Preview (default `.`): mounted into
    /// the Kind node at /repo, and its current commit pins the root Application
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub platform_repo: Option<PathBuf>,

    /// The platform repository Argo CD syncs
    /// [default: https://github.com/$BOT_GITHUB_USERNAME/zerotouch-platform.git]
    #[arg(long, value_name = "URL")]
    pub platform_repo_url: Option<String>,

    /// The platform revision the root Application syncs (production; preview pins the
    /// checkout's commit)
    #[arg(long, value_name = "REV", default_value = "main")]
    pub revision: String,

    /// The overlay the root Application syncs; `{env}` is replaced by the environment
    /// [default: bootstrap/argocd/overlays/main/{env}, preview: bootstrap/argocd/overlays/preview]
    #[arg(long, value_name = "PATH")]
    pub overlay: Option<String>,

    /// Preview in CI: keep the GitHub URL of the platform repo (only pin the revision) instead
    /// of file:///repo. Implied when CI or GITHUB_ACTIONS is set
    #[arg(long)]
    pub ci: bool,

    /// The Kind cluster's name (preview)
    #[arg(long, value_name = "NAME", default_value = "zerotouch-preview")]
    pub cluster_name: String,

    /// The Kind node image (preview), e.g. kindest/node:v1.34.0 [default: kind's own]
    #[arg(long, value_name = "IMAGE")]
    pub node_image: Option<String>,

    /// Use templates from DIR instead of the built-in ones (same file names, e.g. talos/machine.yaml)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Where to write the output tree
    #[arg(long, value_name = "DIR", default_value = "out", value_hint = clap::ValueHint::DirPath)]
    pub out: PathBuf,

    /// Do not render OUT/secrets (for checks in a CI that holds no credentials)
    #[arg(long)]
    pub skip_secrets: bool,

    /// Write the Kubernetes objects as one stream to stdout instead of files (namespaces and
    /// secrets before Applications): `kubectl zt render ... -o yaml | kubectl apply -f -`
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// With -o yaml: include the Secrets (their real values) in the stream
    #[arg(long, requires = "output")]
    pub include_secrets: bool,

    /// Compare a fresh render with OUT instead of writing; print a diff (secrets redacted) and
    /// exit 1 on any difference
    #[arg(long, conflicts_with = "output")]
    pub check: bool,

    /// Render the built-in example tenant repository with its built-in test secrets bundle and
    /// fake credentials
    #[arg(long, conflicts_with_all = ["secrets", "platform_repo"])]
    pub example: bool,
}

const BOOTSTRAP_ABOUT: &str = "\
Bring up the whole platform as a list of resumable stages.

Production (`kubectl zt bootstrap dev --secrets secrets.yaml --platform-repo ../platform`) takes
nodes booted into Talos maintenance mode to a running platform: render in memory, apply each
machine config over the maintenance API, wait for the configured API (mutual TLS with the
rendered talosconfig), bootstrap etcd once, fetch the kubeconfig (0600, merged into
--kubeconfig), wait for the nodes, install Argo CD, apply the Secrets, wait for the repo server,
apply the root Application and wait until it is Synced and Healthy, then apply the tenants.

Preview (`--mode preview`) takes a CI runner with Docker to a Kind cluster with the platform
syncing: kind create cluster (an existing one is kept), load images, preview patches, Argo CD,
Secrets, root Application. Locally the patched platform is committed to branch zt-preview,
which Argo CD reads through file:///repo; in CI (--ci, CI or GITHUB_ACTIONS) Argo CD reads
GitHub, so the patches are only checked.

From bare metal (--bare-metal, --hetzner), each node first gets rescue/<node> (with --hetzner:
the Hetzner API boots it into the rescue system) and talos-install/<node> (the Talos image
written to install_disk over SSH, then a reboot into maintenance mode); nodes that already answer
the Talos API are left alone.

--push-parameters first pushes the platform's secrets to AWS SSM Parameter Store (as `kubectl zt
secrets push`; an unset variable stops the run before its first stage). The run ends with the
gates of `kubectl zt status` (platform-gates), so it succeeds only when the platform really
runs; --no-gates stops once the root Application is Synced and Healthy.

Finished stages are recorded in the stage cache; a rerun skips them (--fresh ignores the cache).
Every wait watches the Kubernetes objects it waits for (the Talos API, which has no watch, is
probed with backoff) up to its timeout. --dry-run prints the plan, with what each stage would
send (secrets redacted), and touches nothing.

Examples:
  kubectl zt bootstrap dev --tenant-repo . --secrets secrets.yaml --platform-repo ../platform --dry-run
  kubectl zt bootstrap dev --tenant-repo . --secrets secrets.yaml --platform-repo ../platform
  HETZNER_API_TOKEN=... kubectl zt bootstrap dev --secrets secrets.yaml --platform-repo ../platform --hetzner --ssh-key ~/.ssh/id_ed25519 --insecure-skip-verify
  kubectl zt bootstrap --mode preview --platform-repo . --load-image ghcr.io/org/svc:ci";

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The environment to bring up (production); the same as --env
    #[arg(value_name = "ENV", conflicts_with = "env")]
    pub environment: Option<String>,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Print the plan (stages, targets, what each would send; secrets redacted) and touch nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Ignore the stage cache: run every stage again (each is idempotent)
    #[arg(long)]
    pub fresh: bool,

    /// The stage cache
    #[arg(long, value_name = "FILE", default_value = ".zerotouch-cache/bootstrap-stage-cache.json", value_hint = clap::ValueHint::FilePath)]
    pub cache: PathBuf,

    /// The kubeconfig to write the new cluster into (merged; 0600) and to use
    /// [default: the first file of KUBECONFIG, else ~/.kube/config]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<PathBuf>,

    /// Pin the maintenance API's certificate: only a node presenting it is sent its config
    /// (which holds the cluster's CA keys). Talos prints the fingerprint on the node's console;
    /// a run without this flag prints the one the node presented. Repeatable
    #[arg(long = "cert-fingerprint", value_name = "FINGERPRINT")]
    pub cert_fingerprints: Vec<String>,

    /// Reach a node's Talos API at another address than `<ip>:50000` (port forwards, NAT):
    /// NODE=HOST[:PORT], repeatable. The configured API's certificate must still name HOST
    #[arg(long = "talos-endpoint", value_name = "NODE=HOST[:PORT]")]
    pub talos_endpoints: Vec<String>,

    /// Send the machine configs (they hold the cluster's CA keys) to nodes in maintenance mode
    /// without verifying their self-issued certificates, as `talosctl apply-config --insecure`
    /// does; the fingerprint each node presented is printed. Without this or
    /// --cert-fingerprint, bootstrap refuses to send a config
    #[arg(long, visible_alias = "insecure", conflicts_with = "cert_fingerprints")]
    pub insecure_skip_verify: bool,

    /// A pre-built Argo CD install manifest, instead of building the platform repo's
    /// bootstrap/argocd/install with `kubectl kustomize` (for machines without network access)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub argocd_install: Option<PathBuf>,

    /// How long to wait for the platform (the root Application) to be Synced and Healthy
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// How long to wait for each node, the Kubernetes API and Argo CD's install
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub node_timeout: Duration,

    /// How many worker nodes come up at once (their installs, config applies and waits); the
    /// control plane always comes first
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,

    /// Preview: load a locally built image into the Kind nodes (repeatable)
    #[arg(long = "load-image", value_name = "IMAGE")]
    pub load_images: Vec<String>,

    /// First push the platform's secrets from the environment to AWS SSM Parameter Store, as
    /// `kubectl zt secrets push` does (mapping: the tenant repo's parameters.yaml, else the
    /// built-in one; region: AWS_REGION, else ap-south-1; every unset variable is reported
    /// before the first stage)
    #[arg(long)]
    pub push_parameters: bool,

    /// With --push-parameters: the path every parameter goes below
    /// [default: the mapping's prefix, else /zerotouch/prod]
    #[arg(long, value_name = "PREFIX", requires = "push_parameters")]
    pub parameters_prefix: Option<String>,

    /// With --push-parameters: send the Parameter Store requests to URL instead of AWS
    /// (AWS_ENDPOINT_URL does the same)
    #[arg(long, value_name = "URL", requires = "push_parameters")]
    pub ssm_endpoint_url: Option<String>,

    /// Do not end with the gates of `kubectl zt status` (every Application the root overlay
    /// creates Synced and Healthy, the ClusterSecretStore and every ExternalSecret Ready, every
    /// XRD Established, the platform's workloads rolled out): the run then ends once the root
    /// Application is Synced and Healthy
    #[arg(long)]
    pub no_gates: bool,

    /// Boxed: the bare-metal flags would make every other command's arguments as large.
    #[command(flatten)]
    pub bare_metal: Box<BareMetalArgs>,
}

/// Production from bare metal: Talos written to each node's disk from its rescue system.
#[derive(Debug, Args)]
#[command(next_help_heading = "Bare metal")]
pub struct BareMetalArgs {
    /// Start from bare metal: before configuring each node, log in to its rescue system over
    /// SSH (root, with the node's rescue_password or --ssh-key), write the Talos metal image to
    /// its install_disk (xz -d | dd, read back and compared) and reboot it into maintenance
    /// mode. Nodes that already answer the Talos API are skipped. Asks before overwriting
    /// disks unless --yes
    #[arg(long)]
    pub bare_metal: bool,

    /// Put the servers into Hetzner's rescue system first through the Hetzner Cloud API (find
    /// by IP, enable rescue, reset, wait for SSH), with the token from HETZNER_API_TOKEN; the
    /// rescue password it returns stays in memory. Implies --bare-metal
    #[arg(long)]
    pub hetzner: bool,

    /// The Hetzner Cloud API (plain http only to this machine)
    #[arg(long, value_name = "URL", default_value = zt::install::hetzner::DEFAULT_ENDPOINT, requires = "hetzner")]
    pub hetzner_endpoint: String,

    /// Log in to the rescue systems with this private key (unencrypted OpenSSH or PEM) before
    /// trying passwords; with --hetzner, the project's copy of its public key is put into the
    /// rescue system
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub ssh_key: Option<PathBuf>,

    /// Accept only the rescue systems' host keys listed in this known_hosts file. Without it,
    /// the key a node presents first is accepted and its fingerprint printed (a rescue system
    /// makes a new one each boot), and a different key later in the run is refused
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub ssh_known_hosts: Option<PathBuf>,

    /// Reach a node's rescue system at another address than `<ip>:22`: NODE=IP:PORT, repeatable
    #[arg(long = "ssh-endpoint", value_name = "NODE=IP:PORT")]
    pub ssh_endpoints: Vec<String>,

    /// The xz-compressed raw Talos image the servers download
    /// [default: the Image Factory's metal-amd64.raw.xz for talos.version and talos.schematic,
    /// or the default schematic]
    #[arg(long, value_name = "URL", conflicts_with = "talos_image")]
    pub talos_image_url: Option<String>,

    /// Stream this local xz-compressed raw Talos image to the servers over SSH instead (for
    /// servers without internet access)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub talos_image: Option<PathBuf>,

    /// Directories put before the rescue system's PATH for the install commands (curl, xz, dd,
    /// sync, reboot), colon-separated
    #[arg(long, value_name = "DIRS")]
    pub rescue_path: Option<String>,

    /// Do not ask before overwriting the install disks
    #[arg(long)]
    pub yes: bool,
}

impl BareMetalArgs {
    /// Whether the plan starts from bare metal.
    pub fn enabled(&self) -> bool {
        self.bare_metal || self.hetzner
    }

    /// The bare-metal flags given without --bare-metal or --hetzner.
    pub fn stray(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.ssh_key.is_some() {
            out.push("--ssh-key");
        }
        if self.ssh_known_hosts.is_some() {
            out.push("--ssh-known-hosts");
        }
        if !self.ssh_endpoints.is_empty() {
            out.push("--ssh-endpoint");
        }
        if self.talos_image_url.is_some() {
            out.push("--talos-image-url");
        }
        if self.talos_image.is_some() {
            out.push("--talos-image");
        }
        if self.rescue_path.is_some() {
            out.push("--rescue-path");
        }
        if self.yes {
            out.push("--yes");
        }
        out
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// Check only this environment (default: all of them)
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// Also check this secrets bundle (`-`: standard input)
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

    /// Push the platform's secrets from environment variables to AWS SSM Parameter Store
    #[command(long_about = SECRETS_PUSH_ABOUT)]
    Push(SecretsPushArgs),
}

const SECRETS_PUSH_ABOUT: &str = "\
Push the platform's secrets from environment variables to AWS SSM Parameter Store, where the
platform's ExternalSecrets (ClusterSecretStore aws-parameter-store) read them.

Which variable goes to which parameter is data: the tenant repository's parameters.yaml (or
--mapping FILE), else the built-in mapping under /zerotouch/prod:
  github/{username,token}, ghcr/{username,password}     BOT_GITHUB_USERNAME, BOT_GITHUB_TOKEN
  argocd/repos/<repo>/{url,username,password}          TENANTS_REPO_NAME (+ the bot's credentials;
                                                       url: TENANTS_REPO_URL or the GitHub URL)
  openai_api_key, anthropic_api_key (optional)         OPENAI_API_KEY, ANTHROPIC_API_KEY
Every parameter is a SecureString. Current values are read first and only what differs is
written; each path is reported as created, updated or unchanged (never a value). Every unset
variable is reported at once, by name, before anything is sent. Nothing is written to disk.

AWS: credentials from the standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
AWS_SESSION_TOKEN, AWS_PROFILE, SSO, OIDC web identity in CI, instance roles); region from
--region, else AWS_REGION, else ap-south-1; --endpoint-url or AWS_ENDPOINT_URL for another
endpoint.

Examples:
  kubectl zt secrets push --dry-run                       # the paths, no values, no AWS call
  kubectl zt secrets push --tenant-repo ../tenants
  kubectl zt secrets push --prefix /zerotouch/dev --region eu-west-1";

#[derive(Debug, Args)]
pub struct SecretsPushArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,

    /// The mapping of environment variables to parameters, instead of the tenant repository's
    /// parameters.yaml (or the built-in one)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub mapping: Option<PathBuf>,

    /// The path every parameter goes below, e.g. /zerotouch/dev
    /// [default: the mapping's prefix, else /zerotouch/prod]
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,

    /// The AWS region [default: AWS_REGION, else ap-south-1]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Send the requests to URL instead of AWS (a VPC endpoint, moto, LocalStack);
    /// AWS_ENDPOINT_URL does the same
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// List the parameters that would be pushed (paths and source variables, never values)
    /// and contact nothing
    #[arg(long)]
    pub dry_run: bool,
}

const SECRETS_GEN_ABOUT: &str = "\
Generate a Talos secrets bundle: cluster identity, bootstrap and trustd tokens, the secretbox
key, and the certificate authorities (Talos API: Ed25519; etcd, Kubernetes, aggregator and the
service-account key: ECDSA P-256; 10-year validity).

The file is written with mode 0600 and never overwritten unless --force is given. Keep it out of
git (or encrypt it): anyone who has it controls the cluster.

Examples:
  kubectl zt secrets gen --out secrets.yaml
  kubectl zt secrets gen --out - | sops --encrypt --input-type yaml --output-type yaml /dev/stdin > secrets.enc.yaml";

#[derive(Debug, Args)]
pub struct SecretsGenArgs {
    /// Where to write the bundle (`-`: standard output, nothing on disk)
    #[arg(long, value_name = "FILE", default_value = "secrets.yaml", value_hint = clap::ValueHint::FilePath)]
    pub out: PathBuf,

    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SecretsCheckArgs {
    /// The bundle to check (`-`: standard input)
    #[arg(long, value_name = "FILE", default_value = "secrets.yaml", value_hint = clap::ValueHint::FilePath)]
    pub secrets: PathBuf,
}

const DEPLOY_ABOUT: &str = "\
Point a service's Crossplane claims at a CI-built image, apply them with server-side apply and
wait until the service is ready. Run it in the service repository after building the image.

Reads ci/config.yaml (service.name, service.namespace, deployment.wait_timeout and its
health_endpoint and liveness_endpoint, dependencies.internal, diagnostics.post_deploy.
test_health_endpoint) and every YAML document under the claims directory:
  platform/<service>/overlays/<ENV>/   (current layout, --env, default pr)
  platform/claims/<namespace>/         (older layout)
  --claims DIR                         (anywhere else)

Only WebService, EventDrivenService and AgentSandboxService claims whose image repository ends in
/<service> (or those named with --claim) get the new image, at spec.image. Objects are applied
in order: the Namespace, Secrets and ConfigMaps, other objects, database claims, service claims.
Then it waits for the database (when dependencies.internal lists postgres) and its connection
secret, every claim's Ready condition, and the Deployment's rollout of the new image; a
crash-looping pod fails the deploy at once. Progress goes to stderr, the summary to stdout.

When diagnostics.post_deploy.test_health_endpoint is true (and not --skip-health), the
service's health_endpoint (default /ready) and liveness_endpoint (default /health) must then
answer 2xx, asked with GET through the API server's service proxy on the Service named after the
service (its port named http, else its first port); other answers and no answer are retried
until the same timeout, which names the endpoint and its last answer. dependencies.internal
entries other than postgres/postgresql/database and redis/dragonfly/cache (the DragonflyInstance
<service>-cache among the claims) are reported as not checked.

Before anything is applied, the Argo CD Applications dependencies.platform lists (in namespace
argocd) must be Synced and Healthy; --sync-platform asks Argo CD to sync those that are not.

Every input is checked before anything is applied; problems are reported as file:line:col.

Examples:
  kubectl zt deploy --image sha-abc123                       # keep each claim's repository
  kubectl zt deploy --image ghcr.io/org/my-svc:sha-abc123
  kubectl zt deploy --image sha-abc123 --dry-run=client      # print the objects, no cluster
  kubectl zt deploy --image sha-abc123 --write --no-wait     # also update the claim files
  kubectl zt deploy --image sha-abc123 --skip-health         # no health endpoint checks
  kubectl zt deploy --image sha-abc123 --load-into-kind      # a local build, into the Kind preview";

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The image: a tag (sha-abc123) that keeps each claim's repository, a full reference
    /// (ghcr.io/org/my-svc:sha-abc123), or a digest (@sha256:<64 hex>)
    #[arg(long, value_name = "IMAGE")]
    pub image: String,

    /// The service repository, holding ci/config.yaml and platform/
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub root: PathBuf,

    /// The service name [default: service.name in ci/config.yaml]
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,

    /// The namespace to deploy to [default: service.namespace in ci/config.yaml]
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// How long to wait for the service: seconds, or with a unit (90s, 5m, 1h)
    /// [default: deployment.wait_timeout in ci/config.yaml, else 300]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// The overlay of the current layout: platform/<service>/overlays/<ENV>/
    #[arg(long, value_name = "ENV", default_value = "pr")]
    pub env: String,

    /// The claims directory, instead of looking for one
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub claims: Option<PathBuf>,

    /// Give the image to the claim with this name instead of matching image repositories
    /// (repeatable)
    #[arg(long = "claim", value_name = "NAME")]
    pub claim: Vec<String>,

    /// Also write the new image into the claim files (only that value changes: comments and
    /// formatting stay). Independent of --dry-run, which is about the cluster
    #[arg(long)]
    pub write: bool,

    /// client: print the objects that would be applied (Secret values redacted) and contact no
    /// cluster; server: the API server validates everything and stores nothing
    #[arg(long, value_name = "MODE", value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<DryRunMode>,

    /// Take over fields that another field manager (kubectl, Argo CD) owns
    #[arg(long)]
    pub force_conflicts: bool,

    /// Apply and return without waiting for the service to become ready
    #[arg(long)]
    pub no_wait: bool,

    /// Do not ask the service's health and liveness endpoints after the rollout, even when
    /// diagnostics.post_deploy.test_health_endpoint is true
    #[arg(long)]
    pub skip_health: bool,

    /// Ask Argo CD to sync the Applications of dependencies.platform that are not Synced and
    /// Healthy (as `argocd app sync` does), before waiting for them
    #[arg(long)]
    pub sync_platform: bool,

    /// The kubeconfig file [default: KUBECONFIG, then ~/.kube/config, then in-cluster]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use [default: its current-context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Before applying, load the image (a tag alone: with each claim's repository) from the
    /// local Docker engine into the nodes of Kind cluster CLUSTER, as `kind load docker-image`
    /// does [default CLUSTER: zerotouch-preview]
    #[arg(long, value_name = "CLUSTER", num_args = 0..=1, default_missing_value = "zerotouch-preview")]
    pub load_into_kind: Option<String>,
}

const TEST_ABOUT: &str = "\
Run the service's in-cluster tests as a Kubernetes Job in its namespace, after its migrations
(when ci/config.yaml has a migrations section) as a Job of their own. Run it in the service
repository after `kubectl zt deploy`.

Each Job runs one pod of the service's image (the one its Deployment runs now, or --image),
never retried, and Kubernetes ends it at the timeout (test.timeout, default 600 seconds;
migrations.timeout, default 300). The command is test.command (or --command; default: the
image's entrypoint) with test.path (or --path) as its last argument. Every variable of env goes
into a Secret the pod reads; values never reach the Job, the terminal or the log shown.

The pod's log is printed on stdout as it comes. Exit 0 when every Job succeeded; 1 when one
failed or timed out, with its container's exit code, the last lines of its log and the events
of its pod and Job. Jobs are deleted afterwards unless --keep.

Reads from ci/config.yaml:
  test:        {timeout: 600, command: [pytest, -x], path: tests/integration}
  migrations:  {command: [alembic, upgrade, head], timeout: 300}
  env:         {JWT_SECRET: test-only}

Examples:
  kubectl zt test                                   # after kubectl zt deploy --image sha-abc123
  kubectl zt test --image ghcr.io/org/my-svc:sha-abc123 --path tests/smoke
  kubectl zt test --dry-run                         # print the Jobs (Secret values redacted)
  kubectl zt test --keep                            # leave the Jobs for kubectl logs / describe";

const CI_ABOUT: &str = "\
A service's whole preview CI in one resumable command, run in the service repository after the
image is built: the services of dependencies.external whose claims are in this repository
(platform/<name>/overlays/<ENV>/, applied as written, in the namespace they name); then deploy the image (as kubectl zt deploy: the claims point at it, applied, waited
for, after the platform Applications of dependencies.platform are Synced and Healthy), then the
migrations and tests as Jobs (as kubectl zt test).

With --platform-repo DIR it first brings up the preview platform as `kubectl zt bootstrap --mode
preview` does (a Kind cluster, kept when it exists; the image loaded into its nodes; Argo CD and
the root Application), so a fresh runner needs nothing else; without it, the current cluster
must already run the platform. --cleanup deletes the Kind cluster at the end.

One line per stage; finished stages are recorded in the stage cache, so a rerun after a failure
resumes where it stopped (the tests always run again). When GITHUB_STEP_SUMMARY is set, a table
of the stages is appended to it. --dry-run prints the plan and touches nothing.

Examples:
  kubectl zt ci --image ghcr.io/org/my-svc:sha-abc123                        # platform already up
  kubectl zt ci --image ghcr.io/org/my-svc:ci --platform-repo ../zerotouch-platform --cleanup
  kubectl zt ci --image sha-abc123 --dry-run";

#[derive(Debug, Args)]
pub struct CiArgs {
    /// The CI-built image: a tag that keeps each claim's repository, or a full reference
    #[arg(long, value_name = "IMAGE")]
    pub image: String,

    /// The service repository, holding ci/config.yaml and platform/
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub root: PathBuf,

    /// The service name [default: service.name in ci/config.yaml]
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,

    /// The namespace [default: service.namespace in ci/config.yaml]
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The overlay of the claims: platform/<service>/overlays/<ENV>/
    #[arg(long, value_name = "ENV", default_value = "pr")]
    pub env: String,

    /// How long the deploy may wait for the service [default: deployment.wait_timeout]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Give the image to the claim with this name instead of matching image repositories
    /// (repeatable)
    #[arg(long = "claim", value_name = "NAME")]
    pub claim: Vec<String>,

    /// Ask Argo CD to sync the dependencies.platform Applications that are not Synced and Healthy
    #[arg(long)]
    pub sync_platform: bool,

    /// Do not ask the service's health and liveness endpoints after the deploy
    #[arg(long)]
    pub skip_health: bool,

    /// How long the tests may take [default: test.timeout]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub test_timeout: Option<Duration>,

    /// Do not run the migrations Job
    #[arg(long)]
    pub no_migrations: bool,

    /// Leave the test Jobs in the cluster
    #[arg(long)]
    pub keep: bool,

    /// First bring up the preview platform from this platform repo checkout (Kind + Argo CD)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub platform_repo: Option<PathBuf>,

    /// With --platform-repo: the Kind cluster's name
    #[arg(long, value_name = "NAME", default_value = "zerotouch-preview")]
    pub cluster_name: String,

    /// With --platform-repo: delete the Kind cluster at the end
    #[arg(long, requires = "platform_repo")]
    pub cleanup: bool,

    /// Print the plan (stages, what each would do; secrets redacted) and touch nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Ignore the stage cache: run every stage again
    #[arg(long)]
    pub fresh: bool,

    /// The stage cache
    #[arg(long, value_name = "FILE", default_value = ".zerotouch-cache/ci-stage-cache.json", value_hint = clap::ValueHint::FilePath)]
    pub cache: PathBuf,

    /// The kubeconfig [default: KUBECONFIG, then ~/.kube/config]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context [default: its current-context; kind-<cluster> with --platform-repo]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The service repository, holding ci/config.yaml
    #[arg(long, value_name = "DIR", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub root: PathBuf,

    /// The service name [default: service.name in ci/config.yaml]
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,

    /// The namespace the Jobs run in [default: service.namespace in ci/config.yaml]
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The image the Jobs run [default: the image of the service's Deployment in the cluster]
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    /// The test command, one word per flag (--command pytest --command -x)
    /// [default: test.command in ci/config.yaml, else the image's entrypoint]
    #[arg(long = "command", value_name = "WORD", allow_hyphen_values = true)]
    pub command: Vec<String>,

    /// The tests to run, given to the command as its last argument [default: test.path]
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,

    /// How long the tests may take: seconds, or with a unit (90s, 10m) [default: test.timeout]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Do not run the migrations Job
    #[arg(long)]
    pub no_migrations: bool,

    /// Leave the Jobs and their Secrets in the cluster (for kubectl logs / describe)
    #[arg(long)]
    pub keep: bool,

    /// Print the Jobs that would run (Secret values redacted) and contact no cluster
    #[arg(long)]
    pub dry_run: bool,

    /// The kubeconfig file [default: KUBECONFIG, then ~/.kube/config, then in-cluster]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use [default: its current-context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRunMode {
    /// Apply for real
    None,
    /// Print the objects; no cluster
    Client,
    /// Validate on the server; store nothing
    Server,
}

/// `300`, `300s`, `5m`, `1h`, `500ms`: a positive duration of at most a day.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 300, 90s, 5m or 1h, found `{s}`"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h or ms")),
    };
    if d.is_zero() || d > Duration::from_secs(86_400) {
        return Err("expected a duration above 0 and at most 24h".into());
    }
    Ok(d)
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
