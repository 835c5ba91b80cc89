//! Tenant applications: `tenants/<name>/config.yaml` (the original layout) and
//! `tenants/<name>/overlays/<ENV>/config.yaml` (the per-environment layout, which wins when both
//! exist for one tenant). Each becomes one Argo CD Application.

use std::path::{Path, PathBuf};

use super::repo::TenantRepo;
use super::rules;
use crate::diag::Diagnostics;
use crate::yaml::decode::Decoder;
use crate::yaml::{self, Node};

const KEYS: &[&str] = &[
    "tenant",
    "repoURL",
    "targetRevision",
    "appPath",
    "namespace",
];
const ENV_KEYS: &[&str] = &[
    "tenant",
    "environment",
    "repoURL",
    "targetRevision",
    "appPath",
    "namespace",
];

/// One tenant application, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantApp {
    pub name: String,
    pub repo_url: String,
    pub target_revision: String,
    /// The path Argo CD syncs: `appPath`, or `appPath/<environment>` in the per-environment
    /// layout (as the upstream ApplicationSet template did).
    pub path: String,
    pub namespace: String,
    /// The file it came from (display path).
    pub source: PathBuf,
}

/// Loads every tenant of the repository for `env`, sorted by name. All problems are reported.
pub fn load_all(repo: &TenantRepo, env: &str) -> Result<Vec<TenantApp>, Diagnostics> {
    let files = repo.files();
    let mut names = files.subdirs_with(Path::new("tenants"), Path::new("config.yaml"));
    names.extend(files.subdirs_with(
        Path::new("tenants"),
        &Path::new("overlays").join(env).join("config.yaml"),
    ));
    names.sort();
    names.dedup();
    let mut apps = Vec::new();
    let mut diags = Diagnostics::new();
    for name in names {
        let per_env = Path::new("tenants")
            .join(&name)
            .join("overlays")
            .join(env)
            .join("config.yaml");
        let legacy = Path::new("tenants").join(&name).join("config.yaml");
        let (rel, layered) = match files.read(&per_env) {
            Ok(Some(src)) => (per_env, Some(src)),
            Ok(None) => (legacy.clone(), None),
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        // The overlay wins, but a base config beside it is still the repository's and must be
        // valid: an unknown key there is a typo waiting for the day the overlay goes.
        if layered.is_some() {
            match files.read(&legacy) {
                Ok(Some(base)) => {
                    if let Err(d) = parse(&base, &files.display_path(&legacy), &name, None) {
                        diags.extend(d);
                    }
                }
                Ok(None) => {}
                Err(d) => diags.push(d),
            }
        }
        let src = match layered {
            Some(s) => s,
            None => match files.read(&rel) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            },
        };
        let shown = files.display_path(&rel);
        let env_layout = rel.components().count() > 3;
        match parse(&src, &shown, &name, env_layout.then_some(env)) {
            Ok(app) => apps.push(app),
            Err(d) => diags.extend(d),
        }
    }
    diags.into_result().map(|()| apps)
}

/// Parses one tenant config. `dir_name` is the directory under `tenants/`; `env` is set for the
/// per-environment layout.
pub fn parse(
    src: &str,
    file: &Path,
    dir_name: &str,
    env: Option<&str>,
) -> Result<TenantApp, Diagnostics> {
    let doc = yaml::parse_file_document(src, file)?;
    let mut d = Decoder::new(file);
    if let Err(m) = rules::dns1123_label(dir_name) {
        d.error(None, "", format!("tenant directory `{dir_name}`: {m}"));
    }
    let Some(f) = d.fields(&doc, "", if env.is_some() { ENV_KEYS } else { KEYS }) else {
        return Err(d.finish().sorted());
    };
    let pos = |n: Option<&Node>| n.map(|n| n.pos);

    let tenant = d.req_string(&f, "tenant");
    if let Some(t) = &tenant {
        if let Err(m) = rules::dns1123_label(t) {
            d.error(pos(f.get("tenant")), "tenant", m);
        } else if t != dir_name {
            d.error(
                pos(f.get("tenant")),
                "tenant",
                format!("`{t}` must equal its directory name `{dir_name}`"),
            );
        }
    }
    if let Some(env) = env
        && let Some(e) = d.req_string(&f, "environment")
        && e != env
    {
        d.error(
            pos(f.get("environment")),
            "environment",
            format!("`{e}` does not match the overlay directory `{env}`"),
        );
    }
    let repo_url = d.req_string(&f, "repoURL");
    if let Some(u) = &repo_url
        && let Err(m) = git_url(u)
    {
        d.error(pos(f.get("repoURL")), "repoURL", m);
    }
    let target_revision = d.req_string(&f, "targetRevision");
    if let Some(r) = &target_revision
        && (r.is_empty() || r.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        d.error(
            pos(f.get("targetRevision")),
            "targetRevision",
            "expected a branch, tag or commit without spaces",
        );
    }
    let app_path = d.req_string(&f, "appPath");
    if let Some(p) = &app_path
        && let Err(m) = repo_path(p)
    {
        d.error(pos(f.get("appPath")), "appPath", m);
    }
    let namespace = d.req_string(&f, "namespace");
    if let Some(ns) = &namespace
        && let Err(m) = rules::dns1123_label(ns)
    {
        d.error(pos(f.get("namespace")), "namespace", m);
    }
    match (tenant, repo_url, target_revision, app_path, namespace) {
        (Some(name), Some(repo_url), Some(target_revision), Some(app_path), Some(namespace))
            if !d.has_errors() =>
        {
            let path = match env {
                Some(e) => format!("{}/{e}", app_path.trim_end_matches('/')),
                None => app_path,
            };
            Ok(TenantApp {
                name,
                repo_url,
                target_revision,
                path,
                namespace,
                source: file.to_path_buf(),
            })
        }
        _ => Err(d.finish().sorted()),
    }
}

/// A git remote Argo CD can read: `https://host/path`, `ssh://...`, or scp-like `git@host:path`.
pub fn git_url(s: &str) -> Result<(), String> {
    if rules::url_has_credentials(s) {
        return Err(rules::credentials_in_url(s));
    }
    let expected = || {
        format!(
            "expected a git repository URL like https://github.com/org/repo.git, found `{}`",
            rules::shown_url(s)
        )
    };
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'')
    {
        return Err(expected());
    }
    let rest = if let Some(r) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("ssh://"))
    {
        r
    } else if let Some((user_host, path)) = s.split_once(':') {
        // scp-like syntax: user@host:path
        if user_host.contains('@') && !path.is_empty() && !path.starts_with('/') {
            return Ok(());
        }
        return Err(expected());
    } else {
        return Err(expected());
    };
    let (host, path) = rest.split_once('/').ok_or_else(expected)?;
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    if host.is_empty()
        || path.is_empty()
        || rules::dns1123_subdomain(&host.to_ascii_lowercase()).is_err()
            && host.parse::<std::net::IpAddr>().is_err()
    {
        return Err(expected());
    }
    Ok(())
}

/// A path inside a repository: relative, no `..`, no empty segments.
pub fn repo_path(p: &str) -> Result<(), String> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.split('/').any(|seg| seg == "..")
        || p.chars().any(|c| c.is_control() || c == '\\');
    if bad {
        Err(format!(
            "expected a relative path inside the repository (no `..`, not absolute), found `{p}`"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls() {
        for ok in [
            "https://github.com/org/repo.git",
            "https://gitlab.example.com/group/sub/repo",
            "ssh://git@github.com/org/repo.git",
            "git@github.com:org/repo.git",
        ] {
            assert!(git_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "not a url",
            "github.com/org/repo",
            "http//x",
            "https://",
            "https://host",
            "ftp://x/y",
            "file:///repo",
        ] {
            assert!(git_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repo_paths() {
        assert!(repo_path("tenants/identity/overlays").is_ok());
        for bad in ["", "/abs", "../up", "a/../../b"] {
            assert!(repo_path(bad).is_err(), "{bad}");
        }
    }
}
