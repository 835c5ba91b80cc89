//! Loading locally built images into the Kind nodes (`--load-image`), with the same loader
//! `kubectl zt deploy --load-into-kind` uses: `docker save` from the local engine, `ctr images
//! import` in every node container.

use super::super::context::Ctx;
use super::super::stage::{Stage, StageError, StageFuture};
use crate::docker::{ImageLoader, LoadError, import_command};

/// Loads one image into every node of a Kind cluster.
pub struct LoadImage {
    pub image: String,
    pub cluster: String,
}

/// A load error with what to do about it.
pub fn load_error(e: &LoadError) -> StageError {
    let err = StageError::new(e.to_string());
    match e {
        LoadError::EngineUnreachable { .. } => {
            err.hint("start the Docker engine (or point DOCKER_HOST=unix://... at it)")
        }
        LoadError::ImageMissing { image } => err.hint(format!(
            "build it first (`docker build -t {image} .`) or check `docker images`"
        )),
        _ => err,
    }
}

impl Stage for LoadImage {
    fn name(&self) -> String {
        format!("load-image/{}", self.image)
    }

    fn summary(&self) -> String {
        format!(
            "load image {} into the nodes of Kind cluster {}",
            self.image, self.cluster
        )
    }

    fn details(&self) -> Vec<String> {
        vec![
            format!(
                "export {} from the local Docker engine (never pulled)",
                self.image
            ),
            format!(
                "in every container labelled {}={}: {}",
                crate::docker::KIND_CLUSTER_LABEL,
                self.cluster,
                import_command().join(" ")
            ),
        ]
    }

    /// Never skipped: the same tag may name a newer build than the one an earlier run loaded.
    fn cacheable(&self) -> bool {
        false
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx) -> StageFuture<'a> {
        Box::pin(async move {
            let docker = crate::docker::connect().await.map_err(|e| {
                StageError::new(e.to_string())
                    .hint("start the Docker engine (or point DOCKER_HOST=unix://... at it)")
            })?;
            let report = ImageLoader::new(docker)
                .load(&self.image, &self.cluster)
                .await
                .map_err(|e| load_error(&e))?;
            ctx.detail(&format!(
                "{} ({}): {} bytes, sha256 {}",
                report.image, report.image_id, report.archive_bytes, report.archive_sha256
            ));
            for n in &report.nodes {
                ctx.detail(&format!("imported into {}: {}", n.node, n.output));
            }
            Ok(())
        })
    }
}
