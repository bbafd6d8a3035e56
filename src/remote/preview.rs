//! Dry-run variants of the calls in `ops`, for `hivesync diff`: each sends the same request with `dryRun=All` and
//! returns what the server would store, next to the live object. Nothing here writes to a managed cluster.
//!
//! Discovery, timeouts and error mapping are `ops`'s own helpers, so both send and report alike.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::Value;

use super::error::{Cause, RemoteError};
use super::kubeconfig::Timeouts;
use super::ops::{
    api_for, api_for_ref, describe_error, from_kube, is_status, resolve_any_version,
    resolve_patch_target, send_patch, with_timeout,
};
use super::RemoteCluster;
use crate::api::{ClusterDeployment, ClusterKey, SyncResourceReference};
use crate::consts::{FIELD_MANAGER, KUBECONFIG_SECRET_KEY};
use crate::plan::decode::{ApplyBehavior, PatchOp};
use crate::plan::identity::reference_of;

/// An object before and after a dry-run call. `after` is None when the call would not change anything
/// (`CreateOnly` on an existing object).
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub live: Option<Value>,
    pub after: Option<Value>,
}

/// The client for a ClusterDeployment's cluster, built from its admin kubeconfig Secret on the hub (with the API URL
/// override while it is active), as the controller builds it.
pub async fn remote_for(
    hub: &Client,
    cd: &ClusterDeployment,
    timeouts: Timeouts,
) -> Result<RemoteCluster, RemoteError> {
    let meta = cd.spec.cluster_metadata.as_ref().ok_or_else(|| {
        RemoteError::config(
            "the ClusterDeployment has no spec.clusterMetadata (not installed yet?)",
        )
    })?;
    let secret_key = ClusterKey::of(cd).secret(&meta.admin_kubeconfig_secret_ref.name);
    let secret = Api::<Secret>::namespaced(hub.clone(), &secret_key.namespace)
        .get(&secret_key.name)
        .await
        .map_err(|e| {
            // As the client pool: a missing Secret is bad input, any other failure the hub's.
            let cause = if is_status(&e, 404) {
                Cause::Config
            } else {
                Cause::Hub
            };
            RemoteError::new(
                cause,
                format!(
                    "could not get admin kubeconfig secret {secret_key}: {}",
                    describe_error(&e)
                ),
            )
        })?;
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(KUBECONFIG_SECRET_KEY))
        .map(|b| b.0.as_slice());
    let endpoint = super::pool::Endpoint::of(cd, crate::plan::gate::active_api_url(cd));
    RemoteCluster::build(data, &endpoint, timeouts).await
}

fn to_value(o: DynamicObject) -> Result<Value, RemoteError> {
    serde_json::to_value(o).map_err(|e| RemoteError::api(e.to_string()))
}

async fn get_opt(
    rc: &RemoteCluster,
    api: &Api<DynamicObject>,
    name: &str,
) -> Result<Option<Value>, RemoteError> {
    with_timeout(rc, api.get_opt(name))
        .await?
        .map_err(from_kube)?
        .map(to_value)
        .transpose()
}

/// The live object, if it exists.
pub async fn live(
    rc: &RemoteCluster,
    r: &SyncResourceReference,
) -> Result<Option<Value>, RemoteError> {
    let api = api_for_ref(rc, r).await?;
    get_opt(rc, &api, &r.name).await
}

/// What applying `object` with `behavior` would store, as `ops::apply` sends it, with `dryRun=All`.
pub async fn apply(
    rc: &RemoteCluster,
    object: &Value,
    behavior: ApplyBehavior,
) -> Result<Preview, RemoteError> {
    let r = reference_of(object);
    let api = api_for_ref(rc, &r).await?;
    let live = if r.name.is_empty() {
        None
    } else {
        get_opt(rc, &api, &r.name).await?
    };
    let post = PostParams {
        dry_run: true,
        field_manager: Some(FIELD_MANAGER.into()),
    };
    let create = || async {
        let data: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| RemoteError::api(e.to_string()))?;
        with_timeout(rc, api.create(&post, &data)).await
    };
    let after = match (behavior, &live) {
        (ApplyBehavior::Apply, _) => {
            let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
            Some(
                with_timeout(rc, api.patch(&r.name, &params, &Patch::Apply(object)))
                    .await?
                    .map_err(from_kube)?,
            )
        }
        (ApplyBehavior::CreateOrUpdate, Some(_)) => {
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                dry_run: true,
                ..Default::default()
            };
            Some(
                with_timeout(rc, api.patch(&r.name, &params, &Patch::Merge(object)))
                    .await?
                    .map_err(from_kube)?,
            )
        }
        // CreateOnly reads first (as `ops::apply`): an existing object is left alone, and no create is tried.
        (ApplyBehavior::CreateOnly, Some(_)) => None,
        (ApplyBehavior::CreateOnly, None) => match create().await? {
            Ok(created) => Some(created),
            // Created by someone else since the read: `ops::apply` counts that as done, with nothing changed.
            Err(e) if is_status(&e, 409) && !r.name.is_empty() => None,
            Err(e) => return Err(from_kube(e)),
        },
        (_, None) => Some(create().await?.map_err(from_kube)?),
    };
    Ok(Preview {
        live,
        after: after.map(to_value).transpose()?,
    })
}

/// What a patch would make of its target, as `ops::patch` sends it, with `dryRun=All`. A missing target is an error
/// (the patch fails).
pub async fn patch(rc: &RemoteCluster, op: &PatchOp) -> Result<Preview, RemoteError> {
    let patch_type = op.patch_type.clone().map_err(RemoteError::api)?;
    let body = op.body().map_err(RemoteError::api)?;
    let resolved = resolve_patch_target(rc, op).await?;
    let api = api_for(rc, &resolved.resource, resolved.namespaced, &op.namespace);
    let live = get_opt(rc, &api, &op.name).await?;
    if live.is_none() {
        return Err(RemoteError::api(format!(
            "{} {} \"{}\" not found: the patch would fail",
            op.api_version, resolved.resource.kind, op.name
        )));
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        dry_run: true,
        ..Default::default()
    };
    let after = send_patch(rc, &api, &op.name, &params, patch_type, body).await?;
    Ok(Preview {
        live,
        after: Some(to_value(after)?),
    })
}

/// Whether deleting a tracked object would delete something: the live object (checked with a dry-run delete), or
/// None when it is already gone or its kind is no longer served.
pub async fn delete(
    rc: &RemoteCluster,
    r: &SyncResourceReference,
) -> Result<Option<Value>, RemoteError> {
    let Some(resolved) = resolve_any_version(rc, r).await? else {
        return Ok(None);
    };
    let api = api_for(rc, &resolved.resource, resolved.namespaced, &r.namespace);
    let Some(live) = get_opt(rc, &api, &r.name).await? else {
        return Ok(None);
    };
    let params = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    match with_timeout(rc, api.delete(&r.name, &params)).await? {
        Ok(_) => Ok(Some(live)),
        Err(e) if is_status(&e, 404) => Ok(None),
        Err(e) => Err(RemoteError::api(describe_error(&e)).context("could not delete resource")),
    }
}
