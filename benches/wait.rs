//! `make bench`: how soon a wait notices that an object became ready. A Deployment that is not
//! ready is waited for ([`zt::kube::wait`]: watched by its name, checked with
//! `deployment_ready`); once the wait has listed it and is watching, its status is changed to
//! ready, and the time from that change to the wait returning is measured. Goal: under 100 ms.
//!
//! Two servers: the in-process API double (the change is made in its store, so the clock starts
//! when the object is ready) and, when `make oracles` has built them, a real etcd +
//! kube-apiserver (the change is a status patch; the clock starts before the patch is sent, so
//! the figure includes that request's round trip: an upper bound).
//!
//! Plain timing (no harness): median, 90th percentile and maximum of several runs, printed with
//! the goal.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use zt::kube::wait::{self, Check};
use zt_test_support::kube_api::{TestApi, objects};

const RUNS: usize = 20;
const GOAL: Duration = Duration::from_millis(100);
const IMAGE: &str = "ghcr.io/org/web:sha-1";

/// Waits for Deployment `name` while `make_ready` turns it ready; returns the time from the
/// start of `make_ready` to the wait's return, and how long `make_ready` itself took.
async fn latency<F, Fut>(api: Api<Deployment>, name: &str, make_ready: F) -> (Duration, Duration)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let (listed_tx, listed_rx) = tokio::sync::oneshot::channel::<()>();
    let name_owned = name.to_string();
    let waiting = tokio::spawn(async move {
        let mut listed = Some(listed_tx);
        let r = wait::until(
            Duration::from_secs(30),
            wait::object(api, &name_owned, wait::Backoff::default()),
            |d: &Option<Deployment>| match d {
                Some(d) => wait::deployment_ready(d, None),
                None => Check::Pending("absent".into()),
            },
            |e| Check::Pending(e.to_string()),
            |_| {
                if let Some(tx) = listed.take() {
                    let _ = tx.send(());
                }
            },
        )
        .await;
        (r, Instant::now())
    });
    listed_rx
        .await
        .expect("the wait saw the Deployment not ready");
    // The watch request follows the list at once; give it time to be open.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    make_ready().await;
    let made = start.elapsed();
    let (r, noticed) = waiting.await.expect("the wait task");
    r.unwrap_or_else(|e| panic!("{name}: {e}"));
    (noticed - start, made)
}

fn report(server: &str, runs: Vec<(Duration, Duration)>) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut change: Vec<Duration> = runs.iter().map(|r| r.1).collect();
    change.sort();
    let mut d: Vec<Duration> = runs.into_iter().map(|r| r.0).collect();
    d.sort();
    let median = d[d.len() / 2];
    let p90 = d[d.len() * 9 / 10];
    let max = d[d.len() - 1];
    println!(
        "wait readiness latency ({server}, {} runs): median {:.1} ms, p90 {:.1} ms, max {:.1} ms (goal < {} ms) {}",
        d.len(),
        ms(median),
        ms(p90),
        ms(max),
        GOAL.as_millis(),
        if median < GOAL { "ok" } else { "OVER GOAL" }
    );
    println!(
        "  of which making the change took: median {:.1} ms",
        ms(change[change.len() / 2])
    );
}

async fn on_double() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let api = TestApi::start();
    let client = zt::kube::connect(&zt::kube::ClusterAccess {
        kubeconfig: Some(api.write_kubeconfig(dir.path())),
        context: None,
    })
    .await
    .expect("client for the double")
    .client;
    let mut runs = Vec::new();
    for i in 0..RUNS {
        let name = format!("web-{i}");
        api.with_store(|s| s.put(objects::deployment("bench", &name, IMAGE, 1, 0)));
        let d = latency(Api::namespaced(client.clone(), "bench"), &name, || async {
            api.with_store(|s| s.put(objects::deployment("bench", &name, IMAGE, 1, 1)));
        })
        .await;
        runs.push(d);
    }
    report("in-process double", runs);
}

async fn on_real_server() {
    let Some(cluster) = zt_test_support::cluster::cluster_or_skip("bench wait (real server)")
    else {
        return;
    };
    let ns = cluster.namespace("bench-wait");
    let client = cluster.client().await;
    let api: Api<Deployment> = Api::namespaced(client, ns.name());
    let mut runs = Vec::new();
    for i in 0..RUNS {
        let name = format!("web-{i}");
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": IMAGE}]}}},
        }))
        .expect("a Deployment");
        api.create(&PostParams::default(), &d)
            .await
            .expect("create the Deployment");
        let status = json!({"status": {"observedGeneration": 1, "replicas": 1,
            "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}});
        let d = latency(api.clone(), &name, || async {
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .expect("patch the status");
        })
        .await;
        runs.push(d);
    }
    report("real kube-apiserver", runs);
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        on_double().await;
        on_real_server().await;
    });
}
