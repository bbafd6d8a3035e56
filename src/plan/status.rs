//! The ClusterSync status a reconcile ends with, assembled from the entries it decided: the `Failed` condition over
//! them, `firstSuccessTime`, and what carries over from the previous status. One function for every path that writes
//! a ClusterSync (a finished run, a cluster whose kubeconfig cannot be used), so they cannot drift apart.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions;
use super::health::{Health, Verdict};
use crate::api::{ClusterSyncCondition, ClusterSyncStatus, SyncStatus};
use crate::consts::HEALTHY_CONDITION;

/// What becomes of `firstSuccessTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstSuccess {
    /// Set once every entry has succeeded at least once, when the cluster has an `installedTimestamp` (Hive's rule,
    /// `conditions::first_success_time`).
    Compute { installed: bool },
    /// Left as it was: nothing was applied (the cluster could not be reached with its kubeconfig).
    Keep,
}

/// What becomes of the `Healthy` condition.
#[derive(Clone, Debug, PartialEq)]
pub enum HealthUpdate<'a> {
    /// Left as it was (or absent): nothing was assessed (a fake cluster, a kubeconfig that cannot be used).
    Keep,
    /// The cluster's objects as last assessed; `None` before the first assessment (`Unknown`).
    Assessed(Option<&'a Verdict>),
}

/// The status after a reconcile that decided `sync_sets` and `selector_sync_sets`. `controlledByReplica` is carried
/// over; the writer sets this replica's.
pub fn next(
    old: &ClusterSyncStatus,
    sync_sets: Vec<SyncStatus>,
    selector_sync_sets: Vec<SyncStatus>,
    first_success: FirstSuccess,
    health: HealthUpdate,
    now: &Time,
) -> ClusterSyncStatus {
    let mut conditions = conditions::with_failed_condition(
        &old.conditions,
        conditions::failed_condition(&sync_sets, &selector_sync_sets),
        now,
    );
    // `Failed` stays first (Hive's readers take conditions[0]); `Healthy` follows it.
    let previous = old.conditions.iter().find(|c| c.type_ == HEALTHY_CONDITION);
    let healthy = match health {
        HealthUpdate::Keep => previous.cloned(),
        HealthUpdate::Assessed(verdict) => Some(healthy_condition(previous, verdict, now)),
    };
    conditions.retain(|c| c.type_ != HEALTHY_CONDITION);
    conditions.extend(healthy);
    let first_success_time = match first_success {
        FirstSuccess::Keep => old.first_success_time.clone(),
        FirstSuccess::Compute { installed } => {
            let entries: Vec<&SyncStatus> = sync_sets.iter().chain(&selector_sync_sets).collect();
            conditions::first_success_time(
                old.first_success_time.as_ref(),
                installed,
                &entries,
                now,
            )
        }
    };
    ClusterSyncStatus {
        sync_sets,
        selector_sync_sets,
        conditions,
        first_success_time,
        controlled_by_replica: old.controlled_by_replica,
    }
}

/// The `Healthy` condition for a verdict: `True/Healthy`, `False/Progressing` or `False/Degraded` with the verdict's
/// message, `Unknown/NotAssessed` before the first assessment. The transition time moves only with the status.
fn healthy_condition(
    previous: Option<&ClusterSyncCondition>,
    verdict: Option<&Verdict>,
    now: &Time,
) -> ClusterSyncCondition {
    let (status, reason, message) = match verdict {
        None => (
            "Unknown",
            "NotAssessed",
            "the objects applied to the cluster have not been assessed yet".to_string(),
        ),
        Some(v) => match v.health {
            Health::Healthy => ("True", "Healthy", v.message.clone()),
            // Missing: something applied is gone and nothing puts it back (drift correction off, or failing).
            Health::Degraded | Health::Missing => ("False", "Degraded", v.message.clone()),
            Health::Progressing | Health::Unknown => ("False", "Progressing", v.message.clone()),
        },
    };
    let message = super::message::cap(message);
    if let Some(p) = previous {
        if p.status == status && p.reason == reason && p.message == message {
            return p.clone();
        }
    }
    let transition = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Some(now.clone()),
    };
    ClusterSyncCondition {
        type_: HEALTHY_CONDITION.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_probe_time: Some(now.clone()),
        last_transition_time: transition,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SyncSetResult;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap())
    }

    fn entry(name: &str, result: SyncSetResult, first_success: Option<i64>) -> SyncStatus {
        SyncStatus {
            name: name.into(),
            observed_generation: 1,
            result,
            failure_message: (result == SyncSetResult::Failure).then(|| "boom".into()),
            last_transition_time: at(0),
            first_success_time: first_success.map(at),
            resources_to_delete: Default::default(),
        }
    }

    #[test]
    fn a_run_where_everything_succeeded_sets_first_success_time_and_a_false_failed_condition() {
        let old = ClusterSyncStatus {
            controlled_by_replica: Some(2),
            ..Default::default()
        };
        let new = next(
            &old,
            vec![entry("a", SyncSetResult::Success, Some(5))],
            vec![entry("b", SyncSetResult::Success, Some(7))],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Keep,
            &at(10),
        );
        assert_eq!(new.first_success_time, Some(at(7)));
        assert_eq!(new.conditions.len(), 1);
        assert_eq!(new.conditions[0].type_, "Failed");
        assert_eq!(new.conditions[0].status, "False");
        assert_eq!(new.controlled_by_replica, Some(2));
    }

    #[test]
    fn a_failed_entry_makes_the_failed_condition_true_and_keep_leaves_first_success_time_alone() {
        let old = ClusterSyncStatus::default();
        let computed = next(
            &old,
            vec![entry("a", SyncSetResult::Failure, Some(5))],
            vec![],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Keep,
            &at(10),
        );
        assert_eq!(computed.conditions[0].status, "True");
        // Every entry has succeeded once before: Hive's rule sets the cluster's first success.
        assert_eq!(computed.first_success_time, Some(at(5)));
        let kept = next(
            &old,
            vec![entry("a", SyncSetResult::Failure, Some(5))],
            vec![],
            FirstSuccess::Keep,
            HealthUpdate::Keep,
            &at(10),
        );
        assert_eq!(kept.conditions[0].status, "True");
        assert_eq!(kept.first_success_time, None);
    }

    fn verdict(health: Health, message: &str) -> Verdict {
        Verdict {
            health,
            message: message.into(),
            total: 1,
            unhealthy: usize::from(health != Health::Healthy),
        }
    }

    fn healthy_of(s: &ClusterSyncStatus) -> Option<&ClusterSyncCondition> {
        s.conditions.iter().find(|c| c.type_ == "Healthy")
    }

    #[test]
    fn the_healthy_condition_follows_failed_and_is_unknown_until_the_first_assessment() {
        let ok = vec![entry("a", SyncSetResult::Success, Some(5))];
        let first = next(
            &ClusterSyncStatus::default(),
            ok.clone(),
            vec![],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Assessed(None),
            &at(10),
        );
        assert_eq!(first.conditions[0].type_, "Failed");
        let h = healthy_of(&first).unwrap();
        assert_eq!(
            (h.status.as_str(), h.reason.as_str()),
            ("Unknown", "NotAssessed")
        );

        let progressing = verdict(
            Health::Progressing,
            "Deployment ns/web is Progressing: 1 of 3 replicas updated",
        );
        let second = next(
            &first,
            ok.clone(),
            vec![],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Assessed(Some(&progressing)),
            &at(20),
        );
        let h = healthy_of(&second).unwrap();
        assert_eq!(
            (h.status.as_str(), h.reason.as_str()),
            ("False", "Progressing")
        );
        assert_eq!(h.last_transition_time, Some(at(20)));

        // Same status, new message: the transition time stays.
        let later = verdict(
            Health::Progressing,
            "Deployment ns/web is Progressing: 2 of 3 replicas updated",
        );
        let third = next(
            &second,
            ok.clone(),
            vec![],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Assessed(Some(&later)),
            &at(30),
        );
        assert_eq!(
            healthy_of(&third).unwrap().last_transition_time,
            Some(at(20))
        );

        let degraded = verdict(
            Health::Degraded,
            "Job ns/migrate is Degraded: BackoffLimitExceeded",
        );
        let fourth = next(
            &third,
            ok.clone(),
            vec![],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Assessed(Some(&degraded)),
            &at(40),
        );
        let h = healthy_of(&fourth).unwrap();
        assert_eq!(
            (h.status.as_str(), h.reason.as_str()),
            ("False", "Degraded")
        );
        assert_eq!(fourth.conditions.len(), 2);

        // Nothing assessed this time (a kubeconfig that cannot be used): the condition is kept as it was.
        let kept = next(
            &fourth,
            ok,
            vec![],
            FirstSuccess::Keep,
            HealthUpdate::Keep,
            &at(50),
        );
        assert_eq!(healthy_of(&kept), healthy_of(&fourth));
    }

    #[test]
    fn an_unchanged_verdict_leaves_the_status_identical_so_nothing_is_written() {
        let ok = vec![entry("a", SyncSetResult::Success, Some(5))];
        let healthy = verdict(Health::Healthy, "all 3 objects are healthy");
        let once = next(
            &ClusterSyncStatus::default(),
            ok.clone(),
            vec![],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Assessed(Some(&healthy)),
            &at(10),
        );
        let twice = next(
            &once,
            ok,
            vec![],
            FirstSuccess::Compute { installed: true },
            HealthUpdate::Assessed(Some(&healthy)),
            &at(20),
        );
        assert_eq!(once, twice);
    }

    #[test]
    fn without_an_installed_timestamp_there_is_no_first_success() {
        let new = next(
            &ClusterSyncStatus::default(),
            vec![entry("a", SyncSetResult::Success, Some(5))],
            vec![],
            FirstSuccess::Compute { installed: false },
            HealthUpdate::Keep,
            &at(10),
        );
        assert_eq!(new.first_success_time, None);
    }
}
