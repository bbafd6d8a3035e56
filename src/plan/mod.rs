//! The pure plan step: everything Hive decides without I/O (docs/hive-compatibility.md, "The sync"). Nothing here
//! talks to a cluster; the controller feeds in what it observed and executes what comes out.
//!
//! - `decode`: a syncset's `resources`, `secretMappings` and `patches` into the ordered operations to send;
//! - `identity`: object references and Hive's group-based identity;
//! - `entry`: when a syncset is applied, the `resourcesToDelete` algebra, and the new `SyncStatus` entry;
//! - `conditions`: the ClusterSync `Failed` condition, `firstSuccessTime`, and the ClusterDeployment `SyncSetFailed`;
//! - `rollout`: which clusters a progressive rollout's update reaches, and when its next step starts.
//! - `yaml_v2`: patch bodies read as Hive reads them (YAML 1.1, into the JSON it sends).

pub mod conditions;
pub mod crd;
pub mod decode;
pub mod deletion;
pub mod drift;
pub mod entry;
pub mod gate;
pub mod health;
pub mod identity;
pub mod message;
pub mod reach;
pub mod rollout;
pub mod run;
pub mod select;
pub mod status;
pub mod takeover;
pub mod target;
pub mod template;
pub mod yaml_v2;

/// Kubernetes `utilerrors.NewAggregate` formatting: one message alone, several as `[a, b, ...]`.
pub fn aggregate<S: AsRef<str>>(messages: &[S]) -> Option<String> {
    match messages {
        [] => None,
        [one] => Some(one.as_ref().to_string()),
        many => Some(format!(
            "[{}]",
            many.iter()
                .map(|m| m.as_ref())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod examples_tests;

#[cfg(test)]
mod tests {
    use super::aggregate;

    #[test]
    fn aggregate_formats_like_kubernetes() {
        assert_eq!(aggregate::<&str>(&[]), None);
        assert_eq!(aggregate(&["a"]).unwrap(), "a");
        assert_eq!(aggregate(&["a", "b"]).unwrap(), "[a, b]");
    }
}
