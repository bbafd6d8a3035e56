//! ClusterSync and ClusterSyncLease (`hiveinternal.openshift.io/v1alpha1`), HIVE-COMPAT.md §3.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// ClusterSync: one per ClusterDeployment (same name and namespace), the per-cluster apply status.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "hiveinternal.openshift.io",
    version = "v1alpha1",
    kind = "ClusterSync",
    plural = "clustersyncs",
    shortname = "csync",
    namespaced,
    status = "ClusterSyncStatus",
    doc = "ClusterSync is the status of all of the SelectorSyncSets and SyncSets that apply to a ClusterDeployment.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[0].reason"}"#,
    printcolumn = r#"{"name":"ControllerReplica","type":"string","jsonPath":".status.controlledByReplica"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Failed\")].message"}"#
)]
pub struct ClusterSyncSpec {}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSyncStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_sets: Vec<SyncStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selector_sync_sets: Vec<SyncStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterSyncCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_success_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_by_replica: Option<i64>,
}

/// The status of one SyncSet or SelectorSyncSet on one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub name: String,
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources_to_delete: Vec<SyncResourceReference>,
    pub result: SyncSetResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    pub last_transition_time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_success_time: Option<Time>,
}

/// A reference to an object on the managed cluster, tracked for deletion in Sync mode.
#[derive(
    Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct SyncResourceReference {
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SyncSetResult {
    Success,
    Failure,
}

/// Hive's `ClusterSyncCondition`; the only type is `Failed`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSyncCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// ClusterSyncLease: when the last full re-apply happened. Deleting it forces a full re-apply.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "hiveinternal.openshift.io",
    version = "v1alpha1",
    kind = "ClusterSyncLease",
    plural = "clustersyncleases",
    shortname = "csl",
    namespaced,
    doc = "ClusterSyncLease is a record of the last time that SyncSets and SelectorSyncSets were applied to a cluster."
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSyncLeaseSpec {
    pub renew_time: MicroTime,
}
