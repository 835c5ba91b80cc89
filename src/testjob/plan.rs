//! Which Jobs `kubectl zt test` runs, in order, from the contract and the flags.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;

use super::spec::{JobKind, JobObjects, JobRequest, build};
use crate::deploy::config::ServiceConfig;
use crate::kube::{Cluster, KubeError, api_error};

/// What the flags change of the contract.
#[derive(Debug, Clone, Default)]
pub struct TestOverrides {
    /// `--command`: replaces `test.command` when not empty.
    pub command: Vec<String>,
    /// `--path`: replaces `test.path`.
    pub path: Option<String>,
    /// `--timeout`: replaces `test.timeout`.
    pub timeout: Option<Duration>,
    /// `--no-migrations`.
    pub skip_migrations: bool,
}

/// The Jobs to run, in order, and what the user should know about them.
#[derive(Debug, Clone)]
pub struct TestPlan {
    pub jobs: Vec<JobObjects>,
    pub warnings: Vec<String>,
}

impl TestPlan {
    /// Every object of every Job as one YAML stream, Secret values redacted: what a dry run
    /// shows.
    pub fn to_yaml(&self) -> Result<String, crate::yaml::YamlError> {
        let shown: Vec<serde_json::Value> = self
            .jobs
            .iter()
            .flat_map(|j| j.objects())
            .map(crate::redact::for_display)
            .collect();
        crate::yaml::to_string_multi(&shown)
    }
}

/// Migrations first (when the contract has them), then the tests, both from `image`.
pub fn plan(
    config: &ServiceConfig,
    root: &Path,
    image: &str,
    o: &TestOverrides,
    run_id: &str,
) -> TestPlan {
    let mut jobs = Vec::new();
    let mut warnings = Vec::new();
    match (&config.migrations, o.skip_migrations) {
        (Some(m), false) => jobs.push(build(&JobRequest {
            service: &config.name,
            namespace: &config.namespace,
            kind: JobKind::Migrations,
            image,
            command: &m.command,
            args: &[],
            env: &config.env,
            timeout: m.timeout,
            run_id,
        })),
        (None, false) if root.join("migrations").is_dir() => warnings.push(
            "migrations/ exists but ci/config.yaml has no migrations section, so no migration Job runs; add migrations: {command: [...]} to run them first".into(),
        ),
        _ => {}
    }
    let command = if o.command.is_empty() {
        &config.test.command
    } else {
        &o.command
    };
    let args: Vec<String> = o
        .path
        .as_ref()
        .or(config.test.path.as_ref())
        .cloned()
        .into_iter()
        .collect();
    jobs.push(build(&JobRequest {
        service: &config.name,
        namespace: &config.namespace,
        kind: JobKind::Tests,
        image,
        command,
        args: &args,
        env: &config.env,
        timeout: o.timeout.unwrap_or(config.test.timeout),
        run_id,
    }));
    TestPlan { jobs, warnings }
}

/// The image the service's Deployment (named after the service, as the platform's
/// compositions name it) runs now: what `kubectl zt deploy` rolled out.
pub async fn deployed_image(
    cluster: &Cluster,
    namespace: &str,
    service: &str,
) -> Result<String, KubeError> {
    let what = format!("Deployment {namespace}/{service}");
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
    let found = api
        .get_opt(service)
        .await
        .map_err(|e| api_error(cluster, &what, e))?;
    let missing = |why: &str| KubeError::Api {
        object: what.clone(),
        code: 0,
        message: format!("{why}: deploy the service first (kubectl zt deploy) or pass --image"),
    };
    let d = found.ok_or_else(|| missing("not found"))?;
    d.spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers.into_iter().next())
        .and_then(|c| c.image)
        .ok_or_else(|| missing("it names no container image"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::config::{MigrationsConfig, Overrides, parse};

    fn config(src: &str) -> ServiceConfig {
        parse(src, Path::new("ci/config.yaml"), &Overrides::default()).unwrap()
    }

    #[test]
    fn migrations_run_first_and_flags_win_over_the_contract() {
        let mut c = config(
            "service: {name: svc, namespace: ns}\ntest: {command: [pytest], path: tests/all, timeout: 60}\n",
        );
        c.migrations = Some(MigrationsConfig {
            command: vec!["migrate".into()],
            timeout: Duration::from_secs(30),
        });
        let dir = tempfile::tempdir().unwrap();
        let p = plan(&c, dir.path(), "img:1", &TestOverrides::default(), "01");
        let kinds: Vec<JobKind> = p.jobs.iter().map(|j| j.kind).collect();
        assert_eq!(kinds, [JobKind::Migrations, JobKind::Tests]);
        let test = &p.jobs[1].job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(test["command"], serde_json::json!(["pytest"]));
        assert_eq!(test["args"], serde_json::json!(["tests/all"]));
        assert_eq!(p.jobs[1].timeout, Duration::from_secs(60));

        let o = TestOverrides {
            command: vec!["go".into(), "test".into()],
            path: Some("./smoke/...".into()),
            timeout: Some(Duration::from_secs(5)),
            skip_migrations: true,
        };
        let p = plan(&c, dir.path(), "img:1", &o, "01");
        assert_eq!(p.jobs.len(), 1);
        let test = &p.jobs[0].job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(test["command"], serde_json::json!(["go", "test"]));
        assert_eq!(test["args"], serde_json::json!(["./smoke/..."]));
        assert_eq!(p.jobs[0].job["spec"]["activeDeadlineSeconds"], 5);
    }

    #[test]
    fn a_migrations_folder_without_a_command_is_said_not_ignored() {
        let c = config("service: {name: svc, namespace: ns}\n");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        let p = plan(&c, dir.path(), "img:1", &TestOverrides::default(), "01");
        assert_eq!(p.jobs.len(), 1);
        assert!(
            p.warnings[0].contains("no migration Job runs"),
            "{:?}",
            p.warnings
        );
    }
}
