//! Claim CRDs derived from Crossplane XRDs the way Crossplane derives them (its `xcrd` package,
//! `ForCompositeResourceClaim`), so the real API server validates, defaults and prunes a claim
//! as a cluster with the platform installed does:
//!
//! - name `<claimNames.plural>.<group>`, namespaced, the XRD's `claimNames` as names and the
//!   `claim` category;
//! - one CRD version per XRD version (served as the XRD says; the referenceable one stored), each
//!   with the status subresource;
//! - the schema: Crossplane's base (apiVersion, kind, `metadata.name` at most 63 characters,
//!   `spec` required), the XRD's `spec` and `status` properties, `required` and
//!   `x-kubernetes-validations` merged in, then the claim's own spec fields (composition
//!   references and selectors, policies, `resourceRef`, `writeConnectionSecretToRef`,
//!   `publishConnectionDetailsTo`) and the composite status fields (`conditions` as a map list
//!   keyed by `type`, `connectionDetails`, `claimConditionTypes`);
//! - Crossplane's printer columns (SYNCED, READY, CONNECTION-SECRET, AGE) after the XRD's own.
//!
//! [`example_xrds`] are small XRDs of our own for the claim kinds the deploy tests use, for
//! machines without ../shared; with it, the platform's real XRDs are used.

use serde_json::{Map, Value, json};

/// The claim CRD of `xrd`, or `None` when the XRD offers no claim (no `spec.claimNames`).
pub fn claim_crd(xrd: &Value) -> Option<Value> {
    let spec = xrd.get("spec")?;
    let group = spec.get("group")?.as_str()?;
    let claim_names = spec.get("claimNames")?.as_object()?;
    let plural = claim_names.get("plural")?.as_str()?;
    let mut names = claim_names.clone();
    names
        .entry("categories")
        .or_insert_with(|| json!(["claim"]));
    let versions: Vec<Value> = spec
        .get("versions")?
        .as_array()?
        .iter()
        .map(claim_version)
        .collect();
    Some(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced",
            "versions": versions,
        },
    }))
}

fn claim_version(v: &Value) -> Value {
    let xschema = v
        .pointer("/schema/openAPIV3Schema")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut schema = base_props();
    if let Some(d) = xschema.get("description") {
        schema["description"] = d.clone();
    }
    for part in ["spec", "status"] {
        let x = xschema.pointer(&format!("/properties/{part}"));
        let c = &mut schema["properties"][part];
        if let Some(x) = x {
            for key in ["required", "x-kubernetes-validations", "oneOf"] {
                if let Some(list) = x.get(key).and_then(Value::as_array) {
                    let into = c
                        .as_object_mut()
                        .map(|o| o.entry(key).or_insert_with(|| json!([])));
                    if let Some(Value::Array(into)) = into {
                        into.extend(list.iter().cloned());
                    }
                }
            }
            if let Some(d) = x.get("description") {
                c["description"] = d.clone();
            }
            if let Some(props) = x.get("properties").and_then(Value::as_object) {
                for (k, p) in props {
                    c["properties"][k] = p.clone();
                }
            }
        }
    }
    for (k, p) in claim_spec_props() {
        schema["properties"]["spec"]["properties"][k] = p;
    }
    for (k, p) in composite_status_props() {
        schema["properties"]["status"]["properties"][k] = p;
    }
    let mut columns: Vec<Value> = v
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    columns.extend(claim_printer_columns());
    let mut out = json!({
        "name": v.get("name").cloned().unwrap_or(Value::Null),
        "served": v.get("served").cloned().unwrap_or(json!(true)),
        "storage": v.get("referenceable").cloned().unwrap_or(json!(false)),
        "schema": {"openAPIV3Schema": schema},
        "subresources": {"status": {}},
        "additionalPrinterColumns": columns,
    });
    for key in ["deprecated", "deprecationWarning"] {
        if let Some(d) = v.get(key) {
            out[key] = d.clone();
        }
    }
    out
}

fn base_props() -> Value {
    json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 63}}},
            "spec": {"type": "object", "properties": {}},
            "status": {"type": "object", "properties": {}},
        },
    })
}

fn selector() -> Value {
    json!({"type": "object", "required": ["matchLabels"], "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
    }})
}

fn name_ref() -> Value {
    json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}})
}

fn claim_spec_props() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("compositionRef".into(), name_ref());
    m.insert("compositionSelector".into(), selector());
    m.insert("compositionRevisionRef".into(), name_ref());
    m.insert("compositionRevisionSelector".into(), selector());
    m.insert(
        "compositionUpdatePolicy".into(),
        json!({"type": "string", "enum": ["Automatic", "Manual"]}),
    );
    m.insert(
        "compositeDeletePolicy".into(),
        json!({"type": "string", "enum": ["Background", "Foreground"]}),
    );
    m.insert(
        "resourceRef".into(),
        json!({"type": "object", "required": ["apiVersion", "kind", "name"], "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
        }}),
    );
    m.insert(
        "publishConnectionDetailsTo".into(),
        json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "configRef": {"type": "object", "default": {"name": "default"}, "properties": {"name": {"type": "string"}}},
            "metadata": {"type": "object", "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "type": {"type": "string"},
            }},
        }}),
    );
    m.insert("writeConnectionSecretToRef".into(), name_ref());
    m
}

fn composite_status_props() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "conditions".into(),
        json!({
            "type": "array",
            "description": "Conditions of the resource.",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "items": {"type": "object", "required": ["lastTransitionTime", "reason", "status", "type"], "properties": {
                "lastTransitionTime": {"type": "string", "format": "date-time"},
                "message": {"type": "string"},
                "observedGeneration": {"type": "integer", "format": "int64"},
                "reason": {"type": "string"},
                "status": {"type": "string"},
                "type": {"type": "string"},
            }},
        }),
    );
    m.insert(
        "connectionDetails".into(),
        json!({"type": "object", "properties": {"lastPublishedTime": {"type": "string", "format": "date-time"}}}),
    );
    m.insert(
        "claimConditionTypes".into(),
        json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}),
    );
    m
}

fn claim_printer_columns() -> Vec<Value> {
    vec![
        json!({"name": "SYNCED", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Synced')].status"}),
        json!({"name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"}),
        json!({"name": "CONNECTION-SECRET", "type": "string", "jsonPath": ".spec.writeConnectionSecretToRef.name"}),
        json!({"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
    ]
}

/// Small XRDs of our own for the claim kinds the deploy tests use (`WebService`,
/// `PostgresInstance`), shaped like the platform's: the image pattern is the one deploy checks
/// offline ([`zt::deploy::image::XRD_IMAGE_PATTERN`]).
pub fn example_xrds() -> Vec<Value> {
    let pattern = zt::deploy::image::XRD_IMAGE_PATTERN;
    let xrd = |group: &str, kind: &str, plural: &str, spec: Value| {
        json!({
            "apiVersion": "apiextensions.crossplane.io/v1",
            "kind": "CompositeResourceDefinition",
            "metadata": {"name": format!("x{plural}.{group}")},
            "spec": {
                "group": group,
                "names": {"kind": format!("X{kind}"), "plural": format!("x{plural}")},
                "claimNames": {"kind": kind, "plural": plural},
                "versions": [{
                    "name": "v1alpha1", "served": true, "referenceable": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": spec,
                        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
                    }}},
                }],
            },
        })
    };
    vec![
        xrd(
            "platform.bizmatters.io",
            "WebService",
            "webservices",
            json!({"type": "object", "required": ["image", "port"], "properties": {
                "image": {"type": "string", "pattern": pattern},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 8080},
                "size": {"type": "string", "enum": ["micro", "small", "medium", "large"], "default": "medium"},
                "secret1Name": {"type": "string"},
            }}),
        ),
        xrd(
            "database.bizmatters.io",
            "PostgresInstance",
            "postgresinstances",
            json!({"type": "object", "required": ["size"], "properties": {
                "size": {"type": "string", "enum": ["small", "medium", "large"]},
                "version": {"type": "string", "default": "16"},
            }}),
        ),
    ]
}

/// The platform's XRDs from ../shared (schemas/zerotouch), when this machine has them.
pub fn shared_xrds() -> Option<Vec<Value>> {
    let dir = crate::shared_dir()?.join("schemas/zerotouch");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).ok()?;
        let v: Value = zt::yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not an XRD: {e}", f.display()));
        out.push(v);
    }
    Some(out)
}

/// Every Crossplane XRD in the real platform trees of ../shared/fixtures (both commits), with
/// the file it came from; `None` without ../shared.
pub fn fixture_xrds() -> Option<Vec<(std::path::PathBuf, Value)>> {
    let root = crate::shared_dir()?.join("fixtures");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                if !text.contains("kind: CompositeResourceDefinition") {
                    continue;
                }
                let docs: Vec<Value> = zt::yaml::from_str_multi(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                for d in docs {
                    let is_xrd = d["kind"] == "CompositeResourceDefinition"
                        && d["apiVersion"]
                            .as_str()
                            .is_some_and(|a| a.starts_with("apiextensions.crossplane.io/"));
                    if is_xrd {
                        out.push((p.clone(), d));
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}
