//! Runs the plan's operations against the cluster, one at a time, feeding each result back into the plan. The only
//! decision made here is whether a failure means the cluster itself is gone (then the run stops and the cluster is
//! probed), or only that operation failed (then the plan records it and goes on).

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use rand::Rng;
use tracing::{info, warn};

use super::connect::Spoke;
use super::Context;
use crate::api::ClusterKey;
use crate::metrics;
use crate::plan::decode;
use crate::plan::run::{ClusterRun, Op, OpError};
use crate::remote::{ops, Cause, RemoteCluster, RemoteError};

/// The cluster stopped answering during the run: nothing more was sent, and a probe was asked for.
pub(super) struct Lost;

/// Runs `run`'s operations until it has none left, or until the cluster stops answering.
pub(super) async fn execute(
    ctx: &Context,
    key: &ClusterKey,
    spoke: &Spoke,
    run: &mut ClusterRun,
) -> Result<(), Lost> {
    while let Some(op) = run.next_op() {
        let result = match spoke {
            Spoke::Remote(rc) => run_op(ctx, key, rc, &op).await.map(|owned| {
                if let Some(applied) = applied_object(&op) {
                    ctx.observations
                        .entry(key.clone())
                        .or_default()
                        .applied(&applied, owned);
                }
            }),
            Spoke::Fake => fake_execute(&op).await,
        };
        let lost = match (&result, spoke) {
            (Err(ExecError::Remote(e)), Spoke::Remote(rc)) if e.cause == Cause::Timeout => {
                !still_answers(rc).await
            }
            (Err(ExecError::Remote(e)), _) => e.cause == Cause::Unreachable,
            (Err(ExecError::ReadSecret(_)), _) | (Ok(()), _) => false,
        };
        match result {
            Ok(()) => run.record(Ok(())),
            Err(e) if lost => {
                // Stop here, record nothing, and have the cluster probed at once; the probe marks it Unreachable
                // (condition and Event) and brings it back. The worker does not wait for that hub write: with a whole
                // spoke down, hundreds of such writes on a busy hub held the workers the healthy clusters needed
                // (scenario 6 of the benchmark).
                warn!(kind = e.kind(), message = %e, "cluster stopped answering during the sync; probing it now");
                ctx.probes.add(key.clone());
                return Err(Lost);
            }
            Err(e) => run.record(Err(e.into())),
        }
    }
    Ok(())
}

/// Whether a cluster whose call just timed out still answers a cheap request. A slow object (an admission webhook
/// slower than `--remote-timeout`, a large body on a slow link) is that syncset's failure, recorded like any other;
/// only a cluster that no longer answers at all stops the sync and is probed (marked Unreachable).
async fn still_answers(rc: &RemoteCluster) -> bool {
    ops::probe(rc, STILL_ANSWERS_TIMEOUT).await.is_ok()
}

/// The object an apply op writes, for its drift baseline.
fn applied_object(op: &Op) -> Option<crate::api::SyncResourceReference> {
    match op {
        Op::Apply { object, .. } => Some(crate::plan::identity::reference_of(object)),
        Op::ApplySecret { target, .. } => Some(crate::plan::decode::secret_reference(target)),
        Op::Patch(_) | Op::Delete(_) => None,
    }
}

/// How long a cluster whose call timed out gets to answer `GET /version`.
const STILL_ANSWERS_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one operation against the managed cluster (and the hub, for a secret's source). An apply returns the
/// fingerprint of the fields hivesync owns on the object (`ops::apply`).
pub(super) async fn run_op(
    ctx: &Context,
    key: &ClusterKey,
    rc: &RemoteCluster,
    op: &Op,
) -> Result<Option<u64>, ExecError> {
    match op {
        Op::Apply { object, behavior } => metered_apply(rc, object, *behavior).await,
        Op::ApplySecret { source: secret, target, behavior } => {
            let source = Api::<Secret>::namespaced(ctx.hub.clone(), &secret.namespace).get(&secret.name).await.map_err(|e| {
                let err = ExecError::ReadSecret(ops::describe_error(&e));
                info!(secret = %secret.name, namespace = %secret.namespace, kind = err.kind(), "cannot read secret");
                err
            })?;
            let owned = metered_apply(rc, &decode::target_secret(&source, target), *behavior).await?;
            ctx.secrets.record_use(secret.clone(), key, source.metadata.resource_version);
            Ok(owned)
        }
        Op::Patch(p) => ops::patch(rc, p).await.map(|()| None).map_err(|e| {
            warn!(patch = p.index, name = %p.name, kind = e.kind(), error = %e.message, "running the patch command failed");
            ExecError::from(e)
        }),
        Op::Delete(r) => ops::delete(rc, r).await.map(|()| None).map_err(ExecError::from),
    }
}

/// Hive's fake cluster (`hive.openshift.io/fake-cluster`, for scale tests without spokes): an apply takes a latency
/// drawn from Hive's distribution; creates, patches and deletes succeed at once. Resource and secret applies are
/// counted in the apply metrics, as Hive counts its fake helper's.
async fn fake_execute(op: &Op) -> Result<(), ExecError> {
    const APPLY_LATENCY_MS: [u64; 10] = [27, 27, 27, 27, 27, 45, 45, 45, 53, 230];
    let behavior = match op {
        Op::Apply { behavior, .. } | Op::ApplySecret { behavior, .. } => *behavior,
        Op::Patch(_) | Op::Delete(_) => return Ok(()),
    };
    let start = std::time::Instant::now();
    if behavior == decode::ApplyBehavior::Apply {
        let ms = APPLY_LATENCY_MS[rand::rng().random_range(0..APPLY_LATENCY_MS.len())];
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let labels = [behavior.metric_label(), "success"];
    metrics::RESOURCES_APPLIED.with_label_values(&labels).inc();
    metrics::RESOURCE_APPLY_SECONDS
        .with_label_values(&labels)
        .observe(start.elapsed().as_secs_f64());
    Ok(())
}

/// One resource or secret apply, counted in Hive's `hive_syncsetinstance_*` metrics.
async fn metered_apply(
    rc: &RemoteCluster,
    object: &serde_json::Value,
    behavior: decode::ApplyBehavior,
) -> Result<Option<u64>, ExecError> {
    let start = std::time::Instant::now();
    let result = ops::apply(rc, object, behavior).await;
    let labels = [
        behavior.metric_label(),
        if result.is_ok() { "success" } else { "error" },
    ];
    metrics::RESOURCES_APPLIED.with_label_values(&labels).inc();
    metrics::RESOURCE_APPLY_SECONDS
        .with_label_values(&labels)
        .observe(start.elapsed().as_secs_f64());
    result.map_err(ExecError::from)
}

/// Why one of the plan's operations failed, as the executor saw it: the controller layer's error, between the remote
/// layer's [`RemoteError`] and what the plan records ([`OpError`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ExecError {
    /// The hub Secret a secret mapping copies could not be read (the hub's message). Nothing was sent to the cluster.
    ReadSecret(String),
    /// The managed cluster failed the call, or did not answer it.
    Remote(RemoteError),
}

impl ExecError {
    /// The label the failure is logged with: `read-secret`, or the remote error's own ([`RemoteError::kind`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ReadSecret(_) => "read-secret",
            Self::Remote(e) => e.kind(),
        }
    }
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ReadSecret(message) => f.write_str(message),
            Self::Remote(e) => e.fmt(f),
        }
    }
}

impl From<RemoteError> for ExecError {
    fn from(e: RemoteError) -> Self {
        Self::Remote(e)
    }
}

/// What the plan records: the message, and whether it was the hub Secret's read (Hive words that entry differently).
/// Whether the cluster was unreachable or slow is the executor's to act on: a cluster that stopped answering ends the
/// run before anything is recorded (`execute`), and the rest is the operation's failure, recorded with its message.
impl From<ExecError> for OpError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::ReadSecret(message) => OpError::ReadSecret(message),
            ExecError::Remote(e) => OpError::Failed(e.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SecretReference;

    // Hive counts its fake helper's applies of copied Secrets too.
    #[tokio::test]
    async fn a_fake_cluster_s_secret_applies_are_counted_like_resource_applies() {
        let applied = |behavior: &str| {
            metrics::RESOURCES_APPLIED
                .with_label_values(&[behavior, "success"])
                .get()
        };
        let before = applied("createOnly");
        let secret = Op::ApplySecret {
            source: crate::api::NamespacedName::new("hub-ns", "source"),
            target: SecretReference {
                name: "copy".into(),
                namespace: "spoke-ns".into(),
            },
            behavior: decode::ApplyBehavior::CreateOnly,
        };
        assert!(fake_execute(&secret).await.is_ok());
        assert!(fake_execute(&secret).await.is_ok());
        // Other tests only add to the counter: at least these two.
        assert!(applied("createOnly") >= before + 2);
    }

    #[test]
    fn an_exec_error_reaches_the_plan_with_its_message_and_whether_it_was_the_secret_read() {
        let read = ExecError::ReadSecret("secrets \"s\" not found".into());
        assert_eq!(read.kind(), "read-secret");
        assert_eq!(
            OpError::from(read),
            OpError::ReadSecret("secrets \"s\" not found".into())
        );
        let slow = ExecError::from(RemoteError::timeout("request timed out after 20s"));
        assert_eq!(
            (slow.kind(), slow.to_string().as_str()),
            ("timeout", "request timed out after 20s")
        );
        assert_eq!(
            OpError::from(slow),
            OpError::Failed("request timed out after 20s".into())
        );
    }
}
