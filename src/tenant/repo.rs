//! Finding things in a tenant repository.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::source::RepoFiles;

/// A tenant repository.
#[derive(Debug, Clone)]
pub struct TenantRepo {
    files: RepoFiles,
}

/// Where an environment's Talos values live, relative to the repository root.
pub fn values_path(env: &str) -> PathBuf {
    Path::new("environments")
        .join(env)
        .join("talos-values.yaml")
}

impl TenantRepo {
    /// Opens `root`, which must be a directory.
    pub fn open(root: &Path) -> Result<Self, Diagnostic> {
        if !root.is_dir() {
            return Err(Diagnostic::file(
                root,
                "tenant repository not found: expected a directory holding environments/<ENV>/talos-values.yaml",
            ));
        }
        Ok(TenantRepo {
            files: RepoFiles::dir(root),
        })
    }

    /// A repository whose files are compiled in.
    pub fn embedded(files: RepoFiles) -> Self {
        TenantRepo { files }
    }

    pub fn files(&self) -> &RepoFiles {
        &self.files
    }

    /// The path to show for a file of this repository.
    pub fn display_path(&self, rel: &Path) -> PathBuf {
        self.files.display_path(rel)
    }

    /// Environments that have a `talos-values.yaml`, sorted.
    pub fn environments(&self) -> Vec<String> {
        self.files
            .subdirs_with(Path::new("environments"), Path::new("talos-values.yaml"))
    }

    /// The values file of `env` and its contents, or an error that names the path and lists
    /// the environments that exist.
    pub fn values_file(&self, env: &str) -> Result<(PathBuf, String), Diagnostic> {
        let rel = values_path(env);
        let shown = self.display_path(&rel);
        if env.is_empty() || env.contains(['/', '\\']) || env == "." || env == ".." {
            return Err(Diagnostic::file(
                &shown,
                format!("`{env}` is not an environment name"),
            ));
        }
        if let Some(src) = self.files.read(&rel)? {
            return Ok((shown, src));
        }
        let envs = self.environments();
        let known = if envs.is_empty() {
            "no environments exist yet (create environments/<ENV>/talos-values.yaml)".to_string()
        } else {
            format!("environments that exist: {}", envs.join(", "))
        };
        Err(Diagnostic::file(
            &shown,
            format!("environment `{env}` not found; {known}"),
        ))
    }
}
