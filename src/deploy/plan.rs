//! Everything `deploy` decides before it touches a cluster: the service contract, the claims,
//! which claims get the new image, the objects in apply order and the file edits for `--write`.
//! All inputs are checked here and every problem is reported at once, so nothing is applied
//! when any input is bad.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::claims::{self, ClaimsDir, Document, ImageSite};
use super::config::{self, Overrides, ServiceConfig};
use super::edit::{self, ScalarEdit};
use super::image::{ImageArg, ImageRef, xrd_pattern_problem};
use crate::diag::{Diagnostic, Diagnostics};

/// The API version of the service claims.
pub const SERVICE_API_VERSION: &str = "platform.bizmatters.io/v1alpha1";
/// Claim kinds that run the service's image (`spec.image`).
pub const SERVICE_KINDS: &[&str] = &["WebService", "EventDrivenService", "AgentSandboxService"];
/// The API version of the database claims.
pub const DATABASE_API_VERSION: &str = "database.bizmatters.io/v1alpha1";
/// Claim kinds that provision a database for the service.
pub const DATABASE_KINDS: &[&str] = &["PostgresInstance", "DragonflyInstance"];

/// Kinds known to be cluster-scoped, so they get no namespace in a client dry run. At apply time
/// the cluster's discovery decides.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PersistentVolume",
    "PriorityClass",
    "ClusterSecretStore",
    "ClusterIssuer",
    "CompositeResourceDefinition",
    "Composition",
];

/// Apply order: each wave is applied before the next starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wave {
    Namespace,
    /// Secrets and ConfigMaps: claims and pods read them.
    Config,
    /// Anything else that is not a claim (ExternalSecrets, ServiceAccounts, ...).
    Supporting,
    /// PostgresInstance, DragonflyInstance.
    Database,
    /// WebService, EventDrivenService, AgentSandboxService.
    Service,
}

impl Wave {
    fn of(api_version: &str, kind: &str) -> Wave {
        match (api_version, kind) {
            (_, "Namespace") if api_version == "v1" => Wave::Namespace,
            ("v1", "Secret" | "ConfigMap") => Wave::Config,
            (DATABASE_API_VERSION, k) if DATABASE_KINDS.contains(&k) => Wave::Database,
            (SERVICE_API_VERSION, k) if SERVICE_KINDS.contains(&k) => Wave::Service,
            _ => Wave::Supporting,
        }
    }
}

/// One object to apply.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    pub wave: Wave,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// The namespace it goes to, unless the kind is known to be cluster-scoped.
    pub namespace: Option<String>,
    /// The object as it will be sent.
    pub value: Value,
    /// `file:line:col` it came from; `None` for the namespace `deploy` adds.
    pub origin: Option<String>,
}

impl PlannedObject {
    /// `Kind namespace/name` (or `Kind name`), for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// Whether this is a Crossplane claim of the platform (service or database).
    pub fn is_claim(&self) -> bool {
        matches!(self.wave, Wave::Database | Wave::Service)
            || self.api_version.starts_with("platform.bizmatters.io/")
    }
}

/// A claim whose image changes.
#[derive(Debug, Clone)]
pub struct ImageChange {
    /// Which document of the claims directory (in reading order).
    pub document: usize,
    pub kind: String,
    pub name: String,
    pub file: PathBuf,
    pub site: ImageSite,
    pub from: String,
    pub to: String,
}

/// New contents for a claim file (`--write`).
#[derive(Debug, Clone)]
pub struct FileEdit {
    pub path: PathBuf,
    pub text: String,
}

/// What `deploy` will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub service: ServiceConfig,
    pub claims: ClaimsDir,
    /// `--image`; `None` for a service deployed as its claims are written (a dependency).
    pub image: Option<ImageArg>,
    /// In apply order.
    pub objects: Vec<PlannedObject>,
    pub changes: Vec<ImageChange>,
    /// Only computed when the request asks for `--write`; files whose text does not change are
    /// left out.
    pub edits: Vec<FileEdit>,
    /// Documents read but not applied, and why.
    pub skipped: Vec<String>,
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The service repository (where `ci/config.yaml` and `platform/` are).
    pub root: &'a Path,
    pub overrides: Overrides,
    /// `--env`: the overlay of the current layout.
    pub env: &'a str,
    /// `--claims DIR`
    pub claims_dir: Option<&'a Path>,
    /// `--image`, as typed.
    pub image: &'a str,
    /// `--claim NAME`, repeatable; empty means "match by image repository".
    pub claim_names: &'a [String],
    /// `--write`: compute the file edits.
    pub write: bool,
}

/// Reads and checks every input. On any problem, returns all of them and nothing is applied.
pub fn prepare(req: &Request<'_>) -> Result<Plan, Diagnostics> {
    let mut problems = Diagnostics::new();
    let image = match ImageArg::parse(req.image) {
        Ok(i) => Some(i),
        Err(e) => {
            problems.push(Diagnostic::file(
                "--image",
                format!(
                    "`{}` is not a tag or image reference: it {e}",
                    req.image.escape_debug()
                ),
            ));
            None
        }
    };
    let service = match config::load(req.root, &req.overrides) {
        Ok(c) => c,
        Err(d) => {
            problems.extend(d);
            return Err(problems.sorted());
        }
    };
    let claims = match claims::locate(
        req.root,
        &service.name,
        &service.namespace,
        req.env,
        req.claims_dir,
    ) {
        Ok(c) => c,
        Err(d) => {
            problems.push(d);
            return Err(problems.sorted());
        }
    };
    let loaded = match claims::load(&claims.dir) {
        Ok(l) => l,
        Err(d) => {
            problems.extend(d);
            return Err(problems.sorted());
        }
    };
    let Some(image) = image else {
        return Err(problems.sorted());
    };

    check_objects(&service, &loaded.documents, &mut problems);
    let changes = select_and_rewrite(
        &service,
        &claims,
        &loaded.documents,
        &image,
        req.claim_names,
        &mut problems,
    );
    let edits = if req.write {
        file_edits(&loaded.files, &changes, &mut problems)
    } else {
        Vec::new()
    };
    let mut objects = Vec::with_capacity(loaded.documents.len() + 1);
    let has_namespace = loaded
        .documents
        .iter()
        .any(|d| d.api_version == "v1" && d.kind == "Namespace" && d.name == service.namespace);
    if !has_namespace {
        objects.push(namespace_object(&service.namespace));
    }
    let new_images: HashMap<usize, &str> = changes
        .iter()
        .map(|c| (c.document, c.to.as_str()))
        .collect();
    for (i, doc) in loaded.documents.into_iter().enumerate() {
        let image = new_images.get(&i).copied();
        objects.push(planned_object(doc, &service.namespace, image));
    }
    // A stable sort keeps file order within a wave.
    objects.sort_by_key(|o| o.wave);

    problems.into_result()?;
    Ok(Plan {
        service,
        claims,
        image: Some(image),
        objects,
        changes,
        edits,
        skipped: loaded.skipped,
    })
}

/// A service this one depends on (`dependencies.external`), deployed first as its claims are
/// written when they are in the same repository (`platform/<name>/overlays/<env>/`): `None`
/// when they are not. Its namespace is the one its claims name (every namespaced document
/// that names one, or its Namespace object); claims that name none or several are an error.
pub fn prepare_dependency(
    root: &Path,
    base: &ServiceConfig,
    name: &str,
    env: &str,
) -> Result<Option<Plan>, Diagnostics> {
    let dir = root.join("platform").join(name).join("overlays").join(env);
    if !crate::fsio::confined::is_dir(root, dir.strip_prefix(root).unwrap_or(&dir), root)
        .map_err(|e| Diagnostics::from(Diagnostic::from(e)))?
    {
        return Ok(None);
    }
    let loaded = claims::load(&dir)?;
    let mut named: Vec<String> = loaded
        .documents
        .iter()
        .filter_map(|d| match (d.api_version.as_str(), d.kind.as_str()) {
            ("v1", "Namespace") => Some(d.name.clone()),
            _ => d.namespace.clone(),
        })
        .collect();
    named.sort_unstable();
    named.dedup();
    let [namespace] = named.as_slice() else {
        return Err(Diagnostic::file(
            &dir,
            format!(
                "dependencies.external lists {name}, whose claims are here, but they name {}: set metadata.namespace on them (one namespace) so it is clear where {name} runs",
                if named.is_empty() {
                    "no namespace".to_string()
                } else {
                    format!("several namespaces ({})", named.join(", "))
                }
            ),
        )
        .into());
    };
    let namespace = namespace.as_str();
    let service = ServiceConfig::named(name, namespace, base.wait_timeout);
    let mut problems = Diagnostics::new();
    check_objects(&service, &loaded.documents, &mut problems);
    problems.into_result()?;
    let mut objects = Vec::with_capacity(loaded.documents.len() + 1);
    if !loaded
        .documents
        .iter()
        .any(|d| d.api_version == "v1" && d.kind == "Namespace")
    {
        objects.push(namespace_object(namespace));
    }
    for doc in loaded.documents {
        objects.push(planned_object(doc, namespace, None));
    }
    objects.sort_by_key(|o| o.wave);
    Ok(Some(Plan {
        service,
        claims: ClaimsDir {
            dir,
            layout: claims::Layout::Current,
        },
        image: None,
        objects,
        changes: Vec::new(),
        edits: Vec::new(),
        skipped: loaded.skipped,
    }))
}

/// The service's Namespace, for claims directories that do not define it.
fn namespace_object(namespace: &str) -> PlannedObject {
    PlannedObject {
        wave: Wave::Namespace,
        api_version: "v1".into(),
        kind: "Namespace".into(),
        name: namespace.to_string(),
        namespace: None,
        value: json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace},
        }),
        origin: None,
    }
}

/// A document as it will be sent: in the service's namespace unless its kind is
/// cluster-scoped, with the new image when it is a claim that gets one.
fn planned_object(doc: Document, namespace: &str, image: Option<&str>) -> PlannedObject {
    let cluster_scoped = CLUSTER_SCOPED.contains(&doc.kind.as_str());
    let namespace = (!cluster_scoped).then(|| namespace.to_string());
    let origin = Some(doc.location());
    let mut value = doc.value;
    if let (Some(ns), Some(meta)) = (&namespace, value.get_mut("metadata"))
        && let Some(meta) = meta.as_object_mut()
    {
        meta.insert("namespace".into(), Value::String(ns.clone()));
    }
    if let Some(to) = image
        && let Some(spec) = value.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("image".into(), Value::String(to.to_string()));
    }
    PlannedObject {
        wave: Wave::of(&doc.api_version, &doc.kind),
        api_version: doc.api_version,
        kind: doc.kind,
        name: doc.name,
        namespace,
        value,
        origin,
    }
}

/// Namespaces must match the service's, and no object may be defined twice.
fn check_objects(service: &ServiceConfig, docs: &[Document], problems: &mut Diagnostics) {
    let mut seen: HashMap<(&str, &str, &str), &Document> = HashMap::new();
    for doc in docs {
        if let Some(ns) = &doc.namespace
            && ns != &service.namespace
            && !CLUSTER_SCOPED.contains(&doc.kind.as_str())
        {
            problems.push(Diagnostic::new(
                &doc.file,
                Some(doc.pos),
                "metadata.namespace",
                format!(
                    "{} is in namespace `{ns}`, but the service deploys to `{}` (service.namespace or --namespace); remove the namespace or make them match",
                    doc.describe(),
                    service.namespace
                ),
            ));
        }
        let group = doc.api_version.split('/').rev().nth(1).unwrap_or("");
        if let Some(first) = seen.insert((group, &doc.kind, &doc.name), doc) {
            problems.push(Diagnostic::new(
                &doc.file,
                Some(doc.pos),
                "",
                format!(
                    "{} {} is defined twice (first at {})",
                    doc.kind,
                    doc.name,
                    first.location()
                ),
            ));
        }
    }
}

fn is_service_claim(d: &Document) -> bool {
    d.api_version == SERVICE_API_VERSION && SERVICE_KINDS.contains(&d.kind.as_str())
}

/// Picks the claims that get the new image and computes it; every problem goes to `problems`.
fn select_and_rewrite(
    service: &ServiceConfig,
    claims: &ClaimsDir,
    docs: &[Document],
    image: &ImageArg,
    names: &[String],
    problems: &mut Diagnostics,
) -> Vec<ImageChange> {
    let mut found = Vec::new();
    let mut candidates = Vec::new();
    for (index, doc) in docs.iter().enumerate().filter(|(_, d)| is_service_claim(d)) {
        let Some(site) = &doc.image else {
            let what = if doc.value["spec"].get("image").is_some() {
                "must be a string"
            } else {
                "is required for this kind"
            };
            problems.push(Diagnostic::new(
                &doc.file,
                Some(doc.pos),
                "spec.image",
                format!("{} has no usable image: spec.image {what}", doc.describe()),
            ));
            continue;
        };
        match ImageRef::parse(&site.text) {
            Ok(current) => {
                found.push(format!(
                    "{} {} (image {}) at {}",
                    doc.kind,
                    doc.name,
                    site.text,
                    doc.location()
                ));
                candidates.push((index, doc, site, current));
            }
            Err(e) => problems.push(Diagnostic::new(
                &doc.file,
                Some(site.pos),
                "spec.image",
                format!("`{}` is not an image reference: it {e}", site.text),
            )),
        }
    }

    let selected: Vec<_> = if names.is_empty() {
        candidates
            .into_iter()
            .filter(|(_, _, _, r)| r.is_service(&service.name))
            .collect()
    } else {
        for n in names {
            if !candidates.iter().any(|(_, d, _, _)| &d.name == n) {
                problems.push(Diagnostic::file(
                    "--claim",
                    format!(
                        "no WebService, EventDrivenService or AgentSandboxService named `{n}` in {}",
                        claims.dir.display()
                    ),
                ));
            }
        }
        candidates
            .into_iter()
            .filter(|(_, d, _, _)| names.contains(&d.name))
            .collect()
    };

    if selected.is_empty() && names.is_empty() {
        let listing = if found.is_empty() {
            "found no service claims at all".to_string()
        } else {
            format!("found:\n  {}", found.join("\n  "))
        };
        problems.push(Diagnostic::file(
            &claims.dir,
            format!(
                "no claim runs the service `{}`: expected a WebService, EventDrivenService or AgentSandboxService ({SERVICE_API_VERSION}) whose spec.image repository ends in /{} as a whole path component; {listing}\n(pass --claim NAME to choose claims by name)",
                service.name, service.name
            ),
        ));
    }

    let mut changes = Vec::with_capacity(selected.len());
    for (document, doc, site, current) in selected {
        let to = image.apply_to(&current).to_string();
        if let Some(why) = xrd_pattern_problem(&to) {
            problems.push(Diagnostic::new(
                &doc.file,
                Some(site.pos),
                "spec.image",
                format!(
                    "the new image `{to}` would be rejected by the {} schema: {why}",
                    doc.kind
                ),
            ));
            continue;
        }
        changes.push(ImageChange {
            document,
            kind: doc.kind.clone(),
            name: doc.name.clone(),
            file: doc.file.clone(),
            site: site.clone(),
            from: site.text.clone(),
            to,
        });
    }
    changes
}

fn file_edits(
    files: &[claims::SourceFile],
    changes: &[ImageChange],
    problems: &mut Diagnostics,
) -> Vec<FileEdit> {
    let mut by_file: BTreeMap<&Path, Vec<ScalarEdit>> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.from != c.to) {
        by_file.entry(&c.file).or_default().push(ScalarEdit {
            span: c.site.span.clone(),
            style: c.site.style,
            value: c.to.clone(),
        });
    }
    let texts: HashMap<&Path, &str> = files
        .iter()
        .map(|f| (f.path.as_path(), f.text.as_str()))
        .collect();
    let mut out = Vec::with_capacity(by_file.len());
    for (path, edits) in by_file {
        let Some(src) = texts.get(path) else {
            continue;
        };
        match edit::apply(src, &edits) {
            Ok(text) => out.push(FileEdit {
                path: path.to_path_buf(),
                text,
            }),
            Err(e) => {
                let pos = changes.iter().find(|c| c.file == path).map(|c| c.site.pos);
                problems.push(Diagnostic::new(
                    path,
                    pos,
                    "spec.image",
                    format!("--write: {e}"),
                ));
            }
        }
    }
    out
}
