//! `hivesync rollout`: where a syncset's progressive rollout stands (`status`), and the operators' requests to it
//! (`pause`, `resume`, `promote`, `abort`), written to its `Rollout` object's spec for the controller to act on.

use anyhow::{anyhow, bail, Context as _};
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::hub::{Hub, HubArgs};
use crate::api::rollout::{Rollout, RolloutStrategy, SyncSetRef};
use crate::api::{ClusterDeployment, ClusterKey, ClusterSync, SelectorSyncSet, SyncSet};
use crate::consts::ROLLOUT_STRATEGY_ANNOTATION;
use crate::plan::rollout::{self as plan, Member, MemberHealth};
use crate::plan::target::{selector_syncset_targets, syncset_targets};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// The rollout's steps, its clusters per revision, and what it waits for (exit 1 when halted or aborted).
    Status(Target),
    /// No step starts and no further cluster is reached until `resume`.
    Pause(Target),
    /// Undoes `pause`; a halted rollout resumes with a new deadline for its step.
    Resume(Target),
    /// Ends the wait of the current step: the next step starts without its soak or gates.
    Promote(Target),
    /// Sends every reached cluster back to the stable revision and stops the rollout.
    Abort(Target),
}

#[derive(clap::Args, Debug)]
pub struct Target {
    /// `selectorsyncset/NAME` (or `sss/NAME`) or `syncset/NAME` (or `ss/NAME`, with -n).
    pub syncset: String,
    /// The SyncSet's namespace.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Output format of `status`: `json` for scripts.
    #[arg(long, short = 'o', value_parser = ["json"])]
    pub output: Option<String>,
    #[command(flatten)]
    pub hub: HubArgs,
}

pub async fn run(args: Args) -> anyhow::Result<u8> {
    match args.action {
        Action::Status(t) => status(t).await,
        Action::Pause(t) => request(t, "pause").await,
        Action::Resume(t) => request(t, "resume").await,
        Action::Promote(t) => request(t, "promote").await,
        Action::Abort(t) => request(t, "abort").await,
    }
}

fn reference(t: &Target) -> anyhow::Result<SyncSetRef> {
    let (kind, name) = t
        .syncset
        .split_once('/')
        .ok_or_else(|| anyhow!("name the syncset as selectorsyncset/NAME or syncset/NAME"))?;
    match kind.to_ascii_lowercase().as_str() {
        "selectorsyncset" | "selectorsyncsets" | "sss" => Ok(SyncSetRef {
            kind: "SelectorSyncSet".into(),
            namespace: String::new(),
            name: name.into(),
        }),
        "syncset" | "syncsets" | "ss" => Ok(SyncSetRef {
            kind: "SyncSet".into(),
            namespace: t
                .namespace
                .clone()
                .ok_or_else(|| anyhow!("a SyncSet needs its namespace: -n NAMESPACE"))?,
            name: name.into(),
        }),
        other => bail!("{other:?} is not syncset or selectorsyncset"),
    }
}

async fn rollout(hub: &Hub, r: &SyncSetRef) -> anyhow::Result<Rollout> {
    let name = Rollout::name_for(r);
    hub.get_cluster_scoped::<Rollout>(&name).await?.ok_or_else(|| {
        anyhow!(
            "no Rollout {name}: the {} has no {ROLLOUT_STRATEGY_ANNOTATION} annotation, or the controller has not seen it yet",
            r.kind
        )
    })
}

async fn request(t: Target, what: &str) -> anyhow::Result<u8> {
    let r = reference(&t)?;
    let hub = Hub::connect(&t.hub).await?;
    let ro = rollout(&hub, &r).await?;
    let status = ro.status.clone().unwrap_or_default();
    let spec = match what {
        "pause" => json!({ "paused": true }),
        "resume" => json!({ "paused": false, "resumeRequest": jiff::Timestamp::now().to_string() }),
        "promote" => {
            json!({ "promote": { "revision": status.update_revision, "step": status.step } })
        }
        _ => json!({ "abortRevision": status.update_revision }),
    };
    let api: Api<Rollout> = Api::all(hub.client.clone());
    hub.call(
        &format!("patch rollout {}", ro.name_any()),
        api.patch(
            &ro.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": spec })),
        ),
    )
    .await?;
    let done = match what {
        "pause" => "paused".to_string(),
        "resume" => "resumed".to_string(),
        "promote" => format!("step {} promoted", status.step + 1),
        _ => format!("generation {} aborted", status.update_revision),
    };
    println!("rollout {} {done}", ro.name_any());
    Ok(0)
}

async fn status(t: Target) -> anyhow::Result<u8> {
    let r = reference(&t)?;
    let hub = Hub::connect(&t.hub).await?;
    let ro = rollout(&hub, &r).await?;
    let st = ro.status.clone().unwrap_or_default();

    // The steps, computed as the controller does from the strategy and the fleet.
    let cds: Vec<ClusterDeployment> = hub.list(None).await?;
    let syncs: Vec<ClusterSync> = hub.list(None).await?;
    let (targets, annotations): (Vec<&ClusterDeployment>, _) = if r.kind == "SyncSet" {
        let s: SyncSet = hub
            .get_opt(&r.namespace, &r.name)
            .await?
            .with_context(|| format!("no SyncSet {}/{}", r.namespace, r.name))?;
        (
            cds.iter().filter(|cd| syncset_targets(&s, cd)).collect(),
            s.annotations().clone(),
        )
    } else {
        let s: SelectorSyncSet = hub
            .get_cluster_scoped(&r.name)
            .await?
            .with_context(|| format!("no SelectorSyncSet {}", r.name))?;
        (
            cds.iter()
                .filter(|cd| selector_syncset_targets(&s, cd))
                .collect(),
            s.annotations().clone(),
        )
    };
    let strategy_name = annotations
        .get(ROLLOUT_STRATEGY_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let strategy = hub
        .get_cluster_scoped::<RolloutStrategy>(&strategy_name)
        .await?
        .map(|s| plan::Strategy::parse(&s.spec));
    let keys: Vec<ClusterKey> = targets.iter().map(|cd| ClusterKey::of(cd)).collect();
    // Each target's entry for the syncset, by cluster: (observedGeneration, result).
    let entries: std::collections::HashMap<ClusterKey, (i64, crate::api::SyncSetResult)> = syncs
        .iter()
        .filter_map(|cs| {
            let s = cs.status.as_ref()?;
            let entries = if r.kind == "SyncSet" {
                &s.sync_sets
            } else {
                &s.selector_sync_sets
            };
            let e = entries.iter().find(|e| e.name == r.name)?;
            let key = ClusterKey::new(cs.namespace().unwrap_or_default(), cs.name_any());
            Some((key, (e.observed_generation, e.result)))
        })
        .collect();
    let entry_of = |key: &ClusterKey| entries.get(key).copied();
    let members = members(&targets, &keys, |cd, key| {
        (!crate::plan::gate::reachable(cd), entry_of(key))
    });
    let steps = match &strategy {
        Some(Ok(s)) => plan::partition(s, &members),
        _ => Vec::new(),
    };
    let updated_in = |step: &[ClusterKey]| {
        step.iter()
            .filter(|k| entry_of(k).is_some_and(|(g, _)| g == st.update_revision))
            .count()
    };

    if t.output.as_deref() == Some("json") {
        let out = json!({
            "rollout": ro.name_any(),
            "syncSetRef": r,
            "strategy": strategy_name,
            "spec": ro.spec,
            "status": st,
            "steps": steps.iter().enumerate().map(|(i, s)| json!({
                "step": i,
                "clusters": s.len(),
                "updated": updated_in(s),
                "names": s.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("Rollout:   {} ({} {})", ro.name_any(), r.kind, r.name);
        println!("Strategy:  {strategy_name}");
        if let Some(Err(e)) = &strategy {
            println!("           cannot be used: {e}");
        }
        let phase = if ro.spec.paused && st.phase != plan::COMPLETE {
            format!("{} (paused)", st.phase)
        } else {
            st.phase.clone()
        };
        println!("Phase:     {phase}");
        println!(
            "Revisions: stable generation {}, update generation {}",
            st.stable_revision, st.update_revision
        );
        println!(
            "Clusters:  {} at the update revision, {} at the stable one",
            st.updated_clusters, st.stable_clusters
        );
        if !st.message.is_empty() {
            println!("Message:   {}", st.message);
        }
        println!("Steps:");
        for (i, s) in steps.iter().enumerate() {
            let state = match (i as i32).cmp(&st.step) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal if st.phase != plan::COMPLETE => "current",
                std::cmp::Ordering::Equal => "done",
                std::cmp::Ordering::Greater => "waiting",
            };
            println!(
                "  {:>2}  {:>5} clusters  {:>5} updated  {state}",
                i + 1,
                s.len(),
                updated_in(s)
            );
        }
    }
    Ok(u8::from(
        st.phase == plan::HALTED || st.phase == plan::ABORTED,
    ))
}

/// The rollout members for the targets (`keys` are theirs, in order); `hub(cd, key)` says whether each is unreachable
/// and its entry for the syncset. Health is not read here: the steps do not depend on it.
fn members<'a>(
    targets: &[&'a ClusterDeployment],
    keys: &'a [ClusterKey],
    hub: impl Fn(&ClusterDeployment, &ClusterKey) -> (bool, Option<(i64, crate::api::SyncSetResult)>),
) -> Vec<Member<'a>> {
    static NO_LABELS: std::sync::LazyLock<std::collections::BTreeMap<String, String>> =
        std::sync::LazyLock::new(Default::default);
    targets
        .iter()
        .zip(keys)
        .map(|(cd, key)| {
            let (unreachable, entry) = hub(cd, key);
            Member {
                key,
                labels: cd.metadata.labels.as_ref().unwrap_or(&NO_LABELS),
                unreachable,
                entry,
                health: MemberHealth::Unknown,
            }
        })
        .collect()
}

/// For `hivesync diff --file`: which clusters each step of the syncset's rollout would change, in one line
/// (`None` when it names no RolloutStrategy). `targets` says which ClusterDeployments the syncset targets; `this` is
/// the cluster being diffed.
pub async fn describe_steps(
    hub: &Hub,
    kind: &str,
    name: &str,
    annotations: &std::collections::BTreeMap<String, String>,
    targets: impl Fn(&ClusterDeployment) -> bool,
    this: &ClusterKey,
) -> anyhow::Result<Option<String>> {
    let Some(strategy_name) = annotations.get(ROLLOUT_STRATEGY_ANNOTATION) else {
        return Ok(None);
    };
    let Some(strategy) = hub
        .get_cluster_scoped::<RolloutStrategy>(strategy_name)
        .await?
    else {
        return Ok(Some(format!(
            "{kind} {name} names RolloutStrategy {strategy_name}, which does not exist: the change would wait"
        )));
    };
    let strategy = match plan::Strategy::parse(&strategy.spec) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Some(format!(
                "{kind} {name}: RolloutStrategy {strategy_name} cannot be used ({e}): the change would wait"
            )))
        }
    };
    let cds: Vec<ClusterDeployment> = hub.list(None).await?;
    let targeted: Vec<&ClusterDeployment> = cds.iter().filter(|cd| targets(cd)).collect();
    let keys: Vec<ClusterKey> = targeted.iter().map(|cd| ClusterKey::of(cd)).collect();
    let members = members(&targeted, &keys, |_, _| (false, None));
    let steps = plan::partition(&strategy, &members);
    let shown: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut names: Vec<String> = s.iter().take(3).map(|k| k.to_string()).collect();
            if s.len() > 3 {
                names.push(format!("{} more", s.len() - 3));
            }
            format!(
                "step {}: {} cluster(s) ({})",
                i + 1,
                s.len(),
                names.join(", ")
            )
        })
        .collect();
    let here = steps
        .iter()
        .position(|s| s.contains(this))
        .map_or("not a target".to_string(), |i| format!("step {}", i + 1));
    Ok(Some(format!(
        "{kind} {name} rolls out with RolloutStrategy {strategy_name}: {}; cluster {this} is in {here}",
        shown.join("; ")
    )))
}
