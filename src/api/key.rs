//! The names hivesync keys its state by: [`ClusterKey`] for a managed cluster, [`NamespacedName`] for any other hub
//! object. Both live here, beside the types they name, so `hub` and `remote` share them without `remote` importing
//! `hub`.
//!
//! They are two types rather than one on purpose: a cluster's key and a Secret's key are both `namespace/name`, and
//! the client pool takes one of each (`remote::pool::ClientPool::get`), so mixing them up must not compile. A Secret's
//! key and the key of an undecodable hub object (`hub::watch::lenient`) are both plain [`NamespacedName`]s: neither
//! has rules of its own, and no function takes both, so a type each would only add conversions.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{Lookup, ObjectRef};
use kube::Resource;

use super::ClusterDeployment;

/// A managed cluster: its ClusterDeployment's `namespace/name`, which are also its ClusterSync's and
/// ClusterSyncLease's. The reconcile key of the work queue and the key of every per-cluster cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterKey {
    pub namespace: String,
    pub name: String,
}

impl ClusterKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The cluster `cd` describes.
    pub fn of(cd: &ClusterDeployment) -> Self {
        Self::of_meta(&cd.metadata)
    }

    /// The cluster an object of the cluster's own name belongs to: its ClusterDeployment, ClusterSync or
    /// ClusterSyncLease, given as metadata (an object that did not decode has only that).
    pub fn of_meta(meta: &ObjectMeta) -> Self {
        Self::new(
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    }

    /// The reflector store reference of the cluster's object of kind `K` (ClusterDeployment, ClusterSync,
    /// ClusterSyncLease: all share the cluster's namespace and name).
    pub fn object_ref<K: Lookup>(&self) -> ObjectRef<K>
    where
        K::DynamicType: Default,
    {
        ObjectRef::new(&self.name).within(&self.namespace)
    }

    /// The Secret `name` in the cluster's namespace (its kubeconfig Secret, for one).
    pub fn secret(&self, name: impl Into<String>) -> NamespacedName {
        NamespacedName::new(self.namespace.clone(), name)
    }
}

impl fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A hub object other than a cluster: a Secret, or an object that did not decode. The namespace is empty for a
/// cluster-scoped kind (a SelectorSyncSet).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespacedName {
    pub namespace: String,
    pub name: String,
}

impl NamespacedName {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The name of object `o`.
    pub fn of<K: Resource>(o: &K) -> Self {
        Self::of_meta(o.meta())
    }

    /// The name an object's metadata gives it.
    pub fn of_meta(meta: &ObjectMeta) -> Self {
        Self::new(
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    }
}

impl fmt::Display for NamespacedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_key_reads_as_namespace_slash_name_and_orders_by_namespace_first() {
        let a = ClusterKey::new("ns-a", "z");
        let b = ClusterKey::new("ns-b", "a");
        assert_eq!(a.to_string(), "ns-a/z");
        assert!(a < b);
        assert_eq!(
            a.secret("kubeconfig"),
            NamespacedName::new("ns-a", "kubeconfig")
        );
    }

    #[test]
    fn a_cluster_key_is_its_cluster_deployment_s_namespace_and_name() {
        let cd: ClusterDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": "c1", "namespace": "ns"},
            "spec": {"clusterName": "c1", "baseDomain": "d", "platform": {}}
        }))
        .unwrap();
        assert_eq!(ClusterKey::of(&cd), ClusterKey::new("ns", "c1"));
        assert_eq!(
            ClusterKey::of(&cd).object_ref::<ClusterDeployment>(),
            ObjectRef::from_obj(&cd)
        );
        assert_eq!(NamespacedName::of(&cd).to_string(), "ns/c1");
    }
}
