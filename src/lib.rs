//! hivesync: a Hive-compatible multi-cluster sync controller.
//!
//! Data flows one way: hub watches → index → per-cluster queue → gate → plan (pure) → execute (remote) → record.
//! This file holds the crate's error type and the strings that are part of Hive's observable API.

pub mod api;
pub mod cli;
pub mod controller;
pub mod duration;
pub mod events;
pub mod fleet;
pub mod http;
pub mod hub;
pub mod leader;
pub mod metrics;
pub mod plan;
pub mod reachability;
pub mod remote;
pub mod rollout;
pub mod status;

/// Label, annotation, condition and field-manager strings shared by every module (Hive's exact spellings).
pub mod consts {
    /// Field manager for every server-side apply hivesync sends (docs/hive-compatibility.md, "Deliberate
    /// differences", 1).
    pub const FIELD_MANAGER: &str = "hivesync";
    /// Label written onto every object created from `resources` and `secretMappings`.
    pub const MANAGED_LABEL: &str = "hive.openshift.io/managed";
    pub const SYNCSET_PAUSE_ANNOTATION: &str = "hive.openshift.io/syncset-pause";
    pub const RECONCILE_PAUSE_ANNOTATION: &str = "hive.openshift.io/reconcile-pause";
    pub const RELOCATE_ANNOTATION: &str = "hive.openshift.io/relocate";
    pub const FAKE_CLUSTER_ANNOTATION: &str = "hive.openshift.io/fake-cluster";
    /// On a SyncSet or SelectorSyncSet: how often its objects are checked for drift (a Go duration; `0`: never).
    pub const DRIFT_INTERVAL_ANNOTATION: &str = "hivesync.io/drift-interval";
    /// A SyncSet or SelectorSyncSet opts into progressive rollout by naming a `RolloutStrategy` here.
    pub const ROLLOUT_STRATEGY_ANNOTATION: &str = "hivesync.io/rollout-strategy";
    /// On a rollout's ControllerRevisions: the name of its `Rollout`.
    pub const ROLLOUT_LABEL: &str = "hivesync.io/rollout";
    /// The ClusterSync condition that says whether the objects applied to the cluster are healthy (hivesync's own;
    /// Hive's schema allows any condition type).
    pub const HEALTHY_CONDITION: &str = "Healthy";
    /// Data key of the admin kubeconfig Secret.
    pub const KUBECONFIG_SECRET_KEY: &str = "kubeconfig";
    /// The second key Hive writes into an adopted cluster's Secret (the same kubeconfig); clustersync never reads it.
    pub const RAW_KUBECONFIG_SECRET_KEY: &str = "raw-kubeconfig";

    /// The most of one managed cluster's response read into memory (an object, a discovery document, an error body).
    /// etcd stores objects of at most 1.5 MiB; a larger answer is a hostile or broken server.
    pub const MAX_SPOKE_RESPONSE_BYTES: usize = 8 << 20;
    /// The longest message written to a status field (`failureMessage`, a condition) or an Event: Hive writes whole
    /// error strings, and a status past etcd's limit could never be written again.
    pub const MAX_MESSAGE_BYTES: usize = 4 << 10;

    /// How long any hub request may wait for its response to start.
    pub const HUB_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

    pub const HIVE_GROUP: &str = "hive.openshift.io";
    pub const HIVE_INTERNAL_GROUP: &str = "hiveinternal.openshift.io";
}

/// The library's error type. Variant names double as metric labels.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kube: {0}")]
    Kube(#[from] kube::Error),
    #[error("serialization: {0}")]
    Json(#[from] serde_json::Error),
    #[error("yaml: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
