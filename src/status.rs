//! Hub writes: ClusterSync (created with its owner reference, status replaced only when it changed), the
//! ClusterSyncLease, and ClusterDeployment status (conditions, and `installedTimestamp` when it is missing). Optimistic concurrency everywhere: a conflict is retried
//! from a fresh read (conditions) or left to the next reconcile (ClusterSync).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use kube::api::PostParams;
use kube::{Api, Client, Resource, ResourceExt};

use crate::api::{
    ClusterDeployment, ClusterDeploymentCondition, ClusterDeploymentStatus, ClusterKey,
    ClusterSync, ClusterSyncLease, ClusterSyncLeaseSpec, ClusterSyncSpec, ClusterSyncStatus,
};
use crate::consts::FIELD_MANAGER;

pub fn now() -> Time {
    Time(jiff::Timestamp::now())
}

fn post() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// Non-controller owner reference with `blockOwnerDeletion`, as Hive sets on ClusterSync and its lease.
fn owner<K: Resource<DynamicType = ()>>(o: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into(),
        kind: K::kind(&()).into(),
        name: o.name_any(),
        uid: o.uid().unwrap_or_default(),
        block_owner_deletion: Some(true),
        controller: None,
    }
}

/// Creates the ClusterSync for a ClusterDeployment (same name and namespace); an existing one is read instead.
pub async fn create_cluster_sync(
    hub: &Client,
    cd: &ClusterDeployment,
) -> kube::Result<ClusterSync> {
    let ns = cd.namespace().unwrap_or_default();
    let api: Api<ClusterSync> = Api::namespaced(hub.clone(), &ns);
    let cs = ClusterSync {
        metadata: ObjectMeta {
            name: Some(cd.name_any()),
            namespace: Some(ns),
            owner_references: Some(vec![owner(cd)]),
            ..Default::default()
        },
        spec: ClusterSyncSpec {},
        status: None,
    };
    match api.create(&post(), &cs).await {
        Err(kube::Error::Api(s)) if s.code == 409 => api.get(&cd.name_any()).await,
        other => other,
    }
}

/// Replaces the ClusterSync status (resourceVersion-checked).
pub async fn write_cluster_sync_status(
    hub: &Client,
    current: &ClusterSync,
    status: ClusterSyncStatus,
) -> kube::Result<ClusterSync> {
    let api: Api<ClusterSync> =
        Api::namespaced(hub.clone(), &current.namespace().unwrap_or_default());
    // Not `current.clone()`: that would copy the old status (tens of KB at OSD scale) only to replace it.
    let mut next = ClusterSync::new(&current.name_any(), current.spec.clone());
    next.metadata = current.metadata.clone();
    next.metadata.managed_fields = None;
    next.status = Some(status);
    api.replace_status(&current.name_any(), &post(), &next)
        .await
}

/// Records a full re-apply: creates the lease (owned by the ClusterSync) or moves its `renewTime`.
pub async fn renew_lease(
    hub: &Client,
    cs: &ClusterSync,
    existing: Option<&ClusterSyncLease>,
) -> kube::Result<ClusterSyncLease> {
    let api: Api<ClusterSyncLease> =
        Api::namespaced(hub.clone(), &cs.namespace().unwrap_or_default());
    let renew_time = MicroTime(jiff::Timestamp::now());
    match existing {
        Some(lease) => {
            let mut next = lease.clone();
            next.spec.renew_time = renew_time.clone();
            next.metadata.managed_fields = None;
            match api.replace(&lease.name_any(), &post(), &next).await {
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {
                    create_lease(&api, cs, renew_time).await
                }
                other => other,
            }
        }
        None => create_lease(&api, cs, renew_time).await,
    }
}

async fn create_lease(
    api: &Api<ClusterSyncLease>,
    cs: &ClusterSync,
    renew_time: MicroTime,
) -> kube::Result<ClusterSyncLease> {
    let lease = ClusterSyncLease {
        metadata: ObjectMeta {
            name: Some(cs.name_any()),
            namespace: cs.namespace(),
            owner_references: Some(vec![owner(cs)]),
            ..Default::default()
        },
        spec: ClusterSyncLeaseSpec {
            renew_time: renew_time.clone(),
        },
    };
    match api.create(&post(), &lease).await {
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let mut live = api.get(&cs.name_any()).await?;
            live.spec.renew_time = renew_time;
            api.replace(&cs.name_any(), &post(), &live).await
        }
        other => other,
    }
}

/// Changes a ClusterDeployment's conditions with `change` (which returns whether it changed anything), from `cached`
/// (the watched copy) or else a fresh read, re-reading on conflict. Other writers (the reachability probe) update the
/// same list. `change` keeps Hive's order (`plan::conditions::set_cd_condition` re-sorts after every change).
pub async fn update_cd_conditions(
    hub: &Client,
    cluster: &ClusterKey,
    cached: Option<&ClusterDeployment>,
    change: impl Fn(&mut Vec<ClusterDeploymentCondition>) -> bool,
) -> kube::Result<bool> {
    update_cd_status(hub, cluster, cached, |_, status| {
        change(&mut status.conditions)
    })
    .await
}

/// Changes a ClusterDeployment's status with `change` (given the object's metadata; returns whether it changed
/// anything), as [`update_cd_conditions`]: from `cached` or a fresh read, re-reading on conflict.
pub async fn update_cd_status(
    hub: &Client,
    cluster: &ClusterKey,
    mut cached: Option<&ClusterDeployment>,
    change: impl Fn(&ObjectMeta, &mut ClusterDeploymentStatus) -> bool,
) -> kube::Result<bool> {
    let api: Api<ClusterDeployment> = Api::namespaced(hub.clone(), &cluster.namespace);
    let name = &cluster.name;
    for _ in 0..5 {
        // The watched copy first (its resourceVersion makes a stale one a 409): one request instead of a GET and a
        // PUT, which matters when a dead spoke has hundreds of its clusters marked at once on a busy hub.
        let mut cd = match cached.take() {
            Some(cd) => cd.clone(),
            None => api.get_status(name).await?,
        };
        let mut status = cd.status.take().unwrap_or_default();
        if !change(&cd.metadata, &mut status) {
            return Ok(false);
        }
        cd.status = Some(status);
        cd.metadata.managed_fields = None;
        match api.replace_status(name, &post(), &cd).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
