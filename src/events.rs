//! Kubernetes Events on the ClusterDeployment for what a user should notice: a syncset starting to fail or
//! recovering, a new conflict between syncsets, the cluster becoming unreachable or reachable again. Events are
//! best effort: a failure to publish is logged and never fails a reconcile.

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

use crate::api::{ClusterDeployment, ClusterSyncStatus, SyncSetResult, SyncStatus};

#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
}

impl Events {
    pub fn new(hub: Client, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: "hivesync".into(),
            instance,
        };
        Self {
            recorder: Recorder::new(hub, reporter),
        }
    }

    pub async fn publish(&self, cd: &ClusterDeployment, warning: bool, reason: &str, note: String) {
        self.publish_on(&cd.object_ref(&()), warning, reason, note)
            .await;
    }

    /// An Event on any hub object (a syncset, for its rollout).
    pub async fn publish_on(
        &self,
        object: &k8s_openapi::api::core::v1::ObjectReference,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(truncate(note)),
            action: "Sync".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, object).await {
            tracing::debug!(error = %e, "could not publish an event");
        }
    }
}

/// Events notes are limited to 1 KiB (with room for the note that says it was cut).
fn truncate(s: String) -> String {
    crate::plan::message::cap_at(s, 960)
}

/// (warning, reason, note) for each entry whose state a user should hear about: a new failure or a changed failure
/// message, a recovery, a new conflict.
pub fn entry_events(
    old: &ClusterSyncStatus,
    new: &ClusterSyncStatus,
) -> Vec<(bool, &'static str, String)> {
    let mut out = Vec::new();
    for (kind, old_list, new_list) in [
        ("SyncSet", &old.sync_sets, &new.sync_sets),
        (
            "SelectorSyncSet",
            &old.selector_sync_sets,
            &new.selector_sync_sets,
        ),
    ] {
        for e in new_list {
            let prev: Option<&SyncStatus> = old_list.iter().find(|o| o.name == e.name);
            let msg = e.failure_message.clone().unwrap_or_default();
            match (
                prev.map(|p| (p.result, p.failure_message.as_ref())),
                e.result,
            ) {
                (Some((SyncSetResult::Failure, m)), SyncSetResult::Failure)
                    if m == e.failure_message.as_ref() => {}
                (_, SyncSetResult::Failure) => out.push((
                    true,
                    "SyncSetApplyFailure",
                    format!("{kind} {} failed: {msg}", e.name),
                )),
                (Some((SyncSetResult::Failure, _)), SyncSetResult::Success) => out.push((
                    false,
                    "SyncSetApplySuccess",
                    format!("{kind} {} applied", e.name),
                )),
                (prev, SyncSetResult::Success)
                    if !msg.is_empty() && prev.and_then(|p| p.1) != e.failure_message.as_ref() =>
                {
                    out.push((true, "SyncSetConflict", format!("{kind} {}: {msg}", e.name)))
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn e(name: &str, ok: bool, msg: Option<&str>) -> SyncStatus {
        SyncStatus {
            name: name.into(),
            observed_generation: 1,
            resources_to_delete: Default::default(),
            result: if ok {
                SyncSetResult::Success
            } else {
                SyncSetResult::Failure
            },
            failure_message: msg.map(String::from),
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            first_success_time: None,
        }
    }

    fn st(list: Vec<SyncStatus>) -> ClusterSyncStatus {
        ClusterSyncStatus {
            sync_sets: list,
            ..Default::default()
        }
    }

    #[test]
    fn events_follow_failures_recoveries_and_new_conflicts_only() {
        let failing = st(vec![e("a", false, Some("boom"))]);
        let ev = entry_events(&st(vec![]), &failing);
        assert_eq!(
            ev,
            vec![(
                true,
                "SyncSetApplyFailure",
                "SyncSet a failed: boom".to_string()
            )]
        );
        assert!(
            entry_events(&failing, &failing).is_empty(),
            "the same failure again: no event"
        );
        let ok = st(vec![e("a", true, None)]);
        assert_eq!(entry_events(&failing, &ok)[0].1, "SyncSetApplySuccess");
        assert!(entry_events(&ok, &ok).is_empty());
        let conflict = st(vec![e("a", true, Some("conflict: x"))]);
        assert_eq!(entry_events(&ok, &conflict)[0].1, "SyncSetConflict");
        assert!(entry_events(&conflict, &conflict).is_empty());
    }
}
