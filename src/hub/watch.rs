//! Hub watches: one reflector per kind, each event mapped to the ClusterDeployment keys it concerns and queued.
//! Secrets are watched as metadata only, so the hub's Secret data is never cached; only the resourceVersion of a
//! kubeconfig Secret is used (to rebuild that cluster's client).

use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::index::selector_syncset_targets;
use super::queue::WorkQueue;
use super::secrets::SecretTracker;
use super::ClusterKey;
use crate::api::{ClusterDeployment, ClusterSync, ClusterSyncLease, SelectorSyncSet, SyncSet};
use kube::core::PartialObjectMeta;

#[derive(Clone)]
pub struct Stores {
    pub cds: Store<ClusterDeployment>,
    pub sync_sets: Store<SyncSet>,
    pub selector_sync_sets: Store<SelectorSyncSet>,
    pub cluster_syncs: Store<ClusterSync>,
    pub leases: Store<ClusterSyncLease>,
}

fn key_of<K: Resource>(o: &K) -> ClusterKey {
    (
        o.meta().namespace.clone().unwrap_or_default(),
        o.meta().name.clone().unwrap_or_default(),
    )
}

/// Runs a reflector for `K` and calls `on_event` for every object it applies or deletes.
fn reflect<K, F>(api: Api<K>, on_event: F) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    F: Fn(&K, bool) + Send + 'static,
{
    let (reader, writer) = reflector::store();
    // managedFields are never read here and are a good part of each object: the stores do not keep them.
    let stream = reflector::reflector(
        writer,
        watcher(api).modify(|o| o.managed_fields_mut().clear()),
    )
    .boxed();
    tokio::spawn(drive(stream, on_event));
    reader
}

fn watcher<K>(api: Api<K>) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default().any_semantic()).default_backoff()
}

async fn drive<K, F>(
    mut stream: impl Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
    on_event: F,
) where
    F: Fn(&K, bool),
{
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(o)) | Ok(Event::InitApply(o)) => on_event(&o, false),
            Ok(Event::Delete(o)) => on_event(&o, true),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "hub watch error; retrying with backoff"),
        }
    }
}

/// Starts every hub watch and waits until the stores have their initial lists.
pub async fn start(
    client: Client,
    queue: Arc<WorkQueue<ClusterKey>>,
    secrets: Arc<SecretTracker>,
) -> anyhow::Result<Stores> {
    let (q, tracker) = (queue.clone(), secrets.clone());
    let cds = reflect(
        Api::<ClusterDeployment>::all(client.clone()),
        move |cd, deleted| {
            let key = key_of(cd);
            let kubeconfig = cd
                .spec
                .cluster_metadata
                .as_ref()
                .filter(|_| !deleted)
                .map(|m| (key.0.clone(), m.admin_kubeconfig_secret_ref.name.clone()));
            tracker.set_kubeconfig(&key, kubeconfig);
            q.add(key);
        },
    );

    let cluster_syncs = reflect(Api::<ClusterSync>::all(client.clone()), |_, _| {});

    // A syncset event concerns the clusters it targets now and the clusters whose ClusterSync still records it
    // (a ref removed, a selector changed, the syncset deleted).
    let (q, cs_store) = (queue.clone(), cluster_syncs.clone());
    let sync_sets = reflect(Api::<SyncSet>::all(client.clone()), move |ss, _| {
        let ns = ss.namespace().unwrap_or_default();
        for r in &ss.spec.cluster_deployment_refs {
            q.add((ns.clone(), r.name.clone()));
        }
        for cs in cs_store.state() {
            if cs.namespace().as_deref() == Some(ns.as_str())
                && cs
                    .status
                    .as_ref()
                    .is_some_and(|s| s.sync_sets.iter().any(|e| e.name == ss.name_any()))
            {
                q.add(key_of(cs.as_ref()));
            }
        }
    });

    let (q, cd_store, cs_store) = (queue.clone(), cds.clone(), cluster_syncs.clone());
    let selector_sync_sets = reflect(
        Api::<SelectorSyncSet>::all(client.clone()),
        move |sss, _| {
            if let Some(err) =
                super::index::selector_error(sss.spec.cluster_deployment_selector.as_ref())
            {
                tracing::warn!(selectorsyncset = %sss.name_any(), %err, "unparseable clusterDeploymentSelector matches no cluster");
            }
            for cd in cd_store.state() {
                if selector_syncset_targets(sss, &cd) {
                    q.add(key_of(cd.as_ref()));
                }
            }
            for cs in cs_store.state() {
                if cs.status.as_ref().is_some_and(|s| {
                    s.selector_sync_sets
                        .iter()
                        .any(|e| e.name == sss.name_any())
                }) {
                    q.add(key_of(cs.as_ref()));
                }
            }
        },
    );

    // Deleting a lease forces a full re-apply.
    let q = queue.clone();
    let leases = reflect(
        Api::<ClusterSyncLease>::all(client.clone()),
        move |l, deleted| {
            if deleted {
                q.add(key_of(l));
            }
        },
    );

    // Secrets, metadata only: a kubeconfig Secret's new version rebuilds the client of every cluster that names it; a
    // secretMappings source's new version re-applies the syncsets that copy it.
    let q = queue.clone();
    let secret_events = watcher(Api::<PartialObjectMeta<Secret>>::all(client.clone())).boxed();
    tokio::spawn(drive(
        secret_events,
        move |s: &PartialObjectMeta<Secret>, deleted| {
            let key = key_of(s);
            let affected = secrets.users(&key);
            if affected.is_empty() {
                return;
            }
            let rv = if deleted {
                None
            } else {
                s.metadata.resource_version.clone()
            };
            if secrets.observe(key, rv) {
                for cd in affected {
                    q.add(cd);
                }
            }
        },
    ));

    cds.wait_until_ready().await?;
    sync_sets.wait_until_ready().await?;
    selector_sync_sets.wait_until_ready().await?;
    cluster_syncs.wait_until_ready().await?;
    leases.wait_until_ready().await?;
    Ok(Stores {
        cds,
        sync_sets,
        selector_sync_sets,
        cluster_syncs,
        leases,
    })
}
