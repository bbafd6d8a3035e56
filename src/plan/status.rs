//! The ClusterSync status a reconcile ends with, assembled from the entries it decided: the `Failed` condition over
//! them, `firstSuccessTime`, and what carries over from the previous status. One function for every path that writes
//! a ClusterSync (a finished run, a cluster whose kubeconfig cannot be used), so they cannot drift apart.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions;
use crate::api::{ClusterSyncStatus, SyncStatus};

/// What becomes of `firstSuccessTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstSuccess {
    /// Set once every entry has succeeded at least once, when the cluster has an `installedTimestamp` (Hive's rule,
    /// `conditions::first_success_time`).
    Compute { installed: bool },
    /// Left as it was: nothing was applied (the cluster could not be reached with its kubeconfig).
    Keep,
}

/// The status after a reconcile that decided `sync_sets` and `selector_sync_sets`. `controlledByReplica` is carried
/// over; the writer sets this replica's.
pub fn next(
    old: &ClusterSyncStatus,
    sync_sets: Vec<SyncStatus>,
    selector_sync_sets: Vec<SyncStatus>,
    first_success: FirstSuccess,
    now: &Time,
) -> ClusterSyncStatus {
    let conditions = conditions::with_failed_condition(
        &old.conditions,
        conditions::failed_condition(&sync_sets, &selector_sync_sets),
        now,
    );
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
            &at(10),
        );
        assert_eq!(kept.conditions[0].status, "True");
        assert_eq!(kept.first_success_time, None);
    }

    #[test]
    fn without_an_installed_timestamp_there_is_no_first_success() {
        let new = next(
            &ClusterSyncStatus::default(),
            vec![entry("a", SyncSetResult::Success, Some(5))],
            vec![],
            FirstSuccess::Compute { installed: false },
            &at(10),
        );
        assert_eq!(new.first_success_time, None);
    }
}
