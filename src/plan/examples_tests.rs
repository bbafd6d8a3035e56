//! The plan run over the Hive manifests of `deploy/examples/` (taken from real use: the adopted cluster, the addons
//! flow's SyncSet, an operator-installing SelectorSyncSet), as the controller would see them on a hub: which syncsets
//! target the cluster, what is applied in which order, what Sync mode tracks, and the status it ends with.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;

use super::run::{ClusterRun, Op};
use super::select::targets_for;
use super::status::{self, FirstSuccess, HealthUpdate};
use crate::api::{ClusterDeployment, ClusterSyncStatus, SelectorSyncSet, SyncSet, SyncSetResult};

/// Every object of an example file (YAML documents, `v1 List`s unpacked).
fn objects(file: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let docs: Vec<Value> = serde_saphyr::from_multiple(file).expect("an example is YAML");
    for v in docs {
        if v["kind"] == "List" {
            out.extend(v["items"].as_array().cloned().unwrap_or_default());
        } else if !v.is_null() {
            out.push(v);
        }
    }
    out
}

fn of_kind<T: serde::de::DeserializeOwned>(objects: &[Value], kind: &str) -> Vec<T> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| serde_json::from_value(o.clone()).expect("decodes as Hive's type"))
        .collect()
}

struct Hub {
    cd: ClusterDeployment,
    sync_sets: Vec<SyncSet>,
    selector_sync_sets: Vec<SelectorSyncSet>,
}

fn hub(extra_labels: &[(&str, &str)]) -> Hub {
    let all: Vec<Value> = [
        include_str!("../../deploy/examples/adopted.clusterdeployment.yaml"),
        include_str!("../../deploy/examples/addon-install.syncset.yaml"),
        include_str!("../../deploy/examples/addon-managed-odh.selectorsyncset.yaml"),
        include_str!("../../deploy/examples/cso-test.selectorsyncset.yaml"),
    ]
    .into_iter()
    .flat_map(objects)
    .collect();
    let mut cd: ClusterDeployment = of_kind(&all, "ClusterDeployment").remove(0);
    let labels: &mut BTreeMap<String, String> =
        cd.metadata.labels.get_or_insert_with(Default::default);
    for (k, v) in extra_labels {
        labels.insert(k.to_string(), v.to_string());
    }
    Hub {
        cd,
        sync_sets: of_kind(&all, "SyncSet"),
        selector_sync_sets: of_kind(&all, "SelectorSyncSet"),
    }
}

fn now() -> Time {
    Time(jiff::Timestamp::from_second(1_700_000_000).unwrap())
}

/// Runs a first sync of the cluster where every operation succeeds; returns the operations sent and the status.
fn first_sync(hub: &Hub) -> (Vec<Op>, ClusterSyncStatus) {
    let previous = ClusterSyncStatus::default();
    let (ss, sss) = targets_for(
        &hub.cd,
        hub.sync_sets.iter(),
        hub.selector_sync_sets.iter(),
        &previous,
    );
    let mut run = ClusterRun::new(ss, sss, &[], &[], false, now());
    let mut ops = Vec::new();
    while let Some(op) = run.next_op() {
        ops.push(op);
        run.record(Ok(()));
    }
    let finished = run.finish();
    let status = status::next(
        &previous,
        finished.sync_sets,
        finished.selector_sync_sets,
        FirstSuccess::Compute { installed: true },
        HealthUpdate::Keep,
        &now(),
    );
    (ops, status)
}

fn applied(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Apply { object, .. } => Some(format!(
                "{} {}",
                object["kind"].as_str().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default()
            )),
            Op::ApplySecret { target, .. } => Some(format!("Secret {}", target.name)),
            Op::Patch(p) => Some(format!("patch {} {}", p.kind, p.name)),
            Op::Delete(_) => None,
        })
        .collect()
}

#[test]
fn the_adopted_cluster_gets_the_addon_syncset_and_the_cso_selector_syncset_in_hive_s_order() {
    let hub = hub(&[]);
    let (ops, status) = first_sync(&hub);
    // The SyncSet names the cluster; cso-test selects its label; addon-managed-odh selects a label it lacks.
    assert_eq!(
        status
            .sync_sets
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["addon-reference-addon"]
    );
    assert_eq!(
        status
            .selector_sync_sets
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["cso-test"]
    );
    // Inside a syncset: resources (Namespaces first), then secret mappings, then patches.
    assert_eq!(
        applied(&ops),
        [
            "Namespace redhat-reference-addon",
            "ConfigMap addon-parameters",
            "Secret addon-pull-secret",
            "patch ConfigMap addon-parameters",
            "Namespace cso",
        ]
    );
    // Sync mode tracks what it applied, the patch excepted; every entry succeeded, so the cluster's first success is set.
    let tracked: Vec<String> = status.sync_sets[0]
        .resources_to_delete
        .iter()
        .map(|r| format!("{} {}", r.kind, r.name))
        .collect();
    assert_eq!(
        tracked.len(),
        3,
        "the Namespace, the ConfigMap and the copied Secret are tracked: {tracked:?}"
    );
    assert!(status
        .sync_sets
        .iter()
        .chain(&status.selector_sync_sets)
        .all(|e| e.result == SyncSetResult::Success));
    assert_eq!(status.conditions[0].status, "False");
    assert!(status.first_success_time.is_some());
}

#[test]
fn labelling_the_cluster_for_the_operator_addon_adds_its_olm_objects_after_the_namespace() {
    let hub = hub(&[("api.openshift.com/addon-managed-odh", "true")]);
    let (ops, status) = first_sync(&hub);
    assert!(status
        .selector_sync_sets
        .iter()
        .any(|e| e.name == "addon-managed-odh"));
    let odh: Vec<String> = applied(&ops)
        .into_iter()
        .filter(|a| {
            [
                "CatalogSource",
                "OperatorGroup",
                "Subscription",
                "Namespace redhat-opendatahub",
            ]
            .iter()
            .any(|k| a.starts_with(k))
        })
        .collect();
    assert_eq!(
        odh.first().map(String::as_str),
        Some("Namespace redhat-opendatahub"),
        "{odh:?}"
    );
    assert!(odh.iter().any(|a| a.starts_with("Subscription")), "{odh:?}");
}
