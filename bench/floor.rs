//! `hivesync-floor`: the benchmark's physical floor and its probes (`make bench`, hack/bench.sh).
//!
//! - `apply`: a bare server-side-apply loop with kube-rs, no controller logic: N virtual clusters (cluster i talks to
//!   spoke `(i-1) % S` through its own client built exactly as the controller builds a spoke client), `--concurrency`
//!   clusters in flight, each cluster's requests in sequence: its Namespace then its ConfigMaps, field manager
//!   `hivesync`, force. The same objects the bench SelectorSyncSet makes hivesync send, in another namespace prefix.
//! - `watch`: watches ConfigMaps with a label selector on the spokes and records, per object, when it was first seen
//!   with the expected `data.value`; exits when the expected count is reached. The fan-out timeline of both the floor
//!   and hivesync is taken from this, so both are measured the same way.
//! - `unreachable`: watches ClusterDeployments on the hub and records, per CD, when `Unreachable=True` is first
//!   seen; exits when the expected count is reached (scenario 6's detection time, without polling the hub).
//! - `latency`: labels one ClusterDeployment on the hub and times until the object the label selects appears on its
//!   spoke (watch event), then removes the label and times the deletion; repeated.
//! - `osd-payload`: an OpenShift Template's SelectorSyncSets, parameters substituted, for scenario 4 when
//!   `BENCH_S4_TEMPLATE` names one (by default scenario 4 generates its payload: bench/osd_payload.py).
//!
//! Everything prints JSON (to `--out`). Timestamps are Unix seconds (f64).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use futures::{StreamExt, TryStreamExt};
use hivesync::api::ClusterDeployment;
use hivesync::consts::{FIELD_MANAGER, MANAGED_LABEL};
use hivesync::plan::conditions::UNREACHABLE;
use hivesync::remote::kubeconfig::{client_config, Timeouts};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use serde_json::{json, Value};
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(
    name = "hivesync-floor",
    about = "The benchmark's bare apply loop and probes"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The floor: the bench fan-out's server-side applies, no controller logic.
    Apply {
        /// Spoke kubeconfigs; virtual cluster i (1-based) uses spoke (i-1) % len.
        #[arg(long = "kubeconfig", required = true)]
        kubeconfigs: Vec<PathBuf>,
        #[arg(long, default_value_t = 1000)]
        n: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// ConfigMaps per cluster (plus one Namespace).
        #[arg(long, default_value_t = 10)]
        objects: usize,
        /// Per cluster: Namespace `<prefix><i>`, ConfigMaps `<prefix><i>-<k>` in --cm-namespace.
        #[arg(long, default_value = "floor-")]
        ns_prefix: String,
        #[arg(long, default_value = "floor-cms")]
        cm_namespace: String,
        /// Value of the `bench/set` label (what `watch --selector` looks for).
        #[arg(long, default_value = "floor")]
        set: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Records when each selected ConfigMap is first seen with `data.value` = --value.
    Watch {
        #[arg(long = "kubeconfig", required = true)]
        kubeconfigs: Vec<PathBuf>,
        #[arg(long)]
        selector: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        expect: usize,
        /// Give up after this many seconds (the result says complete: false).
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
        /// Created once every watch has listed (the caller waits for it before acting).
        #[arg(long)]
        ready_file: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Records when each selected ClusterDeployment is first seen with `Unreachable=True`.
    Unreachable {
        #[arg(long)]
        hub: PathBuf,
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        selector: String,
        #[arg(long)]
        expect: usize,
        /// Give up after this many seconds (the result says complete: false).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Created once the watch has listed (the caller waits for it before acting).
        #[arg(long)]
        ready_file: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Label → object-on-spoke latency, repeated.
    Latency {
        #[arg(long)]
        hub: PathBuf,
        #[arg(long = "kubeconfig", required = true)]
        kubeconfigs: Vec<PathBuf>,
        /// `namespace/name=ID`, the CDs to label in turn (ID: their `bench-id`, the object is `lat-ID`).
        #[arg(long = "cd", required = true)]
        cds: Vec<String>,
        #[arg(long, default_value_t = 50)]
        reps: usize,
        #[arg(long, default_value = "bench/latency")]
        label: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// An OpenShift Template's SelectorSyncSets (such as OSD's production template in openshift/managed-cluster-config),
    /// parameters substituted, as a JSON v1 List for `kubectl create`.
    OsdPayload {
        #[arg(long)]
        template: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A spoke client built the way the controller builds one (same timeouts, no retries).
async fn spoke_client(path: &PathBuf) -> Result<Client> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let config = client_config(Some(&bytes), None, Timeouts::default())
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(Client::try_from(config)?)
}

async fn file_client(path: &PathBuf) -> Result<Client> {
    let kc = Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

fn write_json(path: &PathBuf, v: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(v)?)
        .with_context(|| format!("writing {}", path.display()))
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = run(Cli::parse().cmd).await;
    if let Err(e) = &result {
        eprintln!("hivesync-floor: {e:#}");
    }
    // Exit without waiting for the spoke watch tasks to wind down.
    std::process::exit(i32::from(result.is_err()));
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Apply {
            kubeconfigs,
            n,
            concurrency,
            objects,
            ns_prefix,
            cm_namespace,
            set,
            value,
            out,
        } => {
            apply(
                &kubeconfigs,
                n,
                concurrency,
                objects,
                (&ns_prefix, &cm_namespace),
                &set,
                &value,
                &out,
            )
            .await
        }
        Cmd::Watch {
            kubeconfigs,
            selector,
            value,
            expect,
            timeout,
            ready_file,
            out,
        } => {
            watch(
                &kubeconfigs,
                &selector,
                &value,
                expect,
                timeout,
                &ready_file,
                &out,
            )
            .await
        }
        Cmd::Unreachable {
            hub,
            namespace,
            selector,
            expect,
            timeout,
            ready_file,
            out,
        } => {
            unreachable(
                &hub,
                (&namespace, &selector),
                expect,
                timeout,
                &ready_file,
                &out,
            )
            .await
        }
        Cmd::Latency {
            hub,
            kubeconfigs,
            cds,
            reps,
            label,
            out,
        } => latency(&hub, &kubeconfigs, &cds, reps, &label, &out).await,
        Cmd::OsdPayload { template, out } => osd_payload(&template, &out),
    }
}

// ------------------------------------------------------------------------------------------------------------ apply

#[allow(clippy::too_many_arguments)]
async fn apply(
    kubeconfigs: &[PathBuf],
    n: usize,
    concurrency: usize,
    objects: usize,
    (ns_prefix, cm_namespace): (&str, &str),
    set: &str,
    value: &str,
    out: &PathBuf,
) -> Result<()> {
    // One client per virtual cluster, as the controller keeps one per ClusterDeployment, warmed (connection and TLS
    // up) as the controller's reachability probe leaves them before a fan-out.
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        clients.push(spoke_client(&kubeconfigs[i % kubeconfigs.len()]).await?);
    }
    futures::stream::iter(clients.iter())
        .map(|c| async move { c.apiserver_version().await })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<_>>()
        .await
        .context("warming the clients")?;

    let ns_ar = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"));
    let cm_ar = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let timeouts = Timeouts::default();
    let labels = json!({ "bench/set": set, MANAGED_LABEL: "true" });

    let start = now();
    let t0 = Instant::now();
    let results: Vec<(usize, f64, usize, Vec<f64>)> = futures::stream::iter(1..=n)
        .map(|i| {
            let client = clients[i - 1].clone();
            let (ns_ar, cm_ar, params, labels) = (&ns_ar, &cm_ar, &params, &labels);
            async move {
                let ns = format!("{ns_prefix}{i}");
                let mut errors = 0;
                let mut lat = Vec::with_capacity(objects + 1);
                let send = |api: Api<DynamicObject>, name: String, obj: Value| {
                    let params = params.clone();
                    async move {
                        // A failed request is retried (up to 3 times), as the controller's requeue would.
                        let t = Instant::now();
                        let mut failed = 0;
                        loop {
                            let r = tokio::time::timeout(
                                timeouts.request,
                                api.patch(&name, &params, &Patch::Apply(&obj)),
                            )
                            .await;
                            match r {
                                Ok(Ok(_)) => break,
                                Ok(Err(e)) => eprintln!("floor: {name}: {e}"),
                                Err(_) => eprintln!("floor: {name}: timed out"),
                            }
                            failed += 1;
                            if failed > 3 {
                                break;
                            }
                        }
                        (t.elapsed().as_secs_f64(), failed)
                    }
                };
                let nsobj = json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "labels": labels}});
                let (l, failed) =
                    send(Api::all_with(client.clone(), ns_ar), ns.clone(), nsobj).await;
                lat.push(l);
                errors += failed;
                for k in 0..objects {
                    let name = format!("{ns}-{k}");
                    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": cm_namespace, "labels": labels},
                        "data": {"value": value}});
                    let api = Api::namespaced_with(client.clone(), cm_namespace, cm_ar);
                    let (l, failed) = send(api, name, cm).await;
                    lat.push(l);
                    errors += failed;
                }
                (i, t0.elapsed().as_secs_f64(), errors, lat)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let elapsed = t0.elapsed().as_secs_f64();
    let errors: usize = results.iter().map(|r| r.2).sum();
    let mut lat: Vec<f64> = results.iter().flat_map(|r| r.3.iter().copied()).collect();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
    };
    let mut done: Vec<f64> = results.iter().map(|r| r.1).collect();
    done.sort_by(f64::total_cmp);
    write_json(
        out,
        &json!({
            "start": start, "elapsed_s": elapsed, "clusters": n, "concurrency": concurrency,
            "requests": lat.len(), "errors": errors,
            "request_latency_s": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": lat.last()},
            "cluster_done_s": done,
        }),
    )?;
    eprintln!(
        "floor: {n} clusters, {} requests, {errors} errors, {elapsed:.2}s",
        lat.len()
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------ watch

async fn watch(
    kubeconfigs: &[PathBuf],
    selector: &str,
    value: &str,
    expect: usize,
    timeout: u64,
    ready_file: &PathBuf,
    out: &PathBuf,
) -> Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, String, f64)>();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<usize>();
    for (s, path) in kubeconfigs.iter().enumerate() {
        let client = spoke_client(path).await?;
        let api: Api<ConfigMap> = Api::all(client);
        let cfg = watcher::Config::default().labels(selector);
        let (tx, ready_tx, value) = (tx.clone(), ready_tx.clone(), value.to_string());
        tokio::spawn(async move {
            let mut stream = watcher(api, cfg).default_backoff().boxed();
            let mut listed = false;
            while let Some(ev) = stream.next().await {
                let t = now();
                let obj = match ev {
                    Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => o,
                    Ok(watcher::Event::InitDone) => {
                        if !listed {
                            listed = true;
                            let _ = ready_tx.send(s);
                        }
                        continue;
                    }
                    _ => continue,
                };
                let v = obj.data.as_ref().and_then(|d| d.get("value"));
                if v.map(String::as_str) == Some(value.as_str()) {
                    let key = format!(
                        "{}/{}",
                        obj.metadata.namespace.unwrap_or_default(),
                        obj.metadata.name.unwrap_or_default()
                    );
                    if tx.send((s, key, t)).is_err() {
                        return;
                    }
                }
            }
        });
    }
    drop(tx);
    for _ in 0..kubeconfigs.len() {
        tokio::time::timeout(Duration::from_secs(120), ready_rx.recv())
            .await
            .context("the spoke watches did not list within 120 s")?;
    }
    let ready_at = now();
    std::fs::write(ready_file, format!("{ready_at}\n"))?;
    let mut seen: HashMap<(usize, String), f64> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut already = 0;
    while seen.len() < expect {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((s, key, t))) => {
                let entry = seen.entry((s, key));
                if let std::collections::hash_map::Entry::Vacant(e) = entry {
                    if t <= ready_at {
                        already += 1;
                    }
                    e.insert(t);
                }
            }
            _ => break,
        }
    }
    let mut times: Vec<f64> = seen.values().copied().collect();
    times.sort_by(f64::total_cmp);
    let mut per_spoke = vec![0usize; kubeconfigs.len()];
    for (s, _) in seen.keys() {
        per_spoke[*s] += 1;
    }
    write_json(
        out,
        &json!({"ready_at": ready_at, "expected": expect, "count": seen.len(), "complete": seen.len() >= expect,
                "present_before_ready": already, "per_spoke": per_spoke, "times": times}),
    )?;
    eprintln!("watch: {}/{} objects seen", seen.len(), expect);
    Ok(())
}

// ------------------------------------------------------------------------------------------------------ unreachable

async fn unreachable(
    hub: &PathBuf,
    (namespace, selector): (&str, &str),
    expect: usize,
    timeout: u64,
    ready_file: &PathBuf,
    out: &PathBuf,
) -> Result<()> {
    let api: Api<ClusterDeployment> = Api::namespaced(file_client(hub).await?, namespace);
    let mut stream = watcher(api, watcher::Config::default().labels(selector))
        .default_backoff()
        .boxed();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut ready_at = None;
    let mut seen: HashMap<String, f64> = HashMap::new();
    while seen.len() < expect {
        let ev = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(ev)) => ev,
            _ => break,
        };
        let t = now();
        let cd = match ev {
            Ok(watcher::Event::Apply(cd)) | Ok(watcher::Event::InitApply(cd)) => cd,
            Ok(watcher::Event::InitDone) => {
                if ready_at.is_none() {
                    ready_at = Some(t);
                    std::fs::write(ready_file, format!("{t}\n"))?;
                }
                continue;
            }
            _ => continue,
        };
        let down = cd
            .condition(UNREACHABLE)
            .is_some_and(|c| c.status == "True");
        if down {
            seen.entry(cd.metadata.name.unwrap_or_default())
                .or_insert(t);
        }
    }
    let mut times: Vec<f64> = seen.values().copied().collect();
    times.sort_by(f64::total_cmp);
    write_json(
        out,
        &json!({"ready_at": ready_at, "expected": expect, "count": seen.len(), "complete": seen.len() >= expect,
                "times": times}),
    )?;
    eprintln!(
        "unreachable: {}/{} CDs seen Unreachable",
        seen.len(),
        expect
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------- latency

async fn latency(
    hub: &PathBuf,
    kubeconfigs: &[PathBuf],
    cds: &[String],
    reps: usize,
    label: &str,
    out: &PathBuf,
) -> Result<()> {
    let hub = file_client(hub).await?;
    let cd_ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "hive.openshift.io",
        "v1",
        "ClusterDeployment",
    ));
    // name → (applied?, instant seen)
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, bool, Instant)>();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
    for path in kubeconfigs {
        let api: Api<ConfigMap> = Api::namespaced(spoke_client(path).await?, "default");
        let cfg = watcher::Config::default().labels("bench/set=latency");
        let (tx, ready_tx) = (tx.clone(), ready_tx.clone());
        tokio::spawn(async move {
            let mut stream = watcher(api, cfg).default_backoff().boxed();
            while let Some(ev) = stream.next().await {
                let t = Instant::now();
                let (obj, applied) = match ev {
                    Ok(watcher::Event::Apply(o)) => (o, true),
                    Ok(watcher::Event::Delete(o)) => (o, false),
                    Ok(watcher::Event::InitDone) => {
                        let _ = ready_tx.send(());
                        continue;
                    }
                    _ => continue,
                };
                let _ = tx.send((obj.metadata.name.unwrap_or_default(), applied, t));
            }
        });
    }
    for _ in kubeconfigs {
        tokio::time::timeout(Duration::from_secs(120), ready_rx.recv())
            .await
            .context("the spoke watches did not list within 120 s")?;
    }
    let parsed: Vec<(String, String, String)> = cds
        .iter()
        .map(|c| {
            let (nn, id) = c.split_once('=').context("--cd namespace/name=ID")?;
            let (ns, name) = nn.split_once('/').context("--cd namespace/name=ID")?;
            Ok((ns.to_string(), name.to_string(), id.to_string()))
        })
        .collect::<Result<_>>()?;

    let mut add = Vec::new();
    let mut del = Vec::new();
    let mut patch_rtt = Vec::new();
    let mut failures = 0;
    for r in 0..reps {
        let (ns, name, id) = &parsed[r % parsed.len()];
        let api: Api<DynamicObject> = Api::namespaced_with(hub.clone(), ns, &cd_ar);
        let obj = format!("lat-{id}");
        let on = json!({"metadata": {"labels": {label: "on"}}});
        let off = json!({"metadata": {"labels": {label: null}}});
        while rx.try_recv().is_ok() {}
        let t0 = Instant::now();
        api.patch(name, &PatchParams::default(), &Patch::Merge(&on))
            .await?;
        patch_rtt.push(t0.elapsed().as_secs_f64());
        match wait_for(&mut rx, &obj, true).await {
            Some(t) => add.push(t.duration_since(t0).as_secs_f64()),
            None => failures += 1,
        }
        let t1 = Instant::now();
        api.patch(name, &PatchParams::default(), &Patch::Merge(&off))
            .await?;
        match wait_for(&mut rx, &obj, false).await {
            Some(t) => del.push(t.duration_since(t1).as_secs_f64()),
            None => failures += 1,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let summary = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let p = |q: f64| {
            s.get(((s.len() as f64 - 1.0) * q).round() as usize)
                .copied()
        };
        json!({"n": s.len(), "p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "max": s.last(), "min": s.first()})
    };
    let result = json!({
        "method": "merge-patch of the CD label on the hub (timer starts just before the request); end = the spoke's \
                   watch event for the object (kube-rs watcher, timestamped on receipt; resolution ~1 ms: the \
                   API server's watch fan-out plus this process's scheduling)",
        "add_s": summary(&add), "delete_s": summary(&del), "patch_rtt_s": summary(&patch_rtt),
        "failures": failures, "samples_add_s": add, "samples_delete_s": del,
    });
    write_json(out, &result)?;
    eprintln!("latency: {}", result["add_s"]);
    Ok(())
}

/// The instant the spoke watch reported `want` applied (or deleted), within 60 s.
async fn wait_for(
    rx: &mut mpsc::UnboundedReceiver<(String, bool, Instant)>,
    want: &str,
    applied: bool,
) -> Option<Instant> {
    let fut = async {
        while let Some((name, a, t)) = rx.recv().await {
            if name == want && a == applied {
                return Some(t);
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .ok()
        .flatten()
}

// ------------------------------------------------------------------------------------------------------ osd-payload

/// Values for OSD's production template's declared parameters (any value does; lists are comma-separated; a parameter
/// not listed here gets `bench`). `${{NAME}}` takes the raw (JSON) value, `${NAME}` the string; other `${...}` are
/// shell variables of embedded scripts and stay.
const OSD_PARAMETERS: &[(&str, &str)] = &[
    ("IMAGE_TAG", "bench"),
    ("REPO_NAME", "managed-cluster-config"),
    ("TELEMETER_SERVER_URL", "https://telemeter.bench.invalid"),
    ("OCM_BASE_URL", "https://api.bench.invalid"),
    ("CONSOLE_BASE_URL", "https://console.bench.invalid"),
    ("SREP_LEGAL_ENTITY_ID", "bench-legal-entity"),
    ("LOG_LINKING_ENTITY_IDS", "bench-entity-1,bench-entity-2"),
    ("ALLOWED_CIDR_BLOCKS", "10.0.0.0/8"),
    ("ROUTER_REPLICA_CLUSTER_IDS", "bench-cluster-1"),
    ("ROUTER_REPLICA_ORG_IDS", "bench-org-1"),
    ("SEGMENT_API_KEY", "bench-segment-key"),
    ("ENV", "production"),
    ("OBSERVATORIUM_URL", "https://observatorium.bench.invalid"),
];

fn osd_payload(template: &PathBuf, out: &PathBuf) -> Result<()> {
    let mut text = std::fs::read_to_string(template)?;
    let raw: Value = serde_saphyr::from_str(&text)?;
    let declared: Vec<String> = raw["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for name in &declared {
        let value = OSD_PARAMETERS
            .iter()
            .find(|(k, _)| k == name)
            .map_or("bench", |(_, v)| v);
        let list: Vec<&str> = value.split(',').collect();
        text = text.replace(&format!("${{{{{name}}}}}"), &serde_json::to_string(&list)?);
        text = text.replace(&format!("${{{name}}}"), value);
    }
    let parsed: Value = serde_saphyr::from_str(&text)?;
    let items = parsed["objects"].as_array().cloned().unwrap_or_default();
    eprintln!(
        "osd-payload: {} objects, {} parameters substituted",
        items.len(),
        declared.len()
    );
    write_json(
        out,
        &json!({"apiVersion": "v1", "kind": "List", "items": items}),
    )
}
