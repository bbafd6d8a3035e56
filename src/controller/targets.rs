//! Which syncsets target a cluster, with their payloads: untemplated syncsets decoded once for the whole fleet,
//! templated ones rendered per cluster, content hashes compared with the last apply. The decisions are
//! `plan::select`'s; this module feeds it from the watch caches and keeps the payload caches.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};

use super::Context;
use crate::api::{ClusterDeployment, ClusterKey, ClusterSyncStatus};
use crate::plan::decode::{self, Payload, SyncSetKind};
use crate::plan::run::Target;
use crate::plan::select::{self, Payloads};

/// The syncsets that apply to a cluster now.
pub(super) struct Targets {
    pub sync_sets: Vec<Target>,
    pub selector_sync_sets: Vec<Target>,
}

impl Targets {
    /// Each target's payload by (kind, name), kept past the plan run (which consumes the targets) to record what was
    /// applied.
    pub fn payloads(&self) -> HashMap<(SyncSetKind, String), Arc<Payload>> {
        let entries = |kind: SyncSetKind, targets: &[Target]| {
            targets
                .iter()
                .map(move |t| ((kind, t.name.clone()), t.payload.clone()))
                .collect::<Vec<_>>()
        };
        entries(SyncSetKind::SyncSet, &self.sync_sets)
            .into_iter()
            .chain(entries(
                SyncSetKind::SelectorSyncSet,
                &self.selector_sync_sets,
            ))
            .collect()
    }
}

/// The syncsets targeting `cd`, from the watch caches; a syncset that exists but does not decode is a failed target
/// (its entry says why) rather than a missing one.
pub(super) fn targets(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    previous: &ClusterSyncStatus,
) -> Targets {
    // The SyncSets that name this cluster (the selection below checks them again).
    let (mut sync_sets, mut selector_sync_sets) = (
        ctx.stores.sync_sets_of(key),
        ctx.stores.selector_sync_sets.state(),
    );
    if !ctx.rollouts.is_empty() || any_opted_in(&sync_sets, &selector_sync_sets) {
        // Progressive rollouts: a cluster not yet reached receives its syncset's stable revision.
        // Looked up only for an opted-in syncset, by borrowed name: this runs for every syncset at every reconcile.
        let recorded = |entries: &[crate::api::SyncStatus], meta: &ObjectMeta| {
            let name = meta.name.as_deref().unwrap_or_default();
            entries.iter().any(|e| e.name == name)
        };
        sync_sets = sync_sets
            .iter()
            .filter_map(|s| {
                ctx.rollouts
                    .sync_set_for(s, key, || recorded(&previous.sync_sets, s.meta()))
            })
            .collect();
        selector_sync_sets = selector_sync_sets
            .iter()
            .filter_map(|s| {
                ctx.rollouts.selector_sync_set_for(s, key, || {
                    recorded(&previous.selector_sync_sets, s.meta())
                })
            })
            .collect();
    }
    let (mut ss, mut sss) = select::targets_with(
        cd,
        sync_sets.iter().map(|s| s.as_ref()),
        selector_sync_sets.iter().map(|s| s.as_ref()),
        previous,
        &mut CachedPayloads { ctx, key, cd },
    );
    let undecodable = ctx.stores.undecodable.syncsets_for(cd);
    if !undecodable.is_empty() {
        let undecoded: Vec<select::Undecoded> = undecodable
            .iter()
            .map(|u| select::Undecoded {
                kind: if u.kind == "SyncSet" {
                    SyncSetKind::SyncSet
                } else {
                    SyncSetKind::SelectorSyncSet
                },
                name: u.metadata.name.as_deref().unwrap_or_default(),
                generation: u.metadata.generation.unwrap_or(0),
                error: &u.error,
                targets: u.targets_cluster(cd),
            })
            .collect();
        select::fail_undecodable(&mut ss, &mut sss, &undecoded, previous);
    }
    Targets {
        sync_sets: ss,
        selector_sync_sets: sss,
    }
}

fn any_opted_in(
    sync_sets: &[Arc<crate::api::SyncSet>],
    selector_sync_sets: &[Arc<crate::api::SelectorSyncSet>],
) -> bool {
    let opted = |m: &ObjectMeta| {
        m.annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(crate::consts::ROLLOUT_STRATEGY_ANNOTATION))
    };
    sync_sets.iter().any(|s| opted(s.meta())) || selector_sync_sets.iter().any(|s| opted(s.meta()))
}

/// The key of a syncset's cached payload: its UID (its name when it has none, in tests).
pub(super) fn payload_key(meta: &ObjectMeta) -> String {
    meta.uid
        .clone()
        .or_else(|| meta.name.clone())
        .unwrap_or_default()
}

/// The controller's payload cache for `plan::select`: untemplated syncsets decoded once for all clusters, templated
/// ones per cluster and re-decoded when the cluster's labels change; content hashes compared with the last apply.
struct CachedPayloads<'a> {
    ctx: &'a Context,
    key: &'a ClusterKey,
    cd: &'a ClusterDeployment,
}

impl Payloads for CachedPayloads<'_> {
    fn payload(
        &mut self,
        _kind: SyncSetKind,
        meta: &ObjectMeta,
        spec: &crate::api::SyncSetCommonSpec,
        make: &dyn Fn() -> Payload,
    ) -> Arc<Payload> {
        let ctx = self.ctx;
        let uid = payload_key(meta);
        let generation = meta.generation.unwrap_or(0);
        if !decode::is_templated(spec) {
            if let Some(entry) = ctx.payloads.get(&uid) {
                if entry.0 == generation {
                    return entry.1.clone();
                }
            }
            let payload = Arc::new(make());
            ctx.payloads.insert(uid, (generation, payload.clone()));
            return payload;
        }
        let labels_hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.cd.labels().hash(&mut h);
            h.finish()
        };
        let cache_key = (uid, self.key.clone());
        if let Some(entry) = ctx.templated.get(&cache_key) {
            if entry.0 == generation && entry.1 == labels_hash {
                return entry.2.clone();
            }
        }
        let payload = Arc::new(render_off_the_runtime(make));
        ctx.templated
            .insert(cache_key, (generation, labels_hash, payload.clone()));
        payload
    }

    fn hash_changed(&self, kind: SyncSetKind, name: &str, payload: &Payload) -> bool {
        self.ctx.applied_hashes.get(self.key).is_some_and(|hashes| {
            hashes
                .get(&(kind, name.to_string()))
                .is_some_and(|h| *h != content_hash(self.ctx, payload))
        })
    }
}

/// Renders a templated payload on this worker's thread with the async runtime moved off it, one rendering at a time.
/// A rendering is bounded (`plan::template::Budget`: well under a second of CPU), but a syncset written to exhaust
/// that budget is rendered for every cluster it targets: with one rendering at a time the other core always runs
/// `/healthz`, the prober and the other clusters' I/O.
fn render_off_the_runtime(make: &dyn Fn() -> Payload) -> Payload {
    static RENDERING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let render = || {
        let _one_at_a_time = RENDERING.lock().unwrap_or_else(|p| p.into_inner());
        make()
    };
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(render),
        _ => render(),
    }
}

/// What a syncset's application depends on: its spec and the versions of the hub Secrets it copies, so that a
/// source Secret's change re-applies it (docs/hive-compatibility.md, deliberate difference 2).
pub(super) fn content_hash(ctx: &Context, payload: &Payload) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    payload.hash.hash(&mut h);
    for s in &payload.secrets {
        if let Ok(source) = &s.source {
            ctx.secrets.version(source).hash(&mut h);
        }
    }
    h.finish()
}
