//! The bodies of what the suite applies: SyncSet and SelectorSyncSet objects, the ConfigMaps they carry, and what
//! their status holds.

use std::collections::BTreeMap;

use hivesync::api::SyncResourceReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};

/// The label every object hivesync syncs carries (`true`).
pub const MANAGED_LABEL: &str = "hive.openshift.io/managed";

/// A ConfigMap `namespace/name` with `data`, as a syncset resource.
pub fn configmap(namespace: &str, name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    })
}

/// `pairs` as a ConfigMap's (or labels') map.
pub fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A `secretMappings` item: hub Secret `source` (in `source_namespace`; a SyncSet's own namespace when `None`) copied
/// to Secret `target_namespace/target` on the spoke.
pub fn secret_mapping(
    source: &str,
    source_namespace: Option<&str>,
    target_namespace: &str,
    target: &str,
) -> Value {
    let mut source_ref = json!({"name": source});
    if let Some(namespace) = source_namespace {
        source_ref["namespace"] = json!(namespace);
    }
    json!({"sourceRef": source_ref, "targetRef": {"name": target, "namespace": target_namespace}})
}

/// Label `key` of an object, if it has it.
pub fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

/// A `resourcesToDelete` item.
pub fn reference(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> SyncResourceReference {
    SyncResourceReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.into(),
    }
}

pub fn syncset_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("hive.openshift.io", "v1", "SyncSet"),
        "syncsets",
    )
}

pub fn selector_syncset_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("hive.openshift.io", "v1", "SelectorSyncSet"),
        "selectorsyncsets",
    )
}

/// A SyncSet object `namespace/name` for ClusterDeployments `cds` with `spec` (without `clusterDeploymentRefs`), as
/// a server-side apply body.
pub fn syncset(namespace: &str, name: &str, cds: &[&str], spec: Value) -> Value {
    let mut spec = spec;
    spec["clusterDeploymentRefs"] = cds.iter().map(|c| json!({ "name": c })).collect();
    json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "SyncSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// A selector matching the label `key=value`.
pub fn match_labels(key: &str, value: &str) -> Value {
    json!({"matchLabels": {key: value}})
}

/// A SelectorSyncSet object `name` with `spec` (the selector included), as a server-side apply body.
pub fn selector_syncset(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "SelectorSyncSet",
        "metadata": {"name": name},
        "spec": spec,
    })
}
