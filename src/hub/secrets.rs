//! Which hub Secrets matter, and their last seen resourceVersions: kubeconfig Secrets (a change rebuilds that
//! cluster's client) and `secretMappings` sources (a change re-applies the syncsets that copy them, within seconds
//! instead of Hive's next full re-apply). Secret data is never cached here; only versions of referenced Secrets.

use std::collections::HashSet;

use dashmap::DashMap;

use super::ClusterKey;

/// `namespace/name` of a hub Secret.
pub type SecretKey = (String, String);

#[derive(Default)]
pub struct SecretTracker {
    versions: DashMap<SecretKey, String>,
    /// Source Secret → the clusters it was copied to.
    users: DashMap<SecretKey, HashSet<ClusterKey>>,
}

impl SecretTracker {
    pub fn version(&self, key: &SecretKey) -> Option<String> {
        self.versions.get(key).map(|v| v.clone())
    }

    /// Records that `cluster` received a copy of `key` at `resource_version`.
    pub fn record_use(
        &self,
        key: SecretKey,
        cluster: &ClusterKey,
        resource_version: Option<String>,
    ) {
        if let Some(rv) = resource_version {
            self.versions.insert(key.clone(), rv);
        }
        self.users.entry(key).or_default().insert(cluster.clone());
    }

    pub fn forget_cluster(&self, cluster: &ClusterKey) {
        self.users.iter_mut().for_each(|mut u| {
            u.remove(cluster);
        });
        self.users.retain(|_, u| !u.is_empty());
    }

    /// The clusters that copy `key` as a source.
    pub fn users(&self, key: &SecretKey) -> Vec<ClusterKey> {
        self.users
            .get(key)
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Records a watch event of a Secret that something references (`None` = deleted). Returns whether the version
    /// changed from the last one known.
    pub fn observe(&self, key: SecretKey, resource_version: Option<String>) -> bool {
        match resource_version {
            Some(rv) => self.versions.insert(key, rv.clone()).as_deref() != Some(rv.as_str()),
            None => self.versions.remove(&key).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> SecretKey {
        ("ns".into(), n.into())
    }

    #[test]
    fn a_version_change_is_reported_once_and_users_are_remembered() {
        let t = SecretTracker::default();
        let c: ClusterKey = ("cd-ns".into(), "cd".into());
        t.record_use(k("src"), &c, Some("1".into()));
        assert!(!t.observe(k("src"), Some("1".into())));
        assert!(t.observe(k("src"), Some("2".into())));
        assert!(!t.observe(k("src"), Some("2".into())));
        assert_eq!(t.users(&k("src")), vec![c.clone()]);
        assert!(t.observe(k("src"), None));
        t.forget_cluster(&c);
        assert!(t.users(&k("src")).is_empty());
    }
}
