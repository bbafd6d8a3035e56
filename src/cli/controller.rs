//! `hivesync controller`: watches the hub and syncs every ClusterDeployment.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::api::ClusterKey;
use crate::controller::{self, Context, Settings};
use crate::hub::{queue::WorkQueue, secrets::SecretTracker, watch};
use crate::leader::{LeaseSettings, Ownership};
use crate::reachability::ProbeSettings;
use crate::remote::{kubeconfig::Timeouts, ClientPool};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub hub: super::hub::HubArgs,
    /// Clusters reconciled in parallel (one reconcile per cluster at a time).
    #[arg(long, env = "HIVESYNC_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,
    /// Full re-apply interval, a Go duration (Hive's SYNCSET_REAPPLY_INTERVAL); +0–10 % jitter.
    #[arg(long, env = "SYNCSET_REAPPLY_INTERVAL", default_value = "2h", value_parser = crate::duration::parse_go_duration)]
    pub reapply_interval: Duration,
    /// How often every cluster's reachability is probed (healthy ones together, on shared ticks). A cluster that
    /// stops answering is Unreachable within this plus the 10 s probe timeout; sooner if a sync hits it first.
    #[arg(long, env = "HIVESYNC_PROBE_INTERVAL", default_value = "20s", value_parser = crate::duration::parse_go_duration)]
    pub probe_interval: Duration,
    /// Timeout of every request to a managed cluster.
    #[arg(long, env = "HIVESYNC_REMOTE_TIMEOUT", default_value = "20s", value_parser = crate::duration::parse_go_duration)]
    pub remote_timeout: Duration,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(
        long = "metrics-bind-address",
        alias = "metrics-address",
        env = "HIVESYNC_METRICS_ADDRESS",
        default_value = "0.0.0.0:2112"
    )]
    pub metrics_address: SocketAddr,
    /// Run only while holding the leader Lease; standbys keep their caches warm and take over.
    #[arg(long, env = "HIVESYNC_LEADER_ELECT")]
    pub leader_elect: bool,
    /// Split clusters into this many shards by ClusterDeployment UID (Hive's rule), one Lease per shard. 0: off.
    #[arg(long, env = "HIVESYNC_SHARDS", default_value_t = 0)]
    pub shards: u32,
    /// Namespace of the leader and shard Leases.
    #[arg(long, env = "POD_NAMESPACE", default_value = "hivesync")]
    pub lease_namespace: String,
    /// Name of the leader Lease (shard Leases are `<name>-shard-<i>`).
    #[arg(long, default_value = "hivesync")]
    pub lease_name: String,
    /// Lease duration: how long a dead holder keeps its lease before another replica takes over.
    #[arg(long, default_value = "15s", value_parser = crate::duration::parse_go_duration)]
    pub lease_duration: Duration,
    /// This replica's identity (default: the pod name; its trailing ordinal picks its preferred shard).
    #[arg(long, env = "HIVESYNC_POD_NAME")]
    pub identity: Option<String>,
    /// Serve Hive's opt-in `hive_clustersync_failing_seconds` for ClusterSyncs failing at least this long (Hive's
    /// HiveConfig `metricsConfig.metricsWithDuration: [{name: currentClusterSyncFailing, duration: ...}]`). Unset: off.
    #[arg(long, env = "HIVESYNC_CLUSTERSYNC_FAILING_MIN_DURATION", value_parser = crate::duration::parse_go_duration)]
    pub clustersync_failing_min_duration: Option<Duration>,
    /// How often applied objects are checked for drift (deleted, or fields hivesync owns changed on the cluster) and
    /// put back; a syncset may set its own with the annotation `hivesync.io/drift-interval`. `0`: off (health is then
    /// still assessed, every 5 minutes once settled).
    #[arg(long, env = "HIVESYNC_DRIFT_INTERVAL", default_value = "5m", value_parser = crate::duration::parse_go_duration)]
    pub drift_interval: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        hub,
        concurrency,
        reapply_interval,
        probe_interval,
        remote_timeout,
        metrics_address,
        leader_elect,
        shards,
        lease_namespace,
        lease_name,
        lease_duration,
        identity,
        clustersync_failing_min_duration,
        drift_interval,
    } = args;
    // A made-up identity (host and pid) has no ordinal: its pid is not one.
    let explicit_identity = identity.is_some();
    let identity = identity.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let lease = LeaseSettings {
        namespace: lease_namespace,
        name: lease_name,
        identity: identity.clone(),
        duration: lease_duration,
        renew_every: (lease_duration / 3).max(Duration::from_secs(1)),
    };
    let hub = hub.client().await?;
    crate::metrics::init();
    // Health first: /healthz answers while the hub is still unreachable, /readyz only once the caches are synced.
    let ready = Arc::new(AtomicBool::new(false));
    let http = tokio::spawn(crate::http::serve(metrics_address, ready.clone()));
    let mut delay = Duration::from_millis(500);
    while let Err(e) = hub.apiserver_version().await {
        tracing::warn!(error = %e, "the hub API server is not reachable yet; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }

    let timeouts = Timeouts {
        connect: remote_timeout.min(Duration::from_secs(5)),
        request: remote_timeout,
    };
    let secrets = Arc::new(SecretTracker::default());
    let pool = Arc::new(ClientPool::new(hub.clone(), timeouts, secrets.clone()));
    let queue = WorkQueue::named(crate::metrics::CONTROLLER);
    let stores = watch::start(hub.clone(), queue.clone(), secrets.clone()).await?;
    if let Some(min) = clustersync_failing_min_duration {
        crate::fleet::ClusterSyncFailing::new(
            stores.cluster_syncs.clone(),
            stores.cds.clone(),
            min,
        )
        .register()?;
    }
    ready.store(true, Ordering::Relaxed);
    tracing::info!(
        clusters = stores.cds.state().len(),
        concurrency,
        reapply_interval = ?reapply_interval,
        probe_interval = ?probe_interval,
        "hub caches synced; syncing"
    );
    let ordinal = crate::leader::ordinal_of(&identity);
    let settings = Settings {
        observe: controller::ObserveSettings { drift_interval },
        reapply_interval,
        concurrency,
        replica: controlled_by_replica(shards, explicit_identity.then_some(ordinal).flatten()),
    };
    let mut ctx = Context::new(hub.clone(), stores, pool, queue, secrets, settings);
    // Tasks that write Leases: stopped before the leases are released at shutdown.
    let mut background: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    if leader_elect {
        tracing::info!(lease = %lease.name, %identity, "waiting to become the leader (caches stay warm)");
        background.push(crate::leader::lead(hub.clone(), lease.clone()).await);
    }
    if shards > 0 {
        ctx.ownership = Ownership::sharded(shards);
    }
    ctx.rollouts = crate::rollout::Rollouts::new(lease.namespace.clone());
    let ctx = Arc::new(ctx);
    // Rollouts are evaluated once before any worker runs, so no cluster is sent a revision its rollout has not
    // reached (after a restart, the same step resumes).
    let mut revisions = crate::rollout::Revisions::default();
    crate::rollout::evaluate_all(&ctx, &mut revisions).await;
    if shards > 0 {
        let (c, o) = (ctx.clone(), ctx.ownership.clone());
        background.push(tokio::spawn(crate::leader::hold_shards(
            hub.clone(),
            lease.clone(),
            shards,
            ordinal,
            o,
            move |shard| {
                // Newly served clusters are synced at once.
                for cd in c.stores.cds.state() {
                    if crate::leader::shard_of(
                        cd.metadata.uid.as_deref().unwrap_or_default(),
                        shards,
                    ) == shard
                    {
                        c.queue.add(ClusterKey::of(&cd));
                    }
                }
            },
        )));
    } else if leader_elect {
        for cd in ctx.stores.cds.state() {
            ctx.queue.add(ClusterKey::of(&cd));
        }
    }
    let result = tokio::select! {
        _ = controller::run(ctx.clone()) => Ok(()),
        _ = crate::fleet::publish_gauges(ctx.clone(), Duration::from_secs(30)) => Ok(()),
        _ = crate::rollout::run(ctx.clone(), revisions) => Ok(()),
        _ = crate::reachability::run(ctx.clone(), ProbeSettings { interval: probe_interval, max_backoff: probe_interval.max(Duration::from_secs(15)) }) => Ok(()),
        r = http => r.map_err(anyhow::Error::from).and_then(|r| r.map_err(anyhow::Error::from)),
        signal = shutdown_signal() => { tracing::info!(%signal, "stopping: the workers are stopped, then the leases released"); Ok(()) }
    };
    for task in background {
        task.abort();
        let _ = task.await;
    }
    // The workers and probers stopped with the select above (their tasks are aborted when dropped), so nothing
    // writes after the leases are released: a standby takes over at its next renewal, not after the lease duration.
    let mut held: Vec<String> = Vec::new();
    if leader_elect {
        held.push(lease.name.clone());
    }
    held.extend(
        ctx.ownership
            .owned()
            .into_iter()
            .map(|shard| crate::leader::shard_lease_name(&lease, shard)),
    );
    crate::leader::release(hub, &lease, &held).await;
    result
}

/// `status.controlledByReplica`, always written as Hive does: this replica's ordinal (the trailing number of its
/// pod name) when clusters are sharded between replicas, else 0 (one replica syncs everything, as Hive's single
/// `hive-clustersync-0`); 0 too when the identity has no ordinal.
fn controlled_by_replica(shards: u32, ordinal: Option<u32>) -> i64 {
    if shards > 0 {
        ordinal.map_or(0, i64::from)
    } else {
        0
    }
}

/// SIGTERM (what the kubelet sends) or SIGINT.
async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops cleanly");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::controlled_by_replica;

    #[test]
    fn controlled_by_replica_is_always_written() {
        assert_eq!(controlled_by_replica(0, None), 0);
        assert_eq!(
            controlled_by_replica(0, Some(3)),
            0,
            "not sharded: one replica"
        );
        assert_eq!(controlled_by_replica(2, Some(1)), 1);
        assert_eq!(controlled_by_replica(2, None), 0, "no ordinal");
    }
}
