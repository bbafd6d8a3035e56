//! The controller-restart tests, the `e2e-restart` test target (issue 16): tests that start, kill and restart
//! controllers of their own, so no shared controller may run against the hub while they do. `hack/e2e.sh` runs this
//! target after the `e2e` target (its phase 2), with the shared controller stopped, one test at a time and with
//! `HIVESYNC_E2E_OWN_CONTROLLER=1`; each test starts its own [`Controller`]s (the same binary, identity and flags as
//! the shared one). Run directly (`cargo test --features e2e --test e2e-restart`), they fail and say so
//! ([`require_own_controller`]).
//!
//! What they check: a controller killed between an edit and the delete it causes, a hub API server restart, a
//! restart that must not re-send what is already in sync, a SyncSet too deep to decode across a restart; and, in
//! operating it (issue 6), readiness and Hive's metric names, leader failover (SIGKILL and SIGTERM) and two shards.
//!
//! The support code is the `e2e` target's ([`support`], `e2e/support/`), compiled into this target as well.

// Shared with the `e2e` target (e2e/main.rs), which uses the parts this target does not.
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use hivesync::api::{SyncResourceReference, SyncSetResult};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

fn configmap_ref(namespace: &str, name: &str) -> SyncResourceReference {
    reference("v1", "ConfigMap", namespace, name)
}

fn sorted(mut refs: Vec<SyncResourceReference>) -> Vec<SyncResourceReference> {
    refs.sort();
    refs
}

// ------------------------------------------------------------------------------------------ controller restarts

#[tokio::test]
async fn restart_a_delete_due_when_the_controller_is_killed_happens_after_the_restart() -> Result<()>
{
    require_own_controller()?;
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let mut first = Controller::start_with_env(&[], &[("RUST_LOG", "info,hivesync=debug")]).await?;
    let cluster = fleet
        .cluster("e2e-restart-del")
        .on(DISRUPTABLE)
        .reachable()
        .await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-restart-del").await?;
    let ns = spoke_ns.name.as_str();
    let ss = cluster.syncset("e2e-restart-del");
    let spec = |names: &[&str]| {
        json!({
            "resourceApplyMode": "Sync",
            "resources": names.iter().map(|n| configmap(ns, n, json!({"value": n}))).collect::<Vec<_>>(),
        })
    };
    let g1 = ss.apply(spec(&["kept", "dropped"])).await?;
    let entry = cluster.entry(&ss, succeeded_at(g1)).await?;
    assert_eq!(
        sorted(entry.resources_to_delete.to_vec()),
        sorted(vec![
            configmap_ref(ns, "kept"),
            configmap_ref(ns, "dropped")
        ]),
        "resourcesToDelete after the first apply"
    );
    let configmaps = spoke.api::<ConfigMap>(ns);
    for name in ["kept", "dropped"] {
        ensure!(
            configmaps.get_opt(name).await?.is_some(),
            "spoke ConfigMap {ns}/{name} missing after the first apply"
        );
    }

    // The spoke stops, so the delete the edit causes cannot happen; the controller sees the edit and is killed.
    let stopped = spoke.stop()?;
    cluster
        .wait_condition("Unreachable", "True", Duration::from_secs(30))
        .await?;
    let gated = |c: &Controller| {
        c.log_lines(&cluster.name)
            .iter()
            .filter(|l| l.contains("not known to be reachable"))
            .count()
    };
    let before = gated(&first);
    let g2 = ss.apply(spec(&["kept"])).await?;
    // The edit queues the cluster; its reconcile stops at the gate (Unreachable=True), logged at debug level.
    wait_for(Duration::from_secs(15), Duration::from_millis(100), || {
        let seen = gated(&first);
        async move {
            ensure!(
                seen > before,
                "the controller has not reconciled the cluster since the edit"
            );
            Ok(())
        }
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (entry, status) = cluster.current_entry(&ss).await?;
    let entry =
        entry.with_context(|| format!("no entry for {} before the kill:\n{status}", ss.name))?;
    assert_eq!(
        (
            entry.observed_generation,
            sorted(entry.resources_to_delete.to_vec())
        ),
        (
            g1,
            sorted(vec![
                configmap_ref(ns, "kept"),
                configmap_ref(ns, "dropped")
            ])
        ),
        "before the kill, the entry still records generation {g1} and both ConfigMaps:\n{status}"
    );
    first.kill9()?;

    stopped.start()?;
    let up = Instant::now();
    let _second = Controller::start(&[]).await?;
    let entry = cluster
        .entry_within(&ss, Duration::from_secs(60), |e| {
            succeeded_at(g2)(e) && e.resources_to_delete == [configmap_ref(ns, "kept")]
        })
        .await
        .context("after the restart, the edit was not applied with `dropped` left out of resourcesToDelete")?;
    wait_for_gone(
        &configmaps,
        "dropped",
        &format!("spoke ConfigMap {ns}/dropped"),
        Duration::from_secs(30),
    )
    .await?;
    eprintln!(
        "the dropped ConfigMap was deleted {:?} after the spoke started (entry: {:?})",
        up.elapsed(),
        entry.resources_to_delete
    );
    ensure!(
        configmaps.get_opt("kept").await?.is_some(),
        "spoke ConfigMap {ns}/kept was deleted too"
    );
    Ok(())
}

#[tokio::test]
async fn restart_the_controller_rides_out_a_hub_api_server_restart_and_syncs_after_it() -> Result<()>
{
    require_own_controller()?;
    let _serial = serial().await;
    let mut controller = Controller::start(&[]).await?;
    let pid = controller.pid();
    let cluster = Fleet::connect()
        .await?
        .cluster("e2e-hub-restart")
        .reachable()
        .await?;
    let spoke_ns = cluster.spoke().namespace("e2e-hub-restart").await?;

    // Dropping the guard (a failed assertion below) starts the hub again.
    let stopped = stop_local_cluster(&local_cluster_name(&hub_kubeconfig()))?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    ensure!(
        controller.is_running(),
        "the controller exited while the hub was down:\n{}",
        controller.output()
    );
    stopped.start()?;
    let up = Instant::now();

    // A client made after the restart, as a user's would be; the cluster's handle keeps the one made before.
    let fleet = Fleet::connect().await?;
    let ss = fleet.syncset(
        cluster.ns(),
        &unique_name("e2e-hub-restart"),
        &[&cluster.name],
    );
    let g = ss
        .apply(json!({"resources": [configmap(&spoke_ns.name, "after-hub-restart", json!({"value": "ok"}))]}))
        .await?;
    cluster
        .entry_within(&ss, Duration::from_secs(90), succeeded_at(g))
        .await
        .context("a SyncSet created after the hub restart was not applied within 90s")?;
    cluster
        .spoke()
        .wait_configmap_where(
            &spoke_ns.name,
            "after-hub-restart",
            "synced",
            Duration::from_secs(30),
            has_value("ok"),
        )
        .await?;
    eprintln!(
        "a SyncSet created after the hub restart was applied {:?} after the hub was up again ({} hub watch errors logged)",
        up.elapsed(),
        controller.log_lines("hub watch error").len()
    );
    ensure!(
        controller.is_running() && controller.pid() == pid,
        "the controller (pid {pid}) is not the one still running:\n{}",
        controller.output()
    );
    Ok(())
}

#[tokio::test]
async fn restart_a_restarted_controller_does_not_resend_unchanged_syncsets() -> Result<()> {
    require_own_controller()?;
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let mut first = Controller::start(&[]).await?;
    let cluster = fleet.cluster("e2e-no-resend").reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-no-resend").await?;
    let ns = spoke_ns.name.as_str();
    let ss = cluster.syncset("e2e-no-resend");
    let g = ss
        .apply(json!({"resourceApplyMode": "Sync", "resources": [configmap(ns, "steady", json!({"value": "ok"}))]}))
        .await?;
    cluster.entry(&ss, succeeded_at(g)).await?;
    spoke
        .wait_configmap_where(ns, "steady", "synced", ENTRY_TIMEOUT, has_value("ok"))
        .await?;
    // Let the first controller finish its writes (lease, SyncSetFailed) before taking the snapshot.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let configmaps = spoke.api::<ConfigMap>(ns);
    let snapshot = || async {
        let cm = configmaps.get("steady").await?;
        let cs = cluster.cluster_sync().await?.context("no ClusterSync")?;
        let cd = cluster.cd().await?;
        anyhow::Ok((cm, cs, cd))
    };
    let (cm_before, cs_before, cd_before) = snapshot().await?;
    let entry_before = cs_before
        .status
        .as_ref()
        .and_then(|s| s.sync_sets.iter().find(|e| e.name == ss.name).cloned())
        .context("no entry before the restart")?;

    first.kill9()?;
    let second = Controller::start(&[]).await?;
    // The new controller lists every ClusterDeployment and reconciles each at start; its probe runs every 2 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (cm_after, cs_after, cd_after) = snapshot().await?;
    assert_eq!(
        (cm_after.metadata.resource_version.as_deref(), cm_after.metadata.managed_fields.as_ref().map(|m| m.iter().map(|f| f.time.clone()).collect::<Vec<_>>())),
        (cm_before.metadata.resource_version.as_deref(), cm_before.metadata.managed_fields.as_ref().map(|m| m.iter().map(|f| f.time.clone()).collect::<Vec<_>>())),
        "the restarted controller re-sent an unchanged syncset: the spoke ConfigMap's resourceVersion or managedFields \
         times changed"
    );
    assert_eq!(
        cs_after.metadata.resource_version,
        cs_before.metadata.resource_version,
        "the restarted controller rewrote the ClusterSync:\nbefore:\n{}\nafter:\n{}",
        describe_cluster_sync(Some(&cs_before)),
        describe_cluster_sync(Some(&cs_after))
    );
    assert_eq!(
        cd_after.metadata.resource_version,
        cd_before.metadata.resource_version,
        "the restarted controller rewrote the ClusterDeployment:\nbefore: {:?}\nafter: {:?}",
        cd_before.status.map(|s| s.conditions),
        cd_after.status.map(|s| s.conditions)
    );

    // Proof that the new controller has reconciled this cluster since: a second SyncSet arrives, and the first one's
    // entry and object are untouched by that reconcile.
    let other = cluster.syncset("e2e-no-resend-2");
    let g_other = other
        .apply(json!({"resources": [configmap(ns, "newcomer", json!({"value": "ok"}))]}))
        .await?;
    cluster.entry(&other, succeeded_at(g_other)).await?;
    let (entry_after, status) = cluster.current_entry(&ss).await?;
    assert_eq!(
        entry_after.as_ref(),
        Some(&entry_before),
        "the unchanged SyncSet's entry changed when the new controller synced the cluster:\n{status}"
    );
    assert_eq!(
        configmaps.get("steady").await?.metadata.resource_version,
        cm_before.metadata.resource_version,
        "the new controller re-applied the unchanged SyncSet when it synced the cluster"
    );
    eprintln!(
        "after the restart: spoke ConfigMap resourceVersion {:?}, ClusterSync resourceVersion {:?} unchanged; the new \
         controller's log lines about the cluster: {}",
        cm_before.metadata.resource_version,
        cs_before.metadata.resource_version,
        second.log_lines(&cluster.name).len()
    );
    Ok(())
}

// --------------------------------------------------------------------------------------- operating it (issue 6)

/// A free loopback port for a controller's metrics endpoint.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A plain HTTP/1.1 GET: (status, body).
fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status line")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[tokio::test]
async fn restart_readyz_waits_for_the_hub_caches_and_metrics_carry_hive_s_names_after_a_sync(
) -> Result<()> {
    require_own_controller()?;
    let _serial = serial().await;
    let port = free_port()?;
    let address = format!("127.0.0.1:{port}");
    // The hub is down when the controller starts: it is alive (/healthz) but not ready (/readyz).
    let stopped = stop_local_cluster(&local_cluster_name(&hub_kubeconfig()))?;
    let controller = Controller::start_without_waiting(&[
        "--metrics-address",
        &address,
        // Hive's opt-in metric, every failing ClusterSync at once.
        "--clustersync-failing-min-duration",
        "0s",
    ])?;
    let healthz = wait_for(
        Duration::from_secs(20),
        Duration::from_millis(200),
        || async {
            let r = http_get(port, "/healthz")?;
            ensure!(r.0 == 200, "/healthz answered {}", r.0);
            Ok(r)
        },
    )
    .await
    .context("/healthz never answered while the hub was down")?;
    ensure!(healthz.0 == 200);
    let (ready, _) = http_get(port, "/readyz")?;
    ensure!(
        ready == 503,
        "/readyz answered {ready} before the hub caches could sync"
    );
    stopped.start()?;
    wait_for(
        Duration::from_secs(90),
        Duration::from_millis(250),
        || async {
            let r = http_get(port, "/readyz")?;
            ensure!(r.0 == 200, "/readyz answered {}", r.0);
            Ok(r)
        },
    )
    .await
    .context("/readyz did not turn ready after the hub came back")?;

    let cluster = Fleet::connect()
        .await?
        .cluster("e2e-metrics")
        .reachable()
        .await?;
    let spoke_ns = cluster.spoke().namespace("e2e-metrics").await?;
    let ss = cluster.syncset("e2e-metrics");
    let g = ss
        .apply(json!({"resources": [configmap(&spoke_ns.name, "measured", json!({"k": "v"}))]}))
        .await?;
    cluster
        .entry_within(&ss, Duration::from_secs(60), succeeded_at(g))
        .await?;
    // A second SyncSet that fails (its namespace does not exist) makes the ClusterSync fail.
    let failing = cluster.syncset("e2e-metrics-failing");
    failing
        .apply(json!({"resources": [configmap("e2e-no-such-namespace", "x", json!({}))]}))
        .await?;
    cluster
        .entry_within(&failing, Duration::from_secs(60), |e| {
            e.result == hivesync::api::SyncSetResult::Failure
        })
        .await?;
    let failing_series = format!(
        "hive_clustersync_failing_seconds{{namespaced_name=\"{}/{}\",unreachable=\"False\"}}",
        cluster.ns(),
        cluster.name
    );
    let series = &failing_series;
    let metrics = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async move {
            let (status, metrics) = http_get(port, "/metrics")?;
            ensure!(status == 200);
            ensure!(metrics.contains(series.as_str()), "/metrics lacks {series}");
            Ok(metrics)
        },
    )
    .await?;
    for expected in [
        "hive_syncsetinstance_resources_applied_total{result=\"success\",type=\"apply\"}",
        "hive_syncsetinstance_apply_duration_seconds_bucket{result=\"success\",type=\"apply\",le=\"0.5\"}",
        "hive_controller_reconcile_seconds_count{controller=\"clustersync\",outcome=\"full-sync\"}",
        "hive_syncset_apply_duration_seconds_count{group=\"none\"}",
        "remote=\"true\",resource=\"core/v1/configmaps\",status=\"201 Created\"}",
        "hive_kube_client_requests_total{controller=\"clustersync\",method=\"PUT\",remote=\"false\",resource=\"hiveinternal.openshift.io/v1alpha1/clustersyncs\"",
        "hive_syncsets_total ",
        "hivesync_clusters{reachability=\"reachable\"}",
        "hivesync_queue_depth ",
        "hivesync_objects{health=\"Healthy\"}",
    ] {
        // A labelled family prints only once it has a series (the per-SelectorSyncSet gauges need a
        // SelectorSyncSet entry somewhere, which this test does not make); unlabelled gauges print from the start.
        ensure!(metrics.contains(expected), "/metrics lacks {expected}");
    }
    drop(controller);
    Ok(())
}

/// Two controllers with `--leader-elect` on a fresh Lease (`prefix`, `lease_duration`), once exactly one of them leads:
/// (leader, standby).
async fn two_replicas(prefix: &str, lease_duration: &str) -> Result<(Controller, Controller)> {
    let lease = unique_name(prefix);
    let start = |id: String| {
        let lease = lease.clone();
        async move {
            let args = [
                "--leader-elect",
                "--lease-duration",
                lease_duration,
                "--identity",
                &id,
                "--lease-name",
                &lease,
            ];
            Controller::start_with_own_log(&args, &id).await
        }
    };
    let a = start(format!("{prefix}-a")).await?;
    let b = start(format!("{prefix}-b")).await?;
    let a_leads = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            match (
                a.log_lines("became the leader").len(),
                b.log_lines("became the leader").len(),
            ) {
                (1, 0) => Ok(true),
                (0, 1) => Ok(false),
                other => bail!("leaders so far: {other:?}"),
            }
        },
    )
    .await
    .context("exactly one replica should lead")?;
    Ok(if a_leads { (a, b) } else { (b, a) })
}

#[tokio::test]
async fn restart_a_standby_takes_over_when_the_leader_dies_and_syncs_what_comes_next() -> Result<()>
{
    require_own_controller()?;
    let _serial = serial().await;
    let (mut dead, standby) = two_replicas("e2e-leader", "6s").await?;
    ensure!(standby.log_lines("became the leader").is_empty());

    let cluster = Fleet::connect()
        .await?
        .cluster("e2e-leader")
        .reachable()
        .await?;
    let spoke_ns = cluster.spoke().namespace("e2e-leader").await?;
    dead.kill9()?;
    let killed = Instant::now();
    let ss = cluster.syncset("e2e-leader");
    let g = ss
        .apply(
            json!({"resources": [configmap(&spoke_ns.name, "after-failover", json!({"k": "v"}))]}),
        )
        .await?;
    cluster
        .entry_within(&ss, Duration::from_secs(45), succeeded_at(g))
        .await
        .context("the standby did not apply a SyncSet created after the leader died")?;
    ensure!(
        standby.log_lines("became the leader").len() == 1,
        "the standby never took the lease"
    );
    eprintln!(
        "the standby applied the new SyncSet {:?} after the leader was killed (lease 6s)",
        killed.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn restart_sigterm_stops_the_leader_cleanly_and_releases_its_lease_so_a_standby_takes_over_at_once(
) -> Result<()> {
    require_own_controller()?;
    let _serial = serial().await;
    // A long lease: a standby that had to wait for it to expire would take 30 s; one that finds it released takes
    // at most one renewal period (10 s).
    let (mut stopping, standby) = two_replicas("e2e-term", "30s").await?;
    let signalled = Instant::now();
    let status = stopping.terminate(Duration::from_secs(15))?;
    let stopped_in = signalled.elapsed();
    ensure!(
        status.success(),
        "the controller exited with {status} after SIGTERM"
    );
    ensure!(
        !stopping.log_lines("released the lease").is_empty(),
        "the stopped controller did not release its lease:\n{}",
        stopping.output()
    );
    wait_for(
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            ensure!(
                !standby.log_lines("became the leader").is_empty(),
                "not yet"
            );
            Ok(())
        },
    )
    .await
    .context("the standby did not take the released lease")?;
    let took_over = signalled.elapsed();
    ensure!(
        took_over < Duration::from_secs(25),
        "the standby took over after {took_over:?}: as slow as waiting for the 30 s lease to expire"
    );
    eprintln!("SIGTERM: the leader exited in {stopped_in:?}; the standby led {took_over:?} after the signal (lease 30s)");
    Ok(())
}

/// A SyncSet nested deeper than a JSON decoder's default limit (the API server accepts 10 000 levels; serde_json
/// stops at 128): it fails alone with a clear message, the hub caches still sync, and so after a restart.
#[tokio::test]
async fn restart_a_syncset_too_deep_to_decode_fails_alone_and_the_controller_still_starts_and_syncs(
) -> Result<()> {
    require_own_controller()?;
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let mut first = Controller::start(&[]).await?;
    let cluster = fleet.cluster("e2e-poison").reachable().await?;
    let spoke_ns = cluster.spoke().namespace("e2e-poison").await?;
    let mut deep = json!("bottom");
    for _ in 0..200 {
        deep = json!({ "d": deep });
    }
    let (bad, good) = (
        cluster.syncset("e2e-poison"),
        cluster.syncset("e2e-healthy"),
    );
    let mut poisoned = configmap(&spoke_ns.name, "poison", json!({"a": "b"}));
    poisoned["deep"] = deep;
    let object = bad.object(json!({ "resources": [poisoned] }));
    // kubectl, not kube-rs: a Rust client cannot read the object back either.
    let out = kubectl_with_stdin(&hub_kubeconfig(), ["apply", "-f", "-"], &object.to_string());
    ensure!(
        out.status.success(),
        "creating the deep SyncSet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _bad_guard =
        DeleteOnDrop::on_hub("syncset.hive.openshift.io", Some(cluster.ns()), &bad.name);
    let spec =
        |v: &str| json!({"resources": [configmap(&spoke_ns.name, "healthy", json!({"v": v}))]});
    let g1 = good.apply(spec("1")).await?;
    cluster.entry(&good, succeeded_at(g1)).await?;
    let failed = cluster.entry(&bad, is_failure).await?;
    let message = failed.failure_message.unwrap_or_default();
    ensure!(
        message.starts_with("could not decode the SyncSet: "),
        "the deep SyncSet's message: {message:?}"
    );

    first.kill9()?;
    let restarted = Instant::now();
    let _second = Controller::start(&[])
        .await
        .context("the controller did not start with the deep SyncSet on the hub")?;
    let ready = restarted.elapsed();
    let g2 = good.apply(spec("2")).await?;
    cluster.entry(&good, succeeded_at(g2)).await?;
    let (entry, status) = cluster.current_entry(&bad).await?;
    ensure!(
        entry.as_ref().is_some_and(is_failure),
        "the deep SyncSet's entry after the restart:\n{status}"
    );
    eprintln!("deep SyncSet: {message:?}; after a restart the caches synced in {ready:?} and the other SyncSet applied");
    Ok(())
}

#[tokio::test]
async fn restart_two_shards_each_write_only_their_own_clusters() -> Result<()> {
    require_own_controller()?;
    let _serial = serial().await;
    let lease = unique_name("e2e-shards");
    let mut replicas = Vec::new();
    for id in ["e2e-shard-0", "e2e-shard-1"] {
        replicas.push(
            Controller::start_with_own_log(
                &[
                    "--shards",
                    "2",
                    "--lease-duration",
                    "6s",
                    "--identity",
                    id,
                    "--lease-name",
                    &lease,
                ],
                id,
            )
            .await?,
        );
    }
    // Whichever replica started first may stand in for the other's shard until it asks for it back; wait until
    // each serves exactly its own shard before registering clusters.
    wait_for(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            for (i, r) in replicas.iter().enumerate() {
                let other = 1 - i;
                let own = r.log_lines(&format!("serving shard shard={i}")).len();
                let gained = r
                    .log_lines(&format!(
                        "INFO hivesync::leader: serving shard shard={other}"
                    ))
                    .len();
                let lost = r
                    .log_lines(&format!("no longer serving shard shard={other}"))
                    .len();
                ensure!(
                    own >= 1 && gained == lost,
                    "replica {i} does not serve exactly its own shard yet"
                );
            }
            Ok(())
        },
    )
    .await?;
    let fleet = Fleet::connect().await?;
    let group = Group::new("hivesync.e2e/shards");
    let mut clusters = Vec::new();
    for i in 0..4 {
        clusters.push(
            fleet
                .cluster("e2e-shards")
                .on(1 + i % 2)
                .in_group(&group)
                .reachable()
                .await?,
        );
    }
    // One ConfigMap (in `default`, named after the SelectorSyncSet) for every cluster in the group.
    let sss = fleet.selector_syncset("e2e-shards").selecting(&group);
    sss.apply(json!({
        "resourceApplyMode": "Sync",
        "resources": [configmap("default", &sss.name, json!({"k": "v"}))],
    }))
    .await?;
    for c in &clusters {
        c.entry_within(&sss, Duration::from_secs(60), |e| {
            e.result == SyncSetResult::Success
        })
        .await?;
        let cd = c.cd().await?;
        let shard = hivesync::leader::shard_of(cd.metadata.uid.as_deref().unwrap_or_default(), 2);
        let written = c
            .cluster_sync()
            .await?
            .and_then(|cs| cs.status)
            .and_then(|s| s.controlled_by_replica);
        ensure!(
            written == Some(i64::from(shard)),
            "{}: controlledByReplica {written:?}, shard {shard}",
            c.name
        );
        let other = &replicas[1 - shard as usize];
        let foreign: Vec<String> = other
            .log_lines(&format!("name={}", c.name))
            .into_iter()
            .filter(|l| l.contains("full re-apply done") || l.contains("applying"))
            .collect();
        ensure!(
            foreign.is_empty(),
            "the other shard's replica synced {}: {foreign:?}",
            c.name
        );
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------ rollout

/// A controller killed (SIGKILL) while a rollout soaks its canary step resumes that step: the clusters of the next
/// step are not reached by the new controller, the Rollout still says step 1, and a promote then carries on.
#[tokio::test]
async fn restart_a_rollout_killed_mid_step_resumes_the_same_step() -> Result<()> {
    use hivesync::api::rollout::{Rollout, SyncSetRef};
    use kube::api::{Api, Patch, PatchParams};
    require_own_controller()?;
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let mut first = Controller::start(&[]).await?;
    let group = Group::new("e2e-rollout-restart");
    let canary = fleet
        .cluster("e2e-rollout-restart")
        .on(1)
        .in_group(&group)
        .labels(&[("canary", "true")])
        .reachable()
        .await?;
    let rest = fleet
        .cluster("e2e-rollout-restart")
        .on(2)
        .in_group(&group)
        .reachable()
        .await?;
    let strategy = unique_name("e2e-restart-canary");
    let strategies: Api<hivesync::api::RolloutStrategy> = Api::all(fleet.hub.clone());
    strategies
        .patch(
            &strategy,
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(json!({
                "apiVersion": "hivesync.io/v1alpha1", "kind": "RolloutStrategy", "metadata": {"name": strategy},
                // An hour's soak: the rollout stays at its first step unless promoted.
                "spec": {"steps": [{"clusterSelector": {"matchLabels": {"canary": "true"}}}, {}],
                         "minHealthyDuration": "1h", "progressDeadline": "2h"},
            })),
        )
        .await?;
    let sss = fleet
        .selector_syncset("e2e-rollout-restart")
        .selecting(&group);
    let mut obj = sss.object(json!({"resources": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": sss.name, "namespace": "default"},
         "data": {"value": "1"}}]}));
    obj["metadata"]["annotations"] = json!({"hivesync.io/rollout-strategy": strategy});
    let g = sss.apply_object(&obj).await?;
    canary.entry(&sss, succeeded_at(g)).await?;
    let rollouts: Api<Rollout> = Api::all(fleet.hub.clone());
    let name = Rollout::name_for(&SyncSetRef {
        kind: "SelectorSyncSet".into(),
        namespace: String::new(),
        name: sss.name.clone(),
    });
    let step = || async {
        let r = rollouts.get(&name).await?;
        let st = r.status.unwrap_or_default();
        anyhow::Ok((st.phase, st.step))
    };
    wait_for(ENTRY_TIMEOUT, Duration::from_millis(250), || async {
        let (phase, step) = step().await?;
        ensure!(phase == "Progressing" && step == 0, "{phase} step {step}");
        Ok(())
    })
    .await?;

    first.kill9()?;
    let second = Controller::start(&[]).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    ensure!(
        rest.current_entry(&sss).await?.0.is_none(),
        "the restarted controller reached a cluster of the next step"
    );
    ensure!(step().await? == ("Progressing".to_string(), 0));
    // The same rollout carries on from there.
    let out = hivesync(&[
        "rollout",
        "promote",
        &format!("selectorsyncset/{}", sss.name),
    ]);
    ensure!(out.status.success(), "{}", out.describe());
    rest.entry(&sss, succeeded_at(g)).await?;
    drop(second);
    let _ = strategies.delete(&strategy, &Default::default()).await;
    Ok(())
}
