//! The reachability loop: every installed cluster is probed (`GET /version` through its cached client, with a short
//! timeout) on its own schedule: healthy ones every `interval`, failing ones with capped exponential backoff. The
//! decisions (which URL, which conditions) are `plan::reach`'s; this module does the I/O and writes conditions only
//! when they change (a healthy cluster's `lastProbeTime` is refreshed at most every `PROBE_TIME_REFRESH`). A cluster
//! that turns reachable, or switches API URL, is queued for a sync at once. Before anything else every
//! ClusterDeployment that is not `reconcile-pause`d gets `Unreachable` and `ActiveAPIURLOverride` as
//! `Unknown/Initialized`, installed or not, as Hive's unreachable controller does.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use kube::ResourceExt;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::api::ClusterKey;
use crate::api::{ClusterDeployment, ClusterDeploymentCondition};
use crate::consts::RECONCILE_PAUSE_ANNOTATION;
use crate::controller::Context;
use crate::hub::queue::WorkQueue;
use crate::plan::conditions::set_cd_condition;
use crate::plan::gate;
use crate::plan::reach::{self, AfterPrimary, Observed, ACTIVE_API_URL_OVERRIDE, UNREACHABLE};
use crate::remote::{ops, RemoteError};
use crate::status;

/// Probes in flight at once.
const PROBE_WORKERS: usize = 32;
/// A probe's deadline (or `--remote-timeout`, if shorter). `GET /version` answers in milliseconds; this bounds how
/// long a cluster that stopped answering without closing its connections (a blackholed network) takes to be found:
/// the probe interval plus this, 30 s at the defaults (the dead-spoke target, docs/benchmarks.md).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// A healthy cluster's `Unreachable=False` is rewritten (moving `lastProbeTime`) at most this often.
const PROBE_TIME_REFRESH: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, Debug)]
pub struct ProbeSettings {
    /// Between probes of a healthy cluster.
    pub interval: Duration,
    /// Cap of the backoff between probes of a failing cluster.
    pub max_backoff: Duration,
}

struct Prober {
    ctx: Arc<Context>,
    settings: ProbeSettings,
    queue: Arc<WorkQueue<ClusterKey>>,
    scheduled: DashMap<ClusterKey, ()>,
    failures: DashMap<ClusterKey, u32>,
    /// When the kubeconfig's server was last probed as the fallback of a failing override.
    secondary_probed: DashMap<ClusterKey, Instant>,
    /// Healthy clusters are probed together on ticks `interval` apart from here (see `reach::until_next_tick`).
    epoch: Instant,
}

/// Probes every installed cluster, forever.
pub async fn run(ctx: Arc<Context>, settings: ProbeSettings) {
    let prober = Arc::new(Prober {
        queue: ctx.probes.clone(),
        ctx,
        settings,
        scheduled: DashMap::new(),
        failures: DashMap::new(),
        secondary_probed: DashMap::new(),
        epoch: Instant::now(),
    });
    let p = prober.clone();
    let workers =
        crate::hub::queue::run_workers(prober.queue.clone(), PROBE_WORKERS, "probe", move |key| {
            let p = p.clone();
            async move {
                let next = p.probe(&key).await;
                if next.is_none() {
                    p.scheduled.remove(&key);
                    p.failures.remove(&key);
                    p.secondary_probed.remove(&key);
                }
                next
            }
        });
    tokio::select! {
        _ = workers => {}
        _ = schedule(&prober) => {}
    }
}

/// New clusters are picked up within a second; known ones follow their own schedule. The fleet is looked through
/// only after a ClusterDeployment event, not every second.
async fn schedule(prober: &Prober) {
    let mut seen = None;
    loop {
        let events = prober.ctx.stores.names.cluster_deployment_events();
        if seen != Some(events) {
            seen = Some(events);
            for cd in prober.ctx.stores.cds.state() {
                let key = ClusterKey::of(&cd);
                if prober.scheduled.insert(key.clone(), ()).is_none() {
                    prober.queue.add(key);
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl Prober {
    /// Probes one cluster; returns when to probe it again (None: it is gone).
    async fn probe(&self, key: &ClusterKey) -> Option<Duration> {
        let cd = self.ctx.stores.cds.get(&key.object_ref())?;
        let idle = Some(self.settings.interval);
        if !self.ctx.ownership.owns(cd.metadata.uid.as_deref()) {
            return idle;
        }
        if gate::parse_bool(cd.annotations().get(RECONCILE_PAUSE_ANNOTATION)) {
            return idle;
        }
        let conditions = cd
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        // Every ClusterDeployment gets both conditions, before the installed and deleted checks (Hive's order).
        let init = reach::initial_conditions(&conditions);
        if !init.is_empty() {
            self.write(key, &init, &conditions, Some(&cd)).await;
        }
        if cd.metadata.deletion_timestamp.is_some() || !cd.spec.installed {
            return idle;
        }
        let Some(meta) = &cd.spec.cluster_metadata else {
            return idle;
        };
        let secret = meta.admin_kubeconfig_secret_ref.name.clone();
        let override_url = cd
            .spec
            .control_plane_config
            .as_ref()
            .and_then(|c| c.api_url_override.clone());

        let recheck_due = self
            .secondary_probed
            .get(key)
            .is_none_or(|t| t.elapsed() >= self.settings.interval * 6);
        let observed = Observed::from_conditions(&conditions, override_url.is_some(), recheck_due);
        let primary = if gate::fake_cluster(&cd) {
            Ok(())
        } else {
            self.try_url(key, &cd, &secret, override_url.as_deref())
                .await
        };
        // The plan words the conditions from the probes' messages.
        let message = |e: &RemoteError| e.message.clone();
        let verdict =
            match reach::after_primary(observed, primary.as_ref().map_err(message).copied()) {
                AfterPrimary::Done(v) => v,
                AfterPrimary::ProbeSecondary => {
                    self.secondary_probed.insert(key.clone(), Instant::now());
                    let secondary = self.try_url(key, &cd, &secret, None).await;
                    reach::after_secondary(
                        primary
                            .as_ref()
                            .err()
                            .map(|e| e.message.as_str())
                            .unwrap_or_default(),
                        secondary.as_ref().map_err(message).copied(),
                    )
                }
            };

        let mut changes = Vec::new();
        if let Some(v) = verdict.unreachable {
            changes.push((UNREACHABLE, v));
        }
        if let Some(v) = verdict.active_override {
            changes.push((ACTIVE_API_URL_OVERRIDE, v));
        }
        let became = |t: &str, status: &str| {
            changes.iter().any(|(ct, v)| *ct == t && v.0 == status)
                && !conditions
                    .iter()
                    .any(|c| c.type_ == t && c.status == status)
        };
        let now_reachable = became(UNREACHABLE, "False");
        let url_switched =
            became(ACTIVE_API_URL_OVERRIDE, "True") || became(ACTIVE_API_URL_OVERRIDE, "False");
        if became(UNREACHABLE, "True") {
            let (kind, error) = primary
                .as_ref()
                .err()
                .map_or(("", String::new()), |e| (e.kind(), e.message.clone()));
            warn!(namespace = %key.namespace, name = %key.name, kind, %error, "cluster is unreachable");
            self.ctx
                .events
                .publish(&cd, true, "ClusterUnreachable", error)
                .await;
        }
        if now_reachable
            && conditions
                .iter()
                .any(|c| c.type_ == UNREACHABLE && c.status == "True")
        {
            self.ctx
                .events
                .publish(
                    &cd,
                    false,
                    "ClusterReachable",
                    "cluster is reachable again".into(),
                )
                .await;
        }
        // After the initial write the watched copy is stale: read afresh rather than collect a conflict.
        let cached = init.is_empty().then_some(cd.as_ref());
        self.write(key, &changes, &conditions, cached).await;
        if now_reachable || url_switched {
            info!(namespace = %key.namespace, name = %key.name, "cluster is reachable; syncing");
            self.ctx.queue.add(key.clone());
        }

        if verdict.retry_soon {
            let mut n = self.failures.entry(key.clone()).or_insert(0);
            *n = (*n + 1).min(16);
            let backoff = Duration::from_millis(500u64 << (*n - 1).min(10));
            // Jittered: the clusters of a spoke network that failed together are not re-probed in lockstep.
            let jitter = 0.75 + rand::random::<f64>() / 2.0;
            Some(backoff.min(self.settings.max_backoff).mul_f64(jitter))
        } else {
            self.failures.remove(key);
            Some(reach::until_next_tick(
                self.epoch.elapsed(),
                self.settings.interval,
            ))
        }
    }

    async fn try_url(
        &self,
        key: &ClusterKey,
        cd: &ClusterDeployment,
        secret: &str,
        url: Option<&str>,
    ) -> Result<(), RemoteError> {
        let endpoint = crate::remote::Endpoint::of(cd, url);
        let rc = self.ctx.pool.get(key, secret, endpoint).await?;
        ops::probe(&rc, PROBE_TIMEOUT).await
    }

    /// Writes conditions that differ from `current` (and refreshes an old `lastProbeTime`).
    async fn write(
        &self,
        key: &ClusterKey,
        changes: &[(&'static str, reach::Value)],
        current: &[ClusterDeploymentCondition],
        cached: Option<&ClusterDeployment>,
    ) {
        let needed =
            changes.iter().any(
                |(t, (s, r, m))| match current.iter().find(|c| c.type_ == *t) {
                    None => true,
                    Some(c) => {
                        c.status != *s
                            || c.reason.as_deref() != Some(r)
                            || c.message.as_deref() != Some(m.as_str())
                            || (*t == UNREACHABLE && probe_time_stale(c))
                    }
                },
            );
        if !needed {
            return;
        }
        let now = status::now();
        let result = status::update_cd_conditions(&self.ctx.hub, key, cached, |conds| {
            let mut changed = false;
            for (t, (s, r, m)) in changes {
                let refresh =
                    *t == UNREACHABLE && conds.iter().any(|c| c.type_ == *t && probe_time_stale(c));
                changed |= set_cd_condition(conds, t, (s, r, m), &now, refresh);
            }
            changed
        })
        .await;
        match result {
            Ok(true) => {
                debug!(namespace = %key.namespace, name = %key.name, "reachability conditions written")
            }
            Ok(false) => {}
            Err(e) => {
                warn!(namespace = %key.namespace, name = %key.name, error = %e, "could not write reachability conditions")
            }
        }
    }
}

fn probe_time_stale(c: &ClusterDeploymentCondition) -> bool {
    let Some(t) = &c.last_probe_time else {
        return true;
    };
    let age = jiff::Timestamp::now().duration_since(t.0);
    Duration::try_from(age).is_ok_and(|a| a >= PROBE_TIME_REFRESH)
}
