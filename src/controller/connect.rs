//! A client for the cluster, from its kubeconfig Secret through the shared pool; Hive's fake clusters get none.

use std::sync::Arc;

use tracing::warn;

use super::targets::Targets;
use super::{record, Context, Outcome};
use crate::api::clusterdeployment::ClusterMetadata;
use crate::api::{ClusterDeployment, ClusterKey};
use crate::plan::gate;
use crate::remote::{Cause, Endpoint, RemoteCluster};

/// Where the plan's operations go.
pub(super) enum Spoke {
    Remote(Arc<RemoteCluster>),
    /// `hive.openshift.io/fake-cluster`: operations succeed after Hive's simulated latency.
    Fake,
}

/// The cluster's client, or how the reconcile ends without one. A kubeconfig that cannot be used is bad input: it
/// is said on every syncset entry (`record::client_failure`), not only on the condition.
pub(super) async fn connect(
    ctx: &Context,
    key: &ClusterKey,
    cd: &ClusterDeployment,
    meta: &ClusterMetadata,
    targets: &Targets,
) -> anyhow::Result<Result<Spoke, Outcome>> {
    if gate::fake_cluster(cd) {
        return Ok(Ok(Spoke::Fake));
    }
    let endpoint = Endpoint::of(cd, gate::active_api_url(cd));
    match ctx
        .pool
        .get(key, &meta.admin_kubeconfig_secret_ref.name, endpoint)
        .await
    {
        Ok(rc) => Ok(Ok(Spoke::Remote(rc))),
        Err(e) if e.cause == Cause::Hub => {
            // The hub did not answer for the Secret: nothing is known about the cluster; try again soon.
            warn!(kind = e.kind(), message = %e.message, "cannot read the kubeconfig Secret; retrying");
            Ok(Err(Outcome::Retry))
        }
        Err(e) => {
            warn!(kind = e.kind(), message = %e.message, "cannot build a client for the cluster");
            record::client_failure(ctx, key, cd, targets, &e.message).await?;
            // The Secret watch queues the cluster again when the Secret changes.
            Ok(Err(Outcome::Idle))
        }
    }
}
