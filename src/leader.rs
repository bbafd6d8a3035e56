//! High availability and sharding on coordination.k8s.io Leases.
//!
//! - Leader election (`--leader-elect`): one Lease; the holder syncs, the others keep their caches warm and take
//!   over when the holder stops renewing. A replica that loses the lease it held exits, so two replicas never sync
//!   at once.
//! - Shards (`--shards N`): clusters are split by ClusterDeployment UID modulo N, as Hive splits them by replica
//!   ordinal. Each shard is held through its own Lease (`<name>-shard-<i>`). A replica holds its own shard (its
//!   ordinal, from the pod name) and takes over any shard whose lease expired, so a rolling replica stops only its own
//!   shard, for one lease duration, never the fleet. The preferred owner asks for its shard back with an annotation;
//!   the stand-in hands it over at its next renewal.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use tracing::{info, warn};

use crate::consts::FIELD_MANAGER;

/// Annotation by which a shard's preferred owner asks the current holder to hand it back.
pub const WANTED_BY_ANNOTATION: &str = "hivesync.openshift.io/wanted-by";

/// The shard of a ClusterDeployment UID: its hex digits (hyphens removed) as a 128-bit integer, modulo `shards`
/// (Hive's rule; `shards` 0 is treated as 1). A UID that does not parse goes to shard 0.
pub fn shard_of(uid: &str, shards: u32) -> u32 {
    let shards = shards.max(1) as u128;
    let hex: String = uid.chars().filter(|c| *c != '-').collect();
    (u128::from_str_radix(&hex, 16).unwrap_or(0) % shards) as u32
}

/// The ordinal at the end of a StatefulSet pod name (`hivesync-2` → 2).
pub fn ordinal_of(pod_name: &str) -> Option<u32> {
    pod_name.rsplit('-').next()?.parse().ok()
}

/// What a replica may do with one lease, given its state now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseAction {
    /// Take it (free, expired, or already ours): write ourselves as holder with a fresh renewTime.
    Hold,
    /// Someone else holds it and it is fresh: leave it.
    Leave,
    /// We hold it but its preferred owner wants it back: clear the holder.
    HandBack,
    /// Someone else holds our preferred shard: ask for it back.
    Ask,
}

/// Pure decision for one lease. `preferred` is whether this lease is this replica's own (its ordinal's) shard.
pub fn decide(
    holder: Option<&str>,
    expired: bool,
    wanted_by: Option<&str>,
    me: &str,
    preferred: bool,
) -> LeaseAction {
    match holder {
        Some(h) if h == me => match wanted_by {
            Some(w) if w != me && !preferred => LeaseAction::HandBack,
            _ => LeaseAction::Hold,
        },
        Some(h) if !h.is_empty() && !expired => {
            if preferred && wanted_by != Some(me) {
                LeaseAction::Ask
            } else {
                LeaseAction::Leave
            }
        }
        _ => LeaseAction::Hold,
    }
}

#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
    pub renew_every: Duration,
}

/// The shards this replica serves now; `None` when sharding is off (everything).
#[derive(Clone, Default)]
pub struct Ownership {
    shards: Option<u32>,
    owned: Arc<RwLock<BTreeSet<u32>>>,
}

impl Ownership {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn owns(&self, uid: Option<&str>) -> bool {
        let Some(n) = self.shards else { return true };
        let shard = shard_of(uid.unwrap_or_default(), n);
        self.owned
            .read()
            .map(|o| o.contains(&shard))
            .unwrap_or(false)
    }

    pub fn owned(&self) -> BTreeSet<u32> {
        self.owned.read().map(|o| o.clone()).unwrap_or_default()
    }
}

fn expired(lease: &Lease, now: jiff::Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return true };
    let duration = spec.lease_duration_seconds.unwrap_or(15) as i64;
    match &spec.renew_time {
        Some(t) => t.0.as_second() + duration < now.as_second(),
        None => true,
    }
}

/// One pass over one lease: returns whether this replica holds it afterwards.
async fn step(
    api: &Api<Lease>,
    name: &str,
    s: &LeaseSettings,
    preferred: bool,
) -> kube::Result<bool> {
    let now = jiff::Timestamp::now();
    let pp = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let lease = match api.get_opt(name).await? {
        Some(l) => l,
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(s.identity.clone()),
                    lease_duration_seconds: Some(s.duration.as_secs() as i32),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match api.create(&pp, &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        }
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    let wanted_by = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(WANTED_BY_ANNOTATION))
        .map(String::as_str);
    let action = decide(
        holder,
        expired(&lease, now),
        wanted_by,
        &s.identity,
        preferred,
    );
    let mut next = lease.clone();
    next.metadata.managed_fields = None;
    let mut spec = spec.clone();
    match action {
        LeaseAction::Leave => return Ok(false),
        LeaseAction::Ask => {
            next.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(WANTED_BY_ANNOTATION.into(), s.identity.clone());
        }
        LeaseAction::HandBack => {
            spec.holder_identity = None;
            spec.renew_time = None;
        }
        LeaseAction::Hold => {
            if holder != Some(s.identity.as_str()) {
                spec.acquire_time = Some(MicroTime(now));
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                if let Some(a) = next.metadata.annotations.as_mut() {
                    a.remove(WANTED_BY_ANNOTATION);
                }
            }
            spec.holder_identity = Some(s.identity.clone());
            spec.lease_duration_seconds = Some(s.duration.as_secs() as i32);
            spec.renew_time = Some(MicroTime(now));
        }
    }
    next.spec = Some(spec);
    match api.replace(name, &pp, &next).await {
        Ok(_) => Ok(action == LeaseAction::Hold),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Blocks until this replica holds the leader lease, then keeps renewing it in the background (the returned task,
/// to abort before the lease is released); if it is lost, the process exits (a standby takes over with warm caches).
pub async fn lead(client: Client, s: LeaseSettings) -> tokio::task::JoinHandle<()> {
    let api: Api<Lease> = Api::namespaced(client, &s.namespace);
    loop {
        match step(&api, &s.name, &s, true).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => warn!(error = %e, "leader election: cannot read or write the lease"),
        }
        tokio::time::sleep(s.renew_every).await;
    }
    info!(lease = %s.name, identity = %s.identity, "became the leader");
    tokio::spawn(async move {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(s.renew_every).await;
            match bounded_step(&api, &s.name, &s, true).await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    warn!("lost the leader lease; exiting so that a standby takes over");
                    std::process::exit(1);
                }
                Err(e) if last_renewed.elapsed() >= s.serve_for() => {
                    warn!(error = %e, "could not renew the leader lease before it would expire; exiting");
                    std::process::exit(1);
                }
                Err(e) => warn!(error = %e, "leader lease renewal failed; retrying"),
            }
        }
    })
}

/// Why a pass over a lease did not say whether this replica holds it.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error("{0}")]
    Hub(#[from] kube::Error),
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
}

/// `step` within one renewal period: a hub call that hangs must not keep a replica serving past its lease.
async fn bounded_step(
    api: &Api<Lease>,
    name: &str,
    s: &LeaseSettings,
    preferred: bool,
) -> Result<bool, StepError> {
    match tokio::time::timeout(s.renew_every, step(api, name, s, preferred)).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(StepError::NoAnswer(s.renew_every)),
    }
}

impl LeaseSettings {
    /// How long after its last renewal a replica may go on serving a lease it cannot renew: one renewal period short
    /// of the duration, so it has stopped before any other replica may take the lease over (no two writers).
    pub fn serve_for(&self) -> Duration {
        self.duration.saturating_sub(self.renew_every)
    }
}

/// Gives up the leases named `names` that this replica holds, on shutdown: the holder is cleared, so a standby takes
/// them at its next renewal instead of after the lease duration. Best effort, each within one renewal period.
pub async fn release(client: Client, s: &LeaseSettings, names: &[String]) {
    let api: Api<Lease> = Api::namespaced(client, &s.namespace);
    for name in names {
        let released = tokio::time::timeout(s.renew_every, async {
            let Some(mut lease) = api.get_opt(name).await? else {
                return Ok(false);
            };
            let spec = lease.spec.get_or_insert_with(Default::default);
            if spec.holder_identity.as_deref() != Some(s.identity.as_str()) {
                return Ok(false);
            }
            spec.holder_identity = None;
            spec.renew_time = None;
            lease.metadata.managed_fields = None;
            let pp = PostParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            };
            api.replace(name, &pp, &lease).await.map(|_| true)
        })
        .await;
        match released {
            Ok(Ok(true)) => info!(lease = %name, "released the lease"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => warn!(lease = %name, error = %e, "could not release the lease"),
            Err(_) => warn!(lease = %name, "could not release the lease: the hub did not answer"),
        }
    }
}

/// Keeps the shard leases: this replica's own shard and any shard nobody renews. `on_gain` is called with each
/// shard this replica starts serving (to queue its clusters).
pub async fn hold_shards(
    client: Client,
    s: LeaseSettings,
    shards: u32,
    ordinal: Option<u32>,
    ownership: Ownership,
    on_gain: impl Fn(u32) + Send + 'static,
) {
    let api: Api<Lease> = Api::namespaced(client, &s.namespace);
    let mut last_renewed: std::collections::HashMap<u32, tokio::time::Instant> = Default::default();
    loop {
        for shard in 0..shards {
            let name = shard_lease_name(&s, shard);
            let preferred = ordinal == Some(shard);
            let holds = match bounded_step(&api, &name, &s, preferred).await {
                Ok(true) => {
                    last_renewed.insert(shard, tokio::time::Instant::now());
                    true
                }
                Ok(false) => false,
                Err(e) => {
                    // Keep serving a shard we hold only while its lease cannot have expired for anyone else.
                    let fresh = last_renewed
                        .get(&shard)
                        .is_some_and(|t| t.elapsed() < s.serve_for());
                    let holds = fresh && ownership.owned().contains(&shard);
                    warn!(lease = %name, error = %e, still_serving = holds, "shard lease: cannot read or write");
                    holds
                }
            };
            if !holds {
                last_renewed.remove(&shard);
            }
            let changed = match ownership.owned.write() {
                Ok(mut o) if holds => o.insert(shard),
                Ok(mut o) => o.remove(&shard),
                Err(_) => false,
            };
            if changed && holds {
                info!(shard, "serving shard");
                on_gain(shard);
            } else if changed {
                info!(shard, "no longer serving shard");
            }
        }
        tokio::time::sleep(s.renew_every).await;
    }
}

/// The Lease of one shard: `<name>-shard-<i>`.
pub fn shard_lease_name(s: &LeaseSettings, shard: u32) -> String {
    format!("{}-shard-{shard}", s.name)
}

impl Ownership {
    pub fn sharded(shards: u32) -> Self {
        Self {
            shards: Some(shards.max(1)),
            owned: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_follow_hive_s_uid_modulo_rule() {
        assert_eq!(shard_of("00000000-0000-0000-0000-000000000005", 2), 1);
        assert_eq!(shard_of("00000000-0000-0000-0000-00000000000a", 3), 1);
        assert_eq!(shard_of("ffffffff-ffff-ffff-ffff-ffffffffffff", 1), 0);
        assert_eq!(shard_of("anything", 0), 0);
        assert_eq!(ordinal_of("hivesync-2"), Some(2));
        assert_eq!(ordinal_of("hivesync"), None);
    }

    #[test]
    fn a_replica_takes_free_leases_asks_for_its_own_shard_and_hands_others_back_when_wanted() {
        use LeaseAction::*;
        assert_eq!(decide(None, true, None, "a", false), Hold, "free");
        assert_eq!(decide(Some("b"), true, None, "a", false), Hold, "expired");
        assert_eq!(
            decide(Some("b"), false, None, "a", false),
            Leave,
            "someone else's, fresh"
        );
        assert_eq!(
            decide(Some("b"), false, None, "a", true),
            Ask,
            "our own shard held by a stand-in"
        );
        assert_eq!(
            decide(Some("b"), false, Some("a"), "a", true),
            Leave,
            "already asked"
        );
        assert_eq!(decide(Some("a"), false, None, "a", false), Hold, "renew");
        assert_eq!(
            decide(Some("a"), false, Some("b"), "a", false),
            HandBack,
            "its owner wants it back"
        );
        assert_eq!(
            decide(Some("a"), false, Some("b"), "a", true),
            Hold,
            "our own shard: keep it"
        );
    }
}
