//! The managed clusters as a test sees them directly: clients, namespaces of the test's own, waits for the objects
//! hivesync puts there, and stopping one.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
use kube::Client;

use super::*;

/// How long a synced object may take to show on a spoke.
pub const SPOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A managed cluster as a test sees it directly.
#[derive(Clone)]
pub struct Spoke {
    pub kubeconfig: PathBuf,
    pub client: Client,
}

impl Spoke {
    /// Managed cluster `n` (counting from 1), checked to be reachable.
    pub async fn connect(n: usize) -> Result<Self> {
        let kubeconfig = managed_kubeconfig(n);
        let client = reachable_client(&kubeconfig).await?;
        Ok(Self { kubeconfig, client })
    }

    /// Its name among the local clusters (`managed-1`).
    pub fn local_name(&self) -> String {
        local_cluster_name(&self.kubeconfig)
    }

    /// Stops it (hold [`serial`] around this); dropping the guard without [`StoppedCluster::start`] starts it again.
    pub fn stop(&self) -> Result<StoppedCluster> {
        stop_local_cluster(&self.local_name())
    }

    /// A namespace of the test's own on this spoke, deleted on drop.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace> {
        TestNamespace::create(&self.client, &self.kubeconfig, prefix).await
    }

    /// Deletes `resource` `namespace/name` on this spoke when dropped.
    pub fn delete_on_drop(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> DeleteOnDrop {
        DeleteOnDrop::new(&self.kubeconfig, resource, namespace, name)
    }

    /// An Api for a namespaced kind in `namespace` on this spoke.
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// An Api for a kind across this spoke (cluster-scoped kinds).
    pub fn api_all<K>(&self) -> Api<K>
    where
        K: kube::Resource,
        K::DynamicType: Default,
    {
        Api::all(self.client.clone())
    }

    /// Waits (up to [`SPOKE_TIMEOUT`]) until ConfigMap `namespace/name` exists on this spoke.
    pub async fn wait_configmap(&self, namespace: &str, name: &str) -> Result<ConfigMap> {
        self.wait_configmap_where(namespace, name, "synced", SPOKE_TIMEOUT, |_| true)
            .await
    }

    /// Waits (up to `timeout`) until ConfigMap `namespace/name` exists on this spoke and satisfies `predicate`
    /// (described by `what`).
    pub async fn wait_configmap_where(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&ConfigMap) -> bool,
    ) -> Result<ConfigMap> {
        let seen = |cm: &ConfigMap| format!("labels {:?}, data {:?}", cm.metadata.labels, cm.data);
        self.wait_object(namespace, name, what, timeout, predicate, seen)
            .await
    }

    /// Waits (up to [`SPOKE_TIMEOUT`]) until ConfigMap `namespace/name` on this spoke has `data.<key> == value`.
    pub async fn wait_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<ConfigMap> {
        self.wait_configmap_where(
            namespace,
            name,
            &format!("data.{key}={value:?}"),
            SPOKE_TIMEOUT,
            |cm| {
                cm.data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(String::as_str)
                    == Some(value)
            },
        )
        .await
    }

    /// Waits (up to `timeout`, polling every 200 ms) until object `namespace/name` of kind `K` exists on this spoke
    /// and satisfies `predicate` (described by `what`); a failure shows `seen` of the last version.
    pub async fn wait_object<K>(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&K) -> bool,
        seen: impl Fn(&K) -> String,
    ) -> Result<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let kind = K::kind(&K::DynamicType::default()).to_string();
        let api = self.api::<K>(namespace);
        let (api, kind, predicate, seen) = (&api, &kind, &predicate, &seen);
        wait_for(timeout, Duration::from_millis(200), || async move {
            match api.get_opt(name).await? {
                Some(o) if predicate(&o) => Ok(o),
                Some(o) => bail!(
                    "spoke {kind} {namespace}/{name} is not {what}: {}",
                    seen(&o)
                ),
                None => bail!("spoke {kind} {namespace}/{name} does not exist (expected {what})"),
            }
        })
        .await
    }
}

/// The unique name of a namespace that a syncset is to create on spokes, deleted from each of them when dropped.
pub struct PlannedNamespace {
    pub name: String,
    _guards: Vec<DeleteOnDrop>,
}

impl PlannedNamespace {
    /// `prefix` plus a unique suffix, deleted from `spokes` when dropped.
    pub fn on(spokes: &[&Spoke], prefix: &str) -> Self {
        let name = unique_name(prefix);
        let _guards = spokes
            .iter()
            .map(|s| s.delete_on_drop("namespace", None, &name))
            .collect();
        Self { name, _guards }
    }
}
