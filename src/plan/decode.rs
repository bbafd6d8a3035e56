//! A syncset's payload turned into the operations to send, in the order to send them (docs/hive-compatibility.md,
//! "Inside one syncset", with "Deliberate differences", 3): resources (Namespaces, then CRDs, then the rest in list
//! order) → secret mappings → patches. Errors keep Hive's indices, which are positions in the user's lists.
//!
//! Errors here are `String`s on purpose (`PatchType::parse`, `SecretOp::source`, `PatchOp::patch_type` and `body`,
//! the resource decoders): each is Hive's (or kubectl's) text, goes verbatim into the syncset's status entry, and no
//! caller tells one from another.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::identity::{group_of, reference_of};
use super::template::{self, Budget};
use super::yaml_v2;
use crate::api::{NamespacedName, SecretReference, SyncResourceReference, SyncSetCommonSpec};
use crate::consts::MANAGED_LABEL;

/// `applyBehavior` (empty means Apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyBehavior {
    /// Forced server-side apply with the `hivesync` field manager (taking over the fields Hive applied, see
    /// `plan::takeover`).
    Apply,
    /// Create, or JSON merge patch of the desired object (fields asserted, never removed).
    CreateOrUpdate,
    /// Read, and create only when absent (an existing object gets no write, as in Hive).
    CreateOnly,
}

impl ApplyBehavior {
    pub fn parse(s: &str) -> Self {
        match s {
            "CreateOrUpdate" => Self::CreateOrUpdate,
            "CreateOnly" => Self::CreateOnly,
            // "" and "Apply"; anything else is refused by the CRD enum.
            _ => Self::Apply,
        }
    }

    /// Hive's metric label (`hive_syncsetinstance_resources_applied_total{type}`).
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::Apply => "apply",
            Self::CreateOrUpdate => "createOrUpdate",
            Self::CreateOnly => "createOnly",
        }
    }
}

/// `resourceApplyMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyMode {
    Upsert,
    Sync,
    /// A value that got past validation: treated as "not Sync" for recording, but old tracking is not cleared.
    Other,
}

impl ApplyMode {
    pub fn parse(s: &str) -> Self {
        match s {
            "" | "Upsert" => Self::Upsert,
            "Sync" => Self::Sync,
            _ => Self::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Strategic,
    Merge,
    Json,
}

impl PatchType {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "" | "strategic" => Ok(Self::Strategic),
            "merge" => Ok(Self::Merge),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "invalid patch type: {other}. Valid patch types are 'strategic', 'merge' or 'json'"
            )),
        }
    }
}

/// One desired object from `resources`, with the managed label already set.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObject {
    /// Position in the user's `resources` list.
    pub index: usize,
    pub reference: SyncResourceReference,
    pub object: Value,
}

/// One entry of `secretMappings`: where to read on the hub (or why it cannot be read) and what to write.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretOp {
    pub index: usize,
    /// The hub Secret, or Hive's error for a bad source namespace (no fast requeue), which the entry's status says as
    /// it is.
    pub source: Result<NamespacedName, String>,
    pub target: SecretReference,
}

impl SecretOp {
    /// The Secret this mapping writes on the cluster.
    pub fn reference(&self) -> SyncResourceReference {
        secret_reference(&self.target)
    }
}

/// The reference of a Secret written on the cluster.
pub fn secret_reference(target: &SecretReference) -> SyncResourceReference {
    SyncResourceReference {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: target.namespace.clone(),
        name: target.name.clone(),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    pub index: usize,
    pub api_version: String,
    pub kind: String,
    /// The namespace on the spoke; Hive's kubectl path defaults an empty one to `default`.
    pub namespace: String,
    pub name: String,
    /// The body as it will be sent: JSON text, converted from YAML (after rendering, with `enablePatchTemplates`) as
    /// kubectl's `patch` converts it. A body that is neither JSON nor YAML stays as written.
    pub patch: String,
    /// The type, or why the patch cannot be sent at all: Hive's `invalid patch type: ...`, else kubectl's `unable to
    /// parse "<patch>": ...` for a body that is neither JSON nor YAML (found once here, reported when the patch's
    /// turn comes, as in Hive).
    pub patch_type: Result<PatchType, String>,
}

impl PatchOp {
    /// The body to send, as JSON (a decoded op's `patch` is JSON already; a body that is neither JSON nor YAML has
    /// its error in `patch_type`). Fails with [`unparsable`]'s message.
    pub fn body(&self) -> Result<Value, String> {
        yaml_v2::to_json(&self.patch).map_err(|e| unparsable(&self.kind, &self.patch, &e))
    }
}

/// Hive's (kubectl `RunPatch`'s) error for a patch body that is neither JSON nor YAML: `unable to parse "<patch>":
/// <error>`, the patch Go-quoted, and shown as `<redacted>` when the target may be a Secret (as template errors are).
fn unparsable(kind: &str, patch: &str, error: &str) -> String {
    let secret = template::kind_may_be_secret(Some(kind));
    let (shown, error) = if secret {
        ("<redacted>", yaml_v2::redacted(error))
    } else {
        (patch, error.to_owned())
    };
    // JSON's string escapes are Go's `%q` for printable characters, quotes, backslashes, tabs and newlines.
    format!(
        "unable to parse {}: {error}",
        serde_json::to_string(shown).unwrap_or_default()
    )
}

/// Which list a syncset came from: the two differ in their secret source rules and their status list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncSetKind {
    SyncSet,
    SelectorSyncSet,
}

impl SyncSetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncSet => "SyncSet",
            Self::SelectorSyncSet => "SelectorSyncSet",
        }
    }
}

/// A syncset's payload, decoded once and shared (`Arc`) by every cluster it targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    pub behavior: ApplyBehavior,
    pub mode: ApplyMode,
    /// In apply order (Namespaces, CRDs, then the rest in list order).
    pub objects: Vec<DesiredObject>,
    pub secrets: Vec<SecretOp>,
    pub patches: Vec<PatchOp>,
    /// `resourcesInSyncSet`: every decoded resource (list order) and every secret mapping's target.
    pub references: Vec<SyncResourceReference>,
    /// Decode errors: when set, nothing of this syncset is applied and no fast requeue is asked for.
    pub decode_error: Option<String>,
    /// Patch template errors: those patches are skipped, and the syncset fails once the rest ran.
    pub patch_template_errors: Vec<String>,
    /// Hash of the spec: a change means the syncset must be re-applied even at the same generation.
    pub hash: String,
}

impl Payload {
    /// A payload that cannot be applied at all (for example a SelectorSyncSet whose selector no longer parses): it
    /// fails with `message`, applies nothing and deletes nothing.
    pub fn invalid(message: String) -> Self {
        Self {
            behavior: ApplyBehavior::Apply,
            mode: ApplyMode::Other,
            objects: vec![],
            secrets: vec![],
            patches: vec![],
            references: vec![],
            decode_error: Some(message),
            patch_template_errors: vec![],
            hash: String::new(),
        }
    }
}

/// Decodes a syncset's spec. `namespace` is the SyncSet's namespace (None for a SelectorSyncSet).
pub fn decode(kind: SyncSetKind, namespace: Option<&str>, spec: &SyncSetCommonSpec) -> Payload {
    decode_for(kind, namespace, spec, &BTreeMap::new())
}

/// Whether the payload depends on the target cluster's labels (`enableResourceTemplates` / `enablePatchTemplates`),
/// so it must be decoded per cluster instead of once for all.
pub fn is_templated(spec: &SyncSetCommonSpec) -> bool {
    spec.enable_resource_templates || spec.enable_patch_templates
}

/// Decodes a syncset's spec for a cluster with these labels (Hive's templates read them with `fromCDLabel`).
/// Resource template errors fail the whole syncset before anything is applied; a patch whose template fails is
/// skipped and the syncset fails after the other patches ran (docs/hive-compatibility.md, "Templates"). All the
/// templates of the syncset share one render budget ([`Budget::per_syncset`]); see [`decode_with_budget`].
///
/// This is where templates are rendered: CPU-bound, up to the budget (~0.75 s of CPU in a release build at worst).
/// It borrows its arguments only for the call and returns an owned `Payload`; nothing it uses internally crosses
/// threads.
pub fn decode_for(
    kind: SyncSetKind,
    namespace: Option<&str>,
    spec: &SyncSetCommonSpec,
    labels: &BTreeMap<String, String>,
) -> Payload {
    decode_with_budget(kind, namespace, spec, labels, &mut Budget::per_syncset())
}

/// [`decode_for`] spending from `budget`. Running out of it fails the whole syncset (nothing applied, whether it
/// happened in a resource or in a patch: the message lands in `decode_error`, as `failed to parameterize resource
/// <i>: ...` or `failed to parameterize patch <i>: ...`), and no later string is rendered.
pub fn decode_with_budget(
    kind: SyncSetKind,
    namespace: Option<&str>,
    spec: &SyncSetCommonSpec,
    labels: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> Payload {
    let mut errors = Vec::new();
    let mut decoded = Vec::new();
    for (index, raw) in spec.resources.iter().enumerate() {
        let rendered = if spec.enable_resource_templates {
            if budget.exhausted() {
                break;
            }
            match template::render_value_with(raw, labels, budget) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("failed to parameterize resource {index}: {e}"));
                    continue;
                }
            }
        } else {
            raw.clone()
        };
        // Whether to keep Secret values out of the message is decided on the raw object: a templated kind may
        // have rendered to anything, an empty string included.
        let secret = raw
            .as_object()
            .is_some_and(|m| template::kind_may_be_secret(m.get("kind").and_then(Value::as_str)));
        match decode_resource(&rendered, secret) {
            Ok(mut object) => {
                set_managed_label(&mut object);
                decoded.push(DesiredObject {
                    index,
                    reference: reference_of(&object),
                    object,
                });
            }
            Err(e) => errors.push(format!("failed to decode resource {index}: {e}")),
        }
    }
    let mut references: Vec<_> = decoded.iter().map(|d| d.reference.clone()).collect();
    decoded.sort_by_key(|d| apply_rank(&d.reference));

    let secrets: Vec<SecretOp> = spec
        .secret_mappings
        .iter()
        .enumerate()
        .map(|(index, m)| SecretOp {
            index,
            source: secret_source(kind, namespace, index, &m.source_ref),
            target: m.target_ref.clone(),
        })
        .collect();
    references.extend(secrets.iter().map(SecretOp::reference));

    let mut patch_template_errors = Vec::new();
    let patches = spec
        .patches
        .iter()
        .enumerate()
        .filter_map(|(index, p)| {
            let patch = if spec.enable_patch_templates {
                if budget.exhausted() {
                    return None;
                }
                let secret = template::kind_may_be_secret(Some(&p.kind));
                match template::render_patch_with(&p.patch, labels, budget, secret) {
                    Ok(rendered) => rendered,
                    Err(e) => {
                        let message = format!("failed to parameterize patch {index}: {e}");
                        if budget.exhausted() {
                            // Out of budget: the syncset fails as a whole, like a resource template error.
                            errors.push(message);
                        } else {
                            patch_template_errors.push(message);
                        }
                        return None;
                    }
                }
            } else {
                p.patch.clone()
            };
            // Sent as JSON, so `render` and `diff` show what the cluster gets.
            let patch_type = PatchType::parse(&p.patch_type);
            let (patch, patch_type) = match yaml_v2::to_json(&patch) {
                Ok(body) => (body.to_string(), patch_type),
                Err(e) => {
                    let unparsable = unparsable(&p.kind, &patch, &e);
                    (patch, patch_type.and(Err(unparsable)))
                }
            };
            Some(PatchOp {
                index,
                api_version: p.api_version.clone(),
                kind: p.kind.clone(),
                namespace: if p.namespace.is_empty() {
                    "default".into()
                } else {
                    p.namespace.clone()
                },
                name: p.name.clone(),
                patch,
                patch_type,
            })
        })
        .collect::<Vec<_>>();

    let hash = if is_templated(spec) {
        // What is sent depends on the labels: hash the rendered payload, so a label change re-applies it.
        let rendered: Vec<&Value> = decoded.iter().map(|d| &d.object).collect();
        let patch_bodies: Vec<&str> = patches.iter().map(|p| p.patch.as_str()).collect();
        let extra = serde_json::to_vec(&(rendered, patch_bodies, &patch_template_errors))
            .unwrap_or_default();
        format!(
            "{}-{}",
            hash_of(spec),
            hex::encode(&Sha256::digest(&extra)[..8])
        )
    } else {
        hash_of(spec)
    };

    Payload {
        behavior: ApplyBehavior::parse(&spec.apply_behavior),
        mode: ApplyMode::parse(&spec.resource_apply_mode),
        objects: decoded,
        secrets,
        patches,
        references,
        decode_error: super::aggregate(&errors),
        patch_template_errors,
        hash,
    }
}

/// Namespaces first, then CRDs, then everything else; the sort is stable so list order holds within each rank.
fn apply_rank(r: &SyncResourceReference) -> u8 {
    match (group_of(&r.api_version), r.kind.as_str()) {
        ("", "Namespace") => 0,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => 1,
        _ => 2,
    }
}

/// The checks Go's unstructured decoder makes, with its messages. With `secret` (the raw object may be a Secret)
/// the object quoted in the message has its `data` and `stringData` values replaced by `<redacted>`.
fn decode_resource(raw: &Value, secret: bool) -> Result<Value, String> {
    let compact = || {
        if !secret {
            return raw.to_string();
        }
        let mut shown = raw.clone();
        if let Some(map) = shown.as_object_mut() {
            for field in ["data", "stringData"] {
                if let Some(v) = map.get_mut(field) {
                    template::redact_secret_values(v);
                }
            }
        }
        shown.to_string()
    };
    let Some(map) = raw.as_object() else {
        return Err(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type(raw)
        ));
    };
    let field = |k: &str| map.get(k).and_then(Value::as_str).unwrap_or_default();
    if field("kind").is_empty() {
        return Err(format!(
            "error unmarshaling JSON: while decoding JSON: Object 'Kind' is missing in '{}'",
            compact()
        ));
    }
    if field("apiVersion").is_empty() {
        return Err(format!(
            "error unmarshaling JSON: while decoding JSON: Object 'apiVersion' is missing in '{}'",
            compact()
        ));
    }
    Ok(raw.clone())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Sets `hive.openshift.io/managed: "true"`, overwriting any value (and a `labels: null`).
pub fn set_managed_label(object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let labels = meta
        .as_object_mut()
        .map(|m| m.entry("labels").or_insert_with(|| json!({})));
    if let Some(labels) = labels {
        if !labels.is_object() {
            *labels = json!({});
        }
        labels[MANAGED_LABEL] = json!("true");
    }
}

fn secret_source(
    kind: SyncSetKind,
    namespace: Option<&str>,
    index: usize,
    source: &SecretReference,
) -> Result<NamespacedName, String> {
    match kind {
        SyncSetKind::SelectorSyncSet if source.namespace.is_empty() => {
            Err(format!("source namespace missing for secret {index}"))
        }
        SyncSetKind::SelectorSyncSet => Ok(NamespacedName::new(&source.namespace, &source.name)),
        SyncSetKind::SyncSet => {
            let own = namespace.unwrap_or_default();
            if source.namespace.is_empty() || source.namespace == own {
                Ok(NamespacedName::new(own, &source.name))
            } else {
                Err(format!("source in wrong namespace for secret {index}"))
            }
        }
    }
}

/// The spoke Secret for a mapping: the source's type, data and immutability, with metadata replaced by the target
/// name and namespace and the source's labels and annotations, plus the managed label.
pub fn target_secret(source: &Secret, target: &SecretReference) -> Value {
    let mut meta = json!({ "name": target.name });
    if !target.namespace.is_empty() {
        meta["namespace"] = json!(target.namespace);
    }
    if let Some(labels) = &source.metadata.labels {
        meta["labels"] = json!(labels);
    }
    // The hub Secret's own `last-applied-configuration` (from `kubectl apply` on the hub) describes that Secret, not
    // the copy, and holds its data once more: it is not copied (Hive's apply replaces it with the copy's own).
    let annotations: Option<BTreeMap<&String, &String>> =
        source.metadata.annotations.as_ref().map(|a| {
            a.iter()
                .filter(|(k, _)| k.as_str() != "kubectl.kubernetes.io/last-applied-configuration")
                .collect()
        });
    if let Some(annotations) = annotations.filter(|a| !a.is_empty()) {
        meta["annotations"] = json!(annotations);
    }
    let mut secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": meta });
    if let Some(t) = &source.type_ {
        secret["type"] = json!(t);
    }
    if let Some(data) = &source.data {
        let data: BTreeMap<_, _> = data.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        secret["data"] = json!(data);
    }
    if let Some(immutable) = source.immutable {
        secret["immutable"] = json!(immutable);
    }
    set_managed_label(&mut secret);
    secret
}

fn hash_of(spec: &SyncSetCommonSpec) -> String {
    let bytes = serde_json::to_vec(spec).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SecretMapping;

    fn spec(yaml: &str) -> SyncSetCommonSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn an_object_without_kind_fails_to_decode_with_go_s_message() {
        let p = decode(SyncSetKind::SyncSet, Some("ns"), &spec("resources: [{}]"));
        assert_eq!(
            p.decode_error.as_deref(),
            Some("failed to decode resource 0: error unmarshaling JSON: while decoding JSON: Object 'Kind' is missing in '{}'")
        );
    }

    #[test]
    fn several_decode_errors_are_aggregated() {
        let p = decode(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec("resources: [{}, {kind: X}]"),
        );
        let msg = p.decode_error.unwrap();
        assert!(msg.starts_with("[failed to decode resource 0: "), "{msg}");
        assert!(msg.contains(", failed to decode resource 1: error unmarshaling JSON: while decoding JSON: Object 'apiVersion' is missing in '{\"kind\":\"X\"}']"), "{msg}");
    }

    #[test]
    fn namespaces_and_crds_are_applied_first_and_keep_their_list_index() {
        let p = decode(
            SyncSetKind::SelectorSyncSet,
            None,
            &spec(
                r#"
resources:
- {apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: ns}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ns}}
- {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: widgets.example.com}}
- {apiVersion: v1, kind: Namespace, metadata: {name: ns, labels: null}}
"#,
            ),
        );
        let order: Vec<_> = p
            .objects
            .iter()
            .map(|o| (o.index, o.reference.kind.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (3, "Namespace"),
                (2, "CustomResourceDefinition"),
                (0, "Widget"),
                (1, "ConfigMap")
            ]
        );
        // resourcesInSyncSet keeps the user's order.
        assert_eq!(p.references[0].kind, "Widget");
        assert_eq!(
            p.objects[0].object["metadata"]["labels"][MANAGED_LABEL],
            "true"
        );
    }

    #[test]
    fn selector_syncset_secrets_need_a_source_namespace_and_syncset_secrets_stay_home() {
        let mapping = |ns: &str| SecretMapping {
            source_ref: SecretReference {
                name: "s".into(),
                namespace: ns.into(),
            },
            target_ref: SecretReference {
                name: "t".into(),
                namespace: "tns".into(),
            },
        };
        let with = |kind, own: Option<&str>, m| {
            decode(
                kind,
                own,
                &SyncSetCommonSpec {
                    secret_mappings: vec![m],
                    ..Default::default()
                },
            )
            .secrets[0]
                .source
                .clone()
        };
        assert_eq!(
            with(SyncSetKind::SelectorSyncSet, None, mapping("")),
            Err("source namespace missing for secret 0".into())
        );
        assert_eq!(
            with(SyncSetKind::SelectorSyncSet, None, mapping("any")),
            Ok(NamespacedName::new("any", "s"))
        );
        assert_eq!(
            with(SyncSetKind::SyncSet, Some("home"), mapping("")),
            Ok(NamespacedName::new("home", "s"))
        );
        assert_eq!(
            with(SyncSetKind::SyncSet, Some("home"), mapping("home")),
            Ok(NamespacedName::new("home", "s"))
        );
        assert_eq!(
            with(SyncSetKind::SyncSet, Some("home"), mapping("other")),
            Err("source in wrong namespace for secret 0".into())
        );
    }

    #[test]
    fn a_patch_defaults_to_namespace_default_and_strategic_and_an_unknown_type_gets_hive_s_error() {
        let p = decode(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec("patches: [{apiVersion: v1, kind: ConfigMap, name: c, patch: '{}'}, {apiVersion: v1, kind: ConfigMap, name: c, namespace: x, patch: '{}', patchType: xml}]"),
        );
        assert_eq!(p.patches[0].namespace, "default");
        assert_eq!(p.patches[0].patch_type, Ok(PatchType::Strategic));
        assert_eq!(
            p.patches[1].patch_type,
            Err(
                "invalid patch type: xml. Valid patch types are 'strategic', 'merge' or 'json'"
                    .into()
            )
        );
    }

    fn patch_of(kind: &str, patch_type: &str, body: &str) -> PatchOp {
        let spec: SyncSetCommonSpec = serde_json::from_value(json!({"patches": [
            {"apiVersion": "v1", "kind": kind, "name": "c", "namespace": "ns", "patch": body, "patchType": patch_type}]}))
        .unwrap();
        decode(SyncSetKind::SyncSet, Some("ns"), &spec)
            .patches
            .remove(0)
    }

    #[test]
    fn yaml_patch_bodies_are_sent_as_json_for_every_patch_type() {
        // The block-scalar form of public SyncSet examples (`patch: |` then `data:` / `  foo: bar`).
        let merge = patch_of(
            "ConfigMap",
            "merge",
            "data:\n  foo: bar\n  newKey: newValue\n",
        );
        assert_eq!(merge.patch, r#"{"data":{"foo":"bar","newKey":"newValue"}}"#);
        assert_eq!(
            merge.body(),
            Ok(json!({"data": {"foo": "bar", "newKey": "newValue"}}))
        );
        let strategic = patch_of(
            "ConfigMap",
            "",
            "metadata:\n  labels: {team: a}  # a comment\ndata:\n  foo: |\n    two\n    lines\n",
        );
        assert_eq!(
            strategic.patch,
            r#"{"data":{"foo":"two\nlines\n"},"metadata":{"labels":{"team":"a"}}}"#
        );
        let json_patch = patch_of(
            "ConfigMap",
            "json",
            "- op: replace\n  path: /data/foo\n  value: baz\n- {op: remove, path: /data/old}\n",
        );
        assert_eq!(
            json_patch.patch,
            r#"[{"op":"replace","path":"/data/foo","value":"baz"},{"op":"remove","path":"/data/old"}]"#
        );
        // JSON is YAML: it goes through unchanged but for spacing and key order (Go's json.Marshal sorts keys too).
        let plain_json = patch_of("ConfigMap", "merge", r#"{"data": {"b": "2", "a": "1"}}"#);
        assert_eq!(plain_json.patch, r#"{"data":{"a":"1","b":"2"}}"#);
    }

    /// yaml.v2 (YAML 1.1) reads plain scalars differently from YAML 1.2; Hive sends what yaml.v2 reads.
    #[test]
    fn unquoted_scalars_are_read_as_yaml_1_1_like_hive_s_yaml_library() {
        let p = patch_of(
            "Deployment",
            "merge",
            r#"
spec:
  yes: y
  no: n
  on: ON
  off: Off
  quoted: ["yes", 'on', "0644", '1_000', "true"]
  octal: 0644
  zero: 00
  hex: 0X1F
  binary: 0b101
  o: 0o17
  underscores: 1_000
  eight: 08
  integral: 1.0
  float: 1.5
  exponent: 1e3
  huge: 18446744073709551615
  negative: -0x10
  nothing: ~
  tagged: !!str yes
  strings: [yesterday, 1.2.3, 0x, 1:30, 2024-01-02, .5.]
  80: http
  1.5: float key
"#,
        );
        assert_eq!(
            p.body().unwrap(),
            json!({"spec": {
                "true": true, "false": false, "true": true, "false": false,
                "quoted": ["yes", "on", "0644", "1_000", "true"],
                "octal": 420, "zero": 0, "hex": 31, "binary": 5, "o": 15, "underscores": 1000, "eight": 8,
                "integral": 1, "float": 1.5, "exponent": 1000, "huge": 18446744073709551615u64, "negative": -16,
                "nothing": null, "tagged": "yes",
                "strings": ["yesterday", "1.2.3", "0x", "1:30", "2024-01-02", ".5."],
                "80": "http", "1.5": "float key"}})
        );
        // `yes: y` and `on: ON` both became the key "true": the last one wins, as in yaml.v2.
        assert_eq!(
            p.patch,
            r#"{"spec":{"1.5":"float key","80":"http","binary":5,"eight":8,"exponent":1000,"false":false,"float":1.5,"hex":31,"huge":18446744073709551615,"integral":1,"negative":-16,"nothing":null,"o":15,"octal":420,"quoted":["yes","on","0644","1_000","true"],"strings":["yesterday","1.2.3","0x","1:30","2024-01-02",".5."],"tagged":"yes","true":true,"underscores":1000,"zero":0}}"#
        );
        // JSON numbers are written as Go writes float64s, too.
        assert_eq!(
            patch_of("X", "merge", r#"{"a": 1.0, "b": 2.50, "c": 1e2}"#).patch,
            r#"{"a":1,"b":2.5,"c":100}"#
        );
    }

    #[test]
    fn a_body_that_is_neither_json_nor_yaml_fails_with_kubectl_s_message_when_sent() {
        let p = patch_of("ConfigMap", "merge", r#"{"data": {"foo": "#);
        // Kept as written; the patch fails when its turn comes (the other patches before it still run).
        assert_eq!(p.patch, r#"{"data": {"foo": "#);
        let message = r#"unable to parse "{\"data\": {\"foo\": ": yaml: line 1: did not find expected node content"#;
        assert_eq!(p.patch_type, Err(message.into()));
        assert_eq!(p.body(), Err(message.into()));
        let fails = |kind: &str, patch_type: &str, body: &str| {
            patch_of(kind, patch_type, body).patch_type.unwrap_err()
        };
        assert_eq!(
            fails("ConfigMap", "strategic", "data:\n  a: b: c\n"),
            r#"unable to parse "data:\n  a: b: c\n": yaml: line 2: mapping values are not allowed in this context"#
        );
        // yaml.v2 leaves the line out on the first line, and counts a parser's lines from 0 (hack/yaml-compat).
        assert_eq!(
            fails("ConfigMap", "json", "data: {a: `b}"),
            r#"unable to parse "data: {a: `b}": yaml: found character that cannot start any token"#
        );
        assert_eq!(
            fails("ConfigMap", "merge", "data:\n  a: [b\n"),
            r#"unable to parse "data:\n  a: [b\n": yaml: line 2: did not find expected ',' or ']'"#
        );
        // Go's encoding/json cannot write NaN or an infinity.
        assert_eq!(
            fails("ConfigMap", "merge", "data: {a: .nan}"),
            r#"unable to parse "data: {a: .nan}": json: unsupported value: NaN"#
        );
        assert_eq!(
            fails("ConfigMap", "merge", "- -.inf"),
            r#"unable to parse "- -.inf": json: unsupported value: -Inf"#
        );
        // Hive checks the type before kubectl reads the body.
        assert_eq!(
            fails("ConfigMap", "xml", "a: b: c"),
            "invalid patch type: xml. Valid patch types are 'strategic', 'merge' or 'json'"
        );
        // A Secret's patch carries its data: the body is not quoted.
        assert_eq!(
            fails(
                "Secret",
                "merge",
                "stringData:\n  password: PLANTED: VALUE\n"
            ),
            r#"unable to parse "<redacted>": yaml: line 2: mapping values are not allowed in this context"#
        );
        assert!(!fails("secrets", "merge", "a: b: PLANTED").contains("PLANTED"));
        // Errors that quote the body's text do not quote a Secret's.
        for body in [
            "a: !!int PLANTED",
            "~: PLANTED",
            "9223372036854775808: PLANTED",
        ] {
            let err = fails("Secret", "merge", body);
            assert!(
                err.contains("<redacted>") && !err.contains("PLANTED"),
                "{err}"
            );
        }
        assert!(fails("ConfigMap", "merge", "a: !!int PLANTED").contains("`PLANTED`"));
    }

    #[test]
    fn yaml_edge_cases_end_in_a_value_or_an_error_never_a_hang() {
        // Empty: yaml.ToJSON gives `null`. Several documents: the first.
        assert_eq!(patch_of("ConfigMap", "merge", "").patch, "null");
        assert_eq!(
            patch_of("ConfigMap", "merge", "a: 1\n---\nb: [").patch,
            r#"{"a":1}"#
        );
        // Anchors and aliases expand; an alias bomb is cut off.
        assert_eq!(
            patch_of(
                "ConfigMap",
                "merge",
                "data: &d {a: b}\nmetadata: {annotations: *d}"
            )
            .patch,
            r#"{"data":{"a":"b"},"metadata":{"annotations":{"a":"b"}}}"#
        );
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in b'b'..b'm' {
            let (this, below) = (level as char, (level - 1) as char);
            let items = vec![format!("*{below}"); 10].join(", ");
            bomb.push_str(&format!("{this}: &{this} [{items}]\n"));
        }
        let started = std::time::Instant::now();
        let err = patch_of("ConfigMap", "merge", &bomb)
            .patch_type
            .unwrap_err();
        assert!(err.ends_with("yaml: repetition limit exceeded"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Deep nesting: the parser's recursion limit, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = patch_of("ConfigMap", "merge", &deep)
            .patch_type
            .unwrap_err();
        assert!(
            err.ends_with("recursion limit exceeded"),
            "{}",
            &err[err.len() - 100..]
        );
        // A null key has no JSON form.
        let err = patch_of("ConfigMap", "merge", "~: a")
            .patch_type
            .unwrap_err();
        assert!(
            err.ends_with(r#": unsupported map key of type: %!s(<nil>), key: <nil>, value: "a""#),
            "{err}"
        );
    }

    #[test]
    fn a_templated_yaml_patch_is_converted_after_rendering() {
        let spec = templated(
            json!([]),
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "patchType": "merge",
                    "patch": "data:\n  region: {{ fromCDLabel \"region\" }}\n  flag: {{ fromCDLabel \"flag\" }}\n  quoted: \"{{ fromCDLabel \"flag\" }}\"\n"}]),
        );
        let mut labels = cluster_labels();
        labels.insert("flag".into(), "on".into());
        let p = decode_for(SyncSetKind::SyncSet, Some("ns"), &spec, &labels);
        assert_eq!(p.patch_template_errors, Vec::<String>::new());
        // The rendered text is YAML; the unquoted `on` a label put there is a boolean, as Hive would send it.
        assert_eq!(
            p.patches[0].patch,
            r#"{"data":{"flag":true,"quoted":"on","region":"us-east-1"}}"#
        );
        // A rendering that is not YAML fails when sent, quoting the rendered text.
        labels.insert("flag".into(), "a: b".into());
        let p = decode_for(SyncSetKind::SyncSet, Some("ns"), &spec, &labels);
        assert_eq!(
            p.patches[0].patch_type,
            Err(r#"unable to parse "data:\n  region: us-east-1\n  flag: a: b\n  quoted: \"a: b\"\n": yaml: line 3: mapping values are not allowed in this context"#.into())
        );
    }

    #[test]
    fn a_target_secret_takes_data_type_labels_and_the_target_name() {
        let source: Secret = serde_json::from_value(json!({
            "metadata": {"name": "src", "namespace": "hub", "uid": "u", "resourceVersion": "9",
                         "labels": {"a": "b"}, "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "x"}],
                         "annotations": {"note": "kept", "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{}}"}},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "e30="}
        }))
        .unwrap();
        let out = target_secret(
            &source,
            &SecretReference {
                name: "dst".into(),
                namespace: "spoke".into(),
            },
        );
        assert_eq!(
            out,
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                   "metadata": {"name": "dst", "namespace": "spoke", "labels": {"a": "b", MANAGED_LABEL: "true"},
                                "annotations": {"note": "kept"}},
                   "data": {".dockerconfigjson": "e30="}})
        );
    }

    #[test]
    fn the_hash_follows_the_spec() {
        let a = decode(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec("resources: [{apiVersion: v1, kind: Namespace, metadata: {name: a}}]"),
        );
        let b = decode(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec("resources: [{apiVersion: v1, kind: Namespace, metadata: {name: b}}]"),
        );
        assert_ne!(a.hash, b.hash);
        assert_eq!(
            a.hash,
            decode(
                SyncSetKind::SyncSet,
                Some("ns"),
                &spec("resources: [{apiVersion: v1, kind: Namespace, metadata: {name: a}}]")
            )
            .hash
        );
    }

    fn templated(resources: Value, patches: Value) -> SyncSetCommonSpec {
        serde_json::from_value(json!({
            "enableResourceTemplates": true,
            "enablePatchTemplates": true,
            "resources": resources,
            "patches": patches,
        }))
        .unwrap()
    }

    fn cluster_labels() -> BTreeMap<String, String> {
        [("env", "prod"), ("region", "us-east-1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    const OUT_OF_BYTES: &str =
        "the syncset's templates exceed the render budget of 16777216 output bytes for one cluster";

    #[test]
    fn an_ordinary_templated_payload_renders_as_before_and_costs_little() {
        let spec = templated(
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "meta", "namespace": "openshift-config"},
                    "data": {"env": "{{ fromCDLabel \"env\" }}", "region": "{{ fromCDLabel \"region\" }}",
                             "missing": "{{ fromCDLabel \"nope\" }}", "both": "{{ printf \"%s/%s\" (fromCDLabel \"env\") (fromCDLabel \"region\") }}"}}]),
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "patch": "{\"data\": {\"env\": \"{{ fromCDLabel \"env\" }}\"}}"}]),
        );
        let mut budget = Budget::per_syncset();
        let p = decode_with_budget(
            SyncSetKind::SelectorSyncSet,
            None,
            &spec,
            &cluster_labels(),
            &mut budget,
        );
        assert_eq!(p.decode_error, None);
        assert_eq!(
            p.objects[0].object,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "meta", "namespace": "openshift-config", "labels": {MANAGED_LABEL: "true"}},
                   "data": {"env": "prod", "region": "us-east-1", "missing": "", "both": "prod/us-east-1"}})
        );
        assert_eq!(p.patches[0].patch, r#"{"data":{"env":"prod"}}"#);
        assert_eq!(
            p,
            decode_for(SyncSetKind::SelectorSyncSet, None, &spec, &cluster_labels())
        );
        // OSD's real templated set costs 15 steps and 28 bytes: the budget is orders of magnitude away.
        assert!(Budget::per_syncset().steps_left() - budget.steps_left() < 100);
        assert!(Budget::per_syncset().output_left() - budget.output_left() < 200);
    }

    #[test]
    fn strings_under_the_per_string_caps_share_one_budget_and_the_rest_is_not_rendered() {
        // Each prints 4 MB (and its printf calls return 4 MB): under the per-string caps; the third passes 16 MiB.
        let heavy = r#"{{ range 1000 }}{{ printf "%4000s" "" }}{{ end }}"#;
        let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": heavy}});
        let spec = templated(
            json!([cm("a"), cm("b"), cm("c"), cm("d"), {"kind": "{{ bad"}]),
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "patch": "{{ bad"}]),
        );
        let p = decode_for(SyncSetKind::SyncSet, Some("ns"), &spec, &cluster_labels());
        let msg = p.decode_error.unwrap();
        // One error: resources 3 and 4 and the patch were never rendered (4 and the patch would fail to parse).
        assert!(msg.starts_with("failed to parameterize resource 2: Failed to apply template to value map[string]interface {}{\"a\":\""), "{}", &msg[..200]);
        assert!(msg.ends_with(OUT_OF_BYTES), "{}", &msg[msg.len() - 300..]);
        assert!(
            !msg.contains("resource 3") && !msg.contains("resource 4") && !msg.contains("patch")
        );
        assert!(p.patch_template_errors.is_empty() && p.patches.is_empty());
    }

    #[test]
    fn running_out_of_steps_over_several_resources_fails_the_syncset() {
        let spec = templated(
            json!([{"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "{{ range 1000 }}x{{ end }}"}},
                   {"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "{{ range 1000 }}x{{ end }}"}},
                   {"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "{{ range 1000 }}x{{ end }}"}}]),
            json!([]),
        );
        let mut budget = Budget::new(5_000, 1 << 20);
        let p = decode_with_budget(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec,
            &cluster_labels(),
            &mut budget,
        );
        let msg = p.decode_error.unwrap();
        assert!(
            msg.starts_with("failed to parameterize resource 2: "),
            "{msg}"
        );
        assert!(msg.ends_with(r#"failed to execute template on string "{{ range 1000 }}x{{ end }}": template: cdParams:1:16: executing "cdParams" at <x>: the syncset's templates exceed the render budget of 5000 steps for one cluster"#), "{msg}");
        assert!(budget.exhausted());
    }

    #[test]
    fn a_patch_that_runs_out_of_budget_fails_the_whole_syncset() {
        let patch = |n: usize| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "patch": format!("{{{{ printf \"%{n}s\" \"\" }}}}")});
        let spec = templated(
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]),
            json!([patch(3000), {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "patch": "{{ bad"}, patch(3000), patch(1)]),
        );
        // Patch 0 spends 6000 bytes (3000 returned by printf, 3000 printed); patch 2's printing passes 10000.
        let mut budget = Budget::new(1_000_000, 10_000);
        let p = decode_with_budget(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec,
            &cluster_labels(),
            &mut budget,
        );
        assert_eq!(
            p.decode_error.as_deref(),
            Some(
                r#"failed to parameterize patch 2: failed to execute template on string "{{ printf \"%3000s\" \"\" }}": template: cdParams:1:3: executing "cdParams" at <{{printf "%3000s" ""}}>: the syncset's templates exceed the render budget of 10000 output bytes for one cluster"#
            )
        );
        // An ordinary patch template error is still Hive's: skipped, reported after the others ran.
        assert_eq!(p.patch_template_errors.len(), 1);
        assert!(p.patch_template_errors[0].starts_with("failed to parameterize patch 1: "));
        assert_eq!(p.patches.iter().map(|p| p.index).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_secret_s_values_stay_out_of_template_and_decode_errors() {
        // A bad template next to a planted value.
        let bad = templated(
            json!([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                    "stringData": {"a": "PLANTED-VALUE", "b": "{{ bad"}}]),
            json!([]),
        );
        let msg = decode_for(SyncSetKind::SyncSet, Some("ns"), &bad, &cluster_labels())
            .decode_error
            .unwrap();
        assert!(!msg.contains("PLANTED"), "{msg}");
        assert_eq!(
            msg,
            r#"failed to parameterize resource 0: Failed to apply template to value map[string]interface {}{"a":"<redacted>", "b":"<redacted>"}: failed to parse template string "<redacted>": template: cdParams:1: <redacted>"#
        );
        // A templated kind that renders empty: the decoder's message quotes the object, values redacted.
        let empty_kind = templated(
            json!([{"apiVersion": "v1", "kind": "{{ fromCDLabel \"kind\" }}", "metadata": {"name": "s"},
                    "stringData": {"a": "PLANTED-VALUE", "b": "{{ \"PLANTED-RENDERED\" }}"}, "data": {"c": "UExBTlRFRA=="}}]),
            json!([]),
        );
        let msg = decode_for(
            SyncSetKind::SyncSet,
            Some("ns"),
            &empty_kind,
            &cluster_labels(),
        )
        .decode_error
        .unwrap();
        assert!(
            !msg.contains("PLANTED") && !msg.contains("UExBTlRFRA"),
            "{msg}"
        );
        assert_eq!(
            msg,
            r#"failed to decode resource 0: error unmarshaling JSON: while decoding JSON: Object 'Kind' is missing in '{"apiVersion":"v1","data":{"c":"<redacted>"},"kind":"","metadata":{"name":"s"},"stringData":{"a":"<redacted>","b":"<redacted>"}}'"#
        );
        // Without templates too: a Secret missing its apiVersion.
        let p = decode(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec("resources: [{kind: Secret, metadata: {name: s}, data: {c: UExBTlRFRA==}}]"),
        );
        assert_eq!(
            p.decode_error.as_deref(),
            Some(
                r#"failed to decode resource 0: error unmarshaling JSON: while decoding JSON: Object 'apiVersion' is missing in '{"data":{"c":"<redacted>"},"kind":"Secret","metadata":{"name":"s"}}'"#
            )
        );
        // A patch of a Secret.
        let patched = templated(
            json!([]),
            json!([{"apiVersion": "v1", "kind": "Secret", "name": "s", "patch": "{\"stringData\": {\"a\": \"PLANTED-VALUE{{ bad\"}}"}]),
        );
        let p = decode_for(
            SyncSetKind::SyncSet,
            Some("ns"),
            &patched,
            &cluster_labels(),
        );
        assert_eq!(
            p.patch_template_errors,
            [
                r#"failed to parameterize patch 0: failed to parse template string "<redacted>": template: cdParams:1: <redacted>"#
            ]
        );
    }

    #[test]
    fn a_config_map_keeps_hive_s_exact_messages() {
        let bad = templated(
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                    "data": {"a": "VISIBLE-VALUE", "b": "{{ bad"}}]),
            json!([]),
        );
        assert_eq!(
            decode_for(SyncSetKind::SyncSet, Some("ns"), &bad, &cluster_labels())
                .decode_error
                .as_deref(),
            Some(
                r#"failed to parameterize resource 0: Failed to apply template to value map[string]interface {}{"a":"VISIBLE-VALUE", "b":"{{ bad"}: failed to parse template string "{{ bad": template: cdParams:1: function "bad" not defined"#
            )
        );
        let p = decode(
            SyncSetKind::SyncSet,
            Some("ns"),
            &spec("resources: [{kind: ConfigMap, metadata: {name: c}, data: {a: VISIBLE-VALUE}}]"),
        );
        assert_eq!(
            p.decode_error.as_deref(),
            Some(
                r#"failed to decode resource 0: error unmarshaling JSON: while decoding JSON: Object 'apiVersion' is missing in '{"data":{"a":"VISIBLE-VALUE"},"kind":"ConfigMap","metadata":{"name":"c"}}'"#
            )
        );
    }
}
