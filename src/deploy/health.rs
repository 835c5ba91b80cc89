//! After the rollout, the service's own word that it works: `deployment.health_endpoint` and
//! `deployment.liveness_endpoint` must answer 2xx. They are asked through the API server's
//! service proxy (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy{path}`), so the check
//! needs nothing but the kubeconfig deploy already uses: no port-forward, no route into the
//! cluster's network.
//!
//! The core is pure and tested without a cluster: which port of the Service ([`service_port`]),
//! the proxy path ([`proxy_path`]), what an answer means ([`judge`]), and the retry loop
//! ([`probe`]) over any way of asking. [`ask`] is the one function that talks to the cluster.

use std::future::Future;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use serde_json::Value;

use crate::kube::wait::{Backoff, Check, WaitError};

/// The most of a body a diagnosis shows, in characters.
const EXCERPT_CHARS: usize = 160;
/// The most of a body read: a health endpoint that streams must not hold the deploy.
const BODY_LIMIT: usize = 16 * 1024;
/// One attempt that takes longer counts as no answer and is retried: a service still starting
/// may accept the connection and answer late, and the next try should not wait behind it.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(10);

/// One endpoint of the service to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub namespace: String,
    /// The Service, named after the service.
    pub service: String,
    /// The HTTP path, `/ready`.
    pub path: String,
}

impl Endpoint {
    /// `GET /ready on Service ns/name`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "GET {} on Service {}/{}",
            self.path, self.namespace, self.service
        )
    }
}

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer through the proxy: from the service, or from the API server when it could
    /// not reach the service (then the body is a `Status`).
    Http { code: u16, body: String },
    /// No HTTP answer; the text says why (the Service is missing, the request failed, it took
    /// too long).
    Unreached(String),
    /// Asking again cannot help (the path is not a valid URL path).
    Invalid(String),
}

/// The port the proxy goes through: the Service's port named `http`, else its first port, by
/// name when it has one (the API server matches endpoint ports by name) or by number.
pub fn service_port(svc: &Service) -> Result<String, String> {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    let port = ports
        .iter()
        .find(|p| p.name.as_deref() == Some("http"))
        .or_else(|| ports.first())
        .ok_or_else(|| "the Service has no ports".to_string())?;
    Ok(match port.name.as_deref() {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => port.port.to_string(),
    })
}

/// The API server's proxy path for `path` on port `port` of Service `namespace/service`.
pub fn proxy_path(namespace: &str, service: &str, port: &str, path: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}")
}

/// The start of a body, on one line, for a diagnosis. The caller scrubs it.
pub fn excerpt(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(EXCERPT_CHARS).collect();
    if one_line.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

/// The message of a Kubernetes `Status` body: the API server answering for a service it could
/// not reach (or refusing the proxy), not the service itself.
fn api_status_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    (v.get("kind")?.as_str()? == "Status" && v.get("apiVersion")?.as_str()? == "v1").then(|| {
        v.get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    })
}

/// What an answer means: 2xx is healthy (ready with its code); the API server refusing the
/// proxy itself (401/403) will not change by waiting; anything else is not yet.
pub fn judge(answer: &Answer) -> Check<u16> {
    match answer {
        Answer::Http { code, .. } if (200..300).contains(code) => Check::Ready(*code),
        Answer::Http { code, body } => match api_status_message(body) {
            Some(m) if matches!(code, 401 | 403) => Check::Failed(format!(
                "the API server refuses the service proxy ({code}): {m}; the kubeconfig's user needs `get` on services/proxy in this namespace"
            )),
            Some(m) => Check::Pending(format!(
                "no answer from the service: the API server could not reach it ({code}): {m}"
            )),
            None if body.trim().is_empty() => Check::Pending(format!("answered {code}")),
            None => Check::Pending(format!("answered {code}: {}", excerpt(body))),
        },
        Answer::Unreached(why) => Check::Pending(format!("no answer: {why}")),
        Answer::Invalid(why) => Check::Failed(why.clone()),
    }
}

/// Asks with `attempt` until [`judge`] says healthy (the status code), it says asking again
/// cannot help, or `deadline` passes (the last reason in the error). Each attempt may take at
/// most the time left (and [`ATTEMPT_LIMIT`]); attempts are `backoff` apart. Every new reason
/// goes to `pending`.
pub async fn probe<F, Fut>(
    deadline: Instant,
    mut backoff: Backoff,
    mut attempt: F,
    mut pending: impl FnMut(&str),
) -> Result<u16, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Answer>,
{
    let mut last = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(WaitError::TimedOut { last });
        }
        let limit = left.min(ATTEMPT_LIMIT);
        let answer = tokio::time::timeout(limit, attempt())
            .await
            .unwrap_or_else(|_| {
                Answer::Unreached(format!(
                    "nothing within {}",
                    crate::progress::format_duration(limit)
                ))
            });
        match judge(&answer) {
            Check::Ready(code) => return Ok(code),
            Check::Failed(why) => return Err(WaitError::Failed(why)),
            Check::Pending(why) => {
                if why != last {
                    pending(&why);
                    last = why;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(backoff.next_delay().min(left)).await;
    }
}

/// One attempt against the cluster: reads the Service for its port, then GETs the endpoint
/// through the proxy and reads at most [`BODY_LIMIT`] of the answer. `client` must not retry
/// 503s itself ([`crate::kube::Cluster::unretried`]): they are answers here.
pub async fn ask(client: &kube::Client, e: &Endpoint) -> Answer {
    let services: Api<Service> = Api::namespaced(client.clone(), &e.namespace);
    let svc = match services.get_opt(&e.service).await {
        Ok(Some(svc)) => svc,
        Ok(None) => {
            return Answer::Unreached(
                "the Service does not exist (the claim's composition creates it)".into(),
            );
        }
        Err(err) => {
            return Answer::Unreached(format!(
                "cannot read the Service: {}",
                crate::diag::error_chain(&err)
            ));
        }
    };
    let port = match service_port(&svc) {
        Ok(p) => p,
        Err(why) => return Answer::Unreached(why),
    };
    let uri = proxy_path(&e.namespace, &e.service, &port, &e.path);
    let request = match http::Request::get(uri.as_str()).body(Vec::new()) {
        Ok(r) => r,
        Err(err) => {
            return Answer::Invalid(format!(
                "`{}` is not a valid URL path: {err}",
                e.path.escape_debug()
            ));
        }
    };
    let response = match client.send(request.map(kube::client::Body::from)).await {
        Ok(r) => r,
        Err(err) => return Answer::Unreached(crate::diag::error_chain(&err)),
    };
    let code = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while bytes.len() < BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            // A body cut short still tells the status; what came is enough for a diagnosis.
            Some(Err(_)) | None => break,
        }
    }
    bytes.truncate(BODY_LIMIT);
    Answer::Http {
        code,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    fn service(ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": {"ports": ports}}))
            .unwrap()
    }

    #[test]
    fn the_port_named_http_wins_then_the_first_by_name_or_number() {
        let s = service(json!([{"name": "metrics", "port": 9090}, {"name": "http", "port": 80}]));
        assert_eq!(service_port(&s).unwrap(), "http");
        let s = service(json!([{"name": "grpc", "port": 9000}, {"name": "admin", "port": 81}]));
        assert_eq!(service_port(&s).unwrap(), "grpc");
        let s = service(json!([{"port": 8080}]));
        assert_eq!(service_port(&s).unwrap(), "8080");
        let s = service(json!([]));
        assert_eq!(service_port(&s).unwrap_err(), "the Service has no ports");
    }

    #[test]
    fn the_proxy_path_names_namespace_service_port_and_path() {
        assert_eq!(
            proxy_path("ns", "my-svc", "http", "/api/health"),
            "/api/v1/namespaces/ns/services/my-svc:http/proxy/api/health"
        );
    }

    fn http(code: u16, body: &str) -> Answer {
        Answer::Http {
            code,
            body: body.into(),
        }
    }

    #[test]
    fn only_2xx_is_healthy_and_the_diagnosis_has_code_and_excerpt() {
        assert_eq!(judge(&http(200, "ok")), Check::Ready(200));
        assert_eq!(judge(&http(204, "")), Check::Ready(204));
        assert_eq!(
            judge(&http(503, "database\n  not ready")),
            Check::Pending("answered 503: database not ready".into())
        );
        assert_eq!(judge(&http(301, "")), Check::Pending("answered 301".into()));
        let long = "x".repeat(1000);
        let Check::Pending(why) = judge(&http(500, &long)) else {
            panic!()
        };
        assert_eq!(
            why.chars().count(),
            "answered 500: ".len() + EXCERPT_CHARS + 1
        );
    }

    #[test]
    fn the_api_servers_own_status_is_told_apart_from_the_services_answer() {
        let unreachable = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "error trying to reach service: dial tcp 10.213.0.2:8080: connect: connection refused",
            "reason": "ServiceUnavailable", "code": 503});
        assert_eq!(
            judge(&http(503, &unreachable.to_string())),
            Check::Pending("no answer from the service: the API server could not reach it (503): error trying to reach service: dial tcp 10.213.0.2:8080: connect: connection refused".into())
        );
        let forbidden = json!({"kind": "Status", "apiVersion": "v1", "code": 403,
            "message": "services \"s\" is forbidden: User \"ci\" cannot get resource \"services/proxy\""});
        let Check::Failed(why) = judge(&http(403, &forbidden.to_string())) else {
            panic!()
        };
        assert!(why.contains("services/proxy"), "{why}");
        // A service of its own answering 403 is not the API server: it may change.
        assert!(matches!(
            judge(&http(403, "{\"error\": \"not yet\"}")),
            Check::Pending(_)
        ));
    }

    fn fast() -> Backoff {
        Backoff::new(Duration::from_millis(5), Duration::from_millis(20))
    }

    #[tokio::test]
    async fn a_probe_retries_until_2xx_and_reports_each_new_reason_once() {
        let answers = [
            Answer::Unreached("the Service does not exist".into()),
            http(503, "starting"),
            http(503, "starting"),
            http(200, "ok"),
        ];
        let n = AtomicUsize::new(0);
        let mut seen = Vec::new();
        let got = probe(
            Instant::now() + Duration::from_secs(5),
            fast(),
            || {
                let a = answers[n.fetch_add(1, Ordering::SeqCst)].clone();
                async move { a }
            },
            |why| seen.push(why.to_string()),
        )
        .await;
        assert_eq!(got, Ok(200));
        assert_eq!(n.load(Ordering::SeqCst), 4);
        assert_eq!(
            seen,
            [
                "no answer: the Service does not exist",
                "answered 503: starting"
            ]
        );
    }

    #[tokio::test]
    async fn a_probe_that_never_gets_2xx_ends_at_the_deadline_with_the_last_reason() {
        let started = Instant::now();
        let got = probe(
            started + Duration::from_millis(200),
            fast(),
            || async { http(503, "down") },
            |_| {},
        )
        .await;
        assert_eq!(
            got,
            Err(WaitError::TimedOut {
                last: "answered 503: down".into()
            })
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn an_attempt_that_hangs_is_cut_at_the_deadline() {
        let started = Instant::now();
        let got = probe(
            started + Duration::from_millis(150),
            fast(),
            std::future::pending::<Answer>,
            |_| {},
        )
        .await;
        let Err(WaitError::TimedOut { last }) = got else {
            panic!("{got:?}")
        };
        assert!(last.starts_with("no answer: nothing within"), "{last}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn an_invalid_path_fails_at_once() {
        let got = probe(
            Instant::now() + Duration::from_secs(5),
            fast(),
            || async { Answer::Invalid("`/a b` is not a valid URL path".into()) },
            |_| {},
        )
        .await;
        assert_eq!(
            got,
            Err(WaitError::Failed("`/a b` is not a valid URL path".into()))
        );
    }
}
