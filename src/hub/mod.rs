//! The hub side: watches (reflector stores), the index of which clusters each hub event concerns, and the
//! per-cluster work queue. It decides nothing about what to send; which syncsets target which cluster is
//! `plan::target`.

pub mod index;
pub mod queue;
pub mod secrets;
pub mod watch;

/// A ClusterDeployment's `namespace/name`: the reconcile key.
pub type ClusterKey = (String, String);
