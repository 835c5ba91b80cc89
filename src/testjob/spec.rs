//! The Job that runs a service's tests or migrations, and the Secret its environment comes
//! from.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kube::FIELD_MANAGER;
use crate::secret::SecretString;

/// What a Job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Migrations,
    Tests,
}

impl JobKind {
    /// The word in the Job's name, its container's name and its component label.
    pub fn word(self) -> &'static str {
        match self {
            JobKind::Migrations => "migrations",
            JobKind::Tests => "tests",
        }
    }
}

/// Everything a Job is made from.
pub struct JobRequest<'a> {
    pub service: &'a str,
    pub namespace: &'a str,
    pub kind: JobKind,
    /// The image the container runs (the service's, at the deployed tag).
    pub image: &'a str,
    /// The container's command; empty: the image's entrypoint.
    pub command: &'a [String],
    /// Arguments after the command (a test path).
    pub args: &'a [String],
    pub env: &'a [(String, SecretString)],
    /// The Job's `activeDeadlineSeconds`: Kubernetes ends it after this.
    pub timeout: Duration,
    /// Makes the names of this run's objects unique (a rerun never meets an old Job).
    pub run_id: &'a str,
}

/// A Job ready to apply, and its environment's Secret when there is one (applied first).
#[derive(Debug, Clone)]
pub struct JobObjects {
    pub name: String,
    pub namespace: String,
    pub kind: JobKind,
    pub timeout: Duration,
    pub secret: Option<Value>,
    pub job: Value,
}

impl JobObjects {
    /// The objects in apply order.
    pub fn objects(&self) -> Vec<&Value> {
        self.secret.iter().chain([&self.job]).collect()
    }
}

/// The longest name Kubernetes accepts where a Job's name goes into a label value.
const MAX_NAME: usize = 63;

/// `<service>-<kind>-<run id>`, the service part shortened so the whole fits a label value.
fn job_name(service: &str, kind: JobKind, run_id: &str) -> String {
    let tail = format!("-{}-{run_id}", kind.word());
    let keep = MAX_NAME.saturating_sub(tail.len()).min(service.len());
    let head = service.get(..keep).unwrap_or(service).trim_end_matches('-');
    format!("{head}{tail}")
}

/// Builds the Job: one pod, never restarted, no retries (a test that fails once has failed),
/// ended by Kubernetes after the timeout. Labels say what it is and who made it.
pub fn build(req: &JobRequest<'_>) -> JobObjects {
    let name = job_name(req.service, req.kind, req.run_id);
    let labels = json!({
        "app.kubernetes.io/name": req.service,
        "app.kubernetes.io/component": req.kind.word(),
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
    });
    let secret_name = format!("{name}-env");
    let secret = (!req.env.is_empty()).then(|| {
        let data: serde_json::Map<String, Value> = req
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.expose().to_string())))
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name, "namespace": req.namespace, "labels": labels},
            "type": "Opaque",
            "stringData": data,
        })
    });
    let mut container = json!({
        "name": req.kind.word(),
        "image": req.image,
    });
    if !req.command.is_empty() {
        container["command"] = json!(req.command);
    }
    if !req.args.is_empty() {
        container["args"] = json!(req.args);
    }
    if secret.is_some() {
        container["envFrom"] = json!([{"secretRef": {"name": secret_name}}]);
    }
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": req.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": req.timeout.as_secs().max(1),
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                },
            },
        },
    });
    JobObjects {
        name,
        namespace: req.namespace.to_string(),
        kind: req.kind,
        timeout: req.timeout,
        secret,
        job,
    }
}

/// A short id for this run's object names: the clock and the process, in hex.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    format!("{:06x}", mixed & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(env: &'a [(String, SecretString)], command: &'a [String]) -> JobRequest<'a> {
        JobRequest {
            service: "my-svc",
            namespace: "team-a",
            kind: JobKind::Tests,
            image: "ghcr.io/org/my-svc:sha-abc123",
            command,
            args: &[],
            env,
            timeout: Duration::from_secs(90),
            run_id: "a1b2c3",
        }
    }

    #[test]
    fn the_environment_goes_through_a_secret_never_the_job() {
        let env = [("JWT_SECRET".to_string(), SecretString::new("hunter2-jwt"))];
        let o = build(&request(&env, &[]));
        assert_eq!(o.name, "my-svc-tests-a1b2c3");
        let job = serde_json::to_string(&o.job).unwrap();
        assert!(!job.contains("hunter2-jwt"), "{job}");
        assert_eq!(
            o.job["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"],
            "my-svc-tests-a1b2c3-env"
        );
        let secret = o.secret.as_ref().unwrap();
        assert_eq!(secret["stringData"]["JWT_SECRET"], "hunter2-jwt");
        assert_eq!(
            o.objects()[0]["kind"],
            "Secret",
            "the Secret is applied first"
        );
    }

    #[test]
    fn one_pod_no_retries_ended_by_kubernetes_at_the_timeout() {
        let cmd = ["pytest".to_string(), "-x".to_string()];
        let o = build(&request(&[], &cmd));
        assert!(o.secret.is_none());
        let spec = &o.job["spec"];
        assert_eq!(spec["backoffLimit"], 0);
        assert_eq!(spec["activeDeadlineSeconds"], 90);
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        let c = &spec["template"]["spec"]["containers"][0];
        assert_eq!(c["command"], json!(["pytest", "-x"]));
        assert!(c.get("envFrom").is_none());
        assert!(c.get("args").is_none());
    }

    #[test]
    fn long_service_names_still_make_a_valid_name() {
        let long = "a".repeat(70);
        let n = job_name(&long, JobKind::Migrations, "a1b2c3");
        assert!(n.len() <= MAX_NAME, "{n}");
        assert!(n.ends_with("-migrations-a1b2c3"));
        assert_eq!(
            job_name("svc-", JobKind::Tests, "01"),
            "svc-tests-01",
            "no double dash"
        );
    }
}
