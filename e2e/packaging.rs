//! What a user installs, against a real hub: the Helm chart's `helm template` output accepted by a server-side dry
//! run (the kustomize overlays get the same in hack/e2e.sh, `dry_run_deploy`), and the CLI as a kubectl plugin.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{ensure, Result};
use serde_json::json;

use crate::support::*;

/// helm: `$HELM`, else the one `hack/tools.sh` builds into the cache (once per test process).
fn helm_path() -> PathBuf {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(
        || match std::env::var_os("HELM").filter(|p| !p.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => script_dir("hack/tools.sh").join("helm"),
        },
    )
    .clone()
}

/// `helm template e2e-helm deploy/helm/hivesync --namespace NS ARGS...`: the manifests, or the failure.
fn helm_template(namespace: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(helm_path())
        .args(["template", "e2e-helm"])
        .arg(repo_root().join("deploy/helm/hivesync"))
        .args(["--namespace", namespace])
        .args(args)
        .output()?;
    ensure!(
        out.status.success(),
        "helm template failed: {}",
        out.describe()
    );
    Ok(out.stdout_text())
}

/// Server-side dry-runs `manifests` on the hub; returns what kubectl said, failing on a refusal or any warning.
fn dry_run_on_the_hub(manifests: &str, what: &str) -> Result<String> {
    let out = kubectl_with_stdin(
        &hub_kubeconfig(),
        [
            "apply",
            "--server-side",
            "--dry-run=server",
            "--force-conflicts",
            "--field-manager=hivesync-install",
            "-f",
            "-",
        ],
        manifests,
    );
    ensure!(
        out.status.success(),
        "{what} was refused: {}",
        out.describe()
    );
    ensure!(
        !out.stderr_text().to_lowercase().contains("warning"),
        "the hub warned about {what}: {}",
        out.describe()
    );
    Ok(out.stdout_text())
}

#[tokio::test]
async fn the_helm_chart_s_templates_are_accepted_by_a_server_side_dry_run() -> Result<()> {
    let fleet = Fleet::with_crds().await?;
    let ns = TestNamespace::create(&fleet.hub, &hub_kubeconfig(), "e2e-helm").await?;

    // The default values, with the chart's CRDs (a hub without Hive): every object accepted.
    let manifests = helm_template(&ns.name, &["--include-crds"])?;
    let said = dry_run_on_the_hub(&manifests, "helm template (default values)")?;
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/clusterdeployments.hive.openshift.io",
        "serviceaccount/e2e-helm-hivesync",
        "clusterrole.rbac.authorization.k8s.io/e2e-helm-hivesync",
        "clusterrolebinding.rbac.authorization.k8s.io/e2e-helm-hivesync",
        "role.rbac.authorization.k8s.io/e2e-helm-hivesync-leader-election",
        "rolebinding.rbac.authorization.k8s.io/e2e-helm-hivesync-leader-election",
        "deployment.apps/e2e-helm-hivesync",
        "service/e2e-helm-hivesync-metrics",
        "poddisruptionbudget.policy/e2e-helm-hivesync",
    ] {
        ensure!(
            said.lines()
                .any(|l| l.starts_with(object) && l.ends_with("(server dry run)")),
            "{object} was not applied in the dry run:\n{said}"
        );
    }
    // HA as shipped: two replicas that elect a leader, and a budget that lets a drain through one pod at a time.
    ensure!(manifests.contains("replicas: 2"), "{manifests}");
    ensure!(manifests.contains("- --leader-elect"), "{manifests}");
    ensure!(manifests.contains("maxUnavailable: 1"), "{manifests}");

    // The other knobs (shards, a pinned digest, one replica without leader election), on a hub running Hive
    // (no CRDs: --skip-crds is the default of helm template).
    let manifests = helm_template(
        &ns.name,
        &[
            "--set",
            "shards=3,image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ],
    )?;
    ensure!(manifests.contains("- --shards=3"), "{manifests}");
    let said = dry_run_on_the_hub(&manifests, "helm template (shards, digest)")?;
    ensure!(
        !said.contains("customresourcedefinition"),
        "no CRD without --include-crds:\n{said}"
    );
    let single = helm_template(
        &ns.name,
        &["--set", "replicas=1,leaderElection.enabled=false"],
    )?;
    ensure!(!single.contains("--leader-elect"), "{single}");
    dry_run_on_the_hub(&single, "helm template (one replica)")?;
    Ok(())
}

/// `kubectl hivesync ...` with a temp directory holding `kubectl-hivesync` (a symlink to the built binary) first on
/// the PATH, and kubectl from the Kubernetes binaries. kubectl takes no flag before a plugin's name, so the hub's
/// kubeconfig goes after it, where hivesync reads it as kubectl would.
fn kubectl_plugin(plugin_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let path = std::env::join_paths(std::iter::once(plugin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("a PATH");
    Command::new(kubectl_path())
        .arg("hivesync")
        .args(args)
        .arg("--kubeconfig")
        .arg(hub_kubeconfig())
        .env("PATH", path)
        .env_remove("HIVESYNC_KUBECONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("running kubectl")
}

#[tokio::test]
async fn kubectl_hivesync_status_for_one_syncset_says_where_it_landed_and_where_not() -> Result<()>
{
    let plugin_dir = tempfile::tempdir()?;
    std::os::unix::fs::symlink(hivesync_bin(), plugin_dir.path().join("kubectl-hivesync"))?;

    let fleet = Fleet::connect().await?;
    let hub_ns = fleet.namespace("e2e-plugin").await?;
    let group = Group::new("hivesync.e2e/plugin");
    let applied = fleet
        .cluster("e2e-applied")
        .in_namespace(&hub_ns.name)
        .in_group(&group)
        .reachable()
        .await?;
    // Selected, but paused: the SelectorSyncSet cannot land there.
    let paused = fleet
        .cluster("e2e-paused")
        .on(2)
        .in_namespace(&hub_ns.name)
        .in_group(&group)
        .metadata(json!({"annotations": {"hive.openshift.io/syncset-pause": "true"}}))
        .register()
        .await?;
    // Not selected.
    let other = fleet
        .cluster("e2e-other")
        .in_namespace(&hub_ns.name)
        .register()
        .await?;
    let spoke_ns = PlannedNamespace::on(&[applied.spoke()], "e2e-plugin");
    let sss = fleet.selector_syncset("e2e-plugin").selecting(&group);
    let generation = sss
        .apply(json!({"resources": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spoke_ns.name}},
            configmap(&spoke_ns.name, "c", json!({"a": "b"})),
        ]}))
        .await?;
    applied.entry(&sss, succeeded_at(generation)).await?;

    // The whole fleet of the namespace, as a kubectl plugin.
    let out = kubectl_plugin(
        plugin_dir.path(),
        &["status", "--syncset", &sss.name, "-n", &hub_ns.name],
    );
    ensure!(
        out.status.code() == Some(1),
        "not landed everywhere: exit 1: {}",
        out.describe()
    );
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    ensure!(lines.len() == 4, "header, two clusters, summary:\n{text}");
    let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    ensure!(
        cells(lines[0])
            == [
                "NAMESPACE",
                "NAME",
                "KIND",
                "RESULT",
                "GENERATION",
                "REACHABLE",
                "SINCE",
                "MESSAGE"
            ],
        "{text}"
    );
    let pending = cells(lines[1]);
    ensure!(
        pending[1] == paused.name
            && pending[2] == "SelectorSyncSet"
            && pending[3] == "Pending"
            && pending[4] == format!("0/{generation}")
            && lines[1].ends_with("cluster paused"),
        "the paused cluster first, Pending:\n{text}"
    );
    let landed = cells(lines[2]);
    ensure!(
        landed[1] == applied.name
            && landed[3] == "Applied"
            && landed[4] == format!("{generation}/{generation}"),
        "the selected reachable cluster, Applied:\n{text}"
    );
    ensure!(
        !text.contains(&other.name),
        "a cluster it does not select has no line:\n{text}"
    );
    ensure!(
        lines[3]
            == format!(
                "{}: applied on 1 of the 2 clusters it targets (0 failing, 1 pending); 1 of 3 clusters not targeted",
                sss.name
            ),
        "{text}"
    );

    // -l selects clusters by label, -o name lists them as kubectl does.
    let (key, value) = group.label();
    let selector = format!("{key}={value}");
    let out = kubectl_plugin(
        plugin_dir.path(),
        &["status", "-l", &selector, "-o", "name"],
    );
    ensure!(out.status.code() == Some(0), "{}", out.describe());
    let mut names: Vec<String> = out.stdout_text().lines().map(String::from).collect();
    names.sort();
    let mut expected = vec![
        format!("clusterdeployment.hive.openshift.io/{}", applied.name),
        format!("clusterdeployment.hive.openshift.io/{}", paused.name),
    ];
    expected.sort();
    ensure!(names == expected, "{}", out.describe());

    // Its help names it as kubectl runs it.
    let out = kubectl_plugin(plugin_dir.path(), &["status", "--help"]);
    ensure!(
        out.stdout_text().contains("Usage: kubectl hivesync status"),
        "{}",
        out.describe()
    );
    Ok(())
}
