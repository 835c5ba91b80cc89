//! The service's own stages of a CI run.

use std::path::PathBuf;

use crate::bootstrap::{Ctx, Stage, StageError, StageFuture};
use crate::deploy::{self, Options, Plan};
use crate::kube::ClusterAccess;
use crate::progress::format_duration;
use crate::testjob::{self, RunOptions, TestOverrides};

/// Points the service's claims at the CI-built image, applies them and waits (`kubectl zt
/// deploy`). Cached once done: a rerun with the same image (the plan's fingerprint holds it)
/// does not deploy again.
pub struct DeployStage {
    /// `deploy`, or `deploy/<name>` for a service this one depends on.
    pub stage: String,
    pub plan: Plan,
    pub options: Options,
}

impl Stage for DeployStage {
    fn name(&self) -> String {
        self.stage.clone()
    }

    fn summary(&self) -> String {
        let images: Vec<&str> = self.plan.changes.iter().map(|c| c.to.as_str()).collect();
        format!(
            "deploy {} to namespace {} with {} ({} objects, server-side apply), wait up to {}",
            self.plan.service.name,
            self.plan.service.namespace,
            if images.is_empty() {
                "its claims as written".to_string()
            } else {
                images.join(", ")
            },
            self.plan.objects.len(),
            format_duration(self.options.timeout)
        )
    }

    fn details(&self) -> Vec<String> {
        let mut d: Vec<String> = self
            .plan
            .objects
            .iter()
            .map(|o| format!("apply {}", o.describe()))
            .collect();
        if !self.plan.service.dependencies.platform.is_empty() {
            d.insert(
                0,
                format!(
                    "first wait for the platform Applications {}{}",
                    self.plan.service.dependencies.platform.join(", "),
                    if self.options.sync_platform {
                        " (asking Argo CD to sync them)"
                    } else {
                        ""
                    }
                ),
            );
        }
        d
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let access = ClusterAccess {
                kubeconfig: Some(ctx.kubeconfig.clone()),
                context: ctx.kube_context.clone(),
            };
            let progress = ctx.progress.clone();
            let report = deploy::execute(&self.plan, &access, &self.options, &*progress)
                .await
                .map_err(|e| StageError::new(e.to_string()))?;
            ctx.detail(&format!(
                "{} objects applied, ready after {}",
                report.applied.len(),
                format_duration(report.elapsed)
            ));
            Ok(())
        })
    }
}

/// The service's migrations and tests as Jobs (`kubectl zt test`), from the image its
/// Deployment runs after the deploy stage. Never cached: tests say something only now.
pub struct TestsStage {
    pub service: deploy::config::ServiceConfig,
    pub root: PathBuf,
    pub overrides: TestOverrides,
    /// The image, when known before the run (else the Deployment's).
    pub image: Option<String>,
    pub options: RunOptions,
    pub run_id: String,
}

impl Stage for TestsStage {
    fn name(&self) -> String {
        "tests".into()
    }

    fn summary(&self) -> String {
        let image = self
            .image
            .clone()
            .unwrap_or_else(|| format!("the image of Deployment {}", self.service.name));
        format!(
            "run the {}tests of {} as Jobs in namespace {} ({image})",
            if self.service.migrations.is_some() && !self.overrides.skip_migrations {
                "migrations, then the "
            } else {
                ""
            },
            self.service.name,
            self.service.namespace
        )
    }

    fn details(&self) -> Vec<String> {
        let plan = testjob::plan(
            &self.service,
            &self.root,
            self.image.as_deref().unwrap_or("<deployed image>"),
            &self.overrides,
            &self.run_id,
        );
        plan.jobs
            .iter()
            .map(|j| {
                format!(
                    "Job {}/{} ({}), deadline {}{}",
                    j.namespace,
                    j.name,
                    j.kind.word(),
                    format_duration(j.timeout),
                    if j.secret.is_some() {
                        ", env from a Secret (values not shown)"
                    } else {
                        ""
                    }
                )
            })
            .collect()
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let cluster = ctx.cluster().await?;
            let image = match &self.image {
                Some(i) => i.clone(),
                None => {
                    testjob::deployed_image(&cluster, &self.service.namespace, &self.service.name)
                        .await
                        .map_err(|e| StageError::new(e.to_string()))?
                }
            };
            let plan = testjob::plan(
                &self.service,
                &self.root,
                &image,
                &self.overrides,
                &self.run_id,
            );
            for w in &plan.warnings {
                ctx.warn(w);
            }
            let progress = ctx.progress.clone();
            let print = |line: &str| println!("{line}");
            for job in &plan.jobs {
                let done = testjob::run_job(&cluster, job, self.options, &*progress, &print)
                    .await
                    .map_err(|e| StageError::new(e.to_string()))?;
                ctx.detail(&format!(
                    "{} passed in {}",
                    job.kind.word(),
                    format_duration(done.elapsed)
                ));
            }
            Ok(())
        })
    }
}

/// Deletes the preview's Kind cluster at the end of the run (`--cleanup`). Never cached.
pub struct DeleteKindCluster {
    pub cluster: String,
    /// The kind executable.
    pub kind_program: std::ffi::OsString,
}

impl Stage for DeleteKindCluster {
    fn name(&self) -> String {
        "cleanup".into()
    }

    fn summary(&self) -> String {
        format!("delete Kind cluster {}", self.cluster)
    }

    fn details(&self) -> Vec<String> {
        vec![format!("kind delete cluster --name {}", self.cluster)]
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let run = crate::process::Run::new(
                &self.kind_program,
                ["delete", "cluster", "--name", self.cluster.as_str()],
            )
            .limit(ctx.timing.kind);
            run.run(|l| ctx.detail(&format!("kind: {l}")))
                .await
                .map_err(|e| StageError::new(e.to_string()))?;
            ctx.reset_cluster();
            Ok(())
        })
    }
}
