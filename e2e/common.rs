//! Helpers shared by the whole e2e suite: where the clusters are, clients and kubectl for them, the hub's CRDs,
//! polling, unique names, throw-away namespaces, stopping and starting local clusters, the locks that keep tests
//! which stop clusters away from tests which need them running, registered clusters ([`TestCluster`]), SyncSets and
//! SelectorSyncSets, their ClusterSync entries, and the spoke ConfigMaps they make.
//!
//! The suite runs against real API servers (`make clusters-up`, i.e. `hack/local-clusters.sh up`) and skips nothing:
//! an unreachable cluster is a failure that says how to start the clusters. Tests run in parallel and repeatedly
//! against the same clusters, so every object a test creates gets a unique name ([`unique_name`]) and lives in a
//! namespace of its own ([`TestNamespace`]) wherever it can.
#![allow(dead_code)] // Not every test module uses every helper.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Once, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use hivesync::api::{ClusterSync, SyncResourceReference, SyncSetResult, SyncStatus};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ObjectMeta, Patch,
    PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{json, Value};

/// Field manager of every server-side apply the suite sends.
pub const FIELD_MANAGER: &str = "hivesync-e2e";

/// What to do when a cluster cannot be reached.
pub const START_CLUSTERS_HINT: &str =
    "start the local clusters with `make clusters-up` (or `hack/local-clusters.sh up`)";

// ------------------------------------------------------------------------------------------------------------ paths

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

/// A client for managed cluster `n` (from 1), checked to be reachable.
pub async fn managed(n: usize) -> Result<Client> {
    reachable_client(&managed_kubeconfig(n)).await
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

// ---------------------------------------------------------------------------------------------------------- kubectl

/// The directory holding kubectl, kube-apiserver, etcd, ...: `$K8S_BIN_DIR`, else what `hack/k8s-bins.sh` prints
/// (run once per test process).
pub fn k8s_bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("K8S_BIN_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let script = repo_root().join("hack/k8s-bins.sh");
        let out = Command::new(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}); set K8S_BIN_DIR",
            script.display(),
            out.status
        );
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(!dir.is_empty(), "{} printed no directory", script.display());
        PathBuf::from(dir)
    })
}

/// kubectl: `$KUBECTL`, else `<bin dir>/kubectl`.
pub fn kubectl_path() -> PathBuf {
    match std::env::var_os("KUBECTL") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => k8s_bin_dir().join("kubectl"),
    }
}

fn kubectl_command<I, S>(kubeconfig: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(kubectl_path());
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd
}

/// Runs kubectl against the cluster in `kubeconfig` and returns what it did (whatever its exit status).
pub fn kubectl<I, S>(kubeconfig: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = kubectl_command(kubeconfig, args);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()))
}

/// Runs kubectl with `stdin` as its standard input (for `-f -`).
pub fn kubectl_with_stdin<I, S>(kubeconfig: &Path, args: I, stdin: &str) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = kubectl_command(kubeconfig, args);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let mut input = child.stdin.take().expect("kubectl stdin is piped");
    let stdin = stdin.to_owned();
    // Written from a thread so that a kubectl that fails before reading all of it cannot deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let out = child.wait_with_output().expect("waiting for kubectl");
    let _ = writer.join();
    out
}

/// Readable access to a finished command.
pub trait OutputExt {
    fn stdout_text(&self) -> String;
    fn stderr_text(&self) -> String;
    /// Exit status and both streams, for assertion messages.
    fn describe(&self) -> String;
}

impl OutputExt for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn describe(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status,
            self.stdout_text(),
            self.stderr_text()
        )
    }
}

/// Parses kubectl's table output (`kubectl get` without `-o`, or `-o wide`) into its header and rows of cells,
/// cutting each line at the columns' start offsets in the header (cells may contain spaces).
pub fn parse_table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return (Vec::new(), Vec::new());
    };
    let mut starts = Vec::new();
    let mut previous = ' ';
    for (i, c) in header.char_indices() {
        if c != ' ' && previous == ' ' {
            starts.push(i);
        }
        previous = c;
    }
    let cut = |line: &str| -> Vec<String> {
        starts
            .iter()
            .enumerate()
            .map(|(n, &start)| {
                let end = starts
                    .get(n + 1)
                    .copied()
                    .unwrap_or(usize::MAX)
                    .min(line.len());
                line.get(start.min(line.len())..end)
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let names = cut(header);
    let rows = lines.map(cut).collect();
    (names, rows)
}

// ---------------------------------------------------------------------------------------------------------- polling

/// Calls `check` every `poll` until it returns `Ok`, and returns that value. `Err` means "not yet": the last one is
/// in the error returned after `timeout`, so make it say what was expected and what was seen.
pub async fn wait_for<T, F, Fut>(timeout: Duration, poll: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        if tokio::time::Instant::now() + poll > deadline {
            return Err(last.context(format!("still not true after {timeout:?}")));
        }
        tokio::time::sleep(poll).await;
    }
}

// ------------------------------------------------------------------------------------------------------------ names

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
    Api::<Namespace>::all(client.clone())
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&ns),
        )
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------- CRDs

/// The directory the CRDs are installed from: `$HIVESYNC_E2E_CRD_DIR` (to try a candidate schema), else `<repo>/crds`.
pub fn crd_dir() -> PathBuf {
    match std::env::var_os("HIVESYNC_E2E_CRD_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join("crds"),
    }
}

/// Every CRD in [`crd_dir`], with its file name, sorted by file name.
pub fn read_crds() -> Result<Vec<(String, CustomResourceDefinition)>> {
    let dir = crd_dir();
    let mut crds = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "yaml")
            || path.file_name().is_some_and(|n| n == "kustomization.yaml")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let crd: CustomResourceDefinition =
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        crds.push((file, crd));
    }
    crds.sort_by(|a, b| a.0.cmp(&b.0));
    if crds.is_empty() {
        bail!("no CRDs in {} (run `cargo run -- crdgen`)", dir.display());
    }
    Ok(crds)
}

/// Server-side applies every CRD in [`crd_dir`] (field manager [`FIELD_MANAGER`], forced) and waits until each one is
/// `Established`. Returns the CRD names. Every refusal is reported, with the API server's message, not just the first.
pub async fn install_crds(client: &Client) -> Result<Vec<String>> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    let mut refused = Vec::new();
    for (file, crd) in read_crds()? {
        let name = crd
            .metadata
            .name
            .clone()
            .ok_or_else(|| anyhow!("{file}: CRD without a name"))?;
        match api.patch(&name, &params, &Patch::Apply(&crd)).await {
            Ok(_) => names.push(name),
            Err(e) => refused.push(format!("{file}: {}", api_message(&e))),
        }
    }
    if !refused.is_empty() {
        bail!(
            "the hub refused {} CRD(s):\n{}",
            refused.len(),
            refused.join("\n")
        );
    }
    for name in &names {
        wait_for(Duration::from_secs(60), Duration::from_millis(250), || {
            let api = api.clone();
            async move {
                let crd = api.get(name).await?;
                let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
                if conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                {
                    Ok(())
                } else {
                    let seen: Vec<String> = conditions
                        .iter()
                        .map(|c| {
                            format!(
                                "{}={} ({})",
                                c.type_,
                                c.status,
                                c.message.as_deref().unwrap_or("")
                            )
                        })
                        .collect();
                    bail!(
                        "CRD {name} is not Established; conditions: [{}]",
                        seen.join(", ")
                    )
                }
            }
        })
        .await?;
    }
    Ok(names)
}

/// [`install_crds`] once per test process; tests that only need the CRDs present call this.
pub async fn ensure_crds(client: &Client) -> Result<()> {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_try_init(|| async { install_crds(client).await.map(|_| ()) })
        .await
        .map(|_| ())
}

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

// --------------------------------------------------------------------------------------------- local clusters, locks

/// Tests that stop or start clusters hold this exclusively ([`serial`]); tests that need every cluster running hold
/// it shared ([`clusters_running`]). Process-wide only: other test processes are not kept out.
static CLUSTERS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The guard for tests that stop or start clusters: no other such test, and no [`clusters_running`] holder, runs
/// meanwhile.
pub async fn serial() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    CLUSTERS.write().await
}

/// The guard for tests that need the managed clusters running: they may run together, but not while a [`serial`]
/// test stops a cluster.
pub async fn clusters_running() -> tokio::sync::RwLockReadGuard<'static, ()> {
    CLUSTERS.read().await
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
    pub fn name(&self) -> &str {
        &self.name
    }

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

// ------------------------------------------------------------------------------------------ clusters on the hub

/// Label key set on every ClusterDeployment the sync tests register, so a leftover one is easy to find.
pub const E2E_CLUSTER_LABEL: &str = "hivesync.e2e/registered-by";

/// What the admin kubeconfig Secret of a registered ClusterDeployment holds.
#[derive(Clone, Copy, Debug)]
pub enum KubeconfigSecret<'a> {
    /// The content of this kubeconfig file under key `kubeconfig` (a working cluster).
    File(&'a Path),
    /// These bytes under key `kubeconfig` (empty, not YAML, an `exec` kubeconfig, ...).
    Data(&'a [u8]),
    /// A Secret without a `kubeconfig` key.
    NoKey,
    /// No Secret at all (the ClusterDeployment names one that does not exist).
    Missing,
}

/// The name of the admin kubeconfig Secret of ClusterDeployment `cd` (what `hivesync adopt` and Hive name it).
pub fn kubeconfig_secret_name(cd: &str) -> String {
    format!("{cd}-admin-kubeconfig")
}

/// Registers the managed cluster in `kubeconfig` as an installed ClusterDeployment `name` in hub namespace
/// `namespace` (which must exist) with `labels`, as `hivesync adopt` does: the Secret `<name>-admin-kubeconfig`, the
/// ClusterDeployment naming it, then `status.installedTimestamp`. `extra_spec` (an object, e.g.
/// `{"controlPlaneConfig": ...}`; `{}` for none) is merged into the ClusterDeployment's spec from its creation on.
/// The controller's probe then sets `Unreachable` (see [`wait_until_reachable`]).
pub async fn register_cluster(
    hub: &Client,
    namespace: &str,
    name: &str,
    kubeconfig: &Path,
    labels: &[(&str, &str)],
    extra_spec: Value,
) -> Result<()> {
    register_cluster_with(
        hub,
        namespace,
        name,
        KubeconfigSecret::File(kubeconfig),
        labels,
        extra_spec,
    )
    .await
}

/// [`register_cluster`] with any kubeconfig Secret, including broken ones.
pub async fn register_cluster_with(
    hub: &Client,
    namespace: &str,
    name: &str,
    secret: KubeconfigSecret<'_>,
    labels: &[(&str, &str)],
    extra_spec: Value,
) -> Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::ByteString;

    let secret_name = kubeconfig_secret_name(name);
    // None: no Secret; Some(None): a Secret without the `kubeconfig` key.
    let data: Option<Option<Vec<u8>>> = match secret {
        KubeconfigSecret::File(path) => {
            Some(Some(std::fs::read(path).with_context(|| {
                format!("reading kubeconfig {}", path.display())
            })?))
        }
        KubeconfigSecret::Data(bytes) => Some(Some(bytes.to_vec())),
        KubeconfigSecret::NoKey => Some(None),
        KubeconfigSecret::Missing => None,
    };
    if let Some(data) = data {
        let data = match data {
            Some(bytes) => [("kubeconfig".to_string(), ByteString(bytes))],
            None => [("not-the-kubeconfig".to_string(), ByteString(b"x".to_vec()))],
        };
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.clone()),
                namespace: Some(namespace.to_string()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(data.into_iter().collect()),
            ..Default::default()
        };
        Api::<Secret>::namespaced(hub.clone(), namespace)
            .patch(
                &secret_name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&secret),
            )
            .await
            .with_context(|| format!("creating Secret {namespace}/{secret_name}"))?;
    }

    let mut label_map: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    label_map.insert(E2E_CLUSTER_LABEL.into(), "sync".into());
    let mut spec = json!({
        "clusterName": name,
        "baseDomain": "e2e.hivesync.local",
        "installed": true,
        "platform": {},
        "clusterMetadata": {
            "clusterID": name,
            "infraID": name,
            "adminKubeconfigSecretRef": {"name": secret_name},
        },
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra_spec) {
        spec.extend(extra);
    }
    let cd = json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "ClusterDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": label_map},
        "spec": spec,
    });
    let cds = Api::<hivesync::api::ClusterDeployment>::namespaced(hub.clone(), namespace);
    cds.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&cd),
    )
    .await
    .with_context(|| format!("creating ClusterDeployment {namespace}/{name}"))?;
    let status =
        serde_json::json!({"status": {"installedTimestamp": jiff::Timestamp::now().to_string()}});
    cds.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| {
            format!("setting status.installedTimestamp of ClusterDeployment {namespace}/{name}")
        })?;
    Ok(())
}

/// Sets (`Some`) or removes (`None`) labels of ClusterDeployment `namespace/name`.
pub async fn set_cd_labels(
    hub: &Client,
    namespace: &str,
    name: &str,
    labels: &[(&str, Option<&str>)],
) -> Result<()> {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.map_or(serde_json::Value::Null, serde_json::Value::from),
            )
        })
        .collect();
    let patch = serde_json::json!({"metadata": {"labels": labels}});
    Api::<hivesync::api::ClusterDeployment>::namespaced(hub.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("labelling ClusterDeployment {namespace}/{name}"))?;
    Ok(())
}

/// A condition of ClusterDeployment `namespace/name`, as `(status, reason, message)`, if it has one.
pub async fn cd_condition(
    hub: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
) -> Result<Option<(String, String, String)>> {
    let cd = Api::<hivesync::api::ClusterDeployment>::namespaced(hub.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("reading ClusterDeployment {namespace}/{name}"))?;
    Ok(cd.condition(type_).map(|c| {
        (
            c.status.clone(),
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        )
    }))
}

/// Waits (up to `timeout`) until condition `type_` of ClusterDeployment `namespace/name` has `status`; returns it as
/// `(status, reason, message)`.
pub async fn wait_for_cd_condition(
    hub: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
    status: &str,
    timeout: Duration,
) -> Result<(String, String, String)> {
    wait_for(timeout, Duration::from_millis(250), || async move {
        match cd_condition(hub, namespace, name, type_).await? {
            Some(c) if c.0 == status => Ok(c),
            other => bail!(
                "ClusterDeployment {namespace}/{name}: expected condition {type_}={status}, found {other:?}{}",
                controller_log_tail(name, 15)
            ),
        }
    })
    .await
}

/// Waits until the controller's probe has found ClusterDeployment `namespace/name` reachable (`Unreachable=False`).
pub async fn wait_until_reachable(hub: &Client, namespace: &str, name: &str) -> Result<()> {
    wait_for_cd_condition(
        hub,
        namespace,
        name,
        "Unreachable",
        "False",
        Duration::from_secs(60),
    )
    .await
    .map(|_| ())
}

/// Registers managed cluster `n` in hub namespace `hub_ns` under a unique name (`prefix` plus a suffix) with `labels`
/// and `extra_spec` ([`register_cluster`]), waits until the controller has found it reachable, and returns its name.
pub async fn register_reachable(
    hub: &Client,
    hub_ns: &str,
    n: usize,
    prefix: &str,
    labels: &[(&str, &str)],
    extra_spec: Value,
) -> Result<String> {
    let name = unique_name(prefix);
    register_cluster(
        hub,
        hub_ns,
        &name,
        &managed_kubeconfig(n),
        labels,
        extra_spec,
    )
    .await?;
    wait_until_reachable(hub, hub_ns, &name).await?;
    Ok(name)
}

/// A ClusterDeployment registered for one test: its own hub namespace (deleted on drop, with the ClusterDeployment,
/// its Secret, its ClusterSync and any SyncSet or source Secret in it) and the managed cluster it points at.
pub struct TestCluster {
    pub hub_ns: TestNamespace,
    pub name: String,
    pub kubeconfig: PathBuf,
    pub spoke: Client,
}

impl TestCluster {
    /// Registers managed cluster `n` under a unique name in a hub namespace of its own, with `labels` and
    /// `extra_spec` merged into the ClusterDeployment's spec (`json!({})` for none; see [`register_cluster`]), and
    /// waits until the controller has found it reachable.
    pub async fn register(
        hub: &Client,
        n: usize,
        prefix: &str,
        labels: &[(&str, &str)],
        extra_spec: Value,
    ) -> Result<Self> {
        let kubeconfig = managed_kubeconfig(n);
        let spoke = reachable_client(&kubeconfig).await?;
        let hub_ns = TestNamespace::on_hub(hub, prefix).await?;
        let name = register_reachable(hub, &hub_ns.name, n, prefix, labels, extra_spec).await?;
        Ok(Self {
            hub_ns,
            name,
            kubeconfig,
            spoke,
        })
    }

    /// The hub namespace of the ClusterDeployment.
    pub fn ns(&self) -> &str {
        &self.hub_ns.name
    }

    /// A namespace of the test's own on this cluster's spoke.
    pub async fn spoke_namespace(&self, prefix: &str) -> Result<TestNamespace> {
        TestNamespace::create(&self.spoke, &self.kubeconfig, prefix).await
    }

    /// [`wait_for_entry`] for this cluster.
    pub async fn entry(
        &self,
        hub: &Client,
        kind: EntryKind,
        syncset: &str,
        predicate: impl Fn(&SyncStatus) -> bool,
    ) -> Result<SyncStatus> {
        wait_for_entry(hub, self.ns(), &self.name, kind, syncset, predicate).await
    }

    /// [`wait_for_entry_within`] for this cluster.
    pub async fn entry_within(
        &self,
        hub: &Client,
        kind: EntryKind,
        syncset: &str,
        timeout: Duration,
        predicate: impl Fn(&SyncStatus) -> bool,
    ) -> Result<SyncStatus> {
        wait_for_entry_within(
            hub,
            self.ns(),
            &self.name,
            kind,
            syncset,
            timeout,
            predicate,
        )
        .await
    }

    /// [`wait_for_no_entry`] for this cluster.
    pub async fn no_entry(&self, hub: &Client, kind: EntryKind, syncset: &str) -> Result<()> {
        wait_for_no_entry(hub, self.ns(), &self.name, kind, syncset).await
    }

    /// The current entry for `syncset`, if any, and the ClusterSync's status described for a failure message.
    pub async fn current_entry(
        &self,
        hub: &Client,
        kind: EntryKind,
        syncset: &str,
    ) -> Result<(Option<SyncStatus>, String)> {
        let cs = self.cluster_sync(hub).await?;
        let entry = cs
            .as_ref()
            .and_then(|c| c.status.as_ref())
            .and_then(|s| kind.entries(s).iter().find(|e| e.name == syncset).cloned());
        Ok((entry, describe_cluster_sync(cs.as_ref())))
    }

    /// The ClusterSync of this cluster, if it exists.
    pub async fn cluster_sync(&self, hub: &Client) -> Result<Option<ClusterSync>> {
        cluster_sync(hub, self.ns(), &self.name).await
    }

    /// [`cd_condition`] of this cluster.
    pub async fn condition(
        &self,
        hub: &Client,
        type_: &str,
    ) -> Result<Option<(String, String, String)>> {
        cd_condition(hub, self.ns(), &self.name, type_).await
    }

    /// [`wait_for_cd_condition`] of this cluster.
    pub async fn wait_condition(
        &self,
        hub: &Client,
        type_: &str,
        status: &str,
        timeout: Duration,
    ) -> Result<(String, String, String)> {
        wait_for_cd_condition(hub, self.ns(), &self.name, type_, status, timeout).await
    }
}

// ----------------------------------------------------------------------------------------------- ClusterSync

/// The two lists of a ClusterSync's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// `status.syncSets`
    SyncSet,
    /// `status.selectorSyncSets`
    SelectorSyncSet,
}

impl EntryKind {
    pub fn entries(
        self,
        status: &hivesync::api::ClusterSyncStatus,
    ) -> &[hivesync::api::SyncStatus] {
        match self {
            EntryKind::SyncSet => &status.sync_sets,
            EntryKind::SelectorSyncSet => &status.selector_sync_sets,
        }
    }

    pub fn list_name(self) -> &'static str {
        match self {
            EntryKind::SyncSet => "status.syncSets",
            EntryKind::SelectorSyncSet => "status.selectorSyncSets",
        }
    }
}

/// The ClusterSync of ClusterDeployment `namespace/cd`, if it exists.
pub async fn cluster_sync(
    hub: &Client,
    namespace: &str,
    cd: &str,
) -> Result<Option<hivesync::api::ClusterSync>> {
    Api::<hivesync::api::ClusterSync>::namespaced(hub.clone(), namespace)
        .get_opt(cd)
        .await
        .with_context(|| format!("reading ClusterSync {namespace}/{cd}"))
}

/// A ClusterSync's status as YAML, for failure messages.
pub fn describe_cluster_sync(cs: Option<&hivesync::api::ClusterSync>) -> String {
    match cs {
        None => "no ClusterSync".into(),
        Some(cs) => match &cs.status {
            None => "ClusterSync without status".into(),
            Some(status) => {
                serde_yaml::to_string(status).unwrap_or_else(|e| format!("{status:?} ({e})"))
            }
        },
    }
}

/// The default wait for a ClusterSync entry.
pub const ENTRY_TIMEOUT: Duration = Duration::from_secs(60);

/// Polls the ClusterSync of `namespace/cd` until the entry for `syncset` in the `kind` list satisfies `predicate`,
/// and returns it. Times out after [`ENTRY_TIMEOUT`] with the last ClusterSync status and the controller's log lines
/// about the cluster in the error.
pub async fn wait_for_entry(
    hub: &Client,
    namespace: &str,
    cd: &str,
    kind: EntryKind,
    syncset: &str,
    predicate: impl Fn(&hivesync::api::SyncStatus) -> bool,
) -> Result<hivesync::api::SyncStatus> {
    wait_for_entry_within(hub, namespace, cd, kind, syncset, ENTRY_TIMEOUT, predicate).await
}

/// [`wait_for_entry`] with another timeout.
pub async fn wait_for_entry_within(
    hub: &Client,
    namespace: &str,
    cd: &str,
    kind: EntryKind,
    syncset: &str,
    timeout: Duration,
    predicate: impl Fn(&hivesync::api::SyncStatus) -> bool,
) -> Result<hivesync::api::SyncStatus> {
    let predicate = &predicate;
    wait_for(timeout, Duration::from_millis(200), || async move {
        let cs = cluster_sync(hub, namespace, cd).await?;
        let found = cs
            .as_ref()
            .and_then(|cs| cs.status.as_ref())
            .and_then(|s| kind.entries(s).iter().find(|e| e.name == syncset).cloned());
        match found {
            Some(entry) if predicate(&entry) => Ok(entry),
            _ => bail!(
                "ClusterSync {namespace}/{cd}: the {} entry {syncset} does not satisfy the expectation yet; \
                 last status:\n{}{}",
                kind.list_name(),
                describe_cluster_sync(cs.as_ref()),
                controller_log_tail(cd, 15)
            ),
        }
    })
    .await
}

/// Polls until the ClusterSync of `namespace/cd` has no entry for `syncset` in the `kind` list.
pub async fn wait_for_no_entry(
    hub: &Client,
    namespace: &str,
    cd: &str,
    kind: EntryKind,
    syncset: &str,
) -> Result<()> {
    wait_for(ENTRY_TIMEOUT, Duration::from_millis(200), || async move {
        let cs = cluster_sync(hub, namespace, cd).await?;
        let present = cs
            .as_ref()
            .and_then(|cs| cs.status.as_ref())
            .is_some_and(|s| kind.entries(s).iter().any(|e| e.name == syncset));
        if present {
            bail!(
                "ClusterSync {namespace}/{cd} still has the {} entry {syncset}; last status:\n{}{}",
                kind.list_name(),
                describe_cluster_sync(cs.as_ref()),
                controller_log_tail(cd, 15)
            );
        }
        Ok(())
    })
    .await
}

/// The entry applied successfully.
pub fn is_success(e: &SyncStatus) -> bool {
    e.result == SyncSetResult::Success
}

/// The entry failed.
pub fn is_failure(e: &SyncStatus) -> bool {
    e.result == SyncSetResult::Failure
}

/// The entry for generation `generation`, applied successfully.
pub fn succeeded_at(generation: i64) -> impl Fn(&SyncStatus) -> bool {
    move |e| e.result == SyncSetResult::Success && e.observed_generation == generation
}

/// The entry for generation `generation`, failed.
pub fn failed_at(generation: i64) -> impl Fn(&SyncStatus) -> bool {
    move |e| e.result == SyncSetResult::Failure && e.observed_generation == generation
}

/// A `resourcesToDelete` item.
pub fn reference(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> SyncResourceReference {
    SyncResourceReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.into(),
    }
}

/// Waits until the ClusterSync of `cluster` has exactly one condition, `Failed` with `status`/`reason`/`message`,
/// and returns the ClusterSync.
pub async fn wait_for_cluster_sync_failed(
    hub: &Client,
    cluster: &TestCluster,
    status: &str,
    reason: &str,
    message: &str,
) -> Result<ClusterSync> {
    wait_for(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async {
            let cs = cluster.cluster_sync(hub).await?.context("no ClusterSync")?;
            let conditions = cs.status.clone().unwrap_or_default().conditions;
            ensure!(
                conditions.len() == 1
                    && conditions[0].type_ == "Failed"
                    && conditions[0].status == status
                    && conditions[0].reason == reason
                    && conditions[0].message == message,
                "expected exactly the condition Failed={status}/{reason}/{message:?}; status:\n{}",
                describe_cluster_sync(Some(&cs))
            );
            Ok(cs)
        },
    )
    .await
}

// -------------------------------------------------------------------------------- SyncSets and SelectorSyncSets

pub fn syncset_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("hive.openshift.io", "v1", "SyncSet"),
        "syncsets",
    )
}

pub fn selector_syncset_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("hive.openshift.io", "v1", "SelectorSyncSet"),
        "selectorsyncsets",
    )
}

/// A SyncSet object `namespace/name` for ClusterDeployments `cds` with `spec` (without `clusterDeploymentRefs`), as
/// a server-side apply body.
pub fn syncset(namespace: &str, name: &str, cds: &[&str], spec: Value) -> Value {
    let mut spec = spec;
    spec["clusterDeploymentRefs"] = cds.iter().map(|c| json!({ "name": c })).collect();
    json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "SyncSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// Creates or replaces (server-side apply, one field manager: fields left out are removed) a whole SyncSet object;
/// returns its generation.
pub async fn apply_syncset_object(hub: &Client, obj: &Value) -> Result<i64> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let ss = Api::<DynamicObject>::namespaced_with(hub.clone(), namespace, &syncset_resource())
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .with_context(|| format!("applying SyncSet {namespace}/{name}"))?;
    Ok(ss.metadata.generation.unwrap_or(0))
}

/// Creates or replaces SyncSet `name` in hub namespace `namespace` for ClusterDeployment `cd`, with `spec` (without
/// `clusterDeploymentRefs`). Returns its generation.
pub async fn apply_syncset(
    hub: &Client,
    namespace: &str,
    name: &str,
    cd: &str,
    spec: Value,
) -> Result<i64> {
    apply_syncset_object(hub, &syncset(namespace, name, &[cd], spec)).await
}

pub async fn delete_syncset(hub: &Client, namespace: &str, name: &str) -> Result<()> {
    Api::<DynamicObject>::namespaced_with(hub.clone(), namespace, &syncset_resource())
        .delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting SyncSet {namespace}/{name}"))?;
    Ok(())
}

/// A selector matching the label `key=value`.
pub fn match_labels(key: &str, value: &str) -> Value {
    json!({"matchLabels": {key: value}})
}

/// A SelectorSyncSet object `name` with `spec` (the selector included), as a server-side apply body.
pub fn selector_syncset(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "hive.openshift.io/v1",
        "kind": "SelectorSyncSet",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// Creates or replaces (server-side apply) a whole SelectorSyncSet object; returns its generation. Create the
/// clean-up guard ([`sss_guard`]) before the first apply.
pub async fn apply_selector_syncset_object(hub: &Client, obj: &Value) -> Result<i64> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let sss = Api::<DynamicObject>::all_with(hub.clone(), &selector_syncset_resource())
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .with_context(|| format!("applying SelectorSyncSet {name}"))?;
    Ok(sss.metadata.generation.unwrap_or(0))
}

/// Creates or replaces SelectorSyncSet `name` selecting ClusterDeployments labelled `selector` (`key`, `value`),
/// with `spec` (without `clusterDeploymentSelector`). Returns its generation. Create the clean-up guard
/// ([`sss_guard`]) before the first apply.
pub async fn apply_selector_syncset(
    hub: &Client,
    name: &str,
    selector: (&str, &str),
    spec: Value,
) -> Result<i64> {
    let mut spec = spec;
    spec["clusterDeploymentSelector"] = match_labels(selector.0, selector.1);
    apply_selector_syncset_object(hub, &selector_syncset(name, spec)).await
}

pub async fn delete_selector_syncset(hub: &Client, name: &str) -> Result<()> {
    Api::<DynamicObject>::all_with(hub.clone(), &selector_syncset_resource())
        .delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting SelectorSyncSet {name}"))?;
    Ok(())
}

/// Deletes SelectorSyncSet `name` when dropped.
pub fn sss_guard(name: &str) -> DeleteOnDrop {
    DeleteOnDrop::on_hub("selectorsyncset", None, name)
}

// ------------------------------------------------------------------------------------------ spoke ConfigMaps

/// The label every object hivesync syncs carries (`true`).
pub const MANAGED_LABEL: &str = "hive.openshift.io/managed";

/// A ConfigMap `namespace/name` with `data`, as a syncset resource.
pub fn configmap(namespace: &str, name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    })
}

/// `pairs` as a ConfigMap's (or labels') map.
pub fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A ConfigMap whose `data.value` is `value`.
pub fn has_value(value: &'static str) -> impl Fn(&ConfigMap) -> bool {
    move |cm| {
        cm.data
            .as_ref()
            .and_then(|d| d.get("value"))
            .is_some_and(|v| v == value)
    }
}

/// Waits (up to `timeout`) until ConfigMap `namespace/name` on the spoke exists and satisfies `predicate`
/// (described by `what`).
pub async fn wait_for_spoke_configmap(
    spoke: &Client,
    namespace: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    predicate: impl Fn(&ConfigMap) -> bool,
) -> Result<ConfigMap> {
    let api = Api::<ConfigMap>::namespaced(spoke.clone(), namespace);
    let (api, predicate) = (&api, &predicate);
    wait_for(timeout, Duration::from_millis(200), || async move {
        match api.get_opt(name).await? {
            Some(cm) if predicate(&cm) => Ok(cm),
            Some(cm) => bail!(
                "spoke ConfigMap {namespace}/{name} is not {what}: labels {:?}, data {:?}",
                cm.metadata.labels,
                cm.data
            ),
            None => bail!("spoke ConfigMap {namespace}/{name} does not exist (expected {what})"),
        }
    })
    .await
}

/// Waits until spoke ConfigMap `namespace/name` has `data.<key> == value`.
pub async fn wait_for_spoke_value(
    spoke: &Client,
    namespace: &str,
    name: &str,
    key: &str,
    value: &str,
) -> Result<ConfigMap> {
    wait_for_spoke_configmap(
        spoke,
        namespace,
        name,
        &format!("data.{key}={value:?}"),
        Duration::from_secs(30),
        |cm| {
            cm.data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(String::as_str)
                == Some(value)
        },
    )
    .await
}

// ------------------------------------------------------------------------------------------- controller log

/// The controller's log file (`$HIVESYNC_E2E_CONTROLLER_LOG`, set by `hack/e2e.sh`), if known.
pub fn controller_log() -> Option<PathBuf> {
    std::env::var_os("HIVESYNC_E2E_CONTROLLER_LOG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Removes ANSI colour escapes (the controller logs in colour).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The controller's log lines that contain `needle`, without colour.
pub fn controller_log_lines(needle: &str) -> Vec<String> {
    let Some(path) = controller_log() else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read(&path) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&text)
        .lines()
        .map(strip_ansi)
        .filter(|l| l.contains(needle))
        .collect()
}

/// The last `n` controller log lines that contain `needle`, formatted for a failure message (empty without a log).
pub fn controller_log_tail(needle: &str, n: usize) -> String {
    let lines = controller_log_lines(needle);
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(n);
    format!(
        "\ncontroller log lines mentioning {needle} (last {}):\n{}",
        lines.len() - start,
        lines[start..].join("\n")
    )
}

// ---------------------------------------------------------------------------------------------- clean-up

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

/// Waits (up to `timeout`) until the controller's log has a line that contains every one of `needles` (colour
/// removed), and returns those lines. Fails at once when the log's path is unknown (no `$HIVESYNC_E2E_CONTROLLER_LOG`,
/// e.g. with `HIVESYNC_E2E_EXTERNAL_CONTROLLER=1`).
pub async fn wait_for_controller_log_line(
    needles: &[&str],
    timeout: Duration,
) -> Result<Vec<String>> {
    let Some(path) = controller_log() else {
        bail!("the controller's log is unknown: HIVESYNC_E2E_CONTROLLER_LOG is not set (run through hack/e2e.sh)");
    };
    let (path, first) = (&path, needles.first().copied().unwrap_or_default());
    wait_for(timeout, Duration::from_millis(250), || async move {
        let lines: Vec<String> = controller_log_lines(first)
            .into_iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .collect();
        if lines.is_empty() {
            bail!(
                "no line of the controller log {} contains all of {needles:?}{}",
                path.display(),
                controller_log_tail(first, 10)
            );
        }
        Ok(lines)
    })
    .await
}

// ------------------------------------------------------------------------------- controllers started by a test

/// Set (to `1`) by `hack/e2e.sh` for its second phase: no shared controller runs, each `faults::restart_` test starts
/// and kills controllers of its own ([`Controller`]).
pub const OWN_CONTROLLER_ENV: &str = "HIVESYNC_E2E_OWN_CONTROLLER";

/// Fails (with how to run it) unless the suite runs without a shared controller, so that a test may start, kill and
/// restart controllers of its own: `hack/e2e.sh` runs the `restart_` tests that way, after the others.
pub fn require_own_controller() -> Result<()> {
    if std::env::var(OWN_CONTROLLER_ENV).as_deref() == Ok("1") {
        return Ok(());
    }
    bail!(
        "this test starts and kills controllers of its own, so no other controller may run against the hub: run it \
         through hack/e2e.sh (its second phase sets {OWN_CONTROLLER_ENV}=1 after stopping the shared controller), \
         e.g. `hack/e2e.sh restart_`; it is not run with HIVESYNC_E2E_EXTERNAL_CONTROLLER=1"
    )
}

/// A `hivesync controller` process started by a test (stdout and stderr appended to the controller log, after a
/// marker line). Dropping it kills the process (SIGKILL) and reaps it.
///
/// The binary is `$HIVESYNC_E2E_BIN` (else `<repo>/target/debug/hivesync`), the hub kubeconfig
/// `$HIVESYNC_E2E_CONTROLLER_KUBECONFIG` (else [`hub_kubeconfig`]), the log `$HIVESYNC_E2E_CONTROLLER_LOG` (so
/// [`controller_log_lines`] sees it; else a file in the temp directory). Each pid is appended to
/// `$HIVESYNC_E2E_CONTROLLER_PIDFILE` when set, so `hack/e2e.sh` can end a controller a killed test run left behind.
pub struct Controller {
    child: std::process::Child,
    log: PathBuf,
    /// Where this process's output starts in the log.
    offset: u64,
}

impl Controller {
    /// The flags every test controller gets unless `args` gives them: those of the shared controller.
    pub const DEFAULT_ARGS: &'static [(&'static str, &'static str)] = &[
        ("--probe-interval", "2s"),
        ("--remote-timeout", "5s"),
        ("--metrics-address", "127.0.0.1:0"),
    ];

    /// Starts `hivesync controller --kubeconfig <hub> [DEFAULT_ARGS not in args] args...` and returns once it logs
    /// "hub caches synced" (within 30 s), or fails with its log.
    pub async fn start(args: &[&str]) -> Result<Self> {
        Self::start_with_env(args, &[]).await
    }

    /// [`Controller::start`] with extra environment variables (e.g. `RUST_LOG`).
    pub async fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let controller = Self::spawn(args, env, None)?;
        controller.wait_until_synced().await
    }

    /// Starts a controller without waiting for its hub caches (e.g. while the hub is down).
    pub fn start_without_waiting(args: &[&str]) -> Result<Self> {
        Self::spawn(args, &[], None)
    }

    /// Starts a controller that logs to a file of its own (`<suite log>.<suffix>`), for tests that tell replicas'
    /// logs apart.
    pub async fn start_with_own_log(args: &[&str], suffix: &str) -> Result<Self> {
        let base = controller_log()
            .unwrap_or_else(|| std::env::temp_dir().join("hivesync-e2e-controller.log"));
        let log = base.with_extension(format!("log.{suffix}"));
        Self::spawn(args, &[], Some(log))?.wait_until_synced().await
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], log: Option<PathBuf>) -> Result<Self> {
        require_own_controller()?;
        let bin = std::env::var_os("HIVESYNC_E2E_BIN")
            .filter(|b| !b.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target/debug/hivesync"));
        let kubeconfig = std::env::var_os("HIVESYNC_E2E_CONTROLLER_KUBECONFIG")
            .filter(|k| !k.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(hub_kubeconfig);
        let log = log
            .or_else(controller_log)
            .unwrap_or_else(|| std::env::temp_dir().join("hivesync-e2e-controller.log"));
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening the controller log {}", log.display()))?;
        let test = std::thread::current()
            .name()
            .unwrap_or("<unnamed test>")
            .to_string();
        writeln!(
            file,
            "===== e2e: {test} starts a controller ({})",
            jiff::Timestamp::now()
        )?;
        let offset = file.metadata()?.len();

        let mut command = Command::new(&bin);
        command
            .arg("controller")
            .arg("--kubeconfig")
            .arg(&kubeconfig);
        for (flag, value) in Self::DEFAULT_ARGS {
            let given = args
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
            if !given {
                command.arg(flag).arg(value);
            }
        }
        command
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = command
            .spawn()
            .with_context(|| format!("starting {} (run `cargo build`)", bin.display()))?;
        if let Some(pidfile) =
            std::env::var_os("HIVESYNC_E2E_CONTROLLER_PIDFILE").filter(|p| !p.is_empty())
        {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&pidfile)
                .with_context(|| format!("opening {}", PathBuf::from(&pidfile).display()))?;
            writeln!(f, "{}", child.id())?;
        }
        let controller = Self { child, log, offset };
        eprintln!(
            "started controller pid {} (log {})",
            controller.pid(),
            controller.log.display()
        );
        Ok(controller)
    }

    /// Waits until the controller logs that its hub caches are synced.
    pub async fn wait_until_synced(mut self) -> Result<Self> {
        let started = std::time::Instant::now();
        loop {
            let controller = &mut self;
            if controller.output().contains("hub caches synced") {
                eprintln!(
                    "controller pid {} synced its hub caches after {:?}",
                    controller.pid(),
                    started.elapsed()
                );
                return Ok(self);
            }
            if let Some(status) = controller.child.try_wait()? {
                bail!(
                    "the controller exited ({status}) before its hub caches synced; its output:\n{}",
                    controller.output()
                );
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "the controller did not log \"hub caches synced\" within 30s; its output:\n{}",
                    controller.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no shutdown of any kind; returns once the process is reaped.
    pub fn kill9(&mut self) -> Result<()> {
        if self.is_running() {
            self.child.kill().context("killing the controller")?;
        }
        self.child.wait().context("reaping the controller")?;
        eprintln!("killed controller pid {} (SIGKILL)", self.pid());
        Ok(())
    }

    /// SIGTERM (what the kubelet sends), then waits up to `grace` for the process to exit; returns its exit status.
    pub fn terminate(&mut self, grace: Duration) -> Result<std::process::ExitStatus> {
        let out = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .output()
            .context("running kill -TERM")?;
        ensure!(out.status.success(), "kill -TERM {} failed", self.pid());
        let deadline = std::time::Instant::now() + grace;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "the controller (pid {}) did not exit within {grace:?} of SIGTERM",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What this process has logged so far, without colour.
    pub fn output(&self) -> String {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let mut text = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            if f.seek(SeekFrom::Start(self.offset)).is_ok() {
                let _ = f.read_to_end(&mut text);
            }
        }
        String::from_utf8_lossy(&text)
            .lines()
            .map(strip_ansi)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// This process's log lines that contain `needle`, without colour.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.output()
            .lines()
            .filter(|l| l.contains(needle))
            .map(String::from)
            .collect()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            eprintln!(
                "killed controller pid {} at the end of the test",
                self.pid()
            );
        }
        let _ = self.child.wait();
    }
}
