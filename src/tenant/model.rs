//! The typed model of one environment of the tenant repository, with every default applied.
//! Loading (`values.rs`) guarantees every value here is valid; templates can rely on it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use super::rules::{Cidr, Version};
use crate::diag::Pos;
use crate::secret::SecretString;

/// Defaults for optional fields, documented in the README's `talos-values.yaml` reference.
pub mod defaults {
    pub const POD_SUBNET: &str = "10.244.0.0/16";
    pub const SERVICE_SUBNET: &str = "10.96.0.0/12";
    pub const DNS_DOMAIN: &str = "cluster.local";
    pub const INSTALL_DISK: &str = "/dev/sda";
    pub const API_PORT: u16 = 6443;
    /// `ghcr.io/siderolabs/installer:<talos.version>`
    pub const INSTALLER_REPOSITORY: &str = "ghcr.io/siderolabs/installer";
    /// With `talos.schematic`: the Image Factory's installer for bare metal,
    /// `factory.talos.dev/metal-installer/<schematic>:<talos.version>`.
    pub const FACTORY_INSTALLER_REPOSITORY: &str = "factory.talos.dev/metal-installer";
}

/// How a Talos line wants its machine config written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigShape {
    /// One `v1alpha1` document holding everything (Talos up to 1.11).
    SingleDocument,
    /// The `v1alpha1` document plus `HostnameConfig`, `ResolverConfig`, … (Talos 1.12 on):
    /// the fields those documents replace are deprecated, and Talos refuses a config that has
    /// both.
    MultiDocument,
}

/// One Talos line kubectl zt renders for: what it accepts and what shape its output has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TalosLine {
    /// Talos 1.`minor`.
    pub minor: u32,
    /// The Kubernetes minor releases this line supports (Talos's support matrix).
    pub kubernetes_minors: (u32, u32),
    pub shape: ConfigShape,
}

impl TalosLine {
    /// `v1.12`, as users and the oracles name a line.
    pub fn name(&self) -> String {
        format!("v1.{}", self.minor)
    }

    pub fn supports_kubernetes(&self, v: Version) -> bool {
        v.major == 1 && (self.kubernetes_minors.0..=self.kubernetes_minors.1).contains(&v.minor)
    }

    /// The line `v` belongs to, if kubectl zt supports it.
    pub fn of(v: Version) -> Option<&'static TalosLine> {
        TALOS_LINES
            .iter()
            .find(|l| v.major == 1 && v.minor == l.minor)
    }

    /// `v1.11.x, v1.12.x, v1.13.x`, for messages.
    pub fn supported_list() -> String {
        TALOS_LINES
            .iter()
            .map(|l| format!("{}.x", l.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every Talos line kubectl zt renders for. Supporting a new line is one entry here (its
/// Kubernetes range from the Talos support matrix) and one `tests/oracles/talos/lines/<line>.mod`;
/// a line whose documents move settings again also needs its own [`ConfigShape`].
pub const TALOS_LINES: &[TalosLine] = &[
    TalosLine {
        minor: 11,
        kubernetes_minors: (29, 34),
        shape: ConfigShape::SingleDocument,
    },
    TalosLine {
        minor: 12,
        kubernetes_minors: (30, 35),
        shape: ConfigShape::MultiDocument,
    },
    TalosLine {
        minor: 13,
        kubernetes_minors: (31, 36),
        shape: ConfigShape::MultiDocument,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    /// Talos `machine.type`.
    pub fn machine_type(self) -> &'static str {
        match self {
            Role::ControlPlane => "controlplane",
            Role::Worker => "worker",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    pub const ALL: [&'static str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NoSchedule" => Some(Self::NoSchedule),
            "PreferNoSchedule" => Some(Self::PreferNoSchedule),
            "NoExecute" => Some(Self::NoExecute),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: TaintEffect,
}

/// One Talos machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub role: Role,
    pub name: String,
    pub ip: IpAddr,
    pub install_disk: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub nameservers: Vec<IpAddr>,
    /// Only used by out-of-band provisioning (rescue systems); never rendered, never printed.
    pub rescue_password: Option<SecretString>,
    /// This node's own config patches (`controlplane.patches`, `workers[].patches`), applied
    /// last.
    pub patches: Vec<ConfigPatch>,
}

/// One Talos config patch from talos-values.yaml, applied to the rendered v1alpha1 document.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigPatch {
    /// Where it is written, as a field path (`worker_patches[1]`), for messages.
    pub field: String,
    /// Its position in talos-values.yaml: every error about the patch points here.
    pub pos: Pos,
    pub op: PatchOp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PatchOp {
    /// A mapping merged into the document as Talos merges one (`talos::merge`: mappings merge,
    /// most lists append, `$patch: delete` removes).
    Merge(serde_json::Value),
    /// An RFC 6902 operation list.
    Json6902(json_patch::Patch),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cni {
    /// Talos installs no CNI (`cni.name: none`); Cilium comes from the platform repo as an inline
    /// manifest.
    Cilium,
    /// Talos's default CNI.
    Flannel,
    /// No CNI at all: the operator installs one.
    None,
}

impl Cni {
    pub const ALL: [&'static str; 3] = ["cilium", "flannel", "none"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cilium" => Some(Self::Cilium),
            "flannel" => Some(Self::Flannel),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cilium => "cilium",
            Self::Flannel => "flannel",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub endpoint: String,
    pub pod_subnet: Cidr,
    pub service_subnet: Cidr,
    pub dns_domain: String,
    pub cni: Cni,
    pub allow_scheduling_on_control_planes: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Talos {
    pub version: Version,
    /// The line `version` belongs to; loading guarantees it is one of [`TALOS_LINES`].
    pub line: TalosLine,
    /// An Image Factory schematic ID (64 hex digits): the installer image's extensions and
    /// kernel arguments.
    pub schematic: Option<String>,
    /// The explicit `installer_image`, else the factory image of `schematic`, else Talos's
    /// own installer.
    pub installer_image: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Kubernetes {
    pub version: Version,
}

/// `environments/<env>/talos-values.yaml`, loaded and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvValues {
    pub env: String,
    pub source: PathBuf,
    pub controlplane: Machine,
    pub workers: Vec<Machine>,
    pub cluster: Cluster,
    pub talos: Talos,
    pub kubernetes: Kubernetes,
    /// `patches`: applied to every node first.
    pub patches: Vec<ConfigPatch>,
    /// `controlplane_patches`: applied to the control plane after the environment's.
    pub controlplane_patches: Vec<ConfigPatch>,
    /// `worker_patches`: applied to every worker after the environment's.
    pub worker_patches: Vec<ConfigPatch>,
}

impl EnvValues {
    /// The control plane first, then the workers in file order.
    pub fn machines(&self) -> impl Iterator<Item = &Machine> {
        std::iter::once(&self.controlplane).chain(self.workers.iter())
    }

    /// The patches for `m`, in the order they apply: environment, role, node (the node's own
    /// patches come last, so they win).
    pub fn patches_for<'a>(&'a self, m: &'a Machine) -> impl Iterator<Item = &'a ConfigPatch> {
        let role = match m.role {
            Role::ControlPlane => &self.controlplane_patches,
            Role::Worker => &self.worker_patches,
        };
        self.patches
            .iter()
            .chain(role.iter())
            .chain(m.patches.iter())
    }
}
