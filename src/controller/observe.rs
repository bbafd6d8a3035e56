//! After a run: what became of the objects on the cluster. Objects of syncsets that applied successfully are read
//! back when due, whole when a health rule needs their status (`plan::health`), as metadata otherwise; an object that
//! was deleted, or whose fields hivesync owns were changed, is applied again on its own (`plan::drift`), and the
//! cluster's health becomes the ClusterSync's `Healthy` condition.
//!
//! Looks are scheduled, not done on every reconcile: the first a few seconds after an apply (so a fan-out sends its
//! applies first), then with backoff while something is still settling, then at the drift interval. Between looks a
//! reconcile only reuses the last verdict.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tracing::{debug, info};

use super::execute::run_op;
use super::Context;
use crate::api::NamespacedName;
use crate::api::{ClusterDeployment, ClusterKey, SyncResourceReference, SyncSetResult};
use crate::consts::{DRIFT_INTERVAL_ANNOTATION, FIELD_MANAGER};
use crate::metrics;
use crate::plan::decode::{ApplyBehavior, Payload, SecretOp, SyncSetKind};
use crate::plan::drift::{self, Look};
use crate::plan::health::{self, Assessment, Health};
use crate::plan::run::{Finished, Op};
use crate::remote::{observe, Cause, RemoteCluster};

/// What hivesync knows of one cluster's applied objects between reconciles.
#[derive(Default)]
pub(crate) struct Observation {
    /// hivesync's owned-fields fingerprint per object (by a hash of its reference), as of its last apply or first look.
    baselines: HashMap<u64, u64>,
    /// When the objects with a health rule are next due for a look (`None`: at the next reconcile).
    next_look: Option<Instant>,
    /// When every watched object is next due for a drift check (`None`: at the next reconcile, e.g. after a
    /// restart). Kept apart from `next_look` so that a run's applies are not followed by a read of every object:
    /// their baselines come from the applies' answers, and only objects with a health rule are read soon after.
    next_drift: Option<Instant>,
    /// Looks in a row that found something unsettled.
    attempt: u32,
    /// The last assessment (`None` before the first).
    pub verdict: Option<health::Verdict>,
    /// When a run last applied something, until the cluster is next Healthy (for the time-to-healthy histogram).
    applied_at: Option<Instant>,
    /// Objects with a health rule, per health, as last assessed (for `hivesync_objects{health}`).
    pub counts: HashMap<&'static str, i64>,
    /// Groups (kind and namespace) found to hold more managed objects than a look expects: read object by object.
    crowded: std::collections::HashSet<u64>,
}

impl Observation {
    /// Whether something was applied since the last look found the cluster Healthy (its `Healthy` condition is then
    /// older than what it runs).
    pub fn settling(&self) -> bool {
        self.applied_at.is_some()
    }

    /// Records an apply's answer: the baseline of the object's owned fields, or none (the first look takes it).
    pub fn applied(&mut self, object: &SyncResourceReference, owned: Option<u64>) {
        match owned {
            Some(b) => self.baselines.insert(reference_key(object), b),
            None => self.baselines.remove(&reference_key(object)),
        };
    }
}

/// Where a watched object comes from in its payload.
enum Source<'a> {
    Resource(&'a serde_json::Value),
    /// A secret mapping whose hub source is known.
    Secret(&'a NamespacedName, &'a SecretOp),
}

impl Source<'_> {
    /// The op that applies the object again.
    fn op(&self, behavior: ApplyBehavior) -> Op {
        match self {
            Source::Resource(object) => Op::Apply {
                object: (*object).clone(),
                behavior,
            },
            Source::Secret(source, s) => Op::ApplySecret {
                source: (*source).clone(),
                target: s.target.clone(),
                behavior,
            },
        }
    }
}

fn reference_key(r: &SyncResourceReference) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    r.hash(&mut h);
    h.finish()
}

/// The settings of the look.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// `--drift-interval`: how often objects are checked for drift once settled; zero turns drift correction off
    /// (health is then checked every `HEALTH_RECHECK`).
    pub drift_interval: Duration,
}

/// How often a settled cluster's health is looked at when drift correction is off.
const HEALTH_RECHECK: Duration = Duration::from_secs(300);
/// The first look after an apply.
const FIRST_LOOK: Duration = Duration::from_secs(2);

/// One object to look at, borrowed from its syncset's payload (computed at every reconcile: nothing is cloned until
/// an object is applied again).
struct Watched<'a> {
    reference: SyncResourceReference,
    behavior: ApplyBehavior,
    /// What applies it again.
    source: Source<'a>,
    drift: bool,
    rule: bool,
    syncset: &'a str,
}

/// Looks at the cluster's objects when due, corrects drift, and returns the cluster's health (the last verdict when no
/// look was due) and when to look next.
pub(super) async fn observe(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    rc: &RemoteCluster,
    finished: &Finished,
    payloads: &HashMap<(SyncSetKind, String), Arc<Payload>>,
) -> (Option<health::Verdict>, Option<Duration>) {
    let now = Instant::now();
    let mut obs = ctx
        .observations
        .remove(key)
        .map(|(_, o)| o)
        .unwrap_or_default();
    let watched = watched(ctx, key, finished, payloads);
    let interval = if watched.drift_interval.is_zero() {
        HEALTH_RECHECK
    } else {
        watched.drift_interval
    };
    if !finished.applied.is_empty() {
        obs.applied_at.get_or_insert(now);
        obs.attempt = 0;
        obs.next_look = Some(now + FIRST_LOOK);
        // No sooner than this syncset's interval needs (an earlier look for other syncsets stays).
        let due = now + interval;
        obs.next_drift = Some(obs.next_drift.map_or(due, |t| t.min(due)));
    }
    let health_due = obs.next_look.is_none_or(|t| t <= now);
    let drift_due = obs.next_drift.is_none_or(|t| t <= now);
    if !health_due && !drift_due {
        let verdict = obs.verdict.clone();
        let wait = wake_after(&obs, now);
        ctx.observations.insert(key.clone(), obs);
        return (verdict, wait);
    }

    let mut assessed: Vec<(SyncResourceReference, Assessment)> = Vec::new();
    let mut corrected: Vec<(SyncResourceReference, Look)> = Vec::new();
    let mut lost = false;
    let looked_at: Vec<&Watched> = watched
        .objects
        .iter()
        .filter(|w| w.rule || drift_due)
        .collect();
    let mut reads = Reads::new(&looked_at);
    for w in looked_at {
        let live = match reads.read(rc, w, &mut obs.crowded).await {
            Ok(live) => live,
            Err(e) if matches!(e.cause, Cause::Unreachable | Cause::Timeout) => {
                lost = true;
                break;
            }
            Err(e) => {
                if w.rule {
                    assessed.push((w.reference.clone(), Assessment::unknown(e.message)));
                }
                continue;
            }
        };
        if w.drift {
            let baseline = obs.baselines.get(&reference_key(&w.reference)).copied();
            let look = drift::look(
                w.behavior,
                baseline,
                live.as_ref().map(|l| &l["metadata"]),
                FIELD_MANAGER,
            );
            match look {
                Look::Baseline(b) => {
                    obs.baselines.insert(reference_key(&w.reference), b);
                }
                Look::InSync => {}
                Look::Deleted | Look::Changed => {
                    info!(syncset = w.syncset, kind = %w.reference.kind, namespace = %w.reference.namespace,
                          name = %w.reference.name, drift = look.as_str(), "correcting drift");
                    match run_op(ctx, key, rc, &w.source.op(w.behavior)).await {
                        Ok(owned) => {
                            obs.applied(&w.reference, owned);
                            metrics::DRIFT_CORRECTIONS
                                .with_label_values(&[&w.reference.kind])
                                .inc();
                            corrected.push((w.reference.clone(), look));
                            obs.applied_at.get_or_insert(now);
                        }
                        Err(e) => {
                            debug!(kind = e.kind(), error = %e, "drift correction failed; the next look retries");
                        }
                    }
                }
            }
        }
        if w.rule {
            let assessment = if corrected.last().is_some_and(|(r, _)| *r == w.reference) {
                // Just applied again: settling from here.
                Assessment::progressing("applied again after drift".into())
            } else {
                health::assess(live.as_ref())
            };
            assessed.push((w.reference.clone(), assessment));
        }
    }
    if lost {
        // The cluster stopped answering: the probe marks it Unreachable; look again once it is back.
        ctx.probes.add(key.clone());
        let verdict = obs.verdict.clone();
        obs.next_look = Some(now + FIRST_LOOK);
        obs.next_drift = Some(now + FIRST_LOOK);
        ctx.observations.insert(key.clone(), obs);
        return (verdict, Some(FIRST_LOOK));
    }
    // Baselines of objects no longer watched go (their syncset was deleted or changed).
    let live_keys: std::collections::HashSet<u64> = watched
        .objects
        .iter()
        .map(|w| reference_key(&w.reference))
        .collect();
    obs.baselines.retain(|k, _| live_keys.contains(k));

    let verdict = health::verdict(&assessed);
    let previous = obs.verdict.replace(verdict.clone());
    publish_transitions(ctx, cd, previous.as_ref(), &verdict, &corrected).await;
    obs.counts = health_counts(&assessed);
    if verdict.health == Health::Healthy {
        if let Some(t) = obs.applied_at.take() {
            metrics::TIME_TO_HEALTHY.observe(t.elapsed().as_secs_f64());
        }
    }
    let unsettled = verdict.health != Health::Healthy || !corrected.is_empty();
    obs.attempt = if unsettled { obs.attempt + 1 } else { 0 };
    // Spread: clusters synced together do not all look together again.
    let spread = || 1.0 + rand::rng().random::<f64>() / 10.0;
    let health_wait = drift::next_look(unsettled, obs.attempt.saturating_sub(1), interval);
    obs.next_look = Some(now + health_wait.mul_f64(spread()));
    if drift_due && !watched.drift_interval.is_zero() {
        obs.next_drift = Some(now + watched.drift_interval.mul_f64(spread()));
    } else if watched.drift_interval.is_zero() {
        obs.next_drift = Some(now + HEALTH_RECHECK);
    }
    let wait = wake_after(&obs, now);
    ctx.observations.insert(key.clone(), obs);
    (Some(verdict), wait)
}

/// A look's reads. Objects of one kind in one namespace (or cluster-wide, for a cluster-scoped kind) are read with
/// one LIST of the managed objects there when there are several, so a look costs about a request per kind and
/// namespace rather than one per object; a lone object is read with a GET. A LIST that finds more managed objects
/// than the look has (another syncset's, leftovers of Upsert mode, or many clusters sharing one API server as in
/// the benchmark) is cut at its limit, and that group is read object by object from then on.
struct Reads<'a> {
    counts: HashMap<Group<'a>, u32>,
    listed: HashMap<Group<'a>, HashMap<String, serde_json::Value>>,
}

/// (apiVersion, kind, namespace, whole object).
type Group<'a> = (&'a str, &'a str, &'a str, bool);

impl<'a> Reads<'a> {
    fn new(objects: &[&'a Watched<'a>]) -> Self {
        let mut counts = HashMap::new();
        for w in objects {
            *counts.entry(Self::group(w)).or_default() += 1;
        }
        Self {
            counts,
            listed: HashMap::new(),
        }
    }

    fn group(w: &'a Watched<'a>) -> Group<'a> {
        let r = &w.reference;
        (&r.api_version, &r.kind, &r.namespace, w.rule)
    }

    fn group_hash(g: &Group) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        g.hash(&mut h);
        h.finish()
    }

    async fn read(
        &mut self,
        rc: &RemoteCluster,
        w: &'a Watched<'a>,
        crowded: &mut std::collections::HashSet<u64>,
    ) -> Result<Option<serde_json::Value>, crate::remote::RemoteError> {
        let group = Self::group(w);
        let count = self.counts.get(&group).copied().unwrap_or(0);
        if count < 2 || crowded.contains(&Self::group_hash(&group)) {
            return observe::read(rc, &w.reference, w.rule).await;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.listed.entry(group) {
            let limit = count.saturating_mul(2).saturating_add(16);
            match observe::read_group(rc, &w.reference, w.rule, limit).await {
                Ok(Some(listed)) => {
                    slot.insert(listed);
                }
                Ok(None) => {
                    debug!(kind = %w.reference.kind, namespace = %w.reference.namespace,
                           "more managed objects than expected: reading them one by one");
                    crowded.insert(Self::group_hash(&group));
                    return observe::read(rc, &w.reference, w.rule).await;
                }
                Err(e) if matches!(e.cause, Cause::Unreachable | Cause::Timeout) => return Err(e),
                Err(_) => {
                    crowded.insert(Self::group_hash(&group));
                    return observe::read(rc, &w.reference, w.rule).await;
                }
            }
        }
        Ok(self.listed[&group].get(&w.reference.name).map(|o| {
            let mut o = o.clone();
            if w.rule {
                // List items carry no apiVersion and kind; the health rules read them.
                o["apiVersion"] = w.reference.api_version.clone().into();
                o["kind"] = w.reference.kind.clone().into();
            }
            o
        }))
    }
}

/// How long until the next look of either kind.
fn wake_after(obs: &Observation, now: Instant) -> Option<Duration> {
    [obs.next_look, obs.next_drift]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.saturating_duration_since(now))
}

/// The objects to look at and the shortest drift interval among their syncsets.
struct WatchList<'a> {
    objects: Vec<Watched<'a>>,
    drift_interval: Duration,
}

/// Objects of syncsets whose entry is `Success` (a failing one is retried by the run anyway): each resource, each
/// secret mapping's target. Patches are not watched: they change objects someone else owns.
fn watched<'a>(
    ctx: &Context,
    key: &ClusterKey,
    finished: &'a Finished,
    payloads: &'a HashMap<(SyncSetKind, String), Arc<Payload>>,
) -> WatchList<'a> {
    let mut objects = Vec::new();
    let mut shortest: Option<Duration> = None;
    let entries = finished
        .sync_sets
        .iter()
        .map(|e| (SyncSetKind::SyncSet, e))
        .chain(
            finished
                .selector_sync_sets
                .iter()
                .map(|e| (SyncSetKind::SelectorSyncSet, e)),
        );
    for (kind, entry) in entries {
        if entry.result != SyncSetResult::Success {
            continue;
        }
        let Some(payload) = payloads.get(&(kind, entry.name.clone())) else {
            continue;
        };
        let (interval, warning) = drift::interval(
            drift_annotation(ctx, key, kind, &entry.name).as_deref(),
            ctx.settings.observe.drift_interval,
        );
        if let Some(w) = warning {
            debug!(syncset = %entry.name, "{w}");
        }
        let drift = !interval.is_zero();
        if drift {
            shortest = Some(shortest.map_or(interval, |s| s.min(interval)));
        }
        for o in &payload.objects {
            let rule = health::has_rule(&o.reference.api_version, &o.reference.kind);
            if !drift && !rule {
                continue;
            }
            objects.push(Watched {
                reference: o.reference.clone(),
                behavior: payload.behavior,
                source: Source::Resource(&o.object),
                drift,
                rule,
                syncset: &entry.name,
            });
        }
        if drift {
            for s in &payload.secrets {
                let Ok(source) = &s.source else { continue };
                objects.push(Watched {
                    reference: s.reference(),
                    behavior: payload.behavior,
                    source: Source::Secret(source, s),
                    drift,
                    rule: false,
                    syncset: &entry.name,
                });
            }
        }
    }
    WatchList {
        objects,
        drift_interval: shortest.unwrap_or(Duration::ZERO),
    }
}

/// The syncset's `hivesync.io/drift-interval`, from the watch cache.
fn drift_annotation(
    ctx: &Context,
    key: &ClusterKey,
    kind: SyncSetKind,
    name: &str,
) -> Option<String> {
    use kube::runtime::reflector::ObjectRef;
    use kube::ResourceExt;
    match kind {
        SyncSetKind::SyncSet => ctx
            .stores
            .sync_sets
            .get(&ObjectRef::new(name).within(&key.namespace))
            .and_then(|s| s.annotations().get(DRIFT_INTERVAL_ANNOTATION).cloned()),
        SyncSetKind::SelectorSyncSet => ctx
            .stores
            .selector_sync_sets
            .get(&ObjectRef::new(name))
            .and_then(|s| s.annotations().get(DRIFT_INTERVAL_ANNOTATION).cloned()),
    }
}

fn health_counts(assessed: &[(SyncResourceReference, Assessment)]) -> HashMap<&'static str, i64> {
    let mut counts = HashMap::new();
    for (_, a) in assessed {
        *counts.entry(a.health.as_str()).or_default() += 1;
    }
    counts
}

/// Events on the ClusterDeployment: drift corrected (naming the objects), the cluster turning Degraded, and its
/// recovery.
async fn publish_transitions(
    ctx: &Context,
    cd: &ClusterDeployment,
    previous: Option<&health::Verdict>,
    now: &health::Verdict,
    corrected: &[(SyncResourceReference, Look)],
) {
    if !corrected.is_empty() {
        let names: Vec<String> = corrected
            .iter()
            .map(|(r, look)| format!("{} ({})", describe(r), look.as_str()))
            .collect();
        ctx.events
            .publish(
                cd,
                false,
                "DriftCorrected",
                format!("applied again: {}", names.join(", ")),
            )
            .await;
    }
    let was_degraded = previous.is_some_and(|p| p.health == Health::Degraded);
    if now.health == Health::Degraded && !was_degraded {
        ctx.events
            .publish(cd, true, "ClusterDegraded", now.message.clone())
            .await;
    } else if was_degraded && now.health == Health::Healthy {
        ctx.events
            .publish(cd, false, "ClusterRecovered", now.message.clone())
            .await;
    }
}

fn describe(r: &SyncResourceReference) -> String {
    if r.namespace.is_empty() {
        format!("{} {}", r.kind, r.name)
    } else {
        format!("{} {}/{}", r.kind, r.namespace, r.name)
    }
}
