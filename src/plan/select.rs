//! Which syncsets target one cluster (`targets_for`), and the operations a full sync of that cluster would send, each
//! attributed to its syncset and its position in the user's lists (`full_sync_plan`). Pure: the controller and the
//! `render` and `diff` commands share it, so what they show is what the controller sends.
//!
//! `payload_for` is the one place a syncset's payload for one cluster is made: decoded, with Hive's templates
//! (`fromCDLabel`) rendered from the cluster's labels.

use std::collections::VecDeque;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::{Resource, ResourceExt};
use serde_json::Value;

use super::decode::{self, Payload, SyncSetKind};
use super::entry::previous_for_mode;
use super::identity::contains;
use super::run::{ClusterRun, Op, Target};
use super::target::{selector_error, selector_syncset_targets, syncset_targets};
use crate::api::{
    ClusterDeployment, ClusterSyncStatus, SecretReference, SelectorSyncSet, SyncResourceReference,
    SyncSet, SyncSetCommonSpec, SyncStatus,
};

/// The payload of one syncset for one cluster. `namespace` is the SyncSet's namespace (None for a SelectorSyncSet).
pub fn payload_for(
    kind: SyncSetKind,
    namespace: Option<&str>,
    spec: &SyncSetCommonSpec,
    cd: &ClusterDeployment,
) -> Payload {
    decode::decode_for(kind, namespace, spec, cd.labels())
}

/// Where payloads come from. The default decodes each syncset afresh; the controller shares decoded payloads across
/// clusters and knows which content it applied last.
pub trait Payloads {
    /// The payload of a syncset for this cluster; `make` builds it (`decode::is_templated(spec)` tells whether it
    /// depends on the cluster).
    fn payload(
        &mut self,
        _kind: SyncSetKind,
        _meta: &ObjectMeta,
        _spec: &SyncSetCommonSpec,
        make: &dyn Fn() -> Payload,
    ) -> Arc<Payload> {
        Arc::new(make())
    }

    /// Whether the payload differs from the one last applied to this cluster (false when unknown).
    fn hash_changed(&self, _kind: SyncSetKind, _name: &str, _payload: &Payload) -> bool {
        false
    }
}

/// Decodes every syncset afresh; no content is known to have been applied.
pub struct Fresh;

impl Payloads for Fresh {}

/// The SyncSets and SelectorSyncSets that target `cd` now, as `(sync_sets, selector_sync_sets)`. `previous` is the
/// cluster's ClusterSync status: a SelectorSyncSet whose selector no longer parses keeps its entry (failing, nothing
/// applied or deleted) instead of silently matching nothing, which in Sync mode would delete everything it made.
pub fn targets_for<'a>(
    cd: &ClusterDeployment,
    sync_sets: impl IntoIterator<Item = &'a SyncSet>,
    selector_sync_sets: impl IntoIterator<Item = &'a SelectorSyncSet>,
    previous: &ClusterSyncStatus,
) -> (Vec<Target>, Vec<Target>) {
    targets_with(cd, sync_sets, selector_sync_sets, previous, &mut Fresh)
}

/// [`targets_for`] with payloads from `payloads`.
pub fn targets_with<'a>(
    cd: &ClusterDeployment,
    sync_sets: impl IntoIterator<Item = &'a SyncSet>,
    selector_sync_sets: impl IntoIterator<Item = &'a SelectorSyncSet>,
    previous: &ClusterSyncStatus,
    payloads: &mut dyn Payloads,
) -> (Vec<Target>, Vec<Target>) {
    let target = |kind: SyncSetKind, meta: &ObjectMeta, payload: Arc<Payload>, p: &dyn Payloads| {
        let name = meta.name.clone().unwrap_or_default();
        Target {
            hash_changed: p.hash_changed(kind, &name, &payload),
            name,
            generation: meta.generation.unwrap_or(0),
            payload,
        }
    };
    let mut ss = Vec::new();
    for s in sync_sets.into_iter().filter(|s| syncset_targets(s, cd)) {
        let make = || {
            payload_for(
                SyncSetKind::SyncSet,
                s.namespace().as_deref(),
                &s.spec.common,
                cd,
            )
        };
        let payload = payloads.payload(SyncSetKind::SyncSet, s.meta(), &s.spec.common, &make);
        ss.push(target(SyncSetKind::SyncSet, s.meta(), payload, payloads));
    }
    let mut sss = Vec::new();
    for s in selector_sync_sets {
        let kind = SyncSetKind::SelectorSyncSet;
        if let Some(err) = selector_error(s.spec.cluster_deployment_selector.as_ref()) {
            if previous
                .selector_sync_sets
                .iter()
                .any(|e| e.name == s.name_any())
            {
                let payload = Payload::invalid(format!("invalid clusterDeploymentSelector: {err}"));
                sss.push(target(kind, s.meta(), Arc::new(payload), payloads));
            }
            continue;
        }
        if selector_syncset_targets(s, cd) {
            let make = || payload_for(kind, None, &s.spec.common, cd);
            let payload = payloads.payload(kind, s.meta(), &s.spec.common, &make);
            sss.push(target(kind, s.meta(), payload, payloads));
        }
    }
    (ss, sss)
}

/// A SyncSet or SelectorSyncSet on the hub that hivesync cannot decode (too deep, a field of the wrong type: see
/// `hub::watch::lenient`), as far as it can still be read.
#[derive(Clone, Debug)]
pub struct Undecoded<'a> {
    pub kind: SyncSetKind,
    pub name: &'a str,
    pub generation: i64,
    pub error: &'a str,
    /// Whether it targets this cluster; `None` when its targeting fields do not decode either.
    pub targets: Option<bool>,
}

/// Undecodable syncsets fail on this cluster with the reason, and keep what they track: one is never taken for a
/// deleted syncset (in Sync mode that would delete its objects), nor for its last version that did decode. Those
/// whose targets are unknown fail only where the ClusterSync already records them.
pub fn fail_undecodable(
    ss: &mut Vec<Target>,
    sss: &mut Vec<Target>,
    undecoded: &[Undecoded],
    previous: &ClusterSyncStatus,
) {
    for u in undecoded {
        let (targets, recorded) = match u.kind {
            SyncSetKind::SyncSet => (&mut *ss, &previous.sync_sets),
            SyncSetKind::SelectorSyncSet => (&mut *sss, &previous.selector_sync_sets),
        };
        let payload = Arc::new(Payload::invalid(format!(
            "could not decode the {}: {}",
            u.kind.as_str(),
            u.error
        )));
        let failing = Target {
            name: u.name.to_string(),
            generation: u.generation,
            payload,
            hash_changed: false,
        };
        if let Some(t) = targets.iter_mut().find(|t| t.name == u.name) {
            *t = failing;
        } else if u.targets == Some(true)
            || (u.targets.is_none() && recorded.iter().any(|e| e.name == u.name))
        {
            targets.push(failing);
        }
    }
}

/// Where an operation comes from in its syncset: the index in the user's list, as Hive's messages count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Resource(usize),
    SecretMapping(usize),
    Patch(usize),
    /// A delete of a tracked object (Sync mode).
    Delete,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resource(i) => write!(f, "resources[{i}]"),
            Self::SecretMapping(i) => write!(f, "secretMappings[{i}]"),
            Self::Patch(i) => write!(f, "patches[{i}]"),
            Self::Delete => f.write_str("resourcesToDelete"),
        }
    }
}

/// One operation of a full sync, with the syncset it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedOp {
    pub kind: SyncSetKind,
    pub syncset: String,
    pub position: Position,
    pub op: Op,
}

/// Something of a syncset that would not be sent, and why (Hive's message).
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    pub kind: SyncSetKind,
    pub syncset: String,
    pub message: String,
}

/// What a full sync of one cluster would send, in the order it would send it, assuming every call succeeds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FullSyncPlan {
    pub ops: Vec<PlannedOp>,
    pub skipped: Vec<Skipped>,
}

/// Drives the controller's own state machine (`ClusterRun`) through a full re-apply, answering every op with
/// success, and attributes each op to its syncset.
pub fn full_sync_plan(
    sync_sets: Vec<Target>,
    selector_sync_sets: Vec<Target>,
    previous: &ClusterSyncStatus,
    now: Time,
) -> FullSyncPlan {
    let mut locator = Locator::new(&sync_sets, &selector_sync_sets, previous);
    let skipped =
        sync_sets
            .iter()
            .map(|t| (SyncSetKind::SyncSet, t))
            .chain(
                selector_sync_sets
                    .iter()
                    .map(|t| (SyncSetKind::SelectorSyncSet, t)),
            )
            .flat_map(|(kind, t)| {
                let p = &t.payload;
                let secret = p.secrets.iter().find_map(|s| s.source.as_ref().err()).map(|m| {
                format!("{m}: the secret mappings from this one on and the patches are not applied")
            });
                let messages: Vec<String> = match &p.decode_error {
                    Some(e) => vec![e.clone()],
                    None => secret
                        .into_iter()
                        .chain(p.patch_template_errors.iter().cloned())
                        .collect(),
                };
                messages.into_iter().map(move |message| Skipped {
                    kind,
                    syncset: t.name.clone(),
                    message,
                })
            })
            .collect();
    let mut run = ClusterRun::new(
        sync_sets,
        selector_sync_sets,
        &previous.sync_sets,
        &previous.selector_sync_sets,
        true,
        now,
    );
    let mut ops = Vec::new();
    while let Some(op) = run.next_op() {
        run.record(Ok(()));
        let (kind, syncset, position) = locator.locate(&op).unwrap_or((
            SyncSetKind::SyncSet,
            "<unknown>".into(),
            Position::Delete,
        ));
        ops.push(PlannedOp {
            kind,
            syncset,
            position,
            op,
        });
    }
    FullSyncPlan { ops, skipped }
}

enum Expect {
    Object(Value),
    Secret(SecretReference),
    Patch(usize),
}

/// One syncset as `ClusterRun` walks it: the ops it will hand out, in order, and the objects it may delete.
struct Unit {
    kind: SyncSetKind,
    name: String,
    expected: VecDeque<(Position, Expect)>,
    deletable: Vec<SyncResourceReference>,
}

/// Follows `ClusterRun`'s order (SyncSets then SelectorSyncSets; per kind the syncsets that no longer apply, then
/// each target by name: resources, secret mappings, patches, deletes). With every op answered by success, each op is
/// the next expected op of the current unit or of a later one, so a forward-only cursor attributes it.
struct Locator {
    units: Vec<Unit>,
    cursor: usize,
}

impl Locator {
    fn new(ss: &[Target], sss: &[Target], previous: &ClusterSyncStatus) -> Self {
        let mut units = Vec::new();
        for (kind, targets, prev) in [
            (SyncSetKind::SyncSet, ss, &previous.sync_sets),
            (
                SyncSetKind::SelectorSyncSet,
                sss,
                &previous.selector_sync_sets,
            ),
        ] {
            let mut targets: Vec<&Target> = targets.iter().collect();
            targets.sort_by(|a, b| a.name.cmp(&b.name));
            for p in prev
                .iter()
                .filter(|p| !targets.iter().any(|t| t.name == p.name))
            {
                units.push(Unit {
                    kind,
                    name: p.name.clone(),
                    expected: VecDeque::new(),
                    deletable: p.resources_to_delete.to_vec(),
                });
            }
            for t in targets {
                units.push(Self::unit(kind, t, prev));
            }
        }
        Self { units, cursor: 0 }
    }

    fn unit(kind: SyncSetKind, t: &Target, prev: &[SyncStatus]) -> Unit {
        let p = &t.payload;
        let mut expected = VecDeque::new();
        let mut deletable = Vec::new();
        if p.decode_error.is_none() {
            for o in &p.objects {
                expected.push_back((
                    Position::Resource(o.index),
                    Expect::Object(o.object.clone()),
                ));
            }
            let mut secrets_ok = true;
            for s in &p.secrets {
                if s.source.is_err() {
                    secrets_ok = false;
                    break;
                }
                expected.push_back((
                    Position::SecretMapping(s.index),
                    Expect::Secret(s.target.clone()),
                ));
            }
            if secrets_ok {
                for patch in &p.patches {
                    expected.push_back((Position::Patch(patch.index), Expect::Patch(patch.index)));
                }
            }
            let prev = prev.iter().find(|e| e.name == t.name);
            deletable = previous_for_mode(prev, p.mode)
                .map(|e| e.resources_to_delete.to_vec())
                .unwrap_or_default();
        }
        Unit {
            kind,
            name: t.name.clone(),
            expected,
            deletable,
        }
    }

    fn locate(&mut self, op: &Op) -> Option<(SyncSetKind, String, Position)> {
        while let Some(u) = self.units.get_mut(self.cursor) {
            let front = u.expected.front().map(|(_, e)| e);
            let hit = match (op, front) {
                (Op::Apply { object, .. }, Some(Expect::Object(o))) => o == object,
                (Op::ApplySecret { target, .. }, Some(Expect::Secret(t))) => t == target,
                (Op::Patch(p), Some(Expect::Patch(i))) => p.index == *i,
                (Op::Delete(r), _) => contains(&u.deletable, r),
                _ => false,
            };
            if hit {
                let position = match op {
                    Op::Delete(r) => {
                        u.expected.clear();
                        u.deletable.retain(|d| !super::identity::same_object(d, r));
                        Position::Delete
                    }
                    _ => u.expected.pop_front().map(|(p, _)| p)?,
                };
                return Some((u.kind, u.name.clone(), position));
            }
            self.cursor += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SyncSetResult;
    use crate::plan::identity::reference;
    use serde_json::json;

    fn cd(labels: Value) -> ClusterDeployment {
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": "c1", "namespace": "ns1", "labels": labels},
            "spec": {"clusterName": "c1", "baseDomain": "d", "installed": true, "platform": {},
                     "clusterMetadata": {"clusterID": "x", "infraID": "y", "adminKubeconfigSecretRef": {"name": "k"}}}
        }))
        .unwrap()
    }

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "spoke"}})
    }

    fn ss(namespace: &str, name: &str, cd: &str, spec: Value) -> SyncSet {
        let mut spec = spec;
        spec["clusterDeploymentRefs"] = json!([{"name": cd}]);
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
            "metadata": {"name": name, "namespace": namespace, "generation": 2}, "spec": spec
        }))
        .unwrap()
    }

    fn sss(name: &str, selector: Value, spec: Value) -> SelectorSyncSet {
        let mut spec = spec;
        spec["clusterDeploymentSelector"] = selector;
        serde_json::from_value(json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
            "metadata": {"name": name, "generation": 1}, "spec": spec
        }))
        .unwrap()
    }

    fn entry(name: &str, tracked: Vec<SyncResourceReference>) -> SyncStatus {
        SyncStatus {
            name: name.into(),
            observed_generation: 1,
            resources_to_delete: tracked.into(),
            result: SyncSetResult::Success,
            failure_message: None,
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            first_success_time: None,
        }
    }

    fn now() -> Time {
        Time(jiff::Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn undecodable_syncsets_fail_where_they_target_or_are_recorded_and_are_never_taken_for_deleted()
    {
        let decoded = |name: &str| Target {
            name: name.into(),
            generation: 3,
            payload: Arc::new(Payload::invalid("placeholder".into())),
            hash_changed: true,
        };
        // The last version of `stale` that decoded is still in the store: its target is replaced, not kept.
        let (mut ss, mut sss) = (vec![decoded("stale")], vec![]);
        let previous = ClusterSyncStatus {
            selector_sync_sets: vec![entry(
                "recorded",
                vec![reference("v1", "Secret", "ns", "s")],
            )],
            ..Default::default()
        };
        let u = |kind, name, targets| Undecoded {
            kind,
            name,
            generation: 4,
            error: "spec.resourceApplyMode: invalid type: integer, expected a string",
            targets,
        };
        fail_undecodable(
            &mut ss,
            &mut sss,
            &[
                u(SyncSetKind::SyncSet, "stale", Some(true)),
                u(SyncSetKind::SyncSet, "elsewhere", Some(false)),
                u(SyncSetKind::SelectorSyncSet, "recorded", None),
                u(SyncSetKind::SelectorSyncSet, "unknown", None),
                u(SyncSetKind::SelectorSyncSet, "matching", Some(true)),
            ],
            &previous,
        );
        let names = |t: &[Target]| t.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&ss), ["stale"]);
        assert_eq!(names(&sss), ["recorded", "matching"]);
        for t in ss.iter().chain(&sss) {
            assert_eq!(t.generation, 4);
            assert_eq!(
                t.payload.mode,
                crate::plan::decode::ApplyMode::Other,
                "tracking is kept"
            );
            assert!(!t.hash_changed);
        }
        assert_eq!(
            sss[0].payload.decode_error.as_deref(),
            Some("could not decode the SelectorSyncSet: spec.resourceApplyMode: invalid type: integer, expected a string")
        );
    }

    #[test]
    fn syncsets_are_selected_by_namespace_and_ref_and_selector_syncsets_by_labels() {
        let cd = cd(json!({"env": "prod"}));
        let sync_sets = [
            ss("ns1", "mine", "c1", json!({})),
            ss("ns1", "other-cluster", "c2", json!({})),
            ss("ns2", "other-namespace", "c1", json!({})),
        ];
        let selector_sync_sets = [
            sss("prod", json!({"matchLabels": {"env": "prod"}}), json!({})),
            sss("dev", json!({"matchLabels": {"env": "dev"}}), json!({})),
        ];
        let (a, b) = targets_for(
            &cd,
            &sync_sets,
            &selector_sync_sets,
            &ClusterSyncStatus::default(),
        );
        let names = |t: &[Target]| t.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), ["mine"]);
        assert_eq!(names(&b), ["prod"]);
        assert_eq!(a[0].generation, 2);
    }

    #[test]
    fn an_invalid_selector_keeps_the_entry_it_had_as_a_failing_target() {
        let cd = cd(json!({}));
        let bad =
            json!({"matchExpressions": [{"key": "env", "operator": "Bogus", "values": ["a"]}]});
        let list = [sss("broken", bad, json!({"resources": [cm("a")]}))];
        let none: [SyncSet; 0] = [];
        let (_, fresh) = targets_for(&cd, &none, &list, &ClusterSyncStatus::default());
        assert!(
            fresh.is_empty(),
            "no entry: the broken selector matches nothing"
        );
        let previous = ClusterSyncStatus {
            selector_sync_sets: vec![entry("broken", vec![])],
            ..Default::default()
        };
        let (_, kept) = targets_for(&cd, &none, &list, &previous);
        assert_eq!(kept.len(), 1);
        assert!(kept[0]
            .payload
            .decode_error
            .as_deref()
            .unwrap()
            .starts_with("invalid clusterDeploymentSelector: "));
    }

    #[test]
    fn every_op_of_a_full_sync_is_attributed_to_its_syncset_and_list_position() {
        let cd = cd(json!({"env": "prod"}));
        let sync_sets = [ss(
            "ns1",
            "b-ss",
            "c1",
            json!({
                "resourceApplyMode": "Sync",
                "resources": [cm("x"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "spoke"}}],
                "secretMappings": [{"sourceRef": {"name": "s"}, "targetRef": {"name": "t", "namespace": "spoke"}}],
                "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "p", "patch": "{}", "patchType": "merge"}],
            }),
        )];
        // The same object in two syncsets: each op goes to the syncset that sends it.
        let selector_sync_sets = [
            sss("a-sss", json!({}), json!({"resources": [cm("x")]})),
            sss("z-sss", json!({}), json!({"resources": [cm("x")]})),
        ];
        let previous = ClusterSyncStatus {
            sync_sets: vec![
                entry("b-ss", vec![reference("v1", "ConfigMap", "spoke", "gone")]),
                entry(
                    "a-deleted",
                    vec![reference("v1", "ConfigMap", "spoke", "orphan")],
                ),
            ],
            ..Default::default()
        };
        let (a, b) = targets_for(&cd, &sync_sets, &selector_sync_sets, &previous);
        let plan = full_sync_plan(a, b, &previous, now());
        let got: Vec<String> = plan
            .ops
            .iter()
            .map(|p| {
                let what = match &p.op {
                    Op::Apply { object, .. } => {
                        format!("apply {}", object["metadata"]["name"].as_str().unwrap())
                    }
                    Op::ApplySecret { target, .. } => format!("secret {}", target.name),
                    Op::Patch(p) => format!("patch {}", p.name),
                    Op::Delete(r) => format!("delete {}", r.name),
                };
                format!("{} {} {} {what}", p.kind.as_str(), p.syncset, p.position)
            })
            .collect();
        assert_eq!(
            got,
            [
                "SyncSet a-deleted resourcesToDelete delete orphan",
                "SyncSet b-ss resources[1] apply spoke",
                "SyncSet b-ss resources[0] apply x",
                "SyncSet b-ss secretMappings[0] secret t",
                "SyncSet b-ss patches[0] patch p",
                "SyncSet b-ss resourcesToDelete delete gone",
                "SelectorSyncSet a-sss resources[0] apply x",
                "SelectorSyncSet z-sss resources[0] apply x",
            ]
        );
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn templates_render_from_the_cluster_s_labels_and_patch_template_errors_are_skipped() {
        let cd = cd(json!({"region": "eu"}));
        let list = [sss(
            "t",
            json!({}),
            json!({
                "enableResourceTemplates": true,
                "enablePatchTemplates": true,
                "resources": [{"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "c-{{ fromCDLabel \"region\" }}", "namespace": "spoke"}}],
                "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "p", "patch": "{{ nope }}"}],
            }),
        )];
        let none: [SyncSet; 0] = [];
        let (a, b) = targets_for(&cd, &none, &list, &ClusterSyncStatus::default());
        let plan = full_sync_plan(a, b, &ClusterSyncStatus::default(), now());
        match &plan.ops[..] {
            [PlannedOp {
                op: Op::Apply { object, .. },
                ..
            }] => {
                assert_eq!(object["metadata"]["name"], "c-eu")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(plan.skipped.len(), 1, "{plan:?}");
        assert!(
            plan.skipped[0]
                .message
                .starts_with("failed to parameterize patch 0: "),
            "{plan:?}"
        );
    }

    #[test]
    fn a_bad_secret_source_stops_the_syncset_and_is_reported_as_skipped() {
        let cd = cd(json!({}));
        let list = [sss(
            "s",
            json!({}),
            json!({
                "resources": [cm("x")],
                "secretMappings": [{"sourceRef": {"name": "s"}, "targetRef": {"name": "t", "namespace": "spoke"}}],
                "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "p", "patch": "{}"}],
            }),
        )];
        let none: [SyncSet; 0] = [];
        let (a, b) = targets_for(&cd, &none, &list, &ClusterSyncStatus::default());
        let plan = full_sync_plan(a, b, &ClusterSyncStatus::default(), now());
        assert_eq!(plan.ops.len(), 1, "{plan:?}");
        assert_eq!(plan.ops[0].position, Position::Resource(0));
        assert_eq!(
            plan.skipped[0].message,
            "source namespace missing for secret 0: the secret mappings from this one on and the patches are not applied"
        );
    }
}
