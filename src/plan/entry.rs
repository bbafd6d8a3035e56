//! One syncset's status entry on one cluster: whether to apply, what to delete, and the new `SyncStatus`
//! (docs/hive-compatibility.md, "When a syncset is applied" to "Status entries"). The controller runs the I/O
//! between these calls.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::decode::ApplyMode;
use super::identity::{contains, describe, sort_references};
use crate::api::{SyncResourceReference, SyncSetResult, SyncStatus};

/// Why a syncset is (re-)applied on a cluster, or `None` when its previous entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyReason {
    FullReapply,
    New,
    PreviousFailure,
    GenerationChanged,
    /// The rendered content changed at the same generation (docs/hive-compatibility.md, "Deliberate differences", 2).
    ContentChanged,
}

/// Hive's "needs apply" predicate, plus the content-hash rule. `hash_changed` is false when the last applied hash is
/// unknown (for example after a restart): only a known, different hash forces an apply.
pub fn needs_apply(
    prev: Option<&SyncStatus>,
    generation: i64,
    full_reapply: bool,
    hash_changed: bool,
) -> Option<ApplyReason> {
    match prev {
        _ if full_reapply => Some(ApplyReason::FullReapply),
        None => Some(ApplyReason::New),
        Some(p) if p.result != SyncSetResult::Success => Some(ApplyReason::PreviousFailure),
        Some(p) if p.observed_generation != generation => Some(ApplyReason::GenerationChanged),
        Some(_) if hash_changed => Some(ApplyReason::ContentChanged),
        Some(_) => None,
    }
}

/// The previous entry as the algebra sees it: in Upsert mode its tracking is discarded before anything else, so a
/// switch from Sync to Upsert orphans everything and deletes nothing.
pub fn previous_for_mode(prev: Option<&SyncStatus>, mode: ApplyMode) -> Option<SyncStatus> {
    prev.map(|p| {
        let mut p = p.clone();
        if mode == ApplyMode::Upsert {
            p.resources_to_delete = Default::default();
        }
        p
    })
}

/// The split of previously tracked objects after an apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Removed {
    /// No longer in the syncset and declared by no other syncset for this cluster: delete from the spoke.
    pub delete: Vec<SyncResourceReference>,
    /// Still in the syncset: stays tracked.
    pub retained: Vec<SyncResourceReference>,
}

/// Hive's step 2 of "Upsert, Sync and resourcesToDelete" (docs/hive-compatibility.md), with one safety rule of
/// hivesync's (same page, "Deliberate differences", 5): an object that another syncset still declares for this
/// cluster is handed over, not deleted.
pub fn removed_objects(
    tracked: &[SyncResourceReference],
    in_syncset: &[SyncResourceReference],
    declared_elsewhere: impl Fn(&SyncResourceReference) -> bool,
) -> Removed {
    let mut out = Removed::default();
    for r in tracked {
        if contains(in_syncset, r) {
            out.retained.push(r.clone());
        } else if !declared_elsewhere(r) {
            out.delete.push(r.clone());
        }
    }
    out
}

/// What happened when one syncset was applied and its removed objects deleted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// References of the resources and secrets that were applied before any failure.
    pub applied: Vec<SyncResourceReference>,
    /// The first apply error (`failed to apply resource 0: ...`), or the decode/template error.
    pub apply_error: Option<String>,
    /// Objects from `Removed::retained`.
    pub retained: Vec<SyncResourceReference>,
    /// Deletes that failed, with the error text of the delete call.
    pub delete_failures: Vec<(SyncResourceReference, String)>,
}

/// `failed to delete v1, Kind=ConfigMap ns/x: <err>` for each failed delete.
pub fn delete_messages(failures: &[(SyncResourceReference, String)]) -> Vec<String> {
    failures
        .iter()
        .map(|(r, e)| format!("failed to delete {}: {e}", describe(r)))
        .collect()
}

/// The new entry for a syncset that was applied (docs/hive-compatibility.md, "Upsert, Sync and resourcesToDelete"
/// and "Status entries"). `prev` is the entry after `previous_for_mode`.
pub fn applied_entry(
    name: &str,
    generation: i64,
    mode: ApplyMode,
    prev: Option<&SyncStatus>,
    outcome: Outcome,
    now: &Time,
) -> SyncStatus {
    let mut tracked = if mode == ApplyMode::Sync {
        outcome.applied
    } else {
        Vec::new()
    };
    let remaining = outcome
        .retained
        .into_iter()
        .chain(outcome.delete_failures.iter().map(|(r, _)| r.clone()));
    for r in remaining {
        if !contains(&tracked, &r) {
            tracked.push(r);
        }
    }
    sort_references(&mut tracked);

    let delete_error = super::aggregate(&delete_messages(&outcome.delete_failures));
    let failure_message = match (outcome.apply_error, delete_error) {
        (Some(a), Some(d)) => Some(format!("{a}\n{d}")),
        (a, d) => a.or(d),
    };
    let result = if failure_message.is_some() {
        SyncSetResult::Failure
    } else {
        SyncSetResult::Success
    };
    let new = SyncStatus {
        name: name.to_string(),
        observed_generation: generation,
        resources_to_delete: tracked.into(),
        result,
        failure_message,
        last_transition_time: prev
            .map(|p| p.last_transition_time.clone())
            .unwrap_or_else(|| now.clone()),
        first_success_time: prev.and_then(|p| p.first_success_time.clone()),
    };
    stamp(new, prev, now)
}

/// The entry for a syncset that no longer applies, after deleting what it tracked: dropped when every delete
/// succeeded, else kept with generation 0 and only the failed objects tracked (docs/hive-compatibility.md, "Order of
/// a sync", the orphaned entries).
pub fn orphan_entry(
    prev: &SyncStatus,
    delete_failures: &[(SyncResourceReference, String)],
    now: &Time,
) -> Option<SyncStatus> {
    let message = super::aggregate(&delete_messages(delete_failures))?;
    let mut tracked: Vec<_> = delete_failures.iter().map(|(r, _)| r.clone()).collect();
    sort_references(&mut tracked);
    let new = SyncStatus {
        name: prev.name.clone(),
        observed_generation: 0,
        resources_to_delete: tracked.into(),
        result: SyncSetResult::Failure,
        failure_message: Some(message),
        last_transition_time: prev.last_transition_time.clone(),
        first_success_time: prev.first_success_time.clone(),
    };
    Some(stamp(new, Some(prev), now))
}

/// The entries when the cluster cannot be reached through its kubeconfig at all (a missing, empty, unparseable or
/// `exec` kubeconfig): every targeting syncset fails with `message` and keeps what it tracks; entries of syncsets that
/// no longer target the cluster are kept as they are, since nothing can be deleted.
pub fn all_failed<'a>(
    targets: impl Iterator<Item = (&'a str, i64)>,
    previous: &[SyncStatus],
    message: &str,
    now: &Time,
) -> Vec<SyncStatus> {
    let targets: Vec<(&str, i64)> = targets.collect();
    let mut out: Vec<SyncStatus> = previous
        .iter()
        .filter(|p| !targets.iter().any(|(n, _)| *n == p.name))
        .cloned()
        .collect();
    for (name, generation) in targets {
        let prev = previous.iter().find(|p| p.name == name);
        let outcome = Outcome {
            apply_error: Some(message.to_string()),
            retained: prev
                .map(|p| p.resources_to_delete.to_vec())
                .unwrap_or_default(),
            ..Default::default()
        };
        // `Other` keeps the tracked objects whatever the syncset's mode: nothing was applied or deleted.
        out.push(applied_entry(
            name,
            generation,
            ApplyMode::Other,
            prev,
            outcome,
            now,
        ));
    }
    out
}

/// `lastTransitionTime` moves whenever the entry changes in any way; `firstSuccessTime` is set at the first success.
fn stamp(mut new: SyncStatus, prev: Option<&SyncStatus>, now: &Time) -> SyncStatus {
    new.failure_message = new.failure_message.map(super::message::cap);
    if prev != Some(&new) {
        new.last_transition_time = now.clone();
    }
    if new.result == SyncSetResult::Success && new.first_success_time.is_none() {
        new.first_success_time = Some(now.clone());
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::identity::reference;

    fn t(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap())
    }

    fn cm(name: &str) -> SyncResourceReference {
        reference("v1", "ConfigMap", "ns", name)
    }

    fn success(
        name: &str,
        generation: i64,
        tracked: Vec<SyncResourceReference>,
        at: i64,
    ) -> SyncStatus {
        SyncStatus {
            name: name.into(),
            observed_generation: generation,
            resources_to_delete: tracked.into(),
            result: SyncSetResult::Success,
            failure_message: None,
            last_transition_time: t(at),
            first_success_time: Some(t(at)),
        }
    }

    // Hive scenarios #7, #8, #19 (docs/hive-compatibility.md, "Acceptance scenarios"): what is applied between full
    // re-applies.
    #[test]
    fn only_new_failed_changed_or_due_syncsets_are_applied() {
        let ok = success("s", 1, vec![], 0);
        assert_eq!(needs_apply(Some(&ok), 1, false, false), None);
        assert_eq!(
            needs_apply(Some(&ok), 1, true, false),
            Some(ApplyReason::FullReapply)
        );
        assert_eq!(needs_apply(None, 1, false, false), Some(ApplyReason::New));
        assert_eq!(
            needs_apply(Some(&ok), 2, false, false),
            Some(ApplyReason::GenerationChanged)
        );
        assert_eq!(
            needs_apply(Some(&ok), 1, false, true),
            Some(ApplyReason::ContentChanged)
        );
        let failed = SyncStatus {
            result: SyncSetResult::Failure,
            ..ok
        };
        assert_eq!(
            needs_apply(Some(&failed), 1, false, false),
            Some(ApplyReason::PreviousFailure)
        );
    }

    // Hive scenario #3: one resource, Upsert vs Sync.
    #[test]
    fn a_first_success_records_generation_time_and_tracking_only_in_sync_mode() {
        for (mode, tracked) in [
            (ApplyMode::Upsert, vec![]),
            (ApplyMode::Sync, vec![cm("a")]),
        ] {
            let outcome = Outcome {
                applied: vec![cm("a")],
                ..Default::default()
            };
            let e = applied_entry("s", 1, mode, None, outcome, &t(5));
            assert_eq!(
                e,
                SyncStatus {
                    last_transition_time: t(5),
                    ..success("s", 1, tracked, 5)
                }
            );
        }
    }

    // Hive scenario #11: resource removed from a Sync syncset.
    #[test]
    fn only_the_removed_object_is_deleted_and_the_rest_stays_tracked() {
        let r = removed_objects(&[cm("a"), cm("b")], &[cm("a")], |_| false);
        assert_eq!(
            r,
            Removed {
                delete: vec![cm("b")],
                retained: vec![cm("a")]
            }
        );
        let outcome = Outcome {
            applied: vec![cm("a")],
            retained: r.retained,
            ..Default::default()
        };
        let prev = success("s", 1, vec![cm("a"), cm("b")], 0);
        let e = applied_entry("s", 2, ApplyMode::Sync, Some(&prev), outcome, &t(9));
        assert_eq!(e.resources_to_delete, vec![cm("a")]);
        assert_eq!(e.last_transition_time, t(9));
        assert_eq!(e.first_success_time, Some(t(0)));
    }

    // docs/hive-compatibility.md, "Deliberate differences", 5.
    #[test]
    fn an_object_another_syncset_declares_is_handed_over_not_deleted() {
        let r = removed_objects(&[cm("a"), cm("b")], &[], |r| contains(&[cm("b")], r));
        assert_eq!(
            r,
            Removed {
                delete: vec![cm("a")],
                retained: vec![]
            }
        );
    }

    // Hive scenario #33.
    #[test]
    fn an_api_version_change_within_a_group_keeps_the_object_and_tracks_the_new_version() {
        let old = reference("foo/v1beta1", "Thing", "ns", "x");
        let new = reference("foo/v1", "Thing", "ns", "x");
        let r = removed_objects(
            std::slice::from_ref(&old),
            std::slice::from_ref(&new),
            |_| false,
        );
        assert!(r.delete.is_empty());
        let outcome = Outcome {
            applied: vec![new.clone()],
            retained: r.retained,
            ..Default::default()
        };
        let e = applied_entry("s", 2, ApplyMode::Sync, None, outcome, &t(1));
        assert_eq!(e.resources_to_delete, vec![new]);
    }

    // Hive scenarios #30 and #31.
    #[test]
    fn sync_to_upsert_drops_tracking_and_upsert_to_sync_starts_it() {
        let prev = success("s", 1, vec![cm("a"), cm("gone")], 0);
        let cleared = previous_for_mode(Some(&prev), ApplyMode::Upsert).unwrap();
        assert!(cleared.resources_to_delete.is_empty());
        let r = removed_objects(&cleared.resources_to_delete, &[cm("a")], |_| false);
        assert!(
            r.delete.is_empty(),
            "nothing is deleted on a switch to Upsert"
        );
        let outcome = Outcome {
            applied: vec![cm("a")],
            ..Default::default()
        };
        let e = applied_entry(
            "s",
            2,
            ApplyMode::Upsert,
            Some(&cleared),
            outcome.clone(),
            &t(1),
        );
        assert!(e.resources_to_delete.is_empty());

        let upsert_prev = success("s", 1, vec![], 0);
        let e = applied_entry("s", 2, ApplyMode::Sync, Some(&upsert_prev), outcome, &t(1));
        assert_eq!(e.resources_to_delete, vec![cm("a")]);
        // A mode that slipped past validation keeps old tracking.
        let other = previous_for_mode(Some(&prev), ApplyMode::Other).unwrap();
        assert_eq!(other.resources_to_delete.len(), 2);
    }

    // Hive scenarios #12 and #15: a failure keeps what was applied before it, no firstSuccessTime.
    #[test]
    fn an_apply_error_fails_the_entry_and_tracks_only_the_applied_prefix() {
        let outcome = Outcome {
            applied: vec![cm("a")],
            apply_error: Some("failed to apply resource 1: test apply error".into()),
            ..Default::default()
        };
        let e = applied_entry("test-syncset", 1, ApplyMode::Sync, None, outcome, &t(3));
        assert_eq!(e.result, SyncSetResult::Failure);
        assert_eq!(
            e.failure_message.as_deref(),
            Some("failed to apply resource 1: test apply error")
        );
        assert_eq!(e.first_success_time, None);
        assert_eq!(e.resources_to_delete, vec![cm("a")]);
    }

    // Hive scenario #16: applied ∪ failed deletes, sorted; delete messages aggregated.
    #[test]
    fn failed_deletes_stay_tracked_sorted_with_applied_objects_and_aggregate_their_messages() {
        let outcome = Outcome {
            applied: vec![cm("z"), reference("v1", "Secret", "ns", "s")],
            delete_failures: vec![
                (
                    reference("v1", "ConfigMap", "namespace-A", "x"),
                    "could not delete resource: boom".into(),
                ),
                (
                    reference("v1", "ConfigMap", "namespace-A", "w"),
                    "could not delete resource: boom".into(),
                ),
            ],
            ..Default::default()
        };
        let e = applied_entry("s", 1, ApplyMode::Sync, None, outcome, &t(0));
        let names: Vec<_> = e
            .resources_to_delete
            .iter()
            .map(|r| format!("{}/{}/{}", r.kind, r.namespace, r.name))
            .collect();
        assert_eq!(
            names,
            [
                "ConfigMap/namespace-A/w",
                "ConfigMap/namespace-A/x",
                "ConfigMap/ns/z",
                "Secret/ns/s"
            ]
        );
        assert_eq!(
            e.failure_message.as_deref(),
            Some("[failed to delete v1, Kind=ConfigMap namespace-A/x: could not delete resource: boom, failed to delete v1, Kind=ConfigMap namespace-A/w: could not delete resource: boom]")
        );
    }

    #[test]
    fn an_apply_error_and_a_delete_error_are_joined_by_a_newline() {
        let outcome = Outcome {
            apply_error: Some("failed to apply resource 0: x".into()),
            delete_failures: vec![(cm("b"), "could not delete resource: y".into())],
            ..Default::default()
        };
        let e = applied_entry("s", 1, ApplyMode::Sync, None, outcome, &t(0));
        assert_eq!(
            e.failure_message.as_deref(),
            Some("failed to apply resource 0: x\nfailed to delete v1, Kind=ConfigMap ns/b: could not delete resource: y")
        );
    }

    // Hive scenario #19 and "Status entries": an identical re-apply changes nothing, so nothing is written.
    #[test]
    fn an_identical_reapply_keeps_the_entry_and_its_times() {
        let prev = success("s", 1, vec![cm("a")], 0);
        let outcome = Outcome {
            applied: vec![cm("a")],
            retained: vec![cm("a")],
            ..Default::default()
        };
        assert_eq!(
            applied_entry("s", 1, ApplyMode::Sync, Some(&prev), outcome, &t(100)),
            prev
        );
        // A repeated failure with the same message keeps its lastTransitionTime too.
        let failing = |at| {
            let o = Outcome {
                apply_error: Some("failed to apply resource 0: x".into()),
                ..Default::default()
            };
            applied_entry("s", 1, ApplyMode::Upsert, None, o, &t(at))
        };
        let first = failing(1);
        let o = Outcome {
            apply_error: Some("failed to apply resource 0: x".into()),
            ..Default::default()
        };
        assert_eq!(
            applied_entry("s", 1, ApplyMode::Upsert, Some(&first), o, &t(50)).last_transition_time,
            t(1)
        );
    }

    #[test]
    fn an_unusable_kubeconfig_fails_every_targeting_syncset_and_keeps_its_tracking() {
        let prev = [
            success("a", 1, vec![cm("x")], 0),
            success("old", 1, vec![cm("y")], 0),
        ];
        let out = all_failed(
            [("a", 2), ("b", 1)].into_iter(),
            &prev,
            "kubeconfig secret does not contain necessary data",
            &t(5),
        );
        let names: Vec<_> = out.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["old", "a", "b"]);
        assert_eq!(out[0], prev[1]);
        assert_eq!(out[1].resources_to_delete, vec![cm("x")]);
        assert_eq!(out[1].result, SyncSetResult::Failure);
        assert_eq!(
            out[2].failure_message.as_deref(),
            Some("kubeconfig secret does not contain necessary data")
        );
    }

    // Hive scenarios #9, #10, #20, #21: removed syncsets.
    #[test]
    fn a_removed_syncset_is_dropped_when_its_deletes_succeed_and_kept_at_generation_zero_when_not()
    {
        let prev = success("gone", 4, vec![cm("a"), cm("b")], 0);
        assert_eq!(orphan_entry(&prev, &[], &t(10)), None);
        let kept = orphan_entry(
            &prev,
            &[(cm("b"), "could not delete resource: no".into())],
            &t(10),
        )
        .unwrap();
        assert_eq!(kept.observed_generation, 0);
        assert_eq!(kept.result, SyncSetResult::Failure);
        assert_eq!(kept.resources_to_delete, vec![cm("b")]);
        assert_eq!(kept.first_success_time, Some(t(0)));
        assert_eq!(kept.last_transition_time, t(10));
        assert_eq!(
            kept.failure_message.as_deref(),
            Some("failed to delete v1, Kind=ConfigMap ns/b: could not delete resource: no")
        );
    }
}
