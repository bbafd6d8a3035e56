//! Hub watches: one reflector per kind, each event mapped to the ClusterDeployment keys it concerns and queued.
//! Secrets are watched as metadata only, so the hub's Secret data is never cached; only the resourceVersion of a
//! kubeconfig Secret is used (to rebuild that cluster's client).

use std::sync::Arc;

use dashmap::DashMap;

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
    /// ClusterSyncs as this replica last wrote them, each kept only until the watch delivers that version: fresher
    /// than `cluster_syncs` in between, and never a second copy of every status.
    pub written: Arc<DashMap<ClusterKey, Arc<ClusterSync>>>,
}

/// A resourceVersion as a number, for "is this copy newer" (0 when absent or not numeric).
pub fn resource_version_of<K: Resource>(o: &K) -> u64 {
    o.meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn key_of<K: Resource>(o: &K) -> ClusterKey {
    (
        o.meta().namespace.clone().unwrap_or_default(),
        o.meta().name.clone().unwrap_or_default(),
    )
}

/// kube's default list page: fine for small objects.
const LIST_PAGE_SIZE: u32 = 500;
/// ClusterSyncs reach ~80 KB at OSD scale: a smaller page keeps the initial list's buffer small.
const CLUSTER_SYNC_PAGE_SIZE: u32 = 50;

/// Runs a reflector for `K` (listing `page_size` objects a page) and calls `on_event` for every object it applies
/// or deletes.
fn reflect<K, F>(api: Api<K>, page_size: u32, on_event: F) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    F: Fn(&K, bool) + Send + 'static,
{
    let (reader, writer) = reflector::store();
    // managedFields are never read here and are a good part of each object: the stores do not keep them.
    let stream = reflector::reflector(
        writer,
        watcher(api, page_size).modify(|o| o.managed_fields_mut().clear()),
    )
    .boxed();
    tokio::spawn(drive(stream, on_event));
    reader
}

fn watcher<K>(
    api: Api<K>,
    page_size: u32,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let config = watcher::Config::default()
        .any_semantic()
        .page_size(page_size);
    watcher::watcher(api, config).default_backoff()
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
        LIST_PAGE_SIZE,
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

    let written: Arc<DashMap<ClusterKey, Arc<ClusterSync>>> = Arc::default();
    let mine = written.clone();
    let cluster_syncs = reflect(
        Api::<ClusterSync>::all(client.clone()),
        CLUSTER_SYNC_PAGE_SIZE,
        move |cs, deleted| {
            mine.remove_if(&key_of(cs), |_, w| {
                deleted
                    || (w.uid() == cs.uid()
                        && resource_version_of(cs) >= resource_version_of(w.as_ref()))
            });
        },
    );

    // A syncset event concerns the clusters it targets now and the clusters whose ClusterSync still records it
    // (a ref removed, a selector changed, the syncset deleted).
    let (q, cs_store) = (queue.clone(), cluster_syncs.clone());
    let sync_sets = reflect(
        Api::<SyncSet>::all(client.clone()),
        LIST_PAGE_SIZE,
        move |ss, _| {
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
        },
    );

    let (q, cd_store, cs_store) = (queue.clone(), cds.clone(), cluster_syncs.clone());
    let selector_sync_sets = reflect(
        Api::<SelectorSyncSet>::all(client.clone()),
        LIST_PAGE_SIZE,
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
        LIST_PAGE_SIZE,
        move |l, deleted| {
            if deleted {
                q.add(key_of(l));
            }
        },
    );

    // Secrets, metadata only: a kubeconfig Secret's new version rebuilds the client of every cluster that names it; a
    // secretMappings source's new version re-applies the syncsets that copy it.
    let q = queue.clone();
    let secret_events = watcher(
        Api::<PartialObjectMeta<Secret>>::all(client.clone()),
        LIST_PAGE_SIZE,
    )
    .boxed();
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
        written,
    })
}
