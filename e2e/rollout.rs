//! Progressive rollout on real clusters (docs/rollout.md): a SelectorSyncSet opted into a `RolloutStrategy` reaches
//! its canary first, the rest only after the canary's soak; a change the canary rejects halts there, and `hivesync
//! rollout abort` sends the canary back to the stable revision while the clusters not reached never changed.
//!
//! Each test has three real clusters (one on each managed cluster, the first labelled canary) and three of Hive's
//! fake clusters (no spoke: they count in the steps' shares and report Success at once).

use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use hivesync::api::rollout::{Rollout, RolloutStrategy, SyncSetRef};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{json, Value};

use crate::support::*;

const ROLL: Duration = Duration::from_secs(90);

/// Creates (server-side apply) a cluster-scoped RolloutStrategy; deleted when the returned guard drops.
async fn strategy(fleet: &Fleet, name: &str, spec: Value) -> Result<StrategyGuard> {
    let api: Api<RolloutStrategy> = Api::all(fleet.hub.clone());
    api.patch(
        name,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(json!({
            "apiVersion": "hivesync.io/v1alpha1", "kind": "RolloutStrategy",
            "metadata": {"name": name}, "spec": spec,
        })),
    )
    .await
    .with_context(|| format!("creating RolloutStrategy {name}"))?;
    Ok(StrategyGuard {
        api,
        name: name.to_string(),
    })
}

struct StrategyGuard {
    api: Api<RolloutStrategy>,
    name: String,
}

impl Drop for StrategyGuard {
    fn drop(&mut self) {
        let (api, name) = (self.api.clone(), self.name.clone());
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move {
                let _ = api.delete(&name, &DeleteParams::default()).await;
            });
        }
    }
}

/// Three real clusters (the first a canary) and three fake ones, all in `group`.
async fn fleet_of_six(
    fleet: &Fleet,
    group: &Group,
    prefix: &str,
) -> Result<(Vec<Cluster>, Vec<Cluster>)> {
    let mut real = Vec::new();
    for n in 1..=3 {
        let mut b = fleet.cluster(prefix).on(n).in_group(group);
        if n == 1 {
            b = b.labels(&[("canary", "true")]);
        }
        real.push(b.reachable().await?);
    }
    let mut fake = Vec::new();
    for _ in 0..3 {
        fake.push(
            fleet
                .cluster(prefix)
                .in_group(group)
                .metadata(json!({"annotations": {"hive.openshift.io/fake-cluster": "true"}}))
                .reachable()
                .await?,
        );
    }
    Ok((real, fake))
}

fn configmap(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "default"}, "data": {"value": value}})
}

/// The SelectorSyncSet object opted into `strategy`.
fn opted(sss: &SelectorSyncSet, strategy: &str, resources: Vec<Value>) -> Value {
    let mut obj = sss.object(json!({"resourceApplyMode": "Sync", "resources": resources}));
    obj["metadata"]["annotations"] = json!({"hivesync.io/rollout-strategy": strategy});
    obj
}

async fn value_on(cluster: &Cluster, name: &str) -> Result<Option<String>> {
    let cm = cluster
        .spoke()
        .api::<ConfigMap>("default")
        .get_opt(name)
        .await?;
    Ok(cm
        .and_then(|c| c.data)
        .and_then(|d| d.get("value").cloned()))
}

async fn rollout_of(fleet: &Fleet, sss: &SelectorSyncSet) -> Result<Rollout> {
    let name = Rollout::name_for(&SyncSetRef {
        kind: "SelectorSyncSet".into(),
        namespace: String::new(),
        name: sss.name.clone(),
    });
    Api::<Rollout>::all(fleet.hub.clone())
        .get(&name)
        .await
        .with_context(|| format!("getting Rollout {name}"))
}

async fn wait_phase(fleet: &Fleet, sss: &SelectorSyncSet, phase: &str) -> Result<Rollout> {
    wait_for(ROLL, Duration::from_millis(250), || async move {
        let r = rollout_of(fleet, sss).await?;
        let st = r.status.clone().unwrap_or_default();
        ensure!(
            st.phase == phase,
            "phase {} ({}), want {phase}",
            st.phase,
            st.message
        );
        Ok(r)
    })
    .await
}

fn at_generation(g: i64) -> impl Fn(&hivesync::api::SyncStatus) -> bool {
    move |e| e.observed_generation == g && is_success(e)
}

#[tokio::test]
async fn a_good_change_reaches_the_canary_first_and_the_rest_after_its_soak() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-rollout-good");
    let (real, fake) = fleet_of_six(&fleet, &group, "e2e-rollout-good").await?;
    let strategy_name = unique_name("e2e-canary-first");
    let _strategy = strategy(
        &fleet,
        &strategy_name,
        json!({"steps": [{"clusterSelector": {"matchLabels": {"canary": "true"}}}, {}],
               "minHealthyDuration": "4s", "progressDeadline": "5m"}),
    )
    .await?;
    let sss = fleet.selector_syncset("e2e-rollout-good").selecting(&group);
    let cm = unique_name("rollout-good");

    // Generation 1, a new syncset: the canary first.
    let g1 = sss
        .apply_object(&opted(&sss, &strategy_name, vec![configmap(&cm, "1")]))
        .await?;
    let canary_done = real[0].entry_within(&sss, ROLL, at_generation(g1)).await?;
    let canary_at = Instant::now();
    ensure!(
        real[1].current_entry(&sss).await?.0.is_none(),
        "the second cluster got generation {g1} with the canary"
    );
    // The rest after the soak (4 s of the canary Success and Healthy).
    for c in real.iter().skip(1).chain(&fake) {
        c.entry_within(&sss, ROLL, at_generation(g1)).await?;
    }
    ensure!(
        canary_at.elapsed() >= Duration::from_secs(3),
        "the rest came {:?} after the canary ({:?}), before its soak",
        canary_at.elapsed(),
        canary_done.last_transition_time
    );
    let complete = wait_phase(&fleet, &sss, "Complete").await?;
    ensure!(complete.status.unwrap_or_default().stable_revision == g1);

    // Generation 2: the canary changes, the others keep value 1 until the soak is over.
    let g2 = sss
        .apply_object(&opted(&sss, &strategy_name, vec![configmap(&cm, "2")]))
        .await?;
    real[0].entry_within(&sss, ROLL, at_generation(g2)).await?;
    ensure!(value_on(&real[0], &cm).await?.as_deref() == Some("2"));
    let progressing = rollout_of(&fleet, &sss).await?.status.unwrap_or_default();
    ensure!(
        progressing.phase == "Progressing"
            && progressing.stable_revision == g1
            && progressing.update_revision == g2,
        "{progressing:?}"
    );
    for c in &real[1..] {
        ensure!(
            value_on(c, &cm).await?.as_deref() == Some("1"),
            "{} changed with the canary",
            c.name
        );
        let (entry, _) = c.current_entry(&sss).await?;
        ensure!(
            entry.is_some_and(|e| e.observed_generation == g1),
            "{}: its entry tells it still has generation {g1}",
            c.name
        );
    }
    // `hivesync rollout status` says where it stands.
    let out = hivesync(&[
        "rollout",
        "status",
        &format!("selectorsyncset/{}", sss.name),
    ]);
    ensure!(
        out.stdout_text().contains("Phase:") && out.stdout_text().contains("Steps:"),
        "{}",
        out.describe()
    );
    for c in real.iter().skip(1).chain(&fake) {
        c.entry_within(&sss, ROLL, at_generation(g2)).await?;
    }
    for c in &real {
        ensure!(value_on(c, &cm).await?.as_deref() == Some("2"));
    }
    wait_phase(&fleet, &sss, "Complete").await?;
    // `hivesync diff --file` of a next edit says which clusters each step would change.
    let file = std::env::temp_dir().join(format!("{}.json", unique_name("rollout-diff")));
    std::fs::write(
        &file,
        serde_json::to_vec(&opted(&sss, &strategy_name, vec![configmap(&cm, "3")]))?,
    )?;
    let canary_ref = format!("{}/{}", real[0].ns(), real[0].name);
    let out = hivesync(&["diff", &canary_ref, "--file", &file.to_string_lossy()]);
    let _ = std::fs::remove_file(&file);
    ensure!(
        out.stderr_text().contains(&format!(
            "rolls out with RolloutStrategy {strategy_name}: step 1: 1 cluster(s)"
        )) && out
            .stderr_text()
            .contains(&format!("cluster {canary_ref} is in step 1")),
        "{}",
        out.describe()
    );
    let out = hivesync(&[
        "rollout",
        "status",
        &format!("selectorsyncset/{}", sss.name),
        "-o",
        "json",
    ]);
    let status: Value = serde_json::from_str(&out.stdout_text()).context(out.describe())?;
    ensure!(
        status["status"]["updatedClusters"] == json!(6)
            && status["steps"][0]["clusters"] == json!(1),
        "{status}"
    );
    Ok(())
}

#[tokio::test]
async fn a_change_the_canary_rejects_halts_there_and_abort_sends_the_canary_back() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-rollout-bad");
    let (real, fake) = fleet_of_six(&fleet, &group, "e2e-rollout-bad").await?;
    let strategy_name = unique_name("e2e-canary-halt");
    let _strategy = strategy(
        &fleet,
        &strategy_name,
        json!({"steps": [{"clusterSelector": {"matchLabels": {"canary": "true"}}}, {"maxClusters": "50%"}, {}],
               "minHealthyDuration": "1s", "maxFailures": 0}),
    )
    .await?;
    let sss = fleet.selector_syncset("e2e-rollout-bad").selecting(&group);
    let (keep, dropped) = (unique_name("rollout-keep"), unique_name("rollout-dropped"));
    let g1 = sss
        .apply_object(&opted(
            &sss,
            &strategy_name,
            vec![configmap(&keep, "1"), configmap(&dropped, "1")],
        ))
        .await?;
    for c in real.iter().chain(&fake) {
        c.entry_within(&sss, ROLL, at_generation(g1)).await?;
    }
    wait_phase(&fleet, &sss, "Complete").await?;

    // Generation 2 drops one ConfigMap and adds one in a namespace no cluster has: the canary fails it.
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "rejected", "namespace": unique_name("no-such-namespace")},
                     "data": {"value": "2"}});
    let g2 = sss
        .apply_object(&opted(
            &sss,
            &strategy_name,
            vec![configmap(&keep, "2"), bad],
        ))
        .await?;
    real[0]
        .entry_within(&sss, ROLL, |e| e.observed_generation == g2 && is_failure(e))
        .await?;
    let halted = wait_phase(&fleet, &sss, "Halted").await?;
    let message = halted.status.unwrap_or_default().message;
    ensure!(
        message.contains("failed") && message.contains(&real[0].name),
        "the halt names the canary: {message}"
    );
    let events = Api::<Event>::all(fleet.hub.clone())
        .list(&ListParams::default())
        .await?;
    ensure!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("RolloutHalted")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(sss.name.as_str())),
        "a RolloutHalted Event on the SelectorSyncSet"
    );
    // No other cluster changed: still generation 1, with the object generation 2 drops.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for c in &real[1..] {
        let (entry, _) = c.current_entry(&sss).await?;
        ensure!(
            entry.is_some_and(|e| e.observed_generation == g1),
            "{} was reached by a halted rollout",
            c.name
        );
        ensure!(value_on(c, &keep).await?.as_deref() == Some("1"));
        ensure!(
            value_on(c, &dropped).await?.as_deref() == Some("1"),
            "{}: a Sync-mode object dropped by generation {g2} went from a cluster it had not reached",
            c.name
        );
    }

    // Abort: the canary goes back to generation 1.
    let out = hivesync(&["rollout", "abort", &format!("selectorsyncset/{}", sss.name)]);
    ensure!(out.status.success(), "{}", out.describe());
    real[0].entry_within(&sss, ROLL, at_generation(g1)).await?;
    ensure!(value_on(&real[0], &keep).await?.as_deref() == Some("1"));
    ensure!(value_on(&real[0], &dropped).await?.as_deref() == Some("1"));
    let aborted = wait_phase(&fleet, &sss, "Aborted").await?;
    ensure!(aborted.status.unwrap_or_default().stable_revision == g1);
    let out = hivesync(&[
        "rollout",
        "status",
        &format!("selectorsyncset/{}", sss.name),
    ]);
    ensure!(
        out.status.code() == Some(1),
        "status exits 1 when aborted: {}",
        out.describe()
    );
    Ok(())
}

#[tokio::test]
async fn a_canary_that_stays_progressing_past_the_deadline_halts_the_rollout_there() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-rollout-deadline");
    let canary = fleet
        .cluster("e2e-rollout-deadline")
        .on(1)
        .in_group(&group)
        .labels(&[("canary", "true")])
        .reachable()
        .await?;
    let other = fleet
        .cluster("e2e-rollout-deadline")
        .on(2)
        .in_group(&group)
        .reachable()
        .await?;
    let strategy_name = unique_name("e2e-canary-deadline");
    let _strategy = strategy(
        &fleet,
        &strategy_name,
        json!({"steps": [{"clusterSelector": {"matchLabels": {"canary": "true"}}}, {}],
               "minHealthyDuration": "1s", "progressDeadline": "10s"}),
    )
    .await?;
    let sss = fleet
        .selector_syncset("e2e-rollout-deadline")
        .selecting(&group);
    // No kubelet on the spokes: the Deployment's pod never runs, so the canary stays Progressing.
    let name = unique_name("rollout-web");
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "registry.invalid/web:1"}]}}},
    });
    let g = sss
        .apply_object(&opted(&sss, &strategy_name, vec![deployment]))
        .await?;
    canary.entry_within(&sss, ROLL, at_generation(g)).await?;
    let halted = wait_phase(&fleet, &sss, "Halted").await?;
    let message = halted.status.unwrap_or_default().message;
    ensure!(
        message.contains("progressDeadline") && message.contains(&canary.name),
        "the halt says the deadline passed waiting for the canary: {message}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    ensure!(
        other.current_entry(&sss).await?.0.is_none(),
        "a cluster of the next step was reached by a halted rollout"
    );
    Ok(())
}

#[tokio::test]
async fn an_edit_of_a_syncset_whose_strategy_does_not_exist_waits_until_it_does() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-rollout-missing");
    let cluster = fleet
        .cluster("e2e-rollout-missing")
        .on(3)
        .in_group(&group)
        .reachable()
        .await?;
    let sss = fleet
        .selector_syncset("e2e-rollout-missing")
        .selecting(&group);
    let cm = unique_name("rollout-missing");
    let strategy_name = unique_name("e2e-not-yet");
    let mut unopted = opted(&sss, &strategy_name, vec![configmap(&cm, "1")]);
    unopted["metadata"]
        .as_object_mut()
        .map(|m| m.remove("annotations"));
    let g1 = sss.apply_object(&unopted).await?;
    cluster.entry(&sss, at_generation(g1)).await?;
    // It opts into a strategy no one has created yet (the annotation alone: the generation stays): the Rollout says
    // so.
    let same = sss
        .apply_object(&opted(&sss, &strategy_name, vec![configmap(&cm, "1")]))
        .await?;
    ensure!(
        same == g1,
        "opting in changed the generation: {g1} -> {same}"
    );
    let (fleet_ref, sss_ref) = (&fleet, &sss);
    wait_for(ROLL, Duration::from_millis(250), || async move {
        let r = rollout_of(fleet_ref, sss_ref).await?;
        let message = r.status.unwrap_or_default().message;
        ensure!(message.contains("not found"), "message: {message}");
        Ok(())
    })
    .await?;
    // An edit now reaches no cluster.
    let g2 = sss
        .apply_object(&opted(&sss, &strategy_name, vec![configmap(&cm, "2")]))
        .await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    ensure!(
        value_on(&cluster, &cm).await?.as_deref() == Some("1"),
        "the edit went out without its strategy"
    );
    let (entry, status) = cluster.current_entry(&sss).await?;
    ensure!(
        entry.as_ref().is_some_and(|e| e.observed_generation == g1),
        "the entry still tells generation {g1} (the edit is {g2}): {entry:?}\n{status}"
    );
    // Once the strategy exists, the edit rolls out.
    let _strategy = strategy(&fleet, &strategy_name, json!({"steps": [{}]})).await?;
    cluster.entry_within(&sss, ROLL, at_generation(g2)).await?;
    ensure!(value_on(&cluster, &cm).await?.as_deref() == Some("2"));
    wait_phase(&fleet, &sss, "Complete").await?;
    Ok(())
}
