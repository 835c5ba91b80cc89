//! From the flags the user gave to what a render will do (the high-level arguments of
//! `render` and `bootstrap`): which repository, environment, bundle, credentials and platform
//! source, with the defaults and checks in one place.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use zt::credentials::{Credentials, EnvSnapshot, Mode};
use zt::diag::{Diagnostic, Diagnostics};
use zt::render::argocd::PlatformSource;
use zt::render::kind::{KindSettings, valid_cluster_name};
use zt::render::{
    self, DEFAULT_OVERLAY, LOCAL_REPO_URL, PREVIEW_OVERLAY, PreviewRequest, ProductionRequest,
    Rendered, TemplateSource,
};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::TenantRepo;

use crate::CommandError;
use crate::args::SourceArgs;

/// What the command needs from a render besides the source flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct How {
    /// Use the built-in example (`render --example`).
    pub example: bool,
    /// Leave the Secrets out (`--skip-secrets`).
    pub skip_secrets: bool,
    /// The Talos stage is wanted, so `--secrets` is required (not for `-o yaml`).
    pub need_bundle: bool,
}

/// Credentials from the environment, unless secrets are skipped.
pub fn credentials(
    env: &EnvSnapshot,
    mode: Mode,
    skip: bool,
) -> Result<Option<Credentials>, CommandError> {
    if skip {
        return Ok(None);
    }
    env.credentials(mode).map(Some).map_err(|e| {
        CommandError::Other(anyhow!(
            "{e}\n(set them, or pass --skip-secrets to render everything else)"
        ))
    })
}

/// The platform repository URL Argo CD reads over the network.
pub fn remote_platform_url(src: &SourceArgs, env: &EnvSnapshot) -> Result<String, CommandError> {
    if let Some(url) = &src.platform_repo_url {
        zt::tenant::apps::git_url(url).map_err(|m| anyhow!("--platform-repo-url: {m}"))?;
        return Ok(url.clone());
    }
    match env.bot_username() {
        Some(user) => Ok(format!("https://github.com/{user}/zerotouch-platform.git")),
        None => Err(anyhow!(
            "the platform repository URL is unknown: pass --platform-repo-url URL or set BOT_GITHUB_USERNAME"
        )
        .into()),
    }
}

pub fn overlay_path(
    src: &SourceArgs,
    default: &str,
    env_name: &str,
) -> Result<String, CommandError> {
    let overlay = src
        .overlay
        .as_deref()
        .unwrap_or(default)
        .replace("{env}", env_name);
    zt::tenant::apps::repo_path(&overlay).map_err(|m| anyhow!("--overlay: {m}"))?;
    Ok(overlay)
}

pub fn production(
    src: &SourceArgs,
    how: &How,
    templates: &TemplateSource,
) -> Result<(Rendered, String), CommandError> {
    let streaming = !how.need_bundle;
    let (tenant, env_name, bundle, platform_repo, env) = if how.example {
        let bundle = zt::examples::bundle()?;
        (
            TenantRepo::embedded(zt::examples::tenant_repo()),
            src.env
                .clone()
                .unwrap_or_else(|| zt::examples::ENV.to_string()),
            Some(bundle),
            Some(zt::examples::platform_repo()),
            zt::examples::env(),
        )
    } else {
        let Some(env_name) = src.env.clone() else {
            return Err(anyhow!(
                "--env ENV is required in production mode (the directory under environments/)"
            )
            .into());
        };
        let tenant = TenantRepo::open(&src.tenant.tenant_repo)?;
        let bundle = match (&src.secrets, streaming) {
            (Some(path), _) => Some(load_bundle(path)?),
            // The stream holds Kubernetes objects only: no Talos configs, no bundle needed.
            (None, true) => None,
            (None, false) => {
                return Err(anyhow!(
                    "no secrets bundle given: pass --secrets FILE. Create one once per cluster with\n  kubectl zt secrets gen --out secrets.yaml\nand keep it out of git (it holds the cluster's private keys)"
                )
                .into());
            }
        };
        let platform_repo = match &src.platform_repo {
            Some(dir) if !dir.is_dir() => {
                return Err(anyhow!("--platform-repo {}: not a directory", dir.display()).into());
            }
            Some(dir) => Some(RepoFiles::dir(dir)),
            None => None,
        };
        (
            tenant,
            env_name,
            bundle,
            platform_repo,
            EnvSnapshot::from_process(),
        )
    };
    let platform = PlatformSource {
        url: remote_platform_url(src, &env)?,
        revision: src.revision.clone(),
        overlay: overlay_path(src, DEFAULT_OVERLAY, &env_name)?,
    };
    let creds = credentials(&env, Mode::Production, how.skip_secrets)?;
    let rendered = render::render_production(&ProductionRequest {
        tenant: &tenant,
        env: &env_name,
        bundle: bundle.as_ref(),
        platform_repo: platform_repo.as_ref(),
        platform,
        credentials: creds.as_ref(),
        templates,
    })?;
    Ok((rendered, format!("environment {env_name}")))
}

/// Whether an environment variable says "this is CI": set, and not empty, `0` or `false` (CI
/// systems set `CI=true`; people turn it off with `CI=false`).
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// Whether a run is in CI, where Argo CD reads the platform from GitHub: `--ci` (`flag`), or the
/// CI or GITHUB_ACTIONS variable set. The one rule for render, preview-patch and bootstrap.
pub fn ci_requested(flag: bool) -> bool {
    flag || env_flag("CI") || env_flag("GITHUB_ACTIONS")
}

/// [`ci_requested`] for the render flags.
pub fn preview_in_ci(src: &SourceArgs) -> bool {
    ci_requested(src.ci)
}

pub fn preview(
    src: &SourceArgs,
    how: &How,
    templates: &TemplateSource,
) -> Result<(Rendered, String), CommandError> {
    preview_at(src, how, templates, None)
}

/// [`preview`] with the root Application pinned to `revision` instead of the checkout's
/// commit (bootstrap commits the patched platform to a branch and tracks that).
pub fn preview_at(
    src: &SourceArgs,
    how: &How,
    templates: &TemplateSource,
    revision: Option<&str>,
) -> Result<(Rendered, String), CommandError> {
    if how.example {
        return Err(anyhow!(
            "--example renders the production example; preview needs a platform repo checkout"
        )
        .into());
    }
    if src.secrets.is_some() || src.env.is_some() {
        return Err(anyhow!("--secrets and --env are production flags: preview takes no tenant repository or Talos bundle").into());
    }
    let dir = src
        .platform_repo
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let abs = dir
        .canonicalize()
        .with_context(|| format!("--platform-repo {}", dir.display()))?;
    let (_, commit) = zt::git::Repo::open_at_head(&abs).map_err(|e| anyhow!(e))?;
    let env = EnvSnapshot::from_process();
    let in_ci = preview_in_ci(src);
    let url = if in_ci {
        remote_platform_url(src, &env)?
    } else {
        LOCAL_REPO_URL.to_string()
    };
    if !valid_cluster_name(&src.cluster_name) {
        return Err(anyhow!(
            "--cluster-name `{}`: kind allows lower-case letters, digits, `.` and `-`",
            src.cluster_name
        )
        .into());
    }
    let platform_repo = abs
        .to_str()
        .ok_or_else(|| {
            anyhow!(
                "--platform-repo {}: the path is not valid UTF-8",
                abs.display()
            )
        })?
        .to_string();
    let creds = credentials(&env, Mode::Preview, how.skip_secrets)?;
    let rendered = render::render_preview(&PreviewRequest {
        platform: PlatformSource {
            url,
            revision: revision.map_or(commit, str::to_string),
            overlay: overlay_path(src, PREVIEW_OVERLAY, "preview")?,
        },
        kind: KindSettings {
            name: src.cluster_name.clone(),
            node_image: src.node_image.clone(),
            platform_repo,
        },
        credentials: creds.as_ref(),
        templates,
    })?;
    Ok((rendered, "the preview".into()))
}

/// `--out -` and `--secrets -`: standard output and input.
pub const STDIO: &str = "-";

/// The secrets bundle at `path`, or from standard input for `-` (so a bundle decrypted by
/// `sops -d` or read from a secret store never has to touch the disk).
pub fn load_bundle(path: &Path) -> Result<SecretsBundle, Diagnostics> {
    if path.as_os_str() != STDIO {
        return SecretsBundle::load(path);
    }
    let stdin = Path::new("<stdin>");
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        Diagnostics::from(Diagnostic::file(
            stdin,
            format!("cannot read the secrets bundle (expected UTF-8 YAML): {e}"),
        ))
    })?;
    SecretsBundle::parse(&text, stdin)
}
