//! Reading applied objects back from a managed cluster, for their health and for drift: the whole object when a
//! health rule needs its status, its metadata alone otherwise (`PartialObjectMetadata`: no spec, no data, so a
//! Secret's value is never read back). Responses are read straight into JSON values, which is what the health rules
//! and the drift check take: not into kube's typed objects first (that doubled the CPU of reading a drift round).

use kube::api::GetParams;
use kube::core::Request;
use serde_json::{json, Value};

use super::error::RemoteError;
use super::ops::{api_for_ref, from_kube, is_status, with_timeout};
use super::RemoteCluster;
use crate::api::SyncResourceReference;

/// Sends `request` and reads the answer as JSON; `None` for a 404.
async fn send(
    rc: &RemoteCluster,
    request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    verb: &'static str,
) -> Result<Option<Value>, RemoteError> {
    let mut request = request.map_err(|e| RemoteError::api(e.to_string()))?;
    request.extensions_mut().insert(verb);
    match with_timeout(rc, rc.client.request::<Value>(request)).await? {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_status(&e, 404) => Ok(None),
        Err(e) => Err(from_kube(e)),
    }
}

/// The object as `{"apiVersion", "kind", "metadata", …}` (`whole`) or `{"metadata": …}`; `None` when it is not there.
pub async fn read(
    rc: &RemoteCluster,
    r: &SyncResourceReference,
    whole: bool,
) -> Result<Option<Value>, RemoteError> {
    let api = api_for_ref(rc, r).await?;
    let request = Request::new(api.resource_url());
    let gp = GetParams::default();
    if whole {
        return send(rc, request.get(&r.name, &gp), "get").await;
    }
    let meta = send(rc, request.get_metadata(&r.name, &gp), "get").await?;
    Ok(meta.map(|mut m| json!({ "metadata": m["metadata"].take() })))
}

/// The objects of one kind in one namespace that carry hivesync's managed label, by name, with one LIST (metadata
/// only unless `whole`): a look then costs a request per kind and namespace, not per object. `sample` names the kind
/// and the namespace. The LIST asks for at most `limit` objects; `None` when there are more (the namespace holds
/// more managed objects than the look expects: the caller reads its objects one by one instead, so a crowded
/// namespace never makes a look read more than it asked for).
pub async fn read_group(
    rc: &RemoteCluster,
    sample: &SyncResourceReference,
    whole: bool,
    limit: u32,
) -> Result<Option<std::collections::HashMap<String, Value>>, RemoteError> {
    let api = api_for_ref(rc, sample).await?;
    let params = kube::api::ListParams::default()
        .labels(&format!("{}=true", crate::consts::MANAGED_LABEL))
        .limit(limit);
    let request = Request::new(api.resource_url());
    let request = if whole {
        request.list(&params)
    } else {
        request.list_metadata(&params)
    };
    let Some(mut list) = send(rc, request, "list").await? else {
        return Err(RemoteError::api(format!(
            "the list of {} in {:?} was not found",
            sample.kind, sample.namespace
        )));
    };
    // A continue token: more managed objects there than asked for.
    if list["metadata"]["continue"]
        .as_str()
        .is_some_and(|c| !c.is_empty())
    {
        return Ok(None);
    }
    let Value::Array(items) = list["items"].take() else {
        return Ok(Some(Default::default()));
    };
    let mut out = std::collections::HashMap::new();
    for mut item in items {
        let Some(name) = item["metadata"]["name"].as_str().map(str::to_owned) else {
            continue;
        };
        let object = if whole {
            item
        } else {
            json!({ "metadata": item["metadata"].take() })
        };
        out.insert(name, object);
    }
    Ok(Some(out))
}
