//! The hub, for the report commands (`status`, `render`, `diff`): calls with a timeout and errors that say what to do.

use std::time::Duration;

use anyhow::anyhow;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use crate::api::ClusterDeployment;

/// How every command reaches the hub, with kubectl's flags and meanings: `--kubeconfig FILE` (one file; default
/// `$KUBECONFIG`, which may list several, then `~/.kube/config`, then the in-cluster config) and `--context NAME` (a
/// context of that kubeconfig; default its current context).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HubArgs {
    /// Path to the hub's kubeconfig file, as kubectl's --kubeconfig (default: $KUBECONFIG, ~/.kube/config,
    /// in-cluster).
    #[arg(
        long,
        alias = "hub-kubeconfig",
        env = "HIVESYNC_KUBECONFIG",
        value_name = "FILE"
    )]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use, as kubectl's --context (default: the current context).
    #[arg(long, env = "HIVESYNC_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,
}

impl HubArgs {
    /// The client configuration these flags name.
    pub async fn config(&self) -> anyhow::Result<kube::Config> {
        use kube::config::{KubeConfigOptions, Kubeconfig};
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        let context = |e: &dyn std::fmt::Display| match &self.context {
            Some(c) => anyhow!("context {c:?}: {e}"),
            None => anyhow!("{e}"),
        };
        Ok(match (&self.kubeconfig, &self.context) {
            (Some(path), _) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|e| anyhow!("cannot read kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| context(&e))?
            }
            (None, Some(_)) => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| context(&e))?,
            (None, None) => kube::Config::infer().await?,
        })
    }

    /// The hub's client (requests counted in the client metrics, `HUB_REQUEST_TIMEOUT` per request).
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(crate::metrics::hub_client(self.config().await?)?)
    }
}

/// The hub, for the report commands: calls with a timeout and errors that say what to do.
pub struct Hub {
    pub client: Client,
}

const HUB_TIMEOUT: Duration = Duration::from_secs(30);

impl Hub {
    pub async fn connect(args: &HubArgs) -> anyhow::Result<Self> {
        let client = args.client().await.map_err(|e| {
            anyhow!(
                "{e:#}: pass the hub's kubeconfig with --kubeconfig (or $KUBECONFIG) and --context"
            )
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

    /// The ClusterDeployments in `namespace` (all when None) whose labels match `selector` (kubectl's `-l` syntax,
    /// evaluated by the API server).
    pub async fn list_clusters(
        &self,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> anyhow::Result<Vec<ClusterDeployment>> {
        let api: Api<ClusterDeployment> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let mut params = ListParams::default();
        if let Some(s) = selector {
            params = params.labels(s);
        }
        Ok(self
            .call("list clusterdeployments", api.list(&params))
            .await?
            .items)
    }

    pub async fn get_cluster_scoped<K>(&self, name: &str) -> anyhow::Result<Option<K>>
    where
        K: kube::Resource<Scope = kube::core::ClusterResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::all(self.client.clone());
        let what = format!("get {} {name}", K::kind(&Default::default()));
        self.call(&what, api.get_opt(name)).await
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
