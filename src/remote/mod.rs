//! Everything that talks to managed clusters: clients built from the admin kubeconfig Secret and cached per cluster
//! (`pool`), per-cluster discovery (`discovery`), and the apply / patch / delete calls (`ops`). Every failure here is
//! one [`RemoteError`] (`error`). Nothing here decides what to send; the plan does.

pub mod connect;
pub mod discovery;
pub mod error;
pub mod kubeconfig;
pub mod observe;
pub mod ops;
pub mod pool;
pub mod preview;
pub mod takeover;

pub use error::{Cause, RemoteError};
pub use pool::{ClientPool, Endpoint, RemoteCluster};
