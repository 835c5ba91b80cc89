//! The bare-metal stages in bootstrap plans: where they go in the production plan and what the
//! dry run says; `talos-install/<node>` against the stand-in rescue system (Debian's sshd, real
//! xz and dd) through the runner and the stage cache; a node that already answers the Talos API
//! (the Talos test double) left alone; `rescue/<node>` through the Hetzner API double, with the
//! rescue password it returns used to log in and shown nowhere.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zt::bootstrap::cache::StageCache;
use zt::bootstrap::production::{self, MaintenanceTrust, ProductionInputs};
use zt::bootstrap::stages::install::{BareMetal, Machine, Rescue, TalosInstall};
use zt::bootstrap::stages::talos::{Node, TalosAccess};
use zt::bootstrap::{Ctx, Plan, Stage, Timing, run};
use zt::install::hetzner::Hetzner;
use zt::install::rescue::ActionTiming;
use zt::install::{HostKeyMemory, ImageSource};
use zt::render::Rendered;
use zt::secret::SecretString;
use zt::talos::api::{ClientOptions, TalosEndpoint};
use zt::tenant::EnvValues;
use zt_test_support::example::{PLATFORM_URL, example_production_dev};
use zt_test_support::hetzner::{FakeServer, HetznerDouble, ROOT_PASSWORD};
use zt_test_support::progress::Recorder;
use zt_test_support::rescue::{PASSWORD, Rig};
use zt_test_support::sshd;
use zt_test_support::talos_api::{Identity, TalosTestServer};
use zt_test_support::workspace_root;

const TOKEN: &str = "hz-token-e1f7";

fn values() -> EnvValues {
    zt::tenant::load_env(&workspace_root().join("examples/tenant-repo"), "dev").unwrap()
}

fn rendered() -> Rendered {
    example_production_dev(&zt::examples::bundle().unwrap(), PLATFORM_URL)
}

fn access() -> Arc<TalosAccess> {
    let r = rendered();
    let text = &r.tree.get(Path::new("talos/talosconfig")).unwrap().bytes;
    Arc::new(TalosAccess {
        talosconfig: zt::yaml::from_str(&String::from_utf8_lossy(text)).unwrap(),
        maintenance: MaintenanceTrust::Unverified,
        options: ClientOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        },
    })
}

fn bare_metal(image: ImageSource, hetzner: Option<Hetzner>) -> BareMetal {
    BareMetal {
        ssh_key: None,
        known_hosts: None,
        host_keys: HostKeyMemory::default(),
        image,
        hetzner,
        path_prefix: None,
        ssh_endpoints: BTreeMap::new(),
        api_passwords: Mutex::new(BTreeMap::new()),
        ssh_timeout: Duration::from_secs(20),
        hetzner_actions: ActionTiming {
            timeout: Duration::from_secs(10),
            interval: Duration::from_millis(10),
        },
    }
}

/// A 127.0.0.1 port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn timing() -> Timing {
    Timing {
        talos: Duration::from_secs(10),
        poll_initial: Duration::from_millis(10),
        poll_max: Duration::from_millis(100),
        ..Timing::default()
    }
}

fn machine(name: &str, talos: TalosEndpoint, password: &str) -> Machine {
    Machine {
        node: Node {
            name: name.into(),
            endpoint: talos,
            controlplane: false,
        },
        ip: "192.0.2.21".parse().unwrap(),
        disk: String::new(),
        rescue_password: Some(SecretString::new(password)),
    }
}

async fn run_once(
    plan: &Plan,
    cache: &Path,
) -> (
    Result<zt::bootstrap::RunSummary, zt::bootstrap::RunError>,
    Arc<Recorder>,
) {
    let rec = Arc::new(Recorder::default());
    let dir = cache.parent().unwrap();
    let mut ctx = Ctx::new(timing(), rec.clone(), dir.join("kubeconfig"), None);
    let mut cache = StageCache::open(cache, &plan.fingerprint(), false).unwrap();
    let r = run(plan, &mut ctx, &mut cache, std::future::pending()).await;
    (r, rec)
}

#[test]
fn bare_metal_puts_rescue_and_install_before_each_nodes_config_and_the_dry_run_shows_them() {
    let values = values();
    let rendered = rendered();
    let api = HetznerDouble::start(TOKEN, Vec::new());
    let hetzner = Hetzner::new(&api.endpoint(), SecretString::new(TOKEN)).unwrap();
    let image = ImageSource::Url(zt::install::image::factory_url("v1.11.5", None, "amd64"));
    let plan = production::plan(ProductionInputs {
        values: &values,
        rendered: &rendered,
        platform_repo: Some(&workspace_root().join("examples/platform-repo")),
        argocd_install: None,
        maintenance: MaintenanceTrust::Unverified,
        endpoints: BTreeMap::new(),
        client_options: ClientOptions::default(),
        bare_metal: Some(Arc::new(bare_metal(image, Some(hetzner)))),
    })
    .unwrap();
    let names: Vec<String> = plan.stages.iter().map(|s| s.name()).collect();
    for node in ["cp01-main", "worker01", "worker02"] {
        let at = |n: &str| {
            names
                .iter()
                .position(|s| s == n)
                .unwrap_or_else(|| panic!("{n} in {names:?}"))
        };
        let (r, i, a) = (
            at(&format!("rescue/{node}")),
            at(&format!("talos-install/{node}")),
            at(&format!("talos-apply/{node}")),
        );
        assert!(
            r + 1 == i && i + 1 == a,
            "rescue, install, apply in a row: {names:?}"
        );
    }
    let text = plan.describe(None);
    let m = &values.controlplane;
    assert!(
        text.contains(&format!(
            "write Talos to {} on cp01-main ({})",
            m.install_disk, m.ip
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("OVERWRITES {}", m.install_disk)),
        "{text}"
    );
    assert!(text.contains("image: https://factory.talos.dev/image/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba/v1.11.5/metal-amd64.raw.xz"), "{text}");
    assert!(text.contains("host key accepted on first use"), "{text}");
    let password = m.rescue_password.as_ref().unwrap().expose();
    assert!(!text.contains(password) && !text.contains(TOKEN), "{text}");
    assert!(
        api.state.lock().unwrap().calls.is_empty(),
        "planning calls no API"
    );
}

#[tokio::test]
async fn installs_once_and_a_second_run_skips_it() {
    if !sshd::available_or_skip("installs_once_and_a_second_run_skips_it") {
        return;
    }
    let rig = Rig::start();
    let http = rig.serve();
    let mut bm = bare_metal(ImageSource::Url(http.url("/talos.raw.xz")), None);
    bm.path_prefix = rig.spec("", ImageSource::File("x".into())).path_prefix;
    bm.ssh_endpoints.insert("worker01".into(), rig.sshd.addr());
    let mut m = machine(
        "worker01",
        TalosEndpoint::new("127.0.0.1", closed_port()).unwrap(),
        PASSWORD,
    );
    m.disk = rig.disk().display().to_string();
    let plan = Plan {
        mode: "production".into(),
        target: "test".into(),
        stages: vec![Box::new(TalosInstall {
            machine: m,
            bare_metal: Arc::new(bm),
            access: access(),
        })],
    };
    let cache = rig.dir.path().join("cache.json");
    let (r, rec) = run_once(&plan, &cache).await;
    r.unwrap_or_else(|e| panic!("{e}\n{}\n{}", rec.all(), rig.sshd.log()));
    let disk = std::fs::read(rig.disk()).unwrap();
    assert_eq!(&disk[..rig.image.len()], &rig.image[..]);
    assert_eq!(rig.reboots(), 1);
    let all = rec.all();
    assert!(
        all.contains("warning: talos-install/worker01: accepted the host key SHA256:"),
        "{all}"
    );
    assert!(!all.contains(PASSWORD), "{all}");

    let (r, rec) = run_once(&plan, &cache).await;
    let summary = r.unwrap();
    assert_eq!(summary.cached, ["talos-install/worker01"]);
    assert_eq!(rec.finished(), ["↷ talos-install/worker01"]);
    assert_eq!(rig.reboots(), 1, "not written or rebooted again");
}

#[tokio::test]
async fn a_node_that_answers_the_talos_api_is_not_touched() {
    let talos = TalosTestServer::maintenance(&Identity::maintenance()).await;
    let mut bm = bare_metal(
        ImageSource::Url("http://127.0.0.1:9/never.raw.xz".into()),
        None,
    );
    bm.ssh_endpoints
        .insert("worker01".into(), ([127, 0, 0, 1], closed_port()).into());
    let mut m = machine("worker01", talos.endpoint().parse().unwrap(), "pw");
    m.disk = "/dev/zt-never".into();
    let plan = Plan {
        mode: "production".into(),
        target: "test".into(),
        stages: vec![Box::new(TalosInstall {
            machine: m,
            bare_metal: Arc::new(bm),
            access: access(),
        })],
    };
    let dir = tempfile::tempdir().unwrap();
    let (r, rec) = run_once(&plan, &dir.path().join("cache.json")).await;
    r.unwrap_or_else(|e| panic!("{e}\n{}", rec.all()));
    assert!(
        rec.all()
            .contains("already answers the Talos API; not installing"),
        "{}",
        rec.all()
    );
}

#[tokio::test]
async fn rescue_through_the_api_then_install_with_the_password_it_returned() {
    if !sshd::available_or_skip("rescue_through_the_api_then_install_with_the_password_it_returned")
    {
        return;
    }
    let rig = Rig::with_password(ROOT_PASSWORD);
    let http = rig.serve();
    let api = HetznerDouble::start(
        TOKEN,
        vec![FakeServer {
            id: 42,
            name: "worker01".into(),
            ipv4: "192.0.2.21".into(),
            ipv6_net: "2001:db8:21::/64".into(),
            status: "running",
        }],
    );
    let hetzner = Hetzner::new(&api.endpoint(), SecretString::new(TOKEN)).unwrap();
    let mut bm = bare_metal(ImageSource::Url(http.url("/talos.raw.xz")), Some(hetzner));
    bm.path_prefix = rig.spec("", ImageSource::File("x".into())).path_prefix;
    bm.ssh_endpoints.insert("worker01".into(), rig.sshd.addr());
    let bm = Arc::new(bm);
    // talos-values.yaml's password is stale: the API's new one must be what logs in.
    let mut m = machine(
        "worker01",
        TalosEndpoint::new("127.0.0.1", closed_port()).unwrap(),
        "stale-pw",
    );
    m.disk = rig.disk().display().to_string();
    let stages: Vec<Box<dyn Stage>> = vec![
        Box::new(Rescue {
            machine: m.clone(),
            bare_metal: bm.clone(),
            access: access(),
        }),
        Box::new(TalosInstall {
            machine: m,
            bare_metal: bm.clone(),
            access: access(),
        }),
    ];
    assert!(
        !stages[0].cacheable(),
        "a rescue password lives only in memory: rescue runs every time"
    );
    let plan = Plan {
        mode: "production".into(),
        target: "test".into(),
        stages,
    };
    let (r, rec) = run_once(&plan, &rig.dir.path().join("cache.json")).await;
    r.unwrap_or_else(|e| panic!("{e}\n{}\n{}", rec.all(), rig.sshd.log()));
    assert_eq!(rig.reboots(), 1);
    let calls = api.state.lock().unwrap().calls.clone();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("POST /v1/servers/42/actions/enable_rescue")),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("POST /v1/servers/42/actions/reset")),
        "{calls:?}"
    );
    let all = rec.all();
    assert!(
        !all.contains("refused"),
        "the API's password is tried before the stale one: {all}"
    );
    for secret in [ROOT_PASSWORD, "stale-pw", TOKEN] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
    let cache = std::fs::read_to_string(rig.dir.path().join("cache.json")).unwrap();
    assert!(
        !cache.contains(ROOT_PASSWORD) && cache.contains("talos-install/worker01"),
        "{cache}"
    );
}
