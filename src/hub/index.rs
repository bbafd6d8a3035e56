//! Which [Selector]SyncSets target which ClusterDeployment (HIVE-COMPAT.md §1.5). Pure functions over objects.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use crate::api::{ClusterDeployment, SelectorSyncSet, SyncSet};

/// Label selector semantics of `metav1.LabelSelectorAsSelector`: an empty or missing selector matches everything;
/// a selector that does not convert (unknown operator, bad values) matches nothing.
pub fn selector_matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    for (k, v) in selector.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default();
        let value = labels.get(&req.key);
        let ok = match req.operator.as_str() {
            "In" if !values.is_empty() => value.is_some_and(|v| values.contains(v)),
            "NotIn" if !values.is_empty() => value.is_none_or(|v| !values.contains(v)),
            "Exists" if values.is_empty() => value.is_some(),
            "DoesNotExist" if values.is_empty() => value.is_none(),
            // An invalid requirement makes the whole selector invalid: nothing matches.
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether a SelectorSyncSet's selector is valid (an invalid one is logged, and matches nothing).
pub fn selector_error(selector: Option<&LabelSelector>) -> Option<String> {
    for req in selector?.match_expressions.iter().flatten() {
        let n = req.values.as_ref().map_or(0, Vec::len);
        let valid = match req.operator.as_str() {
            "In" | "NotIn" => n > 0,
            "Exists" | "DoesNotExist" => n == 0,
            _ => false,
        };
        if !valid {
            return Some(format!(
                "invalid label selector requirement {:?} {:?} {:?}",
                req.key, req.operator, req.values
            ));
        }
    }
    None
}

pub fn syncset_targets(ss: &SyncSet, cd: &ClusterDeployment) -> bool {
    ss.namespace() == cd.namespace()
        && ss
            .spec
            .cluster_deployment_refs
            .iter()
            .any(|r| r.name == cd.name_any())
}

pub fn selector_syncset_targets(sss: &SelectorSyncSet, cd: &ClusterDeployment) -> bool {
    selector_matches(sss.spec.cluster_deployment_selector.as_ref(), cd.labels())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: (!values.is_empty())
                    .then(|| values.iter().map(|v| v.to_string()).collect()),
            }]),
            match_labels: None,
        }
    }

    #[test]
    fn an_empty_or_missing_selector_matches_every_cluster() {
        assert!(selector_matches(None, &labels(&[])));
        assert!(selector_matches(
            Some(&LabelSelector::default()),
            &labels(&[("a", "b")])
        ));
    }

    #[test]
    fn match_labels_and_expressions_follow_kubernetes() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("cluster-group", "hivecluster")])),
            match_expressions: None,
        };
        assert!(selector_matches(
            Some(&sel),
            &labels(&[("cluster-group", "hivecluster"), ("x", "y")])
        ));
        assert!(!selector_matches(
            Some(&sel),
            &labels(&[("cluster-group", "other")])
        ));
        assert!(selector_matches(
            Some(&expr("env", "In", &["a", "b"])),
            &labels(&[("env", "b")])
        ));
        assert!(!selector_matches(
            Some(&expr("env", "In", &["a"])),
            &labels(&[])
        ));
        assert!(selector_matches(
            Some(&expr("env", "NotIn", &["a"])),
            &labels(&[])
        ));
        assert!(selector_matches(
            Some(&expr("env", "Exists", &[])),
            &labels(&[("env", "")])
        ));
        assert!(selector_matches(
            Some(&expr("env", "DoesNotExist", &[])),
            &labels(&[])
        ));
    }

    #[test]
    fn an_invalid_selector_matches_nothing_and_says_why() {
        let bad = expr("env", "Bogus", &["a"]);
        assert!(!selector_matches(Some(&bad), &labels(&[("env", "a")])));
        assert!(selector_error(Some(&bad)).is_some());
        assert!(selector_error(Some(&expr("env", "In", &[]))).is_some());
        assert!(selector_error(Some(&expr("env", "In", &["a"]))).is_none());
    }
}
