//! Reachability: a cheap, frequent probe (`GET /version` through the cluster's cached client, with a short timeout)
//! keeps the ClusterDeployment `Unreachable` condition current with Hive's reasons and messages. A cluster that turns
//! reachable is queued for a sync at once. Probes run concurrently, so a dead cluster never delays the others.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::api::ClusterDeployment;
use crate::consts::RECONCILE_PAUSE_ANNOTATION;
use crate::controller::Context;
use crate::hub::ClusterKey;
use crate::plan::conditions::{set_cd_condition, UNREACHABLE};
use crate::plan::gate;
use crate::remote::ops;
use crate::status;

pub const REASON_REACHABLE: &str = "ClusterReachable";
pub const MESSAGE_REACHABLE: &str = "cluster is reachable";
pub const REASON_UNREACHABLE: &str = "ErrorConnectingToCluster";

/// How many probes run at once.
const PROBE_PARALLELISM: usize = 64;

/// Probes every installed cluster each `interval`, forever.
pub async fn run(ctx: Arc<Context>, interval: Duration) {
    loop {
        let cds = ctx.stores.cds.state();
        futures::stream::iter(cds)
            .for_each_concurrent(PROBE_PARALLELISM, |cd| {
                let ctx = ctx.clone();
                async move { probe_one(&ctx, &cd).await }
            })
            .await;
        tokio::time::sleep(interval).await;
    }
}

/// Hive's error scrub for the Unreachable message: newline-tab runs become `, `.
pub fn scrub(message: &str) -> String {
    message.replace("\n\t", ", ").replace('\n', ", ")
}

async fn probe_one(ctx: &Context, cd: &ClusterDeployment) {
    if cd.metadata.deletion_timestamp.is_some()
        || !cd.spec.installed
        || gate::parse_bool(cd.annotations().get(RECONCILE_PAUSE_ANNOTATION))
    {
        return;
    }
    let Some(meta) = &cd.spec.cluster_metadata else {
        return;
    };
    let key: ClusterKey = (cd.namespace().unwrap_or_default(), cd.name_any());
    let url = gate::active_api_url(cd);
    let result = match ctx
        .pool
        .get(&key, &meta.admin_kubeconfig_secret_ref.name, url)
        .await
    {
        Ok(rc) => ops::probe(&rc).await.map_err(|e| e.message),
        Err(e) => Err(e),
    };
    let was_reachable = cd
        .condition(UNREACHABLE)
        .is_some_and(|c| c.status == "False");
    match result {
        Ok(()) => {
            if !was_reachable {
                if set_unreachable(&ctx.hub, &key, None).await {
                    info!(namespace = %key.0, name = %key.1, "cluster is reachable");
                }
                ctx.queue.add(key);
            }
        }
        Err(message) => {
            let message = scrub(&message);
            let same = cd
                .condition(UNREACHABLE)
                .is_some_and(|c| c.status == "True" && c.message.as_deref() == Some(&message));
            if !same && set_unreachable(&ctx.hub, &key, Some(&message)).await {
                warn!(namespace = %key.0, name = %key.1, %message, "cluster is unreachable");
            }
        }
    }
}

/// Writes `Unreachable` (False when `error` is None); returns whether it changed.
async fn set_unreachable(hub: &Client, key: &ClusterKey, error: Option<&str>) -> bool {
    let now = status::now();
    let value = match error {
        None => ("False", REASON_REACHABLE, MESSAGE_REACHABLE),
        Some(e) => ("True", REASON_UNREACHABLE, e),
    };
    match status::update_cd_conditions(hub, &key.0, &key.1, |c| {
        set_cd_condition(c, UNREACHABLE, value, &now, false)
    })
    .await
    {
        Ok(changed) => changed,
        Err(e) => {
            warn!(namespace = %key.0, name = %key.1, error = %e, "could not write the Unreachable condition");
            false
        }
    }
}

/// Called by the sync when a cluster stops answering mid-sync (DESIGN.md difference 4).
pub async fn mark_unreachable(hub: &Client, key: &ClusterKey, message: &str) {
    set_unreachable(hub, key, Some(&scrub(message))).await;
}
