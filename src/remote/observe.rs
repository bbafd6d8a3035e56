//! Reading applied objects back from a managed cluster, for their health and for drift: the whole object when a
//! health rule needs its status, its metadata alone otherwise (`PartialObjectMetadata`: no spec, no data, so a
//! Secret's value is never read back).

use kube::api::DynamicObject;
use serde_json::{json, Value};

use super::error::RemoteError;
use super::ops::{api_for_ref, from_kube, with_timeout};
use super::RemoteCluster;
use crate::api::SyncResourceReference;

/// The object as `{"apiVersion", "kind", "metadata", …}` (`whole`) or `{"metadata": …}`; `None` when it is not there.
pub async fn read(
    rc: &RemoteCluster,
    r: &SyncResourceReference,
    whole: bool,
) -> Result<Option<Value>, RemoteError> {
    let api = api_for_ref(rc, r).await?;
    if whole {
        let live: Option<DynamicObject> = with_timeout(rc, api.get_opt(&r.name))
            .await?
            .map_err(from_kube)?;
        return live
            .map(|o| serde_json::to_value(o).map_err(|e| RemoteError::api(e.to_string())))
            .transpose();
    }
    let meta = with_timeout(rc, api.get_metadata_opt(&r.name))
        .await?
        .map_err(from_kube)?;
    Ok(meta.map(|m| json!({ "metadata": m.metadata })))
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
    // A continue token: more managed objects there than asked for.
    let cut = |m: &kube::api::ListMeta| m.continue_.as_deref().is_some_and(|c| !c.is_empty());
    let mut out = std::collections::HashMap::new();
    if whole {
        let list = with_timeout(rc, api.list(&params))
            .await?
            .map_err(from_kube)?;
        if cut(&list.metadata) {
            return Ok(None);
        }
        for o in list.items {
            let name = o.metadata.name.clone().unwrap_or_default();
            let v = serde_json::to_value(o).map_err(|e| RemoteError::api(e.to_string()))?;
            out.insert(name, v);
        }
    } else {
        let list = with_timeout(rc, api.list_metadata(&params))
            .await?
            .map_err(from_kube)?;
        if cut(&list.metadata) {
            return Ok(None);
        }
        for m in list.items {
            let name = m.metadata.name.clone().unwrap_or_default();
            out.insert(name, json!({ "metadata": m.metadata }));
        }
    }
    Ok(Some(out))
}
