//! Per-cluster discovery: kind → resource, cached by group-version and refreshed only when a kind is unknown, so a
//! steady-state reconcile sends no discovery requests (Hive fetched the OpenAPI schema on every reconcile).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroup, APIResourceList};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use tokio::sync::RwLock;

use super::error::{Cause, RemoteError};

/// A resolved kind: what to call it and whether it lives in a namespace.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// A failed lookup is `Cause::NotServed` only when the cluster answered that it does not serve the kind (the
/// group-version is absent, or a successful discovery of it lacks the kind): the one answer that lets a delete count
/// as done. Every other failure (403, 429, 5xx, a timeout, a refused connection) says nothing about the object.
fn not_served(message: String) -> RemoteError {
    RemoteError::new(Cause::NotServed, message)
}

fn discovery_failed(what: &str, e: &kube::Error) -> RemoteError {
    RemoteError::from_kube(e).context(format_args!("discovery of {what} failed"))
}

/// Group-versions remembered as not served, per cluster, before that memory is cleared.
const MAX_NOT_SERVED: usize = 64;

/// What one group-version serves.
#[derive(Default)]
struct Served {
    /// Kind → resource.
    kinds: HashMap<String, Resolved>,
    /// Resource names and singular names, lower case (kubectl's RESTMapper lower-cases what it is given) → Kind.
    names: HashMap<String, String>,
    /// Short names as listed (kubectl's shortcut expander matches them exactly) → Kind.
    short_names: HashMap<String, String>,
}

impl Served {
    /// A patch target as kubectl resolves `<kind>.<version>.<group>`: a resource or singular name as written, a
    /// short name, a resource or singular name in another case, and only then a Kind.
    fn patch_target(&self, name: &str) -> Option<&Resolved> {
        let kind = self
            .names
            .get(name)
            .or_else(|| self.short_names.get(name))
            .or_else(|| self.names.get(&name.to_lowercase()))
            .map_or(name, String::as_str);
        self.kinds.get(kind)
    }
}

type Kinds = Arc<Served>;

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
    ) -> Result<Resolved, RemoteError> {
        self.lookup(client, api_version, |served| served.kinds.get(kind))
            .await?
            .ok_or_else(|| {
                not_served(format!(
                    "no matches for kind \"{kind}\" in version \"{api_version}\""
                ))
            })
    }

    /// Resolves a patch's target as `kubectl patch` does (Hive runs it): `name` may be the Kind, the resource's plural
    /// or singular name in any case, or one of its short names, in `api_version` only. Nothing matching fails with
    /// kubectl's `the server doesn't have a resource type "<name>"` (`Cause::NotServed`). Resources and deletes keep the
    /// exact Kind ([`DiscoveryCache::resolve`]), as Hive's RESTMapping does.
    pub async fn resolve_patch_target(
        &self,
        client: &Client,
        api_version: &str,
        name: &str,
    ) -> Result<Resolved, RemoteError> {
        self.lookup(client, api_version, |served| served.patch_target(name))
            .await?
            .ok_or_else(|| {
                not_served(format!(
                    "the server doesn't have a resource type \"{name}\""
                ))
            })
    }

    /// `find` in what `api_version` serves, from the cache, else after asking the server once; None when the server
    /// does not serve the group-version or `find` finds nothing in it.
    async fn lookup(
        &self,
        client: &Client,
        api_version: &str,
        find: impl Fn(&Served) -> Option<&Resolved>,
    ) -> Result<Option<Resolved>, RemoteError> {
        if let Some(Some(served)) = self.by_group_version.read().await.get(api_version) {
            if let Some(r) = find(served) {
                return Ok(Some(r.clone()));
            }
        }
        let served = self.refresh(client, api_version).await?;
        Ok(served.and_then(|s| find(&s).cloned()))
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
    ) -> Result<Option<Resolved>, RemoteError> {
        match self.resolve(client, api_version, kind).await {
            Ok(r) => return Ok(Some(r)),
            Err(e) if e.cause == Cause::NotServed => {}
            Err(e) => return Err(e),
        }
        let Some((group, _)) = api_version.rsplit_once('/') else {
            // The core group serves only v1, which `resolve` just tried.
            return Ok(None);
        };
        let req = http::Request::get(format!("/apis/{group}"))
            .body(Vec::new())
            .map_err(|e| RemoteError::api(e.to_string()))?;
        let versions = match client.request::<APIGroup>(req).await {
            Ok(g) => {
                let preferred = g.preferred_version.map(|v| v.group_version);
                let mut all: Vec<String> =
                    g.versions.into_iter().map(|v| v.group_version).collect();
                all.sort_by_key(|gv| Some(gv) != preferred.as_ref());
                all
            }
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
            Err(e) => return Err(discovery_failed(group, &e)),
        };
        for gv in versions.iter().filter(|gv| gv.as_str() != api_version) {
            match self.resolve(client, gv, kind).await {
                Ok(r) => return Ok(Some(r)),
                Err(e) if e.cause == Cause::NotServed => {}
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
    ) -> Result<Option<Kinds>, RemoteError> {
        let path = if api_version.contains('/') {
            format!("/apis/{api_version}")
        } else {
            format!("/api/{api_version}")
        };
        let req = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| RemoteError::api(e.to_string()))?;
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
            Err(e) => return Err(discovery_failed(api_version, &e)),
        };
        let gv = kube::core::GroupVersion::gv(
            api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or(""),
            api_version
                .rsplit_once('/')
                .map(|(_, v)| v)
                .unwrap_or(api_version),
        );
        let served = Arc::new(served(&gv, &list));
        self.by_group_version
            .write()
            .await
            .insert(api_version.to_string(), Some(served.clone()));
        Ok(Some(served))
    }
}

/// Indexes a group-version's resource list (subresources left out).
fn served(gv: &kube::core::GroupVersion, list: &APIResourceList) -> Served {
    let resources: Vec<_> = list
        .resources
        .iter()
        .filter(|r| !r.name.contains('/'))
        .collect();
    let mut served = Served::default();
    for r in &resources {
        let gvk = GroupVersionKind::gvk(&gv.group, &gv.version, &r.kind);
        served.kinds.insert(
            r.kind.clone(),
            Resolved {
                resource: ApiResource::from_gvk_with_plural(&gvk, &r.name),
                namespaced: r.namespaced,
            },
        );
    }
    // A name already taken keeps its first owner: plural names, then singular names (the lower-cased Kind when the
    // server lists none, as client-go guesses it).
    let plural = resources.iter().map(|r| (r.name.to_lowercase(), &r.kind));
    let singular = resources.iter().map(|r| {
        let name = if r.singular_name.is_empty() {
            &r.kind
        } else {
            &r.singular_name
        };
        (name.to_lowercase(), &r.kind)
    });
    for (name, kind) in plural.chain(singular) {
        served.names.entry(name).or_insert_with(|| kind.clone());
    }
    for r in &resources {
        for short in r.short_names.iter().flatten() {
            served
                .short_names
                .entry(short.clone())
                .or_insert_with(|| r.kind.clone());
        }
    }
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configmaps_and_friends() -> Served {
        let list: APIResourceList = serde_json::from_value(serde_json::json!({
            "groupVersion": "v1",
            "resources": [
                {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap",
                 "verbs": ["get"], "shortNames": ["cm"]},
                {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
                 "verbs": ["get"], "shortNames": ["ns"]},
                {"name": "namespaces/status", "singularName": "", "namespaced": false, "kind": "Namespace",
                 "verbs": ["get"]},
                {"name": "legacies", "singularName": "", "namespaced": true, "kind": "Legacy", "verbs": ["get"]},
            ]
        }))
        .unwrap();
        served(&kube::core::GroupVersion::gv("", "v1"), &list)
    }

    #[test]
    fn a_patch_target_may_be_named_as_kubectl_patch_takes_it() {
        let served = configmaps_and_friends();
        let kind_of = |name: &str| {
            served.patch_target(name).map(|r| {
                (
                    r.resource.kind.clone(),
                    r.resource.plural.clone(),
                    r.namespaced,
                )
            })
        };
        let configmap = Some(("ConfigMap".to_string(), "configmaps".to_string(), true));
        for name in [
            "ConfigMap",
            "configmap",
            "configmaps",
            "ConfigMaps",
            "CONFIGMAP",
            "cm",
        ] {
            assert_eq!(kind_of(name), configmap, "{name}");
        }
        assert_eq!(
            kind_of("ns"),
            Some(("Namespace".to_string(), "namespaces".to_string(), false))
        );
        // No singular name listed: the lower-cased Kind stands in for it.
        assert_eq!(kind_of("legacy").map(|k| k.0), Some("Legacy".to_string()));
        // Short names match as written, as kubectl's shortcut expander matches them; subresources are no targets.
        assert_eq!(kind_of("CM"), None);
        assert_eq!(kind_of("namespaces/status"), None);
        assert_eq!(kind_of("nosuchthing"), None);
        // Resources keep the exact Kind.
        assert!(served.kinds.contains_key("ConfigMap") && !served.kinds.contains_key("configmap"));
    }
}
