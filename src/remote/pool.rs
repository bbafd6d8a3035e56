//! One client per managed cluster, built from the Secret named by `spec.clusterMetadata.adminKubeconfigSecretRef`
//! and reused until that Secret's resourceVersion or the API URL changes. Failures to build are cached the same way,
//! so a broken Secret costs one read, not one per reconcile.

use std::sync::Arc;

use dashmap::DashMap;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use super::discovery::DiscoveryCache;
use super::error::{Cause, RemoteError};
use super::kubeconfig::{client_config, Timeouts};
use crate::api::{ClusterKey, NamespacedName};
use crate::consts::KUBECONFIG_SECRET_KEY;

/// The resourceVersions of hub Secrets as last seen, shared with the hub's Secret metadata watch (implemented by
/// `hub::secrets::SecretTracker`): a cluster's client is reused until its kubeconfig Secret's version changes.
pub trait SecretVersions: Send + Sync {
    /// The last version seen of Secret `secret` (`None`: none known).
    fn last_seen(&self, secret: &NamespacedName) -> Option<String>;
    /// Records the version of Secret `secret` a client was just built from.
    fn record_seen(&self, secret: NamespacedName, resource_version: Option<String>);
}

pub struct RemoteCluster {
    pub client: Client,
    /// The API server URL the client talks to.
    pub url: String,
    pub discovery: DiscoveryCache,
    pub timeouts: Timeouts,
}

struct Entry {
    secret_version: Option<String>,
    /// The client, or why there is none: `Cause::Config` (kept like a client), or `Cause::Hub` when the hub failed to
    /// answer for the Secret (never kept: nothing about the cluster is known, so the caller retries).
    built: Result<Arc<RemoteCluster>, RemoteError>,
}

/// Where to connect to a cluster: the API URL override while it is active (else the kubeconfig's server), and the
/// IP to dial instead of resolving the URL's host (`apiServerIPOverride`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub api_url: Option<String>,
    pub ip_override: Option<String>,
}

impl Endpoint {
    /// The endpoint of `cd` with `api_url` as the URL to use (the prober tries the override and the kubeconfig's
    /// server in turn).
    pub fn of(cd: &crate::api::ClusterDeployment, api_url: Option<&str>) -> Self {
        Self {
            api_url: api_url.map(String::from),
            ip_override: cd
                .spec
                .control_plane_config
                .as_ref()
                .and_then(|c| c.api_server_ip_override.clone()),
        }
    }
}

impl RemoteCluster {
    /// A cluster's client from its kubeconfig bytes, refused when the kubeconfig names a program or a local file.
    pub async fn build(
        kubeconfig: Option<&[u8]>,
        endpoint: &Endpoint,
        timeouts: Timeouts,
    ) -> Result<Self, RemoteError> {
        let ip = super::connect::ip_override(endpoint.ip_override.as_deref())?;
        let config = client_config(kubeconfig, endpoint.api_url.as_deref(), timeouts).await?;
        let url = config.cluster_url.to_string();
        Ok(Self {
            client: super::connect::client(config, ip)?,
            url,
            discovery: DiscoveryCache::default(),
            timeouts,
        })
    }
}

pub struct ClientPool {
    hub: Client,
    timeouts: Timeouts,
    /// Per cluster and endpoint, so the API URL override and its fallback both stay warm.
    entries: DashMap<(ClusterKey, Endpoint), Arc<Entry>>,
    building: DashMap<(ClusterKey, Endpoint), Arc<tokio::sync::Mutex<()>>>,
    /// resourceVersions of referenced hub Secrets as the Secret metadata watch last saw them.
    secrets: Arc<dyn SecretVersions>,
}

impl ClientPool {
    pub fn new(hub: Client, timeouts: Timeouts, secrets: Arc<dyn SecretVersions>) -> Self {
        Self {
            hub,
            timeouts,
            entries: DashMap::new(),
            building: DashMap::new(),
            secrets,
        }
    }

    pub fn forget(&self, cluster: &ClusterKey) {
        self.entries.retain(|(k, _), _| k != cluster);
        self.building.retain(|(k, _), _| k != cluster);
    }

    /// The client for a cluster: `cluster` is the ClusterDeployment's key, `secret` the kubeconfig Secret's name in
    /// its namespace, `endpoint` where to connect.
    pub async fn get(
        &self,
        cluster: &ClusterKey,
        secret: &str,
        endpoint: Endpoint,
    ) -> Result<Arc<RemoteCluster>, RemoteError> {
        let secret_key = cluster.secret(secret);
        let observed = self.secrets.last_seen(&secret_key);
        let entry_key = (cluster.clone(), endpoint);
        let fresh = |e: &Entry| e.secret_version == observed;
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
        let (_, endpoint) = &entry_key;
        let entry = Arc::new(self.build(&secret_key, endpoint).await);
        if !matches!(&entry.built, Err(e) if e.cause == Cause::Hub) {
            self.entries.insert(entry_key, entry.clone());
        }
        entry.built.clone()
    }

    async fn build(&self, secret_key: &NamespacedName, endpoint: &Endpoint) -> Entry {
        let secrets: Api<Secret> = Api::namespaced(self.hub.clone(), &secret_key.namespace);
        let secret = match secrets.get(&secret_key.name).await {
            Ok(s) => s,
            Err(e) => {
                return Entry {
                    secret_version: None,
                    built: Err(RemoteError::new(
                        if crate::remote::ops::is_status(&e, 404) {
                            Cause::Config
                        } else {
                            Cause::Hub
                        },
                        format!(
                            "could not get admin kubeconfig secret: {}",
                            crate::remote::ops::describe_error(&e)
                        ),
                    )),
                }
            }
        };
        // Record the version we built from, so the next get() reuses this client until the Secret changes (the
        // watch may not have recorded it: at start-up Secrets can arrive before the ClusterDeployments naming them).
        self.secrets
            .record_seen(secret_key.clone(), secret.metadata.resource_version.clone());
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(KUBECONFIG_SECRET_KEY))
            .map(|b| b.0.as_slice());
        let built = RemoteCluster::build(data, endpoint, self.timeouts)
            .await
            .map(Arc::new);
        Entry {
            secret_version: secret.metadata.resource_version,
            built,
        }
    }
}
