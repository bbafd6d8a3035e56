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
