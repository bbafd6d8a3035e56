//! The ground the rest of the suite stands on, checked against the real hub and managed clusters: the generated CRDs
//! install and are served, Hive's own manifests are accepted, ClusterSync and ClusterSyncLease keep what is written
//! to them, kubectl shows Hive's columns, invalid [Selector]SyncSets are refused with Hive's webhook messages
//! (enforced by the CRD schema here; docs/hive-compatibility.md), and the local clusters can be stopped and started.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use hivesync::api::{
    ClusterSync, ClusterSyncCondition, ClusterSyncLease, ClusterSyncLeaseSpec, ClusterSyncSpec,
    ClusterSyncStatus, SyncResourceReference, SyncSetResult, SyncStatus,
};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::json;

use crate::support::*;

fn time(s: &str) -> Time {
    Time(s.parse().unwrap_or_else(|e| panic!("bad time {s}: {e}")))
}

fn micro_time(s: &str) -> MicroTime {
    MicroTime(s.parse().unwrap_or_else(|e| panic!("bad time {s}: {e}")))
}

// ------------------------------------------------------------------------------------------------------------- CRDs

#[tokio::test]
async fn the_generated_crds_install_and_become_established() -> Result<()> {
    let client = hub().await?;
    let mut installed = install_crds(&client).await?;
    installed.sort();

    let mut expected: Vec<String> = hivesync::api::crd::all()
        .into_iter()
        .map(|(_, crd)| crd.metadata.name.unwrap_or_default())
        .collect();
    expected.sort();
    assert_eq!(
        installed, expected,
        "crds/ does not hold exactly the CRDs hivesync::api::crd::all() generates"
    );

    // Served under Hive's plurals and short names (kubectl resolves them through discovery).
    let out = kubectl(
        &hub_kubeconfig(),
        ["get", "cd,ss,sss,csync,csl", "--all-namespaces"],
    );
    assert!(
        out.status.success(),
        "kubectl get cd,ss,sss,csync,csl failed: {}",
        out.describe()
    );
    Ok(())
}

// --------------------------------------------------------------------------------------------------------- examples

fn examples_dir() -> PathBuf {
    let dir = repo_root().join("deploy/examples");
    assert!(
        dir.is_dir(),
        "the example manifests are missing: {} is not a directory",
        dir.display()
    );
    dir
}

/// The objects in a manifest file, counting the items of a `kind: List`.
fn objects_in(path: &Path) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut objects = Vec::new();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    for value in docs {
        if value.is_null() {
            continue;
        }
        if value["kind"] == "List" {
            objects.extend(value["items"].as_array().cloned().unwrap_or_default());
        } else {
            objects.push(value);
        }
    }
    objects
}

#[tokio::test]
async fn every_example_manifest_is_accepted_by_a_server_side_dry_run() -> Result<()> {
    let fleet = Fleet::with_crds().await?;
    let dir = examples_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());

    let mut kinds_seen = Vec::new();
    for file in &files {
        let objects = objects_in(file);
        for obj in &objects {
            // The namespaced examples (the SyncSet, the ClusterDeployment and its Secret) live in the cluster's
            // namespace, which the dry run needs to exist.
            if let Some(ns) = obj["metadata"]["namespace"].as_str() {
                ensure_namespace(&fleet.hub, ns).await?;
            }
            kinds_seen.push(obj["kind"].as_str().unwrap_or_default().to_string());
        }
        let out = kubectl(
            &hub_kubeconfig(),
            [
                "apply".as_ref(),
                "--server-side".as_ref(),
                "--dry-run=server".as_ref(),
                // Others may have applied the same (fixed-name) examples for real; a dry run takes over nothing.
                "--force-conflicts".as_ref(),
                format!("--field-manager={FIELD_MANAGER}").as_ref(),
                "-f".as_ref(),
                file.as_os_str(),
            ],
        );
        assert!(
            out.status.success(),
            "{} was refused: {}",
            file.display(),
            out.describe()
        );
        let accepted = out
            .stdout_text()
            .lines()
            .filter(|l| l.ends_with("(server dry run)"))
            .count();
        assert_eq!(
            accepted,
            objects.len(),
            "{}: expected every one of its {} objects to be accepted: {}",
            file.display(),
            objects.len(),
            out.describe()
        );
    }
    for kind in ["SyncSet", "SelectorSyncSet", "ClusterDeployment", "Secret"] {
        assert!(
            kinds_seen.iter().any(|k| k == kind),
            "no {kind} among the examples in {}",
            dir.display()
        );
    }
    Ok(())
}

// --------------------------------------------------------------------------------------- ClusterSync, ClusterSyncLease

/// A ClusterSync status as Hive writes it for a cluster with one failing SyncSet, one orphaned SyncSet whose deletion
/// failed and one succeeding SelectorSyncSet.
fn hive_shaped_status() -> ClusterSyncStatus {
    let reference =
        |api_version: &str, kind: &str, namespace: &str, name: &str| SyncResourceReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
        };
    ClusterSyncStatus {
        sync_sets: vec![
            SyncStatus {
                name: "gone-syncset".into(),
                observed_generation: 0,
                resources_to_delete: vec![reference("v1", "ConfigMap", "ns", "x")].into(),
                result: SyncSetResult::Failure,
                failure_message: Some(
                    "failed to delete v1, Kind=ConfigMap ns/x: configmaps \"x\" is forbidden"
                        .into(),
                ),
                last_transition_time: time("2026-08-21T10:00:00Z"),
                first_success_time: Some(time("2026-08-20T09:00:00Z")),
            },
            SyncStatus {
                name: "addon-reference-addon".into(),
                observed_generation: 3,
                resources_to_delete: vec![
                    reference(
                        "v1",
                        "ConfigMap",
                        "redhat-reference-addon",
                        "addon-parameters",
                    ),
                    reference("v1", "Namespace", "", "redhat-reference-addon"),
                ]
                .into(),
                result: SyncSetResult::Failure,
                failure_message: Some(
                    "failed to read secret 0: secrets \"addon-pull-secret\" not found".into(),
                ),
                last_transition_time: time("2026-08-21T10:00:01Z"),
                first_success_time: None,
            },
        ],
        selector_sync_sets: vec![SyncStatus {
            name: "cso-test".into(),
            observed_generation: 1,
            resources_to_delete: vec![reference("v1", "Namespace", "", "cso")].into(),
            result: SyncSetResult::Success,
            failure_message: None,
            last_transition_time: time("2026-08-20T09:00:00Z"),
            first_success_time: Some(time("2026-08-20T09:00:00Z")),
        }],
        conditions: vec![ClusterSyncCondition {
            type_: "Failed".into(),
            status: "True".into(),
            last_probe_time: Some(time("2026-08-21T10:00:01Z")),
            last_transition_time: Some(time("2026-08-21T10:00:01Z")),
            reason: "Failure".into(),
            message: "SyncSets gone-syncset, addon-reference-addon are failing".into(),
        }],
        first_success_time: Some(time("2026-08-20T09:00:00Z")),
        controlled_by_replica: Some(2),
    }
}

/// A hub namespace of the test's own (the CRDs installed), an Api for kind `K` in it, and a unique object name.
async fn in_a_hub_namespace<K>(prefix: &str) -> Result<(TestNamespace, Api<K>, String)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    let fleet = Fleet::with_crds().await?;
    let ns = fleet.namespace(prefix).await?;
    let api = fleet.api::<K>(&ns.name);
    Ok((ns, api, unique_name("cluster")))
}

/// Creates a ClusterSync named `name` and writes `status` through the status subresource.
async fn cluster_sync_with_status(
    api: &Api<ClusterSync>,
    name: &str,
    status: ClusterSyncStatus,
) -> Result<ClusterSync> {
    let mut cs = create(api, &ClusterSync::new(name, ClusterSyncSpec {})).await?;
    cs.status = Some(status);
    api.replace_status(name, &PostParams::default(), &cs)
        .await
        .with_context(|| format!("writing the status of ClusterSync {name}"))
}

#[tokio::test]
async fn a_cluster_sync_with_hive_shaped_status_is_written_through_the_status_subresource_and_read_back_equal(
) -> Result<()> {
    let (_ns, api, name) = in_a_hub_namespace::<ClusterSync>("e2e-csync-status").await?;

    let status = hive_shaped_status();
    let written = cluster_sync_with_status(&api, &name, status.clone()).await?;
    assert_eq!(
        written.status.as_ref(),
        Some(&status),
        "the status subresource answered with a different status"
    );

    let read = api.get(&name).await?;
    assert_eq!(
        read.status.as_ref(),
        Some(&status),
        "ClusterSync {name} read back with a different status"
    );
    assert_eq!(
        read.metadata.generation,
        Some(1),
        "a status write must not bump metadata.generation (status subresource)"
    );
    let via_subresource = api.get_status(&name).await?;
    assert_eq!(via_subresource.status.as_ref(), Some(&status));
    Ok(())
}

#[tokio::test]
async fn a_cluster_sync_lease_keeps_its_renew_time_to_the_microsecond() -> Result<()> {
    let (ns, api, name) = in_a_hub_namespace::<ClusterSyncLease>("e2e-csl").await?;

    let first = "2026-08-21T10:15:30.123456Z";
    let lease = ClusterSyncLease::new(
        &name,
        ClusterSyncLeaseSpec {
            renew_time: micro_time(first),
        },
    );
    create(&api, &lease).await?;
    let read = api.get(&name).await?;
    assert_eq!(
        read.spec.renew_time,
        micro_time(first),
        "renewTime read back differently"
    );
    let stored = kubectl(
        &hub_kubeconfig(),
        [
            "get",
            "clustersynclease",
            &name,
            "-n",
            &ns.name,
            "-o",
            "jsonpath={.spec.renewTime}",
        ],
    );
    assert!(stored.status.success(), "{}", stored.describe());
    assert_eq!(
        stored.stdout_text(),
        first,
        "the API server stores renewTime in another form"
    );

    // The controller renews with a plain update; a one-microsecond step must survive it.
    let renewed = "2026-08-21T10:15:30.123457Z";
    let mut update = read;
    update.spec.renew_time = micro_time(renewed);
    api.replace(&name, &PostParams::default(), &update).await?;
    assert_eq!(api.get(&name).await?.spec.renew_time, micro_time(renewed));
    Ok(())
}

#[tokio::test]
async fn kubectl_get_clustersync_shows_hives_columns_and_wide_adds_the_message() -> Result<()> {
    let (ns, api, name) = in_a_hub_namespace::<ClusterSync>("e2e-csync-columns").await?;
    let message = "SyncSet addon-reference-addon and SelectorSyncSet cso-test are failing";
    let status = ClusterSyncStatus {
        conditions: vec![ClusterSyncCondition {
            type_: "Failed".into(),
            status: "True".into(),
            reason: "Failure".into(),
            message: message.into(),
            last_probe_time: Some(time("2026-08-21T10:00:00Z")),
            last_transition_time: Some(time("2026-08-21T10:00:00Z")),
        }],
        controlled_by_replica: Some(2),
        ..Default::default()
    };
    cluster_sync_with_status(&api, &name, status).await?;

    // Hive's CRD declares Status, ControllerReplica and Message (priority 1) and no Age column, so neither does ours:
    // with additionalPrinterColumns the API server adds only NAME.
    let out = kubectl(
        &hub_kubeconfig(),
        ["get", "clustersync", &name, "-n", &ns.name],
    );
    assert!(out.status.success(), "{}", out.describe());
    let (header, rows) = parse_table(&out.stdout_text());
    assert_eq!(
        header,
        ["NAME", "STATUS", "CONTROLLERREPLICA"],
        "{}",
        out.describe()
    );
    assert_eq!(
        rows,
        [[name.as_str(), "Failure", "2"]],
        "{}",
        out.describe()
    );

    let out = kubectl(
        &hub_kubeconfig(),
        ["get", "csync", &name, "-n", &ns.name, "-o", "wide"],
    );
    assert!(out.status.success(), "{}", out.describe());
    let (header, rows) = parse_table(&out.stdout_text());
    assert_eq!(
        header,
        ["NAME", "STATUS", "CONTROLLERREPLICA", "MESSAGE"],
        "{}",
        out.describe()
    );
    assert_eq!(
        rows,
        [[name.as_str(), "Failure", "2", message]],
        "{}",
        out.describe()
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------------- validation

/// A SyncSet or SelectorSyncSet named `name` whose spec is a valid one with `changes` merged over it.
fn syncset(
    kind: &str,
    namespace: &str,
    name: &str,
    changes: serde_json::Value,
) -> serde_json::Value {
    let mut spec = json!({
        "resourceApplyMode": "Sync",
        "resources": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}}],
        "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "namespace": "default",
                     "patch": "{\"data\":{\"a\":\"b\"}}", "patchType": "merge"}],
        "secretMappings": [{"sourceRef": {"name": "src", "namespace": namespace}, "targetRef": {"name": "dst", "namespace": "default"}}],
    });
    if kind == "SyncSet" {
        spec["clusterDeploymentRefs"] = json!([{"name": "cluster1"}]);
    } else {
        spec["clusterDeploymentSelector"] = json!({"matchLabels": {"e2e": "true"}});
    }
    for (key, value) in changes.as_object().cloned().unwrap_or_default() {
        spec[key] = value;
    }
    let mut metadata = json!({"name": name});
    if kind == "SyncSet" {
        metadata["namespace"] = json!(namespace);
    }
    json!({"apiVersion": "hive.openshift.io/v1", "kind": kind, "metadata": metadata, "spec": spec})
}

/// Server-side dry-run applies `obj` on the hub; returns kubectl's output.
fn dry_run(obj: &serde_json::Value) -> std::process::Output {
    kubectl_with_stdin(
        &hub_kubeconfig(),
        [
            "apply",
            "--server-side",
            "--dry-run=server",
            &format!("--field-manager={FIELD_MANAGER}"),
            "-f",
            "-",
        ],
        &obj.to_string(),
    )
}

/// For both SyncSet and SelectorSyncSet: the valid object is accepted, and the one with `changes` is refused as
/// invalid with every one of `expected` in the API server's message.
async fn assert_refused(case: &str, changes: serde_json::Value, expected: &[&str]) -> Result<()> {
    let ns = Fleet::with_crds().await?.namespace("e2e-invalid").await?;
    for kind in ["SyncSet", "SelectorSyncSet"] {
        let name = unique_name("e2e-invalid");
        let valid = syncset(kind, &ns.name, &name, json!({}));
        let out = dry_run(&valid);
        ensure!(
            out.status.success(),
            "the valid {kind} (baseline for {case}) was refused: {}\n{valid:#}",
            out.describe()
        );

        let invalid = syncset(kind, &ns.name, &name, changes.clone());
        let out = dry_run(&invalid);
        let message = out.stderr_text();
        ensure!(
            !out.status.success(),
            "a {kind} with {case} was accepted: {}\n{invalid:#}",
            out.describe()
        );
        let missing: Vec<&&str> = expected.iter().filter(|e| !message.contains(**e)).collect();
        ensure!(
            message.contains("is invalid") && missing.is_empty(),
            "a {kind} with {case} was refused, but the message lacks {missing:?} (or \"is invalid\"):\n{message}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_syncset_with_an_unknown_resource_apply_mode_is_refused() -> Result<()> {
    assert_refused(
        "resourceApplyMode: Bogus",
        json!({"resourceApplyMode": "Bogus"}),
        &["spec.resourceApplyMode", "Unsupported value: \"Bogus\""],
    )
    .await
}

#[tokio::test]
async fn a_syncset_with_an_unknown_patch_type_is_refused() -> Result<()> {
    assert_refused(
        "patchType: xml",
        json!({"patches": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "patch": "{}", "patchType": "xml"}]}),
        &["spec.patches[0].patchType", "Unsupported value: \"xml\""],
    )
    .await
}

#[tokio::test]
async fn a_secret_mapping_without_a_source_name_is_refused() -> Result<()> {
    assert_refused(
        "sourceRef: {}",
        json!({"secretMappings": [{"sourceRef": {}, "targetRef": {"name": "dst"}}]}),
        &["spec.secretMappings[0].sourceRef.name", "Required value"],
    )
    .await
}

#[tokio::test]
async fn a_secret_mapping_with_an_empty_name_is_refused_because_name_is_required() -> Result<()> {
    assert_refused(
        "sourceRef.name: \"\"",
        json!({"secretMappings": [{"sourceRef": {"name": ""}, "targetRef": {"name": "dst"}}]}),
        &["spec.secretMappings[0].sourceRef.name", "Name is required"],
    )
    .await?;
    assert_refused(
        "targetRef.name: \"\"",
        json!({"secretMappings": [{"sourceRef": {"name": "src"}, "targetRef": {"name": ""}}]}),
        &["spec.secretMappings[0].targetRef.name", "Name is required"],
    )
    .await
}

#[tokio::test]
async fn a_resource_without_kind_is_refused() -> Result<()> {
    assert_refused(
        "a resource without kind",
        json!({"resources": [{"apiVersion": "v1", "metadata": {"name": "cm", "namespace": "default"}}]}),
        &["spec.resources[0].kind", "Required value"],
    )
    .await
}

#[tokio::test]
async fn an_openshift_authorization_cluster_role_binding_is_refused_in_favour_of_the_kubernetes_group(
) -> Result<()> {
    assert_refused(
        "an authorization.openshift.io/v1 ClusterRoleBinding",
        json!({"resources": [{
            "apiVersion": "authorization.openshift.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "crb"},
            "roleRef": {"name": "cluster-admin"},
            "subjects": [{"kind": "User", "name": "someone"}],
        }]}),
        &[
            "spec.resources[0].apiVersion",
            "must use kubernetes group for this resource kind",
        ],
    )
    .await
}

// --------------------------------------------------------------------------------------------------- local clusters

#[tokio::test]
async fn a_stopped_managed_cluster_refuses_connections_and_a_restarted_one_still_has_its_objects(
) -> Result<()> {
    let _serial = serial().await;
    let spoke = Spoke::connect(DISRUPTABLE).await?;
    let cluster = spoke.local_name();
    let ns = spoke.namespace("e2e-restart").await?;
    let configmaps = spoke.api::<ConfigMap>(&ns.name);
    let data = [("kept".to_string(), "across a restart".to_string())]
        .into_iter()
        .collect();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("survivor".into()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    };
    create(&configmaps, &cm).await?;

    // Dropping the guard (a failed assertion below) starts the cluster again.
    let stopped = spoke.stop()?;
    let fresh = Api::<ConfigMap>::namespaced(client_for(&spoke.kubeconfig).await?, &ns.name);
    let result = tokio::time::timeout(Duration::from_secs(30), fresh.get("survivor"))
        .await
        .context("a request to the stopped cluster hung instead of failing")?;
    match result {
        Ok(_) => panic!("{cluster} answered a request while stopped"),
        Err(e) => assert!(
            is_connection_refused(&e),
            "expected connection refused from the stopped {cluster}, got: {}",
            error_chain(&e)
        ),
    }
    stopped.start()?;

    let configmaps = Spoke::connect(DISRUPTABLE)
        .await?
        .api::<ConfigMap>(&ns.name);
    let after = wait_for(Duration::from_secs(30), Duration::from_millis(500), || {
        let configmaps = configmaps.clone();
        async move {
            configmaps
                .get("survivor")
                .await
                .context("ConfigMap survivor after the restart")
        }
    })
    .await?;
    assert_eq!(
        after.data, cm.data,
        "the ConfigMap changed across the restart"
    );
    Ok(())
}

/// What Hive's CRDs accept, ours accept too: a `clusterDeploymentRefs` entry without a name (Go's `+default=""`),
/// a SyncSet and a SelectorSyncSet without a `spec`, ClusterDeployment references without a name.
#[tokio::test]
async fn manifests_that_hive_s_crds_accept_are_accepted_by_ours_too() -> Result<()> {
    let ns = Fleet::with_crds()
        .await?
        .namespace("e2e-lenient-crds")
        .await?;
    let manifests = [
        json!({"apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
               "metadata": {"name": "refs-without-name", "namespace": ns.name},
               "spec": {"clusterDeploymentRefs": [{}]}}),
        json!({"apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
               "metadata": {"name": "without-spec", "namespace": ns.name}}),
        json!({"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet",
               "metadata": {"name": unique_name("without-spec")}}),
        json!({"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
               "metadata": {"name": "refs", "namespace": ns.name},
               "spec": {"clusterName": "refs", "baseDomain": "example.com", "platform": {},
                        "pullSecretRef": {},
                        "clusterMetadata": {"clusterID": "x", "infraID": "y", "adminKubeconfigSecretRef": {},
                                            "adminPasswordSecretRef": {}}}}),
    ];
    for m in &manifests {
        let out = kubectl_with_stdin(
            &hub_kubeconfig(),
            ["apply", "--dry-run=server", "--server-side", "-f", "-"],
            &m.to_string(),
        );
        ensure!(
            out.status.success(),
            "{} {} was refused: {}",
            m["kind"],
            m["metadata"]["name"],
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
