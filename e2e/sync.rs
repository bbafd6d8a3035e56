//! The sync engine end to end: the controller started by `hack/e2e.sh` against the real hub and managed clusters.
//! Each test registers its own ClusterDeployments (unique hub namespaces and names), creates [Selector]SyncSets with
//! unique names and selector labels, and asserts on what the spokes hold and on the ClusterSync and
//! ClusterDeployment status on the hub, with Hive's strings and where hivesync deliberately differs
//! (docs/hive-compatibility.md).
//!
//! Tests sync to managed-1 and managed-2 only; several ClusterDeployments may point at the same managed cluster
//! (different hub namespaces), and the objects they sync live in namespaces of their own. A stopped cluster is the
//! business of `faults`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use futures::StreamExt as _;
use hivesync::api::{ClusterSync, SyncStatus};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use kube::Client;
use serde_json::{json, Value};

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

/// A minimal CRD (any field accepted) for `kind` in `group`/`version`.
fn minimal_crd(group: &str, version: &str, kind: &str, plural: &str, scope: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": format!("{kind}List"),
                "plural": plural,
                "singular": kind.to_ascii_lowercase(),
            },
            "versions": [{
                "name": version,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                }},
            }],
        },
    })
}

/// Creates (server-side apply) a CRD on a cluster and waits until it is Established.
async fn install_crd(client: &Client, crd: &Value) -> Result<()> {
    let name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    server_side_apply(&api, &name, crd, &format!("creating CRD {name}")).await?;
    let (api, name) = (&api, &name);
    wait_for(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async move {
            let crd = api.get(name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            ensure!(established, "CRD {name} is not Established");
            Ok(())
        },
    )
    .await
}

/// An Api for a custom resource on a cluster.
fn custom_api(
    client: &Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Records every state of one ClusterSync entry the hub's watch shows, from now until dropped, so a test can check
/// what the entry went through (a poll could miss a short-lived Failure).
struct EntryHistory {
    seen: Arc<Mutex<Vec<SyncStatus>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EntryHistory {
    /// Starts watching the entry for `syncset` of `cluster`'s ClusterSync, and returns once the watch has listed the
    /// current state, so no later write is missed.
    async fn start(hub: &Client, cluster: &Cluster, syncset: &impl EntryKey) -> Result<Self> {
        let (namespace, cd) = (cluster.ns(), &cluster.name);
        let (kind, syncset) = (syncset.entry_kind(), syncset.entry_name());
        let api = Api::<ClusterSync>::namespaced(hub.clone(), namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={cd}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (recorded, syncset) = (seen.clone(), syncset.to_string());
        let (listed, ready) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut listed = Some(listed);
            let mut events = std::pin::pin!(watcher::watcher(api, config));
            while let Some(event) = events.next().await {
                let cs = match event {
                    Ok(watcher::Event::Apply(cs) | watcher::Event::InitApply(cs)) => cs,
                    Ok(watcher::Event::InitDone) => {
                        if let Some(listed) = listed.take() {
                            let _ = listed.send(());
                        }
                        continue;
                    }
                    _ => continue,
                };
                let Some(status) = cs.status else { continue };
                if let Some(e) = kind.entries(&status).iter().find(|e| e.name == syncset) {
                    let mut seen = recorded.lock().expect("history lock");
                    if seen.last() != Some(e) {
                        seen.push(e.clone());
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .context("the ClusterSync watch did not list within 30s")?
            .context("the ClusterSync watch stopped before listing")?;
        Ok(Self { seen, task })
    }

    fn states(&self) -> Vec<SyncStatus> {
        self.seen.lock().expect("history lock").clone()
    }
}

impl Drop for EntryHistory {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ------------------------------------------------------------------------ Hive's own e2e scenarios, re-run here

/// One ConfigMap (`name`, data `foo=bar`) synced by a SyncSet in `mode` to a cluster of its own on managed-`n`: the
/// entry has reached Success and the ConfigMap, which carries the managed label, is on the spoke.
struct OneConfigMap {
    cluster: Cluster,
    spoke_ns: TestNamespace,
    ss: SyncSet,
    entry: SyncStatus,
    cm: ConfigMap,
}

impl OneConfigMap {
    async fn sync(mode: &str, n: usize, name: &str) -> Result<Self> {
        let fleet = Fleet::connect().await?;
        let prefix = format!("e2e-ss-{}", mode.to_ascii_lowercase());
        let cluster = fleet.cluster(&prefix).on(n).reachable().await?;
        let spoke_ns = cluster.spoke().namespace(&prefix).await?;
        let ss = cluster.syncset(&prefix);
        ss.apply(json!({
            "resourceApplyMode": mode,
            "resources": [configmap(&spoke_ns.name, name, json!({"foo": "bar"}))],
        }))
        .await?;
        let entry = cluster.entry(&ss, is_success).await?;
        let cm = cluster.spoke().wait_configmap(&spoke_ns.name, name).await?;
        assert_eq!(
            label(&cm.metadata, MANAGED_LABEL),
            Some("true"),
            "every synced object carries {MANAGED_LABEL}=true"
        );
        Ok(Self {
            cluster,
            spoke_ns,
            ss,
            entry,
            cm,
        })
    }
}

#[tokio::test]
async fn a_sync_mode_syncset_creates_its_configmap_on_the_spoke_and_deleting_the_syncset_deletes_it(
) -> Result<()> {
    let OneConfigMap {
        cluster,
        spoke_ns,
        ss,
        entry,
        cm,
    } = OneConfigMap::sync("Sync", 1, "synced").await?;
    assert_eq!(
        entry.resources_to_delete,
        vec![reference("v1", "ConfigMap", &spoke_ns.name, "synced")],
        "a Sync-mode SyncSet tracks what it applied in resourcesToDelete"
    );
    assert!(
        entry.failure_message.is_none(),
        "a Success entry has no failureMessage: {entry:?}"
    );
    assert!(
        entry.first_success_time.is_some(),
        "firstSuccessTime is set on success: {entry:?}"
    );
    assert_eq!(cm.data, Some(data(&[("foo", "bar")])));

    ss.delete().await?;
    cluster.no_entry(&ss).await?;
    wait_for_gone(
        &cluster.spoke().api::<ConfigMap>(&spoke_ns.name),
        "synced",
        "the ConfigMap of the deleted Sync-mode SyncSet",
        Duration::from_secs(60),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn an_upsert_mode_syncset_labels_its_configmap_as_managed_and_deleting_the_syncset_leaves_it(
) -> Result<()> {
    let OneConfigMap {
        cluster,
        spoke_ns,
        ss,
        entry,
        ..
    } = OneConfigMap::sync("Upsert", 2, "upserted").await?;
    assert!(
        entry.resources_to_delete.is_empty(),
        "an Upsert-mode SyncSet tracks nothing for deletion: {entry:?}"
    );

    ss.delete().await?;
    cluster.no_entry(&ss).await?;
    // The entry is gone, so the controller has finished with the SyncSet; give a wrong delete time to land anyway.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = cluster
        .spoke()
        .api::<ConfigMap>(&spoke_ns.name)
        .get_opt("upserted")
        .await?;
    let still =
        still.context("deleting an Upsert-mode SyncSet deleted its ConfigMap on the spoke")?;
    assert!(
        still.metadata.deletion_timestamp.is_none(),
        "deleting an Upsert-mode SyncSet is deleting its ConfigMap on the spoke"
    );
    Ok(())
}

#[tokio::test]
async fn a_selector_syncset_follows_a_label_on_and_off_and_never_reaches_an_unlabelled_cluster(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("cluster-group");
    let labelled = fleet.cluster("e2e-sss-label").reachable().await?;
    let unlabelled = fleet.cluster("e2e-sss-nolabel").on(2).reachable().await?;
    let spoke_ns = PlannedNamespace::on(&[labelled.spoke(), unlabelled.spoke()], "e2e-sss-objects");
    let spoke_ns = &spoke_ns.name;
    let sss = fleet.selector_syncset("e2e-sss-label").selecting(&group);
    sss.apply(json!({
        "resourceApplyMode": "Sync",
        "resources": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spoke_ns}},
            configmap(spoke_ns, "selected", json!({"hello": "world"})),
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "selected", "namespace": spoke_ns},
             "stringData": {"password": "s3cr3t"}},
        ],
    }))
    .await?;

    labelled.join(&group).await?;
    let entry = labelled.entry(&sss, is_success).await?;
    // Sorted as Hive sorts them: apiVersion, kind, namespace, name.
    assert_eq!(
        entry.resources_to_delete,
        vec![
            reference("v1", "ConfigMap", spoke_ns, "selected"),
            reference("v1", "Namespace", "", spoke_ns),
            reference("v1", "Secret", spoke_ns, "selected"),
        ],
        "the Sync-mode SelectorSyncSet tracks all its objects"
    );
    labelled
        .spoke()
        .wait_configmap(spoke_ns, "selected")
        .await?;
    let secret = labelled
        .spoke()
        .api::<Secret>(spoke_ns)
        .get_opt("selected")
        .await?
        .context("the Secret resource of the SelectorSyncSet is not on the labelled cluster")?;
    assert_eq!(
        secret
            .data
            .unwrap_or_default()
            .get("password")
            .map(|b| b.0.clone()),
        Some(b"s3cr3t".to_vec())
    );

    // The unlabelled cluster: its ClusterSync exists (it is reachable and synced) but has no entry, and its spoke
    // has no trace of the objects.
    let check_unlabelled = || async {
        let cs = unlabelled.wait_cluster_sync().await?;
        let status = cs.status.clone().unwrap_or_default();
        ensure!(
            !EntryKind::SelectorSyncSet
                .entries(&status)
                .iter()
                .any(|e| e.name == sss.name),
            "the unlabelled cluster has an entry for {}:\n{}",
            sss.name,
            describe_cluster_sync(Some(&cs))
        );
        let ns = unlabelled
            .spoke()
            .api_all::<Namespace>()
            .get_opt(spoke_ns)
            .await?;
        ensure!(
            ns.is_none(),
            "namespace {spoke_ns} reached the unlabelled cluster"
        );
        Ok::<_, anyhow::Error>(())
    };
    check_unlabelled().await?;

    labelled.leave(&group).await?;
    labelled.no_entry(&sss).await?;
    let spoke = labelled.spoke();
    let gone = Duration::from_secs(60);
    wait_for_gone(
        &spoke.api::<ConfigMap>(spoke_ns),
        "selected",
        "the ConfigMap after the label was removed",
        gone,
    )
    .await?;
    wait_for_gone(
        &spoke.api::<Secret>(spoke_ns),
        "selected",
        "the Secret after the label was removed",
        gone,
    )
    .await?;
    wait_for_gone(
        &spoke.api_all::<Namespace>(),
        spoke_ns,
        "the namespace after the label was removed",
        gone,
    )
    .await?;

    check_unlabelled().await
}

// ------------------------------------------------- apply semantics: server-side apply (docs/hive-compatibility.md)

/// Registers a cluster on managed-1, syncs a ConfigMap with `behavior` and data `first`, then edits the SyncSet to
/// each of `edits` in turn, waiting for each generation to be applied. Returns the spoke ConfigMap after each step.
async fn configmap_through_edits(
    behavior: &str,
    first: Value,
    edits: &[Value],
) -> Result<Vec<ConfigMap>> {
    let fleet = Fleet::connect().await?;
    let prefix = format!("e2e-{}", behavior.to_ascii_lowercase());
    let cluster = fleet.cluster(&prefix).reachable().await?;
    let spoke_ns = cluster.spoke().namespace("e2e-behavior").await?;
    let ss = cluster.syncset(&prefix);
    let spec = |d: &Value| {
        json!({
            "applyBehavior": behavior,
            "resources": [configmap(&spoke_ns.name, "behaves", d.clone())],
        })
    };
    let mut seen = Vec::new();
    for (step, d) in std::iter::once(&first).chain(edits).enumerate() {
        let generation = ss.apply(spec(d)).await?;
        cluster
            .entry(&ss, succeeded_at(generation))
            .await
            .with_context(|| {
                format!("{behavior}: step {step} (generation {generation}) was not applied")
            })?;
        let cm = cluster
            .spoke()
            .api::<ConfigMap>(&spoke_ns.name)
            .get("behaves")
            .await
            .with_context(|| {
                format!("{behavior}: step {step}: the ConfigMap is not on the spoke")
            })?;
        seen.push(cm);
    }
    Ok(seen)
}

#[tokio::test]
async fn apply_behavior_apply_removes_a_key_dropped_from_the_syncset_without_a_last_applied_annotation(
) -> Result<()> {
    let seen = configmap_through_edits(
        "Apply",
        json!({"foo": "bar", "keep": "x"}),
        &[json!({"keep": "x", "foo1": "bar1"})],
    )
    .await?;
    assert_eq!(seen[0].data, Some(data(&[("foo", "bar"), ("keep", "x")])));
    assert_eq!(
        seen[1].data,
        Some(data(&[("foo1", "bar1"), ("keep", "x")])),
        "Apply: a key removed from the SyncSet must be removed from the spoke object"
    );
    let annotations = seen[1].metadata.annotations.clone().unwrap_or_default();
    assert!(
        !annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "server-side apply writes no last-applied annotation: {annotations:?}"
    );
    Ok(())
}

#[tokio::test]
async fn apply_behavior_create_or_update_adds_and_changes_keys_but_never_removes_one() -> Result<()>
{
    let seen = configmap_through_edits(
        "CreateOrUpdate",
        json!({"foo": "bar"}),
        &[
            json!({"foo": "bar", "foo2": "bar2"}),
            json!({"foo": "bar-test", "foo3": "bar3"}),
        ],
    )
    .await?;
    assert_eq!(seen[0].data, Some(data(&[("foo", "bar")])));
    assert_eq!(
        seen[1].data,
        Some(data(&[("foo", "bar"), ("foo2", "bar2")]))
    );
    assert_eq!(
        seen[2].data,
        Some(data(&[
            ("foo", "bar-test"),
            ("foo2", "bar2"),
            ("foo3", "bar3")
        ])),
        "CreateOrUpdate (OCP-34404): keys are merged, a key removed from the SyncSet stays"
    );
    Ok(())
}

#[tokio::test]
async fn apply_behavior_create_only_ignores_later_edits_of_the_syncset() -> Result<()> {
    let seen = configmap_through_edits(
        "CreateOnly",
        json!({"foo": "bar"}),
        &[json!({"foo": "changed", "foo2": "new"})],
    )
    .await?;
    assert_eq!(seen[0].data, Some(data(&[("foo", "bar")])));
    assert_eq!(
        seen[1].data,
        Some(data(&[("foo", "bar")])),
        "CreateOnly: an edit of the SyncSet must not reach the existing spoke object"
    );
    Ok(())
}

// ----------------------------------------------------------- ordering inside a syncset (docs/hive-compatibility.md)

#[tokio::test]
async fn a_crd_and_its_cr_listed_before_it_succeed_in_one_pass_with_the_namespace_listed_last(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-crd-cr").on(2).reachable().await?;
    let spoke = cluster.spoke();
    let group = format!("{}.e2e.hivesync.io", unique_name("g"));
    let crd_name = format!("gadgets.{group}");
    let spoke_ns = PlannedNamespace::on(&[spoke], "e2e-crd-cr");
    let spoke_ns = &spoke_ns.name;
    let _crd_cleanup = spoke.delete_on_drop("crd", None, &crd_name);
    let ss = cluster.syncset("e2e-crd-cr");
    let history = EntryHistory::start(&fleet.hub, &cluster, &ss).await?;

    ss.apply(json!({
        "resourceApplyMode": "Sync",
        "resources": [
            {"apiVersion": format!("{group}/v1"), "kind": "Gadget",
             "metadata": {"name": "first-gadget", "namespace": spoke_ns},
             "spec": {"size": 3}},
            minimal_crd(&group, "v1", "Gadget", "gadgets", "Namespaced"),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spoke_ns}},
        ],
    }))
    .await?;
    let entry = cluster.entry(&ss, is_success).await;
    // Let the watch deliver what it has seen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let states = history.states();
    let entry = entry.with_context(|| format!("states the entry went through: {states:#?}"))?;
    assert!(
        states.iter().any(is_success),
        "the ClusterSync watch recorded no Success state, so it cannot tell whether a Failure came first: {states:#?}"
    );
    let failures: Vec<_> = states.iter().filter(|e| is_failure(e)).collect();
    assert!(
        failures.is_empty(),
        "the CRD + CR syncset went through Failure before Success (it should succeed in one pass): {failures:#?}"
    );
    // Sorted as Hive sorts them: apiVersion, kind, namespace, name.
    assert_eq!(
        entry.resources_to_delete,
        vec![
            reference(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "",
                &crd_name
            ),
            reference(&format!("{group}/v1"), "Gadget", spoke_ns, "first-gadget"),
            reference("v1", "Namespace", "", spoke_ns),
        ]
    );
    let gadget = custom_api(
        &spoke.client,
        &group,
        "v1",
        "Gadget",
        "gadgets",
        Some(spoke_ns),
    )
    .get("first-gadget")
    .await
    .context("the Gadget is not on the spoke")?;
    assert_eq!(gadget.data["spec"]["size"], json!(3));

    // Sync mode cleans all three up again when the SyncSet goes.
    ss.delete().await?;
    cluster.no_entry(&ss).await?;
    wait_for_gone(
        &spoke.api_all::<CustomResourceDefinition>(),
        &crd_name,
        "the CRD of the deleted SyncSet",
        Duration::from_secs(60),
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------------------------ failures, with Hive's messages

#[tokio::test]
async fn a_resource_in_a_missing_namespace_fails_with_hives_messages_while_other_syncsets_still_apply(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-missing-ns").reachable().await?;
    // A cluster with no syncsets has succeeded, as in Hive (docs/hive-compatibility.md): its ClusterSync's
    // firstSuccessTime is set before the syncsets below exist, and once set it never changes.
    let first_success = Some(cluster.wait_first_success().await?);
    let spoke = cluster.spoke();
    let good_ns = spoke.namespace("e2e-missing-ns-good").await?;
    let missing_ns = PlannedNamespace::on(&[spoke], "e2e-missing-ns-absent");
    let missing_ns = &missing_ns.name;
    let bad = cluster.syncset("e2e-bad-ns");
    let good = cluster.syncset("e2e-good-ns");

    bad.apply(json!({"resources": [configmap(missing_ns, "nowhere", json!({"a": "b"}))]}))
        .await?;
    good.apply(json!({"resources": [configmap(&good_ns.name, "somewhere", json!({"a": "b"}))]}))
        .await?;

    let failed = cluster.entry(&bad, is_failure).await?;
    let message = failed.failure_message.clone().unwrap_or_default();
    assert!(
        message.starts_with("failed to apply resource 0: "),
        "failureMessage should start with Hive's prefix: {message:?}"
    );
    assert!(
        message.contains(missing_ns.as_str()),
        "failureMessage should name the namespace {missing_ns}: {message:?}"
    );
    assert!(
        failed.first_success_time.is_none(),
        "a syncset that never succeeded has no firstSuccessTime"
    );

    cluster.entry(&good, is_success).await?;
    spoke.wait_configmap(&good_ns.name, "somewhere").await?;

    let failing = format!("SyncSet {} is failing", bad.name);
    cluster
        .wait_cluster_sync_failed("True", "Failure", &failing)
        .await?;
    cluster.expect_syncset_apply_failure().await?;

    // Once the namespace exists, the failed syncset is retried (backoff) without any edit and everything is green.
    ensure_namespace(&spoke.client, missing_ns).await?;
    cluster.entry(&bad, is_success).await?;
    spoke.wait_configmap(missing_ns, "nowhere").await?;
    wait_for(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async {
            let cs = cluster.cluster_sync().await?.context("no ClusterSync")?;
            let status = cs.status.clone().unwrap_or_default();
            let c = status.conditions.first();
            ensure!(
                c.is_some_and(|c| c.type_ == "Failed"
                    && c.status == "False"
                    && c.reason == "Success"
                    && c.message
                        == "All SyncSets and SelectorSyncSets have been applied to the cluster")
                    && status.first_success_time.is_some()
                && status.first_success_time == first_success,
                "expected Failed=False/Success and firstSuccessTime unchanged ({first_success:?}); status:\n{}",
                describe_cluster_sync(Some(&cs))
            );
            Ok(())
        },
    )
    .await?;
    cluster.expect_syncset_apply_success().await?;
    Ok(())
}

/// The OLM CRDs the ODH addon needs: (group, version, kind, plural).
const OLM_KINDS: [(&str, &str, &str, &str); 3] = [
    (
        "operators.coreos.com",
        "v1alpha1",
        "CatalogSource",
        "catalogsources",
    ),
    (
        "operators.coreos.com",
        "v1alpha2",
        "OperatorGroup",
        "operatorgroups",
    ),
    (
        "operators.coreos.com",
        "v1alpha1",
        "Subscription",
        "subscriptions",
    ),
];

#[tokio::test]
async fn the_odh_addon_selector_syncset_fails_without_olm_and_succeeds_once_the_olm_crds_exist(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let spoke = Spoke::connect(2).await?;

    // Only this test uses these on managed-2; start from a cluster without OLM, as a leftover of an earlier run
    // would make the first half meaningless.
    let crds = spoke.api_all::<CustomResourceDefinition>();
    let namespaces = spoke.api_all::<Namespace>();
    for (group, _, _, plural) in OLM_KINDS {
        let name = format!("{plural}.{group}");
        let _ = crds.delete(&name, &DeleteParams::default()).await;
        wait_for(
            Duration::from_secs(60),
            Duration::from_millis(250),
            || async {
                ensure!(
                    crds.get_opt(&name).await?.is_none(),
                    "CRD {name} from an earlier run is still there"
                );
                Ok(())
            },
        )
        .await?;
    }
    for ns in ["openshift-marketplace", "redhat-opendatahub"] {
        let _ = namespaces.delete(ns, &DeleteParams::default()).await;
        wait_for(
            Duration::from_secs(90),
            Duration::from_millis(500),
            || async {
                ensure!(
                    namespaces.get_opt(ns).await?.is_none(),
                    "namespace {ns} from an earlier run is still there"
                );
                Ok(())
            },
        )
        .await?;
    }
    let mut _cleanup: Vec<DeleteOnDrop> = OLM_KINDS
        .iter()
        .map(|(group, _, _, plural)| {
            spoke.delete_on_drop("crd", None, &format!("{plural}.{group}"))
        })
        .collect();
    for ns in ["openshift-marketplace", "redhat-opendatahub"] {
        _cleanup.push(spoke.delete_on_drop("namespace", None, ns));
    }

    let group = Group::new("api.openshift.com/addon-managed-odh");
    let cluster = fleet
        .cluster("e2e-odh")
        .on(2)
        .in_group(&group)
        .reachable()
        .await?;

    let path = repo_root().join("deploy/examples/addon-managed-odh.selectorsyncset.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut example: Value =
        serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let sss = fleet.selector_syncset("addon-managed-odh");
    example["metadata"]["name"] = json!(sss.name);
    example["spec"]["clusterDeploymentSelector"] = group.selector();
    sss.apply_object(&example).await?;

    let failed = cluster.entry(&sss, is_failure).await?;
    let message = failed.failure_message.clone().unwrap_or_default();
    assert!(
        message.starts_with("failed to apply resource ")
            && (message.contains("CatalogSource") || message.contains("operators.coreos.com")),
        "without OLM the addon should fail naming the missing kind: {message:?}"
    );

    for (group, version, kind, plural) in OLM_KINDS {
        install_crd(
            &spoke.client,
            &minimal_crd(group, version, kind, plural, "Namespaced"),
        )
        .await?;
    }
    ensure_namespace(&spoke.client, "openshift-marketplace").await?;

    let started = Instant::now();
    cluster
        .entry_within(&sss, Duration::from_secs(90), is_success)
        .await
        .context("the addon did not reach Success after OLM's CRDs were created (no edit of the SelectorSyncSet)")?;
    eprintln!(
        "the addon reached Success {:?} after the OLM CRDs were created",
        started.elapsed()
    );

    let objects = [
        (
            OLM_KINDS[0],
            "openshift-marketplace",
            "addon-managed-odh-catalog",
        ),
        (
            OLM_KINDS[1],
            "redhat-opendatahub",
            "redhat-layered-product-og",
        ),
        (OLM_KINDS[2], "redhat-opendatahub", "addon-managed-odh"),
    ];
    for ((group, version, kind, plural), ns, obj) in objects {
        custom_api(&spoke.client, group, version, kind, plural, Some(ns))
            .get(obj)
            .await
            .with_context(|| format!("{kind} {ns}/{obj} is not on the spoke"))?;
    }

    // Sync mode: deleting the SelectorSyncSet takes its objects (and the namespace it created) away again.
    sss.delete().await?;
    cluster.no_entry(&sss).await?;
    Ok(())
}

// --------------------------------------------------------------------------------------------------- bad input

#[tokio::test]
async fn a_resource_of_a_kind_the_cluster_does_not_serve_fails_with_no_matches_for_kind_and_spares_other_clusters(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let selected = Group::new("hivesync.e2e/widgets");
    let without = fleet
        .cluster("e2e-widget-no")
        .in_group(&selected)
        .reachable()
        .await?;
    let with = fleet
        .cluster("e2e-widget-yes")
        .on(2)
        .in_group(&selected)
        .reachable()
        .await?;
    // managed-2 serves Widget (a group of this test's own); managed-1 does not.
    let group = format!("{}.example.com", unique_name("w"));
    let crd_name = format!("widgets.{group}");
    let _crd_cleanup = with.spoke().delete_on_drop("crd", None, &crd_name);
    install_crd(
        &with.spoke().client,
        &minimal_crd(&group, "v1", "Widget", "widgets", "Cluster"),
    )
    .await?;
    let widget = unique_name("widget");

    let sss = fleet.selector_syncset("e2e-widget").selecting(&selected);
    sss.apply(json!({
        "resourceApplyMode": "Sync",
        "resources": [{"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": widget}}],
    }))
    .await?;
    // Another syncset for the cluster without Widget still applies.
    let spoke_ns = without.spoke().namespace("e2e-widget").await?;
    let other = without.syncset("e2e-widget-other");
    other
        .apply(json!({"resources": [configmap(&spoke_ns.name, "unaffected", json!({"a": "b"}))]}))
        .await?;

    let failed = without.entry(&sss, is_failure).await?;
    let message = failed.failure_message.clone().unwrap_or_default();
    assert!(
        message.starts_with("failed to apply resource 0: ")
            && message.contains("no matches for kind \"Widget\""),
        "an unserved kind should fail with `no matches for kind \"Widget\"`: {message:?}"
    );
    without.entry(&other, is_success).await?;
    without
        .spoke()
        .wait_configmap(&spoke_ns.name, "unaffected")
        .await?;

    with.entry(&sss, is_success).await?;
    custom_api(
        &with.spoke().client,
        &group,
        "v1",
        "Widget",
        "widgets",
        None,
    )
    .get(&widget)
    .await
    .context("the Widget is not on the cluster that serves the kind")?;
    Ok(())
}

/// A ClusterDeployment whose kubeconfig Secret is `secret` fails every syncset entry with a message starting with
/// `expected`, and the ClusterSync says so; a healthy ClusterDeployment matched by the same SelectorSyncSet (and a
/// SyncSet naming both clusters' ClusterDeployments in the same way) still gets Success.
async fn assert_bad_kubeconfig_fails(
    prefix: &str,
    secrets: &[(KubeconfigSecret, String)],
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("hivesync.e2e/kubeconfig-case");
    let healthy = fleet
        .cluster(&format!("{prefix}-ok"))
        .in_group(&group)
        .reachable()
        .await?;
    let spoke_ns = healthy.spoke().namespace(prefix).await?;

    let mut broken = Vec::new();
    for (secret, expected) in secrets {
        let cluster = fleet
            .cluster(prefix)
            .in_group(&group)
            .kubeconfig(secret.clone())
            .register()
            .await?;
        broken.push((cluster, expected));
    }

    let sss = fleet.selector_syncset(prefix).selecting(&group);
    let ss = unique_name(prefix);
    sss.apply(json!({"resources": [configmap(&spoke_ns.name, "from-sss", json!({"a": "b"}))]}))
        .await?;
    for (cluster, _) in &broken {
        cluster
            .syncset_named(&ss)
            .apply(json!({"resources": [configmap(&spoke_ns.name, "from-ss", json!({"a": "b"}))]}))
            .await?;
    }

    for (cluster, expected) in &broken {
        let name = &cluster.name;
        for entry in [
            (EntryKind::SelectorSyncSet, sss.name.as_str()),
            (EntryKind::SyncSet, ss.as_str()),
        ] {
            let failed = cluster.entry(&entry, is_failure).await?;
            let message = failed.failure_message.clone().unwrap_or_default();
            assert!(
                message.starts_with(expected.as_str()),
                "{name}: the {} entry {} should fail with {expected:?}..., got {message:?}",
                entry.0.list_name(),
                entry.1
            );
        }
        let cs = cluster.cluster_sync().await?;
        let condition = cs
            .as_ref()
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.first());
        assert!(
            condition.is_some_and(|c| c.status == "True"
                && c.reason == "Failure"
                && c.message
                    == format!("SyncSet {ss} and SelectorSyncSet {} are failing", sss.name)),
            "{name}: ClusterSync Failed condition:\n{}",
            describe_cluster_sync(cs.as_ref())
        );
    }
    healthy.entry(&sss, is_success).await?;
    healthy
        .spoke()
        .wait_configmap(&spoke_ns.name, "from-sss")
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_kubeconfig_secret_fails_every_entry_of_its_cluster_and_spares_the_others(
) -> Result<()> {
    assert_bad_kubeconfig_fails(
        "e2e-kc-missing",
        &[(
            KubeconfigSecret::Missing,
            "could not get admin kubeconfig secret: ".into(),
        )],
    )
    .await
}

#[tokio::test]
async fn an_empty_kubeconfig_secret_fails_every_entry_of_its_cluster_and_spares_the_others(
) -> Result<()> {
    let expected = "kubeconfig secret does not contain necessary data".to_string();
    assert_bad_kubeconfig_fails(
        "e2e-kc-empty",
        &[
            (KubeconfigSecret::Data(Vec::new()), expected.clone()),
            (KubeconfigSecret::NoKey, expected),
        ],
    )
    .await
}

/// A cluster whose kubeconfig Secret is broken syncs once only the Secret is fixed (no edit of the ClusterDeployment
/// or the SyncSet): the Secret watch records the new version, so the cached failed client is rebuilt; the watch event
/// queues the cluster through the kubeconfig index (the e2e controller's 2 s probe would too).
#[tokio::test]
async fn fixing_a_broken_kubeconfig_secret_syncs_its_cluster_without_any_other_edit() -> Result<()>
{
    let fleet = Fleet::connect().await?;
    let prefix = "e2e-kc-fixed";
    let healthy = fleet.cluster(prefix).reachable().await?;
    let spoke_ns = healthy.spoke().namespace(prefix).await?;
    let broken = fleet
        .cluster(prefix)
        .kubeconfig(KubeconfigSecret::Data(b"{not: [yaml".to_vec()))
        .register()
        .await?;
    let ss = broken.syncset(prefix);
    ss.apply(json!({"resources": [configmap(&spoke_ns.name, "after-fix", json!({"a": "b"}))]}))
        .await?;
    let failed = broken.entry(&ss, is_failure).await?;
    ensure!(
        failed
            .failure_message
            .as_deref()
            .is_some_and(|m| m.starts_with("could not parse admin kubeconfig")),
        "unexpected failure: {failed:?}"
    );

    // Only the Secret changes: the working kubeconfig of managed-1.
    broken
        .set_kubeconfig(&std::fs::read(&healthy.spoke().kubeconfig)?)
        .await
        .context("fixing the kubeconfig Secret")?;
    broken
        .entry_within(&ss, Duration::from_secs(60), is_success)
        .await
        .context("the cluster did not sync after its kubeconfig Secret was fixed")?;
    healthy
        .spoke()
        .wait_configmap_where(
            &spoke_ns.name,
            "after-fix",
            "synced after the fix",
            SPOKE_TIMEOUT,
            |_| true,
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_kubeconfig_secret_that_is_not_yaml_fails_every_entry_of_its_cluster_and_spares_the_others(
) -> Result<()> {
    assert_bad_kubeconfig_fails(
        "e2e-kc-notyaml",
        &[(
            KubeconfigSecret::Data(b"{not: [yaml".to_vec()),
            "could not parse admin kubeconfig".into(),
        )],
    )
    .await
}

#[tokio::test]
async fn an_exec_kubeconfig_is_refused_on_every_entry_of_its_cluster_and_spares_the_others(
) -> Result<()> {
    // A working kubeconfig for managed-1, with its user swapped for an exec plugin.
    let path = managed_kubeconfig(1);
    let text = std::fs::read_to_string(&path)?;
    let mut kc: Value = serde_saphyr::from_str(&text)?;
    let user = "e2e-exec-user";
    kc["users"] = serde_saphyr::from_str(&format!(
        "[{{name: {user}, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: /bin/false}}}}}}]"
    ))?;
    for context in kc["contexts"].as_array_mut().into_iter().flatten() {
        context["context"]["user"] = user.into();
    }
    let exec = serde_saphyr::to_string(&kc)?;
    assert_bad_kubeconfig_fails(
        "e2e-kc-exec",
        &[(
            KubeconfigSecret::Data(exec.into_bytes()),
            format!("insecure exec in AuthInfos[{user}]"),
        )],
    )
    .await
}
