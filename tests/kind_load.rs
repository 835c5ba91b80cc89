//! `kind load docker-image` through the Docker API, against this machine's real Docker engine:
//! images are really exported, node containers really exec'd into and fed the archive on
//! stdin. Only `ctr` inside the "nodes" is a stand-in (tests/support/src/docker.rs) that keeps
//! what it was given, so the test can compare it with the engine's own export.
//!
//! Each test skips with a message when Docker (or busybox) is unavailable, unless
//! ZT_REQUIRE_DOCKER is set, as in CI.

use zt::docker::{ImageLoader, LoadError, import_command};
use zt_test_support::docker::{CTR_PATH, Scratch, docker_or_skip, unique_name};

fn hex_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_image_arrives_intact_in_every_node_of_the_cluster() {
    let Some(docker) =
        docker_or_skip("the_image_arrives_intact_in_every_node_of_the_cluster").await
    else {
        return;
    };
    let mut scratch = Scratch::new(docker.clone());
    let cluster = unique_name("zt-load");
    let node_image = format!("{cluster}-node:test");
    let payload = format!("{cluster}-app:sha-abc123");
    scratch.build_node_image(&node_image).await;
    scratch.build_payload_image(&payload, 300_000).await;
    let control_plane = scratch.control_plane(&node_image, &cluster).await;
    let worker = scratch.worker(&node_image, &cluster).await;
    // A node of another cluster must be left alone.
    let other_cluster = unique_name("zt-other");
    let bystander = scratch.control_plane(&node_image, &other_cluster).await;

    let report = ImageLoader::new(docker)
        .load(&payload, &cluster)
        .await
        .unwrap();

    // What the engine exports for the image, independently of the loader.
    let exported = scratch.export(&payload).await;
    assert!(exported.len() > 300_000, "{} bytes", exported.len());
    assert_eq!(report.archive_bytes, exported.len() as u64);
    assert_eq!(report.archive_sha256, hex_sha256(&exported));
    assert!(
        report.image_id.starts_with("sha256:"),
        "{}",
        report.image_id
    );
    let names: Vec<_> = report.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{cluster}-control-plane"),
            format!("{cluster}-worker")
        ]
    );

    // argv[0] shows the node's own ctr was found on its PATH.
    let mut expected_argv = format!("{CTR_PATH}\n");
    for arg in &import_command()[1..] {
        expected_argv.push_str(arg);
        expected_argv.push('\n');
    }
    for node in [&control_plane, &worker] {
        let recorded = scratch.recorded(node).await.expect("ctr ran in the node");
        assert_eq!(
            String::from_utf8_lossy(&recorded["argv"]),
            expected_argv,
            "ctr's arguments"
        );
        // Byte for byte, not just the same length.
        assert!(
            recorded["stdin"] == exported,
            "the archive on ctr's stdin differs from docker save"
        );
    }
    assert!(
        report.nodes[0].output.contains("unpacking image (")
            && report.nodes[0].output.contains("done"),
        "{:?}",
        report.nodes[0]
    );
    assert!(
        scratch.recorded(&bystander).await.is_none(),
        "a node of another cluster was touched"
    );
}

#[tokio::test]
async fn a_missing_image_is_named_and_nothing_is_imported() {
    let Some(docker) = docker_or_skip("a_missing_image_is_named_and_nothing_is_imported").await
    else {
        return;
    };
    let mut scratch = Scratch::new(docker.clone());
    let cluster = unique_name("zt-noimg");
    let node_image = format!("{cluster}-node:test");
    scratch.build_node_image(&node_image).await;
    let node = scratch.control_plane(&node_image, &cluster).await;
    let missing = format!("{cluster}-never-built:sha-abc123");
    let err = ImageLoader::new(docker)
        .load(&missing, &cluster)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::ImageMissing { image } if *image == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("never pulled"), "{err}");
    assert!(scratch.recorded(&node).await.is_none());
}

#[tokio::test]
async fn a_cluster_without_nodes_is_named() {
    let Some(docker) = docker_or_skip("a_cluster_without_nodes_is_named").await else {
        return;
    };
    let mut scratch = Scratch::new(docker.clone());
    let cluster = unique_name("zt-nonodes");
    let payload = format!("{cluster}-app:sha-abc123");
    scratch.build_payload_image(&payload, 1_000).await;
    let err = ImageLoader::new(docker)
        .load(&payload, &cluster)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::NoNodes { cluster: c } if *c == cluster),
        "{err:?}"
    );
    assert!(err.to_string().contains("io.x-k8s.kind.cluster="), "{err}");
}

#[tokio::test]
async fn a_stopped_node_is_named_before_anything_is_imported() {
    let Some(docker) = docker_or_skip("a_stopped_node_is_named_before_anything_is_imported").await
    else {
        return;
    };
    let mut scratch = Scratch::new(docker.clone());
    let cluster = unique_name("zt-stopped");
    let node_image = format!("{cluster}-node:test");
    let payload = format!("{cluster}-app:sha-abc123");
    scratch.build_node_image(&node_image).await;
    scratch.build_payload_image(&payload, 1_000).await;
    let running = scratch.control_plane(&node_image, &cluster).await;
    scratch
        .kind_node(
            &node_image,
            &cluster,
            &format!("{cluster}-worker"),
            "worker",
            false,
            None,
        )
        .await;
    let err = ImageLoader::new(docker)
        .load(&payload, &cluster)
        .await
        .unwrap_err();
    match &err {
        LoadError::NodeNotRunning { node, state } => {
            assert_eq!(*node, format!("{cluster}-worker"));
            assert_eq!(state, "created");
        }
        other => panic!("expected NodeNotRunning, got {other:?}"),
    }
    assert!(
        scratch.recorded(&running).await.is_none(),
        "imported into a partial cluster"
    );
}

#[tokio::test]
async fn a_failing_ctr_is_reported_with_its_exit_code_and_message() {
    let Some(docker) =
        docker_or_skip("a_failing_ctr_is_reported_with_its_exit_code_and_message").await
    else {
        return;
    };
    let mut scratch = Scratch::new(docker.clone());
    let cluster = unique_name("zt-ctrfail");
    let node_image = format!("{cluster}-node:test");
    let payload = format!("{cluster}-app:sha-abc123");
    scratch.build_node_image(&node_image).await;
    scratch.build_payload_image(&payload, 1_000).await;
    scratch
        .kind_node(
            &node_image,
            &cluster,
            &format!("{cluster}-control-plane"),
            "control-plane",
            true,
            Some("content digest sha256:0000: not found"),
        )
        .await;
    let err = ImageLoader::new(docker)
        .load(&payload, &cluster)
        .await
        .unwrap_err();
    match &err {
        LoadError::ImportFailed {
            node,
            exit_code,
            stderr,
        } => {
            assert_eq!(*node, format!("{cluster}-control-plane"));
            assert_eq!(*exit_code, 3);
            assert_eq!(stderr, "ctr: content digest sha256:0000: not found");
        }
        other => panic!("expected ImportFailed, got {other:?}"),
    }
}

/// The engine is down: the socket file is there (a stopped daemon leaves it) but nobody
/// answers. Needs no Docker at all, so it always runs.
#[tokio::test]
async fn an_engine_that_is_down_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());

    let err = zt::docker::connect_unix(&socket).await.unwrap_err();
    assert!(err.to_string().contains("is it running?"), "{err}");

    // A client made without the version probe finds out at its first request.
    let docker = bollard::Docker::connect_with_unix(
        &socket.to_string_lossy(),
        5,
        bollard::API_DEFAULT_VERSION,
    )
    .unwrap();
    let err = ImageLoader::new(docker)
        .load("app:sha-abc123", "zt")
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoadError::EngineUnreachable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("is it running?"), "{err}");

    let err = zt::docker::connect_unix(&dir.path().join("nonexistent.sock"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no Docker engine socket"), "{err}");
}
