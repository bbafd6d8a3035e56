//! Moving a fleet over from Hive: objects Hive applied (kubectl client-side apply under Hive's field managers, with a
//! last-applied annotation), and the ClusterSync and ClusterSyncLease Hive wrote, taken over by hivesync without a
//! re-apply and without a delete; later removals from the syncset reach those objects as they did under Hive.

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn objects_and_status_hive_wrote_are_taken_over_without_a_reapply_and_later_removals_reach_them(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let hub = &fleet.hub;
    // Everything Hive left is in place before hivesync meets the cluster, so the ClusterDeployment comes last, under
    // a name chosen now.
    let ns = fleet.namespace("e2e-migrate").await?;
    let cd = unique_name("e2e-migrate");
    let spoke = Spoke::connect(1).await?;
    let spoke_ns = spoke.namespace("e2e-migrate").await?;

    // The spoke object as Hive's Apply leaves it: kubectl client-side apply, field manager hive6-clustersync.
    let declared = |data: serde_json::Value| {
        let mut cm = configmap(&spoke_ns.name, "from-hive", data);
        cm["metadata"]["labels"] = json!({"hive.openshift.io/managed": "true"});
        cm
    };
    let out = kubectl_with_stdin(
        &spoke.kubeconfig,
        ["apply", "--field-manager=hive6-clustersync", "-f", "-"],
        &declared(json!({"keep": "a", "drop": "b"})).to_string(),
    );
    ensure!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cms = spoke.api::<ConfigMap>(&spoke_ns.name);
    let before = cms.get("from-hive").await?;
    ensure!(
        before
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubectl.kubernetes.io/last-applied-configuration")),
        "kubectl did not leave a last-applied annotation"
    );

    // The hub as Hive left it: the SyncSet, and a ClusterSync and lease that record it applied and fresh.
    let syncset = fleet.syncset(&ns.name, &unique_name("e2e-migrate"), &[&cd]);
    let ss = &syncset.name;
    let spec = |data| json!({"resourceApplyMode": "Sync", "resources": [declared(data)]});
    let g1 = syncset
        .apply(spec(json!({"keep": "a", "drop": "b"})))
        .await?;
    let applied_at = "2026-01-01T00:00:00Z";
    let css: Api<hivesync::api::ClusterSync> = Api::namespaced(hub.clone(), &ns.name);
    css.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
            "metadata": {"name": cd, "namespace": ns.name}, "spec": {},
        }))?,
    )
    .await?;
    let entry = json!({
        "name": ss, "observedGeneration": g1, "result": "Success",
        "lastTransitionTime": applied_at, "firstSuccessTime": applied_at,
        "resourcesToDelete": [{"apiVersion": "v1", "kind": "ConfigMap", "namespace": spoke_ns.name, "name": "from-hive"}],
    });
    css.patch_status(
        &cd,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"syncSets": [entry], "conditions": [], "firstSuccessTime": applied_at}})),
    )
    .await?;
    let renewed = jiff::Timestamp::now().to_string();
    let leases: Api<hivesync::api::ClusterSyncLease> = Api::namespaced(hub.clone(), &ns.name);
    leases
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSyncLease",
                "metadata": {"name": cd, "namespace": ns.name}, "spec": {"renewTime": renewed},
            }))?,
        )
        .await?;

    // hivesync meets the cluster: nothing is re-applied, nothing is deleted, the status stays as Hive wrote it.
    let cluster = fleet
        .cluster("e2e-migrate")
        .in_namespace(&ns.name)
        .named(&cd)
        .reachable()
        .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = cms.get("from-hive").await?;
    ensure!(
        after.metadata.resource_version == before.metadata.resource_version,
        "the object Hive applied was written again on take-over"
    );
    let cs = css.get(&cd).await?;
    let kept = cs
        .status
        .as_ref()
        .and_then(|s| s.sync_sets.iter().find(|e| &e.name == ss))
        .cloned();
    ensure!(
        kept.as_ref()
            .is_some_and(|e| e.observed_generation == g1
                && e.last_transition_time.0.to_string() == applied_at),
        "the entry Hive wrote was rewritten: {}",
        describe_cluster_sync(Some(&cs))
    );

    // A key dropped from the syncset disappears from the object Hive created, and the annotation goes with it.
    let g2 = syncset.apply(spec(json!({"keep": "a"}))).await?;
    cluster.entry(&syncset, succeeded_at(g2)).await?;
    let taken = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async {
            let cm = cms.get("from-hive").await?;
            let data = cm.data.clone().unwrap_or_default();
            ensure!(
                !data.contains_key("drop"),
                "`drop` is still there: {data:?}"
            );
            Ok(cm)
        },
    )
    .await
    .context("a key dropped from the syncset stayed on the object Hive applied")?;
    ensure!(
        taken
            .data
            .unwrap_or_default()
            .get("keep")
            .map(String::as_str)
            == Some("a")
    );
    ensure!(
        !taken
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "the last-applied annotation (which may hold a copy of Secret data) is still there"
    );
    let managers: Vec<String> = taken
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    ensure!(
        !managers.iter().any(|m| m == "hive6-clustersync"),
        "Hive's manager still owns fields: {managers:?}"
    );
    eprintln!("taken over: managers now {managers:?}; `drop` removed, annotation gone");
    Ok(())
}

/// `hivesync adopt` writes what `hiveutil create-cluster --adopt` writes: the Secret `<name>-adopted-admin-kubeconfig`
/// with `kubeconfig` and `raw-kubeconfig`, and a ClusterDeployment installed since its creation, which then syncs.
#[tokio::test]
async fn adopt_writes_what_hiveutil_writes_and_the_controller_reaches_the_adopted_cluster(
) -> Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    let hub = hub().await?;
    let ns = unique_name("e2e-adopt");
    let _ns_guard = DeleteOnDrop::on_hub("namespace", None, &ns);
    let name = unique_name("e2e-adopt");
    let out = std::process::Command::new(hivesync_bin())
        .args([
            "adopt",
            &name,
            "--namespace",
            &ns,
            "--cluster-id",
            "abc-123",
            "--cluster-kubeconfig",
        ])
        .arg(managed_kubeconfig(1))
        .arg("--kubeconfig")
        .arg(hub_kubeconfig())
        .output()?;
    ensure!(
        out.status.success(),
        "hivesync adopt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = Api::<Secret>::namespaced(hub.clone(), &ns)
        .get(&format!("{name}-adopted-admin-kubeconfig"))
        .await?;
    let data = secret.data.unwrap_or_default();
    let file = std::fs::read(managed_kubeconfig(1))?;
    ensure!(
        data.get("kubeconfig").map(|b| &b.0) == Some(&file)
            && data.get("raw-kubeconfig").map(|b| &b.0) == Some(&file),
        "the Secret should hold the kubeconfig under both keys: {:?}",
        data.keys().collect::<Vec<_>>()
    );
    let cd = Api::<hivesync::api::ClusterDeployment>::namespaced(hub.clone(), &ns)
        .get(&name)
        .await?;
    let installed = cd
        .status
        .as_ref()
        .and_then(|s| s.installed_timestamp.clone())
        .map(|t| t.0);
    ensure!(
        installed.is_some() && installed == cd.metadata.creation_timestamp.map(|t| t.0),
        "installedTimestamp {installed:?} should be the creation time"
    );
    ensure!(cd
        .spec
        .cluster_metadata
        .as_ref()
        .is_some_and(|m| m.cluster_id == "abc-123"));
    wait_until_reachable(&hub, &ns, &name).await?;
    Ok(())
}

/// A HiveConfig CRD of Hive's shape for what the migration guide touches (`spec.disabledControllers`, a list of
/// strings), everything else kept: a hub that runs Hive has Hive's own.
fn hive_config_crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "hiveconfigs.hive.openshift.io"},
        "spec": {
            "group": "hive.openshift.io", "scope": "Cluster",
            "names": {"kind": "HiveConfig", "listKind": "HiveConfigList", "plural": "hiveconfigs",
                      "singular": "hiveconfig"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                        "disabledControllers": {"type": "array", "items": {"type": "string"}}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}],
        },
    })
}

/// The migration guide (docs/operations.md, "Migrating from Hive") run as written, against a real hub: step 1's
/// `disabledControllers` patch, step 2's overlay applied server-side (a dry run: the suite's own controller runs under
/// the same RBAC), step 4's delete of the overlay deleting no CRD, and turning Hive's controllers back on.
#[tokio::test]
async fn the_migration_guide_s_commands_run_as_written_and_going_back_deletes_no_crd() -> Result<()>
{
    let fleet = Fleet::connect().await?;
    let hub = hub_kubeconfig();
    let crds = Api::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>::all(
        fleet.hub.clone(),
    );
    crds.patch(
        "hiveconfigs.hive.openshift.io",
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(hive_config_crd()),
    )
    .await?;
    wait_for(Duration::from_secs(30), Duration::from_millis(200), || {
        let hub = hub.clone();
        async move {
            let out = kubectl(&hub, ["get", "hiveconfigs"]);
            ensure!(
                out.status.success(),
                "HiveConfig is not served yet: {}",
                out.describe()
            );
            Ok(())
        }
    })
    .await?;
    // Hive's operator makes `hive` (its settings live there); here it starts with another controller disabled, which
    // the guide's commands must keep.
    let created = kubectl_with_stdin(
        &hub,
        ["apply", "--server-side", "--field-manager=hive-operator", "--force-conflicts", "-f", "-"],
        &json!({"apiVersion": "hive.openshift.io/v1", "kind": "HiveConfig", "metadata": {"name": "hive"},
                "spec": {"disabledControllers": ["machinepool"], "targetNamespace": "hive"}})
        .to_string(),
    );
    ensure!(created.status.success(), "{}", created.describe());

    // Step 1, as the guide writes it (kubectl for oc).
    let step1 = kubectl(
        &hub,
        [
            "patch",
            "hiveconfig",
            "hive",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/spec/disabledControllers/-","value":"clustersync"},{"op":"add","path":"/spec/disabledControllers/-","value":"unreachable"}]"#,
        ],
    );
    ensure!(
        step1.status.success(),
        "step 1 failed: {}",
        step1.describe()
    );
    let disabled = |hub: &std::path::Path| -> Result<String> {
        let out = kubectl(
            hub,
            [
                "get",
                "hiveconfig",
                "hive",
                "-o",
                "jsonpath={.spec.disabledControllers}",
            ],
        );
        ensure!(out.status.success(), "{}", out.describe());
        Ok(out.stdout_text())
    };
    let now = disabled(&hub)?;
    ensure!(
        now == r#"["machinepool","clustersync","unreachable"]"#,
        "step 1 adds Hive's two sync controllers and keeps the others: {now}"
    );

    // Step 2: the hive-hub overlay carries no CRD, and the hub accepts it.
    let overlay = repo_root().join("deploy/overlays/hive-hub");
    let step2 = kubectl(
        &hub,
        [
            "apply".as_ref(),
            "--server-side".as_ref(),
            "--dry-run=server".as_ref(),
            "-k".as_ref(),
            overlay.as_os_str(),
        ],
    );
    ensure!(
        step2.status.success(),
        "step 2 failed: {}",
        step2.describe()
    );
    ensure!(
        !step2.stdout_text().contains("customresourcedefinition"),
        "the hive-hub overlay must not apply CRDs:\n{}",
        step2.stdout_text()
    );

    // Step 4: deleting the overlay deletes no CRD (Hive's stay, with every ClusterDeployment).
    let step4 = kubectl(
        &hub,
        [
            "delete".as_ref(),
            "--dry-run=server".as_ref(),
            "--ignore-not-found".as_ref(),
            "-k".as_ref(),
            overlay.as_os_str(),
        ],
    );
    ensure!(
        step4.status.success(),
        "step 4 failed: {}",
        step4.describe()
    );
    ensure!(
        !step4.stdout_text().contains("customresourcedefinition"),
        "deleting the overlay would delete CRDs:\n{}",
        step4.stdout_text()
    );
    // ... and Hive's controllers back on: the list as it was before step 1.
    let back = kubectl(
        &hub,
        [
            "patch",
            "hiveconfig",
            "hive",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"disabledControllers":["machinepool"]}}"#,
        ],
    );
    ensure!(
        back.status.success(),
        "going back failed: {}",
        back.describe()
    );
    let now = disabled(&hub)?;
    ensure!(
        now == r#"["machinepool"]"#,
        "going back keeps the other disabled controllers: {now}"
    );
    Ok(())
}
