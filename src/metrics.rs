//! Prometheus metrics: Hive's names, types, labels and buckets where hivesync means the same thing
//! (docs/hive-compatibility.md, "Metrics"), so existing dashboards and alerts keep working, plus `hivesync_*` for what Hive lacks.
//! Everything is registered in the process-wide default registry that `/metrics` serves.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus::{
    register_gauge_vec, register_histogram, register_histogram_vec, register_int_counter_vec,
    register_int_gauge, register_int_gauge_vec, GaugeVec, Histogram, HistogramVec, IntCounterVec,
    IntGauge, IntGaugeVec,
};

/// The `controller` label of the shared Hive metrics.
pub const CONTROLLER: &str = "clustersync";

macro_rules! lazy {
    ($name:ident: $ty:ty = $init:expr) => {
        pub static $name: LazyLock<$ty> =
            LazyLock::new(|| $init.expect(concat!("registering ", stringify!($name))));
    };
}

lazy!(RESOURCES_APPLIED: IntCounterVec = register_int_counter_vec!(
    "hive_syncsetinstance_resources_applied_total",
    "Number of resources and secrets applied, by apply type and result",
    &["type", "result"]
));
lazy!(RESOURCE_APPLY_SECONDS: HistogramVec = register_histogram_vec!(
    "hive_syncsetinstance_apply_duration_seconds",
    "Time to apply one resource or secret",
    &["type", "result"],
    vec![0.5, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0]
));
lazy!(SYNCSET_FIRST_APPLY_SECONDS: HistogramVec = register_histogram_vec!(
    "hive_syncset_apply_duration_seconds",
    "Time from SyncSet creation (or cluster install / reachability) to its first successful apply on a cluster",
    &["group"],
    vec![5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0]
));
lazy!(SELECTORSYNCSET_FIRST_APPLY_SECONDS: HistogramVec = register_histogram_vec!(
    "hive_selectorsyncset_apply_duration_seconds",
    "Time to the first successful apply of a SelectorSyncSet on a new cluster",
    &["name"],
    vec![5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0]
));
lazy!(CLUSTERSYNC_FIRST_SUCCESS_SECONDS: Histogram = register_histogram!(
    "hive_clustersync_first_success_duration_seconds",
    "ClusterSync firstSuccessTime minus the ClusterDeployment's installedTimestamp",
    vec![60.0, 300.0, 600.0, 1200.0, 1800.0, 2400.0, 3000.0, 3600.0]
));
lazy!(RECONCILE_SECONDS: HistogramVec = register_histogram_vec!(
    "hive_controller_reconcile_seconds",
    "Distribution of reconcile times",
    &["controller", "outcome"],
    vec![0.001, 0.01, 0.1, 1.0, 10.0, 30.0, 60.0, 120.0]
));
lazy!(CLIENT_REQUESTS: IntCounterVec = register_int_counter_vec!(
    "hive_kube_client_requests_total",
    "Kubernetes API requests, hub (remote=false) and managed clusters (remote=true)",
    &["controller", "method", "resource", "remote", "status"]
));
lazy!(CLIENT_REQUESTS_CANCELLED: IntCounterVec = register_int_counter_vec!(
    "hive_kube_client_requests_cancelled_total",
    "Kubernetes API requests abandoned before an answer (a deadline, a shutdown)",
    &["controller", "method", "resource", "remote"]
));
lazy!(CLIENT_REQUEST_SECONDS: HistogramVec = register_histogram_vec!(
    "hive_kube_client_request_seconds",
    "Kubernetes API request latency",
    &["controller", "method", "resource", "remote", "status"],
    vec![0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0]
));
lazy!(SSS_CLUSTERS: IntGaugeVec = register_int_gauge_vec!(
    "hive_selectorsyncset_clusters_total",
    "Number of ClusterSyncs with an entry for this SelectorSyncSet",
    &["name"]
));
lazy!(SSS_CLUSTERS_UNAPPLIED: IntGaugeVec = register_int_gauge_vec!(
    "hive_selectorsyncset_clusters_unapplied_total",
    "Number of ClusterSyncs whose entry for this SelectorSyncSet is not Success",
    &["name"]
));
lazy!(SYNCSETS_TOTAL: IntGauge = register_int_gauge!(
    "hive_syncsets_total",
    "SyncSet entries across all ClusterSyncs"
));
lazy!(SYNCSETS_UNAPPLIED: IntGauge = register_int_gauge!(
    "hive_syncsets_unapplied_total",
    "SyncSet entries across all ClusterSyncs that are not Success"
));
lazy!(SYNCSET_PAUSED: GaugeVec = register_gauge_vec!(
    "hive_cluster_deployment_syncset_paused",
    "ClusterDeployments with hive.openshift.io/syncset-pause set",
    &["cluster_deployment", "namespace", "cluster_type"]
));
lazy!(CLUSTERS: IntGaugeVec = register_int_gauge_vec!(
    "hivesync_clusters",
    "ClusterDeployments by reachability (the Unreachable condition: reachable, unreachable, unknown)",
    &["reachability"]
));
lazy!(QUEUE_DEPTH: IntGauge = register_int_gauge!(
    "hivesync_queue_depth",
    "Clusters waiting for a sync worker"
));
lazy!(WORKER_PANICS: IntCounterVec = register_int_counter_vec!(
    "hivesync_worker_panics_total",
    "Panics caught in a worker (reconcile or probe); the key is retried with backoff",
    &["worker"]
));
lazy!(OBJECTS: IntGaugeVec = register_int_gauge_vec!(
    "hivesync_objects",
    "Applied objects with a health rule, by health as last assessed (Healthy, Progressing, Degraded, Missing, Unknown)",
    &["health"]
));
lazy!(ROLLOUT_STEP: IntGaugeVec = register_int_gauge_vec!(
    "hivesync_rollout_step",
    "The step (0-based) a syncset's progressive rollout is at; the number of steps once complete",
    &["kind", "name"]
));
lazy!(ROLLOUT_CLUSTERS: IntGaugeVec = register_int_gauge_vec!(
    "hivesync_rollout_clusters",
    "Clusters of a rolled-out syncset at its update revision and at its stable one",
    &["kind", "name", "revision"]
));
lazy!(TIME_TO_HEALTHY: Histogram = register_histogram!(
    "hivesync_time_to_healthy_seconds",
    "From a run that applied something to a cluster until all its objects with a health rule are Healthy",
    vec![1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0]
));
lazy!(DRIFT_CORRECTIONS: IntCounterVec = register_int_counter_vec!(
    "hivesync_drift_corrections_total",
    "Objects applied again because they were deleted, or fields hivesync owns were changed, on the managed cluster",
    &["kind"]
));
lazy!(LAST_SUCCESS_AGE: GaugeVec = register_gauge_vec!(
    "hivesync_cluster_last_success_age_seconds",
    "Seconds since the cluster's last reconcile that ended with every syncset applied",
    &["namespace", "name"]
));
lazy!(BUILD: GaugeVec = register_gauge_vec!(
    "hivesync_build_info",
    "Always 1; the labels name the version and the commit the binary was built from",
    &["version", "commit"]
));

// controller-runtime's families, as Hive's controllers export them and its scale-test dashboards graph them: the
// work queues (client-go's workqueue metrics, label `name`: `clustersync` for the sync queue, `unreachable` for the
// reachability probes) and the reconcile results. Buckets as client-go's: 10 ns to 10 s, ×10.
fn workqueue_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(1e-8, 10.0, 10).expect("valid buckets")
}
lazy!(WORKQUEUE_DEPTH: IntGaugeVec = register_int_gauge_vec!(
    "workqueue_depth",
    "Current depth of workqueue",
    &["name"]
));
lazy!(WORKQUEUE_ADDS: IntCounterVec = register_int_counter_vec!(
    "workqueue_adds_total",
    "Total number of adds handled by workqueue",
    &["name"]
));
lazy!(WORKQUEUE_QUEUE_SECONDS: HistogramVec = register_histogram_vec!(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    &["name"],
    workqueue_buckets()
));
lazy!(WORKQUEUE_WORK_SECONDS: HistogramVec = register_histogram_vec!(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes",
    &["name"],
    workqueue_buckets()
));
lazy!(WORKQUEUE_RETRIES: IntCounterVec = register_int_counter_vec!(
    "workqueue_retries_total",
    "Total number of retries handled by workqueue",
    &["name"]
));
lazy!(RECONCILE_TOTAL: IntCounterVec = register_int_counter_vec!(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller",
    &["controller", "result"]
));

/// One work queue's series of the `workqueue_*` families, resolved once.
pub struct QueueMetrics {
    pub depth: prometheus::IntGauge,
    pub adds: prometheus::IntCounter,
    pub queue_seconds: Histogram,
    pub work_seconds: Histogram,
    pub retries: prometheus::IntCounter,
    /// `controller_runtime_reconcile_total{controller=<name>}` by result.
    pub success: prometheus::IntCounter,
    pub error: prometheus::IntCounter,
    pub requeue_after: prometheus::IntCounter,
}

impl QueueMetrics {
    pub fn new(name: &str) -> Self {
        let result = |r: &str| RECONCILE_TOTAL.with_label_values(&[name, r]);
        Self {
            depth: WORKQUEUE_DEPTH.with_label_values(&[name]),
            adds: WORKQUEUE_ADDS.with_label_values(&[name]),
            queue_seconds: WORKQUEUE_QUEUE_SECONDS.with_label_values(&[name]),
            work_seconds: WORKQUEUE_WORK_SECONDS.with_label_values(&[name]),
            retries: WORKQUEUE_RETRIES.with_label_values(&[name]),
            success: result("success"),
            error: result("error"),
            requeue_after: result("requeue_after"),
        }
    }
}

/// The controller (and queue) name Hive's controllers use for a worker pool of [`crate::hub::queue::run_workers`].
pub fn controller_name(worker: &'static str) -> &'static str {
    match worker {
        "reconcile" => CONTROLLER,
        "probe" => "unreachable",
        other => other,
    }
}

/// The `resource` label Hive uses: `core/v1/configmaps`, `<group>/<version>/<resource>`; None when the path is not
/// an API resource path (such paths are not counted, as in Hive).
pub fn resource_label(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("core", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let resource = match rest {
        ["namespaces", _, resource, ..] => *resource,
        [resource, ..] => *resource,
        [] => return None,
    };
    Some(format!("{group}/{version}/{resource}"))
}

/// A tower layer counting and timing every request of a kube client.
#[derive(Clone, Copy)]
pub struct ClientMetricsLayer {
    pub remote: bool,
}

impl<S> tower::Layer<S> for ClientMetricsLayer {
    type Service = ClientMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ClientMetrics {
            inner,
            remote: self.remote,
        }
    }
}

#[derive(Clone)]
pub struct ClientMetrics<S> {
    inner: S,
    remote: bool,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for ClientMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let labels = resource_label(req.uri().path()).map(|r| (req.method().to_string(), r));
        let remote = if self.remote { "true" } else { "false" };
        let start = Instant::now();
        let fut = self.inner.call(req);
        // Dropped before the answer (the caller's deadline passed, or the task was stopped): counted as cancelled.
        let cancelled = labels.as_ref().map(|(method, resource)| Cancelled {
            labels: [
                CONTROLLER.to_string(),
                method.clone(),
                resource.clone(),
                remote.to_string(),
            ],
            armed: true,
        });
        Box::pin(async move {
            let result = fut.await;
            if let Some(mut c) = cancelled {
                c.armed = false;
            }
            if let Some((method, resource)) = labels {
                let status = match &result {
                    Ok(r) => format!(
                        "{} {}",
                        r.status().as_u16(),
                        r.status().canonical_reason().unwrap_or_default()
                    ),
                    Err(_) => "error".to_string(),
                };
                let l = [
                    CONTROLLER,
                    method.as_str(),
                    resource.as_str(),
                    remote,
                    status.as_str(),
                ];
                CLIENT_REQUESTS.with_label_values(&l).inc();
                CLIENT_REQUEST_SECONDS
                    .with_label_values(&l)
                    .observe(start.elapsed().as_secs_f64());
            }
            result
        })
    }
}

/// Counts a request as cancelled when dropped while still armed.
struct Cancelled {
    labels: [String; 4],
    armed: bool,
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        if self.armed {
            let l = self.labels.each_ref().map(String::as_str);
            CLIENT_REQUESTS_CANCELLED.with_label_values(&l).inc();
        }
    }
}

/// The hub's client, its requests counted in `hive_kube_client_*{remote="false"}` (managed clusters' clients are
/// built in `remote::connect`). Every hub call waits at most `HUB_REQUEST_TIMEOUT` for its response to start: a
/// half-open hub connection must not park a worker for good. Watches are unaffected (the API server starts their
/// response at once, then streams).
pub fn hub_client(config: kube::Config) -> kube::Result<kube::Client> {
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&ClientMetricsLayer { remote: false })
        .with_layer(&tower::timeout::TimeoutLayer::new(
            crate::consts::HUB_REQUEST_TIMEOUT,
        ))
        .build())
}

/// Touches every metric so `/metrics` lists them from the start.
pub fn init() {
    BUILD
        .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("HIVESYNC_COMMIT")])
        .set(1.0);
    LazyLock::force(&RESOURCES_APPLIED);
    LazyLock::force(&RESOURCE_APPLY_SECONDS);
    LazyLock::force(&SYNCSET_FIRST_APPLY_SECONDS);
    LazyLock::force(&SELECTORSYNCSET_FIRST_APPLY_SECONDS);
    LazyLock::force(&CLUSTERSYNC_FIRST_SUCCESS_SECONDS);
    LazyLock::force(&RECONCILE_SECONDS);
    LazyLock::force(&CLIENT_REQUESTS);
    LazyLock::force(&CLIENT_REQUESTS_CANCELLED);
    LazyLock::force(&CLIENT_REQUEST_SECONDS);
    LazyLock::force(&SSS_CLUSTERS);
    LazyLock::force(&SSS_CLUSTERS_UNAPPLIED);
    LazyLock::force(&SYNCSETS_TOTAL);
    LazyLock::force(&SYNCSETS_UNAPPLIED);
    LazyLock::force(&SYNCSET_PAUSED);
    LazyLock::force(&CLUSTERS);
    LazyLock::force(&QUEUE_DEPTH);
    LazyLock::force(&WORKER_PANICS);
    LazyLock::force(&OBJECTS);
    LazyLock::force(&TIME_TO_HEALTHY);
    LazyLock::force(&DRIFT_CORRECTIONS);
    LazyLock::force(&LAST_SUCCESS_AGE);
    LazyLock::force(&WORKQUEUE_DEPTH);
    LazyLock::force(&WORKQUEUE_ADDS);
    LazyLock::force(&WORKQUEUE_QUEUE_SECONDS);
    LazyLock::force(&WORKQUEUE_WORK_SECONDS);
    LazyLock::force(&WORKQUEUE_RETRIES);
    LazyLock::force(&RECONCILE_TOTAL);
    // `process_*` (CPU seconds, resident and virtual memory, file descriptors, start time; Linux, from /proc): the
    // prometheus crate's `process` feature registers them in the default registry itself.
}

#[cfg(test)]
mod tests {
    use super::resource_label;

    #[tokio::test]
    async fn a_request_dropped_before_its_answer_counts_as_cancelled() {
        use super::{ClientMetrics, CLIENT_REQUESTS_CANCELLED, CONTROLLER};
        use tower::Service;
        let mut svc = ClientMetrics {
            inner: tower::service_fn(|_: http::Request<()>| {
                std::future::pending::<Result<http::Response<()>, std::convert::Infallible>>()
            }),
            remote: true,
        };
        let labels = [CONTROLLER, "GET", "core/v1/configmaps", "true"];
        let before = CLIENT_REQUESTS_CANCELLED.with_label_values(&labels).get();
        let request = http::Request::get("/api/v1/namespaces/x/configmaps/y")
            .body(())
            .unwrap();
        let pending = svc.call(request);
        let _ = tokio::time::timeout(std::time::Duration::from_millis(10), pending).await;
        assert_eq!(
            CLIENT_REQUESTS_CANCELLED.with_label_values(&labels).get(),
            before + 1
        );
    }

    #[test]
    fn build_info_names_the_version_and_the_commit() {
        super::init();
        let family = prometheus::gather()
            .into_iter()
            .find(|f| f.name() == "hivesync_build_info")
            .expect("hivesync_build_info is registered");
        let labels: Vec<(String, String)> = family.get_metric()[0]
            .get_label()
            .iter()
            .map(|l| (l.name().to_string(), l.value().to_string()))
            .collect();
        assert_eq!(
            labels,
            [
                ("commit".to_string(), env!("HIVESYNC_COMMIT").to_string()),
                ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ]
        );
        assert_ne!(env!("HIVESYNC_COMMIT"), "");
    }

    #[test]
    fn the_families_hive_s_dashboards_graph_are_exported() {
        super::init();
        // A vector family is listed once it has a series: the sync queue's, as the controller names it.
        let _ = super::QueueMetrics::new(super::CONTROLLER);
        let names: Vec<String> = prometheus::gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let mut expected = vec![
            "workqueue_depth",
            "workqueue_adds_total",
            "workqueue_queue_duration_seconds",
            "workqueue_work_duration_seconds",
            "workqueue_retries_total",
            "controller_runtime_reconcile_total",
        ];
        if cfg!(target_os = "linux") {
            expected.extend(["process_cpu_seconds_total", "process_resident_memory_bytes"]);
        }
        for family in expected {
            assert!(
                names.iter().any(|n| n == family),
                "{family} missing: {names:?}"
            );
        }
    }

    #[test]
    fn resource_labels_follow_hive() {
        assert_eq!(
            resource_label("/api/v1/namespaces/ns/configmaps/x").as_deref(),
            Some("core/v1/configmaps")
        );
        assert_eq!(
            resource_label("/api/v1/namespaces").as_deref(),
            Some("core/v1/namespaces")
        );
        assert_eq!(
            resource_label("/apis/hive.openshift.io/v1/namespaces/n/clusterdeployments/c/status")
                .as_deref(),
            Some("hive.openshift.io/v1/clusterdeployments")
        );
        assert_eq!(
            resource_label("/apis/apps/v1/deployments").as_deref(),
            Some("apps/v1/deployments")
        );
        assert_eq!(resource_label("/version"), None);
        assert_eq!(resource_label("/apis/apps/v1"), None);
    }
}
