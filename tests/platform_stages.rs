//! The bootstrap stage `parameters` run as the runner runs it (a `Ctx`, its progress, a
//! `StageError` for people) against moto in server mode; skipped with one line when moto is not
//! installed (`ZT_REQUIRE_ORACLES=1` makes that a failure). Alone in its test binary: it sets the
//! AWS credential variables the SDK's chain reads from the process environment.

use std::path::Path;
use std::sync::{Arc, Mutex};

use zt::bootstrap::stage::Stage;
use zt::bootstrap::stages::parameters::PushParameters;
use zt::bootstrap::{Ctx, Timing};
use zt::parameters::{mapping, ssm};
use zt::progress::Progress;
use zt_test_support::moto::moto_or_skip;

/// Records the `done` lines a stage reports.
#[derive(Default)]
struct Done(Mutex<Vec<String>>);

impl Progress for Done {
    fn done(&self, _stage: &str, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

fn ctx(progress: Arc<Done>, kubeconfig: &Path) -> Ctx {
    let mut c = Ctx::new(Timing::default(), progress, kubeconfig.to_path_buf(), None);
    c.stage = "test".into();
    c
}

fn push_stage(endpoint: String, token: &str) -> PushParameters {
    let m = mapping::parse(
        "parameters:\n  - path: github/token\n    value: ${BOT_GITHUB_TOKEN}\n",
        Path::new("parameters.yaml"),
    )
    .unwrap();
    let token = token.to_string();
    let plan = zt::parameters::resolve(&m, "/zerotouch/stage-test", &move |k: &str| {
        (k == "BOT_GITHUB_TOKEN").then(|| token.clone())
    })
    .unwrap();
    PushParameters {
        plan,
        target: ssm::Target {
            region: "ap-south-1".into(),
            endpoint_url: Some(endpoint),
        },
    }
}

#[tokio::test]
async fn the_parameters_stage_pushes_and_reports_each_path() {
    let Some(moto) = moto_or_skip("the parameters stage", &[]) else {
        return;
    };
    // The SDK's credential chain reads the process environment: static test keys.
    // SAFETY: this binary's only test; set before the SDK (or any other thread) reads them.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAZTSTAGETEST");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "stage-test-secret");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let done = Arc::new(Done::default());
    let dir = tempfile::tempdir().unwrap();
    let mut c = ctx(done.clone(), &dir.path().join("kubeconfig"));
    let stage = push_stage(moto.url(), "ghp_StageTokenValue1");
    assert!(
        !stage.cacheable(),
        "values come from this run's environment"
    );
    stage.run(&mut c).await.unwrap();
    stage.run(&mut c).await.unwrap();
    push_stage(moto.url(), "ghp_StageTokenValue2")
        .run(&mut c)
        .await
        .unwrap();
    assert_eq!(
        *done.0.lock().unwrap(),
        [
            "created /zerotouch/stage-test/github/token",
            "unchanged /zerotouch/stage-test/github/token",
            "updated /zerotouch/stage-test/github/token"
        ]
    );

    // Nothing listens on port 1: the stage fails with the reason, never the value.
    let err = push_stage("http://127.0.0.1:1".into(), "ghp_StageTokenValue3")
        .run(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with("cannot reach Parameter Store at http://127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.to_string().contains("ghp_StageTokenValue3"), "{err}");
}
