//! What a test arranges on the hub and the spokes, as builders and the handles they return (the last three in
//! [`super::spokes`] and [`super::syncsets`]):
//! - [`Fleet`]: the hub a test works on; where every arrangement starts;
//! - [`ClusterBuilder`] → [`Cluster`]: a ClusterDeployment with its kubeconfig Secret (working or broken), in a hub
//!   namespace of its own unless told otherwise, with the waits for what the controller writes about it (ClusterSync
//!   entries, conditions);
//! - [`Spoke`]: a managed cluster as the test sees it directly (namespaces, ConfigMaps, stopping it);
//! - [`SyncSet`] and [`SelectorSyncSet`]: apply, edit and delete one, and name its ClusterSync entry ([`EntryKey`]);
//! - [`Group`]: a label only the test's clusters carry, for its SelectorSyncSets to select;
//! - [`PlannedNamespace`]: the name of a namespace a syncset is to create on spokes, removed from them afterwards.
//!
//! A typical arrangement:
//! ```ignore
//! let fleet = Fleet::connect().await?;
//! let group = Group::new("hivesync.e2e/example");
//! let cluster = fleet.cluster("e2e-example").on(2).in_group(&group).reachable().await?;
//! let spoke_ns = cluster.spoke().namespace("e2e-example").await?;
//! let ss = cluster.syncset("e2e-example");
//! let generation = ss.apply(json!({"resources": [configmap(&spoke_ns.name, "cm", json!({}))]})).await?;
//! cluster.entry(&ss, succeeded_at(generation)).await?;
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use hivesync::api::{ClusterDeployment, ClusterSync, SyncStatus};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::ByteString;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use super::*;

/// Label key set on every ClusterDeployment the suite registers, so a leftover one is easy to find.
pub const E2E_CLUSTER_LABEL: &str = "hivesync.e2e/registered-by";

/// The reason and message of `SyncSetFailed=True` when a syncset failed to apply, as Hive writes them.
const SYNCSET_APPLY_FAILURE: (&str, &str) = (
    "SyncSetApplyFailure",
    "One of the SyncSet applies has failed",
);

/// The reason and message of `SyncSetFailed=False`, as Hive writes them.
const SYNCSET_APPLY_SUCCESS: (&str, &str) = ("SyncSetApplySuccess", "SyncSet apply is successful");

// ------------------------------------------------------------------------------------------------------------ fleet

/// The hub a test works on: a client for it, and the start of every arrangement.
#[derive(Clone)]
pub struct Fleet {
    pub hub: Client,
}

impl Fleet {
    /// The hub, checked to be reachable.
    pub async fn connect() -> Result<Self> {
        Ok(Self { hub: hub().await? })
    }

    /// [`Fleet::connect`], and the hub's CRDs installed (once per test process) for a test that relies on no
    /// controller.
    pub async fn with_crds() -> Result<Self> {
        let fleet = Self::connect().await?;
        ensure_crds(&fleet.hub).await?;
        Ok(fleet)
    }

    /// An Api for a namespaced kind in hub namespace `namespace`.
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.hub.clone(), namespace)
    }

    /// A ClusterDeployment to register: named `prefix` plus a unique suffix, pointing at managed-1 with its working
    /// kubeconfig, in a hub namespace of its own; see [`ClusterBuilder`] for what else it can be.
    pub fn cluster(&self, prefix: &str) -> ClusterBuilder {
        ClusterBuilder {
            hub: self.hub.clone(),
            prefix: prefix.to_string(),
            name: None,
            managed: 1,
            secret: None,
            labels: BTreeMap::new(),
            metadata: json!({}),
            spec: json!({}),
            namespace: None,
            installed_timestamp: true,
        }
    }

    /// A hub namespace of the test's own (named `prefix` plus a suffix), for clusters that share one
    /// ([`ClusterBuilder::in_namespace`]) or for objects of the test's own.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace> {
        TestNamespace::on_hub(&self.hub, prefix).await
    }

    /// SyncSet `name` (exactly) in hub namespace `namespace`, for the ClusterDeployments named `targets` (which need
    /// not exist yet).
    pub fn syncset(&self, namespace: &str, name: &str, targets: &[&str]) -> SyncSet {
        SyncSet::new(&self.hub, namespace, name, targets)
    }

    /// A SelectorSyncSet named `prefix` plus a unique suffix, deleted when the handle drops. It selects nothing of its
    /// own until [`SelectorSyncSet::selecting`] names a group (or the applied spec carries a selector).
    pub fn selector_syncset(&self, prefix: &str) -> SelectorSyncSet {
        SelectorSyncSet::new(&self.hub, &unique_name(prefix))
    }
}

// ------------------------------------------------------------------------------------------------------- clusters

/// What the admin kubeconfig Secret of a registered ClusterDeployment holds, when it is not the working kubeconfig of
/// the managed cluster the builder points at.
#[derive(Clone, Debug)]
pub enum KubeconfigSecret {
    /// These bytes under key `kubeconfig` (empty, not YAML, an `exec` kubeconfig, another server, ...).
    Data(Vec<u8>),
    /// A Secret without a `kubeconfig` key.
    NoKey,
    /// No Secret at all (the ClusterDeployment names one that does not exist).
    Missing,
}

/// The name of the admin kubeconfig Secret of ClusterDeployment `cd` (what `hivesync adopt` and Hive name it).
pub fn kubeconfig_secret_name(cd: &str) -> String {
    format!("{cd}-admin-kubeconfig")
}

/// A ClusterDeployment about to be registered ([`Fleet::cluster`]): the Secret `<name>-admin-kubeconfig`, an
/// installed ClusterDeployment naming it, then `status.installedTimestamp`, as `hivesync adopt` writes them.
/// [`ClusterBuilder::register`] returns once they are written; [`ClusterBuilder::reachable`] also waits until the
/// controller's probe has found the cluster reachable.
#[must_use]
pub struct ClusterBuilder {
    hub: Client,
    prefix: String,
    name: Option<String>,
    managed: usize,
    secret: Option<KubeconfigSecret>,
    labels: BTreeMap<String, String>,
    metadata: Value,
    spec: Value,
    namespace: Option<String>,
    installed_timestamp: bool,
}

impl ClusterBuilder {
    /// Points at managed cluster `n` (counting from 1; managed-1 unless told).
    pub fn on(mut self, n: usize) -> Self {
        self.managed = n;
        self
    }

    /// Puts it in `group` (labels it with the group's label).
    pub fn in_group(self, group: &Group) -> Self {
        self.labels(&[group.label()])
    }

    /// Adds these labels to the ClusterDeployment.
    pub fn labels(mut self, labels: &[(&str, &str)]) -> Self {
        self.labels
            .extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Merges `metadata` (e.g. `{"annotations": {...}}`) into the ClusterDeployment's (a JSON merge patch).
    pub fn metadata(mut self, metadata: Value) -> Self {
        json_patch::merge(&mut self.metadata, &metadata);
        self
    }

    /// Merges `spec` (e.g. `{"controlPlaneConfig": ...}`, `{"installed": false}`) into the ClusterDeployment's spec
    /// (a JSON merge patch), from its creation on.
    pub fn spec(mut self, spec: Value) -> Self {
        json_patch::merge(&mut self.spec, &spec);
        self
    }

    /// Registers it in hub namespace `namespace` (which exists, and which the test deletes) instead of a namespace of
    /// its own.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// Names it exactly `name` instead of `prefix` plus a suffix.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// A kubeconfig Secret other than the managed cluster's working kubeconfig; the cluster then has no [`Spoke`].
    pub fn kubeconfig(mut self, secret: KubeconfigSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Made by hand, as a user brings their own cluster: no status at all (no `installedTimestamp`).
    pub fn hand_made(mut self) -> Self {
        self.installed_timestamp = false;
        self
    }

    /// Registers the ClusterDeployment (its kubeconfig Secret first) and returns without waiting for the controller.
    pub async fn register(self) -> Result<Cluster> {
        let spoke = match self.secret {
            None => Some(Spoke::connect(self.managed).await?),
            Some(_) => None,
        };
        let hub_ns = match &self.namespace {
            Some(_) => None,
            None => Some(TestNamespace::on_hub(&self.hub, &self.prefix).await?),
        };
        let namespace = self
            .namespace
            .clone()
            .or_else(|| hub_ns.as_ref().map(|ns| ns.name.clone()))
            .unwrap_or_default();
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| unique_name(&self.prefix));
        let kubeconfig = match (&self.secret, &spoke) {
            (None, Some(spoke)) => {
                Some(std::fs::read(&spoke.kubeconfig).with_context(|| {
                    format!("reading kubeconfig {}", spoke.kubeconfig.display())
                })?)
            }
            (Some(KubeconfigSecret::Data(bytes)), _) => Some(bytes.clone()),
            _ => None,
        };
        match (&self.secret, kubeconfig) {
            (Some(KubeconfigSecret::Missing), _) => {}
            (Some(KubeconfigSecret::NoKey), _) => {
                apply_kubeconfig_secret(&self.hub, &namespace, &name, "not-the-kubeconfig", b"x")
                    .await?
            }
            (_, kubeconfig) => {
                let kubeconfig = kubeconfig.unwrap_or_default();
                apply_kubeconfig_secret(&self.hub, &namespace, &name, "kubeconfig", &kubeconfig)
                    .await?
            }
        }

        let secret_name = kubeconfig_secret_name(&name);
        let mut labels = self.labels.clone();
        labels.insert(E2E_CLUSTER_LABEL.into(), "sync".into());
        let mut cd = json!({
            "apiVersion": "hive.openshift.io/v1",
            "kind": "ClusterDeployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
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
        json_patch::merge(
            &mut cd,
            &json!({"metadata": self.metadata, "spec": self.spec}),
        );
        let cds = Api::<ClusterDeployment>::namespaced(self.hub.clone(), &namespace);
        let doing = format!("creating ClusterDeployment {namespace}/{name}");
        let created = server_side_apply(&cds, &name, &cd, &doing).await?;
        if self.installed_timestamp {
            let status =
                json!({"status": {"installedTimestamp": jiff::Timestamp::now().to_string()}});
            cds.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .with_context(|| {
                    format!(
                        "setting status.installedTimestamp of ClusterDeployment {namespace}/{name}"
                    )
                })?;
        }
        Ok(Cluster {
            hub: self.hub,
            name,
            namespace,
            _hub_ns: hub_ns,
            spoke,
            created,
        })
    }

    /// [`ClusterBuilder::register`], then waits until the controller's probe has found the cluster reachable
    /// (`Unreachable=False`).
    pub async fn reachable(self) -> Result<Cluster> {
        let cluster = self.register().await?;
        cluster.wait_until_reachable().await?;
        Ok(cluster)
    }
}

/// Creates or replaces (server-side apply) the admin kubeconfig Secret of ClusterDeployment `namespace/cd`, with
/// `bytes` under `key`.
async fn apply_kubeconfig_secret(
    hub: &Client,
    namespace: &str,
    cd: &str,
    key: &str,
    bytes: &[u8],
) -> Result<()> {
    let secret_name = kubeconfig_secret_name(cd);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name.clone()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some([(key.to_string(), ByteString(bytes.to_vec()))].into()),
        ..Default::default()
    };
    let secrets = Api::<Secret>::namespaced(hub.clone(), namespace);
    let doing = format!("writing Secret {namespace}/{secret_name}");
    server_side_apply(&secrets, &secret_name, &secret, &doing).await?;
    Ok(())
}

/// A registered ClusterDeployment ([`ClusterBuilder`]): where it is, the managed cluster it points at (when its
/// kubeconfig is a working one), and the waits for what the controller writes about it. Its hub namespace, when it
/// has one of its own, is deleted on drop, with the ClusterDeployment, its Secret, its ClusterSync and any SyncSet or
/// source Secret in it.
pub struct Cluster {
    hub: Client,
    pub name: String,
    namespace: String,
    _hub_ns: Option<TestNamespace>,
    spoke: Option<Spoke>,
    /// The ClusterDeployment as its creation answered, before the controller wrote anything.
    pub created: ClusterDeployment,
}

impl Cluster {
    /// The hub namespace of the ClusterDeployment.
    pub fn ns(&self) -> &str {
        &self.namespace
    }

    /// The managed cluster it points at. Panics for a cluster registered with another kubeconfig
    /// ([`ClusterBuilder::kubeconfig`]).
    pub fn spoke(&self) -> &Spoke {
        self.spoke.as_ref().unwrap_or_else(|| {
            panic!(
                "ClusterDeployment {}/{} was registered with a kubeconfig of its own, so it has no spoke",
                self.namespace, self.name
            )
        })
    }

    /// A SyncSet named `prefix` plus a unique suffix, in this cluster's hub namespace, for this cluster.
    pub fn syncset(&self, prefix: &str) -> SyncSet {
        self.syncset_named(&unique_name(prefix))
    }

    /// SyncSet `name` (exactly), in this cluster's hub namespace, for this cluster.
    pub fn syncset_named(&self, name: &str) -> SyncSet {
        SyncSet::new(&self.hub, &self.namespace, name, &[&self.name])
    }

    /// Waits (up to [`ENTRY_TIMEOUT`]) until this cluster's ClusterSync has an entry for `syncset` that satisfies
    /// `predicate`, and returns it.
    pub async fn entry(
        &self,
        syncset: &impl EntryKey,
        predicate: impl Fn(&SyncStatus) -> bool,
    ) -> Result<SyncStatus> {
        self.entry_within(syncset, ENTRY_TIMEOUT, predicate).await
    }

    /// [`Cluster::entry`] with another timeout.
    pub async fn entry_within(
        &self,
        syncset: &impl EntryKey,
        timeout: Duration,
        predicate: impl Fn(&SyncStatus) -> bool,
    ) -> Result<SyncStatus> {
        wait_for_entry_within(
            &self.hub,
            self.ns(),
            &self.name,
            syncset.entry_kind(),
            syncset.entry_name(),
            timeout,
            predicate,
        )
        .await
    }

    /// Waits until this cluster's ClusterSync has no entry for `syncset`.
    pub async fn no_entry(&self, syncset: &impl EntryKey) -> Result<()> {
        wait_for_no_entry(
            &self.hub,
            self.ns(),
            &self.name,
            syncset.entry_kind(),
            syncset.entry_name(),
        )
        .await
    }

    /// The current entry for `syncset`, if any, and the ClusterSync's status described for a failure message.
    pub async fn current_entry(
        &self,
        syncset: &impl EntryKey,
    ) -> Result<(Option<SyncStatus>, String)> {
        let cs = self.cluster_sync().await?;
        let entry = cs.as_ref().and_then(|c| c.status.as_ref()).and_then(|s| {
            syncset
                .entry_kind()
                .entries(s)
                .iter()
                .find(|e| e.name == syncset.entry_name())
                .cloned()
        });
        Ok((entry, describe_cluster_sync(cs.as_ref())))
    }

    /// The ClusterSync of this cluster, if it exists.
    pub async fn cluster_sync(&self) -> Result<Option<ClusterSync>> {
        cluster_sync(&self.hub, self.ns(), &self.name).await
    }

    /// Waits (up to 30 s) until the ClusterSync exists, and returns it.
    pub async fn wait_cluster_sync(&self) -> Result<ClusterSync> {
        wait_for(
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async {
                self.cluster_sync().await?.with_context(|| {
                    format!("no ClusterSync yet for {}/{}", self.namespace, self.name)
                })
            },
        )
        .await
    }

    /// Waits (up to 30 s) until the ClusterSync has its `firstSuccessTime` (a cluster with no syncsets has succeeded
    /// once the controller has been through it), and returns it.
    pub async fn wait_first_success(&self) -> Result<Time> {
        wait_for(
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async {
                let cs = self.cluster_sync().await?;
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
            },
        )
        .await
    }

    /// Waits (up to 30 s) until the ClusterSync's first condition is `Failed` with `status`/`reason`/`message` and it
    /// has no other `Failed` condition, and returns the ClusterSync. Hive writes only that condition; hivesync's own
    /// `Healthy` follows it.
    pub async fn wait_cluster_sync_failed(
        &self,
        status: &str,
        reason: &str,
        message: &str,
    ) -> Result<ClusterSync> {
        wait_for(
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async {
                let cs = self.cluster_sync().await?.context("no ClusterSync")?;
                let conditions = cs.status.clone().unwrap_or_default().conditions;
                let failed = conditions.iter().filter(|c| c.type_ == "Failed").count();
                ensure!(
                    failed == 1
                        && conditions[0].type_ == "Failed"
                        && conditions[0].status == status
                        && conditions[0].reason == reason
                        && conditions[0].message == message,
                    "expected the one condition Failed={status}/{reason}/{message:?}, first; status:\n{}",
                    describe_cluster_sync(Some(&cs))
                );
                Ok(cs)
            },
        )
        .await
    }

    /// The ClusterDeployment as it is now.
    pub async fn cd(&self) -> Result<ClusterDeployment> {
        Api::<ClusterDeployment>::namespaced(self.hub.clone(), self.ns())
            .get(&self.name)
            .await
            .with_context(|| format!("reading ClusterDeployment {}/{}", self.namespace, self.name))
    }

    /// Condition `type_` of the ClusterDeployment, as `(status, reason, message)`, if it has one.
    pub async fn condition(&self, type_: &str) -> Result<Option<(String, String, String)>> {
        cd_condition(&self.hub, self.ns(), &self.name, type_).await
    }

    /// Waits (up to `timeout`) until condition `type_` of the ClusterDeployment has `status`; returns it as
    /// `(status, reason, message)`.
    pub async fn wait_condition(
        &self,
        type_: &str,
        status: &str,
        timeout: Duration,
    ) -> Result<(String, String, String)> {
        wait_for_cd_condition(&self.hub, self.ns(), &self.name, type_, status, timeout).await
    }

    /// Waits (up to `timeout`) until condition `type_` of the ClusterDeployment has `status`, then checks that its
    /// reason and message are `expected`.
    pub async fn expect_condition(
        &self,
        type_: &str,
        status: &str,
        expected: (&str, &str),
        timeout: Duration,
    ) -> Result<()> {
        let (_, reason, message) = self.wait_condition(type_, status, timeout).await?;
        ensure!(
            (reason.as_str(), message.as_str()) == expected,
            "ClusterDeployment {}/{}: {type_}={status} with reason and message {:?}, expected {expected:?}",
            self.namespace,
            self.name,
            (reason, message)
        );
        Ok(())
    }

    /// Waits (up to 30 s) until `SyncSetFailed` is `True` with Hive's reason and message for a failed apply.
    pub async fn expect_syncset_apply_failure(&self) -> Result<()> {
        let timeout = Duration::from_secs(30);
        self.expect_condition("SyncSetFailed", "True", SYNCSET_APPLY_FAILURE, timeout)
            .await
    }

    /// Waits (up to 30 s) until `SyncSetFailed` is `False` with Hive's reason and message for success.
    pub async fn expect_syncset_apply_success(&self) -> Result<()> {
        let timeout = Duration::from_secs(30);
        self.expect_condition("SyncSetFailed", "False", SYNCSET_APPLY_SUCCESS, timeout)
            .await
    }

    /// Waits (up to 60 s) until the controller's probe has found the cluster reachable (`Unreachable=False`).
    pub async fn wait_until_reachable(&self) -> Result<()> {
        wait_until_reachable(&self.hub, self.ns(), &self.name).await
    }

    /// Sets (`Some`) or removes (`None`) labels of the ClusterDeployment.
    pub async fn set_labels(&self, labels: &[(&str, Option<&str>)]) -> Result<()> {
        let labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.map_or(Value::Null, Value::from)))
            .collect();
        let patch = json!({"metadata": {"labels": labels}});
        Api::<ClusterDeployment>::namespaced(self.hub.clone(), self.ns())
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| {
                format!(
                    "labelling ClusterDeployment {}/{}",
                    self.namespace, self.name
                )
            })?;
        Ok(())
    }

    /// Puts the ClusterDeployment in `group` (labels it).
    pub async fn join(&self, group: &Group) -> Result<()> {
        self.set_labels(&[(&group.key, Some(&group.value))]).await
    }

    /// Takes the ClusterDeployment out of `group` (removes the label).
    pub async fn leave(&self, group: &Group) -> Result<()> {
        self.set_labels(&[(&group.key, None)]).await
    }

    /// Replaces the admin kubeconfig Secret's `kubeconfig` with `kubeconfig`; nothing else changes.
    pub async fn set_kubeconfig(&self, kubeconfig: &[u8]) -> Result<()> {
        apply_kubeconfig_secret(&self.hub, self.ns(), &self.name, "kubeconfig", kubeconfig).await
    }
}

// --------------------------------------------------------------------------------------------------------- groups

/// A label that only this test's clusters carry: `key` with a unique value. Clusters join it
/// ([`ClusterBuilder::in_group`], [`Cluster::join`]); SelectorSyncSets select it ([`SelectorSyncSet::selecting`]).
#[derive(Clone, Debug)]
pub struct Group {
    pub key: String,
    pub value: String,
}

impl Group {
    /// Label `key` (a valid label key) with a value no other test or run uses.
    pub fn new(key: &str) -> Self {
        Self {
            key: key.to_string(),
            value: unique_name(key),
        }
    }

    /// The label, as `(key, value)`.
    pub fn label(&self) -> (&str, &str) {
        (&self.key, &self.value)
    }

    /// A label selector matching the group (`{"matchLabels": {key: value}}`).
    pub fn selector(&self) -> Value {
        match_labels(&self.key, &self.value)
    }
}
