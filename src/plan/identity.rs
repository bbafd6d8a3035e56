//! Object references and identity. Hive compares tracked objects by API group + kind + namespace + name, ignoring the
//! version, so `apps/v1beta1 Deployment x` and `apps/v1 Deployment x` are one object (docs/hive-compatibility.md,
//! "Upsert, Sync and resourcesToDelete").

use crate::api::SyncResourceReference;

/// The group of an `apiVersion` (`""` for the core group `v1`).
pub fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// Hive's containment test: same group, kind, namespace and name.
pub fn same_object(a: &SyncResourceReference, b: &SyncResourceReference) -> bool {
    a.kind == b.kind
        && a.name == b.name
        && a.namespace == b.namespace
        && group_of(&a.api_version) == group_of(&b.api_version)
}

pub fn contains(list: &[SyncResourceReference], r: &SyncResourceReference) -> bool {
    list.iter().any(|x| same_object(x, r))
}

/// A hash of an object's identity as Hive compares it (API group, kind, namespace, name): equal for `same_object`.
fn identity_hash(r: &SyncResourceReference) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (group_of(&r.api_version), &r.kind, &r.namespace, &r.name).hash(&mut h);
    h.finish()
}

/// Which of a cluster's syncsets declare each object, indexed once per run; a syncset is its index among the run's
/// targets. It replaces per-syncset copies of "everything declared elsewhere", which at ~80 syncsets × ~300 objects
/// per cluster cost a quadratic amount of memory in every concurrent run (the benchmark's heap profile). The index
/// is 16 bytes per declared reference (identity hash, syncset, position) and points into `sets`, so it copies no
/// string and a lookup allocates nothing; a hash match is confirmed with `same_object`.
#[derive(Debug)]
pub struct Declared<S> {
    sets: Vec<S>,
    /// (identity hash, syncset, position in that syncset's references), sorted.
    index: Vec<(u64, u32, u32)>,
}

impl<S: AsRef<[SyncResourceReference]>> Declared<S> {
    /// `sets[i]` holds the references syncset `i` declares.
    pub fn new(sets: impl IntoIterator<Item = S>) -> Self {
        let sets: Vec<S> = sets.into_iter().collect();
        let mut index: Vec<(u64, u32, u32)> = sets
            .iter()
            .enumerate()
            .flat_map(|(i, set)| {
                set.as_ref()
                    .iter()
                    .enumerate()
                    .map(move |(p, r)| (identity_hash(r), i as u32, p as u32))
            })
            .collect();
        index.sort_unstable();
        Self { sets, index }
    }

    /// The syncsets that declare `r`, ascending, each possibly more than once.
    fn matches<'a>(&'a self, r: &'a SyncResourceReference) -> impl Iterator<Item = usize> + 'a {
        let h = identity_hash(r);
        let start = self.index.partition_point(|e| e.0 < h);
        self.index[start..]
            .iter()
            .take_while(move |e| e.0 == h)
            .filter(move |&&(_, i, p)| same_object(&self.sets[i as usize].as_ref()[p as usize], r))
            .map(|&(_, i, _)| i as usize)
    }

    /// The syncsets that declare `r`, in index order.
    pub fn declaring(&self, r: &SyncResourceReference) -> Vec<usize> {
        let mut out: Vec<usize> = self.matches(r).collect();
        out.dedup();
        out
    }

    /// Whether any syncset declares `r`.
    pub fn any(&self, r: &SyncResourceReference) -> bool {
        self.matches(r).next().is_some()
    }

    /// Whether a syncset other than `set` declares `r`.
    pub fn by_other(&self, r: &SyncResourceReference, set: usize) -> bool {
        self.matches(r).any(|i| i != set)
    }
}

/// The reference of a decoded object.
pub fn reference_of(obj: &serde_json::Value) -> SyncResourceReference {
    let s =
        |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let meta = obj.get("metadata");
    SyncResourceReference {
        api_version: s(obj.get("apiVersion")),
        kind: s(obj.get("kind")),
        name: s(meta.and_then(|m| m.get("name"))),
        namespace: s(meta.and_then(|m| m.get("namespace"))),
    }
}

/// Hive's sort of `resourcesToDelete`: apiVersion, kind, namespace, name, byte-wise.
pub fn sort_references(list: &mut [SyncResourceReference]) {
    list.sort_by(|a, b| {
        (&a.api_version, &a.kind, &a.namespace, &a.name).cmp(&(
            &b.api_version,
            &b.kind,
            &b.namespace,
            &b.name,
        ))
    });
}

/// Deletion order, the reverse of apply order: namespaced objects, then other cluster-scoped objects, then CRDs, then
/// Namespaces. Deleting a CRD or a Namespace first would delete what is inside it behind our back and leave the
/// later deletes with nothing to resolve.
pub fn sort_for_deletion(list: &mut [SyncResourceReference]) {
    list.sort_by_key(|r| match (group_of(&r.api_version), r.kind.as_str()) {
        ("", "Namespace") => 3,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => 2,
        _ if r.namespace.is_empty() => 1,
        _ => 0,
    });
}

/// `v1, Kind=ConfigMap ns/x` as Hive's delete errors print an object.
pub fn describe(r: &SyncResourceReference) -> String {
    format!(
        "{}, Kind={} {}/{}",
        r.api_version, r.kind, r.namespace, r.name
    )
}

#[cfg(test)]
pub(crate) fn reference(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> SyncResourceReference {
    SyncResourceReference {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ignores_the_version_but_not_the_group() {
        let a = reference("apps/v1beta1", "Deployment", "ns", "x");
        let b = reference("apps/v1", "Deployment", "ns", "x");
        let c = reference("extensions/v1beta1", "Deployment", "ns", "x");
        assert!(same_object(&a, &b));
        assert!(!same_object(&a, &c));
        assert_eq!(group_of("v1"), "");
        assert!(same_object(
            &reference("v1", "ConfigMap", "a", "b"),
            &reference("v1", "ConfigMap", "a", "b")
        ));
    }

    #[test]
    fn declared_indexes_objects_by_identity_across_syncsets() {
        let a = vec![
            reference("apps/v1", "Deployment", "ns", "x"),
            reference("v1", "ConfigMap", "ns", "x"),
            reference("v1", "ConfigMap", "ns", "x"),
        ];
        let b = vec![reference("apps/v1beta1", "Deployment", "ns", "x")];
        let d = Declared::new([a.as_slice(), b.as_slice()]);
        assert_eq!(d.declaring(&a[0]), &[0, 1]);
        assert_eq!(
            d.declaring(&a[1]),
            &[0],
            "a duplicate within one set counts once"
        );
        assert!(d.by_other(&a[0], 0) && d.by_other(&a[0], 1));
        assert!(!d.by_other(&a[1], 0) && d.by_other(&a[1], 1));
        let absent = reference("v1", "Secret", "ns", "x");
        assert!(!d.any(&absent) && !d.by_other(&absent, 0));
    }

    #[test]
    fn deletion_runs_from_the_inside_out() {
        let mut list = vec![
            reference("v1", "Namespace", "", "ns"),
            reference(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "",
                "gadgets.x.io",
            ),
            reference("rbac.authorization.k8s.io/v1", "ClusterRole", "", "r"),
            reference("x.io/v1", "Gadget", "ns", "g"),
            reference("v1", "ConfigMap", "ns", "c"),
        ];
        sort_for_deletion(&mut list);
        let kinds: Vec<_> = list.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Gadget",
                "ConfigMap",
                "ClusterRole",
                "CustomResourceDefinition",
                "Namespace"
            ]
        );
    }

    #[test]
    fn references_sort_by_api_version_kind_namespace_name() {
        let mut list = vec![
            reference("v1", "Secret", "a", "s"),
            reference("v1", "ConfigMap", "b", "a"),
            reference("apps/v1", "Deployment", "z", "z"),
            reference("v1", "ConfigMap", "a", "z"),
        ];
        sort_references(&mut list);
        let names: Vec<_> = list
            .iter()
            .map(|r| format!("{}/{}/{}", r.kind, r.namespace, r.name))
            .collect();
        assert_eq!(
            names,
            [
                "Deployment/z/z",
                "ConfigMap/a/z",
                "ConfigMap/b/a",
                "Secret/a/s"
            ]
        );
    }
}
