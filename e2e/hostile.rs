//! Hostile and broken input from hub users and spokes: kubeconfigs that would run a program or read the controller's
//! files, a spoke that answers with an endless body, an object whose admission webhook is slower than the request
//! timeout. Each case must fail where the user looks and leave the controller and the other clusters alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use futures::FutureExt;
use serde_json::json;

use crate::listener::{full, Listener, Seen};
use crate::support::*;

/// A kubeconfig for `server` whose only user is `user` (a YAML flow mapping).
fn kubeconfig_with_user(server: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\n\
         clusters: [{{name: attacker, cluster: {{server: \"{server}\", insecure-skip-tls-verify: true}}}}]\n\
         users: [{{name: attacker, user: {user}}}]\n\
         contexts: [{{name: attacker, context: {{cluster: attacker, user: attacker}}}}]\n\
         current-context: attacker\n"
    )
}

/// An API server that says it is one and records what it is sent.
async fn recording_api_server() -> Result<Listener> {
    Listener::start(Arc::new(|_seen: Seen| {
        async {
            http::Response::builder()
                .header("content-type", "application/json")
                .body(full(r#"{"major":"1","minor":"36","gitVersion":"v1.36.3"}"#))
                .unwrap()
        }
        .boxed()
    }))
    .await
}

#[tokio::test]
async fn kubeconfigs_that_would_run_a_program_or_read_a_local_file_are_refused_and_nothing_runs_or_leaks(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let attacker = recording_api_server().await?;
    let files = tempfile::tempdir()?;
    let marker = files.path().join("ran");
    let planted = files.path().join("token");
    std::fs::write(&planted, "PLANTED-CONTROLLER-TOKEN")?;
    let (marker_path, planted_path) = (marker.display().to_string(), planted.display().to_string());
    let url = attacker.url();
    let cases = [
        (
            format!("{{auth-provider: {{name: gcp, config: {{cmd-path: /usr/bin/touch, cmd-args: {marker_path}}}}}}}"),
            "insecure auth-provider in AuthInfos[attacker]",
        ),
        (format!("{{tokenFile: {planted_path}}}"), "insecure tokenFile in AuthInfos[attacker]"),
        (
            format!("{{client-certificate: {planted_path}, client-key: {planted_path}}}"),
            "insecure client-certificate in AuthInfos[attacker]",
        ),
        (
            format!("{{token: abc, client-key: {planted_path}}}"),
            "insecure client-key in AuthInfos[attacker]",
        ),
    ];
    let mut kubeconfigs: Vec<(String, String)> = cases
        .iter()
        .map(|(user, expected)| (kubeconfig_with_user(&url, user), expected.to_string()))
        .collect();
    // A certificate-authority path, on the cluster rather than the user.
    let ca = kubeconfig_with_user(&url, "{token: abc}").replace(
        "insecure-skip-tls-verify: true",
        &format!("certificate-authority: {planted_path}"),
    );
    kubeconfigs.push((
        ca,
        "insecure certificate-authority in Clusters[attacker]".into(),
    ));
    let mut registered = Vec::new();
    for (kubeconfig, expected) in kubeconfigs {
        let cluster = fleet
            .cluster("e2e-hostile-kc")
            .kubeconfig(KubeconfigSecret::Data(kubeconfig.into_bytes()))
            .register()
            .await?;
        registered.push((cluster, expected));
    }

    let ss = unique_name("e2e-hostile-kc");
    for (cluster, _) in &registered {
        cluster
            .syncset_named(&ss)
            .apply(json!({"resources": [configmap("default", &ss, json!({"a": "b"}))]}))
            .await?;
    }
    for (cluster, expected) in &registered {
        let name = &cluster.name;
        let entry = cluster
            .entry(&cluster.syncset_named(&ss), is_failure)
            .await?;
        let message = entry.failure_message.unwrap_or_default();
        ensure!(
            message.starts_with(expected.as_str()),
            "{name}: expected {expected:?}..., got {message:?}"
        );
        let (_, reason, condition) = cluster
            .wait_condition("Unreachable", "True", Duration::from_secs(30))
            .await?;
        ensure!(
            condition.contains(expected.as_str()),
            "{name}: the Unreachable condition ({reason}) should say {expected:?}, got {condition:?}"
        );
        ensure!(
            !message.contains("PLANTED") && !condition.contains("PLANTED"),
            "{name}: the planted file leaked"
        );
    }
    // `hivesync diff` on a workstation refuses the same way, and runs nothing there either.
    let (cluster, expected) = &registered[0];
    let out = hivesync_command(&["diff", &cluster.name, "-n", cluster.ns()]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && stderr.contains(expected.as_str()),
        "hivesync diff: {stderr}"
    );

    // Several probe periods later: the program never ran and the attacker's server was never called.
    tokio::time::sleep(Duration::from_secs(5)).await;
    ensure!(
        !marker.exists(),
        "the auth-provider's cmd-path ran: {marker_path} exists"
    );
    ensure!(
        attacker.connections() == 0,
        "the attacker's server was contacted {} times: {:?}",
        attacker.connections(),
        attacker.seen()
    );
    eprintln!(
        "refused {} kubeconfigs; program runs: 0; connections to the attacker's server: 0",
        registered.len()
    );
    Ok(())
}

#[tokio::test]
async fn a_spoke_that_answers_with_an_endless_body_is_cut_off_and_marked_unreachable() -> Result<()>
{
    let fleet = Fleet::connect().await?;
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    let endless = Listener::start(Arc::new(move |_seen: Seen| {
        let counter = counter.clone();
        async move {
            use http_body_util::BodyExt;
            // 1 GiB in 1 MiB chunks, produced as it is read: the client must stop reading, not the server.
            let chunks = futures::StreamExt::map(futures::stream::iter(0..1024u32), move |_| {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok::<_, std::io::Error>(hyper::body::Frame::data(bytes::Bytes::from(vec![
                    b' ';
                    1 << 20
                ])))
            });
            http::Response::builder()
                .header("content-type", "application/json")
                .body(http_body_util::StreamBody::new(chunks).boxed())
                .unwrap()
        }
        .boxed()
    }))
    .await?;
    let ns = fleet.namespace("e2e-hostile-body").await?;
    let kubeconfig = kubeconfig_with_user(&endless.url(), "{token: abc}");
    let cluster = fleet
        .cluster("e2e-hostile-body")
        .in_namespace(&ns.name)
        .kubeconfig(KubeconfigSecret::Data(kubeconfig.into_bytes()))
        .register()
        .await?;
    let (_, _, message) = cluster
        .wait_condition("Unreachable", "True", Duration::from_secs(60))
        .await?;
    let limit = hivesync::consts::MAX_SPOKE_RESPONSE_BYTES;
    ensure!(
        message.contains(&format!("larger than {limit} bytes")),
        "the Unreachable condition should say the body was too large: {message:?}"
    );
    ensure!(
        message.len() <= hivesync::consts::MAX_MESSAGE_BYTES + 100,
        "message of {} bytes",
        message.len()
    );
    // The controller read at most the limit per probe (plus what was in flight), never the whole body.
    let requests = endless.seen().len().max(1);
    let chunks = served.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "endless body: {requests} requests, {chunks} MiB produced in all, limit {} MiB",
        limit >> 20
    );
    ensure!(
        chunks < requests * 64,
        "{chunks} MiB were produced for {requests} requests"
    );
    // And the controller still serves everyone else.
    let healthy = fleet
        .cluster("e2e-hostile-body-ok")
        .in_namespace(&ns.name)
        .reachable()
        .await?;
    let ss = healthy.syncset("e2e-hostile-body");
    let spoke_ns = healthy.spoke().namespace("e2e-hostile-body").await?;
    ss.apply(json!({"resources": [configmap(&spoke_ns.name, "ok", json!({"a": "b"}))]}))
        .await?;
    healthy.entry(&ss, is_success).await?;
    Ok(())
}

/// A validating webhook on managed-1 that answers after `delay`, for ConfigMaps labelled `hivesync.e2e/slow=<value>`.
async fn slow_webhook(value: &str, delay: Duration) -> Result<(Listener, DeleteOnDrop)> {
    let webhook = Listener::start(Arc::new(move |seen: Seen| {
        async move {
            let review: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
            tokio::time::sleep(delay).await;
            let answer = json!({
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": review["request"]["uid"], "allowed": true},
            });
            http::Response::builder()
                .header("content-type", "application/json")
                .body(full(answer.to_string()))
                .unwrap()
        }
        .boxed()
    }))
    .await?;
    let name = unique_name("e2e-slow-webhook");
    let config = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "slow.e2e.hivesync.io",
            "clientConfig": {
                "url": format!("{}/validate", webhook.url()),
                "caBundle": k8s_openapi::ByteString(webhook.ca_pem.clone()),
            },
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["configmaps"]}],
            "objectSelector": {"matchLabels": {"hivesync.e2e/slow": value}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 15, "failurePolicy": "Fail",
        }],
    });
    let out = kubectl_with_stdin(
        &managed_kubeconfig(1),
        ["apply", "-f", "-"],
        &config.to_string(),
    );
    ensure!(
        out.status.success(),
        "creating the webhook: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let guard = DeleteOnDrop::new(
        &managed_kubeconfig(1),
        "validatingwebhookconfiguration",
        None,
        &name,
    );
    Ok((webhook, guard))
}

#[tokio::test]
async fn an_object_slower_than_the_request_timeout_fails_its_syncset_and_the_rest_goes_on(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let value = unique_name("slow");
    // The suite's controller runs with --remote-timeout 5s; the webhook takes 8 s (the API server waits up to 15).
    let (webhook, _webhook_guard) = slow_webhook(&value, Duration::from_secs(8)).await?;
    let cluster = fleet.cluster("e2e-hostile-slow").reachable().await?;
    let spoke_ns = cluster.spoke().namespace("e2e-hostile-slow").await?;
    let (slow, fast) = (cluster.syncset("e2e-slow"), cluster.syncset("e2e-fast"));
    let mut slow_cm = configmap(&spoke_ns.name, "slow", json!({"a": "b"}));
    slow_cm["metadata"]["labels"] = json!({"hivesync.e2e/slow": value});
    slow.apply(json!({"resources": [slow_cm]})).await?;
    let started = Instant::now();
    fast.apply(json!({"resources": [configmap(&spoke_ns.name, "fast", json!({"a": "b"}))]}))
        .await?;
    let fast_entry = cluster.entry(&fast, is_success).await?;
    let fast_took = started.elapsed();
    let slow_entry = cluster.entry(&slow, is_failure).await?;
    let message = slow_entry.failure_message.unwrap_or_default();
    ensure!(
        message.starts_with("failed to apply resource 0: request timed out after 5s"),
        "the slow syncset should fail with the timeout, got {message:?}"
    );
    let (status, _, _) = cluster.condition("Unreachable").await?.unwrap_or_default();
    ensure!(
        status == "False",
        "a slow object must not make the cluster Unreachable (Unreachable={status})"
    );
    ensure!(!webhook.seen().is_empty(), "the webhook was never called");
    eprintln!(
        "slow object: its syncset failed with {message:?}; the other syncset succeeded {:.1} s after the edit ({:?})",
        fast_took.as_secs_f64(),
        fast_entry.result
    );
    Ok(())
}

/// A tracked object whose kind the cluster cannot describe right now (its aggregated API answers 503) must stay in
/// `resourcesToDelete` and be retried; only a definite "not served" lets the delete count as done.
#[tokio::test]
async fn a_delete_whose_discovery_fails_stays_tracked_until_the_cluster_answers_definitely(
) -> Result<()> {
    use kube::api::{Api, Patch, PatchParams};
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-hostile-disc").on(2).reachable().await?;
    // An aggregated API whose backing service does not exist: discovery of its group-version answers 503.
    let group = format!("{}.e2e.hivesync.io", unique_name("broken"));
    let apiservice = json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": format!("v1.{group}")},
        "spec": {"group": group, "version": "v1", "insecureSkipTLSVerify": true,
                 "groupPriorityMinimum": 1000, "versionPriority": 15,
                 "service": {"namespace": "default", "name": "e2e-nowhere", "port": 443}},
    });
    let spoke = &cluster.spoke().kubeconfig;
    let out = kubectl_with_stdin(spoke, ["apply", "-f", "-"], &apiservice.to_string());
    ensure!(
        out.status.success(),
        "creating the APIService: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let apiservice_guard =
        cluster
            .spoke()
            .delete_on_drop("apiservice", None, &format!("v1.{group}"));

    // The ClusterSync records an object of that kind from a SelectorSyncSet that no longer exists: its delete is due.
    let gone = unique_name("e2e-gone");
    cluster.wait_cluster_sync().await?;
    let entry = json!({
        "name": gone, "observedGeneration": 1, "result": "Success",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "resourcesToDelete": [{"apiVersion": format!("{group}/v1"), "kind": "Widget", "namespace": "default", "name": "w"}],
    });
    Api::<hivesync::api::ClusterSync>::namespaced(fleet.hub.clone(), cluster.ns())
        .patch_status(
            &cluster.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"selectorSyncSets": [entry]}})),
        )
        .await?;
    cluster
        .set_labels(&[("hivesync.e2e/poke", Some("1"))])
        .await?;
    let gone = (EntryKind::SelectorSyncSet, gone.as_str());
    let kept = cluster.entry(&gone, is_failure).await?;
    let message = kept.failure_message.clone().unwrap_or_default();
    ensure!(
        message.contains("could not get mapping") && kept.resources_to_delete.len() == 1,
        "the delete should fail and stay tracked: {kept:?}"
    );
    // Once the API is gone for good (a 404 for its group-version), the object cannot exist: the entry goes.
    drop(apiservice_guard);
    wait_for(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let out = kubectl(
                spoke,
                [
                    "get",
                    "apiservice",
                    &format!("v1.{group}"),
                    "--ignore-not-found",
                    "-o",
                    "name",
                ],
            );
            ensure!(out.stdout.is_empty(), "the APIService is still there");
            Ok(())
        },
    )
    .await?;
    cluster
        .set_labels(&[("hivesync.e2e/poke", Some("2"))])
        .await?;
    cluster.no_entry(&gone).await?;
    eprintln!("discovery failure kept the delete: {message:?}; dropped once the API was gone");
    Ok(())
}

/// A value planted in hub Secrets, and in a Secret a syncset declares, appears in no log line, Event, status message,
/// `render` or `diff` output, including the messages of decode, template and kubeconfig errors about them.
#[tokio::test]
async fn secret_values_never_reach_logs_events_status_or_render_and_diff_output() -> Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, PostParams};
    let fleet = Fleet::connect().await?;
    let planted = format!("PLANTED-{}", unique_name("secret").to_uppercase());
    // One hub namespace for everything, so that its Events and status are all looked through.
    let ns = fleet.namespace("e2e-hostile-secret").await?;
    let cluster = fleet
        .cluster("e2e-hostile-secret")
        .in_namespace(&ns.name)
        .reachable()
        .await?;
    let cd = cluster.name.as_str();
    let spoke_ns = cluster.spoke().namespace("e2e-hostile-secret").await?;

    // A secretMappings source on the hub, with the value in its data and, as `kubectl apply` leaves it, in an
    // annotation.
    let source: Secret = serde_json::from_value(json!({
        "metadata": {"name": "source", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": format!("{{\"stringData\":{{\"k\":\"{planted}\"}}}}")}},
        "stringData": {"k": planted},
    }))?;
    Api::<Secret>::namespaced(fleet.hub.clone(), &ns.name)
        .create(&PostParams::default(), &source)
        .await?;
    let copy = cluster.syncset("e2e-copy");
    copy.apply(json!({
        "secretMappings": [secret_mapping("source", None, &spoke_ns.name, "copied")],
        "patches": [{"apiVersion": "v1", "kind": "Secret", "name": "copied", "namespace": spoke_ns.name,
                     "patchType": "merge", "patch": format!("{{\"stringData\":{{\"extra\":\"{planted}\"}}}}")}],
    }))
    .await?;
    // A templated Secret whose other key fails to render, and one whose templated apiVersion renders empty.
    let (bad_template, bad_kind) = (
        cluster.syncset("e2e-badtpl"),
        cluster.syncset("e2e-badkind"),
    );
    bad_template
        .apply(json!({
            "enableResourceTemplates": true,
            "resources": [{"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": "templated", "namespace": spoke_ns.name},
                           "stringData": {"a": planted, "b": "{{ fromCDLabel }}"}}],
        }))
        .await?;
    bad_kind
        .apply(json!({
            "enableResourceTemplates": true,
            "resources": [{"apiVersion": "{{ fromCDLabel \"no-such-label\" }}", "kind": "Secret",
                           "metadata": {"name": "kindless", "namespace": spoke_ns.name},
                           "stringData": {"a": planted}}],
        }))
        .await?;
    // A kubeconfig Secret that does not parse, with the value where the parser would quote it.
    let kubeconfig =
        format!("apiVersion: v1\nkind: Config\npreferences: \"{planted}\"\nclusters: []\n");
    let broken = fleet
        .cluster("e2e-hostile-secret-kc")
        .in_namespace(&ns.name)
        .kubeconfig(KubeconfigSecret::Data(kubeconfig.into_bytes()))
        .register()
        .await?;
    // A syncset of its own (re-using `copy` would move that SyncSet off the working cluster).
    broken
        .syncset("e2e-broken")
        .apply(json!({"resources": [configmap("default", "x", json!({}))]}))
        .await?;

    cluster.entry(&copy, is_success).await?;
    let failed_template = cluster.entry(&bad_template, is_failure).await?;
    let failed_kind = cluster.entry(&bad_kind, is_failure).await?;
    broken
        .wait_condition("Unreachable", "True", Duration::from_secs(30))
        .await?;
    eprintln!(
        "messages: {:?} / {:?}",
        failed_template.failure_message, failed_kind.failure_message
    );
    // Give the Events a moment to be recorded.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut places: Vec<(String, String)> = Vec::new();
    let json_of = |args: &[&str]| {
        let out = kubectl(&hub_kubeconfig(), args);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    for (place, resource) in [
        ("ClusterSyncs", "clustersyncs.hiveinternal.openshift.io"),
        ("ClusterDeployments", "clusterdeployments.hive.openshift.io"),
        ("Events", "events"),
        ("Events (events.k8s.io)", "events.events.k8s.io"),
    ] {
        places.push((
            place.into(),
            json_of(&["get", resource, "-n", &ns.name, "-o", "json"]),
        ));
    }
    let cli = |args: &[&str]| {
        let out = hivesync_command(args)
            .env("RUST_LOG", "debug")
            .output()
            .expect("running hivesync");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    for command in ["render", "diff", "status"] {
        places.push((
            format!("hivesync {command}"),
            cli(&[command, cd, "-n", &ns.name]),
        ));
    }
    if let Some(log) = controller_log() {
        places.push(("the controller's log".into(), std::fs::read_to_string(log)?));
    }
    for (place, text) in &places {
        ensure!(
            !text.contains(&planted),
            "the planted Secret value appears in {place}"
        );
    }
    ensure!(
        places
            .iter()
            .any(|(p, t)| p == "hivesync render" && t.contains("<redacted>")),
        "render redacted nothing"
    );
    eprintln!(
        "a planted Secret value was looked for in {} places: found in none",
        places.len()
    );
    Ok(())
}

/// Template bombs fail their syncset on every cluster they target with the reason, and the other clusters' syncs go
/// on at their pace while the bombs are rendered for each cluster.
#[tokio::test]
async fn template_bombs_fail_their_syncset_and_the_other_clusters_keep_their_pace() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("hivesync.e2e/bomb");
    let ns = fleet.namespace("e2e-hostile-bomb").await?;
    let mut bombed = Vec::new();
    for n in [1, 2] {
        bombed.push(
            fleet
                .cluster("e2e-bomb")
                .on(n)
                .in_namespace(&ns.name)
                .in_group(&group)
                .reachable()
                .await?,
        );
    }
    let bystander = fleet
        .cluster("e2e-bomb-bystander")
        .in_namespace(&ns.name)
        .reachable()
        .await?;
    let spoke_ns = bystander.spoke().namespace("e2e-hostile-bomb").await?;
    // Many strings, each under the per-string limit (4 MiB), together over the syncset's budget (16 MiB).
    let wide: serde_json::Map<String, serde_json::Value> = (0..10)
        .map(|i| (format!("k{i}"), json!("{{ printf \"%3000000s\" \"\" }}")))
        .collect();
    let bombs = [
        (
            "unicode",
            json!({"a": "{{ printf \"%.10000000U\" 1 }}"}),
            "formatted output exceeds 4194304 bytes",
        ),
        (
            "range",
            json!({"a": "{{ range 100000000000 }}x{{ end }}"}),
            "template execution exceeds 1000000 steps",
        ),
        (
            "wide",
            serde_json::Value::Object(wide),
            "exceed the render budget of 16777216 output bytes for one cluster",
        ),
    ];
    let mut selector_syncsets = Vec::new();
    let started = Instant::now();
    for (what, data, _) in &bombs {
        let sss = fleet
            .selector_syncset(&format!("e2e-bomb-{what}"))
            .selecting(&group);
        sss.apply(json!({"enableResourceTemplates": true, "resources": [configmap(&spoke_ns.name, what, data.clone())]}))
            .await?;
        selector_syncsets.push(sss);
    }
    // Meanwhile, an ordinary change for a cluster no bomb targets.
    let ss = bystander.syncset("e2e-bomb-bystander");
    let edited = Instant::now();
    ss.apply(json!({"resources": [configmap(&spoke_ns.name, "bystander", json!({"a": "b"}))]}))
        .await?;
    bystander.entry(&ss, is_success).await?;
    let bystander_took = edited.elapsed();
    for ((what, _, expected), sss) in bombs.iter().zip(&selector_syncsets) {
        for cluster in &bombed {
            let entry = cluster.entry(sss, is_failure).await?;
            let message = entry.failure_message.unwrap_or_default();
            ensure!(
                message.starts_with("failed to parameterize resource 0: ")
                    && message.contains(expected),
                "{what} on {}: expected ...{expected}..., got {message:?}",
                cluster.name
            );
            ensure!(
                message.len() <= hivesync::consts::MAX_MESSAGE_BYTES + 100,
                "{what}: a message of {} bytes",
                message.len()
            );
        }
    }
    let bombs_failed = started.elapsed();
    for cluster in bombed.iter().chain([&bystander]) {
        let (status, _, _) = cluster.condition("Unreachable").await?.unwrap_or_default();
        ensure!(
            status == "False",
            "{} turned Unreachable={status} while the bombs were rendered",
            cluster.name
        );
    }
    eprintln!(
        "template bombs: all 3 failed on both clusters within {:.1} s; the bystander's change was applied {:.2} s after its edit",
        bombs_failed.as_secs_f64(),
        bystander_took.as_secs_f64()
    );
    Ok(())
}

/// `spec.controlPlaneConfig.apiServerIPOverride`: every connection to the cluster dials that IP while TLS still
/// verifies the URL's host name. The kubeconfig names `api.hivesync.invalid` (a name that never resolves; the local
/// clusters' serving certificate carries it); the override dials 127.0.0.1. Without the override the same cluster
/// cannot be reached.
#[tokio::test]
async fn an_api_server_ip_override_dials_that_ip_and_verifies_the_url_s_host_name() -> Result<()> {
    let fleet = Fleet::connect().await?;
    ensure!(
        tokio::net::lookup_host("api.hivesync.invalid:443")
            .await
            .is_err(),
        "api.hivesync.invalid resolves on this machine; the test needs a name that does not"
    );
    let spoke = Spoke::connect(1).await?;
    let server = kubeconfig_server(&spoke.kubeconfig);
    let port = server
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    let text = std::fs::read_to_string(&spoke.kubeconfig)?
        .replace(&server, &format!("https://api.hivesync.invalid:{port}"));
    let ns = fleet.namespace("e2e-ipoverride").await?;
    let by_name = |prefix: &str| {
        fleet
            .cluster(prefix)
            .in_namespace(&ns.name)
            .kubeconfig(KubeconfigSecret::Data(text.clone().into_bytes()))
    };
    let with = by_name("e2e-ipoverride")
        .spec(json!({"controlPlaneConfig": {"apiServerIPOverride": "127.0.0.1"}}))
        .register()
        .await?;
    let without = by_name("e2e-no-ipoverride").register().await?;
    with.wait_condition("Unreachable", "False", Duration::from_secs(30))
        .await?;
    let (_, _, why) = without
        .wait_condition("Unreachable", "True", Duration::from_secs(30))
        .await?;
    // The sync goes through the override too.
    let spoke_ns = spoke.namespace("e2e-ipoverride").await?;
    let ss = with.syncset("e2e-ipoverride");
    ss.apply(json!({"resources": [configmap(&spoke_ns.name, "dialed", json!({"a": "b"}))]}))
        .await?;
    with.entry(&ss, is_success).await?;
    // And so does `hivesync diff`.
    let out = hivesync_command(&["diff", &with.name, "-n", with.ns()]).output()?;
    ensure!(
        out.status.success(),
        "hivesync diff through the override: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("apiServerIPOverride: reachable and synced through 127.0.0.1; without it: {why}");
    Ok(())
}
