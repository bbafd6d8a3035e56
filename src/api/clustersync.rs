//! ClusterSync and ClusterSyncLease (`hiveinternal.openshift.io/v1alpha1`): docs/hive-compatibility.md, "ClusterSync
//! and ClusterSyncLease".

use internment::ArcIntern;
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
    #[serde(default, skip_serializing_if = "TrackedResources::is_empty")]
    #[schemars(with = "Vec<SyncResourceReference>")]
    pub resources_to_delete: TrackedResources,
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

/// A `resourcesToDelete` list, interned: every cluster a syncset reaches tracks the same list (unless the syncset is
/// templated), so the ClusterSync store keeps one copy per distinct list instead of one per cluster (the OSD payload
/// on 1000 clusters: ~280 000 references, the largest part of the controller's memory). Immutable; reads deref to a
/// slice, writes build a new list. Serialized exactly as the plain list.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TrackedResources(ArcIntern<Vec<SyncResourceReference>>);

impl TrackedResources {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Default for TrackedResources {
    fn default() -> Self {
        Self(ArcIntern::new(Vec::new()))
    }
}

impl From<Vec<SyncResourceReference>> for TrackedResources {
    fn from(v: Vec<SyncResourceReference>) -> Self {
        Self(ArcIntern::new(v))
    }
}

impl std::ops::Deref for TrackedResources {
    type Target = [SyncResourceReference];
    fn deref(&self) -> &[SyncResourceReference] {
        &self.0
    }
}

impl std::fmt::Debug for TrackedResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq<Vec<SyncResourceReference>> for TrackedResources {
    fn eq(&self, other: &Vec<SyncResourceReference>) -> bool {
        **self == **other
    }
}

impl<const N: usize> PartialEq<[SyncResourceReference; N]> for TrackedResources {
    fn eq(&self, other: &[SyncResourceReference; N]) -> bool {
        **self == other[..]
    }
}

impl Serialize for TrackedResources {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TrackedResources {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<SyncResourceReference>::deserialize(d).map(Self::from)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_resources_serialize_as_the_plain_list_and_share_equal_lists() {
        let json = r#"{"name":"s","observedGeneration":1,"resourcesToDelete":[{"apiVersion":"v1","kind":"ConfigMap","name":"a","namespace":"ns"}],"result":"Success","lastTransitionTime":"2026-11-22T00:00:00Z"}"#;
        let a: SyncStatus = serde_json::from_str(json).unwrap();
        let b: SyncStatus = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), json);
        assert_eq!(a.resources_to_delete.len(), 1);
        assert_eq!(a.resources_to_delete[0].kind, "ConfigMap");
        // Two clusters tracking the same objects hold one list.
        assert!(std::ptr::eq(
            a.resources_to_delete.as_ptr(),
            b.resources_to_delete.as_ptr()
        ));
        let empty: SyncStatus = serde_json::from_str(&json.replace(
            r#""resourcesToDelete":[{"apiVersion":"v1","kind":"ConfigMap","name":"a","namespace":"ns"}],"#,
            "",
        ))
        .unwrap();
        assert!(empty.resources_to_delete.is_empty());
        assert!(!serde_json::to_string(&empty)
            .unwrap()
            .contains("resourcesToDelete"));
    }
}
