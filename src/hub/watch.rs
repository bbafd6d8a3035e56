//! Hub watches: one reflector per kind, each event mapped to the ClusterDeployment keys it concerns and queued.
//! Secrets are watched as metadata only, so the hub's Secret data is never cached; only the resourceVersion of a
//! kubeconfig Secret is used (to rebuild that cluster's client).
//!
//! The hub kinds are listed and watched leniently ([`lenient`]): an object that does not decode is logged, kept aside
//! in [`Stores::undecodable`] and skipped, so it can neither keep the stores from becoming ready nor stop the others.

pub mod lenient;

use std::sync::Arc;

use dashmap::DashMap;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use self::lenient::{Change, HubKind, Lenient, LenientWriter};
pub use self::lenient::{Undecodable, UndecodableMap, MAX_DEPTH};
use super::index::{self, key_of};
use super::names::Names;
use super::queue::WorkQueue;
use super::secrets::SecretTracker;
use crate::api::{
    ClusterDeployment, ClusterKey, ClusterSync, ClusterSyncLease, NamespacedName, SelectorSyncSet,
    SyncSet,
};
use crate::plan::target::selector_error;
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
    /// Hub objects that exist but do not decode (see [`Undecodables`]).
    pub undecodable: Undecodables,
    /// SyncSets by namespace, opted-in syncsets, ClusterDeployment events (see [`Names`]).
    pub names: Arc<Names>,
}

impl Stores {
    /// The SyncSets that name `cluster` in their `clusterDeploymentRefs`.
    pub fn sync_sets_of(&self, cluster: &ClusterKey) -> Vec<Arc<SyncSet>> {
        self.names
            .sync_sets_of(cluster)
            .into_iter()
            .filter_map(|name| {
                self.sync_sets
                    .get(&ObjectRef::new(&name).within(&cluster.namespace))
            })
            .collect()
    }

    /// The SyncSets and SelectorSyncSets that opted into a progressive rollout.
    pub fn opted_in(&self) -> (Vec<Arc<SyncSet>>, Vec<Arc<SelectorSyncSet>>) {
        let sync_sets = self
            .names
            .opted_sync_sets()
            .into_iter()
            .filter_map(|(ns, name)| self.sync_sets.get(&ObjectRef::new(&name).within(&ns)))
            .collect();
        let selector_sync_sets = self
            .names
            .opted_selector_sync_sets()
            .into_iter()
            .filter_map(|name| self.selector_sync_sets.get(&ObjectRef::new(&name)))
            .collect();
        (sync_sets, selector_sync_sets)
    }
}

/// Hub objects that exist on the hub but do not decode as hivesync's types (a field of another type, an embedded
/// resource nested deeper than [`MAX_DEPTH`]), by kind, each keyed by its `NamespacedName` (namespace `""` for a
/// SelectorSyncSet). Each entry has the object's identity, the decode error (never the object's content) and, for
/// a (Selector)SyncSet, the clusters it targets when that part decodes ([`Undecodable::targets_cluster`]).
///
/// Such an object is logged at warn and left out of its store, except that the last version of it that decoded in
/// this process, if any, stays in the store until it is fixed or deleted: a bad edit never looks like a deletion.
/// After a restart there is no such version, so a syncset that is here is missing from `sync_sets` /
/// `selector_sync_sets`: the controller must not read that as "deleted" (which, in `Sync` mode, would delete its
/// resources from the clusters) but report it as failed with `error` on the clusters it targets. An entry is
/// removed when the object decodes again or is deleted; events for it queue the clusters it concerns.
#[derive(Clone, Default)]
pub struct Undecodables {
    pub cds: UndecodableMap,
    pub sync_sets: UndecodableMap,
    pub selector_sync_sets: UndecodableMap,
    pub cluster_syncs: UndecodableMap,
    pub leases: UndecodableMap,
}

impl Undecodables {
    /// The undecodable SyncSets and SelectorSyncSets that target `cd`, or may (their targets did not decode either).
    pub fn syncsets_for(&self, cd: &ClusterDeployment) -> Vec<Undecodable> {
        self.sync_sets
            .iter()
            .filter(|e| e.metadata.namespace == cd.namespace())
            .chain(self.selector_sync_sets.iter())
            .filter(|e| e.targets_cluster(cd) != Some(false))
            .map(|e| e.value().clone())
            .collect()
    }
}

/// A resourceVersion as a number, for "is this copy newer" (0 when absent or not numeric).
pub fn resource_version_of<K: Resource>(o: &K) -> u64 {
    o.meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// kube's default list page: fine for small objects.
const LIST_PAGE_SIZE: u32 = 500;
/// ClusterSyncs reach ~80 KB at OSD scale: a smaller page keeps the initial list's buffer small.
const CLUSTER_SYNC_PAGE_SIZE: u32 = 50;

/// Runs a reflector for `K` (listing `page_size` objects a page), leniently: calls `on_event` for every object it
/// applies or deletes, and `on_undecodable` for every object that does not decode (kept in `undecodable`).
fn reflect<K, F, U>(
    client: &Client,
    page_size: u32,
    undecodable: &UndecodableMap,
    on_event: F,
    on_undecodable: U,
) -> Store<K>
where
    K: HubKind,
    F: Fn(&K, bool) + Send + 'static,
    U: Fn(&Undecodable, bool) + Send + 'static,
{
    let (reader, mut writer) = LenientWriter::<K>::new(undecodable.clone());
    // managedFields are never read here and are a good part of each object: the stores do not keep them.
    let mut stream = watcher(Api::<Lenient<K>>::all(client.clone()), page_size)
        .modify(|o| o.managed_fields_mut().clear())
        .boxed();
    tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    for change in writer.apply(event) {
                        match change {
                            Change::Object { object, deleted } => on_event(&object, deleted),
                            Change::Undecodable { object, deleted } => {
                                on_undecodable(&object, deleted)
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "hub watch error; retrying with backoff"),
            }
        }
    });
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

/// Queues every key of `keys` (what [`index`] says an event concerns).
fn queue_all(q: &WorkQueue<ClusterKey>, keys: impl IntoIterator<Item = ClusterKey>) {
    for key in keys {
        q.add(key);
    }
}

/// Starts every hub watch and waits until the stores have their initial lists.
pub async fn start(
    client: Client,
    queue: Arc<WorkQueue<ClusterKey>>,
    secrets: Arc<SecretTracker>,
) -> anyhow::Result<Stores> {
    let undecodable = Undecodables::default();
    let names = Arc::new(Names::default());
    let (q, tracker, q_bad) = (queue.clone(), secrets.clone(), queue.clone());
    let cd_names = names.clone();
    let cds = reflect(
        &client,
        LIST_PAGE_SIZE,
        &undecodable.cds,
        move |cd: &ClusterDeployment, deleted| {
            cd_names.cluster_deployment_event();
            let key = key_of(cd);
            tracker.set_kubeconfig(&key, index::kubeconfig_secret(cd, deleted));
            q.add(key);
        },
        // Its last good version, if any, stays in use; the reconcile finds the report.
        move |cd, _| q_bad.add(cd.cluster()),
    );

    // A deleted ClusterSync is re-created at once (Hive watches ClusterSyncs; "delete the ClusterSync to force a
    // resync" is a common operator step): the garbage collector deleting its lease is not to be waited for, and does
    // not come with `--cascade=orphan`.
    let written: Arc<DashMap<ClusterKey, Arc<ClusterSync>>> = Arc::default();
    let (mine, q, q_bad) = (written.clone(), queue.clone(), queue.clone());
    let cluster_syncs = reflect(
        &client,
        CLUSTER_SYNC_PAGE_SIZE,
        &undecodable.cluster_syncs,
        move |cs: &ClusterSync, deleted| {
            mine.remove_if(&key_of(cs), |_, w| {
                index::written_superseded(w, cs, deleted)
            });
            queue_all(&q, index::cluster_sync_keys(cs, deleted));
        },
        move |cs, deleted| {
            if deleted {
                q_bad.add(cs.cluster());
            }
        },
    );

    // A syncset event concerns the clusters it targets now and the clusters whose ClusterSync still records it
    // (a ref removed, a selector changed, the syncset deleted). An undecodable one: the same, as far as known.
    let (q, cs_store, ss_names) = (queue.clone(), cluster_syncs.clone(), names.clone());
    let (q_bad, cs_store_bad) = (queue.clone(), cluster_syncs.clone());
    let sync_sets = reflect(
        &client,
        LIST_PAGE_SIZE,
        &undecodable.sync_sets,
        move |ss: &SyncSet, deleted| {
            ss_names.sync_set(ss, deleted);
            queue_all(&q, index::sync_set_keys(ss, &cs_store.state()))
        },
        move |ss, _| {
            queue_all(
                &q_bad,
                index::undecodable_sync_set_keys(ss, &cs_store_bad.state()),
            )
        },
    );

    let (q, cd_store, cs_store) = (queue.clone(), cds.clone(), cluster_syncs.clone());
    let (q_bad, cd_store_bad, cs_store_bad) = (queue.clone(), cds.clone(), cluster_syncs.clone());
    let sss_names = names.clone();
    let selector_sync_sets = reflect(
        &client,
        LIST_PAGE_SIZE,
        &undecodable.selector_sync_sets,
        move |sss: &SelectorSyncSet, deleted| {
            sss_names.selector_sync_set(sss, deleted);
            if let Some(err) = selector_error(sss.spec.cluster_deployment_selector.as_ref()) {
                tracing::warn!(selectorsyncset = %sss.name_any(), %err, "unparseable clusterDeploymentSelector matches no cluster");
            }
            let keys = index::selector_sync_set_keys(sss, &cd_store.state(), &cs_store.state());
            queue_all(&q, keys);
        },
        move |sss, _| {
            let keys = index::undecodable_selector_sync_set_keys(
                sss,
                &cd_store_bad.state(),
                &cs_store_bad.state(),
            );
            queue_all(&q_bad, keys);
        },
    );

    // Deleting a lease forces a full re-apply.
    let q = queue.clone();
    let leases = reflect(
        &client,
        LIST_PAGE_SIZE,
        &undecodable.leases,
        move |l: &ClusterSyncLease, deleted| queue_all(&q, index::lease_keys(l, deleted)),
        |_, _| {},
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
            let key = NamespacedName::of(s);
            let users = secrets.users(&key);
            if users.is_empty() {
                return;
            }
            let seen = if deleted {
                None
            } else {
                s.metadata.resource_version.clone()
            };
            let previous = secrets.record_version(key, seen.clone());
            queue_all(
                &q,
                index::secret_keys(users, previous.as_deref(), seen.as_deref()),
            );
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
        undecodable,
        names,
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use kube::client::Body;

    use super::*;

    fn object(api_version: &str, kind: &str, ns: Option<&str>, name: &str, spec: &str) -> String {
        let ns = ns.map_or(String::new(), |ns| format!(r#","namespace":"{ns}""#));
        format!(
            r#"{{"apiVersion":"{api_version}","kind":"{kind}","metadata":{{"name":"{name}"{ns},"resourceVersion":"3"}},"spec":{spec}}}"#
        )
    }

    fn hive(kind: &str, ns: Option<&str>, name: &str, spec: &str) -> String {
        object("hive.openshift.io/v1", kind, ns, name, spec)
    }

    /// A hub that answers every LIST (one page) and never answers a WATCH; its lists hold poison objects.
    fn poisoned_hub() -> Client {
        let deep = format!("{}1{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000));
        let service = tower::service_fn(move |req: http::Request<Body>| {
            let deep = deep.clone();
            async move {
                if req.uri().query().unwrap_or_default().contains("watch=true") {
                    futures::future::pending::<()>().await;
                }
                let cd = |name: &str, installed: &str| {
                    let spec = format!(
                        r#"{{"clusterName":"{name}","baseDomain":"example.com","platform":{{}},"installed":{installed}}}"#
                    );
                    hive("ClusterDeployment", Some("ns"), name, &spec)
                };
                let items = match req.uri().path() {
                    "/apis/hive.openshift.io/v1/clusterdeployments" => {
                        vec![cd("c1", "true"), cd("c2", r#""yes""#)]
                    }
                    "/apis/hive.openshift.io/v1/syncsets" => vec![
                        hive(
                            "SyncSet",
                            Some("ns"),
                            "good",
                            r#"{"clusterDeploymentRefs":[{"name":"c1"}]}"#,
                        ),
                        hive(
                            "SyncSet",
                            Some("ns"),
                            "deep",
                            &format!(
                                r#"{{"clusterDeploymentRefs":[{{"name":"c2"}}],"resources":[{deep}]}}"#
                            ),
                        ),
                        hive(
                            "SyncSet",
                            Some("ns"),
                            "wrong",
                            r#"{"clusterDeploymentRefs":[{"name":"c1"}],"resourceApplyMode":5}"#,
                        ),
                    ],
                    "/apis/hive.openshift.io/v1/selectorsyncsets" => vec![hive(
                        "SelectorSyncSet",
                        None,
                        "sss-deep",
                        &format!(r#"{{"resources":[{deep}]}}"#),
                    )],
                    "/apis/hiveinternal.openshift.io/v1alpha1/clustersyncs" => vec![],
                    "/apis/hiveinternal.openshift.io/v1alpha1/clustersyncleases" => {
                        vec![object(
                            "hiveinternal.openshift.io/v1alpha1",
                            "ClusterSyncLease",
                            Some("ns"),
                            "c1",
                            "5",
                        )]
                    }
                    "/api/v1/secrets" => vec![],
                    other => panic!("unexpected request for {other}"),
                };
                let body = format!(
                    r#"{{"apiVersion":"v1","kind":"List","metadata":{{"resourceVersion":"9"}},"items":[{}]}}"#,
                    items.join(",")
                );
                Ok::<_, Infallible>(http::Response::new(Body::from(body.into_bytes())))
            }
        });
        Client::new(service, "default")
    }

    fn names<K: HubKind>(store: &Store<K>) -> Vec<String> {
        let mut names: Vec<_> = store.state().iter().map(|o| o.name_any()).collect();
        names.sort();
        names
    }

    fn bad_names(map: &UndecodableMap) -> Vec<String> {
        let mut names: Vec<_> = map.iter().map(|e| e.key().name.clone()).collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_typed_watch_of_the_same_hub_never_gets_its_initial_list() {
        // What `start` did before: kube's watcher fails the whole page on one object, and would retry it forever.
        let config = watcher::Config::default().any_semantic();
        let mut events = watcher::watcher(Api::<SyncSet>::all(poisoned_hub()), config).boxed();
        assert!(matches!(events.next().await, Some(Ok(Event::Init))));
        let list = events.next().await;
        assert!(
            matches!(list, Some(Err(watcher::Error::InitialListFailed(_)))),
            "{list:?}"
        );
    }

    #[tokio::test]
    async fn poison_objects_do_not_keep_the_hub_watches_from_starting() {
        let queue = WorkQueue::new();
        let started = tokio::time::timeout(
            Duration::from_secs(20),
            start(poisoned_hub(), queue.clone(), Arc::default()),
        )
        .await
        .expect("the stores become ready")
        .unwrap();

        assert_eq!(names(&started.cds), ["c1"]);
        assert_eq!(names(&started.sync_sets), ["good"]);
        assert!(started.selector_sync_sets.is_empty());
        assert!(started.leases.is_empty());
        let bad = &started.undecodable;
        assert_eq!(bad_names(&bad.cds), ["c2"]);
        assert_eq!(bad_names(&bad.sync_sets), ["deep", "wrong"]);
        assert_eq!(bad_names(&bad.selector_sync_sets), ["sss-deep"]);
        assert_eq!(bad_names(&bad.leases), ["c1"]);
        assert!(bad
            .sync_sets
            .get(&NamespacedName::new("ns", "deep"))
            .unwrap()
            .error
            .contains("deeper than"));

        // What the controller would fail on c1: the SyncSet that names it and the SelectorSyncSet with no selector.
        let c1 = started.cds.state()[0].clone();
        let mut for_c1: Vec<_> = bad
            .syncsets_for(&c1)
            .into_iter()
            .map(|u| u.key().name)
            .collect();
        for_c1.sort();
        assert_eq!(for_c1, ["sss-deep", "wrong"]);

        // Both clusters were queued: c1 by its own events, c2 by its undecodable object and the SyncSet naming it.
        assert_eq!(queue.len(), 2);
    }
}
