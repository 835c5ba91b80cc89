//! Typed Talos machine configs, the subset kubectl zt renders: the v1alpha1 document (what
//! our templates write, plus the fields config patches most often set) and the documents Talos
//! 1.12 added that we write (`HostnameConfig`, `ResolverConfig`).
//!
//! Rendered templates are read back into these types with unknown fields rejected, so a typo in
//! a template (or in an override template) fails the render instead of reaching a node. Field
//! order follows `talosctl gen config`, so the normalised output reads like what operators know.
//! Fields a line does not write are `Option`s left out when `None`.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::diag::Pos;
use crate::secret::SecretString;
use crate::yaml::{self, YamlError};

/// A machine config as Talos reads it: the v1alpha1 document first, then the documents of
/// Talos 1.12 and later, each at most once (the only ones kubectl zt writes).
#[derive(Debug, Clone, PartialEq)]
pub struct MachineConfigDocuments {
    pub config: MachineConfig,
    pub hostname: Option<HostnameConfig>,
    pub resolver: Option<ResolverConfig>,
}

/// The documents besides v1alpha1 that [`MachineConfigDocuments`] reads, by `kind`.
pub const EXTRA_KINDS: &[&str] = &[HOSTNAME_KIND, RESOLVER_KIND];
pub const HOSTNAME_KIND: &str = "HostnameConfig";
pub const RESOLVER_KIND: &str = "ResolverConfig";
/// The `apiVersion` of every document [`EXTRA_KINDS`] names.
pub const DOCUMENT_API_VERSION: &str = "v1alpha1";

/// What picks a document's type: v1alpha1 has `version`, the others `apiVersion` + `kind`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentHeader {
    version: Option<String>,
    api_version: Option<String>,
    kind: Option<String>,
}

impl MachineConfigDocuments {
    /// Reads a YAML stream strictly: unknown fields, unknown or repeated kinds, a stream that
    /// does not start with the v1alpha1 document, all are errors with the line in the stream.
    pub fn from_yaml(text: &str) -> Result<Self, YamlError> {
        let mut config = None;
        let mut hostname = None;
        let mut resolver = None;
        for (start, doc) in split_documents(text) {
            let at = |e: YamlError| YamlError {
                pos: e.pos.map(|p| Pos::new(p.line + start, p.col)),
                message: e.message,
                limit: e.limit,
            };
            let here = Some(Pos::new(start + 1, 1));
            let header: DocumentHeader = yaml::from_str(doc).map_err(at)?;
            if config.is_none() {
                if header.version.is_none() || header.kind.is_some() {
                    return Err(YamlError::new(
                        here,
                        "the first document must be the v1alpha1 machine config (`version: v1alpha1`)",
                    ));
                }
                config = Some(yaml::from_str::<MachineConfig>(doc).map_err(at)?);
                continue;
            }
            fn once<T: DeserializeOwned>(
                slot: &mut Option<T>,
                doc: &str,
                kind: &str,
                here: Option<Pos>,
                at: impl Fn(YamlError) -> YamlError,
            ) -> Result<(), YamlError> {
                if slot.is_some() {
                    return Err(YamlError::new(
                        here,
                        format!("a second {kind} document (Talos takes one)"),
                    ));
                }
                *slot = Some(yaml::from_str(doc).map_err(at)?);
                Ok(())
            }
            if header.api_version.as_deref() != Some(DOCUMENT_API_VERSION) {
                return Err(YamlError::new(
                    here,
                    format!("expected `apiVersion: {DOCUMENT_API_VERSION}` in this document"),
                ));
            }
            match header.kind.as_deref() {
                Some(HOSTNAME_KIND) => once(&mut hostname, doc, HOSTNAME_KIND, here, at)?,
                Some(RESOLVER_KIND) => once(&mut resolver, doc, RESOLVER_KIND, here, at)?,
                _ => {
                    return Err(YamlError::new(
                        here,
                        format!(
                            "expected a document of kind {} after the v1alpha1 one",
                            EXTRA_KINDS.join(" or ")
                        ),
                    ));
                }
            }
        }
        let config = config.ok_or_else(|| YamlError::new(None, "no machine config document"))?;
        Ok(MachineConfigDocuments {
            config,
            hostname,
            resolver,
        })
    }

    /// The normal form: v1alpha1, then `HostnameConfig`, then `ResolverConfig`, separated by
    /// `---` (as `talosctl gen config` separates its documents).
    pub fn to_yaml(&self) -> Result<String, YamlError> {
        let mut out = yaml::to_string(&self.config)?;
        if let Some(h) = &self.hostname {
            out.push_str("---\n");
            out.push_str(&yaml::to_string(h)?);
        }
        if let Some(r) = &self.resolver {
            out.push_str("---\n");
            out.push_str(&yaml::to_string(r)?);
        }
        Ok(out)
    }

    /// Documents besides v1alpha1, by kind, in output order.
    pub fn extra_kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.hostname.is_some() {
            kinds.push(HOSTNAME_KIND);
        }
        if self.resolver.is_some() {
            kinds.push(RESOLVER_KIND);
        }
        kinds
    }
}

/// Splits a YAML stream at its `---` lines into (lines before the document, its text). A
/// document marker is `---` at the start of a line followed by a space or the line's end; YAML
/// reserves that even inside block and quoted scalars, so the split is exact. Documents with
/// nothing but comments and blank lines are dropped, as a YAML reader drops them.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start_line = 0;
    let mut start_byte = 0;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let marker = body == "---" || body.starts_with("--- ") || body.starts_with("---\t");
        if marker && i > 0 {
            docs.push((start_line, &text[start_byte..offset]));
            start_line = i;
            start_byte = offset;
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start_byte..]));
    docs.retain(|(_, d)| {
        d.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && t != "---"
        })
    });
    docs
}

/// `HostnameConfig` (Talos 1.12+): a static hostname (`auto: off`) or an automatic one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostnameConfig {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// `ResolverConfig` (Talos 1.12+): the nameservers `machine.network.nameservers` held before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResolverConfig {
    pub api_version: String,
    pub kind: String,
    pub nameservers: Vec<Nameserver>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nameserver {
    pub address: String,
}

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
    /// Talos 1.12+ moved what we write here (hostname, nameservers) into documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    pub install: Install,
    // `files` through `kernel` and `nodeAnnotations`: never written by our templates, there for
    // config patches (README, "Config patches").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<MachineFile>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysfs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registries: Option<Registries>,
    pub features: Features,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_annotations: BTreeMap<String, String>,
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
    #[serde(default, rename = "clusterDNS", skip_serializing_if = "Vec::is_empty")]
    pub cluster_dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_mounts: Vec<ExtraMount>,
    /// A `KubeletConfiguration` fragment, owned by the kubelet: free-form here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_config: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, rename = "nodeIP", skip_serializing_if = "Option::is_none")]
    pub node_ip: Option<NodeIp>,
    #[serde(
        default,
        rename = "registerWithFQDN",
        skip_serializing_if = "Option::is_none"
    )]
    pub register_with_fqdn: Option<bool>,
}

/// A host directory the kubelet sees (`machine.kubelet.extraMounts[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraMount {
    pub destination: String,
    #[serde(rename = "type")]
    pub mount_type: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A file Talos writes on the node (`machine.files[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineFile {
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<u32>,
    pub path: String,
    /// `create`, `append` or `overwrite` (Talos checks which paths allow which).
    pub op: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Time {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_timeout: Option<String>,
}

/// `machine.registries`: mirrors only. `config` (per-registry TLS and credentials) is left
/// out until credentials can come from somewhere other than the tenant repo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registries {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mirrors: BTreeMap<String, RegistryMirror>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegistryMirror {
    pub endpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_path: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_fallback: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<KernelModule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelModule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
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
    /// Written from Talos 1.12 on, as `talosctl gen config` does.
    #[serde(
        default,
        rename = "grubUseUKICmdline",
        skip_serializing_if = "Option::is_none"
    )]
    pub grub_use_uki_cmdline: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_kernel_args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Features {
    /// `rbac`, `stableHostname` and `apidCheckExtKeyUsage` are Talos 1.11 only: 1.12 locks
    /// the first and the last on and replaces the middle one with `HostnameConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_hostname: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apid_check_ext_key_usage: Option<bool>,
    pub disk_quota_support: bool,
    pub kube_prism: KubePrism,
    #[serde(rename = "hostDNS")]
    pub host_dns: HostDns,
    #[serde(
        default,
        rename = "kubernetesTalosAPIAccess",
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes_talos_api_access: Option<KubernetesTalosApiAccess>,
}

/// Lets pods in the named namespaces reach the Talos API with the named roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesTalosApiAccess {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_kubernetes_namespaces: Vec<String>,
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
    #[serde(default, rename = "coreDNS", skip_serializing_if = "Option::is_none")]
    pub core_dns: Option<CoreDns>,
    /// URLs Talos fetches manifests from when it bootstraps the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_manifests: Vec<String>,
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
    /// Manifests of a `custom` CNI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServer {
    // Defaulted: an environment-wide patch may give a worker (which has no apiServer) a
    // section with only, say, extraArgs, as talosctl allows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_args: BTreeMap<String, String>,
    #[serde(default, rename = "certSANs", skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
    /// Talos 1.11 only (1.12 no longer writes it: there is no PodSecurityPolicy to disable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_pod_security_policy: Option<bool>,
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

/// `cluster.controllerManager` and `cluster.scheduler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Component {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `iptables`, `ipvs` or `nftables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(
        default,
        rename = "extraArgs",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub extra_args: BTreeMap<String, String>,
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
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Etcd {
    /// Control plane only; a worker's `etcd` (from a patch for every node) has no CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CertAndKey>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_args: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advertised_subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen_subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreDns {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
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

/// `Debug` is derived: the key is a [`SecretString`], so a talosconfig handed to the Talos
/// client can be logged with `{:?}` safely (the certificates are public).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TalosContext {
    pub endpoints: Vec<String>,
    pub nodes: Vec<String>,
    pub ca: String,
    pub crt: String,
    /// The admin key: full control of every node.
    pub key: SecretString,
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

    fn golden(path: &str) -> String {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
            .unwrap()
    }

    #[test]
    fn machine_configs_of_every_shape_read_back_to_the_same_bytes() {
        // dev's control plane carries the Cilium manifest, a YAML stream with `---` lines of
        // its own inside a block scalar: they are content, not document markers.
        for path in [
            "golden/dev/talos/cp01-main.yaml",
            "golden/dev@1.12/talos/cp01-main.yaml",
            "golden/edge-flannel@1.13/talos/edge-storage.yaml",
        ] {
            let text = golden(path);
            let docs = MachineConfigDocuments::from_yaml(&text).unwrap();
            assert_eq!(docs.to_yaml().unwrap(), text, "{path}");
            let multidoc = path.contains('@');
            assert_eq!(docs.hostname.is_some(), multidoc, "{path}");
        }
        let docs = MachineConfigDocuments::from_yaml(&golden(
            "golden/edge-flannel@1.13/talos/edge-storage.yaml",
        ))
        .unwrap();
        assert_eq!(docs.extra_kinds(), [HOSTNAME_KIND, RESOLVER_KIND]);
        assert_eq!(docs.resolver.unwrap().nameservers[0].address, "1.1.1.1");
    }

    #[test]
    fn a_stream_with_documents_we_do_not_write_is_refused_at_their_line() {
        let v1alpha1 = golden("golden/dev@1.12/talos/worker01.yaml");
        let lines = v1alpha1.lines().count();
        let cases = [
            (
                format!("{v1alpha1}---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: x\n"),
                "a second HostnameConfig",
            ),
            (
                format!("{v1alpha1}---\napiVersion: v1alpha1\nkind: KubeSpanConfig\n"),
                "HostnameConfig or ResolverConfig",
            ),
            (
                format!(
                    "{v1alpha1}---\napiVersion: v1alpha2\nkind: ResolverConfig\nnameservers: []\n"
                ),
                "apiVersion: v1alpha1",
            ),
            (
                "apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: x\n".to_string(),
                "first document must be the v1alpha1",
            ),
        ];
        for (text, want) in cases {
            let e = MachineConfigDocuments::from_yaml(&text).unwrap_err();
            assert!(e.message.contains(want), "{want}: {e}");
        }
        // A field error in a later document carries its line in the whole stream.
        let text = format!(
            "{v1alpha1}---\napiVersion: v1alpha1\nkind: ResolverConfig\nnameservers:\n- address: 1.1.1.1\n  port: 53\n"
        );
        let e = MachineConfigDocuments::from_yaml(&text).unwrap_err();
        assert!(e.message.contains("port"), "{e}");
        // `---` is line lines + 1, so `port` is line lines + 6.
        assert_eq!(e.pos.map(|p| (p.line, p.col)), Some((lines + 6, 3)), "{e}");
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
        // Certificates are public; the key is the secret.
        assert!(!shown.contains("U0VDUkVUS0VZ"), "{shown}");
    }
}
