//! The test API server's object store: resource types, objects, field ownership and the
//! server-side apply merge.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// A kind the server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl ResourceType {
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `webservices.platform.bizmatters.io`, as the API names resources in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// The kinds a ZeroTouch cluster serves: core and apps kinds `deploy` touches, the platform's
/// claim kinds, and ExternalSecret.
pub fn default_resources() -> Vec<ResourceType> {
    vec![
        ResourceType::new("", "v1", "Namespace", "namespaces", false),
        ResourceType::new("", "v1", "Secret", "secrets", true),
        ResourceType::new("", "v1", "ConfigMap", "configmaps", true),
        ResourceType::new("", "v1", "Pod", "pods", true),
        ResourceType::new("", "v1", "Service", "services", true),
        ResourceType::new("", "v1", "ServiceAccount", "serviceaccounts", true),
        ResourceType::new("apps", "v1", "Deployment", "deployments", true),
        ResourceType::new(
            "platform.bizmatters.io",
            "v1alpha1",
            "WebService",
            "webservices",
            true,
        ),
        ResourceType::new(
            "platform.bizmatters.io",
            "v1alpha1",
            "EventDrivenService",
            "eventdrivenservices",
            true,
        ),
        ResourceType::new(
            "platform.bizmatters.io",
            "v1alpha1",
            "AgentSandboxService",
            "agentsandboxservices",
            true,
        ),
        ResourceType::new(
            "platform.bizmatters.io",
            "v1alpha1",
            "ObjectStorage",
            "objectstorages",
            true,
        ),
        ResourceType::new(
            "database.bizmatters.io",
            "v1alpha1",
            "PostgresInstance",
            "postgresinstances",
            true,
        ),
        ResourceType::new(
            "database.bizmatters.io",
            "v1alpha1",
            "DragonflyInstance",
            "dragonflyinstances",
            true,
        ),
        ResourceType::new(
            "external-secrets.io",
            "v1beta1",
            "ExternalSecret",
            "externalsecrets",
            true,
        ),
    ]
}

/// A field path inside an object (`["spec", "image"]`). Lists are owned whole, like
/// `x-kubernetes-list-type: atomic`.
pub type FieldPath = Vec<String>;

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub value: Value,
    /// Field manager → fields it owns.
    pub managers: BTreeMap<String, BTreeSet<FieldPath>>,
}

/// Objects by (plural, namespace, name), plus the resource types.
#[derive(Debug, Default)]
pub struct Store {
    pub(crate) resources: Vec<ResourceType>,
    pub(crate) objects: BTreeMap<(String, String, String), Stored>,
    /// Every object key in the order it was first created.
    pub(crate) created: Vec<(String, String, String)>,
    resource_version: u64,
    uid: u64,
}

/// An error the server answers with (HTTP status, reason, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiFailure {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiFailure {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn status(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason, "code": self.code,
        })
    }
}

/// Whether an apply targets the object or its status subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
}

/// How an apply is made: `fieldManager`, `force`, `dryRun=All`, and which part.
#[derive(Debug, Clone, Copy)]
pub struct ApplyParams<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub dry_run: bool,
    pub part: Part,
}

impl<'a> ApplyParams<'a> {
    pub fn new(manager: &'a str) -> Self {
        ApplyParams {
            manager,
            force: false,
            dry_run: false,
            part: Part::Main,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub created: bool,
    pub value: Value,
}

/// Identity and server-set fields: never owned, never merged from a request.
fn server_field(path: &[String]) -> bool {
    matches!(
        path.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["apiVersion"]
            | ["kind"]
            | ["metadata", "name"]
            | ["metadata", "namespace"]
            | ["metadata", "uid"]
            | ["metadata", "resourceVersion"]
            | ["metadata", "generation"]
            | ["metadata", "creationTimestamp"]
            | ["metadata", "managedFields"]
    )
}

/// The leaf fields of `v` (objects are descended into; lists and scalars are leaves).
pub fn leaf_paths(v: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    prefix.push(k.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            _ => {
                if !prefix.is_empty() && !server_field(prefix) {
                    out.insert(prefix.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

fn set(v: &mut Value, path: &[String], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        if !cur.get(k).is_some_and(Value::is_object)
            && let Some(m) = cur.as_object_mut()
        {
            m.insert(k.clone(), Value::Object(Map::new()));
        }
        match cur.get_mut(k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.insert(last.clone(), new);
    }
}

fn remove(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        match cur.get_mut(k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

fn dotted(path: &[String]) -> String {
    format!(".{}", path.join("."))
}

/// Base64 without padding surprises (RFC 4648 standard alphabet), for Secret `stringData`.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The API server turns a Secret's write-only `stringData` into base64 `data`.
fn fold_string_data(v: &mut Value) {
    if v.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    let Some(Value::Object(sd)) = v.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    for (k, s) in sd {
        let encoded = base64(s.as_str().unwrap_or_default().as_bytes());
        set(v, &["data".into(), k], Value::String(encoded));
    }
}

impl Store {
    pub(crate) fn new(resources: Vec<ResourceType>) -> Self {
        Store {
            resources,
            ..Store::default()
        }
    }

    /// The resource type of `kind` (any group).
    pub fn resource_of_kind(&self, kind: &str) -> Option<&ResourceType> {
        self.resources.iter().find(|r| r.kind == kind)
    }

    pub(crate) fn resource(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&ResourceType> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    fn key(r: &ResourceType, ns: Option<&str>, name: &str) -> (String, String, String) {
        let ns = if r.namespaced { ns.unwrap_or("") } else { "" };
        (r.qualified(), ns.to_string(), name.to_string())
    }

    /// The version of the latest change (what lists report, where watches start).
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// The object of `kind` named `name` (in `ns` when namespaced).
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<&Value> {
        let r = self.resource_of_kind(kind)?;
        self.objects
            .get(&Self::key(r, Some(ns), name))
            .map(|s| &s.value)
    }

    pub(crate) fn get_in(&self, r: &ResourceType, ns: Option<&str>, name: &str) -> Option<&Value> {
        self.objects.get(&Self::key(r, ns, name)).map(|s| &s.value)
    }

    pub(crate) fn list(
        &self,
        r: &ResourceType,
        ns: Option<&str>,
        selector: &[(String, String)],
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((q, n, _), _)| q == &r.qualified() && ns.is_none_or(|ns| n == ns))
            .map(|(_, s)| &s.value)
            .filter(|v| {
                selector.iter().all(|(k, want)| {
                    v.pointer("/metadata/labels")
                        .and_then(|l| l.get(k))
                        .and_then(Value::as_str)
                        == Some(want.as_str())
                })
            })
            .cloned()
            .collect()
    }

    pub(crate) fn delete(
        &mut self,
        r: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.objects
            .remove(&Self::key(r, ns, name))
            .map(|s| s.value)
    }

    /// Creates or replaces an object wholesale, as a controller would (no field ownership).
    /// The kind is taken from the object.
    pub fn put(&mut self, mut value: Value) {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let Some(r) = self.resource_of_kind(&kind).cloned() else {
            return;
        };
        let ns = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string);
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        fold_string_data(&mut value);
        let key = Self::key(&r, ns.as_deref(), &name);
        let rv = self.next_rv();
        let managers = match self.objects.get(&key) {
            Some(old) => {
                for f in ["uid", "creationTimestamp", "generation"] {
                    if let Some(x) = old.value.pointer(&format!("/metadata/{f}")) {
                        set(&mut value, &["metadata".into(), f.into()], x.clone());
                    }
                }
                old.managers.clone()
            }
            None => {
                self.uid += 1;
                set(
                    &mut value,
                    &["metadata".into(), "uid".into()],
                    json!(format!("uid-{}", self.uid)),
                );
                set(
                    &mut value,
                    &["metadata".into(), "creationTimestamp".into()],
                    json!("2026-01-01T00:00:00Z"),
                );
                if value.pointer("/metadata/generation").is_none() {
                    set(
                        &mut value,
                        &["metadata".into(), "generation".into()],
                        json!(1),
                    );
                }
                self.created.push(key.clone());
                BTreeMap::new()
            }
        };
        set(
            &mut value,
            &["metadata".into(), "resourceVersion".into()],
            json!(rv),
        );
        self.objects.insert(key, Stored { value, managers });
    }

    /// Replaces the `status` of an existing object (what a controller's status update does).
    pub fn set_status(&mut self, kind: &str, ns: &str, name: &str, status: Value) {
        let Some(mut v) = self.get(kind, ns, name).cloned() else {
            return;
        };
        set(&mut v, &["status".into()], status);
        self.put(v);
    }

    /// Sets the `Ready` condition (and `Synced: True`) the way Crossplane reports claims.
    pub fn set_ready(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        ready: bool,
        reason: &str,
        message: &str,
    ) {
        let status = json!({"conditions": [
            {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            {"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": reason, "message": message},
        ]});
        self.set_status(kind, ns, name, status);
    }

    /// Server-side apply by `manager`. Conflicts with other managers' fields are errors unless
    /// `force`; fields the manager applied before and no longer applies are removed; a dry run
    /// returns the result without storing it.
    pub fn apply(
        &mut self,
        r: &ResourceType,
        ns: Option<&str>,
        name: &str,
        mut applied: Value,
        p: ApplyParams<'_>,
    ) -> Result<Applied, ApiFailure> {
        let ApplyParams {
            force,
            dry_run,
            part,
            ..
        } = p;
        // Ownership is tracked per subresource, as the API server does.
        let status_manager = format!("{}/status", p.manager);
        let manager = match part {
            Part::Main => p.manager,
            Part::Status => status_manager.as_str(),
        };
        if applied.get("apiVersion").and_then(Value::as_str) != Some(r.api_version().as_str())
            || applied.get("kind").and_then(Value::as_str) != Some(r.kind.as_str())
        {
            return Err(ApiFailure::new(
                400,
                "BadRequest",
                format!(
                    "the body's apiVersion and kind must be {} {}",
                    r.api_version(),
                    r.kind
                ),
            ));
        }
        if applied.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
            return Err(ApiFailure::new(
                400,
                "BadRequest",
                "the name of the object in the body does not match the name in the URL",
            ));
        }
        if r.namespaced {
            let ns = ns.unwrap_or("");
            if let Some(body_ns) = applied
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                && body_ns != ns
            {
                return Err(ApiFailure::new(
                    400,
                    "BadRequest",
                    "the namespace of the object does not match the namespace in the URL",
                ));
            }
            let ns_type = ResourceType::new("", "v1", "Namespace", "namespaces", false);
            if self.get_in(&ns_type, None, ns).is_none() {
                return Err(ApiFailure::new(
                    404,
                    "NotFound",
                    format!("namespaces \"{ns}\" not found"),
                ));
            }
        }
        // The main resource ignores status; the status subresource takes only status.
        if let Some(m) = applied.as_object_mut() {
            match part {
                Part::Main => {
                    m.remove("status");
                }
                Part::Status => {
                    let keep = ["apiVersion", "kind", "metadata", "status"];
                    m.retain(|k, _| keep.contains(&k.as_str()));
                }
            }
        }
        fold_string_data(&mut applied);
        let key = Self::key(r, ns, name);
        let new_paths = leaf_paths(&applied);
        let existing = self.objects.get(&key).cloned();
        if existing.is_none() && part == Part::Status {
            return Err(ApiFailure::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", r.qualified()),
            ));
        }
        let (mut value, mut managers, created) = match existing {
            None => (json!({}), BTreeMap::new(), true),
            Some(s) => (s.value, s.managers, false),
        };

        let mut conflicts: Vec<(String, FieldPath)> = Vec::new();
        for path in &new_paths {
            let want = at(&applied, path);
            for (other, owned) in &managers {
                if other != manager && owned.contains(path) && at(&value, path) != want {
                    conflicts.push((other.clone(), path.clone()));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            let n = conflicts.len();
            let detail: Vec<String> = conflicts
                .iter()
                .map(|(m, p)| format!("conflict with \"{m}\": {}", dotted(p)))
                .collect();
            return Err(ApiFailure::new(
                409,
                "Conflict",
                format!(
                    "Apply failed with {n} conflict{}: {}",
                    if n == 1 { "" } else { "s" },
                    detail.join("; ")
                ),
            ));
        }
        for (other, path) in &conflicts {
            if let Some(owned) = managers.get_mut(other) {
                owned.remove(path);
            }
        }
        // Fields this manager set before and dropped now go away, unless someone else owns them.
        let before = managers.remove(manager).unwrap_or_default();
        for path in before.difference(&new_paths) {
            if !managers.values().any(|o| o.contains(path)) {
                remove(&mut value, path);
            }
        }
        let old_spec = value.get("spec").cloned();
        let old_value = value.clone();
        for path in &new_paths {
            if let Some(v) = at(&applied, path) {
                set(&mut value, path, v.clone());
            }
        }
        for f in ["apiVersion", "kind"] {
            set(&mut value, &[f.into()], applied[f].clone());
        }
        set(&mut value, &["metadata".into(), "name".into()], json!(name));
        if r.namespaced {
            set(
                &mut value,
                &["metadata".into(), "namespace".into()],
                json!(ns.unwrap_or("")),
            );
        }
        managers.insert(manager.to_string(), new_paths);
        managers.retain(|_, owned| !owned.is_empty());

        if created {
            self.uid += 1;
            set(
                &mut value,
                &["metadata".into(), "uid".into()],
                json!(format!("uid-{}", self.uid)),
            );
            set(
                &mut value,
                &["metadata".into(), "creationTimestamp".into()],
                json!("2026-01-01T00:00:00Z"),
            );
            set(
                &mut value,
                &["metadata".into(), "generation".into()],
                json!(1),
            );
        } else if value.get("spec") != old_spec.as_ref() {
            let g = value
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            set(
                &mut value,
                &["metadata".into(), "generation".into()],
                json!(g + 1),
            );
        }
        let changed = created || value != old_value;
        if dry_run {
            return Ok(Applied { created, value });
        }
        if changed {
            let rv = self.next_rv();
            set(
                &mut value,
                &["metadata".into(), "resourceVersion".into()],
                json!(rv),
            );
        }
        if created {
            self.created.push(key.clone());
        }
        self.objects.insert(
            key,
            Stored {
                value: value.clone(),
                managers,
            },
        );
        Ok(Applied { created, value })
    }

    /// Who owns which fields of an object, as `manager → [".spec.image", ...]`.
    pub fn managers(&self, kind: &str, ns: &str, name: &str) -> BTreeMap<String, Vec<String>> {
        let Some(r) = self.resource_of_kind(kind) else {
            return BTreeMap::new();
        };
        self.objects
            .get(&Self::key(r, Some(ns), name))
            .map(|s| {
                s.managers
                    .iter()
                    .map(|(m, p)| (m.clone(), p.iter().map(|x| dotted(x)).collect()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut s = Store::new(default_resources());
        s.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}));
        s
    }

    fn web() -> ResourceType {
        ResourceType::new(
            "platform.bizmatters.io",
            "v1alpha1",
            "WebService",
            "webservices",
            true,
        )
    }

    fn claim(image: &str) -> Value {
        json!({"apiVersion": "platform.bizmatters.io/v1alpha1", "kind": "WebService",
               "metadata": {"name": "a", "namespace": "ns"}, "spec": {"image": image, "port": 80}})
    }

    #[test]
    fn apply_creates_merges_and_bumps_versions() {
        let mut s = store();
        let r = web();
        let a = s
            .apply(
                &r,
                Some("ns"),
                "a",
                claim("x:1"),
                ApplyParams {
                    manager: "m1",
                    force: false,
                    dry_run: false,
                    part: Part::Main,
                },
            )
            .unwrap();
        assert!(a.created);
        let rv1 = a.value["metadata"]["resourceVersion"].clone();
        // Same content: nothing changes.
        let b = s
            .apply(
                &r,
                Some("ns"),
                "a",
                claim("x:1"),
                ApplyParams {
                    manager: "m1",
                    force: false,
                    dry_run: false,
                    part: Part::Main,
                },
            )
            .unwrap();
        assert_eq!(b.value["metadata"]["resourceVersion"], rv1);
        let c = s
            .apply(
                &r,
                Some("ns"),
                "a",
                claim("x:2"),
                ApplyParams {
                    manager: "m1",
                    force: false,
                    dry_run: false,
                    part: Part::Main,
                },
            )
            .unwrap();
        assert_ne!(c.value["metadata"]["resourceVersion"], rv1);
        assert_eq!(c.value["metadata"]["generation"], 2);
        assert_eq!(c.value["spec"]["image"], "x:2");
    }

    #[test]
    fn conflicts_need_force_and_dropped_fields_go() {
        let mut s = store();
        let r = web();
        s.apply(
            &r,
            Some("ns"),
            "a",
            claim("x:1"),
            ApplyParams {
                manager: "other",
                force: false,
                dry_run: false,
                part: Part::Main,
            },
        )
        .unwrap();
        let err = s
            .apply(
                &r,
                Some("ns"),
                "a",
                claim("x:2"),
                ApplyParams {
                    manager: "me",
                    force: false,
                    dry_run: false,
                    part: Part::Main,
                },
            )
            .unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"other\": .spec.image"
        );
        // Same value: shared ownership, no conflict.
        s.apply(
            &r,
            Some("ns"),
            "a",
            claim("x:1"),
            ApplyParams {
                manager: "me",
                force: false,
                dry_run: false,
                part: Part::Main,
            },
        )
        .unwrap();
        let v = s.apply(
            &r,
            Some("ns"),
            "a",
            claim("x:2"),
            ApplyParams {
                manager: "me",
                force: true,
                dry_run: false,
                part: Part::Main,
            },
        );
        assert!(v.is_ok());
        assert_eq!(
            s.managers("WebService", "ns", "a")["me"],
            [".spec.image", ".spec.port"]
        );
        // `me` stops applying port; `other` still owns it, so it stays.
        let mut less = claim("x:2");
        less["spec"].as_object_mut().unwrap().remove("port");
        let v = s
            .apply(
                &r,
                Some("ns"),
                "a",
                less.clone(),
                ApplyParams {
                    manager: "me",
                    force: false,
                    dry_run: false,
                    part: Part::Main,
                },
            )
            .unwrap();
        assert_eq!(v.value["spec"]["port"], 80);
        let mut s2 = store();
        s2.apply(
            &r,
            Some("ns"),
            "a",
            claim("x:1"),
            ApplyParams {
                manager: "me",
                force: false,
                dry_run: false,
                part: Part::Main,
            },
        )
        .unwrap();
        let v = s2
            .apply(
                &r,
                Some("ns"),
                "a",
                less,
                ApplyParams {
                    manager: "me",
                    force: false,
                    dry_run: false,
                    part: Part::Main,
                },
            )
            .unwrap();
        assert!(v.value["spec"].get("port").is_none());
    }

    #[test]
    fn dry_run_stores_nothing_and_namespaces_must_exist() {
        let mut s = store();
        let r = web();
        s.apply(
            &r,
            Some("ns"),
            "a",
            claim("x:1"),
            ApplyParams {
                manager: "m",
                force: false,
                dry_run: true,
                part: Part::Main,
            },
        )
        .unwrap();
        assert!(s.get("WebService", "ns", "a").is_none());
        let mut other = claim("x:1");
        other["metadata"]["namespace"] = json!("missing");
        let err = s
            .apply(
                &r,
                Some("missing"),
                "a",
                other,
                ApplyParams {
                    manager: "m",
                    force: false,
                    dry_run: true,
                    part: Part::Main,
                },
            )
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (404, "namespaces \"missing\" not found")
        );
    }

    #[test]
    fn secrets_fold_string_data() {
        let mut s = store();
        s.put(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
                     "stringData": {"a": "hello", "b": "hi"}}));
        let v = s.get("Secret", "ns", "s").unwrap();
        assert_eq!(v["data"], json!({"a": "aGVsbG8=", "b": "aGk="}));
        assert!(v.get("stringData").is_none());
    }
}
