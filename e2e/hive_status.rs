//! The status Hive's other controllers would write, which hivesync writes on a hub where it is the only controller:
//! `installedTimestamp` from the creation time, `SyncSetFailed` without a ClusterSync, both reachability conditions
//! initialised on every ClusterDeployment, conditions in Hive's order; and, as Hive's clustersync controller does, a
//! deleted ClusterSync re-created at once and selectors with invalid keys or values matching nothing.
//!
//! The ClusterDeployments here are made by hand, as a user brings their own (a Secret and a ClusterDeployment, no
//! status: [`ClusterBuilder::hand_made`]), unless the test needs nothing of that.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use hivesync::api::{ClusterDeployment, ClusterSyncLease};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
use serde_json::{json, Value};

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

/// How long the controller may take to write a ClusterDeployment's status (the probe runs every 2 s in the suite).
const STATUS_TIMEOUT: Duration = Duration::from_secs(30);

/// Managed cluster `n`'s kubeconfig with its server moved to `server`.
fn kubeconfig_with_server(n: usize, server: &str) -> Result<Vec<u8>> {
    let path = managed_kubeconfig(n);
    let mut kc: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("parsing {}", path.display()))?;
    let clusters = kc["clusters"]
        .as_array_mut()
        .context("a kubeconfig without clusters")?;
    for c in clusters {
        c["cluster"]["server"] = server.into();
    }
    Ok(serde_saphyr::to_string(&kc)?.into_bytes())
}

/// The ClusterDeployment's conditions as `Type=Status`, in their order.
fn condition_order(cd: &ClusterDeployment) -> Vec<String> {
    cd.status
        .iter()
        .flat_map(|s| &s.conditions)
        .map(|c| format!("{}={}", c.type_, c.status))
        .collect()
}

/// Waits until the ClusterDeployment's conditions are exactly `expected` (`Type=Status`), in that order.
async fn wait_for_condition_order(
    cluster: &Cluster,
    expected: &[&str],
) -> Result<ClusterDeployment> {
    wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async move {
        let cd = cluster.cd().await?;
        let order = condition_order(&cd);
        ensure!(
            order == expected,
            "{}/{}: conditions {order:?}, expected {expected:?} in Hive's order",
            cluster.ns(),
            cluster.name
        );
        Ok(cd)
    })
    .await
}

fn initialized() -> (String, String, String) {
    (
        "Unknown".into(),
        "Initialized".into(),
        "Condition Initialized".into(),
    )
}

// -------------------------------------------------------------------------------------------------- the tests

/// A hand-made installed ClusterDeployment has no `installedTimestamp`; Hive's clusterdeployment controller sets it
/// to the creation time, and only then can the ClusterSync get its `firstSuccessTime`.
#[tokio::test]
async fn a_hand_made_cluster_gets_its_creation_time_as_installed_timestamp_and_a_first_success(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet
        .cluster("e2e-installed-ts")
        .hand_made()
        .register()
        .await?;
    let created = &cluster.created;
    let creation = created
        .metadata
        .creation_timestamp
        .clone()
        .context("no creationTimestamp")?;
    ensure!(
        created
            .status
            .as_ref()
            .and_then(|s| s.installed_timestamp.as_ref())
            .is_none(),
        "the hand-made ClusterDeployment should start without installedTimestamp"
    );

    let installed = wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async {
        let cd = cluster.cd().await?;
        match cd.status.and_then(|s| s.installed_timestamp) {
            Some(t) => Ok(t),
            None => bail!(
                "no installedTimestamp yet{}",
                controller_log_tail(&cluster.name, 10)
            ),
        }
    })
    .await?;
    assert_eq!(
        installed, creation,
        "installedTimestamp should be the creation time, as Hive's clusterdeployment controller writes it"
    );

    cluster.wait_until_reachable().await?;
    let cs = cluster.wait_first_success().await?;
    ensure!(
        cs.0 >= installed.0,
        "firstSuccessTime {cs:?} before installedTimestamp {installed:?}"
    );
    cluster.expect_syncset_apply_success().await?;
    // A cluster with no syncsets has succeeded, as in Hive (docs/hive-compatibility.md); installedTimestamp is
    // written once.
    assert_eq!(
        cluster
            .cd()
            .await?
            .status
            .and_then(|s| s.installed_timestamp),
        Some(creation)
    );
    Ok(())
}

/// An installed ClusterDeployment whose API server never answers (a closed port) has no ClusterSync,
/// and says so as Hive's clusterdeployment controller does: `SyncSetFailed=True/MissingClusterSync`. Its conditions are
/// in Hive's order. Once its kubeconfig is fixed, the ClusterSync is created and the condition turns False.
#[tokio::test]
async fn an_installed_cluster_behind_a_closed_port_is_missing_its_cluster_sync_until_its_kubeconfig_is_fixed(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet
        .cluster("e2e-missing-cs")
        .hand_made()
        .kubeconfig(KubeconfigSecret::Data(kubeconfig_with_server(
            1,
            "https://127.0.0.1:1",
        )?))
        .register()
        .await?;

    cluster
        .expect_condition(
            "SyncSetFailed",
            "True",
            ("MissingClusterSync", "ClusterSync has not yet been created"),
            STATUS_TIMEOUT,
        )
        .await?;
    let (_, reason, message) = cluster
        .wait_condition("Unreachable", "True", STATUS_TIMEOUT)
        .await?;
    assert_eq!(reason, "ErrorConnectingToCluster", "{message}");
    // Both undesired (True, negative polarity), by type; the Unknown override condition last.
    let cd = wait_for_condition_order(
        &cluster,
        &[
            "SyncSetFailed=True",
            "Unreachable=True",
            "ActiveAPIURLOverride=Unknown",
        ],
    )
    .await?;
    assert_eq!(
        cd.condition("ActiveAPIURLOverride").map(|c| (
            c.status.clone(),
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default()
        )),
        Some(initialized())
    );
    ensure!(
        cluster.cluster_sync().await?.is_none(),
        "a cluster that was never reachable should have no ClusterSync"
    );

    // The kubeconfig fixed: reachable, the ClusterSync created, SyncSetFailed False.
    cluster
        .set_kubeconfig(&std::fs::read(managed_kubeconfig(1))?)
        .await?;
    cluster.wait_until_reachable().await?;
    let (_, reason, _) = cluster
        .wait_condition("SyncSetFailed", "False", STATUS_TIMEOUT)
        .await?;
    assert_eq!(reason, "SyncSetApplySuccess");
    ensure!(
        cluster.cluster_sync().await?.is_some(),
        "no ClusterSync once reachable"
    );
    // All desired now, by type; Unknown last.
    wait_for_condition_order(
        &cluster,
        &[
            "SyncSetFailed=False",
            "Unreachable=False",
            "ActiveAPIURLOverride=Unknown",
        ],
    )
    .await?;
    Ok(())
}

/// `syncset-pause` gives `SyncSetPaused` instead of `MissingClusterSync`, but only on an installed
/// cluster; a cluster not installed gets only the two reachability conditions (Unknown), and a `reconcile-pause`d one
/// nothing at all (Hive's controllers all skip it).
#[tokio::test]
async fn syncset_paused_reconcile_paused_and_uninstalled_clusters_get_the_conditions_hive_gives_them(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let ns = fleet.namespace("e2e-paused").await?;
    let paused_by = |prefix: &str, annotation: &str| {
        fleet
            .cluster(prefix)
            .in_namespace(&ns.name)
            .hand_made()
            .metadata(json!({"annotations": {annotation: "true"}}))
    };
    let paused = paused_by("e2e-ss-paused", "hive.openshift.io/syncset-pause")
        .register()
        .await?;
    let uninstalled = paused_by("e2e-uninstalled", "hive.openshift.io/syncset-pause")
        .spec(json!({"installed": false}))
        .register()
        .await?;
    let reconcile_paused = paused_by("e2e-rc-paused", "hive.openshift.io/reconcile-pause")
        .register()
        .await?;

    paused
        .expect_condition(
            "SyncSetFailed",
            "True",
            (
                "SyncSetPaused",
                "SyncSet is paused. ClusterSync will not be created",
            ),
            STATUS_TIMEOUT,
        )
        .await?;
    // syncset-pause does not stop the probe.
    paused.wait_until_reachable().await?;
    ensure!(
        paused.cluster_sync().await?.is_none(),
        "a syncset-paused cluster should get no ClusterSync"
    );

    let cd = wait_for_condition_order(
        &uninstalled,
        &["ActiveAPIURLOverride=Unknown", "Unreachable=Unknown"],
    )
    .await?;
    for t in ["ActiveAPIURLOverride", "Unreachable"] {
        let c = cd.condition(t).context(t)?;
        assert_eq!(
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ),
            initialized(),
            "{t} of a cluster not installed"
        );
    }
    ensure!(
        cd.status
            .as_ref()
            .and_then(|s| s.installed_timestamp.as_ref())
            .is_none(),
        "a cluster not installed should get no installedTimestamp"
    );

    // The reconcile-paused one: a few probe intervals later, still nothing.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let cd = reconcile_paused.cd().await?;
    ensure!(
        cd.status
            .is_none_or(|s| s.conditions.is_empty() && s.installed_timestamp.is_none()),
        "a reconcile-paused cluster should get no status: {:?}",
        reconcile_paused.cd().await?.status
    );
    ensure!(
        reconcile_paused.cluster_sync().await?.is_none(),
        "a reconcile-paused cluster should get no ClusterSync"
    );
    Ok(())
}

/// Deleting a ClusterSync (here without cascading, so its lease stays and no garbage collection wakes anything)
/// re-creates it within seconds, as Hive does: "delete the ClusterSync to force a resync".
#[tokio::test]
async fn a_deleted_cluster_sync_is_re_created_within_seconds() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-cs-deleted").reachable().await?;
    let first = wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async {
        let cs = cluster.cluster_sync().await?;
        match cs {
            Some(cs) if cs.status.as_ref().is_some_and(|s| !s.conditions.is_empty()) => Ok(cs),
            other => bail!(
                "no ClusterSync status yet: {}",
                describe_cluster_sync(other.as_ref())
            ),
        }
    })
    .await?;
    let uid = first.metadata.uid.clone().context("no uid")?;
    let leases = Api::<ClusterSyncLease>::namespaced(fleet.hub.clone(), cluster.ns());
    wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async {
        leases
            .get_opt(&cluster.name)
            .await?
            .map(|_| ())
            .context("no ClusterSyncLease yet")
    })
    .await?;

    Api::<hivesync::api::ClusterSync>::namespaced(fleet.hub.clone(), cluster.ns())
        .delete(&cluster.name, &DeleteParams::orphan())
        .await
        .context("deleting the ClusterSync")?;
    let deleted = Instant::now();
    let again = wait_for(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            match cluster.cluster_sync().await? {
                Some(cs) if cs.metadata.uid.as_deref() != Some(uid.as_str()) => Ok(cs),
                _ => bail!("the ClusterSync is not re-created yet"),
            }
        },
    )
    .await?;
    eprintln!(
        "ClusterSync re-created {:?} after the delete",
        deleted.elapsed()
    );
    ensure!(
        leases.get_opt(&cluster.name).await?.is_some(),
        "the lease should have stayed (orphaned): the re-creation must not depend on it"
    );
    // It fills in again: the ClusterSync has its Failed condition, and controlledByReplica (always written).
    let filled = wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async {
        let cs = cluster.cluster_sync().await?;
        match cs.as_ref().and_then(|c| c.status.clone()) {
            Some(s) if !s.conditions.is_empty() => Ok(s),
            _ => bail!("the re-created ClusterSync has no status yet"),
        }
    })
    .await?;
    assert_eq!(
        filled.conditions[0].reason,
        "Success",
        "{}",
        describe_cluster_sync(Some(&again))
    );
    assert_eq!(
        filled.controlled_by_replica,
        Some(0),
        "controlledByReplica of the suite's single replica"
    );
    Ok(())
}

/// A SelectorSyncSet whose selector has an invalid key or value matches no cluster (Go's
/// `metav1.LabelSelectorAsSelector` refuses it), where it used to match every cluster without the label. Each test
/// selector also requires this test's own label, so that even the old behaviour reached no other test's cluster.
#[tokio::test]
async fn a_selector_syncset_with_an_invalid_key_or_value_matches_no_cluster() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-badvalue");
    let cluster = fleet
        .cluster("e2e-badvalue")
        .on(2)
        .in_group(&group)
        .reachable()
        .await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-badvalue").await?;
    // The SelectorSyncSet's spec with `expression` next to this test's label; its ConfigMap is named after it.
    let spec = |sss: &SelectorSyncSet, expression: Value| {
        let mut selector = group.selector();
        selector["matchExpressions"] = json!([expression]);
        json!({
            "clusterDeploymentSelector": selector,
            "resourceApplyMode": "Sync",
            "resources": [configmap(&spoke_ns.name, &sss.name, json!({"k": "v"}))],
        })
    };
    let (bad_value, bad_key, valid) = (
        fleet.selector_syncset("e2e-badvalue"),
        fleet.selector_syncset("e2e-badkey"),
        fleet.selector_syncset("e2e-goodvalue"),
    );
    bad_value
        .apply(spec(
            &bad_value,
            json!({"key": "env", "operator": "NotIn", "values": ["prod cluster"]}),
        ))
        .await
        .context("the API server should accept a NotIn value with a space")?;
    bad_key
        .apply(spec(
            &bad_key,
            json!({"key": "foo bar", "operator": "DoesNotExist"}),
        ))
        .await?;
    // The same selector with a valid value: applied, and applied after the invalid ones were seen.
    let generation = valid
        .apply(spec(
            &valid,
            json!({"key": "env", "operator": "NotIn", "values": ["prod-cluster"]}),
        ))
        .await?;
    cluster.entry(&valid, succeeded_at(generation)).await?;
    spoke
        .wait_configmap_where(
            &spoke_ns.name,
            &valid.name,
            "synced by the valid selector",
            ENTRY_TIMEOUT,
            |_| true,
        )
        .await?;

    for sss in [&bad_value, &bad_key] {
        let (entry, status) = cluster.current_entry(sss).await?;
        ensure!(
            entry.is_none(),
            "SelectorSyncSet {} has an invalid selector and should match nothing:\n{status}",
            sss.name
        );
        ensure!(
            spoke
                .api::<ConfigMap>(&spoke_ns.name)
                .get_opt(&sss.name)
                .await?
                .is_none(),
            "SelectorSyncSet {} was applied to the spoke",
            sss.name
        );
    }
    // The controller says why.
    let lines = wait_for_controller_log_line(
        &[
            bad_value.name.as_str(),
            "matches no cluster",
            "prod cluster",
        ],
        Duration::from_secs(10),
    )
    .await?;
    eprintln!("{}", lines[0]);
    wait_for_controller_log_line(
        &[bad_key.name.as_str(), "matches no cluster", "foo bar"],
        Duration::from_secs(10),
    )
    .await?;
    Ok(())
}

/// Every ClusterDeployment gets `ActiveAPIURLOverride`; without an override it stays
/// `Unknown/Initialized` once reachable (Hive writes it only when an override is set). The conditions stay in Hive's
/// order: with an override on a closed port, `ActiveAPIURLOverride=False` (undesired: the condition's polarity is
/// positive) comes first; with a working one, `True` (desired) sorts with the others by type.
#[tokio::test]
async fn reachability_conditions_are_initialised_and_kept_in_hive_s_order() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let n = 2;
    let override_at = |url: String| json!({"controlPlaneConfig": {"apiURLOverride": url}});
    let plain = fleet.cluster("e2e-order-plain").on(n).reachable().await?;
    let closed = fleet
        .cluster("e2e-order-closed")
        .on(n)
        .spec(override_at("https://127.0.0.1:1".into()))
        .reachable()
        .await?;
    let working = fleet
        .cluster("e2e-order-open")
        .on(n)
        .spec(override_at(kubeconfig_server(&managed_kubeconfig(n))))
        .reachable()
        .await?;

    wait_for_condition_order(
        &plain,
        &[
            "SyncSetFailed=False",
            "Unreachable=False",
            "ActiveAPIURLOverride=Unknown",
        ],
    )
    .await?;
    // Still Unknown after more probes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        plain.condition("ActiveAPIURLOverride").await?,
        Some(initialized()),
        "ActiveAPIURLOverride without an override"
    );
    wait_for_condition_order(
        &closed,
        &[
            "ActiveAPIURLOverride=False",
            "SyncSetFailed=False",
            "Unreachable=False",
        ],
    )
    .await?;
    wait_for_condition_order(
        &working,
        &[
            "ActiveAPIURLOverride=True",
            "SyncSetFailed=False",
            "Unreachable=False",
        ],
    )
    .await?;

    // A failing syncset: SyncSetFailed=True (undesired) first.
    let ss = working.syncset("e2e-order");
    let missing_ns = unique_name("e2e-order-missing");
    ss.apply(json!({"resources": [configmap(&missing_ns, "nowhere", json!({"a": "b"}))]}))
        .await?;
    working.entry(&ss, is_failure).await?;
    wait_for_condition_order(
        &working,
        &[
            "SyncSetFailed=True",
            "ActiveAPIURLOverride=True",
            "Unreachable=False",
        ],
    )
    .await?;
    Ok(())
}
