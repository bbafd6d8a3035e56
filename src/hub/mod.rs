//! The hub side: watches (reflector stores), the index of which clusters each hub event concerns, and the
//! per-cluster work queue, keyed by `api::ClusterKey`. It decides nothing about what to send; which syncsets target
//! which cluster is `plan::target`.

pub mod index;
pub mod names;
pub mod queue;
pub mod secrets;
pub mod watch;
