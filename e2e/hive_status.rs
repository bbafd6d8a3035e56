//! The status Hive's other controllers would write, which hivesync writes on a hub where it is the only controller:
//! `installedTimestamp` from the creation time, `SyncSetFailed` without a ClusterSync, both reachability conditions
//! initialised on every ClusterDeployment, conditions in Hive's order; and, as Hive's clustersync controller does, a
//! deleted ClusterSync re-created at once and selectors with invalid keys or values matching nothing.
//!
//! The ClusterDeployments here are made by hand, as a user brings their own (a Secret and a ClusterDeployment, no
//! status), unless the test needs nothing of that.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use hivesync::api::{ClusterDeployment, ClusterSyncLease};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

/// How long the controller may take to write a ClusterDeployment's status (the probe runs every 2 s in the suite).
const STATUS_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates a ClusterDeployment by hand: the Secret `<name>-admin-kubeconfig` with `kubeconfig`, then an installed
/// ClusterDeployment naming it, with `metadata` (labels, annotations) and `spec` merged in, and no status at all.
async fn hand_made_cd(
    hub: &Client,
    namespace: &str,
    name: &str,
    kubeconfig: &[u8],
    metadata: Value,
    spec: Value,
) -> Result<ClusterDeployment> {
    let secret_name = kubeconfig_secret_name(name);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name.clone()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some([("kubeconfig".to_string(), ByteString(kubeconfig.to_vec()))].into()),
        ..Default::default()
    };
    Api::<Secret>::namespaced(hub.clone(), namespace)
        .patch(
            &secret_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .with_context(|| format!("creating Secret {namespace}/{secret_name}"))?;
    let mut cd = json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "ClusterDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {E2E_CLUSTER_LABEL: "hive-status"}},
        "spec": {
            "clusterName": name,
            "baseDomain": "e2e.hivesync.local",
            "installed": true,
            "platform": {},
            "clusterMetadata": {
                "clusterID": name,
                "infraID": name,
                "adminKubeconfigSecretRef": {"name": secret_name},
            },
        },
    });
    json_patch::merge(&mut cd, &json!({"metadata": metadata, "spec": spec}));
    Api::<ClusterDeployment>::namespaced(hub.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&cd),
        )
        .await
        .with_context(|| format!("creating ClusterDeployment {namespace}/{name}"))
}

/// Managed cluster `n`'s kubeconfig with its server moved to `server`.
fn kubeconfig_with_server(n: usize, server: &str) -> Result<Vec<u8>> {
    let path = managed_kubeconfig(n);
    let mut kc: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("parsing {}", path.display()))?;
    let clusters = kc["clusters"]
        .as_sequence_mut()
        .context("a kubeconfig without clusters")?;
    for c in clusters {
        c["cluster"]["server"] = server.into();
    }
    Ok(serde_yaml::to_string(&kc)?.into_bytes())
}

async fn get_cd(hub: &Client, namespace: &str, name: &str) -> Result<ClusterDeployment> {
    Api::<ClusterDeployment>::namespaced(hub.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("reading ClusterDeployment {namespace}/{name}"))
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
    hub: &Client,
    namespace: &str,
    name: &str,
    expected: &[&str],
) -> Result<ClusterDeployment> {
    wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async move {
        let cd = get_cd(hub, namespace, name).await?;
        let order = condition_order(&cd);
        ensure!(
            order == expected,
            "{namespace}/{name}: conditions {order:?}, expected {expected:?} in Hive's order"
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
    let hub = hub().await?;
    let ns = TestNamespace::on_hub(&hub, "e2e-installed-ts").await?;
    let name = unique_name("e2e-installed-ts");
    let kubeconfig = std::fs::read(managed_kubeconfig(1))?;
    let created = hand_made_cd(&hub, &ns.name, &name, &kubeconfig, json!({}), json!({})).await?;
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
        let cd = get_cd(&hub, &ns.name, &name).await?;
        match cd.status.and_then(|s| s.installed_timestamp) {
            Some(t) => Ok(t),
            None => bail!(
                "no installedTimestamp yet{}",
                controller_log_tail(&name, 10)
            ),
        }
    })
    .await?;
    assert_eq!(
        installed, creation,
        "installedTimestamp should be the creation time, as Hive's clusterdeployment controller writes it"
    );

    wait_until_reachable(&hub, &ns.name, &name).await?;
    let cs = wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async {
        let cs = cluster_sync(&hub, &ns.name, &name).await?;
        match cs
            .as_ref()
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.first_success_time.clone())
        {
            Some(t) => Ok(t),
            None => bail!(
                "no firstSuccessTime yet:\n{}",
                describe_cluster_sync(cs.as_ref())
            ),
        }
    })
    .await?;
    ensure!(
        cs.0 >= installed.0,
        "firstSuccessTime {cs:?} before installedTimestamp {installed:?}"
    );
    let (_, reason, message) = wait_for_cd_condition(
        &hub,
        &ns.name,
        &name,
        "SyncSetFailed",
        "False",
        STATUS_TIMEOUT,
    )
    .await?;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("SyncSetApplySuccess", "SyncSet apply is successful")
    );
    // A cluster with no syncsets has succeeded (§4.11); installedTimestamp is written once.
    assert_eq!(
        get_cd(&hub, &ns.name, &name)
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
async fn an_installed_cluster_behind_a_closed_port_shows_missing_cluster_sync() -> Result<()> {
    let hub = hub().await?;
    let ns = TestNamespace::on_hub(&hub, "e2e-missing-cs").await?;
    let name = unique_name("e2e-missing-cs");
    let closed = kubeconfig_with_server(1, "https://127.0.0.1:1")?;
    hand_made_cd(&hub, &ns.name, &name, &closed, json!({}), json!({})).await?;

    let (_, reason, message) = wait_for_cd_condition(
        &hub,
        &ns.name,
        &name,
        "SyncSetFailed",
        "True",
        STATUS_TIMEOUT,
    )
    .await?;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("MissingClusterSync", "ClusterSync has not yet been created")
    );
    let (_, reason, message) =
        wait_for_cd_condition(&hub, &ns.name, &name, "Unreachable", "True", STATUS_TIMEOUT).await?;
    assert_eq!(reason, "ErrorConnectingToCluster", "{message}");
    // Both undesired (True, negative polarity), by type; the Unknown override condition last.
    let cd = wait_for_condition_order(
        &hub,
        &ns.name,
        &name,
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
        cluster_sync(&hub, &ns.name, &name).await?.is_none(),
        "a cluster that was never reachable should have no ClusterSync"
    );

    // The kubeconfig fixed: reachable, the ClusterSync created, SyncSetFailed False.
    hand_made_cd(
        &hub,
        &ns.name,
        &name,
        &std::fs::read(managed_kubeconfig(1))?,
        json!({}),
        json!({}),
    )
    .await?;
    wait_until_reachable(&hub, &ns.name, &name).await?;
    let (_, reason, _) = wait_for_cd_condition(
        &hub,
        &ns.name,
        &name,
        "SyncSetFailed",
        "False",
        STATUS_TIMEOUT,
    )
    .await?;
    assert_eq!(reason, "SyncSetApplySuccess");
    ensure!(
        cluster_sync(&hub, &ns.name, &name).await?.is_some(),
        "no ClusterSync once reachable"
    );
    // All desired now, by type; Unknown last.
    wait_for_condition_order(
        &hub,
        &ns.name,
        &name,
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
async fn pauses_and_uninstalled_clusters_get_the_conditions_hive_gives_them() -> Result<()> {
    let hub = hub().await?;
    let ns = TestNamespace::on_hub(&hub, "e2e-paused").await?;
    let kubeconfig = std::fs::read(managed_kubeconfig(1))?;
    let pause = |k: &str| json!({"annotations": {k: "true"}});
    let (paused, uninstalled, reconcile_paused) = (
        unique_name("e2e-ss-paused"),
        unique_name("e2e-uninstalled"),
        unique_name("e2e-rc-paused"),
    );
    hand_made_cd(
        &hub,
        &ns.name,
        &paused,
        &kubeconfig,
        pause("hive.openshift.io/syncset-pause"),
        json!({}),
    )
    .await?;
    hand_made_cd(
        &hub,
        &ns.name,
        &uninstalled,
        &kubeconfig,
        pause("hive.openshift.io/syncset-pause"),
        json!({"installed": false}),
    )
    .await?;
    hand_made_cd(
        &hub,
        &ns.name,
        &reconcile_paused,
        &kubeconfig,
        pause("hive.openshift.io/reconcile-pause"),
        json!({}),
    )
    .await?;

    let (_, reason, message) = wait_for_cd_condition(
        &hub,
        &ns.name,
        &paused,
        "SyncSetFailed",
        "True",
        STATUS_TIMEOUT,
    )
    .await?;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        (
            "SyncSetPaused",
            "SyncSet is paused. ClusterSync will not be created"
        )
    );
    // syncset-pause does not stop the probe.
    wait_until_reachable(&hub, &ns.name, &paused).await?;
    ensure!(
        cluster_sync(&hub, &ns.name, &paused).await?.is_none(),
        "a syncset-paused cluster should get no ClusterSync"
    );

    let cd = wait_for_condition_order(
        &hub,
        &ns.name,
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
    let cd = get_cd(&hub, &ns.name, &reconcile_paused).await?;
    ensure!(
        cd.status
            .is_none_or(|s| s.conditions.is_empty() && s.installed_timestamp.is_none()),
        "a reconcile-paused cluster should get no status: {:?}",
        get_cd(&hub, &ns.name, &reconcile_paused).await?.status
    );
    ensure!(
        cluster_sync(&hub, &ns.name, &reconcile_paused)
            .await?
            .is_none(),
        "a reconcile-paused cluster should get no ClusterSync"
    );
    Ok(())
}

/// Deleting a ClusterSync (here without cascading, so its lease stays and no garbage collection wakes anything)
/// re-creates it within seconds, as Hive does: "delete the ClusterSync to force a resync".
#[tokio::test]
async fn deleting_a_cluster_sync_re_creates_it_within_seconds() -> Result<()> {
    let hub = hub().await?;
    let cluster = TestCluster::register(&hub, 1, "e2e-cs-deleted", &[], json!({})).await?;
    let first = wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async {
        let cs = cluster.cluster_sync(&hub).await?;
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
    let leases = Api::<ClusterSyncLease>::namespaced(hub.clone(), cluster.ns());
    wait_for(STATUS_TIMEOUT, Duration::from_millis(250), || async {
        leases
            .get_opt(&cluster.name)
            .await?
            .map(|_| ())
            .context("no ClusterSyncLease yet")
    })
    .await?;

    Api::<hivesync::api::ClusterSync>::namespaced(hub.clone(), cluster.ns())
        .delete(&cluster.name, &DeleteParams::orphan())
        .await
        .context("deleting the ClusterSync")?;
    let deleted = Instant::now();
    let again = wait_for(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            match cluster.cluster_sync(&hub).await? {
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
        let cs = cluster.cluster_sync(&hub).await?;
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
    let hub = hub().await?;
    let group = unique_name("e2e-badvalue");
    let cluster = TestCluster::register(
        &hub,
        2,
        "e2e-badvalue",
        &[("e2e-badvalue", &group)],
        json!({}),
    )
    .await?;
    let spoke_ns = cluster.spoke_namespace("e2e-badvalue").await?;
    let sss_for = |name: &str, expression: Value| {
        selector_syncset(
            name,
            json!({
                "clusterDeploymentSelector": {
                    "matchLabels": {"e2e-badvalue": group},
                    "matchExpressions": [expression],
                },
                "resourceApplyMode": "Sync",
                "resources": [configmap(&spoke_ns.name, name, json!({"k": "v"}))],
            }),
        )
    };
    let (bad_value, bad_key, valid) = (
        unique_name("e2e-badvalue"),
        unique_name("e2e-badkey"),
        unique_name("e2e-goodvalue"),
    );
    let _guards = [
        sss_guard(&bad_value),
        sss_guard(&bad_key),
        sss_guard(&valid),
    ];
    apply_selector_syncset_object(
        &hub,
        &sss_for(
            &bad_value,
            json!({"key": "env", "operator": "NotIn", "values": ["prod cluster"]}),
        ),
    )
    .await
    .context("the API server should accept a NotIn value with a space")?;
    apply_selector_syncset_object(
        &hub,
        &sss_for(
            &bad_key,
            json!({"key": "foo bar", "operator": "DoesNotExist"}),
        ),
    )
    .await?;
    // The same selector with a valid value: applied, and applied after the invalid ones were seen.
    let generation = apply_selector_syncset_object(
        &hub,
        &sss_for(
            &valid,
            json!({"key": "env", "operator": "NotIn", "values": ["prod-cluster"]}),
        ),
    )
    .await?;
    cluster
        .entry(
            &hub,
            EntryKind::SelectorSyncSet,
            &valid,
            succeeded_at(generation),
        )
        .await?;
    wait_for_spoke_configmap(
        &cluster.spoke,
        &spoke_ns.name,
        &valid,
        "synced by the valid selector",
        ENTRY_TIMEOUT,
        |_| true,
    )
    .await?;

    for sss in [&bad_value, &bad_key] {
        let (entry, status) = cluster
            .current_entry(&hub, EntryKind::SelectorSyncSet, sss)
            .await?;
        ensure!(
            entry.is_none(),
            "SelectorSyncSet {sss} has an invalid selector and should match nothing:\n{status}"
        );
        let configmaps = Api::<ConfigMap>::namespaced(cluster.spoke.clone(), &spoke_ns.name);
        ensure!(
            configmaps.get_opt(sss).await?.is_none(),
            "SelectorSyncSet {sss} was applied to the spoke"
        );
    }
    // The controller says why.
    let lines = wait_for_controller_log_line(
        &[bad_value.as_str(), "matches no cluster", "prod cluster"],
        Duration::from_secs(10),
    )
    .await?;
    eprintln!("{}", lines[0]);
    wait_for_controller_log_line(
        &[bad_key.as_str(), "matches no cluster", "foo bar"],
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
    let hub = hub().await?;
    let n = 2;
    let plain = TestCluster::register(&hub, n, "e2e-order-plain", &[], json!({})).await?;
    let closed = TestCluster::register(
        &hub,
        n,
        "e2e-order-closed",
        &[],
        json!({"controlPlaneConfig": {"apiURLOverride": "https://127.0.0.1:1"}}),
    )
    .await?;
    let working = TestCluster::register(
        &hub,
        n,
        "e2e-order-open",
        &[],
        json!({"controlPlaneConfig": {"apiURLOverride": kubeconfig_server(&managed_kubeconfig(n))}}),
    )
    .await?;

    wait_for_condition_order(
        &hub,
        plain.ns(),
        &plain.name,
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
        plain.condition(&hub, "ActiveAPIURLOverride").await?,
        Some(initialized()),
        "ActiveAPIURLOverride without an override"
    );
    wait_for_condition_order(
        &hub,
        closed.ns(),
        &closed.name,
        &[
            "ActiveAPIURLOverride=False",
            "SyncSetFailed=False",
            "Unreachable=False",
        ],
    )
    .await?;
    wait_for_condition_order(
        &hub,
        working.ns(),
        &working.name,
        &[
            "ActiveAPIURLOverride=True",
            "SyncSetFailed=False",
            "Unreachable=False",
        ],
    )
    .await?;

    // A failing syncset: SyncSetFailed=True (undesired) first.
    let ss = unique_name("e2e-order");
    let missing_ns = unique_name("e2e-order-missing");
    apply_syncset(
        &hub,
        working.ns(),
        &ss,
        &working.name,
        json!({"resources": [configmap(&missing_ns, "nowhere", json!({"a": "b"}))]}),
    )
    .await?;
    working
        .entry(&hub, EntryKind::SyncSet, &ss, is_failure)
        .await?;
    wait_for_condition_order(
        &hub,
        working.ns(),
        &working.name,
        &[
            "SyncSetFailed=True",
            "ActiveAPIURLOverride=True",
            "Unreachable=False",
        ],
    )
    .await?;
    Ok(())
}
