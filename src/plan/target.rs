//! Which [Selector]SyncSets target which ClusterDeployment (docs/hive-compatibility.md, "Targeting"). Pure
//! functions over objects: the plan (`select`), the hub's event index and the CLI share them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use crate::api::{ClusterDeployment, SelectorSyncSet, SyncSet};

/// Label selector semantics of `metav1.LabelSelectorAsSelector`: an empty or missing selector matches everything;
/// a selector that does not convert ([`selector_error`]: an unknown operator, a wrong number of values, a key or value
/// that is not a valid label key or value) matches nothing.
pub fn selector_matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    if selector_error(Some(selector)).is_some() {
        return false;
    }
    for (k, v) in selector.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    selector.match_expressions.iter().flatten().all(|req| {
        let values = req.values.as_deref().unwrap_or_default();
        let value = labels.get(&req.key);
        match req.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    })
}

/// Why a SelectorSyncSet's selector does not convert, in the words of `metav1.LabelSelectorAsSelector` (and
/// `labels.NewRequirement`, which checks every key and value): None when it is valid. `matchLabels` are checked
/// first, by key (Go's map order is random; this is one of the orders it may take), then `matchExpressions` in order;
/// the first requirement with errors is reported with all of its errors.
pub fn selector_error(selector: Option<&LabelSelector>) -> Option<String> {
    let selector = selector?;
    for (k, v) in selector.match_labels.iter().flatten() {
        if let Some(e) = requirement_errors(k, None, std::slice::from_ref(v)) {
            return Some(e);
        }
    }
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default();
        let count_error = match req.operator.as_str() {
            "In" | "NotIn" => values
                .is_empty()
                .then_some("for 'in', 'notin' operators, values set can't be empty"),
            "Exists" | "DoesNotExist" => (!values.is_empty())
                .then_some("values set must be empty for exists and does not exist"),
            other => return Some(format!("{other:?} is not a valid label selector operator")),
        };
        let count_error = count_error.map(|detail| {
            // Go copies the values with `append([]string(nil), ...)`: none at all is nil, shown as null.
            let shown = serde_json::to_string(values)
                .ok()
                .filter(|_| !values.is_empty())
                .unwrap_or_else(|| "null".into());
            format!("values: Invalid value: {shown}: {detail}")
        });
        if let Some(e) = requirement_errors(&req.key, count_error, values) {
            return Some(e);
        }
    }
    None
}

/// `labels.NewRequirement`'s errors for one requirement, aggregated as Kubernetes does (`a` or `[a, b]`).
fn requirement_errors(key: &str, count_error: Option<String>, values: &[String]) -> Option<String> {
    let mut errors = Vec::new();
    let key_errors = label_key_errors(key);
    if !key_errors.is_empty() {
        errors.push(format!(
            "key: Invalid value: {key:?}: {}",
            key_errors.join("; ")
        ));
    }
    errors.extend(count_error);
    for (i, v) in values.iter().enumerate() {
        let value_errors = label_value_errors(v);
        if !value_errors.is_empty() {
            errors.push(format!(
                "values[{i}][{key}]: Invalid value: {v:?}: {}",
                value_errors.join("; ")
            ));
        }
    }
    crate::plan::aggregate(&errors)
}

const LABEL_KEY_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_REGEX: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_REGEX: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// Go's `RegexError`: the message, the examples and the regex.
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let examples: String = examples
        .iter()
        .map(|e| format!("'{e}', "))
        .collect::<Vec<_>>()
        .join(" or ");
    format!("{message} (e.g. {examples}regex used for validation is '{regex}')")
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: a label name, or a non-empty label value.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A lowercase RFC 1123 subdomain's form (without its length limit): dot-separated labels of `[-a-z0-9]`, each
/// starting and ending with `[a-z0-9]`.
fn is_dns1123_subdomain(s: &str) -> bool {
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.split('.').all(|label| {
        let b = label.as_bytes();
        match (b.first(), b.last()) {
            (Some(first), Some(last)) => {
                alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
            }
            _ => false,
        }
    })
}

/// Go's `IsQualifiedName` / `IsLabelKey`: an optional DNS-1123 subdomain prefix (≤ 253) and `/`, then a name
/// (≤ 63). Empty when valid.
fn label_key_errors(key: &str) -> Vec<String> {
    let key_regex_error = || {
        regex_error(
            LABEL_KEY_MESSAGE,
            LABEL_KEY_REGEX,
            &["MyName", "my.name", "123-abc"],
        )
    };
    let mut errors = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errors.push("prefix part must be no more than 253 bytes".to_string());
                }
                if !is_dns1123_subdomain(prefix) {
                    errors.push(format!(
                        "prefix part {}",
                        regex_error(SUBDOMAIN_MESSAGE, SUBDOMAIN_REGEX, &["example.com"])
                    ));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                key_regex_error()
            )]
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 bytes".to_string());
    }
    if !is_label_name(name) {
        errors.push(format!("name part {}", key_regex_error()));
    }
    errors
}

/// Go's `IsValidLabelValue`: empty, or a label name of at most 63 bytes. Empty when valid.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 bytes".to_string());
    }
    if !value.is_empty() && !is_label_name(value) {
        errors.push(regex_error(
            LABEL_VALUE_MESSAGE,
            LABEL_VALUE_REGEX,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// Whether a SyncSet targets `cd`: same namespace, and `cd` named in its `clusterDeploymentRefs`.
pub fn syncset_targets(ss: &SyncSet, cd: &ClusterDeployment) -> bool {
    // Borrowed, not `namespace()` / `name_any()`: this runs for every SyncSet at every reconcile.
    let name = cd.metadata.name.as_deref().unwrap_or_default();
    ss.metadata.namespace == cd.metadata.namespace
        && ss
            .spec
            .cluster_deployment_refs
            .iter()
            .any(|r| r.name == name)
}

/// Whether a SelectorSyncSet's `clusterDeploymentSelector` selects `cd` (see [`selector_matches`]).
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
    fn a_syncset_targets_the_clusters_it_names_in_its_namespace_and_a_selector_syncset_those_it_selects(
    ) {
        let cd: ClusterDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": "c1", "namespace": "ns1", "labels": {"env": "prod"}},
            "spec": {"clusterName": "c1", "baseDomain": "d", "platform": {}}
        }))
        .unwrap();
        let ss = |namespace: &str, refs: &[&str]| -> SyncSet {
            let refs: Vec<_> = refs
                .iter()
                .map(|r| serde_json::json!({"name": r}))
                .collect();
            serde_json::from_value(serde_json::json!({
                "apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
                "metadata": {"name": "s", "namespace": namespace},
                "spec": {"clusterDeploymentRefs": refs}
            }))
            .unwrap()
        };
        assert!(syncset_targets(&ss("ns1", &["c0", "c1"]), &cd));
        assert!(!syncset_targets(&ss("ns1", &["c2"]), &cd));
        assert!(
            !syncset_targets(&ss("ns2", &["c1"]), &cd),
            "another namespace"
        );
        let sss = |selector: serde_json::Value| -> SelectorSyncSet {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
                "metadata": {"name": "s"},
                "spec": {"clusterDeploymentSelector": selector}
            }))
            .unwrap()
        };
        assert!(selector_syncset_targets(&sss(serde_json::json!({})), &cd));
        assert!(selector_syncset_targets(
            &sss(serde_json::json!({"matchLabels": {"env": "prod"}})),
            &cd
        ));
        assert!(!selector_syncset_targets(
            &sss(serde_json::json!({"matchLabels": {"env": "dev"}})),
            &cd
        ));
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
        assert_eq!(
            selector_error(Some(&bad)).as_deref(),
            Some(r#""Bogus" is not a valid label selector operator"#)
        );
        assert_eq!(
            selector_error(Some(&expr("env", "In", &[]))).as_deref(),
            Some("values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty")
        );
        assert!(selector_error(Some(&expr("env", "In", &["a"]))).is_none());
        assert!(selector_error(Some(&expr("env", "Exists", &["a"]))).is_some());
    }

    // Go's LabelSelectorAsSelector refuses invalid keys and values, and Hive then matches no cluster. Before, these
    // two matched every cluster without the label: in practice the whole fleet.
    #[test]
    fn an_invalid_key_or_value_makes_the_selector_match_nothing() {
        let none = labels(&[]);
        let bad_key = expr("foo bar", "DoesNotExist", &[]);
        assert!(!selector_matches(Some(&bad_key), &none));
        assert!(!selector_matches(
            Some(&bad_key),
            &labels(&[("env", "prod")])
        ));
        assert_eq!(
            selector_error(Some(&bad_key)).as_deref(),
            Some(
                "key: Invalid value: \"foo bar\": name part must consist of alphanumeric characters, '-', '_' or '.', \
                 and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', \
                 regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            )
        );
        let bad_value = expr("env", "NotIn", &["prod cluster"]);
        assert!(!selector_matches(Some(&bad_value), &none));
        assert!(!selector_matches(
            Some(&bad_value),
            &labels(&[("env", "dev")])
        ));
        assert_eq!(
            selector_error(Some(&bad_value)).as_deref(),
            Some(
                "values[0][env]: Invalid value: \"prod cluster\": a valid label must be an empty string or consist of \
                 alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character \
                 (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
                 '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            )
        );
        // The same value made valid matches as before.
        assert!(selector_matches(
            Some(&expr("env", "NotIn", &["prod-cluster"])),
            &none
        ));
        // matchLabels: keys and values too.
        let ml = |k: &str, v: &str| LabelSelector {
            match_labels: Some(labels(&[(k, v)])),
            match_expressions: None,
        };
        assert!(selector_error(Some(&ml("env", "prod"))).is_none());
        assert!(
            selector_error(Some(&ml("env", ""))).is_none(),
            "an empty value is valid"
        );
        assert!(selector_error(Some(&ml("env", "a b")))
            .unwrap()
            .starts_with("values[0][env]: "));
        assert!(selector_error(Some(&ml("-env", "a")))
            .unwrap()
            .starts_with("key: "));
        // Several errors in one requirement aggregate as Kubernetes does.
        let two = selector_error(Some(&expr("a b", "In", &["c d"]))).unwrap();
        assert!(
            two.starts_with("[key: Invalid value: \"a b\": ") && two.contains(", values[0][a b]: "),
            "{two}"
        );
    }

    #[test]
    fn label_keys_are_qualified_names() {
        let valid = |k: &str| label_key_errors(k).is_empty();
        for k in [
            "env",
            "a",
            "A.b-c_d9",
            "hive.openshift.io/cluster-type",
            "example.com/MyName",
            "123-abc",
            &"n".repeat(63),
            &format!(
                "{}/n",
                [
                    "a".repeat(63),
                    "b".repeat(63),
                    "c".repeat(63),
                    "d".repeat(61)
                ]
                .join(".")
            ),
        ] {
            assert!(valid(k), "{k} should be valid: {:?}", label_key_errors(k));
        }
        for k in [
            "",
            "foo bar",
            "-env",
            "env-",
            "env.",
            "é",
            "/env",
            "Example.com/env",
            "ex_ample.com/env",
            "example..com/env",
            "example.com/",
            "a/b/c",
            &"n".repeat(64),
            &format!(
                "{}/n",
                [
                    "a".repeat(63),
                    "b".repeat(63),
                    "c".repeat(63),
                    "d".repeat(62)
                ]
                .join(".")
            ),
        ] {
            assert!(!valid(k), "{k} should be invalid");
        }
        assert_eq!(label_key_errors("/env"), ["prefix part must be non-empty"]);
        assert_eq!(
            label_key_errors(&"n".repeat(64))[0],
            "name part must be no more than 63 bytes"
        );
        assert_eq!(
            label_key_errors("a/b/c")[0],
            "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with \
             an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
             '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. \
             'example.com/MyName')"
        );
        assert_eq!(
            label_key_errors("Example.com/env"),
            ["prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or \
              '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for \
              validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );
    }

    #[test]
    fn label_values_may_be_empty_and_are_at_most_63_bytes() {
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("prod_1.a-b").is_empty());
        assert!(label_value_errors(&"v".repeat(63)).is_empty());
        assert_eq!(
            label_value_errors(&"v".repeat(64)),
            ["must be no more than 63 bytes"]
        );
        for v in ["prod cluster", "-a", "a-", ".", "a/b", "ü"] {
            assert!(!label_value_errors(v).is_empty(), "{v} should be invalid");
        }
    }
}
