//! The per-cluster reconcile: gate → plan → execute → record (HIVE-COMPAT.md §4.3). The queue guarantees one
//! reconcile per cluster at a time; `concurrency` workers run many clusters in parallel. Every decision is made by
//! the pure `plan::run::ClusterRun`; this module only runs its operations and writes what it yields.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use rand::Rng;
use tracing::{debug, info, instrument, warn};

use crate::api::{ClusterDeployment, ClusterSync, ClusterSyncStatus, SyncSetResult, SyncStatus};
use crate::hub::queue::WorkQueue;
use crate::hub::secrets::SecretTracker;
use crate::hub::watch::{resource_version_of, Stores};
use crate::hub::ClusterKey;
use crate::metrics;
use crate::plan::conditions;
use crate::plan::decode::{self, Payload, SyncSetKind};
use crate::plan::gate::{self, Gate};
use crate::plan::run::{ClusterRun, Op, OpError, Target};
use crate::plan::select::{self, Payloads};
use crate::remote::{ops, ClientPool, RemoteCluster};
use crate::status;

#[derive(Clone, Debug)]
pub struct Settings {
    pub reapply_interval: Duration,
    pub concurrency: usize,
    /// This replica's ordinal, written to `status.controlledByReplica` (always, as Hive: 0 for one replica).
    pub replica: i64,
}

pub struct Context {
    pub hub: Client,
    pub stores: Stores,
    pub pool: Arc<ClientPool>,
    pub queue: Arc<WorkQueue<ClusterKey>>,
    pub secrets: Arc<SecretTracker>,
    pub events: crate::events::Events,
    /// The shards this replica serves (everything when sharding is off).
    pub ownership: crate::leader::Ownership,
    pub settings: Settings,
    /// Decoded payloads shared by every cluster: syncset UID → (generation, payload).
    payloads: DashMap<String, (i64, Arc<Payload>)>,
    /// Templated payloads, per (syncset UID, cluster): (generation, hash of the cluster's labels, payload).
    templated: DashMap<(String, ClusterKey), (i64, u64, Arc<Payload>)>,
    /// The content hash last applied, per cluster then (kind, syncset name); a u64 rather than the hex string, as
    /// there is one per cluster × syncset (~80k at 1000 OSD-shaped clusters).
    applied_hashes: DashMap<ClusterKey, HashMap<(SyncSetKind, String), u64>>,
    backoff: DashMap<ClusterKey, u32>,
    /// When each cluster last ended a reconcile with every syncset applied.
    pub last_success: DashMap<ClusterKey, std::time::Instant>,
    /// Bounds the ClusterSync status writes in flight (see `STATUS_WRITES`).
    status_writes: tokio::sync::Semaphore,
    /// The reachability probe's queue: a sync that loses its cluster asks for a probe here.
    pub probes: Arc<WorkQueue<ClusterKey>>,
    /// SelectorSyncSets with a first-apply metric series, so a deleted one's series can be dropped.
    first_applied_sss: DashMap<String, ()>,
}

/// ClusterSync status writes in flight at once, whatever `--concurrency` is. Each holds a serialized status (up to
/// ~80 KB at OSD scale, in a buffer up to twice that) and a hub connection whose read buffer grows to the size of the
/// returned object; at `--concurrency 250` these were a quarter of the controller's peak heap (scenario 4), and more
/// concurrent writes than this only queue inside the hub's API server (and count against its mutating in-flight
/// limit, slowing everyone else's writes).
const STATUS_WRITES: usize = 16;

impl Context {
    pub fn new(
        hub: Client,
        stores: Stores,
        pool: Arc<ClientPool>,
        queue: Arc<WorkQueue<ClusterKey>>,
        secrets: Arc<SecretTracker>,
        settings: Settings,
    ) -> Self {
        Self {
            events: crate::events::Events::new(
                hub.clone(),
                std::env::var("HIVESYNC_POD_NAME").ok(),
            ),
            ownership: crate::leader::Ownership::all(),
            hub,
            stores,
            pool,
            queue,
            secrets,
            settings,
            payloads: DashMap::new(),
            templated: DashMap::new(),
            applied_hashes: DashMap::new(),
            backoff: DashMap::new(),
            last_success: DashMap::new(),
            status_writes: tokio::sync::Semaphore::new(STATUS_WRITES),
            probes: WorkQueue::new(),
            first_applied_sss: DashMap::new(),
        }
    }
}

/// Runs `concurrency` workers until the process ends (or until this future is dropped: the workers stop with it).
pub async fn run(ctx: Arc<Context>) {
    let workers = ctx.settings.concurrency;
    crate::hub::queue::run_workers(ctx.queue.clone(), workers, "reconcile", move |key| {
        let ctx = ctx.clone();
        async move { reconcile(&ctx, &key).await }
    })
    .await;
}

/// What a reconcile ended with.
enum Outcome {
    /// Nothing to do until an event arrives.
    Idle,
    /// Done; look again after this long (the next full re-apply).
    After(Duration),
    /// Something failed that is worth a fast retry (with per-cluster exponential backoff).
    Retry,
}

/// Reconciles one cluster; returns when to look again.
#[instrument(skip(ctx), fields(namespace = %key.0, name = %key.1))]
pub async fn reconcile(ctx: &Context, key: &ClusterKey) -> Option<Duration> {
    let start = std::time::Instant::now();
    let Some(cd) = ctx.stores.cds.get(&ObjectRef::new(&key.1).within(&key.0)) else {
        forget(ctx, key);
        observe_reconcile("no-op", start);
        return None;
    };
    // Hive's outcome labels: skipped-sync (another replica's shard), no-op (gated: paused, deleting, not installed,
    // not reachable), clustersync-created, full-sync (anything past the gates).
    if !ctx.ownership.owns(cd.metadata.uid.as_deref()) {
        debug!("another replica's shard");
        observe_reconcile("skipped-sync", start);
        return None;
    }
    let mut label = "no-op";
    let outcome = match sync_cluster(ctx, key, &cd, &mut label).await {
        Ok(o) => o,
        Err(e) => {
            warn!(error = %e, "reconcile failed; retrying with backoff");
            Outcome::Retry
        }
    };
    keep_installed_status(ctx, key, &cd).await;
    observe_reconcile(label, start);
    metrics::QUEUE_DEPTH.set(ctx.queue.len() as i64);
    match outcome {
        Outcome::Idle => None,
        Outcome::After(d) => {
            ctx.backoff.remove(key);
            Some(d)
        }
        Outcome::Retry => {
            let mut n = ctx.backoff.entry(key.clone()).or_insert(0);
            *n = (*n + 1).min(9);
            // Jittered, so clusters that failed together (a hub or network outage) do not retry in lockstep.
            let base = Duration::from_secs(1 << (*n - 1));
            Some(base.mul_f64(0.75 + jitter() / 2.0))
        }
    }
}

fn observe_reconcile(outcome: &str, start: std::time::Instant) {
    metrics::RECONCILE_SECONDS
        .with_label_values(&[metrics::CONTROLLER, outcome])
        .observe(start.elapsed().as_secs_f64());
}

fn forget(ctx: &Context, key: &ClusterKey) {
    ctx.queue.forget(key);
    ctx.last_success.remove(key);
    let _ = metrics::LAST_SUCCESS_AGE.remove_label_values(&[&key.0, &key.1]);
    ctx.pool.forget(key);
    ctx.stores.written.remove(key);
    ctx.backoff.remove(key);
    ctx.applied_hashes.remove(key);
    ctx.templated.retain(|(_, k), _| k != key);
    ctx.secrets.forget_cluster(key);
}

/// Drops what the caches hold for syncsets and clusters that are gone: decoded payloads of deleted or replaced syncsets
/// (Hive makes per-cluster SyncSets, so these come and go with the fleet), rendered copies of templated ones,
/// per-cluster hashes and backoff, and the metric series of deleted SelectorSyncSets. Run with the fleet gauges; a
/// deleted cluster's own entries also go at its last reconcile (`forget`).
pub(crate) fn sweep(ctx: &Context) {
    let syncsets: std::collections::HashSet<String> = ctx
        .stores
        .sync_sets
        .state()
        .iter()
        .map(|s| payload_key(&s.metadata))
        .chain(
            ctx.stores
                .selector_sync_sets
                .state()
                .iter()
                .map(|s| payload_key(&s.metadata)),
        )
        .collect();
    let live_cluster = |key: &ClusterKey| {
        ctx.stores
            .cds
            .get(&ObjectRef::new(&key.1).within(&key.0))
            .is_some()
    };
    ctx.payloads.retain(|uid, _| syncsets.contains(uid));
    ctx.templated
        .retain(|(uid, cluster), _| syncsets.contains(uid) && live_cluster(cluster));
    ctx.applied_hashes
        .retain(|cluster, _| live_cluster(cluster));
    ctx.backoff.retain(|cluster, _| live_cluster(cluster));
    let sss_names: std::collections::HashSet<String> = ctx
        .stores
        .selector_sync_sets
        .state()
        .iter()
        .map(|s| s.name_any())
        .collect();
    ctx.first_applied_sss.retain(|name, _| {
        let live = sss_names.contains(name);
        if !live {
            let _ = metrics::SELECTORSYNCSET_FIRST_APPLY_SECONDS.remove_label_values(&[name]);
        }
        live
    });
}

/// The key of a syncset's cached payload: its UID (its name when it has none, in tests).
fn payload_key(meta: &ObjectMeta) -> String {
    meta.uid
        .clone()
        .or_else(|| meta.name.clone())
        .unwrap_or_default()
}

fn jitter() -> f64 {
    rand::rng().random::<f64>()
}

async fn sync_cluster(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    label: &mut &'static str,
) -> anyhow::Result<Outcome> {
    match gate::gate(cd) {
        Gate::Sync => {}
        other => {
            debug!(gate = ?other, "not syncing");
            return Ok(Outcome::Idle);
        }
    }
    let Some(meta) = &cd.spec.cluster_metadata else {
        return Ok(Outcome::Idle);
    };
    let existing = latest_cluster_sync(ctx, key);
    let no_status = ClusterSyncStatus::default();
    let prev = existing
        .as_ref()
        .and_then(|cs| cs.status.as_ref())
        .unwrap_or(&no_status);
    let (sync_sets, selector_sync_sets) = (
        ctx.stores.sync_sets.state(),
        ctx.stores.selector_sync_sets.state(),
    );
    let (mut targets_ss, mut targets_sss) = select::targets_with(
        cd,
        sync_sets.iter().map(|s| s.as_ref()),
        selector_sync_sets.iter().map(|s| s.as_ref()),
        prev,
        &mut CachedPayloads { ctx, key, cd },
    );
    let undecodable = ctx.stores.undecodable.syncsets_for(cd);
    if !undecodable.is_empty() {
        let undecoded: Vec<select::Undecoded> = undecodable
            .iter()
            .map(|u| select::Undecoded {
                kind: if u.kind == "SyncSet" {
                    SyncSetKind::SyncSet
                } else {
                    SyncSetKind::SelectorSyncSet
                },
                name: u.metadata.name.as_deref().unwrap_or_default(),
                generation: u.metadata.generation.unwrap_or(0),
                error: &u.error,
                targets: u.targets_cluster(cd),
            })
            .collect();
        select::fail_undecodable(&mut targets_ss, &mut targets_sss, &undecoded, prev);
    }

    // A kubeconfig that cannot be used is bad input: say so on every syncset entry, not only on the condition.
    let fake = gate::fake_cluster(cd);
    let remote = if fake {
        None
    } else {
        match ctx
            .pool
            .get(
                key,
                &meta.admin_kubeconfig_secret_ref.name,
                crate::remote::Endpoint::of(cd, gate::active_api_url(cd)),
            )
            .await
        {
            Ok(rc) => Some(rc),
            Err(e) if e.transient => {
                // The hub did not answer for the Secret: nothing is known about the cluster; try again soon.
                warn!(message = %e.message, "cannot read the kubeconfig Secret; retrying");
                return Ok(Outcome::Retry);
            }
            Err(e) => {
                warn!(message = %e.message, "cannot build a client for the cluster");
                record_client_failure(ctx, key, cd, &targets_ss, &targets_sss, &e.message).await?;
                // The Secret watch queues the cluster again when the Secret changes.
                return Ok(Outcome::Idle);
            }
        }
    };
    if !gate::reachable(cd) {
        debug!("not known to be reachable; the probe queues it when it is");
        return Ok(Outcome::Idle);
    }

    *label = "full-sync";
    let cs = match latest_cluster_sync(ctx, key) {
        Some(cs) => cs,
        None => {
            *label = "clustersync-created";
            Arc::new(status::create_cluster_sync(&ctx.hub, cd).await?)
        }
    };
    let lease = ctx
        .stores
        .leases
        .get(&ObjectRef::new(&key.1).within(&key.0));
    let renew_time = lease.as_ref().map(|l| l.spec.renew_time.0);
    let interval = ctx.settings.reapply_interval;
    let full =
        gate::time_until_renew(interval, renew_time, jiff::Timestamp::now(), jitter()).is_zero();

    let old = cs.status.as_ref().unwrap_or(&no_status);
    let payloads: HashMap<(SyncSetKind, String), Arc<Payload>> = targets_ss
        .iter()
        .map(|t| ((SyncSetKind::SyncSet, t.name.clone()), t.payload.clone()))
        .chain(targets_sss.iter().map(|t| {
            (
                (SyncSetKind::SelectorSyncSet, t.name.clone()),
                t.payload.clone(),
            )
        }))
        .collect();
    let mut run = ClusterRun::new(
        targets_ss,
        targets_sss,
        &old.sync_sets,
        &old.selector_sync_sets,
        full,
        status::now(),
    );
    while let Some(op) = run.next_op() {
        let result = match &remote {
            Some(rc) => execute(ctx, key, rc, &op).await,
            None => fake_execute(&op).await,
        };
        let lost = match (&result, &remote) {
            (Err(e), Some(rc)) if e.timed_out => !still_answers(rc).await,
            (Err(e), _) => e.unreachable,
            (Ok(()), _) => false,
        };
        match result {
            Ok(()) => run.record(Ok(())),
            Err(e) if lost => {
                // The cluster stopped answering: stop here, record nothing, and have it probed at once; the probe marks
                // it Unreachable (condition and Event) and brings it back. The worker does not wait for that hub write:
                // with a whole spoke down, hundreds of such writes on a busy hub held the workers the healthy
                // clusters needed (scenario 6 of the benchmark).
                warn!(message = %e.message, "cluster stopped answering during the sync; probing it now");
                ctx.probes.add(key.clone());
                return Ok(Outcome::Retry);
            }
            Err(e) => run.record(Err(e.into_plan())),
        }
    }
    let finished = run.finish();
    if !finished.applied.is_empty() {
        let mut hashes = ctx.applied_hashes.entry(key.clone()).or_default();
        for a in &finished.applied {
            debug!(kind = a.kind.as_str(), syncset = %a.name, reason = ?a.reason, "applied");
            if let Some(p) = payloads.get(&(a.kind, a.name.clone())) {
                hashes.insert((a.kind, a.name.clone()), content_hash(ctx, p));
            }
        }
    }
    for e in finished
        .sync_sets
        .iter()
        .chain(&finished.selector_sync_sets)
    {
        if e.result == SyncSetResult::Failure && finished.applied.iter().any(|a| a.name == e.name) {
            warn!(syncset = %e.name, message = e.failure_message.as_deref().unwrap_or_default(), "syncset failed");
        }
    }

    let now = status::now();
    let mut new = ClusterSyncStatus {
        sync_sets: finished.sync_sets,
        selector_sync_sets: finished.selector_sync_sets,
        conditions: vec![],
        first_success_time: old.first_success_time.clone(),
        controlled_by_replica: old.controlled_by_replica,
    };
    new.conditions = conditions::with_failed_condition(
        &old.conditions,
        conditions::failed_condition(&new.sync_sets, &new.selector_sync_sets),
        &now,
    );
    let installed = gate::installed_timestamp(cd).is_some();
    let entries: Vec<&SyncStatus> = new
        .sync_sets
        .iter()
        .chain(&new.selector_sync_sets)
        .collect();
    new.first_success_time =
        conditions::first_success_time(old.first_success_time.as_ref(), installed, &entries, &now);
    observe_first_successes(ctx, cd, old, &new);
    for (warning, reason, note) in crate::events::entry_events(old, &new) {
        ctx.events.publish(cd, warning, reason, note).await;
    }
    let failing = new.conditions.first().map(|c| c.status == "True");
    let cs = write_status(ctx, key, &cs, old, new).await?;
    if failing == Some(false) {
        ctx.last_success
            .insert(key.clone(), std::time::Instant::now());
    }
    if full {
        status::renew_lease(&ctx.hub, &cs, lease.as_deref()).await?;
        info!(applied = finished.applied.len(), "full re-apply done");
    }

    if finished.requeue {
        return Ok(Outcome::Retry);
    }
    let renewed = if full {
        Some(jiff::Timestamp::now())
    } else {
        renew_time
    };
    let after = gate::time_until_renew(interval, renewed, jiff::Timestamp::now(), jitter());
    Ok(Outcome::After(after.max(Duration::from_secs(1))))
}

/// Whether a cluster whose call just timed out still answers a cheap request. A slow object (an admission webhook
/// slower than `--remote-timeout`, a large body on a slow link) is that syncset's failure, recorded like any other;
/// only a cluster that no longer answers at all stops the sync and is probed (marked Unreachable).
async fn still_answers(rc: &RemoteCluster) -> bool {
    ops::probe(rc, STILL_ANSWERS_TIMEOUT).await.is_ok()
}

/// How long a cluster whose call timed out gets to answer `GET /version`.
const STILL_ANSWERS_TIMEOUT: Duration = Duration::from_secs(5);

/// Hive's first-apply metrics: per SyncSet (by its metrics-group annotation), per SelectorSyncSet (only while the
/// cluster has not had its first full success), and the cluster's first success after install.
fn observe_first_successes(
    ctx: &Context,
    cd: &ClusterDeployment,
    old: &ClusterSyncStatus,
    new: &ClusterSyncStatus,
) {
    let installed = gate::installed_timestamp(cd).map(|t| t.0);
    let reachable_since = cd
        .condition(conditions::UNREACHABLE)
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0);
    let now = jiff::Timestamp::now();
    let newly = |old: &[SyncStatus], e: &SyncStatus| {
        e.first_success_time.is_some()
            && !old
                .iter()
                .any(|o| o.name == e.name && o.first_success_time.is_some())
    };
    let seconds_since = |created: Option<jiff::Timestamp>| {
        let start = [created, installed, reachable_since]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        now.duration_since(start).as_secs_f64().max(0.0)
    };
    let ns = cd.namespace().unwrap_or_default();
    for e in new.sync_sets.iter().filter(|e| newly(&old.sync_sets, e)) {
        let ss = ctx
            .stores
            .sync_sets
            .get(&ObjectRef::new(&e.name).within(&ns));
        let group = ss
            .as_ref()
            .and_then(|s| {
                s.annotations()
                    .get("hive.openshift.io/syncset-metrics-group")
                    .cloned()
            })
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| "none".into());
        let created = ss
            .and_then(|s| s.metadata.creation_timestamp.clone())
            .map(|t| t.0);
        metrics::SYNCSET_FIRST_APPLY_SECONDS
            .with_label_values(&[&group])
            .observe(seconds_since(created));
    }
    if old.first_success_time.is_none() {
        for e in new
            .selector_sync_sets
            .iter()
            .filter(|e| newly(&old.selector_sync_sets, e))
        {
            let sss = ctx.stores.selector_sync_sets.get(&ObjectRef::new(&e.name));
            let created = sss
                .and_then(|s| s.metadata.creation_timestamp.clone())
                .map(|t| t.0);
            ctx.first_applied_sss.insert(e.name.clone(), ());
            metrics::SELECTORSYNCSET_FIRST_APPLY_SECONDS
                .with_label_values(&[&e.name])
                .observe(seconds_since(created));
        }
    }
    if let (None, Some(first), Some(installed)) =
        (&old.first_success_time, &new.first_success_time, installed)
    {
        metrics::CLUSTERSYNC_FIRST_SUCCESS_SECONDS
            .observe(first.0.duration_since(installed).as_secs_f64().max(0.0));
    }
}

/// Whether `hive.openshift.io/syncset-pause` is set.
pub fn syncset_paused(cd: &ClusterDeployment) -> bool {
    matches!(
        gate::gate(cd),
        Gate::Paused {
            syncset_pause: true
        }
    )
}

/// Runs one operation against the managed cluster (and the hub, for a secret's source).
async fn execute(
    ctx: &Context,
    key: &ClusterKey,
    rc: &RemoteCluster,
    op: &Op,
) -> Result<(), ExecError> {
    match op {
        Op::Apply { object, behavior } => metered_apply(rc, object, *behavior).await,
        Op::ApplySecret { source: (ns, name), target, behavior } => {
            let source = Api::<Secret>::namespaced(ctx.hub.clone(), ns).get(name).await.map_err(|e| {
                info!(secret = %name, namespace = %ns, "cannot read secret");
                ExecError { read: true, unreachable: false, timed_out: false, message: ops::describe_error(&e) }
            })?;
            metered_apply(rc, &decode::target_secret(&source, target), *behavior).await?;
            ctx.secrets.record_use((ns.clone(), name.clone()), key, source.metadata.resource_version);
            Ok(())
        }
        Op::Patch(p) => ops::patch(rc, p).await.map_err(|e| {
            warn!(patch = p.index, name = %p.name, error = %e.message, "running the patch command failed");
            ExecError::from(e)
        }),
        Op::Delete(r) => ops::delete(rc, r).await.map_err(ExecError::from),
    }
}

/// Hive's fake cluster (`hive.openshift.io/fake-cluster`, for scale tests without spokes): an apply takes a latency
/// drawn from Hive's distribution; creates, patches and deletes succeed at once. Resource and secret applies are
/// counted in the apply metrics, as Hive counts its fake helper's.
async fn fake_execute(op: &Op) -> Result<(), ExecError> {
    const APPLY_LATENCY_MS: [u64; 10] = [27, 27, 27, 27, 27, 45, 45, 45, 53, 230];
    let behavior = match op {
        Op::Apply { behavior, .. } | Op::ApplySecret { behavior, .. } => *behavior,
        Op::Patch(_) | Op::Delete(_) => return Ok(()),
    };
    let start = std::time::Instant::now();
    if behavior == decode::ApplyBehavior::Apply {
        let ms = APPLY_LATENCY_MS[rand::rng().random_range(0..APPLY_LATENCY_MS.len())];
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let labels = [behavior.metric_label(), "success"];
    metrics::RESOURCES_APPLIED.with_label_values(&labels).inc();
    metrics::RESOURCE_APPLY_SECONDS
        .with_label_values(&labels)
        .observe(start.elapsed().as_secs_f64());
    Ok(())
}

/// One resource or secret apply, counted in Hive's `hive_syncsetinstance_*` metrics.
async fn metered_apply(
    rc: &RemoteCluster,
    object: &serde_json::Value,
    behavior: decode::ApplyBehavior,
) -> Result<(), ExecError> {
    let start = std::time::Instant::now();
    let result = ops::apply(rc, object, behavior).await;
    let labels = [
        behavior.metric_label(),
        if result.is_ok() { "success" } else { "error" },
    ];
    metrics::RESOURCES_APPLIED.with_label_values(&labels).inc();
    metrics::RESOURCE_APPLY_SECONDS
        .with_label_values(&labels)
        .observe(start.elapsed().as_secs_f64());
    result.map_err(ExecError::from)
}

struct ExecError {
    read: bool,
    unreachable: bool,
    timed_out: bool,
    message: String,
}

impl From<ops::OpError> for ExecError {
    fn from(e: ops::OpError) -> Self {
        Self {
            read: false,
            unreachable: e.unreachable,
            timed_out: e.timed_out,
            message: e.message,
        }
    }
}

impl ExecError {
    fn into_plan(self) -> OpError {
        if self.read {
            OpError::ReadSecret(self.message)
        } else {
            OpError::Failed(self.message)
        }
    }
}

/// Writes the ClusterSync status when it changed; returns the latest ClusterSync.
async fn write_status(
    ctx: &Context,
    key: &ClusterKey,
    cs: &Arc<ClusterSync>,
    old: &ClusterSyncStatus,
    mut new: ClusterSyncStatus,
) -> anyhow::Result<Arc<ClusterSync>> {
    // Unlike Hive, a re-shard alone updates controlledByReplica, so it never stays stale.
    new.controlled_by_replica = Some(ctx.settings.replica);
    if new == *old {
        return Ok(cs.clone());
    }
    let mut written = {
        let _permit = ctx.status_writes.acquire().await?;
        status::write_cluster_sync_status(&ctx.hub, cs, new).await?
    };
    written.managed_fields_mut().clear();
    let written = Arc::new(written);
    // Kept only while the watch has not delivered this version (the watch callback drops it when it does).
    let watched = ctx
        .stores
        .cluster_syncs
        .get(&ObjectRef::new(&key.1).within(&key.0));
    if watched
        .is_none_or(|w| resource_version_of(w.as_ref()) < resource_version_of(written.as_ref()))
    {
        ctx.stores.written.insert(key.clone(), written.clone());
    }
    Ok(written)
}

fn latest_cluster_sync(ctx: &Context, key: &ClusterKey) -> Option<Arc<ClusterSync>> {
    let watched = ctx
        .stores
        .cluster_syncs
        .get(&ObjectRef::new(&key.1).within(&key.0));
    let written = ctx.stores.written.get(key).map(|w| w.clone());
    match (watched, written) {
        (Some(w), Some(mine))
            if w.uid() == mine.uid()
                && resource_version_of(mine.as_ref()) > resource_version_of(w.as_ref()) =>
        {
            Some(mine)
        }
        (Some(w), mine) => {
            // The watch has caught up: drop our copy, so each status is held once.
            if mine.is_some() {
                ctx.stores.written.remove(key);
            }
            Some(w)
        }
        (None, _) => None,
    }
}

/// The controller's payload cache for `plan::select`: untemplated syncsets decoded once for all clusters, templated
/// ones per cluster and re-decoded when the cluster's labels change; content hashes compared with the last apply.
struct CachedPayloads<'a> {
    ctx: &'a Context,
    key: &'a ClusterKey,
    cd: &'a ClusterDeployment,
}

impl Payloads for CachedPayloads<'_> {
    fn payload(
        &mut self,
        _kind: SyncSetKind,
        meta: &ObjectMeta,
        spec: &crate::api::SyncSetCommonSpec,
        make: &dyn Fn() -> Payload,
    ) -> Arc<Payload> {
        let ctx = self.ctx;
        let uid = payload_key(meta);
        let generation = meta.generation.unwrap_or(0);
        if !decode::is_templated(spec) {
            if let Some(entry) = ctx.payloads.get(&uid) {
                if entry.0 == generation {
                    return entry.1.clone();
                }
            }
            let payload = Arc::new(make());
            ctx.payloads.insert(uid, (generation, payload.clone()));
            return payload;
        }
        let labels_hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.cd.labels().hash(&mut h);
            h.finish()
        };
        let cache_key = (uid, self.key.clone());
        if let Some(entry) = ctx.templated.get(&cache_key) {
            if entry.0 == generation && entry.1 == labels_hash {
                return entry.2.clone();
            }
        }
        let payload = Arc::new(render_off_the_runtime(make));
        ctx.templated
            .insert(cache_key, (generation, labels_hash, payload.clone()));
        payload
    }

    fn hash_changed(&self, kind: SyncSetKind, name: &str, payload: &Payload) -> bool {
        self.ctx.applied_hashes.get(self.key).is_some_and(|hashes| {
            hashes
                .get(&(kind, name.to_string()))
                .is_some_and(|h| *h != content_hash(self.ctx, payload))
        })
    }
}

/// Renders a templated payload on this worker's thread with the async runtime moved off it, one rendering at a time.
/// A rendering is bounded (`plan::template::Budget`: well under a second of CPU), but a syncset written to exhaust
/// that budget is rendered for every cluster it targets: with one rendering at a time the other core always runs
/// `/healthz`, the prober and the other clusters' I/O.
fn render_off_the_runtime(make: &dyn Fn() -> Payload) -> Payload {
    static RENDERING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let render = || {
        let _one_at_a_time = RENDERING.lock().unwrap_or_else(|p| p.into_inner());
        make()
    };
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(render),
        _ => render(),
    }
}

/// What a syncset's application depends on: its spec and the versions of the hub Secrets it copies, so that a
/// source Secret's change re-applies it (DESIGN.md difference 2).
fn content_hash(ctx: &Context, payload: &Payload) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    payload.hash.hash(&mut h);
    for s in &payload.secrets {
        if let Ok(source) = &s.source {
            ctx.secrets.version(source).hash(&mut h);
        }
    }
    h.finish()
}

/// A cluster whose kubeconfig cannot be used: every syncset that targets it fails with that message (tracking kept).
async fn record_client_failure(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    ss: &[Target],
    sss: &[Target],
    message: &str,
) -> anyhow::Result<()> {
    let cs = match latest_cluster_sync(ctx, key) {
        Some(cs) => cs,
        None => Arc::new(status::create_cluster_sync(&ctx.hub, cd).await?),
    };
    let no_status = ClusterSyncStatus::default();
    let old = cs.status.as_ref().unwrap_or(&no_status);
    let now = status::now();
    let mut new = ClusterSyncStatus {
        sync_sets: crate::plan::entry::all_failed(
            ss.iter().map(|t| (t.name.as_str(), t.generation)),
            &old.sync_sets,
            message,
            &now,
        ),
        selector_sync_sets: crate::plan::entry::all_failed(
            sss.iter().map(|t| (t.name.as_str(), t.generation)),
            &old.selector_sync_sets,
            message,
            &now,
        ),
        conditions: vec![],
        first_success_time: old.first_success_time.clone(),
        controlled_by_replica: old.controlled_by_replica,
    };
    new.conditions = conditions::with_failed_condition(
        &old.conditions,
        conditions::failed_condition(&new.sync_sets, &new.selector_sync_sets),
        &now,
    );
    write_status(ctx, key, &cs, old, new).await?;
    Ok(())
}

/// Keeps on an installed ClusterDeployment what Hive's clusterdeployment controller keeps there (hivesync owns it
/// here): `installedTimestamp` (the creation time when missing) and `SyncSetFailed` in step with the ClusterSync as
/// it is after this reconcile (`MissingClusterSync`, or `SyncSetPaused` under `syncset-pause`, when there is none).
/// Written only when something changes.
async fn keep_installed_status(ctx: &Context, key: &ClusterKey, cd: &ClusterDeployment) {
    if !gate::installed_path(cd) {
        return;
    }
    let cs = latest_cluster_sync(ctx, key);
    let syncset_failed = conditions::syncset_failed(
        cs.as_ref()
            .map(|cs| conditions::cluster_sync_failing(cs.status.as_ref())),
        gate::syncset_pause(cd),
    );
    let now = status::now();
    let change = |meta: &ObjectMeta, st: &mut crate::api::ClusterDeploymentStatus| {
        conditions::keep_installed_status(
            st,
            meta.creation_timestamp.as_ref(),
            syncset_failed,
            &now,
        )
    };
    // Most reconciles change nothing: decide on a copy of the watched status before cloning the object to write.
    if !change(&cd.metadata, &mut cd.status.clone().unwrap_or_default()) {
        return;
    }
    let result = status::update_cd_status(&ctx.hub, &key.0, &key.1, Some(cd), change).await;
    match result {
        Ok(_) => debug!(
            reason = syncset_failed.1,
            "ClusterDeployment status written"
        ),
        Err(e) => {
            warn!(error = %e, "could not update the ClusterDeployment status (installedTimestamp, SyncSetFailed)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SecretReference;

    // Hive counts its fake helper's applies of copied Secrets too.
    #[tokio::test]
    async fn a_fake_cluster_s_secret_applies_are_counted_like_resource_applies() {
        let applied = |behavior: &str| {
            metrics::RESOURCES_APPLIED
                .with_label_values(&[behavior, "success"])
                .get()
        };
        let before = applied("createOnly");
        let secret = Op::ApplySecret {
            source: ("hub-ns".into(), "source".into()),
            target: SecretReference {
                name: "copy".into(),
                namespace: "spoke-ns".into(),
            },
            behavior: decode::ApplyBehavior::CreateOnly,
        };
        assert!(fake_execute(&secret).await.is_ok());
        assert!(fake_execute(&secret).await.is_ok());
        // Other tests only add to the counter: at least these two.
        assert!(applied("createOnly") >= before + 2);
    }
}
