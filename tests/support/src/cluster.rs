//! A real Kubernetes control plane for the tests, envtest- and kwok-style: etcd and
//! kube-apiserver (the oracles `make oracles` builds from their Go modules) on 127.0.0.1 free
//! ports, with certificates generated here (rcgen) and an admin kubeconfig; on request also
//! kube-controller-manager, kube-scheduler and kwok with fake nodes, so Deployments get pods that
//! are scheduled and become Running and Ready without a kubelet or a container runtime.
//!
//! - One cluster per test binary ([`cluster_or_skip`]), started by the first test that asks;
//!   each test works in its own namespace ([`TestCluster::namespace`]).
//! - Every server writes its log into the cluster's directory; a [`TestNamespace`] dropped while
//!   its test panics prints the tail of each log.
//! - Every process is stopped when the test binary ends, however it ends: the processes are
//!   started from one thread that lives as long as the binary, with `PR_SET_PDEATHSIG` (the
//!   kernel kills them when that thread, and so the binary, is gone: on a panic, a signal or
//!   `SIGKILL`), and an `atexit` hook kills them and removes their files on a normal exit.
//!   Directories left by a binary that was killed are removed by the next one.
//! - Without the oracles the tests skip, as [`oracle_or_skip`] says; under `ZT_REQUIRE_ORACLES`
//!   a missing oracle or a control plane that does not come up fails the test.
//!
//! What this cannot do on demand (a 500, a timeout, a slow `Established`) stays with the
//! in-process double ([`crate::kube_api`]).

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::json;

use crate::oracles::{oracle_or_skip, oracles_dir};
use crate::workspace_root;

/// How long the control plane may take to answer `/readyz` (it takes a few seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The running control plane of this test binary.
pub struct TestCluster {
    dir: PathBuf,
    kubeconfig: PathBuf,
    url: String,
    /// How many kwok nodes exist; `None` until the workload components run.
    nodes: Mutex<Option<usize>>,
}

/// The processes this binary started, for the `atexit` hook.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// The cluster directory, for the `atexit` hook.
static DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The control plane (etcd + kube-apiserver) of this test binary, started on first use; `None`
/// after one line on stderr when the oracles are not built (a failure under
/// `ZT_REQUIRE_ORACLES`).
pub fn cluster_or_skip(test: &str) -> Option<&'static TestCluster> {
    let etcd = oracle_or_skip("etcd", test)?;
    let apiserver = oracle_or_skip("kube-apiserver", test)?;
    static CLUSTER: OnceLock<Result<TestCluster, String>> = OnceLock::new();
    let started = CLUSTER.get_or_init(|| on_spawner(move || start(&etcd, &apiserver)));
    match started {
        Ok(c) => Some(c),
        Err(e) => panic!("{test}: the test control plane did not start: {e}"),
    }
}

/// The control plane with kube-controller-manager, kube-scheduler and kwok running and at least
/// `nodes` fake nodes Ready: Deployments get pods that run.
pub fn workload_cluster_or_skip(test: &str, nodes: usize) -> Option<&'static TestCluster> {
    let bins = [
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "kwok-module-dir",
    ]
    .map(|b| oracle_or_skip(b, test));
    let [Some(kcm), Some(scheduler), Some(kwok), Some(kwok_dir)] = bins else {
        return None;
    };
    let cluster = cluster_or_skip(test)?;
    let mut have = lock(&cluster.nodes);
    if have.is_none() {
        let dir = cluster.dir.clone();
        let kubeconfig = cluster.kubeconfig.clone();
        on_spawner(move || start_workloads(&dir, &kubeconfig, &kcm, &scheduler, &kwok, &kwok_dir))
            .unwrap_or_else(|e| panic!("{test}: the controllers did not start: {e}"));
        *have = Some(0);
    }
    let existing = have.unwrap_or(0);
    if existing < nodes {
        let names: Vec<String> = (existing..nodes)
            .map(|i| format!("kwok-node-{i}"))
            .collect();
        let kubeconfig = cluster.kubeconfig.clone();
        on_spawner(move || runtime()?.block_on(create_nodes(&kubeconfig, &names)))
            .unwrap_or_else(|e| panic!("{test}: the kwok nodes did not become Ready: {e}"));
        *have = Some(nodes);
    }
    drop(have);
    Some(cluster)
}

impl TestCluster {
    /// The admin kubeconfig (user `admin` in `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sets what every container in `namespace` (one of [`LOGGED_NAMESPACES`]) has logged:
    /// each line of `text` on stdout, written in the container runtime's log format (a time,
    /// the stream, `F` for a full line), which kwok reads as a kubelet does.
    pub fn set_pod_log(&self, namespace: &str, text: &str) {
        assert!(
            LOGGED_NAMESPACES.contains(&namespace),
            "{namespace} is not one of LOGGED_NAMESPACES"
        );
        let file = self.dir.join("pod-logs").join(format!("{namespace}.log"));
        let cri: String = text
            .lines()
            .map(|l| format!("2026-12-07T00:00:00.000000000Z stdout F {l}\n"))
            .collect();
        fs::write(&file, cri).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }

    /// Creates fake nodes named `names` (kwok makes them Ready; [`workload_cluster_or_skip`]
    /// must have started it) and waits until each is Ready.
    pub fn add_nodes(&self, names: &[&str]) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let kubeconfig = self.kubeconfig.clone();
        on_spawner(move || runtime()?.block_on(create_nodes(&kubeconfig, &names)))
            .unwrap_or_else(|e| panic!("kwok nodes: {e}"));
    }

    /// A kube-rs client with the admin kubeconfig, for the runtime of the caller.
    pub async fn client(&self) -> Client {
        client_for(&self.kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("client for the test cluster: {e}"))
    }

    /// A fresh namespace for `test`, created now; the returned guard prints the servers' logs
    /// if the test panics.
    pub fn namespace(&'static self, test: &str) -> TestNamespace {
        let ns = self.unique_namespace(test);
        self.create_namespace(ns.name());
        ns
    }

    /// A namespace name for `test` no other test of this binary uses (its name made DNS-safe,
    /// plus a counter), not created; the guard prints the servers' logs if the test panics.
    pub fn unique_namespace(&'static self, test: &str) -> TestNamespace {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut name: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        name.truncate(50);
        let name = format!("{}-{n}", name.trim_matches('-'));
        TestNamespace {
            cluster: self,
            name,
        }
    }

    /// A guard that prints the logs on panic, without creating anything.
    pub fn logs_on_panic(&'static self) -> TestNamespace {
        TestNamespace {
            cluster: self,
            name: String::new(),
        }
    }

    /// Creates namespace `name`.
    pub fn create_namespace(&self, name: &str) {
        let kubeconfig = self.kubeconfig.clone();
        let name = name.to_string();
        on_spawner(move || -> Result<(), String> {
            runtime()?.block_on(async {
                let client = client_for(&kubeconfig).await?;
                let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
                let ns = serde_json::from_value(json!({"metadata": {"name": name}}))
                    .map_err(|e| e.to_string())?;
                api.create(&PostParams::default(), &ns)
                    .await
                    .map_err(|e| format!("create namespace {name}: {e}"))?;
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The last `lines` lines of every server log.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        let Ok(entries) = fs::read_dir(self.dir.join("logs")) else {
            return out;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let text = fs::read_to_string(&p).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            let _ = writeln!(out, "==> {} <==", p.display());
            for l in &all[from..] {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }
}

/// A namespace of one test; prints the servers' logs when dropped during a panic.
pub struct TestNamespace {
    cluster: &'static TestCluster,
    name: String,
}

impl TestNamespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn cluster(&self) -> &'static TestCluster {
        self.cluster
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let ns = if self.name.is_empty() {
                String::new()
            } else {
                format!(" (namespace {})", self.name)
            };
            eprintln!(
                "---- test control plane logs{ns} ----\n{}",
                self.cluster.log_tails(40)
            );
        }
    }
}

// ---- the spawner thread ----

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on the one thread that starts every process of the cluster and lives until the
/// binary exits: `PR_SET_PDEATHSIG` fires when the *thread* that forked a child ends, so the
/// processes must not be started from a test's own thread.
fn on_spawner<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("zt-test-cluster".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
                // The senders live in a static: never reached while the binary runs.
                loop {
                    std::thread::park();
                }
            })
            .expect("start the test cluster's spawner thread");
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    lock(sender)
        .send(Box::new(move || {
            let _ = tx.send(job());
        }))
        .expect("the spawner thread is gone");
    rx.recv().expect("the spawner thread dropped a job")
}

/// Starts `cmd` with its output in `logs/<name>.log`, to be killed with this binary.
fn spawn(dir: &Path, name: &str, mut cmd: Command) -> Result<Child, String> {
    let log = fs::File::create(dir.join("logs").join(format!("{name}.log")))
        .map_err(|e| format!("{name}: log file: {e}"))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let parent = std::process::id() as libc::pid_t;
    cmd.stdin(Stdio::null()).stdout(log).stderr(err);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The binary died between fork and prctl: nobody would stop this process.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| format!("start {name}: {e}"))?;
    lock(&CHILDREN).push(child.id());
    Ok(child)
}

extern "C" fn at_exit() {
    for pid in lock(&CHILDREN).drain(..) {
        // SAFETY: plain syscall on a pid this binary started.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
    if let Some(dir) = lock(&DIR).take() {
        let _ = fs::remove_dir_all(dir);
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

async fn client_for(kubeconfig: &Path) -> Result<Client, String> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
}

/// Removes cluster directories of test binaries that no longer run.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let pid: Option<i32> = e.file_name().to_str().and_then(|n| n.parse().ok());
        // SAFETY: signal 0 only checks that the pid exists.
        if let Some(pid) = pid
            && unsafe { libc::kill(pid, 0) } != 0
        {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

// ---- certificates ----

struct Pki {
    ca_pem: String,
    serving: (String, String),
    admin: (String, String),
    /// The service-account signing key (PKCS#8) and its public half.
    service_account_key: (String, String),
}

fn pki() -> Result<Pki, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "zt-test-cluster-ca");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::from_ca_cert_der(ca_cert.der(), &ca_key)?;

    let serving_key = KeyPair::generate()?;
    let mut serving = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kube-apiserver");
    serving.distinguished_name = dn;
    serving.subject_alt_names = vec![
        SanType::IpAddress([127, 0, 0, 1].into()),
        SanType::IpAddress([10, 0, 0, 1].into()),
        SanType::DnsName("localhost".try_into()?),
        SanType::DnsName("kubernetes.default.svc".try_into()?),
    ];
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_cert = serving.signed_by(&serving_key, &issuer)?;

    let admin_key = KeyPair::generate()?;
    let mut admin = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "system:masters");
    dn.push(DnType::CommonName, "admin");
    admin.distinguished_name = dn;
    admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_cert = admin.signed_by(&admin_key, &issuer)?;

    Ok(Pki {
        ca_pem: ca_cert.pem(),
        serving: (serving_cert.pem(), serving_key.serialize_pem()),
        admin: (admin_cert.pem(), admin_key.serialize_pem()),
        service_account_key: {
            let k = KeyPair::generate()?;
            (k.serialize_pem(), k.public_key_pem())
        },
    })
}

fn admin_kubeconfig(url: &str, pki: &Pki) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: zt-test\n  cluster:\n    server: {url}\n    certificate-authority-data: {}\ncontexts:\n- name: zt-test\n  context:\n    cluster: zt-test\n    user: admin\ncurrent-context: zt-test\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&pki.ca_pem),
        b64(&pki.admin.0),
        b64(&pki.admin.1)
    )
}

// ---- starting ----

fn start(etcd: &Path, apiserver: &Path) -> Result<TestCluster, String> {
    let started = Instant::now();
    let parent = workspace_root().join("target/zt-test-clusters");
    fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    remove_stale(&parent);
    let dir = parent.join(std::process::id().to_string());
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("logs")).map_err(|e| format!("{}: {e}", dir.display()))?;
    *lock(&DIR) = Some(dir.clone());
    // SAFETY: registers a plain extern "C" function.
    unsafe {
        libc::atexit(at_exit);
    }

    let pki = pki().map_err(|e| format!("certificates: {e}"))?;
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let p = dir.join(name);
        fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p)
    };
    let ca = write("ca.crt", &pki.ca_pem)?;
    let serving_crt = write("apiserver.crt", &pki.serving.0)?;
    let serving_key = write("apiserver.key", &pki.serving.1)?;
    let sa_key = write("service-account.key", &pki.service_account_key.0)?;
    let sa_pub = write("service-account.pub", &pki.service_account_key.1)?;

    let (client_port, peer_port, secure_port) = (free_port()?, free_port()?, free_port()?);
    let etcd_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut cmd = Command::new(etcd);
    cmd.args([
        "--name=zt-test",
        &format!("--data-dir={}", dir.join("etcd").display()),
        &format!("--listen-client-urls={etcd_url}"),
        &format!("--advertise-client-urls={etcd_url}"),
        &format!("--listen-peer-urls={peer_url}"),
        &format!("--initial-advertise-peer-urls={peer_url}"),
        &format!("--initial-cluster=zt-test={peer_url}"),
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]);
    let etcd = spawn(&dir, "etcd", cmd)?;

    let url = format!("https://127.0.0.1:{secure_port}");
    let mut cmd = Command::new(apiserver);
    cmd.args([
        &format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        &format!("--secure-port={secure_port}"),
        &format!("--cert-dir={}", dir.join("certs").display()),
        &format!("--tls-cert-file={}", serving_crt.display()),
        &format!("--tls-private-key-file={}", serving_key.display()),
        &format!("--client-ca-file={}", ca.display()),
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        &format!("--service-account-key-file={}", sa_pub.display()),
        &format!("--service-account-signing-key-file={}", sa_key.display()),
        "--service-cluster-ip-range=10.0.0.0/24",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--disable-admission-plugins=ServiceAccount",
    ]);
    let apiserver = spawn(&dir, "kube-apiserver", cmd)?;

    let kubeconfig = write("admin.kubeconfig", &admin_kubeconfig(&url, &pki))?;
    runtime()?.block_on(wait_ready(&kubeconfig, &dir, [etcd, apiserver]))?;
    let took = started.elapsed();
    eprintln!(
        "test control plane (etcd + kube-apiserver from {}) ready at {url} in {:.1}s",
        oracles_dir().display(),
        took.as_secs_f64()
    );
    fs::write(dir.join("started-in"), format!("{}\n", took.as_millis())).ok();
    Ok(TestCluster {
        dir,
        kubeconfig,
        url,
        nodes: Mutex::new(None),
    })
}

/// Polls `/readyz` until the API server says ok; fails at once when a server exits.
async fn wait_ready(kubeconfig: &Path, dir: &Path, mut servers: [Child; 2]) -> Result<(), String> {
    let client = client_for(kubeconfig).await?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(status) = servers.iter_mut().find_map(|c| c.try_wait().ok().flatten()) {
            last = format!("a server exited ({status})");
            break;
        }
        let req = hyper::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        match client.request_text(req).await {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            Ok(body) => last = body,
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "/readyz not ok: {last}\n{}",
        TestCluster {
            dir: dir.to_path_buf(),
            kubeconfig: kubeconfig.to_path_buf(),
            url: String::new(),
            nodes: Mutex::new(None),
        }
        .log_tails(40)
    ))
}

/// A test Job whose pod runs this image fails (exit code 1, after printing its log).
pub const FAILING_TEST_IMAGE: &str = "registry.test/zt/failing-tests:1";
/// A test Job whose pod runs this image never ends by itself (only its deadline ends it).
pub const HANGING_TEST_IMAGE: &str = "registry.test/zt/hanging-tests:1";
/// Namespaces whose pods have a log: kwok serves `<cluster dir>/pod-logs/<namespace>.log` as
/// the log of every container there ([`TestCluster::set_pod_log`]).
pub const LOGGED_NAMESPACES: &[&str] = &["zt-logs-1", "zt-logs-2", "zt-logs-3", "zt-logs-4"];

/// kwok's stage files, read from its module in the Go module cache (not copied into the repo):
/// nodes become Ready and keep a heartbeat; pods become Running and Ready, and go away when
/// deleted. Pods of Jobs end by our own stages ([`job_pod_stages`]).
fn kwok_stages(module_dir: &Path) -> Result<String, String> {
    let root = module_dir.join("kustomize/stage");
    let mut out = String::new();
    for f in [
        "node/fast/node-initialize.yaml",
        "node/heartbeat/node-heartbeat.yaml",
        "pod/fast/pod-ready.yaml",
        "pod/fast/pod-delete.yaml",
    ] {
        let p = root.join(f);
        let text =
            fs::read_to_string(&p).map_err(|e| format!("kwok stage {}: {e}", p.display()))?;
        out.push_str("---\n");
        out.push_str(&text);
        out.push('\n');
    }
    out.push_str(&job_pod_stages());
    Ok(out)
}

/// How a running pod of a Job ends: it succeeds, unless it runs [`FAILING_TEST_IMAGE`] (exit
/// code 1) or [`HANGING_TEST_IMAGE`] (it keeps running).
fn job_pod_stages() -> String {
    let stage = |name: &str, op: &str, images: &[&str], phase: &str, exit: u8, reason: &str| {
        format!(
            r#"---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: {name}
spec:
  resourceRef: {{apiGroup: v1, kind: Pod}}
  selector:
    matchExpressions:
    - {{key: '.metadata.deletionTimestamp', operator: DoesNotExist}}
    - {{key: '.status.phase', operator: In, values: [Running]}}
    - {{key: '.metadata.ownerReferences.[].kind', operator: In, values: [Job]}}
    - {{key: '.spec.containers.[].image', operator: {op}, values: [{images}]}}
  next:
    statusTemplate: |
      {{{{ $at := Now | Quote }}}}
      phase: {phase}
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - name: {{{{ .name | Quote }}}}
        image: {{{{ .image | Quote }}}}
        ready: false
        restartCount: 0
        state:
          terminated: {{exitCode: {exit}, reason: {reason}, startedAt: {{{{ $at }}}}, finishedAt: {{{{ $at }}}}}}
      {{{{ end }}}}
"#,
            images = images
                .iter()
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut out = stage(
        "zt-job-pod-succeeds",
        "NotIn",
        &[FAILING_TEST_IMAGE, HANGING_TEST_IMAGE],
        "Succeeded",
        0,
        "Completed",
    );
    out.push_str(&stage(
        "zt-job-pod-fails",
        "In",
        &[FAILING_TEST_IMAGE],
        "Failed",
        1,
        "Error",
    ));
    out
}

/// kwok's log configuration: every container in each of [`LOGGED_NAMESPACES`] logs the file of
/// its namespace.
fn kwok_pod_logs(dir: &Path) -> Result<String, String> {
    let logs = dir.join("pod-logs");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut out = String::new();
    for ns in LOGGED_NAMESPACES {
        let file = logs.join(format!("{ns}.log"));
        fs::write(&file, "").map_err(|e| format!("{}: {e}", file.display()))?;
        out.push_str(&format!(
            "---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata:\n  name: {ns}\nspec:\n  selector:\n    matchNamespaces: [{ns}]\n  logs:\n  - logsFile: {}\n    follow: false\n",
            file.display()
        ));
    }
    Ok(out)
}

fn start_workloads(
    dir: &Path,
    kubeconfig: &Path,
    kcm: &Path,
    scheduler: &Path,
    kwok: &Path,
    kwok_dir_file: &Path,
) -> Result<(), String> {
    let kc = format!("--kubeconfig={}", kubeconfig.display());
    let mut cmd = Command::new(kcm);
    cmd.args([
        kc.as_str(),
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        &format!(
            "--service-account-private-key-file={}",
            dir.join("service-account.key").display()
        ),
        &format!("--root-ca-file={}", dir.join("ca.crt").display()),
        "--use-service-account-credentials=false",
    ]);
    spawn(dir, "kube-controller-manager", cmd)?;

    let mut cmd = Command::new(scheduler);
    cmd.args([
        kc.as_str(),
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
    ]);
    spawn(dir, "kube-scheduler", cmd)?;

    let module_dir = fs::read_to_string(kwok_dir_file)
        .map_err(|e| format!("{}: {e}", kwok_dir_file.display()))?;
    let stages = dir.join("kwok-stages.yaml");
    let config = kwok_stages(Path::new(module_dir.trim()))? + &kwok_pod_logs(dir)?;
    fs::write(&stages, config).map_err(|e| format!("{}: {e}", stages.display()))?;
    // kwok serves the nodes' kubelet API (container logs) on 127.0.0.1, where the API server
    // reaches it for `pods/log`: the nodes say that is their address.
    let port = free_port()?.to_string();
    let mut cmd = Command::new(kwok);
    cmd.args([
        kc.as_str(),
        "--manage-all-nodes=true",
        &format!("--config={}", stages.display()),
        &format!("--server-address=127.0.0.1:{port}"),
        "--node-ip=127.0.0.1",
        &format!("--node-port={port}"),
        // Node leases, as a kubelet keeps them, so the node lifecycle controller sees live
        // nodes (and lifts the not-ready taint every new Node gets).
        "--node-lease-duration-seconds=40",
    ]);
    spawn(dir, "kwok", cmd)?;
    Ok(())
}

/// Creates the fake nodes `names` and waits until kwok has made each Ready.
async fn create_nodes(kubeconfig: &Path, names: &[String]) -> Result<(), String> {
    let client = client_for(kubeconfig).await?;
    let nodes: Api<Node> = Api::all(client);
    for name in names {
        let node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
            },
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
        });
        nodes
            .patch(
                name,
                &PatchParams::apply("zt-test-cluster"),
                &Patch::Apply(&node),
            )
            .await
            .map_err(|e| format!("create node {name}: {e}"))?;
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let mut waiting = Vec::new();
        for name in names {
            let n = nodes.get(name).await.map_err(|e| e.to_string())?;
            let ready = n
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if !ready {
                waiting.push(name.as_str());
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not Ready: {}", waiting.join(", ")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- the platform's claim kinds ----

impl TestCluster {
    /// Installs the claim CRDs derived from the platform's XRDs ([`crate::claim_crds`]: the real
    /// ones from ../shared when present, else our example XRDs), once per binary, and waits
    /// until each is Established. Returns the claim kinds installed.
    /// Argo CD's Application CRD, from the module `make oracles` built Argo CD from (its
    /// `manifests/crds`), installed once; `None` after one line when that oracle is not built.
    pub fn install_application_crd(&'static self, test: &str) -> Option<()> {
        let module_dir = oracle_or_skip("argocd-module-dir", test)?;
        static DONE: OnceLock<Result<(), String>> = OnceLock::new();
        let kubeconfig = self.kubeconfig.clone();
        let done = DONE.get_or_init(|| {
            let module = fs::read_to_string(&module_dir).map_err(|e| e.to_string())?;
            let crd = Path::new(module.trim()).join("manifests/crds/application-crd.yaml");
            let crds = yaml_objects(&crd)?;
            on_spawner(move || runtime()?.block_on(install_crds(&kubeconfig, crds))).map(|_| ())
        });
        match done {
            Ok(()) => Some(()),
            Err(e) => panic!("{test}: Argo CD's Application CRD: {e}"),
        }
    }

    pub fn install_claim_crds(&'static self) -> &'static [String] {
        static KINDS: OnceLock<Vec<String>> = OnceLock::new();
        KINDS.get_or_init(|| {
            let xrds =
                crate::claim_crds::shared_xrds().unwrap_or_else(crate::claim_crds::example_xrds);
            let crds: Vec<serde_json::Value> = xrds
                .iter()
                .filter_map(crate::claim_crds::claim_crd)
                .collect();
            let kubeconfig = self.kubeconfig.clone();
            on_spawner(move || runtime()?.block_on(install_crds(&kubeconfig, crds)))
                .unwrap_or_else(|e| panic!("claim CRDs: {e}"))
        })
    }
}

/// Server-side applies `crds` and waits until every one is Established; returns their kinds.
pub async fn install_crds(
    kubeconfig: &Path,
    crds: Vec<serde_json::Value>,
) -> Result<Vec<String>, String> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let client = client_for(kubeconfig).await?;
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let mut kinds = Vec::new();
    let mut names = Vec::new();
    for crd in &crds {
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        api.patch(
            &name,
            &PatchParams::apply("zt-test-cluster").force(),
            &Patch::Apply(crd),
        )
        .await
        .map_err(|e| format!("apply CRD {name}: {e}"))?;
        kinds.push(
            crd["spec"]["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        names.push(name);
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    for name in names {
        loop {
            let crd = api.get(&name).await.map_err(|e| e.to_string())?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("CRD {name} not Established"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(kinds)
}

// ---- Argo CD ----

/// The namespace Argo CD runs in, as its install manifest and our Applications assume.
pub const ARGOCD_NAMESPACE: &str = "argocd";

/// Argo CD's application controller and repo-server (the `argocd` oracle, v3.2.11 from its Go
/// module) with a Redis of their own (Debian's `redis-server`), running as local processes
/// against this cluster the way Argo CD's developers run them (its Procfile):
/// `ARGOCD_BINARY_NAME` picks the component, `ARGOCD_FAKE_IN_CLUSTER` makes the in-cluster
/// destination `https://kubernetes.default.svc` mean the cluster of `KUBECONFIG`. Both use the
/// admin kubeconfig (no ServiceAccount: there is no kubelet to mount a token). Argo CD's CRDs and
/// base configuration (argocd-cm, argocd-secret, ...) come from the same module's `manifests/`.
/// The repo-server finds the kustomize CLI Argo CD ships (the `kustomize` oracle) and `git` on
/// its PATH. Everything listens on 127.0.0.1 free ports; the processes end with the binary.
pub struct ArgoCd {
    cluster: &'static TestCluster,
    version: String,
}

impl ArgoCd {
    /// What `argocd version --client --short` of the oracle says (`argocd: v3.2.11+unknown`).
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn cluster(&self) -> &'static TestCluster {
        self.cluster
    }
}

/// The `redis-server` on PATH, or `None` after one line on stderr (a failure under
/// `ZT_REQUIRE_ORACLES`, where CI has installed Debian's package).
fn redis_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("redis-server"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let why = "redis-server is not installed (Debian: apt-get install redis-server)";
        if std::env::var_os("ZT_REQUIRE_ORACLES").is_some() {
            panic!("{test}: ZT_REQUIRE_ORACLES is set but {why}");
        }
        eprintln!("skipping {test}: {why}");
    }
    found
}

impl TestCluster {
    /// Argo CD's application controller and repo-server on this cluster, started on first use
    /// (once per test binary, after its CRDs and base configuration are applied); `None` after
    /// one line on stderr when the oracles or `redis-server` are missing (a failure under
    /// `ZT_REQUIRE_ORACLES`). The `default` AppProject is the test's to create
    /// ([`ArgoCd::project`]): argocd-server, which normally makes it, does not run here.
    pub fn argocd_or_skip(&'static self, test: &str) -> Option<&'static ArgoCd> {
        let bins = ["argocd", "argocd-module-dir", "kustomize"].map(|b| oracle_or_skip(b, test));
        let [Some(argocd), Some(module_dir), Some(kustomize)] = bins else {
            return None;
        };
        let redis = redis_or_skip(test)?;
        static ARGOCD: OnceLock<Result<ArgoCd, String>> = OnceLock::new();
        let started = ARGOCD.get_or_init(|| {
            let dir = self.dir.clone();
            let kubeconfig = self.kubeconfig.clone();
            let started = Instant::now();
            let version = on_spawner(move || {
                start_argocd(&dir, &kubeconfig, &argocd, &module_dir, &kustomize, &redis)
            })?;
            eprintln!(
                "Argo CD {version} (application controller + repo-server) running in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(ArgoCd {
                cluster: self,
                version,
            })
        });
        match started {
            Ok(a) => Some(a),
            Err(e) => panic!("{test}: Argo CD did not start: {e}\n{}", self.log_tails(40)),
        }
    }
}

/// The objects of every YAML document in `path` (empty documents left out).
fn yaml_objects(path: &Path) -> Result<Vec<serde_json::Value>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs: Vec<serde_json::Value> = zt::yaml::from_str_multi(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.message))?;
    Ok(docs.into_iter().filter(|d| d.is_object()).collect())
}

/// Server-side applies `obj` (a namespaced core `v1` object, or anything with a known plural)
/// into `ns`.
pub async fn apply_object(
    client: &Client,
    ns: Option<&str>,
    obj: &serde_json::Value,
) -> Result<(), String> {
    use kube::api::{ApiResource, DynamicObject};
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "AppProject" => "appprojects".to_string(),
        "Application" => "applications".to_string(),
        k => format!("{}s", k.to_ascii_lowercase()),
    };
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural,
    };
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    api.patch(
        name,
        &PatchParams::apply("zt-test-cluster").force(),
        &Patch::Apply(obj),
    )
    .await
    .map_err(|e| format!("apply {kind} {name}: {e}"))?;
    Ok(())
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; fails at once when
/// `child` exits.
fn wait_port(port: u16, child: &mut Child, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{name} exited ({status})"));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{name} does not listen on 127.0.0.1:{port}"))
}

fn start_argocd(
    dir: &Path,
    kubeconfig: &Path,
    argocd: &Path,
    module_dir_file: &Path,
    kustomize: &Path,
    redis: &Path,
) -> Result<String, String> {
    let module = fs::read_to_string(module_dir_file)
        .map_err(|e| format!("{}: {e}", module_dir_file.display()))?;
    let manifests = Path::new(module.trim()).join("manifests");

    // CRDs and base configuration from the module.
    let mut crds = Vec::new();
    for f in [
        "application-crd.yaml",
        "applicationset-crd.yaml",
        "appproject-crd.yaml",
    ] {
        crds.extend(yaml_objects(&manifests.join("crds").join(f))?);
    }
    let mut config = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(manifests.join("base/config"))
        .map_err(|e| format!("{}: {e}", manifests.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    for f in files {
        config.extend(yaml_objects(&f)?);
    }
    runtime()?.block_on(async {
        install_crds(kubeconfig, crds).await?;
        let client = client_for(kubeconfig).await?;
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ARGOCD_NAMESPACE}});
        apply_object(&client, None, &ns).await?;
        for obj in &config {
            apply_object(&client, Some(ARGOCD_NAMESPACE), obj).await?;
        }
        Ok::<(), String>(())
    })?;

    let home = dir.join("argocd");
    for sub in ["bin", "tls", "ssh", "gpg", "redis", "tmp"] {
        fs::create_dir_all(home.join(sub)).map_err(|e| format!("{}: {e}", home.display()))?;
    }
    let link = home.join("bin/kustomize");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(kustomize, &link).map_err(|e| format!("kustomize link: {e}"))?;
    let path = format!(
        "{}:{}",
        home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let version = Command::new(argocd)
        .args(["version", "--client", "--short"])
        .env("ARGOCD_BINARY_NAME", "argocd")
        .env("HOME", &home)
        .output()
        .map_err(|e| format!("argocd version: {e}"))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();

    let redis_port = free_port()?;
    let mut cmd = Command::new(redis);
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--port",
        &redis_port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &home.join("redis").to_string_lossy(),
    ]);
    let mut redis = spawn(dir, "redis", cmd)?;
    wait_port(redis_port, &mut redis, "redis-server")?;
    let redis_addr = format!("127.0.0.1:{redis_port}");

    let argocd_cmd = |binary: &str| {
        let mut cmd = Command::new(argocd);
        cmd.env("ARGOCD_BINARY_NAME", binary)
            .env("ARGOCD_FAKE_IN_CLUSTER", "true")
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", &home)
            .env("TMPDIR", home.join("tmp"))
            .env("PATH", &path)
            .env("ARGOCD_GPG_ENABLED", "false")
            .env("ARGOCD_TLS_DATA_PATH", home.join("tls"))
            .env("ARGOCD_SSH_DATA_PATH", home.join("ssh"))
            .env("ARGOCD_GNUPGHOME", home.join("gpg"));
        cmd
    };

    let repo_port = free_port()?;
    let mut cmd = argocd_cmd("argocd-repo-server");
    cmd.args([
        "--address=127.0.0.1",
        &format!("--port={repo_port}"),
        "--metrics-address=127.0.0.1",
        &format!("--metrics-port={}", free_port()?),
        &format!("--redis={redis_addr}"),
        "--disable-tls",
        "--logformat=text",
    ]);
    let mut repo_server = spawn(dir, "argocd-repo-server", cmd)?;
    wait_port(repo_port, &mut repo_server, "argocd-repo-server")?;

    let metrics_port = free_port()?;
    let mut cmd = argocd_cmd("argocd-application-controller");
    cmd.args([
        &format!("--namespace={ARGOCD_NAMESPACE}"),
        &format!("--redis={redis_addr}"),
        &format!("--repo-server=127.0.0.1:{repo_port}"),
        "--repo-server-plaintext",
        &format!("--metrics-port={metrics_port}"),
        "--status-processors=4",
        "--operation-processors=2",
        "--logformat=text",
    ]);
    let mut controller = spawn(dir, "argocd-application-controller", cmd)?;
    wait_port(
        metrics_port,
        &mut controller,
        "argocd-application-controller",
    )?;
    Ok(version)
}

impl ArgoCd {
    /// Creates or replaces AppProject `name` allowing `source_repos` (Argo CD's globs) and any
    /// namespace of the in-cluster destination, with every cluster-scoped kind allowed (as
    /// argocd-server's own `default` project does).
    pub async fn project(&self, name: &str, source_repos: &[&str]) {
        let project = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE},
            "spec": {
                "sourceRepos": source_repos,
                "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        });
        let client = self.cluster.client().await;
        apply_object(&client, Some(ARGOCD_NAMESPACE), &project)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
