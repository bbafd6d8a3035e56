//! CustomResourceDefinitions a sync applies. After applying one, the sync waits until the API server says it is
//! `Established`, so that a CR of it later in the same syncset does not fail into backoff, and then refreshes the
//! discovery of the versions it serves. Pure: whether to wait, for what, and when it is done; `remote::ops` waits.

use serde_json::Value;

use super::identity::{group_of, reference_of};
use crate::api::SyncResourceReference;

/// Whether `r` is a CustomResourceDefinition (`apiextensions.k8s.io`, at any version).
pub fn is_crd(r: &SyncResourceReference) -> bool {
    r.kind == "CustomResourceDefinition" && group_of(&r.api_version) == "apiextensions.k8s.io"
}

/// What applying a CustomResourceDefinition makes the sync wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrdWait {
    /// The CRD's name, to read it back until it is Established.
    pub name: String,
    /// `group/version` of every version it declares: their discovery is refreshed once it is Established.
    pub group_versions: Vec<String>,
}

/// What to wait for after applying `object`: `Some` when it is a CustomResourceDefinition, `None` otherwise (nothing
/// to wait for).
pub fn wait_for(object: &Value) -> Option<CrdWait> {
    let r = reference_of(object);
    if !is_crd(&r) {
        return None;
    }
    let group = object["spec"]["group"].as_str().unwrap_or_default();
    let group_versions = object["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .map(|version| format!("{group}/{version}"))
        .collect();
    Some(CrdWait {
        name: r.name,
        group_versions,
    })
}

/// Whether a CRD as read back (its `status` at least) has the condition `Established=True`.
pub fn established(live: &Value) -> bool {
    live["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn crd(api_version: &str) -> Value {
        json!({
            "apiVersion": api_version, "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                     "versions": [{"name": "v1", "served": true, "storage": true}, {"name": "v1beta1"}, {"served": false}]}
        })
    }

    #[test]
    fn applying_a_crd_waits_for_it_and_refreshes_the_versions_it_declares() {
        for api_version in ["apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"] {
            assert_eq!(
                wait_for(&crd(api_version)),
                Some(CrdWait {
                    name: "widgets.example.com".into(),
                    group_versions: vec!["example.com/v1".into(), "example.com/v1beta1".into()],
                }),
                "{api_version}"
            );
        }
        let no_versions = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                                 "metadata": {"name": "x.example.com"}, "spec": {"group": "example.com"}});
        assert_eq!(
            wait_for(&no_versions).unwrap().group_versions,
            Vec::<String>::new()
        );
    }

    #[test]
    fn nothing_else_is_waited_for() {
        assert_eq!(
            wait_for(&crd("example.com/v1")),
            None,
            "another group's kind"
        );
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}});
        assert_eq!(wait_for(&cm), None);
    }

    #[test]
    fn a_crd_is_established_once_its_condition_says_true() {
        let with = |conditions: Value| json!({"spec": {}, "status": {"conditions": conditions}});
        assert!(established(&with(json!([
            {"type": "NamesAccepted", "status": "True"},
            {"type": "Established", "status": "True"}
        ]))));
        assert!(!established(&with(
            json!([{"type": "Established", "status": "False"}])
        )));
        assert!(!established(&with(
            json!([{"type": "NamesAccepted", "status": "True"}])
        )));
        assert!(!established(&json!({"spec": {}})), "no status yet");
    }
}
