//! Progressive rollout (docs/rollout.md): the I/O around `plan::rollout`. Every couple of seconds, for each SyncSet
//! and SelectorSyncSet that names a `RolloutStrategy` (annotation `hivesync.io/rollout-strategy`), it gathers what the
//! hub says of the clusters the syncset targets, lets `plan::rollout::evaluate` decide, and keeps the result where
//! the per-cluster reconcile reads it (`Rollouts::sync_set_for`, `selector_sync_set_for`): admitted clusters receive
//! the syncset as it is, the others its stable revision, rebuilt from a ControllerRevision. The rollout's state is
//! written to its `Rollout` object, so a restart or a new leader resumes the same step.
//!
//! Without an opted-in syncset none of this runs: the reconcile checks one empty map.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use crate::api::rollout::{Rollout, RolloutSpec, RolloutStatus, RolloutStrategy, SyncSetRef};
use crate::api::{ClusterDeployment, ClusterKey, ClusterSync, SelectorSyncSet, SyncSet};
use crate::consts::{
    FAKE_CLUSTER_ANNOTATION, FIELD_MANAGER, HEALTHY_CONDITION, ROLLOUT_LABEL,
    ROLLOUT_STRATEGY_ANNOTATION,
};
use crate::controller::Context;
use crate::metrics;
use crate::plan::gate;
use crate::plan::rollout::{self as plan, Admission, Member, MemberHealth, Strategy};
use crate::plan::target::{selector_syncset_targets, syncset_targets};

/// How often rollouts are evaluated.
const TICK: Duration = Duration::from_secs(2);

/// What the clusters of each opted-in syncset receive, as last evaluated.
pub struct Rollouts {
    tracks: DashMap<SyncSetRef, Arc<Track>>,
    /// The namespace of a SelectorSyncSet's ControllerRevisions (a SyncSet's live in its own namespace).
    namespace: String,
}

/// One opted-in syncset's rollout, as the reconcile needs it.
pub struct Track {
    /// The generation being rolled out.
    pub update_generation: i64,
    pub admission: Admission,
    /// What clusters not admitted receive: the syncset at its stable revision (`None`: nothing, a new syncset).
    pub stable: Option<Stable>,
}

/// A syncset as it was at its stable revision.
#[derive(Clone)]
pub enum Stable {
    SyncSet(Arc<SyncSet>),
    SelectorSyncSet(Arc<SelectorSyncSet>),
}

impl Stable {
    fn generation(&self) -> i64 {
        match self {
            Stable::SyncSet(s) => s.meta().generation.unwrap_or(0),
            Stable::SelectorSyncSet(s) => s.meta().generation.unwrap_or(0),
        }
    }
}

impl Rollouts {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            tracks: DashMap::new(),
            namespace: namespace.into(),
        }
    }

    /// What `key` receives of SyncSet `s`: `s`, its stable revision, or nothing. `recorded`: whether the cluster's
    /// ClusterSync has an entry for it (asked only when `s` opted in and has not been evaluated yet).
    pub fn sync_set_for(
        &self,
        s: &Arc<SyncSet>,
        key: &ClusterKey,
        recorded: impl FnOnce() -> bool,
    ) -> Option<Arc<SyncSet>> {
        if !opted_in(s.meta()) {
            return Some(s.clone());
        }
        self.choose(&sync_set_ref(s), s, key, recorded, |st| match st {
            Stable::SyncSet(s) => Some(s.clone()),
            Stable::SelectorSyncSet(_) => None,
        })
    }

    /// As `sync_set_for`, for a SelectorSyncSet.
    pub fn selector_sync_set_for(
        &self,
        s: &Arc<SelectorSyncSet>,
        key: &ClusterKey,
        recorded: impl FnOnce() -> bool,
    ) -> Option<Arc<SelectorSyncSet>> {
        if !opted_in(s.meta()) {
            return Some(s.clone());
        }
        self.choose(&selector_sync_set_ref(s), s, key, recorded, |st| match st {
            Stable::SelectorSyncSet(s) => Some(s.clone()),
            Stable::SyncSet(_) => None,
        })
    }

    fn choose<T: Resource>(
        &self,
        r: &SyncSetRef,
        current: &Arc<T>,
        key: &ClusterKey,
        recorded: impl FnOnce() -> bool,
        stable: impl Fn(&Stable) -> Option<Arc<T>>,
    ) -> Option<Arc<T>> {
        let Some(track) = self.tracks.get(r) else {
            // Not evaluated yet (it just opted in, or was just created): what a cluster has stays, a new syncset
            // waits for its first step.
            return recorded().then(|| current.clone());
        };
        let generation = current.meta().generation.unwrap_or(0);
        let admitted = track.admission.admits(key);
        if admitted && (track.update_generation == generation || track.admission != Admission::All)
        {
            // Admitted to this revision's rollout (or to the last one's while the next is being set up).
            return Some(current.clone());
        }
        track.stable.as_ref().and_then(stable)
    }

    /// Whether any syncset is being rolled out (the reconcile skips all of this otherwise).
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }
}

fn opted_in(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ROLLOUT_STRATEGY_ANNOTATION))
}

fn strategy_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(ROLLOUT_STRATEGY_ANNOTATION).cloned())
        .unwrap_or_default()
}

pub fn sync_set_ref(s: &SyncSet) -> SyncSetRef {
    SyncSetRef {
        kind: "SyncSet".into(),
        namespace: s.namespace().unwrap_or_default(),
        name: s.name_any(),
    }
}

pub fn selector_sync_set_ref(s: &SelectorSyncSet) -> SyncSetRef {
    SyncSetRef {
        kind: "SelectorSyncSet".into(),
        namespace: String::new(),
        name: s.name_any(),
    }
}

/// An opted-in syncset, either kind.
#[derive(Clone)]
enum Opted {
    SyncSet(Arc<SyncSet>),
    SelectorSyncSet(Arc<SelectorSyncSet>),
}

impl Opted {
    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Opted::SyncSet(s) => s.meta(),
            Opted::SelectorSyncSet(s) => s.meta(),
        }
    }

    fn reference(&self) -> SyncSetRef {
        match self {
            Opted::SyncSet(s) => sync_set_ref(s),
            Opted::SelectorSyncSet(s) => selector_sync_set_ref(s),
        }
    }

    fn targets(&self, cd: &ClusterDeployment) -> bool {
        match self {
            Opted::SyncSet(s) => syncset_targets(s, cd),
            Opted::SelectorSyncSet(s) => selector_syncset_targets(s, cd),
        }
    }

    /// Its entry in a ClusterSync status.
    fn entry<'s>(
        &self,
        status: &'s crate::api::ClusterSyncStatus,
    ) -> Option<&'s crate::api::SyncStatus> {
        let name = self.meta().name.as_deref().unwrap_or_default();
        let entries = match self {
            Opted::SyncSet(_) => &status.sync_sets,
            Opted::SelectorSyncSet(_) => &status.selector_sync_sets,
        };
        entries.iter().find(|e| e.name == name)
    }

    fn spec_json(&self) -> serde_json::Value {
        match self {
            Opted::SyncSet(s) => json!({ "spec": s.spec }),
            Opted::SelectorSyncSet(s) => json!({ "spec": s.spec }),
        }
    }

    /// The syncset with the spec of `revision` (as generation `generation`, under a UID of its own so the payload
    /// caches keep both revisions apart).
    fn at_revision(&self, data: &serde_json::Value, generation: i64) -> Option<Stable> {
        let mut meta = self.meta().clone();
        meta.generation = Some(generation);
        meta.uid = Some(format!(
            "{}@{generation}",
            meta.uid.as_deref().unwrap_or_default()
        ));
        meta.managed_fields = None;
        let spec = data.get("spec")?.clone();
        match self {
            Opted::SyncSet(_) => Some(Stable::SyncSet(Arc::new(SyncSet {
                metadata: meta,
                spec: serde_json::from_value(spec).ok()?,
                status: None,
            }))),
            Opted::SelectorSyncSet(_) => Some(Stable::SelectorSyncSet(Arc::new(SelectorSyncSet {
                metadata: meta,
                spec: serde_json::from_value(spec).ok()?,
                status: None,
            }))),
        }
    }

    fn object_ref(&self) -> k8s_openapi::api::core::v1::ObjectReference {
        match self {
            Opted::SyncSet(s) => s.object_ref(&()),
            Opted::SelectorSyncSet(s) => s.object_ref(&()),
        }
    }

    fn owner(&self) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        let (api_version, kind) = match self {
            Opted::SyncSet(_) => ("hive.openshift.io/v1", "SyncSet"),
            Opted::SelectorSyncSet(_) => ("hive.openshift.io/v1", "SelectorSyncSet"),
        };
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: self.meta().name.clone().unwrap_or_default(),
            uid: self.meta().uid.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// The opted-in syncsets in the watch caches (kept apart by the watches: this runs every 2 s).
fn opted(ctx: &Context) -> Vec<Opted> {
    let (sync_sets, selector_sync_sets) = ctx.stores.opted_in();
    let mut out: Vec<Opted> = sync_sets.into_iter().map(Opted::SyncSet).collect();
    out.extend(selector_sync_sets.into_iter().map(Opted::SelectorSyncSet));
    out
}

/// Evaluates every rollout every `TICK` until the process ends. With shards, the replica that owns a syncset (by its
/// UID, as clusters are owned) writes its rollout's state; the others follow what it wrote.
pub async fn run(ctx: Arc<Context>, mut revisions: Revisions) {
    loop {
        tokio::time::sleep(TICK).await;
        evaluate_all(&ctx, &mut revisions).await;
    }
}

/// Stable revisions' specs read from their ControllerRevisions, by (rollout, revision).
#[derive(Default)]
pub struct Revisions {
    specs: HashMap<(String, i64), Arc<serde_json::Value>>,
    /// Revisions known to be recorded (this process created or found them): not looked up again every tick.
    recorded: HashSet<(String, i64)>,
}

impl Revisions {
    /// Drops what is kept of a rollout's revisions but `keep`.
    fn forget(&mut self, rollout: &str, keep: Option<i64>) {
        let gone = |(r, g): &(String, i64)| r == rollout && Some(*g) != keep;
        self.specs.retain(|k, _| !gone(k));
        self.recorded.retain(|k| !gone(k));
    }
}

/// One evaluation of every rollout: the first runs before the workers start, so a restarted controller sends no
/// cluster a revision its rollout has not reached.
pub async fn evaluate_all(ctx: &Context, revisions: &mut Revisions) {
    let opted = opted(ctx);
    let live: HashSet<SyncSetRef> = opted.iter().map(|o| o.reference()).collect();
    // Syncsets that opted out or went: their clusters get the syncset as it is (or its deletion).
    let gone: Vec<SyncSetRef> = ctx
        .rollouts
        .tracks
        .iter()
        .map(|t| t.key().clone())
        .filter(|r| !live.contains(r))
        .collect();
    for r in &gone {
        ctx.rollouts.tracks.remove(r);
        enqueue_targets_of(ctx, r);
    }
    let rollout_api: Api<Rollout> = Api::all(ctx.hub.clone());
    if !gone.is_empty() {
        for r in &gone {
            let name = Rollout::name_for(r);
            if rollout_api.get_opt(&name).await.ok().flatten().is_some() {
                let _ = rollout_api.delete(&name, &DeleteParams::default()).await;
                delete_revisions(ctx, r, &name, None).await;
                revisions.forget(&name, None);
            }
        }
    }
    if opted.is_empty() {
        return;
    }
    let list = ListParams::default().match_any();
    let strategies = match Api::<RolloutStrategy>::all(ctx.hub.clone())
        .list(&list)
        .await
    {
        Ok(l) => l
            .items
            .into_iter()
            .map(|s| (s.name_any(), s))
            .collect::<HashMap<_, _>>(),
        Err(e) => {
            warn!(error = %e, "cannot list RolloutStrategies (is hivesync's rollout CRD installed?); opted-in syncsets wait");
            HashMap::new()
        }
    };
    let rollouts: HashMap<String, Rollout> = match rollout_api.list(&list).await {
        Ok(l) => l.items.into_iter().map(|r| (r.name_any(), r)).collect(),
        Err(e) => {
            warn!(error = %e, "cannot list Rollouts; opted-in syncsets wait");
            return;
        }
    };
    let cds = ctx.stores.cds.state();
    for o in opted {
        evaluate_one(
            ctx,
            &o,
            &strategies,
            rollouts.get(&Rollout::name_for(&o.reference())),
            &cds,
            revisions,
        )
        .await;
    }
}

async fn evaluate_one(
    ctx: &Context,
    o: &Opted,
    strategies: &HashMap<String, RolloutStrategy>,
    existing_rollout: Option<&Rollout>,
    cds: &[Arc<ClusterDeployment>],
    revisions: &mut Revisions,
) {
    let r = o.reference();
    let name = Rollout::name_for(&r);
    let generation = o.meta().generation.unwrap_or(0);
    let writer = ctx.ownership.owns(o.meta().uid.as_deref());
    let previous = existing_rollout
        .and_then(|x| x.status.clone())
        .unwrap_or_default();
    let controls = existing_rollout
        .map(|x| x.spec.clone())
        .unwrap_or_else(|| RolloutSpec {
            sync_set_ref: r.clone(),
            ..Default::default()
        });
    // A complete rollout whose syncset has not changed needs no look at the fleet.
    if previous.phase == plan::COMPLETE && previous.update_revision == generation {
        if let Some(t) = ctx.rollouts.tracks.get(&r) {
            if t.update_generation == generation && t.admission == Admission::All {
                return;
            }
        }
    }
    let strategy = strategies
        .get(&strategy_name(o.meta()))
        .ok_or_else(|| {
            format!(
                "RolloutStrategy {:?} not found: the change waits",
                strategy_name(o.meta())
            )
        })
        .and_then(|s| {
            Strategy::parse(&s.spec).map_err(|e| format!("RolloutStrategy {:?}: {e}", s.name_any()))
        });
    let strategy = match strategy {
        Ok(s) => s,
        Err(message) => {
            // Hold: no cluster is sent a revision the rollout has not reached.
            let first_sight = previous.phase.is_empty() && applied_anywhere(ctx, o, cds);
            if writer && (previous.message != message || first_sight) {
                warn!(syncset = %r.name, "{message}");
                let mut status = previous.clone();
                if first_sight {
                    // What the clusters have now is the stable revision, as when a syncset opts in.
                    let _ = ensure_revision(ctx, o, &name, generation, revisions).await;
                    status.phase = plan::COMPLETE.into();
                    status.stable_revision = generation;
                    status.update_revision = generation;
                }
                let hold = Hold {
                    create: existing_rollout.is_none(),
                    reason: "RolloutStrategyInvalid",
                    message,
                };
                hold.publish(ctx, o, &name, status).await;
            }
            if ctx.rollouts.tracks.get(&r).is_none() && applied_anywhere(ctx, o, cds) {
                // Never evaluated: hold the syncset as it is now, so that an edit made before the strategy is fixed
                // reaches no cluster (a syncset applied nowhere needs no hold: `choose` sends it nowhere).
                if let Some(now) = o.at_revision(&o.spec_json(), generation) {
                    ctx.rollouts.tracks.insert(
                        r.clone(),
                        Arc::new(Track {
                            update_generation: generation,
                            admission: Admission::Some(Default::default()),
                            stable: Some(now),
                        }),
                    );
                }
            }
            return;
        }
    };

    let mut keys: Vec<(ClusterKey, Arc<ClusterDeployment>, Option<Arc<ClusterSync>>)> = Vec::new();
    for cd in cds.iter().filter(|cd| o.targets(cd)) {
        let key = ClusterKey::of(cd);
        let cs = crate::controller::latest_cluster_sync(ctx, &key);
        keys.push((key, cd.clone(), cs));
    }
    let members: Vec<Member> = keys
        .iter()
        .map(|(key, cd, cs)| member(ctx, key, cd, cs.as_deref(), o))
        .collect();
    let existing = members.iter().any(|m| m.entry.is_some());
    let decision = plan::evaluate(
        &strategy,
        &previous,
        generation,
        &controls,
        &members,
        existing,
        crate::status::now(),
    );

    // Revisions: this generation's is recorded; the stable one is read back when the syncset has moved past it.
    let mut recorded = Ok(());
    if writer {
        recorded = ensure_revision(ctx, o, &name, generation, revisions).await;
    }
    let stable_revision = decision.status.stable_revision;
    let stable = if stable_revision == 0 {
        None
    } else if stable_revision == generation {
        // Kept for the next edit, under a UID of its own as every stable revision.
        o.at_revision(&o.spec_json(), generation)
    } else if let Some(kept) = ctx
        .rollouts
        .tracks
        .get(&r)
        .and_then(|t| t.stable.clone())
        .filter(|st| st.generation() == stable_revision)
    {
        // Already in memory (the syncset as it was before this edit, or as rebuilt at an earlier evaluation).
        Some(kept)
    } else {
        match revision_spec(ctx, o, &name, stable_revision, revisions).await {
            Some(data) => o.at_revision(&data, stable_revision),
            None => {
                let message = match &recorded {
                    Err(why) => format!("{why}: the change waits"),
                    Ok(()) => format!(
                        "the stable revision (generation {stable_revision}) is not recorded: the change waits"
                    ),
                };
                if writer && previous.message != message {
                    let hold = Hold {
                        create: existing_rollout.is_none(),
                        reason: "RolloutRevisionMissing",
                        message,
                    };
                    hold.publish(ctx, o, &name, previous).await;
                }
                return;
            }
        }
    };

    let track = Arc::new(Track {
        update_generation: decision.status.update_revision,
        admission: decision.admission.clone(),
        stable,
    });
    let before = ctx.rollouts.tracks.insert(r.clone(), track.clone());
    // Clusters whose revision changed are reconciled now.
    for (key, _, _) in &keys {
        let was = before
            .as_ref()
            .map(|b| (b.update_generation, b.admission.admits(key)));
        let now = (track.update_generation, track.admission.admits(key));
        if was != Some(now) {
            ctx.queue.add(key.clone());
        }
    }
    publish_metrics(&r, &decision);

    if writer {
        if decision.status != previous || existing_rollout.is_none() {
            write(ctx, o, &name, existing_rollout.is_none(), &decision.status).await;
        }
        for note in &decision.notes {
            info!(syncset = %r.name, kind = %r.kind, reason = note.reason, "{}", note.message);
            ctx.events
                .publish_on(
                    &o.object_ref(),
                    note.warning,
                    note.reason,
                    note.message.clone(),
                )
                .await;
        }
        if decision.notes.iter().any(|n| n.reason == "RolloutComplete") {
            delete_revisions(ctx, &r, &name, Some(generation)).await;
            revisions.forget(&name, Some(generation));
        }
    }
}

/// Why a rollout cannot go on: written to its status's message (with `status`) and as a Warning Event on the syncset.
struct Hold {
    create: bool,
    reason: &'static str,
    message: String,
}

impl Hold {
    async fn publish(self, ctx: &Context, o: &Opted, rollout: &str, mut status: RolloutStatus) {
        status.message = self.message.clone();
        write(ctx, o, rollout, self.create, &status).await;
        ctx.events
            .publish_on(&o.object_ref(), true, self.reason, self.message)
            .await;
    }
}

/// Whether any cluster the syncset targets has an entry for it.
fn applied_anywhere(ctx: &Context, o: &Opted, cds: &[Arc<ClusterDeployment>]) -> bool {
    cds.iter().filter(|cd| o.targets(cd)).any(|cd| {
        crate::controller::latest_cluster_sync(ctx, &ClusterKey::of(cd))
            .is_some_and(|cs| cs.status.as_ref().and_then(|s| o.entry(s)).is_some())
    })
}

/// What the hub says of one target.
fn member<'a>(
    ctx: &Context,
    key: &'a ClusterKey,
    cd: &'a ClusterDeployment,
    cs: Option<&ClusterSync>,
    o: &Opted,
) -> Member<'a> {
    let status = cs.and_then(|c| c.status.as_ref());
    let entry = status
        .and_then(|s| o.entry(s))
        .map(|e| (e.observed_generation, e.result));
    let fake = cd
        .annotations()
        .get(FAKE_CLUSTER_ANNOTATION)
        .is_some_and(|v| v == "true");
    let health = if fake {
        MemberHealth::Healthy
    } else if ctx.observations.get(key).is_some_and(|o| o.settling()) {
        // Applied since its last look: its condition is older than what it now runs.
        MemberHealth::Progressing
    } else {
        match status.and_then(|s| s.conditions.iter().find(|c| c.type_ == HEALTHY_CONDITION)) {
            Some(c) if c.status == "True" => MemberHealth::Healthy,
            Some(c) if c.status == "False" && c.reason == "Degraded" => MemberHealth::Degraded,
            Some(c) if c.status == "False" => MemberHealth::Progressing,
            _ => MemberHealth::Unknown,
        }
    };
    static NO_LABELS: std::sync::LazyLock<BTreeMap<String, String>> =
        std::sync::LazyLock::new(BTreeMap::new);
    Member {
        key,
        labels: cd.metadata.labels.as_ref().unwrap_or(&NO_LABELS),
        unreachable: !gate::reachable(cd),
        entry,
        health,
    }
}

fn enqueue_targets_of(ctx: &Context, r: &SyncSetRef) {
    for cd in ctx.stores.cds.state() {
        let key = ClusterKey::of(&cd);
        if r.kind == "SelectorSyncSet" || key.namespace == r.namespace {
            ctx.queue.add(key);
        }
    }
}

fn revisions_namespace<'a>(ctx: &'a Context, r: &'a SyncSetRef) -> &'a str {
    if r.kind == "SyncSet" {
        &r.namespace
    } else {
        &ctx.rollouts.namespace
    }
}

fn revision_name(rollout: &str, generation: i64) -> String {
    format!("{rollout}-{generation}")
}

/// Records the syncset's spec at `generation` as a ControllerRevision (once); the error says why it could not.
async fn ensure_revision(
    ctx: &Context,
    o: &Opted,
    rollout: &str,
    generation: i64,
    revisions: &mut Revisions,
) -> Result<(), String> {
    let key = (rollout.to_string(), generation);
    if revisions.recorded.contains(&key) {
        return Ok(());
    }
    let result = record_revision(ctx, o, rollout, generation).await;
    if result.is_ok() {
        revisions.recorded.insert(key);
    }
    result
}

async fn record_revision(
    ctx: &Context,
    o: &Opted,
    rollout: &str,
    generation: i64,
) -> Result<(), String> {
    let r = o.reference();
    let api: Api<ControllerRevision> =
        Api::namespaced(ctx.hub.clone(), revisions_namespace(ctx, &r));
    let name = revision_name(rollout, generation);
    if let Ok(Some(_)) = api.get_metadata_opt(&name).await {
        return Ok(());
    }
    let mut meta = kube::api::ObjectMeta {
        name: Some(name.clone()),
        labels: Some([(ROLLOUT_LABEL.to_string(), label_value(rollout))].into()),
        ..Default::default()
    };
    if r.kind == "SyncSet" || !ctx.rollouts.namespace.is_empty() {
        // Goes with its syncset (a namespaced dependent may have a cluster-scoped owner).
        meta.owner_references = Some(vec![o.owner()]);
    }
    let revision = ControllerRevision {
        metadata: meta,
        data: Some(RawExtension(o.spec_json())),
        revision: generation,
    };
    match api.create(&PostParams::default(), &revision).await {
        Ok(_) => {
            debug!(revision = %name, "recorded a revision");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => {
            warn!(revision = %name, error = %e, "could not record a revision");
            Err(format!(
                "cannot record generation {generation} as ControllerRevision {}/{name}: {e}{}",
                revisions_namespace(ctx, &r),
                if r.kind == "SelectorSyncSet" {
                    " (a SelectorSyncSet's revisions are kept in the controller's namespace, its --lease-namespace)"
                } else {
                    ""
                }
            ))
        }
    }
}

/// A label value for a rollout name (63 characters at most: longer names are cut and hashed).
fn label_value(rollout: &str) -> String {
    if rollout.len() <= 63 {
        return rollout.to_string();
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    rollout.hash(&mut h);
    format!(
        "{}-{:016x}",
        &rollout[..40].trim_end_matches(['.', '-']),
        h.finish()
    )
}

async fn revision_spec(
    ctx: &Context,
    o: &Opted,
    rollout: &str,
    generation: i64,
    revisions: &mut Revisions,
) -> Option<Arc<serde_json::Value>> {
    let key = (rollout.to_string(), generation);
    if let Some(s) = revisions.specs.get(&key) {
        return Some(s.clone());
    }
    let r = o.reference();
    let api: Api<ControllerRevision> =
        Api::namespaced(ctx.hub.clone(), revisions_namespace(ctx, &r));
    let cr = api
        .get_opt(&revision_name(rollout, generation))
        .await
        .ok()
        .flatten()?;
    let data = Arc::new(cr.data?.0);
    revisions.specs.insert(key, data.clone());
    Some(data)
}

/// Deletes the rollout's ControllerRevisions but `keep`.
async fn delete_revisions(ctx: &Context, r: &SyncSetRef, rollout: &str, keep: Option<i64>) {
    let api: Api<ControllerRevision> =
        Api::namespaced(ctx.hub.clone(), revisions_namespace(ctx, r));
    let list = ListParams::default().labels(&format!("{ROLLOUT_LABEL}={}", label_value(rollout)));
    let Ok(revs) = api.list_metadata(&list).await else {
        return;
    };
    for cr in revs.items {
        let name = cr.name_any();
        if keep.is_some_and(|k| name == revision_name(rollout, k)) {
            continue;
        }
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
}

/// Creates the Rollout when it is not there, and writes its status.
async fn write(ctx: &Context, o: &Opted, name: &str, create: bool, status: &RolloutStatus) {
    let api: Api<Rollout> = Api::all(ctx.hub.clone());
    if create {
        let mut rollout = Rollout::new(
            name,
            RolloutSpec {
                sync_set_ref: o.reference(),
                ..Default::default()
            },
        );
        if matches!(o, Opted::SelectorSyncSet(_)) {
            rollout.metadata.owner_references = Some(vec![o.owner()]);
        }
        match api.create(&PostParams::default(), &rollout).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => {
                warn!(rollout = name, error = %e, "could not create the Rollout");
                return;
            }
        }
    }
    let patch = json!({ "status": status });
    if let Err(e) = api
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(json!({
                "apiVersion": "hivesync.io/v1alpha1",
                "kind": "Rollout",
                "status": patch["status"],
            })),
        )
        .await
    {
        warn!(rollout = name, error = %e, "could not write the Rollout's status");
    }
}

fn publish_metrics(r: &SyncSetRef, d: &plan::Decision) {
    let name = if r.namespace.is_empty() {
        r.name.clone()
    } else {
        format!("{}/{}", r.namespace, r.name)
    };
    metrics::ROLLOUT_STEP
        .with_label_values(&[&r.kind, &name])
        .set(d.status.step as i64);
    metrics::ROLLOUT_CLUSTERS
        .with_label_values(&[&r.kind, &name, "update"])
        .set(d.status.updated_clusters as i64);
    metrics::ROLLOUT_CLUSTERS
        .with_label_values(&[&r.kind, &name, "stable"])
        .set(d.status.stable_clusters as i64);
}
