//! Running one Job to its end: apply, stream the log, wait, diagnose, clean up.
//!
//! The Job is watched (its `Complete` or `Failed` condition), and so are its pods: a container
//! that cannot start (an image that cannot be pulled, a missing Secret) fails the run at once
//! instead of at the timeout. The pod's log is followed from the moment its container starts
//! and passed on line by line, with the environment's secret values cut out. Kubernetes itself
//! ends the Job at its timeout (`activeDeadlineSeconds`); the wait gives it a little longer,
//! so the reason comes from the Job.

use std::time::{Duration, Instant};

use futures_util::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, LogParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;

use super::spec::JobObjects;
use crate::kube::manifests::{apply_wave, resolve_kinds};
use crate::kube::wait::{self, Backoff, Check, READY, WaitError};
use crate::kube::{ApplyOptions, Cluster, KubeError, api_error};
use crate::progress::{Progress, format_duration};
use crate::redact::Scrubber;

/// How a run ends besides its outcome.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Leave the Job (and its Secret) in the cluster, for debugging.
    pub keep: bool,
    /// How many of the last log lines a failure shows.
    pub tail_lines: i64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            keep: false,
            tail_lines: 20,
        }
    }
}

/// A Job that succeeded.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// `namespace/name`.
    pub job: String,
    pub elapsed: Duration,
    /// Whether the Job was left in the cluster (`--keep`).
    pub kept: bool,
}

/// Why a run did not succeed. Messages hold no secret value.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Kube(#[from] KubeError),

    #[error("{what} failed: {reason}{}", lines(diagnosis))]
    Failed {
        what: String,
        reason: String,
        diagnosis: Vec<String>,
    },

    #[error("{what} did not finish within {}{}", format_duration(*after), lines(diagnosis))]
    TimedOut {
        what: String,
        after: Duration,
        diagnosis: Vec<String>,
    },
}

fn lines(diagnosis: &[String]) -> String {
    diagnosis.iter().map(|l| format!("\n  {l}")).collect()
}

/// Longer than the Job's own deadline, so the Job says why it ended.
const GRACE: Duration = Duration::from_secs(30);
/// How long the log may still deliver after the Job ended.
const LOG_DRAIN: Duration = Duration::from_secs(3);
/// Container states that waiting cannot fix.
const FATAL_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Runs `objects` to the end. `log` gets each line of the pod's log as it comes (secret values
/// cut out); progress goes to `progress` under the step named by the Job's kind.
pub async fn run_job(
    cluster: &Cluster,
    objects: &JobObjects,
    opts: RunOptions,
    progress: &dyn Progress,
    log: &(dyn Fn(&str) + Sync),
) -> Result<JobOutcome, RunError> {
    let step = objects.kind.word();
    let what = format!("{} Job {}/{}", step, objects.namespace, objects.name);
    let scrubber = Scrubber::from_objects(objects.objects());
    let docs = objects.objects();
    let kinds = resolve_kinds(cluster, &docs)
        .await
        .map_err(|e| e.scrubbed(&scrubber))?;
    progress.start(step, &format!("run {what}"));
    let mut applied = Vec::new();
    apply_wave(
        cluster,
        &kinds,
        &docs,
        ApplyOptions::default(),
        &mut applied,
        &|w| progress.detail(step, &format!("applied {w}")),
    )
    .await
    .map_err(|e| e.scrubbed(&scrubber))?;

    let started = Instant::now();
    let ended = follow(cluster, objects, progress, &scrubber, log).await;
    let outcome = match ended {
        Ok(()) => Ok(JobOutcome {
            job: format!("{}/{}", objects.namespace, objects.name),
            elapsed: started.elapsed(),
            kept: opts.keep,
        }),
        Err(end) => {
            let diagnosis = diagnose(cluster, objects, opts.tail_lines, &scrubber).await;
            Err(match end {
                JobEnd::Failed(reason) if reason.starts_with("DeadlineExceeded") => {
                    RunError::TimedOut {
                        what: what.clone(),
                        after: objects.timeout,
                        diagnosis,
                    }
                }
                JobEnd::Failed(reason) => RunError::Failed {
                    what: what.clone(),
                    reason: scrubber.scrub(&reason),
                    diagnosis,
                },
                JobEnd::TimedOut => RunError::TimedOut {
                    what: what.clone(),
                    after: objects.timeout,
                    diagnosis,
                },
            })
        }
    };
    if opts.keep {
        progress.warn(
            step,
            &format!(
                "kept {what}; delete it with: kubectl delete job -n {} {}",
                objects.namespace, objects.name
            ),
        );
    } else {
        clean_up(cluster, objects, progress).await;
    }
    outcome
}

/// How a Job ended without success.
enum JobEnd {
    /// The Job's `Failed` condition (`reason: message`), or a pod that cannot start.
    Failed(String),
    /// Not even the Job said it ended.
    TimedOut,
}

/// Waits for the Job while following its pod's log; ends early when the pod cannot start.
async fn follow(
    cluster: &Cluster,
    objects: &JobObjects,
    progress: &dyn Progress,
    scrubber: &Scrubber,
    log: &(dyn Fn(&str) + Sync),
) -> Result<(), JobEnd> {
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &objects.namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &objects.namespace);
    let step = objects.kind.word();
    let wait = wait::until(
        objects.timeout + GRACE,
        wait::object(jobs, &objects.name, Backoff::default()),
        |j: &Option<Job>| job_finished(j.as_ref()),
        |e| Check::Pending(e.to_string()),
        |why| progress.status(step, &format!("waiting for Job {}: {why}", objects.name)),
    );
    let logs = pod_log(&pods, objects, progress, scrubber, log);
    tokio::pin!(wait);
    tokio::pin!(logs);
    let mut logs_done = false;
    let ended = loop {
        tokio::select! {
            r = &mut wait => break r,
            fatal = &mut logs, if !logs_done => {
                logs_done = true;
                if let Some(why) = fatal {
                    break Err(WaitError::Failed(why));
                }
            }
        }
    };
    if !logs_done {
        let _ = tokio::time::timeout(LOG_DRAIN, &mut logs).await;
    }
    match ended {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(why)) => Err(JobEnd::Failed(why)),
        Err(WaitError::TimedOut { .. }) => Err(JobEnd::TimedOut),
    }
}

/// Where a Job is: done, failed (with the reason its `Failed` condition gives), or running.
pub fn job_finished(job: Option<&Job>) -> Check {
    let Some(job) = job else {
        return Check::Failed("the Job was deleted".into());
    };
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten();
    for c in conditions.filter(|c| c.status == "True") {
        match c.type_.as_str() {
            "Complete" => return READY,
            "Failed" => {
                let reason = c.reason.as_deref().unwrap_or("Failed");
                return Check::Failed(match c.message.as_deref().filter(|m| !m.is_empty()) {
                    Some(m) => format!("{reason}: {m}"),
                    None => reason.to_string(),
                });
            }
            _ => {}
        }
    }
    let active = job.status.as_ref().and_then(|s| s.active).unwrap_or(0);
    Check::Pending(if active > 0 {
        format!("{active} pod running")
    } else {
        "no pod started yet".into()
    })
}

fn job_pods(name: &str) -> String {
    format!("batch.kubernetes.io/job-name={name}")
}

/// Follows the log of the Job's pod once its container has started. Returns why the pod cannot
/// start when it cannot; `None` when the log ended (or cannot be read: a warning says so).
async fn pod_log(
    pods: &Api<Pod>,
    objects: &JobObjects,
    progress: &dyn Progress,
    scrubber: &Scrubber,
    log: &(dyn Fn(&str) + Sync),
) -> Option<String> {
    let step = objects.kind.word();
    let config = watcher::Config::default().labels(&job_pods(&objects.name));
    let mut states = watcher(pods.clone(), config)
        .default_backoff()
        .applied_objects()
        .boxed();
    let pod = loop {
        match states.next().await {
            Some(Ok(pod)) => {
                if let Some(why) = cannot_start(&pod) {
                    return Some(scrubber.scrub(&why));
                }
                if started(&pod) {
                    break pod;
                }
            }
            // A watch error is retried by the backoff; an ended stream means no pod.
            Some(Err(_)) => continue,
            None => return None,
        }
    };
    drop(states);
    let name = pod.metadata.name.clone().unwrap_or_default();
    let params = LogParams {
        follow: true,
        ..LogParams::default()
    };
    let reader = match pods.log_stream(&name, &params).await {
        Ok(r) => r,
        Err(e) => {
            progress.warn(
                step,
                &format!(
                    "cannot read the log of pod {name}: {}",
                    scrubber.scrub(&e.to_string())
                ),
            );
            return None;
        }
    };
    let mut lines = reader.lines();
    loop {
        match lines.try_next().await {
            Ok(Some(line)) => log(&scrubber.scrub(&line)),
            Ok(None) => return None,
            Err(e) => {
                progress.warn(
                    step,
                    &format!(
                        "the log of pod {name} broke off: {}",
                        scrubber.scrub(&e.to_string())
                    ),
                );
                return None;
            }
        }
    }
}

/// Whether the pod's container has started (running or already ended): its log exists.
fn started(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
        })
}

/// A container waiting for something waiting cannot bring (an image that cannot be pulled).
fn cannot_start(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            let reason = w.reason.as_deref()?;
            FATAL_WAITING.contains(&reason).then(|| {
                let mut msg = format!("pod {name}: container {} cannot start ({reason})", c.name);
                if let Some(m) = w.message.as_deref().filter(|m| !m.is_empty()) {
                    msg.push_str(&format!(": {m}"));
                }
                msg
            })
        })
}

/// What a failure shows: each pod's state, the last lines of its log, its recent events, and
/// the Job's events.
async fn diagnose(
    cluster: &Cluster,
    objects: &JobObjects,
    tail_lines: i64,
    scrubber: &Scrubber,
) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &objects.namespace);
    let mut out = Vec::new();
    let list = match pods
        .list(&ListParams::default().labels(&job_pods(&objects.name)))
        .await
    {
        Ok(l) => l.items,
        Err(e) => {
            out.push(format!("cannot list the Job's pods: {e}"));
            Vec::new()
        }
    };
    if list.is_empty() {
        out.push("no pod of the Job exists".into());
    }
    for pod in &list {
        let name = pod.metadata.name.as_deref().unwrap_or("?");
        out.push(pod_state(pod));
        let params = LogParams {
            tail_lines: Some(tail_lines),
            ..LogParams::default()
        };
        match pods.logs(name, &params).await {
            Ok(text) if text.trim().is_empty() => out.push(format!("pod {name}: the log is empty")),
            Ok(text) => {
                out.push(format!("last lines of pod {name}'s log:"));
                out.extend(text.lines().map(|l| format!("  | {l}")));
            }
            Err(e) => out.push(format!("pod {name}: its log cannot be read: {}", said(&e))),
        }
        out.extend(events(cluster, &objects.namespace, "Pod", name).await);
    }
    out.extend(events(cluster, &objects.namespace, "Job", &objects.name).await);
    // Everything shown comes from the cluster (log lines, event messages): cut the secrets
    // out of all of it, once, here.
    out.into_iter().map(|l| scrubber.scrub(&l)).collect()
}

/// One line: the pod's phase and its container's end (exit code, reason, message) or wait.
fn pod_state(pod: &Pod) -> String {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Unknown");
    let mut line = format!("pod {name}: {phase}");
    for c in status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
    {
        let state = c.state.as_ref();
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            line.push_str(&format!(
                "; container {} exited with code {}",
                c.name, t.exit_code
            ));
            if let Some(r) = t.reason.as_deref().filter(|r| !r.is_empty()) {
                line.push_str(&format!(" ({r})"));
            }
            if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
                line.push_str(&format!(": {}", m.trim()));
            }
        } else if let Some(why) = wait::pod_waiting(pod) {
            line.push_str(&format!("; {why}"));
        }
    }
    line
}

/// The last events about an object, oldest first: `event <Kind> <name>: <reason>: <message>`.
async fn events(cluster: &Cluster, namespace: &str, kind: &str, name: &str) -> Vec<String> {
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), namespace);
    let selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
    let Ok(list) = api.list(&ListParams::default().fields(&selector)).await else {
        return Vec::new();
    };
    let mut items = list.items;
    items.sort_by_key(|e| e.last_timestamp.clone().map(|t| t.0));
    let skip = items.len().saturating_sub(5);
    items
        .iter()
        .skip(skip)
        .map(|e| {
            format!(
                "event {kind} {name}: {}: {}",
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim()
            )
        })
        .collect()
}

/// Deletes the Job (its pods with it) and its Secret; a failure to delete is a warning.
pub async fn clean_up(cluster: &Cluster, objects: &JobObjects, progress: &dyn Progress) {
    let step = objects.kind.word();
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &objects.namespace);
    if let Err(e) = jobs
        .delete(&objects.name, &DeleteParams::background())
        .await
    {
        let e = api_error(cluster, &format!("Job {}", objects.name), e);
        progress.warn(step, &format!("could not delete: {e}"));
    }
    if let Some(name) = objects
        .secret
        .as_ref()
        .and_then(|s| s.pointer("/metadata/name"))
        .and_then(|n| n.as_str())
    {
        let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &objects.namespace);
        if let Err(e) = secrets.delete(name, &DeleteParams::default()).await {
            let e = api_error(cluster, &format!("Secret {name}"), e);
            progress.warn(step, &format!("could not delete: {e}"));
        }
    }
    progress.detail(step, &format!("deleted Job {}", objects.name));
}

/// What the API server said (its message and code), without the client's debug dump.
fn said(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    fn job(conditions: &[(&str, &str, &str)], active: i32) -> Job {
        Job {
            status: Some(JobStatus {
                active: Some(active),
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(t, s, r)| JobCondition {
                            type_: (*t).into(),
                            status: (*s).into(),
                            reason: Some((*r).into()),
                            message: Some("Job has reached the specified backoff limit".into()),
                            ..JobCondition::default()
                        })
                        .collect(),
                ),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn a_job_is_done_failed_or_running_by_its_conditions() {
        assert_eq!(
            job_finished(Some(&job(&[("Complete", "True", "")], 0))),
            READY
        );
        assert_eq!(
            job_finished(Some(&job(&[("Failed", "True", "BackoffLimitExceeded")], 0))),
            Check::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        assert_eq!(
            job_finished(Some(&job(&[("Failed", "False", "x")], 1))),
            Check::Pending("1 pod running".into())
        );
        assert!(matches!(job_finished(None), Check::Failed(_)));
    }
}
