//! Which ClusterDeployments a hub event concerns: for each watched kind, the keys of the clusters to queue. Pure
//! functions over the object and the cached state they need (the ClusterDeployments, the ClusterSyncs, a Secret's
//! users and versions); `watch` feeds them its events and stores and queues what comes out. Which syncsets target
//! which cluster is `plan::target`.

use std::sync::Arc;

use kube::{Resource, ResourceExt};

use super::watch::lenient::{Targets, Undecodable};
use super::watch::resource_version_of;
use crate::api::{
    ClusterDeployment, ClusterKey, ClusterSync, ClusterSyncLease, NamespacedName, SelectorSyncSet,
    SyncSet,
};
use crate::plan::target::selector_syncset_targets;

/// An object's `namespace/name` as a cluster key (a ClusterDeployment, or its ClusterSync or lease of the same name).
pub fn key_of<K: Resource>(o: &K) -> ClusterKey {
    ClusterKey::of_meta(o.meta())
}

/// The kubeconfig Secret a ClusterDeployment names now (`None`: none yet, or the cluster is deleted).
pub fn kubeconfig_secret(cd: &ClusterDeployment, deleted: bool) -> Option<NamespacedName> {
    cd.spec
        .cluster_metadata
        .as_ref()
        .filter(|_| !deleted)
        .map(|m| ClusterKey::of(cd).secret(&m.admin_kubeconfig_secret_ref.name))
}

/// A SyncSet event: the clusters it names now and the clusters whose ClusterSync still records it (a ref removed,
/// the SyncSet deleted).
pub fn sync_set_keys(ss: &SyncSet, cluster_syncs: &[Arc<ClusterSync>]) -> Vec<ClusterKey> {
    let refs = ss
        .spec
        .cluster_deployment_refs
        .iter()
        .map(|r| r.name.as_str());
    let namespace = ss.namespace().unwrap_or_default();
    sync_set_keys_of(&namespace, &ss.name_any(), refs, cluster_syncs)
}

/// An event of a SyncSet that does not decode: the clusters it names, when its `clusterDeploymentRefs` decode, and
/// the clusters whose ClusterSync records it.
pub fn undecodable_sync_set_keys(
    ss: &Undecodable,
    cluster_syncs: &[Arc<ClusterSync>],
) -> Vec<ClusterKey> {
    let refs = match &ss.targets {
        Targets::ClusterDeploymentRefs(names) => names.as_slice(),
        _ => &[],
    };
    let syncset = ss.key();
    sync_set_keys_of(
        &syncset.namespace,
        &syncset.name,
        refs.iter().map(String::as_str),
        cluster_syncs,
    )
}

fn sync_set_keys_of<'a>(
    namespace: &str,
    name: &str,
    refs: impl IntoIterator<Item = &'a str>,
    cluster_syncs: &[Arc<ClusterSync>],
) -> Vec<ClusterKey> {
    let named = refs.into_iter().map(|r| ClusterKey::new(namespace, r));
    let recording = cluster_syncs.iter().filter(|cs| {
        cs.namespace().as_deref() == Some(namespace)
            && cs
                .status
                .as_ref()
                .is_some_and(|s| s.sync_sets.iter().any(|e| e.name == name))
    });
    named
        .chain(recording.map(|cs| key_of(cs.as_ref())))
        .collect()
}

/// A SelectorSyncSet event: the clusters it selects now and the clusters whose ClusterSync still records it (a
/// selector changed, the SelectorSyncSet deleted). A selector that does not parse selects nothing.
pub fn selector_sync_set_keys(
    sss: &SelectorSyncSet,
    cds: &[Arc<ClusterDeployment>],
    cluster_syncs: &[Arc<ClusterSync>],
) -> Vec<ClusterKey> {
    selector_sync_set_keys_of(&sss.name_any(), cds, cluster_syncs, |cd| {
        selector_syncset_targets(sss, cd)
    })
}

/// An event of a SelectorSyncSet that does not decode: the clusters its selector selects, when it decodes, and the
/// clusters whose ClusterSync records it.
pub fn undecodable_selector_sync_set_keys(
    sss: &Undecodable,
    cds: &[Arc<ClusterDeployment>],
    cluster_syncs: &[Arc<ClusterSync>],
) -> Vec<ClusterKey> {
    let name = sss.metadata.name.clone().unwrap_or_default();
    selector_sync_set_keys_of(&name, cds, cluster_syncs, |cd| {
        sss.targets_cluster(cd) == Some(true)
    })
}

fn selector_sync_set_keys_of(
    name: &str,
    cds: &[Arc<ClusterDeployment>],
    cluster_syncs: &[Arc<ClusterSync>],
    targets: impl Fn(&ClusterDeployment) -> bool,
) -> Vec<ClusterKey> {
    let selected = cds.iter().filter(|cd| targets(cd));
    let recording = cluster_syncs.iter().filter(|cs| {
        cs.status
            .as_ref()
            .is_some_and(|s| s.selector_sync_sets.iter().any(|e| e.name == name))
    });
    selected
        .map(|cd| key_of(cd.as_ref()))
        .chain(recording.map(|cs| key_of(cs.as_ref())))
        .collect()
}

/// A ClusterSync event: a deleted ClusterSync is re-created at once, so its cluster is queued (Hive watches
/// ClusterSyncs; "delete the ClusterSync to force a resync" is a common operator step). Other changes queue nothing.
pub fn cluster_sync_keys(cs: &ClusterSync, deleted: bool) -> Option<ClusterKey> {
    deleted.then(|| key_of(cs))
}

/// Whether the ClusterSync this replica last `written` is superseded by a watch event of `seen`: the watch delivered
/// that version or a later one of the same object, or the object was deleted.
pub fn written_superseded(written: &ClusterSync, seen: &ClusterSync, deleted: bool) -> bool {
    deleted
        || (written.uid() == seen.uid()
            && resource_version_of(seen) >= resource_version_of(written))
}

/// A ClusterSyncLease event: deleting a lease forces a full re-apply of its cluster.
pub fn lease_keys(lease: &ClusterSyncLease, deleted: bool) -> Option<ClusterKey> {
    deleted.then(|| key_of(lease))
}

/// A referenced hub Secret's event (metadata only): its `users` (the clusters that copy it, and those whose
/// kubeconfig it holds) when its resourceVersion `seen` (`None`: deleted) differs from the `previous` one known.
/// `previous` must be read and replaced in one step (`SecretTracker::record_version`): the client pool records
/// versions too.
pub fn secret_keys(
    users: Vec<ClusterKey>,
    previous: Option<&str>,
    seen: Option<&str>,
) -> Vec<ClusterKey> {
    if previous == seen {
        Vec::new()
    } else {
        users
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use serde_json::{json, Value};

    use super::*;

    fn key(ns: &str, name: &str) -> ClusterKey {
        ClusterKey::new(ns, name)
    }

    fn cd(ns: &str, name: &str, labels: Value, kubeconfig: Option<&str>) -> Arc<ClusterDeployment> {
        let mut spec = json!({"clusterName": name, "baseDomain": "d", "platform": {}});
        if let Some(k) = kubeconfig {
            spec["clusterMetadata"] =
                json!({"clusterID": "x", "infraID": "y", "adminKubeconfigSecretRef": {"name": k}});
        }
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
                "metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": spec
            }))
            .unwrap(),
        )
    }

    fn entry(name: &str) -> Value {
        json!({"name": name, "observedGeneration": 1, "result": "Success",
               "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    /// A ClusterSync recording the given SyncSets and SelectorSyncSets.
    fn cs(
        ns: &str,
        name: &str,
        sync_sets: &[&str],
        selector_sync_sets: &[&str],
    ) -> Arc<ClusterSync> {
        let entries = |names: &[&str]| names.iter().map(|n| entry(n)).collect::<Vec<_>>();
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
                "metadata": {"name": name, "namespace": ns, "uid": "u1", "resourceVersion": "5"},
                "spec": {},
                "status": {"syncSets": entries(sync_sets), "selectorSyncSets": entries(selector_sync_sets)}
            }))
            .unwrap(),
        )
    }

    fn ss(ns: &str, name: &str, refs: &[&str]) -> SyncSet {
        let refs: Vec<_> = refs.iter().map(|r| json!({"name": r})).collect();
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
            "metadata": {"name": name, "namespace": ns}, "spec": {"clusterDeploymentRefs": refs}
        }))
        .unwrap()
    }

    fn sss(name: &str, selector: Value) -> SelectorSyncSet {
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
            "metadata": {"name": name}, "spec": {"clusterDeploymentSelector": selector}
        }))
        .unwrap()
    }

    fn undecodable(
        kind: &'static str,
        ns: Option<&str>,
        name: &str,
        targets: Targets,
    ) -> Undecodable {
        Undecodable {
            kind: Cow::Borrowed(kind),
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.into()),
                namespace: ns.map(String::from),
                ..Default::default()
            },
            error: "spec.resourceApplyMode: invalid type: integer, expected a string".into(),
            targets,
        }
    }

    #[test]
    fn a_cluster_deployment_names_its_kubeconfig_secret_until_it_is_deleted() {
        let c = cd("ns", "c1", json!({}), Some("c1-admin-kubeconfig"));
        assert_eq!(key_of(c.as_ref()), key("ns", "c1"));
        assert_eq!(
            kubeconfig_secret(&c, false),
            Some(NamespacedName::new("ns", "c1-admin-kubeconfig"))
        );
        assert_eq!(kubeconfig_secret(&c, true), None);
        assert_eq!(
            kubeconfig_secret(&cd("ns", "c2", json!({}), None), false),
            None,
            "not installed yet"
        );
    }

    #[test]
    fn a_sync_set_concerns_the_clusters_it_names_and_those_whose_cluster_sync_records_it() {
        let cluster_syncs = [
            cs("ns", "c1", &["s"], &[]),
            cs("ns", "old", &["s", "t"], &[]),
            cs("ns", "other", &["t"], &[]),
            cs("ns2", "elsewhere", &["s"], &[]),
            cs("ns", "selected", &[], &["s"]),
        ];
        assert_eq!(
            sync_set_keys(&ss("ns", "s", &["c1", "c2"]), &cluster_syncs),
            [
                key("ns", "c1"),
                key("ns", "c2"),
                key("ns", "c1"),
                key("ns", "old")
            ],
            "named first, then recorded in its namespace; the queue drops duplicates"
        );
        assert_eq!(
            sync_set_keys(&ss("ns", "gone", &[]), &cluster_syncs),
            Vec::<ClusterKey>::new()
        );

        let named = undecodable(
            "SyncSet",
            Some("ns"),
            "s",
            Targets::ClusterDeploymentRefs(vec!["c3".into()]),
        );
        assert_eq!(
            undecodable_sync_set_keys(&named, &cluster_syncs),
            [key("ns", "c3"), key("ns", "c1"), key("ns", "old")]
        );
        let unknown = undecodable("SyncSet", Some("ns"), "t", Targets::Unknown);
        assert_eq!(
            undecodable_sync_set_keys(&unknown, &cluster_syncs),
            [key("ns", "old"), key("ns", "other")],
            "targets unknown: only where it is recorded"
        );
    }

    #[test]
    fn a_selector_sync_set_concerns_the_clusters_it_selects_and_those_whose_cluster_sync_records_it(
    ) {
        let cds = [
            cd("a", "prod", json!({"env": "prod"}), None),
            cd("b", "dev", json!({"env": "dev"}), None),
        ];
        let cluster_syncs = [
            cs("b", "dev", &[], &["p"]),
            cs("c", "gone", &[], &["p"]),
            cs("a", "prod", &["p"], &[]),
        ];
        let prod = json!({"matchLabels": {"env": "prod"}});
        assert_eq!(
            selector_sync_set_keys(&sss("p", prod.clone()), &cds, &cluster_syncs),
            [key("a", "prod"), key("b", "dev"), key("c", "gone")],
            "a SyncSet of the same name is another object"
        );
        assert_eq!(
            selector_sync_set_keys(&sss("q", json!({})), &cds, &[]),
            [key("a", "prod"), key("b", "dev")],
            "an empty selector selects every cluster"
        );
        let invalid =
            json!({"matchExpressions": [{"key": "env", "operator": "Bogus", "values": ["a"]}]});
        assert_eq!(
            selector_sync_set_keys(&sss("p", invalid), &cds, &cluster_syncs),
            [key("b", "dev"), key("c", "gone")],
            "an invalid selector selects nothing; its recorded clusters still hear of it"
        );

        let selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
            serde_json::from_value(prod).unwrap();
        let known = undecodable(
            "SelectorSyncSet",
            None,
            "p",
            Targets::Selector(Some(selector)),
        );
        assert_eq!(
            undecodable_selector_sync_set_keys(&known, &cds, &cluster_syncs),
            [key("a", "prod"), key("b", "dev"), key("c", "gone")]
        );
        let unknown = undecodable("SelectorSyncSet", None, "p", Targets::Unknown);
        assert_eq!(
            undecodable_selector_sync_set_keys(&unknown, &cds, &cluster_syncs),
            [key("b", "dev"), key("c", "gone")]
        );
    }

    #[test]
    fn a_deleted_cluster_sync_or_lease_queues_its_cluster_and_other_changes_do_not() {
        let c = cs("ns", "c1", &[], &[]);
        assert_eq!(cluster_sync_keys(&c, true), Some(key("ns", "c1")));
        assert_eq!(cluster_sync_keys(&c, false), None);
        let lease: ClusterSyncLease = serde_json::from_value(json!({
            "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSyncLease",
            "metadata": {"name": "c1", "namespace": "ns"}, "spec": {"renewTime": "2026-01-01T00:00:00.000000Z"}
        }))
        .unwrap();
        assert_eq!(lease_keys(&lease, true), Some(key("ns", "c1")));
        assert_eq!(lease_keys(&lease, false), None);
    }

    #[test]
    fn a_written_cluster_sync_is_superseded_by_its_own_version_or_a_later_one() {
        let with = |uid: &str, rv: &str| {
            let mut c = (*cs("ns", "c1", &[], &[])).clone();
            c.metadata.uid = Some(uid.into());
            c.metadata.resource_version = Some(rv.into());
            c
        };
        let written = with("u1", "5");
        assert!(written_superseded(&written, &with("u1", "5"), false));
        assert!(written_superseded(&written, &with("u1", "6"), false));
        assert!(!written_superseded(&written, &with("u1", "4"), false));
        assert!(
            !written_superseded(&written, &with("u2", "9"), false),
            "another object of the same name"
        );
        assert!(written_superseded(&written, &with("u2", "1"), true));
    }

    #[test]
    fn a_secret_event_concerns_its_users_only_when_its_version_changes() {
        let users = || vec![key("ns", "a"), key("ns", "b")];
        assert_eq!(secret_keys(users(), Some("1"), Some("2")), users());
        assert_eq!(secret_keys(users(), None, Some("1")), users(), "first seen");
        assert_eq!(secret_keys(users(), Some("1"), None), users(), "deleted");
        assert!(secret_keys(users(), Some("1"), Some("1")).is_empty());
        assert!(
            secret_keys(users(), None, None).is_empty(),
            "deleted, and never seen"
        );
    }
}
