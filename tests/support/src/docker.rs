//! Kind-node stand-ins on the machine's real Docker engine.
//!
//! The engine has no images and no registry, so every image is made here from scratch: a
//! "node" image holding Debian's static busybox and a `ctr` that is a busybox shell script
//! recording its arguments and standard input, and small payload images to load. Containers
//! from the node image carry Kind's labels, so the loader finds them exactly as it finds real
//! Kind nodes. Only `ctr` itself is fake: export, exec, stdin streaming and exit codes are the
//! engine's own.
//!
//! Every test gets unique names (tests run in parallel) and a [`Scratch`] that removes what it
//! created when dropped, panics included.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;

/// Where Debian's `busybox-static` installs its binary (.ci/run installs the package).
pub const BUSYBOX: &str = "/bin/busybox";

/// Label on everything the tests create, to find leftovers of a killed run:
/// `docker ps -a --filter label=zt-test`.
pub const TEST_LABEL: &str = "zt-test";

/// Kind's labels on a node container (the loader finds nodes by the first).
pub use zt::docker::KIND_CLUSTER_LABEL;
pub const KIND_ROLE_LABEL: &str = "io.x-k8s.kind.role";

/// Where the node image puts the fake `ctr` (where kindest/node has the real one).
pub const CTR_PATH: &str = "/usr/local/bin/ctr";

/// The stand-in for containerd's `ctr` in a Kind node: records argv (one per line, from
/// argv[0]) and stdin under /recorded, then succeeds, or fails like ctr when the node's environment says so.
pub const FAKE_CTR: &str = r#"#!/bin/busybox sh
# Stand-in for containerd's ctr inside a Kind node: keep what we were given, then answer.
bb=/bin/busybox
$bb mkdir -p /recorded
printf '%s\n' "$0" > /recorded/argv
for arg in "$@"; do printf '%s\n' "$arg" >> /recorded/argv; done
$bb cat > /recorded/stdin
if [ -n "$FAKE_CTR_FAIL" ]; then
  echo "ctr: $FAKE_CTR_FAIL" >&2
  exit 3
fi
echo "unpacking image ($($bb wc -c < /recorded/stdin) bytes)...done"
"#;

/// The engine when it answers, else `None` after saying on stderr why the test is skipped.
/// With `ZT_REQUIRE_DOCKER` set (CI sets it), an unavailable engine fails the test instead.
/// The same holds for Debian's busybox-static, which the node image is built around.
pub async fn docker_or_skip(test: &str) -> Option<Docker> {
    let missing = if !Path::new(BUSYBOX).is_file() {
        Some(format!(
            "{BUSYBOX} is missing (apt-get install busybox-static; .ci/run does)"
        ))
    } else {
        match zt::docker::connect().await {
            Ok(docker) => return Some(docker),
            Err(e) => Some(format!("the Docker engine is unavailable: {e}")),
        }
    };
    let why = missing.unwrap_or_default();
    if std::env::var_os("ZT_REQUIRE_DOCKER").is_some() {
        panic!("{test}: ZT_REQUIRE_DOCKER is set but {why}");
    }
    eprintln!("skipping {test}: {why}");
    None
}

/// A name no other test (or run) uses: lower-case, valid as a Kind cluster name and image name.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deterministic filler bytes that do not compress to nothing, different for each `seed`.
pub fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = seed.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Containers and images a test created; removed on drop.
pub struct Scratch {
    pub docker: Docker,
    containers: Vec<String>,
    images: Vec<String>,
}

impl Scratch {
    pub fn new(docker: Docker) -> Scratch {
        Scratch {
            docker,
            containers: Vec::new(),
            images: Vec::new(),
        }
    }

    /// Creates image `tag` from scratch: a single layer holding `files` (path, mode, contents),
    /// plus Dockerfile-style `changes` (`CMD [...]`). This is `docker import`, not a build: the
    /// classic builder makes a container per step, which costs about a second each on this
    /// engine's storage driver, and an imported image is just as much `FROM scratch`.
    pub async fn import_image(
        &mut self,
        tag: &str,
        files: &[(&str, u32, &[u8])],
        changes: &[&str],
    ) {
        let (repo, version) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
        let mut rootfs = tar::Builder::new(Vec::new());
        let mut dirs: Vec<String> = Vec::new();
        for (path, _, _) in files {
            let mut parent = Path::new(path).parent();
            while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
                dirs.push(format!("{}/", dir.display()));
                parent = dir.parent();
            }
        }
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            header.set_mode(0o755);
            rootfs
                .append_data(&mut header, &dir, std::io::empty())
                .expect("image rootfs");
        }
        for (path, mode, data) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            rootfs
                .append_data(&mut header, path, *data)
                .expect("image rootfs");
        }
        let rootfs = rootfs.into_inner().expect("image rootfs");
        let mut changes: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        changes.push(format!("LABEL {TEST_LABEL}=1"));
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(version)
            .changes(changes)
            .build();
        self.images.push(tag.to_string());
        let mut progress =
            self.docker
                .create_image(Some(options), Some(bollard::body_full(rootfs.into())), None);
        while let Some(step) = progress.next().await {
            match step {
                Ok(info) => {
                    if let Some(detail) = info.error_detail {
                        panic!("importing {tag}: {:?}", detail.message);
                    }
                }
                Err(e) => panic!("importing {tag}: {e}"),
            }
        }
    }

    /// The Kind-node image: busybox and the fake `ctr`, idling.
    pub async fn build_node_image(&mut self, tag: &str) {
        let busybox = std::fs::read(BUSYBOX).unwrap_or_else(|e| {
            panic!("{BUSYBOX}: {e} (install Debian's busybox-static; .ci/run does)")
        });
        let ctr_path = CTR_PATH.trim_start_matches('/');
        self.import_image(
            tag,
            &[
                ("bin/busybox", 0o755, &busybox),
                (ctr_path, 0o755, FAKE_CTR.as_bytes()),
            ],
            // A leaked container ends by itself; tests remove theirs long before.
            &[r#"CMD ["/bin/busybox", "sleep", "600"]"#],
        )
        .await;
    }

    /// An image to load: one file of `size` bytes unique to `tag`.
    pub async fn build_payload_image(&mut self, tag: &str, size: usize) {
        self.import_image(tag, &[("payload", 0o644, &noise(tag, size))], &[])
            .await;
    }

    /// A container named `name` from `image` labelled as node `role` of Kind cluster
    /// `cluster`, started when `start`. `ctr_fail` makes its fake ctr fail with that message.
    pub async fn kind_node(
        &mut self,
        image: &str,
        cluster: &str,
        name: &str,
        role: &str,
        start: bool,
        ctr_fail: Option<&str>,
    ) -> String {
        self.kind_node_mounting(image, cluster, name, role, start, ctr_fail, None)
            .await
    }

    /// A running control-plane node of `cluster`, named as kind names it.
    pub async fn control_plane(&mut self, image: &str, cluster: &str) -> String {
        let name = format!("{cluster}-control-plane");
        self.kind_node(image, cluster, &name, "control-plane", true, None)
            .await
    }

    /// A running worker node of `cluster`, named as kind names the first one.
    pub async fn worker(&mut self, image: &str, cluster: &str) -> String {
        let name = format!("{cluster}-worker");
        self.kind_node(image, cluster, &name, "worker", true, None)
            .await
    }

    /// [`Scratch::kind_node`] with a host directory bind-mounted read-only at `/repo`, as the
    /// preview's Kind config mounts the platform checkout.
    #[allow(clippy::too_many_arguments)]
    pub async fn kind_node_mounting(
        &mut self,
        image: &str,
        cluster: &str,
        name: &str,
        role: &str,
        start: bool,
        ctr_fail: Option<&str>,
        repo: Option<&Path>,
    ) -> String {
        let labels = HashMap::from([
            (KIND_CLUSTER_LABEL.to_string(), cluster.to_string()),
            (KIND_ROLE_LABEL.to_string(), role.to_string()),
            (TEST_LABEL.to_string(), "1".to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            labels: Some(labels),
            env: ctr_fail.map(|m| vec![format!("FAKE_CTR_FAIL={m}")]),
            host_config: Some(HostConfig {
                // Nothing here needs a network; skipping it keeps container start fast.
                network_mode: Some("none".into()),
                binds: repo.map(|r| vec![format!("{}:/repo:ro", r.display())]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
        self.containers.push(created.id.clone());
        if start {
            self.docker
                .start_container(&created.id, None)
                .await
                .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        }
        created.id
    }

    /// The files the fake ctr recorded in `container` (`argv`, `stdin`), or `None` when it
    /// never ran there.
    pub async fn recorded(&self, container: &str) -> Option<HashMap<String, Vec<u8>>> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path("/recorded")
            .build();
        let mut stream = self
            .docker
            .download_from_container(container, Some(options));
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => archive.extend_from_slice(&bytes),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return None,
                Err(e) => panic!("reading /recorded from {container}: {e}"),
            }
        }
        let mut files = HashMap::new();
        let mut tar = tar::Archive::new(archive.as_slice());
        for entry in tar.entries().expect("tar from docker") {
            let mut entry = entry.expect("tar entry");
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().expect("tar path").into_owned();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).expect("tar data");
            files.insert(name, data);
        }
        Some(files)
    }

    /// `docker save IMAGE`, straight from the engine.
    pub async fn export(&self, image: &str) -> Vec<u8> {
        let mut stream = self.docker.export_image(image);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap_or_else(|e| panic!("exporting {image}: {e}")));
        }
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let containers = std::mem::take(&mut self.containers);
        let images = std::mem::take(&mut self.images);
        if containers.is_empty() && images.is_empty() {
            return;
        }
        // Drop cannot await, and blocking the test's runtime on its own tasks would deadlock:
        // clean up on a thread with a runtime of its own, and wait for it.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                for id in containers {
                    let options = RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build();
                    if let Err(e) = docker.remove_container(&id, Some(options)).await {
                        eprintln!("cleanup: removing container {id}: {e}");
                    }
                }
                for tag in images {
                    let options = RemoveImageOptionsBuilder::default().force(true).build();
                    match docker.remove_image(&tag, Some(options), None).await {
                        Ok(_)
                        | Err(bollard::errors::Error::DockerResponseServerError {
                            status_code: 404,
                            ..
                        }) => {}
                        Err(e) => eprintln!("cleanup: removing image {tag}: {e}"),
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}
