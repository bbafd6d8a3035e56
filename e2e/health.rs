//! What happened on the cluster after a sync: the health of applied objects in the ClusterSync's `Healthy` condition
//! and in Events, and drift (an object deleted or an owned field changed on the spoke) put back.
//!
//! The spokes run a kube-controller-manager but no kubelet and no scheduler, so a Deployment's pods stay Pending and a
//! Job's pod never runs: the tests play the kubelet and write pod status through the `status` subresource, and the
//! spoke's own controllers turn that into the Deployment's and Job's status. OLM's objects have no controller at all:
//! their CRDs are made here and their status written as OLM would.

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use hivesync::api::ClusterSyncCondition;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::{json, Value};

use crate::support::*;

/// How long the controller gets to notice a change on the spoke: its first look after an apply is 2 s later, then
/// with backoff while something settles (at most a minute), and the drift interval of these tests' syncsets is 2 s.
const NOTICE: Duration = Duration::from_secs(90);

/// The syncset body with `hivesync.io/drift-interval` set (a short one keeps the tests fast).
fn with_drift_interval(mut obj: Value, interval: &str) -> Value {
    obj["metadata"]["annotations"] = json!({ "hivesync.io/drift-interval": interval });
    obj
}

/// Waits until the cluster's ClusterSync has a `Healthy` condition satisfying `want`; returns it.
async fn wait_healthy(
    cluster: &Cluster,
    what: &str,
    want: impl Fn(&ClusterSyncCondition) -> bool,
) -> Result<ClusterSyncCondition> {
    let want = &want;
    wait_for(NOTICE, Duration::from_millis(250), || async move {
        let cs = cluster.cluster_sync().await?;
        let healthy = cs
            .as_ref()
            .and_then(|cs| cs.status.as_ref())
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Healthy"))
            .cloned();
        match healthy {
            Some(c) if want(&c) => Ok(c),
            Some(c) => anyhow::bail!(
                "Healthy is {}/{}: {} (want {what})",
                c.status,
                c.reason,
                c.message
            ),
            None => anyhow::bail!("no Healthy condition yet (want {what})"),
        }
    })
    .await
}

fn is(status: &'static str, reason: &'static str) -> impl Fn(&ClusterSyncCondition) -> bool {
    move |c| c.status == status && c.reason == reason
}

/// The Events about the cluster's ClusterDeployment with `reason`.
async fn events(cluster: &Cluster, hub: &kube::Client, reason: &str) -> Result<Vec<Event>> {
    let all = Api::<Event>::namespaced(hub.clone(), cluster.ns())
        .list(&ListParams::default())
        .await?;
    Ok(all
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(&cluster.name))
        .collect())
}

/// Plays the kubelet: every pod in `namespace` matching `selector` is set to `phase`, Ready when Running.
async fn set_pods(spoke: &Spoke, namespace: &str, selector: &str, phase: &str) -> Result<usize> {
    let pods = spoke.api::<Pod>(namespace);
    let (pods, selector) = (&pods, selector);
    let listed = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async move {
            let listed = pods.list(&ListParams::default().labels(selector)).await?;
            ensure!(!listed.items.is_empty(), "no pod matches {selector} yet");
            Ok(listed.items)
        },
    )
    .await?;
    let ready = if phase == "Running" { "True" } else { "False" };
    for pod in &listed {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let mut status = json!({"phase": phase, "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": ready, "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ]});
        if phase == "Failed" {
            status["reason"] = json!("Error");
            status["containerStatuses"] = json!([{"name": "c", "image": "registry.invalid/job:1", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]);
        }
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .with_context(|| format!("setting pod {namespace}/{name} {phase}"))?;
    }
    Ok(listed.len())
}

#[tokio::test]
async fn a_deployment_is_progressing_until_its_pods_are_ready_then_the_cluster_is_healthy(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-health-deploy").on(1).reachable().await?;
    let spoke_ns = cluster.spoke().namespace("e2e-health-deploy").await?;
    let ss = cluster.syncset("e2e-health-deploy");
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": spoke_ns.name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "registry.invalid/web:1"}]}},
        },
    });
    ss.apply(json!({"resources": [deployment]})).await?;
    cluster.entry(&ss, is_success).await?;
    let progressing =
        wait_healthy(&cluster, "False/Progressing", is("False", "Progressing")).await?;
    ensure!(
        progressing.message.contains("Deployment") && progressing.message.contains("web"),
        "the Progressing message names the Deployment: {}",
        progressing.message
    );

    set_pods(cluster.spoke(), &spoke_ns.name, "app=web", "Running").await?;
    let healthy = wait_healthy(&cluster, "True/Healthy", is("True", "Healthy")).await?;
    let live = cluster
        .spoke()
        .api::<Deployment>(&spoke_ns.name)
        .get("web")
        .await?;
    ensure!(
        live.status.and_then(|s| s.available_replicas) == Some(1),
        "the spoke's Deployment controller saw the pod available"
    );
    // Failed stays first, as Hive's readers expect.
    let cs = cluster.wait_cluster_sync().await?;
    let conditions = cs.status.map(|s| s.conditions).unwrap_or_default();
    ensure!(
        conditions.first().map(|c| c.type_.as_str()) == Some("Failed"),
        "Failed is the first condition: {conditions:?}"
    );
    ensure!(healthy.message.contains("healthy"), "{}", healthy.message);
    Ok(())
}

#[tokio::test]
async fn a_job_that_fails_turns_the_cluster_degraded_with_an_event() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-health-job").on(2).reachable().await?;
    let spoke_ns = cluster.spoke().namespace("e2e-health-job").await?;
    let ss = cluster.syncset("e2e-health-job");
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": spoke_ns.name},
        "spec": {
            "backoffLimit": 0,
            "template": {"metadata": {"labels": {"job": "migrate"}},
                         "spec": {"restartPolicy": "Never",
                                  "containers": [{"name": "c", "image": "registry.invalid/job:1"}]}},
        },
    });
    ss.apply(json!({"resources": [job]})).await?;
    cluster.entry(&ss, is_success).await?;
    wait_healthy(&cluster, "False/Progressing", is("False", "Progressing")).await?;

    set_pods(cluster.spoke(), &spoke_ns.name, "job=migrate", "Failed").await?;
    let degraded = wait_healthy(&cluster, "False/Degraded", is("False", "Degraded")).await?;
    ensure!(
        degraded.message.contains("Job") && degraded.message.contains("migrate"),
        "the Degraded message names the Job: {}",
        degraded.message
    );
    let live = cluster
        .spoke()
        .api::<Job>(&spoke_ns.name)
        .get("migrate")
        .await?;
    ensure!(
        live.status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Failed" && c.status == "True"),
        "the spoke's Job controller failed the Job"
    );
    let hub = &fleet.hub;
    let (cluster_ref, hub_ref) = (&cluster, hub);
    let found = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async move {
            let found = events(cluster_ref, hub_ref, "ClusterDegraded").await?;
            ensure!(!found.is_empty(), "no ClusterDegraded Event yet");
            Ok(found)
        },
    )
    .await?;
    ensure!(
        found[0].type_.as_deref() == Some("Warning")
            && found[0]
                .note
                .as_deref()
                .unwrap_or_default()
                .contains("migrate"),
        "a Warning Event naming the Job: {:?}",
        found[0]
    );
    Ok(())
}

fn olm_crd(kind: &str, plural: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.operators.coreos.com")},
        "spec": {
            "group": "operators.coreos.com", "scope": "Namespaced",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural,
                      "singular": kind.to_ascii_lowercase()},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                          "subresources": {"status": {}},
                          "schema": {"openAPIV3Schema": {"type": "object",
                                                         "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    })
}

fn olm_api(spoke: &Spoke, namespace: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("operators.coreos.com", "v1alpha1", kind);
    Api::namespaced_with(
        spoke.client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

#[tokio::test]
async fn an_olm_subscription_and_its_csv_are_healthy_once_the_csv_succeeded() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-health-olm").on(1).reachable().await?;
    let spoke = cluster.spoke();
    // OLM's CRDs as OLM installs them (served, with a status subresource); shared by every run, never deleted.
    let crds = Api::<CustomResourceDefinition>::all(spoke.client.clone());
    for (kind, plural) in [
        ("Subscription", "subscriptions"),
        ("ClusterServiceVersion", "clusterserviceversions"),
    ] {
        crds.patch(
            &format!("{plural}.operators.coreos.com"),
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(olm_crd(kind, plural)),
        )
        .await?;
    }
    let spoke_ns = spoke.namespace("e2e-health-olm").await?;
    let ss = cluster.syncset("e2e-health-olm");
    ss.apply(json!({"resources": [
        {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
         "metadata": {"name": "addon", "namespace": spoke_ns.name},
         "spec": {"channel": "stable", "name": "addon", "source": "addons", "sourceNamespace": "olm"}},
        {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
         "metadata": {"name": "addon.v1.0.0", "namespace": spoke_ns.name},
         "spec": {"displayName": "Addon", "install": {"strategy": "deployment"}}},
    ]}))
    .await?;
    cluster.entry(&ss, is_success).await?;
    wait_healthy(&cluster, "False/Progressing", is("False", "Progressing")).await?;

    // OLM resolves the Subscription and starts installing the CSV: still not healthy.
    let subs = olm_api(spoke, &spoke_ns.name, "Subscription", "subscriptions");
    let csvs = olm_api(
        spoke,
        &spoke_ns.name,
        "ClusterServiceVersion",
        "clusterserviceversions",
    );
    subs.patch_status("addon", &PatchParams::default(), &Patch::Merge(json!({"status": {
        "state": "AtLatestKnown", "installedCSV": "addon.v1.0.0", "currentCSV": "addon.v1.0.0",
        "lastUpdated": "2026-01-01T00:00:00Z",
        "conditions": [{"type": "CatalogSourcesUnhealthy", "status": "False", "reason": "AllCatalogSourcesHealthy"}]}})))
        .await?;
    csvs.patch_status("addon.v1.0.0", &PatchParams::default(), &Patch::Merge(json!({"status": {
        "phase": "Installing", "reason": "InstallWaiting", "message": "installing: waiting for deployment addon"}})))
        .await?;
    let installing = wait_healthy(&cluster, "False/Progressing (CSV installing)", |c| {
        c.status == "False" && c.message.contains("addon.v1.0.0")
    })
    .await?;
    ensure!(installing.reason == "Progressing", "{installing:?}");

    csvs.patch_status("addon.v1.0.0", &PatchParams::default(), &Patch::Merge(json!({"status": {
        "phase": "Succeeded", "reason": "InstallSucceeded", "message": "install strategy completed with no errors"}})))
        .await?;
    wait_healthy(&cluster, "True/Healthy", is("True", "Healthy")).await?;
    Ok(())
}

#[tokio::test]
async fn a_managed_configmap_deleted_or_changed_on_the_spoke_is_put_back_but_fields_of_others_stay(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-drift").on(2).reachable().await?;
    let spoke_ns = cluster.spoke().namespace("e2e-drift").await?;
    let ss = cluster.syncset("e2e-drift");
    let obj = with_drift_interval(
        // Two ConfigMaps in one namespace: only the one changed by hand is applied again.
        ss.object(json!({"resources": [
            configmap(&spoke_ns.name, "drifty", json!({"owned": "by-hivesync"})),
            configmap(&spoke_ns.name, "steady", json!({"owned": "by-hivesync"})),
        ]})),
        "2s",
    );
    apply_syncset_object(&fleet.hub, &obj).await?;
    let applied = cluster.entry(&ss, is_success).await?;
    let cms = cluster.spoke().api::<ConfigMap>(&spoke_ns.name);
    cluster
        .spoke()
        .wait_configmap(&spoke_ns.name, "drifty")
        .await?;
    // Let the controller take its first look (the baseline) before anything changes.
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Someone deletes it: it is back, without the syncset being applied again.
    cms.delete("drifty", &Default::default()).await?;
    wait_for_gone(
        &cms,
        "drifty",
        "the deleted ConfigMap",
        Duration::from_secs(10),
    )
    .await
    .ok();
    cluster
        .spoke()
        .wait_value(&spoke_ns.name, "drifty", "owned", "by-hivesync")
        .await
        .context("the deleted ConfigMap was not put back")?;

    // Someone changes the owned field and adds one of their own (as `kubectl edit` would: an update, which takes the
    // changed field's ownership): the owned field is reverted, theirs stays.
    tokio::time::sleep(Duration::from_secs(4)).await;
    cms.patch(
        "drifty",
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"data": {"owned": "changed-by-hand", "theirs": "kept"}})),
    )
    .await?;
    let reverted = cluster
        .spoke()
        .wait_value(&spoke_ns.name, "drifty", "owned", "by-hivesync")
        .await
        .context("the changed owned field was not reverted")?;
    ensure!(
        reverted
            .data
            .as_ref()
            .and_then(|d| d.get("theirs"))
            .map(String::as_str)
            == Some("kept"),
        "a field hivesync does not own is left alone: {:?}",
        reverted.data
    );

    // The corrections are counted in the controller's Events, and the syncset was never re-applied for them.
    let (cluster_ref, hub) = (&cluster, &fleet.hub);
    let corrected = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async move {
            let found = events(cluster_ref, hub, "DriftCorrected").await?;
            ensure!(
                found.len() >= 2 || found.iter().any(|e| e.series.is_some()),
                "DriftCorrected Events: {found:?}"
            );
            Ok(found)
        },
    )
    .await?;
    ensure!(
        corrected
            .iter()
            .any(|e| e.note.as_deref().unwrap_or_default().contains("drifty")),
        "the Event names the ConfigMap: {corrected:?}"
    );
    let (now, _) = cluster.current_entry(&ss).await?;
    let now = now.context("the entry is gone")?;
    ensure!(
        now.last_transition_time == applied.last_transition_time
            && now.observed_generation == applied.observed_generation,
        "drift correction does not re-run the syncset: {applied:?} -> {now:?}"
    );
    Ok(())
}
