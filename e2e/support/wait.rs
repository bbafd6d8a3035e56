//! Waiting for what the controller does: polling with a deadline, ClusterSync entries, ClusterDeployment conditions,
//! and objects going from a spoke (the handles in [`super::fixtures`] and [`super::spokes`] wait through these). Every
//! wait that times out says what it expected and what it saw last; those about a cluster add the controller's log
//! lines about it.

use std::future::Future;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use hivesync::api::{SyncSetResult, SyncStatus};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::Client;

use super::controller_log_tail;

/// Calls `check` every `poll` until it returns `Ok`, and returns that value. `Err` means "not yet": the last one is
/// in the error returned after `timeout`, so make it say what was expected and what was seen.
pub async fn wait_for<T, F, Fut>(timeout: Duration, poll: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        if tokio::time::Instant::now() + poll > deadline {
            return Err(last.context(format!("still not true after {timeout:?}")));
        }
        tokio::time::sleep(poll).await;
    }
}

// ------------------------------------------------------------------------------------ ClusterDeployment conditions

/// A condition of ClusterDeployment `namespace/name`, as `(status, reason, message)`, if it has one.
pub async fn cd_condition(
    hub: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
) -> Result<Option<(String, String, String)>> {
    let cd = Api::<hivesync::api::ClusterDeployment>::namespaced(hub.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("reading ClusterDeployment {namespace}/{name}"))?;
    Ok(cd.condition(type_).map(|c| {
        (
            c.status.clone(),
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        )
    }))
}

/// Waits (up to `timeout`) until condition `type_` of ClusterDeployment `namespace/name` has `status`; returns it as
/// `(status, reason, message)`.
pub async fn wait_for_cd_condition(
    hub: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
    status: &str,
    timeout: Duration,
) -> Result<(String, String, String)> {
    wait_for(timeout, Duration::from_millis(250), || async move {
        match cd_condition(hub, namespace, name, type_).await? {
            Some(c) if c.0 == status => Ok(c),
            other => bail!(
                "ClusterDeployment {namespace}/{name}: expected condition {type_}={status}, found {other:?}{}",
                controller_log_tail(name, 15)
            ),
        }
    })
    .await
}

/// Waits until the controller's probe has found ClusterDeployment `namespace/name` reachable (`Unreachable=False`).
pub async fn wait_until_reachable(hub: &Client, namespace: &str, name: &str) -> Result<()> {
    wait_for_cd_condition(
        hub,
        namespace,
        name,
        "Unreachable",
        "False",
        Duration::from_secs(60),
    )
    .await
    .map(|_| ())
}

// ----------------------------------------------------------------------------------------------- ClusterSync

/// The two lists of a ClusterSync's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// `status.syncSets`
    SyncSet,
    /// `status.selectorSyncSets`
    SelectorSyncSet,
}

impl EntryKind {
    pub fn entries(
        self,
        status: &hivesync::api::ClusterSyncStatus,
    ) -> &[hivesync::api::SyncStatus] {
        match self {
            EntryKind::SyncSet => &status.sync_sets,
            EntryKind::SelectorSyncSet => &status.selector_sync_sets,
        }
    }

    pub fn list_name(self) -> &'static str {
        match self {
            EntryKind::SyncSet => "status.syncSets",
            EntryKind::SelectorSyncSet => "status.selectorSyncSets",
        }
    }
}

/// The ClusterSync of ClusterDeployment `namespace/cd`, if it exists.
pub async fn cluster_sync(
    hub: &Client,
    namespace: &str,
    cd: &str,
) -> Result<Option<hivesync::api::ClusterSync>> {
    Api::<hivesync::api::ClusterSync>::namespaced(hub.clone(), namespace)
        .get_opt(cd)
        .await
        .with_context(|| format!("reading ClusterSync {namespace}/{cd}"))
}

/// A ClusterSync's status as YAML, for failure messages.
pub fn describe_cluster_sync(cs: Option<&hivesync::api::ClusterSync>) -> String {
    match cs {
        None => "no ClusterSync".into(),
        Some(cs) => match &cs.status {
            None => "ClusterSync without status".into(),
            Some(status) => {
                serde_saphyr::to_string(status).unwrap_or_else(|e| format!("{status:?} ({e})"))
            }
        },
    }
}

/// The default wait for a ClusterSync entry.
pub const ENTRY_TIMEOUT: Duration = Duration::from_secs(60);

/// Polls the ClusterSync of `namespace/cd` until the entry for `syncset` in the `kind` list satisfies `predicate`,
/// and returns it. Times out after `timeout` with the last ClusterSync status and the controller's log lines about
/// the cluster in the error.
pub async fn wait_for_entry_within(
    hub: &Client,
    namespace: &str,
    cd: &str,
    kind: EntryKind,
    syncset: &str,
    timeout: Duration,
    predicate: impl Fn(&hivesync::api::SyncStatus) -> bool,
) -> Result<hivesync::api::SyncStatus> {
    let predicate = &predicate;
    wait_for(timeout, Duration::from_millis(200), || async move {
        let cs = cluster_sync(hub, namespace, cd).await?;
        let found = cs
            .as_ref()
            .and_then(|cs| cs.status.as_ref())
            .and_then(|s| kind.entries(s).iter().find(|e| e.name == syncset).cloned());
        match found {
            Some(entry) if predicate(&entry) => Ok(entry),
            _ => bail!(
                "ClusterSync {namespace}/{cd}: the {} entry {syncset} does not satisfy the expectation yet; \
                 last status:\n{}{}",
                kind.list_name(),
                describe_cluster_sync(cs.as_ref()),
                controller_log_tail(cd, 15)
            ),
        }
    })
    .await
}

/// Polls until the ClusterSync of `namespace/cd` has no entry for `syncset` in the `kind` list.
pub async fn wait_for_no_entry(
    hub: &Client,
    namespace: &str,
    cd: &str,
    kind: EntryKind,
    syncset: &str,
) -> Result<()> {
    wait_for(ENTRY_TIMEOUT, Duration::from_millis(200), || async move {
        let cs = cluster_sync(hub, namespace, cd).await?;
        let present = cs
            .as_ref()
            .and_then(|cs| cs.status.as_ref())
            .is_some_and(|s| kind.entries(s).iter().any(|e| e.name == syncset));
        if present {
            bail!(
                "ClusterSync {namespace}/{cd} still has the {} entry {syncset}; last status:\n{}{}",
                kind.list_name(),
                describe_cluster_sync(cs.as_ref()),
                controller_log_tail(cd, 15)
            );
        }
        Ok(())
    })
    .await
}

/// The entry applied successfully.
pub fn is_success(e: &SyncStatus) -> bool {
    e.result == SyncSetResult::Success
}

/// The entry failed.
pub fn is_failure(e: &SyncStatus) -> bool {
    e.result == SyncSetResult::Failure
}

/// The entry for generation `generation`, applied successfully.
pub fn succeeded_at(generation: i64) -> impl Fn(&SyncStatus) -> bool {
    move |e| e.result == SyncSetResult::Success && e.observed_generation == generation
}

/// The entry for generation `generation`, failed.
pub fn failed_at(generation: i64) -> impl Fn(&SyncStatus) -> bool {
    move |e| e.result == SyncSetResult::Failure && e.observed_generation == generation
}

// -------------------------------------------------------------------------------------------- spoke objects

/// A ConfigMap whose `data.value` is `value`.
pub fn has_value(value: &'static str) -> impl Fn(&ConfigMap) -> bool {
    move |cm| {
        cm.data
            .as_ref()
            .and_then(|d| d.get("value"))
            .is_some_and(|v| v == value)
    }
}

/// Waits (up to `timeout`) until `api` has no object `name`, or only one being deleted (`what` names it).
pub async fn wait_for_gone<K>(api: &Api<K>, name: &str, what: &str, timeout: Duration) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    wait_for(timeout, Duration::from_millis(250), || async move {
        match api.get_opt(name).await? {
            None => Ok(()),
            Some(o) if o.meta().deletion_timestamp.is_some() => Ok(()),
            Some(_) => bail!("{what} still exists"),
        }
    })
    .await
}
