//! `hivesync controller`: watches the hub and syncs every ClusterDeployment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::controller::{self, Context, Settings};
use crate::hub::{queue::WorkQueue, secrets::SecretTracker, watch};
use crate::reachability::ProbeSettings;
use crate::remote::{kubeconfig::Timeouts, ClientPool};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hub kubeconfig (default: in-cluster config, or $KUBECONFIG / ~/.kube/config).
    #[arg(long, env = "HIVESYNC_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Clusters reconciled in parallel (one reconcile per cluster at a time).
    #[arg(long, env = "HIVESYNC_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,
    /// Full re-apply interval, a Go duration (Hive's SYNCSET_REAPPLY_INTERVAL); +0–10 % jitter.
    #[arg(long, env = "SYNCSET_REAPPLY_INTERVAL", default_value = "2h", value_parser = super::duration::parse_go_duration)]
    pub reapply_interval: Duration,
    /// How often every cluster's reachability is probed.
    #[arg(long, env = "HIVESYNC_PROBE_INTERVAL", default_value = "10s", value_parser = super::duration::parse_go_duration)]
    pub probe_interval: Duration,
    /// Timeout of every request to a managed cluster.
    #[arg(long, env = "HIVESYNC_REMOTE_TIMEOUT", default_value = "20s", value_parser = super::duration::parse_go_duration)]
    pub remote_timeout: Duration,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(
        long = "metrics-bind-address",
        alias = "metrics-address",
        env = "HIVESYNC_METRICS_ADDRESS",
        default_value = "0.0.0.0:2112"
    )]
    pub metrics_address: SocketAddr,
}

pub async fn hub_client(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                anyhow::anyhow!("cannot read hub kubeconfig {}: {e}", path.display())
            })?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    Ok(crate::metrics::client(config, false)?)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        kubeconfig,
        concurrency,
        reapply_interval,
        probe_interval,
        remote_timeout,
        metrics_address,
    } = args;
    let hub = hub_client(kubeconfig.as_deref()).await?;
    hub.apiserver_version()
        .await
        .map_err(|e| anyhow::anyhow!("the hub API server is not reachable: {e}"))?;

    crate::metrics::init();
    let ready = Arc::new(AtomicBool::new(false));
    let http = tokio::spawn(crate::http::serve(metrics_address, ready.clone()));

    let timeouts = Timeouts {
        connect: remote_timeout.min(Duration::from_secs(5)),
        request: remote_timeout,
    };
    let secrets = Arc::new(SecretTracker::default());
    let pool = Arc::new(ClientPool::new(hub.clone(), timeouts, secrets.clone()));
    let queue = WorkQueue::new();
    let stores = watch::start(hub.clone(), queue.clone(), secrets.clone()).await?;
    ready.store(true, Ordering::Relaxed);
    tracing::info!(
        clusters = stores.cds.state().len(),
        concurrency,
        reapply_interval = ?reapply_interval,
        probe_interval = ?probe_interval,
        "hub caches synced; syncing"
    );
    let settings = Settings {
        reapply_interval,
        concurrency,
        replica: None,
    };
    let ctx = Arc::new(Context::new(hub, stores, pool, queue, secrets, settings));
    tokio::select! {
        _ = controller::run(ctx.clone()) => {}
        _ = controller::publish_gauges(ctx.clone(), Duration::from_secs(30)) => {}
        _ = crate::reachability::run(ctx, ProbeSettings { interval: probe_interval, max_backoff: probe_interval.max(Duration::from_secs(15)) }) => {}
        r = http => { r??; }
        _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted; stopping"); }
    }
    Ok(())
}
