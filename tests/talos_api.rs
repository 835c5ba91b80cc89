//! The Talos machine API client against the in-process test node (tests/support/src/talos_api),
//! over real TLS with certificates from generated secrets bundles: what a bootstrap relies on
//! (apply in maintenance mode, mutual TLS afterwards, bootstrap exactly once, the kubeconfig)
//! and every way the TLS set-up must refuse a wrong peer.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tonic::Code;
use zt::render::{self, Request, TemplateSource};
use zt::secret::SecretString;
use zt::talos::api::{
    ApplyMode, BootstrapOutcome, ClientMode, ClientOptions, Fingerprint, KubeconfigError,
    TalosClient, TalosEndpoint, TalosError, TlsFailure,
};
use zt::talos::bundle::SecretsBundle;
use zt::talos::config::{TalosConfig, TalosContext};
use zt::talos::pki;
use zt::tenant::TenantRepo;
use zt_test_support::talos_api::{
    DEFAULT_KUBECONFIG, Identity, NodeMode, TALOS_TAG, TalosTestServer,
};
use zt_test_support::workspace_root;

/// A token-shaped secret inside the test configs: it must never surface in an error.
const SECRET_TOKEN: &str = "q7x2kd.9c8b7a6f5e4d3c2b";

fn machine_config(machine_type: &str) -> Vec<u8> {
    format!(
        "version: v1alpha1\ndebug: false\nmachine:\n  type: {machine_type}\n  token: {SECRET_TOKEN}\n\
         cluster:\n  clusterName: test\n"
    )
    .into_bytes()
}

fn endpoint(server: &TalosTestServer) -> TalosEndpoint {
    server.endpoint().parse().unwrap()
}

/// The talosconfig `render` writes for `bundle`: the os CA and the derived admin certificate.
fn talosconfig(bundle: &SecretsBundle) -> TalosConfig {
    talosconfig_with(&bundle.certs.os.crt, bundle)
}

/// A talosconfig trusting `ca` with the admin certificate of `client_bundle`.
fn talosconfig_with(ca: &str, client_bundle: &SecretsBundle) -> TalosConfig {
    let admin = pki::admin_client_cert(client_bundle).unwrap();
    TalosConfig {
        context: "test".into(),
        contexts: BTreeMap::from([(
            "test".into(),
            TalosContext {
                endpoints: vec!["127.0.0.1".into()],
                nodes: vec!["127.0.0.1".into()],
                ca: ca.into(),
                crt: admin.crt,
                key: admin.key,
            },
        )]),
    }
}

fn bundle() -> SecretsBundle {
    SecretsBundle::generate().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Maintenance mode

#[tokio::test]
async fn maintenance_apply_sends_the_config_intact_without_node_metadata() {
    let server = TalosTestServer::maintenance(&Identity::maintenance()).await;
    let client = TalosClient::maintenance(&endpoint(&server), &[])
        .await
        .unwrap();
    assert_eq!(client.mode(), ClientMode::Maintenance);
    let config = machine_config("controlplane");
    let report = client
        .apply_configuration(&config, ApplyMode::Auto, false)
        .await
        .unwrap();
    assert_eq!(report.mode, "AUTO");
    assert!(report.mode_details.contains("AUTO"), "{report:?}");

    let state = server.state();
    assert_eq!(state.applied.len(), 1);
    assert_eq!(state.applied[0].data, config);
    assert_eq!(state.applied[0].mode_in, NodeMode::Maintenance);
    let call = &state.calls[0];
    assert_eq!((call.node.as_deref(), call.nodes.as_deref()), (None, None));
    assert!(
        call.client_organizations.is_empty(),
        "no client certificate"
    );
}

#[tokio::test]
async fn maintenance_dry_run_changes_nothing() {
    let server = TalosTestServer::maintenance(&Identity::maintenance()).await;
    let client = TalosClient::maintenance(&endpoint(&server), &[])
        .await
        .unwrap();
    let report = client
        .apply_configuration(&machine_config("controlplane"), ApplyMode::Auto, true)
        .await
        .unwrap();
    assert!(
        report
            .mode_details
            .contains("Node is running in maintenance mode"),
        "{report:?}"
    );
    let state = server.state();
    assert!(state.applied.is_empty());
    assert!(state.calls[0].dry_run);
    assert_eq!(state.mode, NodeMode::Maintenance);
}

#[tokio::test]
async fn maintenance_accepts_reboot_auto_try_and_refuses_no_reboot_and_staged() {
    let server = TalosTestServer::maintenance(&Identity::maintenance()).await;
    let client = TalosClient::maintenance(&endpoint(&server), &[])
        .await
        .unwrap();
    let config = machine_config("worker");
    for mode in [
        ApplyMode::Reboot,
        ApplyMode::Auto,
        ApplyMode::Try {
            timeout: Duration::from_secs(60),
        },
    ] {
        client
            .apply_configuration(&config, mode, false)
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    }
    for (mode, flag) in [
        (ApplyMode::NoReboot, "no-reboot"),
        (ApplyMode::Staged, "staged"),
    ] {
        let err = client
            .apply_configuration(&config, mode, false)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(Code::Unimplemented), "{mode:?}: {err}");
        assert!(err.to_string().contains(flag), "{err}");
        assert!(!err.is_transient());
    }
    assert_eq!(server.state().applied.len(), 3);
}

#[tokio::test]
async fn maintenance_refuses_a_bad_config_without_echoing_it() {
    let server = TalosTestServer::maintenance(&Identity::maintenance()).await;
    let client = TalosClient::maintenance(&endpoint(&server), &[])
        .await
        .unwrap();
    let bad_configs = [
        format!("version: v1alpha2\nmachine:\n  token: {SECRET_TOKEN}\n").into_bytes(),
        format!("version: v1alpha1\nmachine:\n  type: boss\n  token: {SECRET_TOKEN}\n")
            .into_bytes(),
        format!("{SECRET_TOKEN}: [unclosed\n").into_bytes(),
        vec![0xff, 0xfe, 0x00],
    ];
    for config in bad_configs {
        let err = client
            .apply_configuration(&config, ApplyMode::Auto, false)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains(SECRET_TOKEN), "{text}");
    }
    assert!(server.state().applied.is_empty());
}

#[tokio::test]
async fn maintenance_node_answers_only_apply() {
    let server = TalosTestServer::maintenance(&Identity::maintenance()).await;
    let client = TalosClient::maintenance(&endpoint(&server), &[])
        .await
        .unwrap();
    let err = client.version().await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unimplemented), "{err}");
    assert!(err.to_string().contains("maintenance mode"), "{err}");
    assert_eq!(
        client.bootstrap().await.unwrap_err().code(),
        Some(Code::Unimplemented)
    );
    assert_eq!(
        client.kubeconfig().await.unwrap_err().code(),
        Some(Code::Unimplemented)
    );
}

// ---------------------------------------------------------------------------------------------
// Fingerprint pinning (maintenance mode)

#[tokio::test]
async fn pinning_accepts_the_node_certificate_and_refuses_another() {
    let identity = Identity::maintenance();
    let server = TalosTestServer::maintenance(&identity).await;
    let spki = Fingerprint::spki_of(&identity.cert_der).unwrap();
    let whole = Fingerprint::certificate_of(&identity.cert_der);
    let other = Fingerprint::spki_of(&Identity::maintenance().cert_der).unwrap();

    for pins in [vec![spki], vec![whole], vec![other, spki]] {
        let client = TalosClient::maintenance(&endpoint(&server), &pins)
            .await
            .unwrap_or_else(|e| panic!("{pins:?}: {e}"));
        client
            .apply_configuration(&machine_config("worker"), ApplyMode::Auto, true)
            .await
            .unwrap();
    }

    let err = TalosClient::maintenance(&endpoint(&server), &[other])
        .await
        .unwrap_err();
    match &err {
        TalosError::Tls {
            failure: TlsFailure::FingerprintMismatch { presented },
            ..
        } => assert_eq!(*presented, Some(spki)),
        other => panic!("expected a fingerprint mismatch, got {other:?}"),
    }
    // The message tells the user which fingerprint the node presented, in Talos's form.
    assert!(err.to_string().contains(&spki.to_string()), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_unpinned_client_tells_which_certificate_answered() {
    let identity = Identity::maintenance();
    let server = TalosTestServer::maintenance(&identity).await;
    let spki = Fingerprint::spki_of(&identity.cert_der).unwrap();
    let client = TalosClient::maintenance(&endpoint(&server), &[])
        .await
        .unwrap();
    assert_eq!(client.peer_fingerprint(), Some(spki));
    // A pinned client records the certificate that matched.
    let pinned = TalosClient::maintenance(&endpoint(&server), &[spki])
        .await
        .unwrap();
    assert_eq!(pinned.peer_fingerprint(), Some(spki));
}

// ---------------------------------------------------------------------------------------------
// Configured mode: mutual TLS

#[tokio::test]
async fn configured_version_targets_the_node_through_metadata() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client =
        TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), Some("127.0.0.1"))
            .await
            .unwrap();
    assert_eq!(client.mode(), ClientMode::Configured);
    let version = client.version().await.unwrap();
    assert_eq!(version.tag, TALOS_TAG);
    assert_eq!(version.hostname.as_deref(), Some("talos-test-node"));
    assert!(version.rbac);
    assert_eq!(version.platform.as_deref(), Some("metal"));

    let state = server.state();
    assert_eq!(state.calls[0].node.as_deref(), Some("127.0.0.1"));
    assert_eq!(state.calls[0].nodes, None);
    assert_eq!(state.calls[0].client_organizations, ["os:admin"]);
}

#[tokio::test]
async fn configured_without_a_node_talks_to_the_endpoint_itself() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), None)
        .await
        .unwrap();
    let version = client.version().await.unwrap();
    assert_eq!(version.hostname, None);
    assert_eq!(server.state().calls[0].node, None);
}

#[tokio::test]
async fn an_unknown_node_is_unavailable_and_worth_retrying() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client = TalosClient::configured(
        &endpoint(&server),
        &talosconfig(&bundle),
        Some("203.0.113.99"),
    )
    .await
    .unwrap();
    let err = client.version().await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unavailable), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn invalid_node_names_are_refused_before_connecting() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    for node in ["", "nöde", "a\nb"] {
        let err = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), Some(node))
            .await
            .unwrap_err();
        assert!(
            matches!(err, TalosError::InvalidNode { .. }),
            "{node:?}: {err}"
        );
    }
}

#[tokio::test]
async fn bootstrap_runs_once_and_a_repeat_counts_as_done() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client =
        TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), Some("127.0.0.1"))
            .await
            .unwrap();
    assert_eq!(
        client.bootstrap().await.unwrap(),
        BootstrapOutcome::Bootstrapped
    );
    assert!(server.state().bootstrapped);
    match client.bootstrap().await.unwrap() {
        BootstrapOutcome::AlreadyBootstrapped { message } => {
            assert!(
                message.contains("etcd data directory is not empty"),
                "{message}"
            )
        }
        other => panic!("expected AlreadyBootstrapped, got {other:?}"),
    }
    let bootstraps = server
        .state()
        .calls
        .iter()
        .filter(|c| c.method == "Bootstrap")
        .count();
    assert_eq!(bootstraps, 2);
}

#[tokio::test]
async fn bootstrap_on_a_worker_fails_and_is_not_counted_as_done() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), None)
        .await
        .unwrap();
    client
        .apply_configuration(&machine_config("worker"), ApplyMode::NoReboot, false)
        .await
        .unwrap();
    let err = client.bootstrap().await.unwrap_err();
    assert_eq!(err.code(), Some(Code::FailedPrecondition), "{err}");
    assert!(err.to_string().contains("control plane"), "{err}");
    assert!(!err.is_transient());
    assert!(!server.state().bootstrapped);
}

#[tokio::test]
async fn configured_nodes_accept_every_apply_mode() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), None)
        .await
        .unwrap();
    for mode in [ApplyMode::NoReboot, ApplyMode::Staged, ApplyMode::Auto] {
        let report = client
            .apply_configuration(&machine_config("controlplane"), mode, false)
            .await
            .unwrap();
        assert!(!report.mode.is_empty());
    }
    assert_eq!(server.state().applied.len(), 3);
}

#[tokio::test]
async fn kubeconfig_is_reassembled_from_a_chunked_gzipped_tar() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client =
        TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), Some("127.0.0.1"))
            .await
            .unwrap();
    // The default: a small kubeconfig in 64-byte chunks.
    let kubeconfig = client.kubeconfig().await.unwrap();
    assert_eq!(kubeconfig.expose(), DEFAULT_KUBECONFIG);
    // Never printable by accident.
    let shown = format!("{kubeconfig:?}");
    assert!(!shown.contains("client-key-data"), "{shown}");

    // A large, poorly compressible one across many chunks of an odd size.
    let mut big = Vec::new();
    let mut x: u32 = 1;
    while big.len() < 200_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        big.extend_from_slice(format!("{x:08x}\n").as_bytes());
    }
    {
        let mut state = server.state();
        state.kubeconfig = big.clone();
        state.chunk_size = 1_000;
    }
    assert_eq!(client.kubeconfig().await.unwrap().expose(), big);
}

#[tokio::test]
async fn a_node_error_in_reply_metadata_is_an_error() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let client =
        TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), Some("127.0.0.1"))
            .await
            .unwrap();
    server.state().metadata_error = Some(format!("etcd is unhealthy; token {SECRET_TOKEN}"));
    for err in [
        client.version().await.unwrap_err(),
        client.bootstrap().await.unwrap_err(),
        client.kubeconfig().await.unwrap_err(),
    ] {
        match &err {
            TalosError::Node { node, message, .. } => {
                assert_eq!(node, "talos-test-node");
                assert!(message.contains("etcd is unhealthy"), "{message}");
            }
            other => panic!("expected a node error, got {other:?}"),
        }
        // Server text is scrubbed of anything token- or key-shaped.
        assert!(!err.to_string().contains(SECRET_TOKEN), "{err}");
    }
}

#[tokio::test]
async fn an_empty_kubeconfig_archive_member_is_reported() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    server.state().kubeconfig = Vec::new();
    let client = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), None)
        .await
        .unwrap();
    match client.kubeconfig().await.unwrap_err() {
        TalosError::Kubeconfig { problem, .. } => {
            assert_eq!(problem, KubeconfigError::EmptyKubeconfig)
        }
        other => panic!("expected a kubeconfig error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[tokio::test]
async fn a_client_certificate_from_another_cluster_is_refused() {
    let cluster = bundle();
    let server = TalosTestServer::configured(&cluster).await;
    // Trusts the right CA, but presents an admin certificate of another cluster. With TLS 1.3
    // the server's refusal comes after the client's handshake is done; the client still
    // reports it when connecting, not at some later call.
    let config = talosconfig_with(&cluster.certs.os.crt, &bundle());
    let err = TalosClient::configured(&endpoint(&server), &config, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TalosError::Tls {
                failure: TlsFailure::ClientCertificateRefused { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("refused our client certificate"),
        "{err}"
    );
    let refused = server.refused_handshakes(1).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(server.state().calls.is_empty(), "no call may get through");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let cluster = bundle();
    let server = TalosTestServer::configured(&cluster).await;
    // A maintenance-mode client sends no certificate at all.
    let err = TalosClient::maintenance(&endpoint(&server), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TalosError::Tls {
                failure: TlsFailure::ClientCertificateRefused { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.refused_handshakes(1).await.len(), 1);
    assert!(server.state().calls.is_empty());
}

#[tokio::test]
async fn a_server_of_another_cluster_is_not_trusted() {
    let server = TalosTestServer::configured(&bundle()).await;
    let err = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TalosError::Tls {
                failure: TlsFailure::ServerNotTrusted,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("not signed by the cluster's Talos CA"),
        "{err}"
    );
    assert!(server.state().calls.is_empty());
}

#[tokio::test]
async fn a_node_still_in_maintenance_mode_is_not_trusted_by_a_configured_client() {
    let bundle = bundle();
    let server = TalosTestServer::maintenance_then_configured(&bundle).await;
    let err = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TalosError::Tls {
                failure: TlsFailure::ServerNotTrusted,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_server_certificate_must_name_the_address_dialled() {
    let bundle = bundle();
    let os_ca = pki::certificate_der_from_b64("ca", &bundle.certs.os.crt).unwrap();
    let issued = pki::issue_api_server_cert(
        &bundle,
        &["cp01.example.com"],
        time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
        time::Duration::hours(1),
    )
    .unwrap();
    let identity = Identity {
        cert_der: pki::certificate_der_from_b64("crt", &issued.crt).unwrap(),
        key_pkcs8: pki::private_key_from_b64("key", issued.key.expose())
            .unwrap()
            .pkcs8_der()
            .to_vec(),
    };
    let server = TalosTestServer::start(None, Some((&identity, &os_ca))).await;
    let err = TalosClient::configured(&endpoint(&server), &talosconfig(&bundle), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TalosError::Tls {
                failure: TlsFailure::ServerNameMismatch { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable_and_worth_retrying() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let endpoint: TalosEndpoint = addr.to_string().parse().unwrap();
    let err = TalosClient::maintenance(&endpoint, &[]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            TalosError::Unreachable {
                timed_out: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts TCP but never speaks TLS.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint: TalosEndpoint = listener.local_addr().unwrap().to_string().parse().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let options = ClientOptions {
        connect_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let err = TalosClient::maintenance_with(&endpoint, &[], options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TalosError::Unreachable {
                timed_out: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    hold.abort();
}

#[tokio::test]
async fn a_talosconfig_with_a_missing_context_or_broken_credentials_is_reported() {
    let bundle = bundle();
    let server = TalosTestServer::configured(&bundle).await;
    let mut config = talosconfig(&bundle);
    config.context = "nope".into();
    let err = TalosClient::configured(&endpoint(&server), &config, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"nope\""), "{err}");

    let mut config = talosconfig(&bundle);
    let key = {
        let ctx = config.contexts.get_mut("test").unwrap();
        let half = ctx.key.expose()[..ctx.key.expose().len() / 2].to_string();
        ctx.key = SecretString::new(half.clone());
        half
    };
    let err = TalosClient::configured(&endpoint(&server), &config, None)
        .await
        .unwrap_err();
    assert!(matches!(err, TalosError::Credentials(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&key[..40]), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The production path with what `render` produces

/// Render the example tenant repository, apply the control-plane config to a node in
/// maintenance mode, then use the rendered talosconfig for everything after: the same bytes a
/// real bootstrap would send, against a node of the same cluster.
#[tokio::test]
async fn rendered_configs_and_talosconfig_bootstrap_a_node() {
    let root = workspace_root();
    let bundle = zt::examples::bundle().unwrap();
    let tenant = TenantRepo::open(&root.join("examples/tenant-repo-flannel")).unwrap();
    let rendered = render::render(&Request {
        tenant: &tenant,
        env: "edge",
        bundle: &bundle,
        platform_repo: None,
        templates: &TemplateSource::default(),
    })
    .unwrap();
    let file = |p: &str| rendered.tree.get(Path::new(p)).unwrap().bytes.clone();
    let cp_config = file("talos/edge-cp.yaml");
    let talosconfig: TalosConfig =
        zt::yaml::from_str(std::str::from_utf8(&file("talos/talosconfig")).unwrap()).unwrap();

    let server = TalosTestServer::maintenance_then_configured(&bundle).await;
    let node = endpoint(&server);
    let maintenance = TalosClient::maintenance(&node, &[]).await.unwrap();
    maintenance
        .apply_configuration(&cp_config, ApplyMode::Auto, false)
        .await
        .unwrap();
    assert_eq!(server.state().mode, NodeMode::Configured);
    assert_eq!(server.state().applied[0].data, cp_config);

    let client = TalosClient::configured(&node, &talosconfig, Some("127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(client.version().await.unwrap().tag, TALOS_TAG);
    assert_eq!(
        client.bootstrap().await.unwrap(),
        BootstrapOutcome::Bootstrapped
    );
    assert_eq!(
        client.kubeconfig().await.unwrap().expose(),
        DEFAULT_KUBECONFIG
    );
}
