//! An in-process Kubernetes API server for tests, over plain HTTP on `127.0.0.1:<random>`, with a
//! kubeconfig pointing at it. kube-rs (the real client) talks to it exactly as to a cluster.
//!
//! The real control plane ([`crate::cluster`]: etcd, kube-apiserver, the controllers and kwok)
//! runs deploy and bootstrap's Kubernetes stages for real (plugins/tests/deploy_cluster.rs,
//! tests/bootstrap_cluster.rs). This double stays for what a real server will not do on demand:
//! refusals quoting a Secret's values, CRDs that never become Established, a pod that
//! crash-loops, scripted timings, and recording every request a client sent. Known differences
//! from the real server, found by those tests: the real server refuses a server-side apply with
//! a field its schema does not declare (`500`, "field not declared in schema"; deploy names the
//! field), validates values against the schema and fills defaults; this double has no schemas
//! and stores bodies as sent.
//!
//! It serves:
//! - discovery: `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>` (resource lists including
//!   the platform's claim kinds; [`Builder::without_group`] removes a group to play a cluster
//!   without the platform);
//! - server-side apply: `PATCH` with `application/apply-patch+yaml`, `fieldManager` (required) and
//!   `force`, creating or merging, bumping `resourceVersion` (and `generation` when `spec`
//!   changes), `409 Conflict` when a field owned by another manager would change, removal of
//!   fields a manager stops applying, `dryRun=All`, and the namespace-must-exist rule;
//! - `GET` (object and `/status`), `LIST` with equality `labelSelector` and a
//!   `fieldSelector` on `metadata.name` / `metadata.namespace`, `DELETE`, and
//!   `application/merge-patch+json` on `/status`;
//! - watches: `GET` of a collection with `watch=true` (the same selectors) streams
//!   newline-delimited JSON events, `ADDED`, `MODIFIED` and `DELETED`, from the
//!   `resourceVersion` asked for (the store's version counter, which lists report), as kube-rs's
//!   `watcher` uses them. Every change (an apply, a status patch, a delete, a timed action,
//!   [`TestApi::with_store`]) wakes the open watches, which send what changed for them;
//! - a hook for tests: [`TestApi::after_apply`] runs an action some time after an object is
//!   applied (a controller setting conditions, creating a Deployment and its pods), on a timer in
//!   the background, so watches see it when it happens; [`TestApi::with_store`] changes objects
//!   directly.
//!
//! Limits, on purpose: no TLS or authentication; no validation against schemas (the bodies are
//! stored as sent); lists are owned atomically (no merge keys), ownership is tracked per leaf
//! field and is not exposed as `managedFields`; no admission, finalizers, owner references or
//! garbage collection; `POST`/`PUT`, JSON patch and strategic merge patch are answered
//! `405`/`415`. Watches send no `BOOKMARK` events (kube-rs does not need them), ignore
//! `timeoutSeconds` and report every change since a version as `ADDED` or `MODIFIED` by what the
//! client has been sent, not by the history (objects deleted before a watch starts are not
//! reported). Every request is logged ([`TestApi::requests`]) so tests can assert what a client
//! did and did not send.

mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::convert::Infallible;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

pub use store::{
    ApiFailure, ApplyParams, Part, ResourceType, Store, default_resources, leaf_paths,
};

type Action = Box<dyn FnOnce(&mut Store) + Send>;

/// An action waiting for its trigger or its time.
struct Scheduled {
    kind: String,
    name: String,
    delay: Duration,
    /// Set when the trigger fired.
    due: Option<Instant>,
    action: Option<Action>,
}

struct State {
    store: Store,
    scheduled: Vec<Scheduled>,
    requests: Vec<String>,
    /// Kinds whose applies are refused with a message quoting the whole body, as a validating
    /// webhook or an API server's `Invalid value: "..."` may quote a rejected value.
    echo_rejections: Vec<String>,
    /// Counts changes to the store; open watches wait on it.
    changes: tokio::sync::watch::Sender<u64>,
    /// Times at which scheduled actions fall due, for the server to arm timers for.
    to_arm: Vec<Instant>,
}

impl State {
    /// Wakes every open watch.
    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// Builds a [`TestApi`] with a chosen set of resource types.
pub struct Builder {
    resources: Vec<ResourceType>,
}

impl Builder {
    /// Leaves out every kind of `group`, like a cluster where those CRDs are not installed.
    pub fn without_group(mut self, group: &str) -> Self {
        self.resources.retain(|r| r.group != group);
        self
    }

    pub fn resource(mut self, r: ResourceType) -> Self {
        self.resources.push(r);
        self
    }

    pub fn start(self) -> TestApi {
        TestApi::start_with(self.resources)
    }
}

/// A running test API server; stops when dropped.
pub struct TestApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock must not hide its own failure behind a
    // poisoned-lock panic here.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl TestApi {
    /// A server with every default kind ([`default_resources`]).
    pub fn start() -> TestApi {
        TestApi::builder().start()
    }

    /// From now on, refuses every apply of `kind` with a message that quotes the whole body
    /// (values of Secrets included): what a client must never repeat.
    pub fn echo_rejections(&self, kind: &str) {
        lock(&self.state).echo_rejections.push(kind.to_string());
    }

    pub fn builder() -> Builder {
        Builder {
            resources: default_resources(),
        }
    }

    fn start_with(resources: Vec<ResourceType>) -> TestApi {
        let state = Arc::new(Mutex::new(State {
            store: Store::new(resources),
            scheduled: Vec::new(),
            requests: Vec::new(),
            echo_rejections: Vec::new(),
            changes: tokio::sync::watch::channel(0).0,
            to_arm: Vec::new(),
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let st = st.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    let st = st.clone();
                                    async move { Ok::<_, Infallible>(handle(&st, req).await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        TestApi {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: default\ncurrent-context: test\nusers:\n- name: test\n  user: {{}}\n",
            self.url()
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// Runs `f` on the store (to seed, change or inspect objects); open watches see the change.
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut st = lock(&self.state);
        let r = f(&mut st.store);
        st.changed();
        r
    }

    /// A copy of an object.
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        lock(&self.state).store.get(kind, ns, name).cloned()
    }

    /// `Kind ns/name` of every object, in the order they were created.
    pub fn created(&self) -> Vec<String> {
        let st = lock(&self.state);
        let s = &st.store;
        {
            s.created
                .iter()
                .map(|(q, ns, name)| {
                    let kind = s
                        .resources
                        .iter()
                        .find(|r| &r.qualified() == q)
                        .map_or(q.as_str(), |r| r.kind.as_str())
                        .to_string();
                    if ns.is_empty() {
                        format!("{kind} {name}")
                    } else {
                        format!("{kind} {ns}/{name}")
                    }
                })
                .collect()
        }
    }

    /// Every request so far as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// After the object of `kind` named `name` is applied (for real, not a dry run), waits
    /// `delay` and then runs `action`, on a timer in the background (watches see the change as
    /// it happens).
    pub fn after_apply(
        &self,
        kind: &str,
        name: &str,
        delay: Duration,
        action: impl FnOnce(&mut Store) + Send + 'static,
    ) {
        lock(&self.state).scheduled.push(Scheduled {
            kind: kind.into(),
            name: name.into(),
            delay,
            due: None,
            action: Some(Box::new(action)),
        });
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn json_response(code: u16, body: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn failure(f: &ApiFailure) -> Response<Body> {
    json_response(f.code, &f.status())
}

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs scheduled actions whose time has come (and wakes the watches when one ran).
fn run_due(state: &mut State) {
    let now = Instant::now();
    let mut due: Vec<Action> = Vec::new();
    for s in &mut state.scheduled {
        if s.due.is_some_and(|d| d <= now)
            && let Some(a) = s.action.take()
        {
            due.push(a);
        }
    }
    state.scheduled.retain(|s| s.action.is_some());
    let ran = !due.is_empty();
    for a in due {
        a(&mut state.store);
    }
    if ran {
        state.changed();
    }
}

/// Arms one background timer per newly scheduled action time.
fn arm_timers(state: &Arc<Mutex<State>>) {
    let due = std::mem::take(&mut lock(state).to_arm);
    for at in due {
        let st = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            run_due(&mut lock(&st));
        });
    }
}

async fn handle(state: &Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let q = query(&req);
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut st = lock(state);
    let line = match q.is_empty() {
        true => format!("{method} {path}"),
        false => {
            let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.sort();
            format!("{method} {path}?{}", pairs.join("&"))
        }
    };
    st.requests.push(line);
    run_due(&mut st);
    if method == Method::GET && q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return watch(state, &mut st, &path, &q);
    }
    let response = route(&mut st, &method, &path, &q, &content_type, &body);
    if method != Method::GET {
        st.changed();
    }
    drop(st);
    arm_timers(state);
    response
}

/// What a list or watch selects: equality label and field selectors.
struct Selection {
    labels: Vec<(String, String)>,
    name: Option<String>,
    namespace: Option<String>,
}

impl Selection {
    fn parse(q: &HashMap<String, String>) -> Result<Selection, ApiFailure> {
        let pairs = |key: &str| -> Vec<(String, String)> {
            q.get(key)
                .map(|s| {
                    s.split(',')
                        .filter_map(|p| p.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.trim_start_matches('=').to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut sel = Selection {
            labels: pairs("labelSelector"),
            name: None,
            namespace: None,
        };
        for (k, v) in pairs("fieldSelector") {
            match k.as_str() {
                "metadata.name" => sel.name = Some(v),
                "metadata.namespace" => sel.namespace = Some(v),
                other => {
                    return Err(ApiFailure::new(
                        400,
                        "BadRequest",
                        format!("field label not supported: {other}"),
                    ));
                }
            }
        }
        Ok(sel)
    }

    fn matches(&self, v: &Value) -> bool {
        let meta = |f: &str| v.pointer(&format!("/metadata/{f}")).and_then(Value::as_str);
        self.name.as_deref().is_none_or(|n| meta("name") == Some(n))
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| meta("namespace").unwrap_or("") == n)
    }

    /// The matching objects by `namespace/name`.
    fn select(&self, store: &Store, t: &Target) -> BTreeMap<String, Value> {
        store
            .list(&t.r, t.namespace.as_deref(), &self.labels)
            .into_iter()
            .filter(|v| self.matches(v))
            .map(|v| {
                let meta = |f: &str| {
                    v.pointer(&format!("/metadata/{f}"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                (format!("{}/{}", meta("namespace"), meta("name")), v)
            })
            .collect()
    }
}

fn rv_of(v: &Value) -> u64 {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The events that take a client from `sent` to `now`, updating `sent`.
fn diff(sent: &mut BTreeMap<String, Value>, now: BTreeMap<String, Value>) -> Vec<Bytes> {
    let mut events = Vec::new();
    let line = |kind: &str, object: &Value| {
        Bytes::from(format!("{}\n", json!({"type": kind, "object": object})))
    };
    for (key, old) in sent.iter() {
        if !now.contains_key(key) {
            events.push(line("DELETED", old));
        }
    }
    for (key, v) in &now {
        match sent.get(key) {
            None => events.push(line("ADDED", v)),
            Some(old) if rv_of(old) != rv_of(v) => events.push(line("MODIFIED", v)),
            Some(_) => {}
        }
    }
    *sent = now;
    events
}

/// Answers a watch: a stream of events, one JSON object a line, until the client goes away or
/// the server stops.
fn watch(
    state: &Arc<Mutex<State>>,
    st: &mut State,
    path: &str,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let t = match parse_target(&st.store, path) {
        Ok(t) if t.name.is_none() => t,
        Ok(_) => {
            return failure(&ApiFailure::new(
                405,
                "MethodNotAllowed",
                "watch a collection with a fieldSelector on metadata.name, not an object",
            ));
        }
        Err(f) => return failure(&f),
    };
    let sel = match Selection::parse(q) {
        Ok(s) => s,
        Err(f) => return failure(&f),
    };
    // What the client already has: the objects of the version it starts from.
    let from: Option<u64> = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0);
    let mut sent: BTreeMap<String, Value> = match from {
        Some(from) => sel
            .select(&st.store, &t)
            .into_iter()
            .filter(|(_, v)| rv_of(v) <= from)
            .collect(),
        None => BTreeMap::new(),
    };
    let mut changes = st.changes.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            let now = sel.select(&lock(&state).store, &t);
            for event in diff(&mut sent, now) {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
            }
        }
    });
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let b = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn discovery(store: &Store, path: &str) -> Option<Response<Body>> {
    let groups = || {
        let mut gvs: Vec<(String, String)> = store
            .resources
            .iter()
            .filter(|r| !r.group.is_empty())
            .map(|r| (r.group.clone(), r.version.clone()))
            .collect();
        gvs.dedup();
        gvs
    };
    let list = |group: &str, version: &str| {
        let resources: Vec<Value> = store
            .resources
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .flat_map(|r| {
                let verbs = json!(["create", "delete", "get", "list", "patch", "update", "watch"]);
                [
                    json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced, "kind": r.kind, "verbs": verbs}),
                    json!({"name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]}),
                ]
            })
            .collect();
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
    };
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match seg.as_slice() {
        ["api"] => json_response(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        ["apis"] => {
            let mut by_group: Vec<(String, Vec<String>)> = Vec::new();
            for (g, v) in groups() {
                match by_group.iter_mut().find(|(x, _)| x == &g) {
                    Some((_, vs)) if !vs.contains(&v) => vs.push(v),
                    Some(_) => {}
                    None => by_group.push((g, vec![v])),
                }
            }
            let groups: Vec<Value> = by_group
                .iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            json_response(
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        ["api", v] => {
            if store
                .resources
                .iter()
                .any(|r| r.group.is_empty() && r.version == *v)
            {
                json_response(200, &list("", v))
            } else {
                failure(&ApiFailure::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ))
            }
        }
        ["apis", g, v] => {
            if store
                .resources
                .iter()
                .any(|r| r.group == *g && r.version == *v)
            {
                json_response(200, &list(g, v))
            } else {
                failure(&ApiFailure::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ))
            }
        }
        _ => return None,
    })
}

/// What a resource URL addresses.
struct Target {
    r: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    part: Part,
}

fn parse_target(store: &Store, path: &str) -> Result<Target, ApiFailure> {
    let not_found = || {
        ApiFailure::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match seg.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    // /namespaces/{ns}/{plural}[/{name}[/status]] is namespaced, except /namespaces/{name}/status.
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, more @ ..] if *plural != "status" => (Some(ns.to_string()), {
            let mut v = vec![*plural];
            v.extend_from_slice(more);
            v
        }),
        _ => (None, rest.to_vec()),
    };
    let (plural, name, part) = match rest.as_slice() {
        [p] => (*p, None, Part::Main),
        [p, n] => (*p, Some(n.to_string()), Part::Main),
        [p, n, "status"] => (*p, Some(n.to_string()), Part::Status),
        _ => return Err(not_found()),
    };
    let r = store
        .resource(group, version, plural)
        .cloned()
        .ok_or_else(not_found)?;
    if namespace.is_some() && !r.namespaced {
        return Err(not_found());
    }
    Ok(Target {
        r,
        namespace,
        name,
        part,
    })
}

fn parse_body(body: &[u8]) -> Result<Value, ApiFailure> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiFailure::new(400, "BadRequest", "the body is not UTF-8"))?;
    serde_json::from_str(text)
        .or_else(|_| serde_saphyr::from_str::<Value>(text))
        .map_err(|_| ApiFailure::new(400, "BadRequest", "the body is neither JSON nor YAML"))
}

fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

fn route(
    st: &mut State,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Response<Body> {
    if *method == Method::GET
        && let Some(r) = discovery(&st.store, path)
    {
        return r;
    }
    let t = match parse_target(&st.store, path) {
        Ok(t) => t,
        Err(f) => return failure(&f),
    };
    let ns = t.namespace.as_deref();
    let not_found = |name: &str| {
        failure(&ApiFailure::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", t.r.qualified()),
        ))
    };
    match (method.clone(), &t.name) {
        (Method::GET, Some(name)) => match st.store.get_in(&t.r, ns, name) {
            Some(v) => json_response(200, v),
            None => not_found(name),
        },
        (Method::GET, None) => {
            let sel = match Selection::parse(q) {
                Ok(s) => s,
                Err(f) => return failure(&f),
            };
            let items: Vec<Value> = sel.select(&st.store, &t).into_values().collect();
            json_response(
                200,
                &json!({"kind": format!("{}List", t.r.kind), "apiVersion": t.r.api_version(), "metadata": {"resourceVersion": st.store.resource_version().to_string()}, "items": items}),
            )
        }
        (Method::DELETE, Some(name)) => match st.store.delete(&t.r, ns, name) {
            Some(v) => json_response(200, &v),
            None => not_found(name),
        },
        (Method::PATCH, Some(name)) => {
            let body = match parse_body(body) {
                Ok(b) => b,
                Err(f) => return failure(&f),
            };
            let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
            if content_type.starts_with("application/apply-patch+yaml") {
                let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()) else {
                    return failure(&ApiFailure::new(
                        400,
                        "BadRequest",
                        "PATCH /apply requires fieldManager",
                    ));
                };
                let params = ApplyParams {
                    manager,
                    force: q.get("force").is_some_and(|v| v == "true"),
                    dry_run,
                    part: t.part,
                };
                if st.echo_rejections.contains(&t.r.kind) {
                    return failure(&ApiFailure::new(
                        422,
                        "Invalid",
                        format!("{} \"{name}\" is invalid: Invalid value: {body}", t.r.kind),
                    ));
                }
                match st.store.apply(&t.r, ns, name, body, params) {
                    Ok(a) => {
                        if !dry_run && t.part == Part::Main {
                            let now = Instant::now();
                            for s in &mut st.scheduled {
                                if s.due.is_none() && s.kind == t.r.kind && &s.name == name {
                                    s.due = Some(now + s.delay);
                                    st.to_arm.push(now + s.delay);
                                }
                            }
                            // Actions with no delay are visible to the very next request.
                            run_due(st);
                        }
                        json_response(if a.created { 201 } else { 200 }, &a.value)
                    }
                    Err(f) => failure(&f),
                }
            } else if content_type.starts_with("application/merge-patch+json")
                && t.part == Part::Status
            {
                let Some(mut v) = st.store.get_in(&t.r, ns, name).cloned() else {
                    return not_found(name);
                };
                let status_patch = body.get("status").cloned().unwrap_or(Value::Null);
                let mut status = v.get("status").cloned().unwrap_or(json!({}));
                merge_patch(&mut status, &status_patch);
                v["status"] = status;
                if !dry_run {
                    st.store.put(v.clone());
                }
                json_response(200, &st.store.get_in(&t.r, ns, name).cloned().unwrap_or(v))
            } else {
                failure(&ApiFailure::new(
                    415,
                    "UnsupportedMediaType",
                    format!("the test API server does not support PATCH with {content_type}"),
                ))
            }
        }
        _ => failure(&ApiFailure::new(
            405,
            "MethodNotAllowed",
            format!("the test API server does not support {method} here"),
        )),
    }
}

/// Ready-made objects a controller would create, for [`TestApi::after_apply`] actions.
pub mod objects {
    use serde_json::{Value, json};

    /// A Deployment running `image` with `ready` of `replicas` pods ready and updated.
    pub fn deployment(ns: &str, name: &str, image: &str, replicas: i64, ready: i64) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}},
            "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready},
        })
    }

    /// A pod of Deployment `app` running `image`, with a container status.
    pub fn pod(
        ns: &str,
        name: &str,
        app: &str,
        image: &str,
        phase: &str,
        container_status: Value,
    ) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": app}},
            "spec": {"containers": [{"name": "app", "image": image}]},
            "status": {"phase": phase, "containerStatuses": [container_status]},
        })
    }

    /// A Secret with `data` (values given already base64-encoded).
    pub fn secret(ns: &str, name: &str, data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": data})
    }
}
