//! Talos stages: apply a machine config over the maintenance API, wait for the configured API,
//! bootstrap etcd once, fetch the kubeconfig.

use std::sync::Arc;

use super::super::context::Ctx;
use super::super::poll;
use super::super::stage::{Stage, StageError, StageFuture};
use crate::kube::wait::Check;
use crate::secret::SecretBytes;
use crate::talos::api::{
    ApplyMode, BootstrapOutcome, ClientOptions, TalosClient, TalosEndpoint, TalosError,
};
use crate::talos::api::{Fingerprint, TlsFailure};
use crate::talos::config::TalosConfig;

/// What every Talos stage of one run shares.
pub struct TalosAccess {
    pub talosconfig: TalosConfig,
    /// Whether the maintenance API may be sent the machine configs.
    pub maintenance: MaintenanceTrust,
    pub options: ClientOptions,
}

/// How far a node's maintenance API is trusted. A machine config holds every CA key of the
/// cluster, and a node in maintenance mode presents a self-issued certificate that nothing can
/// verify, so sending to an unverified peer must be an explicit choice, as it is with
/// `talosctl apply-config --insecure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceTrust {
    /// `--cert-fingerprint`: only a node presenting one of these certificates gets the config.
    Pinned(Vec<Fingerprint>),
    /// `--insecure-skip-verify`: whatever answers gets it; the fingerprint it presented is shown.
    Unverified,
    /// Neither: connect, show the fingerprint the node presented, send nothing and fail.
    Refuse,
}

impl MaintenanceTrust {
    fn describe(&self) -> String {
        match self {
            MaintenanceTrust::Pinned(pins) => {
                format!(
                    "pinned to {} fingerprint(s) (--cert-fingerprint)",
                    pins.len()
                )
            }
            MaintenanceTrust::Unverified => {
                "NOT verified (--insecure-skip-verify): the config goes to whatever answers".into()
            }
            MaintenanceTrust::Refuse => "not verifiable without --cert-fingerprint: a run \
                 connects, shows the node's fingerprint and sends nothing (or pass \
                 --insecure-skip-verify)"
                .into(),
        }
    }

    fn pins(&self) -> &[Fingerprint] {
        match self {
            MaintenanceTrust::Pinned(pins) => pins,
            MaintenanceTrust::Unverified | MaintenanceTrust::Refuse => &[],
        }
    }
}

/// One Talos machine of the plan.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub endpoint: TalosEndpoint,
    pub controlplane: bool,
}

async fn configured(access: &TalosAccess, node: &Node) -> Result<TalosClient, TalosError> {
    TalosClient::configured_with(&node.endpoint, &access.talosconfig, None, access.options).await
}

/// Errors worth another try while a node boots or reboots into its config.
fn retry_while_rebooting(e: &TalosError) -> bool {
    e.is_transient()
        || matches!(
            e,
            TalosError::Tls {
                failure: TlsFailure::ServerNotTrusted,
                ..
            }
        )
}

/// Calls `call` on the node's configured API until it answers, retrying while the node boots or
/// reboots into its config (connection and certificate errors) and while `transient` says the
/// answer is worth another try.
async fn until_configured<T, F, Fut>(
    ctx: &Ctx,
    what: &str,
    access: &TalosAccess,
    node: &Node,
    transient: fn(&TalosError) -> bool,
    call: F,
) -> Result<T, StageError>
where
    F: Fn(TalosClient) -> Fut,
    Fut: std::future::Future<Output = Result<T, TalosError>>,
{
    // A failure retried until the deadline (an untrusted certificate while the node may still
    // be rebooting) ends in a timeout; the hint of the last one seen still applies.
    let last_hint: std::sync::Mutex<Option<&'static str>> = std::sync::Mutex::new(None);
    let pending = |e: TalosError| {
        *last_hint.lock().unwrap_or_else(|p| p.into_inner()) = hint_for(&e);
        Ok(Check::Pending(e.to_string()))
    };
    let waited = poll::until(ctx, what, ctx.timing.talos, || async {
        let client = match configured(access, node).await {
            Ok(c) => c,
            Err(e) if retry_while_rebooting(&e) => return pending(e),
            Err(e) => return Err(talos_failure(what, &e)),
        };
        match call(client).await {
            Ok(v) => Ok(Check::Ready(v)),
            Err(e) if transient(&e) => pending(e),
            Err(e) => Err(talos_failure(what, &e)),
        }
    })
    .await;
    let last_hint = *last_hint.lock().unwrap_or_else(|p| p.into_inner());
    waited.map_err(|e| match (e.hint.is_none(), last_hint) {
        (true, Some(h)) => e.hint(h),
        _ => e,
    })
}

/// What to suggest for a kind of Talos API failure.
fn hint_for(e: &TalosError) -> Option<&'static str> {
    match e {
        TalosError::Tls {
            failure: TlsFailure::ServerNotTrusted | TlsFailure::ClientCertificateRefused { .. },
            ..
        } => Some(
            "the node presents a certificate the talosconfig's CA did not sign, or refuses our \
             client certificate: was it configured from another secrets bundle?",
        ),
        TalosError::Tls {
            failure: TlsFailure::ServerCertificateTime { .. },
            ..
        } => Some("check this machine's clock and the node's (Talos syncs time over NTP)"),
        _ => None,
    }
}

/// A Talos API failure that ends a stage, with the hint its kind of failure calls for.
fn talos_failure(what: &str, e: &TalosError) -> StageError {
    let err = StageError::new(format!("{what}: {e}"));
    match hint_for(e) {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// `ApplyConfiguration` (mode AUTO) over the maintenance API. A node that already answers the
/// configured API with our credentials is left alone: applying again would reboot it for nothing.
pub struct ApplyConfig {
    pub node: Node,
    pub config: SecretBytes,
    /// Where the config came from, for the plan (`talos/cp01-main.yaml`).
    pub source: String,
    pub access: Arc<TalosAccess>,
}

impl Stage for ApplyConfig {
    fn name(&self) -> String {
        format!("talos-apply/{}", self.node.name)
    }

    fn summary(&self) -> String {
        format!(
            "apply {} to {} ({}) over the Talos maintenance API",
            self.source, self.node.name, self.node.endpoint
        )
    }

    fn details(&self) -> Vec<String> {
        vec![
            format!(
                "ApplyConfiguration mode=AUTO to {}: TLS without a client certificate, server certificate {}",
                self.node.endpoint,
                self.access.maintenance.describe()
            ),
            format!(
                "payload: {} ({} bytes; holds keys, not shown)",
                self.source,
                self.config.len()
            ),
            "skipped when the node already answers the configured API with the rendered talosconfig"
                .into(),
        ]
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            if let Ok(client) = configured(&self.access, &self.node).await
                && client.version().await.is_ok()
            {
                ctx.detail("the node already runs a config with these credentials; not applying");
                return Ok(());
            }
            let what = format!(
                "the maintenance API of {} ({})",
                self.node.name, self.node.endpoint
            );
            let trust = &self.access.maintenance;
            let (report, presented) = poll::until(ctx, &what, ctx.timing.talos, || async {
                let client = match TalosClient::maintenance_with(
                    &self.node.endpoint,
                    trust.pins(),
                    self.access.options,
                )
                .await
                {
                    Ok(c) => c,
                    Err(e) if e.is_transient() => return Ok(Check::Pending(e.to_string())),
                    Err(e) => return Err(talos_failure(&what, &e)),
                };
                let presented = client
                    .peer_fingerprint()
                    .map_or_else(|| "(unreadable)".to_string(), |f| f.to_string());
                if *trust == MaintenanceTrust::Refuse {
                    return Err(StageError::new(format!(
                        "not sending {} to {}: it holds the cluster's CA keys and the node's \
                         certificate is not verified. The node presented SPKI fingerprint \
                         {presented}",
                        self.source, self.node.endpoint
                    ))
                    .hint(format!(
                        "if the node's console shows the same fingerprint, rerun with \
                         --cert-fingerprint {presented} (or --insecure-skip-verify to send it \
                         unverified)"
                    )));
                }
                match client
                    .apply_configuration(self.config.expose(), ApplyMode::Auto, false)
                    .await
                {
                    Ok(r) => Ok(Check::Ready((r, presented))),
                    Err(e) if e.is_transient() => Ok(Check::Pending(e.to_string())),
                    Err(e) => Err(talos_failure(&what, &e)),
                }
            })
            .await?;
            match trust {
                MaintenanceTrust::Unverified => ctx.warn(&format!(
                    "sent {} to an unverified peer at {} presenting SPKI fingerprint {presented} \
                     (--insecure-skip-verify)",
                    self.source, self.node.endpoint
                )),
                _ => ctx.detail(&format!(
                    "the node's certificate matched the pin {presented}"
                )),
            }
            ctx.detail(&format!(
                "node applied the config (mode {}): {}",
                report.mode, report.mode_details
            ));
            for w in &report.warnings {
                ctx.detail(&format!("warning from the node: {w}"));
            }
            Ok(())
        })
    }
}

/// Waits until the node answers `Version` over mutual TLS with the rendered talosconfig, which
/// is when it has rebooted into its config.
pub struct WaitConfigured {
    pub node: Node,
    pub access: Arc<TalosAccess>,
}

impl Stage for WaitConfigured {
    fn name(&self) -> String {
        format!("talos-ready/{}", self.node.name)
    }

    fn summary(&self) -> String {
        format!(
            "wait until {} ({}) answers the Talos API with the rendered talosconfig",
            self.node.name, self.node.endpoint
        )
    }

    fn details(&self) -> Vec<String> {
        vec![format!(
            "Version over mutual TLS (client certificate O=os:admin), polled with backoff up to {}",
            "the Talos timeout"
        )]
    }

    fn cacheable(&self) -> bool {
        // A readiness check is cheap and says something only now.
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let what = format!("{} to answer with its config", self.node.name);
            let v = until_configured(
                ctx,
                &what,
                &self.access,
                &self.node,
                retry_while_rebooting,
                |c| async move { c.version().await },
            )
            .await?;
            ctx.detail(&format!("Talos {} ({}/{})", v.tag, v.os, v.arch));
            Ok(())
        })
    }
}

/// `Bootstrap` on the control plane, exactly once per cluster: "already bootstrapped" counts
/// as done, "not ready yet" is retried.
pub struct BootstrapEtcd {
    pub node: Node,
    pub access: Arc<TalosAccess>,
}

impl Stage for BootstrapEtcd {
    fn name(&self) -> String {
        "etcd-bootstrap".into()
    }

    fn summary(&self) -> String {
        format!(
            "bootstrap etcd on {} ({})",
            self.node.name, self.node.endpoint
        )
    }

    fn details(&self) -> Vec<String> {
        vec![
            "Bootstrap over mutual TLS; an answer that etcd is already bootstrapped counts as done"
                .into(),
        ]
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let what = format!("{} to bootstrap etcd", self.node.name);
            let outcome = until_configured(
                ctx,
                &what,
                &self.access,
                &self.node,
                TalosError::is_transient,
                |c| async move { c.bootstrap().await },
            )
            .await?;
            match outcome {
                BootstrapOutcome::Bootstrapped => ctx.detail("etcd bootstrapped"),
                BootstrapOutcome::AlreadyBootstrapped { message } => {
                    ctx.detail(&format!("already bootstrapped ({message})"))
                }
            }
            Ok(())
        })
    }
}

/// Fetches the admin kubeconfig from the control plane and writes it (0600), merged into
/// `--kubeconfig`. The contents are never printed.
pub struct FetchKubeconfig {
    pub node: Node,
    pub access: Arc<TalosAccess>,
}

impl Stage for FetchKubeconfig {
    fn name(&self) -> String {
        "kubeconfig".into()
    }

    fn summary(&self) -> String {
        format!("fetch the cluster's kubeconfig from {}", self.node.name)
    }

    fn details(&self) -> Vec<String> {
        vec!["Kubeconfig stream (gzipped tar) over mutual TLS; written 0600 and merged into the kubeconfig file, never printed".into()]
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let what = format!("the kubeconfig from {}", self.node.name);
            let bytes = until_configured(
                ctx,
                &what,
                &self.access,
                &self.node,
                TalosError::is_transient,
                |c| async move { c.kubeconfig().await },
            )
            .await?;
            let context = crate::kube::kubeconfig::write(&ctx.kubeconfig, &bytes)
                .map_err(|e| StageError::new(e.to_string()))?;
            ctx.reset_cluster();
            if ctx.kube_context.is_none() {
                ctx.kube_context = context.clone();
            }
            ctx.detail(&format!(
                "wrote {} (0600){}",
                ctx.kubeconfig.display(),
                context
                    .map(|c| format!(", context {c}"))
                    .unwrap_or_default()
            ));
            Ok(())
        })
    }
}
