//! `make bench`: bringing workers up together. Each worker is a Talos test node (real TLS,
//! certificates from the example bundle) that stays down for `REBOOT` after its config is
//! applied, as a node does while it installs and reboots; each goes through `talos-apply` and
//! `talos-ready` in its own lane. Goal: ten workers with `--parallel 10` finish in under 1.5×
//! the time of one.
//!
//! Plain timing (no harness): the median of a few runs per size, printed with the goal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zt::bootstrap::cache::StageCache;
use zt::bootstrap::production::MaintenanceTrust;
use zt::bootstrap::stage::InLane;
use zt::bootstrap::stages::talos::{ApplyConfig, Node, TalosAccess, WaitConfigured};
use zt::bootstrap::{Ctx, Plan, Stage, Timing, run};
use zt::secret::SecretBytes;
use zt::talos::api::ClientOptions;
use zt_test_support::example::{PLATFORM_URL, example_production_dev};
use zt_test_support::talos_api::TalosTestServer;

const REBOOT: Duration = Duration::from_secs(2);
const RUNS: usize = 3;
const GOAL: f64 = 1.5;

async fn bring_up(workers: usize) -> Duration {
    let bundle = zt::examples::bundle().expect("example bundle");
    let rendered = example_production_dev(&bundle, PLATFORM_URL);
    let file = |p: &str| {
        rendered
            .tree
            .get(std::path::Path::new(p))
            .unwrap_or_else(|| panic!("the render has no {p}"))
            .bytes
            .clone()
    };
    let access = Arc::new(TalosAccess {
        talosconfig: zt::yaml::from_str(&String::from_utf8_lossy(&file("talos/talosconfig")))
            .expect("talosconfig"),
        maintenance: MaintenanceTrust::Unverified,
        options: ClientOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        },
    });
    let config = SecretBytes::new(file("talos/worker01.yaml"));
    let mut nodes = Vec::new();
    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    for i in 0..workers {
        let server = TalosTestServer::maintenance_then_configured(&bundle).await;
        {
            let mut st = server.state();
            st.machine_type = "worker".into();
            st.reboot_delay = REBOOT;
        }
        let name = format!("worker{i:02}");
        let node = Node {
            name: name.clone(),
            endpoint: server.endpoint().parse().expect("endpoint"),
            controlplane: false,
        };
        stages.push(InLane::boxed(
            &name,
            Box::new(ApplyConfig {
                node: node.clone(),
                config: config.clone(),
                source: "talos/worker01.yaml".into(),
                access: access.clone(),
            }),
        ));
        stages.push(InLane::boxed(
            &name,
            Box::new(WaitConfigured {
                node,
                access: access.clone(),
            }),
        ));
        nodes.push(server);
    }
    let plan = Plan {
        mode: "bench".into(),
        target: format!("{workers} workers"),
        stages,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let timing = Timing {
        talos: Duration::from_secs(60),
        poll_initial: Duration::from_millis(10),
        poll_max: Duration::from_millis(100),
        ..Timing::default()
    };
    let mut ctx = Ctx::new(
        timing,
        Arc::new(zt::progress::Silent),
        dir.path().join("kubeconfig"),
        None,
    );
    ctx.parallel = workers;
    let mut cache = StageCache::open(&dir.path().join("cache.json"), &plan.fingerprint(), false)
        .expect("cache");
    let t0 = Instant::now();
    let summary = run(&plan, &mut ctx, &mut cache, std::future::pending())
        .await
        .expect("bring-up");
    assert_eq!(summary.done.len(), 2 * workers);
    t0.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut one = Vec::new();
    let mut ten = Vec::new();
    for _ in 0..RUNS {
        one.push(rt.block_on(bring_up(1)));
        ten.push(rt.block_on(bring_up(10)));
    }
    let (one, ten) = (median(one), median(ten));
    let ratio = ten.as_secs_f64() / one.as_secs_f64();
    println!(
        "parallel bring-up (node down {}s after its config): 1 worker {:.2}s, 10 workers (--parallel 10) {:.2}s: {ratio:.2}× (goal < {GOAL}×) {}",
        REBOOT.as_secs(),
        one.as_secs_f64(),
        ten.as_secs_f64(),
        if ratio < GOAL { "ok" } else { "MISSED" }
    );
}
