//! Names the watches keep so that the hot paths need not scan a whole store: the SyncSets that name each cluster (a
//! reconcile reads its own cluster's SyncSets, not the fleet's: a store's `state()` clones an `Arc` per
//! object, 1000 of them per reconcile at 1000 clusters with one SyncSet each, and many fleets keep every
//! ClusterDeployment in one namespace), the syncsets opted into a progressive
//! rollout (the rollout loop runs every 2 s), and a count of ClusterDeployment events (the probe scheduler looks for
//! new clusters only after one).
//!
//! The names are fed by the watch events, after the store has the object; a name can outlive its object for a while
//! (a relist that drops a deleted object), so users look each name up in the store and skip a miss.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::{DashMap, DashSet};
use kube::ResourceExt;

use crate::api::{ClusterKey, SelectorSyncSet, SyncSet};
use crate::consts::ROLLOUT_STRATEGY_ANNOTATION;

#[derive(Default)]
pub struct Names {
    /// The SyncSets naming each cluster.
    sync_sets: DashMap<ClusterKey, BTreeSet<String>>,
    /// The clusters each SyncSet (namespace, name) names, as last seen.
    refs: DashMap<(String, String), Vec<String>>,
    /// (namespace, name) of opted-in SyncSets.
    opted_sync_sets: DashSet<(String, String)>,
    opted_selector_sync_sets: DashSet<String>,
    cd_events: AtomicU64,
}

impl Names {
    pub fn sync_set(&self, ss: &SyncSet, deleted: bool) {
        let (namespace, name) = (ss.namespace().unwrap_or_default(), ss.name_any());
        let key = (namespace, name);
        let now: Vec<String> = if deleted {
            Vec::new()
        } else {
            let mut refs: Vec<String> = ss
                .spec
                .cluster_deployment_refs
                .iter()
                .map(|r| r.name.clone())
                .collect();
            refs.sort();
            refs.dedup();
            refs
        };
        let before = self.refs.remove(&key).map(|(_, r)| r).unwrap_or_default();
        let cluster = |cd: &String| ClusterKey::new(&key.0, cd);
        for cd in before.iter().filter(|cd| !now.contains(cd)) {
            let cluster = cluster(cd);
            if let Some(mut names) = self.sync_sets.get_mut(&cluster) {
                names.remove(&key.1);
            }
            self.sync_sets
                .remove_if(&cluster, |_, names| names.is_empty());
        }
        for cd in &now {
            self.sync_sets
                .entry(cluster(cd))
                .or_default()
                .insert(key.1.clone());
        }
        if !now.is_empty() {
            self.refs.insert(key.clone(), now);
        }
        if !deleted && opted_in(ss.annotations()) {
            self.opted_sync_sets.insert(key);
        } else {
            self.opted_sync_sets.remove(&key);
        }
    }

    pub fn selector_sync_set(&self, sss: &SelectorSyncSet, deleted: bool) {
        if !deleted && opted_in(sss.annotations()) {
            self.opted_selector_sync_sets.insert(sss.name_any());
        } else {
            self.opted_selector_sync_sets.remove(&sss.name_any());
        }
    }

    pub fn cluster_deployment_event(&self) {
        self.cd_events.fetch_add(1, Ordering::Release);
    }

    /// The names of the SyncSets that name `cluster` (in its namespace).
    pub fn sync_sets_of(&self, cluster: &ClusterKey) -> Vec<String> {
        self.sync_sets
            .get(cluster)
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn opted_sync_sets(&self) -> Vec<(String, String)> {
        self.opted_sync_sets.iter().map(|k| k.clone()).collect()
    }

    pub fn opted_selector_sync_sets(&self) -> Vec<String> {
        self.opted_selector_sync_sets
            .iter()
            .map(|k| k.clone())
            .collect()
    }

    /// Changes with every ClusterDeployment event.
    pub fn cluster_deployment_events(&self) -> u64 {
        self.cd_events.load(Ordering::Acquire)
    }
}

fn opted_in(annotations: &std::collections::BTreeMap<String, String>) -> bool {
    annotations.contains_key(ROLLOUT_STRATEGY_ANNOTATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync_set(namespace: &str, name: &str, refs: &[&str], opted: bool) -> SyncSet {
        let refs: Vec<_> = refs
            .iter()
            .map(|r| serde_json::json!({"name": r}))
            .collect();
        let mut ss: SyncSet = serde_json::from_value(serde_json::json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
            "metadata": {"namespace": namespace, "name": name},
            "spec": {"clusterDeploymentRefs": refs}
        }))
        .unwrap();
        if opted {
            ss.annotations_mut()
                .insert(ROLLOUT_STRATEGY_ANNOTATION.into(), "canary".into());
        }
        ss
    }

    #[test]
    fn sync_sets_are_found_by_the_clusters_they_name_and_opted_in_ones_apart() {
        let names = Names::default();
        let (a1, a2, b1) = (
            ClusterKey::new("a", "c1"),
            ClusterKey::new("a", "c2"),
            ClusterKey::new("b", "c1"),
        );
        names.sync_set(&sync_set("a", "one", &["c1"], false), false);
        names.sync_set(&sync_set("a", "two", &["c1", "c2"], true), false);
        names.sync_set(&sync_set("b", "one", &["c1"], false), false);
        assert_eq!(names.sync_sets_of(&a1), ["one", "two"]);
        assert_eq!(names.sync_sets_of(&a2), ["two"]);
        assert_eq!(names.sync_sets_of(&b1), ["one"]);
        assert_eq!(names.opted_sync_sets(), [("a".into(), "two".into())]);
        // A ref removed, opting out, then deleting.
        names.sync_set(&sync_set("a", "two", &["c2"], false), false);
        assert_eq!(names.sync_sets_of(&a1), ["one"]);
        assert!(names.opted_sync_sets().is_empty());
        names.sync_set(&sync_set("a", "two", &["c2"], false), true);
        names.sync_set(&sync_set("a", "one", &["c1"], false), true);
        assert!(names.sync_sets_of(&a1).is_empty());
        assert!(names.sync_sets_of(&a2).is_empty());
        assert_eq!(names.sync_sets_of(&b1), ["one"]);
        assert_eq!((names.refs.len(), names.sync_sets.len()), (1, 1));
    }
}
