//! SyncSet and SelectorSyncSet (`hive.openshift.io/v1`): docs/hive-compatibility.md, "SyncSet and SelectorSyncSet".

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema;

/// The payload shared by SyncSet and SelectorSyncSet (`SyncSetCommonSpec`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSetCommonSpec {
    /// Whole objects to create or update on the managed cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::resources")]
    pub resources: Vec<serde_json::Value>,

    /// `Upsert` (default) or `Sync` (also delete objects that leave the set).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(schema_with = "schema::resource_apply_mode")]
    pub resource_apply_mode: String,

    /// Patches applied to objects that already exist on the managed cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<SyncObjectPatch>,

    /// Hub Secrets copied to the managed cluster.
    #[serde(
        default,
        rename = "secretMappings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secret_mappings: Vec<SecretMapping>,

    /// How `resources` and `secretMappings` are applied; never affects `patches`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(schema_with = "schema::apply_behavior")]
    pub apply_behavior: String,

    /// Go-template processing of string values in `resources` (`fromCDLabel`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_resource_templates: bool,

    /// Go-template processing of `patches[].patch`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_patch_templates: bool,
}

/// A patch for an object that already exists on the managed cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncObjectPatch {
    /// Group/version of the target, e.g. `v1`, `apps/v1`.
    pub api_version: String,
    /// Kind of the target.
    pub kind: String,
    /// Name of the target.
    pub name: String,
    /// Namespace of the target on the managed cluster (empty means `default`, as in Hive).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The patch body.
    pub patch: String,
    /// `strategic` (default), `merge` or `json`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(schema_with = "schema::patch_type")]
    pub patch_type: String,
}

/// A hub Secret copied to the managed cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretMapping {
    #[schemars(schema_with = "schema::secret_reference")]
    pub source_ref: SecretReference,
    #[schemars(schema_with = "schema::secret_reference")]
    pub target_ref: SecretReference,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SecretReference {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// Status of a SyncSet or SelectorSyncSet: empty, as in Hive. The subresource exists so that only spec changes bump
/// `metadata.generation`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SyncSetStatus {}

/// SyncSet: resources for the ClusterDeployments named in `clusterDeploymentRefs`, in the SyncSet's namespace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "SyncSet",
    plural = "syncsets",
    shortname = "ss",
    namespaced,
    status = "SyncSetStatus",
    doc = "SyncSet is the Schema for the SyncSet API"
)]
#[serde(rename_all = "camelCase")]
pub struct SyncSetSpec {
    #[serde(flatten)]
    pub common: SyncSetCommonSpec,
    /// The ClusterDeployments (in this namespace) to sync to.
    pub cluster_deployment_refs: Vec<LocalObjectReference>,
}

/// SelectorSyncSet: resources for every ClusterDeployment, in any namespace, whose labels match the selector.
/// An empty or missing selector matches every ClusterDeployment.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "SelectorSyncSet",
    plural = "selectorsyncsets",
    shortname = "sss",
    status = "SyncSetStatus",
    doc = "SelectorSyncSet is the Schema for the SelectorSyncSet API"
)]
#[serde(rename_all = "camelCase")]
pub struct SelectorSyncSetSpec {
    #[serde(flatten)]
    pub common: SyncSetCommonSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_deployment_selector: Option<LabelSelector>,
}
