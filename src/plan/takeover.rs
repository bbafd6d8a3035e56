//! Taking over objects that Hive applied. Hive applies with kubectl's client-side apply under its own field managers
//! (`hive6-clustersync` for Apply, `hive5-` for CreateOrUpdate's creates, `hive4-` for CreateOnly; operation
//! `Update`) and keeps the applied configuration in a `kubectl.kubernetes.io/last-applied-configuration`
//! annotation. hivesync applies server-side as `hivesync`: on an object Hive applied, the fields Hive set would stay
//! owned by Hive's manager too, so a field later dropped from the syncset would never be removed.
//!
//! So, as `kubectl apply --server-side` does since kubernetes#112905, the first apply of such an object moves the
//! fields of Hive's client-side managers into hivesync's own (Apply) entry and removes those entries; hivesync then
//! applies again, which removes what the syncset no longer declares, the last-applied annotation included (Hive
//! owned it, so hivesync now does, and does not declare it). Patch managers (`hive7-clustersync`) are left alone:
//! patches are never tracked or undone.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
use serde_json::{json, Value};

/// The client-side managers whose fields hivesync takes over: Hive's, and kubectl's own default (an object last
/// applied by hand with `kubectl apply`).
pub const CLIENT_SIDE_MANAGERS: [&str; 4] = [
    "hive6-clustersync",
    "hive5-clustersync",
    "hive4-clustersync",
    "kubectl-client-side-apply",
];

fn is_client_side(entry: &ManagedFieldsEntry) -> bool {
    entry.operation.as_deref() == Some("Update")
        && entry.subresource.as_deref().unwrap_or_default().is_empty()
        && entry
            .manager
            .as_deref()
            .is_some_and(|m| CLIENT_SIDE_MANAGERS.contains(&m))
}

/// The `managedFields` that hand the client-side managers' fields to `manager`'s Apply entry, or None when no such
/// manager owns anything here (the common case: nothing to do). `api_version` is the object's, used when `manager`
/// has no Apply entry yet.
pub fn upgraded_managed_fields(
    managed: &[ManagedFieldsEntry],
    manager: &str,
    api_version: &str,
) -> Option<Vec<ManagedFieldsEntry>> {
    if !managed.iter().any(is_client_side) {
        return None;
    }
    let mut taken = Value::Object(Default::default());
    for e in managed.iter().filter(|e| is_client_side(e)) {
        if let Some(FieldsV1(fields)) = &e.fields_v1 {
            merge(&mut taken, fields);
        }
    }
    let mut out: Vec<ManagedFieldsEntry> = managed
        .iter()
        .filter(|e| !is_client_side(e))
        .cloned()
        .collect();
    let ours = out.iter_mut().find(|e| {
        e.manager.as_deref() == Some(manager)
            && e.operation.as_deref() == Some("Apply")
            && e.subresource.as_deref().unwrap_or_default().is_empty()
    });
    match ours {
        Some(e) => {
            let mut fields = e.fields_v1.take().map(|f| f.0).unwrap_or_else(|| json!({}));
            merge(&mut fields, &taken);
            e.fields_v1 = Some(FieldsV1(fields));
        }
        None => out.push(ManagedFieldsEntry {
            api_version: Some(api_version.to_string()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(taken)),
            manager: Some(manager.to_string()),
            operation: Some("Apply".into()),
            ..Default::default()
        }),
    }
    Some(out)
}

/// Unions field set `from` into `into` (field sets are tries of `f:`/`k:`/`v:`/`i:` keys; leaves are `{}` or `.`).
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) if into.is_null() => *into = from.clone(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, operation: &str, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            api_version: Some("v1".into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(fields)),
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            ..Default::default()
        }
    }

    #[test]
    fn hive_s_client_side_fields_move_into_hivesync_s_apply_entry() {
        let managed = vec![
            entry(
                "hive6-clustersync",
                "Update",
                json!({"f:data": {".": {}, "f:keep": {}, "f:drop": {}},
                       "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}}),
            ),
            entry(
                "hive7-clustersync",
                "Update",
                json!({"f:data": {"f:patched": {}}}),
            ),
            entry(
                "hivesync",
                "Apply",
                json!({"f:data": {"f:keep": {}}, "f:metadata": {"f:labels": {"f:hive.openshift.io/managed": {}}}}),
            ),
        ];
        let out = upgraded_managed_fields(&managed, "hivesync", "v1").unwrap();
        let managers: Vec<_> = out.iter().map(|e| e.manager.clone().unwrap()).collect();
        assert_eq!(
            managers,
            ["hive7-clustersync", "hivesync"],
            "the patch manager stays"
        );
        assert_eq!(
            out[1].fields_v1.as_ref().unwrap().0,
            json!({"f:data": {".": {}, "f:keep": {}, "f:drop": {}},
                   "f:metadata": {"f:labels": {"f:hive.openshift.io/managed": {}},
                                  "f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}})
        );
    }

    #[test]
    fn nothing_to_take_over_means_no_write() {
        let managed = vec![
            entry("hivesync", "Apply", json!({"f:data": {}})),
            entry("kube-controller-manager", "Update", json!({"f:data": {}})),
            entry("hive6-clustersync", "Apply", json!({"f:data": {}})),
        ];
        assert_eq!(upgraded_managed_fields(&managed, "hivesync", "v1"), None);
    }

    #[test]
    fn without_an_apply_entry_of_its_own_hivesync_gets_one() {
        let managed = vec![entry(
            "kubectl-client-side-apply",
            "Update",
            json!({"f:data": {"f:a": {}}}),
        )];
        let out = upgraded_managed_fields(&managed, "hivesync", "v1").unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].manager.as_deref(), Some("hivesync"));
        assert_eq!(out[0].operation.as_deref(), Some("Apply"));
        assert_eq!(
            out[0].fields_v1.as_ref().unwrap().0,
            json!({"f:data": {"f:a": {}}})
        );
    }
}
