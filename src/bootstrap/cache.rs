//! The stage cache: which bootstrap stages finished, so a failed run can be resumed.
//!
//! Format (compatible with the old shell pipeline's `jq` readers):
//! `{"stages": {"<stage>": "<ISO-8601 UTC finish time>"}, "plan": "<fingerprint>"}`.
//! `plan` fingerprints the stage list and its targets (never secrets): a cache written for a
//! different plan (other nodes, other mode) is ignored rather than trusted. Every update is an
//! atomic file replace, so an interrupted run (Ctrl-C) leaves the previous consistent state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsio;

/// Where the cache lives, relative to the working directory.
pub const DEFAULT_PATH: &str = ".zerotouch-cache/bootstrap-stage-cache.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheFile {
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a stage cache ({message}); delete it or run with --fresh", path.display())]
    Corrupt { path: PathBuf, message: String },
}

/// The cache of one bootstrap run.
#[derive(Debug)]
pub struct StageCache {
    path: PathBuf,
    file: CacheFile,
    /// `--fresh`: read nothing, but still record progress for the next run.
    fresh: bool,
}

impl StageCache {
    /// Opens the cache at `path` for a run whose plan has fingerprint `plan`. A missing file is
    /// an empty cache; a cache of another plan is discarded.
    pub fn open(path: &Path, plan: &str, fresh: bool) -> Result<Self, CacheError> {
        let mut file = match std::fs::read(path) {
            Ok(bytes) if !fresh => {
                serde_json::from_slice::<CacheFile>(&bytes).map_err(|e| CacheError::Corrupt {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            Ok(_) => CacheFile::default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheFile::default(),
            Err(source) => {
                return Err(CacheError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        if file.plan.as_deref() != Some(plan) {
            file = CacheFile {
                stages: BTreeMap::new(),
                plan: Some(plan.to_string()),
            };
        }
        Ok(StageCache {
            path: path.to_path_buf(),
            file,
            fresh,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `stage` finished in an earlier run of the same plan.
    pub fn is_done(&self, stage: &str) -> bool {
        !self.fresh && self.file.stages.contains_key(stage)
    }

    /// Records `stage` as finished at `when` (ISO-8601 UTC) and persists atomically.
    pub fn mark_done(&mut self, stage: &str, when: &str) -> Result<(), CacheError> {
        self.file.stages.insert(stage.to_string(), when.to_string());
        self.fresh = false;
        self.save()
    }

    /// Forgets every finished stage (what they did no longer exists) and persists that.
    pub fn forget_all(&mut self) -> Result<(), CacheError> {
        self.file.stages.clear();
        self.save()
    }

    fn save(&self) -> Result<(), CacheError> {
        let io = |source| CacheError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut bytes = serde_json::to_vec_pretty(&self.file).map_err(|e| CacheError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        fsio::write_atomic(&self.path, &bytes, fsio::PUBLIC_MODE, true).map_err(io)
    }
}

/// `SHA-256` of the plan's description, hex: changes when stages or targets change.
pub fn fingerprint(plan_lines: &[String]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for l in plan_lines {
        ctx.update(l.as_bytes());
        ctx.update(b"\n");
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_the_same_plan_and_ignores_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_PATH);
        let plan = fingerprint(&["render".into(), "apply cp01".into()]);
        let mut c = StageCache::open(&path, &plan, false).unwrap();
        assert!(!c.is_done("render"));
        c.mark_done("render", "2026-11-27T12:00:00Z").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"render\": \"2026-11-27T12:00:00Z\""),
            "{text}"
        );

        assert!(
            StageCache::open(&path, &plan, false)
                .unwrap()
                .is_done("render")
        );
        assert!(
            !StageCache::open(&path, &plan, true)
                .unwrap()
                .is_done("render"),
            "--fresh"
        );
        let other = fingerprint(&["render".into(), "apply cp02".into()]);
        assert!(
            !StageCache::open(&path, &other, false)
                .unwrap()
                .is_done("render")
        );
    }

    #[test]
    fn reads_the_shell_pipelines_format_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(
            &path,
            r#"{"stages": {"talos_install": "2026-01-01T00:00:00Z"}}"#,
        )
        .unwrap();
        // No plan fingerprint: written by the old pipeline, so not trusted for this plan.
        assert!(
            !StageCache::open(&path, "p", false)
                .unwrap()
                .is_done("talos_install")
        );
        std::fs::write(&path, "not json").unwrap();
        let err = StageCache::open(&path, "p", false).unwrap_err();
        assert!(err.to_string().contains("--fresh"), "{err}");
    }
}
