//! What a reconcile ends with, written back to the hub: the ClusterSync status (assembled by `plan::status`, written
//! only when it changed), the Events of entries that turned, Hive's first-apply metrics, the full re-apply's lease,
//! the content hashes of what was applied, and the ClusterDeployment's `installedTimestamp` / `SyncSetFailed`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use tracing::{debug, info, warn};

use super::targets::{content_hash, Targets};
use super::{jitter, Context, Outcome};
use crate::api::{
    ClusterDeployment, ClusterKey, ClusterSync, ClusterSyncLease, ClusterSyncStatus, SyncSetResult,
    SyncStatus,
};
use crate::hub::watch::resource_version_of;
use crate::metrics;
use crate::plan::conditions;
use crate::plan::decode::{Payload, SyncSetKind};
use crate::plan::entry;
use crate::plan::gate;
use crate::plan::health::Verdict;
use crate::plan::run::{Finished, Target};
use crate::plan::status::{self as plan_status, FirstSuccess, HealthUpdate};
use crate::status;

/// A finished plan run and what the reconcile knew when it started it.
pub(super) struct Run<'a> {
    pub cs: &'a Arc<ClusterSync>,
    pub finished: Finished,
    pub payloads: HashMap<(SyncSetKind, String), Arc<Payload>>,
    /// This run was the periodic full re-apply: its lease is renewed.
    pub full: bool,
    pub lease: Option<&'a ClusterSyncLease>,
    /// The lease's renew time when the run started.
    pub renew_time: Option<jiff::Timestamp>,
    /// What the look at the cluster's objects found (`None`: no look, a fake cluster).
    pub observed: Option<Observed>,
}

/// The result of `observe::observe`.
pub(super) struct Observed {
    /// The cluster's health as last assessed (`None` before the first assessment).
    pub verdict: Option<Verdict>,
    /// When the objects are due for their next look.
    pub look_after: Option<Duration>,
}

/// Records a finished run and says when to look at the cluster again.
pub(super) async fn record(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    run: Run<'_>,
) -> anyhow::Result<Outcome> {
    let Run {
        cs,
        finished,
        payloads,
        full,
        lease,
        renew_time,
        observed,
    } = run;
    if !finished.applied.is_empty() {
        let mut hashes = ctx.applied_hashes.entry(key.clone()).or_default();
        for a in &finished.applied {
            debug!(kind = a.kind.as_str(), syncset = %a.name, reason = ?a.reason, "applied");
            if let Some(p) = payloads.get(&(a.kind, a.name.clone())) {
                hashes.insert((a.kind, a.name.clone()), content_hash(ctx, p));
            }
        }
    }
    for e in finished
        .sync_sets
        .iter()
        .chain(&finished.selector_sync_sets)
    {
        if e.result == SyncSetResult::Failure && finished.applied.iter().any(|a| a.name == e.name) {
            warn!(syncset = %e.name, message = e.failure_message.as_deref().unwrap_or_default(), "syncset failed");
        }
    }

    let no_status = ClusterSyncStatus::default();
    let old = cs.status.as_ref().unwrap_or(&no_status);
    let now = status::now();
    let new = plan_status::next(
        old,
        finished.sync_sets,
        finished.selector_sync_sets,
        FirstSuccess::Compute {
            installed: gate::installed_timestamp(cd).is_some(),
        },
        match &observed {
            Some(o) => HealthUpdate::Assessed(o.verdict.as_ref()),
            None => HealthUpdate::Keep,
        },
        &now,
    );
    observe_first_successes(ctx, cd, old, &new);
    for (warning, reason, note) in crate::events::entry_events(old, &new) {
        ctx.events.publish(cd, warning, reason, note).await;
    }
    let failing = new.conditions.first().map(|c| c.status == "True");
    let cs = write_status(ctx, key, cs, old, new).await?;
    if failing == Some(false) {
        ctx.last_success
            .insert(key.clone(), std::time::Instant::now());
    }
    if full {
        status::renew_lease(&ctx.hub, &cs, lease).await?;
        info!(applied = finished.applied.len(), "full re-apply done");
    }

    if finished.requeue {
        return Ok(Outcome::Retry);
    }
    let renewed = if full {
        Some(jiff::Timestamp::now())
    } else {
        renew_time
    };
    let after = gate::time_until_renew(
        ctx.settings.reapply_interval,
        renewed,
        jiff::Timestamp::now(),
        jitter(),
    );
    let after = match observed.and_then(|o| o.look_after) {
        Some(look) => after.min(look),
        None => after,
    };
    Ok(Outcome::After(after.max(Duration::from_secs(1))))
}

/// Writes the ClusterSync status when it changed; returns the latest ClusterSync.
async fn write_status(
    ctx: &Context,
    key: &ClusterKey,
    cs: &Arc<ClusterSync>,
    old: &ClusterSyncStatus,
    mut new: ClusterSyncStatus,
) -> anyhow::Result<Arc<ClusterSync>> {
    // Unlike Hive, a re-shard alone updates controlledByReplica, so it never stays stale.
    new.controlled_by_replica = Some(ctx.settings.replica);
    if new == *old {
        return Ok(cs.clone());
    }
    let mut written = {
        let _permit = ctx.status_writes.acquire().await?;
        status::write_cluster_sync_status(&ctx.hub, cs, new).await?
    };
    written.managed_fields_mut().clear();
    let written = Arc::new(written);
    // Kept only while the watch has not delivered this version (the watch callback drops it when it does).
    let watched = ctx.stores.cluster_syncs.get(&key.object_ref());
    if watched
        .is_none_or(|w| resource_version_of(w.as_ref()) < resource_version_of(written.as_ref()))
    {
        ctx.stores.written.insert(key.clone(), written.clone());
    }
    Ok(written)
}

pub(crate) fn latest_cluster_sync(ctx: &Context, key: &ClusterKey) -> Option<Arc<ClusterSync>> {
    let watched = ctx.stores.cluster_syncs.get(&key.object_ref());
    let written = ctx.stores.written.get(key).map(|w| w.clone());
    match (watched, written) {
        (Some(w), Some(mine))
            if w.uid() == mine.uid()
                && resource_version_of(mine.as_ref()) > resource_version_of(w.as_ref()) =>
        {
            Some(mine)
        }
        (Some(w), mine) => {
            // The watch has caught up: drop our copy, so each status is held once.
            if mine.is_some() {
                ctx.stores.written.remove(key);
            }
            Some(w)
        }
        (None, _) => None,
    }
}

/// Hive's first-apply metrics: per SyncSet (by its metrics-group annotation), per SelectorSyncSet (only while the
/// cluster has not had its first full success), and the cluster's first success after install.
fn observe_first_successes(
    ctx: &Context,
    cd: &ClusterDeployment,
    old: &ClusterSyncStatus,
    new: &ClusterSyncStatus,
) {
    let installed = gate::installed_timestamp(cd).map(|t| t.0);
    let reachable_since = cd
        .condition(conditions::UNREACHABLE)
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0);
    let now = jiff::Timestamp::now();
    let newly = |old: &[SyncStatus], e: &SyncStatus| {
        e.first_success_time.is_some()
            && !old
                .iter()
                .any(|o| o.name == e.name && o.first_success_time.is_some())
    };
    let seconds_since = |created: Option<jiff::Timestamp>| {
        let start = [created, installed, reachable_since]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        now.duration_since(start).as_secs_f64().max(0.0)
    };
    let ns = cd.namespace().unwrap_or_default();
    for e in new.sync_sets.iter().filter(|e| newly(&old.sync_sets, e)) {
        let ss = ctx
            .stores
            .sync_sets
            .get(&ObjectRef::new(&e.name).within(&ns));
        let group = ss
            .as_ref()
            .and_then(|s| {
                s.annotations()
                    .get("hive.openshift.io/syncset-metrics-group")
                    .cloned()
            })
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| "none".into());
        let created = ss
            .and_then(|s| s.metadata.creation_timestamp.clone())
            .map(|t| t.0);
        metrics::SYNCSET_FIRST_APPLY_SECONDS
            .with_label_values(&[&group])
            .observe(seconds_since(created));
    }
    if old.first_success_time.is_none() {
        for e in new
            .selector_sync_sets
            .iter()
            .filter(|e| newly(&old.selector_sync_sets, e))
        {
            let sss = ctx.stores.selector_sync_sets.get(&ObjectRef::new(&e.name));
            let created = sss
                .and_then(|s| s.metadata.creation_timestamp.clone())
                .map(|t| t.0);
            ctx.first_applied_sss.insert(e.name.clone(), ());
            metrics::SELECTORSYNCSET_FIRST_APPLY_SECONDS
                .with_label_values(&[&e.name])
                .observe(seconds_since(created));
        }
    }
    if let (None, Some(first), Some(installed)) =
        (&old.first_success_time, &new.first_success_time, installed)
    {
        metrics::CLUSTERSYNC_FIRST_SUCCESS_SECONDS
            .observe(first.0.duration_since(installed).as_secs_f64().max(0.0));
    }
}

/// A cluster whose kubeconfig cannot be used: every syncset that targets it fails with that message (tracking kept).
pub(super) async fn client_failure(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    targets: &Targets,
    message: &str,
) -> anyhow::Result<()> {
    let cs = match latest_cluster_sync(ctx, key) {
        Some(cs) => cs,
        None => Arc::new(status::create_cluster_sync(&ctx.hub, cd).await?),
    };
    let no_status = ClusterSyncStatus::default();
    let old = cs.status.as_ref().unwrap_or(&no_status);
    let now = status::now();
    let failed = |targets: &[Target], previous: &[SyncStatus]| {
        entry::all_failed(
            targets.iter().map(|t| (t.name.as_str(), t.generation)),
            previous,
            message,
            &now,
        )
    };
    let new = plan_status::next(
        old,
        failed(&targets.sync_sets, &old.sync_sets),
        failed(&targets.selector_sync_sets, &old.selector_sync_sets),
        FirstSuccess::Keep,
        HealthUpdate::Keep,
        &now,
    );
    write_status(ctx, key, &cs, old, new).await?;
    Ok(())
}

/// Keeps on an installed ClusterDeployment what Hive's clusterdeployment controller keeps there (hivesync owns it
/// here): `installedTimestamp` (the creation time when missing) and `SyncSetFailed` in step with the ClusterSync as
/// it is after this reconcile (`MissingClusterSync`, or `SyncSetPaused` under `syncset-pause`, when there is none).
/// Written only when something changes.
pub(super) async fn keep_installed_status(ctx: &Context, key: &ClusterKey, cd: &ClusterDeployment) {
    if !gate::installed_path(cd) {
        return;
    }
    let cs = latest_cluster_sync(ctx, key);
    let syncset_failed = conditions::syncset_failed(
        cs.as_ref()
            .map(|cs| conditions::cluster_sync_failing(cs.status.as_ref())),
        gate::syncset_pause(cd),
    );
    let now = status::now();
    let change = |meta: &ObjectMeta, st: &mut crate::api::ClusterDeploymentStatus| {
        conditions::keep_installed_status(
            st,
            meta.creation_timestamp.as_ref(),
            syncset_failed,
            &now,
        )
    };
    // Most reconciles change nothing: decide on a copy of the watched status before cloning the object to write.
    if !change(&cd.metadata, &mut cd.status.clone().unwrap_or_default()) {
        return;
    }
    let result = status::update_cd_status(&ctx.hub, key, Some(cd), change).await;
    match result {
        Ok(_) => debug!(
            reason = syncset_failed.1,
            "ClusterDeployment status written"
        ),
        Err(e) => {
            warn!(error = %e, "could not update the ClusterDeployment status (installedTimestamp, SyncSetFailed)")
        }
    }
}
