//! A Hetzner Cloud API double following the documented endpoints the bare-metal stages use:
//! `GET /v1/servers?page=&per_page=` (paginated, `meta.pagination.next_page`),
//! `GET /v1/ssh_keys?fingerprint=`, `POST /v1/servers/{id}/actions/enable_rescue`
//! (`{type, ssh_keys}` → `{action, root_password}`), `POST /v1/servers/{id}/actions/reset`
//! and `.../poweron`, `GET /v1/actions/{id}`. Wrong tokens get the API's 401 `unauthorized` error body. Actions
//! report `running` once, then `success`.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::http::{HttpServer, Request, Response};

#[derive(Debug, Clone)]
pub struct FakeServer {
    pub id: u64,
    pub name: String,
    pub ipv4: String,
    pub ipv6_net: String,
    /// `running` or `off`.
    pub status: &'static str,
}

#[derive(Debug, Default)]
pub struct State {
    pub servers: Vec<FakeServer>,
    /// (fingerprint, id) of the project's SSH keys.
    pub ssh_keys: Vec<(String, u64)>,
    /// `METHOD target body` of every authorised call, in order.
    pub calls: Vec<String>,
    /// Every Authorization header seen (to prove the token goes there and only there).
    pub auth_headers: Vec<String>,
    /// Action id → times polled.
    pub polls: std::collections::BTreeMap<u64, u32>,
    next_action: u64,
}

pub struct HetznerDouble {
    pub http: HttpServer,
    pub state: Arc<Mutex<State>>,
}

pub const ROOT_PASSWORD: &str = "rescue-root-pw-from-api";

impl HetznerDouble {
    pub fn start(token: &str, servers: Vec<FakeServer>) -> HetznerDouble {
        let state = Arc::new(Mutex::new(State {
            servers,
            next_action: 100,
            ..Default::default()
        }));
        let s = state.clone();
        let token = format!("Bearer {token}");
        let http = HttpServer::start(Arc::new(move |req: &Request| {
            let mut st = s.lock().unwrap();
            st.auth_headers
                .push(req.header("authorization").unwrap_or_default().to_string());
            if req.header("authorization") != Some(token.as_str()) {
                return Response::json(
                    401,
                    json!({"error": {"code": "unauthorized", "message": "unable to authenticate"}}),
                );
            }
            st.calls.push(format!(
                "{} {} {}",
                req.method,
                req.target,
                String::from_utf8_lossy(&req.body)
            ));
            handle(&mut st, req)
        }));
        HetznerDouble { http, state }
    }

    pub fn endpoint(&self) -> String {
        self.http.url("/v1")
    }
}

fn query(target: &str, key: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

fn action(id: u64, command: &str, status: &str) -> Value {
    json!({"id": id, "command": command, "status": status, "progress": 0, "error": null})
}

fn handle(st: &mut State, req: &Request) -> Response {
    let path = req.target.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "servers"]) => {
            let page: usize = query(&req.target, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let per: usize = query(&req.target, "per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(25);
            let all: Vec<Value> = st
                .servers
                .iter()
                .map(|s| {
                    json!({"id": s.id, "name": s.name, "status": s.status,
                        "public_net": {"ipv4": {"ip": s.ipv4}, "ipv6": {"ip": s.ipv6_net}}})
                })
                .collect();
            let start = (page - 1) * per;
            let items: Vec<Value> = all.iter().skip(start).take(per).cloned().collect();
            let next = if start + per < all.len() {
                json!(page + 1)
            } else {
                Value::Null
            };
            Response::json(
                200,
                json!({"servers": items, "meta": {"pagination": {"page": page, "per_page": per,
                    "next_page": next, "total_entries": all.len()}}}),
            )
        }
        ("GET", ["v1", "ssh_keys"]) => {
            let fp = query(&req.target, "fingerprint").unwrap_or_default();
            let keys: Vec<Value> = st
                .ssh_keys
                .iter()
                .filter(|(f, _)| *f == fp)
                .map(|(f, id)| json!({"id": id, "name": "k", "fingerprint": f}))
                .collect();
            Response::json(200, json!({"ssh_keys": keys}))
        }
        ("POST", ["v1", "servers", id, "actions", command]) => {
            if !st.servers.iter().any(|s| s.id.to_string() == *id) {
                return Response::json(
                    404,
                    json!({"error": {"code": "not_found", "message": "server not found"}}),
                );
            }
            st.next_action += 1;
            let a = action(st.next_action, command, "running");
            match *command {
                "enable_rescue" => {
                    Response::json(201, json!({"action": a, "root_password": ROOT_PASSWORD}))
                }
                "reset" | "reboot" | "poweron" => Response::json(201, json!({"action": a})),
                _ => Response::json(
                    404,
                    json!({"error": {"code": "not_found", "message": "no such action"}}),
                ),
            }
        }
        ("GET", ["v1", "actions", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let n = st.polls.entry(id).or_default();
            *n += 1;
            Response::json(200, json!({"action": action(id, "reset", "success")}))
        }
        _ => Response::json(
            404,
            json!({"error": {"code": "not_found", "message": "not found"}}),
        ),
    }
}
