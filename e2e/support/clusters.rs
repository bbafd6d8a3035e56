//! Where the clusters are and how to reach them: the hub's and the managed clusters' kubeconfigs, clients checked to
//! answer, what an error says, and stopping and starting the local clusters (`hack/local-clusters.sh`) under the
//! locks that keep tests which stop clusters away from tests which need them running.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::OutputExt as _;

/// What to do when a cluster cannot be reached.
pub const START_CLUSTERS_HINT: &str =
    "start the local clusters with `make clusters-up` (or `hack/local-clusters.sh up`)";

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The hub's kubeconfig: `$HIVESYNC_E2E_HUB_KUBECONFIG`, else `<repo>/.local-clusters/hub.kubeconfig`.
pub fn hub_kubeconfig() -> PathBuf {
    match std::env::var_os("HIVESYNC_E2E_HUB_KUBECONFIG") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => repo_root().join(".local-clusters/hub.kubeconfig"),
    }
}

/// The managed clusters' kubeconfigs: `$HIVESYNC_E2E_MANAGED_KUBECONFIGS` (comma-separated), else
/// `<repo>/.local-clusters/managed-{1,2,3}.kubeconfig`. Tests sync to managed-1 and managed-2 in parallel; only the
/// fault tests stop and start a cluster, and only `DISRUPTABLE` (managed-3), so they never disturb the others.
pub fn managed_kubeconfigs() -> Vec<PathBuf> {
    match std::env::var("HIVESYNC_E2E_MANAGED_KUBECONFIGS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => ["managed-1", "managed-2", "managed-3"]
            .iter()
            .map(|name| repo_root().join(format!(".local-clusters/{name}.kubeconfig")))
            .collect(),
    }
}

/// The managed cluster that fault tests may stop (counting from 1).
pub const DISRUPTABLE: usize = 3;

/// The kubeconfig of managed cluster `n`, counting from 1 as the local clusters are named (`managed-1`).
pub fn managed_kubeconfig(n: usize) -> PathBuf {
    let all = managed_kubeconfigs();
    assert!(
        (1..=all.len()).contains(&n),
        "managed cluster {n} asked for, but only {} are configured ({all:?})",
        all.len()
    );
    all[n - 1].clone()
}

/// The local cluster a kubeconfig belongs to, as `hack/local-clusters.sh` names it (`managed-1.kubeconfig` →
/// `managed-1`).
pub fn local_cluster_name(kubeconfig: &Path) -> String {
    kubeconfig
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------- clients

pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for the cluster in `kubeconfig`, without checking that the cluster answers.
pub async fn client_for(kubeconfig: &Path) -> Result<Client> {
    install_crypto_provider();
    if !kubeconfig.exists() {
        bail!(
            "kubeconfig {} does not exist: {START_CLUSTERS_HINT}",
            kubeconfig.display()
        );
    }
    let kc = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading kubeconfig {}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", kubeconfig.display()))?;
    Client::try_from(config)
        .with_context(|| format!("building a client from {}", kubeconfig.display()))
}

/// A client for the cluster in `kubeconfig` that has just answered a version request; otherwise an error that says
/// which cluster is down and how to start it.
pub async fn reachable_client(kubeconfig: &Path) -> Result<Client> {
    let client = client_for(kubeconfig).await?;
    let server = kubeconfig_server(kubeconfig);
    match tokio::time::timeout(Duration::from_secs(15), client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(anyhow!(
            "the API server {server} (kubeconfig {}) is not reachable: {}; {START_CLUSTERS_HINT}",
            kubeconfig.display(),
            error_chain(&e)
        )),
        Err(_) => Err(anyhow!(
            "the API server {server} (kubeconfig {}) did not answer within 15s; {START_CLUSTERS_HINT}",
            kubeconfig.display()
        )),
    }
}

/// A client for the hub, checked to be reachable.
pub async fn hub() -> Result<Client> {
    reachable_client(&hub_kubeconfig()).await
}

/// The server URL of a kubeconfig's current context, for messages.
pub fn kubeconfig_server(kubeconfig: &Path) -> String {
    let server = || -> Option<String> {
        let kc = Kubeconfig::read_from(kubeconfig).ok()?;
        let context_name = kc.current_context.clone()?;
        let context = kc
            .contexts
            .iter()
            .find(|c| c.name == context_name)?
            .context
            .clone()?;
        let cluster = kc
            .clusters
            .iter()
            .find(|c| c.name == context.cluster)?
            .cluster
            .clone()?;
        cluster.server
    };
    server().unwrap_or_else(|| "<unknown server>".to_string())
}

/// Whether `err`, or an error it wraps, is a refused TCP connection.
pub fn is_connection_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        current = e.source();
    }
    let debug = format!("{err:?}");
    debug.contains("ConnectionRefused") || debug.contains("Connection refused")
}

/// The API server's message for a refused request (`kube::Error::Api`), else the error itself.
pub fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.reason),
        other => error_chain(other),
    }
}

/// The whole chain of an error, outermost first, for assertion messages.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(e) = current {
        parts.push(e.to_string());
        current = e.source();
    }
    parts.join(": ")
}

// --------------------------------------------------------------------------------------------- local clusters, locks

/// Held by every test that stops, freezes or restarts a cluster or a controller ([`serial`]). The others never touch
/// `DISRUPTABLE` (managed-3), the only managed cluster such a test stops, so they need not hold it. Process-wide
/// only: other test processes are not kept out.
static CLUSTERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The guard for tests that stop or start clusters: no other such test runs meanwhile.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    CLUSTERS.lock().await
}

/// Runs `hack/local-clusters.sh` with `args`.
pub fn local_clusters<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let script = repo_root().join("hack/local-clusters.sh");
    Command::new(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()))
}

/// A local cluster stopped by [`stop_local_cluster`]. [`StoppedCluster::start`] starts it again; dropping the guard
/// without that (a failed assertion, an early return) starts it too, so one test cannot leave a cluster down.
pub struct StoppedCluster {
    name: String,
    started: bool,
}

/// `hack/local-clusters.sh stop <name>` (hold [`serial`] around this).
pub fn stop_local_cluster(name: &str) -> Result<StoppedCluster> {
    let out = local_clusters(["stop", name]);
    if !out.status.success() {
        bail!(
            "hack/local-clusters.sh stop {name} failed: {}",
            out.describe()
        );
    }
    Ok(StoppedCluster {
        name: name.to_string(),
        started: false,
    })
}

impl StoppedCluster {
    /// `hack/local-clusters.sh start <name>`, which returns once the API server is ready.
    pub fn start(mut self) -> Result<()> {
        let out = local_clusters(["start", &self.name]);
        if !out.status.success() {
            bail!(
                "hack/local-clusters.sh start {} failed: {}",
                self.name,
                out.describe()
            );
        }
        self.started = true;
        Ok(())
    }
}

impl Drop for StoppedCluster {
    fn drop(&mut self) {
        if self.started {
            return;
        }
        eprintln!("starting {} again after a failed test", self.name);
        let out = local_clusters(["start", &self.name]);
        if !out.status.success() {
            eprintln!(
                "hack/local-clusters.sh start {} failed: {}",
                self.name,
                out.describe()
            );
        }
    }
}
