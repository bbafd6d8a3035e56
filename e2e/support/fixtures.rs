//! What a test registers on the hub: ClusterDeployments with their kubeconfig Secrets, SyncSets and
//! SelectorSyncSets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use hivesync::api::{ClusterSync, SyncStatus};
use kube::api::{Api, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use super::*;

/// Label key set on every ClusterDeployment the sync tests register, so a leftover one is easy to find.
pub const E2E_CLUSTER_LABEL: &str = "hivesync.e2e/registered-by";

/// What the admin kubeconfig Secret of a registered ClusterDeployment holds.
#[derive(Clone, Copy, Debug)]
pub enum KubeconfigSecret<'a> {
    /// The content of this kubeconfig file under key `kubeconfig` (a working cluster).
    File(&'a Path),
    /// These bytes under key `kubeconfig` (empty, not YAML, an `exec` kubeconfig, ...).
    Data(&'a [u8]),
    /// A Secret without a `kubeconfig` key.
    NoKey,
    /// No Secret at all (the ClusterDeployment names one that does not exist).
    Missing,
}

/// The name of the admin kubeconfig Secret of ClusterDeployment `cd` (what `hivesync adopt` and Hive name it).
pub fn kubeconfig_secret_name(cd: &str) -> String {
    format!("{cd}-admin-kubeconfig")
}

/// Registers the managed cluster in `kubeconfig` as an installed ClusterDeployment `name` in hub namespace
/// `namespace` (which must exist) with `labels`, as `hivesync adopt` does: the Secret `<name>-admin-kubeconfig`, the
/// ClusterDeployment naming it, then `status.installedTimestamp`. `extra_spec` (an object, e.g.
/// `{"controlPlaneConfig": ...}`; `{}` for none) is merged into the ClusterDeployment's spec from its creation on.
/// The controller's probe then sets `Unreachable` (see [`wait_until_reachable`]).
pub async fn register_cluster(
    hub: &Client,
    namespace: &str,
    name: &str,
    kubeconfig: &Path,
    labels: &[(&str, &str)],
    extra_spec: Value,
) -> Result<()> {
    register_cluster_with(
        hub,
        namespace,
        name,
        KubeconfigSecret::File(kubeconfig),
        labels,
        extra_spec,
    )
    .await
}

/// [`register_cluster`] with any kubeconfig Secret, including broken ones.
pub async fn register_cluster_with(
    hub: &Client,
    namespace: &str,
    name: &str,
    secret: KubeconfigSecret<'_>,
    labels: &[(&str, &str)],
    extra_spec: Value,
) -> Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::ByteString;

    let secret_name = kubeconfig_secret_name(name);
    // None: no Secret; Some(None): a Secret without the `kubeconfig` key.
    let data: Option<Option<Vec<u8>>> = match secret {
        KubeconfigSecret::File(path) => {
            Some(Some(std::fs::read(path).with_context(|| {
                format!("reading kubeconfig {}", path.display())
            })?))
        }
        KubeconfigSecret::Data(bytes) => Some(Some(bytes.to_vec())),
        KubeconfigSecret::NoKey => Some(None),
        KubeconfigSecret::Missing => None,
    };
    if let Some(data) = data {
        let data = match data {
            Some(bytes) => [("kubeconfig".to_string(), ByteString(bytes))],
            None => [("not-the-kubeconfig".to_string(), ByteString(b"x".to_vec()))],
        };
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.clone()),
                namespace: Some(namespace.to_string()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(data.into_iter().collect()),
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
    }

    let mut label_map: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    label_map.insert(E2E_CLUSTER_LABEL.into(), "sync".into());
    let mut spec = json!({
        "clusterName": name,
        "baseDomain": "e2e.hivesync.local",
        "installed": true,
        "platform": {},
        "clusterMetadata": {
            "clusterID": name,
            "infraID": name,
            "adminKubeconfigSecretRef": {"name": secret_name},
        },
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra_spec) {
        spec.extend(extra);
    }
    let cd = json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "ClusterDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": label_map},
        "spec": spec,
    });
    let cds = Api::<hivesync::api::ClusterDeployment>::namespaced(hub.clone(), namespace);
    cds.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&cd),
    )
    .await
    .with_context(|| format!("creating ClusterDeployment {namespace}/{name}"))?;
    let status =
        serde_json::json!({"status": {"installedTimestamp": jiff::Timestamp::now().to_string()}});
    cds.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| {
            format!("setting status.installedTimestamp of ClusterDeployment {namespace}/{name}")
        })?;
    Ok(())
}

/// Sets (`Some`) or removes (`None`) labels of ClusterDeployment `namespace/name`.
pub async fn set_cd_labels(
    hub: &Client,
    namespace: &str,
    name: &str,
    labels: &[(&str, Option<&str>)],
) -> Result<()> {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.map_or(serde_json::Value::Null, serde_json::Value::from),
            )
        })
        .collect();
    let patch = serde_json::json!({"metadata": {"labels": labels}});
    Api::<hivesync::api::ClusterDeployment>::namespaced(hub.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("labelling ClusterDeployment {namespace}/{name}"))?;
    Ok(())
}

/// Registers managed cluster `n` in hub namespace `hub_ns` under a unique name (`prefix` plus a suffix) with `labels`
/// and `extra_spec` ([`register_cluster`]), waits until the controller has found it reachable, and returns its name.
pub async fn register_reachable(
    hub: &Client,
    hub_ns: &str,
    n: usize,
    prefix: &str,
    labels: &[(&str, &str)],
    extra_spec: Value,
) -> Result<String> {
    let name = unique_name(prefix);
    register_cluster(
        hub,
        hub_ns,
        &name,
        &managed_kubeconfig(n),
        labels,
        extra_spec,
    )
    .await?;
    wait_until_reachable(hub, hub_ns, &name).await?;
    Ok(name)
}

/// A ClusterDeployment registered for one test: its own hub namespace (deleted on drop, with the ClusterDeployment,
/// its Secret, its ClusterSync and any SyncSet or source Secret in it) and the managed cluster it points at.
pub struct TestCluster {
    pub hub_ns: TestNamespace,
    pub name: String,
    pub kubeconfig: PathBuf,
    pub spoke: Client,
}

impl TestCluster {
    /// Registers managed cluster `n` under a unique name in a hub namespace of its own, with `labels` and
    /// `extra_spec` merged into the ClusterDeployment's spec (`json!({})` for none; see [`register_cluster`]), and
    /// waits until the controller has found it reachable.
    pub async fn register(
        hub: &Client,
        n: usize,
        prefix: &str,
        labels: &[(&str, &str)],
        extra_spec: Value,
    ) -> Result<Self> {
        let kubeconfig = managed_kubeconfig(n);
        let spoke = reachable_client(&kubeconfig).await?;
        let hub_ns = TestNamespace::on_hub(hub, prefix).await?;
        let name = register_reachable(hub, &hub_ns.name, n, prefix, labels, extra_spec).await?;
        Ok(Self {
            hub_ns,
            name,
            kubeconfig,
            spoke,
        })
    }

    /// The hub namespace of the ClusterDeployment.
    pub fn ns(&self) -> &str {
        &self.hub_ns.name
    }

    /// A namespace of the test's own on this cluster's spoke.
    pub async fn spoke_namespace(&self, prefix: &str) -> Result<TestNamespace> {
        TestNamespace::create(&self.spoke, &self.kubeconfig, prefix).await
    }

    /// [`wait_for_entry`] for this cluster.
    pub async fn entry(
        &self,
        hub: &Client,
        kind: EntryKind,
        syncset: &str,
        predicate: impl Fn(&SyncStatus) -> bool,
    ) -> Result<SyncStatus> {
        wait_for_entry(hub, self.ns(), &self.name, kind, syncset, predicate).await
    }

    /// [`wait_for_entry_within`] for this cluster.
    pub async fn entry_within(
        &self,
        hub: &Client,
        kind: EntryKind,
        syncset: &str,
        timeout: Duration,
        predicate: impl Fn(&SyncStatus) -> bool,
    ) -> Result<SyncStatus> {
        wait_for_entry_within(
            hub,
            self.ns(),
            &self.name,
            kind,
            syncset,
            timeout,
            predicate,
        )
        .await
    }

    /// [`wait_for_no_entry`] for this cluster.
    pub async fn no_entry(&self, hub: &Client, kind: EntryKind, syncset: &str) -> Result<()> {
        wait_for_no_entry(hub, self.ns(), &self.name, kind, syncset).await
    }

    /// The current entry for `syncset`, if any, and the ClusterSync's status described for a failure message.
    pub async fn current_entry(
        &self,
        hub: &Client,
        kind: EntryKind,
        syncset: &str,
    ) -> Result<(Option<SyncStatus>, String)> {
        let cs = self.cluster_sync(hub).await?;
        let entry = cs
            .as_ref()
            .and_then(|c| c.status.as_ref())
            .and_then(|s| kind.entries(s).iter().find(|e| e.name == syncset).cloned());
        Ok((entry, describe_cluster_sync(cs.as_ref())))
    }

    /// The ClusterSync of this cluster, if it exists.
    pub async fn cluster_sync(&self, hub: &Client) -> Result<Option<ClusterSync>> {
        cluster_sync(hub, self.ns(), &self.name).await
    }

    /// [`cd_condition`] of this cluster.
    pub async fn condition(
        &self,
        hub: &Client,
        type_: &str,
    ) -> Result<Option<(String, String, String)>> {
        cd_condition(hub, self.ns(), &self.name, type_).await
    }

    /// [`wait_for_cd_condition`] of this cluster.
    pub async fn wait_condition(
        &self,
        hub: &Client,
        type_: &str,
        status: &str,
        timeout: Duration,
    ) -> Result<(String, String, String)> {
        wait_for_cd_condition(hub, self.ns(), &self.name, type_, status, timeout).await
    }
}

// -------------------------------------------------------------------------------- SyncSets and SelectorSyncSets

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

/// Creates or replaces SyncSet `name` in hub namespace `namespace` for ClusterDeployment `cd`, with `spec` (without
/// `clusterDeploymentRefs`). Returns its generation.
pub async fn apply_syncset(
    hub: &Client,
    namespace: &str,
    name: &str,
    cd: &str,
    spec: Value,
) -> Result<i64> {
    apply_syncset_object(hub, &syncset(namespace, name, &[cd], spec)).await
}

pub async fn delete_syncset(hub: &Client, namespace: &str, name: &str) -> Result<()> {
    Api::<DynamicObject>::namespaced_with(hub.clone(), namespace, &syncset_resource())
        .delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting SyncSet {namespace}/{name}"))?;
    Ok(())
}

/// Creates or replaces (server-side apply) a whole SelectorSyncSet object; returns its generation. Create the
/// clean-up guard ([`sss_guard`]) before the first apply.
pub async fn apply_selector_syncset_object(hub: &Client, obj: &Value) -> Result<i64> {
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

/// Creates or replaces SelectorSyncSet `name` selecting ClusterDeployments labelled `selector` (`key`, `value`),
/// with `spec` (without `clusterDeploymentSelector`). Returns its generation. Create the clean-up guard
/// ([`sss_guard`]) before the first apply.
pub async fn apply_selector_syncset(
    hub: &Client,
    name: &str,
    selector: (&str, &str),
    spec: Value,
) -> Result<i64> {
    let mut spec = spec;
    spec["clusterDeploymentSelector"] = match_labels(selector.0, selector.1);
    apply_selector_syncset_object(hub, &selector_syncset(name, spec)).await
}

pub async fn delete_selector_syncset(hub: &Client, name: &str) -> Result<()> {
    Api::<DynamicObject>::all_with(hub.clone(), &selector_syncset_resource())
        .delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting SelectorSyncSet {name}"))?;
    Ok(())
}

/// Deletes SelectorSyncSet `name` when dropped.
pub fn sss_guard(name: &str) -> DeleteOnDrop {
    DeleteOnDrop::on_hub("selectorsyncset", None, name)
}
