//! The whole payload end to end (issue 4): patches, secret mappings, templates, conflicts between syncsets and the
//! deletion safety of invalid selectors, against the controller started by `hack/e2e.sh` and the real hub and
//! managed clusters. Behaviour: as Hive's (its e2e scenario 3 among them), with the deliberate differences that
//! changes propagate in seconds and that nothing is deleted silently (docs/hive-compatibility.md).
//!
//! Each test registers its own ClusterDeployments (unique hub namespaces and names) pointing at managed-1 or
//! managed-2, and the objects it syncs live in spoke namespaces of its own.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use crate::support::*;

// ------------------------------------------------------------------------------------------------------ helpers

fn bytes(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect()
}

/// Creates ConfigMap `namespace/name` with `data` directly on a spoke (not through hivesync).
async fn create_configmap(
    spoke: &Spoke,
    namespace: &str,
    name: &str,
    pairs: &[(&str, &str)],
) -> Result<ConfigMap> {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        data: Some(data(pairs)),
        ..Default::default()
    };
    create(&spoke.api::<ConfigMap>(namespace), &cm).await
}

/// Creates hub Secret `namespace/name` of `type_` with `pairs` as data and `labels`.
async fn create_hub_secret(
    hub: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
    pairs: &[(&str, &str)],
    labels: &[(&str, &str)],
) -> Result<Secret> {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(data(labels)),
            ..Default::default()
        },
        type_: Some(type_.into()),
        data: Some(bytes(pairs)),
        ..Default::default()
    };
    create(&Api::<Secret>::namespaced(hub.clone(), namespace), &secret).await
}

/// Waits (up to `timeout`) until Secret `namespace/name` on the spoke exists and satisfies `predicate`.
async fn wait_for_spoke_secret(
    spoke: &Spoke,
    namespace: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    predicate: impl Fn(&Secret) -> bool,
) -> Result<Secret> {
    // The data's keys only: the values are secret.
    let seen = |s: &Secret| {
        format!(
            "type {:?}, labels {:?}, data keys {:?}",
            s.type_,
            s.metadata.labels,
            s.data.as_ref().map(|d| d.keys().collect::<Vec<_>>())
        )
    };
    spoke
        .wait_object(namespace, name, what, timeout, predicate, seen)
        .await
}

/// Asserts that spoke ConfigMap `namespace/name` exists and is not being deleted, now and `checks` more times one
/// second apart.
async fn assert_configmap_stays(
    spoke: &Spoke,
    namespace: &str,
    name: &str,
    why: &str,
    checks: u32,
) -> Result<()> {
    let api = spoke.api::<ConfigMap>(namespace);
    for i in 0..=checks {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let cm = api.get_opt(name).await?;
        ensure!(
            cm.as_ref()
                .is_some_and(|cm| cm.metadata.deletion_timestamp.is_none()),
            "spoke ConfigMap {namespace}/{name} was deleted ({why}) after {i} s: {cm:?}"
        );
    }
    Ok(())
}

/// The `data` value `key` of `cm`, if any.
fn value_of<'a>(cm: &'a ConfigMap, key: &str) -> Option<&'a str> {
    cm.data.as_ref()?.get(key).map(String::as_str)
}

// ------------------------------------------------------------------------------------------------------ patches

/// Hive's e2e #3: a ConfigMap that hivesync did not create, patched with merge, then strategic, then json patches by
/// editing one Sync-mode SyncSet; the value changes each time and nothing is tracked. A second patch without a
/// namespace (and without a type: strategic) reaches its ConfigMap in `default`. Deleting the SyncSet leaves both.
#[tokio::test]
async fn merge_strategic_and_json_patches_change_a_precreated_configmap_and_are_never_tracked(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-patch").reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-patch").await?;
    let in_default = unique_name("e2e-patch-default");
    let _cleanup = spoke.delete_on_drop("configmap", Some("default"), &in_default);
    create_configmap(
        spoke,
        &spoke_ns.name,
        "precreated",
        &[("foo", "original"), ("keep", "me")],
    )
    .await?;
    create_configmap(spoke, "default", &in_default, &[("foo", "original")]).await?;
    let ss = cluster.syncset("e2e-patch");

    let steps = [
        (
            "merge",
            r#"{"data":{"foo":"merged"}}"#.to_string(),
            "merged",
        ),
        (
            "strategic",
            r#"{"data":{"foo":"strategic"}}"#.to_string(),
            "strategic",
        ),
        (
            "json",
            r#"[{"op":"replace","path":"/data/foo","value":"json-replaced"}]"#.to_string(),
            "json-replaced",
        ),
    ];
    for (patch_type, patch, value) in &steps {
        let generation = ss
            .apply(json!({
                "resourceApplyMode": "Sync",
                "patches": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "precreated", "namespace": spoke_ns.name,
                     "patch": patch, "patchType": patch_type},
                    // No namespace: `default`, as in Hive. No patchType: strategic.
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": in_default,
                     "patch": format!(r#"{{"data":{{"foo":"{value}-default"}}}}"#)},
                ],
            }))
            .await?;
        let entry = cluster
            .entry(&ss, succeeded_at(generation))
            .await
            .with_context(|| format!("the {patch_type} patch (generation {generation})"))?;
        assert!(
            entry.resources_to_delete.is_empty(),
            "patches are never tracked for deletion, even in Sync mode ({patch_type}): {entry:?}"
        );
        assert!(
            entry.failure_message.is_none(),
            "a Success entry has no failureMessage ({patch_type}): {entry:?}"
        );
        let cm = spoke
            .wait_value(&spoke_ns.name, "precreated", "foo", value)
            .await
            .with_context(|| format!("the {patch_type} patch"))?;
        assert_eq!(
            value_of(&cm, "keep"),
            Some("me"),
            "a {patch_type} patch of one key leaves the others alone: {:?}",
            cm.data
        );
        spoke
            .wait_value("default", &in_default, "foo", &format!("{value}-default"))
            .await
            .with_context(|| format!("the namespace-less patch next to the {patch_type} patch"))?;
    }

    // Patches are never undone: deleting the Sync-mode SyncSet deletes nothing.
    ss.delete().await?;
    cluster.no_entry(&ss).await?;
    let why = "a patched object is not the syncset's to delete";
    assert_configmap_stays(spoke, &spoke_ns.name, "precreated", why, 2).await?;
    assert_configmap_stays(spoke, "default", &in_default, why, 0).await?;
    let cm = spoke
        .api::<ConfigMap>(&spoke_ns.name)
        .get("precreated")
        .await?;
    assert_eq!(
        value_of(&cm, "foo"),
        Some("json-replaced"),
        "deleting the SyncSet does not revert its patches"
    );
    Ok(())
}

/// A patch whose body is not JSON fails with Hive's messages everywhere they show: the entry, the ClusterSync
/// `Failed` condition, the ClusterDeployment's `SyncSetFailed`, and a WARN line in the controller's log.
#[tokio::test]
async fn a_malformed_json_patch_fails_with_hives_messages_and_a_warning_in_the_log() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-badpatch").on(2).reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-badpatch").await?;
    create_configmap(spoke, &spoke_ns.name, "target", &[("foo", "original")]).await?;
    let ss = cluster.syncset("e2e-badpatch");

    let generation = ss
        .apply(json!({
            "resourceApplyMode": "Sync",
            "patches": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "target", "namespace": spoke_ns.name,
                         "patch": r#"{"data": {"foo": "#, "patchType": "merge"}],
        }))
        .await?;
    let entry = cluster.entry(&ss, failed_at(generation)).await?;
    let message = entry.failure_message.clone().unwrap_or_default();
    assert!(
        message.starts_with("failed to apply patch 0: "),
        "failureMessage should start with Hive's prefix: {message:?}"
    );
    assert!(
        entry.resources_to_delete.is_empty(),
        "a patch is never tracked: {entry:?}"
    );

    cluster
        .wait_cluster_sync_failed(
            "True",
            "Failure",
            &format!("SyncSet {} is failing", ss.name),
        )
        .await?;
    cluster.expect_syncset_apply_failure().await?;

    let lines = wait_for_controller_log_line(
        &[&cluster.name, "running the patch command failed"],
        Duration::from_secs(10),
    )
    .await?;
    assert!(
        lines.iter().any(|l| l.contains(" WARN ")),
        "the failed patch is logged at warning level (OTE OCP-29855), not error or info: {lines:#?}"
    );

    let cm = spoke.api::<ConfigMap>(&spoke_ns.name).get("target").await?;
    assert_eq!(
        cm.data,
        Some(data(&[("foo", "original")])),
        "a malformed patch changes nothing"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------- secret mappings

/// A SyncSet copies a hub Secret from its own namespace to the spoke (type, data, labels, plus the managed label),
/// and an edit of the hub Secret's data reaches the spoke within seconds without any edit of the SyncSet.
#[tokio::test]
async fn a_secret_mapping_copies_the_hub_secret_and_an_edit_of_its_data_reaches_the_spoke_in_seconds(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let hub = &fleet.hub;
    let cluster = fleet.cluster("e2e-secret").reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-secret").await?;
    let source = unique_name("e2e-source");
    create_hub_secret(
        hub,
        cluster.ns(),
        &source,
        "Opaque",
        &[("user", "alice"), ("password", "s3cr3t")],
        &[("app", "e2e-secret")],
    )
    .await?;
    let ss = cluster.syncset("e2e-secret");
    let generation = ss
        .apply(json!({
            "resourceApplyMode": "Sync",
            "secretMappings": [secret_mapping(&source, None, &spoke_ns.name, "copied")],
        }))
        .await?;
    let entry = cluster.entry(&ss, succeeded_at(generation)).await?;
    assert_eq!(
        entry.resources_to_delete,
        vec![reference("v1", "Secret", &spoke_ns.name, "copied")],
        "a Sync-mode SyncSet tracks the secret mapping's target"
    );

    let copy = wait_for_spoke_secret(
        spoke,
        &spoke_ns.name,
        "copied",
        "copied",
        Duration::from_secs(30),
        |_| true,
    )
    .await?;
    assert_eq!(copy.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        copy.data,
        Some(bytes(&[("user", "alice"), ("password", "s3cr3t")]))
    );
    assert_eq!(
        label(&copy.metadata, MANAGED_LABEL),
        Some("true"),
        "the copy carries {MANAGED_LABEL}=true: {:?}",
        copy.metadata.labels
    );
    assert_eq!(
        label(&copy.metadata, "app"),
        Some("e2e-secret"),
        "the copy keeps the source's labels: {:?}",
        copy.metadata.labels
    );

    // Edit the source's data only; the SyncSet is not touched.
    let secrets = Api::<Secret>::namespaced(hub.clone(), cluster.ns());
    let started = Instant::now();
    secrets
        .patch(
            &source,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"password": base64_of("rotated")}})),
        )
        .await
        .context("editing the source Secret")?;
    let expected = bytes(&[("user", "alice"), ("password", "rotated")]);
    wait_for_spoke_secret(
        spoke,
        &spoke_ns.name,
        "copied",
        "updated with the edited source data",
        Duration::from_secs(60),
        |s| s.data.as_ref() == Some(&expected),
    )
    .await?;
    let elapsed = started.elapsed();
    eprintln!("the edited hub Secret reached the spoke copy in {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(20),
        "the edited hub Secret took {elapsed:?} to reach the spoke (expected seconds, < 20 s)"
    );
    let entry = cluster.entry(&ss, is_success).await?;
    assert_eq!(
        entry.observed_generation, generation,
        "the SyncSet was not edited"
    );
    Ok(())
}

fn base64_of(s: &str) -> String {
    // A ByteString serialises as base64: reuse k8s-openapi's encoding rather than another dependency.
    serde_json::to_value(ByteString(s.as_bytes().to_vec()))
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A SelectorSyncSet's secret mapping reads its source from the namespace its `sourceRef` names.
#[tokio::test]
async fn a_selector_syncset_secret_mapping_copies_the_secret_from_the_namespace_its_source_names(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-sss-secret");
    let cluster = fleet
        .cluster("e2e-sss-secret")
        .on(2)
        .in_group(&group)
        .reachable()
        .await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-sss-secret").await?;
    let source_ns = fleet.namespace("e2e-sss-source").await?;
    let source = unique_name("e2e-source");
    create_hub_secret(
        &fleet.hub,
        &source_ns.name,
        &source,
        "Opaque",
        &[("token", "abc123")],
        &[],
    )
    .await?;
    let sss = fleet.selector_syncset("e2e-sss-secret").selecting(&group);
    let generation = sss
        .apply(json!({
            "resourceApplyMode": "Sync",
            "secretMappings": [
                secret_mapping(&source, Some(&source_ns.name), &spoke_ns.name, "selected-copy"),
            ],
        }))
        .await?;
    let entry = cluster.entry(&sss, succeeded_at(generation)).await?;
    assert_eq!(
        entry.resources_to_delete,
        vec![reference("v1", "Secret", &spoke_ns.name, "selected-copy")]
    );
    let copy = wait_for_spoke_secret(
        spoke,
        &spoke_ns.name,
        "selected-copy",
        "copied",
        Duration::from_secs(30),
        |_| true,
    )
    .await?;
    assert_eq!(copy.data, Some(bytes(&[("token", "abc123")])));
    assert_eq!(copy.type_.as_deref(), Some("Opaque"));
    assert_eq!(label(&copy.metadata, MANAGED_LABEL), Some("true"));
    Ok(())
}

/// A missing source Secret fails the SyncSet with Hive's message and puts nothing on the spoke; creating it later
/// makes the SyncSet succeed without any edit (retry with backoff, or the source's watch).
#[tokio::test]
async fn a_missing_source_secret_fails_with_hives_message_and_succeeds_once_it_exists() -> Result<()>
{
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-nosource").on(2).reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-nosource").await?;
    let source = unique_name("e2e-absent");
    let ss = cluster.syncset("e2e-nosource");
    let generation = ss
        .apply(json!({
            "resourceApplyMode": "Sync",
            "secretMappings": [secret_mapping(&source, None, &spoke_ns.name, "copy")],
        }))
        .await?;
    let entry = cluster.entry(&ss, failed_at(generation)).await?;
    assert_eq!(
        entry.failure_message.as_deref(),
        Some(format!(r#"failed to read secret 0: secrets "{source}" not found"#).as_str())
    );
    ensure!(
        spoke
            .api::<Secret>(&spoke_ns.name)
            .get_opt("copy")
            .await?
            .is_none(),
        "a mapping whose source is missing put a Secret on the spoke"
    );

    create_hub_secret(
        &fleet.hub,
        cluster.ns(),
        &source,
        "Opaque",
        &[("late", "but-here")],
        &[],
    )
    .await?;
    let started = Instant::now();
    let entry = cluster
        .entry_within(&ss, Duration::from_secs(60), succeeded_at(generation))
        .await?;
    eprintln!(
        "the SyncSet succeeded {:?} after its source Secret was created",
        started.elapsed()
    );
    assert!(entry.failure_message.is_none(), "{entry:?}");
    let copy = wait_for_spoke_secret(
        spoke,
        &spoke_ns.name,
        "copy",
        "copied",
        Duration::from_secs(30),
        |_| true,
    )
    .await?;
    assert_eq!(copy.data, Some(bytes(&[("late", "but-here")])));
    Ok(())
}

/// A SyncSet may only copy Secrets from its own namespace (`source in wrong namespace for secret 0`), and a
/// SelectorSyncSet must say which namespace (`source namespace missing for secret 0`). Neither puts anything on the
/// spoke.
#[tokio::test]
async fn secret_mappings_from_another_namespace_or_without_one_are_refused_with_hives_messages(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-srcns");
    let cluster = fleet
        .cluster("e2e-srcns")
        .in_group(&group)
        .reachable()
        .await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-srcns").await?;
    // The source exists, in another hub namespace: the refusal is about the namespace, not a missing Secret.
    let other_ns = fleet.namespace("e2e-srcns-other").await?;
    let source = unique_name("e2e-elsewhere");
    for namespace in [other_ns.name.as_str(), cluster.ns()] {
        create_hub_secret(&fleet.hub, namespace, &source, "Opaque", &[("k", "v")], &[]).await?;
    }

    let ss = cluster.syncset("e2e-wrongns");
    let generation = ss
        .apply(json!({
            "secretMappings": [
                secret_mapping(&source, Some(&other_ns.name), &spoke_ns.name, "from-elsewhere"),
            ],
        }))
        .await?;
    let sss = fleet.selector_syncset("e2e-nons").selecting(&group);
    let sss_generation = sss
        .apply(json!({
            "secretMappings": [secret_mapping(&source, None, &spoke_ns.name, "no-namespace")],
        }))
        .await?;

    let entry = cluster.entry(&ss, failed_at(generation)).await?;
    assert_eq!(
        entry.failure_message.as_deref(),
        Some("source in wrong namespace for secret 0")
    );
    let entry = cluster.entry(&sss, failed_at(sss_generation)).await?;
    assert_eq!(
        entry.failure_message.as_deref(),
        Some("source namespace missing for secret 0")
    );
    cluster
        .wait_cluster_sync_failed(
            "True",
            "Failure",
            &format!(
                "SyncSet {} and SelectorSyncSet {} are failing",
                ss.name, sss.name
            ),
        )
        .await?;
    let secrets = spoke.api::<Secret>(&spoke_ns.name);
    for name in ["from-elsewhere", "no-namespace"] {
        ensure!(
            secrets.get_opt(name).await?.is_none(),
            "a refused mapping put Secret {name} on the spoke"
        );
    }
    Ok(())
}

// -------------------------------------------------------------------------------------------- the addon example

/// `deploy/examples/addon-install.syncset.yaml` (OCM's addon install SyncSet: a Namespace, a ConfigMap, a merge
/// patch of it and a pull-secret mapping), moved to a unique hub namespace, CD and spoke namespace, applies in full.
#[tokio::test]
async fn the_addon_install_example_applies_its_resources_patch_and_secret_mapping_in_full(
) -> Result<()> {
    let path = repo_root().join("deploy/examples/addon-install.syncset.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the example {}", path.display()))?;
    let mut obj: Value = serde_saphyr::from_str(&text)
        .with_context(|| format!("parsing the example {}", path.display()))?;

    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-addon").reachable().await?;
    let spoke = cluster.spoke();
    let addon_ns = PlannedNamespace::on(&[spoke], "e2e-reference-addon");
    let addon_ns = &addon_ns.name;

    // Move the example: hub namespace and CD, and the spoke namespace wherever it appears. Every edit checks the
    // value it replaces, so a changed example fails here rather than passing for the wrong reason.
    let mut set = |pointer: &str, expected: &str, value: &str| -> Result<()> {
        let slot = obj
            .pointer_mut(pointer)
            .with_context(|| format!("the example has no {pointer}"))?;
        ensure!(
            slot == &json!(expected),
            "the example's {pointer} is {slot}, expected {expected:?}"
        );
        *slot = json!(value);
        Ok(())
    };
    set(
        "/metadata/namespace",
        "uhc-production-cluster1",
        cluster.ns(),
    )?;
    set(
        "/spec/clusterDeploymentRefs/0/name",
        "cluster1",
        &cluster.name,
    )?;
    for pointer in [
        "/spec/resources/0/metadata/name",
        "/spec/resources/1/metadata/namespace",
        "/spec/patches/0/namespace",
        "/spec/secretMappings/0/targetRef/namespace",
    ] {
        set(pointer, "redhat-reference-addon", addon_ns)?;
    }
    let ss = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        obj["spec"]["secretMappings"][0]["sourceRef"]["name"] == json!("addon-pull-secret"),
        "the example's secret mapping no longer copies addon-pull-secret: {}",
        obj["spec"]["secretMappings"]
    );

    let pull_secret = r#"{"auths":{"registry.example.com":{"auth":"ZTJlOmUyZQ=="}}}"#;
    create_hub_secret(
        &fleet.hub,
        cluster.ns(),
        "addon-pull-secret",
        "kubernetes.io/dockerconfigjson",
        &[(".dockerconfigjson", pull_secret)],
        &[],
    )
    .await?;
    let generation = apply_syncset_object(&fleet.hub, &obj).await?;

    let entry = cluster
        .entry(&(EntryKind::SyncSet, ss.as_str()), succeeded_at(generation))
        .await?;
    assert_eq!(
        entry.resources_to_delete,
        vec![
            reference("v1", "ConfigMap", addon_ns, "addon-parameters"),
            reference("v1", "Namespace", "", addon_ns),
            reference("v1", "Secret", addon_ns, "addon-pull-secret"),
        ],
        "Namespace, ConfigMap and copied Secret are tracked, sorted (apiVersion, kind, namespace, name); the patch is not"
    );

    let ns = spoke
        .api_all::<Namespace>()
        .get_opt(addon_ns)
        .await?
        .with_context(|| format!("namespace {addon_ns} is not on the spoke"))?;
    assert_eq!(label(&ns.metadata, MANAGED_LABEL), Some("true"));
    let cm = spoke
        .wait_value(addon_ns, "addon-parameters", "patched", "true")
        .await?;
    assert_eq!(
        cm.data,
        Some(data(&[
            ("notification-email", "me@somewhere.com"),
            ("patched", "true")
        ])),
        "the ConfigMap has its data and the merge patch's key"
    );
    let secret = wait_for_spoke_secret(
        spoke,
        addon_ns,
        "addon-pull-secret",
        "copied",
        Duration::from_secs(30),
        |_| true,
    )
    .await?;
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    assert_eq!(
        secret.data,
        Some(bytes(&[(".dockerconfigjson", pull_secret)]))
    );
    assert_eq!(label(&secret.metadata, MANAGED_LABEL), Some("true"));
    Ok(())
}

// ------------------------------------------------------------- conflicts between syncsets (no silent deletion)

/// Two Sync-mode SyncSets for one cluster declare the same ConfigMap: both succeed and name each other; deleting one
/// leaves the ConfigMap on the spoke (the other still declares it) and clears the remaining entry's note.
#[tokio::test]
async fn an_object_declared_by_two_syncsets_is_named_in_both_and_survives_the_deletion_of_one(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-conflict").reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-conflict").await?;
    let first = cluster.syncset("e2e-conflict-a");
    let second = cluster.syncset("e2e-conflict-b");
    let spec = json!({
        "resourceApplyMode": "Sync",
        "resources": [configmap(&spoke_ns.name, "shared", json!({"owner": "both"}))],
    });
    first.apply(spec.clone()).await?;
    second.apply(spec).await?;

    let note = |other: &SyncSet| {
        format!(
            "conflict: v1, Kind=ConfigMap {}/shared is also declared by SyncSet {}",
            spoke_ns.name, other.name
        )
    };
    for (me, other) in [(&first, &second), (&second, &first)] {
        let expected = note(other);
        let entry = cluster
            .entry(me, |e| {
                is_success(e) && e.failure_message.as_deref() == Some(expected.as_str())
            })
            .await
            .with_context(|| {
                format!("SyncSet {} should succeed and name {}", me.name, other.name)
            })?;
        assert_eq!(
            entry.resources_to_delete,
            vec![reference("v1", "ConfigMap", &spoke_ns.name, "shared")]
        );
    }
    spoke
        .wait_value(&spoke_ns.name, "shared", "owner", "both")
        .await?;
    cluster
        .wait_cluster_sync_failed(
            "False",
            "Success",
            "All SyncSets and SelectorSyncSets have been applied to the cluster",
        )
        .await
        .context("a conflict note is not a failure")?;

    first.delete().await?;
    cluster.no_entry(&first).await?;
    let entry = cluster
        .entry(&second, |e| is_success(e) && e.failure_message.is_none())
        .await
        .context("the remaining entry's conflict note should clear")?;
    assert_eq!(
        entry.resources_to_delete,
        vec![reference("v1", "ConfigMap", &spoke_ns.name, "shared")],
        "the remaining SyncSet still tracks the ConfigMap"
    );
    assert_configmap_stays(
        spoke,
        &spoke_ns.name,
        "shared",
        &format!("SyncSet {} still declares it", second.name),
        4,
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------------------- deletion safety (invalid selectors)

/// A Sync-mode SelectorSyncSet whose selector is edited into an invalid one (`In` without values, which the API
/// server accepts) is reported as failing on the cluster it matched, and does not delete what it made there (Hive
/// would treat it as "matches nothing" and delete everything). Fixing the selector makes it succeed again.
#[tokio::test]
async fn a_selector_edited_into_an_invalid_one_is_reported_and_deletes_nothing() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-badsel");
    let cluster = fleet
        .cluster("e2e-badsel")
        .on(2)
        .in_group(&group)
        .reachable()
        .await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-badsel").await?;
    let sss = fleet.selector_syncset("e2e-badsel");
    let spec = |selector: Value| {
        json!({
            "clusterDeploymentSelector": selector,
            "resourceApplyMode": "Sync",
            "resources": [configmap(&spoke_ns.name, "precious", json!({"keep": "me"}))],
        })
    };
    let generation = sss.apply(spec(group.selector())).await?;
    cluster.entry(&sss, succeeded_at(generation)).await?;
    spoke
        .wait_value(&spoke_ns.name, "precious", "keep", "me")
        .await?;

    // The API server accepts `In` without values (checked: no schema rule refuses it); the controller finds it
    // invalid (metav1.LabelSelectorAsSelector refuses it too).
    let invalid = json!({"matchExpressions": [{"key": "e2e-badsel", "operator": "In"}]});
    let generation = sss
        .apply(spec(invalid))
        .await
        .context("the API server should accept an `In` requirement without values")?;
    let entry = cluster.entry(&sss, failed_at(generation)).await?;
    let message = entry.failure_message.clone().unwrap_or_default();
    assert!(
        message.contains("invalid clusterDeploymentSelector"),
        "the entry should say the selector is invalid: {message:?}"
    );
    assert_configmap_stays(
        spoke,
        &spoke_ns.name,
        "precious",
        "an invalid selector must not count as 'matches nothing'",
        4,
    )
    .await?;

    let generation = sss.apply(spec(group.selector())).await?;
    cluster
        .entry(&sss, succeeded_at(generation))
        .await
        .context("the fixed selector should apply again")?;
    assert_configmap_stays(
        spoke,
        &spoke_ns.name,
        "precious",
        "the selector was fixed",
        0,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------- templates

/// Read by a template in a Namespace's `metadata.name`: no `/` in the key, because the API server validates an
/// embedded resource's name (a path segment) before any template is rendered.
const TEMPLATE_NAMESPACE_LABEL: &str = "hivesync-e2e-tpl-namespace";
/// Read by a template in a ConfigMap's data (any key works there).
const TEMPLATE_VALUE_LABEL: &str = "hivesync.e2e/tpl-value";

fn from_cd_label(key: &str) -> String {
    format!(r#"{{{{ fromCDLabel "{key}" }}}}"#)
}

/// A SelectorSyncSet with `enableResourceTemplates` lands on two clusters with each one's own label values (a
/// Namespace named from a label, and a ConfigMap data value), and a label change on one cluster reaches its spoke
/// within seconds (Hive waits for the next full re-apply). A namespaced resource's `metadata.namespace` cannot be
/// templated: the API server refuses the SelectorSyncSet (see the next test), so the ConfigMap lives in a fixed
/// namespace.
#[tokio::test]
async fn templated_resources_land_with_each_clusters_labels_and_follow_a_label_change_in_seconds(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let group = Group::new("e2e-tpl");
    let ns_one = unique_name("e2e-tpl-one");
    let ns_two = unique_name("e2e-tpl-two");
    let one = fleet
        .cluster("e2e-tpl-one")
        .in_group(&group)
        .labels(&[
            (TEMPLATE_NAMESPACE_LABEL, &ns_one),
            (TEMPLATE_VALUE_LABEL, "one"),
        ])
        .reachable()
        .await?;
    let two = fleet
        .cluster("e2e-tpl-two")
        .on(2)
        .in_group(&group)
        .labels(&[
            (TEMPLATE_NAMESPACE_LABEL, &ns_two),
            (TEMPLATE_VALUE_LABEL, "two"),
        ])
        .reachable()
        .await?;
    let fixed_ns = PlannedNamespace::on(&[one.spoke(), two.spoke()], "e2e-tpl-fixed");
    let fixed_ns = &fixed_ns.name;
    let _cleanup = [
        one.spoke().delete_on_drop("namespace", None, &ns_one),
        two.spoke().delete_on_drop("namespace", None, &ns_two),
    ];
    let value = from_cd_label(TEMPLATE_VALUE_LABEL);
    let sss = fleet.selector_syncset("e2e-tpl").selecting(&group);
    let generation = sss
        .apply(json!({
            "resourceApplyMode": "Sync",
            "enableResourceTemplates": true,
            "resources": [
                {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": from_cd_label(TEMPLATE_NAMESPACE_LABEL)}},
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": fixed_ns}},
                configmap(fixed_ns, "templated", json!({
                    "value": value,
                    "greeting": format!("hello from {value}"),
                    "untouched": "plain",
                })),
            ],
        }))
        .await?;

    for (cluster, ns, value) in [(&one, &ns_one, "one"), (&two, &ns_two, "two")] {
        let entry = cluster
            .entry(&sss, succeeded_at(generation))
            .await
            .with_context(|| format!("the templated SelectorSyncSet on {}", cluster.name))?;
        let mut expected = vec![
            reference("v1", "ConfigMap", fixed_ns, "templated"),
            reference("v1", "Namespace", "", ns),
            reference("v1", "Namespace", "", fixed_ns),
        ];
        expected.sort_by(|a, b| {
            (&a.api_version, &a.kind, &a.namespace, &a.name).cmp(&(
                &b.api_version,
                &b.kind,
                &b.namespace,
                &b.name,
            ))
        });
        assert_eq!(
            entry.resources_to_delete, expected,
            "resourcesToDelete holds the rendered references on {}",
            cluster.name
        );
        let rendered = cluster.spoke().api_all::<Namespace>().get_opt(ns).await?;
        ensure!(
            rendered.is_some(),
            "the Namespace named from the label ({ns}) is not on {}'s spoke",
            cluster.name
        );
        let cm = cluster
            .spoke()
            .wait_value(fixed_ns, "templated", "value", value)
            .await?;
        assert_eq!(
            cm.data,
            Some(data(&[
                ("value", value),
                ("greeting", &format!("hello from {value}")),
                ("untouched", "plain"),
            ])),
            "the ConfigMap on {} is rendered with its own label",
            cluster.name
        );
    }

    let started = Instant::now();
    one.set_labels(&[(TEMPLATE_VALUE_LABEL, Some("uno"))])
        .await?;
    one.spoke()
        .wait_value(fixed_ns, "templated", "value", "uno")
        .await?;
    let elapsed = started.elapsed();
    eprintln!("the label change reached the templated ConfigMap in {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(20),
        "the label change took {elapsed:?} to reach the spoke (expected seconds, < 20 s)"
    );
    // The other cluster keeps its own value.
    let cm = two
        .spoke()
        .api::<ConfigMap>(fixed_ns)
        .get("templated")
        .await?;
    assert_eq!(value_of(&cm, "value"), Some("two"));
    Ok(())
}

/// The API server validates an embedded resource's metadata before any template is rendered, so a templated
/// `metadata.namespace` (a DNS label) or label value is refused at apply time, in Hive as here (its CRD also marks
/// `resources` items `x-kubernetes-embedded-resource`; docs/hive-compatibility.md).
#[tokio::test]
async fn a_templated_namespace_of_a_namespaced_resource_is_refused_by_the_api_server() -> Result<()>
{
    let fleet = Fleet::with_crds().await?;
    let sss = fleet
        .selector_syncset("e2e-tpl-refused")
        .selecting(&Group::new("e2e-tpl-refused"));
    let refused = sss
        .apply(json!({
            "enableResourceTemplates": true,
            "resources": [configmap(&from_cd_label("ns"), "templated", json!({"a": "b"}))],
        }))
        .await;
    let err = match refused {
        Ok(_) => bail!("the API server accepted a templated metadata.namespace"),
        Err(e) => format!("{e:#}"),
    };
    ensure!(
        err.contains("spec.resources[0].metadata.namespace") && err.contains("RFC 1123"),
        "expected the API server's RFC 1123 refusal of spec.resources[0].metadata.namespace, got: {err}"
    );
    Ok(())
}

// --------------------------------------------------------------------- patches as kubectl reads them, CreateOnly

/// Hive runs kubectl's patch, which reads the body as YAML (JSON being YAML): a merge, a strategic and a json patch
/// each written as YAML land on a spoke ConfigMap, and so does a templated YAML patch (rendered, then read). The
/// unquoted `yes` of a YAML 1.1 reader would be a boolean, which a ConfigMap refuses; quoted, it is a string.
#[tokio::test]
async fn merge_strategic_and_json_patches_written_as_yaml_change_a_spoke_configmap() -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet
        .cluster("e2e-yamlpatch")
        .labels(&[("region", "eu-west")])
        .reachable()
        .await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-yamlpatch").await?;
    create_configmap(
        spoke,
        &spoke_ns.name,
        "target",
        &[("foo", "original"), ("keep", "me")],
    )
    .await?;
    let ss = cluster.syncset("e2e-yamlpatch");
    let templated = "data:\n  region: '{{ fromCDLabel \"region\" }}'\n  answer: \"yes\"\n";
    let steps = [
        ("merge", "data:\n  foo: merged-yaml\n", "merged-yaml"),
        (
            "strategic",
            "data:\n  foo: strategic-yaml  # a comment\n",
            "strategic-yaml",
        ),
        (
            "json",
            "- op: replace\n  path: /data/foo\n  value: json-yaml\n",
            "json-yaml",
        ),
    ];
    for (patch_type, patch, value) in steps {
        let generation = ss
            .apply(json!({
                "enablePatchTemplates": true,
                "patches": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "target", "namespace": spoke_ns.name,
                     "patch": patch, "patchType": patch_type},
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "target", "namespace": spoke_ns.name,
                     "patch": templated, "patchType": "merge"},
                ],
            }))
            .await?;
        let entry = cluster
            .entry(&ss, succeeded_at(generation))
            .await
            .with_context(|| format!("the {patch_type} patch written as YAML"))?;
        assert!(entry.failure_message.is_none(), "{entry:?}");
        spoke
            .wait_value(&spoke_ns.name, "target", "foo", value)
            .await
            .with_context(|| format!("the {patch_type} patch written as YAML"))?;
    }
    let cm = spoke.api::<ConfigMap>(&spoke_ns.name).get("target").await?;
    assert_eq!(
        cm.data,
        Some(data(&[
            ("answer", "yes"),
            ("foo", "json-yaml"),
            ("keep", "me"),
            ("region", "eu-west")
        ])),
        "the templated YAML patch rendered the cluster's label, and the other keys stayed"
    );

    // YAML 1.1, as Hive reads it: an unquoted `yes` is a boolean, and a ConfigMap's data takes strings only.
    let generation = ss
        .apply(
            json!({"patches": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "target", "namespace": spoke_ns.name,
                                "patch": "data:\n  answer: yes\n", "patchType": "merge"}]}),
        )
        .await?;
    let entry = cluster.entry(&ss, failed_at(generation)).await?;
    let message = entry.failure_message.unwrap_or_default();
    assert!(
        message.starts_with("failed to apply patch 0: ") && message.contains("bool"),
        "an unquoted yes is sent as a boolean, which the API server refuses for a ConfigMap: {message:?}"
    );
    Ok(())
}

/// `hivesync diff CD -n NAMESPACE --syncset SYNCSET` against the hub.
fn hivesync_diff(cluster: &Cluster, syncset: &SyncSet) -> std::process::Output {
    hivesync(&[
        "diff",
        &cluster.name,
        "-n",
        cluster.ns(),
        "--syncset",
        &syncset.name,
    ])
}

/// kubectl takes a patch target's `kind` as a resource name first (any case, singular or plural), a short name, or
/// a Kind; Hive passes it on as written. A name the cluster does not serve fails with kubectl's message.
#[tokio::test]
async fn a_patch_target_may_be_named_by_resource_singular_or_short_name_and_an_unknown_one_fails(
) -> Result<()> {
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-patchkind").on(2).reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-patchkind").await?;
    create_configmap(spoke, &spoke_ns.name, "target", &[("foo", "original")]).await?;
    let ss = cluster.syncset("e2e-patchkind");
    let patch = |kind: &str, key: &str| {
        json!({"apiVersion": "v1", "kind": kind, "name": "target", "namespace": spoke_ns.name,
               "patch": format!("data:\n  {key}: \"{kind}\"\n"), "patchType": "merge"})
    };
    let generation = ss
        .apply(json!({"patches": [
            patch("configmap", "singular"),
            patch("configmaps", "plural"),
            patch("cm", "short"),
            patch("ConfigMaps", "mixed-case"),
            // A cluster-scoped kind by its short name: the namespace is ignored.
            {"apiVersion": "v1", "kind": "ns", "name": spoke_ns.name, "namespace": "elsewhere",
             "patch": "metadata:\n  labels:\n    e2e-patched: by-short-name\n", "patchType": "merge"},
        ]}))
        .await?;
    cluster.entry(&ss, succeeded_at(generation)).await?;
    let cm = spoke.api::<ConfigMap>(&spoke_ns.name).get("target").await?;
    assert_eq!(
        cm.data,
        Some(data(&[
            ("foo", "original"),
            ("mixed-case", "ConfigMaps"),
            ("plural", "configmaps"),
            ("short", "cm"),
            ("singular", "configmap")
        ]))
    );
    let ns = spoke.api_all::<Namespace>().get(&spoke_ns.name).await?;
    assert_eq!(label(&ns.metadata, "e2e-patched"), Some("by-short-name"));
    // `hivesync diff` resolves the targets alike.
    let out = hivesync_diff(&cluster, &ss);
    let text = out.stdout_text();
    assert!(
        text.contains("0 to create, 0 to change, 0 to patch, 0 to delete, 5 unchanged, 0 failing"),
        "{}",
        out.describe()
    );

    let bad = cluster.syncset("e2e-patchkind-bad");
    let generation = bad
        .apply(json!({"patches": [patch("nosuchthing", "never")]}))
        .await?;
    let entry = cluster.entry(&bad, failed_at(generation)).await?;
    assert_eq!(
        entry.failure_message.as_deref(),
        Some(r#"failed to apply patch 0: the server doesn't have a resource type "nosuchthing""#)
    );
    let out = hivesync_diff(&cluster, &bad);
    assert!(
        out.status.code() == Some(2)
            && out
                .stdout_text()
                .contains(r#"the server doesn't have a resource type "nosuchthing""#),
        "{}",
        out.describe()
    );
    Ok(())
}

/// Removes the finalizers of spoke ConfigMap `namespace/name` when dropped, so that the Terminating namespace it
/// holds can go.
struct ReleaseFinalizers {
    kubeconfig: std::path::PathBuf,
    namespace: String,
    name: String,
}

impl Drop for ReleaseFinalizers {
    fn drop(&mut self) {
        if std::env::var_os("HIVESYNC_E2E_KEEP").is_some_and(|v| v == "1") {
            return;
        }
        let out = kubectl(
            &self.kubeconfig,
            [
                "patch",
                "configmap",
                &self.name,
                "--namespace",
                &self.namespace,
                "--type=merge",
                "--patch",
                r#"{"metadata":{"finalizers":null}}"#,
                "--request-timeout=10s",
            ],
        );
        if !out.status.success() && !out.stderr_text().contains("NotFound") {
            eprintln!(
                "could not release ConfigMap {}/{}: {}",
                self.namespace,
                self.name,
                out.describe()
            );
        }
    }
}

/// Hive's CreateOnly reads first and leaves an existing object alone. Admission runs before the API server's
/// already-exists check, so a create of an object that exists in a Terminating namespace is refused (403), and a
/// create-and-tolerate-409 would fail there; reading first, the re-apply stays Success and sends nothing.
#[tokio::test]
async fn create_only_leaves_an_existing_object_alone_where_admission_refuses_a_create() -> Result<()>
{
    let fleet = Fleet::connect().await?;
    let cluster = fleet.cluster("e2e-createonly").reachable().await?;
    let spoke = cluster.spoke();
    let spoke_ns = spoke.namespace("e2e-createonly").await?;
    let _release = ReleaseFinalizers {
        kubeconfig: spoke.kubeconfig.clone(),
        namespace: spoke_ns.name.clone(),
        name: "held".into(),
    };
    let ss = cluster.syncset("e2e-createonly");
    let spec = |value: &str| {
        json!({"applyBehavior": "CreateOnly",
               "resources": [configmap(&spoke_ns.name, "held", json!({"value": value}))]})
    };
    let generation = ss.apply(spec("first")).await?;
    cluster.entry(&ss, succeeded_at(generation)).await?;
    let configmaps = spoke.api::<ConfigMap>(&spoke_ns.name);
    spoke
        .wait_configmap_where(
            &spoke_ns.name,
            "held",
            "created",
            Duration::from_secs(30),
            has_value("first"),
        )
        .await?;

    // A finalizer keeps the ConfigMap, and so its namespace, in Terminating.
    configmaps
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["e2e.hivesync.io/hold"]}})),
        )
        .await?;
    spoke
        .api_all::<Namespace>()
        .delete(&spoke_ns.name, &Default::default())
        .await?;
    let same: ConfigMap =
        serde_json::from_value(configmap(&spoke_ns.name, "held", json!({"value": "first"})))?;
    let (configmaps, same) = (&configmaps, &same);
    let refusal = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async move {
            match configmaps.create(&Default::default(), same).await {
                Err(kube::Error::Api(s)) if s.code == 403 => Ok(s.message),
                other => bail!(
                    "a create of the existing ConfigMap is not refused by admission yet: {other:?}"
                ),
            }
        },
    )
    .await?;
    assert!(
        refusal.contains("because it is being terminated"),
        "{refusal}"
    );
    // The namespace controller marks the ConfigMap deleted, and the finalizer keeps it.
    spoke
        .wait_configmap_where(
            &spoke_ns.name,
            "held",
            "being deleted",
            Duration::from_secs(60),
            |cm| cm.metadata.deletion_timestamp.is_some(),
        )
        .await?;

    // The re-apply (a new generation) reads, finds the object, and sends nothing.
    let generation = ss.apply(spec("second")).await?;
    let entry = cluster.entry(&ss, succeeded_at(generation)).await?;
    assert!(entry.failure_message.is_none(), "{entry:?}");
    let cm = configmaps.get("held").await?;
    assert_eq!(
        cm.data,
        Some(data(&[("value", "first")])),
        "CreateOnly never changes it"
    );
    // `hivesync diff` reads first too: nothing to create, nothing failing.
    let out = hivesync_diff(&cluster, &ss);
    assert!(
        out.status.success()
            && out.stdout_text().contains(
                "0 to create, 0 to change, 0 to patch, 0 to delete, 1 unchanged, 0 failing"
            ),
        "{}",
        out.describe()
    );
    Ok(())
}
