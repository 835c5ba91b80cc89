//! `kubectl zt render`

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use zt::credentials::{Credentials, EnvSnapshot, Mode};
use zt::render::argocd::PlatformSource;
use zt::render::kind::{KindSettings, valid_cluster_name};
use zt::render::{
    self, DEFAULT_OVERLAY, LOCAL_REPO_URL, OutputTree, PREVIEW_OVERLAY, PreviewRequest,
    ProductionRequest, Rendered, TemplateSource, check, stream,
};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::TenantRepo;

use crate::CommandError;
use crate::args::{RenderArgs, RenderMode};
use crate::messages::{Outcome, Printer};

pub fn run(args: &RenderArgs, p: Printer) -> Result<Outcome, CommandError> {
    let templates = TemplateSource {
        override_dir: args.templates.clone(),
    };
    let (rendered, what) = match args.mode {
        RenderMode::Production => production(args, &templates)?,
        RenderMode::Preview => preview(args, &templates)?,
    };
    for w in &rendered.warnings {
        p.warn(w);
    }
    if args.output.is_some() {
        let text = stream::apply_stream(&rendered.tree, args.include_secrets)?;
        std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to stdout")?;
        return Ok(Outcome::Success);
    }
    if args.check {
        return check_against(&rendered.tree, &args.out, p);
    }
    rendered
        .tree
        .write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("rendered {what} into {}:", args.out.display());
    for (f, file) in rendered.tree.iter() {
        println!(
            "  {}{}",
            f.display(),
            if file.secret { "  (0600)" } else { "" }
        );
    }
    Ok(Outcome::Success)
}

/// Credentials from the environment, unless secrets are skipped.
fn credentials(
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
fn remote_platform_url(args: &RenderArgs, env: &EnvSnapshot) -> Result<String, CommandError> {
    if let Some(url) = &args.platform_repo_url {
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

fn overlay_path(args: &RenderArgs, default: &str, env_name: &str) -> Result<String, CommandError> {
    let overlay = args
        .overlay
        .as_deref()
        .unwrap_or(default)
        .replace("{env}", env_name);
    zt::tenant::apps::repo_path(&overlay).map_err(|m| anyhow!("--overlay: {m}"))?;
    Ok(overlay)
}

fn production(
    args: &RenderArgs,
    templates: &TemplateSource,
) -> Result<(Rendered, String), CommandError> {
    let streaming = args.output.is_some();
    let (tenant, env_name, bundle, platform_repo, env) = if args.example {
        let bundle =
            SecretsBundle::parse(zt::examples::SECRETS, Path::new(zt::examples::SECRETS_PATH))?;
        (
            TenantRepo::embedded(zt::examples::tenant_repo()),
            args.env
                .clone()
                .unwrap_or_else(|| zt::examples::ENV.to_string()),
            Some(bundle),
            Some(zt::examples::platform_repo()),
            zt::examples::env(),
        )
    } else {
        let Some(env_name) = args.env.clone() else {
            return Err(anyhow!(
                "--env ENV is required in production mode (the directory under environments/)"
            )
            .into());
        };
        let tenant = TenantRepo::open(&args.tenant.tenant_repo)?;
        let bundle = match (&args.secrets, streaming) {
            (Some(path), _) => Some(SecretsBundle::load(path)?),
            // The stream holds Kubernetes objects only: no Talos configs, no bundle needed.
            (None, true) => None,
            (None, false) => {
                return Err(anyhow!(
                    "no secrets bundle given: pass --secrets FILE. Create one once per cluster with\n  kubectl zt secrets gen --out secrets.yaml\nand keep it out of git (it holds the cluster's private keys)"
                )
                .into());
            }
        };
        let platform_repo = match &args.platform_repo {
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
        url: remote_platform_url(args, &env)?,
        revision: args.revision.clone(),
        overlay: overlay_path(args, DEFAULT_OVERLAY, &env_name)?,
    };
    let creds = credentials(&env, Mode::Production, args.skip_secrets)?;
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

fn preview(
    args: &RenderArgs,
    templates: &TemplateSource,
) -> Result<(Rendered, String), CommandError> {
    if args.example {
        return Err(anyhow!(
            "--example renders the production example; preview needs a platform repo checkout"
        )
        .into());
    }
    if args.secrets.is_some() || args.env.is_some() {
        return Err(anyhow!("--secrets and --env are production flags: preview takes no tenant repository or Talos bundle").into());
    }
    let dir = args
        .platform_repo
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let abs = dir
        .canonicalize()
        .with_context(|| format!("--platform-repo {}", dir.display()))?;
    let commit = zt::git::head_commit(&abs).map_err(|e| anyhow!(e))?;
    let env = EnvSnapshot::from_process();
    let in_ci =
        args.ci || std::env::var_os("CI").is_some() || std::env::var_os("GITHUB_ACTIONS").is_some();
    let url = if in_ci {
        remote_platform_url(args, &env)?
    } else {
        LOCAL_REPO_URL.to_string()
    };
    if !valid_cluster_name(&args.cluster_name) {
        return Err(anyhow!(
            "--cluster-name `{}`: kind allows lower-case letters, digits, `.` and `-`",
            args.cluster_name
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
    let creds = credentials(&env, Mode::Preview, args.skip_secrets)?;
    let rendered = render::render_preview(&PreviewRequest {
        platform: PlatformSource {
            url,
            revision: commit,
            overlay: overlay_path(args, PREVIEW_OVERLAY, "preview")?,
        },
        kind: KindSettings {
            name: args.cluster_name.clone(),
            node_image: args.node_image.clone(),
            platform_repo,
        },
        credentials: creds.as_ref(),
        templates,
    })?;
    Ok((rendered, "the preview".into()))
}

fn check_against(tree: &OutputTree, out: &Path, p: Printer) -> Result<Outcome, CommandError> {
    if !out.is_dir() {
        return Err(anyhow!(
            "--check: {} does not exist; render into it first (without --check)",
            out.display()
        )
        .into());
    }
    let changes = check::compare(tree, out);
    if changes.is_empty() {
        p.info(&format!(
            "{}: up to date ({} files)",
            out.display(),
            tree.len()
        ));
        return Ok(Outcome::Success);
    }
    for c in &changes {
        print!("{}", c.diff);
    }
    eprintln!(
        "{}: {} file{} differ from a fresh render",
        out.display(),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    );
    Ok(Outcome::Differences)
}
