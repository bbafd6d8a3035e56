//! hivesync's own API for progressive rollout (`hivesync.io/v1alpha1`, beside Hive's CRDs, never in them):
//! a `RolloutStrategy` says how a change reaches the fleet; a SyncSet or SelectorSyncSet opts in with the annotation
//! `hivesync.io/rollout-strategy: <name>`; a `Rollout` (one per opted-in syncset, written by hivesync) holds where
//! its rollout stands, and the operators' requests (pause, promote, abort) in its spec. docs/rollout.md.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a change of an opted-in syncset reaches its clusters: in `steps`, each gated on the health of the clusters
/// already reached.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "hivesync.io",
    version = "v1alpha1",
    kind = "RolloutStrategy",
    plural = "rolloutstrategies",
    doc = "RolloutStrategy says how a change of a SyncSet or SelectorSyncSet that names it (annotation hivesync.io/rollout-strategy) reaches the clusters it targets: in ordered steps, each gated on the health of the clusters already reached.",
    printcolumn = r#"{"name":"Steps","type":"integer","jsonPath":".spec.steps[*]","description":"steps"}"#,
    printcolumn = r#"{"name":"Soak","type":"string","jsonPath":".spec.minHealthyDuration"}"#,
    printcolumn = r#"{"name":"MaxFailures","type":"integer","jsonPath":".spec.maxFailures"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategySpec {
    /// In order; each takes clusters not yet taken by an earlier step. Clusters no step takes are updated after the
    /// last step, as if by a final `{}` step.
    #[schemars(length(min = 1, max = 32))]
    pub steps: Vec<RolloutStep>,
    /// How long every cluster of a step must stay Success and Healthy before the next step starts (a Go duration,
    /// e.g. `5m`; default `0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema")]
    pub min_healthy_duration: Option<String>,
    /// How long a step may take, from its start to the end of its soak, before the rollout halts (default `30m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema")]
    pub progress_deadline: Option<String>,
    /// Clusters of this rollout that may fail (their entry `Failure` at the new revision, or Degraded) before the
    /// rollout halts; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_failures: Option<i32>,
    /// At most this many clusters of a step receive the change at once (int, or a percent of the step's clusters);
    /// default: all of the step's clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "int_or_percent_schema")]
    pub max_concurrency: Option<IntOrString>,
    /// What an Unreachable cluster of a step counts as: `Wait` (default: the step waits for it, up to the deadline),
    /// `Failure` (it counts against `maxFailures`) or `Skip` (the step goes on without it; it receives the change when
    /// it is back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "unreachable_schema")]
    pub unreachable: Option<String>,
}

/// One step of a rollout.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStep {
    /// Only clusters whose labels match (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_selector: Option<LabelSelector>,
    /// At most this many clusters (an int, or a percent of all the clusters the syncset targets, rounded up); with
    /// `clusterSelector`, both apply. Default: every matching cluster not yet taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "int_or_percent_schema")]
    pub max_clusters: Option<IntOrString>,
}

/// Where the rollout of one opted-in syncset stands. Named after the syncset (`Rollout::name_for`); written by
/// hivesync; its spec holds the operators' requests (`hivesync rollout pause|resume|promote|abort`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "hivesync.io",
    version = "v1alpha1",
    kind = "Rollout",
    plural = "rollouts",
    shortname = "ro",
    status = "RolloutStatus",
    doc = "Rollout is where the progressive rollout of one SyncSet or SelectorSyncSet stands (written by hivesync); its spec holds the operators' requests.",
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.syncSetRef.kind"}"#,
    printcolumn = r#"{"name":"SyncSet","type":"string","jsonPath":".spec.syncSetRef.name"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Step","type":"integer","jsonPath":".status.step"}"#,
    printcolumn = r#"{"name":"Stable","type":"integer","jsonPath":".status.stableRevision"}"#,
    printcolumn = r#"{"name":"Update","type":"integer","jsonPath":".status.updateRevision"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// The syncset this rollout is of.
    pub sync_set_ref: SyncSetRef,
    /// No step starts and no further cluster is reached while true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Ends the wait of this step of this revision: the next step starts without its soak or its gates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote: Option<RevisionStep>,
    /// Aborts the rollout of this revision: every reached cluster goes back to the stable revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_revision: Option<i64>,
    /// A halted rollout resumes when this changes (`hivesync rollout resume` writes the time): its step gets a new
    /// deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_request: Option<String>,
}

/// Which syncset.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSetRef {
    /// `SyncSet` or `SelectorSyncSet`.
    pub kind: String,
    /// The SyncSet's namespace; empty for a SelectorSyncSet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

/// A step of one revision's rollout.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionStep {
    pub revision: i64,
    pub step: i32,
}

/// Where a rollout stands.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// `Progressing`, `Paused`, `Halted`, `Aborted` or `Complete`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    /// The generation every cluster not yet reached receives (0: none: the syncset is new, and reaches only the
    /// clusters of the steps taken).
    #[serde(default)]
    pub stable_revision: i64,
    /// The generation being rolled out.
    #[serde(default)]
    pub update_revision: i64,
    /// The step under way (0-based); equal to the number of steps once every step is done.
    #[serde(default)]
    pub step: i32,
    /// When the step under way started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_start_time: Option<Time>,
    /// Since when every cluster of the steps taken has been Success at the update revision and Healthy (the soak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_since: Option<Time>,
    /// Clusters at the update revision / still at the stable one, as last counted.
    #[serde(default)]
    pub updated_clusters: i32,
    #[serde(default)]
    pub stable_clusters: i32,
    /// The last `spec.resumeRequest` acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_request: Option<String>,
    /// What the rollout waits for, or why it halted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Rollout {
    /// The name of a syncset's Rollout: `syncset.<namespace>.<name>` or `selectorsyncset.<name>`; one that would
    /// pass the 253 characters of an object name ends in a hash instead.
    pub fn name_for(r: &SyncSetRef) -> String {
        let name = if r.kind == "SyncSet" {
            format!("syncset.{}.{}", r.namespace, r.name)
        } else {
            format!("selectorsyncset.{}", r.name)
        };
        if name.len() <= 253 {
            return name;
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        format!("{}-{:016x}", &name[..200], h.finish())
    }
}

fn duration_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$",
        "maxLength": 64
    })
}

fn int_or_percent_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-int-or-string": true,
        "anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": "^([1-9][0-9]?|100)%$"}
        ]
    })
}

fn unreachable_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "enum": ["Wait", "Failure", "Skip"]
    })
}
