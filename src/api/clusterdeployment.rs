//! ClusterDeployment (`hive.openshift.io/v1`): the fields the sync path reads are typed (docs/hive-compatibility.md,
//! "ClusterDeployment");
//! everything else (platform, provisioning, ...) is accepted and preserved untouched.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema;

type Extra = BTreeMap<String, serde_json::Value>;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "hive.openshift.io",
    version = "v1",
    kind = "ClusterDeployment",
    plural = "clusterdeployments",
    shortname = "cd",
    namespaced,
    status = "ClusterDeploymentStatus",
    doc = "ClusterDeployment is the Schema for the clusterdeployments API",
    printcolumn = r#"{"name":"InfraID","type":"string","jsonPath":".spec.clusterMetadata.infraID"}"#,
    printcolumn = r#"{"name":"Platform","type":"string","jsonPath":".metadata.labels.hive\\.openshift\\.io/cluster-platform"}"#,
    printcolumn = r#"{"name":"Region","type":"string","jsonPath":".metadata.labels.hive\\.openshift\\.io/cluster-region"}"#,
    printcolumn = r#"{"name":"Installed","type":"boolean","jsonPath":".spec.installed"}"#,
    printcolumn = r#"{"name":"Unreachable","type":"string","jsonPath":".status.conditions[?(@.type==\"Unreachable\")].status"}"#,
    printcolumn = r#"{"name":"SyncSetFailed","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"SyncSetFailed\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterDeploymentSpec {
    pub cluster_name: String,
    pub base_domain: String,
    #[serde(default)]
    pub installed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_metadata: Option<ClusterMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_config: Option<ControlPlaneConfig>,
    #[schemars(schema_with = "schema::preserved_object")]
    pub platform: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret_ref: Option<LocalObjectReference>,
    /// Provisioning, power state and everything else hivesync does not read.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterMetadata {
    #[serde(rename = "clusterID", default)]
    pub cluster_id: String,
    #[serde(rename = "infraID", default)]
    pub infra_id: String,
    /// The Secret (in the ClusterDeployment's namespace) whose `kubeconfig` key holds the admin kubeconfig.
    pub admin_kubeconfig_secret_ref: LocalObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_secret_ref: Option<LocalObjectReference>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ControlPlaneConfig {
    /// Primary API URL, used while the `ActiveAPIURLOverride` condition is True.
    #[serde(
        rename = "apiURLOverride",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_url_override: Option<String>,
    /// Every dial goes to this IP with the URL's port.
    #[serde(
        rename = "apiServerIPOverride",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_server_ip_override: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ClusterDeploymentStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterDeploymentCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_timestamp: Option<Time>,
    #[serde(rename = "apiURL", default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Extra,
}

/// Hive's `ClusterDeploymentCondition`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDeploymentCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ClusterDeployment {
    pub fn condition(&self, type_: &str) -> Option<&ClusterDeploymentCondition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
    }
}
