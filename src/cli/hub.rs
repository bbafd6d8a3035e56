//! The hub, for the report commands (`status`, `render`, `diff`): calls with a timeout and errors that say what to do.

use std::time::Duration;

use anyhow::anyhow;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use crate::api::ClusterDeployment;

/// The hub, for the report commands: calls with a timeout and errors that say what to do.
pub struct Hub {
    pub client: Client,
}

const HUB_TIMEOUT: Duration = Duration::from_secs(30);

impl Hub {
    pub async fn connect(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let client = super::controller::hub_client(kubeconfig)
            .await
            .map_err(|e| {
                anyhow!("{e:#}: pass the hub's kubeconfig with --kubeconfig (or $KUBECONFIG)")
            })?;
        Ok(Self { client })
    }

    /// Runs one hub call with a timeout; `what` names it in errors (`list ClusterDeployments`).
    pub async fn call<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(HUB_TIMEOUT, fut).await {
            Err(_) => Err(anyhow!(
                "{what}: the hub did not answer within {HUB_TIMEOUT:?}; check that it is up and that --kubeconfig points at it"
            )),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(hub_error(what, e)),
        }
    }

    pub async fn list<K>(&self, namespace: Option<&str>) -> anyhow::Result<Vec<K>>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let what = format!("list {}", K::plural(&Default::default()));
        Ok(self
            .call(&what, api.list(&ListParams::default()))
            .await?
            .items)
    }

    pub async fn get_opt<K>(&self, namespace: &str, name: &str) -> anyhow::Result<Option<K>>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let what = format!("get {} {namespace}/{name}", K::kind(&Default::default()));
        self.call(&what, api.get_opt(name)).await
    }

    /// The ClusterDeployment named by `cluster` (`NAME` or `NAMESPACE/NAME`), in `namespace` when given, else in the
    /// one namespace that has it.
    pub async fn find_cluster(
        &self,
        namespace: Option<&str>,
        cluster: &str,
    ) -> anyhow::Result<ClusterDeployment> {
        let (namespace, name) = match cluster.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (namespace, cluster),
        };
        if let Some(ns) = namespace {
            return self
                .get_opt::<ClusterDeployment>(ns, name)
                .await?
                .ok_or_else(|| {
                    anyhow!(
                        "no ClusterDeployment {name} in namespace {ns}; `hivesync status` lists the clusters"
                    )
                });
        }
        let api: Api<ClusterDeployment> = Api::all(self.client.clone());
        let params = ListParams::default().fields(&format!("metadata.name={name}"));
        let mut found = self
            .call("list clusterdeployments", api.list(&params))
            .await?
            .items;
        match found.len() {
            0 => Err(anyhow!(
                "no ClusterDeployment named {name} in any namespace; `hivesync status` lists the clusters"
            )),
            1 => Ok(found.remove(0)),
            _ => Err(anyhow!(
                "ClusterDeployment {name} exists in namespaces {}: pass --namespace or NAMESPACE/NAME",
                found
                    .iter()
                    .map(|c| c.namespace().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// A hub error with what to do about it.
pub fn hub_error(what: &str, e: kube::Error) -> anyhow::Error {
    match &e {
        kube::Error::Api(s) if s.code == 404 => anyhow!(
            "{what}: {}: the hub does not serve this kind; install the CRDs (`kubectl apply --server-side -k crds/`)",
            s.message
        ),
        kube::Error::Api(s) if s.code == 403 => anyhow!(
            "{what}: {}: ask for read access to it on the hub (the README lists what each command reads)",
            s.message
        ),
        kube::Error::Api(s) if s.code == 401 => anyhow!(
            "{what}: the hub refused the credentials ({}); check --kubeconfig",
            s.message
        ),
        kube::Error::Api(s) => anyhow!("{what}: {}", s.message),
        _ => anyhow!(
            "{what}: cannot reach the hub API server: {e}; check that it is up and that --kubeconfig (or $KUBECONFIG) points at it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("nope", "")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn hub_errors_say_what_to_do() {
        let text = |code| hub_error("list clusterdeployments", api_error(code)).to_string();
        assert_eq!(
            text(404),
            "list clusterdeployments: nope: the hub does not serve this kind; install the CRDs (`kubectl apply --server-side -k crds/`)"
        );
        assert!(text(403).ends_with(
            "ask for read access to it on the hub (the README lists what each command reads)"
        ));
        assert_eq!(
            text(401),
            "list clusterdeployments: the hub refused the credentials (nope); check --kubeconfig"
        );
        assert_eq!(text(500), "list clusterdeployments: nope");
    }
}
