//! Errors of the Talos API client.
//!
//! None of them can hold a machine config, a key or a kubeconfig: the client never formats
//! those, and text that comes from the server is passed through [`scrub`] first, because a
//! node's validation message may quote the config it was sent.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use thiserror::Error;
use tonic::Code;

use super::kubeconfig::KubeconfigError;
use super::tls::{ConnectFailure, TlsFailure, TlsSetupError, tls_error_of_io};
use crate::secret::REDACTED;
use crate::talos::pki::PkiError;

/// The RPCs this client makes, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    ApplyConfiguration,
    Bootstrap,
    Version,
    Kubeconfig,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::ApplyConfiguration => "ApplyConfiguration",
            Call::Bootstrap => "Bootstrap",
            Call::Version => "Version",
            Call::Kubeconfig => "Kubeconfig",
        })
    }
}

/// A failure talking to a Talos node.
#[derive(Debug, Error)]
pub enum TalosError {
    #[error("invalid Talos API endpoint {input:?}: {reason}")]
    InvalidEndpoint { input: String, reason: &'static str },
    #[error("invalid node {node:?}: a node is an address or host name in printable ASCII")]
    InvalidNode { node: String },
    #[error("talosconfig: {0}")]
    Talosconfig(String),
    #[error("talosconfig credentials: {0}")]
    Credentials(#[source] PkiError),
    #[error("cannot set up TLS: {0}")]
    TlsSetup(#[from] TlsSetupError),
    #[error("cannot reach the Talos API at {endpoint}: {reason}")]
    Unreachable {
        endpoint: String,
        reason: String,
        timed_out: bool,
    },
    #[error("TLS with the Talos API at {endpoint} failed: {failure}")]
    Tls {
        endpoint: String,
        failure: TlsFailure,
    },
    #[error("{call} on {endpoint} failed: {code:?}: {message}")]
    Rpc {
        endpoint: String,
        call: Call,
        code: Code,
        message: String,
    },
    #[error("{call} on {endpoint}: node {node} reported: {message}")]
    Node {
        endpoint: String,
        call: Call,
        node: String,
        message: String,
    },
    #[error("{call} on {endpoint}: no answer within {after:?}")]
    Timeout {
        endpoint: String,
        call: Call,
        after: Duration,
    },
    #[error("{call} on {endpoint}: the reply held no message")]
    EmptyReply { endpoint: String, call: Call },
    #[error("Kubeconfig on {endpoint}: {problem}")]
    Kubeconfig {
        endpoint: String,
        problem: KubeconfigError,
    },
}

impl TalosError {
    /// The gRPC status code, when the node answered with one.
    pub fn code(&self) -> Option<Code> {
        match self {
            TalosError::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again later can help: the node is not (yet) listening, is rebooting, or
    /// asked to be called back. Readiness waits retry these with backoff and give up on the
    /// rest.
    ///
    /// TLS failures are not transient in general, but note one window where they are: after a
    /// maintenance-mode apply, the node keeps presenting its self-issued certificate until it
    /// has rebooted into its config, so a configured client sees
    /// [`TlsFailure::ServerNotTrusted`] for a while. The caller knows when it is in that window.
    pub fn is_transient(&self) -> bool {
        match self {
            TalosError::Unreachable { .. } | TalosError::Timeout { .. } => true,
            TalosError::Rpc {
                code,
                call,
                message,
                ..
            } => match code {
                Code::Unavailable | Code::DeadlineExceeded | Code::Aborted => true,
                // Talos answers Bootstrap with FailedPrecondition while it is not ready for
                // it ("bootstrap is not available yet", "time is not in sync yet"); on a
                // worker it is final.
                Code::FailedPrecondition => {
                    *call == Call::Bootstrap && !message.contains("control plane")
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Classifies a tonic error: a TLS or connection failure hidden in its sources wins over
    /// the gRPC status, because "transport error" tells a user nothing.
    pub(crate) fn from_status(endpoint: &str, call: Call, status: &tonic::Status) -> TalosError {
        if let Some(err) = from_chain(endpoint, status) {
            return err;
        }
        TalosError::Rpc {
            endpoint: endpoint.to_string(),
            call,
            code: status.code(),
            message: scrub(status.message()),
        }
    }

    pub(crate) fn from_transport(endpoint: &str, err: &tonic::transport::Error) -> TalosError {
        from_chain(endpoint, err).unwrap_or_else(|| TalosError::Unreachable {
            endpoint: endpoint.to_string(),
            reason: crate::diag::error_chain(err),
            timed_out: false,
        })
    }
}

/// Looks through an error's sources for our connector's failure or a rustls error.
fn from_chain(endpoint: &str, err: &(dyn StdError + 'static)) -> Option<TalosError> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(failure) = e.downcast_ref::<ConnectFailure>() {
            return Some(match failure {
                ConnectFailure::Tls(tls) => TalosError::Tls {
                    endpoint: endpoint.to_string(),
                    failure: TlsFailure::from_rustls(tls),
                },
                ConnectFailure::Timeout(_) => TalosError::Unreachable {
                    endpoint: endpoint.to_string(),
                    reason: failure.to_string(),
                    timed_out: true,
                },
                ConnectFailure::Tcp(_) | ConnectFailure::TlsIo(_) => TalosError::Unreachable {
                    endpoint: endpoint.to_string(),
                    reason: failure.to_string(),
                    timed_out: false,
                },
            });
        }
        let tls = e
            .downcast_ref::<rustls::Error>()
            .or_else(|| e.downcast_ref::<std::io::Error>().and_then(tls_error_of_io));
        if let Some(tls) = tls {
            return Some(TalosError::Tls {
                endpoint: endpoint.to_string(),
                failure: TlsFailure::from_rustls(tls),
            });
        }
        current = e.source();
    }
    None
}

/// Longest server-supplied text kept in an error.
const MAX_MESSAGE_CHARS: usize = 1024;
/// Runs of base64-like characters at least this long are taken for key material: a 32-byte
/// secret is 44 characters of base64, a PEM line 64, a certificate thousands.
const MIN_BLOB_CHARS: usize = 40;

/// Makes server-supplied text safe to show: long base64-like runs (keys, certificates, 32-byte
/// secrets) and Talos/Kubernetes tokens (`[a-z0-9]{6}.[a-z0-9]{16}`) become `<redacted>`, and
/// the text is cut to a readable length.
pub fn scrub(text: &str) -> String {
    let is_blob_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_CHARS));
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(is_blob_char).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c| !is_blob_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if word.len() >= MIN_BLOB_CHARS {
            out.push_str(REDACTED);
            continue;
        }
        // A token is two words around a dot: `abcdef` `.` `0123456789abcdef`.
        if word.len() == 6
            && is_token_part(word)
            && let Some(after) = rest.strip_prefix('.')
        {
            let end = after.find(|c| !is_blob_char(c)).unwrap_or(after.len());
            if end == 16 && is_token_part(&after[..end]) {
                out.push_str(REDACTED);
                rest = &after[end..];
                continue;
            }
        }
        out.push_str(word);
    }
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect();
        out.push('…');
    }
    out
}

fn is_token_part(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_redacts_keys_and_tokens_and_keeps_the_rest() {
        let key = "LS0tLS1CRUdJTiBFRDI1NTE5IFBSSVZBVEUgS0VZLS0tLS0KTUM0Q0FRQXdCUVlESzJWd0JDSUVJ";
        let text = format!(
            "config validation: machine.token abcdef.0123456789abcdef invalid; key {key} bad; \
             see /system/state/config.yaml"
        );
        let s = scrub(&text);
        assert_eq!(
            s,
            "config validation: machine.token <redacted> invalid; key <redacted> bad; \
             see /system/state/config.yaml"
        );
        // Near-misses stay: hostnames, short words, a token-like pair of the wrong shape.
        assert_eq!(scrub("cp01-main.example.com"), "cp01-main.example.com");
        assert_eq!(scrub("abcdef.0123"), "abcdef.0123");
        assert_eq!(scrub("ABCDEF.0123456789abcdef"), "ABCDEF.0123456789abcdef");
        assert_eq!(scrub(""), "");
        assert_eq!(scrub("ünïcödé ok"), "ünïcödé ok");
    }

    #[test]
    fn scrub_cuts_long_messages() {
        let s = scrub(&"word ".repeat(1000));
        assert_eq!(s.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        let rpc = |call, code, message: &str| TalosError::Rpc {
            endpoint: "e".into(),
            call,
            code,
            message: message.into(),
        };
        assert!(rpc(Call::Version, Code::Unavailable, "").is_transient());
        assert!(
            rpc(
                Call::Bootstrap,
                Code::FailedPrecondition,
                "time is not in sync yet"
            )
            .is_transient()
        );
        assert!(
            !rpc(
                Call::Bootstrap,
                Code::FailedPrecondition,
                "bootstrap can only be performed on a control plane node"
            )
            .is_transient()
        );
        assert!(!rpc(Call::ApplyConfiguration, Code::InvalidArgument, "").is_transient());
        assert!(!rpc(Call::Version, Code::Unimplemented, "").is_transient());
        assert!(
            TalosError::Unreachable {
                endpoint: "e".into(),
                reason: "refused".into(),
                timed_out: false
            }
            .is_transient()
        );
        assert!(
            !TalosError::Tls {
                endpoint: "e".into(),
                failure: TlsFailure::ServerNotTrusted
            }
            .is_transient()
        );
    }
}
