//! The per-cluster reconcile (docs/hive-compatibility.md, "The sync"), one module per step of its pipeline:
//!
//! - here: the gates, the shard check, retries with backoff, and forgetting deleted clusters;
//! - `targets`: the syncsets that target the cluster, with their payloads (decisions in `plan::select`);
//! - `connect`: a client for the cluster from its kubeconfig Secret;
//! - `execute`: the plan's operations run against the cluster (decisions in `plan::run::ClusterRun`);
//! - `record`: the ClusterSync status (assembled by `plan::status`), Events, metrics and the lease written back.
//!
//! The queue guarantees one reconcile per cluster at a time; `concurrency` workers run many clusters in parallel.

mod connect;
mod execute;
mod observe;
mod record;
mod targets;

pub use observe::Settings as ObserveSettings;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use kube::{Client, ResourceExt};
use rand::Rng;
use tracing::{debug, instrument, warn};

use crate::api::{ClusterDeployment, ClusterKey, ClusterSyncStatus};
use crate::hub::queue::{Next, WorkQueue};
use crate::hub::secrets::SecretTracker;
use crate::hub::watch::Stores;
use crate::metrics;
use crate::plan::decode::{Payload, SyncSetKind};
use crate::plan::gate::{self, Gate};
use crate::plan::run::ClusterRun;
use crate::remote::ClientPool;
use crate::status;
use record::keep_installed_status;
pub(crate) use record::latest_cluster_sync;
use targets::payload_key;

#[derive(Clone, Debug)]
pub struct Settings {
    pub reapply_interval: Duration,
    pub concurrency: usize,
    /// This replica's ordinal, written to `status.controlledByReplica` (always, as Hive: 0 for one replica).
    pub replica: i64,
    /// Health and drift: when applied objects are read back.
    pub observe: ObserveSettings,
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
    /// What each cluster's applied objects were last seen as (health, drift baselines, when to look again).
    pub(crate) observations: DashMap<ClusterKey, observe::Observation>,
    /// Progressive rollouts: which revision of an opted-in syncset each cluster receives.
    pub rollouts: crate::rollout::Rollouts,
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
            probes: WorkQueue::named("unreachable"),
            first_applied_sss: DashMap::new(),
            observations: DashMap::new(),
            rollouts: crate::rollout::Rollouts::new("hivesync"),
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

/// Reconciles one cluster; returns when to look again (a retry after a failure is told apart, for controller-runtime's
/// `controller_runtime_reconcile_total{result="error"}` and `workqueue_retries_total`).
#[instrument(skip(ctx), fields(namespace = %key.namespace, name = %key.name))]
pub async fn reconcile(ctx: &Context, key: &ClusterKey) -> Next {
    let start = std::time::Instant::now();
    let Some(cd) = ctx.stores.cds.get(&key.object_ref()) else {
        forget(ctx, key);
        observe_reconcile("no-op", start);
        return Next::Done;
    };
    // Hive's outcome labels: skipped-sync (another replica's shard), no-op (gated: paused, deleting, not installed,
    // not reachable), clustersync-created, full-sync (anything past the gates).
    if !ctx.ownership.owns(cd.metadata.uid.as_deref()) {
        debug!("another replica's shard");
        observe_reconcile("skipped-sync", start);
        return Next::Done;
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
        Outcome::Idle => Next::Done,
        Outcome::After(d) => {
            ctx.backoff.remove(key);
            Next::After(d)
        }
        Outcome::Retry => {
            let mut n = ctx.backoff.entry(key.clone()).or_insert(0);
            *n = (*n + 1).min(9);
            // Jittered, so clusters that failed together (a hub or network outage) do not retry in lockstep.
            let base = Duration::from_secs(1 << (*n - 1));
            Next::Retry(base.mul_f64(0.75 + jitter() / 2.0))
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
    let _ = metrics::LAST_SUCCESS_AGE.remove_label_values(&[&key.namespace, &key.name]);
    ctx.pool.forget(key);
    ctx.stores.written.remove(key);
    ctx.backoff.remove(key);
    ctx.applied_hashes.remove(key);
    ctx.templated.retain(|(_, k), _| k != key);
    ctx.secrets.forget_cluster(key);
    ctx.observations.remove(key);
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
    let live_cluster = |key: &ClusterKey| ctx.stores.cds.get(&key.object_ref()).is_some();
    ctx.payloads.retain(|uid, _| syncsets.contains(uid));
    ctx.templated
        .retain(|(uid, cluster), _| syncsets.contains(uid) && live_cluster(cluster));
    ctx.applied_hashes
        .retain(|cluster, _| live_cluster(cluster));
    ctx.backoff.retain(|cluster, _| live_cluster(cluster));
    ctx.observations.retain(|cluster, _| live_cluster(cluster));
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

fn jitter() -> f64 {
    rand::rng().random::<f64>()
}

/// One cluster's reconcile past the shard check, as its pipeline: gate, the syncsets that target it (`targets`), a
/// client for it (`connect`), the plan run against it (`execute`), and what it ends with written back (`record`).
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
    let targets = {
        let existing = record::latest_cluster_sync(ctx, key);
        let previous = existing.as_ref().and_then(|cs| cs.status.as_ref());
        targets::targets(
            ctx,
            key,
            cd,
            previous.unwrap_or(&ClusterSyncStatus::default()),
        )
    };
    let spoke = match connect::connect(ctx, key, cd, meta, &targets).await? {
        Ok(spoke) => spoke,
        Err(outcome) => return Ok(outcome),
    };
    if !gate::reachable(cd) {
        debug!("not known to be reachable; the probe queues it when it is");
        return Ok(Outcome::Idle);
    }

    *label = "full-sync";
    let cs = match record::latest_cluster_sync(ctx, key) {
        Some(cs) => cs,
        None => {
            *label = "clustersync-created";
            Arc::new(status::create_cluster_sync(&ctx.hub, cd).await?)
        }
    };
    let lease = ctx.stores.leases.get(&key.object_ref());
    let renew_time = lease.as_ref().map(|l| l.spec.renew_time.0);
    let full = gate::time_until_renew(
        ctx.settings.reapply_interval,
        renew_time,
        jiff::Timestamp::now(),
        jitter(),
    )
    .is_zero();

    let no_status = ClusterSyncStatus::default();
    let old = cs.status.as_ref().unwrap_or(&no_status);
    let payloads = targets.payloads();
    let mut run = ClusterRun::new(
        targets.sync_sets,
        targets.selector_sync_sets,
        &old.sync_sets,
        &old.selector_sync_sets,
        full,
        status::now(),
    );
    if execute::execute(ctx, key, &spoke, &mut run).await.is_err() {
        return Ok(Outcome::Retry);
    }
    let finished = run.finish();
    let observed = match &spoke {
        connect::Spoke::Remote(rc) => {
            let (verdict, look_after) =
                observe::observe(ctx, key, cd, rc, &finished, &payloads).await;
            Some(record::Observed {
                verdict,
                look_after,
            })
        }
        connect::Spoke::Fake => None,
    };
    record::record(
        ctx,
        key,
        cd,
        record::Run {
            cs: &cs,
            finished,
            payloads,
            full,
            lease: lease.as_deref(),
            renew_time,
            observed,
        },
    )
    .await
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
