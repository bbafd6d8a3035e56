//! Whether a cluster is synced at all (docs/hive-compatibility.md, "Gates"), and when the next full re-apply is due
//! (same page, "Full re-apply and the lease").

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
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

/// The ClusterDeployment label naming the cluster's type (a metrics label).
pub const CLUSTER_TYPE_LABEL: &str = "hive.openshift.io/cluster-type";

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
    let syncset_pause = syncset_pause(cd);
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

/// Whether `hive.openshift.io/syncset-pause` is set.
pub fn syncset_pause(cd: &ClusterDeployment) -> bool {
    parse_bool(cd.annotations().get(SYNCSET_PAUSE_ANNOTATION))
}

/// Whether Hive's clusterdeployment controller reaches its installed-cluster branch for `cd`, where it sets
/// `installedTimestamp` and `SyncSetFailed`: not `reconcile-pause`d, not being deleted, installed. `syncset-pause`
/// and `relocate` do not stop it (the first only changes the `SyncSetFailed` reason).
pub fn installed_path(cd: &ClusterDeployment) -> bool {
    !parse_bool(cd.annotations().get(RECONCILE_PAUSE_ANNOTATION))
        && cd.metadata.deletion_timestamp.is_none()
        && cd.spec.installed
}

/// `status.installedTimestamp`, or for an installed cluster that lacks it its creation time: what Hive's
/// clusterdeployment controller writes there ("set installedTimestamp for adopted clusters"), so every reader sees
/// the value it will have.
pub fn installed_timestamp(cd: &ClusterDeployment) -> Option<&Time> {
    cd.status
        .as_ref()
        .and_then(|s| s.installed_timestamp.as_ref())
        .or_else(|| {
            cd.spec
                .installed
                .then_some(cd.metadata.creation_timestamp.as_ref())
                .flatten()
        })
}

/// The `cluster_type` label of `hive_cluster_deployment_syncset_paused`: label `hive.openshift.io/cluster-type`,
/// `unspecified` when it is missing or empty (as Hive's metrics controller).
pub fn cluster_type(cd: &ClusterDeployment) -> &str {
    cd.labels()
        .get(CLUSTER_TYPE_LABEL)
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("unspecified")
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

    // Hive scenario #2 (docs/hive-compatibility.md, "Acceptance scenarios").
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

    // Hive scenario #7.
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

    // The creation time stands in for a missing installedTimestamp, on installed clusters only.
    #[test]
    fn installed_timestamp_falls_back_to_the_creation_time_of_an_installed_cluster() {
        let created = json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}});
        let at = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap());
        let ts = |c: &ClusterDeployment| installed_timestamp(c).map(|t| t.0);
        assert_eq!(ts(&cd(created.clone())), at("2026-01-01T00:00:00Z"));
        let mut own = cd(created.clone());
        own.status = Some(ClusterDeploymentStatus {
            installed_timestamp: Some(Time(at("2026-02-02T00:00:00Z").unwrap())),
            ..Default::default()
        });
        assert_eq!(ts(&own), at("2026-02-02T00:00:00Z"), "its own value first");
        let mut not_installed = cd(created);
        not_installed.spec.installed = false;
        assert_eq!(ts(&not_installed), None);
        assert_eq!(ts(&cd(json!({}))), None, "no creation time either");
    }

    // Hive's clusterdeployment controller skips reconcile-paused and deleted clusters, and clusters not installed.
    #[test]
    fn only_installed_clusters_that_are_not_reconcile_paused_or_deleting_get_installed_status() {
        assert!(installed_path(&cd(json!({}))));
        let annotated = |k: &str, v: &str| cd(json!({"metadata": {"annotations": {k: v}}}));
        assert!(installed_path(&annotated(SYNCSET_PAUSE_ANNOTATION, "true")));
        assert!(installed_path(&annotated(RELOCATE_ANNOTATION, "x")));
        assert!(!installed_path(&annotated(
            RECONCILE_PAUSE_ANNOTATION,
            "true"
        )));
        assert!(installed_path(&annotated(RECONCILE_PAUSE_ANNOTATION, "no")));
        assert!(!installed_path(&cd(
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
        )));
        assert!(!installed_path(&cd(json!({"spec": {"installed": false}}))));
        assert!(installed_path(&cd(
            json!({"spec": {"clusterMetadata": null}})
        )));
    }

    #[test]
    fn a_missing_or_empty_cluster_type_is_unspecified() {
        let labelled = |v: &str| cd(json!({"metadata": {"labels": {CLUSTER_TYPE_LABEL: v}}}));
        assert_eq!(cluster_type(&labelled("managed")), "managed");
        assert_eq!(cluster_type(&labelled("")), "unspecified");
        assert_eq!(cluster_type(&cd(json!({}))), "unspecified");
    }
}
