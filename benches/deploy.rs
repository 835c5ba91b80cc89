//! `make bench`: `deploy` rewriting the images of 1,000 claim files, as a client dry run (no
//! cluster): read and parse every file, select the claims, compute the new images, check them
//! against the claim schema's pattern, compute the minimal `--write` edits and print the objects
//! (secrets redacted). Goal: under 50 ms.
//!
//! Plain timing (no harness): the median of several runs after a warm-up, printed with the goal.

use std::fs;
use std::time::{Duration, Instant};

use zt::deploy::{self, Request};

const FILES: usize = 1_000;
const RUNS: usize = 15;
const GOAL: Duration = Duration::from_millis(50);

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    fs::create_dir_all(root.join("ci")).expect("ci dir");
    fs::write(
        root.join("ci/config.yaml"),
        "service:\n  name: my-svc\n  namespace: team-a\n",
    )
    .expect("config");
    let claims = root.join("platform/my-svc/overlays/pr");
    fs::create_dir_all(&claims).expect("claims dir");
    for i in 0..FILES {
        // Every file is a realistic claim of the service (a WebService with comments, or an
        // EventDrivenService), so every one of them is rewritten.
        let text = if i % 2 == 0 {
            format!(
                "# claim {i}\napiVersion: platform.bizmatters.io/v1alpha1\nkind: WebService\nmetadata:\n  name: my-svc-{i}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\nspec:\n  # the image CI builds\n  image: \"ghcr.io/org/my-svc:v1.{i}\"   # pinned\n  port: 8080\n  size: medium\n  replicas: 2\n  databaseName: my_svc\n  secret1Name: my-svc-db-conn\n  imagePullSecrets:\n    - name: ghcr-pull-secret\n  initContainer:\n    command: [\"/bin/bash\", \"-c\"]\n    args:\n      - |\n        cd /app && ./scripts/ci/run-migrations.sh\n  hostname: api.example.com\n  pathPrefix: /api\n"
            )
        } else {
            format!(
                "apiVersion: platform.bizmatters.io/v1alpha1\nkind: EventDrivenService\nmetadata:\n  name: my-svc-worker-{i}\nspec:\n  image: ghcr.io/org/my-svc:v1.{i}\n  size: small\n  nats:\n    url: nats://nats.nats.svc:4222\n    stream: JOBS_{i}\n    consumer: my-svc-workers\n  secret1Name: my-svc-db-conn\n"
            )
        };
        fs::write(claims.join(format!("claim-{i:04}.yaml")), text).expect("claim");
    }

    let run = || {
        let plan = deploy::prepare(&Request {
            root,
            overrides: Default::default(),
            env: "pr",
            claims_dir: None,
            image: "sha-abc123",
            claim_names: &[],
            write: true,
        })
        .unwrap_or_else(|d| panic!("{d}"));
        let shown = deploy::render_objects(&plan).expect("render");
        assert_eq!(plan.changes.len(), FILES);
        assert_eq!(plan.edits.len(), FILES);
        shown.len()
    };
    run();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(run());
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[RUNS / 2];
    println!(
        "deploy: rewrite the images of {FILES} claim files, client dry run: median {:.1} ms (min {:.1} ms, max {:.1} ms) over {RUNS} runs; goal < {} ms: {}",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
        GOAL.as_millis(),
        if median < GOAL { "met" } else { "MISSED" }
    );
}
