//! The calls sent to a managed cluster. Each has a timeout; errors ([`RemoteError`]) carry the API server's message
//! and say whether the cluster could not be reached at all (so the caller can mark it Unreachable at once).

use std::future::Future;
use std::time::Duration;

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::Api;
use serde_json::{json, Value};

use super::discovery::Resolved;
use super::error::RemoteError;
use super::RemoteCluster;
use crate::api::SyncResourceReference;
use crate::consts::FIELD_MANAGER;
use crate::plan::decode::{ApplyBehavior, PatchOp, PatchType};
use crate::plan::identity::reference_of;

/// The API server's own message for API errors; otherwise the error with its causes (`client error (Connect):
/// tcp connect error: Connection refused (os error 111)`), so a condition says why a call failed. A managed cluster
/// writes this text, so it is cut to `MAX_MESSAGE_BYTES`.
pub fn describe_error(e: &kube::Error) -> String {
    if let Some(limit) = body_limit_hit(e) {
        return limit;
    }
    if let kube::Error::Api(s) = e {
        return crate::plan::message::cap(s.message.clone());
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    crate::plan::message::cap(out)
}

/// The response body was cut at `MAX_SPOKE_RESPONSE_BYTES` (see `metrics::client`).
fn body_limit_hit(e: &kube::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return Some(format!(
                "the cluster's response is larger than {} bytes; not read",
                crate::consts::MAX_SPOKE_RESPONSE_BYTES
            ));
        }
        source = cause.source();
    }
    None
}

/// A failure to talk to the cluster at all, as opposed to an answer (an API error, a body too large to read).
pub(crate) fn is_connection_error(e: &kube::Error) -> bool {
    matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_)) && body_limit_hit(e).is_none()
}

pub(crate) fn from_kube(e: kube::Error) -> RemoteError {
    RemoteError::from_kube(&e)
}

pub(crate) fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

pub(crate) async fn with_timeout<T>(
    rc: &RemoteCluster,
    fut: impl Future<Output = Result<T, kube::Error>>,
) -> Result<Result<T, kube::Error>, RemoteError> {
    within(rc.timeouts.request, fut).await
}

async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, kube::Error>>,
) -> Result<Result<T, kube::Error>, RemoteError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| RemoteError::timeout(format!("request timed out after {limit:?}")))
}

/// A discovery lookup within the cluster's request timeout.
async fn discover(
    rc: &RemoteCluster,
    lookup: impl Future<Output = Result<Resolved, RemoteError>>,
) -> Result<Resolved, RemoteError> {
    tokio::time::timeout(rc.timeouts.request, lookup)
        .await
        .map_err(|_| RemoteError::timeout("discovery timed out"))?
}

async fn resolve(
    rc: &RemoteCluster,
    api_version: &str,
    kind: &str,
) -> Result<Resolved, RemoteError> {
    discover(rc, rc.discovery.resolve(&rc.client, api_version, kind)).await
}

/// A patch's target, named as `kubectl patch` takes it (Kind, resource, singular or short name; see
/// [`super::discovery::DiscoveryCache::resolve_patch_target`]).
pub(crate) async fn resolve_patch_target(
    rc: &RemoteCluster,
    op: &PatchOp,
) -> Result<Resolved, RemoteError> {
    discover(
        rc,
        rc.discovery
            .resolve_patch_target(&rc.client, &op.api_version, &op.kind),
    )
    .await
}

pub(crate) fn api_for(
    rc: &RemoteCluster,
    ar: &ApiResource,
    namespaced: bool,
    namespace: &str,
) -> Api<DynamicObject> {
    if namespaced {
        Api::namespaced_with(rc.client.clone(), namespace, ar)
    } else {
        Api::all_with(rc.client.clone(), ar)
    }
}

/// The Api for an object, refusing a namespaced object without a namespace (Hive sends it and gets an API error).
pub(crate) async fn api_for_ref(
    rc: &RemoteCluster,
    r: &SyncResourceReference,
) -> Result<Api<DynamicObject>, RemoteError> {
    let resolved = resolve(rc, &r.api_version, &r.kind).await?;
    if resolved.namespaced && r.namespace.is_empty() {
        return Err(RemoteError::api(format!(
            "a namespace must be specified for namespaced resource {} \"{}\"",
            r.kind, r.name
        )));
    }
    Ok(api_for(
        rc,
        &resolved.resource,
        resolved.namespaced,
        &r.namespace,
    ))
}

/// Applies one desired object with the syncset's `applyBehavior`. Returns the fingerprint of the fields hivesync owns
/// on the object as the server answered (`plan::drift::owned_fields`), the baseline of drift checks, when the answer
/// carried it (not under `CreateOnly`, nor when Hive's field managers were just taken over).
pub async fn apply(
    rc: &RemoteCluster,
    object: &Value,
    behavior: ApplyBehavior,
) -> Result<Option<u64>, RemoteError> {
    let r = reference_of(object);
    let api = api_for_ref(rc, &r).await?;
    let data: DynamicObject =
        serde_json::from_value(object.clone()).map_err(|e| RemoteError::api(e.to_string()))?;
    let post = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let mut owned = None;
    match behavior {
        ApplyBehavior::Apply => {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let applied = with_timeout(rc, api.patch(&r.name, &params, &Patch::Apply(object)))
                .await?
                .map_err(from_kube)?;
            if !super::takeover::take_over(rc, &api, &applied, object).await? {
                owned = owned_fields(&applied);
            }
        }
        ApplyBehavior::CreateOrUpdate => {
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            };
            match with_timeout(rc, api.patch(&r.name, &params, &Patch::Merge(object))).await? {
                Ok(patched) => owned = owned_fields(&patched),
                Err(e) if is_status(&e, 404) => {
                    let created = with_timeout(rc, api.create(&post, &data))
                        .await?
                        .map_err(from_kube)?;
                    owned = owned_fields(&created);
                }
                Err(e) => return Err(from_kube(e)),
            }
        }
        ApplyBehavior::CreateOnly => {
            // Read first, as Hive does: an object that exists is left alone and nothing is sent, so admission that
            // refuses a create although the object exists (a terminating namespace, an exhausted quota, a webhook,
            // credentials that may get but not create) is never asked. Without a name (`generateName`) every
            // apply creates.
            let exists = !r.name.is_empty()
                && with_timeout(rc, api.get_opt(&r.name))
                    .await?
                    .map_err(from_kube)?
                    .is_some();
            if !exists {
                match with_timeout(rc, api.create(&post, &data)).await? {
                    Ok(_) => {}
                    // Created by someone else since the read.
                    Err(e) if is_status(&e, 409) && !r.name.is_empty() => {}
                    Err(e) => return Err(from_kube(e)),
                }
            }
        }
    }
    if let Some(crd) = crate::plan::crd::wait_for(object) {
        wait_established(rc, &api, &crd).await?;
    }
    Ok(owned)
}

/// `plan::drift::owned_fields` of an object the server returned.
fn owned_fields(o: &DynamicObject) -> Option<u64> {
    let managed = serde_json::to_value(&o.metadata.managed_fields).ok()?;
    crate::plan::drift::owned_fields(&json!({ "managedFields": managed }), FIELD_MANAGER)
}

/// A CR after its CRD in the same syncset waits for the CRD to be Established instead of failing into backoff
/// (`plan::crd` says what to wait for and when it is done).
async fn wait_established(
    rc: &RemoteCluster,
    api: &Api<DynamicObject>,
    crd: &crate::plan::crd::CrdWait,
) -> Result<(), RemoteError> {
    let name = &crd.name;
    let deadline = tokio::time::Instant::now() + rc.timeouts.request;
    loop {
        let live = with_timeout(rc, api.get(name)).await?.map_err(from_kube)?;
        if crate::plan::crd::established(&live.data) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RemoteError::api(format!(
                "CustomResourceDefinition {name} did not become Established"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for group_version in &crd.group_versions {
        rc.discovery.invalidate(group_version).await;
    }
    Ok(())
}

/// Sends one patch as a PATCH request of its type, its body as JSON (converted from YAML by the plan); the server
/// computes it. As in kubectl, a bad type or body fails before the target is resolved.
pub async fn patch(rc: &RemoteCluster, op: &PatchOp) -> Result<(), RemoteError> {
    let patch_type = op.patch_type.clone().map_err(RemoteError::api)?;
    let body = op.body().map_err(RemoteError::api)?;
    let resolved = resolve_patch_target(rc, op).await?;
    let api = api_for(rc, &resolved.resource, resolved.namespaced, &op.namespace);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    send_patch(rc, &api, &op.name, &params, patch_type, body)
        .await
        .map(|_| ())
}

/// Sends `body` as a PATCH of `name` of type `patch_type` with `params` (a JSON patch is parsed from `body` first).
pub(crate) async fn send_patch(
    rc: &RemoteCluster,
    api: &Api<DynamicObject>,
    name: &str,
    params: &PatchParams,
    patch_type: PatchType,
    body: Value,
) -> Result<DynamicObject, RemoteError> {
    let result = match patch_type {
        PatchType::Strategic => {
            with_timeout(rc, api.patch(name, params, &Patch::Strategic(body))).await?
        }
        PatchType::Merge => with_timeout(rc, api.patch(name, params, &Patch::Merge(body))).await?,
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(body)
                .map_err(|e| RemoteError::api(format!("unable to parse json patch: {e}")))?;
            with_timeout(rc, api.patch(name, params, &Patch::<()>::Json(ops))).await?
        }
    };
    result.map_err(from_kube)
}

/// The resource of a tracked object at whichever version the cluster serves its kind, or None when it serves the kind
/// at no version any more. Errors say `could not get mapping: ...`, as Hive's.
pub(crate) async fn resolve_any_version(
    rc: &RemoteCluster,
    r: &SyncResourceReference,
) -> Result<Option<Resolved>, RemoteError> {
    tokio::time::timeout(
        rc.timeouts.request,
        rc.discovery
            .resolve_any_version(&rc.client, &r.api_version, &r.kind),
    )
    .await
    .map_err(|_| RemoteError::timeout("could not get mapping: discovery timed out"))?
    .map_err(|e| e.context("could not get mapping"))
}

/// Deletes a tracked object; already gone is success. Messages follow Hive's (`could not get mapping: ...`,
/// `could not delete resource: ...`).
pub async fn delete(rc: &RemoteCluster, r: &SyncResourceReference) -> Result<(), RemoteError> {
    // The cluster serves the kind at no version any more (its CRD was deleted): no such object can exist.
    let Some(resolved) = resolve_any_version(rc, r).await? else {
        return Ok(());
    };
    let api = api_for(rc, &resolved.resource, resolved.namespaced, &r.namespace);
    match with_timeout(rc, api.delete(&r.name, &DeleteParams::default())).await? {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) => Ok(()),
        Err(e) => Err(from_kube(e).context("could not delete resource")),
    }
}

/// A cheap reachability probe: `GET /version`, within `limit` (or the cluster's request timeout, if shorter).
pub async fn probe(rc: &RemoteCluster, limit: Duration) -> Result<(), RemoteError> {
    let url = format!("{}/version", rc.url.trim_end_matches('/'));
    let prefix = |e: RemoteError| e.context(format_args!("Get \"{url}\""));
    within(
        limit.min(rc.timeouts.request),
        rc.client.apiserver_version(),
    )
    .await
    .map_err(prefix)?
    .map(|_| ())
    .map_err(|e| prefix(from_kube(e)))
}
