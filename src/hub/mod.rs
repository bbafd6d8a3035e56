//! The hub side: watches (reflector stores) and the per-cluster work queue. It decides nothing about what to send;
//! which syncsets target which cluster is `plan::target`.

pub mod queue;
pub mod secrets;
pub mod watch;

/// A ClusterDeployment's `namespace/name`: the reconcile key.
pub type ClusterKey = (String, String);
