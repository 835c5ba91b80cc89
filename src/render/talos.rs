//! The Talos stage: one machine config per node and a talosconfig.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use minijinja::Environment;
use minijinja::value::Serde;

use super::RenderError;
use super::context::{
    CertPair, InlineManifest, MachineCtx, TalosCtx, TalosSecrets, TalosconfigCtx, VersionCtx,
    cluster_ctx, node_ctx,
};
use super::output::OutputTree;
use super::templates::template_error;
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::source::RepoFiles;
use crate::talos::config::{MachineConfig, MachineConfigDocuments, TalosConfig};
use crate::talos::merge::strategic_merge;
use crate::tenant::model::{
    Cni, ConfigPatch, ConfigShape, EnvValues, Machine, PatchOp, Role, TalosLine,
};
use crate::yaml;

/// Where the platform repository keeps the Cilium manifest Talos applies at bootstrap.
pub const CILIUM_MANIFEST: &str = "bootstrap/talos/templates/cilium-bootstrap.yaml";
/// The inline manifest's name in the machine config.
pub const CILIUM_INLINE_NAME: &str = "cilium-bootstrap";

pub const MACHINE_TEMPLATE: &str = "talos/machine.yaml";
pub const TALOSCONFIG_TEMPLATE: &str = "talos/talosconfig.yaml";

/// Everything the Talos stage needs besides the templates.
pub struct TalosInputs<'a> {
    pub values: &'a EnvValues,
    pub secrets: &'a TalosSecrets,
    /// The talosconfig admin client certificate (signed by the bundle's os CA).
    pub admin: &'a CertPair,
    /// A platform repository checkout, for the Cilium bootstrap manifest.
    pub platform_repo: Option<&'a RepoFiles>,
}

/// Reads the Cilium manifest from the platform repo and checks it is a YAML stream of objects.
pub fn cilium_manifest(platform_repo: &RepoFiles) -> Result<InlineManifest, RenderError> {
    let path = platform_repo.display_path(Path::new(CILIUM_MANIFEST));
    let contents = platform_repo.read(Path::new(CILIUM_MANIFEST))?.ok_or_else(|| {
        RenderError::Input(
            Diagnostic::file(
                &path,
                "the Cilium bootstrap manifest is missing from the platform repo (cluster.cni is cilium)",
            )
            .into(),
        )
    })?;
    let docs: Vec<serde_json::Value> =
        yaml::from_str_multi(&contents).map_err(|e| RenderError::Input(e.in_file(&path).into()))?;
    if let Some(i) = docs
        .iter()
        .position(|d| d.get("apiVersion").is_none() || d.get("kind").is_none())
    {
        return Err(RenderError::Input(
            Diagnostic::file(
                &path,
                format!(
                    "document {} is not a Kubernetes object (no apiVersion or kind)",
                    i + 1
                ),
            )
            .into(),
        ));
    }
    Ok(InlineManifest {
        name: CILIUM_INLINE_NAME.into(),
        contents,
    })
}

/// Renders `talos/<node>.yaml` for every node and `talos/talosconfig`.
pub fn render(
    env: &Environment<'_>,
    inputs: &TalosInputs<'_>,
    tree: &mut OutputTree,
    warnings: &mut Vec<String>,
) -> Result<(), RenderError> {
    let v = inputs.values;
    let shared = SharedCtx {
        cluster: cluster_ctx(v),
        talos: TalosCtx {
            version: v.talos.version.to_string(),
            installer_image: v.talos.installer_image.clone(),
            multidoc: v.talos.line.shape == ConfigShape::MultiDocument,
        },
        kubernetes: VersionCtx {
            version: v.kubernetes.version.to_string(),
        },
        worker_secrets: inputs.secrets.for_worker(),
        inline: inline_manifests(v, inputs.platform_repo, warnings)?,
    };
    let machine_tmpl = env
        .get_template(MACHINE_TEMPLATE)
        .map_err(|e| template_error(MACHINE_TEMPLATE, &e))?;

    // Patches that changed some node's config. An environment or role patch may leave one
    // node as it was (that node already had the value) and still do its work on others; only
    // a patch that changes no node at all is dead and refused.
    let mut effective: HashSet<&str> = HashSet::new();
    for m in v.machines() {
        let (out_path, bytes) = render_machine(&machine_tmpl, &shared, inputs, m, &mut effective)?;
        tree.insert(out_path, bytes.into_bytes(), true)?;
    }
    no_op_patches(v, &effective)?;

    let bytes = render_talosconfig(env, inputs, &shared.cluster)?;
    tree.insert(PathBuf::from(TALOSCONFIG_OUTPUT), bytes.into_bytes(), true)?;
    Ok(())
}

const TALOSCONFIG_OUTPUT: &str = "talos/talosconfig";

/// What every node's template context shares.
struct SharedCtx {
    cluster: super::context::ClusterCtx,
    talos: TalosCtx,
    kubernetes: VersionCtx,
    /// The bundle without the CA keys only a control plane holds.
    worker_secrets: TalosSecrets,
    /// The control plane's inline manifests (Cilium when it is the CNI).
    inline: Vec<InlineManifest>,
}

/// The control plane's inline manifests: Cilium's, read from the platform repo, when it is the
/// CNI. Without a platform repo the nodes would wait for a CNI: said as a warning.
fn inline_manifests(
    v: &EnvValues,
    platform_repo: Option<&RepoFiles>,
    warnings: &mut Vec<String>,
) -> Result<Vec<InlineManifest>, RenderError> {
    Ok(match (v.cluster.cni, platform_repo) {
        (Cni::Cilium, Some(repo)) => vec![cilium_manifest(repo)?],
        (Cni::Cilium, None) => {
            warnings.push(format!(
                "cluster.cni is cilium but no --platform-repo was given: the control plane gets no Cilium manifest ({CILIUM_MANIFEST}) and nodes stay NotReady until a CNI is installed"
            ));
            Vec::new()
        }
        _ => Vec::new(),
    })
}

/// One node's config: template → typed documents → invariants → the node's patches → YAML.
/// Marks in `effective` the patches that changed it.
fn render_machine<'v>(
    machine_tmpl: &minijinja::Template<'_, '_>,
    shared: &SharedCtx,
    inputs: &TalosInputs<'v>,
    m: &'v Machine,
    effective: &mut HashSet<&'v str>,
) -> Result<(PathBuf, String), RenderError> {
    let v = inputs.values;
    let controlplane = m.role == Role::ControlPlane;
    let ctx = MachineCtx {
        cluster: &shared.cluster,
        talos: &shared.talos,
        kubernetes: &shared.kubernetes,
        node: node_ctx(m),
        secrets: if controlplane {
            inputs.secrets.clone()
        } else {
            shared.worker_secrets.clone()
        },
        inline_manifests: if controlplane { &shared.inline } else { &[] },
    };
    let text = machine_tmpl
        .render(Serde(&ctx))
        .map_err(|e| template_error(MACHINE_TEMPLATE, &e))?;
    let out_path = PathBuf::from("talos").join(format!("{}.yaml", m.name));
    let output_error = |pos, message| RenderError::Output {
        template: MACHINE_TEMPLATE.into(),
        output: out_path.clone(),
        pos,
        message,
    };
    let docs =
        MachineConfigDocuments::from_yaml(&text).map_err(|e| output_error(e.pos, e.message))?;
    check_machine(&docs, &v.talos.line, m.role, &m.name).map_err(|message| {
        RenderError::Invariant {
            output: out_path.clone(),
            message,
        }
    })?;
    let patches: Vec<&ConfigPatch> = v.patches_for(m).collect();
    let docs = if patches.is_empty() {
        docs
    } else {
        let (docs, changed) = apply_patches(docs, &patches, v, m)?;
        for (p, c) in patches.iter().zip(changed) {
            if c {
                effective.insert(p.field.as_str());
            }
        }
        docs
    };
    let bytes = docs.to_yaml().map_err(|e| output_error(None, e.message))?;
    Ok((out_path, bytes))
}

/// The talosconfig: the control plane as endpoint and node, the admin client certificate.
fn render_talosconfig(
    env: &Environment<'_>,
    inputs: &TalosInputs<'_>,
    cluster: &super::context::ClusterCtx,
) -> Result<String, RenderError> {
    let v = inputs.values;
    let tc_ctx = minijinja::context! {
        cluster => Serde(cluster),
        secrets => Serde(inputs.secrets),
        talosconfig => Serde(TalosconfigCtx {
            endpoints: vec![v.controlplane.ip.to_string()],
            nodes: vec![v.controlplane.ip.to_string()],
            crt: inputs.admin.crt.clone(),
            key: inputs.admin.key.clone(),
        }),
    };
    let text = env
        .get_template(TALOSCONFIG_TEMPLATE)
        .and_then(|t| t.render(tc_ctx))
        .map_err(|e| template_error(TALOSCONFIG_TEMPLATE, &e))?;
    let output_error = |pos, message| RenderError::Output {
        template: TALOSCONFIG_TEMPLATE.into(),
        output: PathBuf::from(TALOSCONFIG_OUTPUT),
        pos,
        message,
    };
    let tc: TalosConfig = yaml::from_str(&text).map_err(|e| output_error(e.pos, e.message))?;
    if !tc.contexts.contains_key(&tc.context) {
        return Err(RenderError::Invariant {
            output: PathBuf::from(TALOSCONFIG_OUTPUT),
            message: format!("context `{}` is not defined under contexts", tc.context),
        });
    }
    yaml::to_string(&tc).map_err(|e| output_error(None, e.message))
}

/// Checks what no template may get wrong, embedded or overridden: the config has the shape
/// its Talos line reads (Talos refuses a legacy field next to the document replacing it), the
/// node is what the tenant said it is, and a worker holds no CA private key.
fn check_machine(
    docs: &MachineConfigDocuments,
    line: &TalosLine,
    role: Role,
    name: &str,
) -> Result<(), String> {
    let fail = |message: String| Err(message);
    let cfg = &docs.config;
    let legacy_hostname = cfg
        .machine
        .network
        .as_ref()
        .and_then(|n| n.hostname.as_deref());
    match line.shape {
        ConfigShape::SingleDocument => {
            if let Some(kind) = docs.extra_kinds().first() {
                return fail(format!(
                    "Talos {} reads one v1alpha1 document; found a {kind} document",
                    line.name()
                ));
            }
            if legacy_hostname != Some(name) {
                return fail(format!("machine.network.hostname must be `{name}`"));
            }
        }
        ConfigShape::MultiDocument => {
            if let Some((field, replacement)) = deprecated_fields(docs).first() {
                return fail(format!(
                    "{field} is deprecated in Talos {}: write {replacement} instead (Talos \
                     refuses a config with a legacy field next to its replacement document)",
                    line.name()
                ));
            }
            let static_name = docs
                .hostname
                .as_ref()
                .filter(|h| h.auto.as_deref() == Some("off"))
                .and_then(|h| h.hostname.as_deref());
            if static_name != Some(name) {
                return fail(format!(
                    "a HostnameConfig document with `auto: off` and `hostname: {name}` is required"
                ));
            }
        }
    }
    if cfg.version != "v1alpha1" {
        return fail(format!("version must be v1alpha1, found `{}`", cfg.version));
    }
    if cfg.machine.machine_type != role.machine_type() {
        return fail(format!(
            "machine.type must be {} for this node, found `{}`",
            role.machine_type(),
            cfg.machine.machine_type
        ));
    }
    let c = &cfg.cluster;
    match role {
        Role::Worker => {
            let leaks = [
                ("machine.ca.key", !cfg.machine.ca.key.is_empty()),
                ("cluster.ca.key", !c.ca.key.is_empty()),
                ("cluster.aggregatorCA", c.aggregator_ca.is_some()),
                ("cluster.serviceAccount", c.service_account.is_some()),
                (
                    "cluster.etcd.ca",
                    c.etcd.as_ref().is_some_and(|e| e.ca.is_some()),
                ),
                (
                    "cluster.secretboxEncryptionSecret",
                    c.secretbox_encryption_secret.is_some(),
                ),
            ];
            if let Some((field, _)) = leaks.iter().find(|(_, leaked)| *leaked) {
                return fail(format!(
                    "a worker must not carry {field} (a control-plane secret)"
                ));
            }
            // What Talos's validation refuses on a worker (a patch for every node can add them;
            // put them in controlplane_patches).
            let control_plane_only = [
                ("cluster.etcd", c.etcd.is_some()),
                (
                    "machine.features.kubernetesTalosAPIAccess",
                    cfg.machine
                        .features
                        .kubernetes_talos_api_access
                        .as_ref()
                        .is_some_and(|a| a.enabled),
                ),
            ];
            if let Some((field, _)) = control_plane_only.iter().find(|(_, set)| *set) {
                return fail(format!(
                    "{field} is for control-plane nodes only (Talos refuses it on a worker)"
                ));
            }
        }
        Role::ControlPlane => {
            let missing = [
                ("machine.ca.key", cfg.machine.ca.key.is_empty()),
                ("cluster.ca.key", c.ca.key.is_empty()),
                ("cluster.aggregatorCA", c.aggregator_ca.is_none()),
                ("cluster.serviceAccount", c.service_account.is_none()),
                (
                    "cluster.etcd.ca",
                    c.etcd.as_ref().is_none_or(|e| e.ca.is_none()),
                ),
            ];
            if let Some((field, _)) = missing.iter().find(|(_, m)| *m) {
                return fail(format!("the control plane needs {field}"));
            }
        }
    }
    Ok(())
}

/// Applies `m`'s patches (environment, role, node) to its rendered v1alpha1 document, then reads
/// the result back strictly and runs [`check_machine`] again, so no patch can put a CA key on
/// a worker or a deprecated field next to its replacement document. Every error points at a
/// patch in talos-values.yaml. Also says, per patch, whether it changed this node's config.
fn apply_patches(
    docs: MachineConfigDocuments,
    patches: &[&ConfigPatch],
    v: &EnvValues,
    m: &Machine,
) -> Result<(MachineConfigDocuments, Vec<bool>), RenderError> {
    let at = |p: &ConfigPatch, message: String| {
        RenderError::Input(
            Diagnostic::new(
                &v.source,
                Some(p.pos),
                &p.field,
                format!("on node `{}`: {message}", m.name),
            )
            .into(),
        )
    };
    let mut state =
        serde_json::to_value(&docs.config).map_err(|e| RenderError::Emit(e.to_string()))?;
    // Every intermediate state, so a final config that fails can be blamed on the patch that
    // last made it invalid rather than on whichever patch happened to be last.
    let mut states = Vec::with_capacity(patches.len() + 1);
    states.push(state.clone());
    let mut changed = Vec::with_capacity(patches.len());
    for p in patches {
        match &p.op {
            PatchOp::Merge(doc) => strategic_merge(&mut state, doc)
                .map_err(|e| at(p, format!("the patch does not merge {e}")))?,
            PatchOp::Json6902(ops) => json_patch::patch(&mut state, ops).map_err(|e| {
                at(
                    p,
                    format!(
                        "operation [{}] at `{}` does not apply: {}",
                        e.operation,
                        e.path,
                        describe_patch_error(&e.kind)
                    ),
                )
            })?,
        }
        changed.push(states.last() != Some(&state));
        states.push(state.clone());
    }
    let check = |value: &serde_json::Value| -> Result<MachineConfigDocuments, String> {
        // Through YAML text and the same strict reader as the templates' output: unknown
        // fields are refused, and messages never quote a value.
        let text = yaml::to_string(value).map_err(|e| e.message)?;
        let config: MachineConfig = yaml::from_str(&text).map_err(|e| e.message)?;
        let patched = MachineConfigDocuments {
            config,
            hostname: docs.hostname.clone(),
            resolver: docs.resolver.clone(),
        };
        check_machine(&patched, &v.talos.line, m.role, &m.name)?;
        Ok(patched)
    };
    match check(&state) {
        Ok(patched) => Ok((patched, changed)),
        Err(message) => {
            // states[0] passed check_machine before any patch; find the last valid state.
            let culprit = (1..states.len())
                .rev()
                .find(|&k| check(&states[k - 1]).is_ok())
                .map_or(patches.len() - 1, |k| k - 1);
            Err(at(
                patches[culprit],
                format!("the patched machine config is invalid: {message}"),
            ))
        }
    }
}

/// Every patch that changed no node's config, each reported at its position.
fn no_op_patches(v: &EnvValues, effective: &HashSet<&str>) -> Result<(), RenderError> {
    let workers = v.workers.len();
    let levels = [
        (&v.patches, 1 + workers),
        (&v.controlplane_patches, 1),
        (&v.worker_patches, workers),
    ];
    let own = v.machines().map(|m| (&m.patches, 1));
    let mut problems = Diagnostics::new();
    for (patches, nodes) in levels.into_iter().chain(own) {
        for p in patches
            .iter()
            .filter(|p| !effective.contains(p.field.as_str()))
        {
            let message = if nodes == 0 {
                "this patch applies to no node (there are no workers)"
            } else {
                "this patch changes nothing"
            };
            problems.push(Diagnostic::new(&v.source, Some(p.pos), &p.field, message));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RenderError::Input(problems.sorted()))
    }
}

/// RFC 6902 failures in words; never quotes a value (a patch may carry secrets).
fn describe_patch_error(kind: &json_patch::PatchErrorKind) -> &'static str {
    use json_patch::PatchErrorKind as K;
    match kind {
        K::TestFailed => "the `test` value does not match",
        K::InvalidFromPointer => "the `from` path does not exist",
        K::InvalidPointer => "the path does not exist",
        K::CannotMoveInsideItself => "cannot move a value inside itself",
        // PatchErrorKind is non_exhaustive.
        _ => "the operation cannot be applied",
    }
}

/// The v1alpha1 fields kubectl zt could write (from a template or a config patch) that Talos
/// 1.12 deprecated in favour of a document, each with that document. (machine.network.interfaces
/// is deprecated too; no field of ours can hold it.)
fn deprecated_fields(docs: &MachineConfigDocuments) -> Vec<(&'static str, &'static str)> {
    let m = &docs.config.machine;
    let network = m.network.as_ref();
    [
        (
            network.is_some_and(|n| n.hostname.is_some()),
            ("machine.network.hostname", "a HostnameConfig document"),
        ),
        (
            m.features.stable_hostname.is_some(),
            (
                "machine.features.stableHostname",
                "a HostnameConfig document",
            ),
        ),
        (
            network.is_some_and(|n| !n.nameservers.is_empty()),
            ("machine.network.nameservers", "a ResolverConfig document"),
        ),
        (
            m.time.is_some(),
            ("machine.time", "a TimeSyncConfig document"),
        ),
        (
            m.registries.is_some(),
            ("machine.registries", "RegistryMirrorConfig documents"),
        ),
        (
            !m.install.extra_kernel_args.is_empty(),
            (
                "machine.install.extraKernelArgs",
                "an installer image built with the kernel arguments (Image Factory)",
            ),
        ),
    ]
    .into_iter()
    .filter_map(|(present, what)| present.then_some(what))
    .collect()
}

/// Position helper for messages about rendered output.
pub fn describe_pos(pos: Option<Pos>) -> String {
    pos.map(|p| format!(":{}:{}", p.line, p.col))
        .unwrap_or_default()
}
