//! `hivesync adopt`: registers an existing cluster the way `hiveutil create-cluster --adopt` does: its admin
//! kubeconfig in the Secret `<name>-adopted-admin-kubeconfig` (keys `kubeconfig` and `raw-kubeconfig`, as Hive's
//! builder writes them) and an installed ClusterDeployment that names it, installed since its creation (what Hive's
//! ClusterDeployment controller records for adopted clusters). Idempotent (server-side apply).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::json;

use crate::api::ClusterDeployment;
use crate::consts::{FIELD_MANAGER, KUBECONFIG_SECRET_KEY, RAW_KUBECONFIG_SECRET_KEY};
use crate::remote::kubeconfig::{client_config, Timeouts};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Name of the ClusterDeployment (and of the cluster).
    pub name: String,
    /// Admin kubeconfig of the cluster to adopt (--kubeconfig and --context name the hub, as in kubectl).
    #[arg(long, value_name = "FILE")]
    pub cluster_kubeconfig: PathBuf,
    /// Hub namespace for the ClusterDeployment and its Secret (created if missing; default: NAME).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Labels for the ClusterDeployment, KEY=VALUE (repeatable).
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// `spec.controlPlaneConfig.apiURLOverride`.
    #[arg(long)]
    pub api_url_override: Option<String>,
    /// `spec.clusterMetadata.clusterID` (default: NAME).
    #[arg(long)]
    pub cluster_id: Option<String>,
    /// `spec.clusterMetadata.infraID` (default: NAME).
    #[arg(long)]
    pub infra_id: Option<String>,
    /// `spec.baseDomain`.
    #[arg(long, default_value = "hivesync.local")]
    pub base_domain: String,
    #[command(flatten)]
    pub hub: super::hub::HubArgs,
}

/// clap's value parser for `--label` (its error, a `String`, is what clap prints).
fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("invalid label {s:?}: expected KEY=VALUE"))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        name,
        cluster_kubeconfig: kubeconfig,
        namespace,
        labels,
        api_url_override,
        cluster_id,
        infra_id,
        base_domain,
        hub,
    } = args;
    let namespace = namespace.unwrap_or_else(|| name.clone());
    let data = std::fs::read(&kubeconfig)
        .map_err(|e| anyhow::anyhow!("cannot read kubeconfig {}: {e}", kubeconfig.display()))?;
    client_config(Some(&data), None, Timeouts::default())
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", kubeconfig.display()))?;

    let hub = hub.client().await?;
    hub.apiserver_version()
        .await
        .map_err(|e| anyhow::anyhow!("the hub API server is not reachable: {e}"))?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();

    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    Api::<Namespace>::all(hub.clone())
        .patch(&namespace, &apply, &Patch::Apply(&ns))
        .await?;

    let secret_name = format!("{name}-adopted-admin-kubeconfig");
    let text = String::from_utf8_lossy(&data);
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": secret_name, "namespace": namespace},
        "stringData": {KUBECONFIG_SECRET_KEY: text, RAW_KUBECONFIG_SECRET_KEY: text},
    });
    Api::<Secret>::namespaced(hub.clone(), &namespace)
        .patch(&secret_name, &apply, &Patch::Apply(&secret))
        .await?;

    let mut spec = json!({
        "clusterName": name,
        "baseDomain": base_domain,
        "installed": true,
        "platform": {},
        "clusterMetadata": {
            "clusterID": cluster_id.unwrap_or_else(|| name.clone()),
            "infraID": infra_id.unwrap_or_else(|| name.clone()),
            "adminKubeconfigSecretRef": {"name": secret_name},
        },
    });
    if let Some(url) = api_url_override {
        spec["controlPlaneConfig"] = json!({"apiURLOverride": url});
    }
    let labels: serde_json::Map<_, _> = labels.into_iter().map(|(k, v)| (k, json!(v))).collect();
    let cd = json!({
        "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    });
    let cds: Api<ClusterDeployment> = Api::namespaced(hub.clone(), &namespace);
    let cd = cds.patch(&name, &apply, &Patch::Apply(&cd)).await.map_err(|e| {
        anyhow::anyhow!("cannot create the ClusterDeployment (are the hivesync CRDs installed? `make crds-install`): {e}")
    })?;
    // Hive's clusterdeployment controller records an adopted cluster as installed since the ClusterDeployment's
    // creation (the controller does the same for any installed CD without it).
    if cd
        .status
        .as_ref()
        .and_then(|s| s.installed_timestamp.as_ref())
        .is_none()
    {
        let created = cd
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_else(jiff::Timestamp::now)
            .to_string();
        let status = json!({"status": {"installedTimestamp": created}});
        cds.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
    }
    println!("clusterdeployment.hive.openshift.io/{name} adopted in namespace {namespace} (secret {secret_name})");
    Ok(())
}
