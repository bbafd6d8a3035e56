//! Reachability and faults (issue 5; as Hive, with the deliberate difference that a dead cluster never holds the
//! others: docs/hive-compatibility.md): a stopped or frozen managed cluster turns `Unreachable` within seconds without
//! holding the others and catches up once back; `apiURLOverride` with its kubeconfig fallback.
//!
//! These tests run with the suite's shared controller (started by `hack/e2e.sh`), in parallel with the rest of the
//! suite; only `DISRUPTABLE` (managed-3) is ever stopped, holding [`serial`]. The tests that kill and restart
//! controllers (a controller killed between an edit and the delete it causes, a hub API server restart, a restart
//! that must not re-send what is already in sync, leader failover, shards, readiness) are a test target of their own,
//! `e2e-restart` (e2e/restart.rs), which `hack/e2e.sh` runs after this one without the shared controller.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use serde_json::{json, Value};

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

/// What is left of `budget` after `since`, at least a second (for a wait that must end within `budget` of `since`).
fn remaining(budget: Duration, since: Instant) -> Duration {
    budget
        .saturating_sub(since.elapsed())
        .max(Duration::from_secs(1))
}

const FAULT_LABEL: &str = "hivesync.e2e/faults";

/// Two clusters labelled alike, one on the managed cluster a test may stop or freeze (`DISRUPTABLE`, hold [`serial`])
/// and one on managed-1 that keeps running; a namespace for the syncset to create on both spokes; and a
/// SelectorSyncSet (not applied yet) that selects both.
struct DisruptableAndAlive {
    disrupted: Cluster,
    alive: Cluster,
    spoke_ns: PlannedNamespace,
    sss: SelectorSyncSet,
}

impl DisruptableAndAlive {
    async fn arrange(fleet: &Fleet, prefix: &str) -> Result<Self> {
        let group = Group::new(FAULT_LABEL);
        let disrupted = fleet
            .cluster(&format!("{prefix}-disrupted"))
            .on(DISRUPTABLE)
            .in_group(&group)
            .reachable()
            .await?;
        let alive = fleet
            .cluster(&format!("{prefix}-alive"))
            .in_group(&group)
            .reachable()
            .await?;
        let spoke_ns = PlannedNamespace::on(&[disrupted.spoke(), alive.spoke()], prefix);
        let sss = fleet.selector_syncset(prefix).selecting(&group);
        Ok(Self {
            disrupted,
            alive,
            spoke_ns,
            sss,
        })
    }

    /// A spec that creates the namespace and ConfigMap `name` in it with `data.value` = `value`.
    fn spec(&self, mode: Option<&str>, name: &str, value: &str) -> Value {
        let ns = &self.spoke_ns.name;
        let mut spec = json!({"resources": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            configmap(ns, name, json!({"value": value})),
        ]});
        if let Some(mode) = mode {
            spec["resourceApplyMode"] = json!(mode);
        }
        spec
    }
}

// --------------------------------------------------------------------------------------------- a dead cluster

#[tokio::test]
async fn a_cluster_stopped_before_a_selector_syncset_exists_does_not_slow_the_others_and_catches_up_once_started(
) -> Result<()> {
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let fixture = DisruptableAndAlive::arrange(&fleet, "e2e-dead").await?;
    let (dead, alive, sss) = (&fixture.disrupted, &fixture.alive, &fixture.sss);
    let spoke_ns = &fixture.spoke_ns.name;

    // Dropping the guard (a failed assertion below) starts the cluster again, before the clean-up above runs.
    let stopped = dead.spoke().stop()?;
    let started = Instant::now();
    sss.apply(fixture.spec(Some("Sync"), "everywhere", "a"))
        .await?;
    alive.entry(sss, is_success).await?;
    let elapsed = started.elapsed();
    eprintln!("the reachable cluster's entry reached Success {elapsed:?} after the SelectorSyncSet was created");
    assert!(
        elapsed < Duration::from_secs(15),
        "the reachable cluster took {elapsed:?} (≥ 15 s) to sync while another cluster was stopped"
    );
    alive.spoke().wait_configmap(spoke_ns, "everywhere").await?;

    let (_, reason, message) = dead
        .wait_condition("Unreachable", "True", Duration::from_secs(60))
        .await?;
    assert_eq!(
        reason, "ErrorConnectingToCluster",
        "Unreachable=True reason (message {message:?})"
    );
    let (entry, status) = dead.current_entry(sss).await?;
    assert!(
        !entry.as_ref().is_some_and(is_success),
        "the stopped cluster has a Success entry:\n{status}"
    );

    stopped.start()?;
    dead.wait_condition("Unreachable", "False", Duration::from_secs(60))
        .await?;
    dead.entry_within(sss, Duration::from_secs(90), is_success)
        .await?;
    dead.spoke().wait_configmap(spoke_ns, "everywhere").await?;
    Ok(())
}

#[tokio::test]
async fn a_cluster_stopped_between_two_edits_is_unreachable_within_30s_others_sync_meanwhile_and_it_catches_up_within_30s_of_starting(
) -> Result<()> {
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let fixture = DisruptableAndAlive::arrange(&fleet, "e2e-fault").await?;
    let (dead, alive, sss) = (&fixture.disrupted, &fixture.alive, &fixture.sss);
    let spoke_ns = &fixture.spoke_ns.name;
    let spec = |value: &str| fixture.spec(Some("Sync"), "pending", value);
    let g1 = sss.apply(spec("before")).await?;
    for c in [dead, alive] {
        c.entry(sss, succeeded_at(g1)).await?;
        c.spoke()
            .wait_configmap_where(
                spoke_ns,
                "pending",
                "at value before",
                ENTRY_TIMEOUT,
                has_value("before"),
            )
            .await?;
    }

    // Stop the cluster and change the SelectorSyncSet at once, before anything has noticed the cluster is gone.
    // Dropping the guard (a failed assertion below) starts the cluster again.
    let stopping = Instant::now();
    let stopped = dead.spoke().stop()?;
    eprintln!("hack/local-clusters.sh stop took {:?}", stopping.elapsed());
    let g2 = sss.apply(spec("while-down")).await?;
    let edited = Instant::now();
    let (unreachable, synced) = tokio::join!(
        async {
            let c = dead
                .wait_condition("Unreachable", "True", Duration::from_secs(30))
                .await?;
            anyhow::Ok((c, stopping.elapsed()))
        },
        async {
            // A generous wait, so a slow sync fails on the bound below with its measured time.
            alive
                .entry_within(sss, Duration::from_secs(60), succeeded_at(g2))
                .await?;
            alive
                .spoke()
                .wait_configmap_where(
                    spoke_ns,
                    "pending",
                    "at value while-down",
                    Duration::from_secs(60),
                    has_value("while-down"),
                )
                .await?;
            anyhow::Ok(edited.elapsed())
        },
    );
    let ((_, reason, message), detected) =
        unreachable.context("the stopped cluster was not marked Unreachable within 30s")?;
    let synced = synced.context("the SelectorSyncSet change did not reach the running cluster")?;
    eprintln!(
        "stopped cluster: Unreachable=True {detected:?} after the stop began ({reason}: {message})"
    );
    eprintln!(
        "running cluster: the SelectorSyncSet change was on its spoke {synced:?} after the edit"
    );
    assert_eq!(
        reason, "ErrorConnectingToCluster",
        "Unreachable=True reason (message {message:?})"
    );
    assert!(!message.is_empty(), "Unreachable=True without a message");
    assert!(
        synced < Duration::from_secs(15),
        "the running cluster took {synced:?} (≥ 15 s) to get a SelectorSyncSet change while another cluster was stopped"
    );
    let (entry, status) = dead.current_entry(sss).await?;
    assert!(
        !entry.as_ref().is_some_and(succeeded_at(g2)),
        "the stopped cluster has a Success entry for generation {g2}:\n{status}"
    );

    let starting = Instant::now();
    stopped.start()?;
    let up = Instant::now();
    eprintln!("hack/local-clusters.sh start took {:?}", up - starting);
    let (_, reason, message) = dead
        .wait_condition("Unreachable", "False", Duration::from_secs(30))
        .await
        .context("the restarted cluster was not marked reachable within 30s")?;
    let reachable_after = up.elapsed();
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("ClusterReachable", "cluster is reachable"),
        "Unreachable=False reason and message"
    );
    dead.entry_within(
        sss,
        remaining(Duration::from_secs(30), up),
        succeeded_at(g2),
    )
    .await
    .context(
        "the change made while the cluster was stopped was not applied within 30s of its start",
    )?;
    dead.spoke()
        .wait_configmap_where(
            spoke_ns,
            "pending",
            "at value while-down",
            remaining(Duration::from_secs(30), up),
            has_value("while-down"),
        )
        .await?;
    eprintln!(
        "restarted cluster: Unreachable=False {reachable_after:?} and the pending change on its spoke {:?} after it started",
        up.elapsed()
    );
    Ok(())
}

/// A managed cluster's API server frozen with SIGSTOP until dropped (SIGCONT): it accepts connections (the kernel does)
/// and answers nothing, the way a hung node or a blackholed network behaves, unlike a stopped one that refuses.
struct Frozen {
    pid: String,
}

impl Frozen {
    fn freeze(spoke: &Spoke) -> Result<Self> {
        let pid_file = spoke
            .kubeconfig
            .parent()
            .context("the kubeconfig's directory")?
            .join(format!("pids/{}-apiserver.pid", spoke.local_name()));
        let pid = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {}", pid_file.display()))?
            .trim()
            .to_string();
        let out = std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .output()?;
        ensure!(out.status.success(), "kill -STOP {pid} failed");
        Ok(Self { pid })
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.pid])
            .output();
    }
}

#[tokio::test]
async fn a_frozen_managed_cluster_is_unreachable_others_sync_meanwhile_and_it_catches_up_when_it_thaws(
) -> Result<()> {
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let fixture = DisruptableAndAlive::arrange(&fleet, "e2e-frozen").await?;
    let (frozen, alive, sss) = (&fixture.disrupted, &fixture.alive, &fixture.sss);
    let spec = |value: &str| fixture.spec(None, "pending", value);
    let g1 = sss.apply(spec("before")).await?;
    for c in [frozen, alive] {
        c.entry(sss, succeeded_at(g1)).await?;
    }

    let ice = Frozen::freeze(frozen.spoke())?;
    let froze = Instant::now();
    let g2 = sss.apply(spec("while-frozen")).await?;
    let (unreachable, synced) = tokio::join!(
        async {
            let c = frozen
                .wait_condition("Unreachable", "True", Duration::from_secs(60))
                .await?;
            anyhow::Ok((c, froze.elapsed()))
        },
        async {
            alive
                .entry_within(sss, Duration::from_secs(60), succeeded_at(g2))
                .await?;
            anyhow::Ok(froze.elapsed())
        },
    );
    let ((_, reason, message), detected) =
        unreachable.context("the frozen cluster was not marked Unreachable within 60s")?;
    let synced = synced.context("the change did not reach the running cluster")?;
    eprintln!(
        "frozen cluster: Unreachable=True {detected:?} after the freeze ({reason}: {message})"
    );
    eprintln!("running cluster: the change was applied {synced:?} after the freeze");
    ensure!(
        synced < Duration::from_secs(15),
        "the running cluster took {synced:?} (≥ 15 s) while another cluster was frozen"
    );

    drop(ice);
    let thawed = Instant::now();
    frozen
        .wait_condition("Unreachable", "False", Duration::from_secs(60))
        .await
        .context("the thawed cluster was not marked reachable")?;
    frozen
        .entry_within(sss, Duration::from_secs(60), succeeded_at(g2))
        .await
        .context("the change made while the cluster was frozen was not applied after it thawed")?;
    eprintln!(
        "thawed cluster: caught up {:?} after SIGCONT",
        thawed.elapsed()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------- apiURLOverride

#[tokio::test]
async fn an_api_url_override_on_a_closed_port_falls_back_to_the_kubeconfig_server_and_a_working_one_is_active(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let n = 2;
    let server = kubeconfig_server(&managed_kubeconfig(n));
    let closed = "https://127.0.0.1:1";
    let fallback = fleet
        .cluster("e2e-override-closed")
        .on(n)
        .spec(json!({"controlPlaneConfig": {"apiURLOverride": closed}}))
        .reachable()
        .await?;
    let active = fleet
        .cluster("e2e-override-open")
        .on(n)
        .spec(json!({"controlPlaneConfig": {"apiURLOverride": server}}))
        .reachable()
        .await?;

    // The override on a closed port: reachable through the kubeconfig's server, the override inactive with the raw
    // connection error.
    let (_, reason, message) = fallback
        .wait_condition("ActiveAPIURLOverride", "False", Duration::from_secs(60))
        .await?;
    eprintln!("override {closed}: ActiveAPIURLOverride=False {reason}: {message}");
    assert_eq!(
        reason, "ErrorConnectingToCluster",
        "ActiveAPIURLOverride=False reason"
    );
    let inactive_message = message;
    assert_eq!(
        fallback.condition("Unreachable").await?,
        Some((
            "False".to_string(),
            "ClusterReachable".to_string(),
            "cluster is reachable".to_string()
        )),
        "Unreachable with the override on a closed port and a working kubeconfig"
    );

    // The override at the working server: active.
    active
        .expect_condition(
            "ActiveAPIURLOverride",
            "True",
            ("ClusterReachable", "cluster is reachable"),
            Duration::from_secs(60),
        )
        .await
        .with_context(|| format!("the override at the working server {server}"))?;
    assert_eq!(
        active.condition("Unreachable").await?.map(|c| c.0),
        Some("False".to_string()),
        "Unreachable with a working override"
    );

    // Both conditions exist on both (they start as Unknown/Initialized; not asserted, it is over in milliseconds).
    for c in [&fallback, &active] {
        let cd = c.cd().await?;
        for t in ["Unreachable", "ActiveAPIURLOverride"] {
            ensure!(
                cd.condition(t).is_some(),
                "{}/{} has no {t} condition",
                c.ns(),
                c.name
            );
        }
    }

    // Syncing works through either URL.
    for (c, what) in [(&fallback, "the fallback"), (&active, "the override")] {
        let spoke_ns = c.spoke().namespace("e2e-override").await?;
        let ss = c.syncset("e2e-override");
        let g = ss
            .apply(json!({"resourceApplyMode": "Sync", "resources": [configmap(&spoke_ns.name, "through", json!({"value": "ok"}))]}))
            .await?;
        c.entry(&ss, succeeded_at(g))
            .await
            .with_context(|| format!("syncing through {what}"))?;
        c.spoke()
            .wait_configmap_where(
                &spoke_ns.name,
                "through",
                "synced",
                ENTRY_TIMEOUT,
                has_value("ok"),
            )
            .await?;
    }

    // Last, so that everything above is checked whatever the message: Hive writes the raw error, which names the
    // cause (Go: `Get "https://127.0.0.1:1/api?timeout=32s": dial tcp 127.0.0.1:1: connect: connection refused`).
    assert!(
        inactive_message
            .to_ascii_lowercase()
            .contains("connection refused"),
        "ActiveAPIURLOverride=False should carry the raw connection error, which says the connection was refused; \
         got {inactive_message:?}"
    );
    Ok(())
}
