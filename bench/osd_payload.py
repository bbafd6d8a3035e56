"""The OSD-shaped SelectorSyncSet payload of scenario 4, generated from counts (standard library only).

OpenShift Dedicated's hubs push one payload of SelectorSyncSets to every managed cluster: the production template of
the public repository openshift/managed-cluster-config (`hack/00-osd-managed-cluster-config-production.yaml.tmpl`).
This module does not read or contain that file. It builds a payload of the same shape from the counts below, which
were taken from it (commit a0bed768c133ea1b4507e890a4f5cb06fbbfa6d8, 2026-08-20): how many sets, how many resources
in each, which kinds, how large, which apply modes, how many patches, secret mappings and templated sets, and how
much of a fleet each set selects. The objects themselves (names, rules, data) are made up here.

What it reproduces (checked by `summary()`, printed by `bench.py osd-payload`): 378 SelectorSyncSets holding 1,291
resources of 41 kinds (about 3.6 MB of resources, nine of them OAuth page templates of 237-291 kB), 70 patches in 55
sets, 1 secret mapping, 1 templated set (`enableResourceTemplates`, `fromCDLabel`); 346 sets `Sync`, 32 `Upsert`;
12 `CreateOrUpdate`, 1 `CreateOnly`. On the fake fleet of `bench.py osd_labels` 74-110 sets (mean 81.5) and 268-484
resources (mean 287) select each cluster; the template's own selectors pick 68-107 (80.9) and 258-477 (285) there.

How: each set belongs to a tier, a selector over the labels OSD puts on its ClusterDeployments (the keys
`bench.py osd_labels` gives the fake fleet). The template's sets were grouped by the share of that fleet they select
(every managed cluster, ROSA only, one OpenShift minor version, FedRAMP, HyperShift management clusters, ...; 216 of
the 378 select none of the fleet: add-on, storage-quota and other opt-in labels), and each tier records its sets'
resource counts and the rest. The selectors are written here over the same keys; they are not the template's.
"""

import base64
import json
import random

# -------------------------------------------------------------------------------------------------- the counts
# Per tier, counted from the template named above (after substituting its parameters; grouping by the share of the
# `osd_labels` fleet each set selects):
#   sets:     [(resources in a set, how many sets)]
#   patches:  patch count of each set that has patches; they go to the sets without resources first (those are
#             patch-only sets in the template), then to the smallest sets
#   upsert / create_or_update / create_only: the resource counts of the sets with that resourceApplyMode
#             (the others are Sync) / applyBehavior (the others are the default Apply)
#   large:    sizes in bytes (compact JSON) of its resources over 20 kB; the rest share `bytes`
#   bytes:    total size of its other resources
TIERS = {
    "managed": dict(
        sets=[(37, 1), (22, 1), (18, 1), (10, 1), (9, 2), (7, 4), (6, 5), (5, 4), (4, 7), (3, 2), (2, 7), (1, 8),
              (0, 9)],
        patches=[4, 4, 4, 2, 1, 1, 1, 1, 1, 1], upsert=[6, 1], bytes=204174),
    "not-hypershift": dict(sets=[(2, 1), (1, 2)], upsert=[1], bytes=4607),
    "not-fedramp": dict(sets=[(4, 1), (3, 1), (2, 1), (1, 4), (0, 1)], upsert=[4], bytes=33215),
    "aws": dict(sets=[(1, 1)], upsert=[1], bytes=137),
    "recent": dict(sets=[(4, 1), (1, 1)], bytes=7112),
    "rosa": dict(sets=[(1, 8), (0, 1)], patches=[1], upsert=[1, 1], create_or_update=[1, 1, 1, 1, 1, 1],
                 large=[290649, 266505, 242731], bytes=15173),
    "version-range": dict(sets=[(4, 1), (1, 1), (0, 1)], patches=[1], bytes=4282),
    "classic": dict(sets=[(7, 1), (6, 1), (1, 3)], upsert=[7, 1, 1], bytes=5304),
    "sts": dict(sets=[(5, 1)], upsert=[5], bytes=671),
    "osd": dict(sets=[(1, 5), (0, 3)], patches=[1, 1, 1], create_or_update=[1, 1, 1],
                large=[285148, 259008, 237202], bytes=1170),
    "non-ccs": dict(sets=[(1, 4), (0, 1)], patches=[1], bytes=6222),
    "one-version": dict(sets=[(4, 1), (1, 2)], upsert=[1], bytes=4000),
    "version-sts": dict(sets=[(1, 1), (0, 9)], patches=[1] * 9, upsert=[1, 0], create_or_update=[1, 0], bytes=354),
    "private-link": dict(sets=[(6, 1)], upsert=[6], bytes=791),
    "gcp-ccs": dict(sets=[(1, 2)], create_only=[1], bytes=624),
    "fedramp": dict(sets=[(3, 1), (2, 4), (1, 4)], upsert=[1], bytes=21593),
    "hypershift-service": dict(
        sets=[(157, 1), (10, 1), (7, 1), (4, 1), (3, 3), (2, 3), (1, 1), (0, 1)], patches=[3],
        create_or_update=[10], large=[291443, 265060, 243526], bytes=288363),
    "version-gcp": dict(sets=[(0, 2)], patches=[1, 1], bytes=0),
    "hypershift-management": dict(
        sets=[(11, 2), (10, 1), (8, 1), (7, 1), (6, 1), (4, 1), (3, 3), (2, 6), (1, 8), (0, 2)], patches=[2, 1],
        large=[72624, 29221], bytes=98451),
    "none": dict(
        sets=[(17, 1), (14, 31), (5, 3), (4, 6), (3, 8), (2, 19), (1, 124), (0, 24)], patches=[2, 2] + [1] * 23,
        upsert=[5, 3, 2] + [1] * 13, bytes=378989),
}
# Resource kinds over the 1,291 resources.
KINDS = [
    ("ClusterRole", 278), ("RoleBinding", 149), ("SubjectPermission", 138), ("Role", 124), ("PrometheusRule", 80),
    ("Namespace", 70), ("Policy", 56), ("PlacementRule", 56), ("PlacementBinding", 56), ("ServiceAccount", 49),
    ("ClusterResourceQuota", 47), ("ConfigMap", 42), ("ClusterRoleBinding", 29), ("MachineConfig", 22),
    ("CronJob", 21), ("ManagedFleetNotification", 11), ("Secret", 9), ("ManagedNotification", 5),
    ("MachineHealthCheck", 5), ("DaemonSet", 4), ("ServiceMonitor", 4), ("KubeletConfig", 4), ("OperatorGroup", 4),
    ("Schedule", 4), ("SecurityContextConstraints", 3), ("Job", 2), ("Service", 2), ("VpcEndpoint", 2),
    ("ClusterUrlMonitor", 2), ("Console", 2), ("User", 1), ("APIScheme", 1), ("ContainerRuntimeConfig", 1),
    ("Deployment", 1), ("StorageClass", 1), ("ResourceQuota", 1), ("ConsoleNotification", 1), ("NetworkPolicy", 1),
    ("RouteMonitor", 1), ("OAuth", 1), ("VeleroInstall", 1),
]
# Size quantiles (bytes, compact JSON) of the resources under 20 kB: p0, p10, ..., p90, p95, p98, p99, max.
SIZE_QUANTILES = [(0, 80), (.1, 207), (.2, 281), (.3, 320), (.4, 350), (.5, 388), (.6, 420), (.7, 582), (.8, 868),
                  (.9, 1757), (.95, 3212), (.98, 5666), (.99, 8578), (1, 19013)]
# Patch target kinds (69 merge patches, 1 JSON patch); 23 of the 70 name a namespace.
PATCH_KINDS = [("CloudCredential", 21), ("Namespace", 12), ("Route", 10), ("MachineConfiguration", 4),
               ("IngressController", 3), ("Ingress", 3), ("MachineConfigPool", 3), ("Console", 4), ("OAuth", 3),
               ("Prometheus", 2), ("OperatorHub", 2), ("OperatorGroup", 1), ("Config", 1), ("ImagePruner", 1)]
PATCHES_NAMESPACED = 23
# Mean lengths: SelectorSyncSet names 32, resource names 28, namespaces 24 (55 distinct); 832 of the 1,291 resources
# are namespaced (the kind decides). They size the ClusterSync status (its Sync entries list their resources).
SET_NAME_LEN, NAME_LEN, NAMESPACE_LEN, NAMESPACES = 32, 28, 24, 55
# The templated set: one ConfigMap (576 bytes) of cluster facts read from the ClusterDeployment's labels.
TEMPLATED_LABELS = ["api.openshift.com/ccs", "api.openshift.com/product", "api.openshift.com/environment",
                    "hive.openshift.io/cluster-platform", "hive.openshift.io/cluster-region"]
# The secret mapping: a Secret on the hub copied to every non-FedRAMP cluster.
SECRET_MAPPING_SOURCE = ("bench-osd-secrets", "bench-osd-credentials")

CLUSTER_SCOPED = {"ClusterRole", "Namespace", "ClusterResourceQuota", "ClusterRoleBinding", "MachineConfig",
                  "KubeletConfig", "SecurityContextConstraints", "Console", "User", "ContainerRuntimeConfig",
                  "StorageClass", "ConsoleNotification", "OAuth"}
API_VERSIONS = {
    "ClusterRole": "rbac.authorization.k8s.io/v1", "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1", "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
    "ResourceQuota": "v1", "CronJob": "batch/v1", "Job": "batch/v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1",
    "NetworkPolicy": "networking.k8s.io/v1", "StorageClass": "storage.k8s.io/v1",
    "PrometheusRule": "monitoring.coreos.com/v1", "ServiceMonitor": "monitoring.coreos.com/v1",
    "SubjectPermission": "managed.openshift.io/v1alpha1", "ClusterResourceQuota": "quota.openshift.io/v1",
    "Policy": "policy.open-cluster-management.io/v1", "PlacementRule": "apps.open-cluster-management.io/v1",
    "PlacementBinding": "policy.open-cluster-management.io/v1", "MachineConfig": "machineconfiguration.openshift.io/v1",
    "KubeletConfig": "machineconfiguration.openshift.io/v1",
    "ContainerRuntimeConfig": "machineconfiguration.openshift.io/v1",
    "SecurityContextConstraints": "security.openshift.io/v1", "Console": "config.openshift.io/v1",
    "OAuth": "config.openshift.io/v1", "User": "user.openshift.io/v1", "ConsoleNotification": "console.openshift.io/v1",
    "MachineHealthCheck": "machine.openshift.io/v1beta1", "OperatorGroup": "operators.coreos.com/v1",
    "Schedule": "velero.io/v1", "VeleroInstall": "managed.openshift.io/v1alpha2",
}
WORDS = ["managed", "monitoring", "backplane", "rbac", "operator", "config", "prometheus", "rules", "alerts", "sre",
         "admin", "readers", "cluster", "dedicated", "logging", "metrics", "network", "ingress", "console", "upgrade",
         "velero", "policy", "quota", "notifications", "support", "audit", "registry", "storage", "machine", "infra"]


def _name(rnd, mean, prefix=""):
    target = max(8, int(rnd.gauss(mean, mean / 4)))
    parts = [prefix] if prefix else []
    while len("-".join(parts)) < target:
        parts.append(rnd.choice(WORDS))
    return "-".join(parts)[:min(max(target, len(prefix)), 63)].rstrip("-")  # the prefix whole: it makes names unique


def _size(rnd):
    q = rnd.random()
    for (q0, s0), (q1, s1) in zip(SIZE_QUANTILES, SIZE_QUANTILES[1:]):
        if q <= q1:
            return s0 + (s1 - s0) * (q - q0) / (q1 - q0)
    return SIZE_QUANTILES[-1][1]


def _unit(kind, k):
    """One repeating element of a resource body, its list's path: RBAC rules, binding subjects, alert rules, data."""
    if kind in ("ClusterRole", "Role"):
        return ("rules", {"apiGroups": [""], "resources": [f"resource{k}", f"resource{k}/status"],
                          "verbs": ["get", "list", "watch"]})
    if kind in ("RoleBinding", "ClusterRoleBinding", "SubjectPermission"):
        return ("subjects", {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": f"bench-group-{k}"})
    if kind == "PrometheusRule":
        return ("groups", {"name": f"bench.rules.{k}", "rules": [
            {"alert": f"BenchAlert{k}", "expr": f'sum(rate(bench_metric_{k}_total[5m])) by (namespace) > 0',
             "for": "15m", "labels": {"severity": "warning", "namespace": "openshift-monitoring"}}]})
    if kind in ("Namespace", "ServiceAccount"):  # annotations: the API server validates label values
        return ("annotations", (f"bench.openshift.io/key-{k}", "value " * 12))
    if kind == "ConfigMap":
        return ("data", (f"key-{k}", "value " * 12))
    return ("entries", {"name": f"entry-{k}", "value": "bench " * 10})


def _resource(rnd, kind, size, namespaces, serial):
    meta = {"name": f"{_name(rnd, NAME_LEN - 4)}-{serial}"}
    if kind not in CLUSTER_SCOPED:
        meta["namespace"] = rnd.choice(namespaces)
    obj = {"apiVersion": API_VERSIONS.get(kind, "bench.openshift.io/v1"), "kind": kind, "metadata": meta}
    base = len(json.dumps(obj, separators=(",", ":")))
    if kind == "Secret":  # the large ones: a page template, base64 in one key
        n = max(0, int((size - base - 40) * 3 / 4))
        obj["type"] = "Opaque"
        obj["data"] = {"template.html": base64.b64encode(rnd.randbytes(n)).decode()}
        return obj
    path, first = _unit(kind, 0)
    unit = len(json.dumps(first, separators=(",", ":"))) + 1
    count = max(0, round((size - base - 20) / unit))
    if path == "annotations":
        meta["annotations"] = dict(_unit(kind, k)[1] for k in range(count))
    elif path == "data":
        obj["data"] = dict(_unit(kind, k)[1] for k in range(count))
    else:
        items = [_unit(kind, k)[1] for k in range(count)]
        if path == "rules":
            obj["rules"] = items
        elif path == "subjects":
            obj["subjects"] = items
            obj["roleRef"] = {"kind": "ClusterRole", "name": "bench-role", "apiGroup": "rbac.authorization.k8s.io"}
        else:
            obj["spec"] = {path: items}
    return obj


def _selector(tier, i):
    """The tier's selector over the `osd_labels` keys (i varies it within a tier, as the template's sets vary)."""
    managed = {"api.openshift.com/managed": "true"}

    def ex(key, op, *values):
        e = {"key": key, "operator": op}
        if values:
            e["values"] = list(values)
        return e

    versions = ["4.14", "4.15", "4.16", "4.17", "4.18", "4.19", "4.20"]
    mm = "hive.openshift.io/version-major-minor"
    not_fr = ex("api.openshift.com/fedramp", "NotIn", "true")
    hcp = "ext-hypershift.openshift.io/cluster-type"
    exprs = {
        "managed": [ex(mm, "NotIn", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8")] if i % 3 == 1 else [],
        "not-hypershift": [ex(hcp, "NotIn", "management-cluster", "service-cluster")],
        "not-fedramp": [not_fr],
        "aws": [not_fr],
        "recent": [ex(mm, "In", "4.16", "4.17", "4.18", "4.19", "4.20", "4.21", "4.22")],
        "rosa": [ex("api.openshift.com/product", "In", "rosa")],
        "version-range": [ex(mm, "In", "4.14", "4.15", "4.16", "4.17")],
        "classic": [ex("api.openshift.com/sts", "NotIn", "true"), ex("api.openshift.com/wif", "NotIn", "true"), not_fr],
        "sts": [ex("api.openshift.com/sts", "In", "true"), not_fr],
        "osd": [ex("api.openshift.com/product", "NotIn", "rosa")],
        "non-ccs": [ex("api.openshift.com/ccs", "NotIn", "true")],
        "one-version": [ex(mm, "In", "4.16")],
        "version-sts": [ex(mm, "In", versions[i % len(versions)]), ex("api.openshift.com/sts", "In", "true")],
        "private-link": [ex("api.openshift.com/private-link", "In", "true"), ex("api.openshift.com/sts", "NotIn", "true")],
        "gcp-ccs": [ex("hive.openshift.io/cluster-platform", "In", "gcp"), ex("api.openshift.com/ccs", "In", "true")],
        "fedramp": [ex("api.openshift.com/fedramp", "In", "true")],
        "hypershift-service": [ex(hcp, "In", "service-cluster")],
        "version-gcp": [ex(mm, "In", versions[i % len(versions)]), ex("hive.openshift.io/cluster-platform", "In", "gcp")],
        "hypershift-management": [ex(hcp, "In", "management-cluster")],
    }
    labels = dict(managed)
    if tier == "aws":
        labels["hive.openshift.io/cluster-platform"] = "aws"
    if tier == "none":  # opt-in labels no fake cluster carries: add-ons, storage quotas, other environments
        kind = i % 4
        if kind == 0:
            labels[f"api.openshift.com/addon-bench-addon-{i}"] = "true"
        elif kind == 1:
            labels["api.openshift.com/storage-quota-gib"] = str(100 + 500 * i)
        elif kind == 2:
            return {"matchLabels": labels, "matchExpressions": [
                ex("api.openshift.com/fedramp", "In", "true"), ex("hive.openshift.io/cluster-region", "In", "us-gov-west-1")]}
        else:
            return {"matchLabels": labels, "matchExpressions": [ex("api.openshift.com/environment", "In", "integration", "staging")]}
        return {"matchLabels": labels}
    sel = {"matchLabels": labels}
    if exprs[tier]:
        sel["matchExpressions"] = exprs[tier]
    return sel


def _pick(sets, counts, taken, prefer=()):
    """Indexes of sets, one per entry of counts (a resource count), preferring `prefer`, not reusing `taken`."""
    out = []
    for want in counts:
        cands = [j for j in list(prefer) + list(range(len(sets))) if j not in taken and j not in out
                 and len(sets[j]["resources"]) == want]
        if cands:
            out.append(cands[0])
    return out


def generate(seed=378):
    """The payload as a list of SelectorSyncSet objects (deterministic for a seed)."""
    rnd = random.Random(seed)
    namespaces = [_name(rnd, NAMESPACE_LEN, "openshift") for _ in range(NAMESPACES)]
    kinds = [k for k, n in KINDS for _ in range(n)]
    rnd.shuffle(kinds)
    # The large resources over 100 kB are Secrets (the template's 9 Secrets are its OAuth page templates).
    for _ in (size for t in TIERS.values() for size in t.get("large", []) if size > 100_000):
        kinds.remove("Secret")
    patch_kinds = [k for k, n in PATCH_KINDS for _ in range(n)]
    rnd.shuffle(patch_kinds)
    out = []
    templated_done = secret_done = False
    serial = 0
    for tier, t in TIERS.items():
        sets = []
        for res, n in t["sets"]:
            for _ in range(n):
                sets.append({"resources": [None] * res, "patches": 0, "mode": "Sync", "behavior": None})
        # Large resources: into one-resource sets first, else the largest set.
        large_sets = []
        for size in t.get("large", []):
            j = next((j for j, s in enumerate(sets) if len(s["resources"]) == 1 and j not in large_sets), 0)
            large_sets.append(j)
            slot = sets[j]["resources"].index(None) if None in sets[j]["resources"] else 0
            sets[j]["resources"][slot] = ("Secret" if size > 100_000 else kinds.pop(), size)
        # Ordinary resources: kinds dealt from the shuffled list, sizes from the quantiles, scaled to the tier's bytes.
        slots = [(j, k) for j, s in enumerate(sets) for k, r in enumerate(s["resources"]) if r is None]
        raw = [_size(rnd) for _ in slots]
        scale = t["bytes"] / sum(raw) if raw else 0
        for (j, k), size in zip(slots, raw):
            sets[j]["resources"][k] = (kinds.pop(), max(80, int(size * scale)))
        # Patches: patch-only sets first, then the smallest sets.
        order = sorted(range(len(sets)), key=lambda j: len(sets[j]["resources"]))
        for j, p in zip(order, t.get("patches", [])):
            sets[j]["patches"] = p
        for j in _pick(sets, t.get("upsert", []), set()):
            sets[j]["mode"] = "Upsert"
        cou = _pick(sets, t.get("create_or_update", []), set(), prefer=large_sets)
        for j in cou:
            sets[j]["behavior"] = "CreateOrUpdate"
        for j in _pick(sets, t.get("create_only", []), set(cou)):
            sets[j]["behavior"] = "CreateOnly"
        for i, s in enumerate(sets):
            name = _name(rnd, SET_NAME_LEN, f"osd-{tier}-{i}")
            spec = {"clusterDeploymentSelector": _selector(tier, i), "resourceApplyMode": s["mode"]}
            if s["behavior"]:
                spec["applyBehavior"] = s["behavior"]
            resources = []
            for kind, size in s["resources"]:
                serial += 1
                resources.append(_resource(rnd, kind, size, namespaces, serial))
            if tier == "managed" and not templated_done and len(resources) == 1:
                templated_done = True
                spec["enableResourceTemplates"] = True
                resources = [{"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "osd-cluster-facts", "namespace": "openshift-config"},
                              "data": {k.rsplit("/", 1)[1]: '{{ fromCDLabel "%s" }}' % k for k in TEMPLATED_LABELS}}]
            if resources:
                spec["resources"] = resources
            if s["patches"]:
                spec["patches"] = []
                for _ in range(s["patches"]):
                    pk = patch_kinds.pop()
                    p = {"apiVersion": "bench.openshift.io/v1", "kind": pk, "name": _name(rnd, 20),
                         "patch": json.dumps({"spec": {"bench": {"setting": _name(rnd, 60)}}}), "patchType": "merge"}
                    if len(patch_kinds) < PATCHES_NAMESPACED:
                        p["namespace"] = rnd.choice(namespaces)
                    spec["patches"].append(p)
            if tier == "not-fedramp" and not secret_done and not resources and not s["patches"]:
                secret_done = True
                ns, sname = SECRET_MAPPING_SOURCE
                spec["secretMappings"] = [{"sourceRef": {"name": sname, "namespace": ns},
                                           "targetRef": {"name": sname, "namespace": "openshift-monitoring"}}]
            out.append({"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet", "metadata": {"name": name},
                        "spec": spec})
    # The last patch of the payload is a JSON patch (as one of the template's 70 is).
    assert len({s["metadata"]["name"] for s in out}) == len(out), "SelectorSyncSet names must be unique"
    last = next(s for s in reversed(out) if s["spec"].get("patches"))
    last["spec"]["patches"][-1]["patchType"] = "json"
    last["spec"]["patches"][-1]["patch"] = json.dumps([{"op": "replace", "path": "/spec/bench", "value": {}}])
    return out


def summary(sets):
    rs = [r for s in sets for r in s["spec"].get("resources") or []]
    size = lambda o: len(json.dumps(o, separators=(",", ":")))  # noqa: E731
    return {
        "selectorsyncsets": len(sets), "resources": len(rs), "kinds": len({r["kind"] for r in rs}),
        "resource_bytes": sum(size(r) for r in rs), "payload_bytes": sum(size(s) for s in sets),
        "largest_resource_bytes": max(size(r) for r in rs),
        "patches": sum(len(s["spec"].get("patches") or []) for s in sets),
        "sets_with_patches": sum(1 for s in sets if s["spec"].get("patches")),
        "secret_mappings": sum(len(s["spec"].get("secretMappings") or []) for s in sets),
        "templated_sets": sum(1 for s in sets if s["spec"].get("enableResourceTemplates")),
        "sync": sum(1 for s in sets if s["spec"]["resourceApplyMode"] == "Sync"),
        "upsert": sum(1 for s in sets if s["spec"]["resourceApplyMode"] == "Upsert"),
        "create_or_update": sum(1 for s in sets if s["spec"].get("applyBehavior") == "CreateOrUpdate"),
        "create_only": sum(1 for s in sets if s["spec"].get("applyBehavior") == "CreateOnly"),
    }
