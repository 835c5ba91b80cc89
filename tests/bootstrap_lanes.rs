//! Lanes: consecutive stages with a lane run lane by lane, lanes concurrently up to
//! `ctx.parallel`, each lane's stages in order, recorded in the stage cache one by one; a lane
//! that fails stops while the others finish, and a rerun resumes only what is left.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use zt::bootstrap::cache::StageCache;
use zt::bootstrap::stage::InLane;
use zt::bootstrap::{Ctx, Plan, RunError, Stage, StageError, StageFuture, Timing, run};
use zt_test_support::progress::Recorder;

/// What the stages saw: how many ran at once, at most, and the order they started in.
#[derive(Default)]
struct Seen {
    now: usize,
    max: usize,
    started: Vec<String>,
}

struct Step {
    name: String,
    seen: Arc<Mutex<Seen>>,
    /// Fails with this message instead of finishing.
    fail: Option<String>,
}

impl Stage for Step {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn summary(&self) -> String {
        format!("step {}", self.name)
    }
    fn run<'a>(&'a self, _ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            {
                let mut s = self.seen.lock().unwrap();
                s.now += 1;
                s.max = s.max.max(s.now);
                s.started.push(self.name.clone());
            }
            // Long enough for every lane that may start to have started.
            tokio::time::sleep(Duration::from_millis(30)).await;
            self.seen.lock().unwrap().now -= 1;
            match &self.fail {
                Some(why) => Err(StageError::new(why.clone())),
                None => Ok(()),
            }
        })
    }
}

/// `first`, then five lanes `w1`..`w5` of two steps each, then `last`.
fn plan(seen: &Arc<Mutex<Seen>>, failing: Option<&str>) -> Plan {
    let step = |name: &str| Step {
        name: name.into(),
        seen: seen.clone(),
        fail: (failing == Some(name)).then(|| format!("{name} broke")),
    };
    let mut stages: Vec<Box<dyn Stage>> = vec![Box::new(step("first"))];
    for w in 1..=5 {
        for part in ["install", "ready"] {
            let lane = format!("w{w}");
            stages.push(InLane::boxed(
                &lane,
                Box::new(step(&format!("{part}/{lane}"))),
            ));
        }
    }
    stages.push(Box::new(step("last")));
    Plan {
        mode: "test".into(),
        target: "lanes".into(),
        stages,
    }
}

async fn run_with(
    plan: &Plan,
    parallel: usize,
    cache: &std::path::Path,
) -> (Result<zt::bootstrap::RunSummary, RunError>, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let mut ctx = Ctx::new(
        Timing::default(),
        rec.clone(),
        cache.with_extension("kube"),
        None,
    );
    ctx.parallel = parallel;
    let mut c = StageCache::open(cache, &plan.fingerprint(), false).unwrap();
    (
        run(plan, &mut ctx, &mut c, std::future::pending()).await,
        rec,
    )
}

fn position(started: &[String], name: &str) -> usize {
    started.iter().position(|s| s == name).unwrap()
}

#[tokio::test]
async fn lanes_run_together_up_to_the_limit_each_in_order() {
    for (parallel, expected_max) in [(1, 1), (3, 3), (8, 5)] {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let p = plan(&seen, None);
        let (r, _) = run_with(&p, parallel, &dir.path().join("cache.json")).await;
        let summary = r.unwrap();
        assert_eq!(summary.done.len(), 12);
        let s = seen.lock().unwrap();
        assert_eq!(s.max, expected_max, "--parallel {parallel}");
        assert_eq!(s.started.first().map(String::as_str), Some("first"));
        assert_eq!(
            s.started.last().map(String::as_str),
            Some("last"),
            "after every lane"
        );
        for w in 1..=5 {
            assert!(
                position(&s.started, &format!("install/w{w}"))
                    < position(&s.started, &format!("ready/w{w}")),
                "a lane's stages in order: {:?}",
                s.started
            );
        }
        if parallel == 1 {
            let order: Vec<&str> = s.started.iter().map(String::as_str).collect();
            assert_eq!(
                order[1..5],
                ["install/w1", "ready/w1", "install/w2", "ready/w2"],
                "one lane after the other"
            );
        }
    }
}

#[tokio::test]
async fn a_failed_lane_stops_the_others_finish_and_a_rerun_does_only_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.json");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (r, rec) = run_with(&plan(&seen, Some("install/w2")), 5, &cache).await;
    match r {
        Err(RunError::Stage { stage, error }) => {
            assert_eq!(stage, "install/w2");
            assert_eq!(error.message, "install/w2 broke");
        }
        other => panic!("{other:?}"),
    }
    let started = seen.lock().unwrap().started.clone();
    assert!(
        !started.contains(&"ready/w2".to_string()),
        "the failed lane stops: {started:?}"
    );
    assert!(
        !started.contains(&"last".to_string()),
        "nothing after the block: {started:?}"
    );
    for w in [1, 3, 4, 5] {
        assert!(
            started.contains(&format!("ready/w{w}")),
            "lane w{w} finished: {started:?}"
        );
    }
    assert!(
        rec.finished()
            .contains(&"✗ install/w2: install/w2 broke".to_string()),
        "{}",
        rec.all()
    );

    // Fixed: the rerun runs lane w2 and what follows, and skips everything recorded.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (r, _) = run_with(&plan(&seen, None), 5, &cache).await;
    let summary = r.unwrap();
    let mut ran = seen.lock().unwrap().started.clone();
    ran.sort();
    assert_eq!(ran, ["install/w2", "last", "ready/w2"]);
    assert_eq!(summary.cached.len(), 9);
}

#[test]
fn the_plan_says_what_runs_together() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let text = plan(&seen, None).describe(None);
    assert!(
        text.contains("== stages 2-11 run together: w1, w2, w3, w4, w5 (5 lanes), each lane's stages in order, up to --parallel lanes at a time"),
        "{text}"
    );
    assert!(
        text.contains("  2. install/w1") && text.contains(" 12. last"),
        "{text}"
    );
}

#[tokio::test]
async fn ctrl_c_during_a_block_names_every_running_stage_and_records_only_finished_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.json");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let p = plan(&seen, None);
    let rec = Arc::new(Recorder::default());
    let mut ctx = Ctx::new(
        Timing::default(),
        rec.clone(),
        dir.path().join("kube"),
        None,
    );
    ctx.parallel = 2;
    let mut c = StageCache::open(&cache, &p.fingerprint(), false).unwrap();
    // Ctrl-C as soon as two lanes are inside their first stage.
    let interrupt = {
        let seen = seen.clone();
        async move {
            while seen.lock().unwrap().now < 2 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    match run(&p, &mut ctx, &mut c, interrupt).await {
        Err(RunError::Interrupted { stage, done, .. }) => {
            assert_eq!(stage, "install/w1, install/w2");
            assert_eq!(done, 1, "only `first` finished");
        }
        other => panic!("{other:?}"),
    }
    let recorded = std::fs::read_to_string(&cache).unwrap();
    assert!(
        recorded.contains("\"first\"") && !recorded.contains("w1"),
        "{recorded}"
    );
    assert!(
        rec.finished()
            .contains(&"✗ install/w1: interrupted".to_string()),
        "{}",
        rec.all()
    );
}
