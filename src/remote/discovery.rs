//! Per-cluster discovery: kind → resource, cached by group-version and refreshed only when a kind is unknown, so a
//! steady-state reconcile sends no discovery requests (Hive fetched the OpenAPI schema on every reconcile).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroup, APIResourceList};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use tokio::sync::RwLock;

/// A resolved kind: what to call it and whether it lives in a namespace.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// A failed lookup. `not_served` only when the cluster answered that it does not serve the kind (the group-version is
/// absent, or a successful discovery of it lacks the kind): the one answer that lets a delete count as done. Every
/// other failure (403, 429, 5xx, a timeout, a refused connection) says nothing about the object.
#[derive(Clone, Debug)]
pub struct DiscoveryError {
    pub message: String,
    /// The cluster did not answer at all (a connection-level failure).
    pub unreachable: bool,
    pub not_served: bool,
}

impl DiscoveryError {
    fn failed(message: String) -> Self {
        Self {
            message,
            unreachable: false,
            not_served: false,
        }
    }

    fn not_served(message: String) -> Self {
        Self {
            not_served: true,
            ..Self::failed(message)
        }
    }

    fn from_kube(what: &str, e: kube::Error) -> Self {
        Self {
            unreachable: super::ops::is_connection_error(&e),
            message: format!(
                "discovery of {what} failed: {}",
                super::ops::describe_error(&e)
            ),
            not_served: false,
        }
    }
}

/// Group-versions remembered as not served, per cluster, before that memory is cleared.
const MAX_NOT_SERVED: usize = 64;

/// The kinds served in one group-version.
type Kinds = Arc<HashMap<String, Resolved>>;

#[derive(Default)]
pub struct DiscoveryCache {
    /// `group/version` → kinds; `None` when the group-version was not served when last asked.
    by_group_version: RwLock<HashMap<String, Option<Kinds>>>,
}

impl DiscoveryCache {
    /// Resolves `apiVersion` + `kind`, asking the server only when the cache does not know the kind.
    pub async fn resolve(
        &self,
        client: &Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Resolved, DiscoveryError> {
        if let Some(Some(kinds)) = self.by_group_version.read().await.get(api_version) {
            if let Some(r) = kinds.get(kind) {
                return Ok(r.clone());
            }
        }
        let kinds = self.refresh(client, api_version).await?;
        kinds.and_then(|k| k.get(kind).cloned()).ok_or_else(|| {
            DiscoveryError::not_served(format!(
                "no matches for kind \"{kind}\" in version \"{api_version}\""
            ))
        })
    }

    /// Resolves a kind at any version its group serves (the preferred one first), or `None` when the group no
    /// longer serves the kind at all: then no object of it can exist. Used for deletes, where the tracked version
    /// may have been retired since the object was applied. Only a definite answer means `None`; any other failure
    /// is an error, so the delete stays tracked and is retried (a lost delete would leave a copied Secret behind).
    pub async fn resolve_any_version(
        &self,
        client: &Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resolved>, DiscoveryError> {
        match self.resolve(client, api_version, kind).await {
            Ok(r) => return Ok(Some(r)),
            Err(e) if e.not_served => {}
            Err(e) => return Err(e),
        }
        let Some((group, _)) = api_version.rsplit_once('/') else {
            // The core group serves only v1, which `resolve` just tried.
            return Ok(None);
        };
        let req = http::Request::get(format!("/apis/{group}"))
            .body(Vec::new())
            .map_err(|e| DiscoveryError::failed(e.to_string()))?;
        let versions = match client.request::<APIGroup>(req).await {
            Ok(g) => {
                let preferred = g.preferred_version.map(|v| v.group_version);
                let mut all: Vec<String> =
                    g.versions.into_iter().map(|v| v.group_version).collect();
                all.sort_by_key(|gv| Some(gv) != preferred.as_ref());
                all
            }
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(DiscoveryError::from_kube(group, e)),
        };
        for gv in versions.iter().filter(|gv| gv.as_str() != api_version) {
            match self.resolve(client, gv, kind).await {
                Ok(r) => return Ok(Some(r)),
                Err(e) if e.not_served => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Forgets a group-version, e.g. after a CRD for it was applied.
    pub async fn invalidate(&self, api_version: &str) {
        self.by_group_version.write().await.remove(api_version);
    }

    async fn refresh(
        &self,
        client: &Client,
        api_version: &str,
    ) -> Result<Option<Kinds>, DiscoveryError> {
        let path = if api_version.contains('/') {
            format!("/apis/{api_version}")
        } else {
            format!("/api/{api_version}")
        };
        let req = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| DiscoveryError::failed(e.to_string()))?;
        let list = match client.request::<APIResourceList>(req).await {
            Ok(list) => list,
            Err(kube::Error::Api(s)) if s.code == 404 => {
                let mut cache = self.by_group_version.write().await;
                // apiVersions come from syncset authors (templated ones may differ per cluster): keep a bounded
                // number of "not served" answers, so made-up group-versions cannot grow the cache without end.
                if cache.values().filter(|k| k.is_none()).count() >= MAX_NOT_SERVED {
                    cache.retain(|_, k| k.is_some());
                }
                cache.insert(api_version.to_string(), None);
                return Ok(None);
            }
            Err(e) => return Err(DiscoveryError::from_kube(api_version, e)),
        };
        let gv = kube::core::GroupVersion::gv(
            api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or(""),
            api_version
                .rsplit_once('/')
                .map(|(_, v)| v)
                .unwrap_or(api_version),
        );
        let kinds: HashMap<String, Resolved> = list
            .resources
            .iter()
            .filter(|r| !r.name.contains('/'))
            .map(|r| {
                let gvk = GroupVersionKind::gvk(&gv.group, &gv.version, &r.kind);
                let resource = ApiResource::from_gvk_with_plural(&gvk, &r.name);
                (
                    r.kind.clone(),
                    Resolved {
                        resource,
                        namespaced: r.namespaced,
                    },
                )
            })
            .collect();
        let kinds = Arc::new(kinds);
        self.by_group_version
            .write()
            .await
            .insert(api_version.to_string(), Some(kinds.clone()));
        Ok(Some(kinds))
    }
}
