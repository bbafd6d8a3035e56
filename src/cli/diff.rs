//! `hivesync diff CLUSTER`: a full sync of the cluster previewed with server-side dry runs against it (through its
//! admin kubeconfig Secret): what would be created, changed (a unified diff of the YAML), left unchanged, patched and
//! deleted (Sync mode). `--file` previews a SyncSet or SelectorSyncSet that is not applied yet. `--delete KIND/NAME`
//! lists, per cluster, what deleting a syncset would remove (Sync mode) or orphan (Upsert), from the hub alone.
//! Nothing is written to a managed cluster or to the hub.
//!
//! Exit code (as `kubectl diff`): 0 no change, 1 something would change (or be deleted), 2 an error, including a call
//! the dry run says would fail.

use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::hub::Hub;
use super::render::{describe_ref, origin, parse_syncsets, read_secret, redact_secret, Snapshot};
use super::report::{Style, BOLD, CYAN, EXIT_FINDINGS, EXIT_OK, GREEN, NONE, RED, YELLOW};
use crate::api::{
    ClusterDeployment, ClusterKey, ClusterSync, SelectorSyncSet, SyncResourceReference, SyncSet,
};
use crate::plan::decode::{self, ApplyMode, SyncSetKind};
use crate::plan::deletion::{self, DeletedSyncSet, Fate};
use crate::plan::identity::{contains, group_of, reference_of};
use crate::plan::run::Op;
use crate::plan::select::PlannedOp;
use crate::remote::kubeconfig::Timeouts;
use crate::remote::{preview, Cause, RemoteError};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The cluster: NAME or NAMESPACE/NAME of its ClusterDeployment.
    #[arg(required_unless_present = "delete", conflicts_with = "delete")]
    pub cluster: Option<String>,
    /// The ClusterDeployment's hub namespace (or, with `--delete syncset/NAME`, the SyncSet's).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Only this SyncSet's or SelectorSyncSet's operations.
    #[arg(long, conflicts_with_all = ["file", "delete"])]
    pub syncset: Option<String>,
    /// A SyncSet or SelectorSyncSet YAML not applied yet: previewed as if it replaced the one of the same name.
    #[arg(long, conflicts_with = "delete")]
    pub file: Option<PathBuf>,
    /// What deleting a syncset would remove on each cluster: `selectorsyncset/NAME` or `syncset/NAMESPACE/NAME`.
    #[arg(long, value_name = "KIND/NAME")]
    pub delete: Option<String>,
    /// Show Secret data in diffs (default: a fingerprint of each value).
    #[arg(long)]
    pub show_secrets: bool,
    /// Timeout of every request to the managed cluster.
    #[arg(long, default_value = "20s", value_parser = crate::duration::parse_go_duration)]
    pub remote_timeout: Duration,
    #[command(flatten)]
    pub hub: super::hub::HubArgs,
}

pub async fn run(args: Args) -> anyhow::Result<u8> {
    let Args {
        cluster,
        namespace,
        syncset,
        file,
        delete,
        show_secrets,
        remote_timeout,
        hub,
    } = args;
    let hub = Hub::connect(&hub).await?;
    let style = Style::detect();
    if let Some(target) = delete {
        return deletion(&hub, &target, namespace.as_deref(), style).await;
    }
    let cluster = cluster.ok_or_else(|| anyhow!("name a cluster, or use --delete KIND/NAME"))?;
    let mut snapshot = Snapshot::load(&hub, namespace.as_deref(), &cluster).await?;
    let only: Option<Vec<(Option<SyncSetKind>, String)>> = match (&file, &syncset) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let cd_ns = snapshot.cd.namespace().unwrap_or_default();
            let (ss, sss) = parse_syncsets(&text, &cd_ns).with_context(|| {
                format!(
                    "{} is not a SyncSet or SelectorSyncSet file",
                    path.display()
                )
            })?;
            let names = super::render::names_of(&ss, &sss);
            for s in &ss {
                if !crate::plan::target::syncset_targets(s, &snapshot.cd) {
                    eprintln!(
                        "note: SyncSet {}/{} in {} does not target cluster {} (namespace or clusterDeploymentRefs)",
                        s.namespace().unwrap_or_default(),
                        s.name_any(),
                        path.display(),
                        snapshot.key()
                    );
                }
            }
            for s in &sss {
                if !crate::plan::target::selector_syncset_targets(s, &snapshot.cd) {
                    eprintln!(
                        "note: SelectorSyncSet {} in {} does not select cluster {} (clusterDeploymentSelector)",
                        s.name_any(),
                        path.display(),
                        snapshot.key()
                    );
                }
            }
            for s in &ss {
                let (name, this) = (s.name_any(), ClusterKey::of(&snapshot.cd));
                let steps = super::rollout::describe_steps(
                    &hub,
                    "SyncSet",
                    &name,
                    s.annotations(),
                    |cd| crate::plan::target::syncset_targets(s, cd),
                    &this,
                );
                if let Some(line) = steps.await? {
                    eprintln!("note: {line}");
                }
            }
            for s in &sss {
                let (name, this) = (s.name_any(), ClusterKey::of(&snapshot.cd));
                let steps = super::rollout::describe_steps(
                    &hub,
                    "SelectorSyncSet",
                    &name,
                    s.annotations(),
                    |cd| crate::plan::target::selector_syncset_targets(s, cd),
                    &this,
                );
                if let Some(line) = steps.await? {
                    eprintln!("note: {line}");
                }
            }
            replace_syncsets(&mut snapshot, ss, sss);
            Some(names.into_iter().map(|(k, n)| (Some(k), n)).collect())
        }
        (None, Some(name)) => Some(vec![(None, name.clone())]),
        (None, None) => None,
    };
    let plan = snapshot.plan();
    let selected = |kind: SyncSetKind, name: &str| {
        only.as_ref().is_none_or(|only| {
            only.iter()
                .any(|(k, n)| n == name && k.is_none_or(|k| k == kind))
        })
    };
    if let Some(name) = &syncset {
        let known = plan.ops.iter().any(|p| &p.syncset == name)
            || snapshot
                .previous
                .sync_sets
                .iter()
                .chain(&snapshot.previous.selector_sync_sets)
                .any(|e| &e.name == name)
            || plan.skipped.iter().any(|s| &s.syncset == name);
        if !known {
            bail!(
                "no SyncSet or SelectorSyncSet named {name} targets cluster {} or has an entry in its ClusterSync; `hivesync status {}` lists them",
                snapshot.key(),
                snapshot.key()
            );
        }
    }
    let ops: Vec<&PlannedOp> = plan
        .ops
        .iter()
        .filter(|p| selected(p.kind, &p.syncset))
        .collect();
    if let Some(note) = snapshot.gate_note() {
        eprintln!("note: {note}; showing what a sync would do once it runs");
    }
    let timeouts = Timeouts {
        connect: remote_timeout.min(Duration::from_secs(5)),
        request: remote_timeout,
    };
    let rc = preview::remote_for(&hub.client, &snapshot.cd, timeouts)
        .await
        .map_err(|e| anyhow!("cluster {}: {e}", snapshot.key()))?;
    println!(
        "{}",
        style.paint(
            &format!(
                "Diff of a sync of cluster {} (server-side dry run; nothing is written):",
                snapshot.key()
            ),
            BOLD
        )
    );
    let mut ctx = DiffContext {
        hub: &hub,
        rc: &rc,
        show_secrets,
        created: Vec::new(),
        created_kinds: HashSet::new(),
        cluster: snapshot.key(),
    };
    let progress = std::io::stderr().is_terminal() && ops.len() > 5;
    let mut tally = Tally::default();
    for (i, p) in ops.iter().enumerate() {
        if progress {
            eprint!("\r\u{1b}[Kdry-running {}/{}", i + 1, ops.len());
        }
        let change = ctx.preview(p).await?;
        if progress {
            eprint!("\r\u{1b}[K");
        }
        tally.add(&change);
        print!("{}", format_change(p, &change, style));
    }
    for s in plan.skipped.iter().filter(|s| selected(s.kind, &s.syncset)) {
        tally.failed += 1;
        println!(
            "{}",
            style.paint(
                &format!(
                    "! {} {}: not applied: {}",
                    s.kind.as_str(),
                    s.syncset,
                    s.message
                ),
                RED
            )
        );
    }
    println!("{}", tally.summary());
    Ok(tally.exit_code())
}

/// Puts the file's syncsets in place of the hub's ones of the same name (SyncSets: same namespace too).
fn replace_syncsets(s: &mut Snapshot, ss: Vec<SyncSet>, sss: Vec<SelectorSyncSet>) {
    for new in ss {
        s.sync_sets
            .retain(|o| !(o.name_any() == new.name_any() && o.namespace() == new.namespace()));
        s.sync_sets.push(new);
    }
    for new in sss {
        s.selector_sync_sets
            .retain(|o| o.name_any() != new.name_any());
        s.selector_sync_sets.push(new);
    }
}

// ------------------------------------------------------------------------------------------------------ one op

/// What one operation would do.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The object as the server would store it (or as sent, with a note, when it cannot be dry-run yet).
    Created {
        object: Value,
        note: Option<String>,
    },
    /// A unified diff of the YAML.
    Changed(String),
    Unchanged,
    /// A patch's effect, a unified diff (empty: no change).
    Patched(String),
    Deleted,
    /// Tracked for deletion, but already gone.
    AlreadyGone,
    /// The dry run says the call would fail.
    Failed(String),
}

struct DiffContext<'a> {
    hub: &'a Hub,
    rc: &'a crate::remote::RemoteCluster,
    show_secrets: bool,
    /// Objects this sync would create, so that what depends on them (a CR of a new CRD, an object in a new namespace,
    /// a patch of a new object) is predicted instead of failing its dry run.
    created: Vec<SyncResourceReference>,
    /// (group, kind) served by CRDs this sync would create.
    created_kinds: HashSet<(String, String)>,
    cluster: String,
}

impl DiffContext<'_> {
    async fn preview(&mut self, p: &PlannedOp) -> anyhow::Result<Change> {
        let result = match &p.op {
            Op::Apply { object, behavior } => self.apply(object, *behavior).await,
            Op::ApplySecret {
                source,
                target,
                behavior,
            } => match read_secret(self.hub, source).await {
                Ok(secret) => {
                    let object = decode::target_secret(&secret, target);
                    self.apply(&object, *behavior).await
                }
                Err(e) => Ok(Change::Failed(format!("cannot read the hub Secret: {e}"))),
            },
            Op::Patch(patch) => match preview::patch(self.rc, patch).await {
                Ok(pv) => Ok(Change::Patched(
                    self.diff(pv.live.as_ref(), pv.after.as_ref()),
                )),
                Err(e) if e.cause != Cause::Unreachable => {
                    let r = SyncResourceReference {
                        api_version: patch.api_version.clone(),
                        kind: patch.kind.clone(),
                        namespace: patch.namespace.clone(),
                        name: patch.name.clone(),
                    };
                    if contains(&self.created, &r) {
                        Ok(Change::Patched(
                            "    (its target is created earlier in this sync: not dry-run)\n"
                                .into(),
                        ))
                    } else {
                        Ok(Change::Failed(e.message))
                    }
                }
                Err(e) => Err(e),
            },
            Op::Delete(r) => preview::delete(self.rc, r).await.map(|live| match live {
                Some(_) => Change::Deleted,
                None => Change::AlreadyGone,
            }),
        };
        result.map_err(|e| {
            anyhow!(
                "cluster {} stopped answering: {}; `hivesync status {}` shows whether it is reachable",
                self.cluster,
                e.message,
                self.cluster
            )
        })
    }

    async fn apply(
        &mut self,
        object: &Value,
        behavior: decode::ApplyBehavior,
    ) -> Result<Change, RemoteError> {
        let r = reference_of(object);
        let change = match preview::apply(self.rc, object, behavior).await {
            Ok(preview::Preview { live: None, after }) => Change::Created {
                object: after.unwrap_or_else(|| object.clone()),
                note: None,
            },
            Ok(preview::Preview {
                live: Some(live),
                after: Some(after),
            }) => {
                let diff = self.diff(Some(&live), Some(&after));
                if diff.is_empty() {
                    Change::Unchanged
                } else {
                    Change::Changed(diff)
                }
            }
            Ok(preview::Preview { after: None, .. }) => Change::Unchanged,
            Err(e) if e.cause == Cause::Unreachable => return Err(e),
            Err(e) => match self.depends_on_new(&r, &e.message) {
                Some(note) => Change::Created {
                    object: object.clone(),
                    note: Some(note),
                },
                None => Change::Failed(e.message),
            },
        };
        if matches!(change, Change::Created { .. }) {
            if crate::plan::crd::is_crd(&r) {
                let spec = &object["spec"];
                self.created_kinds.insert((
                    spec["group"].as_str().unwrap_or_default().to_string(),
                    spec["names"]["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ));
            }
            self.created.push(r);
        }
        Ok(change)
    }

    /// Why a failed dry run is expected: the object needs a namespace or a CRD this sync creates first.
    fn depends_on_new(&self, r: &SyncResourceReference, message: &str) -> Option<String> {
        let kind = (group_of(&r.api_version).to_string(), r.kind.clone());
        if message.starts_with("no matches for kind") && self.created_kinds.contains(&kind) {
            return Some(
                "its CustomResourceDefinition is created earlier in this sync; shown as sent"
                    .into(),
            );
        }
        let namespace = SyncResourceReference {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            name: r.namespace.clone(),
            namespace: String::new(),
        };
        (!r.namespace.is_empty()
            && message.contains(&format!("namespaces \"{}\" not found", r.namespace))
            && contains(&self.created, &namespace))
        .then(|| "its namespace is created earlier in this sync; shown as sent".into())
    }

    fn diff(&self, live: Option<&Value>, after: Option<&Value>) -> String {
        let text = |v: Option<&Value>| {
            v.map(|v| yaml(&normalize(v, self.show_secrets)))
                .unwrap_or_default()
        };
        unified_diff(&text(live), &text(after))
    }
}

/// The object as compared: without the fields every write changes, Secret values fingerprinted unless shown.
pub fn normalize(v: &Value, show_secrets: bool) -> Value {
    let mut v = v.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(f);
        }
    }
    if !show_secrets {
        redact_secret(&mut v, &|value| {
            let mut h = Sha256::new();
            h.update(fingerprint_salt());
            h.update(value.as_str().unwrap_or_default().as_bytes());
            json!(format!(
                "<redacted sha256:{}>",
                &hex::encode(h.finalize())[..12]
            ))
        });
    }
    v
}

/// A random salt per run for Secret fingerprints: within one `diff` equal values show equal fingerprints, but a
/// fingerprint cannot be matched offline against guessed values (a short password would fall to that).
fn fingerprint_salt() -> &'static [u8; 16] {
    static SALT: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    SALT.get_or_init(rand::random)
}

fn yaml(v: &Value) -> String {
    serde_saphyr::to_string(v).unwrap_or_else(|e| format!("<cannot print as YAML: {e}>\n"))
}

/// A unified diff (3 lines of context) indented by four spaces; empty when the texts are equal.
pub fn unified_diff(old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header("live", "after sync")
        .to_string();
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn paint_diff(diff: &str, style: Style) -> String {
    diff.lines()
        .map(|l| {
            let body = l.trim_start();
            let colour = if body.starts_with("+++") || body.starts_with("---") {
                NONE
            } else if body.starts_with('+') {
                GREEN
            } else if body.starts_with('-') {
                RED
            } else if body.starts_with("@@") {
                CYAN
            } else {
                NONE
            };
            style.paint(l, colour) + "\n"
        })
        .collect()
}

fn target_of(p: &PlannedOp) -> String {
    match &p.op {
        Op::Apply { object, .. } => describe_ref(&reference_of(object)),
        Op::ApplySecret { target, .. } => describe_ref(&SyncResourceReference {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
        }),
        Op::Patch(patch) => describe_ref(&SyncResourceReference {
            api_version: patch.api_version.clone(),
            kind: patch.kind.clone(),
            namespace: patch.namespace.clone(),
            name: patch.name.clone(),
        }),
        Op::Delete(r) => describe_ref(r),
    }
}

/// `+ created  v1 ConfigMap ns/x  (SyncSet s, resources[0])` and its diff.
pub fn format_change(p: &PlannedOp, change: &Change, style: Style) -> String {
    let (mark, verb, colour) = match change {
        Change::Created { .. } => ("+", "created", GREEN),
        Change::Changed(_) => ("~", "changed", YELLOW),
        Change::Unchanged | Change::AlreadyGone => ("=", "unchanged", NONE),
        Change::Patched(d) if d.is_empty() => ("=", "patch", NONE),
        Change::Patched(_) => ("~", "patch", YELLOW),
        Change::Deleted => ("-", "deleted", RED),
        Change::Failed(_) => ("!", "fails", RED),
    };
    let mut line = format!("{mark} {verb:<9} {}  ({})", target_of(p), origin(p));
    if *change == Change::AlreadyGone {
        line.push_str(" already gone");
    }
    let mut out = style.paint(&line, colour) + "\n";
    match change {
        Change::Created { object, note } => {
            if let Some(note) = note {
                out.push_str(&format!("    ({note})\n"));
            }
            let body: String = yaml(&normalize(object, false))
                .lines()
                .map(|l| format!("    +{l}\n"))
                .collect();
            out.push_str(&paint_diff(&body, style));
        }
        Change::Changed(d) | Change::Patched(d) => out.push_str(&paint_diff(d, style)),
        Change::Failed(m) => out.push_str(&style.paint(&format!("    {m}"), RED)),
        Change::Deleted => {
            if let Op::Delete(r) = &p.op {
                if r.kind == "Namespace" && group_of(&r.api_version).is_empty() {
                    out.push_str("    (deleting a Namespace deletes everything in it)\n");
                }
            }
        }
        _ => {}
    }
    if matches!(change, Change::Failed(_)) {
        out.push('\n');
    }
    out
}

#[derive(Default, Debug, PartialEq)]
struct Tally {
    created: usize,
    changed: usize,
    patched: usize,
    deleted: usize,
    unchanged: usize,
    failed: usize,
}

impl Tally {
    fn add(&mut self, c: &Change) {
        match c {
            Change::Created { .. } => self.created += 1,
            Change::Changed(_) => self.changed += 1,
            Change::Patched(d) if d.is_empty() => self.unchanged += 1,
            Change::Patched(_) => self.patched += 1,
            Change::Deleted => self.deleted += 1,
            Change::Unchanged | Change::AlreadyGone => self.unchanged += 1,
            Change::Failed(_) => self.failed += 1,
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} to create, {} to change, {} to patch, {} to delete, {} unchanged, {} failing",
            self.created, self.changed, self.patched, self.deleted, self.unchanged, self.failed
        )
    }

    fn exit_code(&self) -> u8 {
        if self.failed > 0 {
            2
        } else if self.created + self.changed + self.patched + self.deleted > 0 {
            EXIT_FINDINGS
        } else {
            EXIT_OK
        }
    }
}

// ------------------------------------------------------------------------------------------------------ --delete

/// `selectorsyncset/NAME`, `syncset/NAMESPACE/NAME` (or `syncset/NAME` with --namespace); short names too.
pub fn parse_delete_target(
    s: &str,
    namespace: Option<&str>,
) -> anyhow::Result<(SyncSetKind, Option<String>, String)> {
    let usage =
        || anyhow!("--delete {s:?}: expected selectorsyncset/NAME or syncset/NAMESPACE/NAME");
    let (kind, rest) = s.split_once('/').ok_or_else(usage)?;
    let kind = match kind.to_lowercase().as_str() {
        "selectorsyncset" | "selectorsyncsets" | "sss" => SyncSetKind::SelectorSyncSet,
        "syncset" | "syncsets" | "ss" => SyncSetKind::SyncSet,
        _ => return Err(usage()),
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (kind, parts.as_slice(), namespace) {
        (SyncSetKind::SelectorSyncSet, [name], _) if !name.is_empty() => {
            Ok((kind, None, name.to_string()))
        }
        (SyncSetKind::SyncSet, [ns, name], _) if !ns.is_empty() && !name.is_empty() => {
            Ok((kind, Some(ns.to_string()), name.to_string()))
        }
        (SyncSetKind::SyncSet, [name], Some(ns)) if !name.is_empty() => {
            Ok((kind, Some(ns.to_string()), name.to_string()))
        }
        _ => Err(usage()),
    }
}

async fn deletion(
    hub: &Hub,
    target: &str,
    namespace: Option<&str>,
    style: Style,
) -> anyhow::Result<u8> {
    let (kind, ss_namespace, name) = parse_delete_target(target, namespace)?;
    let sss_api: Api<SelectorSyncSet> = Api::all(hub.client.clone());
    let list_params = kube::api::ListParams::default();
    let cluster_ns = ss_namespace.as_deref();
    let (cds, css, sync_sets, selector_sync_sets) = tokio::try_join!(
        hub.list::<ClusterDeployment>(cluster_ns),
        hub.list::<ClusterSync>(cluster_ns),
        hub.list::<SyncSet>(cluster_ns),
        hub.call("list selectorsyncsets", sss_api.list(&list_params)),
    )?;
    let selector_sync_sets = selector_sync_sets.items;
    let (spec, label) = match kind {
        SyncSetKind::SelectorSyncSet => selector_sync_sets
            .iter()
            .find(|s| s.name_any() == name)
            .map(|s| (s.spec.common.clone(), format!("SelectorSyncSet {name}"))),
        SyncSetKind::SyncSet => sync_sets
            .iter()
            .find(|s| s.name_any() == name && s.namespace() == ss_namespace)
            .map(|s| {
                (
                    s.spec.common.clone(),
                    format!(
                        "SyncSet {}/{name}",
                        ss_namespace.as_deref().unwrap_or_default()
                    ),
                )
            }),
    }
    .ok_or_else(|| {
        anyhow!(
            "{} {name} not found on the hub{}",
            kind.as_str(),
            ss_namespace
                .as_deref()
                .map(|n| format!(" in namespace {n}"))
                .unwrap_or_default()
        )
    })?;
    let mode = ApplyMode::parse(&spec.resource_apply_mode);
    let deleted_syncset = DeletedSyncSet {
        kind,
        namespace: ss_namespace.as_deref(),
        name: &name,
        spec: &spec,
    };

    let mode_name = match mode {
        ApplyMode::Sync => "Sync: what it made is deleted",
        _ => "Upsert: what it made is left in place, no longer managed",
    };
    println!(
        "{}",
        style.paint(
            &format!("Deleting {label} (resourceApplyMode {mode_name}) would, per cluster:"),
            BOLD
        )
    );
    let mut clusters: Vec<&ClusterSync> = css
        .iter()
        .filter(|cs| {
            cs.status
                .as_ref()
                .is_some_and(|s| deleted_syncset.entry(s).is_some())
        })
        .collect();
    clusters.sort_by_key(|cs| ClusterKey::of_meta(&cs.metadata));
    let (mut deleted, mut kept, mut orphaned) = (0, 0, 0);
    for cs in &clusters {
        let key = ClusterKey::of_meta(&cs.metadata);
        let Some(cd) = cds.iter().find(|cd| ClusterKey::of(cd) == key) else {
            println!("{key}: no ClusterDeployment (its ClusterSync is left over); nothing is sent");
            continue;
        };
        let status = cs.status.clone().unwrap_or_default();
        let deletion::ClusterDeletion { fates, others } = deletion::predict(
            &deleted_syncset,
            cd,
            &status,
            &sync_sets,
            &selector_sync_sets,
        );
        let paused = matches!(
            crate::plan::gate::gate(cd),
            crate::plan::gate::Gate::Paused { .. }
        );
        println!(
            "{}{}",
            style.paint(&key.to_string(), BOLD),
            if paused {
                " (paused: happens once the pause is lifted)"
            } else {
                ""
            }
        );
        if fates.is_empty() {
            println!("    nothing tracked");
        }
        for (r, fate) in fates {
            let line = match &fate {
                Fate::Deleted => {
                    deleted += 1;
                    let inside: Vec<String> = deletion::namespace_contents(&r, &others)
                        .into_iter()
                        .map(|(holder, o)| format!("{holder}: {}", describe_ref(o)))
                        .collect();
                    let note = if inside.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "  (and everything in it, including what other syncsets declare: {})",
                            inside.join(", ")
                        )
                    };
                    style.paint(&format!("  - deleted   {}{note}", describe_ref(&r)), RED)
                }
                Fate::Kept(by) => {
                    kept += 1;
                    format!(
                        "  = kept      {}  (also declared by {})",
                        describe_ref(&r),
                        by.join(", ")
                    )
                }
                Fate::Orphaned => {
                    orphaned += 1;
                    style.paint(&format!("  ? orphaned  {}", describe_ref(&r)), YELLOW)
                }
            };
            println!("{line}");
        }
    }
    println!(
        "{} cluster(s) with an entry: {deleted} object(s) deleted, {kept} kept, {orphaned} orphaned",
        clusters.len()
    );
    Ok(if deleted > 0 { EXIT_FINDINGS } else { EXIT_OK })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::identity::reference;
    use crate::plan::select::Position;

    #[test]
    fn volatile_metadata_is_ignored_and_secret_values_are_fingerprinted() {
        let live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "uid": "1", "resourceVersion": "7", "generation": 1,
                         "creationTimestamp": "x", "managedFields": [{}], "labels": {"a": "b"}},
            "data": {"k": "djE="}});
        let n = normalize(&live, false);
        assert_eq!(n["metadata"], json!({"name": "s", "labels": {"a": "b"}}));
        let fingerprint = n["data"]["k"].as_str().unwrap();
        assert!(
            fingerprint.starts_with("<redacted sha256:"),
            "{fingerprint}"
        );
        let mut changed = live.clone();
        changed["data"]["k"] = json!("djI=");
        assert_ne!(normalize(&changed, false)["data"]["k"], n["data"]["k"]);
        assert_eq!(normalize(&live, true)["data"]["k"], "djE=");
    }

    #[test]
    fn a_changed_object_shows_a_unified_diff_of_its_yaml() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "1"}, "data": {"a": "1", "b": "x"}});
        let after = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "2"}, "data": {"a": "2", "b": "x"}});
        let text = |v: &Value| yaml(&normalize(v, false));
        let d = unified_diff(&text(&live), &text(&after));
        assert_eq!(
            d,
            "    --- live\n    +++ after sync\n    @@ -1,6 +1,6 @@\n     apiVersion: v1\n     data:\n    -  a: \"1\"\n    +  a: \"2\"\n       b: x\n     kind: ConfigMap\n     metadata:\n"
        );
        assert_eq!(unified_diff(&text(&live), &text(&live)), "");
    }

    #[test]
    fn each_change_is_one_marked_line_naming_its_syncset() {
        let p = PlannedOp {
            kind: SyncSetKind::SyncSet,
            syncset: "s".into(),
            position: Position::Delete,
            op: Op::Delete(reference("v1", "ConfigMap", "ns", "old")),
        };
        assert_eq!(
            format_change(&p, &Change::Deleted, Style::PLAIN),
            "- deleted   v1 ConfigMap ns/old  (SyncSet s, resourcesToDelete)\n"
        );
        assert_eq!(
            format_change(&p, &Change::AlreadyGone, Style::PLAIN),
            "= unchanged v1 ConfigMap ns/old  (SyncSet s, resourcesToDelete) already gone\n"
        );
        let mut t = Tally::default();
        t.add(&Change::Unchanged);
        assert_eq!(t.exit_code(), 0);
        t.add(&Change::Deleted);
        assert_eq!(t.exit_code(), 1);
        t.add(&Change::Failed("x".into()));
        assert_eq!(t.exit_code(), 2);
    }

    #[test]
    fn delete_targets_name_the_kind_and_the_namespace_of_a_syncset() {
        assert_eq!(
            parse_delete_target("selectorsyncset/a", None).unwrap(),
            (SyncSetKind::SelectorSyncSet, None, "a".into())
        );
        assert_eq!(
            parse_delete_target("ss/ns/a", None).unwrap(),
            (SyncSetKind::SyncSet, Some("ns".into()), "a".into())
        );
        assert_eq!(
            parse_delete_target("syncset/a", Some("ns")).unwrap(),
            (SyncSetKind::SyncSet, Some("ns".into()), "a".into())
        );
        assert!(parse_delete_target("syncset/a", None).is_err());
        assert!(parse_delete_target("configmap/a", None).is_err());
    }
}
