//! `hivesync status`: the sync state of every cluster, from three list calls on the hub (ClusterDeployments,
//! ClusterSyncs, ClusterSyncLeases) and no per-cluster request; with CLUSTER, that cluster's syncsets. Problems first.
//!
//! Exit code: 0 when every cluster shown is reachable, no syncset fails and none is Degraded, 1 when one is
//! unreachable, a syncset fails or its objects are Degraded (the `Healthy` condition), 2 on a usage or hub error.

use std::collections::HashMap;

use jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use super::hub::Hub;
use super::report::{Paint, Style, BOLD, EXIT_FINDINGS, EXIT_OK, GREEN, NONE, RED, YELLOW};
use crate::api::{
    ClusterDeployment, ClusterKey, ClusterSync, ClusterSyncLease, SyncSetResult, SyncStatus,
};
use crate::plan::conditions::{CLUSTER_SYNC_FAILED, UNREACHABLE};
use crate::plan::decode::SyncSetKind;
use crate::plan::gate::{self, Gate};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Adds the messages.
    Wide,
    Json,
    Yaml,
    /// `clusterdeployment.hive.openshift.io/NAME`, one a line, as kubectl prints them.
    Name,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One cluster (NAME or NAMESPACE/NAME): show its SyncSets and SelectorSyncSets.
    pub cluster: Option<String>,
    /// Only clusters in this hub namespace (default: all namespaces).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Only clusters whose ClusterDeployment labels match this selector, as kubectl's -l (`k=v`, `k!=v`,
    /// `k in (a,b)`, `!k`, comma-separated).
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// One syncset across the fleet: on which clusters it landed and where not (`NAME`, or `selectorsyncset/NAME`,
    /// `syncset/NAME` when both kinds have one by that name).
    #[arg(long, value_name = "[KIND/]NAME", conflicts_with = "cluster")]
    pub syncset: Option<String>,
    /// Output format: `wide` adds the messages; `json` and `yaml` are for scripts; `name` lists the clusters.
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten)]
    pub hub: super::hub::HubArgs,
}

pub async fn run(args: Args) -> anyhow::Result<u8> {
    let Args {
        cluster,
        namespace,
        selector,
        syncset,
        output,
        hub,
    } = args;
    let hub = Hub::connect(&hub).await?;
    let style = Style::detect();
    let now = Timestamp::now();
    if let Some(syncset) = syncset {
        return fleet_of_syncset(
            &hub,
            &syncset,
            namespace.as_deref(),
            selector.as_deref(),
            output,
            style,
            now,
        )
        .await;
    }
    if let Some(cluster) = cluster {
        let cd = hub.find_cluster(namespace.as_deref(), &cluster).await?;
        if let Some(selector) = &selector {
            anyhow::ensure!(
                hub.list_clusters(Some(&key_namespace(&cd)), Some(selector))
                    .await?
                    .iter()
                    .any(|c| c.name_any() == cd.name_any()),
                "{}/{} does not match the selector {selector:?}",
                key_namespace(&cd),
                cd.name_any()
            );
        }
        let key = ClusterKey::of(&cd);
        let cs = hub
            .get_opt::<ClusterSync>(&key.namespace, &key.name)
            .await?;
        let lease = hub
            .get_opt::<ClusterSyncLease>(&key.namespace, &key.name)
            .await?;
        let row = ClusterRow::new(&cd, cs.as_ref(), lease.as_ref(), true);
        match output {
            Some(Output::Json) => println!("{}", serde_json::to_string_pretty(&row)?),
            Some(Output::Yaml) => print!("{}", serde_saphyr::to_string(&row)?),
            Some(Output::Name) => println!("{}", object_name(&row.name)),
            o => print!(
                "{}",
                format_cluster(&row, o == Some(Output::Wide), style, now)
            ),
        }
        return Ok(if row.problem() {
            EXIT_FINDINGS
        } else {
            EXIT_OK
        });
    }
    let ns = namespace.as_deref();
    let (cds, css, leases) = tokio::try_join!(
        hub.list_clusters(ns, selector.as_deref()),
        hub.list::<ClusterSync>(ns),
        hub.list::<ClusterSyncLease>(ns),
    )?;
    let css: HashMap<_, _> = css
        .into_iter()
        .map(|c| (ClusterKey::of_meta(&c.metadata), c))
        .collect();
    let leases: HashMap<_, _> = leases
        .into_iter()
        .map(|l| (ClusterKey::of_meta(&l.metadata), l))
        .collect();
    let mut rows: Vec<ClusterRow> = cds
        .iter()
        .map(|cd| {
            let k = ClusterKey::of(cd);
            ClusterRow::new(cd, css.get(&k), leases.get(&k), false)
        })
        .collect();
    sort_rows(&mut rows);
    match output {
        Some(Output::Json) => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "clusters": rows }))?
        ),
        Some(Output::Yaml) => print!(
            "{}",
            serde_saphyr::to_string(&serde_json::json!({ "clusters": rows }))?
        ),
        Some(Output::Name) => rows
            .iter()
            .for_each(|r| println!("{}", object_name(&r.name))),
        _ if rows.is_empty() => eprintln!(
            "No ClusterDeployments found{}{}.",
            ns.map(|n| format!(" in namespace {n}")).unwrap_or_default(),
            selector
                .as_deref()
                .map(|s| format!(" matching {s:?}"))
                .unwrap_or_default()
        ),
        o => print!(
            "{}",
            format_clusters(&rows, o == Some(Output::Wide), style, now)
        ),
    }
    Ok(if rows.iter().any(ClusterRow::problem) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

fn key_namespace(cd: &ClusterDeployment) -> String {
    cd.namespace().unwrap_or_default()
}

/// kubectl's `-o name` for a ClusterDeployment.
fn object_name(name: &str) -> String {
    format!("clusterdeployment.hive.openshift.io/{name}")
}

// ------------------------------------------------------------------------------------------------------ one syncset

/// Where one syncset stands on one cluster it targets (or still has an entry on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Landing {
    /// Applied at the syncset's current generation.
    Applied,
    /// Its last apply failed.
    Failing,
    /// Targeted, but not applied yet at the current generation (no entry yet, or an older generation's).
    Pending,
    /// No longer targeted: its objects are being deleted from the cluster (the entry goes when they are).
    Removing,
}

impl Landing {
    fn landed(self) -> bool {
        self == Self::Applied
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LandingRow {
    pub namespace: String,
    pub name: String,
    pub kind: &'static str,
    pub syncset: String,
    pub landing: Landing,
    /// The ClusterSync entry's observedGeneration (0: no entry) and the syncset's generation now.
    pub observed_generation: i64,
    pub generation: i64,
    pub reachable: Reachable,
    pub paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The syncsets a `--syncset` argument names: `NAME` (both kinds), `selectorsyncset/NAME` or `syncset/NAME`.
fn syncset_kinds(arg: &str) -> anyhow::Result<(bool, bool, &str)> {
    match arg.split_once('/') {
        None => Ok((true, true, arg)),
        Some((kind, name)) => match kind.to_ascii_lowercase().as_str() {
            "selectorsyncset" | "selectorsyncsets" | "sss" => Ok((false, true, name)),
            "syncset" | "syncsets" | "ss" => Ok((true, false, name)),
            _ => anyhow::bail!(
                "--syncset {arg}: expected NAME, selectorsyncset/NAME or syncset/NAME"
            ),
        },
    }
}

/// `status --syncset`: the clusters a syncset targets (in `namespace` and matching `selector` when given), with
/// where it landed and where not; clusters it no longer targets but whose ClusterSync still has its entry show as
/// Removing. Exit 1 unless it is applied, at its current generation, on every cluster it targets.
async fn fleet_of_syncset(
    hub: &Hub,
    arg: &str,
    namespace: Option<&str>,
    selector: Option<&str>,
    output: Option<Output>,
    style: Style,
    now: Timestamp,
) -> anyhow::Result<u8> {
    use crate::api::{SelectorSyncSet, SyncSet};
    use crate::plan::target::{selector_syncset_targets, syncset_targets};
    let (want_ss, want_sss, name) = syncset_kinds(arg)?;
    let sss = if want_sss {
        hub.get_cluster_scoped::<SelectorSyncSet>(name).await?
    } else {
        None
    };
    let sss_list: Vec<SyncSet> = if want_ss {
        hub.list::<SyncSet>(namespace)
            .await?
            .into_iter()
            .filter(|s| s.name_any() == name)
            .collect()
    } else {
        Vec::new()
    };
    anyhow::ensure!(
        sss.is_some() || !sss_list.is_empty(),
        "no {} named {name}{}; `kubectl get selectorsyncsets,syncsets -A` lists them",
        match (want_ss, want_sss) {
            (true, true) => "SyncSet or SelectorSyncSet",
            (true, false) => "SyncSet",
            _ => "SelectorSyncSet",
        },
        namespace
            .map(|n| format!(" (SyncSets: in namespace {n})"))
            .unwrap_or_default()
    );
    let (cds, css) = tokio::try_join!(
        hub.list_clusters(namespace, selector),
        hub.list::<ClusterSync>(namespace),
    )?;
    let css: HashMap<_, _> = css
        .into_iter()
        .map(|c| (ClusterKey::of_meta(&c.metadata), c))
        .collect();
    let mut rows = Vec::new();
    for cd in &cds {
        let status = css.get(&ClusterKey::of(cd)).and_then(|c| c.status.as_ref());
        let mut candidates: Vec<(SyncSetKind, i64, bool)> = Vec::new();
        if let Some(s) = &sss {
            candidates.push((
                SyncSetKind::SelectorSyncSet,
                s.metadata.generation.unwrap_or_default(),
                selector_syncset_targets(s, cd),
            ));
        }
        for s in sss_list.iter().filter(|s| s.namespace() == cd.namespace()) {
            candidates.push((
                SyncSetKind::SyncSet,
                s.metadata.generation.unwrap_or_default(),
                syncset_targets(s, cd),
            ));
        }
        for (kind, generation, targeted) in candidates {
            let entries = status.map(|s| match kind {
                SyncSetKind::SyncSet => &s.sync_sets,
                SyncSetKind::SelectorSyncSet => &s.selector_sync_sets,
            });
            let entry = entries.and_then(|e| e.iter().find(|e| e.name == name));
            if !targeted && entry.is_none() {
                continue;
            }
            rows.push(landing_row(cd, kind, name, generation, targeted, entry));
        }
    }
    rows.sort_by(|a, b| {
        (a.landing.landed(), &a.namespace, &a.name, a.kind).cmp(&(
            b.landing.landed(),
            &b.namespace,
            &b.name,
            b.kind,
        ))
    });
    let targeted = rows
        .iter()
        .filter(|r| r.landing != Landing::Removing)
        .count();
    let count = |l: Landing| rows.iter().filter(|r| r.landing == l).count();
    let summary = serde_json::json!({
        "syncset": arg,
        "clusters": cds.len(),
        "targeted": targeted,
        "applied": count(Landing::Applied),
        "failing": count(Landing::Failing),
        "pending": count(Landing::Pending),
        "removing": count(Landing::Removing),
    });
    match output {
        Some(Output::Json) => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"summary": summary, "clusters": rows})
            )?
        ),
        Some(Output::Yaml) => print!(
            "{}",
            serde_saphyr::to_string(&serde_json::json!({"summary": summary, "clusters": rows}))?
        ),
        Some(Output::Name) => rows
            .iter()
            .for_each(|r| println!("{}", object_name(&r.name))),
        o => {
            if !rows.is_empty() {
                print!(
                    "{}",
                    format_landings(&rows, o == Some(Output::Wide), style, now)
                );
            }
            println!(
                "{arg}: applied on {} of the {targeted} clusters it targets ({} failing, {} pending){}; {} of {} clusters{} not targeted",
                count(Landing::Applied),
                count(Landing::Failing),
                count(Landing::Pending),
                match count(Landing::Removing) {
                    0 => String::new(),
                    n => format!(", being removed from {n}"),
                },
                cds.len().saturating_sub(targeted),
                cds.len(),
                selector.map(|s| format!(" matching {s:?}")).unwrap_or_default(),
            );
        }
    }
    Ok(if rows.iter().any(|r| r.landing != Landing::Applied) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

fn landing_row(
    cd: &ClusterDeployment,
    kind: SyncSetKind,
    name: &str,
    generation: i64,
    targeted: bool,
    entry: Option<&SyncStatus>,
) -> LandingRow {
    let (reachable, why_unreachable) = Reachable::of(cd);
    let gate = gate::gate(cd);
    let landing = match entry {
        _ if !targeted => Landing::Removing,
        Some(e) if e.result != SyncSetResult::Success => Landing::Failing,
        Some(e) if e.observed_generation >= generation => Landing::Applied,
        _ => Landing::Pending,
    };
    let message = match (landing, gate) {
        (Landing::Failing, _) => entry
            .and_then(|e| e.failure_message.clone())
            .or_else(|| Some("failed".into())),
        (Landing::Applied, _) => None,
        (_, _) if reachable == Reachable::No => why_unreachable,
        (_, Gate::Paused { .. }) => Some("cluster paused".into()),
        (_, Gate::NotInstalled) => Some("cluster not installed yet".into()),
        (_, Gate::Deleting) => Some("cluster being deleted".into()),
        (Landing::Pending, _) if entry.is_some() => Some(format!(
            "generation {} applied, {generation} not yet",
            entry.map(|e| e.observed_generation).unwrap_or_default()
        )),
        (Landing::Pending, _) => Some("not applied yet".into()),
        (Landing::Removing, _) => Some(format!(
            "no longer targeted; {} objects to delete",
            entry
                .map(|e| e.resources_to_delete.len())
                .unwrap_or_default()
        )),
    };
    LandingRow {
        namespace: key_namespace(cd),
        name: cd.name_any(),
        kind: kind.as_str(),
        syncset: name.to_string(),
        landing,
        observed_generation: entry.map(|e| e.observed_generation).unwrap_or_default(),
        generation,
        reachable,
        paused: matches!(gate, Gate::Paused { .. }),
        since: entry.map(|e| e.last_transition_time.0),
        message,
    }
}

/// One line per cluster a syncset targets: not landed first.
pub fn format_landings(rows: &[LandingRow], wide: bool, style: Style, now: Timestamp) -> String {
    let header = [
        "NAMESPACE",
        "NAME",
        "KIND",
        "RESULT",
        "GENERATION",
        "REACHABLE",
        "SINCE",
        "MESSAGE",
    ];
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            let colour = match r.landing {
                Landing::Applied => GREEN,
                Landing::Failing => RED,
                Landing::Pending | Landing::Removing => YELLOW,
            };
            let message = r.message.as_deref().unwrap_or_default();
            vec![
                (r.namespace.clone(), NONE),
                (r.name.clone(), NONE),
                (r.kind.to_string(), NONE),
                (format!("{:?}", r.landing), colour),
                (format!("{}/{}", r.observed_generation, r.generation), NONE),
                reachable_cell(r.reachable),
                (age(r.since, now), NONE),
                (
                    if wide {
                        one_line(message)
                    } else {
                        truncate(message, 100)
                    },
                    if r.landing == Landing::Failing {
                        RED
                    } else {
                        NONE
                    },
                ),
            ]
        })
        .collect();
    table(&header, &cells, style)
}

// ------------------------------------------------------------------------------------------------------ the rows

/// `Unreachable` condition: False → yes, True → no, missing or Unknown → unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachable {
    Yes,
    No,
    Unknown,
}

impl Reachable {
    /// From the cluster's `Unreachable` condition; when unreachable, also why (`unreachable: <its message>`).
    fn of(cd: &ClusterDeployment) -> (Self, Option<String>) {
        let condition = cd.condition(UNREACHABLE);
        match condition.map(|c| c.status.as_str()) {
            Some("False") => (Reachable::Yes, None),
            Some("True") => (
                Reachable::No,
                Some(format!(
                    "unreachable: {}",
                    condition
                        .and_then(|c| c.message.as_deref())
                        .unwrap_or_default()
                )),
            ),
            _ => (Reachable::Unknown, None),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryRow {
    pub kind: &'static str,
    pub name: String,
    pub result: SyncSetResult,
    pub observed_generation: i64,
    pub resources_to_delete: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    pub last_transition_time: Timestamp,
}

/// The `Healthy` condition as `status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthRow {
    /// `Healthy`, `Progressing`, `Degraded`, or `Unknown` (not assessed yet).
    pub health: String,
    pub message: String,
    /// The unhealthy objects the condition names (at most three), each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unhealthy_objects: Vec<String>,
}

impl HealthRow {
    fn of(status: &crate::api::ClusterSyncStatus) -> Option<Self> {
        let c = status
            .conditions
            .iter()
            .find(|c| c.type_ == crate::consts::HEALTHY_CONDITION)?;
        let health = match c.status.as_str() {
            "True" => "Healthy".to_string(),
            "False" => c.reason.clone(),
            _ => "Unknown".to_string(),
        };
        Some(Self {
            health,
            unhealthy_objects: crate::plan::health::listed_objects(&c.message),
            message: c.message.clone(),
        })
    }

    fn degraded(&self) -> bool {
        self.health == "Degraded"
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRow {
    pub namespace: String,
    pub name: String,
    pub reachable: Reachable,
    pub paused: bool,
    /// Entries whose result is Success.
    pub applied: usize,
    pub total: usize,
    pub failing: usize,
    pub last_full_reapply: Option<Timestamp>,
    pub first_success_time: Option<Timestamp>,
    /// The ClusterSync's `Healthy` condition: the health of the objects applied to the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthRow>,
    /// Why the cluster needs a look (unreachable, paused, failing syncsets, no ClusterSync yet), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// With CLUSTER: every entry, failing first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_sets: Option<Vec<EntryRow>>,
}

impl ClusterRow {
    pub fn new(
        cd: &ClusterDeployment,
        cs: Option<&ClusterSync>,
        lease: Option<&ClusterSyncLease>,
        with_entries: bool,
    ) -> Self {
        let status = cs.and_then(|c| c.status.as_ref());
        let entries = status.map(entry_rows).unwrap_or_default();
        let (reachable, why_unreachable) = Reachable::of(cd);
        let gate = gate::gate(cd);
        let failing = entries
            .iter()
            .filter(|e| e.result != SyncSetResult::Success)
            .count();
        let message = match gate {
            _ if reachable == Reachable::No => why_unreachable,
            Gate::Paused { syncset_pause } => Some(
                if syncset_pause {
                    "paused (hive.openshift.io/syncset-pause)"
                } else {
                    "paused (reconcile-pause or relocate annotation)"
                }
                .to_string(),
            ),
            Gate::Deleting => Some("being deleted".into()),
            Gate::NotInstalled => Some("not installed yet".into()),
            Gate::NoClusterMetadata => Some("no spec.clusterMetadata".into()),
            Gate::Sync if failing > 0 => {
                let condition = status
                    .and_then(|s| s.conditions.iter().find(|c| c.type_ == CLUSTER_SYNC_FAILED))
                    .map(|c| c.message.clone());
                let first = entries
                    .iter()
                    .find_map(|e| e.failure_message.as_deref())
                    .map(first_line);
                match (condition, first) {
                    (Some(c), Some(f)) if failing == 1 => Some(format!("{c}: {f}")),
                    (Some(c), _) => Some(c),
                    (None, f) => f.map(String::from),
                }
            }
            Gate::Sync if cs.is_none() => Some("no ClusterSync yet".into()),
            Gate::Sync if reachable == Reachable::Unknown => {
                Some("reachability not probed yet".into())
            }
            Gate::Sync => None,
        };
        Self {
            namespace: cd.namespace().unwrap_or_default(),
            name: cd.name_any(),
            reachable,
            paused: matches!(gate, Gate::Paused { .. }),
            applied: entries.len() - failing,
            total: entries.len(),
            failing,
            last_full_reapply: lease.map(|l| l.spec.renew_time.0),
            first_success_time: status.and_then(|s| s.first_success_time.as_ref().map(|t| t.0)),
            health: status.and_then(HealthRow::of),
            message,
            sync_sets: with_entries.then_some(entries),
        }
    }

    /// Something a script should look at: the cluster is unreachable, a syncset fails, or its objects are Degraded.
    pub fn problem(&self) -> bool {
        self.reachable == Reachable::No
            || self.failing > 0
            || self.health.as_ref().is_some_and(HealthRow::degraded)
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Every entry of a ClusterSync, failing first, then SyncSets before SelectorSyncSets, then by name.
pub fn entry_rows(status: &crate::api::ClusterSyncStatus) -> Vec<EntryRow> {
    let row = |kind: SyncSetKind, e: &SyncStatus| EntryRow {
        kind: kind.as_str(),
        name: e.name.clone(),
        result: e.result,
        observed_generation: e.observed_generation,
        resources_to_delete: e.resources_to_delete.len(),
        failure_message: e.failure_message.clone(),
        last_transition_time: e.last_transition_time.0,
    };
    let mut rows: Vec<EntryRow> = status
        .sync_sets
        .iter()
        .map(|e| row(SyncSetKind::SyncSet, e))
        .chain(
            status
                .selector_sync_sets
                .iter()
                .map(|e| row(SyncSetKind::SelectorSyncSet, e)),
        )
        .collect();
    rows.sort_by_key(|r| {
        (
            r.result == SyncSetResult::Success,
            r.kind != "SyncSet",
            r.name.clone(),
        )
    });
    rows
}

/// Problems first (unreachable or failing), then by namespace and name.
pub fn sort_rows(rows: &mut [ClusterRow]) {
    rows.sort_by(|a, b| {
        (!a.problem(), &a.namespace, &a.name).cmp(&(!b.problem(), &b.namespace, &b.name))
    });
}

// ------------------------------------------------------------------------------------------------------ formatting

/// `5m ago`, kubectl's age style.
pub fn age(t: Option<Timestamp>, now: Timestamp) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    let secs = now.duration_since(t).as_secs().max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    let short = match () {
        _ if secs < 120 => format!("{secs}s"),
        _ if m < 10 && secs % 60 != 0 => format!("{m}m{}s", secs % 60),
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 && m % 60 != 0 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 && h % 24 != 0 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    };
    format!("{short} ago")
}

/// A table cell: its text and its colour (empty: none).
pub type Cell = (String, Paint);

/// Columns padded to their widest cell (colour added after padding, so it does not count), two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<Cell>], style: Style) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, (text, _)) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(text.chars().count());
            }
        }
    }
    let line = |cells: Vec<Cell>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (text, colour)) in cells.into_iter().enumerate() {
            let padded = if i == last {
                text
            } else {
                format!("{text:<w$}  ", w = widths[i])
            };
            out.push_str(&style.paint(&padded, colour));
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(
        header
            .iter()
            .map(|h| (h.to_string(), BOLD))
            .collect::<Vec<_>>(),
    );
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn health_cell(h: Option<&HealthRow>) -> Cell {
    match h.map(|h| h.health.as_str()) {
        None => ("-".into(), NONE),
        Some("Healthy") => ("Healthy".into(), GREEN),
        Some("Degraded") => ("Degraded".into(), RED),
        Some(other) => (other.to_string(), YELLOW),
    }
}

fn reachable_cell(r: Reachable) -> Cell {
    match r {
        Reachable::Yes => ("yes".into(), GREEN),
        Reachable::No => ("no".into(), RED),
        Reachable::Unknown => ("unknown".into(), YELLOW),
    }
}

/// One line per cluster.
pub fn format_clusters(rows: &[ClusterRow], wide: bool, style: Style, now: Timestamp) -> String {
    let mut header = vec![
        "NAMESPACE",
        "NAME",
        "REACHABLE",
        "PAUSED",
        "SYNCSETS",
        "FAILING",
        "HEALTH",
        "LAST-FULL-REAPPLY",
        "FIRST-SUCCESS",
    ];
    if wide {
        header.push("MESSAGE");
    }
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            let mut c: Vec<Cell> = vec![
                (r.namespace.clone(), NONE),
                (r.name.clone(), if r.problem() { RED } else { NONE }),
                reachable_cell(r.reachable),
                (
                    yes_no(r.paused).into(),
                    if r.paused { YELLOW } else { NONE },
                ),
                (
                    format!("{}/{}", r.applied, r.total),
                    if r.failing > 0 { RED } else { GREEN },
                ),
                (
                    r.failing.to_string(),
                    if r.failing > 0 { RED } else { NONE },
                ),
                health_cell(r.health.as_ref()),
                (age(r.last_full_reapply, now), NONE),
                (age(r.first_success_time, now), NONE),
            ];
            if wide {
                c.push((one_line(r.message.as_deref().unwrap_or_default()), NONE));
            }
            c
        })
        .collect();
    table(&header, &cells, style)
}

fn one_line(s: &str) -> String {
    s.lines().collect::<Vec<_>>().join(" / ")
}

fn truncate(s: &str, max: usize) -> String {
    let s = first_line(s);
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// One cluster: a summary, then its syncsets, failing first. Messages are cut to one line unless `wide`.
pub fn format_cluster(row: &ClusterRow, wide: bool, style: Style, now: Timestamp) -> String {
    let mut out = String::new();
    let field = |k: &str, v: String| format!("{:<20}{v}\n", format!("{k}:"));
    out.push_str(&field("Cluster", format!("{}/{}", row.namespace, row.name)));
    let (r, c) = reachable_cell(row.reachable);
    out.push_str(&field("Reachable", style.paint(&r, c)));
    out.push_str(&field("Paused", yes_no(row.paused).into()));
    let syncsets = format!(
        "{}/{} applied, {} failing",
        row.applied, row.total, row.failing
    );
    let colour = if row.failing > 0 { RED } else { GREEN };
    out.push_str(&field("SyncSets", style.paint(&syncsets, colour)));
    let (h, c) = health_cell(row.health.as_ref());
    out.push_str(&field("Health", style.paint(&h, c)));
    if let Some(health) = &row.health {
        if health.unhealthy_objects.is_empty() {
            out.push_str(&field("", health.message.clone()));
        }
        for o in &health.unhealthy_objects {
            out.push_str(&field("", o.clone()));
        }
    }
    out.push_str(&field(
        "Last full re-apply",
        age(row.last_full_reapply, now),
    ));
    out.push_str(&field("First success", age(row.first_success_time, now)));
    if let Some(m) = &row.message {
        out.push_str(&field("Message", m.clone()));
    }
    let entries = row.sync_sets.as_deref().unwrap_or_default();
    if entries.is_empty() {
        out.push_str("\nNo SyncSet or SelectorSyncSet has an entry for this cluster.\n");
        return out;
    }
    let cells: Vec<Vec<Cell>> = entries
        .iter()
        .map(|e| {
            let failed = e.result != SyncSetResult::Success;
            let message = e.failure_message.as_deref().unwrap_or_default();
            vec![
                (e.kind.to_string(), NONE),
                (e.name.clone(), NONE),
                (format!("{:?}", e.result), if failed { RED } else { GREEN }),
                (e.observed_generation.to_string(), NONE),
                (e.resources_to_delete.to_string(), NONE),
                (
                    if wide {
                        one_line(message)
                    } else {
                        truncate(message, 100)
                    },
                    if failed { RED } else { NONE },
                ),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table(
        &[
            "KIND",
            "NAME",
            "RESULT",
            "GENERATION",
            "RESOURCES-TO-DELETE",
            "MESSAGE",
        ],
        &cells,
        style,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cd(
        name: &str,
        unreachable: Option<&str>,
        annotations: serde_json::Value,
    ) -> ClusterDeployment {
        let mut v = json!({
            "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
            "metadata": {"name": name, "namespace": "ns", "annotations": annotations},
            "spec": {"clusterName": name, "baseDomain": "d", "installed": true, "platform": {},
                     "clusterMetadata": {"clusterID": "x", "infraID": "y", "adminKubeconfigSecretRef": {"name": "k"}}},
        });
        if let Some(s) = unreachable {
            v["status"] = json!({"conditions": [{"type": "Unreachable", "status": s, "message": "dial tcp: connection refused"}]});
        }
        serde_json::from_value(v).unwrap()
    }

    fn cs(entries: serde_json::Value) -> ClusterSync {
        serde_json::from_value(json!({
            "apiVersion": "hiveinternal.openshift.io/v1alpha1", "kind": "ClusterSync",
            "metadata": {"name": "c", "namespace": "ns"}, "spec": {},
            "status": entries,
        }))
        .unwrap()
    }

    fn entry(name: &str, result: &str, message: Option<&str>) -> serde_json::Value {
        let mut e = json!({"name": name, "observedGeneration": 2, "result": result,
                           "lastTransitionTime": "2026-01-01T00:00:00Z",
                           "resourcesToDelete": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "namespace": "b"}]});
        if let Some(m) = message {
            e["failureMessage"] = json!(m);
        }
        e
    }

    fn now() -> Timestamp {
        "2026-01-01T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn ages_read_like_kubectl() {
        let ago = |secs: i64| age(Some(now() - jiff::SignedDuration::from_secs(secs)), now());
        assert_eq!(ago(5), "5s ago");
        assert_eq!(ago(150), "2m30s ago");
        assert_eq!(ago(1800), "30m ago");
        assert_eq!(ago(4 * 3600 + 600), "4h10m ago");
        assert_eq!(ago(30 * 3600), "30h ago");
        assert_eq!(ago(3 * 86400 + 3600), "3d1h ago");
        assert_eq!(age(None, now()), "-");
    }

    #[test]
    fn a_failing_cluster_counts_its_entries_and_names_the_failure() {
        let sync = cs(json!({
            "syncSets": [entry("good", "Success", None)],
            "selectorSyncSets": [entry("bad", "Failure", Some("failed to apply resource 0: boom\nmore"))],
            "conditions": [{"type": "Failed", "status": "True", "reason": "Failure", "message": "SelectorSyncSet bad is failing"}],
            "firstSuccessTime": "2026-01-01T00:30:00Z",
        }));
        let row = ClusterRow::new(&cd("c", Some("False"), json!({})), Some(&sync), None, true);
        assert_eq!((row.applied, row.total, row.failing), (1, 2, 1));
        assert!(row.problem());
        assert_eq!(
            row.message.as_deref(),
            Some("SelectorSyncSet bad is failing: failed to apply resource 0: boom")
        );
        let entries = row.sync_sets.as_ref().unwrap();
        assert_eq!(entries[0].name, "bad", "failing entries come first");
        let text = format_cluster(&row, false, Style::PLAIN, now());
        assert!(
            text.contains("SyncSets:           1/2 applied, 1 failing"),
            "{text}"
        );
        assert!(text.contains("First success:      30m ago"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let header = lines.iter().position(|l| l.starts_with("KIND")).unwrap();
        assert!(lines[header + 1].starts_with("SelectorSyncSet  bad   Failure  2           1                    failed to apply resource 0: boom"), "{text}");
        assert!(
            lines[header + 2].starts_with("SyncSet          good  Success"),
            "{text}"
        );
    }

    #[test]
    fn problems_sort_first_and_the_table_lines_up() {
        let sync = cs(json!({"syncSets": [entry("s", "Success", None)]}));
        let mut rows = vec![
            ClusterRow::new(
                &cd("a-fine", Some("False"), json!({})),
                Some(&sync),
                None,
                false,
            ),
            ClusterRow::new(
                &cd("b-dead", Some("True"), json!({})),
                Some(&sync),
                None,
                false,
            ),
            ClusterRow::new(
                &cd(
                    "c-paused",
                    Some("False"),
                    json!({"hive.openshift.io/syncset-pause": "true"}),
                ),
                None,
                None,
                false,
            ),
        ];
        sort_rows(&mut rows);
        let text = format_clusters(&rows, true, Style::PLAIN, now());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "NAMESPACE  NAME      REACHABLE  PAUSED  SYNCSETS  FAILING  HEALTH  LAST-FULL-REAPPLY  FIRST-SUCCESS  MESSAGE"
        );
        assert_eq!(
            lines[1],
            "ns         b-dead    no         no      1/1       0        -       -                  -              unreachable: dial tcp: connection refused"
        );
        assert!(lines[2].starts_with("ns         a-fine    yes"), "{text}");
        assert!(
            lines[3].ends_with("paused (hive.openshift.io/syncset-pause)"),
            "{text}"
        );
        assert!(!rows[2].problem(), "a paused cluster is not a failure");
    }

    #[test]
    fn colour_wraps_padded_cells_only_when_asked() {
        let rows = vec![vec![("x".to_string(), RED), ("y".to_string(), NONE)]];
        let plain = table(&["A", "B"], &rows, Style::PLAIN);
        assert_eq!(plain, "A  B\nx  y\n");
        let coloured = table(&["A", "B"], &rows, Style { colour: true });
        assert!(coloured.contains("\u{1b}[31mx  \u{1b}[0m"), "{coloured:?}");
    }

    #[test]
    fn the_health_condition_shows_as_a_column_and_as_a_list_of_unhealthy_objects() {
        let verdict = crate::plan::health::verdict(&[
            (
                crate::api::SyncResourceReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    namespace: "shop".into(),
                    name: "migrate".into(),
                },
                crate::plan::health::Assessment {
                    health: crate::plan::health::Health::Degraded,
                    message:
                        "Job: BackoffLimitExceeded: Job has reached the specified backoff limit"
                            .into(),
                },
            ),
            (
                crate::api::SyncResourceReference {
                    api_version: "v1".into(),
                    kind: "Namespace".into(),
                    namespace: "".into(),
                    name: "shop".into(),
                },
                crate::plan::health::Assessment {
                    health: crate::plan::health::Health::Healthy,
                    message: "".into(),
                },
            ),
        ]);
        let status = json!({"conditions": [
            {"type": "Failed", "status": "False", "reason": "Success", "message": "All SyncSets and SelectorSyncSets have been applied to the cluster"},
            {"type": "Healthy", "status": "False", "reason": "Degraded", "message": verdict.message},
        ], "syncSets": [entry("good", "Success", None)]});
        let row = ClusterRow::new(
            &cd("c", Some("False"), json!({})),
            Some(&cs(status)),
            None,
            true,
        );
        let health = row.health.clone().unwrap();
        assert_eq!(health.health, "Degraded");
        assert_eq!(health.unhealthy_objects.len(), 1);
        assert!(
            health.unhealthy_objects[0].starts_with("Job shop/migrate is Degraded"),
            "{health:?}"
        );
        assert!(row.problem(), "a Degraded cluster is a problem for scripts");
        let table = format_clusters(std::slice::from_ref(&row), false, Style::PLAIN, now());
        assert!(
            table.lines().nth(1).unwrap().contains(" Degraded "),
            "{table}"
        );
        let one = format_cluster(&row, false, Style::PLAIN, now());
        assert!(one.contains("Health:             Degraded"), "{one}");
        assert!(
            one.contains("Job shop/migrate is Degraded: BackoffLimitExceeded"),
            "{one}"
        );
        assert_eq!(
            serde_json::to_value(&row).unwrap()["health"]["health"],
            "Degraded"
        );
    }

    #[test]
    fn one_syncset_across_the_fleet_says_where_it_landed_and_where_not() {
        let entry_at = |result: &str, generation: i64, message: Option<&str>| -> SyncStatus {
            let mut e = entry("cso-test", result, message);
            e["observedGeneration"] = json!(generation);
            serde_json::from_value(e).unwrap()
        };
        let reachable = cd("c", Some("False"), json!({}));
        let now_generation = 3;
        let row = |entry: Option<&SyncStatus>, targeted: bool| {
            landing_row(
                &reachable,
                SyncSetKind::SelectorSyncSet,
                "cso-test",
                now_generation,
                targeted,
                entry,
            )
        };
        assert_eq!(
            row(Some(&entry_at("Success", 3, None)), true).landing,
            Landing::Applied
        );
        let old = row(Some(&entry_at("Success", 2, None)), true);
        assert_eq!(old.landing, Landing::Pending);
        assert_eq!(
            old.message.as_deref(),
            Some("generation 2 applied, 3 not yet")
        );
        let failing = row(Some(&entry_at("Failure", 3, Some("boom"))), true);
        assert_eq!(failing.landing, Landing::Failing);
        assert_eq!(failing.message.as_deref(), Some("boom"));
        let none = row(None, true);
        assert_eq!(none.landing, Landing::Pending);
        assert_eq!(none.message.as_deref(), Some("not applied yet"));
        let gone = row(Some(&entry_at("Success", 3, None)), false);
        assert_eq!(gone.landing, Landing::Removing);
        let dead = landing_row(
            &cd("d", Some("True"), json!({})),
            SyncSetKind::SelectorSyncSet,
            "cso-test",
            3,
            true,
            None,
        );
        assert_eq!(
            dead.message.as_deref(),
            Some("unreachable: dial tcp: connection refused")
        );
        let text = format_landings(&[failing, none], false, Style::PLAIN, now());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "NAMESPACE  NAME  KIND             RESULT   GENERATION  REACHABLE  SINCE    MESSAGE"
        );
        assert_eq!(
            lines[1],
            "ns         c     SelectorSyncSet  Failing  3/3         yes        60m ago  boom"
        );
        assert_eq!(
            lines[2],
            "ns         c     SelectorSyncSet  Pending  0/3         yes        -        not applied yet"
        );
    }

    #[test]
    fn a_syncset_argument_may_name_its_kind() {
        assert_eq!(syncset_kinds("x").unwrap(), (true, true, "x"));
        assert_eq!(
            syncset_kinds("selectorsyncset/x").unwrap(),
            (false, true, "x")
        );
        assert_eq!(syncset_kinds("SyncSet/x").unwrap(), (true, false, "x"));
        assert!(syncset_kinds("configmap/x").is_err());
    }

    #[test]
    fn json_rows_use_hive_style_field_names() {
        let row = ClusterRow::new(&cd("c", None, json!({})), None, None, false);
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(v["reachable"], "unknown");
        assert_eq!(v["lastFullReapply"], serde_json::Value::Null);
        assert_eq!(v["message"], "no ClusterSync yet");
    }
}
