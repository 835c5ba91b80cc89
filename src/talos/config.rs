//! Typed Talos v1alpha1 machine config (Talos 1.11), the subset kubectl zt renders.
//!
//! Rendered templates are read back into these types with unknown fields rejected, so a typo in
//! a template (or in an override template) fails the render instead of reaching a node. Field
//! order follows `talosctl gen config`, so the normalised output reads like what operators know.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::SecretString;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineConfig {
    pub version: String,
    pub debug: bool,
    pub machine: Machine,
    pub cluster: Cluster,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertAndKey {
    pub crt: String,
    /// Empty on workers: they never hold a CA's private key.
    pub key: SecretString,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyOnly {
    pub key: SecretString,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Machine {
    #[serde(rename = "type")]
    pub machine_type: String,
    pub token: SecretString,
    pub ca: CertAndKey,
    #[serde(rename = "certSANs")]
    pub cert_sans: Vec<String>,
    pub kubelet: Kubelet,
    pub network: Network,
    pub install: Install,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    pub features: Features,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
    /// Talos form: key → `value:Effect` (or `:Effect` without a value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_taints: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Kubelet {
    pub image: String,
    pub default_runtime_seccomp_profile_enabled: bool,
    pub disable_manifests_directory: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_args: BTreeMap<String, String>,
    #[serde(default, rename = "nodeIP", skip_serializing_if = "Option::is_none")]
    pub node_ip: Option<NodeIp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeIp {
    pub valid_subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Install {
    pub disk: String,
    pub image: String,
    pub wipe: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_kernel_args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Features {
    pub rbac: bool,
    pub stable_hostname: bool,
    pub apid_check_ext_key_usage: bool,
    pub disk_quota_support: bool,
    pub kube_prism: KubePrism,
    #[serde(rename = "hostDNS")]
    pub host_dns: HostDns,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubePrism {
    pub enabled: bool,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostDns {
    pub enabled: bool,
    #[serde(rename = "forwardKubeDNSToHost")]
    pub forward_kube_dns_to_host: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    pub id: String,
    pub secret: SecretString,
    pub control_plane: ControlPlane,
    pub cluster_name: String,
    pub network: ClusterNetwork,
    pub token: SecretString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secretbox_encryption_secret: Option<SecretString>,
    pub ca: CertAndKey,
    #[serde(
        default,
        rename = "aggregatorCA",
        skip_serializing_if = "Option::is_none"
    )]
    pub aggregator_ca: Option<CertAndKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<KeyOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ApiServer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Component>,
    pub discovery: Discovery,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<Etcd>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_manifests: Vec<InlineManifest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_scheduling_on_control_planes: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlane {
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterNetwork {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<Cni>,
    pub dns_domain: String,
    pub pod_subnets: Vec<String>,
    pub service_subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cni {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServer {
    pub image: String,
    #[serde(rename = "certSANs")]
    pub cert_sans: Vec<String>,
    pub disable_pod_security_policy: bool,
    /// Plugin configurations are free-form objects owned by the Kubernetes admission plugins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admission_control: Vec<AdmissionPlugin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_policy: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionPlugin {
    pub name: String,
    pub configuration: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    pub enabled: bool,
    pub registries: DiscoveryRegistries,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryRegistries {
    pub kubernetes: RegistryToggle,
    pub service: RegistryToggle,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryToggle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Etcd {
    pub ca: CertAndKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineManifest {
    pub name: String,
    pub contents: String,
}

/// `talosctl`'s client configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TalosConfig {
    pub context: String,
    pub contexts: BTreeMap<String, TalosContext>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TalosContext {
    pub endpoints: Vec<String>,
    pub nodes: Vec<String>,
    pub ca: String,
    pub crt: String,
    /// The admin key: full control of every node.
    pub key: SecretString,
}

// By hand, so a talosconfig handed to the Talos client can be logged with `{:?}` safely.
impl std::fmt::Debug for TalosContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TalosContext")
            .field("endpoints", &self.endpoints)
            .field("nodes", &self.nodes)
            .field("ca", &"<certificate>")
            .field("crt", &"<certificate>")
            .field("key", &crate::secret::REDACTED)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_config_debug_never_shows_keys_or_tokens() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("golden/dev/talos/cp01-main.yaml"),
        )
        .unwrap();
        let config: MachineConfig = crate::yaml::from_str(&text).unwrap();
        let shown = format!("{config:?}");
        assert!(shown.contains("controlplane"), "{shown}");
        let secrets = [
            config.machine.token.expose(),
            config.machine.ca.key.expose(),
            config.cluster.secret.expose(),
            config.cluster.token.expose(),
            config.cluster.ca.key.expose(),
        ];
        for secret in secrets {
            assert!(secret.len() > 8, "the golden config holds this secret");
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn talosconfig_debug_never_shows_credentials() {
        let config = TalosConfig {
            context: "dev".into(),
            contexts: BTreeMap::from([(
                "dev".into(),
                TalosContext {
                    endpoints: vec!["203.0.113.10".into()],
                    nodes: vec!["203.0.113.10".into()],
                    ca: "Q0FDRVJU".into(),
                    crt: "Q0xJRU5UQ0VSVA==".into(),
                    key: SecretString::new("U0VDUkVUS0VZ"),
                },
            )]),
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("203.0.113.10"), "{shown}");
        for secret in ["Q0FDRVJU", "Q0xJRU5UQ0VSVA==", "U0VDUkVUS0VZ"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
