//! Objects a test makes and cleans up: unique names, throw-away namespaces, anything deleted when its guard drops.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::Client;

use super::{hub_kubeconfig, kubectl, OutputExt as _, FIELD_MANAGER};

/// `prefix` plus a random suffix: a valid DNS label (≤ 63 characters, lowercase) that no other run uses.
pub fn unique_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n: u64 = rand::random();
    let suffix: String = (0..8)
        .map(|_| {
            let c = ALPHABET[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect();
    let prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63 - 1 - suffix.len())
        .collect();
    let prefix = prefix.trim_matches('-');
    if prefix.is_empty() {
        format!("e2e-{suffix}")
    } else {
        format!("{prefix}-{suffix}")
    }
}

/// A namespace created for one test and deleted (without waiting) when dropped. `HIVESYNC_E2E_KEEP=1` keeps it.
pub struct TestNamespace {
    pub name: String,
    kubeconfig: PathBuf,
}

impl TestNamespace {
    /// Creates a namespace named `unique_name(prefix)` on the cluster in `kubeconfig`.
    pub async fn create(client: &Client, kubeconfig: &Path, prefix: &str) -> Result<Self> {
        let name = unique_name(prefix);
        ensure_namespace(client, &name).await?;
        Ok(Self {
            name,
            kubeconfig: kubeconfig.to_path_buf(),
        })
    }

    /// A namespace on the hub.
    pub async fn on_hub(client: &Client, prefix: &str) -> Result<Self> {
        Self::create(client, &hub_kubeconfig(), prefix).await
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::env::var_os("HIVESYNC_E2E_KEEP").is_some_and(|v| v == "1") {
            eprintln!("keeping namespace {} (HIVESYNC_E2E_KEEP=1)", self.name);
            return;
        }
        let out = kubectl(
            &self.kubeconfig,
            [
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
                "--request-timeout=10s",
            ],
        );
        if !out.status.success() {
            eprintln!(
                "could not delete namespace {}: {}",
                self.name,
                out.describe()
            );
        }
    }
}

/// Creates namespace `name` unless it exists (server-side apply, so it is idempotent and safe to race).
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    let namespaces = Api::<Namespace>::all(client.clone());
    server_side_apply(
        &namespaces,
        name,
        &ns,
        &format!("creating namespace {name}"),
    )
    .await?;
    Ok(())
}

/// Creates or replaces object `name` of `api` with `obj` by a forced server-side apply (field manager
/// [`FIELD_MANAGER`]: fields it applied before and leaves out now are removed); `doing` (what it is, e.g. "creating
/// namespace x") goes in the error.
pub async fn server_side_apply<K>(
    api: &Api<K>,
    name: &str,
    obj: &(impl serde::Serialize + std::fmt::Debug),
    doing: &str,
) -> Result<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .with_context(|| doing.to_string())
}

// ---------------------------------------------------------------------------------------------- clean-up

/// Creates `obj` in `api` with default parameters, with the object's kind and name in the error.
pub async fn create<K>(api: &Api<K>, obj: &K) -> Result<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    api.create(&PostParams::default(), obj)
        .await
        .with_context(|| {
            format!(
                "creating {} {}",
                K::kind(&K::DynamicType::default()),
                obj.meta().name.as_deref().unwrap_or("<no name>")
            )
        })
}

/// An object deleted with kubectl (without waiting) when dropped, e.g. a cluster-scoped SelectorSyncSet, a CRD or a
/// namespace created by the controller on a spoke. `HIVESYNC_E2E_KEEP=1` keeps it.
pub struct DeleteOnDrop {
    kubeconfig: PathBuf,
    /// kubectl's resource argument (`selectorsyncset`, `crd`, `namespace`, ...).
    resource: String,
    name: String,
    namespace: Option<String>,
}

impl DeleteOnDrop {
    pub fn new(kubeconfig: &Path, resource: &str, namespace: Option<&str>, name: &str) -> Self {
        Self {
            kubeconfig: kubeconfig.to_path_buf(),
            resource: resource.to_string(),
            name: name.to_string(),
            namespace: namespace.map(String::from),
        }
    }

    /// An object on the hub.
    pub fn on_hub(resource: &str, namespace: Option<&str>, name: &str) -> Self {
        Self::new(&hub_kubeconfig(), resource, namespace, name)
    }
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        if std::env::var_os("HIVESYNC_E2E_KEEP").is_some_and(|v| v == "1") {
            eprintln!(
                "keeping {} {} (HIVESYNC_E2E_KEEP=1)",
                self.resource, self.name
            );
            return;
        }
        let mut args = vec![
            "delete".to_string(),
            self.resource.clone(),
            self.name.clone(),
            "--wait=false".into(),
            "--ignore-not-found".into(),
            "--request-timeout=10s".into(),
        ];
        if let Some(ns) = &self.namespace {
            args.push(format!("--namespace={ns}"));
        }
        let out = kubectl(&self.kubeconfig, &args);
        if !out.status.success() {
            eprintln!(
                "could not delete {} {}: {}",
                self.resource,
                self.name,
                out.describe()
            );
        }
    }
}
