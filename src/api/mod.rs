//! Hive's API types, as Rust. Field names are Hive's JSON names; the CRDs in `crds/` are generated from these types
//! (`hivesync crdgen`). Validation that Hive's webhook does is expressed here as schema rules where the API server can
//! enforce it (see `schema`). The keys hivesync names clusters and other hub objects by are here too (`key`), so
//! every layer shares one vocabulary.

pub mod clusterdeployment;
pub mod clustersync;
pub mod crd;
pub mod key;
pub mod rollout;
mod schema;
pub mod syncset;

pub use clusterdeployment::{
    ClusterDeployment, ClusterDeploymentCondition, ClusterDeploymentSpec, ClusterDeploymentStatus,
};
pub use clustersync::{
    ClusterSync, ClusterSyncCondition, ClusterSyncLease, ClusterSyncLeaseSpec, ClusterSyncSpec,
    ClusterSyncStatus, SyncResourceReference, SyncSetResult, SyncStatus, TrackedResources,
};
pub use key::{ClusterKey, NamespacedName};
pub use rollout::{Rollout, RolloutStrategy};
pub use syncset::{
    SecretMapping, SecretReference, SelectorSyncSet, SelectorSyncSetSpec, SyncObjectPatch, SyncSet,
    SyncSetCommonSpec, SyncSetSpec,
};
