//! Reads `environments/<env>/talos-values.yaml` into [`EnvValues`], reporting every problem at
//! once with its position.
//!
//! Label values and other strings written unquoted where YAML 1.1 reads another type (`true`,
//! `yes`, `0755`) are errors asking for quotes: Kubernetes would read them as that type, and a
//! quoted `"true"` always stays the string `true` in the output.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;

use super::model::{
    Cluster, Cni, ConfigPatch, EnvValues, Kubernetes, Machine, PatchOp, Role, Taint, TaintEffect,
    Talos, TalosLine, defaults,
};
use super::rules;
use crate::diag::{Diagnostics, Pos};
use crate::secret::SecretString;
use crate::yaml::decode::{Decoder, Fields};
use crate::yaml::{self, Node};

const TOP_KEYS: &[&str] = &[
    "controlplane",
    "workers",
    "cluster",
    "talos",
    "kubernetes",
    "patches",
    "controlplane_patches",
    "worker_patches",
];
const MACHINE_KEYS: &[&str] = &[
    "name",
    "ip",
    "rescue_password",
    "install_disk",
    "labels",
    "taints",
    "nameservers",
    "patches",
];
const CLUSTER_KEYS: &[&str] = &[
    "name",
    "endpoint",
    "podSubnet",
    "serviceSubnet",
    "dnsDomain",
    "cni",
    "allowSchedulingOnControlPlanes",
];
const TALOS_KEYS: &[&str] = &["version", "installer_image", "schematic"];
const KUBERNETES_KEYS: &[&str] = &["version"];
const TAINT_KEYS: &[&str] = &["key", "value", "effect"];

/// Parses and validates one environment's values. `file` is only used in diagnostics.
pub fn parse(src: &str, file: &Path, env: &str) -> Result<EnvValues, Diagnostics> {
    let doc = yaml::parse_file_document(src, file)?;
    let mut d = Decoder::new(file);
    let Some(top) = d.fields(&doc, "", TOP_KEYS) else {
        return Err(d.finish().sorted());
    };

    let controlplane = d
        .required(&top, "controlplane")
        .and_then(|n| machine(&mut d, n, "controlplane", Role::ControlPlane));
    let workers = match top.get("workers") {
        None => Some(Vec::new()),
        Some(n) => d.seq(n, "workers").map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, w)| machine(&mut d, w, &format!("workers[{i}]"), Role::Worker))
                .collect::<Vec<_>>()
        }),
    };
    let talos_node = d.required(&top, "talos");
    let talos = talos_node.and_then(|n| talos(&mut d, n));
    let kubernetes = d
        .required(&top, "kubernetes")
        .and_then(|n| kubernetes(&mut d, n, talos.as_ref()));
    let cluster = d
        .required(&top, "cluster")
        .and_then(|n| cluster(&mut d, n, controlplane.as_ref().map(|(m, _)| m)));

    let all_machines: Vec<&(Machine, Located)> = controlplane
        .iter()
        .chain(workers.iter().flatten())
        .collect();
    check_unique(&mut d, &all_machines);
    let env_patches = opt_patches(&mut d, &top, "patches");
    let controlplane_patches = opt_patches(&mut d, &top, "controlplane_patches");
    let worker_patches = opt_patches(&mut d, &top, "worker_patches");

    match (
        (controlplane, workers, cluster, talos, kubernetes),
        (env_patches, controlplane_patches, worker_patches),
    ) {
        (
            (Some((controlplane, _)), Some(workers), Some(cluster), Some(talos), Some(kubernetes)),
            (Some(patches), Some(controlplane_patches), Some(worker_patches)),
        ) if !d.has_errors() => Ok(EnvValues {
            env: env.to_string(),
            source: file.to_path_buf(),
            controlplane,
            workers: workers.into_iter().map(|(m, _)| m).collect(),
            cluster,
            talos,
            kubernetes,
            patches,
            controlplane_patches,
            worker_patches,
        }),
        _ => Err(d.finish().sorted()),
    }
}

/// Where a machine's identifying fields are, for duplicate reports.
struct Located {
    path: String,
    name_pos: Pos,
    ip_pos: Pos,
}

fn machine(d: &mut Decoder, node: &Node, path: &str, role: Role) -> Option<(Machine, Located)> {
    let f = d.fields(node, path, MACHINE_KEYS)?;
    let name = d.req_string(&f, "name").and_then(|n| {
        let pos = f.get("name").map(|n| n.pos);
        match rules::dns1123_label(&n) {
            Ok(()) => Some(n),
            Err(m) => {
                d.error(pos, &f.child("name"), m);
                None
            }
        }
    });
    let ip = ip_field(d, &f, "ip", true).and_then(|ip| match rules::node_address(ip) {
        Ok(()) => Some(ip),
        Err(m) => {
            d.error(f.get("ip").map(|n| n.pos), &f.child("ip"), m);
            None
        }
    });
    let rescue_password = d.opt_string(&f, "rescue_password").map(SecretString::new);
    let install_disk = match f.get("install_disk") {
        None => Some(defaults::INSTALL_DISK.to_string()),
        Some(n) => d.string(n, &f.child("install_disk")).and_then(|disk| {
            if disk.starts_with("/dev/")
                && disk.len() > 5
                && !disk.contains("..")
                && !disk.chars().any(char::is_whitespace)
            {
                Some(disk)
            } else {
                d.error(
                    Some(n.pos),
                    &f.child("install_disk"),
                    "expected a device path like /dev/sda or /dev/nvme0n1",
                );
                None
            }
        }),
    };
    let labels = match f.get("labels") {
        None => Some(BTreeMap::new()),
        Some(n) => labels(d, n, &f.child("labels")),
    };
    let taints = match f.get("taints") {
        None => Some(Vec::new()),
        Some(n) => taints(d, n, &f.child("taints")),
    };
    let nameservers = match f.get("nameservers") {
        None => Some(Vec::new()),
        Some(n) => d.seq(n, &f.child("nameservers")).map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    ip_value(d, item, &format!("{}[{i}]", f.child("nameservers")))
                })
                .collect::<Vec<_>>()
        }),
    };
    let patches = opt_patches(d, &f, "patches");
    Some((
        Machine {
            role,
            name: name?,
            ip: ip?,
            install_disk: install_disk?,
            labels: labels?,
            taints: taints?,
            nameservers: nameservers?,
            rescue_password,
            patches: patches?,
        },
        Located {
            path: path.to_string(),
            name_pos: f.get("name").map_or(node.pos, |n| n.pos),
            ip_pos: f.get("ip").map_or(node.pos, |n| n.pos),
        },
    ))
}

/// An optional list of config patches under `key`; absent means none.
fn opt_patches(d: &mut Decoder, f: &Fields<'_>, key: &str) -> Option<Vec<ConfigPatch>> {
    let Some(node) = f.get(key) else {
        return Some(Vec::new());
    };
    let path = f.child(key);
    let items = d.seq(node, &path)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match config_patch(d, item, &format!("{path}[{i}]")) {
            Some(p) => out.push(p),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// One patch, told apart by shape as Talos does: a mapping is a strategic merge into the
/// v1alpha1 document, a list is RFC 6902 operations. Values inside a patch are never echoed:
/// a patch may carry keys or tokens.
fn config_patch(d: &mut Decoder, node: &Node, path: &str) -> Option<ConfigPatch> {
    let op = if let Some(entries) = node.as_map() {
        if entries.is_empty() {
            d.error(Some(node.pos), path, "an empty patch changes nothing");
            return None;
        }
        // Talos can patch its other documents by naming them; ours come from the tenant
        // fields (HostnameConfig, ResolverConfig), so such a patch would only be merged into
        // v1alpha1 as unknown keys: say what is wrong instead.
        if let Some(e) = entries.iter().find(|e| {
            e.key
                .as_scalar()
                .is_some_and(|k| k.text == "kind" || k.text == "apiVersion")
        }) {
            d.error(
                Some(e.key.pos),
                path,
                "patches apply to the v1alpha1 document only; a patch naming another document \
                 (`apiVersion`, `kind`) is not supported",
            );
            return None;
        }
        PatchOp::Merge(node.to_json())
    } else if let Some(ops) = node.as_seq() {
        if ops.is_empty() {
            d.error(Some(node.pos), path, "an empty patch changes nothing");
            return None;
        }
        let mut parsed = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let op_path = format!("{path}[{i}]");
            if op.get("op").is_none() {
                d.error(
                    Some(op.pos),
                    &op_path,
                    "expected an RFC 6902 operation: a mapping with `op`, `path` and (for add, \
                     replace and test) `value`",
                );
                continue;
            }
            match serde_json::from_value::<json_patch::PatchOperation>(op.to_json()) {
                Ok(o) => parsed.push(o),
                Err(e) => d.error(
                    Some(op.pos),
                    &op_path,
                    format!(
                        "not an RFC 6902 operation: {}",
                        yaml::redact_quoted(&e.to_string())
                    ),
                ),
            }
        }
        if parsed.len() != ops.len() {
            return None;
        }
        PatchOp::Json6902(json_patch::Patch(parsed))
    } else {
        d.error(
            Some(node.pos),
            path,
            format!(
                "expected a patch: a mapping (strategic merge) or a list of RFC 6902 operations, \
                 found {}",
                node.describe()
            ),
        );
        return None;
    };
    Some(ConfigPatch {
        field: path.to_string(),
        pos: node.pos,
        op,
    })
}

fn ip_field(d: &mut Decoder, f: &Fields<'_>, key: &str, required: bool) -> Option<IpAddr> {
    let node = if required {
        d.required(f, key)?
    } else {
        f.get(key)?
    };
    ip_value(d, node, &f.child(key))
}

fn ip_value(d: &mut Decoder, node: &Node, path: &str) -> Option<IpAddr> {
    let text = d.string(node, path)?;
    match text.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            d.error(
                Some(node.pos),
                path,
                format!("`{text}` is not an IP address; expected an IPv4 or IPv6 address like \"203.0.113.10\""),
            );
            None
        }
    }
}

fn labels(d: &mut Decoder, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
    let entries = d.string_map(node, path)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    let key_pos: HashMap<&str, Pos> = node
        .as_map()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.key.as_scalar().map(|s| (s.text.as_str(), e.key.pos)))
        .collect();
    for (k, v, vpos) in &entries {
        let field = format!("{path}[{k}]");
        if let Err(m) = rules::label_key(k) {
            d.error(
                key_pos.get(k.as_str()).copied(),
                &field,
                format!("invalid label key: {m}"),
            );
            ok = false;
        }
        if let Err(m) = rules::label_value(v) {
            d.error(Some(*vpos), &field, format!("invalid label value: {m}"));
            ok = false;
        }
        out.insert(k.clone(), v.clone());
    }
    ok.then_some(out)
}

/// Taints as Kubernetes objects (`{key, value, effect}`) or in kubectl's `key=value:Effect` form.
fn taints(d: &mut Decoder, node: &Node, path: &str) -> Option<Vec<Taint>> {
    let items = d.seq(node, path)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let parsed = if item.as_scalar().is_some() {
            d.string(item, &p).and_then(|s| {
                let parsed = parse_taint_str(&s);
                if parsed.is_none() {
                    d.error(Some(item.pos), &p, format!("expected `key=value:Effect` or `key:Effect` (Effect one of {}), found `{s}`", TaintEffect::ALL.join(", ")));
                }
                parsed
            })
        } else {
            d.fields(item, &p, TAINT_KEYS).and_then(|f| {
                let key = d.req_string(&f, "key");
                let value = d.opt_string(&f, "value").unwrap_or_default();
                let effect = d.req_string(&f, "effect").and_then(|e| {
                    let parsed = TaintEffect::parse(&e);
                    if parsed.is_none() {
                        d.error(
                            f.get("effect").map(|n| n.pos),
                            &f.child("effect"),
                            format!(
                                "expected one of {}, found `{e}`",
                                TaintEffect::ALL.join(", ")
                            ),
                        );
                    }
                    parsed
                });
                Some(Taint {
                    key: key?,
                    value,
                    effect: effect?,
                })
            })
        };
        match parsed {
            Some(t) => {
                if let Err(m) = rules::label_key(&t.key) {
                    d.error(Some(item.pos), &p, format!("invalid taint key: {m}"));
                    ok = false;
                } else if let Err(m) = rules::label_value(&t.value) {
                    d.error(Some(item.pos), &p, format!("invalid taint value: {m}"));
                    ok = false;
                } else if out.iter().any(|o: &Taint| o.key == t.key) {
                    // Talos keeps taints in a map keyed by taint key: one effect per key.
                    d.error(
                        Some(item.pos),
                        &p,
                        format!(
                            "duplicate taint key `{}`: Talos allows one taint per key",
                            t.key
                        ),
                    );
                    ok = false;
                } else {
                    out.push(t);
                }
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_taint_str(s: &str) -> Option<Taint> {
    let (kv, effect) = s.rsplit_once(':')?;
    let effect = TaintEffect::parse(effect)?;
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, v),
        None => (kv, ""),
    };
    Some(Taint {
        key: key.to_string(),
        value: value.to_string(),
        effect,
    })
}

fn talos(d: &mut Decoder, node: &Node) -> Option<Talos> {
    let f = d.fields(node, "talos", TALOS_KEYS)?;
    let version = d.req_string(&f, "version").and_then(|v| {
        let pos = f.get("version").map(|n| n.pos);
        match rules::version(&v) {
            Ok(ver) => match TalosLine::of(ver) {
                Some(line) => Some((ver, *line)),
                None => {
                    d.error(
                        pos,
                        "talos.version",
                        format!(
                            "Talos {ver} is not supported: kubectl zt renders machine configs for Talos {}",
                            TalosLine::supported_list()
                        ),
                    );
                    None
                }
            },
            Err(m) => {
                d.error(pos, "talos.version", m);
                None
            }
        }
    });
    let schematic = match f.get("schematic") {
        None => Ok(None),
        Some(n) => match d.string(n, "talos.schematic") {
            None => Err(()),
            Some(id) => match rules::schematic_id(&id) {
                Ok(()) => Ok(Some(id)),
                Err(m) => {
                    d.error(Some(n.pos), "talos.schematic", m);
                    Err(())
                }
            },
        },
    };
    let installer_image = match f.get("installer_image") {
        Some(n) => {
            d.string(n, "talos.installer_image")
                .and_then(|img| match rules::image_ref(&img) {
                    Ok(()) => Some(img),
                    Err(m) => {
                        d.error(Some(n.pos), "talos.installer_image", m);
                        None
                    }
                })
        }
        None => match (&version, &schematic) {
            (Some((v, _)), Ok(Some(id))) => Some(format!(
                "{}/{id}:{v}",
                defaults::FACTORY_INSTALLER_REPOSITORY
            )),
            (Some((v, _)), Ok(None)) => Some(format!("{}:{v}", defaults::INSTALLER_REPOSITORY)),
            _ => None,
        },
    };
    let (version, line) = version?;
    Some(Talos {
        version,
        line,
        schematic: schematic.ok()?,
        installer_image: installer_image?,
    })
}

fn kubernetes(d: &mut Decoder, node: &Node, talos: Option<&Talos>) -> Option<Kubernetes> {
    let f = d.fields(node, "kubernetes", KUBERNETES_KEYS)?;
    let pos = f.get("version").map(|n| n.pos);
    let version = d
        .req_string(&f, "version")
        .and_then(|v| match rules::version(&v) {
            Err(m) => {
                d.error(pos, "kubernetes.version", m);
                None
            }
            // Without a supported Talos version there is no matrix to check against; that
            // error is reported on talos.version.
            Ok(ver) => match talos {
                Some(t) if !t.line.supports_kubernetes(ver) => {
                    let (lo, hi) = t.line.kubernetes_minors;
                    d.error(
                        pos,
                        "kubernetes.version",
                        format!(
                            "Kubernetes {ver} is not supported by Talos {}: use v1.{lo}.x to v1.{hi}.x",
                            t.version
                        ),
                    );
                    None
                }
                _ => Some(ver),
            },
        });
    Some(Kubernetes { version: version? })
}

fn cluster(d: &mut Decoder, node: &Node, controlplane: Option<&Machine>) -> Option<Cluster> {
    let f = d.fields(node, "cluster", CLUSTER_KEYS)?;
    let name = d
        .req_string(&f, "name")
        .and_then(|n| match rules::dns1123_label(&n) {
            Ok(()) => Some(n),
            Err(m) => {
                d.error(f.get("name").map(|n| n.pos), "cluster.name", m);
                None
            }
        });
    let endpoint = match f.get("endpoint") {
        Some(n) => d
            .string(n, "cluster.endpoint")
            .and_then(|e| match rules::https_url(&e) {
                Ok(()) => Some(e),
                Err(m) => {
                    d.error(Some(n.pos), "cluster.endpoint", m);
                    None
                }
            }),
        None => controlplane.map(|cp| match cp.ip {
            IpAddr::V4(ip) => format!("https://{ip}:{}", defaults::API_PORT),
            IpAddr::V6(ip) => format!("https://[{ip}]:{}", defaults::API_PORT),
        }),
    };
    let mut subnet = |key: &str, default: &str| -> Option<rules::Cidr> {
        let (text, pos) = match f.get(key) {
            Some(n) => (d.string(n, &f.child(key))?, Some(n.pos)),
            None => (default.to_string(), None),
        };
        match rules::cidr(&text) {
            Ok(c) => Some(c),
            Err(m) => {
                d.error(pos, &f.child(key), m);
                None
            }
        }
    };
    let pod_subnet = subnet("podSubnet", defaults::POD_SUBNET);
    let service_subnet = subnet("serviceSubnet", defaults::SERVICE_SUBNET);
    if let (Some(p), Some(s)) = (pod_subnet, service_subnet)
        && p.overlaps(&s)
    {
        let pos = f
            .get("serviceSubnet")
            .or(f.get("podSubnet"))
            .map_or(node.pos, |n| n.pos);
        d.error(
            Some(pos),
            "cluster.serviceSubnet",
            format!("service subnet {s} overlaps pod subnet {p}"),
        );
    }
    let dns_domain = match f.get("dnsDomain") {
        None => Some(defaults::DNS_DOMAIN.to_string()),
        Some(n) => {
            d.string(n, "cluster.dnsDomain")
                .and_then(|s| match rules::dns1123_subdomain(&s) {
                    Ok(()) => Some(s),
                    Err(m) => {
                        d.error(Some(n.pos), "cluster.dnsDomain", m);
                        None
                    }
                })
        }
    };
    let cni = match f.get("cni") {
        None => Some(Cni::Cilium),
        Some(n) => d.string(n, "cluster.cni").and_then(|s| {
            let c = Cni::parse(&s);
            if c.is_none() {
                d.error(
                    Some(n.pos),
                    "cluster.cni",
                    format!("expected one of {}, found `{s}`", Cni::ALL.join(", ")),
                );
            }
            c
        }),
    };
    let allow = match f.get("allowSchedulingOnControlPlanes") {
        None => Some(false),
        Some(n) => d.bool(n, "cluster.allowSchedulingOnControlPlanes"),
    };
    Some(Cluster {
        name: name?,
        endpoint: endpoint?,
        pod_subnet: pod_subnet?,
        service_subnet: service_subnet?,
        dns_domain: dns_domain?,
        cni: cni?,
        allow_scheduling_on_control_planes: allow?,
    })
}

fn check_unique(d: &mut Decoder, machines: &[&(Machine, Located)]) {
    let mut names: HashMap<&str, Pos> = HashMap::new();
    let mut ips: HashMap<IpAddr, (&str, Pos)> = HashMap::new();
    for (m, at) in machines.iter().map(|x| (&x.0, &x.1)) {
        if let Some(first) = names.get(m.name.as_str()) {
            d.error(
                Some(at.name_pos),
                &format!("{}.name", at.path),
                format!(
                    "duplicate node name `{}` (first used at line {})",
                    m.name, first.line
                ),
            );
        } else {
            names.insert(&m.name, at.name_pos);
        }
        if let Some((other, first)) = ips.get(&m.ip) {
            d.error(
                Some(at.ip_pos),
                &format!("{}.ip", at.path),
                format!(
                    "{} is already the IP of `{other}` (line {})",
                    m.ip, first.line
                ),
            );
        } else {
            ips.insert(m.ip, (&m.name, at.ip_pos));
        }
    }
}
