//! What the whole e2e suite stands on, by concern:
//! - [`clusters`]: where the clusters are, clients for them, stopping and starting the local ones, the locks that keep
//!   tests which stop clusters away from tests which need them running;
//! - [`commands`]: kubectl, the hivesync CLI, and what a finished command printed;
//! - [`crds`]: the hub's CRDs;
//! - [`objects`]: unique names, throw-away namespaces, objects deleted when their guard drops;
//! - [`manifests`]: the bodies of SyncSets, SelectorSyncSets and the ConfigMaps they carry;
//! - [`fixtures`]: what a test arranges ([`Fleet`], [`Cluster`]s registered on the hub, [`Group`]s of them), with the
//!   waits for what the controller writes about a cluster;
//! - [`spokes`]: the managed clusters seen directly ([`Spoke`], [`PlannedNamespace`]);
//! - [`syncsets`]: SyncSets and SelectorSyncSets a test applies, and the names of their ClusterSync entries;
//! - [`wait`]: polling for ClusterSync entries, ClusterDeployment conditions and spoke objects;
//! - [`controller`]: the controller's log, and controllers a test starts itself.
//!
//! The suite runs against real API servers (`make clusters-up`, i.e. `hack/local-clusters.sh up`) and skips nothing:
//! an unreachable cluster is a failure that says how to start the clusters. Tests run in parallel and repeatedly
//! against the same clusters, so every object a test creates gets a unique name ([`unique_name`]) and lives in a
//! namespace of its own ([`TestNamespace`]) wherever it can.

pub mod clusters;
pub mod commands;
pub mod controller;
pub mod crds;
pub mod fixtures;
pub mod manifests;
pub mod objects;
pub mod spokes;
pub mod syncsets;
pub mod wait;

pub use clusters::*;
pub use commands::*;
pub use controller::*;
pub use crds::*;
pub use fixtures::*;
pub use manifests::*;
pub use objects::*;
pub use spokes::*;
pub use syncsets::*;
pub use wait::*;

/// Field manager of every server-side apply the suite sends.
pub const FIELD_MANAGER: &str = "hivesync-e2e";
