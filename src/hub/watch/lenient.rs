//! Lenient decoding of the hub objects hivesync watches: one object that does not decode must not stop the fleet.
//!
//! kube's watcher decodes each LIST page as one `ObjectList<K>` and each watch event as one `WatchEvent<K>`
//! (`serde_json::from_str`, recursion limit 128). One object that does not decode as `K` fails the whole page: the
//! watcher retries the list forever, the store never becomes ready and the controller never starts (and kube-client
//! logs the whole page at warn). Mid-run, the event is dropped and the store silently keeps the old version. An
//! object fails to decode when a field has another type than ours (written under a looser schema: an older CRD,
//! Hive's own CRDs) or when an embedded resource (`spec.resources[]`, preserve-unknown-fields) nests deeper than
//! serde_json's limit (the API server's decoder accepts 10000 levels).
//!
//! So the hub watches list and watch [`Lenient<K>`] instead of `K`. Each object is first read into a
//! `serde_json::Value` by a depth-guarded visitor: up to [`MAX_DEPTH`] levels it builds the value, anything deeper is
//! skipped with serde's `IgnoredAny`, which serde_json skips iteratively and without a recursion limit (see the
//! tests). Then the value is decoded as `K` on its own: an object that fails is an [`Undecodable`] (its identity, the
//! error and, for syncsets, the clusters it targets; never its content) and the page goes on. [`LenientWriter`]
//! turns the events into the usual `Store<K>` and keeps the undecodable objects in an [`UndecodableMap`].
//!
//! Why a depth guard rather than `serde_json::value::RawValue` (which buffers without a limit, but needs serde_json's
//! `raw_value` feature) or `unbounded_depth`: an object deeper than [`MAX_DEPTH`] is refused here, once, with a
//! clear message, instead of being handed to code that recurses over resources (templates, hashing, the apply's own
//! serde_json round trips, `Value`'s recursive `Drop`) and would fail there or overflow the stack.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use dashmap::DashMap;
use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::Event;
use kube::{Resource, ResourceExt};
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};
use tracing::{debug, info, warn};

use crate::api::{
    ClusterDeployment, ClusterKey, ClusterSync, ClusterSyncLease, NamespacedName, SelectorSyncSet,
    SyncSet,
};
use crate::plan::target::selector_matches;

/// The deepest nesting of a hub object hivesync decodes (the object itself is level 1, `spec` level 2, ...).
/// kube's pages put an object at serde_json level 3 (list, `items`, object), so this stays below serde_json's 128.
pub const MAX_DEPTH: usize = 100;

/// Undecodable objects of one kind, by `namespace/name` (the namespace is empty for a cluster-scoped kind). Shared
/// between the watch that fills it and its readers.
pub type UndecodableMap = Arc<DashMap<NamespacedName, Undecodable>>;

/// A hub object that exists but does not decode as its type.
#[derive(Clone, Debug, PartialEq)]
pub struct Undecodable {
    /// The object's kind, e.g. `SyncSet`.
    pub kind: Cow<'static, str>,
    /// Identity only: name, namespace, uid, resourceVersion, generation (whatever of them could be read).
    pub metadata: ObjectMeta,
    /// Why it does not decode. Names types and, for a too-deep object, the top of the path; never quotes values.
    pub error: String,
    /// For a SyncSet or SelectorSyncSet: the clusters it targets, when that part still decodes.
    pub targets: Targets,
}

/// Which ClusterDeployments an undecodable syncset targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Targets {
    /// Not a syncset, or its targeting field does not decode either.
    #[default]
    Unknown,
    /// A SyncSet's `spec.clusterDeploymentRefs` (names in the SyncSet's namespace).
    ClusterDeploymentRefs(Vec<String>),
    /// A SelectorSyncSet's `spec.clusterDeploymentSelector` (`None`: every cluster).
    Selector(Option<LabelSelector>),
}

impl Undecodable {
    pub fn key(&self) -> NamespacedName {
        NamespacedName::of_meta(&self.metadata)
    }

    /// For a ClusterDeployment, ClusterSync or ClusterSyncLease: the cluster it belongs to.
    pub fn cluster(&self) -> ClusterKey {
        ClusterKey::of_meta(&self.metadata)
    }

    /// Whether this (Selector)SyncSet targets `cd`; `None` when that is unknown.
    pub fn targets_cluster(&self, cd: &ClusterDeployment) -> Option<bool> {
        match &self.targets {
            Targets::Unknown => None,
            Targets::ClusterDeploymentRefs(names) => Some(
                self.metadata.namespace == cd.namespace()
                    && names.iter().any(|n| *n == cd.name_any()),
            ),
            Targets::Selector(selector) => Some(selector_matches(selector.as_ref(), cd.labels())),
        }
    }
}

/// A hub kind watched leniently.
pub trait HubKind:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static
{
    /// What an object of this kind that does not decode still says about the clusters it targets.
    fn salvage_targets(_object: &Value) -> Targets {
        Targets::Unknown
    }

    /// Fills in what Hive's schema lets a user leave out and the typed form needs (a SyncSet's `spec`).
    fn complete(_object: &mut Value) {}
}

/// A SyncSet or SelectorSyncSet without a `spec` (Hive's CRD allows it): an empty one, with no clusters for a SyncSet.
fn default_spec(object: &mut Value, empty: Value) {
    if let Value::Object(map) = object {
        if map.get("spec").is_none_or(Value::is_null) {
            map.insert("spec".into(), empty);
        }
    }
}

impl HubKind for ClusterDeployment {}
impl HubKind for ClusterSync {}
impl HubKind for ClusterSyncLease {}

impl HubKind for SyncSet {
    fn complete(object: &mut Value) {
        default_spec(object, serde_json::json!({"clusterDeploymentRefs": []}));
    }

    fn salvage_targets(object: &Value) -> Targets {
        object
            .pointer("/spec/clusterDeploymentRefs")
            .and_then(|v| Vec::<LocalObjectReference>::deserialize(v).ok())
            .map_or(Targets::Unknown, |refs| {
                Targets::ClusterDeploymentRefs(refs.into_iter().map(|r| r.name).collect())
            })
    }
}

impl HubKind for SelectorSyncSet {
    fn complete(object: &mut Value) {
        default_spec(object, serde_json::json!({}));
    }

    fn salvage_targets(object: &Value) -> Targets {
        match object.pointer("/spec/clusterDeploymentSelector") {
            None | Some(Value::Null) => Targets::Selector(None),
            Some(v) => LabelSelector::deserialize(v)
                .map_or(Targets::Unknown, |s| Targets::Selector(Some(s))),
        }
    }
}

/// A hub object as listed or watched: decoded, or why not. Reflected in place of `K` (same kind, group, version,
/// plural and scope), so that one object that does not decode never fails its page or its event.
#[derive(Clone, Debug)]
pub enum Lenient<K> {
    Decoded(K),
    Undecodable(Box<Undecodable>),
}

impl<K: HubKind> Resource for Lenient<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn api_version(dt: &()) -> Cow<'_, str> {
        K::api_version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Decoded(k) => k.meta(),
            Self::Undecodable(u) => &u.metadata,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Self::Decoded(k) => k.meta_mut(),
            Self::Undecodable(u) => &mut u.metadata,
        }
    }
}

impl<'de, K: HubKind> Deserialize<'de> for Lenient<K> {
    /// Fails only where any JSON value would (malformed JSON); everything else is `Decoded` or `Undecodable`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let too_deep = RefCell::new(None);
        let object = Capture {
            depth: 1,
            path: None,
            too_deep: &too_deep,
        }
        .deserialize(deserializer)?;
        Ok(Self::from_captured(object, too_deep.into_inner()))
    }
}

impl<K: HubKind> Lenient<K> {
    fn from_captured(mut object: Value, too_deep: Option<String>) -> Self {
        K::complete(&mut object);
        let error = match too_deep {
            Some(path) => {
                format!("{path} nests deeper than {MAX_DEPTH} levels, more than hivesync decodes")
            }
            None => match K::deserialize(&object) {
                Ok(k) => return Self::Decoded(k),
                Err(e) => redact(&e.to_string()),
            },
        };
        Self::Undecodable(Box::new(Undecodable {
            kind: K::kind(&()),
            metadata: identity(&object),
            error,
            targets: K::salvage_targets(&object),
        }))
    }
}

/// The identity fields of an object's metadata, read one by one so that a bad field elsewhere cannot hide them.
fn identity(object: &Value) -> ObjectMeta {
    let meta = object.get("metadata");
    let field = |k: &str| meta.and_then(|m| m.get(k));
    let string = |k: &str| field(k).and_then(Value::as_str).map(str::to_owned);
    ObjectMeta {
        name: string("name"),
        namespace: string("namespace"),
        uid: string("uid"),
        resource_version: string("resourceVersion"),
        generation: field("generation").and_then(Value::as_i64),
        ..ObjectMeta::default()
    }
}

/// A serde error message without the values it quotes from the object: `invalid type: string "hunter2", expected a
/// boolean` becomes `invalid type: string, expected a boolean`. serde's other messages (missing field, duplicate
/// field, invalid length) name only the schema; a type's own message (a timestamp that does not parse) is capped.
fn redact(message: &str) -> String {
    // What follows ", expected " comes from our types, never from the object: split at its last occurrence.
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(at) = rest.rfind(", expected ") {
                let unexpected = rest[..at].split(['`', '"']).next().unwrap_or_default();
                return format!("{prefix}{}{}", unexpected.trim_end(), &rest[at..]);
            }
        }
    }
    for prefix in ["unknown variant `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let end = rest
                .rfind("`, expected ")
                .or_else(|| rest.rfind("`, there are no "));
            if let Some(at) = end {
                return format!("{prefix}…{}", &rest[at..]);
            }
        }
    }
    const MAX: usize = 200;
    match message.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_owned(),
    }
}

/// A step of the path to a value, kept only to say where an object is too deep.
struct Segment<'a> {
    step: Step<'a>,
    parent: Option<&'a Segment<'a>>,
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The first steps of a path (`spec.resources[0]`): the schema's part, not the object's own keys below it.
fn render(path: Option<&Segment<'_>>) -> String {
    const SHOWN: usize = 3;
    let mut steps = Vec::new();
    let mut at = path;
    while let Some(s) = at {
        steps.push(&s.step);
        at = s.parent;
    }
    let mut out = String::new();
    for step in steps.iter().rev().take(SHOWN) {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        return "the object".into();
    }
    if steps.len() > SHOWN {
        out.push('…');
    }
    out
}

/// Reads any JSON value into a `Value`, skipping whatever lies deeper than [`MAX_DEPTH`] (and noting where).
#[derive(Clone, Copy)]
struct Capture<'a> {
    /// This value's level: the object itself is 1.
    depth: usize,
    path: Option<&'a Segment<'a>>,
    too_deep: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Capture<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            // serde_json skips a value iteratively, whatever its depth: this never meets the recursion limit.
            IgnoredAny::deserialize(deserializer)?;
            let mut first = self.too_deep.borrow_mut();
            if first.is_none() {
                *first = Some(render(self.path));
            }
            return Ok(Value::Null);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capture<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Capture {
            depth: self.depth + 1,
            path: Some(&Segment {
                step: Step::Index(out.len()),
                parent: self.path,
            }),
            too_deep: self.too_deep,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(Capture {
                depth: self.depth + 1,
                path: Some(&Segment {
                    step: Step::Key(&key),
                    parent: self.path,
                }),
                too_deep: self.too_deep,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// What a watch event changed, for the watch's callbacks.
#[derive(Debug)]
pub enum Change<K> {
    /// An object that decodes was listed, added or modified (`deleted: false`), or deleted.
    Object { object: K, deleted: bool },
    /// An object that does not decode was listed, added or modified (`deleted: false`), or it went away (deleted,
    /// or missing from a relist).
    Undecodable {
        object: Box<Undecodable>,
        deleted: bool,
    },
}

/// Applies lenient watch events to a `Store<K>`, keeping the objects that do not decode in an [`UndecodableMap`].
///
/// An object that does not decode is not put in the store; if an earlier version of it decoded (in this process),
/// that last good version stays in the store, across relists too, until the object is fixed or deleted. So a bad
/// edit never looks like a deletion. After a restart there is no earlier version: the object is only in the map.
pub struct LenientWriter<K: HubKind> {
    writer: Writer<K>,
    reader: Store<K>,
    undecodable: UndecodableMap,
    /// The undecodable objects seen since the current relist began (`Init`).
    listed: HashSet<NamespacedName>,
}

impl<K: HubKind> LenientWriter<K> {
    pub fn new(undecodable: UndecodableMap) -> (Store<K>, Self) {
        let (reader, writer) = kube::runtime::reflector::store();
        let this = Self {
            writer,
            reader: reader.clone(),
            undecodable,
            listed: HashSet::new(),
        };
        (reader, this)
    }

    pub fn apply(&mut self, event: Event<Lenient<K>>) -> Vec<Change<K>> {
        match event {
            Event::Init => {
                self.listed.clear();
                self.writer.apply_watcher_event(&Event::Init);
                Vec::new()
            }
            Event::InitApply(Lenient::Decoded(k)) => {
                self.decodes(&k);
                let object = self.write(Event::InitApply(k));
                vec![Change::Object {
                    object,
                    deleted: false,
                }]
            }
            Event::Apply(Lenient::Decoded(k)) => {
                self.decodes(&k);
                let object = self.write(Event::Apply(k));
                vec![Change::Object {
                    object,
                    deleted: false,
                }]
            }
            Event::Delete(Lenient::Decoded(k)) => {
                self.undecodable.remove(&NamespacedName::of_meta(k.meta()));
                let object = self.write(Event::Delete(k));
                vec![Change::Object {
                    object,
                    deleted: true,
                }]
            }
            Event::InitApply(Lenient::Undecodable(u)) => {
                let Some(u) = named(*u) else {
                    return Vec::new();
                };
                self.listed.insert(u.key());
                let previous = self.previous(&u);
                if let Some(old) = &previous {
                    // The relist swaps the store for what it lists: list the last good version again.
                    self.writer
                        .apply_watcher_event(&Event::InitApply(old.as_ref().clone()));
                }
                vec![self.record(u, previous.is_some())]
            }
            Event::Apply(Lenient::Undecodable(u)) => {
                let Some(u) = named(*u) else {
                    return Vec::new();
                };
                let kept = self.previous(&u).is_some();
                vec![self.record(u, kept)]
            }
            Event::Delete(Lenient::Undecodable(u)) => {
                let Some(u) = named(*u) else {
                    return Vec::new();
                };
                self.undecodable.remove(&u.key());
                let mut changes = Vec::new();
                if let Some(old) = self.previous(&u) {
                    let object = self.write(Event::Delete(old.as_ref().clone()));
                    changes.push(Change::Object {
                        object,
                        deleted: true,
                    });
                }
                let key = u.key();
                let (namespace, name) = (key.namespace.as_str(), key.name.as_str());
                debug!(kind = %u.kind, namespace, name, "undecodable hub object deleted");
                changes.push(Change::Undecodable {
                    object: Box::new(u),
                    deleted: true,
                });
                changes
            }
            Event::InitDone => {
                self.writer.apply_watcher_event(&Event::InitDone);
                // Objects that no longer exist (deleted while the watch was down) are no longer undecodable.
                let mut gone = Vec::new();
                self.undecodable.retain(|key, u| {
                    let keep = self.listed.contains(key);
                    if !keep {
                        gone.push(Change::Undecodable {
                            object: Box::new(u.clone()),
                            deleted: true,
                        });
                    }
                    keep
                });
                self.listed.clear();
                gone
            }
        }
    }

    /// Applies an event for a decoded object and hands the object back.
    fn write(&mut self, event: Event<K>) -> K {
        self.writer.apply_watcher_event(&event);
        match event {
            Event::Apply(k) | Event::InitApply(k) | Event::Delete(k) => k,
            Event::Init | Event::InitDone => unreachable!("write is only called with an object"),
        }
    }

    /// The store's current version of an object (the last one that decoded), unless it was another object of the
    /// same name (deleted and created again while the watch was down).
    fn previous(&self, u: &Undecodable) -> Option<Arc<K>> {
        let key = u.key();
        let mut r = ObjectRef::<K>::new(&key.name);
        if u.metadata.namespace.is_some() {
            r = r.within(&key.namespace);
        }
        self.reader
            .get(&r)
            .filter(|old| u.metadata.uid.is_none() || old.meta().uid == u.metadata.uid)
    }

    fn decodes(&self, k: &K) {
        if let Some((_, was)) = self.undecodable.remove(&NamespacedName::of_meta(k.meta())) {
            let key = was.key();
            let (namespace, name) = (key.namespace.as_str(), key.name.as_str());
            info!(kind = %was.kind, namespace, name, "hub object decodes again");
        }
    }

    /// Logs (once per version and error) and records an undecodable object.
    fn record(&self, u: Undecodable, kept_previous: bool) -> Change<K> {
        let key = u.key();
        let repeat = self.undecodable.get(&key).is_some_and(|old| {
            old.metadata.resource_version == u.metadata.resource_version && old.error == u.error
        });
        let (namespace, name) = (key.namespace.as_str(), key.name.as_str());
        if repeat {
            debug!(kind = %u.kind, namespace, name, error = %u.error, "hub object still does not decode");
        } else {
            warn!(
                kind = %u.kind,
                namespace,
                name,
                resource_version = u.metadata.resource_version.as_deref().unwrap_or_default(),
                error = %u.error,
                kept_previous,
                "hub object does not decode: ignored (the last version that decoded stays in use, if there is one)"
            );
        }
        self.undecodable.insert(key, u.clone());
        Change::Undecodable {
            object: Box::new(u),
            deleted: false,
        }
    }
}

/// An undecodable object without even a name cannot be tracked: say so, and drop it.
fn named(u: Undecodable) -> Option<Undecodable> {
    if u.metadata.name.as_deref().is_some_and(|n| !n.is_empty()) {
        return Some(u);
    }
    warn!(kind = %u.kind, error = %u.error, "a hub object without a readable name does not decode: ignored");
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::{ObjectList, WatchEvent};
    use serde_json::json;

    #[test]
    fn syncsets_without_a_spec_decode_as_hive_reads_them() {
        let sss = r#"{"apiVersion":"hive.openshift.io/v1","kind":"SelectorSyncSet","metadata":{"name":"s"}}"#;
        match serde_json::from_str::<Lenient<SelectorSyncSet>>(sss).unwrap() {
            Lenient::Decoded(s) => {
                assert!(s.spec.cluster_deployment_selector.is_none());
                assert!(s.spec.common.resources.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let ss = r#"{"apiVersion":"hive.openshift.io/v1","kind":"SyncSet","metadata":{"name":"s","namespace":"n"},"spec":null}"#;
        match serde_json::from_str::<Lenient<SyncSet>>(ss).unwrap() {
            Lenient::Decoded(s) => assert!(s.spec.cluster_deployment_refs.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    /// `depth` nested objects: `{"a":{"a":...1...}}`.
    fn nested(depth: usize) -> String {
        format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
    }

    fn syncset(name: &str, spec: &str) -> String {
        format!(
            r#"{{"apiVersion":"hive.openshift.io/v1","kind":"SyncSet","metadata":{{"name":"{name}","namespace":"ns","uid":"uid-{name}","resourceVersion":"7","managedFields":[{{"manager":"kubectl"}}]}},"spec":{spec}}}"#
        )
    }

    fn page(items: &[String]) -> String {
        format!(
            r#"{{"apiVersion":"hive.openshift.io/v1","kind":"SyncSetList","metadata":{{"resourceVersion":"9"}},"items":[{}]}}"#,
            items.join(",")
        )
    }

    const GOOD: &str = r#"{"clusterDeploymentRefs":[{"name":"c1"}],"resources":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}]}"#;
    const WRONG_TYPE: &str =
        r#"{"clusterDeploymentRefs":[{"name":"c3"}],"resourceApplyMode":5,"resources":[]}"#;

    fn deep_spec(depth: usize) -> String {
        format!(
            r#"{{"clusterDeploymentRefs":[{{"name":"c2"}}],"resources":[{}]}}"#,
            nested(depth)
        )
    }

    /// The three-object page of the brief: one good, one too deep, one with a field of the wrong type.
    fn mixed_page(depth: usize) -> String {
        page(&[
            syncset("good", GOOD),
            syncset("deep", &deep_spec(depth)),
            syncset("wrong", WRONG_TYPE),
        ])
    }

    fn undecodable<K: fmt::Debug>(l: &Lenient<K>) -> &Undecodable {
        match l {
            Lenient::Undecodable(u) => u,
            Lenient::Decoded(k) => panic!("expected an undecodable object, got {k:?}"),
        }
    }

    // serde_json's own behaviour, which the design rests on.

    #[test]
    fn serde_json_refuses_more_than_128_levels() {
        let depth_ok = serde_json::from_str::<Value>(&nested(127));
        assert!(depth_ok.is_ok());
        let err = serde_json::from_str::<Value>(&nested(128)).unwrap_err();
        assert!(
            err.to_string().contains("recursion limit exceeded"),
            "{err}"
        );
    }

    #[test]
    fn serde_json_skips_a_value_of_any_depth_without_recursing() {
        for depth in [200, 5_000, 100_000] {
            serde_json::from_str::<IgnoredAny>(&nested(depth)).unwrap();
            let array = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            serde_json::from_str::<IgnoredAny>(&array).unwrap();
            // A struct skips the fields it does not know the same way: metadata alone decodes beside a deep spec.
            #[derive(Deserialize)]
            struct MetaOnly {
                metadata: ObjectMeta,
            }
            let m: MetaOnly = serde_json::from_str(&syncset("deep", &deep_spec(depth))).unwrap();
            assert_eq!(m.metadata.name.as_deref(), Some("deep"));
        }
    }

    #[test]
    fn one_bad_object_fails_a_typed_page_or_event() {
        // The failure this module exists for: kube decodes pages and events exactly like this.
        let deep = serde_json::from_str::<ObjectList<SyncSet>>(&page(&[
            syncset("good", GOOD),
            syncset("deep", &deep_spec(200)),
        ]));
        assert!(deep.unwrap_err().to_string().contains("recursion limit"));
        let wrong = serde_json::from_str::<ObjectList<SyncSet>>(&page(&[
            syncset("good", GOOD),
            syncset("wrong", WRONG_TYPE),
        ]));
        assert!(wrong.unwrap_err().to_string().contains("invalid type"));
        let event = format!(
            r#"{{"type":"ADDED","object":{}}}"#,
            syncset("deep", &deep_spec(200))
        );
        assert!(serde_json::from_str::<WatchEvent<SyncSet>>(&event).is_err());
    }

    // The lenient wrapper.

    #[test]
    fn a_lenient_page_keeps_the_good_objects_and_names_the_bad_ones() {
        for depth in [200, 5_000, 100_000] {
            let list: ObjectList<Lenient<SyncSet>> =
                serde_json::from_str(&mixed_page(depth)).unwrap();
            assert_eq!(list.metadata.resource_version.as_deref(), Some("9"));
            assert_eq!(list.items.len(), 3);

            let Lenient::Decoded(good) = &list.items[0] else {
                panic!("the good SyncSet should decode: {:?}", list.items[0]);
            };
            assert_eq!(good.name_any(), "good");
            assert_eq!(good.spec.cluster_deployment_refs[0].name, "c1");
            assert_eq!(good.spec.common.resources.len(), 1);

            let deep = undecodable(&list.items[1]);
            assert_eq!(deep.kind, "SyncSet");
            assert_eq!(deep.key(), NamespacedName::new("ns", "deep"));
            assert_eq!(deep.metadata.uid.as_deref(), Some("uid-deep"));
            assert_eq!(deep.metadata.resource_version.as_deref(), Some("7"));
            assert_eq!(
                deep.error,
                "spec.resources[0]… nests deeper than 100 levels, more than hivesync decodes"
            );
            assert_eq!(
                deep.targets,
                Targets::ClusterDeploymentRefs(vec!["c2".into()])
            );

            let wrong = undecodable(&list.items[2]);
            assert_eq!(wrong.key(), NamespacedName::new("ns", "wrong"));
            assert_eq!(wrong.error, "invalid type: integer, expected a string");
            assert_eq!(
                wrong.targets,
                Targets::ClusterDeploymentRefs(vec!["c3".into()])
            );
        }
    }

    #[test]
    fn a_lenient_watch_event_never_fails_on_its_object() {
        for depth in [200, 5_000] {
            let line = format!(
                r#"{{"type":"ADDED","object":{}}}"#,
                syncset("deep", &deep_spec(depth))
            );
            let WatchEvent::Added(l) =
                serde_json::from_str::<WatchEvent<Lenient<SyncSet>>>(&line).unwrap()
            else {
                panic!("expected ADDED");
            };
            assert!(undecodable(&l).error.contains("deeper than"));
        }
        let line = format!(
            r#"{{"type":"MODIFIED","object":{}}}"#,
            syncset("good", GOOD)
        );
        let event = serde_json::from_str::<WatchEvent<Lenient<SyncSet>>>(&line).unwrap();
        assert!(matches!(event, WatchEvent::Modified(Lenient::Decoded(_))));
        let line = format!(
            r#"{{"type":"DELETED","object":{}}}"#,
            syncset("wrong", WRONG_TYPE)
        );
        let event = serde_json::from_str::<WatchEvent<Lenient<SyncSet>>>(&line).unwrap();
        assert!(matches!(
            event,
            WatchEvent::Deleted(Lenient::Undecodable(_))
        ));
    }

    #[test]
    fn objects_up_to_max_depth_decode_and_fit_a_worker_stack() {
        // resources[0] is level 4: `n` more nested objects put the innermost value at level 4 + n.
        let at_limit = syncset("ok", &deep_spec(MAX_DEPTH - 4));
        let past_limit = syncset("deep", &deep_spec(MAX_DEPTH - 3));
        // The deepest object hivesync accepts, decoded in a page, on a thread with tokio's default worker stack.
        let list = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                serde_json::from_str::<ObjectList<Lenient<SyncSet>>>(&page(&[at_limit, past_limit]))
                    .unwrap()
            })
            .unwrap()
            .join()
            .unwrap();
        let Lenient::Decoded(ok) = &list.items[0] else {
            panic!(
                "an object {MAX_DEPTH} levels deep should decode: {:?}",
                list.items[0]
            );
        };
        let mut v = &ok.spec.common.resources[0];
        let mut levels = 4;
        while let Some(inner) = v.get("a") {
            v = inner;
            levels += 1;
        }
        assert_eq!((levels, v), (MAX_DEPTH, &json!(1)));
        assert!(undecodable(&list.items[1]).error.contains("deeper than"));
    }

    #[test]
    fn errors_never_quote_the_object() {
        let spec = r#"{"clusterDeploymentRefs":[{"name":"c"}],"enableResourceTemplates":"hunter2, expected \"x\""}"#;
        let l: Lenient<SyncSet> = serde_json::from_str(&syncset("s", spec)).unwrap();
        let u = undecodable(&l);
        assert_eq!(u.error, "invalid type: string, expected a boolean");

        assert_eq!(
            redact("unknown variant `hunter2`, expected one of `Success`, `Failure`"),
            "unknown variant `…`, expected one of `Success`, `Failure`"
        );
        assert_eq!(
            redact("unknown field `hunter2`, expected `name`"),
            "unknown field `…`, expected `name`"
        );
        assert_eq!(
            redact("missing field `clusterDeploymentRefs`"),
            "missing field `clusterDeploymentRefs`"
        );
        assert_eq!(redact(&"x".repeat(1000)).chars().count(), 201);
        // The metadata kept is identity only: no labels, annotations (last-applied-configuration) or managedFields.
        assert_eq!(u.metadata.annotations, None);
        assert_eq!(u.metadata.managed_fields, None);
    }

    #[test]
    fn selector_syncset_targets_are_salvaged() {
        let sss = |name: &str, spec: &str| {
            format!(
                r#"{{"apiVersion":"hive.openshift.io/v1","kind":"SelectorSyncSet","metadata":{{"name":"{name}"}},"spec":{spec}}}"#
            )
        };
        let l: Lenient<SelectorSyncSet> = serde_json::from_str(&sss(
            "a",
            r#"{"clusterDeploymentSelector":{"matchLabels":{"env":"prod"}},"resourceApplyMode":[]}"#,
        ))
        .unwrap();
        let u = undecodable(&l);
        assert_eq!(u.key(), NamespacedName::new("", "a"));
        let mut cd: ClusterDeployment = serde_json::from_value(json!({
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"clusterName": "c", "baseDomain": "example.com", "platform": {}},
        }))
        .unwrap();
        assert_eq!(u.targets_cluster(&cd), Some(false));
        cd.metadata.labels = Some([("env".to_string(), "prod".to_string())].into());
        assert_eq!(u.targets_cluster(&cd), Some(true));

        let l: Lenient<SelectorSyncSet> =
            serde_json::from_str(&sss("b", &format!(r#"{{"resources":[{}]}}"#, nested(300))))
                .unwrap();
        assert_eq!(undecodable(&l).targets, Targets::Selector(None));
        let l: Lenient<SelectorSyncSet> =
            serde_json::from_str(&sss("c", r#"{"clusterDeploymentSelector":7}"#)).unwrap();
        let u = undecodable(&l);
        assert_eq!(
            (u.targets.clone(), u.targets_cluster(&cd)),
            (Targets::Unknown, None)
        );
    }

    #[test]
    fn an_object_without_a_readable_name_is_undecodable_not_a_failure() {
        let l: Lenient<SyncSet> =
            serde_json::from_str(r#"{"metadata":{"name":7},"spec":[]}"#).unwrap();
        assert_eq!(undecodable(&l).metadata.name, None);
        let l: Lenient<SyncSet> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(undecodable(&l).metadata, ObjectMeta::default());
        assert!(serde_json::from_str::<Lenient<SyncSet>>(r#"{"metadata":"#).is_err());
    }

    // The writer.

    fn parse(name: &str, spec: &str) -> Lenient<SyncSet> {
        serde_json::from_str(&syncset(name, spec)).unwrap()
    }

    fn good(name: &str, cluster: &str) -> Lenient<SyncSet> {
        parse(
            name,
            &format!(r#"{{"clusterDeploymentRefs":[{{"name":"{cluster}"}}]}}"#),
        )
    }

    fn bad(name: &str) -> Lenient<SyncSet> {
        parse(name, WRONG_TYPE)
    }

    fn stored(store: &Store<SyncSet>, name: &str) -> Option<String> {
        store
            .get(&ObjectRef::new(name).within("ns"))
            .map(|s| s.spec.cluster_deployment_refs[0].name.clone())
    }

    fn summary(changes: &[Change<SyncSet>]) -> Vec<(String, bool, bool)> {
        changes
            .iter()
            .map(|c| match c {
                Change::Object { object, deleted } => (object.name_any(), true, *deleted),
                Change::Undecodable { object, deleted } => (object.key().name, false, *deleted),
            })
            .collect()
    }

    fn key(name: &str) -> NamespacedName {
        NamespacedName::new("ns", name)
    }

    #[tokio::test]
    async fn the_store_becomes_ready_and_bad_objects_are_kept_aside() {
        let map = UndecodableMap::default();
        let (store, mut w) = LenientWriter::<SyncSet>::new(map.clone());

        // The initial list: the store is ready with the good object; the bad one is in the map.
        w.apply(Event::Init);
        let changes = w.apply(Event::InitApply(good("a", "c1")));
        assert_eq!(summary(&changes), [("a".into(), true, false)]);
        let changes = w.apply(Event::InitApply(bad("b")));
        assert_eq!(summary(&changes), [("b".into(), false, false)]);
        w.apply(Event::InitDone);
        tokio::time::timeout(std::time::Duration::from_secs(1), store.wait_until_ready())
            .await
            .expect("the store is ready")
            .unwrap();
        assert_eq!(stored(&store, "a").as_deref(), Some("c1"));
        assert_eq!(stored(&store, "b"), None);
        assert_eq!(
            map.get(&key("b")).unwrap().error,
            "invalid type: integer, expected a string"
        );
        assert!(map.get(&key("a")).is_none());

        // A bad edit of a good object: the last good version stays in use, and the object is reported.
        let changes = w.apply(Event::Apply(bad("a")));
        assert_eq!(summary(&changes), [("a".into(), false, false)]);
        assert_eq!(stored(&store, "a").as_deref(), Some("c1"));
        assert!(map.contains_key(&key("a")));

        // A relist keeps that last good version too, and forgets the undecodable objects that are gone.
        w.apply(Event::Init);
        w.apply(Event::InitApply(bad("a")));
        let changes = w.apply(Event::InitDone);
        assert_eq!(summary(&changes), [("b".into(), false, true)]);
        assert_eq!(stored(&store, "a").as_deref(), Some("c1"));
        assert!(map.contains_key(&key("a")));
        assert!(!map.contains_key(&key("b")));

        // A relist that finds another object of that name (recreated, undecodable) does not keep the old one.
        w.apply(Event::Init);
        let mut recreated = bad("a");
        recreated.meta_mut().uid = Some("uid-a-2".into());
        w.apply(Event::InitApply(recreated));
        w.apply(Event::InitDone);
        assert_eq!(stored(&store, "a"), None);
        assert!(map.contains_key(&key("a")));

        // Fixed: the new version is used and the report goes away.
        let changes = w.apply(Event::Apply(good("a", "c2")));
        assert_eq!(summary(&changes), [("a".into(), true, false)]);
        assert_eq!(stored(&store, "a").as_deref(), Some("c2"));
        assert!(map.is_empty());

        // Deleted while undecodable: gone from both.
        w.apply(Event::Apply(bad("a")));
        let changes = w.apply(Event::Delete(bad("a")));
        assert_eq!(
            summary(&changes),
            [("a".into(), true, true), ("a".into(), false, true)]
        );
        assert_eq!(stored(&store, "a"), None);
        assert!(map.is_empty());

        // An object without a name cannot be tracked: dropped.
        let unnamed: Lenient<SyncSet> = serde_json::from_str(r#"{"spec":1}"#).unwrap();
        assert!(w.apply(Event::Apply(unnamed)).is_empty());
        assert!(map.is_empty());
    }

    #[tokio::test]
    async fn a_list_of_only_bad_objects_still_makes_the_store_ready() {
        let map = UndecodableMap::default();
        let (store, mut w) = LenientWriter::<SyncSet>::new(map.clone());
        let list: ObjectList<Lenient<SyncSet>> = serde_json::from_str(&page(&[
            syncset("deep", &deep_spec(5_000)),
            syncset("wrong", WRONG_TYPE),
        ]))
        .unwrap();
        w.apply(Event::Init);
        for item in list.items {
            w.apply(Event::InitApply(item));
        }
        w.apply(Event::InitDone);
        tokio::time::timeout(std::time::Duration::from_secs(1), store.wait_until_ready())
            .await
            .expect("the store is ready")
            .unwrap();
        assert!(store.is_empty());
        let mut bad: Vec<_> = map.iter().map(|e| e.key().name.clone()).collect();
        bad.sort();
        assert_eq!(bad, ["deep", "wrong"]);
    }
}
