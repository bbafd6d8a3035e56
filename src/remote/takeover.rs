//! The I/O half of taking over an object Hive applied (`plan::takeover`): when the apply's answer shows fields
//! owned by a client-side manager of Hive's, hand them to hivesync's Apply entry (a JSON patch of `managedFields`,
//! guarded by the resourceVersion just returned) and apply again, which removes what the syncset no longer declares.
//! An object without such managers costs nothing more than the apply it already had.

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::Api;
use serde_json::{json, Value};

use super::error::RemoteError;
use super::ops::{from_kube, is_status, with_timeout};
use super::RemoteCluster;
use crate::consts::FIELD_MANAGER;
use crate::plan::takeover::upgraded_managed_fields;

/// Returns whether it took over (the fields hivesync owns changed after the apply's answer).
pub(crate) async fn take_over(
    rc: &RemoteCluster,
    api: &Api<DynamicObject>,
    applied: &DynamicObject,
    object: &Value,
) -> Result<bool, RemoteError> {
    let managed = applied
        .metadata
        .managed_fields
        .as_deref()
        .unwrap_or_default();
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let Some(upgraded) = upgraded_managed_fields(managed, FIELD_MANAGER, api_version) else {
        return Ok(false);
    };
    let name = applied.metadata.name.as_deref().unwrap_or_default();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": applied.metadata.resource_version},
        {"op": "replace", "path": "/metadata/managedFields", "value": upgraded},
    ]))
    .map_err(|e| RemoteError::api(format!("taking over Hive's field managers: {e}")))?;
    match with_timeout(
        rc,
        api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch)),
    )
    .await?
    {
        Ok(_) => {}
        // Changed in between (the test op failed) or gone: the next apply of this object tries again.
        Err(e) if is_status(&e, 409) || is_status(&e, 422) || is_status(&e, 404) => {
            return Ok(true)
        }
        Err(e) => return Err(from_kube(e).context("taking over Hive's field managers")),
    }
    tracing::info!(kind = object["kind"].as_str().unwrap_or_default(), %name, "took over the fields Hive applied");
    let params = PatchParams::apply(FIELD_MANAGER).force();
    with_timeout(rc, api.patch(name, &params, &Patch::Apply(object)))
        .await?
        .map_err(from_kube)?;
    Ok(true)
}
