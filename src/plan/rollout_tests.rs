use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::rollout::{
    RevisionStep, RolloutSpec, RolloutStatus, RolloutStep, RolloutStrategySpec,
};
use crate::api::{ClusterKey, SyncSetResult};

fn at(secs: i64) -> Time {
    Time(jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap())
}

/// canary-first: the canary-labelled clusters, then 25 %, then the rest; 5 min soak.
fn canary_first() -> Strategy {
    Strategy::parse(&RolloutStrategySpec {
        steps: vec![
            RolloutStep {
                cluster_selector: Some(LabelSelector {
                    match_labels: Some([("canary".to_string(), "true".to_string())].into()),
                    ..Default::default()
                }),
                max_clusters: None,
            },
            RolloutStep {
                cluster_selector: None,
                max_clusters: Some(IntOrString::String("25%".into())),
            },
            RolloutStep::default(),
        ],
        min_healthy_duration: Some("5m".into()),
        progress_deadline: Some("30m".into()),
        max_failures: Some(0),
        ..Default::default()
    })
    .unwrap()
}

/// A fleet of `n` clusters c01..; the first `canaries` are labelled canary=true.
struct Fleet {
    keys: Vec<ClusterKey>,
    labels: Vec<BTreeMap<String, String>>,
    entries: Vec<Option<(i64, SyncSetResult)>>,
    health: Vec<MemberHealth>,
    unreachable: Vec<bool>,
}

impl Fleet {
    fn new(n: usize, canaries: usize) -> Self {
        Self {
            keys: (1..=n)
                .map(|i| ClusterKey::new("fleet", format!("c{i:02}")))
                .collect(),
            labels: (0..n)
                .map(|i| {
                    if i < canaries {
                        [("canary".to_string(), "true".to_string())].into()
                    } else {
                        BTreeMap::new()
                    }
                })
                .collect(),
            entries: vec![Some((1, SyncSetResult::Success)); n],
            health: vec![MemberHealth::Healthy; n],
            unreachable: vec![false; n],
        }
    }

    fn members(&self) -> Vec<Member<'_>> {
        (0..self.keys.len())
            .map(|i| Member {
                key: &self.keys[i],
                labels: &self.labels[i],
                unreachable: self.unreachable[i],
                entry: self.entries[i],
                health: self.health[i],
            })
            .collect()
    }

    /// Every admitted cluster applies `generation` with `result` and is then `health`.
    fn apply(&mut self, admission: &Admission, generation: i64, result: SyncSetResult) {
        for i in 0..self.keys.len() {
            if admission.admits(&self.keys[i]) {
                self.entries[i] = Some((generation, result));
            }
        }
    }

    fn index(&self, name: &str) -> usize {
        self.keys.iter().position(|k| k.name == name).unwrap()
    }
}

fn admitted(a: &Admission) -> Vec<String> {
    match a {
        Admission::All => vec!["*".into()],
        Admission::Some(keys) => keys.iter().map(|k| k.name.clone()).collect(),
    }
}

fn run(
    s: &Strategy,
    prev: &RolloutStatus,
    generation: i64,
    controls: &RolloutSpec,
    fleet: &Fleet,
    now: i64,
) -> Decision {
    evaluate(
        s,
        prev,
        generation,
        controls,
        &fleet.members(),
        true,
        at(now),
    )
}

#[test]
fn steps_take_the_canaries_then_a_share_of_all_targets_then_the_rest() {
    let fleet = Fleet::new(8, 2);
    let steps = partition(&canary_first(), &fleet.members());
    let names: Vec<Vec<&str>> = steps
        .iter()
        .map(|s| s.iter().map(|k| k.name.as_str()).collect())
        .collect();
    // 25 % of 8 targets is 2.
    assert_eq!(
        names,
        vec![
            vec!["c01", "c02"],
            vec!["c03", "c04"],
            vec!["c05", "c06", "c07", "c08"]
        ]
    );
}

#[test]
fn clusters_no_step_takes_form_a_last_step() {
    let s = Strategy::parse(&RolloutStrategySpec {
        steps: vec![RolloutStep {
            cluster_selector: None,
            max_clusters: Some(IntOrString::Int(1)),
        }],
        ..Default::default()
    })
    .unwrap();
    let fleet = Fleet::new(3, 0);
    assert_eq!(partition(&s, &fleet.members()).len(), 2);
}

#[test]
fn opting_in_an_applied_syncset_rolls_nothing_out() {
    let fleet = Fleet::new(4, 1);
    let d = run(
        &canary_first(),
        &RolloutStatus::default(),
        1,
        &RolloutSpec::default(),
        &fleet,
        0,
    );
    assert_eq!(d.status.phase, COMPLETE);
    assert_eq!(d.status.stable_revision, 1);
    assert_eq!(d.admission, Admission::All);
}

#[test]
fn a_new_syncset_reaches_only_its_first_step() {
    let mut fleet = Fleet::new(4, 1);
    fleet.entries = vec![None; 4];
    let d = evaluate(
        &canary_first(),
        &RolloutStatus::default(),
        1,
        &RolloutSpec::default(),
        &fleet.members(),
        false,
        at(0),
    );
    assert_eq!(d.status.phase, PROGRESSING);
    assert_eq!(d.status.stable_revision, 0);
    assert_eq!(admitted(&d.admission), vec!["c01"]);
}

/// A good change goes canary → 25 % → rest, each step after its soak.
#[test]
fn a_good_change_goes_step_by_step_with_the_soak() {
    let s = canary_first();
    let mut fleet = Fleet::new(8, 2);
    let controls = RolloutSpec::default();
    let complete = run(&s, &RolloutStatus::default(), 1, &controls, &fleet, 0).status;

    // Generation 2: only the canaries.
    let d = run(&s, &complete, 2, &controls, &fleet, 10);
    assert_eq!(d.status.phase, PROGRESSING);
    assert_eq!((d.status.stable_revision, d.status.update_revision), (1, 2));
    assert_eq!(admitted(&d.admission), vec!["c01", "c02"]);
    assert!(d.notes.iter().any(|n| n.reason == "RolloutStarted"));

    // Applied and healthy: the soak starts, nothing more is admitted.
    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    let d = run(&s, &d.status, 2, &controls, &fleet, 20);
    assert_eq!(d.status.healthy_since, Some(at(20)));
    assert_eq!(admitted(&d.admission), vec!["c01", "c02"]);
    assert!(d.status.message.contains("soaking"), "{}", d.status.message);

    // 4 min later still soaking; 5 min later the next step is admitted at once.
    let d = run(&s, &d.status, 2, &controls, &fleet, 260);
    assert_eq!(d.status.step, 0);
    let d = run(&s, &d.status, 2, &controls, &fleet, 320);
    assert_eq!(d.status.step, 1);
    assert_eq!(admitted(&d.admission), vec!["c01", "c02", "c03", "c04"]);
    assert!(d.notes.iter().any(|n| n.reason == "RolloutStepDone"));

    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    let d = run(&s, &d.status, 2, &controls, &fleet, 330);
    let d = run(&s, &d.status, 2, &controls, &fleet, 630);
    assert_eq!(d.status.step, 2);
    assert_eq!(
        d.admission,
        Admission::Some(fleet.keys.iter().cloned().collect())
    );

    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    let d = run(&s, &d.status, 2, &controls, &fleet, 640);
    let d = run(&s, &d.status, 2, &controls, &fleet, 940);
    assert_eq!(d.status.phase, COMPLETE);
    assert_eq!(d.status.stable_revision, 2);
    assert_eq!(d.admission, Admission::All);
    assert_eq!(
        (d.status.updated_clusters, d.status.stable_clusters),
        (8, 0)
    );
}

#[test]
fn a_failure_on_the_canary_halts_the_rollout_there() {
    let s = canary_first();
    let mut fleet = Fleet::new(8, 1);
    let controls = RolloutSpec::default();
    let complete = run(&s, &RolloutStatus::default(), 1, &controls, &fleet, 0).status;
    let d = run(&s, &complete, 2, &controls, &fleet, 10);
    fleet.apply(&d.admission, 2, SyncSetResult::Failure);
    let d = run(&s, &d.status, 2, &controls, &fleet, 20);
    assert_eq!(d.status.phase, HALTED);
    assert!(
        d.status.message.contains("1 cluster(s) failed") && d.status.message.contains("fleet/c01"),
        "{}",
        d.status.message
    );
    assert!(d
        .notes
        .iter()
        .any(|n| n.reason == "RolloutHalted" && n.warning));
    // Halted: an hour later nothing more is admitted.
    let d = run(&s, &d.status, 2, &controls, &fleet, 3600);
    assert_eq!(d.status.phase, HALTED);
    assert_eq!(admitted(&d.admission), vec!["c01"]);
}

#[test]
fn a_degraded_canary_counts_as_a_failure() {
    let s = canary_first();
    let mut fleet = Fleet::new(4, 1);
    let controls = RolloutSpec::default();
    let complete = run(&s, &RolloutStatus::default(), 1, &controls, &fleet, 0).status;
    let d = run(&s, &complete, 2, &controls, &fleet, 10);
    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    fleet.health[0] = MemberHealth::Degraded;
    let d = run(&s, &d.status, 2, &controls, &fleet, 20);
    assert_eq!(d.status.phase, HALTED);
}

#[test]
fn a_step_that_stays_progressing_past_the_deadline_halts() {
    let s = canary_first();
    let mut fleet = Fleet::new(4, 1);
    let controls = RolloutSpec::default();
    let complete = run(&s, &RolloutStatus::default(), 1, &controls, &fleet, 0).status;
    let d = run(&s, &complete, 2, &controls, &fleet, 10);
    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    fleet.health[0] = MemberHealth::Progressing;
    let d = run(&s, &d.status, 2, &controls, &fleet, 20);
    assert_eq!(d.status.phase, PROGRESSING);
    assert!(
        d.status
            .message
            .contains("waiting for 1 cluster(s): fleet/c01"),
        "{}",
        d.status.message
    );
    let d = run(&s, &d.status, 2, &controls, &fleet, 10 + 30 * 60 + 1);
    assert_eq!(d.status.phase, HALTED);
    assert!(
        d.status.message.contains("progressDeadline"),
        "{}",
        d.status.message
    );

    // Resumed: the step gets a new deadline.
    let resume = RolloutSpec {
        resume_request: Some("t1".into()),
        ..Default::default()
    };
    let d = run(&s, &d.status, 2, &resume, &fleet, 2000);
    assert_eq!(d.status.phase, PROGRESSING);
    assert_eq!(d.status.step_start_time, Some(at(2000)));
    // The same request again does not resume a second halt.
    let d = run(&s, &d.status, 2, &resume, &fleet, 2000 + 30 * 60 + 1);
    assert_eq!(d.status.phase, HALTED);
    let d = run(&s, &d.status, 2, &resume, &fleet, 9000);
    assert_eq!(d.status.phase, HALTED);
}

#[test]
fn abort_sends_every_cluster_back_to_the_stable_revision() {
    let s = canary_first();
    let mut fleet = Fleet::new(4, 1);
    let complete = run(
        &s,
        &RolloutStatus::default(),
        1,
        &RolloutSpec::default(),
        &fleet,
        0,
    )
    .status;
    let d = run(&s, &complete, 2, &RolloutSpec::default(), &fleet, 10);
    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    let abort = RolloutSpec {
        abort_revision: Some(2),
        ..Default::default()
    };
    let d = run(&s, &d.status, 2, &abort, &fleet, 20);
    assert_eq!(d.status.phase, ABORTED);
    assert_eq!(d.admission, Admission::Some(Default::default()));
    assert!(d.notes.iter().any(|n| n.reason == "RolloutAborted"));
    // A new generation starts a new rollout from the stable revision.
    let d = run(&s, &d.status, 3, &abort, &fleet, 30);
    assert_eq!(d.status.phase, PROGRESSING);
    assert_eq!((d.status.stable_revision, d.status.update_revision), (1, 3));
}

#[test]
fn pause_stops_admissions_and_promote_skips_the_soak() {
    let s = canary_first();
    let mut fleet = Fleet::new(8, 2);
    let complete = run(
        &s,
        &RolloutStatus::default(),
        1,
        &RolloutSpec::default(),
        &fleet,
        0,
    )
    .status;
    let paused = RolloutSpec {
        paused: true,
        ..Default::default()
    };
    let d = run(&s, &complete, 2, &paused, &fleet, 10);
    assert_eq!(d.status.phase, PAUSED);
    assert_eq!(admitted(&d.admission), Vec::<String>::new());

    let d = run(&s, &d.status, 2, &RolloutSpec::default(), &fleet, 20);
    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    let promote = RolloutSpec {
        promote: Some(RevisionStep {
            revision: 2,
            step: 0,
        }),
        ..Default::default()
    };
    let d = run(&s, &d.status, 2, &promote, &fleet, 30);
    assert_eq!(d.status.step, 1);
    assert!(d.notes.iter().any(|n| n.message.contains("(promoted)")));
    // The same promote does not skip the next step too.
    let d = run(&s, &d.status, 2, &promote, &fleet, 40);
    assert_eq!(d.status.step, 1);
}

#[test]
fn max_concurrency_admits_a_step_a_few_clusters_at_a_time() {
    let mut s = canary_first();
    s.steps = vec![RolloutStep::default()];
    s.max_concurrency = Some(IntOrString::Int(2));
    let mut fleet = Fleet::new(5, 0);
    let complete = run(
        &s,
        &RolloutStatus::default(),
        1,
        &RolloutSpec::default(),
        &fleet,
        0,
    )
    .status;
    let d = run(&s, &complete, 2, &RolloutSpec::default(), &fleet, 10);
    assert_eq!(admitted(&d.admission), vec!["c01", "c02"]);
    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    let d = run(&s, &d.status, 2, &RolloutSpec::default(), &fleet, 20);
    assert_eq!(admitted(&d.admission), vec!["c01", "c02", "c03", "c04"]);
}

#[test]
fn an_unreachable_cluster_waits_fails_or_is_skipped_as_the_strategy_says() {
    for (policy, phase, step) in [
        (Unreachable::Wait, PROGRESSING, 0),
        (Unreachable::Failure, HALTED, 0),
        (Unreachable::Skip, PROGRESSING, 1),
    ] {
        let mut s = canary_first();
        s.min_healthy = Duration::ZERO;
        s.unreachable = policy;
        let mut fleet = Fleet::new(4, 2);
        let complete = run(
            &s,
            &RolloutStatus::default(),
            1,
            &RolloutSpec::default(),
            &fleet,
            0,
        )
        .status;
        let d = run(&s, &complete, 2, &RolloutSpec::default(), &fleet, 10);
        fleet.apply(&d.admission, 2, SyncSetResult::Success);
        let c02 = fleet.index("c02");
        fleet.unreachable[c02] = true;
        fleet.entries[c02] = Some((1, SyncSetResult::Success));
        let d = run(&s, &d.status, 2, &RolloutSpec::default(), &fleet, 20);
        assert_eq!(
            (d.status.phase.as_str(), d.status.step),
            (phase, step),
            "{policy:?}"
        );
    }
}

#[test]
fn max_failures_is_a_budget() {
    let mut s = canary_first();
    s.max_failures = 1;
    s.min_healthy = Duration::ZERO;
    let mut fleet = Fleet::new(4, 2);
    let complete = run(
        &s,
        &RolloutStatus::default(),
        1,
        &RolloutSpec::default(),
        &fleet,
        0,
    )
    .status;
    let d = run(&s, &complete, 2, &RolloutSpec::default(), &fleet, 10);
    fleet.apply(&d.admission, 2, SyncSetResult::Success);
    fleet.entries[0] = Some((2, SyncSetResult::Failure));
    let d = run(&s, &d.status, 2, &RolloutSpec::default(), &fleet, 20);
    assert_eq!(d.status.phase, PROGRESSING);
    fleet.entries[1] = Some((2, SyncSetResult::Failure));
    let d = run(&s, &d.status, 2, &RolloutSpec::default(), &fleet, 30);
    assert_eq!(d.status.phase, HALTED);
}

#[test]
fn a_strategy_that_cannot_be_used_says_why() {
    let bad = |spec: RolloutStrategySpec| Strategy::parse(&spec).unwrap_err();
    assert_eq!(
        bad(RolloutStrategySpec::default()),
        "spec.steps: must have at least one step"
    );
    assert!(bad(RolloutStrategySpec {
        steps: vec![RolloutStep {
            max_clusters: Some(IntOrString::String("ten".into())),
            ..Default::default()
        }],
        ..Default::default()
    })
    .starts_with("spec.steps[0].maxClusters:"));
    assert!(bad(RolloutStrategySpec {
        steps: vec![RolloutStep::default()],
        min_healthy_duration: Some("5 minutes".into()),
        ..Default::default()
    })
    .starts_with("spec.minHealthyDuration:"));
}

#[test]
fn percents_round_up() {
    assert_eq!(count_of(&IntOrString::String("25%".into()), 10), Ok(3));
    assert_eq!(count_of(&IntOrString::String("10%".into()), 1000), Ok(100));
    assert_eq!(count_of(&IntOrString::String("1%".into()), 1), Ok(1));
    assert_eq!(count_of(&IntOrString::Int(25), 10), Ok(25));
}
