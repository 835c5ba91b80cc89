//! The typed model of one environment of the tenant repository, with every default applied.
//! Loading (`values.rs`) guarantees every value here is valid; templates can rely on it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use super::rules::{Cidr, Version};
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
}

/// The Talos minor release the rendered configs target.
pub const TALOS_MINOR: (u32, u32) = (1, 11);
/// The Kubernetes minor releases Talos 1.11 supports.
pub const KUBERNETES_MINORS: std::ops::RangeInclusive<u32> = 29..=34;

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
}

impl EnvValues {
    /// The control plane first, then the workers in file order.
    pub fn machines(&self) -> impl Iterator<Item = &Machine> {
        std::iter::once(&self.controlplane).chain(self.workers.iter())
    }
}
