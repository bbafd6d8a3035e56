//! `hivesync render CLUSTER`: what hivesync would send to a cluster now (a full sync, after selection, templates and
//! ordering) as a YAML stream, each document preceded by a comment naming its syncset and list position. Patches and
//! Sync-mode deletions are comments (with the equivalent `kubectl patch`), so the stream stays appliable:
//! `kubectl apply --server-side --field-manager=hivesync -f -` reproduces the objects. Secret data is redacted unless
//! `--show-secrets`. `-o json` prints the objects as one `v1 List` (what kubectl's `-o json` prints, and appliable
//! the same way), `-o name` one `kind.group/name` a line; both leave out patches, deletions and skipped syncsets,
//! which only the YAML stream's comments carry. Also the hub snapshot and the plan that `diff` shares.

use anyhow::Context as _;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

use super::hub::Hub;
use crate::api::{
    ClusterDeployment, ClusterKey, ClusterSync, ClusterSyncStatus, NamespacedName, SelectorSyncSet,
    SyncResourceReference, SyncSet,
};
use crate::plan::decode::{self, ApplyBehavior, PatchOp, PatchType, SyncSetKind};
use crate::plan::gate::{self, Gate};
use crate::plan::identity::group_of;
use crate::plan::run::Op;
use crate::plan::select::{full_sync_plan, targets_for, FullSyncPlan, PlannedOp};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The cluster: NAME or NAMESPACE/NAME of its ClusterDeployment.
    pub cluster: String,
    /// The ClusterDeployment's hub namespace (needed only when NAME exists in several).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Show Secret data instead of `<redacted>` (reads the hub Secrets either way).
    #[arg(long)]
    pub show_secrets: bool,
    /// yaml (default): the stream with its comments; json: the objects as a `v1 List`; name: `kind.group/name` lines.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub hub: super::hub::HubArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Yaml,
    Json,
    Name,
}

pub async fn run(args: Args) -> anyhow::Result<u8> {
    let Args {
        cluster,
        namespace,
        show_secrets,
        output,
        hub,
    } = args;
    let hub = Hub::connect(&hub).await?;
    let snapshot = Snapshot::load(&hub, namespace.as_deref(), &cluster).await?;
    let plan = snapshot.plan();
    if let Some(output @ (Output::Json | Output::Name)) = output {
        let mut objects = Vec::new();
        for p in &plan.ops {
            let object = match &p.op {
                Op::Apply { object, .. } => object.clone(),
                Op::ApplySecret { source, target, .. } => match read_secret(&hub, source).await {
                    Ok(s) => decode::target_secret(&s, target),
                    Err(e) => {
                        anyhow::bail!("{}: hub Secret {source} cannot be read: {e}", origin(p))
                    }
                },
                Op::Patch(_) | Op::Delete(_) => continue,
            };
            objects.push(object);
        }
        print!("{}", as_data(objects, output, show_secrets));
        return Ok(super::report::EXIT_OK);
    }
    let mut out = header(&snapshot, show_secrets);
    for p in &plan.ops {
        let secret = match &p.op {
            Op::ApplySecret { source, .. } => Some(read_secret(&hub, source).await),
            _ => None,
        };
        out.push_str(&render_op(p, secret, show_secrets));
    }
    for s in &plan.skipped {
        out.push_str(&format!(
            "# {} {}: not applied: {}\n",
            s.kind.as_str(),
            s.syncset,
            s.message
        ));
    }
    print!("{out}");
    Ok(super::report::EXIT_OK)
}

// ------------------------------------------------------------------------------------------------------ the snapshot

/// What the plan of one cluster needs from the hub: its ClusterDeployment, its ClusterSync status, the SyncSets of its
/// namespace and every SelectorSyncSet.
pub struct Snapshot {
    pub cd: ClusterDeployment,
    pub previous: ClusterSyncStatus,
    pub sync_sets: Vec<SyncSet>,
    pub selector_sync_sets: Vec<SelectorSyncSet>,
}

impl Snapshot {
    pub async fn load(hub: &Hub, namespace: Option<&str>, cluster: &str) -> anyhow::Result<Self> {
        let cd = hub.find_cluster(namespace, cluster).await?;
        let key = ClusterKey::of(&cd);
        let sss_api: Api<SelectorSyncSet> = Api::all(hub.client.clone());
        let params = ListParams::default();
        let (cs, sync_sets, selector_sync_sets) = tokio::try_join!(
            hub.get_opt::<ClusterSync>(&key.namespace, &key.name),
            hub.list::<SyncSet>(Some(&key.namespace)),
            hub.call("list selectorsyncsets", sss_api.list(&params)),
        )?;
        Ok(Self {
            cd,
            previous: cs.and_then(|c| c.status).unwrap_or_default(),
            sync_sets,
            selector_sync_sets: selector_sync_sets.items,
        })
    }

    /// The cluster's `namespace/name`.
    pub fn key(&self) -> String {
        ClusterKey::of(&self.cd).to_string()
    }

    /// A full sync of the cluster, as the controller would run it now.
    pub fn plan(&self) -> FullSyncPlan {
        let (ss, sss) = targets_for(
            &self.cd,
            &self.sync_sets,
            &self.selector_sync_sets,
            &self.previous,
        );
        full_sync_plan(ss, sss, &self.previous, Time(Timestamp::now()))
    }

    /// Why hivesync sends nothing to this cluster now, if it does not.
    pub fn gate_note(&self) -> Option<String> {
        match gate::gate(&self.cd) {
            Gate::Sync if gate::reachable(&self.cd) => None,
            Gate::Sync => Some("the cluster is not known to be reachable: nothing is sent until it is".into()),
            Gate::Paused { .. } => Some("the cluster is paused (syncset-pause, reconcile-pause or relocate annotation): nothing is sent until that is lifted".into()),
            Gate::Deleting => Some("the ClusterDeployment is being deleted: nothing is sent".into()),
            Gate::NotInstalled => Some("the cluster is not installed yet: nothing is sent until it is".into()),
            Gate::NoClusterMetadata => Some("the ClusterDeployment has no spec.clusterMetadata: nothing is sent".into()),
        }
    }
}

// ------------------------------------------------------------------------------------------------------ formatting

/// `v1 ConfigMap ns/name`, `v1 Namespace name`.
pub fn describe_ref(r: &SyncResourceReference) -> String {
    if r.namespace.is_empty() {
        format!("{} {} {}", r.api_version, r.kind, r.name)
    } else {
        format!("{} {} {}/{}", r.api_version, r.kind, r.namespace, r.name)
    }
}

/// `SyncSet name, resources[2]`.
pub fn origin(p: &PlannedOp) -> String {
    format!("{} {}, {}", p.kind.as_str(), p.syncset, p.position)
}

/// Whether `kind` in `api_version` is the core Secret.
pub fn is_secret(api_version: &str, kind: &str) -> bool {
    kind == "Secret" && group_of(api_version).is_empty()
}

/// Annotation in which `kubectl apply` keeps a copy of the whole object, Secret data included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Replaces the values of a v1 Secret's `data` and `stringData` (and a `last-applied-configuration` annotation, which
/// holds a copy of them) with `replacement(value)`.
pub fn redact_secret(object: &mut Value, replacement: &dyn Fn(&Value) -> Value) {
    if !is_secret(
        object["apiVersion"].as_str().unwrap_or(""),
        object["kind"].as_str().unwrap_or(""),
    ) {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
            for v in map.values_mut() {
                *v = replacement(v);
            }
        }
    }
    if let Some(v) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
        .and_then(|a| a.get_mut(LAST_APPLIED))
    {
        *v = replacement(v);
    }
}

fn header(s: &Snapshot, show_secrets: bool) -> String {
    let mut out = format!(
        "# hivesync render {}: a full sync in the order hivesync sends it.\n\
         # The objects, applied with `kubectl apply --server-side --field-manager=hivesync -f -`, are what hivesync applies;\n\
         # patches and deletions are comments.{}\n",
        s.key(),
        if show_secrets {
            ""
        } else {
            " Secret data is <redacted> (--show-secrets shows it)."
        }
    );
    if let Some(note) = s.gate_note() {
        out.push_str(&format!("# note: {note}\n"));
    }
    out
}

/// The objects as `-o json` (a `v1 List`) or `-o name` prints them.
fn as_data(mut objects: Vec<Value>, output: Output, show_secrets: bool) -> String {
    if !show_secrets {
        for o in &mut objects {
            redact_secret(o, &|_| json!("<redacted>"));
        }
    }
    match output {
        Output::Name => objects
            .iter()
            .map(|o| {
                let api_version = o["apiVersion"].as_str().unwrap_or_default();
                let kind = o["kind"].as_str().unwrap_or_default().to_lowercase();
                let group = group_of(api_version);
                let name = o["metadata"]["name"].as_str().unwrap_or_default();
                if group.is_empty() {
                    format!("{kind}/{name}\n")
                } else {
                    format!("{kind}.{group}/{name}\n")
                }
            })
            .collect(),
        _ => {
            let list =
                json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects});
            format!(
                "{}\n",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            )
        }
    }
}

fn to_yaml(v: &Value) -> String {
    serde_saphyr::to_string(v).unwrap_or_else(|e| format!("# cannot print as YAML: {e}\n"))
}

fn behavior_note(b: ApplyBehavior) -> &'static str {
    match b {
        ApplyBehavior::Apply => "",
        ApplyBehavior::CreateOrUpdate => {
            " (applyBehavior CreateOrUpdate: created, or merged into the live object; no field is removed)"
        }
        ApplyBehavior::CreateOnly => " (applyBehavior CreateOnly: created only if absent)",
    }
}

/// The resource argument of `kubectl patch`: `configmap`, `deployment.v1.apps`.
fn kubectl_resource(api_version: &str, kind: &str) -> String {
    let kind = kind.to_lowercase();
    match api_version.split_once('/') {
        Some((group, version)) => format!("{kind}.{version}.{group}"),
        None => kind,
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn patch_comment(origin: &str, p: &PatchOp, show_secrets: bool) -> String {
    let target = describe_ref(&SyncResourceReference {
        api_version: p.api_version.clone(),
        kind: p.kind.clone(),
        namespace: p.namespace.clone(),
        name: p.name.clone(),
    });
    let Ok(patch_type) = &p.patch_type else {
        return format!(
            "# {origin}: patch of {target}: would fail: {}\n",
            p.patch_type.clone().err().unwrap_or_default()
        );
    };
    let type_name = match patch_type {
        PatchType::Strategic => "strategic",
        PatchType::Merge => "merge",
        PatchType::Json => "json",
    };
    let mut out = format!("# {origin}: {type_name} patch of {target}, sent as a PATCH request:\n");
    // A patch may name its target as kubectl does (`secret`, `secrets`): any of them is a Secret here.
    let names_secret = matches!(p.kind.to_ascii_lowercase().as_str(), "secret" | "secrets");
    if !show_secrets && group_of(&p.api_version).is_empty() && names_secret {
        // A patch of a Secret carries Secret data: its body is shown only with --show-secrets.
        out.push_str(&format!(
            "#   body <redacted> ({} bytes; --show-secrets shows it)\n",
            p.patch.len()
        ));
        return out;
    }
    match serde_json::from_str::<Value>(&p.patch) {
        Ok(body) => out.push_str(&format!(
            "#   kubectl patch {} {} --namespace {} --type {type_name} --patch {}\n",
            kubectl_resource(&p.api_version, &p.kind),
            p.name,
            p.namespace,
            shell_quote(&body.to_string())
        )),
        Err(e) => {
            out.push_str(&format!("#   would fail: unable to parse patch: {e}\n"));
            for line in p.patch.lines() {
                out.push_str(&format!("#   {line}\n"));
            }
        }
    }
    out
}

/// The hub Secret of a secret mapping, or why it cannot be read: the error's whole chain as one line (a `String`),
/// which `render` and `diff` print as it is.
pub async fn read_secret(hub: &Hub, secret: &NamespacedName) -> Result<Secret, String> {
    let api: Api<Secret> = Api::namespaced(hub.client.clone(), &secret.namespace);
    hub.call(&format!("get Secret {secret}"), api.get(&secret.name))
        .await
        .map_err(|e| format!("{e:#}"))
}

/// One operation as YAML (objects, with a comment line) or comments (patches, deletes, unreadable secrets).
pub fn render_op(
    p: &PlannedOp,
    secret: Option<Result<Secret, String>>,
    show_secrets: bool,
) -> String {
    let origin = origin(p);
    let document = |comment: String, mut object: Value| {
        if !show_secrets {
            redact_secret(&mut object, &|_| json!("<redacted>"));
        }
        format!("---\n# {comment}\n{}", to_yaml(&object))
    };
    match &p.op {
        Op::Apply { object, behavior } => document(
            format!("{origin}{}", behavior_note(*behavior)),
            object.clone(),
        ),
        Op::ApplySecret {
            source,
            target,
            behavior,
        } => match secret {
            Some(Ok(s)) => document(
                format!("{origin}: hub Secret {source}{}", behavior_note(*behavior)),
                decode::target_secret(&s, target),
            ),
            Some(Err(e)) => format!(
                "# {origin}: hub Secret {source} cannot be read, the sync would fail here: {e}\n"
            ),
            None => format!("# {origin}: hub Secret {source} (not read)\n"),
        },
        Op::Patch(patch) => patch_comment(&origin, patch, show_secrets),
        Op::Delete(r) => format!(
            "# {origin}: delete {} (Sync mode: no longer declared for this cluster)\n",
            describe_ref(r)
        ),
    }
}

/// Parses a YAML stream of SyncSets and SelectorSyncSets (for `diff --file`).
pub fn parse_syncsets(
    text: &str,
    default_namespace: &str,
) -> anyhow::Result<(Vec<SyncSet>, Vec<SelectorSyncSet>)> {
    let mut ss = Vec::new();
    let mut sss = Vec::new();
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).context("the file is not YAML")?;
    for (i, value) in docs.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if value["apiVersion"] != "hive.openshift.io/v1" {
            anyhow::bail!(
                "document {i} ({kind} {name}) is not hive.openshift.io/v1: expected a SyncSet or SelectorSyncSet"
            );
        }
        match kind.as_str() {
            "SyncSet" => {
                let mut s: SyncSet = serde_json::from_value(value)
                    .with_context(|| format!("document {i}: SyncSet {name} does not parse"))?;
                if s.metadata
                    .namespace
                    .as_deref()
                    .unwrap_or_default()
                    .is_empty()
                {
                    s.metadata.namespace = Some(default_namespace.to_string());
                }
                ss.push(s);
            }
            "SelectorSyncSet" => {
                sss.push(serde_json::from_value(value).with_context(|| {
                    format!("document {i}: SelectorSyncSet {name} does not parse")
                })?)
            }
            other => anyhow::bail!("document {i} is a {other}, not a SyncSet or SelectorSyncSet"),
        }
    }
    if ss.is_empty() && sss.is_empty() {
        anyhow::bail!("no SyncSet or SelectorSyncSet in it");
    }
    Ok((ss, sss))
}

/// The kind and name of each syncset in a file, for filtering the plan.
pub fn names_of(ss: &[SyncSet], sss: &[SelectorSyncSet]) -> Vec<(SyncSetKind, String)> {
    ss.iter()
        .map(|s| (SyncSetKind::SyncSet, s.name_any()))
        .chain(
            sss.iter()
                .map(|s| (SyncSetKind::SelectorSyncSet, s.name_any())),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::select::Position;

    fn planned(op: Op, position: Position) -> PlannedOp {
        PlannedOp {
            kind: SyncSetKind::SelectorSyncSet,
            syncset: "addon".into(),
            position,
            op,
        }
    }

    #[test]
    fn an_object_is_a_yaml_document_named_by_its_syncset_and_position() {
        let op = Op::Apply {
            object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}, "data": {"a": "b"}}),
            behavior: ApplyBehavior::CreateOnly,
        };
        let text = render_op(&planned(op, Position::Resource(3)), None, false);
        // serde-saphyr quotes a bare `n` (YAML 1.1 reads it as false), as it does yes, no, on, off, y.
        assert_eq!(
            text,
            "---\n# SelectorSyncSet addon, resources[3] (applyBehavior CreateOnly: created only if absent)\n\
             apiVersion: v1\ndata:\n  a: b\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: \"n\"\n"
        );
    }

    #[test]
    fn json_is_a_v1_list_and_name_is_kind_group_slash_name_as_kubectl_prints_them() {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}}),
        ];
        assert_eq!(
            as_data(objects.clone(), Output::Name, false),
            "configmap/c\ndeployment.apps/d\nsecret/s\n"
        );
        let list: Value = serde_json::from_str(&as_data(objects, Output::Json, false)).unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"].as_array().unwrap().len(), 3);
        assert_eq!(list["items"][2]["data"]["k"], "<redacted>");
    }

    #[test]
    fn secret_data_is_redacted_unless_asked() {
        let source: Secret = serde_json::from_value(json!({
            "metadata": {"name": "src", "namespace": "hub"}, "data": {"token": "c2VjcmV0"}
        }))
        .unwrap();
        let op = Op::ApplySecret {
            source: NamespacedName::new("hub", "src"),
            target: crate::api::SecretReference {
                name: "dst".into(),
                namespace: "spoke".into(),
            },
            behavior: ApplyBehavior::Apply,
        };
        let p = planned(op, Position::SecretMapping(0));
        let redacted = render_op(&p, Some(Ok(source.clone())), false);
        assert!(
            redacted.starts_with(
                "---\n# SelectorSyncSet addon, secretMappings[0]: hub Secret hub/src\n"
            ),
            "{redacted}"
        );
        assert!(redacted.contains("token: <redacted>"), "{redacted}");
        assert!(!redacted.contains("c2VjcmV0"), "{redacted}");
        let shown = render_op(&p, Some(Ok(source)), true);
        assert!(shown.contains("token: c2VjcmV0"), "{shown}");
        let unreadable = render_op(&p, Some(Err("forbidden".into())), false);
        assert_eq!(unreadable, "# SelectorSyncSet addon, secretMappings[0]: hub Secret hub/src cannot be read, the sync would fail here: forbidden\n");
    }

    #[test]
    fn patches_and_deletes_are_comments_with_the_equivalent_kubectl_command() {
        let patch = PatchOp {
            index: 1,
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "ns".into(),
            name: "d".into(),
            patch: "{\"metadata\": {\"labels\": {\"a\": \"it's\"}}}".into(),
            patch_type: Ok(PatchType::Merge),
        };
        let text = render_op(&planned(Op::Patch(patch), Position::Patch(1)), None, false);
        assert_eq!(
            text,
            "# SelectorSyncSet addon, patches[1]: merge patch of apps/v1 Deployment ns/d, sent as a PATCH request:\n\
             #   kubectl patch deployment.v1.apps d --namespace ns --type merge --patch '{\"metadata\":{\"labels\":{\"a\":\"it'\\''s\"}}}'\n"
        );
        let delete = Op::Delete(SyncResourceReference {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            name: "gone".into(),
            namespace: String::new(),
        });
        assert_eq!(
            render_op(&planned(delete, Position::Delete), None, false),
            "# SelectorSyncSet addon, resourcesToDelete: delete v1 Namespace gone (Sync mode: no longer declared for this cluster)\n"
        );
    }

    #[test]
    fn a_syncset_file_may_hold_both_kinds_and_nothing_else() {
        let (ss, sss) = parse_syncsets(
            "apiVersion: hive.openshift.io/v1\nkind: SyncSet\nmetadata: {name: a}\nspec: {clusterDeploymentRefs: [{name: c}]}\n---\n\
             apiVersion: hive.openshift.io/v1\nkind: SelectorSyncSet\nmetadata: {name: b}\nspec: {}\n",
            "home",
        )
        .unwrap();
        assert_eq!(ss[0].metadata.namespace.as_deref(), Some("home"));
        assert_eq!(
            names_of(&ss, &sss),
            [
                (SyncSetKind::SyncSet, "a".to_string()),
                (SyncSetKind::SelectorSyncSet, "b".to_string())
            ]
        );
        let err = parse_syncsets(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            "n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a SyncSet or SelectorSyncSet"),
            "{err}"
        );
    }
}
