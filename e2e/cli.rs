//! `hivesync status`, `render` and `diff` end to end: the commands run as a user would run them (the built binary,
//! the hub's kubeconfig) against clusters the controller started by `hack/e2e.sh` syncs, and what they say is checked
//! against what the controller then does on the spokes.
//!
//! Each test registers its own ClusterDeployments in a hub namespace of its own; only the test that stops a cluster
//! touches `DISRUPTABLE` (managed-3), holding [`serial`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use hivesync::api::SyncSetResult;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use serde_json::{json, Value};

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

/// The hivesync binary: `$HIVESYNC_E2E_BIN`, else the one cargo built for this test.
fn hivesync_bin() -> PathBuf {
    match std::env::var_os("HIVESYNC_E2E_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_hivesync")),
    }
}

/// Runs `hivesync SUBCOMMAND ARGS... --kubeconfig <hub>` (stdout piped, so without colour).
fn hivesync(args: &[&str]) -> Output {
    let mut cmd = Command::new(hivesync_bin());
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(hub_kubeconfig())
        .env_remove("HIVESYNC_KUBECONFIG")
        .env("RUST_LOG", "warn");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", hivesync_bin().display()))
}

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
    let hub = hub().await?;
    let hub_ns = TestNamespace::on_hub(&hub, "e2e-cli-status").await?;
    let good = register_reachable(&hub, &hub_ns.name, 1, "e2e-good", &[], json!({})).await?;
    let bad = register_reachable(&hub, &hub_ns.name, 2, "e2e-bad", &[], json!({})).await?;
    let spoke_ns = unique_name("e2e-cli-status");
    let _cleanup = [
        DeleteOnDrop::new(&managed_kubeconfig(1), "namespace", None, &spoke_ns),
        DeleteOnDrop::new(&managed_kubeconfig(2), "namespace", None, &spoke_ns),
    ];
    apply_syncset_object(
        &hub,
        &syncset(
            &hub_ns.name,
            "ok",
            &[&good, &bad],
            json!({"resources": [namespace_object(&spoke_ns), configmap(&spoke_ns, "c", json!({"a": "b"}))]}),
        ),
    )
    .await?;
    apply_syncset_object(
        &hub,
        &syncset(
            &hub_ns.name,
            "broken",
            &[&bad],
            json!({"resources": [configmap(&unique_name("e2e-missing"), "c", json!({}))]}),
        ),
    )
    .await?;
    for cd in [&good, &bad] {
        wait_for_entry(&hub, &hub_ns.name, cd, EntryKind::SyncSet, "ok", is_success).await?;
    }
    wait_for_entry(
        &hub,
        &hub_ns.name,
        &bad,
        EntryKind::SyncSet,
        "broken",
        |e| e.result == SyncSetResult::Failure,
    )
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
            "LAST-FULL-REAPPLY",
            "FIRST-SUCCESS"
        ]
    );
    let first = cells(lines[1]);
    assert_eq!(
        &first[..6],
        [hub_ns.name.as_str(), &bad, "yes", "no", "1/2", "1"],
        "the failing cluster first:\n{text}"
    );
    let second = cells(lines[2]);
    assert_eq!(
        &second[..6],
        [hub_ns.name.as_str(), &good, "yes", "no", "1/1", "0"],
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

    let out = hivesync(&["status", &bad, "--namespace", &hub_ns.name, "-o", "wide"]);
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
async fn status_shows_a_stopped_cluster_unreachable() -> Result<()> {
    let _serial = serial().await;
    let hub = hub().await?;
    let hub_ns = TestNamespace::on_hub(&hub, "e2e-cli-dead").await?;
    let cd =
        register_reachable(&hub, &hub_ns.name, DISRUPTABLE, "e2e-dead", &[], json!({})).await?;
    let text = expect_code(
        &hivesync(&["status", "--namespace", &hub_ns.name]),
        0,
        "status of a reachable cluster",
    )?;
    assert!(
        line_starting(&text, &hub_ns.name)?.contains(" yes "),
        "{text}"
    );

    let stopped = stop_local_cluster(&local_cluster_name(&managed_kubeconfig(DISRUPTABLE)))?;
    wait_for_cd_condition(
        &hub,
        &hub_ns.name,
        &cd,
        "Unreachable",
        "True",
        Duration::from_secs(60),
    )
    .await?;
    let out = hivesync(&["status", "--namespace", &hub_ns.name, "-o", "wide"]);
    let text = expect_code(&out, 1, "status with an unreachable cluster")?;
    let line = line_starting(&text, &hub_ns.name)?;
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[1..3], [cd.as_str(), "no"], "{text}");
    assert!(
        line.contains("unreachable: "),
        "the wide view says why:\n{text}"
    );
    stopped.start()?;
    wait_until_reachable(&hub, &hub_ns.name, &cd).await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------------ render

#[tokio::test]
async fn render_applied_with_kubectl_gives_the_objects_hivesync_applies() -> Result<()> {
    let hub = hub().await?;
    let hub_ns = TestNamespace::on_hub(&hub, "e2e-cli-render").await?;
    let env = unique_name("staging");
    let cd = register_reachable(
        &hub,
        &hub_ns.name,
        1,
        "e2e-render",
        &[("hivesync.e2e/env", &env)],
        json!({}),
    )
    .await?;
    let spoke_ns = unique_name("e2e-cli-render");
    let _cleanup = [
        DeleteOnDrop::new(&managed_kubeconfig(1), "namespace", None, &spoke_ns),
        DeleteOnDrop::new(&managed_kubeconfig(2), "namespace", None, &spoke_ns),
    ];
    let token = "s3cr3t-value";
    let source = Secret {
        metadata: ObjectMeta {
            name: Some("source".into()),
            namespace: Some(hub_ns.name.clone()),
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
    Api::<Secret>::namespaced(hub.clone(), &hub_ns.name)
        .create(&PostParams::default(), &source)
        .await?;
    let mut labelled = configmap(
        &spoke_ns,
        "labelled",
        json!({"k": "v", "multi": "line1\nline2\n", "env": "{{ fromCDLabel \"hivesync.e2e/env\" }}"}),
    );
    labelled["metadata"]["labels"] = json!({"app": "demo"});
    let ss = unique_name("e2e-render");
    apply_syncset_object(
        &hub,
        &syncset(
            &hub_ns.name,
            &ss,
            &[&cd],
            json!({
                "resourceApplyMode": "Sync",
                "enableResourceTemplates": true,
                "resources": [labelled, namespace_object(&spoke_ns), configmap(&spoke_ns, "plain", json!({"x": "1"}))],
                "secretMappings": [{"sourceRef": {"name": "source"}, "targetRef": {"name": "copied", "namespace": spoke_ns}}],
                "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "namespace": spoke_ns, "name": "plain",
                             "patch": "{\"metadata\": {\"annotations\": {\"patched\": \"yes\"}}}", "patchType": "merge"}],
            }),
        ),
    )
    .await?;
    wait_for_entry(&hub, &hub_ns.name, &cd, EntryKind::SyncSet, &ss, is_success).await?;

    let redacted = expect_code(&hivesync(&["render", &cd, "-n", &hub_ns.name]), 0, "render")?;
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

    let out = hivesync(&["render", &format!("{}/{cd}", hub_ns.name), "--show-secrets"]);
    let text = expect_code(&out, 0, "render --show-secrets")?;
    // Namespaces first, then the rest in list order, each named by its syncset and position; the patch is a comment.
    let order = [
        format!("# SyncSet {ss}, resources[1]\n"),
        format!("# SyncSet {ss}, resources[0]\n"),
        format!("# SyncSet {ss}, resources[2]\n"),
        format!(
            "# SyncSet {ss}, secretMappings[0]: hub Secret {}/source\n",
            hub_ns.name
        ),
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
    let m2 = managed_kubeconfig(2);
    let out = kubectl_with_stdin(
        &m2,
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
    let (spoke1, spoke2) = (managed(1).await?, managed(2).await?);
    for name in ["labelled", "plain"] {
        let api = |c: &Client| Api::<ConfigMap>::namespaced(c.clone(), &spoke_ns);
        let (by_hivesync, by_kubectl) =
            (api(&spoke1).get(name).await?, api(&spoke2).get(name).await?);
        assert_eq!(by_kubectl.data, by_hivesync.data, "ConfigMap {name} data");
        assert_eq!(
            by_kubectl.metadata.labels, by_hivesync.metadata.labels,
            "ConfigMap {name} labels"
        );
    }
    let api = |c: &Client| Api::<Secret>::namespaced(c.clone(), &spoke_ns);
    let (by_hivesync, by_kubectl) = (
        api(&spoke1).get("copied").await?,
        api(&spoke2).get("copied").await?,
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
        Api::<Namespace>::all(spoke2.clone())
            .get(&spoke_ns)
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
    let hub = hub().await?;
    let hub_ns = TestNamespace::on_hub(&hub, "e2e-cli-diff").await?;
    let cd = register_reachable(&hub, &hub_ns.name, 1, "e2e-diff", &[], json!({})).await?;
    let spoke = managed(1).await?;
    let spoke_ns = unique_name("e2e-cli-diff");
    let _cleanup = DeleteOnDrop::new(&managed_kubeconfig(1), "namespace", None, &spoke_ns);
    let ss = unique_name("e2e-diff");
    let before = syncset(
        &hub_ns.name,
        &ss,
        &[&cd],
        json!({
            "resourceApplyMode": "Sync",
            "resources": [namespace_object(&spoke_ns), configmap(&spoke_ns, "keep", json!({"a": "1", "same": "x"})),
                          configmap(&spoke_ns, "drop", json!({"b": "2"}))],
        }),
    );
    apply_syncset_object(&hub, &before).await?;
    wait_for_entry(&hub, &hub_ns.name, &cd, EntryKind::SyncSet, &ss, is_success).await?;
    let configmaps = Api::<ConfigMap>::namespaced(spoke.clone(), &spoke_ns);
    let target: ConfigMap =
        serde_json::from_value(configmap(&spoke_ns, "target", json!({"t": "1"})))?;
    configmaps.create(&PostParams::default(), &target).await?;

    let text = expect_code(
        &hivesync(&["diff", &cd, "-n", &hub_ns.name]),
        0,
        "diff with nothing to change",
    )?;
    assert!(
        text.contains("0 to create, 0 to change, 0 to patch, 0 to delete, 3 unchanged, 0 failing"),
        "{text}"
    );

    let after = syncset(
        &hub_ns.name,
        &ss,
        &[&cd],
        json!({
            "resourceApplyMode": "Sync",
            "resources": [namespace_object(&spoke_ns), configmap(&spoke_ns, "keep", json!({"a": "2", "same": "x"})),
                          configmap(&spoke_ns, "new", json!({"c": "3"}))],
            "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "namespace": spoke_ns, "name": "target",
                         "patch": "{\"metadata\": {\"labels\": {\"patched\": \"true\"}}}", "patchType": "merge"}],
        }),
    );
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), serde_yaml::to_string(&after)?)?;
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
    let ns_rv = resource_version(&Api::<Namespace>::all(spoke.clone()), &spoke_ns).await?;

    let out = hivesync(&[
        "diff",
        &format!("{}/{cd}", hub_ns.name),
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
        text.contains("\n    -  a: '1'\n    +  a: '2'\n"),
        "a readable diff of the change:\n{text}"
    );
    line_starting(
        &text,
        &format!(
            "+ created   v1 ConfigMap {spoke_ns}/new  {}",
            origin("resources[2]")
        ),
    )?;
    assert!(text.contains("    +  c: '3'\n"), "{text}");
    line_starting(
        &text,
        &format!(
            "~ patch     v1 ConfigMap {spoke_ns}/target  {}",
            origin("patches[0]")
        ),
    )?;
    assert!(text.contains("    +    patched: 'true'\n"), "{text}");
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
        &hivesync(&["diff", &cd, "-n", &hub_ns.name, "--syncset", &ss]),
        0,
        "diff --syncset",
    )?;
    assert!(text.contains("3 unchanged"), "{text}");
    let out = hivesync(&["diff", &cd, "-n", &hub_ns.name, "--syncset", "nope"]);
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
        resource_version(&Api::<Namespace>::all(spoke.clone()), &spoke_ns).await?,
        ns_rv
    );
    ensure!(
        configmaps.get_opt("new").await?.is_none(),
        "diff created ConfigMap new"
    );

    // The prediction comes true.
    let generation = apply_syncset_object(&hub, &after).await?;
    wait_for_entry(&hub, &hub_ns.name, &cd, EntryKind::SyncSet, &ss, |e| {
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
        &hivesync(&["diff", &cd, "-n", &hub_ns.name]),
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
    let hub = hub().await?;
    let hub_ns = TestNamespace::on_hub(&hub, "e2e-cli-del").await?;
    let selector = unique_name("e2e-del");
    let labels = [("hivesync.e2e/cli-delete", selector.as_str())];
    let c1 = register_reachable(&hub, &hub_ns.name, 1, "e2e-del-a", &labels, json!({})).await?;
    let c2 = register_reachable(&hub, &hub_ns.name, 2, "e2e-del-b", &labels, json!({})).await?;
    let spoke_ns = unique_name("e2e-cli-del");
    let (spoke1, spoke2) = (managed(1).await?, managed(2).await?);
    ensure_namespace(&spoke1, &spoke_ns).await?;
    ensure_namespace(&spoke2, &spoke_ns).await?;
    let _cleanup = [
        DeleteOnDrop::new(&managed_kubeconfig(1), "namespace", None, &spoke_ns),
        DeleteOnDrop::new(&managed_kubeconfig(2), "namespace", None, &spoke_ns),
    ];
    let sss = unique_name("e2e-del");
    let _sss_guard = DeleteOnDrop::on_hub("selectorsyncset", None, &sss);
    let obj = json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "SelectorSyncSet",
        "metadata": {"name": sss},
        "spec": {
            "clusterDeploymentSelector": {"matchLabels": {labels[0].0: labels[0].1}},
            "resourceApplyMode": "Sync",
            "resources": [configmap(&spoke_ns, "a", json!({})), configmap(&spoke_ns, "b", json!({}))],
        },
    });
    apply_selector_syncset_object(&hub, &obj).await?;
    // c1 also has a SyncSet that declares b: deleting the SelectorSyncSet hands b over instead of deleting it.
    apply_syncset_object(
        &hub,
        &syncset(&hub_ns.name, "keeper", &[&c1], json!({"resourceApplyMode": "Sync", "resources": [configmap(&spoke_ns, "b", json!({}))]})),
    )
    .await?;
    for cd in [&c1, &c2] {
        wait_for_entry(
            &hub,
            &hub_ns.name,
            cd,
            EntryKind::SelectorSyncSet,
            &sss,
            |e| is_success(e) && e.resources_to_delete.len() == 2,
        )
        .await?;
    }
    wait_for_entry(
        &hub,
        &hub_ns.name,
        &c1,
        EntryKind::SyncSet,
        "keeper",
        is_success,
    )
    .await?;

    let out = hivesync(&["diff", "--delete", &format!("selectorsyncset/{sss}")]);
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
        ns = hub_ns.name
    );
    assert_eq!(text, expected);
    let out = hivesync(&["diff", "--delete", "selectorsyncset/does-not-exist"]);
    expect_code(&out, 2, "diff --delete of an unknown SelectorSyncSet")?;

    // The prediction comes true.
    delete_selector_syncset(&hub, &sss).await?;
    for cd in [&c1, &c2] {
        wait_for_no_entry(&hub, &hub_ns.name, cd, EntryKind::SelectorSyncSet, &sss).await?;
    }
    let exists = |c: &Client, name: &'static str| {
        let api = Api::<ConfigMap>::namespaced(c.clone(), &spoke_ns);
        async move {
            Ok::<_, anyhow::Error>(
                api.get_opt(name)
                    .await?
                    .is_some_and(|c| c.metadata.deletion_timestamp.is_none()),
            )
        }
    };
    let found = [
        exists(&spoke1, "a").await?,
        exists(&spoke1, "b").await?,
        exists(&spoke2, "a").await?,
        exists(&spoke2, "b").await?,
    ];
    if found != [false, true, false, false] {
        bail!("after the deletion, [c1/a, c1/b, c2/a, c2/b] exist: {found:?}");
    }
    Ok(())
}
