//! `kind load docker-image`, through the Docker API: export an image from the local engine
//! (`docker save`) and import the archive into the containerd of every node container of a Kind
//! cluster, by running `ctr images import` in each node with the archive on its standard input.
//!
//! The archive is spooled once to a temporary file (images can be large; nodes are fed from the
//! file, concurrently, each with its own read position) and hashed on the way, so the report can
//! say exactly which bytes every node received.

use std::fmt::Write as _;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerSummaryStateEnum;
use bollard::query_parameters::ListContainersOptionsBuilder;
use futures_util::StreamExt;
use futures_util::future::join_all;
use ring::digest;
use thiserror::Error;
use tokio::io::AsyncWriteExt;

use super::is_connection_error;

/// The label Kind puts on every node container, valued with the cluster name.
pub const KIND_CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";

/// Kind nodes run containerd with Kubernetes' images in this namespace.
const CONTAINERD_NAMESPACE: &str = "k8s.io";

/// How much of a node's ctr output is kept for the report or an error message.
const OUTPUT_TAIL_BYTES: usize = 4096;

/// What runs inside each node: `ctr` reading an image archive from standard input, as
/// `kind load docker-image` runs it. `--all-platforms` keeps ctr from dropping content of other
/// platforms; `--digests` also records the image under its digest, which Kubernetes may use.
pub fn import_command() -> Vec<String> {
    [
        "ctr",
        &format!("--namespace={CONTAINERD_NAMESPACE}"),
        "images",
        "import",
        "--all-platforms",
        "--digests",
        "-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Why an image could not be loaded. Every variant names what to do next.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error(
        "invalid Kind cluster name {cluster:?}: expected lower-case letters, digits, `.` and `-`"
    )]
    InvalidCluster { cluster: String },
    #[error("invalid image reference {image:?}")]
    InvalidImage { image: String },
    #[error("the Docker engine is not answering ({reason}): is it running?")]
    EngineUnreachable { reason: String },
    #[error(
        "image {image:?} is not in the local Docker engine: build or tag it first (images are \
         never pulled for you)"
    )]
    ImageMissing { image: String },
    #[error(
        "no Kind node containers for cluster {cluster:?} (none labelled \
         {KIND_CLUSTER_LABEL}={cluster}): create the cluster first, or check the name with \
         `kind get clusters`"
    )]
    NoNodes { cluster: String },
    #[error("Kind node {node} is not running (state: {state}): start the cluster again")]
    NodeNotRunning { node: String, state: String },
    #[error("exporting image {image:?} from Docker failed: {reason}")]
    Export { image: String, reason: String },
    #[error("cannot spool the image archive to a temporary file: {0}")]
    Spool(#[source] std::io::Error),
    #[error("importing into Kind node {node} failed: ctr exited with code {exit_code}: {stderr}")]
    ImportFailed {
        node: String,
        exit_code: i64,
        stderr: String,
    },
    #[error("importing into Kind node {node} failed: {reason}")]
    Exec { node: String, reason: String },
    #[error("Docker refused to {action}: {reason}")]
    Api {
        action: &'static str,
        reason: String,
    },
}

/// One node that received the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeImport {
    /// The node container's name (`<cluster>-control-plane`, `<cluster>-worker2`, ...).
    pub node: String,
    /// The end of what ctr printed.
    pub output: String,
}

/// What [`ImageLoader::load`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub image: String,
    /// The engine's image ID (`sha256:...`).
    pub image_id: String,
    /// Size and SHA-256 (hex) of the archive every node was fed.
    pub archive_bytes: u64,
    pub archive_sha256: String,
    /// In node-name order.
    pub nodes: Vec<NodeImport>,
}

/// Loads local images into the nodes of Kind clusters.
#[derive(Debug, Clone)]
pub struct ImageLoader {
    docker: Docker,
}

struct Node {
    id: String,
    name: String,
}

impl ImageLoader {
    /// `docker` should have negotiated its API version (see [`super::connect`]).
    pub fn new(docker: Docker) -> ImageLoader {
        ImageLoader { docker }
    }

    /// Exports `image` from the engine and imports it into every node of Kind cluster `cluster`.
    /// Nothing is imported anywhere unless the image exists and every node is running.
    pub async fn load(&self, image: &str, cluster: &str) -> Result<LoadReport, LoadError> {
        if cluster.is_empty()
            || !cluster
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(LoadError::InvalidCluster {
                cluster: cluster.to_string(),
            });
        }
        if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(LoadError::InvalidImage {
                image: image.to_string(),
            });
        }

        let image_id = self.image_id(image).await?;
        let nodes = self.nodes(cluster).await?;
        let (archive, archive_bytes, archive_sha256) = self.export(image).await?;

        let imports = nodes.iter().map(|node| async {
            let file = archive.reopen().map_err(LoadError::Spool)?;
            self.import_into(node, file).await
        });
        let nodes = join_all(imports)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoadReport {
            image: image.to_string(),
            image_id,
            archive_bytes,
            archive_sha256,
            nodes,
        })
    }

    fn api_error(action: &'static str, e: bollard::errors::Error) -> LoadError {
        if is_connection_error(&e) {
            return LoadError::EngineUnreachable {
                reason: e.to_string(),
            };
        }
        LoadError::Api {
            action,
            reason: e.to_string(),
        }
    }

    async fn image_id(&self, image: &str) -> Result<String, LoadError> {
        match self.docker.inspect_image(image).await {
            Ok(info) => Ok(info.id.unwrap_or_default()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(LoadError::ImageMissing {
                image: image.to_string(),
            }),
            Err(e) => Err(Self::api_error("inspect the image", e)),
        }
    }

    /// The cluster's node containers, running, in name order.
    async fn nodes(&self, cluster: &str) -> Result<Vec<Node>, LoadError> {
        let filters = std::collections::HashMap::from([(
            "label".to_string(),
            vec![format!("{KIND_CLUSTER_LABEL}={cluster}")],
        )]);
        // All containers, not only running ones: a stopped node is an error worth naming,
        // not a node to skip silently.
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| Self::api_error("list containers", e))?;
        let mut nodes = Vec::new();
        for c in containers {
            let id = c.id.unwrap_or_default();
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_else(|| id.clone());
            match c.state {
                Some(ContainerSummaryStateEnum::RUNNING) => nodes.push(Node { id, name }),
                state => {
                    return Err(LoadError::NodeNotRunning {
                        node: name,
                        state: state.map_or_else(|| "unknown".into(), |s| s.to_string()),
                    });
                }
            }
        }
        if nodes.is_empty() {
            return Err(LoadError::NoNodes {
                cluster: cluster.to_string(),
            });
        }
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    /// `docker save IMAGE` into a temporary file: the file, its size and SHA-256.
    async fn export(
        &self,
        image: &str,
    ) -> Result<(tempfile::NamedTempFile, u64, String), LoadError> {
        let spool = tempfile::Builder::new()
            .prefix("zt-image-")
            .suffix(".tar")
            .tempfile()
            .map_err(LoadError::Spool)?;
        let mut out = tokio::fs::File::from_std(spool.reopen().map_err(LoadError::Spool)?);
        let mut hash = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        let mut stream = self.docker.export_image(image);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => LoadError::ImageMissing {
                    image: image.to_string(),
                },
                e if is_connection_error(&e) => LoadError::EngineUnreachable {
                    reason: e.to_string(),
                },
                e => LoadError::Export {
                    image: image.to_string(),
                    reason: e.to_string(),
                },
            })?;
            hash.update(&chunk);
            size += chunk.len() as u64;
            out.write_all(&chunk).await.map_err(LoadError::Spool)?;
        }
        out.flush().await.map_err(LoadError::Spool)?;
        if size == 0 {
            return Err(LoadError::Export {
                image: image.to_string(),
                reason: "the engine sent an empty archive".into(),
            });
        }
        let mut hex = String::with_capacity(64);
        for b in hash.finish().as_ref() {
            let _ = write!(hex, "{b:02x}");
        }
        Ok((spool, size, hex))
    }

    /// Runs `ctr images import` in `node` with `archive` on its standard input.
    async fn import_into(
        &self,
        node: &Node,
        archive: std::fs::File,
    ) -> Result<NodeImport, LoadError> {
        let exec_error = |reason: String| LoadError::Exec {
            node: node.name.clone(),
            reason,
        };
        let created = self
            .docker
            .create_exec(
                &node.id,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(import_command()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                } => LoadError::NodeNotRunning {
                    node: node.name.clone(),
                    state: "not running".into(),
                },
                e if is_connection_error(&e) => LoadError::EngineUnreachable {
                    reason: e.to_string(),
                },
                e => exec_error(e.to_string()),
            })?;
        let started = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| exec_error(e.to_string()))?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        else {
            return Err(exec_error("the engine did not attach to ctr".into()));
        };

        // Feed and drain at once: ctr may write while it reads, and a full output pipe would
        // otherwise stall it.
        let feed = async move {
            let mut file = tokio::fs::File::from_std(archive);
            tokio::io::copy(&mut file, &mut input).await?;
            // Half-close the attached stream: ctr reads until end of file.
            input.shutdown().await
        };
        let drain = async {
            let mut stdout = Tail::default();
            let mut stderr = Tail::default();
            while let Some(item) = output.next().await {
                match item {
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                        stdout.push(&message)
                    }
                    Ok(LogOutput::StdErr { message }) => stderr.push(&message),
                    Ok(LogOutput::StdIn { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok((stdout, stderr))
        };
        let (fed, drained) = tokio::join!(feed, drain);
        let (stdout, stderr) = drained.map_err(|e| exec_error(e.to_string()))?;

        let exit_code = self.exit_code(&created.id).await.map_err(exec_error)?;
        if exit_code != 0 {
            // ctr's own words beat a broken pipe: it may have stopped reading early.
            return Err(LoadError::ImportFailed {
                node: node.name.clone(),
                exit_code,
                stderr: stderr.text(),
            });
        }
        fed.map_err(|e| exec_error(format!("writing the archive to ctr: {e}")))?;
        Ok(NodeImport {
            node: node.name.clone(),
            output: stdout.text(),
        })
    }

    /// The exit code of a finished exec. The output stream can close a moment before the engine
    /// records the exit, so probe with a short backoff until it has.
    async fn exit_code(&self, exec_id: &str) -> Result<i64, String> {
        let mut delay = std::time::Duration::from_millis(5);
        for _ in 0..12 {
            let info = self
                .docker
                .inspect_exec(exec_id)
                .await
                .map_err(|e| e.to_string())?;
            if info.running != Some(true)
                && let Some(code) = info.exit_code
            {
                return Ok(code);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_millis(500));
        }
        Err("ctr did not finish after its output ended".into())
    }
}

/// The last [`OUTPUT_TAIL_BYTES`] of a stream.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > OUTPUT_TAIL_BYTES {
            let cut = self.0.len() - OUTPUT_TAIL_BYTES;
            self.0.drain(..cut);
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_command_is_kinds() {
        assert_eq!(
            import_command().join(" "),
            "ctr --namespace=k8s.io images import --all-platforms --digests -"
        );
    }

    #[test]
    fn tail_keeps_the_end() {
        let mut t = Tail::default();
        t.push(&vec![b'a'; OUTPUT_TAIL_BYTES]);
        t.push(b"\nlast line\n");
        let text = t.text();
        assert!(text.ends_with("last line"));
        assert_eq!(t.0.len(), OUTPUT_TAIL_BYTES);
    }

    #[tokio::test]
    async fn names_are_checked_before_docker_is_asked() {
        // A client whose socket nobody listens on: any request would fail as unreachable,
        // so these errors prove nothing was sent.
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let docker =
            Docker::connect_with_unix(&socket.to_string_lossy(), 1, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let loader = ImageLoader::new(docker);
        for cluster in ["", "Zt", "a b", "a/b"] {
            let err = loader.load("app:sha-abc123", cluster).await.unwrap_err();
            assert!(
                matches!(err, LoadError::InvalidCluster { .. }),
                "{cluster:?}: {err}"
            );
        }
        for image in ["", "app tag", "app\n"] {
            let err = loader.load(image, "zt").await.unwrap_err();
            assert!(
                matches!(err, LoadError::InvalidImage { .. }),
                "{image:?}: {err}"
            );
        }
        let err = loader.load("app:sha-abc123", "zt").await.unwrap_err();
        assert!(
            matches!(err, LoadError::EngineUnreachable { .. }),
            "{err:?}"
        );
    }
}
