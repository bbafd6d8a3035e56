//! Whether a cluster is synced at all (HIVE-COMPAT.md §2.1), and when the next full re-apply is due (§4.12).

use std::time::Duration;

use kube::ResourceExt;

use super::conditions::UNREACHABLE;
use crate::api::ClusterDeployment;
use crate::consts::{RECONCILE_PAUSE_ANNOTATION, RELOCATE_ANNOTATION, SYNCSET_PAUSE_ANNOTATION};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Sync,
    /// `syncset-pause` or `reconcile-pause` true, or `relocate` present. `syncset_pause` tells which reason the
    /// `SyncSetFailed` condition gives.
    Paused {
        syncset_pause: bool,
    },
    Deleting,
    NotInstalled,
    NoClusterMetadata,
}

/// Go's `strconv.ParseBool` truths.
pub fn parse_bool(v: Option<&String>) -> bool {
    matches!(
        v.map(String::as_str),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True")
    )
}

/// Hive's gates, in Hive's order (shard ownership aside).
pub fn gate(cd: &ClusterDeployment) -> Gate {
    let a = cd.annotations();
    let syncset_pause = parse_bool(a.get(SYNCSET_PAUSE_ANNOTATION));
    if syncset_pause
        || parse_bool(a.get(RECONCILE_PAUSE_ANNOTATION))
        || a.contains_key(RELOCATE_ANNOTATION)
    {
        return Gate::Paused { syncset_pause };
    }
    if cd.metadata.deletion_timestamp.is_some() {
        return Gate::Deleting;
    }
    if !cd.spec.installed {
        return Gate::NotInstalled;
    }
    if cd.spec.cluster_metadata.is_none() {
        return Gate::NoClusterMetadata;
    }
    Gate::Sync
}

/// Hive's scale-test annotation: all spoke I/O is faked, no kubeconfig is needed.
pub fn fake_cluster(cd: &ClusterDeployment) -> bool {
    parse_bool(cd.annotations().get(crate::consts::FAKE_CLUSTER_ANNOTATION))
}

/// The `Unreachable` condition must exist and be False; missing or Unknown counts as unreachable.
pub fn reachable(cd: &ClusterDeployment) -> bool {
    cd.condition(UNREACHABLE)
        .is_some_and(|c| c.status == "False")
}

/// The API URL to use: `apiURLOverride` only while `ActiveAPIURLOverride` is True, else the kubeconfig's server.
pub fn active_api_url(cd: &ClusterDeployment) -> Option<&str> {
    let url = cd
        .spec
        .control_plane_config
        .as_ref()?
        .api_url_override
        .as_deref()?;
    (cd.condition("ActiveAPIURLOverride")?.status == "True").then_some(url)
}

/// `interval − (now − renewTime) + jitter × 0.1 × interval`, at least zero; `jitter` ∈ [0, 1) is drawn by the
/// caller on every call. No lease (or a zero renewTime) means due now.
pub fn time_until_renew(
    interval: Duration,
    renew_time: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
    jitter: f64,
) -> Duration {
    let Some(renewed) = renew_time.filter(|t| *t != jiff::Timestamp::UNIX_EPOCH) else {
        return Duration::ZERO;
    };
    let elapsed = Duration::try_from(now.duration_since(renewed)).unwrap_or(Duration::ZERO);
    let jitter =
        Duration::from_secs((0.1 * jitter.clamp(0.0, 1.0) * interval.as_secs_f64()).floor() as u64);
    (interval + jitter).saturating_sub(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ClusterDeploymentCondition, ClusterDeploymentStatus};
    use serde_json::json;

    fn cd(extra: serde_json::Value) -> ClusterDeployment {
        let mut base = json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": "c", "namespace": "n"},
            "spec": {"clusterName": "c", "baseDomain": "d", "installed": true, "platform": {},
                     "clusterMetadata": {"clusterID": "x", "infraID": "y", "adminKubeconfigSecretRef": {"name": "k"}}}
        });
        json_patch::merge(&mut base, &extra);
        serde_json::from_value(base).unwrap()
    }

    // §10.1 #2.
    #[test]
    fn paused_deleting_and_uninstalled_clusters_are_not_synced() {
        assert_eq!(gate(&cd(json!({}))), Gate::Sync);
        let pause = |k: &str, v: &str| cd(json!({"metadata": {"annotations": {k: v}}}));
        assert_eq!(
            gate(&pause(SYNCSET_PAUSE_ANNOTATION, "true")),
            Gate::Paused {
                syncset_pause: true
            }
        );
        assert_eq!(
            gate(&pause(SYNCSET_PAUSE_ANNOTATION, "T")),
            Gate::Paused {
                syncset_pause: true
            }
        );
        assert_eq!(
            gate(&pause(SYNCSET_PAUSE_ANNOTATION, "yes")),
            Gate::Sync,
            "ParseBool does not accept yes"
        );
        assert_eq!(
            gate(&pause(RECONCILE_PAUSE_ANNOTATION, "1")),
            Gate::Paused {
                syncset_pause: false
            }
        );
        assert_eq!(
            gate(&pause(RELOCATE_ANNOTATION, "")),
            Gate::Paused {
                syncset_pause: false
            }
        );
        assert_eq!(
            gate(&cd(
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
            )),
            Gate::Deleting
        );
        assert_eq!(
            gate(&cd(json!({"spec": {"installed": false}}))),
            Gate::NotInstalled
        );
        assert_eq!(
            gate(&cd(json!({"spec": {"clusterMetadata": null}}))),
            Gate::NoClusterMetadata
        );
    }

    #[test]
    fn only_an_unreachable_false_condition_counts_as_reachable() {
        let with = |status: Option<&str>| {
            let mut c = cd(json!({}));
            c.status = Some(ClusterDeploymentStatus {
                conditions: status
                    .map(|s| ClusterDeploymentCondition {
                        type_: UNREACHABLE.into(),
                        status: s.into(),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            });
            reachable(&c)
        };
        assert!(with(Some("False")));
        assert!(!with(Some("Unknown")));
        assert!(!with(Some("True")));
        assert!(!with(None));
    }

    // §10.1 #7.
    #[test]
    fn a_full_reapply_is_due_after_the_interval_plus_jitter() {
        let h = Duration::from_secs(3600);
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let ago = |secs: i64| {
            Some(
                now.checked_sub(jiff::SignedDuration::from_secs(secs))
                    .unwrap(),
            )
        };
        let two_h = 2 * h;
        assert_eq!(
            time_until_renew(two_h, ago(3600), now, 0.0),
            h,
            "renewed 1h ago: 1h left"
        );
        assert!(
            time_until_renew(two_h, ago(3 * 3600), now, 0.99).is_zero(),
            "renewed 3h ago: due"
        );
        assert!(
            time_until_renew(two_h, None, now, 0.5).is_zero(),
            "no lease: due"
        );
        assert!(
            time_until_renew(two_h, Some(jiff::Timestamp::UNIX_EPOCH), now, 0.5).is_zero(),
            "zero renewTime: due"
        );
        // Jitter is positive only, at most 10 %.
        let j = time_until_renew(two_h, ago(0), now, 0.999);
        assert!(j > two_h && j <= two_h + two_h / 10, "{j:?}");
    }
}
