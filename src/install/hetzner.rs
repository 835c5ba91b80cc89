//! The Hetzner Cloud API, for what a bare-metal bring-up needs: find a server by its IP, enable
//! the rescue system (linux64, with SSH keys when given), reset the server into it, wait for
//! the actions. Endpoints and fields as documented at docs.hetzner.cloud; the token is sent as
//! `Authorization: Bearer` and appears nowhere else, nor does the returned root password.

use std::net::IpAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::secret::SecretString;

/// The public API.
pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";
/// The environment variable the token is read from.
pub const TOKEN_ENV: &str = "HETZNER_API_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum HetznerError {
    #[error("--hetzner-endpoint {endpoint}: {message}")]
    Endpoint { endpoint: String, message: String },
    #[error(
        "the Hetzner API refused the token from {TOKEN_ENV} ({status}: {message}); create a read/write API token in the Cloud Console project the servers belong to"
    )]
    Unauthorized { status: u16, message: String },
    #[error(
        "no server in the Hetzner project has the IP {ip} (searched {count} servers); is the token for the right project, and the IP in talos-values.yaml right?"
    )]
    ServerNotFound { ip: IpAddr, count: usize },
    #[error("Hetzner API {what}: {status} {code}: {message}")]
    Api {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("Hetzner API {what}: {message}")]
    Transport { what: String, message: String },
    #[error("Hetzner action {id} ({command}) failed: {code}: {message}")]
    ActionFailed {
        id: u64,
        command: String,
        code: String,
        message: String,
    },
    #[error("Hetzner action {id} ({command}) did not finish within {}s", timeout.as_secs())]
    ActionTimeout {
        id: u64,
        command: String,
        timeout: Duration,
    },
}

/// A server as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub id: u64,
    pub name: String,
    /// `running`, `off`, ... as the API reports it.
    pub status: String,
}

/// An asynchronous action the API started.
#[derive(Debug, Clone, Deserialize)]
pub struct Action {
    pub id: u64,
    pub command: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<ActionErrorBody>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionErrorBody {
    pub code: String,
    pub message: String,
}

/// What enabling rescue returned: the action, and the root password of the rescue system
/// (only in memory, never printed).
#[derive(Debug)]
pub struct Rescue {
    pub action: Action,
    pub root_password: Option<SecretString>,
}

pub struct Hetzner {
    endpoint: String,
    token: SecretString,
    http: HttpClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for Hetzner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hetzner({}, token <redacted>)", self.endpoint)
    }
}

/// Whether `host` is this machine: the only place plain HTTP may carry the token.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Hetzner {
    /// A client for `endpoint` (`https://api.hetzner.cloud/v1`; `http://` only to this
    /// machine, for test doubles).
    pub fn new(endpoint: &str, token: SecretString) -> Result<Hetzner, HetznerError> {
        let bad = |message: &str| HetznerError::Endpoint {
            endpoint: crate::redact::url_credentials(endpoint),
            message: message.to_string(),
        };
        let uri: hyper::Uri = endpoint
            .parse()
            .map_err(|_| bad("not a URL; expected https://host/v1"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if uri.host().is_some_and(is_loopback) => {}
            Some("http") => {
                return Err(bad(
                    "plain http would send the API token unencrypted; use https",
                ));
            }
            _ => return Err(bad("expected an https:// URL")),
        }
        if token.expose().trim().is_empty() {
            return Err(HetznerError::Unauthorized {
                status: 0,
                message: format!("{TOKEN_ENV} is empty"),
            });
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| bad(&format!("no TLS roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Hetzner {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            http: HttpClient::builder(TokioExecutor::new()).build(connector),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, HetznerError> {
        let what = format!("{method} {path}");
        let transport = |message: String| HetznerError::Transport {
            what: what.clone(),
            message,
        };
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.endpoint))
            .header("authorization", format!("Bearer {}", self.token.expose()))
            .header("content-type", "application/json")
            .header("user-agent", "kubectl-zt")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .map_err(|e| transport(e.to_string()))?;
        let response = tokio::time::timeout(Duration::from_secs(60), self.http.request(request))
            .await
            .map_err(|_| transport("no answer within 60s".into()))?
            .map_err(|e| transport(format!("{e}")))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(e.to_string()))?
            .to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        let code = json
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let message = json
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(HetznerError::Unauthorized {
                status: status.as_u16(),
                message: if code.is_empty() {
                    message
                } else {
                    format!("{code}: {message}")
                },
            });
        }
        Err(HetznerError::Api {
            what,
            status: status.as_u16(),
            code,
            message,
        })
    }

    /// The server whose public IPv4 is `ip` (or whose IPv6 network holds it), searched page by
    /// page: the API filters servers by name and label, not by IP.
    pub async fn server_by_ip(&self, ip: IpAddr) -> Result<Server, HetznerError> {
        let mut page = 1u64;
        let mut count = 0usize;
        loop {
            let v = self
                .call(
                    Method::GET,
                    &format!("/servers?page={page}&per_page=50"),
                    None,
                )
                .await?;
            for s in v["servers"].as_array().into_iter().flatten() {
                count += 1;
                let v4 = s.pointer("/public_net/ipv4/ip").and_then(Value::as_str);
                let v6 = s.pointer("/public_net/ipv6/ip").and_then(Value::as_str);
                let matches = v4.and_then(|a| a.parse::<IpAddr>().ok()) == Some(ip)
                    || v6.is_some_and(|net| in_v6_network(ip, net));
                if matches && let Some(id) = s["id"].as_u64() {
                    return Ok(Server {
                        id,
                        name: s["name"].as_str().unwrap_or_default().to_string(),
                        status: s["status"].as_str().unwrap_or_default().to_string(),
                    });
                }
            }
            match v
                .pointer("/meta/pagination/next_page")
                .and_then(Value::as_u64)
            {
                Some(next) if next > page => page = next,
                _ => return Err(HetznerError::ServerNotFound { ip, count }),
            }
        }
    }

    /// The IDs of the project's SSH keys with this MD5 fingerprint (`aa:bb:...`), to put into
    /// the rescue system.
    pub async fn ssh_key_ids(&self, md5_fingerprint: &str) -> Result<Vec<u64>, HetznerError> {
        let v = self
            .call(
                Method::GET,
                &format!("/ssh_keys?fingerprint={md5_fingerprint}"),
                None,
            )
            .await?;
        Ok(v["ssh_keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["id"].as_u64())
            .collect())
    }

    /// `enable_rescue` with type linux64. Does not reboot the server: see [`Hetzner::reset`].
    pub async fn enable_rescue(
        &self,
        server: u64,
        ssh_keys: &[u64],
    ) -> Result<Rescue, HetznerError> {
        let mut body = json!({"type": "linux64"});
        if !ssh_keys.is_empty() {
            body["ssh_keys"] = json!(ssh_keys);
        }
        let v = self
            .call(
                Method::POST,
                &format!("/servers/{server}/actions/enable_rescue"),
                Some(body),
            )
            .await?;
        Ok(Rescue {
            action: action_of(&v)?,
            root_password: v["root_password"].as_str().map(SecretString::new),
        })
    }

    /// Boots the server into what is enabled: a hard `reset` of a running server (into rescue
    /// right away, whatever its OS does; the documented "cut power and start again"), and
    /// `poweron` of one that is off, which boots it without a power cycle it does not need.
    pub async fn restart(&self, server: &Server) -> Result<Action, HetznerError> {
        let action = if server.status == "off" {
            "poweron"
        } else {
            "reset"
        };
        let path = format!("/servers/{}/actions/{action}", server.id);
        let v = self.call(Method::POST, &path, None).await?;
        action_of(&v)
    }

    /// Polls the action until it succeeds or fails, every `interval`, up to `timeout`.
    pub async fn wait_action(
        &self,
        action: &Action,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), HetznerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut current = action.clone();
        loop {
            match current.status.as_str() {
                "success" => return Ok(()),
                "error" => {
                    let e = current.error.unwrap_or(ActionErrorBody {
                        code: "unknown".into(),
                        message: "no error given".into(),
                    });
                    return Err(HetznerError::ActionFailed {
                        id: current.id,
                        command: current.command,
                        code: e.code,
                        message: e.message,
                    });
                }
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(HetznerError::ActionTimeout {
                    id: current.id,
                    command: current.command,
                    timeout,
                });
            }
            tokio::time::sleep(interval).await;
            let v = self
                .call(Method::GET, &format!("/actions/{}", current.id), None)
                .await?;
            current = action_of(&v)?;
        }
    }
}

fn action_of(v: &Value) -> Result<Action, HetznerError> {
    serde_json::from_value(v["action"].clone()).map_err(|e| HetznerError::Transport {
        what: "reading an action".into(),
        message: e.to_string(),
    })
}

/// Whether `ip` lies in the IPv6 network `net` (`2001:db8::/64`), as the API gives a server's.
fn in_v6_network(ip: IpAddr, net: &str) -> bool {
    let (IpAddr::V6(ip), Some((addr, len))) = (ip, net.split_once('/')) else {
        return false;
    };
    let (Ok(addr), Ok(len)) = (addr.parse::<std::net::Ipv6Addr>(), len.parse::<u32>()) else {
        return false;
    };
    if len > 128 {
        return false;
    }
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    u128::from(ip) & mask == u128::from(addr) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine() {
        let t = || SecretString::new("s3cr3t-9c1");
        assert!(Hetzner::new("http://127.0.0.1:8080/v1", t()).is_ok());
        let e = Hetzner::new("http://api.example/v1", t())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unencrypted") && !e.contains("s3cr3t"), "{e}");
        assert!(Hetzner::new("ftp://x", t()).is_err());
        assert!(Hetzner::new(DEFAULT_ENDPOINT, SecretString::new(" ")).is_err());
    }

    #[test]
    fn ipv6_network_membership() {
        let ip: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        assert!(in_v6_network(ip, "2001:db8:1:2::/64"));
        assert!(!in_v6_network(ip, "2001:db8:1:3::/64"));
        assert!(!in_v6_network(
            "192.0.2.1".parse().unwrap(),
            "2001:db8::/64"
        ));
    }
}
