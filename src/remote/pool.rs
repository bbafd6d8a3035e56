//! One client per managed cluster, built from the Secret named by `spec.clusterMetadata.adminKubeconfigSecretRef`
//! and reused until that Secret's resourceVersion or the API URL changes. Failures to build are cached the same way,
//! so a broken Secret costs one read, not one per reconcile.

use std::sync::Arc;

use dashmap::DashMap;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use super::discovery::DiscoveryCache;
use super::kubeconfig::{client_config, Timeouts};
use crate::consts::KUBECONFIG_SECRET_KEY;
use crate::hub::secrets::SecretTracker;

/// `namespace/name`.
pub type Key = (String, String);

pub struct RemoteCluster {
    pub client: Client,
    /// The API server URL the client talks to.
    pub url: String,
    pub discovery: DiscoveryCache,
    pub timeouts: Timeouts,
}

struct Entry {
    secret_version: Option<String>,
    api_url: Option<String>,
    built: Result<Arc<RemoteCluster>, ClientError>,
}

/// Why there is no client for a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    pub message: String,
    /// The hub failed to answer for the Secret (not: the Secret is missing or its kubeconfig unusable). Nothing about
    /// the cluster is known, so the caller retries instead of recording a failure; such errors are not cached.
    pub transient: bool,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ClientError {
    fn bad_input(message: String) -> Self {
        Self {
            message,
            transient: false,
        }
    }
}

pub struct ClientPool {
    hub: Client,
    timeouts: Timeouts,
    /// Per cluster and API URL (None: the kubeconfig's server), so the override and its fallback both stay warm.
    entries: DashMap<(Key, Option<String>), Arc<Entry>>,
    building: DashMap<(Key, Option<String>), Arc<tokio::sync::Mutex<()>>>,
    /// resourceVersions of referenced hub Secrets as the Secret metadata watch last saw them.
    secrets: Arc<SecretTracker>,
}

impl ClientPool {
    pub fn new(hub: Client, timeouts: Timeouts, secrets: Arc<SecretTracker>) -> Self {
        Self {
            hub,
            timeouts,
            entries: DashMap::new(),
            building: DashMap::new(),
            secrets,
        }
    }

    pub fn forget(&self, cluster: &Key) {
        self.entries.retain(|(k, _), _| k != cluster);
        self.building.retain(|(k, _), _| k != cluster);
    }

    /// The client for a cluster: `cluster` is the ClusterDeployment's key, `secret` the kubeconfig Secret's name in
    /// its namespace, `api_url` the override to use (only while it is active).
    pub async fn get(
        &self,
        cluster: &Key,
        secret: &str,
        api_url: Option<&str>,
    ) -> Result<Arc<RemoteCluster>, ClientError> {
        let secret_key = (cluster.0.clone(), secret.to_string());
        let observed = self.secrets.version(&secret_key);
        let entry_key = (cluster.clone(), api_url.map(String::from));
        let fresh = |e: &Entry| e.secret_version == observed && e.api_url.as_deref() == api_url;
        if let Some(entry) = self.entries.get(&entry_key).map(|e| e.clone()) {
            if fresh(&entry) {
                return entry.built.clone();
            }
        }
        // One build per cluster and URL at a time: the probe and the sync often ask together.
        let lock = self.building.entry(entry_key.clone()).or_default().clone();
        let _guard = lock.lock().await;
        if let Some(entry) = self.entries.get(&entry_key).map(|e| e.clone()) {
            if fresh(&entry) {
                return entry.built.clone();
            }
        }
        let entry = Arc::new(self.build(&secret_key, api_url).await);
        if !matches!(&entry.built, Err(e) if e.transient) {
            self.entries.insert(entry_key, entry.clone());
        }
        entry.built.clone()
    }

    async fn build(&self, (namespace, name): &Key, api_url: Option<&str>) -> Entry {
        let secrets: Api<Secret> = Api::namespaced(self.hub.clone(), namespace);
        let secret = match secrets.get(name).await {
            Ok(s) => s,
            Err(e) => {
                return Entry {
                    secret_version: None,
                    api_url: api_url.map(String::from),
                    built: Err(ClientError {
                        transient: !crate::remote::ops::is_status(&e, 404),
                        message: format!(
                            "could not get admin kubeconfig secret: {}",
                            crate::remote::ops::describe_error(&e)
                        ),
                    }),
                }
            }
        };
        // Record the version we built from, so the next get() reuses this client until the Secret changes (the
        // watch may not have recorded it: at start-up Secrets can arrive before the ClusterDeployments naming them).
        self.secrets.observe(
            (namespace.clone(), name.clone()),
            secret.metadata.resource_version.clone(),
        );
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(KUBECONFIG_SECRET_KEY))
            .map(|b| b.0.as_slice());
        let built = match client_config(data, api_url, self.timeouts).await {
            Ok(config) => {
                let url = config.cluster_url.to_string();
                crate::metrics::client(config, true)
                    .map(|client| {
                        Arc::new(RemoteCluster {
                            client,
                            url,
                            discovery: DiscoveryCache::default(),
                            timeouts: self.timeouts,
                        })
                    })
                    .map_err(|e| {
                        ClientError::bad_input(format!(
                            "could not build client for the admin kubeconfig: {e}"
                        ))
                    })
            }
            Err(e) => Err(ClientError::bad_input(e)),
        };
        Entry {
            secret_version: secret.metadata.resource_version,
            api_url: api_url.map(String::from),
            built,
        }
    }
}
