//! A stand-in for Crossplane on the real test control plane: it turns the platform's claims
//! Ready the way the platform's compositions would (a database claim gets its connection
//! Secret; a service claim gets a Deployment of its image, which the real controllers and kwok
//! run), or keeps them from it, as a test asks.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cluster::TestCluster;

pub fn claim_api(client: &kube::Client, ns: &str, group: &str, kind: &str) -> Api<DynamicObject> {
    let plural = format!("{}s", kind.to_lowercase());
    let ar = ApiResource {
        group: group.into(),
        version: "v1alpha1".into(),
        api_version: format!("{group}/v1alpha1"),
        kind: kind.into(),
        plural,
    };
    Api::namespaced_with(client.clone(), ns, &ar)
}

pub fn webservices(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    claim_api(client, ns, "platform.bizmatters.io", "WebService")
}

pub fn postgres(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    claim_api(client, ns, "database.bizmatters.io", "PostgresInstance")
}

/// What the stand-in for Crossplane does with the service's claim.
#[derive(Clone)]
pub enum Platform {
    /// Database claims: Ready and their connection Secret. Service claims: a Deployment of the
    /// claim's image (the real controllers and kwok run its pods), Ready once it is available.
    Healthy,
    /// As healthy, but service claims stay `Ready=False` with this message.
    Stuck(&'static str),
    /// As healthy, but the Deployment's pods ask for a node label no node has.
    Unschedulable,
}

pub fn condition(kind: &str, ok: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if ok { "True" } else { "False" }, "reason": reason,
           "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

pub async fn set_conditions(
    api: &Api<DynamicObject>,
    claim: &DynamicObject,
    conditions: Vec<Value>,
) {
    let types = claim.types.clone().unwrap();
    let status = json!({"apiVersion": types.api_version, "kind": types.kind,
        "status": {"conditions": conditions}});
    api.patch_status(
        &claim.metadata.name.clone().unwrap(),
        &PatchParams::apply("crossplane").force(),
        &Patch::Apply(&status),
    )
    .await
    .unwrap();
}

pub async fn reconcile(client: &kube::Client, ns: &str, platform: &Platform) {
    let ssa = PatchParams::apply("crossplane").force();
    let dbs = postgres(client, ns);
    for db in dbs.list(&ListParams::default()).await.unwrap() {
        let name = db.metadata.name.clone().unwrap();
        let secret_name = db
            .data
            .pointer("/spec/writeConnectionSecretToRef/name")
            .and_then(Value::as_str)
            .map_or(format!("{name}-conn"), str::to_string);
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": secret_name, "namespace": ns},
            "stringData": {"host": format!("{name}.{ns}.svc"), "password": "pg-password"}});
        Api::<Secret>::namespaced(client.clone(), ns)
            .patch(&secret_name, &ssa, &Patch::Apply(&secret))
            .await
            .unwrap();
        set_conditions(
            &dbs,
            &db,
            vec![
                condition("Synced", true, "ReconcileSuccess", ""),
                condition("Ready", true, "Available", ""),
            ],
        )
        .await;
    }
    let webs = webservices(client, ns);
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    for web in webs.list(&ListParams::default()).await.unwrap() {
        let name = web.metadata.name.clone().unwrap();
        if let Platform::Stuck(message) = platform {
            set_conditions(
                &webs,
                &web,
                vec![
                    condition("Synced", true, "ReconcileSuccess", ""),
                    condition("Ready", false, "Creating", message),
                ],
            )
            .await;
            continue;
        }
        let image = web.data["spec"]["image"].as_str().unwrap().to_string();
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": image}]}}}});
        if let Platform::Unschedulable = platform {
            d["spec"]["template"]["spec"]["nodeSelector"] = json!({"zt.test/gpu": "true"});
        }
        deployments
            .patch(&name, &ssa, &Patch::Apply(&d))
            .await
            .unwrap();
        let available = deployments
            .get(&name)
            .await
            .unwrap()
            .status
            .and_then(|s| s.available_replicas)
            .unwrap_or(0)
            > 0;
        set_conditions(
            &webs,
            &web,
            vec![
                condition("Synced", true, "ReconcileSuccess", ""),
                if available {
                    condition("Ready", true, "Available", "")
                } else {
                    condition("Ready", false, "Creating", "waiting for the Deployment")
                },
            ],
        )
        .await;
    }
}

/// Runs the stand-in controller for `ns` until the returned handle is dropped or aborted.
pub fn crossplane(cluster: &'static TestCluster, ns: &str, platform: Platform) -> AbortOnDrop {
    let ns = ns.to_string();
    AbortOnDrop(tokio::spawn(async move {
        let client = cluster.client().await;
        loop {
            reconcile(&client, &ns, &platform).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }))
}

pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
