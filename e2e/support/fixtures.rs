//! What a test arranges on the hub and the spokes, as builders and the handles they return:
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
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use hivesync::api::{ClusterDeployment, ClusterSync, SyncStatus};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::ByteString;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use super::*;

/// Label key set on every ClusterDeployment the suite registers, so a leftover one is easy to find.
pub const E2E_CLUSTER_LABEL: &str = "hivesync.e2e/registered-by";

/// The reason and message of `SyncSetFailed=True` when a syncset failed to apply, as Hive writes them.
pub const SYNCSET_APPLY_FAILURE: (&str, &str) = (
    "SyncSetApplyFailure",
    "One of the SyncSet applies has failed",
);

/// The reason and message of `SyncSetFailed=False`, as Hive writes them.
pub const SYNCSET_APPLY_SUCCESS: (&str, &str) =
    ("SyncSetApplySuccess", "SyncSet apply is successful");

/// How long a synced object may take to show on a spoke.
pub const SPOKE_TIMEOUT: Duration = Duration::from_secs(30);

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
        SyncSet {
            hub: self.hub.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            targets: targets.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// A SelectorSyncSet named `prefix` plus a unique suffix, deleted when the handle drops. It selects nothing of its
    /// own until [`SelectorSyncSet::selecting`] names a group (or the applied spec carries a selector).
    pub fn selector_syncset(&self, prefix: &str) -> SelectorSyncSet {
        let name = unique_name(prefix);
        SelectorSyncSet {
            hub: self.hub.clone(),
            _guard: DeleteOnDrop::on_hub("selectorsyncset", None, &name),
            name,
            selector: None,
        }
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
        let created = cds
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&cd),
            )
            .await
            .with_context(|| format!("creating ClusterDeployment {namespace}/{name}"))?;
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
    Api::<Secret>::namespaced(hub.clone(), namespace)
        .patch(
            &secret_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .with_context(|| format!("writing Secret {namespace}/{secret_name}"))?;
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
        SyncSet {
            hub: self.hub.clone(),
            namespace: self.namespace.clone(),
            name: name.to_string(),
            targets: vec![self.name.clone()],
        }
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

    /// Waits (up to 30 s) until the ClusterSync has exactly one condition, `Failed` with `status`/`reason`/`message`,
    /// and returns the ClusterSync.
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
                ensure!(
                    conditions.len() == 1
                        && conditions[0].type_ == "Failed"
                        && conditions[0].status == status
                        && conditions[0].reason == reason
                        && conditions[0].message == message,
                    "expected exactly the condition Failed={status}/{reason}/{message:?}; status:\n{}",
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
    /// reason and message are `expected` (e.g. [`SYNCSET_APPLY_FAILURE`]).
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

// --------------------------------------------------------------------------------------------------------- spokes

/// A managed cluster as a test sees it directly.
#[derive(Clone)]
pub struct Spoke {
    pub kubeconfig: PathBuf,
    pub client: Client,
}

impl Spoke {
    /// Managed cluster `n` (counting from 1), checked to be reachable.
    pub async fn connect(n: usize) -> Result<Self> {
        let kubeconfig = managed_kubeconfig(n);
        let client = reachable_client(&kubeconfig).await?;
        Ok(Self { kubeconfig, client })
    }

    /// Its name among the local clusters (`managed-1`).
    pub fn local_name(&self) -> String {
        local_cluster_name(&self.kubeconfig)
    }

    /// Stops it (hold [`serial`] around this); dropping the guard without [`StoppedCluster::start`] starts it again.
    pub fn stop(&self) -> Result<StoppedCluster> {
        stop_local_cluster(&self.local_name())
    }

    /// A namespace of the test's own on this spoke, deleted on drop.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace> {
        TestNamespace::create(&self.client, &self.kubeconfig, prefix).await
    }

    /// Deletes `resource` `namespace/name` on this spoke when dropped.
    pub fn delete_on_drop(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> DeleteOnDrop {
        DeleteOnDrop::new(&self.kubeconfig, resource, namespace, name)
    }

    /// An Api for a namespaced kind in `namespace` on this spoke.
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// An Api for a kind across this spoke (cluster-scoped kinds).
    pub fn api_all<K>(&self) -> Api<K>
    where
        K: kube::Resource,
        K::DynamicType: Default,
    {
        Api::all(self.client.clone())
    }

    /// Waits (up to [`SPOKE_TIMEOUT`]) until ConfigMap `namespace/name` exists on this spoke.
    pub async fn wait_configmap(&self, namespace: &str, name: &str) -> Result<ConfigMap> {
        self.wait_configmap_where(namespace, name, "synced", SPOKE_TIMEOUT, |_| true)
            .await
    }

    /// Waits (up to `timeout`) until ConfigMap `namespace/name` exists on this spoke and satisfies `predicate`
    /// (described by `what`).
    pub async fn wait_configmap_where(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&ConfigMap) -> bool,
    ) -> Result<ConfigMap> {
        let seen = |cm: &ConfigMap| format!("labels {:?}, data {:?}", cm.metadata.labels, cm.data);
        self.wait_object(namespace, name, what, timeout, predicate, seen)
            .await
    }

    /// Waits (up to [`SPOKE_TIMEOUT`]) until ConfigMap `namespace/name` on this spoke has `data.<key> == value`.
    pub async fn wait_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<ConfigMap> {
        self.wait_configmap_where(
            namespace,
            name,
            &format!("data.{key}={value:?}"),
            SPOKE_TIMEOUT,
            |cm| {
                cm.data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(String::as_str)
                    == Some(value)
            },
        )
        .await
    }

    /// Waits (up to `timeout`, polling every 200 ms) until object `namespace/name` of kind `K` exists on this spoke
    /// and satisfies `predicate` (described by `what`); a failure shows `seen` of the last version.
    pub async fn wait_object<K>(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&K) -> bool,
        seen: impl Fn(&K) -> String,
    ) -> Result<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let kind = K::kind(&K::DynamicType::default()).to_string();
        let api = self.api::<K>(namespace);
        let (api, kind, predicate, seen) = (&api, &kind, &predicate, &seen);
        wait_for(timeout, Duration::from_millis(200), || async move {
            match api.get_opt(name).await? {
                Some(o) if predicate(&o) => Ok(o),
                Some(o) => bail!(
                    "spoke {kind} {namespace}/{name} is not {what}: {}",
                    seen(&o)
                ),
                None => bail!("spoke {kind} {namespace}/{name} does not exist (expected {what})"),
            }
        })
        .await
    }
}

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

/// The unique name of a namespace that a syncset is to create on spokes, deleted from each of them when dropped.
pub struct PlannedNamespace {
    pub name: String,
    _guards: Vec<DeleteOnDrop>,
}

impl PlannedNamespace {
    /// `prefix` plus a unique suffix, deleted from `spokes` when dropped.
    pub fn on(spokes: &[&Spoke], prefix: &str) -> Self {
        let name = unique_name(prefix);
        let _guards = spokes
            .iter()
            .map(|s| s.delete_on_drop("namespace", None, &name))
            .collect();
        Self { name, _guards }
    }
}

// -------------------------------------------------------------------------------- SyncSets and SelectorSyncSets

/// What names a ClusterSync entry: its list (`status.syncSets` or `status.selectorSyncSets`) and its name.
pub trait EntryKey {
    fn entry_kind(&self) -> EntryKind;
    fn entry_name(&self) -> &str;
}

/// An entry by kind and name, e.g. one written by hand or by Hive.
impl EntryKey for (EntryKind, &str) {
    fn entry_kind(&self) -> EntryKind {
        self.0
    }
    fn entry_name(&self) -> &str {
        self.1
    }
}

/// A SyncSet of the test's ([`Cluster::syncset`], [`Fleet::syncset`]): it exists once applied, and goes with its hub
/// namespace.
pub struct SyncSet {
    hub: Client,
    pub namespace: String,
    pub name: String,
    targets: Vec<String>,
}

impl EntryKey for SyncSet {
    fn entry_kind(&self) -> EntryKind {
        EntryKind::SyncSet
    }
    fn entry_name(&self) -> &str {
        &self.name
    }
}

impl SyncSet {
    /// The SyncSet object with `spec` (its `clusterDeploymentRefs` naming the targets), as a server-side apply body.
    pub fn object(&self, spec: Value) -> Value {
        let targets: Vec<&str> = self.targets.iter().map(String::as_str).collect();
        syncset(&self.namespace, &self.name, &targets, spec)
    }

    /// Creates or replaces it with `spec` (server-side apply, one field manager: fields left out are removed);
    /// returns its generation.
    pub async fn apply(&self, spec: Value) -> Result<i64> {
        apply_syncset_object(&self.hub, &self.object(spec)).await
    }

    pub async fn delete(&self) -> Result<()> {
        Api::<DynamicObject>::namespaced_with(
            self.hub.clone(),
            &self.namespace,
            &syncset_resource(),
        )
        .delete(&self.name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting SyncSet {}/{}", self.namespace, self.name))?;
        Ok(())
    }
}

/// Creates or replaces (server-side apply, one field manager: fields left out are removed) a whole SyncSet object;
/// returns its generation.
pub async fn apply_syncset_object(hub: &Client, obj: &Value) -> Result<i64> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let ss = Api::<DynamicObject>::namespaced_with(hub.clone(), namespace, &syncset_resource())
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .with_context(|| format!("applying SyncSet {namespace}/{name}"))?;
    Ok(ss.metadata.generation.unwrap_or(0))
}

/// A SelectorSyncSet of the test's ([`Fleet::selector_syncset`]), deleted when the handle drops.
pub struct SelectorSyncSet {
    hub: Client,
    pub name: String,
    selector: Option<Group>,
    _guard: DeleteOnDrop,
}

impl EntryKey for SelectorSyncSet {
    fn entry_kind(&self) -> EntryKind {
        EntryKind::SelectorSyncSet
    }
    fn entry_name(&self) -> &str {
        &self.name
    }
}

impl SelectorSyncSet {
    /// Selects the clusters in `group`: [`SelectorSyncSet::apply`] sets that selector.
    pub fn selecting(mut self, group: &Group) -> Self {
        self.selector = Some(group.clone());
        self
    }

    /// The SelectorSyncSet object with `spec`, plus the selector of [`SelectorSyncSet::selecting`] if any, as a
    /// server-side apply body.
    pub fn object(&self, spec: Value) -> Value {
        let mut spec = spec;
        if let Some(group) = &self.selector {
            spec["clusterDeploymentSelector"] = group.selector();
        }
        selector_syncset(&self.name, spec)
    }

    /// Creates or replaces it with `spec` ([`SelectorSyncSet::object`]; server-side apply); returns its generation.
    pub async fn apply(&self, spec: Value) -> Result<i64> {
        apply_selector_syncset_object(&self.hub, &self.object(spec)).await
    }

    /// Creates or replaces it as the whole object `obj`, which must carry its name; returns its generation.
    pub async fn apply_object(&self, obj: &Value) -> Result<i64> {
        ensure!(
            obj["metadata"]["name"] == json!(self.name),
            "the object is not named {}: {}",
            self.name,
            obj["metadata"]
        );
        apply_selector_syncset_object(&self.hub, obj).await
    }

    pub async fn delete(&self) -> Result<()> {
        Api::<DynamicObject>::all_with(self.hub.clone(), &selector_syncset_resource())
            .delete(&self.name, &DeleteParams::default())
            .await
            .with_context(|| format!("deleting SelectorSyncSet {}", self.name))?;
        Ok(())
    }
}

/// Creates or replaces (server-side apply) a whole SelectorSyncSet object; returns its generation.
async fn apply_selector_syncset_object(hub: &Client, obj: &Value) -> Result<i64> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let sss = Api::<DynamicObject>::all_with(hub.clone(), &selector_syncset_resource())
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .with_context(|| format!("applying SelectorSyncSet {name}"))?;
    Ok(sss.metadata.generation.unwrap_or(0))
}
