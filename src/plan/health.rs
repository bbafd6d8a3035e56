//! The health of one object as read back from a managed cluster, and of a cluster's objects together, pure: the
//! caller reads the objects (only the kinds `has_rule` names, plus any it reads anyway) and feeds them in.
//!
//! The model is Argo CD's (gitops-engine `pkg/health` and Argo CD's `resource_customizations`): the same verdicts
//! for the same states where both have a rule, with the exceptions said at each rule. The rules look at the object
//! alone, never at the time: a rollout that never ends stays Progressing here, and how long is too long is for the
//! caller, which knows when it applied.
//!
//! Checks shared by every kind, in this order: an object being deleted is Progressing (as Argo CD: it is going away,
//! and becomes Missing when gone); for the workload kinds (and any object whose status has `observedGeneration`) a
//! controller that has not yet seen the latest spec makes the object Progressing, since the rest of its status
//! describes an older spec.

use std::fmt;

use serde_json::Value;

use crate::api::SyncResourceReference;

/// The kinds with a rule of their own, by API group (any version: the fields read are the same in every served
/// version) and kind. These are the kinds worth reading back after an apply.
const RULES: &[(&str, &str, Rule)] = &[
    ("apps", "Deployment", Rule::Deployment),
    ("apps", "StatefulSet", Rule::StatefulSet),
    ("apps", "DaemonSet", Rule::DaemonSet),
    ("apps", "ReplicaSet", Rule::ReplicaSet),
    ("batch", "Job", Rule::Job),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        Rule::CustomResourceDefinition,
    ),
    ("apiregistration.k8s.io", "APIService", Rule::APIService),
    ("", "Namespace", Rule::Namespace),
    ("", "PersistentVolumeClaim", Rule::PersistentVolumeClaim),
    ("operators.coreos.com", "Subscription", Rule::Subscription),
    (
        "operators.coreos.com",
        "ClusterServiceVersion",
        Rule::ClusterServiceVersion,
    ),
];

/// How many of the objects that are not healthy a `Verdict`'s message names.
pub const MAX_LISTED: usize = 3;

const TRUE: &str = "True";
const FALSE: &str = "False";

/// The OLM Subscription conditions that mean it cannot install or upgrade (Argo CD's list).
const SUBSCRIPTION_FAILURES: [&str; 3] = [
    "InstallPlanFailed",
    "ResolutionFailed",
    "CatalogSourcesUnhealthy",
];

/// An object's health. The order is severity, least first, so the worst of many is their `max`:
/// Healthy < Unknown < Progressing < Missing < Degraded.
///
/// Argo CD's order is the same but for Unknown, which it ranks worst of all; here Unknown ("no verdict": a status
/// this module does not recognise, an object that could not be read) ranks just above Healthy, so that it never
/// hides a definite verdict about another object, a Degraded one above all.
///
/// Argo CD's sixth verdict, Suspended (a paused Deployment, a suspended Job), is Progressing here, with a message
/// that says so: Argo CD's own sync treats Suspended as Progressing too (a wave waits on it), and the question a
/// verdict answers here is the same, whether the cluster has arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Done: the object is what its spec asks for.
    Healthy,
    /// The status says something no rule recognises, or the object could not be read.
    Unknown,
    /// Not there yet (or paused on the way), and nothing says it will not get there.
    Progressing,
    /// Not on the cluster.
    Missing,
    /// Failed, or cannot reach what its spec asks for without a change.
    Degraded,
}

impl Health {
    /// Every health, best first.
    pub const ALL: [Health; 5] = [
        Health::Healthy,
        Health::Unknown,
        Health::Progressing,
        Health::Missing,
        Health::Degraded,
    ];

    /// Argo CD's spelling of the verdict, used in conditions, metrics and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Unknown => "Unknown",
            Health::Progressing => "Progressing",
            Health::Missing => "Missing",
            Health::Degraded => "Degraded",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one object, and why, in a few words fit for a condition or the CLI (`Deployment: 1 of 3 updated
/// replicas are available`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub health: Health,
    pub message: String,
}

impl Assessment {
    /// No verdict: for an object that could not be read (the read's error as the message).
    pub fn unknown(message: String) -> Self {
        Self {
            health: Health::Unknown,
            message,
        }
    }

    /// Not there yet, for a reason the caller knows (an object just applied again).
    pub fn progressing(message: String) -> Self {
        Self {
            health: Health::Progressing,
            message,
        }
    }
}

/// Whether objects of this `apiVersion` and `kind` have a rule of their own (and so are worth reading back).
/// Others are still judged by `assess` when read, by the generic rule on `status.conditions`.
pub fn has_rule(api_version: &str, kind: &str) -> bool {
    rule(api_version, kind).is_some()
}

/// The health of an object as read from the cluster; `None` when it is not there.
pub fn assess(object: Option<&Value>) -> Assessment {
    let Some(o) = object else {
        return Assessment {
            health: Health::Missing,
            message: "not found on the cluster".into(),
        };
    };
    let kind = o["kind"].as_str().unwrap_or_default();
    let (health, text) = if !o.is_object() || kind.is_empty() {
        (Health::Unknown, "not a Kubernetes object".to_string())
    } else {
        judge(o, rule(o["apiVersion"].as_str().unwrap_or_default(), kind))
    };
    let message = if kind.is_empty() {
        text
    } else {
        format!("{kind}: {text}")
    };
    Assessment {
        health,
        message: super::message::cap(message),
    }
}

/// A cluster's health: its objects' assessments folded into one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The worst health of any object (Healthy when there are none).
    pub health: Health,
    /// `2 of 14 objects are not healthy: Job shop/migrate is Degraded: ...; ...`, naming the worst `MAX_LISTED`
    /// (the worst first, in the order given within one health), or `all 14 objects are healthy`; within the
    /// status message limit.
    pub message: String,
    /// How many objects were assessed.
    pub total: usize,
    /// How many of them are not Healthy.
    pub unhealthy: usize,
}

/// Folds the objects' assessments into the cluster's verdict: the worst single one, so a cluster with one Degraded
/// object is Degraded however many are fine, and a Missing object outranks a rollout in progress (something applied
/// is gone, which waiting will not fix; the drift check applies it again).
pub fn verdict(assessed: &[(SyncResourceReference, Assessment)]) -> Verdict {
    let mut unhealthy: Vec<&(SyncResourceReference, Assessment)> = assessed
        .iter()
        .filter(|(_, a)| a.health != Health::Healthy)
        .collect();
    // Stable: the caller's order (the syncsets') is kept within one health.
    unhealthy.sort_by_key(|(_, a)| std::cmp::Reverse(a.health));
    let health = unhealthy.first().map_or(Health::Healthy, |u| u.1.health);
    let (total, count) = (assessed.len(), unhealthy.len());
    let message = if count == 0 {
        match total {
            0 => "no objects to assess".into(),
            1 => "the object is healthy".into(),
            n => format!("all {n} objects are healthy"),
        }
    } else {
        let listed: Vec<String> = unhealthy
            .iter()
            .take(MAX_LISTED)
            .map(|(r, a)| describe(r, a))
            .collect();
        let more = count - listed.len();
        let tail = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        super::message::cap(format!(
            "{count} of {total} objects are not healthy: {}{tail}",
            listed.join("; ")
        ))
    };
    Verdict {
        health,
        message,
        total,
        unhealthy: count,
    }
}

/// The unhealthy objects a verdict's message lists (`Job shop/migrate is Degraded: ...`), for a reader of the
/// ClusterSync condition (`hivesync status CLUSTER`); empty for a healthy verdict.
pub fn listed_objects(message: &str) -> Vec<String> {
    let Some((_, list)) = message.split_once(" objects are not healthy: ") else {
        return vec![];
    };
    let list = match list.rsplit_once(" (and ") {
        Some((head, tail)) if tail.ends_with(" more)") => head,
        _ => list,
    };
    list.split("; ").map(String::from).collect()
}

/// `Deployment shop/web is Progressing: 2 of 3 replicas updated`: the kind once (an assessment's message starts
/// with it; a caller's may not).
fn describe(r: &SyncResourceReference, a: &Assessment) -> String {
    let name = if r.namespace.is_empty() {
        r.name.clone()
    } else {
        format!("{}/{}", r.namespace, r.name)
    };
    let message = a
        .message
        .strip_prefix(r.kind.as_str())
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(&a.message);
    format!("{} {name} is {}: {message}", r.kind, a.health)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CustomResourceDefinition,
    APIService,
    Namespace,
    PersistentVolumeClaim,
    Subscription,
    ClusterServiceVersion,
}

impl Rule {
    /// The workload kinds, whose controllers always write `status.observedGeneration` (absent: not yet).
    fn observes_generation(self) -> bool {
        matches!(
            self,
            Rule::Deployment | Rule::StatefulSet | Rule::DaemonSet | Rule::ReplicaSet
        )
    }
}

fn rule(api_version: &str, kind: &str) -> Option<Rule> {
    // `apps/v1` → `apps`; the core group's `v1` has no group.
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    RULES
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, r)| *r)
}

type Judged = (Health, String);

fn judge(o: &Value, rule: Option<Rule>) -> Judged {
    if !o["metadata"]["deletionTimestamp"].is_null() {
        return (Health::Progressing, "pending deletion".into());
    }
    // A paused Deployment (Argo CD: Suspended) is paused whatever its generation (pausing bumps it).
    if rule == Some(Rule::Deployment) && o["spec"]["paused"] == true {
        return (Health::Progressing, "paused".into());
    }
    if let Some(lag) = generation_lag(o, rule.is_some_and(Rule::observes_generation)) {
        return lag;
    }
    match rule {
        Some(Rule::Deployment) => deployment(o),
        Some(Rule::StatefulSet) => stateful_set(o),
        Some(Rule::DaemonSet) => daemon_set(o),
        Some(Rule::ReplicaSet) => replica_set(o),
        Some(Rule::Job) => job(o),
        Some(Rule::CustomResourceDefinition) => custom_resource_definition(o),
        Some(Rule::APIService) => api_service(o),
        Some(Rule::Namespace) => namespace(o),
        Some(Rule::PersistentVolumeClaim) => persistent_volume_claim(o),
        Some(Rule::Subscription) => subscription(o),
        Some(Rule::ClusterServiceVersion) => cluster_service_version(o),
        None => generic(o),
    }
}

/// Progressing while the controller has not observed the latest spec. For the workload kinds a missing
/// `observedGeneration` counts as 0 (the controller has not written a status yet); for others the check applies only
/// when the status has one.
fn generation_lag(o: &Value, always: bool) -> Option<Judged> {
    let observed = match o["status"]["observedGeneration"].as_i64() {
        Some(n) => n,
        None if always => 0,
        None => return None,
    };
    let generation = o["metadata"]["generation"].as_i64().unwrap_or(1);
    (observed < generation).then(|| {
        (
            Health::Progressing,
            format!("waiting for the controller to observe generation {generation} (observed {observed})"),
        )
    })
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// `spec.replicas`, which the API server defaults to 1.
fn spec_replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn conditions(o: &Value) -> &[Value] {
    o["status"]["conditions"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

fn condition<'a>(o: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions(o).iter().find(|c| c["type"] == type_)
}

/// Whether the condition `type_` is there with this status.
fn has(o: &Value, type_: &str, status: &str) -> bool {
    condition(o, type_).is_some_and(|c| c["status"] == status)
}

/// A condition's `reason: message`, or what there is of it, or `Type is Status` when it has neither.
fn why(c: &Value) -> String {
    let parts: Vec<&str> = [&c["reason"], &c["message"]]
        .into_iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        format!(
            "{} is {}",
            c["type"].as_str().unwrap_or_default(),
            c["status"].as_str().unwrap_or_default()
        )
    } else {
        parts.join(": ")
    }
}

/// kubectl's `rollout status` (as Argo CD): a deadline exceeded is final until the spec changes; otherwise all
/// replicas updated, no old ones left, and the updated ones available.
fn deployment(o: &Value) -> Judged {
    let s = &o["status"];
    if let Some(c) =
        condition(o, "Progressing").filter(|c| c["reason"] == "ProgressDeadlineExceeded")
    {
        return (Health::Degraded, why(c));
    }
    let want = spec_replicas(o);
    let (replicas, updated, available) = (
        int(&s["replicas"]),
        int(&s["updatedReplicas"]),
        int(&s["availableReplicas"]),
    );
    if updated < want {
        (
            Health::Progressing,
            format!("{updated} of {want} replicas updated"),
        )
    } else if replicas > updated {
        (
            Health::Progressing,
            format!("{} old replicas pending termination", replicas - updated),
        )
    } else if available < updated {
        (
            Health::Progressing,
            format!("{available} of {updated} updated replicas are available"),
        )
    } else {
        (
            Health::Healthy,
            format!("{updated} of {want} replicas updated and available"),
        )
    }
}

/// kubectl's `rollout status` (as Argo CD): all replicas ready, then for RollingUpdate the replicas above the
/// partition updated. Counts rather than `currentRevision == updateRevision`: the updated count says the same once
/// every pod is ready, and the API server always defaults a partition, so kubectl and Argo CD compare revisions only
/// for objects that lack one. OnDelete updates a pod only when it is deleted, so it is healthy once all are ready.
fn stateful_set(o: &Value) -> Judged {
    let s = &o["status"];
    let want = spec_replicas(o);
    let ready = int(&s["readyReplicas"]);
    if ready < want {
        return (
            Health::Progressing,
            format!("{ready} of {want} replicas ready"),
        );
    }
    let strategy = &o["spec"]["updateStrategy"];
    if strategy["type"] == "OnDelete" {
        return (
            Health::Healthy,
            format!("{ready} replicas ready (OnDelete: pods update when deleted)"),
        );
    }
    let partition = int(&strategy["rollingUpdate"]["partition"]);
    let target = (want - partition).max(0);
    let updated = int(&s["updatedReplicas"]);
    if updated < target {
        let above = if partition > 0 {
            format!(" (partition {partition})")
        } else {
            String::new()
        };
        return (
            Health::Progressing,
            format!("{updated} of {target} replicas updated{above}"),
        );
    }
    (
        Health::Healthy,
        format!("{ready} replicas ready, {updated} updated"),
    )
}

/// kubectl's `rollout status` (as Argo CD): every scheduled pod updated and available. Under OnDelete pods update
/// only when deleted, so only availability counts; Argo CD calls an OnDelete DaemonSet healthy even with no pod
/// available, which hides a DaemonSet whose pods all crash.
fn daemon_set(o: &Value) -> Judged {
    let s = &o["status"];
    let desired = int(&s["desiredNumberScheduled"]);
    let updated = int(&s["updatedNumberScheduled"]);
    let available = int(&s["numberAvailable"]);
    let on_delete = o["spec"]["updateStrategy"]["type"] == "OnDelete";
    if !on_delete && updated < desired {
        (
            Health::Progressing,
            format!("{updated} of {desired} pods updated"),
        )
    } else if available < desired {
        (
            Health::Progressing,
            format!("{available} of {desired} pods available"),
        )
    } else {
        (
            Health::Healthy,
            format!("{available} of {desired} pods available"),
        )
    }
}

/// As Argo CD: a `ReplicaFailure` (pods it cannot create: a quota, an admission webhook) is Degraded; otherwise
/// Progressing until `spec.replicas` are available.
fn replica_set(o: &Value) -> Judged {
    if let Some(c) = condition(o, "ReplicaFailure").filter(|c| c["status"] == TRUE) {
        return (Health::Degraded, why(c));
    }
    let want = spec_replicas(o);
    let available = int(&o["status"]["availableReplicas"]);
    if available < want {
        (
            Health::Progressing,
            format!("{available} of {want} replicas available"),
        )
    } else {
        (
            Health::Healthy,
            format!("{available} of {want} replicas available"),
        )
    }
}

/// As Argo CD: `Failed` is Degraded, `Complete` Healthy, anything else Progressing (a suspended Job, Argo CD's
/// Suspended, with a message that says so). Two differences: the conditions count only when True (Argo CD takes
/// their presence; Kubernetes writes the terminal ones only True), so a Job resumed after a suspension (`Suspended`
/// False) is running again, not Healthy as in Argo CD; and the conditions Kubernetes 1.31+ writes as soon as the
/// outcome is decided, before the pods are gone (`FailureTarget`, `SuccessCriteriaMet`), count as the outcome they
/// announce.
fn job(o: &Value) -> Judged {
    for failed in ["Failed", "FailureTarget"] {
        if let Some(c) = condition(o, failed).filter(|c| c["status"] == TRUE) {
            return (Health::Degraded, why(c));
        }
    }
    for done in ["Complete", "SuccessCriteriaMet"] {
        if has(o, done, TRUE) {
            let succeeded = int(&o["status"]["succeeded"]);
            return (Health::Healthy, format!("complete ({succeeded} succeeded)"));
        }
    }
    if has(o, "Suspended", TRUE) || o["spec"]["suspend"] == true {
        return (Health::Progressing, "suspended".into());
    }
    let s = &o["status"];
    (
        Health::Progressing,
        format!(
            "running ({} active, {} succeeded, {} failed)",
            int(&s["active"]),
            int(&s["succeeded"]),
            int(&s["failed"])
        ),
    )
}

/// As Argo CD's `CustomResourceDefinition/health.lua`: terminating is Progressing; names not accepted or a
/// non-structural schema are Degraded; `Established` True is Healthy, False while `Installing` Progressing, False
/// otherwise Degraded. A CRD with no `Established` yet is Progressing (Argo CD: Degraded unless it has no conditions
/// at all): the API server writes it together with `NamesAccepted`, so its absence is a moment, not a failure.
fn custom_resource_definition(o: &Value) -> Judged {
    if let Some(c) = condition(o, "Terminating").filter(|c| c["status"] == TRUE) {
        return (Health::Progressing, format!("terminating: {}", why(c)));
    }
    if let Some(c) = condition(o, "NamesAccepted").filter(|c| c["status"] == FALSE) {
        return (Health::Degraded, format!("names not accepted: {}", why(c)));
    }
    if let Some(c) = condition(o, "NonStructuralSchema").filter(|c| c["status"] == TRUE) {
        return (
            Health::Degraded,
            format!("non-structural schema: {}", why(c)),
        );
    }
    match condition(o, "Established") {
        Some(c) if c["status"] == TRUE => (Health::Healthy, "established".into()),
        Some(c) if c["reason"] == "Installing" => {
            (Health::Progressing, format!("installing: {}", why(c)))
        }
        Some(c) => (Health::Degraded, format!("not established: {}", why(c))),
        None => (
            Health::Progressing,
            "waiting for the API server to establish it".into(),
        ),
    }
}

/// As Argo CD: `Available` True is Healthy, anything else Progressing with the condition's reason. Not Degraded on
/// False: a new APIService is False (`MissingEndpoints`, `ServiceNotFound`) until the server behind it is up, which
/// the same syncset usually deploys; one that never comes up stays Progressing for the caller's deadline to catch.
fn api_service(o: &Value) -> Judged {
    match condition(o, "Available") {
        Some(c) if c["status"] == TRUE => (Health::Healthy, why(c)),
        Some(c) => (Health::Progressing, format!("not available: {}", why(c))),
        None => (Health::Progressing, "waiting to be processed".into()),
    }
}

/// Argo CD has no Namespace rule; a terminating one is Progressing there through its deletion timestamp, and is
/// here too (also by phase, should the timestamp be absent).
fn namespace(o: &Value) -> Judged {
    match o["status"]["phase"].as_str() {
        None | Some("Active") => (Health::Healthy, "active".into()),
        Some("Terminating") => (Health::Progressing, "terminating".into()),
        Some(other) => (Health::Unknown, format!("phase {other}")),
    }
}

/// As Argo CD, by phase. A claim whose storage class binds on first consumer stays Pending until a pod uses it;
/// nothing in the claim says so, so that is Progressing too.
fn persistent_volume_claim(o: &Value) -> Judged {
    match o["status"]["phase"].as_str() {
        Some("Bound") => (Health::Healthy, "bound".into()),
        Some("Pending") => (Health::Progressing, "pending".into()),
        Some("Lost") => (Health::Degraded, "lost: its volume is gone".into()),
        Some(other) => (Health::Unknown, format!("phase {other}")),
        None => (Health::Unknown, "no phase".into()),
    }
}

/// As Argo CD's `Subscription/health.lua`. Degraded: `InstallPlanFailed`, `ResolutionFailed` or
/// `CatalogSourcesUnhealthy` True, `InstallPlanMissing` True for another reason than `ReferencedInstallPlanNotFound`
/// (an install plan garbage-collected after it completed), or state `UpgradeFailed`. Progressing: an install plan
/// pending, or state unset, empty, `UpgradeAvailable` or `UpgradePending`, except that a Manual subscription whose
/// operator is installed and whose next install plan awaits approval is Healthy (an upgrade waiting for a person is
/// the expected state there). Healthy: `AtLatestKnown`.
///
/// Differences: `AtLatestKnown` is Healthy only once `status.installedCSV` says an operator version is installed
/// (Progressing before); the state is judged even when there are no conditions (Argo CD: Progressing), and a state
/// OLM does not define is Unknown (Argo CD: Healthy); the message names the failing conditions rather than listing all.
fn subscription(o: &Value) -> Judged {
    let s = &o["status"];
    if s.as_object().is_none_or(|m| m.is_empty()) {
        return (Health::Progressing, "waiting for OLM to resolve it".into());
    }
    let installed = s["installedCSV"].as_str().filter(|c| !c.is_empty());
    let state = s["state"].as_str();
    let pending = condition(o, "InstallPlanPending").filter(|c| c["status"] == TRUE);
    let awaiting_approval = o["spec"]["installPlanApproval"] == "Manual"
        && installed.is_some()
        && pending.is_some_and(|c| c["reason"] == "RequiresApproval");

    let mut failures: Vec<String> = SUBSCRIPTION_FAILURES
        .iter()
        .filter_map(|t| condition(o, t).filter(|c| c["status"] == TRUE))
        .chain(
            condition(o, "InstallPlanMissing")
                .filter(|c| c["status"] == TRUE && c["reason"] != "ReferencedInstallPlanNotFound"),
        )
        .map(|c| format!("{}: {}", c["type"].as_str().unwrap_or_default(), why(c)))
        .collect();
    if state == Some("UpgradeFailed") {
        failures.push("state UpgradeFailed".into());
    }
    if !failures.is_empty() {
        return (Health::Degraded, failures.join("; "));
    }

    if let Some(c) = pending.filter(|_| !awaiting_approval) {
        return (
            Health::Progressing,
            format!("InstallPlanPending: {}", why(c)),
        );
    }
    match state {
        None | Some("") => (Health::Progressing, "state not yet known".into()),
        Some("UpgradePending") if awaiting_approval => (
            Health::Healthy,
            format!(
                "{} installed; the upgrade to {} awaits manual approval",
                installed.unwrap_or_default(),
                s["currentCSV"].as_str().unwrap_or("a newer version")
            ),
        ),
        Some(st @ ("UpgradeAvailable" | "UpgradePending")) => {
            (Health::Progressing, format!("state {st}"))
        }
        Some("AtLatestKnown") => match installed {
            Some(csv) => (Health::Healthy, format!("at latest known, {csv} installed")),
            None => (
                Health::Progressing,
                "at latest known, waiting for the operator to be installed".into(),
            ),
        },
        Some(other) => (Health::Unknown, format!("state {other}")),
    }
}

/// Argo CD has no ClusterServiceVersion rule; by OLM's phases: `Succeeded` Healthy, `Failed` Degraded (with
/// OLM's reason and message), the install and replacement phases Progressing, OLM's own `Unknown` and anything
/// else Unknown.
fn cluster_service_version(o: &Value) -> Judged {
    let s = &o["status"];
    let phase = s["phase"].as_str().unwrap_or_default();
    let detail = why(s);
    let said = |what: &str| {
        if s["reason"].is_string() || s["message"].is_string() {
            format!("{what}: {detail}")
        } else {
            what.to_string()
        }
    };
    match phase {
        "Succeeded" => (Health::Healthy, said("Succeeded")),
        "Failed" => (Health::Degraded, said("Failed")),
        "" => (Health::Progressing, "waiting for OLM to install it".into()),
        "Pending" | "InstallReady" | "Installing" | "Replacing" | "Deleting" => {
            (Health::Progressing, said(phase))
        }
        other => (Health::Unknown, said(other)),
    }
}

/// Any other kind, on the conditions most controllers share (kstatus's and Argo CD's Crossplane rule):
/// `Degraded`, `Failed` or `Stalled` True is Degraded; `Reconciling` True is Progressing; `Ready` or `Available`
/// present and not True is Progressing (a resource not ready yet and one that never will be look the same at one
/// read; Argo CD and kstatus say Progressing too); `Ready` or `Available` True is Healthy. An object with none of
/// these, or no status at all, is Healthy: as Argo CD, which gives kinds it has no rule for no verdict at all, the
/// object exists and nothing says otherwise.
fn generic(o: &Value) -> Judged {
    for t in ["Degraded", "Failed", "Stalled"] {
        if let Some(c) = condition(o, t).filter(|c| c["status"] == TRUE) {
            return (Health::Degraded, format!("{t}: {}", why(c)));
        }
    }
    if let Some(c) = condition(o, "Reconciling").filter(|c| c["status"] == TRUE) {
        return (Health::Progressing, format!("Reconciling: {}", why(c)));
    }
    let readiness: Vec<&Value> = ["Ready", "Available"]
        .iter()
        .filter_map(|t| condition(o, t))
        .collect();
    if let Some(c) = readiness.iter().find(|c| c["status"] != TRUE) {
        let t = c["type"].as_str().unwrap_or_default();
        let status = c["status"].as_str().unwrap_or("unset");
        let detail = why(c);
        let text = if detail.starts_with(&format!("{t} is ")) {
            detail
        } else {
            format!("{t} is {status}: {detail}")
        };
        return (Health::Progressing, text);
    }
    match readiness.first() {
        Some(c) => (
            Health::Healthy,
            format!("{} is True", c["type"].as_str().unwrap_or_default()),
        ),
        None => (
            Health::Healthy,
            "exists (no health rule for this kind)".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(object: Value) -> (Health, String) {
        let a = assess(Some(&object));
        (a.health, a.message)
    }

    fn deployment(generation: i64, spec: Value, status: Value) -> Value {
        let mut d = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop", "generation": generation,
                "uid": "0b8d2a6e-5f0c-4a55-9d63-0d6f3c1f2a11", "resourceVersion": "481516",
                "annotations": {"deployment.kubernetes.io/revision": "4"}
            },
            "spec": {
                "replicas": 3, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "quay.io/shop/web:1.4.2"}]}}
            },
            "status": status
        });
        for (k, v) in spec.as_object().unwrap() {
            d["spec"][k] = v.clone();
        }
        d
    }

    fn available_condition() -> Value {
        json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
               "message": "Deployment has minimum availability.",
               "lastUpdateTime": "2026-11-20T10:00:00Z", "lastTransitionTime": "2026-11-20T10:00:00Z"})
    }

    #[test]
    fn a_deployment_mid_rollout_is_progressing_until_its_new_replicas_are_available() {
        let progressing = json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                 "message": "ReplicaSet \"web-7c9d8f6b5d\" is progressing."});
        let status = |replicas: i64, updated: i64, available: i64| {
            json!({"observedGeneration": 4, "replicas": replicas, "updatedReplicas": updated,
                   "readyReplicas": available, "availableReplicas": available,
                   "conditions": [available_condition(), progressing.clone()]})
        };
        assert_eq!(
            check(deployment(4, json!({}), status(4, 2, 3))),
            (
                Health::Progressing,
                "Deployment: 2 of 3 replicas updated".into()
            )
        );
        assert_eq!(
            check(deployment(4, json!({}), status(4, 3, 3))),
            (
                Health::Progressing,
                "Deployment: 1 old replicas pending termination".into()
            )
        );
        assert_eq!(
            check(deployment(4, json!({}), status(3, 3, 1))),
            (
                Health::Progressing,
                "Deployment: 1 of 3 updated replicas are available".into()
            )
        );
    }

    #[test]
    fn a_deployment_whose_rollout_completed_is_healthy() {
        let status = json!({
            "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [available_condition(),
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": "ReplicaSet \"web-7c9d8f6b5d\" has successfully progressed."}]
        });
        assert_eq!(
            check(deployment(4, json!({}), status)),
            (
                Health::Healthy,
                "Deployment: 3 of 3 replicas updated and available".into()
            )
        );
    }

    #[test]
    fn a_deployment_past_its_progress_deadline_is_degraded() {
        let status = json!({
            "observedGeneration": 5, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3,
            "availableReplicas": 3, "unavailableReplicas": 1,
            "conditions": [available_condition(),
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"web-6f4b9c7d8\" has timed out progressing."}]
        });
        assert_eq!(
            check(deployment(5, json!({}), status)),
            (
                Health::Degraded,
                "Deployment: ProgressDeadlineExceeded: ReplicaSet \"web-6f4b9c7d8\" has timed out progressing."
                    .into()
            )
        );
    }

    #[test]
    fn a_deployment_whose_new_spec_is_not_yet_observed_is_progressing_even_if_its_old_status_looks_done(
    ) {
        let status = json!({"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3,
                            "availableReplicas": 3, "conditions": [available_condition()]});
        assert_eq!(
            check(deployment(5, json!({}), status)),
            (
                Health::Progressing,
                "Deployment: waiting for the controller to observe generation 5 (observed 4)"
                    .into()
            )
        );
        // Just created: no status yet.
        assert_eq!(
            check(deployment(1, json!({}), json!({}))).0,
            Health::Progressing
        );
    }

    #[test]
    fn a_paused_deployment_is_progressing_and_says_it_is_paused() {
        let status = json!({"observedGeneration": 6, "replicas": 4, "updatedReplicas": 1,
                            "availableReplicas": 3});
        assert_eq!(
            check(deployment(7, json!({"paused": true}), status)),
            (Health::Progressing, "Deployment: paused".into())
        );
    }

    #[test]
    fn a_deployment_without_replicas_in_its_spec_wants_one() {
        let mut d = deployment(
            1,
            json!({}),
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        );
        d["spec"].as_object_mut().unwrap().remove("replicas");
        assert_eq!(check(d.clone()).0, Health::Healthy);
        d["status"]["availableReplicas"] = json!(0);
        assert_eq!(check(d).0, Health::Progressing);
    }

    fn stateful_set(spec: Value, status: Value) -> Value {
        let mut s = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "shop", "generation": 2},
            "spec": {
                "replicas": 3, "serviceName": "db", "podManagementPolicy": "OrderedReady",
                "selector": {"matchLabels": {"app": "db"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "template": {"metadata": {"labels": {"app": "db"}},
                             "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}
            },
            "status": status
        });
        for (k, v) in spec.as_object().unwrap() {
            s["spec"][k] = v.clone();
        }
        s
    }

    #[test]
    fn a_stateful_set_is_healthy_once_all_replicas_are_ready_and_updated() {
        let rolling = json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "currentReplicas": 2,
                             "updatedReplicas": 1, "availableReplicas": 3,
                             "currentRevision": "db-5c6d7f8b9", "updateRevision": "db-7d9c8b6f5",
                             "collisionCount": 0});
        assert_eq!(
            check(stateful_set(json!({}), rolling)),
            (
                Health::Progressing,
                "StatefulSet: 1 of 3 replicas updated".into()
            )
        );
        let not_ready = json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 1,
                               "updatedReplicas": 3, "currentRevision": "db-7d9c8b6f5",
                               "updateRevision": "db-7d9c8b6f5"});
        assert_eq!(
            check(stateful_set(json!({}), not_ready)),
            (
                Health::Progressing,
                "StatefulSet: 1 of 3 replicas ready".into()
            )
        );
        let done = json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3,
                          "updatedReplicas": 3, "availableReplicas": 3,
                          "currentRevision": "db-7d9c8b6f5", "updateRevision": "db-7d9c8b6f5"});
        assert_eq!(
            check(stateful_set(json!({}), done)),
            (
                Health::Healthy,
                "StatefulSet: 3 replicas ready, 3 updated".into()
            )
        );
    }

    #[test]
    fn a_partitioned_stateful_set_is_healthy_once_the_replicas_above_the_partition_are_updated() {
        let spec =
            json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}});
        let status = |updated: i64| {
            json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": updated,
                   "currentRevision": "db-5c6d7f8b9", "updateRevision": "db-7d9c8b6f5"})
        };
        assert_eq!(
            check(stateful_set(spec.clone(), status(0))),
            (
                Health::Progressing,
                "StatefulSet: 0 of 1 replicas updated (partition 2)".into()
            )
        );
        assert_eq!(check(stateful_set(spec, status(1))).0, Health::Healthy);
    }

    #[test]
    fn an_on_delete_stateful_set_is_healthy_once_ready_whatever_its_revisions() {
        let spec = json!({"updateStrategy": {"type": "OnDelete"}});
        let status = json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 0,
                            "currentRevision": "db-5c6d7f8b9", "updateRevision": "db-7d9c8b6f5"});
        assert_eq!(check(stateful_set(spec, status)).0, Health::Healthy);
    }

    #[test]
    fn a_stateful_set_without_observed_generation_is_progressing() {
        assert_eq!(
            check(stateful_set(json!({}), json!({"replicas": 0}))).0,
            Health::Progressing
        );
    }

    fn daemon_set(strategy: &str, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "node-exporter", "namespace": "monitoring", "generation": 3},
            "spec": {"selector": {"matchLabels": {"app": "node-exporter"}},
                     "updateStrategy": {"type": strategy},
                     "template": {"metadata": {"labels": {"app": "node-exporter"}},
                                  "spec": {"containers": [{"name": "node-exporter",
                                                           "image": "quay.io/prometheus/node-exporter:v1.8.2"}]}}},
            "status": status
        })
    }

    #[test]
    fn a_daemon_set_is_healthy_when_every_scheduled_pod_is_updated_and_available() {
        let status = |updated: i64, available: i64| {
            json!({"observedGeneration": 3, "currentNumberScheduled": 5, "desiredNumberScheduled": 5,
                   "numberMisscheduled": 0, "numberReady": available, "numberAvailable": available,
                   "updatedNumberScheduled": updated})
        };
        assert_eq!(
            check(daemon_set("RollingUpdate", status(2, 5))),
            (Health::Progressing, "DaemonSet: 2 of 5 pods updated".into())
        );
        assert_eq!(
            check(daemon_set("RollingUpdate", status(5, 4))),
            (
                Health::Progressing,
                "DaemonSet: 4 of 5 pods available".into()
            )
        );
        assert_eq!(
            check(daemon_set("RollingUpdate", status(5, 5))),
            (Health::Healthy, "DaemonSet: 5 of 5 pods available".into())
        );
        let mut behind = daemon_set("RollingUpdate", status(5, 5));
        behind["status"]["observedGeneration"] = json!(2);
        assert_eq!(check(behind).0, Health::Progressing);
    }

    #[test]
    fn an_on_delete_daemon_set_ignores_old_pods_but_not_unavailable_ones() {
        let status = |available: i64| {
            json!({"observedGeneration": 3, "desiredNumberScheduled": 5, "numberAvailable": available,
                   "updatedNumberScheduled": 1})
        };
        assert_eq!(check(daemon_set("OnDelete", status(5))).0, Health::Healthy);
        assert_eq!(
            check(daemon_set("OnDelete", status(0))),
            (
                Health::Progressing,
                "DaemonSet: 0 of 5 pods available".into()
            )
        );
    }

    #[test]
    fn a_replica_set_that_cannot_create_pods_is_degraded() {
        let rs = |status: Value| {
            json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "web-7c9d8f6b5d", "namespace": "shop", "generation": 1},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
                "status": status
            })
        };
        let failing = json!({
            "observedGeneration": 1, "replicas": 0,
            "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                            "message": "pods \"web-7c9d8f6b5d-x2k9p\" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=2, limited: cpu=2",
                            "lastTransitionTime": "2026-11-20T10:02:00Z"}]
        });
        let (health, message) = check(rs(failing));
        assert_eq!(health, Health::Degraded);
        assert!(
            message.starts_with(
                "ReplicaSet: FailedCreate: pods \"web-7c9d8f6b5d-x2k9p\" is forbidden"
            ),
            "{message}"
        );
        assert_eq!(
            check(rs(
                json!({"observedGeneration": 1, "replicas": 2, "availableReplicas": 1})
            )),
            (
                Health::Progressing,
                "ReplicaSet: 1 of 2 replicas available".into()
            )
        );
        assert_eq!(
            check(rs(
                json!({"observedGeneration": 1, "replicas": 2, "availableReplicas": 2,
                            "readyReplicas": 2, "fullyLabeledReplicas": 2})
            ))
            .0,
            Health::Healthy
        );
    }

    fn job(spec: Value, status: Value) -> Value {
        let mut j = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "shop", "generation": 1},
            "spec": {"backoffLimit": 6, "completions": 1, "parallelism": 1, "suspend": false,
                     "template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "migrate", "image": "quay.io/shop/migrate:1.4.2"}]}}},
            "status": status
        });
        for (k, v) in spec.as_object().unwrap() {
            j["spec"][k] = v.clone();
        }
        j
    }

    #[test]
    fn a_failed_job_is_degraded_with_its_reason_and_message() {
        let status = json!({
            "startTime": "2026-11-20T10:00:00Z", "failed": 7, "terminating": 0, "ready": 0,
            "uncountedTerminatedPods": {},
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit"}]
        });
        assert_eq!(
            check(job(json!({}), status)),
            (
                Health::Degraded,
                "Job: BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
    }

    #[test]
    fn a_job_whose_failure_is_decided_is_degraded_before_its_pods_are_gone() {
        let status = json!({"failed": 1, "terminating": 1, "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded",
             "message": "Job was active longer than specified deadline"}]});
        assert_eq!(check(job(json!({}), status)).0, Health::Degraded);
    }

    #[test]
    fn a_complete_job_is_healthy_and_a_running_one_progressing() {
        let complete = json!({
            "startTime": "2026-11-20T10:00:00Z", "completionTime": "2026-11-20T10:00:41Z",
            "succeeded": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods"},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods"}]
        });
        assert_eq!(
            check(job(json!({}), complete)),
            (Health::Healthy, "Job: complete (1 succeeded)".into())
        );
        let running = json!({"startTime": "2026-11-20T10:00:00Z", "active": 1, "ready": 1, "failed": 1,
                             "terminating": 0, "uncountedTerminatedPods": {}});
        assert_eq!(
            check(job(json!({}), running)),
            (
                Health::Progressing,
                "Job: running (1 active, 0 succeeded, 1 failed)".into()
            )
        );
    }

    #[test]
    fn a_suspended_job_is_progressing_and_says_so_and_a_resumed_one_runs_again() {
        let suspended = json!({"conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended",
                                               "message": "Job suspended"}]});
        assert_eq!(
            check(job(json!({"suspend": true}), suspended)),
            (Health::Progressing, "Job: suspended".into())
        );
        let resumed = json!({"active": 1, "conditions": [
            {"type": "Suspended", "status": "False", "reason": "JobResumed", "message": "Job resumed"}]});
        assert_eq!(check(job(json!({}), resumed)).0, Health::Progressing);
    }

    fn crd(conditions: Value) -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "backups.shop.example.com", "generation": 1},
            "spec": {"group": "shop.example.com", "scope": "Namespaced",
                     "names": {"kind": "Backup", "listKind": "BackupList", "plural": "backups", "singular": "backup"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]},
            "status": {"acceptedNames": {"kind": "Backup", "listKind": "BackupList", "plural": "backups",
                                         "singular": "backup"},
                       "conditions": conditions, "storedVersions": ["v1"]}
        })
    }

    #[test]
    fn an_established_crd_is_healthy_and_one_whose_names_conflict_is_degraded() {
        let names_accepted = json!({"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                                    "message": "no conflicts found"});
        assert_eq!(
            check(crd(json!([names_accepted.clone(),
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted"}]))),
            (
                Health::Healthy,
                "CustomResourceDefinition: established".into()
            )
        );
        assert_eq!(
            check(crd(json!([names_accepted.clone(),
                {"type": "Established", "status": "False", "reason": "Installing",
                 "message": "the initial names have been accepted"}])))
            .0,
            Health::Progressing
        );
        assert_eq!(
            check(crd(json!([
                {"type": "NamesAccepted", "status": "False", "reason": "PluralConflict",
                 "message": "\"backups\" is already in use"},
                {"type": "Established", "status": "False", "reason": "NotAccepted",
                 "message": "not all names are accepted"}]))),
            (
                Health::Degraded,
                "CustomResourceDefinition: names not accepted: PluralConflict: \"backups\" is already in use"
                    .into()
            )
        );
        assert_eq!(check(crd(json!([names_accepted]))).0, Health::Progressing);
        assert_eq!(check(crd(json!([]))).0, Health::Progressing);
    }

    #[test]
    fn a_crd_being_deleted_is_progressing() {
        let mut c = crd(
            json!([{"type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
                                "message": "CustomResource deletion is in progress"}]),
        );
        assert_eq!(check(c.clone()).0, Health::Progressing);
        c["metadata"]["deletionTimestamp"] = json!("2026-11-20T10:00:00Z");
        assert_eq!(
            check(c),
            (
                Health::Progressing,
                "CustomResourceDefinition: pending deletion".into()
            )
        );
    }

    #[test]
    fn an_api_service_is_healthy_when_available_and_progressing_otherwise_as_in_argo_cd() {
        let svc = |condition: Value| {
            json!({
                "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": "v1beta1.metrics.k8s.io"},
                "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                         "versionPriority": 100, "insecureSkipTLSVerify": true,
                         "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443}},
                "status": {"conditions": [condition]}
            })
        };
        assert_eq!(
            check(svc(
                json!({"type": "Available", "status": "True", "reason": "Passed",
                             "message": "all checks passed"})
            )),
            (
                Health::Healthy,
                "APIService: Passed: all checks passed".into()
            )
        );
        assert_eq!(
            check(svc(json!({"type": "Available", "status": "False", "reason": "MissingEndpoints",
                             "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\""}))),
            (
                Health::Progressing,
                "APIService: not available: MissingEndpoints: endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\"".into()
            )
        );
    }

    #[test]
    fn namespaces_and_claims_are_judged_by_phase() {
        let ns = |phase: &str| {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": phase}})
        };
        assert_eq!(check(ns("Active")).0, Health::Healthy);
        assert_eq!(check(ns("Terminating")).0, Health::Progressing);
        let pvc = |phase: &str| {
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data", "namespace": "shop"},
                   "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3-csi",
                            "resources": {"requests": {"storage": "10Gi"}}, "volumeMode": "Filesystem"},
                   "status": {"phase": phase}})
        };
        assert_eq!(
            check(pvc("Bound")),
            (Health::Healthy, "PersistentVolumeClaim: bound".into())
        );
        assert_eq!(check(pvc("Pending")).0, Health::Progressing);
        assert_eq!(check(pvc("Lost")).0, Health::Degraded);
        assert_eq!(check(pvc("Resizing")).0, Health::Unknown);
    }

    fn subscription(approval: &str, status: Value) -> Value {
        json!({
            "apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
            "metadata": {"name": "openshift-gitops-operator", "namespace": "openshift-operators", "generation": 1},
            "spec": {"channel": "stable", "installPlanApproval": approval, "name": "openshift-gitops-operator",
                     "source": "redhat-operators", "sourceNamespace": "openshift-marketplace"},
            "status": status
        })
    }

    fn catalogs_healthy() -> Value {
        json!({"type": "CatalogSourcesUnhealthy", "status": "False", "reason": "AllCatalogSourcesHealthy",
               "message": "all available catalogsources are healthy",
               "lastTransitionTime": "2026-11-20T10:00:00Z"})
    }

    #[test]
    fn a_subscription_at_latest_known_with_its_operator_installed_is_healthy() {
        let status = json!({
            "state": "AtLatestKnown", "currentCSV": "openshift-gitops-operator.v1.14.2",
            "installedCSV": "openshift-gitops-operator.v1.14.2", "installPlanGeneration": 1,
            "installPlanRef": {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
                               "name": "install-m7wvs", "namespace": "openshift-operators"},
            "lastUpdated": "2026-11-20T10:01:00Z",
            "conditions": [catalogs_healthy(),
                {"type": "InstallPlanMissing", "status": "True", "reason": "ReferencedInstallPlanNotFound",
                 "lastTransitionTime": "2026-11-20T11:00:00Z"}]
        });
        assert_eq!(
            check(subscription("Automatic", status.clone())),
            (
                Health::Healthy,
                "Subscription: at latest known, openshift-gitops-operator.v1.14.2 installed".into()
            )
        );
        let mut not_installed = status;
        not_installed
            .as_object_mut()
            .unwrap()
            .remove("installedCSV");
        assert_eq!(
            check(subscription("Automatic", not_installed)).0,
            Health::Progressing
        );
    }

    #[test]
    fn a_subscription_that_cannot_resolve_is_degraded_with_the_failing_conditions() {
        let status = json!({
            "lastUpdated": "2026-11-20T10:01:00Z",
            "conditions": [
                {"type": "CatalogSourcesUnhealthy", "status": "True", "reason": "UnhealthyCatalogSourceFound",
                 "message": "targeted catalogsource openshift-marketplace/redhat-operators66 missing"},
                {"type": "ResolutionFailed", "status": "True", "reason": "ConstraintsNotSatisfiable",
                 "message": "constraints not satisfiable: no operators found from catalog redhat-operators66 in namespace openshift-marketplace referenced by subscription openshift-gitops-operator, subscription openshift-gitops-operator exists"}]
        });
        assert_eq!(
            check(subscription("Automatic", status)),
            (
                Health::Degraded,
                "Subscription: ResolutionFailed: ConstraintsNotSatisfiable: constraints not satisfiable: no \
                 operators found from catalog redhat-operators66 in namespace openshift-marketplace referenced by \
                 subscription openshift-gitops-operator, subscription openshift-gitops-operator exists; \
                 CatalogSourcesUnhealthy: UnhealthyCatalogSourceFound: targeted catalogsource \
                 openshift-marketplace/redhat-operators66 missing"
                    .into()
            )
        );
        let failed = json!({"state": "UpgradeFailed", "installedCSV": "a.v1", "conditions": [catalogs_healthy()]});
        assert_eq!(check(subscription("Automatic", failed)).0, Health::Degraded);
        let missing = json!({"state": "AtLatestKnown", "installedCSV": "a.v1", "conditions": [catalogs_healthy(),
            {"type": "InstallPlanMissing", "status": "True", "reason": "InstallPlanNotFound"}]});
        assert_eq!(
            check(subscription("Automatic", missing)).0,
            Health::Degraded
        );
    }

    #[test]
    fn a_subscription_with_an_install_or_upgrade_under_way_is_progressing() {
        assert_eq!(
            check(subscription("Automatic", json!({}))).0,
            Health::Progressing
        );
        let first =
            json!({"lastUpdated": "2026-11-20T10:00:00Z", "conditions": [catalogs_healthy()]});
        assert_eq!(
            check(subscription("Automatic", first)),
            (
                Health::Progressing,
                "Subscription: state not yet known".into()
            )
        );
        let upgrading = json!({"state": "UpgradePending", "currentCSV": "a.v2", "installedCSV": "a.v1",
                               "conditions": [catalogs_healthy(),
                                   {"type": "InstallPlanPending", "status": "True", "reason": "Installing"}]});
        assert_eq!(
            check(subscription("Automatic", upgrading)),
            (
                Health::Progressing,
                "Subscription: InstallPlanPending: Installing".into()
            )
        );
        let available = json!({"state": "UpgradeAvailable", "currentCSV": "a.v2", "installedCSV": "a.v1",
                               "conditions": [catalogs_healthy()]});
        assert_eq!(
            check(subscription("Automatic", available)).0,
            Health::Progressing
        );
    }

    #[test]
    fn a_manual_subscription_awaiting_approval_of_an_upgrade_is_healthy_but_not_of_its_first_install(
    ) {
        let pending =
            json!({"type": "InstallPlanPending", "status": "True", "reason": "RequiresApproval"});
        let upgrade = json!({"state": "UpgradePending", "currentCSV": "camel-k-operator.v2.6.0",
                             "installedCSV": "camel-k-operator.v2.5.1",
                             "conditions": [catalogs_healthy(), pending.clone()]});
        assert_eq!(
            check(subscription("Manual", upgrade)),
            (
                Health::Healthy,
                "Subscription: camel-k-operator.v2.5.1 installed; the upgrade to camel-k-operator.v2.6.0 \
                 awaits manual approval"
                    .into()
            )
        );
        let first = json!({"state": "UpgradePending", "currentCSV": "camel-k-operator.v2.6.0",
                           "conditions": [catalogs_healthy(),
                               {"type": "BundleUnpacking", "status": "True", "reason": "UnpackingInProgress"},
                               pending]});
        assert_eq!(
            check(subscription("Manual", first)),
            (
                Health::Progressing,
                "Subscription: InstallPlanPending: RequiresApproval".into()
            )
        );
    }

    fn csv(status: Value) -> Value {
        json!({
            "apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
            "metadata": {"name": "openshift-gitops-operator.v1.14.2", "namespace": "openshift-operators",
                         "generation": 1},
            "spec": {"displayName": "Red Hat OpenShift GitOps", "version": "1.14.2",
                     "install": {"strategy": "deployment", "spec": {"deployments": []}}},
            "status": status
        })
    }

    #[test]
    fn a_succeeded_csv_is_healthy_and_a_failed_one_degraded_with_olms_reason() {
        assert_eq!(
            check(csv(json!({"phase": "Succeeded", "reason": "InstallSucceeded",
                             "message": "install strategy completed with no errors",
                             "lastTransitionTime": "2026-11-20T10:02:00Z"}))),
            (
                Health::Healthy,
                "ClusterServiceVersion: Succeeded: InstallSucceeded: install strategy completed with no errors"
                    .into()
            )
        );
        assert_eq!(
            check(csv(
                json!({"phase": "Failed", "reason": "InstallCheckFailed",
                             "message": "install timeout"})
            )),
            (
                Health::Degraded,
                "ClusterServiceVersion: Failed: InstallCheckFailed: install timeout".into()
            )
        );
    }

    #[test]
    fn a_csv_being_installed_or_replaced_is_progressing() {
        for phase in [
            "Pending",
            "InstallReady",
            "Installing",
            "Replacing",
            "Deleting",
        ] {
            assert_eq!(
                check(csv(json!({"phase": phase, "reason": "InstallWaiting",
                                 "message": "installing: waiting for deployment gitops-operator-controller-manager to become ready"})))
                .0,
                Health::Progressing,
                "{phase}"
            );
        }
        assert_eq!(check(csv(json!({}))).0, Health::Progressing);
        assert_eq!(check(csv(json!({"phase": "Unknown"}))).0, Health::Unknown);
    }

    fn custom(status: Value) -> Value {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": "api", "namespace": "shop", "generation": 2},
               "spec": {"secretName": "api-tls", "dnsNames": ["api.shop.example.com"],
                        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}},
               "status": status})
    }

    #[test]
    fn other_kinds_are_judged_by_their_ready_and_failure_conditions() {
        let ready = |status: &str, reason: &str, message: &str| {
            json!({"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                                   "observedGeneration": 2}]})
        };
        assert_eq!(
            check(custom(ready(
                "True",
                "Ready",
                "Certificate is up to date and has not expired"
            ))),
            (Health::Healthy, "Certificate: Ready is True".into())
        );
        assert_eq!(
            check(custom(ready(
                "False",
                "DoesNotExist",
                "Issuing certificate as Secret does not exist"
            ))),
            (
                Health::Progressing,
                "Certificate: Ready is False: DoesNotExist: Issuing certificate as Secret does not exist".into()
            )
        );
        let stalled = json!({"conditions": [
            {"type": "Ready", "status": "False", "reason": "Failed", "message": "issuance failed"},
            {"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "no issuer named letsencrypt"}]});
        assert_eq!(
            check(custom(stalled)),
            (
                Health::Degraded,
                "Certificate: Stalled: InvalidSpec: no issuer named letsencrypt".into()
            )
        );
        let degraded = json!({"conditions": [
            {"type": "Available", "status": "True", "reason": "AsExpected"},
            {"type": "Degraded", "status": "True", "reason": "DeploymentFailed",
             "message": "ingress controller default failed its rollout"}]});
        assert_eq!(check(custom(degraded)).0, Health::Degraded);
        let reconciling = json!({"conditions": [{"type": "Reconciling", "status": "True", "reason": "Progressing"}]});
        assert_eq!(check(custom(reconciling)).0, Health::Progressing);
        let unknown = json!({"conditions": [{"type": "Ready", "status": "Unknown"}]});
        assert_eq!(
            check(custom(unknown)),
            (Health::Progressing, "Certificate: Ready is Unknown".into())
        );
    }

    #[test]
    fn other_kinds_with_no_status_or_unfamiliar_conditions_are_healthy_because_they_exist() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"},
                        "data": {"mode": "blue"}});
        assert_eq!(
            check(cm),
            (
                Health::Healthy,
                "ConfigMap: exists (no health rule for this kind)".into()
            )
        );
        let other = json!({"conditions": [{"type": "Issuing", "status": "False"}]});
        assert_eq!(check(custom(other)).0, Health::Healthy);
    }

    #[test]
    fn other_kinds_whose_status_is_behind_their_spec_are_progressing() {
        let behind =
            json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]});
        assert_eq!(
            check(custom(behind)),
            (
                Health::Progressing,
                "Certificate: waiting for the controller to observe generation 2 (observed 1)"
                    .into()
            )
        );
    }

    #[test]
    fn an_absent_object_is_missing_and_a_malformed_one_unknown() {
        assert_eq!(
            assess(None),
            Assessment {
                health: Health::Missing,
                message: "not found on the cluster".into()
            }
        );
        assert_eq!(assess(Some(&json!("text"))).health, Health::Unknown);
        assert_eq!(
            assess(Some(&json!({"metadata": {"name": "x"}}))).health,
            Health::Unknown
        );
    }

    #[test]
    fn rules_are_found_by_group_and_kind_whatever_the_version() {
        assert!(has_rule("apps/v1", "Deployment"));
        assert!(has_rule("batch/v1", "Job"));
        assert!(has_rule("v1", "PersistentVolumeClaim"));
        assert!(has_rule("v1", "Namespace"));
        assert!(has_rule("apiregistration.k8s.io/v1beta1", "APIService"));
        assert!(has_rule(
            "operators.coreos.com/v1alpha1",
            "ClusterServiceVersion"
        ));
        assert!(!has_rule("v1", "ConfigMap"));
        assert!(!has_rule("v1", "Deployment"), "Deployment is in apps");
        assert!(!has_rule("example.com/v1", "Job"));
    }

    #[test]
    fn severity_orders_degraded_above_missing_above_progressing_and_unknown_just_above_healthy() {
        let mut all = [
            Health::Degraded,
            Health::Healthy,
            Health::Missing,
            Health::Progressing,
            Health::Unknown,
        ];
        all.sort();
        assert_eq!(
            all.map(Health::as_str),
            ["Healthy", "Unknown", "Progressing", "Missing", "Degraded"]
        );
    }

    fn reference(api_version: &str, kind: &str, name: &str) -> SyncResourceReference {
        SyncResourceReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            namespace: "shop".into(),
        }
    }

    fn a(health: Health, message: &str) -> Assessment {
        Assessment {
            health,
            message: message.into(),
        }
    }

    #[test]
    fn a_verdict_is_the_worst_health_and_names_the_worst_objects_first() {
        let v = verdict(&[
            (
                reference("apps/v1", "Deployment", "web"),
                a(Health::Progressing, "Deployment: 2 of 3 replicas updated"),
            ),
            (
                reference("v1", "ConfigMap", "settings"),
                a(Health::Healthy, "ConfigMap: exists"),
            ),
            (
                reference("batch/v1", "Job", "migrate"),
                a(Health::Degraded, "Job: BackoffLimitExceeded"),
            ),
            (
                reference("v1", "PersistentVolumeClaim", "data"),
                a(Health::Missing, "not found on the cluster"),
            ),
            (
                reference("apps/v1", "StatefulSet", "db"),
                a(Health::Progressing, "StatefulSet: 1 of 3 replicas ready"),
            ),
        ]);
        assert_eq!(v.health, Health::Degraded);
        assert_eq!((v.total, v.unhealthy), (5, 4));
        assert_eq!(
            v.message,
            "4 of 5 objects are not healthy: Job shop/migrate is Degraded: BackoffLimitExceeded; \
             PersistentVolumeClaim shop/data is Missing: not found on the cluster; Deployment shop/web is \
             Progressing: 2 of 3 replicas updated (and 1 more)"
        );
    }

    #[test]
    fn a_verdict_on_healthy_objects_or_none_is_healthy() {
        let ok = |name: &str| {
            (
                reference("v1", "Namespace", name),
                a(Health::Healthy, "Namespace: active"),
            )
        };
        let v = verdict(&[ok("a"), ok("b")]);
        assert_eq!((v.health, v.unhealthy), (Health::Healthy, 0));
        assert_eq!(v.message, "all 2 objects are healthy");
        assert_eq!(verdict(&[ok("a")]).message, "the object is healthy");
        let none = verdict(&[]);
        assert_eq!(none.health, Health::Healthy);
        assert_eq!(none.message, "no objects to assess");
    }

    #[test]
    fn a_verdict_names_cluster_scoped_objects_and_a_callers_own_assessments_plainly() {
        let mut crd = reference(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "backups.shop.example.com",
        );
        crd.namespace.clear();
        let v = verdict(&[
            (
                crd,
                Assessment::unknown(
                    "the server has asked for the client to provide credentials".into(),
                ),
            ),
            (
                reference("apps/v1", "Deployment", "web"),
                Assessment::progressing("applied again after drift".into()),
            ),
        ]);
        assert_eq!(v.health, Health::Progressing);
        assert_eq!(
            v.message,
            "2 of 2 objects are not healthy: Deployment shop/web is Progressing: applied again after drift; \
             CustomResourceDefinition backups.shop.example.com is Unknown: the server has asked for the client \
             to provide credentials"
        );
    }

    #[test]
    fn long_condition_messages_are_cut_to_the_status_limit() {
        let huge = "x".repeat(crate::consts::MAX_MESSAGE_BYTES * 2);
        let a = assess(Some(&csv(
            json!({"phase": "Failed", "reason": "InstallCheckFailed", "message": huge}),
        )));
        assert_eq!(a.health, Health::Degraded);
        assert!(a.message.len() < crate::consts::MAX_MESSAGE_BYTES + 100);
        assert!(a
            .message
            .starts_with("ClusterServiceVersion: Failed: InstallCheckFailed: x"));
    }
}
