//! Which hub Secrets matter, and their last seen resourceVersions: kubeconfig Secrets (a change rebuilds that
//! cluster's client) and `secretMappings` sources (a change re-applies the syncsets that copy them, within seconds
//! instead of Hive's next full re-apply). Secret data is never cached here; only versions of referenced Secrets.

use std::collections::HashSet;

use dashmap::DashMap;

use crate::api::{ClusterKey, NamespacedName};

#[derive(Default)]
pub struct SecretTracker {
    versions: DashMap<NamespacedName, String>,
    /// Source Secret → the clusters it was copied to.
    users: DashMap<NamespacedName, HashSet<ClusterKey>>,
    /// Kubeconfig Secret → the clusters that name it, and the reverse, so a Secret event finds its clusters without
    /// scanning every ClusterDeployment.
    kubeconfig_users: DashMap<NamespacedName, HashSet<ClusterKey>>,
    kubeconfig_of: DashMap<ClusterKey, NamespacedName>,
}

impl SecretTracker {
    pub fn version(&self, key: &NamespacedName) -> Option<String> {
        self.versions.get(key).map(|v| v.clone())
    }

    /// Records that `cluster` received a copy of `key` at `resource_version`.
    pub fn record_use(
        &self,
        key: NamespacedName,
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
        self.set_kubeconfig(cluster, None);
        // A version is kept only while some cluster still uses that Secret (churn must not grow this map).
        self.versions
            .retain(|k, _| self.users.contains_key(k) || self.kubeconfig_users.contains_key(k));
    }

    /// Records which kubeconfig Secret `cluster` names now (`None`: none, or the cluster is gone).
    pub fn set_kubeconfig(&self, cluster: &ClusterKey, secret: Option<NamespacedName>) {
        let old = match &secret {
            Some(s) => self.kubeconfig_of.insert(cluster.clone(), s.clone()),
            None => self.kubeconfig_of.remove(cluster).map(|(_, s)| s),
        };
        if old == secret {
            return;
        }
        if let Some(old) = old {
            if let Some(mut u) = self.kubeconfig_users.get_mut(&old) {
                u.remove(cluster);
            }
            if self
                .kubeconfig_users
                .remove_if(&old, |_, u| u.is_empty())
                .is_some()
                && !self.users.contains_key(&old)
            {
                self.versions.remove(&old);
            }
        }
        if let Some(s) = secret {
            self.kubeconfig_users
                .entry(s)
                .or_default()
                .insert(cluster.clone());
        }
    }

    /// The clusters a change of Secret `key` concerns: those that copy it as a source and those whose kubeconfig it
    /// holds.
    pub fn users(&self, key: &NamespacedName) -> Vec<ClusterKey> {
        let mut out: Vec<ClusterKey> = self
            .users
            .get(key)
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default();
        if let Some(k) = self.kubeconfig_users.get(key) {
            out.extend(
                k.iter()
                    .filter(|c| !out.contains(c))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        out
    }

    /// Records a watch event of a Secret that something references (`None` = deleted). Returns whether the version
    /// changed from the last one known.
    pub fn observe(&self, key: NamespacedName, resource_version: Option<String>) -> bool {
        let previous = self.record_version(key, resource_version.clone());
        previous != resource_version
    }

    /// Records a Secret's version (`None` = deleted) and returns the one known before, in one step.
    pub fn record_version(
        &self,
        key: NamespacedName,
        resource_version: Option<String>,
    ) -> Option<String> {
        match resource_version {
            Some(rv) => self.versions.insert(key, rv),
            None => self.versions.remove(&key).map(|(_, rv)| rv),
        }
    }
}

/// What the client pool reads and records of kubeconfig Secrets' versions.
impl crate::remote::pool::SecretVersions for SecretTracker {
    fn last_seen(&self, secret: &NamespacedName) -> Option<String> {
        self.version(secret)
    }

    fn record_seen(&self, secret: NamespacedName, resource_version: Option<String>) {
        self.observe(secret, resource_version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> NamespacedName {
        NamespacedName::new("ns", n)
    }

    #[test]
    fn a_version_change_is_reported_once_and_users_are_remembered() {
        let t = SecretTracker::default();
        let c = ClusterKey::new("cd-ns", "cd");
        t.record_use(k("src"), &c, Some("1".into()));
        assert!(!t.observe(k("src"), Some("1".into())));
        assert!(t.observe(k("src"), Some("2".into())));
        assert!(!t.observe(k("src"), Some("2".into())));
        assert_eq!(t.users(&k("src")), vec![c.clone()]);
        assert!(t.observe(k("src"), None));
        t.forget_cluster(&c);
        assert!(t.users(&k("src")).is_empty());
    }

    #[test]
    fn the_client_pool_reads_and_records_versions_through_its_trait() {
        use crate::remote::pool::SecretVersions;
        let t = SecretTracker::default();
        let pool: &dyn SecretVersions = &t;
        assert_eq!(pool.last_seen(&k("kc")), None);
        pool.record_seen(k("kc"), Some("3".into()));
        assert_eq!(t.version(&k("kc")), Some("3".into()));
        assert!(
            !t.observe(k("kc"), Some("3".into())),
            "the watch then sees no change"
        );
        assert!(t.observe(k("kc"), Some("4".into())));
        assert_eq!(pool.last_seen(&k("kc")), Some("4".into()));
        assert_eq!(t.record_version(k("kc"), None), Some("4".into()));
        assert_eq!(pool.last_seen(&k("kc")), None);
    }

    #[test]
    fn a_forgotten_cluster_leaves_no_versions_behind() {
        let t = SecretTracker::default();
        let (a, b) = (ClusterKey::new("ns", "a"), ClusterKey::new("ns", "b"));
        t.set_kubeconfig(&a, Some(k("kc-a")));
        t.observe(k("kc-a"), Some("1".into()));
        t.record_use(k("src"), &a, Some("7".into()));
        t.record_use(k("src"), &b, Some("7".into()));
        t.forget_cluster(&a);
        assert_eq!(t.version(&k("kc-a")), None);
        assert_eq!(t.version(&k("src")), Some("7".into()), "b still copies it");
        t.forget_cluster(&b);
        assert_eq!(t.version(&k("src")), None);
        assert!(t.users(&k("src")).is_empty());
    }

    #[test]
    fn kubeconfig_users_follow_the_cluster_s_current_secret() {
        let t = SecretTracker::default();
        let (a, b) = (ClusterKey::new("ns", "a"), ClusterKey::new("ns", "b"));
        t.set_kubeconfig(&a, Some(k("kc-a")));
        t.set_kubeconfig(&b, Some(k("kc-a")));
        let mut users = t.users(&k("kc-a"));
        users.sort();
        assert_eq!(users, vec![a.clone(), b.clone()]);
        t.set_kubeconfig(&a, Some(k("kc-a2")));
        assert_eq!(t.users(&k("kc-a")), vec![b.clone()]);
        assert_eq!(t.users(&k("kc-a2")), vec![a.clone()]);
        t.set_kubeconfig(&b, None);
        assert!(t.users(&k("kc-a")).is_empty());
        // A cluster that both copies and authenticates with a Secret is listed once.
        t.record_use(k("kc-a2"), &a, None);
        assert_eq!(t.users(&k("kc-a2")), vec![a]);
    }
}
