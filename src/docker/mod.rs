//! The local Docker engine, through its API (bollard over the unix socket): what preview mode
//! needs beyond the `kind` CLI, which is loading locally built images into Kind's nodes
//! ([`ImageLoader`]).

mod load;

use std::path::{Path, PathBuf};

use bollard::Docker;
use thiserror::Error;

pub use self::load::{
    ImageLoader, KIND_CLUSTER_LABEL, LoadError, LoadReport, NodeImport, import_command,
};

/// Where the engine listens unless `DOCKER_HOST` says otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Seconds bollard waits for the response headers of one request. Image export and import
/// stream their bodies beyond this; it bounds only a hung engine.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The engine could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DockerError {
    #[error("no Docker engine socket at {socket}: is Docker installed and running?")]
    NoSocket { socket: PathBuf },
    #[error("the Docker engine at {socket} is not answering ({reason}): is it running?")]
    Unreachable { socket: PathBuf, reason: String },
    #[error(
        "DOCKER_HOST={host:?} is not supported: kubectl zt talks to the local engine over a \
         unix:// socket"
    )]
    UnsupportedHost { host: String },
}

/// The socket named by `DOCKER_HOST` (`unix://PATH`), else [`DEFAULT_SOCKET`].
pub fn socket_from_env() -> Result<PathBuf, DockerError> {
    socket_from_docker_host(std::env::var("DOCKER_HOST").ok().as_deref())
}

/// [`socket_from_env`] for a given `DOCKER_HOST` value.
pub fn socket_from_docker_host(host: Option<&str>) -> Result<PathBuf, DockerError> {
    match host {
        None | Some("") => Ok(PathBuf::from(DEFAULT_SOCKET)),
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(DockerError::UnsupportedHost {
                host: host.to_string(),
            }),
        },
    }
}

/// Connects to the engine named by the environment (see [`socket_from_env`]).
pub async fn connect() -> Result<Docker, DockerError> {
    connect_unix(&socket_from_env()?).await
}

/// Connects to the engine at `socket` and agrees on an API version: the engine may be older
/// than bollard's default version (Debian 12's Docker 20.10 speaks API 1.41), and it refuses
/// requests from newer clients. The version request doubles as the "is it up?" probe.
pub async fn connect_unix(socket: &Path) -> Result<Docker, DockerError> {
    if !socket.exists() {
        return Err(DockerError::NoSocket {
            socket: socket.to_path_buf(),
        });
    }
    let unreachable = |reason: String| DockerError::Unreachable {
        socket: socket.to_path_buf(),
        reason,
    };
    let docker = Docker::connect_with_unix(
        &socket.to_string_lossy(),
        REQUEST_TIMEOUT_SECS,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| unreachable(e.to_string()))?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(e.to_string()))
}

/// Whether a bollard error means the engine itself is gone (as opposed to refusing a request).
pub(crate) fn is_connection_error(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        e,
        E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::HttpClientError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_names_a_unix_socket_or_nothing() {
        assert_eq!(
            socket_from_docker_host(None).unwrap(),
            Path::new(DEFAULT_SOCKET)
        );
        assert_eq!(
            socket_from_docker_host(Some("")).unwrap(),
            Path::new(DEFAULT_SOCKET)
        );
        assert_eq!(
            socket_from_docker_host(Some("unix:///run/user/1000/docker.sock")).unwrap(),
            Path::new("/run/user/1000/docker.sock")
        );
        for host in [
            "tcp://10.0.0.1:2375",
            "unix://",
            "ssh://host",
            "/var/run/docker.sock",
        ] {
            assert!(
                matches!(
                    socket_from_docker_host(Some(host)),
                    Err(DockerError::UnsupportedHost { .. })
                ),
                "{host}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_socket_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let err = connect_unix(&socket).await.unwrap_err();
        assert_eq!(err, DockerError::NoSocket { socket });
        assert!(err.to_string().contains("is Docker installed and running"));
    }

    #[tokio::test]
    async fn a_socket_nobody_listens_on_is_unreachable() {
        // What a stopped engine leaves behind: the socket file, and nobody accepting.
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let err = connect_unix(&socket).await.unwrap_err();
        assert!(
            matches!(&err, DockerError::Unreachable { socket: s, .. } if *s == socket),
            "{err:?}"
        );
        assert!(err.to_string().contains("is it running?"), "{err}");
    }
}
