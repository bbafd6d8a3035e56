//! Conditions and times derived from the status entries (docs/hive-compatibility.md, "The Failed condition",
//! "firstSuccessTime" and "ClusterDeployment conditions"), with Hive's strings.
//! Also what Hive's clusterdeployment controller keeps on an installed ClusterDeployment that hivesync writes in its
//! place (`installedTimestamp`, `SyncSetFailed`), and the order Hive keeps ClusterDeployment conditions in.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{
    ClusterDeploymentCondition, ClusterDeploymentStatus, ClusterSyncCondition, ClusterSyncStatus,
    SyncSetResult, SyncStatus,
};

pub const CLUSTER_SYNC_FAILED: &str = "Failed";
pub const SYNCSET_FAILED: &str = "SyncSetFailed";
pub const UNREACHABLE: &str = "Unreachable";

pub const REASON_SUCCESS: &str = "Success";
pub const REASON_FAILURE: &str = "Failure";
pub const MESSAGE_ALL_APPLIED: &str =
    "All SyncSets and SelectorSyncSets have been applied to the cluster";

/// The ClusterSync `Failed` condition's (status, reason, message) for these entries.
pub fn failed_condition(
    sync_sets: &[SyncStatus],
    selector_sync_sets: &[SyncStatus],
) -> (&'static str, &'static str, String) {
    let failing = |list: &[SyncStatus]| -> Vec<String> {
        list.iter()
            .filter(|e| e.result != SyncSetResult::Success)
            .map(|e| e.name.clone())
            .collect()
    };
    let (ss, sss) = (failing(sync_sets), failing(selector_sync_sets));
    if ss.is_empty() && sss.is_empty() {
        return ("False", REASON_SUCCESS, MESSAGE_ALL_APPLIED.to_string());
    }
    let part = |singular: &str, names: &[String]| match names.len() {
        0 => None,
        1 => Some(format!("{singular} {}", names[0])),
        _ => Some(format!("{singular}s {}", names.join(", "))),
    };
    let parts: Vec<String> = [part("SyncSet", &ss), part("SelectorSyncSet", &sss)]
        .into_iter()
        .flatten()
        .collect();
    let verb = if ss.len() + sss.len() == 1 {
        "is failing"
    } else {
        "are failing"
    };
    (
        "True",
        REASON_FAILURE,
        format!("{} {verb}", parts.join(" and ")),
    )
}

/// The condition list after this reconcile: unchanged when `conditions[0]` already says the same, else replaced by
/// the one new condition stamped `now`.
pub fn with_failed_condition(
    existing: &[ClusterSyncCondition],
    (status, reason, message): (&str, &str, String),
    now: &Time,
) -> Vec<ClusterSyncCondition> {
    if let Some(first) = existing.first() {
        if first.type_ == CLUSTER_SYNC_FAILED
            && first.status == status
            && first.reason == reason
            && first.message == message
        {
            return existing.to_vec();
        }
    }
    vec![ClusterSyncCondition {
        type_: CLUSTER_SYNC_FAILED.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    }]
}

/// `ClusterSync.status.firstSuccessTime`: set once, when the cluster is installed and every entry has succeeded at
/// least once: the latest of the entries' first successes, or now when there are none.
pub fn first_success_time(
    current: Option<&Time>,
    installed_timestamp_set: bool,
    entries: &[&SyncStatus],
    now: &Time,
) -> Option<Time> {
    if let Some(t) = current {
        return Some(t.clone());
    }
    if !installed_timestamp_set {
        return None;
    }
    if entries.is_empty() {
        return Some(now.clone());
    }
    let times: Option<Vec<&Time>> = entries
        .iter()
        .map(|e| e.first_success_time.as_ref())
        .collect();
    times?.into_iter().max().cloned()
}

/// Whether a ClusterSync's `Failed` condition is True (Hive's `checkForFailedSync`: no condition is not failing).
pub fn cluster_sync_failing(status: Option<&ClusterSyncStatus>) -> bool {
    status
        .into_iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == CLUSTER_SYNC_FAILED)
        .is_some_and(|c| c.status == "True")
}

/// The ClusterDeployment `SyncSetFailed` condition's (status, reason, message). `cluster_sync_failed` is None when
/// there is no ClusterSync; `paused` is `syncset-pause`.
pub fn syncset_failed(
    cluster_sync_failed: Option<bool>,
    paused: bool,
) -> (&'static str, &'static str, &'static str) {
    match cluster_sync_failed {
        None if paused => (
            "True",
            "SyncSetPaused",
            "SyncSet is paused. ClusterSync will not be created",
        ),
        None => (
            "True",
            "MissingClusterSync",
            "ClusterSync has not yet been created",
        ),
        Some(true) => (
            "True",
            "SyncSetApplyFailure",
            "One of the SyncSet applies has failed",
        ),
        Some(false) => (
            "False",
            "SyncSetApplySuccess",
            "SyncSet apply is successful",
        ),
    }
}

/// What Hive's clusterdeployment controller keeps on an installed ClusterDeployment (its installed branch,
/// `clusterdeployment_controller.go`): `installedTimestamp` set to the creation time when missing (adopted or
/// hand-made clusters), and `SyncSetFailed` following the ClusterSync. Returns whether `status` changed. The caller
/// decides whether the cluster is on that path at all (`gate::installed_path`).
pub fn keep_installed_status(
    status: &mut ClusterDeploymentStatus,
    created: Option<&Time>,
    syncset_failed: (&str, &str, &str),
    now: &Time,
) -> bool {
    let mut changed = false;
    if status.installed_timestamp.is_none() {
        if let Some(created) = created {
            status.installed_timestamp = Some(created.clone());
            changed = true;
        }
    }
    changed |= set_cd_condition(
        &mut status.conditions,
        SYNCSET_FAILED,
        syncset_failed,
        now,
        false,
    );
    changed
}

/// ClusterDeployment condition types whose desired status is True (Hive's `PositivePolarityClusterDeploymentConditions`);
/// every other type is desired False.
pub const POSITIVE_POLARITY: [&str; 8] = [
    "ActiveAPIURLOverride",
    "Hibernating",
    "Ready",
    "AWSPrivateLinkReady",
    "ClusterInstallCompleted",
    "ClusterInstallRequirementsMet",
    "RequirementsMet",
    "Provisioned",
];

/// Hive's `IsConditionInDesiredState`: True for a positive-polarity type, False for the others; Unknown never is.
pub fn in_desired_state(c: &ClusterDeploymentCondition) -> bool {
    let desired = if POSITIVE_POLARITY.contains(&c.type_.as_str()) {
        "True"
    } else {
        "False"
    };
    c.status == desired
}

/// Hive's `SortClusterDeploymentConditions`, run after every change: known statuses before Unknown, conditions in an
/// undesired state before desired ones, then by type (byte-wise). Stable, as Hive's `sort.SliceStable`.
pub fn sort_cd_conditions(conditions: &mut [ClusterDeploymentCondition]) {
    conditions.sort_by(|a, b| {
        let key = |c: &ClusterDeploymentCondition| (c.status == "Unknown", in_desired_state(c));
        key(a)
            .cmp(&key(b))
            .then_with(|| a.type_.as_bytes().cmp(b.type_.as_bytes()))
    });
}

/// Sets a ClusterDeployment condition; returns whether anything changed. With `always_probe`, `lastProbeTime` moves
/// even when the rest is unchanged (Hive's `Unreachable=False` on every successful probe). After a change the list is
/// re-sorted, as Hive's `SetClusterDeploymentConditionWithChangeCheck` does.
pub fn set_cd_condition(
    conditions: &mut Vec<ClusterDeploymentCondition>,
    type_: &str,
    (status, reason, message): (&str, &str, &str),
    now: &Time,
    always_probe: bool,
) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            let same = c.status == status
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message);
            if same && !always_probe {
                return false;
            }
            if c.status != status {
                c.last_transition_time = Some(now.clone());
            }
            c.status = status.into();
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_probe_time = Some(now.clone());
        }
        None => {
            conditions.push(ClusterDeploymentCondition {
                type_: type_.into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_probe_time: Some(now.clone()),
                last_transition_time: Some(now.clone()),
            });
        }
    }
    sort_cd_conditions(conditions);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap())
    }

    fn entry(name: &str, ok: bool, first: Option<i64>) -> SyncStatus {
        SyncStatus {
            name: name.into(),
            observed_generation: 1,
            resources_to_delete: Default::default(),
            result: if ok {
                SyncSetResult::Success
            } else {
                SyncSetResult::Failure
            },
            failure_message: (!ok).then(|| "x".into()),
            last_transition_time: t(0),
            first_success_time: first.map(t),
        }
    }

    // Hive scenarios #17, #18 (docs/hive-compatibility.md, "Acceptance scenarios").
    #[test]
    fn failure_messages_name_the_failing_syncsets_in_hive_s_words() {
        let msg = |ss: &[(&str, bool)], sss: &[(&str, bool)]| {
            let l = |v: &[(&str, bool)]| {
                v.iter()
                    .map(|(n, ok)| entry(n, *ok, None))
                    .collect::<Vec<_>>()
            };
            failed_condition(&l(ss), &l(sss))
        };
        assert_eq!(
            msg(&[("a", true)], &[]),
            ("False", "Success", MESSAGE_ALL_APPLIED.into())
        );
        assert_eq!(msg(&[], &[]).2, MESSAGE_ALL_APPLIED);
        assert_eq!(
            msg(&[("test-syncset", false)], &[]).2,
            "SyncSet test-syncset is failing"
        );
        assert_eq!(
            msg(
                &[("a", false), ("ok", true), ("b", false), ("c", false)],
                &[]
            )
            .2,
            "SyncSets a, b, c are failing"
        );
        assert_eq!(
            msg(&[], &[("x", false), ("y", false)]).2,
            "SelectorSyncSets x, y are failing"
        );
        assert_eq!(
            msg(&[("x", false)], &[("y", false)]).2,
            "SyncSet x and SelectorSyncSet y are failing"
        );
        assert_eq!(
            msg(&[("a", false), ("b", false)], &[("x", false), ("y", false)]),
            (
                "True",
                "Failure",
                "SyncSets a, b and SelectorSyncSets x, y are failing".into()
            )
        );
    }

    // Hive scenario #28.
    #[test]
    fn an_unchanged_condition_keeps_its_timestamps() {
        let first = with_failed_condition(
            &[],
            ("True", "Failure", "SyncSet a is failing".into()),
            &t(1),
        );
        let again = with_failed_condition(
            &first,
            ("True", "Failure", "SyncSet a is failing".into()),
            &t(99),
        );
        assert_eq!(again, first);
        let changed = with_failed_condition(
            &first,
            ("False", "Success", MESSAGE_ALL_APPLIED.into()),
            &t(99),
        );
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].last_transition_time, Some(t(99)));
        assert_eq!(changed[0].last_probe_time, Some(t(99)));
    }

    // Hive scenario #29.
    #[test]
    fn first_success_time_is_the_latest_entry_success_once_all_succeeded() {
        let a = entry("a", true, Some(5));
        let b = entry("b", true, Some(7));
        let c = entry("c", false, None);
        assert_eq!(
            first_success_time(None, true, &[&a, &b], &t(100)),
            Some(t(7))
        );
        assert_eq!(first_success_time(None, true, &[&a, &c], &t(100)), None);
        assert_eq!(first_success_time(None, true, &[], &t(100)), Some(t(100)));
        assert_eq!(first_success_time(None, false, &[&a], &t(100)), None);
        assert_eq!(
            first_success_time(Some(&t(1)), true, &[&c], &t(100)),
            Some(t(1)),
            "never changes once set"
        );
    }

    #[test]
    fn syncset_failed_reasons_follow_the_cluster_sync() {
        assert_eq!(syncset_failed(None, true).1, "SyncSetPaused");
        assert_eq!(
            syncset_failed(None, false),
            (
                "True",
                "MissingClusterSync",
                "ClusterSync has not yet been created"
            )
        );
        assert_eq!(
            syncset_failed(Some(true), false),
            (
                "True",
                "SyncSetApplyFailure",
                "One of the SyncSet applies has failed"
            )
        );
        assert_eq!(
            syncset_failed(Some(false), false),
            (
                "False",
                "SyncSetApplySuccess",
                "SyncSet apply is successful"
            )
        );
    }

    #[test]
    fn a_cd_condition_is_written_only_when_it_changes_unless_probed() {
        let mut c = vec![];
        assert!(set_cd_condition(
            &mut c,
            UNREACHABLE,
            ("False", "ClusterReachable", "cluster is reachable"),
            &t(1),
            false
        ));
        assert!(!set_cd_condition(
            &mut c,
            UNREACHABLE,
            ("False", "ClusterReachable", "cluster is reachable"),
            &t(2),
            false
        ));
        assert!(set_cd_condition(
            &mut c,
            UNREACHABLE,
            ("False", "ClusterReachable", "cluster is reachable"),
            &t(3),
            true
        ));
        assert_eq!(c[0].last_probe_time, Some(t(3)));
        assert_eq!(c[0].last_transition_time, Some(t(1)));
        assert!(set_cd_condition(
            &mut c,
            UNREACHABLE,
            ("True", "ErrorConnectingToCluster", "refused"),
            &t(4),
            false
        ));
        assert_eq!(c[0].last_transition_time, Some(t(4)));
    }

    fn cond(type_: &str, status: &str) -> ClusterDeploymentCondition {
        ClusterDeploymentCondition {
            type_: type_.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn order(c: &[ClusterDeploymentCondition]) -> Vec<String> {
        c.iter()
            .map(|c| format!("{}={}", c.type_, c.status))
            .collect()
    }

    // Hive's SortClusterDeploymentConditions: known before Unknown, undesired before desired, then by type.
    #[test]
    fn cd_conditions_sort_as_hive_sorts_them() {
        let mut c = vec![
            cond("Unreachable", "Unknown"),
            cond("ActiveAPIURLOverride", "Unknown"),
            cond("Unreachable2", "False"),
            cond("SyncSetFailed", "False"),
            cond("ActiveAPIURLOverride2", "True"),
            cond("Ready", "True"),
            cond("Hibernating", "False"),
            cond("ProvisionFailed", "True"),
            cond("AuthenticationFailure", "True"),
        ];
        sort_cd_conditions(&mut c);
        assert_eq!(
            order(&c),
            [
                // Undesired: negative polarity True (a type Hive does not list as positive is negative, like
                // ActiveAPIURLOverride2), positive polarity False.
                "ActiveAPIURLOverride2=True",
                "AuthenticationFailure=True",
                "Hibernating=False",
                "ProvisionFailed=True",
                // Desired: positive polarity True, negative polarity False.
                "Ready=True",
                "SyncSetFailed=False",
                "Unreachable2=False",
                // Unknown, by type.
                "ActiveAPIURLOverride=Unknown",
                "Unreachable=Unknown",
            ]
        );
        // ActiveAPIURLOverride is positive: False is undesired, True desired.
        let mut c = vec![
            cond("Unreachable", "False"),
            cond("ActiveAPIURLOverride", "False"),
        ];
        sort_cd_conditions(&mut c);
        assert_eq!(
            order(&c),
            ["ActiveAPIURLOverride=False", "Unreachable=False"]
        );
        let mut c = vec![
            cond("Unreachable", "True"),
            cond("ActiveAPIURLOverride", "True"),
        ];
        sort_cd_conditions(&mut c);
        assert_eq!(order(&c), ["Unreachable=True", "ActiveAPIURLOverride=True"]);
    }

    #[test]
    fn setting_a_cd_condition_keeps_hive_s_order() {
        let mut c = vec![
            cond("ActiveAPIURLOverride", "Unknown"),
            cond("Unreachable", "Unknown"),
        ];
        assert!(set_cd_condition(
            &mut c,
            UNREACHABLE,
            ("False", "ClusterReachable", "cluster is reachable"),
            &t(1),
            false
        ));
        assert_eq!(
            order(&c),
            ["Unreachable=False", "ActiveAPIURLOverride=Unknown"]
        );
        assert!(set_cd_condition(
            &mut c,
            SYNCSET_FAILED,
            syncset_failed(None, false),
            &t(2),
            false
        ));
        assert_eq!(
            order(&c),
            [
                "SyncSetFailed=True",
                "Unreachable=False",
                "ActiveAPIURLOverride=Unknown"
            ]
        );
    }

    #[test]
    fn a_cluster_sync_is_failing_only_with_a_true_failed_condition() {
        let with = |conditions: Vec<ClusterSyncCondition>| ClusterSyncStatus {
            conditions,
            ..Default::default()
        };
        let failed = |status: &str| ClusterSyncCondition {
            type_: CLUSTER_SYNC_FAILED.into(),
            status: status.into(),
            reason: "r".into(),
            message: "m".into(),
            last_probe_time: None,
            last_transition_time: None,
        };
        assert!(!cluster_sync_failing(None));
        assert!(!cluster_sync_failing(Some(&with(vec![]))), "just created");
        assert!(!cluster_sync_failing(Some(&with(vec![failed("False")]))));
        assert!(cluster_sync_failing(Some(&with(vec![failed("True")]))));
    }

    // Hive's clusterdeployment controller sets installedTimestamp to the creation time when it is missing.
    #[test]
    fn an_installed_cd_without_installed_timestamp_gets_its_creation_time() {
        let mut status = ClusterDeploymentStatus::default();
        let missing = syncset_failed(None, false);
        assert!(keep_installed_status(
            &mut status,
            Some(&t(-50)),
            missing,
            &t(1)
        ));
        assert_eq!(status.installed_timestamp, Some(t(-50)));
        assert_eq!(
            order(&status.conditions),
            ["SyncSetFailed=True"],
            "MissingClusterSync"
        );
        assert!(
            !keep_installed_status(&mut status, Some(&t(-10)), missing, &t(2)),
            "nothing changes once set"
        );
        assert_eq!(status.installed_timestamp, Some(t(-50)));
        assert!(keep_installed_status(
            &mut status,
            Some(&t(-50)),
            syncset_failed(Some(false), false),
            &t(3)
        ));
        let c = &status.conditions[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("False", Some("SyncSetApplySuccess"))
        );
        assert_eq!(c.last_transition_time, Some(t(3)));
    }
}
