//! One cluster's sync as a pure state machine (docs/hive-compatibility.md, "Order of a sync" to "Status entries"):
//! it hands out the operations to send in Hive's order, takes each result back, and at the end yields the new
//! ClusterSync status. The controller only runs the operations; every decision (order, fail-fast, what to delete, the
//! entries) is made here and unit-tested.
//!
//! Order: SyncSets before SelectorSyncSets; within each kind, the objects of syncsets that no longer apply are
//! deleted first (so an object can move to another syncset), then each syncset in name order: resources → secret
//! mappings → patches (stopping at the first failure) → deletion of the objects it no longer contains.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;

use super::decode::{ApplyBehavior, PatchOp, Payload, SyncSetKind};
use super::entry::{self, ApplyReason, Outcome};
use super::identity::{describe, sort_for_deletion, Declared};
use crate::api::{
    NamespacedName, SecretReference, SyncResourceReference, SyncSetResult, SyncStatus,
};

/// One syncset that targets the cluster.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub generation: i64,
    pub payload: Arc<Payload>,
    /// The content hash differs from the one last applied to this cluster (false when unknown).
    pub hash_changed: bool,
}

/// A syncset's declared references, as `Declared` indexes them (the payload is shared, not copied).
#[derive(Debug)]
struct References(Arc<Payload>);

impl AsRef<[SyncResourceReference]> for References {
    fn as_ref(&self) -> &[SyncResourceReference] {
        &self.0.references
    }
}

/// An operation for the executor.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Create or update one object from `resources`.
    Apply {
        object: Value,
        behavior: ApplyBehavior,
    },
    /// Read the hub Secret `source`, then apply it as `target` (see `decode::target_secret`).
    ApplySecret {
        source: NamespacedName,
        target: SecretReference,
        behavior: ApplyBehavior,
    },
    Patch(PatchOp),
    Delete(SyncResourceReference),
}

/// Why an operation failed, as the plan records it (the executor's `controller::execute::ExecError` maps to it). The
/// messages stay `String`s: each goes verbatim into the syncset's status entry (`failureMessage`, Hive's wording
/// around it), and the plan never looks inside them. Whether the cluster was unreachable or slow is not here: the
/// executor acts on that before anything is recorded.
#[derive(Clone, Debug, PartialEq)]
pub enum OpError {
    /// The hub Secret of an `ApplySecret` could not be read.
    ReadSecret(String),
    /// The managed cluster refused or failed the call.
    Failed(String),
}

/// What was applied, for the controller's content-hash bookkeeping and logs.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub kind: SyncSetKind,
    pub name: String,
    pub reason: ApplyReason,
}

#[derive(Debug)]
enum Phase {
    Resources(usize),
    Secrets(usize),
    Patches(usize),
    Deletes(VecDeque<SyncResourceReference>),
}

#[derive(Debug)]
struct ApplyRun {
    kind: SyncSetKind,
    target: Target,
    reason: ApplyReason,
    /// The previous entry after the Upsert clearing rule.
    prev: Option<SyncStatus>,
    /// Every object the cluster's syncsets declare, shared by the run's units; `index` is this syncset's.
    declared: Arc<Declared<References>>,
    index: usize,
    phase: Phase,
    outcome: Outcome,
}

#[derive(Debug)]
struct OrphanRun {
    kind: SyncSetKind,
    prev: SyncStatus,
    deletes: VecDeque<SyncResourceReference>,
    failures: Vec<(SyncResourceReference, String)>,
}

#[derive(Debug)]
enum Unit {
    Keep(SyncSetKind, SyncStatus),
    Orphan(OrphanRun),
    Apply(Box<ApplyRun>),
}

/// The op handed out last and not yet recorded.
#[derive(Debug)]
enum Pending {
    Resource {
        index: usize,
        reference: SyncResourceReference,
    },
    Secret {
        index: usize,
        reference: SyncResourceReference,
    },
    Patch {
        index: usize,
    },
    Delete(SyncResourceReference),
}

pub struct ClusterRun {
    /// Per syncset, the objects it shares with other syncsets for this cluster (docs/hive-compatibility.md,
    /// "Deliberate differences", 5).
    conflicts: HashMap<(SyncSetKind, String), String>,
    units: VecDeque<Unit>,
    current: Option<Unit>,
    pending: Option<Pending>,
    sync_sets: Vec<SyncStatus>,
    selector_sync_sets: Vec<SyncStatus>,
    applied: Vec<Applied>,
    requeue: bool,
    now: Time,
}

/// The result of a finished run.
#[derive(Debug)]
pub struct Finished {
    pub sync_sets: Vec<SyncStatus>,
    pub selector_sync_sets: Vec<SyncStatus>,
    pub applied: Vec<Applied>,
    /// Some failure asked for a fast retry (apply, secret read, patch or delete failures; not decode errors).
    pub requeue: bool,
}

impl ClusterRun {
    /// Plans a run. `targets` are the syncsets that apply to the cluster now (any order); `previous` the current
    /// status lists; `full_reapply` whether the periodic re-apply is due.
    pub fn new(
        sync_sets: Vec<Target>,
        selector_sync_sets: Vec<Target>,
        previous_sync_sets: &[SyncStatus],
        previous_selector_sync_sets: &[SyncStatus],
        full_reapply: bool,
        now: Time,
    ) -> Self {
        let (mut sync_sets, mut selector_sync_sets) = (sync_sets, selector_sync_sets);
        sync_sets.sort_by(|a, b| a.name.cmp(&b.name));
        selector_sync_sets.sort_by(|a, b| a.name.cmp(&b.name));
        // Every object any syncset declares for this cluster: one leaving a syncset is handed over, not deleted,
        // while another still declares it (docs/hive-compatibility.md, "Deliberate differences", 5). Syncset i is
        // sync_sets[i], then the SelectorSyncSets follow.
        let declared = Arc::new(Declared::new(
            sync_sets
                .iter()
                .chain(&selector_sync_sets)
                .map(|t| References(t.payload.clone())),
        ));
        let conflicts = conflicts(&sync_sets, &selector_sync_sets, &declared);
        let mut units = VecDeque::new();
        let mut next_index = 0;
        for (kind, targets, previous) in [
            (SyncSetKind::SyncSet, sync_sets, previous_sync_sets),
            (
                SyncSetKind::SelectorSyncSet,
                selector_sync_sets,
                previous_selector_sync_sets,
            ),
        ] {
            for prev in previous
                .iter()
                .filter(|p| !targets.iter().any(|t| t.name == p.name))
            {
                let mut deletes: Vec<_> = prev
                    .resources_to_delete
                    .iter()
                    .filter(|r| !declared.any(r))
                    .cloned()
                    .collect();
                sort_for_deletion(&mut deletes);
                units.push_back(Unit::Orphan(OrphanRun {
                    kind,
                    prev: prev.clone(),
                    deletes: deletes.into(),
                    failures: vec![],
                }));
            }
            for target in targets {
                let index = next_index;
                next_index += 1;
                let prev = previous.iter().find(|p| p.name == target.name);
                match (
                    entry::needs_apply(prev, target.generation, full_reapply, target.hash_changed),
                    prev,
                ) {
                    (None, Some(prev)) => units.push_back(Unit::Keep(kind, prev.clone())),
                    (reason, _) => {
                        let reason = reason.unwrap_or(ApplyReason::New);
                        let prev = entry::previous_for_mode(prev, target.payload.mode);
                        let mut outcome = Outcome::default();
                        let phase = match &target.payload.decode_error {
                            // Nothing is applied and, unlike Hive, nothing is deleted: an object that fails to decode
                            // is not one the user removed, so everything tracked stays tracked.
                            Some(err) => {
                                outcome.apply_error = Some(err.clone());
                                outcome.retained = prev
                                    .as_ref()
                                    .map(|p| p.resources_to_delete.to_vec())
                                    .unwrap_or_default();
                                Phase::Deletes(VecDeque::new())
                            }
                            None => Phase::Resources(0),
                        };
                        units.push_back(Unit::Apply(Box::new(ApplyRun {
                            kind,
                            target,
                            reason,
                            prev,
                            declared: declared.clone(),
                            index,
                            phase,
                            outcome,
                        })));
                    }
                }
            }
        }
        Self {
            conflicts,
            units,
            current: None,
            pending: None,
            sync_sets: vec![],
            selector_sync_sets: vec![],
            applied: vec![],
            requeue: false,
            now,
        }
    }

    /// The next operation to run, or `None` when the run is complete. Each op must be `record`ed before the next.
    pub fn next_op(&mut self) -> Option<Op> {
        assert!(
            self.pending.is_none(),
            "record the result of the previous op first"
        );
        loop {
            if self.current.is_none() {
                self.current = Some(self.units.pop_front()?);
            }
            let op = match self.current.as_mut() {
                Some(Unit::Keep(..)) | None => None,
                Some(Unit::Orphan(o)) => o.deletes.pop_front().map(|r| {
                    self.pending = Some(Pending::Delete(r.clone()));
                    Op::Delete(r)
                }),
                Some(Unit::Apply(a)) => a.next_op(&mut self.pending),
            };
            if op.is_some() {
                return op;
            }
            let done = self.current.take();
            if let Some(unit) = done {
                self.finish_unit(unit);
            }
        }
    }

    /// Records the result of the op `next_op` returned last.
    pub fn record(&mut self, result: Result<(), OpError>) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let message = |e: OpError| match e {
            OpError::ReadSecret(m) | OpError::Failed(m) => m,
        };
        match (self.current.as_mut(), pending, result) {
            (Some(Unit::Orphan(o)), Pending::Delete(r), Err(e)) => o.failures.push((r, message(e))),
            (Some(Unit::Orphan(_)), _, _) => {}
            (Some(Unit::Apply(a)), pending, result) => {
                let failed = a.record(pending, result);
                self.requeue |= failed;
            }
            _ => {}
        }
    }

    fn finish_unit(&mut self, unit: Unit) {
        // The conflict note an applied syncset's entry carried before (it is not part of the apply's comparison).
        let mut prev_note = None;
        let (kind, entry) = match unit {
            Unit::Keep(kind, e) => (kind, Some(e)),
            Unit::Orphan(o) => {
                self.requeue |= !o.failures.is_empty();
                (o.kind, entry::orphan_entry(&o.prev, &o.failures, &self.now))
            }
            Unit::Apply(a) => {
                let mut a = *a;
                if let Some(p) = a
                    .prev
                    .as_mut()
                    .filter(|p| p.result == SyncSetResult::Success)
                {
                    prev_note = p.failure_message.take();
                }
                self.applied.push(Applied {
                    kind: a.kind,
                    name: a.target.name.clone(),
                    reason: a.reason,
                });
                let e = entry::applied_entry(
                    &a.target.name,
                    a.target.generation,
                    a.target.payload.mode,
                    a.prev.as_ref(),
                    a.outcome,
                    &self.now,
                );
                (a.kind, Some(e))
            }
        };
        if let Some(mut e) = entry {
            let note = self.conflicts.get(&(kind, e.name.clone())).cloned();
            if e.result == SyncSetResult::Success {
                // An applied entry's old note was set aside above; a kept entry still carries its own.
                let old = prev_note.or_else(|| e.failure_message.clone());
                if old != note {
                    e.last_transition_time = self.now.clone();
                }
                e.failure_message = note;
            }
            match kind {
                SyncSetKind::SyncSet => self.sync_sets.push(e),
                SyncSetKind::SelectorSyncSet => self.selector_sync_sets.push(e),
            }
        }
    }

    /// Completes the run (any ops not handed out are not run) and returns the new entries.
    pub fn finish(mut self) -> Finished {
        while self.next_op().is_some() {
            self.record(Ok(()));
        }
        Finished {
            sync_sets: self.sync_sets,
            selector_sync_sets: self.selector_sync_sets,
            applied: self.applied,
            requeue: self.requeue,
        }
    }
}

/// For each syncset that declares an object another syncset also declares for this cluster, a note naming them:
/// `conflict: v1, Kind=Namespace /cso is also declared by SelectorSyncSet other`. Shown in the entry's
/// `failureMessage` while its result stays Success: such an object is never deleted while one still declares it.
fn conflicts(
    ss: &[Target],
    sss: &[Target],
    declared: &Declared<References>,
) -> HashMap<(SyncSetKind, String), String> {
    // Indexed as in `declared`: the SyncSets, then the SelectorSyncSets.
    let all: Vec<(SyncSetKind, &Target)> = ss
        .iter()
        .map(|t| (SyncSetKind::SyncSet, t))
        .chain(sss.iter().map(|t| (SyncSetKind::SelectorSyncSet, t)))
        .collect();
    let mut out = HashMap::new();
    for (i, (kind, t)) in all.iter().enumerate() {
        let mut notes = Vec::new();
        for r in &t.payload.references {
            // Conflicts are rare: the allocation-free test first, on every reference of every run.
            if !declared.by_other(r, i) {
                continue;
            }
            let others: Vec<String> = declared
                .declaring(r)
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| format!("{} {}", all[j].0.as_str(), all[j].1.name))
                .collect();
            if !others.is_empty() {
                notes.push(format!(
                    "conflict: {} is also declared by {}",
                    describe(r),
                    others.join(", ")
                ));
            }
        }
        if let Some(note) = super::aggregate(&notes) {
            out.insert((*kind, t.name.clone()), note);
        }
    }
    out
}

impl ApplyRun {
    fn next_op(&mut self, pending: &mut Option<Pending>) -> Option<Op> {
        let p = self.target.payload.clone();
        loop {
            match &mut self.phase {
                Phase::Resources(i) => match p.objects.get(*i) {
                    Some(o) => {
                        *pending = Some(Pending::Resource {
                            index: o.index,
                            reference: o.reference.clone(),
                        });
                        *i += 1;
                        return Some(Op::Apply {
                            object: o.object.clone(),
                            behavior: p.behavior,
                        });
                    }
                    None => self.phase = Phase::Secrets(0),
                },
                Phase::Secrets(i) => match p.secrets.get(*i) {
                    Some(s) => {
                        *i += 1;
                        match &s.source {
                            Ok(source) => {
                                let reference = SyncResourceReference {
                                    api_version: "v1".into(),
                                    kind: "Secret".into(),
                                    namespace: s.target.namespace.clone(),
                                    name: s.target.name.clone(),
                                };
                                *pending = Some(Pending::Secret {
                                    index: s.index,
                                    reference,
                                });
                                return Some(Op::ApplySecret {
                                    source: source.clone(),
                                    target: s.target.clone(),
                                    behavior: p.behavior,
                                });
                            }
                            // Hive's source-namespace errors: the syncset fails, without a fast requeue.
                            Err(message) => {
                                self.outcome.apply_error = Some(message.clone());
                                self.enter_deletes();
                            }
                        }
                    }
                    None => self.phase = Phase::Patches(0),
                },
                Phase::Patches(i) => match p.patches.get(*i) {
                    Some(patch) => {
                        *pending = Some(Pending::Patch { index: patch.index });
                        *i += 1;
                        return Some(Op::Patch(patch.clone()));
                    }
                    None => {
                        // Patches whose template failed were skipped; the syncset fails with their errors
                        // (no fast requeue: only an edit can fix them).
                        self.outcome.apply_error = super::aggregate(&p.patch_template_errors);
                        self.enter_deletes();
                    }
                },
                Phase::Deletes(queue) => {
                    let r = queue.pop_front()?;
                    *pending = Some(Pending::Delete(r.clone()));
                    return Some(Op::Delete(r));
                }
            }
        }
    }

    /// Moves to deleting what this syncset no longer contains.
    fn enter_deletes(&mut self) {
        let tracked = self
            .prev
            .as_ref()
            .map(|e| e.resources_to_delete.clone())
            .unwrap_or_default();
        let mut removed = entry::removed_objects(&tracked, &self.target.payload.references, |r| {
            self.declared.by_other(r, self.index)
        });
        sort_for_deletion(&mut removed.delete);
        self.outcome.retained = removed.retained;
        self.phase = Phase::Deletes(removed.delete.into());
    }

    /// Returns whether this failure asks for a fast requeue.
    fn record(&mut self, pending: Pending, result: Result<(), OpError>) -> bool {
        let msg = |e: OpError| match e {
            OpError::ReadSecret(m) | OpError::Failed(m) => m,
        };
        match (pending, result) {
            (Pending::Resource { reference, .. }, Ok(()))
            | (Pending::Secret { reference, .. }, Ok(())) => {
                self.outcome.applied.push(reference);
                false
            }
            (Pending::Patch { .. }, Ok(())) | (Pending::Delete(_), Ok(())) => false,
            (Pending::Resource { index, .. }, Err(e)) => {
                self.fail(format!("failed to apply resource {index}: {}", msg(e)))
            }
            (Pending::Secret { index, .. }, Err(OpError::ReadSecret(m))) => {
                self.fail(format!("failed to read secret {index}: {m}"))
            }
            (Pending::Secret { index, .. }, Err(e)) => {
                self.fail(format!("failed to apply secret {index}: {}", msg(e)))
            }
            (Pending::Patch { index }, Err(e)) => {
                self.fail(format!("failed to apply patch {index}: {}", msg(e)))
            }
            (Pending::Delete(r), Err(e)) => {
                self.outcome.delete_failures.push((r, msg(e)));
                true
            }
        }
    }

    /// The first apply failure stops the syncset's applies; its removed objects are still deleted (as in Hive).
    fn fail(&mut self, message: String) -> bool {
        self.outcome.apply_error = Some(message);
        self.enter_deletes();
        true
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
