//! Hand-written schema fragments for fields whose wire schema must match Hive's CRDs exactly or carry the
//! validation Hive's admission webhook does (docs/hive-compatibility.md, "Validation"), enforced by the API server
//! instead.

use schemars::{json_schema, Schema, SchemaGenerator};

/// Bounds the CEL rule's estimated cost (the API server refuses the rule on an unbounded list). No real syncset comes
/// near it: the whole object must fit etcd's 1.5 MiB limit, so this is no limit in practice.
const RESOURCES_MAX_ITEMS: u32 = 100_000;

/// `resources[]`: whole embedded objects with unknown fields preserved. The API server then requires `apiVersion`
/// and `kind` and validates `metadata`. The CEL rule is the webhook's ban on the `authorization.openshift.io` RBAC
/// aliases, whose group-based identity would make Sync mode delete the object (OCP-25333).
pub fn resources(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "description": "Resources is the list of objects to sync from RawExtension definitions.",
        "maxItems": RESOURCES_MAX_ITEMS,
        "items": {
            "type": "object",
            "x-kubernetes-embedded-resource": true,
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {
                "apiVersion": { "type": "string", "maxLength": 317 },
                "kind": { "type": "string", "maxLength": 63 }
            },
            "x-kubernetes-validations": [{
                "rule": "!(self.apiVersion.startsWith('authorization.openshift.io/') && self.kind in ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'SubjectAccessReview'])",
                "message": "must use kubernetes group for this resource kind",
                "fieldPath": ".apiVersion"
            }]
        }
    })
}

fn string_enum(description: &str, values: &[&str]) -> Schema {
    json_schema!({ "type": "string", "description": description, "enum": values })
}

/// `resourceApplyMode`: Hive's CRD has no enum and its webhook refuses other values; the enum does the same here.
pub fn resource_apply_mode(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        "ResourceApplyMode indicates if the Resource apply mode is \"Upsert\" (default) or \"Sync\". \"Upsert\" creates and updates resources; \"Sync\" also deletes resources that were removed from the list.",
        &["", "Upsert", "Sync"],
    )
}

/// `applyBehavior`: Hive's CRD enum.
pub fn apply_behavior(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        "ApplyBehavior indicates how resources and secrets are applied: Apply (default, server-side apply), CreateOnly or CreateOrUpdate.",
        &["", "Apply", "CreateOnly", "CreateOrUpdate"],
    )
}

/// `patches[].patchType`: the webhook's check (HIVE-2807).
pub fn patch_type(_: &mut SchemaGenerator) -> Schema {
    string_enum(
        "PatchType indicates the PatchType as \"strategic\" (default), \"json\", or \"merge\".",
        &["", "strategic", "merge", "json"],
    )
}

/// A secret reference whose `name` must be present and non-empty (the webhook's `Name is required`).
pub fn secret_reference(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "SecretReference is a reference to a secret by name and namespace.",
        "required": ["name"],
        "properties": {
            "name": { "type": "string", "description": "Name is the name of the secret" },
            "namespace": { "type": "string", "description": "Namespace is the namespace where the secret lives." }
        },
        "x-kubernetes-validations": [{
            "rule": "size(self.name) > 0",
            "message": "Name is required",
            "fieldPath": ".name",
            "reason": "FieldValueRequired"
        }]
    })
}

/// An object that keeps every field it is given (ClusterDeployment's untyped parts: platform, provisioning, ...).
pub fn preserved_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}
