//! `hivesync status`, `render` and `diff` end to end: the commands run as a user would run them (the built binary,
//! the hub's kubeconfig) against clusters the controller started by `hack/e2e.sh` syncs, and what they say is checked
//! against what the controller then does on the spokes.
//!
//! Each test registers its own ClusterDeployments in a hub namespace of its own; only the test that stops a cluster
//! touches `DISRUPTABLE` (managed-3), holding [`serial`].

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use hivesync::api::SyncSetResult;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::{json, Value};

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn expect_code(out: &Output, expected: i32, what: &str) -> Result<String> {
    ensure!(
        code(out) == expected,
        "{what}: expected exit code {expected}, got {}",
        out.describe()
    );
    Ok(out.stdout_text())
}

fn namespace_object(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

async fn resource_version<K>(api: &Api<K>, name: &str) -> Result<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let o = api
        .get(name)
        .await
        .with_context(|| format!("reading {name}"))?;
    Ok(o.meta().resource_version.clone().unwrap_or_default())
}

/// The line of `text` that starts with `prefix`.
fn line_starting<'a>(text: &'a str, prefix: &str) -> Result<&'a str> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .with_context(|| format!("no line starting with {prefix:?} in:\n{text}"))
}

fn position(text: &str, needle: &str) -> Result<usize> {
    text.find(needle)
        .with_context(|| format!("{needle:?} not found in:\n{text}"))
}

// ------------------------------------------------------------------------------------------------------ status

#[tokio::test]
async fn status_lists_each_cluster_with_its_syncset_results_and_failing_ones_first() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let hub_ns = fleet.namespace("e2e-cli-status").await?;
    let cluster = |prefix: &str| fleet.cluster(prefix).in_namespace(&hub_ns.name);
    let good_cluster = cluster("e2e-good").reachable().await?;
    let bad_cluster = cluster("e2e-bad").on(2).reachable().await?;
    let (good, bad) = (&good_cluster.name, &bad_cluster.name);
    let spoke_ns = PlannedNamespace::on(
        &[good_cluster.spoke(), bad_cluster.spoke()],
        "e2e-cli-status",
    );
    let spoke_ns = &spoke_ns.name;
    let ok = fleet.syncset(&hub_ns.name, "ok", &[good, bad]);
    ok.apply(json!({"resources": [namespace_object(spoke_ns), configmap(spoke_ns, "c", json!({"a": "b"}))]}))
        .await?;
    let broken = fleet.syncset(&hub_ns.name, "broken", &[bad]);
    broken
        .apply(json!({"resources": [configmap(&unique_name("e2e-missing"), "c", json!({}))]}))
        .await?;
    for cluster in [&good_cluster, &bad_cluster] {
        cluster.entry(&ok, is_success).await?;
    }
    bad_cluster
        .entry(&broken, |e| e.result == SyncSetResult::Failure)
        .await?;

    let out = hivesync(&["status", "--namespace", &hub_ns.name]);
    let text = expect_code(&out, 1, "status with a failing syncset")?;
    let lines: Vec<&str> = text.lines().collect();
    ensure!(
        lines.len() == 3,
        "a header and one line per cluster:\n{text}"
    );
    let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        cells(lines[0]),
        [
            "NAMESPACE",
            "NAME",
            "REACHABLE",
            "PAUSED",
            "SYNCSETS",
            "FAILING",
            "HEALTH",
            "LAST-FULL-REAPPLY",
            "FIRST-SUCCESS"
        ]
    );
    let first = cells(lines[1]);
    assert_eq!(
        &first[..6],
        [hub_ns.name.as_str(), bad, "yes", "no", "1/2", "1"],
        "the failing cluster first:\n{text}"
    );
    let second = cells(lines[2]);
    assert_eq!(
        &second[..6],
        [hub_ns.name.as_str(), good, "yes", "no", "1/1", "0"],
        "{text}"
    );
    assert!(
        lines[2].contains(" ago"),
        "a successful cluster shows its last full re-apply:\n{text}"
    );

    let out = hivesync(&["status", "--namespace", &hub_ns.name, "-o", "json"]);
    let json: Value = serde_json::from_str(&expect_code(&out, 1, "status -o json")?)?;
    assert_eq!(json["clusters"][0]["name"], bad.as_str());
    assert_eq!(json["clusters"][0]["failing"], 1);
    assert_eq!(json["clusters"][0]["reachable"], "yes");
    assert!(
        json["clusters"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("SyncSet broken is failing: failed to apply resource 0: "),
        "{json}"
    );
    assert_eq!(json["clusters"][1]["total"], 1);

    let out = hivesync(&["status", &format!("{}/{good}", hub_ns.name)]);
    let text = expect_code(&out, 0, "status of a healthy cluster")?;
    assert!(
        text.contains("SyncSets:           1/1 applied, 0 failing"),
        "{text}"
    );
    line_starting(&text, "SyncSet  ok    Success  1")?;

    let out = hivesync(&["status", bad, "--namespace", &hub_ns.name, "-o", "wide"]);
    let text = expect_code(&out, 1, "status of a failing cluster")?;
    let broken = line_starting(&text, "SyncSet  broken  Failure")?;
    assert!(broken.contains("failed to apply resource 0: "), "{text}");
    ensure!(
        position(&text, "SyncSet  broken")? < position(&text, "SyncSet  ok")?,
        "failing syncsets first:\n{text}"
    );

    let out = hivesync(&["status", "no-such-cluster", "--namespace", &hub_ns.name]);
    expect_code(&out, 2, "status of an unknown cluster")?;
    assert!(
        out.stderr_text()
            .contains("`hivesync status` lists the clusters"),
        "{}",
        out.describe()
    );
    Ok(())
}

#[tokio::test]
async fn status_shows_a_stopped_cluster_as_unreachable_and_why_in_the_wide_view() -> Result<()> {
    let _serial = serial().await;
    let fleet = Fleet::connect().await?;
    let cluster = fleet
        .cluster("e2e-cli-dead")
        .on(DISRUPTABLE)
        .reachable()
        .await?;
    let (hub_ns, cd) = (cluster.ns(), &cluster.name);
    let text = expect_code(
        &hivesync(&["status", "--namespace", hub_ns]),
        0,
        "status of a reachable cluster",
    )?;
    assert!(line_starting(&text, hub_ns)?.contains(" yes "), "{text}");

    let stopped = cluster.spoke().stop()?;
    cluster
        .wait_condition("Unreachable", "True", Duration::from_secs(60))
        .await?;
    let out = hivesync(&["status", "--namespace", hub_ns, "-o", "wide"]);
    let text = expect_code(&out, 1, "status with an unreachable cluster")?;
    let line = line_starting(&text, hub_ns)?;
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[1..3], [cd.as_str(), "no"], "{text}");
    assert!(
        line.contains("unreachable: "),
        "the wide view says why:\n{text}"
    );
    stopped.start()?;
    cluster.wait_until_reachable().await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------------ render

#[tokio::test]
async fn render_applied_with_kubectl_gives_the_objects_hivesync_applies() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let env = unique_name("staging");
    let cluster = fleet
        .cluster("e2e-cli-render")
        .labels(&[("hivesync.e2e/env", &env)])
        .reachable()
        .await?;
    let (hub_ns, cd) = (cluster.ns(), &cluster.name);
    // The render is applied by hand to managed-2, as hivesync applies to managed-1.
    let (spoke1, spoke2) = (cluster.spoke(), &Spoke::connect(2).await?);
    let spoke_ns = PlannedNamespace::on(&[spoke1, spoke2], "e2e-cli-render");
    let spoke_ns = &spoke_ns.name;
    let token = "s3cr3t-value";
    let source = Secret {
        metadata: ObjectMeta {
            name: Some("source".into()),
            namespace: Some(hub_ns.to_string()),
            labels: Some(BTreeMap::from([("from".to_string(), "hub".to_string())])),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            "token".to_string(),
            ByteString(token.as_bytes().to_vec()),
        )])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(fleet.hub.clone(), hub_ns)
        .create(&PostParams::default(), &source)
        .await?;
    let mut labelled = configmap(
        spoke_ns,
        "labelled",
        json!({"k": "v", "multi": "line1\nline2\n", "env": "{{ fromCDLabel \"hivesync.e2e/env\" }}"}),
    );
    labelled["metadata"]["labels"] = json!({"app": "demo"});
    let syncset = cluster.syncset("e2e-render");
    let ss = &syncset.name;
    syncset
        .apply(json!({
            "resourceApplyMode": "Sync",
            "enableResourceTemplates": true,
            "resources": [labelled, namespace_object(spoke_ns), configmap(spoke_ns, "plain", json!({"x": "1"}))],
            "secretMappings": [secret_mapping("source", None, spoke_ns, "copied")],
            "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "namespace": spoke_ns, "name": "plain",
                         "patch": "{\"metadata\": {\"annotations\": {\"patched\": \"yes\"}}}", "patchType": "merge"}],
        }))
        .await?;
    cluster.entry(&syncset, is_success).await?;

    let redacted = expect_code(&hivesync(&["render", cd, "-n", hub_ns]), 0, "render")?;
    assert!(redacted.contains("token: <redacted>"), "{redacted}");
    assert!(
        redacted.contains(&format!("  env: {env}\n")),
        "templates are rendered with the cluster's labels:\n{redacted}"
    );
    let encoded = serde_json::to_value(ByteString(token.as_bytes().to_vec()))?;
    let encoded = encoded.as_str().unwrap_or_default();
    assert!(
        !redacted.contains(encoded),
        "Secret data is redacted:\n{redacted}"
    );

    // -o name and -o json: the objects only, as kubectl prints them.
    let names = expect_code(
        &hivesync(&["render", cd, "-n", hub_ns, "-o", "name"]),
        0,
        "render -o name",
    )?;
    assert_eq!(
        names,
        format!("namespace/{spoke_ns}\nconfigmap/labelled\nconfigmap/plain\nsecret/copied\n"),
        "{names}"
    );
    let list: Value = serde_json::from_str(&expect_code(
        &hivesync(&["render", cd, "-n", hub_ns, "-o", "json"]),
        0,
        "render -o json",
    )?)?;
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][3]["data"]["token"], "<redacted>", "{list}");

    let out = hivesync(&["render", &format!("{hub_ns}/{cd}"), "--show-secrets"]);
    let text = expect_code(&out, 0, "render --show-secrets")?;
    // Namespaces first, then the rest in list order, each named by its syncset and position; the patch is a comment.
    let order = [
        format!("# SyncSet {ss}, resources[1]\n"),
        format!("# SyncSet {ss}, resources[0]\n"),
        format!("# SyncSet {ss}, resources[2]\n"),
        format!("# SyncSet {ss}, secretMappings[0]: hub Secret {hub_ns}/source\n"),
        format!("# SyncSet {ss}, patches[0]: merge patch of v1 ConfigMap {spoke_ns}/plain"),
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|n| position(&text, n))
        .collect::<Result<_>>()?;
    ensure!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "render order:\n{text}"
    );
    assert!(
        text.contains(&format!(
            "#   kubectl patch configmap plain --namespace {spoke_ns} --type merge --patch"
        )),
        "{text}"
    );

    // The same stream applied by hand to another cluster, as hivesync applies: server-side, field manager hivesync.
    let out = kubectl_with_stdin(
        &spoke2.kubeconfig,
        [
            "apply",
            "--server-side",
            "--field-manager=hivesync",
            "-f",
            "-",
        ],
        &text,
    );
    ensure!(
        out.status.success(),
        "kubectl apply of the render: {}",
        out.describe()
    );
    for name in ["labelled", "plain"] {
        let api = |s: &Spoke| s.api::<ConfigMap>(spoke_ns);
        let (by_hivesync, by_kubectl) =
            (api(spoke1).get(name).await?, api(spoke2).get(name).await?);
        assert_eq!(by_kubectl.data, by_hivesync.data, "ConfigMap {name} data");
        assert_eq!(
            by_kubectl.metadata.labels, by_hivesync.metadata.labels,
            "ConfigMap {name} labels"
        );
    }
    let api = |s: &Spoke| s.api::<Secret>(spoke_ns);
    let (by_hivesync, by_kubectl) = (
        api(spoke1).get("copied").await?,
        api(spoke2).get("copied").await?,
    );
    assert_eq!(by_kubectl.data, by_hivesync.data, "Secret data");
    assert_eq!(by_kubectl.type_, by_hivesync.type_, "Secret type");
    assert_eq!(
        by_kubectl.metadata.labels, by_hivesync.metadata.labels,
        "Secret labels"
    );
    assert_eq!(
        by_hivesync
            .metadata
            .labels
            .unwrap_or_default()
            .get("hive.openshift.io/managed")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        spoke2
            .api_all::<Namespace>()
            .get(spoke_ns)
            .await?
            .metadata
            .labels
            .unwrap_or_default()
            .get("hive.openshift.io/managed"),
        Some(&"true".to_string())
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------------ diff

#[tokio::test]
async fn diff_predicts_a_change_a_creation_a_patch_and_a_deletion_without_writing() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-cli-diff").reachable().await?;
    let (hub_ns, cd) = (cluster.ns(), &cluster.name);
    let spoke = cluster.spoke();
    let spoke_ns = PlannedNamespace::on(&[spoke], "e2e-cli-diff");
    let spoke_ns = &spoke_ns.name;
    let syncset = cluster.syncset("e2e-diff");
    let ss = &syncset.name;
    syncset
        .apply(json!({
            "resourceApplyMode": "Sync",
            "resources": [namespace_object(spoke_ns), configmap(spoke_ns, "keep", json!({"a": "1", "same": "x"})),
                          configmap(spoke_ns, "drop", json!({"b": "2"}))],
        }))
        .await?;
    cluster.entry(&syncset, is_success).await?;
    let configmaps = spoke.api::<ConfigMap>(spoke_ns);
    let target: ConfigMap =
        serde_json::from_value(configmap(spoke_ns, "target", json!({"t": "1"})))?;
    configmaps.create(&PostParams::default(), &target).await?;

    let text = expect_code(
        &hivesync(&["diff", cd, "-n", hub_ns]),
        0,
        "diff with nothing to change",
    )?;
    assert!(
        text.contains("0 to create, 0 to change, 0 to patch, 0 to delete, 3 unchanged, 0 failing"),
        "{text}"
    );

    let after = json!({
        "resourceApplyMode": "Sync",
        "resources": [namespace_object(spoke_ns), configmap(spoke_ns, "keep", json!({"a": "2", "same": "x"})),
                      configmap(spoke_ns, "new", json!({"c": "3"}))],
        "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "namespace": spoke_ns, "name": "target",
                     "patch": "{\"metadata\": {\"labels\": {\"patched\": \"true\"}}}", "patchType": "merge"}],
    });
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(
        file.path(),
        serde_saphyr::to_string(&syncset.object(after.clone()))?,
    )?;
    let versions = |names: [&'static str; 3]| {
        let configmaps = configmaps.clone();
        async move {
            let mut v = Vec::new();
            for n in names {
                v.push(resource_version(&configmaps, n).await?);
            }
            Ok::<_, anyhow::Error>(v)
        }
    };
    let rv_before = versions(["keep", "drop", "target"]).await?;
    let ns_rv = resource_version(&spoke.api_all::<Namespace>(), spoke_ns).await?;

    let out = hivesync(&[
        "diff",
        &format!("{hub_ns}/{cd}"),
        "--file",
        &path_str(file.path()),
    ]);
    let text = expect_code(&out, 1, "diff --file with changes")?;
    let origin = |pos: &str| format!("(SyncSet {ss}, {pos})");
    line_starting(
        &text,
        &format!(
            "= unchanged v1 Namespace {spoke_ns}  {}",
            origin("resources[0]")
        ),
    )?;
    line_starting(
        &text,
        &format!(
            "~ changed   v1 ConfigMap {spoke_ns}/keep  {}",
            origin("resources[1]")
        ),
    )?;
    assert!(
        text.contains("\n    -  a: \"1\"\n    +  a: \"2\"\n"),
        "a readable diff of the change:\n{text}"
    );
    line_starting(
        &text,
        &format!(
            "+ created   v1 ConfigMap {spoke_ns}/new  {}",
            origin("resources[2]")
        ),
    )?;
    assert!(text.contains("    +  c: \"3\"\n"), "{text}");
    line_starting(
        &text,
        &format!(
            "~ patch     v1 ConfigMap {spoke_ns}/target  {}",
            origin("patches[0]")
        ),
    )?;
    assert!(text.contains("    +    patched: \"true\"\n"), "{text}");
    line_starting(
        &text,
        &format!(
            "- deleted   v1 ConfigMap {spoke_ns}/drop  {}",
            origin("resourcesToDelete")
        ),
    )?;
    assert!(
        text.contains("1 to create, 1 to change, 1 to patch, 1 to delete, 1 unchanged, 0 failing"),
        "{text}"
    );

    // --syncset filters; an unknown one is an error that says where to look.
    let text = expect_code(
        &hivesync(&["diff", cd, "-n", hub_ns, "--syncset", ss]),
        0,
        "diff --syncset",
    )?;
    assert!(text.contains("3 unchanged"), "{text}");
    let out = hivesync(&["diff", cd, "-n", hub_ns, "--syncset", "nope"]);
    expect_code(&out, 2, "diff --syncset unknown")?;
    assert!(
        out.stderr_text()
            .contains("no SyncSet or SelectorSyncSet named nope"),
        "{}",
        out.describe()
    );

    // Nothing was written: same resourceVersions, nothing created.
    assert_eq!(
        versions(["keep", "drop", "target"]).await?,
        rv_before,
        "diff wrote to the spoke"
    );
    assert_eq!(
        resource_version(&spoke.api_all::<Namespace>(), spoke_ns).await?,
        ns_rv
    );
    ensure!(
        configmaps.get_opt("new").await?.is_none(),
        "diff created ConfigMap new"
    );

    // The prediction comes true.
    let generation = syncset.apply(after).await?;
    cluster
        .entry(&syncset, |e| {
            is_success(e) && e.observed_generation == generation
        })
        .await?;
    let keep = configmaps.get("keep").await?;
    assert_eq!(
        keep.data.unwrap_or_default().get("a").map(String::as_str),
        Some("2")
    );
    ensure!(
        configmaps.get_opt("new").await?.is_some(),
        "ConfigMap new was not created"
    );
    ensure!(
        configmaps
            .get_opt("drop")
            .await?
            .is_none_or(|c| c.metadata.deletion_timestamp.is_some()),
        "drop still exists"
    );
    let target = configmaps.get("target").await?;
    assert_eq!(
        target
            .metadata
            .labels
            .unwrap_or_default()
            .get("patched")
            .map(String::as_str),
        Some("true")
    );
    let text = expect_code(
        &hivesync(&["diff", cd, "-n", hub_ns]),
        0,
        "diff after the sync",
    )?;
    assert!(
        text.contains("0 to create, 0 to change, 0 to patch, 0 to delete"),
        "{text}"
    );
    Ok(())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[tokio::test]
async fn diff_delete_lists_what_deleting_a_sync_selector_syncset_would_remove() -> Result<()> {
    let fleet = Fleet::connect().await?;
    // One hub namespace for both clusters, as `diff --delete` lists them (`namespace/name`).
    let hub_ns = fleet.namespace("e2e-cli-del").await?;
    let group = Group::new("hivesync.e2e/cli-delete");
    let cluster = |prefix: &str| {
        fleet
            .cluster(prefix)
            .in_namespace(&hub_ns.name)
            .in_group(&group)
    };
    let c1 = cluster("e2e-del-a").reachable().await?;
    let c2 = cluster("e2e-del-b").on(2).reachable().await?;
    let spoke_ns = PlannedNamespace::on(&[c1.spoke(), c2.spoke()], "e2e-cli-del");
    let spoke_ns = &spoke_ns.name;
    for c in [&c1, &c2] {
        ensure_namespace(&c.spoke().client, spoke_ns).await?;
    }
    let sss = fleet.selector_syncset("e2e-del").selecting(&group);
    sss.apply(json!({
        "resourceApplyMode": "Sync",
        "resources": [configmap(spoke_ns, "a", json!({})), configmap(spoke_ns, "b", json!({}))],
    }))
    .await?;
    // c1 also has a SyncSet that declares b: deleting the SelectorSyncSet hands b over instead of deleting it.
    let keeper = c1.syncset_named("keeper");
    keeper
        .apply(json!({"resourceApplyMode": "Sync", "resources": [configmap(spoke_ns, "b", json!({}))]}))
        .await?;
    for c in [&c1, &c2] {
        c.entry(&sss, |e| is_success(e) && e.resources_to_delete.len() == 2)
            .await?;
    }
    c1.entry(&keeper, is_success).await?;

    let out = hivesync(&["diff", "--delete", &format!("selectorsyncset/{}", sss.name)]);
    let text = expect_code(&out, 1, "diff --delete")?;
    let expected = format!(
        "Deleting SelectorSyncSet {sss} (resourceApplyMode Sync: what it made is deleted) would, per cluster:\n\
         {ns}/{c1}\n\
         \x20 - deleted   v1 ConfigMap {spoke_ns}/a\n\
         \x20 = kept      v1 ConfigMap {spoke_ns}/b  (also declared by SyncSet keeper)\n\
         {ns}/{c2}\n\
         \x20 - deleted   v1 ConfigMap {spoke_ns}/a\n\
         \x20 - deleted   v1 ConfigMap {spoke_ns}/b\n\
         2 cluster(s) with an entry: 3 object(s) deleted, 1 kept, 0 orphaned\n",
        sss = sss.name,
        ns = hub_ns.name,
        c1 = c1.name,
        c2 = c2.name,
    );
    assert_eq!(text, expected);
    let out = hivesync(&["diff", "--delete", "selectorsyncset/does-not-exist"]);
    expect_code(&out, 2, "diff --delete of an unknown SelectorSyncSet")?;

    // The prediction comes true.
    sss.delete().await?;
    for c in [&c1, &c2] {
        c.no_entry(&sss).await?;
    }
    let exists = |c: &Cluster, name: &'static str| {
        let api = c.spoke().api::<ConfigMap>(spoke_ns);
        async move {
            Ok::<_, anyhow::Error>(
                api.get_opt(name)
                    .await?
                    .is_some_and(|c| c.metadata.deletion_timestamp.is_none()),
            )
        }
    };
    let found = [
        exists(&c1, "a").await?,
        exists(&c1, "b").await?,
        exists(&c2, "a").await?,
        exists(&c2, "b").await?,
    ];
    if found != [false, true, false, false] {
        bail!("after the deletion, [c1/a, c1/b, c2/a, c2/b] exist: {found:?}");
    }
    Ok(())
}
