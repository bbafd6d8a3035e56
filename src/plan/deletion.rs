//! What deleting a syncset would do on one cluster (`hivesync diff --delete`): in Sync mode the objects its
//! ClusterSync entry tracks are deleted, except those another syncset still declares for the cluster (handed over);
//! in Upsert mode what it declares is left in place, no longer managed. Pure: from the hub's objects alone.

use kube::ResourceExt;

use super::decode::{ApplyMode, SyncSetKind};
use super::identity::{contains, group_of, sort_for_deletion};
use super::select::{payload_for, targets_for};
use crate::api::{
    ClusterDeployment, ClusterSyncStatus, SelectorSyncSet, SyncResourceReference, SyncSet,
    SyncSetCommonSpec, SyncStatus,
};

/// What happens to one object on one cluster when the syncset is deleted.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    Deleted,
    /// Another syncset still declares it for this cluster: handed over, not deleted.
    Kept(Vec<String>),
    /// Upsert mode: left on the cluster, no longer managed.
    Orphaned,
}

/// The syncset whose deletion is predicted.
#[derive(Clone, Copy, Debug)]
pub struct DeletedSyncSet<'a> {
    pub kind: SyncSetKind,
    /// The SyncSet's namespace; `None` for a SelectorSyncSet.
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub spec: &'a SyncSetCommonSpec,
}

impl DeletedSyncSet<'_> {
    /// The cluster's ClusterSync entry of this syncset, if it has one (only then is anything sent on deletion).
    pub fn entry<'s>(&self, status: &'s ClusterSyncStatus) -> Option<&'s SyncStatus> {
        let entries = match self.kind {
            SyncSetKind::SyncSet => &status.sync_sets,
            SyncSetKind::SelectorSyncSet => &status.selector_sync_sets,
        };
        entries.iter().find(|e| e.name == self.name)
    }
}

/// What deleting the syncset would do on one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterDeletion {
    /// Each object, in the order it would be deleted, with its fate.
    pub fates: Vec<(SyncResourceReference, Fate)>,
    /// Every other syncset targeting the cluster (`SyncSet a`, `SelectorSyncSet b`) with what it declares for it.
    pub others: Vec<(String, Vec<SyncResourceReference>)>,
}

/// What deleting `deleted` would do on cluster `cd`, whose ClusterSync status is `status`; `sync_sets` and
/// `selector_sync_sets` are the hub's syncsets (the deleted one among them or not).
pub fn predict<'a>(
    deleted: &DeletedSyncSet<'_>,
    cd: &ClusterDeployment,
    status: &ClusterSyncStatus,
    sync_sets: impl IntoIterator<Item = &'a SyncSet>,
    selector_sync_sets: impl IntoIterator<Item = &'a SelectorSyncSet>,
) -> ClusterDeletion {
    let other_sync_sets = sync_sets.into_iter().filter(|s| {
        !(deleted.kind == SyncSetKind::SyncSet
            && s.name_any() == deleted.name
            && s.namespace().as_deref() == deleted.namespace)
    });
    let other_selector_sync_sets = selector_sync_sets.into_iter().filter(|s| {
        !(deleted.kind == SyncSetKind::SelectorSyncSet && s.name_any() == deleted.name)
    });
    let (ss, sss) = targets_for(cd, other_sync_sets, other_selector_sync_sets, status);
    let others: Vec<(String, Vec<SyncResourceReference>)> = ss
        .iter()
        .map(|t| (format!("SyncSet {}", t.name), t.payload.references.clone()))
        .chain(sss.iter().map(|t| {
            (
                format!("SelectorSyncSet {}", t.name),
                t.payload.references.clone(),
            )
        }))
        .collect();
    let mode = ApplyMode::parse(&deleted.spec.resource_apply_mode);
    let declared = payload_for(deleted.kind, deleted.namespace, deleted.spec, cd).references;
    let tracked = deleted
        .entry(status)
        .map(|e| e.resources_to_delete.to_vec())
        .unwrap_or_default();
    ClusterDeletion {
        fates: fates(mode, &tracked, &declared, &others),
        others,
    }
}

/// Per object, its fate when a syncset is deleted from one cluster. `tracked` is the cluster's entry's
/// `resourcesToDelete` (Sync mode), `declared` what the syncset declares for the cluster (used in Upsert mode),
/// `others` every other syncset targeting the cluster with what it declares.
pub fn fates(
    mode: ApplyMode,
    tracked: &[SyncResourceReference],
    declared: &[SyncResourceReference],
    others: &[(String, Vec<SyncResourceReference>)],
) -> Vec<(SyncResourceReference, Fate)> {
    let mut objects: Vec<SyncResourceReference> = if mode == ApplyMode::Sync {
        tracked.to_vec()
    } else {
        declared.to_vec()
    };
    sort_for_deletion(&mut objects);
    objects
        .into_iter()
        .map(|r| {
            let holders: Vec<String> = others
                .iter()
                .filter(|(_, refs)| contains(refs, &r))
                .map(|(name, _)| name.clone())
                .collect();
            let fate = if !holders.is_empty() {
                Fate::Kept(holders)
            } else if mode == ApplyMode::Sync {
                Fate::Deleted
            } else {
                Fate::Orphaned
            };
            (r, fate)
        })
        .collect()
}

/// For a Namespace, the objects in it that other syncsets declare for the cluster, each with the syncset declaring
/// it: deleting the Namespace deletes them too, whoever declares them.
pub fn namespace_contents<'a>(
    r: &SyncResourceReference,
    others: &'a [(String, Vec<SyncResourceReference>)],
) -> Vec<(&'a str, &'a SyncResourceReference)> {
    if r.kind != "Namespace" || !group_of(&r.api_version).is_empty() {
        return Vec::new();
    }
    others
        .iter()
        .flat_map(|(holder, refs)| {
            refs.iter()
                .filter(|o| o.namespace == r.name)
                .map(move |o| (holder.as_str(), o))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::plan::identity::reference;

    #[test]
    fn deleting_a_sync_syncset_removes_what_it_tracks_except_what_others_declare() {
        let a = reference("v1", "ConfigMap", "ns", "a");
        let b = reference("v1", "ConfigMap", "ns", "b");
        let namespace = reference("v1", "Namespace", "", "ns");
        let others = vec![("SyncSet keeper".to_string(), vec![b.clone()])];
        assert_eq!(
            fates(
                ApplyMode::Sync,
                &[namespace.clone(), a.clone(), b.clone()],
                &[],
                &others,
            ),
            vec![
                (a.clone(), Fate::Deleted),
                (b.clone(), Fate::Kept(vec!["SyncSet keeper".into()])),
                (namespace.clone(), Fate::Deleted),
            ]
        );
        let upsert = fates(ApplyMode::Upsert, &[], &[a.clone(), b.clone()], &others);
        assert_eq!(upsert[0], (a.clone(), Fate::Orphaned));
        assert_eq!(
            namespace_contents(&namespace, &others),
            [("SyncSet keeper", &b)]
        );
        assert!(namespace_contents(&a, &others).is_empty());
        assert!(
            namespace_contents(&reference("example.com/v1", "Namespace", "", "ns"), &others)
                .is_empty(),
            "only the core Namespace"
        );
    }

    fn cd() -> ClusterDeployment {
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": "c1", "namespace": "ns1", "labels": {"env": "prod"}},
            "spec": {"clusterName": "c1", "baseDomain": "d", "installed": true, "platform": {},
                     "clusterMetadata": {"clusterID": "x", "infraID": "y", "adminKubeconfigSecretRef": {"name": "k"}}}
        }))
        .unwrap()
    }

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "spoke"}})
    }

    fn ss(name: &str, cluster: &str, spec: Value) -> SyncSet {
        let mut spec = spec;
        spec["clusterDeploymentRefs"] = json!([{ "name": cluster }]);
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
            "metadata": {"name": name, "namespace": "ns1"}, "spec": spec
        }))
        .unwrap()
    }

    fn sss(name: &str, spec: Value) -> SelectorSyncSet {
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
            "metadata": {"name": name}, "spec": spec
        }))
        .unwrap()
    }

    fn status(kind: SyncSetKind, name: &str, tracked: &[&str]) -> ClusterSyncStatus {
        let tracked: Vec<Value> = tracked
            .iter()
            .map(|n| json!({"apiVersion": "v1", "kind": "ConfigMap", "namespace": "spoke", "name": n}))
            .collect();
        let entry = json!({"name": name, "observedGeneration": 1, "result": "Success",
                           "lastTransitionTime": "2026-01-01T00:00:00Z", "resourcesToDelete": tracked});
        let list = match kind {
            SyncSetKind::SyncSet => "syncSets",
            SyncSetKind::SelectorSyncSet => "selectorSyncSets",
        };
        serde_json::from_value(json!({ list: [entry] })).unwrap()
    }

    #[test]
    fn a_prediction_hands_over_what_other_syncsets_declare_for_the_cluster_and_ignores_the_deleted_one(
    ) {
        let cd = cd();
        let gone = sss(
            "gone",
            json!({"resourceApplyMode": "Sync", "resources": [cm("a"), cm("b"), cm("c")]}),
        );
        // `elsewhere` and `dev-only` target other clusters; `gone` itself is still on the hub and must not keep its
        // own objects.
        let sync_sets = [
            ss("keeper", "c1", json!({"resources": [cm("b")]})),
            ss("elsewhere", "c2", json!({"resources": [cm("c")]})),
        ];
        let dev = json!({"matchLabels": {"env": "dev"}});
        let selector_sync_sets = [
            gone.clone(),
            sss(
                "dev-only",
                json!({"clusterDeploymentSelector": dev, "resources": [cm("a")]}),
            ),
        ];
        let deleted = DeletedSyncSet {
            kind: SyncSetKind::SelectorSyncSet,
            namespace: None,
            name: "gone",
            spec: &gone.spec.common,
        };
        let status = status(SyncSetKind::SelectorSyncSet, "gone", &["a", "b", "c"]);
        assert_eq!(
            deleted.entry(&status).map(|e| e.name.as_str()),
            Some("gone")
        );
        let prediction = predict(&deleted, &cd, &status, &sync_sets, &selector_sync_sets);
        let spoke = |n: &str| reference("v1", "ConfigMap", "spoke", n);
        assert_eq!(
            prediction.fates,
            [
                (spoke("a"), Fate::Deleted),
                (spoke("b"), Fate::Kept(vec!["SyncSet keeper".into()])),
                (spoke("c"), Fate::Deleted),
            ]
        );
        assert_eq!(
            prediction.others,
            [("SyncSet keeper".to_string(), vec![spoke("b")])]
        );

        // Upsert: what it declares now is orphaned, whatever its entry tracks; no entry at all is the same.
        let upsert = ss("up", "c1", json!({"resources": [cm("x")]}));
        let deleted = DeletedSyncSet {
            kind: SyncSetKind::SyncSet,
            namespace: Some("ns1"),
            name: "up",
            spec: &upsert.spec.common,
        };
        let none = ClusterSyncStatus::default();
        assert!(deleted.entry(&none).is_none());
        let prediction = predict(&deleted, &cd, &none, [&upsert], []);
        assert_eq!(prediction.fates, [(spoke("x"), Fate::Orphaned)]);
        assert!(
            prediction.others.is_empty(),
            "the deleted SyncSet is not another"
        );
    }
}
