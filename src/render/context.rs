//! What templates see. Built from the validated tenant model and the secrets bundle; strings
//! only, already in the form the output wants. Worker contexts carry empty private keys, so no
//! template, embedded or overridden, can put a CA key on a worker.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::secret::SecretString;
use crate::tenant::model::{Cni, EnvValues, Machine, Role};

/// Secret values are [`SecretString`]s: serialized as the plain value (the templates write
/// them into 0600 files), shown `<redacted>` by `Debug`.
#[derive(Debug, Serialize, Clone, Default)]
pub struct CertPair {
    pub crt: String,
    pub key: SecretString,
}

/// Every bundle value a machine config needs, as Talos expects it (base64 of PEM, tokens).
#[derive(Debug, Serialize, Clone, Default)]
pub struct TalosSecrets {
    pub cluster_id: SecretString,
    pub cluster_secret: SecretString,
    pub bootstrap_token: SecretString,
    pub secretbox_encryption_secret: SecretString,
    pub trustd_token: SecretString,
    pub os: CertPair,
    pub k8s: CertPair,
    pub aggregator: CertPair,
    pub etcd: CertPair,
    pub service_account_key: SecretString,
}

impl TalosSecrets {
    /// The view a worker gets: CA certificates and join tokens, no private keys.
    pub fn for_worker(&self) -> TalosSecrets {
        let public = |c: &CertPair| CertPair {
            crt: c.crt.clone(),
            key: SecretString::default(),
        };
        TalosSecrets {
            cluster_id: self.cluster_id.clone(),
            cluster_secret: self.cluster_secret.clone(),
            bootstrap_token: self.bootstrap_token.clone(),
            secretbox_encryption_secret: SecretString::default(),
            trustd_token: self.trustd_token.clone(),
            os: public(&self.os),
            k8s: public(&self.k8s),
            aggregator: CertPair::default(),
            etcd: CertPair::default(),
            service_account_key: SecretString::default(),
        }
    }
}

#[derive(Serialize)]
pub struct ClusterCtx {
    pub name: String,
    pub endpoint: String,
    pub pod_subnet: String,
    pub service_subnet: String,
    pub dns_domain: String,
    pub cni: &'static str,
    pub allow_scheduling_on_control_planes: bool,
    /// Names the API server certificate must carry: the control-plane IP and the endpoint host.
    pub api_cert_sans: Vec<String>,
}

#[derive(Serialize)]
pub struct NodeCtx {
    pub name: String,
    pub ip: String,
    #[serde(rename = "type")]
    pub machine_type: &'static str,
    pub controlplane: bool,
    pub install_disk: String,
    pub labels: BTreeMap<String, String>,
    /// Talos form: key → `value:Effect`.
    pub taints: BTreeMap<String, String>,
    pub nameservers: Vec<String>,
    pub cert_sans: Vec<String>,
}

#[derive(Serialize)]
pub struct VersionCtx {
    pub version: String,
}

#[derive(Serialize)]
pub struct TalosCtx {
    pub version: String,
    pub installer_image: String,
    /// Talos 1.12 and later: the hostname and nameservers go into their own documents, and
    /// the fields that line deprecated or locked are left out (see templates/talos/machine.yaml).
    pub multidoc: bool,
}

#[derive(Serialize, Clone)]
pub struct InlineManifest {
    pub name: String,
    pub contents: String,
}

#[derive(Serialize)]
pub struct MachineCtx<'a> {
    pub cluster: &'a ClusterCtx,
    pub talos: &'a TalosCtx,
    pub kubernetes: &'a VersionCtx,
    pub node: NodeCtx,
    pub secrets: TalosSecrets,
    pub inline_manifests: &'a [InlineManifest],
}

#[derive(Serialize)]
pub struct TalosconfigCtx {
    pub endpoints: Vec<String>,
    pub nodes: Vec<String>,
    pub crt: String,
    pub key: SecretString,
}

/// Host part of an `https://host[:port]/...` endpoint.
fn endpoint_host(endpoint: &str) -> Option<String> {
    let authority = endpoint.strip_prefix("https://")?.split('/').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().map(str::to_string);
    }
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string(),
    )
}

/// Label every control plane carries in `talosctl gen config` output, kept so external load
/// balancers skip control-plane nodes.
const CP_DEFAULT_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

pub fn cluster_ctx(v: &EnvValues) -> ClusterCtx {
    let cp_ip = v.controlplane.ip.to_string();
    let mut sans = vec![cp_ip];
    if let Some(host) = endpoint_host(&v.cluster.endpoint)
        && !sans.contains(&host)
    {
        sans.push(host);
    }
    ClusterCtx {
        name: v.cluster.name.clone(),
        endpoint: v.cluster.endpoint.clone(),
        pod_subnet: v.cluster.pod_subnet.to_string(),
        service_subnet: v.cluster.service_subnet.to_string(),
        dns_domain: v.cluster.dns_domain.clone(),
        cni: match v.cluster.cni {
            Cni::Cilium => "cilium",
            Cni::Flannel => "flannel",
            Cni::None => "none",
        },
        allow_scheduling_on_control_planes: v.cluster.allow_scheduling_on_control_planes,
        api_cert_sans: sans,
    }
}

pub fn node_ctx(m: &Machine) -> NodeCtx {
    let controlplane = m.role == Role::ControlPlane;
    let mut labels = BTreeMap::new();
    if controlplane {
        labels.insert(CP_DEFAULT_LABEL.to_string(), String::new());
    }
    labels.extend(m.labels.clone());
    NodeCtx {
        name: m.name.clone(),
        ip: m.ip.to_string(),
        machine_type: m.role.machine_type(),
        controlplane,
        install_disk: m.install_disk.clone(),
        labels,
        taints: m
            .taints
            .iter()
            .map(|t| (t.key.clone(), format!("{}:{}", t.value, t.effect.as_str())))
            .collect(),
        nameservers: m.nameservers.iter().map(IpAddr::to_string).collect(),
        cert_sans: if controlplane {
            vec![m.ip.to_string()]
        } else {
            Vec::new()
        },
    }
}
