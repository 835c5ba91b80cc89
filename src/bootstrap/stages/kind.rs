//! The Kind cluster of a preview, made by the real `kind` CLI (kind has no API to call).
//!
//! `kind get clusters` decides: an existing cluster is kept and only its kubeconfig exported;
//! otherwise `kind create cluster` runs with the rendered config in a temporary file. Before any
//! of that, the stage checks that `kind` is on PATH and that the Docker engine answers, so the
//! two usual failures get their own clear message rather than kind's.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;

use super::super::context::Ctx;
use super::super::stage::{Stage, StageError, StageFuture};
use crate::process::{ProcessError, Run};
use crate::progress::format_duration;

/// Where to get kind when it is missing.
pub const INSTALL_URL: &str = "https://kind.sigs.k8s.io/docs/user/quick-start/#installation";

/// Finds `program` the way a shell does: a name with a `/` is used as it is, anything else is
/// looked up in the directories of `path` (PATH), first executable file wins.
pub fn find_program(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    let given = Path::new(program);
    if given.components().count() > 1 {
        return is_executable(given).then(|| given.to_path_buf());
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Runs one kind command and returns its standard output lines, through the process runner:
/// kind's stderr lines become `-v` details as they arrive, the run is bounded by `limit` (the
/// child is killed when it runs over or the stage is dropped, e.g. on Ctrl-C), kind gets none of
/// the platform's credentials, and a non-zero exit is an error quoting kind's last lines.
async fn run_kind(
    ctx: &Ctx,
    program: &Path,
    args: &[OsString],
    limit: Duration,
    what: &str,
) -> Result<Vec<String>, StageError> {
    let run = Run::new(program, args).limit(limit);
    match run.run(|l| ctx.detail(&format!("kind: {l}"))).await {
        Ok(done) => {
            let lines: Vec<String> = done
                .stdout_text()
                .lines()
                .map(|l| l.trim_end().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
            for l in &lines {
                ctx.detail(&format!("kind: {l}"));
            }
            Ok(lines)
        }
        Err(e) if e.is_spawn() => Err(StageError::new(format!(
            "cannot run {}: {e}",
            program.display()
        ))
        .hint(format!("install kind: {INSTALL_URL}"))),
        Err(ProcessError::TimedOut { .. }) => Err(StageError::new(format!(
            "{what} did not finish within {}",
            format_duration(limit)
        ))
        .hint("raise --node-timeout, or look at `docker ps -a` and kind's log (-v)")),
        Err(ProcessError::Failed {
            status,
            stderr_tail,
            ..
        }) => {
            let said = if stderr_tail.is_empty() {
                String::new()
            } else {
                format!(":\n    {}", stderr_tail.join("\n    "))
            };
            let how = match status.strip_prefix("exit ") {
                Some(code) => format!("kind exited with {code}"),
                None => format!("kind was {status}"),
            };
            Err(StageError::new(format!("{what} failed ({how}){said}")))
        }
        Err(e) => Err(StageError::new(format!("{what}: {e}"))),
    }
}

/// Creates the preview's Kind cluster, or keeps the one that exists.
pub struct KindCreate {
    /// The cluster name (`kind-<name>` becomes the kubeconfig context).
    pub cluster: String,
    /// The rendered `kind/cluster.yaml`.
    pub config: Vec<u8>,
    /// The kind executable: a name looked up in PATH (`kind`) or a path.
    pub program: OsString,
    /// The checkout an existing cluster must mount at /repo, when Argo CD reads it there
    /// (local mode). A cluster made from another config (another checkout, or none) would
    /// have Argo CD sync a tree nobody patched.
    pub repo_mount: Option<PathBuf>,
}

impl KindCreate {
    /// The arguments of `kind create cluster` (the config and kubeconfig paths are the run's).
    pub fn create_args(&self, config: &Path, kubeconfig: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["create", "cluster", "--name", &self.cluster]
            .iter()
            .map(OsString::from)
            .collect();
        args.push("--config".into());
        args.push(config.into());
        args.push("--kubeconfig".into());
        args.push(kubeconfig.into());
        // Readiness is the next stages' business (they probe the API and the node); kind
        // returns as soon as the control plane is up.
        args.push("--wait".into());
        args.push("0s".into());
        args
    }

    fn export_args(&self, kubeconfig: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["export", "kubeconfig", "--name", &self.cluster]
            .iter()
            .map(OsString::from)
            .collect();
        args.push("--kubeconfig".into());
        args.push(kubeconfig.into());
        args
    }
}

impl Stage for KindCreate {
    fn name(&self) -> String {
        "kind-create".into()
    }

    fn summary(&self) -> String {
        format!(
            "create Kind cluster {} with `kind create cluster` (kept when it exists)",
            self.cluster
        )
    }

    fn details(&self) -> Vec<String> {
        let program = self.program.to_string_lossy();
        let mut d = vec![
            format!("check that {program} is on PATH and that the Docker engine answers"),
            format!(
                "{program} get clusters: if {} is listed, keep it and run `{program} export kubeconfig --name {} --kubeconfig <kubeconfig>`",
                self.cluster, self.cluster
            ),
        ];
        if let Some(repo) = &self.repo_mount {
            d.push(format!(
                "a kept cluster must mount {} at /repo (checked on container {}-control-plane)",
                repo.display(),
                self.cluster
            ));
        }
        d.push(format!(
            "otherwise: {program} create cluster --name {} --config <temporary file: the rendered kind/cluster.yaml, {} bytes> --kubeconfig <kubeconfig> --wait 0s",
            self.cluster,
            self.config.len()
        ));
        d.push(format!("then use kubeconfig context kind-{}", self.cluster));
        d
    }

    /// Never skipped: `kind get clusters` is cheap, and the cluster may have been deleted
    /// since the run that recorded it.
    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let program = find_program(&self.program, std::env::var_os("PATH").as_deref())
                .ok_or_else(|| {
                    StageError::new(format!(
                        "`{}` is not on PATH: the preview cluster is made by the kind CLI",
                        self.program.to_string_lossy()
                    ))
                    .hint(format!("install kind: {INSTALL_URL}"))
                })?;
            ctx.detail(&format!("using {}", program.display()));
            let docker = check_docker().await?;

            let listed = run_kind(
                ctx,
                &program,
                &["get".into(), "clusters".into()],
                ctx.timing.kind,
                "kind get clusters",
            )
            .await?;
            let exists = listed.iter().any(|l| l.trim() == self.cluster);
            if let Some(dir) = ctx
                .kubeconfig
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StageError::new(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            if exists {
                ctx.detail(&format!(
                    "cluster {} exists: keeping it, exporting its kubeconfig",
                    self.cluster
                ));
                self.check_repo_mount(ctx, &docker).await?;
                run_kind(
                    ctx,
                    &program,
                    &self.export_args(&ctx.kubeconfig),
                    ctx.timing.kind,
                    "kind export kubeconfig",
                )
                .await?;
            } else {
                // kind reads its config from a file; it holds names, ports and a path, nothing
                // secret. The file lives until kind is done with it.
                let mut file = tempfile::Builder::new()
                    .prefix("zt-kind-")
                    .suffix(".yaml")
                    .tempfile()
                    .map_err(|e| {
                        StageError::new(format!("cannot write the Kind config file: {e}"))
                    })?;
                std::io::Write::write_all(&mut file, &self.config).map_err(|e| {
                    StageError::new(format!("cannot write the Kind config file: {e}"))
                })?;
                run_kind(
                    ctx,
                    &program,
                    &self.create_args(file.path(), &ctx.kubeconfig),
                    ctx.timing.kind,
                    &format!("kind create cluster --name {}", self.cluster),
                )
                .await
                .map_err(|e| {
                    let hint = format!(
                        "kind may have left a half-made cluster: `kind delete cluster --name {}`, then rerun",
                        self.cluster
                    );
                    StageError {
                        hint: Some(e.hint.clone().unwrap_or(hint)),
                        ..e
                    }
                })?;
                // Whatever earlier runs installed lived in a cluster that is gone.
                ctx.invalidate_cached_stages();
            }
            ctx.kube_context = Some(format!("kind-{}", self.cluster));
            ctx.reset_cluster();
            Ok(())
        })
    }
}

impl KindCreate {
    /// An existing cluster must mount [`KindCreate::repo_mount`] at /repo. Kind names the
    /// control-plane container `<cluster>-control-plane`; when there is none to look at (not a
    /// Docker-based kind), the check is skipped with a detail line.
    async fn check_repo_mount(&self, ctx: &Ctx, docker: &Docker) -> Result<(), StageError> {
        let Some(want) = &self.repo_mount else {
            return Ok(());
        };
        let node = format!("{}-control-plane", self.cluster);
        let info = match docker.inspect_container(&node, None).await {
            Ok(info) => info,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                ctx.detail(&format!(
                    "no container {node}: cannot check what the cluster mounts at /repo"
                ));
                return Ok(());
            }
            Err(e) => {
                return Err(StageError::new(format!("inspecting Kind node {node}: {e}")));
            }
        };
        let mounted = info
            .mounts
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.destination.as_deref() == Some("/repo"))
            .and_then(|m| m.source);
        let same = mounted.as_deref().is_some_and(|src| {
            let src = Path::new(src);
            src == want || src.canonicalize().is_ok_and(|c| c == *want)
        });
        if same {
            ctx.detail(&format!("{node} mounts {} at /repo", want.display()));
            return Ok(());
        }
        Err(StageError::new(format!(
            "Kind cluster {} exists but mounts {} at /repo, not {}: Argo CD would sync another tree than the one patched",
            self.cluster,
            mounted.as_deref().unwrap_or("nothing"),
            want.display()
        ))
        .hint(format!(
            "delete it (`kind delete cluster --name {}`) and rerun, or pick another --cluster-name",
            self.cluster
        )))
    }
}

/// kind drives Docker; when the engine is not there, say so before kind does (in its words,
/// a failed `docker ps`).
async fn check_docker() -> Result<Docker, StageError> {
    let hint = "kind runs its nodes as Docker containers: start the Docker engine (or point DOCKER_HOST=unix://... at it)";
    let docker = crate::docker::connect().await.map_err(|e| {
        StageError::new(format!("the Docker engine is unreachable: {e}")).hint(hint)
    })?;
    docker.ping().await.map_err(|e| {
        StageError::new(format!("the Docker engine does not answer a ping: {e}")).hint(hint)
    })?;
    Ok(docker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_like_a_shell_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let kind = dir.path().join("kind");
        std::fs::write(&kind, "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([empty.path(), dir.path()]).unwrap();
        // Not executable yet: a shell would not run it either.
        assert_eq!(find_program(OsStr::new("kind"), Some(&path)), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&kind, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(
            find_program(OsStr::new("kind"), Some(&path)),
            Some(kind.clone())
        );
        assert_eq!(find_program(OsStr::new("kind"), None), None);
        assert_eq!(
            find_program(kind.as_os_str(), None),
            Some(kind.clone()),
            "a path is used as it is"
        );
        assert_eq!(
            find_program(empty.path().join("kind").as_os_str(), Some(&path)),
            None
        );
    }

    #[test]
    fn create_arguments_name_files_not_contents() {
        let stage = KindCreate {
            cluster: "zerotouch-preview".into(),
            config: b"kind: Cluster\n".to_vec(),
            program: "kind".into(),
            repo_mount: None,
        };
        let args: Vec<String> = stage
            .create_args(Path::new("/tmp/c.yaml"), Path::new("/home/u/.kube/config"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "create cluster --name zerotouch-preview --config /tmp/c.yaml --kubeconfig /home/u/.kube/config --wait 0s"
        );
    }
}
