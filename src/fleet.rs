//! Fleet-wide metrics, computed from the watch caches rather than per reconcile: Hive's metrics-controller gauges
//! (recomputed every 30 s here, every 2 min in Hive) and the opt-in `hive_clustersync_failing_seconds`, computed at
//! scrape time as Hive's custom collector does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::reflector::Store;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, Opts};

use crate::api::{ClusterDeployment, ClusterKey, ClusterSync, SyncSetResult};
use crate::controller::{self, Context};
use crate::metrics;
use crate::plan::{conditions, gate};

/// Recomputes the fleet gauges from the watch caches (Hive's metrics controller does this every 2 minutes).
pub async fn publish_gauges(ctx: Arc<Context>, every: Duration) {
    let mut known_sss: Vec<String> = Vec::new();
    let mut known_paused: Vec<[String; 3]> = Vec::new();
    loop {
        let mut sss_total: HashMap<String, i64> = HashMap::new();
        let mut sss_unapplied: HashMap<String, i64> = HashMap::new();
        let (mut ss_total, mut ss_unapplied) = (0, 0);
        for cs in ctx.stores.cluster_syncs.state() {
            let Some(st) = &cs.status else { continue };
            for e in &st.selector_sync_sets {
                *sss_total.entry(e.name.clone()).or_default() += 1;
                if e.result != SyncSetResult::Success {
                    *sss_unapplied.entry(e.name.clone()).or_default() += 1;
                }
            }
            ss_total += st.sync_sets.len() as i64;
            ss_unapplied += st
                .sync_sets
                .iter()
                .filter(|e| e.result != SyncSetResult::Success)
                .count() as i64;
        }
        for name in known_sss.drain(..) {
            if !sss_total.contains_key(&name) {
                let _ = metrics::SSS_CLUSTERS.remove_label_values(&[&name]);
            }
            if !sss_unapplied.contains_key(&name) {
                let _ = metrics::SSS_CLUSTERS_UNAPPLIED.remove_label_values(&[&name]);
            }
        }
        for (name, n) in &sss_total {
            metrics::SSS_CLUSTERS.with_label_values(&[name]).set(*n);
            known_sss.push(name.clone());
        }
        for (name, n) in &sss_unapplied {
            metrics::SSS_CLUSTERS_UNAPPLIED
                .with_label_values(&[name])
                .set(*n);
        }
        metrics::SYNCSETS_TOTAL.set(ss_total);
        metrics::SYNCSETS_UNAPPLIED.set(ss_unapplied);

        let (mut reachable, mut unreachable, mut unknown) = (0, 0, 0);
        let mut paused = Vec::new();
        for cd in ctx.stores.cds.state() {
            match cd
                .condition(conditions::UNREACHABLE)
                .map(|c| c.status.as_str())
            {
                Some("False") => reachable += 1,
                Some("True") => unreachable += 1,
                _ => unknown += 1,
            }
            if controller::syncset_paused(&cd) {
                let cluster = ClusterKey::of(&cd);
                paused.push([
                    cluster.name,
                    cluster.namespace,
                    gate::cluster_type(&cd).to_string(),
                ]);
            }
        }
        metrics::CLUSTERS
            .with_label_values(&["reachable"])
            .set(reachable);
        metrics::CLUSTERS
            .with_label_values(&["unreachable"])
            .set(unreachable);
        metrics::CLUSTERS
            .with_label_values(&["unknown"])
            .set(unknown);
        for old in known_paused.drain(..) {
            if !paused.contains(&old) {
                let _ = metrics::SYNCSET_PAUSED.remove_label_values(&[&old[0], &old[1], &old[2]]);
            }
        }
        for p in &paused {
            metrics::SYNCSET_PAUSED
                .with_label_values(&[&p[0], &p[1], &p[2]])
                .set(1.0);
        }
        known_paused = paused;
        for entry in ctx.last_success.iter() {
            let cluster = entry.key();
            metrics::LAST_SUCCESS_AGE
                .with_label_values(&[&cluster.namespace, &cluster.name])
                .set(entry.value().elapsed().as_secs_f64());
        }
        let mut objects: HashMap<&'static str, i64> = crate::plan::health::Health::ALL
            .iter()
            .map(|h| (h.as_str(), 0))
            .collect();
        for o in ctx.observations.iter() {
            for (health, n) in &o.counts {
                *objects.entry(health).or_default() += n;
            }
        }
        for (health, n) in objects {
            metrics::OBJECTS.with_label_values(&[health]).set(n);
        }
        metrics::QUEUE_DEPTH.set(ctx.queue.len() as i64);
        controller::sweep(&ctx);
        tokio::time::sleep(every).await;
    }
}

/// Hive's `hive_clustersync_failing_seconds{namespaced_name, unreachable}`: for every ClusterSync whose `Failed`
/// condition is True, the seconds since that condition's last transition, once at least `min` (Hive's
/// `metricsConfig.metricsWithDuration: [{name: currentClusterSyncFailing, duration}]`); `unreachable` is the status of
/// the ClusterDeployment's `Unreachable` condition (empty when it has none). Opt-in, as in Hive: registered only with
/// `--clustersync-failing-min-duration`. Computed from the caches at each scrape, so the value is never stale and a
/// ClusterSync that recovers or goes away leaves no series behind.
pub struct ClusterSyncFailing {
    cluster_syncs: Store<ClusterSync>,
    cds: Store<ClusterDeployment>,
    min: Duration,
    desc: Desc,
}

const FAILING_SECONDS: &str = "hive_clustersync_failing_seconds";
const FAILING_SECONDS_HELP: &str = "Length of time a clustersync has been failing";
const FAILING_SECONDS_LABELS: [&str; 2] = ["namespaced_name", "unreachable"];

impl ClusterSyncFailing {
    pub fn new(
        cluster_syncs: Store<ClusterSync>,
        cds: Store<ClusterDeployment>,
        min: Duration,
    ) -> Self {
        let desc = Desc::new(
            FAILING_SECONDS.into(),
            FAILING_SECONDS_HELP.into(),
            FAILING_SECONDS_LABELS
                .iter()
                .map(|l| l.to_string())
                .collect(),
            HashMap::new(),
        )
        .expect("a valid metric description");
        Self {
            cluster_syncs,
            cds,
            min,
            desc,
        }
    }

    /// Registers the collector in the registry `/metrics` serves.
    pub fn register(self) -> prometheus::Result<()> {
        prometheus::register(Box::new(self))
    }
}

impl Collector for ClusterSyncFailing {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let gauge = GaugeVec::new(
            Opts::new(FAILING_SECONDS, FAILING_SECONDS_HELP),
            &FAILING_SECONDS_LABELS,
        )
        .expect("a valid metric");
        let now = Timestamp::now();
        for cs in self.cluster_syncs.state() {
            let cd = self
                .cds
                .get(&ClusterKey::of_meta(&cs.metadata).object_ref());
            if let Some(f) = failing(&cs, cd.as_deref(), now, self.min) {
                gauge
                    .with_label_values(&[&f.namespaced_name, &f.unreachable])
                    .set(f.seconds);
            }
        }
        gauge.collect()
    }
}

/// One series of `hive_clustersync_failing_seconds`.
#[derive(Debug, PartialEq)]
pub struct Failing {
    pub namespaced_name: String,
    pub unreachable: String,
    pub seconds: f64,
}

/// Whether a ClusterSync counts as failing for `min` or longer at `now`, and its series if so.
pub fn failing(
    cs: &ClusterSync,
    cd: Option<&ClusterDeployment>,
    now: Timestamp,
    min: Duration,
) -> Option<Failing> {
    let cond = cs
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::CLUSTER_SYNC_FAILED && c.status == "True")?;
    // Hive takes the zero time for a missing transition time, which makes the series huge; a condition without one
    // is treated as failing since now.
    let since = cond.last_transition_time.as_ref().map_or(now, |t| t.0);
    let seconds = now.duration_since(since).as_secs_f64().max(0.0);
    if seconds < min.as_secs_f64() {
        return None;
    }
    Some(Failing {
        namespaced_name: ClusterKey::of_meta(&cs.metadata).to_string(),
        unreachable: cd
            .and_then(|cd| cd.condition(conditions::UNREACHABLE))
            .map(|c| c.status.clone())
            .unwrap_or_default(),
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ClusterSyncCondition, ClusterSyncStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cluster_sync(failed: &str, since: &str) -> ClusterSync {
        let mut cs = ClusterSync::new("c1", Default::default());
        cs.metadata.namespace = Some("ns".into());
        cs.status = Some(ClusterSyncStatus {
            conditions: vec![ClusterSyncCondition {
                type_: "Failed".into(),
                status: failed.into(),
                last_transition_time: Some(Time(at(since))),
                ..Default::default()
            }],
            ..Default::default()
        });
        cs
    }

    #[test]
    fn a_cluster_sync_failing_longer_than_the_minimum_is_reported_with_its_cluster_s_reachability()
    {
        let cd: ClusterDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": "c1", "namespace": "ns"},
            "spec": {"baseDomain": "example.com", "clusterName": "c1", "platform": {}},
            "status": {"conditions": [{"type": "Unreachable", "status": "False"}]}
        }))
        .unwrap();
        let cs = cluster_sync("True", "2026-12-03T10:00:00Z");
        let now = at("2026-12-03T10:10:00Z");
        assert_eq!(
            failing(&cs, Some(&cd), now, Duration::from_secs(300)),
            Some(Failing {
                namespaced_name: "ns/c1".into(),
                unreachable: "False".into(),
                seconds: 600.0
            })
        );
        assert_eq!(failing(&cs, Some(&cd), now, Duration::from_secs(601)), None);
        // Without its ClusterDeployment (or its condition) the label is empty, as in Hive.
        assert_eq!(
            failing(&cs, None, now, Duration::ZERO).unwrap().unreachable,
            ""
        );
    }

    #[test]
    fn a_cluster_sync_that_is_not_failing_has_no_series() {
        let now = at("2026-12-03T10:10:00Z");
        assert_eq!(
            failing(
                &cluster_sync("False", "2026-12-03T10:00:00Z"),
                None,
                now,
                Duration::ZERO
            ),
            None
        );
        assert_eq!(
            failing(
                &ClusterSync::new("c1", Default::default()),
                None,
                now,
                Duration::ZERO
            ),
            None
        );
    }
}
