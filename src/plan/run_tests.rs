//! Hive's clustersync controller unit scenarios (docs/hive-compatibility.md, "Acceptance scenarios"; the `#n` below
//! are their numbers) against the pure run: each test feeds the results an executor would report and checks the
//! operations handed out and the entries produced.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::*;
use crate::api::{SyncSetCommonSpec, SyncSetResult};
use crate::consts::MANAGED_LABEL;
use crate::plan::conditions::failed_condition;
use crate::plan::decode::{decode, SyncSetKind::*};
use crate::plan::identity::reference;

fn t(secs: i64) -> Time {
    Time(jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap())
}

fn cm(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {"k": "v"}})
}

fn cm_ref(name: &str) -> SyncResourceReference {
    reference("v1", "ConfigMap", "ns", name)
}

/// A syncset from a YAML spec.
fn target(name: &str, generation: i64, spec: serde_json::Value) -> Target {
    let spec: SyncSetCommonSpec = serde_json::from_value(spec).unwrap();
    Target {
        name: name.into(),
        generation,
        payload: Arc::new(decode(SyncSet, Some("ns"), &spec)),
        hash_changed: false,
    }
}

fn sync_mode(resources: &[&str]) -> serde_json::Value {
    json!({"resourceApplyMode": "Sync", "resources": resources.iter().map(|n| cm(n)).collect::<Vec<_>>()})
}

fn upsert(resources: &[&str]) -> serde_json::Value {
    json!({"resources": resources.iter().map(|n| cm(n)).collect::<Vec<_>>()})
}

fn success(name: &str, generation: i64, tracked: Vec<SyncResourceReference>) -> SyncStatus {
    SyncStatus {
        name: name.into(),
        observed_generation: generation,
        resources_to_delete: tracked.into(),
        result: SyncSetResult::Success,
        failure_message: None,
        last_transition_time: t(0),
        first_success_time: Some(t(0)),
    }
}

/// A short label for an op, to assert orders.
fn label(op: &Op) -> String {
    match op {
        Op::Apply { object, .. } => format!(
            "apply {}",
            object["metadata"]["name"].as_str().unwrap_or("")
        ),
        Op::ApplySecret { target, .. } => format!("secret {}", target.name),
        Op::Patch(p) => format!("patch {}", p.name),
        Op::Delete(r) => format!("delete {}", r.name),
    }
}

/// Runs to the end, answering each op with `result(label)`.
fn drive(
    mut run: ClusterRun,
    result: impl Fn(&str) -> Result<(), OpError>,
) -> (Vec<String>, Finished) {
    let mut ops = vec![];
    while let Some(op) = run.next_op() {
        let l = label(&op);
        run.record(result(&l));
        ops.push(l);
    }
    (ops, run.finish())
}

fn ok(_: &str) -> Result<(), OpError> {
    Ok(())
}

fn run_ss(targets: Vec<Target>, previous: &[SyncStatus], full: bool) -> ClusterRun {
    ClusterRun::new(targets, vec![], previous, &[], full, t(100))
}

// #3: one resource, Upsert vs Sync.
#[test]
fn one_resource_is_applied_with_the_managed_label_and_tracked_only_in_sync_mode() {
    for (spec, tracked) in [
        (upsert(&["a"]), vec![]),
        (sync_mode(&["a"]), vec![cm_ref("a")]),
    ] {
        let mut run = run_ss(vec![target("test-syncset", 1, spec)], &[], false);
        let Some(Op::Apply { object, behavior }) = run.next_op() else {
            panic!("expected an apply")
        };
        assert_eq!(object["metadata"]["labels"][MANAGED_LABEL], "true");
        assert_eq!(behavior, ApplyBehavior::Apply);
        run.record(Ok(()));
        let f = run.finish();
        let e = &f.sync_sets[0];
        assert_eq!(
            (
                e.result,
                e.observed_generation,
                e.first_success_time.clone()
            ),
            (SyncSetResult::Success, 1, Some(t(100)))
        );
        assert_eq!(e.resources_to_delete, tracked);
        assert!(!f.requeue);
    }
}

// #7 (with gate::time_until_renew): a fresh lease applies nothing; a due one applies everything.
#[test]
fn between_full_reapplies_unchanged_syncsets_are_not_touched() {
    let prev = [success("a", 1, vec![]), success("b", 1, vec![])];
    let targets = || {
        vec![
            target("a", 1, upsert(&["x"])),
            target("b", 1, upsert(&["y"])),
        ]
    };
    let (ops, f) = drive(run_ss(targets(), &prev, false), ok);
    assert!(ops.is_empty());
    assert_eq!(f.sync_sets, prev);
    let (ops, f) = drive(run_ss(targets(), &prev, true), ok);
    assert_eq!(ops, ["apply x", "apply y"]);
    assert_eq!(f.sync_sets, prev, "an identical re-apply changes no entry");
}

// #8, #19: only the new, changed or failed syncset is applied.
#[test]
fn new_changed_and_failed_syncsets_are_applied_without_a_full_reapply() {
    let failed = SyncStatus {
        result: SyncSetResult::Failure,
        failure_message: Some("x".into()),
        ..success("c", 1, vec![])
    };
    let prev = [success("a", 1, vec![]), success("b", 1, vec![]), failed];
    let targets = vec![
        target("a", 1, upsert(&["a"])),
        target("b", 2, upsert(&["b"])),
        target("c", 1, upsert(&["c"])),
        target("d", 1, upsert(&["d"])),
    ];
    let (ops, f) = drive(run_ss(targets, &prev, false), ok);
    assert_eq!(ops, ["apply b", "apply c", "apply d"]);
    assert_eq!(f.sync_sets[0], prev[0], "untouched");
    assert_eq!(f.sync_sets[1].observed_generation, 2);
    assert_eq!(
        f.sync_sets[1].first_success_time,
        Some(t(0)),
        "firstSuccessTime kept"
    );
    assert_eq!(f.sync_sets[2].result, SyncSetResult::Success);
    assert_eq!(f.sync_sets[3].first_success_time, Some(t(100)));
}

// docs/hive-compatibility.md, "Deliberate differences", 2.
#[test]
fn a_content_change_at_the_same_generation_is_applied() {
    let mut changed = target("a", 1, upsert(&["a"]));
    changed.hash_changed = true;
    let (ops, _) = drive(run_ss(vec![changed], &[success("a", 1, vec![])], false), ok);
    assert_eq!(ops, ["apply a"]);
}

// #9: a renamed Sync syncset: the old entry's objects are deleted before the new one applies.
#[test]
fn a_renamed_syncset_deletes_the_old_objects_first_and_keeps_only_the_new_entry() {
    let prev = [success("old", 1, vec![cm_ref("x")])];
    let (ops, f) = drive(
        run_ss(vec![target("new", 1, sync_mode(&["y"]))], &prev, false),
        ok,
    );
    assert_eq!(ops, ["delete x", "apply y"]);
    assert_eq!(
        f.sync_sets
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["new"]
    );
}

// PR #1572's case with hivesync's hand-over rule: the object moves, it is not deleted and recreated.
#[test]
fn an_object_moving_from_a_removed_syncset_to_another_is_not_deleted() {
    let prev = [success("old", 1, vec![cm_ref("x")])];
    let (ops, f) = drive(
        run_ss(vec![target("new", 1, sync_mode(&["x"]))], &prev, false),
        ok,
    );
    assert_eq!(ops, ["apply x"]);
    assert_eq!(f.sync_sets[0].resources_to_delete, [cm_ref("x")]);
}

// #10: a deleted syncset.
#[test]
fn a_deleted_sync_syncset_deletes_its_objects_and_an_upsert_one_does_not() {
    let (ops, f) = drive(
        run_ss(
            vec![],
            &[success("s", 1, vec![cm_ref("a"), cm_ref("b")])],
            false,
        ),
        ok,
    );
    assert_eq!(ops, ["delete a", "delete b"]);
    assert!(f.sync_sets.is_empty());
    let (ops, f) = drive(run_ss(vec![], &[success("s", 1, vec![])], false), ok);
    assert!(ops.is_empty());
    assert!(f.sync_sets.is_empty());
}

// #11: a resource removed from one of two syncsets.
#[test]
fn a_removed_resource_is_deleted_after_the_applies_and_other_syncsets_are_unaffected() {
    let prev = [
        success("a", 1, vec![cm_ref("keep"), cm_ref("gone")]),
        success("b", 1, vec![cm_ref("other")]),
    ];
    let targets = vec![
        target("a", 2, sync_mode(&["keep"])),
        target("b", 1, sync_mode(&["other"])),
    ];
    let (ops, f) = drive(run_ss(targets, &prev, false), ok);
    assert_eq!(ops, ["apply keep", "delete gone"]);
    assert_eq!(f.sync_sets[0].resources_to_delete, [cm_ref("keep")]);
    assert_eq!(f.sync_sets[1], prev[1]);
    // In Upsert mode nothing is deleted.
    let (ops, _) = drive(
        run_ss(
            vec![target("a", 2, upsert(&["keep"]))],
            &[success("a", 1, vec![])],
            false,
        ),
        ok,
    );
    assert_eq!(ops, ["apply keep"]);
}

// #12, #17: an apply error fails that syncset only.
#[test]
fn an_apply_error_fails_its_syncset_with_hive_s_message_and_the_others_still_apply() {
    let targets = vec![
        target("a", 1, upsert(&["a"])),
        target("test-syncset", 1, upsert(&["bad"])),
        target("z", 1, upsert(&["z"])),
    ];
    let (ops, f) = drive(run_ss(targets, &[], false), |l| {
        if l == "apply bad" {
            Err(OpError::Failed("test apply error".into()))
        } else {
            Ok(())
        }
    });
    assert_eq!(ops, ["apply a", "apply bad", "apply z"]);
    let bad = &f.sync_sets[1];
    assert_eq!(bad.result, SyncSetResult::Failure);
    assert_eq!(
        bad.failure_message.as_deref(),
        Some("failed to apply resource 0: test apply error")
    );
    assert_eq!(bad.first_success_time, None);
    assert!(f.requeue);
    assert_eq!(
        failed_condition(&f.sync_sets, &[]).2,
        "SyncSet test-syncset is failing"
    );
    assert_eq!(f.sync_sets[2].result, SyncSetResult::Success);
}

// #13: a decode error applies nothing and asks for no fast requeue.
#[test]
fn a_decode_error_applies_nothing_deletes_nothing_and_does_not_requeue() {
    let prev = [success("s", 1, vec![cm_ref("a")])];
    let bad = target(
        "s",
        2,
        json!({"resourceApplyMode": "Sync", "resources": [cm("a"), {}]}),
    );
    let (ops, f) = drive(run_ss(vec![bad], &prev, false), ok);
    assert!(ops.is_empty());
    let e = &f.sync_sets[0];
    assert_eq!(
        e.failure_message.as_deref(),
        Some("failed to decode resource 1: error unmarshaling JSON: while decoding JSON: Object 'Kind' is missing in '{}'")
    );
    assert_eq!(
        e.resources_to_delete,
        [cm_ref("a")],
        "still tracked, not deleted"
    );
    assert!(!f.requeue);
}

fn everything(patch_type: &str) -> serde_json::Value {
    json!({
        "resourceApplyMode": "Sync",
        "resources": [cm("r0"), cm("r1"), cm("r2")],
        "secretMappings": (0..3).map(|i| json!({"sourceRef": {"name": format!("src{i}")}, "targetRef": {"name": format!("s{i}"), "namespace": "ns"}})).collect::<Vec<_>>(),
        "patches": (0..3).map(|i| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": format!("p{i}"), "namespace": "ns", "patch": "{}", "patchType": patch_type})).collect::<Vec<_>>(),
    })
}

// #6, #15: resources → secrets → patches, stopping at the first failure, whose index the message names.
#[test]
fn operations_run_in_order_and_stop_at_the_first_failure() {
    let all = [
        "apply r0",
        "apply r1",
        "apply r2",
        "secret s0",
        "secret s1",
        "secret s2",
        "patch p0",
        "patch p1",
        "patch p2",
    ];
    let (ops, f) = drive(
        run_ss(vec![target("s", 1, everything("merge"))], &[], false),
        ok,
    );
    assert_eq!(ops, all);
    let tracked: Vec<_> = f.sync_sets[0]
        .resources_to_delete
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        tracked,
        ["r0", "r1", "r2", "s0", "s1", "s2"],
        "resources and secrets tracked, patches never"
    );

    for (at, failing) in all.iter().enumerate() {
        let (ops, f) = drive(
            run_ss(vec![target("s", 1, everything("merge"))], &[], false),
            |l| {
                if l == *failing {
                    Err(OpError::Failed("boom".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(ops, all[..=at], "stops at {failing}");
        let (section, index) = failing.split_once(' ').unwrap();
        let what = match section {
            "apply" => "resource",
            "secret" => "secret",
            _ => "patch",
        };
        let i = &index[index.len() - 1..];
        assert_eq!(
            f.sync_sets[0].failure_message.as_deref(),
            Some(format!("failed to apply {what} {i}: boom").as_str())
        );
        assert_eq!(
            f.sync_sets[0].resources_to_delete.len(),
            at.min(6),
            "only what was applied is tracked"
        );
    }
}

// #14, #27: a missing source secret.
#[test]
fn an_unreadable_source_secret_fails_with_hive_s_read_message() {
    let spec = json!({"secretMappings": [{"sourceRef": {"name": "test-secret"}, "targetRef": {"name": "t", "namespace": "ns"}}]});
    let (_, f) = drive(run_ss(vec![target("s", 1, spec)], &[], false), |_| {
        Err(OpError::ReadSecret(
            "secrets \"test-secret\" not found".into(),
        ))
    });
    assert_eq!(
        f.sync_sets[0].failure_message.as_deref(),
        Some("failed to read secret 0: secrets \"test-secret\" not found")
    );
    assert!(f.requeue);
}

// #25, #26: source namespace errors fail without a fast requeue, and nothing is read.
#[test]
fn a_secret_from_another_namespace_fails_without_requeue() {
    let spec = json!({"secretMappings": [{"sourceRef": {"name": "x", "namespace": "elsewhere"}, "targetRef": {"name": "t", "namespace": "ns"}}]});
    let (ops, f) = drive(run_ss(vec![target("s", 1, spec)], &[], false), ok);
    assert!(ops.is_empty());
    assert_eq!(
        f.sync_sets[0].failure_message.as_deref(),
        Some("source in wrong namespace for secret 0")
    );
    assert!(!f.requeue);
}

// #16: applies first, then deletes; failed deletes stay tracked, sorted, with an aggregated message.
#[test]
fn failed_deletes_of_removed_objects_stay_tracked_and_fail_the_syncset() {
    let gone = |n: &str| reference("v1", "ConfigMap", "namespace-A", n);
    let prev = [success(
        "s",
        1,
        vec![gone("g1"), gone("g2"), gone("g3"), cm_ref("r1")],
    )];
    let (ops, f) = drive(
        run_ss(vec![target("s", 2, sync_mode(&["r1", "r0"]))], &prev, false),
        |l| {
            if l.starts_with("delete") {
                Err(OpError::Failed("could not delete resource: nope".into()))
            } else {
                Ok(())
            }
        },
    );
    assert_eq!(
        ops,
        [
            "apply r1",
            "apply r0",
            "delete g1",
            "delete g2",
            "delete g3"
        ]
    );
    let e = &f.sync_sets[0];
    let names: Vec<_> = e
        .resources_to_delete
        .iter()
        .map(|r| format!("{}/{}", r.namespace, r.name))
        .collect();
    assert_eq!(
        names,
        [
            "namespace-A/g1",
            "namespace-A/g2",
            "namespace-A/g3",
            "ns/r0",
            "ns/r1"
        ]
    );
    assert_eq!(
        e.failure_message.as_deref(),
        Some("[failed to delete v1, Kind=ConfigMap namespace-A/g1: could not delete resource: nope, failed to delete v1, Kind=ConfigMap namespace-A/g2: could not delete resource: nope, failed to delete v1, Kind=ConfigMap namespace-A/g3: could not delete resource: nope]")
    );
    assert!(f.requeue);
}

// #20, #21: a removed syncset whose delete fails is kept at generation 0; the other delete still happens.
#[test]
fn a_removed_syncset_with_a_failed_delete_is_kept_at_generation_zero() {
    let prev = [success("gone", 3, vec![cm_ref("a"), cm_ref("b")])];
    let (ops, f) = drive(run_ss(vec![], &prev, false), |l| {
        if l == "delete a" {
            Err(OpError::Failed("could not delete resource: no".into()))
        } else {
            Ok(())
        }
    });
    assert_eq!(ops, ["delete a", "delete b"]);
    let e = &f.sync_sets[0];
    assert_eq!(
        (e.observed_generation, e.result),
        (0, SyncSetResult::Failure)
    );
    assert_eq!(e.resources_to_delete, [cm_ref("a")]);
    assert_eq!(e.first_success_time, Some(t(0)));
    assert!(f.requeue);
}

// #22: applyBehavior reaches resources and secrets; patches always patch.
#[test]
fn apply_behavior_applies_to_resources_and_secrets_only() {
    for (value, behavior) in [
        ("", ApplyBehavior::Apply),
        ("CreateOnly", ApplyBehavior::CreateOnly),
        ("CreateOrUpdate", ApplyBehavior::CreateOrUpdate),
    ] {
        let mut spec = everything("json");
        spec["applyBehavior"] = json!(value);
        let mut run = run_ss(vec![target("s", 1, spec)], &[], false);
        while let Some(op) = run.next_op() {
            match &op {
                Op::Apply { behavior: b, .. } | Op::ApplySecret { behavior: b, .. } => {
                    assert_eq!(*b, behavior)
                }
                Op::Patch(p) => assert_eq!(p.patch_type, Ok(crate::plan::decode::PatchType::Json)),
                Op::Delete(_) => panic!("nothing to delete"),
            }
            run.record(Ok(()));
        }
    }
}

// SyncSets before SelectorSyncSets, each sorted by name.
#[test]
fn syncsets_run_before_selector_syncsets_each_in_name_order() {
    let run = ClusterRun::new(
        vec![
            target("b", 1, upsert(&["ss-b"])),
            target("a", 1, upsert(&["ss-a"])),
        ],
        vec![
            target("z", 1, upsert(&["sss-z"])),
            target("m", 1, upsert(&["sss-m"])),
        ],
        &[],
        &[],
        false,
        t(1),
    );
    let (ops, f) = drive(run, ok);
    assert_eq!(
        ops,
        ["apply ss-a", "apply ss-b", "apply sss-m", "apply sss-z"]
    );
    assert_eq!(f.selector_sync_sets.len(), 2);
}

// #30, #31 at the run level.
#[test]
fn switching_sync_to_upsert_deletes_nothing_and_upsert_to_sync_starts_tracking() {
    let prev = [success("s", 1, vec![cm_ref("a"), cm_ref("dropped")])];
    let (ops, f) = drive(
        run_ss(vec![target("s", 2, upsert(&["a"]))], &prev, false),
        ok,
    );
    assert_eq!(ops, ["apply a"]);
    assert!(f.sync_sets[0].resources_to_delete.is_empty());
    let (_, f) = drive(
        run_ss(
            vec![target("s", 2, sync_mode(&["a"]))],
            &[success("s", 1, vec![])],
            false,
        ),
        ok,
    );
    assert_eq!(f.sync_sets[0].resources_to_delete, [cm_ref("a")]);
}

// #33 at the run level.
#[test]
fn an_api_version_change_within_a_group_deletes_nothing() {
    let old = reference("foo.io/v1beta1", "Thing", "ns", "x");
    let spec = json!({"resourceApplyMode": "Sync", "resources": [{"apiVersion": "foo.io/v1", "kind": "Thing", "metadata": {"name": "x", "namespace": "ns"}}]});
    let (ops, f) = drive(
        run_ss(
            vec![target("s", 2, spec)],
            &[success("s", 1, vec![old])],
            false,
        ),
        ok,
    );
    assert_eq!(ops, ["apply x"]);
    assert_eq!(
        f.sync_sets[0].resources_to_delete,
        [reference("foo.io/v1", "Thing", "ns", "x")]
    );
}

// docs/hive-compatibility.md, "Deliberate differences", 5: the same object in two syncsets.
#[test]
fn an_object_another_syncset_still_declares_is_not_deleted_when_one_drops_it() {
    let prev = [
        success("a", 1, vec![cm_ref("shared")]),
        success("b", 1, vec![cm_ref("shared")]),
    ];
    let targets = vec![
        target("a", 2, sync_mode(&[])),
        target("b", 1, sync_mode(&["shared"])),
    ];
    let (ops, f) = drive(run_ss(targets, &prev, false), ok);
    assert!(ops.is_empty(), "{ops:?}");
    assert!(
        f.sync_sets[0].resources_to_delete.is_empty(),
        "handed over to b"
    );
    assert_eq!(f.sync_sets[1].resources_to_delete, [cm_ref("shared")]);
}

fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn templated(spec: serde_json::Value, l: &[(&str, &str)]) -> Target {
    let spec: SyncSetCommonSpec = serde_json::from_value(spec).unwrap();
    let payload = crate::plan::decode::decode_for(SelectorSyncSet, None, &spec, &labels(l));
    Target {
        name: "t".into(),
        generation: 1,
        payload: Arc::new(payload),
        hash_changed: false,
    }
}

// #32: templates off send strings unchanged; on, fromCDLabel values are substituted (missing → ""), non-string
// schema fields become strings, and patches are rendered whole.
#[test]
fn templates_render_labels_into_resources_and_patches_only_when_enabled() {
    let resource = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "{{ fromCDLabel \"team\" }}-ns"},
        "data": {"region": "{{ fromCDLabel \"region\" }}", "missing": "[{{ fromCDLabel \"nope\" }}]"},
        "spec": {"failureThreshold": "{{ fromCDLabel \"n\" }}"}});
    let patch = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "p", "namespace": "ns",
        "patch": "{\"data\":{\"r\":\"{{ fromCDLabel \"region\" }}\"}}", "patchType": "merge"});
    let l = [("team", "blue"), ("region", "eu"), ("n", "4")];
    let off = templated(
        json!({"resources": [resource.clone()], "patches": [patch.clone()]}),
        &l,
    );
    assert_eq!(
        off.payload.objects[0].object["data"]["region"],
        "{{ fromCDLabel \"region\" }}"
    );
    let on = templated(
        json!({"enableResourceTemplates": true, "enablePatchTemplates": true, "resources": [resource], "patches": [patch]}),
        &l,
    );
    let o = &on.payload.objects[0].object;
    assert_eq!(o["metadata"]["namespace"], "blue-ns");
    assert_eq!(o["data"]["region"], "eu");
    assert_eq!(o["data"]["missing"], "[]");
    assert_eq!(
        o["spec"]["failureThreshold"], "4",
        "a template yields a string"
    );
    assert_eq!(
        on.payload.references[0].namespace, "blue-ns",
        "identity is taken after templating"
    );
    assert_eq!(on.payload.patches[0].patch, "{\"data\":{\"r\":\"eu\"}}");
}

#[test]
fn a_label_change_changes_a_templated_payload_s_hash() {
    let spec = json!({"enableResourceTemplates": true, "resources": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"v": "{{ fromCDLabel \"v\" }}"}}]});
    let a = templated(spec.clone(), &[("v", "1")]);
    let b = templated(spec.clone(), &[("v", "2")]);
    let c = templated(spec, &[("v", "1"), ("unrelated", "x")]);
    assert_ne!(a.payload.hash, b.payload.hash);
    assert_eq!(
        a.payload.hash, c.payload.hash,
        "labels the templates do not read change nothing sent"
    );
}

// "Templates": a resource template error fails the syncset before anything is applied, without a fast requeue.
#[test]
fn a_resource_template_error_applies_nothing() {
    let spec = json!({"enableResourceTemplates": true, "resources": [cm("ok"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad", "namespace": "ns"}, "data": {"x": "{{ nope }}"}}]});
    let (ops, f) = drive(
        ClusterRun::new(vec![], vec![templated(spec, &[])], &[], &[], false, t(1)),
        ok,
    );
    assert!(ops.is_empty());
    let msg = f.selector_sync_sets[0].failure_message.clone().unwrap();
    assert!(
        msg.starts_with("failed to parameterize resource 1: Failed to apply template to value "),
        "{msg}"
    );
    assert!(msg.contains("function \"nope\" not defined"), "{msg}");
    assert!(!f.requeue);
}

// "Templates": a patch template error skips that patch, runs the others, then fails the syncset.
#[test]
fn a_patch_template_error_skips_that_patch_and_fails_after_the_rest() {
    let p = |name: &str, body: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": name, "namespace": "ns", "patch": body, "patchType": "merge"});
    let spec = json!({"enablePatchTemplates": true, "patches": [p("p0", "{{ bad"), p("p1", "{}")]});
    let (ops, f) = drive(
        ClusterRun::new(vec![], vec![templated(spec, &[])], &[], &[], false, t(1)),
        ok,
    );
    assert_eq!(ops, ["patch p1"]);
    let msg = f.selector_sync_sets[0].failure_message.clone().unwrap();
    assert!(
        msg.starts_with("failed to parameterize patch 0: failed to parse template string"),
        "{msg}"
    );
    assert!(!f.requeue);
}
