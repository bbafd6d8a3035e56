//! SyncSets and SelectorSyncSets a test applies, edits and deletes, and the names of their ClusterSync entries.

use anyhow::{ensure, Context as _, Result};
use kube::api::{Api, DeleteParams, DynamicObject};
use kube::Client;
use serde_json::{json, Value};

use super::*;

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
    /// SyncSet `name` in hub namespace `namespace` for the ClusterDeployments named `targets` (made by
    /// [`Fleet::syncset`] and [`Cluster::syncset`]).
    pub(super) fn new(hub: &Client, namespace: &str, name: &str, targets: &[&str]) -> Self {
        Self {
            hub: hub.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            targets: targets.iter().map(|c| c.to_string()).collect(),
        }
    }

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
    let api = Api::<DynamicObject>::namespaced_with(hub.clone(), namespace, &syncset_resource());
    let doing = format!("applying SyncSet {namespace}/{name}");
    let ss = server_side_apply(&api, name, obj, &doing).await?;
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
    /// SelectorSyncSet `name`, deleted when the handle drops (made by [`Fleet::selector_syncset`]).
    pub(super) fn new(hub: &Client, name: &str) -> Self {
        Self {
            hub: hub.clone(),
            name: name.to_string(),
            selector: None,
            _guard: DeleteOnDrop::on_hub("selectorsyncset", None, name),
        }
    }

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
    let api = Api::<DynamicObject>::all_with(hub.clone(), &selector_syncset_resource());
    let doing = format!("applying SelectorSyncSet {name}");
    let sss = server_side_apply(&api, name, obj, &doing).await?;
    Ok(sss.metadata.generation.unwrap_or(0))
}
