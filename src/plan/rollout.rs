//! Progressive rollout, decided without I/O (docs/rollout.md): which clusters a syncset's update revision reaches now,
//! and where its rollout goes next, from the strategy, the rollout's last status, the operators' requests and what
//! the clusters report (their ClusterSync entry for the syncset, their `Healthy` condition, their reachability).
//!
//! Steps partition the targets in a fixed order (namespace, name), so every replica and every evaluation after a
//! restart computes the same steps from the same hub state: the status stores the step, not the clusters.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::rollout::{RolloutSpec, RolloutStatus, RolloutStep, RolloutStrategySpec};
use crate::api::{ClusterKey, SyncSetResult};
use crate::duration::parse_go_duration;
use crate::plan::target::selector_matches;

pub const PROGRESSING: &str = "Progressing";
pub const PAUSED: &str = "Paused";
pub const HALTED: &str = "Halted";
pub const ABORTED: &str = "Aborted";
pub const COMPLETE: &str = "Complete";

/// The default `progressDeadline`.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Clusters a message names at most.
const NAMED: usize = 5;

/// What an Unreachable cluster counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    Wait,
    Failure,
    Skip,
}

/// A `RolloutStrategy`, checked.
#[derive(Clone, Debug)]
pub struct Strategy {
    pub steps: Vec<RolloutStep>,
    pub min_healthy: Duration,
    pub deadline: Duration,
    pub max_failures: usize,
    pub max_concurrency: Option<IntOrString>,
    pub unreachable: Unreachable,
}

impl Strategy {
    /// The strategy, or why it cannot be used (the schema refuses most of these; a hub without hivesync's CRD
    /// validation may still hold them).
    pub fn parse(spec: &RolloutStrategySpec) -> Result<Self, String> {
        if spec.steps.is_empty() {
            return Err("spec.steps: must have at least one step".into());
        }
        for (i, s) in spec.steps.iter().enumerate() {
            if let Some(m) = &s.max_clusters {
                count_of(m, 100).map_err(|e| format!("spec.steps[{i}].maxClusters: {e}"))?;
            }
            if let Some(e) = crate::plan::target::selector_error(s.cluster_selector.as_ref()) {
                return Err(format!("spec.steps[{i}].clusterSelector: {e}"));
            }
        }
        if let Some(m) = &spec.max_concurrency {
            count_of(m, 100).map_err(|e| format!("spec.maxConcurrency: {e}"))?;
        }
        let duration = |field: &str, v: &Option<String>, default: Duration| match v {
            None => Ok(default),
            Some(s) => parse_go_duration(s).map_err(|e| format!("spec.{field}: {e}")),
        };
        Ok(Self {
            steps: spec.steps.clone(),
            min_healthy: duration(
                "minHealthyDuration",
                &spec.min_healthy_duration,
                Duration::ZERO,
            )?,
            deadline: duration(
                "progressDeadline",
                &spec.progress_deadline,
                DEFAULT_DEADLINE,
            )?,
            max_failures: usize::try_from(spec.max_failures.unwrap_or(0))
                .map_err(|_| "spec.maxFailures: must be 0 or more".to_string())?,
            max_concurrency: spec.max_concurrency.clone(),
            unreachable: match spec.unreachable.as_deref() {
                None | Some("Wait") => Unreachable::Wait,
                Some("Failure") => Unreachable::Failure,
                Some("Skip") => Unreachable::Skip,
                Some(other) => {
                    return Err(format!(
                        "spec.unreachable: {other:?} is not one of Wait, Failure, Skip"
                    ))
                }
            },
        })
    }
}

/// An int, or a percent of `total` rounded up (at least 1 when the percent is not 0).
pub fn count_of(v: &IntOrString, total: usize) -> Result<usize, String> {
    match v {
        IntOrString::Int(n) if *n >= 0 => Ok(*n as usize),
        IntOrString::Int(n) => Err(format!("{n} is negative")),
        IntOrString::String(s) => {
            let p: usize = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .filter(|p| *p <= 100)
                .ok_or_else(|| format!("{s:?} is not an int or a percent"))?;
            Ok((total * p).div_ceil(100))
        }
    }
}

/// A cluster's health as its ClusterSync's `Healthy` condition says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberHealth {
    Healthy,
    Progressing,
    Degraded,
    Unknown,
}

/// A cluster the syncset targets, as the hub reports it.
#[derive(Clone, Debug)]
pub struct Member<'a> {
    pub key: &'a ClusterKey,
    pub labels: &'a BTreeMap<String, String>,
    pub unreachable: bool,
    /// Its ClusterSync entry for the syncset: (observedGeneration, result).
    pub entry: Option<(i64, SyncSetResult)>,
    pub health: MemberHealth,
}

/// Which clusters receive the update revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Every target: the rollout is complete (or there is none).
    All,
    /// These (maybe none); the others receive the stable revision.
    Some(BTreeSet<ClusterKey>),
}

impl Admission {
    pub fn admits(&self, key: &ClusterKey) -> bool {
        match self {
            Admission::All => true,
            Admission::Some(keys) => keys.contains(key),
        }
    }
}

/// Something worth an Event on the syncset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// Where the rollout goes.
#[derive(Clone, Debug)]
pub struct Decision {
    pub status: RolloutStatus,
    pub admission: Admission,
    pub notes: Vec<Note>,
    /// The clusters of each step (for `hivesync rollout status` and `diff`).
    pub steps: Vec<Vec<ClusterKey>>,
}

/// The clusters of each step, in order: each step takes, from the targets no earlier step took, those its selector
/// matches, in (namespace, name) order, up to its `maxClusters` (of all targets). Targets no step takes form a last,
/// implicit step.
pub fn partition(strategy: &Strategy, members: &[Member]) -> Vec<Vec<ClusterKey>> {
    let mut order: Vec<&Member> = members.iter().collect();
    order.sort_by(|a, b| a.key.cmp(b.key));
    let total = order.len();
    let mut taken = vec![false; total];
    let mut steps = Vec::new();
    for step in &strategy.steps {
        let cap = step
            .max_clusters
            .as_ref()
            .and_then(|m| count_of(m, total).ok())
            .unwrap_or(usize::MAX);
        let mut this = Vec::new();
        for (i, m) in order.iter().enumerate() {
            if this.len() >= cap {
                break;
            }
            if !taken[i] && selector_matches(step.cluster_selector.as_ref(), m.labels) {
                taken[i] = true;
                this.push(m.key.clone());
            }
        }
        steps.push(this);
    }
    let rest: Vec<ClusterKey> = order
        .iter()
        .enumerate()
        .filter(|(i, _)| !taken[*i])
        .map(|(_, m)| m.key.clone())
        .collect();
    if !rest.is_empty() {
        steps.push(rest);
    }
    steps
}

/// How one reached cluster stands against the update revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Success at the update revision and Healthy.
    Done,
    /// Not there yet (not applied, Progressing, health not yet assessed), or Unreachable under `Wait`.
    Waiting,
    /// Counts against `maxFailures`.
    Failed,
    /// Unreachable under `Skip`: left out of the gate.
    Skipped,
}

fn standing(m: &Member, update: i64, unreachable: Unreachable) -> Standing {
    if m.unreachable {
        return match unreachable {
            Unreachable::Wait => Standing::Waiting,
            Unreachable::Failure => Standing::Failed,
            Unreachable::Skip => Standing::Skipped,
        };
    }
    match m.entry {
        Some((g, SyncSetResult::Failure)) if g == update => Standing::Failed,
        Some((g, SyncSetResult::Success)) if g == update => match m.health {
            MemberHealth::Healthy => Standing::Done,
            MemberHealth::Degraded => Standing::Failed,
            MemberHealth::Progressing | MemberHealth::Unknown => Standing::Waiting,
        },
        _ => Standing::Waiting,
    }
}

/// Whether the cluster has the update revision applied (whatever the result): it stays reached.
fn at_update(m: &Member, update: i64) -> bool {
    m.entry.is_some_and(|(g, _)| g == update)
}

fn names(keys: &[&ClusterKey]) -> String {
    let mut s: Vec<String> = keys.iter().take(NAMED).map(|k| k.to_string()).collect();
    if keys.len() > NAMED {
        s.push(format!("and {} more", keys.len() - NAMED));
    }
    s.join(", ")
}

/// The next state of a rollout. `generation` is the syncset's; `previous` its Rollout's last status (default when
/// there is none yet); `existing` whether any target already has an entry for the syncset (a syncset that opts in
/// after it was applied starts complete: opting in rolls nothing out).
pub fn evaluate(
    strategy: &Strategy,
    previous: &RolloutStatus,
    generation: i64,
    controls: &RolloutSpec,
    members: &[Member],
    existing: bool,
    now: Time,
) -> Decision {
    let steps = partition(strategy, members);
    let mut status = previous.clone();
    let mut notes = Vec::new();

    // A new revision starts a rollout from the stable one (the revision being rolled, if any, is left behind:
    // clusters that had it go back to the stable one unless this rollout's steps reach them).
    if status.phase.is_empty() {
        status.stable_revision = if existing { generation } else { 0 };
        status.update_revision = generation;
        status.step = 0;
        status.phase = if existing { COMPLETE } else { PROGRESSING }.into();
        status.step_start_time = Some(now.clone());
        status.healthy_since = None;
        status.message.clear();
    } else if status.update_revision != generation {
        if status.phase == COMPLETE {
            status.stable_revision = status.update_revision;
        }
        status.update_revision = generation;
        status.step = 0;
        status.phase = PROGRESSING.into();
        status.step_start_time = Some(now.clone());
        status.healthy_since = None;
        notes.push(Note {
            warning: false,
            reason: "RolloutStarted",
            message: format!(
                "rolling out generation {generation} in {} steps (stable: generation {})",
                steps.len(),
                status.stable_revision
            ),
        });
    }
    let update = status.update_revision;

    if status.phase == COMPLETE {
        status.stable_revision = update;
        return finish(status, Admission::All, notes, steps, members, update);
    }
    if controls.abort_revision == Some(update) {
        if status.phase != ABORTED {
            status.phase = ABORTED.into();
            status.message = format!(
                "aborted: every cluster goes back to generation {}",
                status.stable_revision
            );
            notes.push(Note {
                warning: true,
                reason: "RolloutAborted",
                message: status.message.clone(),
            });
        }
        return finish(
            status,
            Admission::Some(BTreeSet::new()),
            notes,
            steps,
            members,
            update,
        );
    }
    if status.phase == ABORTED {
        // The abort was taken back: roll on from the step it stopped at.
        status.phase = PROGRESSING.into();
        status.step_start_time = Some(now.clone());
    }

    let by_key: BTreeMap<&ClusterKey, &Member> = members.iter().map(|m| (m.key, m)).collect();
    let step_count = steps.len() as i32;
    let mut reached: BTreeSet<ClusterKey> = BTreeSet::new();
    // Earlier steps stay reached; so does any cluster already at the update revision (e.g. taken in a step that a
    // change of labels has since moved it out of).
    for keys in steps.iter().take(status.step.max(0) as usize) {
        reached.extend(keys.iter().cloned());
    }
    reached.extend(
        members
            .iter()
            .filter(|m| at_update(m, update))
            .map(|m| m.key.clone()),
    );

    let promoted = controls
        .promote
        .as_ref()
        .is_some_and(|p| p.revision == update && p.step == status.step && status.step < step_count);
    let paused = controls.paused;
    let mut halted = status.phase == HALTED;
    if halted
        && controls.resume_request.is_some()
        && controls.resume_request != status.resume_request
    {
        // `hivesync rollout resume`: the step gets a new deadline (and halts again if it still fails).
        status.resume_request = controls.resume_request.clone();
        status.phase = PROGRESSING.into();
        status.step_start_time = Some(now.clone());
        halted = false;
        notes.push(Note {
            warning: false,
            reason: "RolloutResumed",
            message: format!("resumed at step {} of {}", status.step + 1, step_count),
        });
    }

    if status.step < step_count {
        let current = &steps[status.step as usize];
        // Admit the step's clusters, at most maxConcurrency of them not yet done at once (none while paused or
        // halted: those already reached keep the update).
        if !paused && !halted {
            let limit = strategy
                .max_concurrency
                .as_ref()
                .and_then(|m| count_of(m, current.len()).ok())
                .unwrap_or(usize::MAX)
                .max(1);
            let mut in_flight = current
                .iter()
                .filter(|k| reached.contains(*k))
                .filter(|k| {
                    by_key.get(k).is_some_and(|m| {
                        standing(m, update, strategy.unreachable) == Standing::Waiting
                    })
                })
                .count();
            for k in current {
                if reached.contains(k) {
                    continue;
                }
                if in_flight >= limit {
                    break;
                }
                reached.insert(k.clone());
                in_flight += 1;
            }
        }
    }

    // The gate: every reached cluster, by standing.
    let mut failed: Vec<&ClusterKey> = Vec::new();
    let mut waiting: Vec<&ClusterKey> = Vec::new();
    for k in &reached {
        match by_key
            .get(k)
            .map(|m| standing(m, update, strategy.unreachable))
        {
            Some(Standing::Failed) => failed.push(k),
            Some(Standing::Waiting) => waiting.push(k),
            Some(Standing::Done | Standing::Skipped) | None => {}
        }
    }
    let step_done_pending = status.step < step_count
        && steps[status.step as usize]
            .iter()
            .all(|k| reached.contains(k));

    if !halted && failed.len() > strategy.max_failures {
        status.phase = HALTED.into();
        status.message = format!(
            "halted at step {} of {}: {} cluster(s) failed, more than maxFailures {}: {}",
            status.step + 1,
            step_count,
            failed.len(),
            strategy.max_failures,
            names(&failed)
        );
        notes.push(Note {
            warning: true,
            reason: "RolloutHalted",
            message: status.message.clone(),
        });
        return finish(
            status,
            Admission::Some(reached),
            notes,
            steps,
            members,
            update,
        );
    }
    if halted {
        return finish(
            status,
            Admission::Some(reached),
            notes,
            steps,
            members,
            update,
        );
    }

    let all_ok = failed.is_empty() && waiting.is_empty() && step_done_pending;
    if all_ok {
        status.healthy_since.get_or_insert_with(|| now.clone());
    } else {
        status.healthy_since = None;
    }
    let soaked = status
        .healthy_since
        .as_ref()
        .is_some_and(|t| elapsed(t, &now) >= strategy.min_healthy);
    let started = status
        .step_start_time
        .clone()
        .unwrap_or_else(|| now.clone());

    if paused {
        status.phase = PAUSED.into();
        status.message = format!(
            "paused at step {} of {}",
            (status.step + 1).min(step_count),
            step_count
        );
        return finish(
            status,
            Admission::Some(reached),
            notes,
            steps,
            members,
            update,
        );
    }
    status.phase = PROGRESSING.into();

    if status.step < step_count && ((all_ok && soaked) || promoted) {
        let done = status.step;
        status.step += 1;
        status.step_start_time = Some(now.clone());
        status.healthy_since = None;
        notes.push(Note {
            warning: false,
            reason: "RolloutStepDone",
            message: format!(
                "step {} of {} done{}",
                done + 1,
                step_count,
                if promoted && !(all_ok && soaked) {
                    " (promoted)"
                } else {
                    ""
                }
            ),
        });
        // Admit the next step at once rather than at the next evaluation.
        return evaluate_again(
            strategy, status, generation, controls, members, existing, now, notes,
        );
    }
    if status.step >= step_count {
        status.phase = COMPLETE.into();
        status.stable_revision = update;
        status.message = format!("generation {update} reached every cluster");
        status.healthy_since = None;
        notes.push(Note {
            warning: false,
            reason: "RolloutComplete",
            message: status.message.clone(),
        });
        return finish(status, Admission::All, notes, steps, members, update);
    }
    if elapsed(&started, &now) > strategy.deadline {
        status.phase = HALTED.into();
        status.message = format!(
            "halted at step {} of {}: not done within progressDeadline {}s; waiting for {}",
            status.step + 1,
            step_count,
            strategy.deadline.as_secs(),
            names(&waiting)
        );
        notes.push(Note {
            warning: true,
            reason: "RolloutHalted",
            message: status.message.clone(),
        });
        return finish(
            status,
            Admission::Some(reached),
            notes,
            steps,
            members,
            update,
        );
    }
    status.message = if all_ok {
        format!(
            "step {} of {}: soaking, {}s of {}s healthy",
            status.step + 1,
            step_count,
            status
                .healthy_since
                .as_ref()
                .map_or(0, |t| elapsed(t, &now).as_secs()),
            strategy.min_healthy.as_secs()
        )
    } else if !waiting.is_empty() || !failed.is_empty() {
        let mut w = waiting.clone();
        w.extend(failed.iter().copied());
        format!(
            "step {} of {}: waiting for {} cluster(s): {}",
            status.step + 1,
            step_count,
            w.len(),
            names(&w)
        )
    } else {
        format!(
            "step {} of {}: admitting clusters",
            status.step + 1,
            step_count
        )
    };
    finish(
        status,
        Admission::Some(reached),
        notes,
        steps,
        members,
        update,
    )
}

#[allow(clippy::too_many_arguments)]
fn evaluate_again(
    strategy: &Strategy,
    status: RolloutStatus,
    generation: i64,
    controls: &RolloutSpec,
    members: &[Member],
    existing: bool,
    now: Time,
    mut notes: Vec<Note>,
) -> Decision {
    let mut d = evaluate(
        strategy, &status, generation, controls, members, existing, now,
    );
    notes.append(&mut d.notes);
    d.notes = notes;
    d
}

fn finish(
    mut status: RolloutStatus,
    admission: Admission,
    notes: Vec<Note>,
    steps: Vec<Vec<ClusterKey>>,
    members: &[Member],
    update: i64,
) -> Decision {
    let updated = members.iter().filter(|m| at_update(m, update)).count();
    status.updated_clusters = updated as i32;
    status.stable_clusters = (members.len() - updated) as i32;
    Decision {
        status,
        admission,
        notes,
        steps,
    }
}

fn elapsed(since: &Time, now: &Time) -> Duration {
    let d = now.0.as_second() - since.0.as_second();
    Duration::from_secs(d.max(0) as u64)
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
