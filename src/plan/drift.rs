//! Drift: whether an object hivesync applied was deleted or had fields hivesync owns changed on the managed cluster,
//! judged from its metadata alone, and when to look again.
//!
//! What hivesync owns is what the API server says it owns: the `managedFields` entries of its field manager on the
//! object itself (not its status). Server-side apply moves a field's ownership to whoever changes it (`kubectl edit`,
//! a controller's update, another apply with force), so a change to an owned field shows as a change of hivesync's own
//! entry, and a change to a field hivesync does not own (a replica count an autoscaler sets, a label another tool adds)
//! leaves it as it was. Nothing of the payload is sent to find out; only drifted objects are applied again.
//!
//! The baseline is hivesync's entry as first seen after an apply (an apply drops it: the owned set may change then);
//! after a restart the first look takes the live entry as the baseline, and the periodic full re-apply remains the
//! backstop for what changed while no controller was looking.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use serde_json::Value;

use super::decode::ApplyBehavior;

/// What a look at one object's metadata found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// As it was: nothing to do.
    InSync,
    /// First look since the last apply: keep this as the baseline of hivesync's owned fields.
    Baseline(u64),
    /// Not on the cluster.
    Deleted,
    /// A field hivesync owns was changed by someone else.
    Changed,
}

impl Look {
    /// The metric label and Event word for a correction.
    pub fn as_str(self) -> &'static str {
        match self {
            Look::InSync | Look::Baseline(_) => "in-sync",
            Look::Deleted => "deleted",
            Look::Changed => "changed",
        }
    }
}

/// A fingerprint of the fields `manager` owns on an object (its `managedFields` entries for the object itself, not a
/// subresource), from the object's `metadata`. `None` when the manager owns nothing there.
pub fn owned_fields(metadata: &Value, manager: &str) -> Option<u64> {
    let mut entries: Vec<(&str, String)> = metadata["managedFields"]
        .as_array()?
        .iter()
        .filter(|e| e["manager"] == manager)
        .filter(|e| e["subresource"].as_str().unwrap_or_default().is_empty())
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or_default(),
                e["fieldsV1"].to_string(),
            )
        })
        .collect();
    if entries.is_empty() {
        return None;
    }
    // serde_json keeps object keys sorted (no preserve_order), so equal field sets print equally.
    entries.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    entries.hash(&mut h);
    Some(h.finish())
}

/// Judges one object: `live` is its metadata (`None` when it is not on the cluster), `baseline` hivesync's owned
/// fields as last seen (`None` when not seen since the last apply). Under `CreateOnly` only a deleted object counts:
/// what happens to it after its creation is not hivesync's to revert.
pub fn look(
    behavior: ApplyBehavior,
    baseline: Option<u64>,
    live: Option<&Value>,
    manager: &str,
) -> Look {
    let Some(metadata) = live else {
        return Look::Deleted;
    };
    if behavior == ApplyBehavior::CreateOnly {
        return Look::InSync;
    }
    let owned = owned_fields(metadata, manager);
    match (baseline, owned) {
        (None, Some(now)) => Look::Baseline(now),
        // Never owned anything (applied by someone else since, or an object the server keeps no fields of): nothing
        // to compare with; the full re-apply covers it.
        (None, None) => Look::InSync,
        (Some(before), Some(now)) if before == now => Look::InSync,
        (Some(_), _) => Look::Changed,
    }
}

/// The drift interval of one syncset: `hivesync.io/drift-interval` (a Go duration; `0` turns drift correction off for
/// it) when set and valid, else the controller's `--drift-interval`. An invalid value keeps the default and says why.
pub fn interval(annotation: Option<&str>, default: Duration) -> (Duration, Option<String>) {
    match annotation {
        None => (default, None),
        Some(v) => match crate::duration::parse_go_duration(v) {
            Ok(d) => (d, None),
            Err(e) => (
                default,
                Some(format!(
                    "invalid {}: {e}; using the default {default:?}",
                    crate::consts::DRIFT_INTERVAL_ANNOTATION
                )),
            ),
        },
    }
}

/// When to look at a cluster's objects again: soon and then less often while something is still settling after an
/// apply (a Deployment rolling out, a CSV installing), at the drift interval once everything settled.
pub fn next_look(unsettled: bool, attempt: u32, drift_interval: Duration) -> Duration {
    const FIRST: Duration = Duration::from_secs(2);
    if !unsettled {
        return drift_interval;
    }
    let backoff = FIRST.saturating_mul(1 << attempt.min(10));
    if drift_interval.is_zero() {
        backoff.min(MAX_SETTLE_POLL)
    } else {
        backoff.min(drift_interval).min(MAX_SETTLE_POLL)
    }
}

/// The longest wait between looks at an object that has not settled, whatever the drift interval.
const MAX_SETTLE_POLL: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "hivesync";

    fn metadata(entries: Value) -> Value {
        json!({"name": "x", "namespace": "ns", "resourceVersion": "7", "managedFields": entries})
    }

    fn entry(manager: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
               "fieldsV1": fields, "time": "2026-12-03T10:00:00Z"})
    }

    #[test]
    fn the_first_look_after_an_apply_takes_the_owned_fields_as_baseline_and_later_looks_compare_with_it(
    ) {
        let live = metadata(json!([entry(ME, json!({"f:data": {"f:a": {}}}))]));
        let Look::Baseline(b) = look(ApplyBehavior::Apply, None, Some(&live), ME) else {
            panic!("no baseline")
        };
        assert_eq!(
            look(ApplyBehavior::Apply, Some(b), Some(&live), ME),
            Look::InSync
        );
    }

    #[test]
    fn an_owned_field_changed_by_someone_else_is_drift() {
        let before = metadata(json!([entry(
            ME,
            json!({"f:data": {"f:a": {}, "f:b": {}}})
        )]));
        let b = owned_fields(&before, ME).unwrap();
        // kubectl edit of data.b: the field moves to kubectl's entry.
        let after = metadata(json!([
            entry(ME, json!({"f:data": {"f:a": {}}})),
            json!({"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:b": {}}}})
        ]));
        assert_eq!(
            look(ApplyBehavior::Apply, Some(b), Some(&after), ME),
            Look::Changed
        );
    }

    #[test]
    fn a_field_hivesync_does_not_own_changed_by_someone_else_is_not_drift() {
        let before = metadata(json!([entry(ME, json!({"f:spec": {"f:template": {}}}))]));
        let b = owned_fields(&before, ME).unwrap();
        let after = metadata(json!([
            entry(ME, json!({"f:spec": {"f:template": {}}})),
            json!({"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
            // A controller's status update is a subresource entry of hivesync's own name would not count either.
            json!({"manager": ME, "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}})
        ]));
        assert_eq!(
            look(ApplyBehavior::Apply, Some(b), Some(&after), ME),
            Look::InSync
        );
    }

    #[test]
    fn a_deleted_object_is_drift_whatever_the_apply_behavior() {
        for behavior in [
            ApplyBehavior::Apply,
            ApplyBehavior::CreateOrUpdate,
            ApplyBehavior::CreateOnly,
        ] {
            assert_eq!(look(behavior, Some(1), None, ME), Look::Deleted);
            assert_eq!(look(behavior, None, None, ME), Look::Deleted);
        }
    }

    #[test]
    fn create_only_objects_are_only_recreated_never_reverted() {
        let live = metadata(json!([entry("someone", json!({"f:data": {}}))]));
        assert_eq!(
            look(ApplyBehavior::CreateOnly, Some(1), Some(&live), ME),
            Look::InSync
        );
    }

    #[test]
    fn an_object_whose_fields_hivesync_lost_entirely_is_drift() {
        let live = metadata(json!([entry("kubectl-replace", json!({"f:data": {}}))]));
        assert_eq!(
            look(ApplyBehavior::CreateOrUpdate, Some(1), Some(&live), ME),
            Look::Changed
        );
    }

    #[test]
    fn the_owned_fields_fingerprint_ignores_entry_order_and_time() {
        let a = metadata(json!([
            entry(ME, json!({"f:data": {"f:a": {}}})),
            entry("x", json!({}))
        ]));
        let mut moved = entry(ME, json!({"f:data": {"f:a": {}}}));
        moved["time"] = json!("2026-12-03T11:00:00Z");
        let b = metadata(json!([entry("x", json!({})), moved]));
        assert_eq!(owned_fields(&a, ME), owned_fields(&b, ME));
        assert_eq!(owned_fields(&metadata(json!([])), ME), None);
    }

    #[test]
    fn a_syncset_may_set_its_own_drift_interval_or_turn_it_off() {
        let default = Duration::from_secs(300);
        assert_eq!(interval(None, default), (default, None));
        assert_eq!(
            interval(Some("30s"), default),
            (Duration::from_secs(30), None)
        );
        assert_eq!(interval(Some("0"), default), (Duration::ZERO, None));
        let (d, warning) = interval(Some("soon"), default);
        assert_eq!(d, default);
        assert!(warning
            .unwrap()
            .starts_with("invalid hivesync.io/drift-interval"));
    }

    #[test]
    fn unsettled_objects_are_looked_at_with_backoff_then_at_the_drift_interval() {
        let drift = Duration::from_secs(300);
        assert_eq!(next_look(true, 0, drift), Duration::from_secs(2));
        assert_eq!(next_look(true, 2, drift), Duration::from_secs(8));
        assert_eq!(next_look(true, 30, drift), Duration::from_secs(60));
        assert_eq!(
            next_look(true, 30, Duration::from_secs(10)),
            Duration::from_secs(10)
        );
        assert_eq!(next_look(false, 3, drift), drift);
    }
}
