//! The per-cluster reconcile: gate → plan → execute → record (HIVE-COMPAT.md §4.3). One reconcile per cluster at a
//! time (the queue guarantees it); many clusters in parallel (workers).

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use rand::Rng;
use tracing::{debug, info, instrument, warn};

use crate::api::{
    ClusterDeployment, ClusterSync, ClusterSyncStatus, SyncResourceReference, SyncSetResult,
    SyncStatus,
};
use crate::consts::{RECONCILE_PAUSE_ANNOTATION, RELOCATE_ANNOTATION, SYNCSET_PAUSE_ANNOTATION};
use crate::hub::index::{selector_syncset_targets, syncset_targets};
use crate::hub::queue::WorkQueue;
use crate::hub::watch::Stores;
use crate::hub::ClusterKey;
use crate::plan::conditions::{self, SYNCSET_FAILED, UNREACHABLE};
use crate::plan::decode::{self, ApplyMode, Payload, SyncSetKind};
use crate::plan::entry::{self, Outcome};
use crate::remote::{ops, ClientPool, RemoteCluster};
use crate::status;

#[derive(Clone, Debug)]
pub struct Settings {
    pub reapply_interval: Duration,
    pub concurrency: usize,
    /// This replica's ordinal, written to `status.controlledByReplica`.
    pub replica: Option<i64>,
}

/// One syncset as the reconcile sees it.
struct Target {
    name: String,
    generation: i64,
    payload: Arc<Payload>,
}

pub struct Context {
    pub hub: Client,
    pub stores: Stores,
    pub pool: Arc<ClientPool>,
    pub queue: Arc<WorkQueue<ClusterKey>>,
    pub settings: Settings,
    /// Decoded payloads shared by every cluster, keyed by syncset UID and generation.
    payloads: DashMap<(String, i64), Arc<Payload>>,
    /// The content hash last applied per (cluster, kind, syncset name).
    applied_hashes: DashMap<(ClusterKey, SyncSetKind, String), String>,
    /// The ClusterSync as last written: fresher than the watch until the watch catches up.
    written: DashMap<ClusterKey, Arc<ClusterSync>>,
    backoff: DashMap<ClusterKey, u32>,
}

impl Context {
    pub fn new(
        hub: Client,
        stores: Stores,
        pool: Arc<ClientPool>,
        queue: Arc<WorkQueue<ClusterKey>>,
        settings: Settings,
    ) -> Self {
        Self {
            hub,
            stores,
            pool,
            queue,
            settings,
            payloads: DashMap::new(),
            applied_hashes: DashMap::new(),
            written: DashMap::new(),
            backoff: DashMap::new(),
        }
    }
}

/// Runs `concurrency` workers forever.
pub async fn run(ctx: Arc<Context>) {
    let workers: Vec<_> = (0..ctx.settings.concurrency.max(1))
        .map(|_| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                loop {
                    let key = ctx.queue.next().await;
                    let next = reconcile(&ctx, &key).await;
                    ctx.queue.done(&key);
                    if let Some(after) = next {
                        ctx.queue.add_after(key, after);
                    }
                }
            })
        })
        .collect();
    futures::future::join_all(workers).await;
}

fn parse_bool(v: Option<&String>) -> bool {
    matches!(
        v.map(String::as_str),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True")
    )
}

pub fn syncset_paused(cd: &ClusterDeployment) -> bool {
    parse_bool(cd.annotations().get(SYNCSET_PAUSE_ANNOTATION))
}

/// Reconciles one cluster; returns when to look again.
#[instrument(skip(ctx), fields(namespace = %key.0, name = %key.1))]
pub async fn reconcile(ctx: &Context, key: &ClusterKey) -> Option<Duration> {
    let Some(cd) = ctx.stores.cds.get(&ObjectRef::new(&key.1).within(&key.0)) else {
        ctx.pool.forget(key);
        ctx.written.remove(key);
        ctx.backoff.remove(key);
        ctx.applied_hashes.retain(|(k, _, _), _| k != key);
        return None;
    };
    match sync_cluster(ctx, key, &cd).await {
        Ok(SyncResult::Done {
            requeue_soon: false,
            after,
        }) => {
            ctx.backoff.remove(key);
            after
        }
        Ok(SyncResult::Done {
            requeue_soon: true, ..
        })
        | Err(_) => Some(next_backoff(ctx, key)),
        Ok(SyncResult::Skipped) => None,
    }
}

/// Exponential per-cluster backoff after a failure: 1 s doubling to 5 min.
fn next_backoff(ctx: &Context, key: &ClusterKey) -> Duration {
    let mut n = ctx.backoff.entry(key.clone()).or_insert(0);
    *n = (*n + 1).min(9);
    Duration::from_secs(1 << (*n - 1)).min(Duration::from_secs(300))
}

enum SyncResult {
    Skipped,
    Done {
        requeue_soon: bool,
        after: Option<Duration>,
    },
}

/// The time until the next full re-apply: interval − elapsed + 0–10 % jitter, redrawn on every call.
fn time_until_renew(interval: Duration, renew_time: Option<jiff::Timestamp>) -> Duration {
    let Some(renewed) = renew_time else {
        return Duration::ZERO;
    };
    let jitter =
        Duration::from_secs_f64(interval.as_secs_f64() * 0.1 * rand::rng().random::<f64>());
    let elapsed = jiff::Timestamp::now().duration_since(renewed);
    let elapsed = Duration::try_from(elapsed).unwrap_or(Duration::ZERO);
    (interval + jitter).saturating_sub(elapsed)
}

async fn sync_cluster(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
) -> anyhow::Result<SyncResult> {
    // Gates, in Hive's order (§2.1).
    let annotations = cd.annotations();
    let paused = syncset_paused(cd);
    if paused
        || parse_bool(annotations.get(RECONCILE_PAUSE_ANNOTATION))
        || annotations.contains_key(RELOCATE_ANNOTATION)
    {
        if paused && latest_cluster_sync(ctx, key).is_none() {
            set_syncset_failed(ctx, key, cd, None, true).await;
        }
        debug!("paused; skipping");
        return Ok(SyncResult::Skipped);
    }
    if cd.metadata.deletion_timestamp.is_some() || !cd.spec.installed {
        return Ok(SyncResult::Skipped);
    }
    let Some(meta) = &cd.spec.cluster_metadata else {
        return Ok(SyncResult::Skipped);
    };

    let targets_ss: Vec<Target> = matching(ctx, SyncSetKind::SyncSet, cd);
    let targets_sss: Vec<Target> = matching(ctx, SyncSetKind::SelectorSyncSet, cd);

    // A kubeconfig that cannot be used is bad input: say so on every syncset entry, not only on the condition.
    let remote = match ctx
        .pool
        .get(
            key,
            &meta.admin_kubeconfig_secret_ref.name,
            active_api_url(cd),
        )
        .await
    {
        Ok(rc) => rc,
        Err(message) => {
            warn!(%message, "cannot build a client for the cluster");
            record_client_failure(ctx, key, cd, &targets_ss, &targets_sss, &message).await?;
            return Ok(SyncResult::Done {
                requeue_soon: false,
                after: None,
            });
        }
    };
    if cd.condition(UNREACHABLE).map(|c| c.status.as_str()) != Some("False") {
        debug!("not known to be reachable; waiting for the probe");
        return Ok(SyncResult::Skipped);
    }

    let cs = match latest_cluster_sync(ctx, key) {
        Some(cs) => cs,
        None => Arc::new(status::create_cluster_sync(&ctx.hub, cd).await?),
    };
    let lease = ctx
        .stores
        .leases
        .get(&ObjectRef::new(&key.1).within(&key.0));
    let renew_time = lease
        .as_ref()
        .map(|l| l.spec.renew_time.0)
        .filter(|t| *t != jiff::Timestamp::UNIX_EPOCH);
    let full = time_until_renew(ctx.settings.reapply_interval, renew_time).is_zero();

    let old = cs.status.clone().unwrap_or_default();
    let mut run = ClusterRun {
        ctx,
        key,
        remote: &remote,
        full,
        requeue: false,
        unreachable: None,
    };
    let declared_ss: Vec<SyncResourceReference> = declared(&targets_ss, &targets_sss);
    let sync_sets = run
        .sync_list(
            SyncSetKind::SyncSet,
            &targets_ss,
            &old.sync_sets,
            &declared_ss,
        )
        .await;
    let selector_sync_sets = match &sync_sets {
        Some(_) => {
            run.sync_list(
                SyncSetKind::SelectorSyncSet,
                &targets_sss,
                &old.selector_sync_sets,
                &declared_ss,
            )
            .await
        }
        None => None,
    };
    let (Some(sync_sets), Some(selector_sync_sets)) = (sync_sets, selector_sync_sets) else {
        let message = run.unreachable.clone().unwrap_or_default();
        warn!(%message, "cluster stopped answering during the sync; marking it Unreachable");
        crate::reachability::mark_unreachable(&ctx.hub, key, &message).await;
        return Ok(SyncResult::Done {
            requeue_soon: true,
            after: None,
        });
    };
    let requeue_soon = run.requeue;

    let now = status::now();
    let mut new = ClusterSyncStatus {
        sync_sets,
        selector_sync_sets,
        ..old.clone()
    };
    new.conditions = conditions::with_failed_condition(
        &old.conditions,
        conditions::failed_condition(&new.sync_sets, &new.selector_sync_sets),
        &now,
    );
    let installed_set = cd
        .status
        .as_ref()
        .is_some_and(|s| s.installed_timestamp.is_some());
    let entries: Vec<&SyncStatus> = new
        .sync_sets
        .iter()
        .chain(&new.selector_sync_sets)
        .collect();
    new.first_success_time = conditions::first_success_time(
        old.first_success_time.as_ref(),
        installed_set,
        &entries,
        &now,
    );
    if new != old {
        new.controlled_by_replica = ctx.settings.replica.or(old.controlled_by_replica);
        let written = status::write_cluster_sync_status(&ctx.hub, &cs, new.clone()).await?;
        ctx.written.insert(key.clone(), Arc::new(written));
    }
    let cs = latest_cluster_sync(ctx, key).unwrap_or(cs);
    if full {
        status::renew_lease(&ctx.hub, &cs, lease.as_deref()).await?;
        info!(
            syncsets = targets_ss.len(),
            selectorsyncsets = targets_sss.len(),
            "full re-apply done"
        );
    }
    let failing = new.conditions.first().map(|c| c.status == "True");
    set_syncset_failed(ctx, key, cd, failing, false).await;

    let after = time_until_renew(
        ctx.settings.reapply_interval,
        if full {
            Some(jiff::Timestamp::now())
        } else {
            renew_time
        },
    );
    Ok(SyncResult::Done {
        requeue_soon,
        after: Some(after.max(Duration::from_secs(1))),
    })
}

/// The API URL to use: the override only while `ActiveAPIURLOverride` is True.
fn active_api_url(cd: &ClusterDeployment) -> Option<&str> {
    let url = cd
        .spec
        .control_plane_config
        .as_ref()?
        .api_url_override
        .as_deref()?;
    (cd.condition("ActiveAPIURLOverride")?.status == "True").then_some(url)
}

fn latest_cluster_sync(ctx: &Context, key: &ClusterKey) -> Option<Arc<ClusterSync>> {
    let watched = ctx
        .stores
        .cluster_syncs
        .get(&ObjectRef::new(&key.1).within(&key.0));
    let written = ctx.written.get(key).map(|w| w.clone());
    let rv = |c: &ClusterSync| {
        c.metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    match (watched, written) {
        (Some(w), Some(mine)) if rv(&mine) > rv(&w) && w.uid() == mine.uid() => Some(mine),
        (Some(w), _) => Some(w),
        (None, _) => None,
    }
}

/// The syncsets of one kind that target this cluster, sorted by name, with their shared decoded payloads.
fn matching(ctx: &Context, kind: SyncSetKind, cd: &ClusterDeployment) -> Vec<Target> {
    let mut out: Vec<Target> = match kind {
        SyncSetKind::SyncSet => ctx
            .stores
            .sync_sets
            .state()
            .into_iter()
            .filter(|ss| syncset_targets(ss, cd))
            .map(|ss| {
                target(
                    ctx,
                    kind,
                    ss.uid(),
                    ss.name_any(),
                    ss.meta().generation,
                    || decode::decode(kind, ss.namespace().as_deref(), &ss.spec.common),
                )
            })
            .collect(),
        SyncSetKind::SelectorSyncSet => ctx
            .stores
            .selector_sync_sets
            .state()
            .into_iter()
            .filter(|sss| selector_syncset_targets(sss, cd))
            .map(|sss| {
                target(
                    ctx,
                    kind,
                    sss.uid(),
                    sss.name_any(),
                    sss.meta().generation,
                    || decode::decode(kind, None, &sss.spec.common),
                )
            })
            .collect(),
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn target(
    ctx: &Context,
    _kind: SyncSetKind,
    uid: Option<String>,
    name: String,
    generation: Option<i64>,
    decode: impl FnOnce() -> Payload,
) -> Target {
    let generation = generation.unwrap_or(0);
    let cache_key = (uid.unwrap_or_else(|| name.clone()), generation);
    let payload = ctx
        .payloads
        .entry(cache_key)
        .or_insert_with(|| Arc::new(decode()))
        .clone();
    Target {
        name,
        generation,
        payload,
    }
}

use kube::Resource as _;

/// Every object any syncset declares for this cluster (for the hand-over rule of DESIGN.md difference 5).
fn declared(ss: &[Target], sss: &[Target]) -> Vec<SyncResourceReference> {
    ss.iter()
        .chain(sss)
        .flat_map(|t| t.payload.references.iter().cloned())
        .collect()
}

struct ClusterRun<'a> {
    ctx: &'a Context,
    key: &'a ClusterKey,
    remote: &'a RemoteCluster,
    full: bool,
    requeue: bool,
    /// Set when the cluster stopped answering; the run stops there.
    unreachable: Option<String>,
}

impl ClusterRun<'_> {
    /// §4.4 for one kind. `None` when the cluster stopped answering.
    async fn sync_list(
        &mut self,
        kind: SyncSetKind,
        targets: &[Target],
        previous: &[SyncStatus],
        declared_all: &[SyncResourceReference],
    ) -> Option<Vec<SyncStatus>> {
        let now = status::now();
        let mut out = Vec::new();
        // Orphans first, so an object can move from a removed syncset to another one.
        for prev in previous
            .iter()
            .filter(|p| !targets.iter().any(|t| t.name == p.name))
        {
            let to_delete: Vec<_> = prev
                .resources_to_delete
                .iter()
                .filter(|r| !crate::plan::identity::contains(declared_all, r))
                .cloned()
                .collect();
            let failures = self.delete_all(&to_delete).await?;
            self.ctx
                .applied_hashes
                .remove(&(self.key.clone(), kind, prev.name.clone()));
            if !failures.is_empty() {
                self.requeue = true;
            }
            if let Some(kept) = entry::orphan_entry(prev, &failures, &now) {
                out.push(kept);
            } else {
                info!(kind = kind.as_str(), syncset = %prev.name, "syncset no longer applies; its objects were removed");
            }
        }
        for t in targets {
            let prev = previous.iter().find(|p| p.name == t.name);
            let hash_key = (self.key.clone(), kind, t.name.clone());
            let hash_changed = self
                .ctx
                .applied_hashes
                .get(&hash_key)
                .is_some_and(|h| *h != t.payload.hash);
            let Some(reason) = entry::needs_apply(prev, t.generation, self.full, hash_changed)
            else {
                if let Some(p) = prev {
                    out.push(p.clone());
                }
                continue;
            };
            debug!(kind = kind.as_str(), syncset = %t.name, ?reason, "applying");
            let others: Vec<SyncResourceReference> = declared_all
                .iter()
                .filter(|r| !crate::plan::identity::contains(&t.payload.references, r))
                .cloned()
                .collect();
            let e = self.apply_one(kind, t, prev, &others, &now).await?;
            if e.result == SyncSetResult::Failure {
                warn!(kind = kind.as_str(), syncset = %t.name, message = e.failure_message.as_deref().unwrap_or_default(), "syncset failed");
            }
            self.ctx
                .applied_hashes
                .insert(hash_key, t.payload.hash.clone());
            out.push(e);
        }
        Some(out)
    }

    /// §4.5–§4.8 for one syncset.
    async fn apply_one(
        &mut self,
        kind: SyncSetKind,
        t: &Target,
        prev: Option<&SyncStatus>,
        declared_elsewhere: &[SyncResourceReference],
        now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    ) -> Option<SyncStatus> {
        let p = &t.payload;
        let prev = entry::previous_for_mode(prev, p.mode);
        let tracked = prev
            .as_ref()
            .map(|e| e.resources_to_delete.clone())
            .unwrap_or_default();
        let mut outcome = Outcome::default();
        if let Some(err) = &p.decode_error {
            // Nothing is applied, and unlike Hive nothing is deleted either: an object that fails to decode is not
            // an object the user removed.
            outcome.apply_error = Some(err.clone());
            outcome.retained = tracked;
        } else {
            self.apply_payload(kind, p, &mut outcome).await?;
            let removed = entry::removed_objects(&tracked, &p.references, declared_elsewhere);
            outcome.retained = removed.retained;
            outcome.delete_failures = self.delete_all(&removed.delete).await?;
            if !outcome.delete_failures.is_empty() {
                self.requeue = true;
            }
        }
        Some(entry::applied_entry(
            &t.name,
            t.generation,
            p.mode,
            prev.as_ref(),
            outcome,
            now,
        ))
    }

    /// Resources → secret mappings → patches, stopping at the first failure.
    async fn apply_payload(
        &mut self,
        kind: SyncSetKind,
        p: &Payload,
        outcome: &mut Outcome,
    ) -> Option<()> {
        for o in &p.objects {
            match ops::apply(self.remote, &o.object, p.behavior).await {
                Ok(()) => outcome.applied.push(o.reference.clone()),
                Err(e) => {
                    return self.fail(
                        outcome,
                        format!("failed to apply resource {}: {}", o.index, e.message),
                        e.unreachable,
                    )
                }
            }
        }
        for s in &p.secrets {
            let (ns, name) = match &s.source {
                Ok(src) => src,
                Err(msg) => {
                    outcome.apply_error = Some(msg.clone());
                    return Some(());
                }
            };
            let source = match Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
                self.ctx.hub.clone(),
                ns,
            )
            .get(name)
            .await
            {
                Ok(s) => s,
                Err(e) => {
                    info!(kind = kind.as_str(), secret = %name, "cannot read secret");
                    return self.fail(
                        outcome,
                        format!(
                            "failed to read secret {}: {}",
                            s.index,
                            ops::describe_error(&e)
                        ),
                        false,
                    );
                }
            };
            let object = decode::target_secret(&source, &s.target);
            match ops::apply(self.remote, &object, p.behavior).await {
                Ok(()) => outcome
                    .applied
                    .push(crate::plan::identity::reference_of(&object)),
                Err(e) => {
                    return self.fail(
                        outcome,
                        format!("failed to apply secret {}: {}", s.index, e.message),
                        e.unreachable,
                    )
                }
            }
        }
        for patch in &p.patches {
            if let Err(e) = ops::patch(self.remote, patch).await {
                warn!(kind = kind.as_str(), patch = patch.index, error = %e.message, "running the patch command failed");
                return self.fail(
                    outcome,
                    format!("failed to apply patch {}: {}", patch.index, e.message),
                    e.unreachable,
                );
            }
        }
        Some(())
    }

    fn fail(&mut self, outcome: &mut Outcome, message: String, unreachable: bool) -> Option<()> {
        if unreachable {
            self.unreachable = Some(message);
            return None;
        }
        self.requeue = true;
        outcome.apply_error = Some(message);
        Some(())
    }

    /// Deletes every reference; one failure does not stop the others.
    async fn delete_all(
        &mut self,
        refs: &[SyncResourceReference],
    ) -> Option<Vec<(SyncResourceReference, String)>> {
        let mut failures = Vec::new();
        for r in refs {
            match ops::delete(self.remote, r).await {
                Ok(()) => debug!(object = %crate::plan::identity::describe(r), "deleted"),
                Err(e) if e.unreachable => {
                    self.unreachable = Some(e.message);
                    return None;
                }
                Err(e) => failures.push((r.clone(), e.message)),
            }
        }
        Some(failures)
    }
}

/// A cluster whose kubeconfig cannot be used: every syncset that targets it fails with that message.
async fn record_client_failure(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    ss: &[Target],
    sss: &[Target],
    message: &str,
) -> anyhow::Result<()> {
    let cs = match latest_cluster_sync(ctx, key) {
        Some(cs) => cs,
        None => Arc::new(status::create_cluster_sync(&ctx.hub, cd).await?),
    };
    let old = cs.status.clone().unwrap_or_default();
    let now = status::now();
    let fail_all = |targets: &[Target], previous: &[SyncStatus]| -> Vec<SyncStatus> {
        let mut out: Vec<SyncStatus> = previous
            .iter()
            .filter(|p| !targets.iter().any(|t| t.name == p.name))
            .cloned()
            .collect();
        for t in targets {
            let prev = previous.iter().find(|p| p.name == t.name);
            let outcome = Outcome {
                apply_error: Some(message.to_string()),
                retained: prev
                    .map(|p| p.resources_to_delete.clone())
                    .unwrap_or_default(),
                ..Default::default()
            };
            let mode = if t.payload.mode == ApplyMode::Upsert {
                ApplyMode::Other
            } else {
                t.payload.mode
            };
            out.push(entry::applied_entry(
                &t.name,
                t.generation,
                mode,
                prev,
                outcome,
                &now,
            ));
        }
        out
    };
    let mut new = ClusterSyncStatus {
        sync_sets: fail_all(ss, &old.sync_sets),
        selector_sync_sets: fail_all(sss, &old.selector_sync_sets),
        ..old.clone()
    };
    new.conditions = conditions::with_failed_condition(
        &old.conditions,
        conditions::failed_condition(&new.sync_sets, &new.selector_sync_sets),
        &now,
    );
    if new != old {
        let written = status::write_cluster_sync_status(&ctx.hub, &cs, new.clone()).await?;
        ctx.written.insert(key.clone(), Arc::new(written));
    }
    set_syncset_failed(
        ctx,
        key,
        cd,
        new.conditions.first().map(|c| c.status == "True"),
        false,
    )
    .await;
    Ok(())
}

/// Keeps the ClusterDeployment `SyncSetFailed` condition in step with the ClusterSync (Hive's clusterdeployment
/// controller does this; hivesync owns it here). Written only when it changes.
async fn set_syncset_failed(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    failing: Option<bool>,
    paused: bool,
) {
    let (s, r, m) = conditions::syncset_failed(failing, paused);
    let current = cd.condition(SYNCSET_FAILED);
    if current.is_some_and(|c| {
        c.status == s && c.reason.as_deref() == Some(r) && c.message.as_deref() == Some(m)
    }) {
        return;
    }
    let now = status::now();
    let result = status::update_cd_conditions(&ctx.hub, &key.0, &key.1, |conds| {
        conditions::set_cd_condition(conds, SYNCSET_FAILED, (s, r, m), &now, false)
    })
    .await;
    if let Err(e) = result {
        warn!(error = %e, "could not update the SyncSetFailed condition");
    }
}
