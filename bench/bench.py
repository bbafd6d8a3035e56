#!/usr/bin/env python3
"""Helpers of hack/bench.sh (standard library only): generate the fleet and the syncsets, read hub state, assemble the
result JSON (figures; the raw samples in a separate file, see split_raw). Every subcommand reads/writes JSON; see
`bench.py -h`. Method and figures: docs/benchmarks.md."""

import argparse
import base64
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time

import osd_payload  # bench/osd_payload.py, next to this file

FLEET_NS = "bench-fleet"
# The API server validates resources[].metadata before any template runs: a namespace cannot be a template and a name
# cannot contain '/', so the label read by templates is `bench-id` and each cluster's ConfigMaps are kept apart by
# their templated names (in a shared namespace), next to a templated per-cluster Namespace.
TEMPLATE_ID = '{{ fromCDLabel "bench-id" }}'


def dump(obj):
    json.dump(obj, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


def kube_list(items):
    return {"apiVersion": "v1", "kind": "List", "items": items}


# ------------------------------------------------------------------------------------------------------ generators
def cmd_fleet(a):
    """Namespace, one kubeconfig Secret per CD and N installed ClusterDeployments; CD i uses spoke (i-1) % S."""
    spokes = a.spokes.split(",")
    secrets = [base64.b64encode(open(p, "rb").read()).decode() for p in spokes]
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": a.namespace}}]
    for i in range(1, a.n + 1):
        name = f"bench-{i}"
        s = (i - 1) % len(spokes)
        items.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                      "metadata": {"name": f"{name}-admin-kubeconfig", "namespace": a.namespace},
                      "data": {"kubeconfig": secrets[s]}})
        items.append(cd(name, a.namespace, {"bench-id": str(i), "bench/fleet": "real", "bench/spoke": str(s + 1)}))
    dump(kube_list(items))


def cd(name, ns, labels, annotations=None):
    meta = {"name": name, "namespace": ns, "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeployment", "metadata": meta,
            "spec": {"clusterName": name, "baseDomain": "bench.example.com", "installed": True, "platform": {},
                     "clusterMetadata": {"clusterID": name, "infraID": name,
                                         "adminKubeconfigSecretRef": {"name": f"{name}-admin-kubeconfig"}}}}


# Realistic OSD label profiles (keys the production selectors read), cycled over the fake fleet.
VERSIONS = ["4.14", "4.15", "4.16", "4.17", "4.18", "4.19", "4.20"]


def osd_labels(i):
    rnd = random.Random(i)
    product = "rosa" if rnd.random() < 0.55 else "osd"
    ccs = "true" if product == "rosa" or rnd.random() < 0.4 else "false"
    mm = rnd.choice(VERSIONS)
    labels = {
        "bench-id": str(i), "bench/fleet": "fake",
        "api.openshift.com/managed": "true",
        "api.openshift.com/product": product,
        "api.openshift.com/ccs": ccs,
        "api.openshift.com/sts": "true" if product == "rosa" and rnd.random() < 0.8 else "false",
        "api.openshift.com/fedramp": "true" if rnd.random() < 0.03 else "false",
        "api.openshift.com/environment": "production",
        "api.openshift.com/private-link": "true" if rnd.random() < 0.1 else "false",
        "api.openshift.com/wif": "false",
        "hive.openshift.io/version-major-minor": mm,
        "hive.openshift.io/version-major-minor-patch": f"{mm}.{rnd.randint(0, 30)}",
        "hive.openshift.io/cluster-platform": "gcp" if product == "osd" and rnd.random() < 0.3 else "aws",
        "hive.openshift.io/cluster-region": rnd.choice(["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]),
    }
    if rnd.random() < 0.02:
        labels["ext-hypershift.openshift.io/cluster-type"] = rnd.choice(["management-cluster", "service-cluster"])
    return labels


def cmd_fake_fleet(a):
    """N ClusterDeployments with Hive's fake-cluster annotation and OSD-shaped labels, plus the one Secret the
    generated OSD payload's secret mapping reads (so that mapping can succeed)."""
    ns, name = osd_payload.SECRET_MAPPING_SOURCE
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": a.namespace}},
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
             {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "namespace": ns},
              "data": {"token": base64.b64encode(b"bench").decode()}}]
    for i in range(1, a.n + 1):
        items.append(cd(f"fake-{i}", a.namespace, osd_labels(i), {"hive.openshift.io/fake-cluster": "true"}))
    dump(kube_list(items))


def cmd_sss(a):
    """A SelectorSyncSet: per cluster one templated Namespace PREFIX<id> and --objects ConfigMaps PREFIX<id>-<k> in
    --cm-namespace."""
    labels = {"bench/set": a.set}
    if a.kind == "fanout":
        ns = f"{a.ns_prefix}{TEMPLATE_ID}"
        res = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}]
        for k in range(a.objects):
            res.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"{ns}-{k}", "namespace": a.cm_namespace, "labels": labels},
                        "data": {"value": a.value}})
        selector = {"matchLabels": {"bench/fleet": "real"}}
        mode = "Upsert"
    else:  # latency: one ConfigMap in an existing namespace, deleted when the label goes (Sync)
        res = [{"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"lat-{TEMPLATE_ID}", "namespace": "default", "labels": labels},
                "data": {"value": a.value}}]
        selector = {"matchLabels": {"bench/latency": "on"}}
        mode = "Sync"
    dump({"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet", "metadata": {"name": a.name},
          "spec": {"clusterDeploymentSelector": selector, "resourceApplyMode": mode,
                   "enableResourceTemplates": True, "resources": res}})


CHURN_NS = "bench-churn"
CHURN_SSS = "bench-churn"


def cmd_churn_base(a):
    """Scenario 7's fixed payload: the namespace of the churned CDs and one SelectorSyncSet selecting every one of them
    (bench/fleet=churn) with --objects ConfigMaps churn-<id>-<k>, templated so each cluster has its own rendered copy."""
    res = [{"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"churn-{TEMPLATE_ID}-{k}", "namespace": "churn-cms", "labels": {"bench/set": "churn"}},
            "data": {"value": "v1", "cluster": TEMPLATE_ID}} for k in range(a.objects)]
    dump(kube_list([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": a.namespace}},
        {"apiVersion": "hive.openshift.io/v1", "kind": "SelectorSyncSet", "metadata": {"name": CHURN_SSS},
         "spec": {"clusterDeploymentSelector": {"matchLabels": {"bench/fleet": "churn"}}, "resourceApplyMode": "Upsert",
                  "enableResourceTemplates": True, "resources": res}}]))


def churn_name(cycle, i):
    return f"churn-c{cycle}-{i}"


def cmd_churn_cds(a):
    """Cycle --cycle's N fake-cluster CDs churn-c<cycle>-<i> (new names every cycle, nothing reused)."""
    dump(kube_list([cd(churn_name(a.cycle, i), a.namespace,
                       {"bench-id": f"c{a.cycle}-{i}", "bench/fleet": "churn", "bench/churn-cycle": str(a.cycle)},
                       {"hive.openshift.io/fake-cluster": "true"}) for i in range(1, a.n + 1)]))


def cmd_churn_syncsets(a):
    """From the CD list on stdin: one namespaced SyncSet per CD (as Hive's users make per-cluster SyncSets), named like
    it, owned by it (so the garbage collector removes it with the CD), with one ConfigMap."""
    items = []
    for c in load_stdin().get("items", []):
        m = c["metadata"]
        items.append({"apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
                      "metadata": {"name": m["name"], "namespace": m["namespace"],
                                   "labels": {"bench/churn-cycle": m["labels"]["bench/churn-cycle"]},
                                   "ownerReferences": [{"apiVersion": "hive.openshift.io/v1",
                                                        "kind": "ClusterDeployment", "name": m["name"],
                                                        "uid": m["uid"]}]},
                      "spec": {"clusterDeploymentRefs": [{"name": m["name"]}], "resourceApplyMode": "Upsert",
                               "resources": [{"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": f"ss-{m['name']}", "namespace": "churn-cms"},
                                              "data": {"value": "v1"}}]}})
    dump(kube_list(items))


def cmd_churn_done(a):
    """Prints how many ClusterSyncs named --prefix* have the churn SelectorSyncSet's entry Success (and, with
    --syncsets, their own SyncSet's entry Success too)."""
    done = 0
    for cs in load_stdin().get("items", []):
        name = cs["metadata"]["name"]
        if not name.startswith(a.prefix):
            continue
        st = cs.get("status") or {}
        ok = any(e.get("name") == CHURN_SSS and e.get("result") == "Success" for e in st.get("selectorSyncSets") or [])
        if a.syncsets:
            ok = ok and any(e.get("name") == name and e.get("result") == "Success" for e in st.get("syncSets") or [])
        done += ok
    print(done)


def cmd_latency_cds(a):
    rnd = random.Random(8)
    ids = rnd.sample(range(1, a.n + 1), min(a.count, a.n))
    print(" ".join(f"--cd={FLEET_NS}/bench-{i}={i}" for i in ids))


# ----------------------------------------------------------------------------------------------------- hub readers
def load_stdin():
    return json.load(sys.stdin)


def cmd_cs_done(a):
    """Prints how many ClusterSyncs have the SelectorSyncSet's entry Success at --generation (or any, when 0)."""
    done = 0
    for cs in load_stdin().get("items", []):
        for e in (cs.get("status") or {}).get("selectorSyncSets") or []:
            if e.get("name") == a.name and e.get("result") == "Success" and \
                    (a.generation == 0 or e.get("observedGeneration") == a.generation):
                done += 1
    print(done)


def cmd_own_syncsets(a):
    """Scenario 9's payload: per cluster i a SyncSet own-<i> (in the CDs' namespace, for CD bench-<i>) with a Namespace
    own-<i> and --objects ConfigMaps in it: each cluster's objects in a namespace of their own, as on real clusters."""
    items = []
    for i in range(1, a.n + 1):
        ns = f"own-{i}"
        res = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"bench/set": "own"}}}]
        for k in range(a.objects):
            res.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"{ns}-{k}", "namespace": ns, "labels": {"bench/set": "own"}},
                        "data": {"value": "v"}})
        items.append({"apiVersion": "hive.openshift.io/v1", "kind": "SyncSet",
                      "metadata": {"name": f"own-{i}", "namespace": a.namespace},
                      "spec": {"clusterDeploymentRefs": [{"name": f"bench-{i}"}], "resources": res}})
    dump(kube_list(items))


def cmd_own_done(a):
    """Prints how many ClusterSyncs have their own-<i> SyncSet entry Success."""
    done = 0
    for cs in load_stdin().get("items", []):
        for e in (cs.get("status") or {}).get("syncSets") or []:
            if e.get("name", "").startswith("own-") and e.get("result") == "Success":
                done += 1
    print(done)


def cmd_unreachable(a):
    """Prints how many CDs labelled bench/spoke=--spoke have Unreachable=True (--status True) / False."""
    n = 0
    for c in load_stdin().get("items", []):
        if a.spoke and c["metadata"].get("labels", {}).get("bench/spoke") != a.spoke:
            continue
        for cond in (c.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Unreachable" and cond.get("status") == a.status:
                n += 1
    print(n)


def cmd_metric(a):
    """Sum of a Prometheus counter from /metrics text on stdin, optionally only series containing --match."""
    total = 0.0
    for line in sys.stdin:
        if line.startswith(a.name) and (line[len(a.name)] in " {"):
            if a.match and a.match not in line:
                continue
            total += float(line.rsplit(" ", 1)[1])
    print(total)


# ------------------------------------------------------------------------------------------------ the OSD payload
def cmd_osd_payload(a):
    """Scenario 4's payload, generated from the OSD counts (bench/osd_payload.py), as a v1 List; a summary on stderr."""
    sets = osd_payload.generate(a.seed)
    json.dump(kube_list(sets), open(a.out, "w"), separators=(",", ":"))
    sys.stderr.write(f"osd-payload (generated): {json.dumps(osd_payload.summary(sets))}\n")


def selector_matches(sel, labels):
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        op, k, vals = e["operator"], e["key"], e.get("values") or []
        if isinstance(vals, str):  # an unsubstituted template parameter: a value no label has
            vals = [vals]
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def cmd_osd_expected(a):
    """Per fake CD: how many OSD SelectorSyncSets select it. Prints {"cd": count} and a summary on stderr."""
    sss = json.load(open(a.payload))["items"]
    out = {}
    for i in range(1, a.n + 1):
        labels = osd_labels(i)
        out[f"fake-{i}"] = sum(1 for s in sss if selector_matches(s["spec"].get("clusterDeploymentSelector") or {},
                                                                  labels))
    vals = list(out.values())
    sys.stderr.write(f"OSD payload: {len(sss)} SelectorSyncSets, {sum(len(s['spec'].get('resources') or []) for s in sss)}"
                     f" resources; per cluster {min(vals)}..{max(vals)} sets (median {statistics.median(vals)})\n")
    json.dump(out, open(a.out, "w"))


def cmd_osd_done(a):
    """Prints `done failed`: CDs whose ClusterSync has every expected entry with a result (and how many Failure)."""
    expected = json.load(open(a.expected))
    done = failed = 0
    for cs in load_stdin().get("items", []):
        name = cs["metadata"]["name"]
        entries = (cs.get("status") or {}).get("selectorSyncSets") or []
        if name in expected and len(entries) >= expected[name] and all(e.get("result") for e in entries):
            done += 1
            failed += sum(1 for e in entries if e.get("result") != "Success")
    print(done, failed)


def cmd_cs_sizes(a):
    sizes = sorted(len(json.dumps(cs, separators=(",", ":"))) for cs in load_stdin().get("items", []))
    dump({"count": len(sizes), "max_bytes": sizes[-1] if sizes else None,
          "median_bytes": statistics.median(sizes) if sizes else None, "min_bytes": sizes[0] if sizes else None})


# -------------------------------------------------------------------------------------------------------- assemble
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:  # noqa: BLE001 - best effort facts
        return None


def cmd_assemble(a):
    """Merges the scenario fragments of a run directory into one result JSON with machine facts and targets."""
    frags = {}
    for f in sorted(os.listdir(a.run)):
        if f.startswith("s") and f.endswith(".json") and f[1:-5].isdigit():
            frags[f[:-5]] = json.load(open(os.path.join(a.run, f)))
    mem = None
    with open("/proc/meminfo") as m:
        for line in m:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = None
    with open("/proc/cpuinfo") as c:
        for line in c:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    params = json.load(open(os.path.join(a.run, "params.json")))
    result = {
        "benchmark": "hivesync fleet benchmark (make bench; docs/benchmarks.md)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"nproc": os.cpu_count(), "memory_bytes": mem, "cpu": cpu, "kernel": platform.release(),
                    "note": "shared: the hub, spoke API servers, etcd and (possibly) other sessions' clusters and "
                            "builds run on the same cores"},
        "versions": {"hivesync_git_rev": sh("git", "-C", a.repo, "rev-parse", "HEAD"),
                     "worktree_dirty": bool(sh("git", "-C", a.repo, "status", "--porcelain", "--", "src")),
                     "kubernetes": params.get("k8s_version"), "rustc": sh("rustc", "--version")},
        "parameters": params,
        "scenarios": frags,
        "targets": targets(frags),
    }
    summary, raw = split_raw(result)
    raw_path = os.path.join(os.path.dirname(a.out) or ".", RAW_DIR, os.path.basename(a.out))
    if raw:
        os.makedirs(os.path.dirname(raw_path), exist_ok=True)
        json.dump(raw, open(raw_path, "w"), separators=(",", ":"))
        summary["raw_samples"] = f"{RAW_DIR}/{os.path.basename(a.out)}"
    json.dump(summary, open(a.out, "w"), indent=1)
    print(json.dumps(result["targets"], indent=1))


# The raw samples (timelines, per-sample latencies, RSS every second) go to RAW_DIR next to the result, out of git
# (.gitignore); the result keeps the figures computed from them. plot.py merges both back (merge_raw).
RAW_DIR = "raw"
RAW_KEYS = ("timeline_", "samples_", "rss_timeline", "unreachable_seen_s")


def split_raw(obj):
    """(obj without the raw-sample keys, the raw-sample keys alone in the same nesting; None when there are none)."""
    if isinstance(obj, dict):
        keep, raw = {}, {}
        for k, v in obj.items():
            if k.startswith(RAW_KEYS):
                raw[k] = v
                continue
            keep[k], r = split_raw(v)
            if r is not None:
                raw[k] = r
        return keep, (raw or None)
    if isinstance(obj, list) and any(isinstance(x, dict) for x in obj):
        parts = [split_raw(x) for x in obj]
        raws = [r for _, r in parts]
        return [k for k, _ in parts], ([r or {} for r in raws] if any(r is not None for r in raws) else None)
    return obj, None


def merge_raw(obj, raw):
    """The inverse of split_raw: obj with raw's keys put back."""
    if isinstance(obj, dict) and isinstance(raw, dict):
        out = dict(obj)
        for k, v in raw.items():
            out[k] = merge_raw(obj[k], v) if k in obj else v
        return out
    if isinstance(obj, list) and isinstance(raw, list):
        return [merge_raw(o, r) for o, r in zip(obj, raw)] + obj[len(raw):]
    return obj


def cmd_split_raw(a):
    """Rewrites result files written before the split: figures stay, raw samples go to raw/<name> (figures unchanged)."""
    for path in a.results:
        result = json.load(open(path))
        summary, raw = split_raw(result)
        if raw is None:
            continue
        raw_path = os.path.join(os.path.dirname(path) or ".", RAW_DIR, os.path.basename(path))
        os.makedirs(os.path.dirname(raw_path), exist_ok=True)
        json.dump(raw, open(raw_path, "w"), separators=(",", ":"))
        summary["raw_samples"] = f"{RAW_DIR}/{os.path.basename(path)}"
        json.dump(summary, open(path, "w"), indent=1)
        assert merge_raw({k: v for k, v in summary.items() if k != "raw_samples"}, raw) == result
        print(f"{path}: raw samples -> {raw_path}")


def targets(f):
    t = {}

    def ratio(s):
        r = f.get(s, {}).get("ratio_to_floor")
        return {"value": r, "target": "<= 1.3", "met": r is not None and r <= 1.3}

    if "s1" in f:
        t["fanout_new_ratio"] = ratio("s1")
    if "s2" in f:
        t["fanout_edit_ratio"] = ratio("s2")
    if "s3" in f:
        add = f["s3"].get("add_s", {})
        p50, p99 = add.get("p50"), add.get("p99")
        t["latency_p50_s"] = {"value": p50, "target": "<= 0.100", "met": p50 is not None and p50 <= 0.1}
        t["latency_p99_s"] = {"value": p99, "target": "<= 0.300", "met": p99 is not None and p99 <= 0.3}
    if "s4" in f:
        rss = f["s4"].get("peak_rss_bytes")
        t["osd_peak_rss_bytes"] = {"value": rss, "target": "<= 150 MB", "met": rss is not None and rss <= 150e6}
    if "s8" in f:
        extra = f["s8"].get("beyond_plain_fanout_s")
        t["rollout_3_steps_beyond_plain_fanout_s"] = {"value": extra, "target": "the gate checks alone (measured, no target)",
                                                      "met": extra is not None}
    if "s9" in f:
        cpu = f["s9"].get("cpu_percent_of_one_core")
        t["idle_cpu_percent_health_and_drift_own_namespaces"] = {"value": cpu, "target": "<= 1 %",
                                                                 "met": cpu is not None and cpu <= 1.0}
    if "s5" in f:
        cpu = f["s5"].get("cpu_percent_of_one_core")
        t["idle_cpu_percent"] = {"value": cpu, "target": "<= 1 %", "met": cpu is not None and cpu <= 1.0}
    if "s6" in f:
        d = f["s6"].get("time_to_unreachable_s")
        loss = f["s6"].get("healthy_throughput_loss_percent")
        t["dead_spoke_detect_s"] = {"value": d, "target": "<= 30 s", "met": d is not None and d <= 30}
        t["dead_spoke_throughput_loss_percent"] = {"value": loss, "target": "<= 5 %",
                                                   "met": loss is not None and loss <= 5}
    if "s7" in f:
        g = f["s7"].get("rss_growth_percent")
        t["churn_rss_growth_percent"] = {"value": g, "target": "<= 10 %",
                                         "met": g is not None and g <= 10 and bool(f["s7"].get("all_cycles_complete"))}
    return t


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("fleet"); s.add_argument("--n", type=int, required=True)
    s.add_argument("--spokes", required=True); s.add_argument("--namespace", default=FLEET_NS)
    s = sub.add_parser("fake-fleet"); s.add_argument("--n", type=int, required=True)
    s.add_argument("--namespace", default="bench-fake")
    s = sub.add_parser("sss"); s.add_argument("--name", required=True); s.add_argument("--kind", default="fanout")
    s.add_argument("--set", required=True); s.add_argument("--value", required=True)
    s.add_argument("--ns-prefix", default="bench-"); s.add_argument("--objects", type=int, default=10)
    s.add_argument("--cm-namespace", default="bench-cms")
    s = sub.add_parser("churn-base"); s.add_argument("--namespace", default=CHURN_NS)
    s.add_argument("--objects", type=int, default=3)
    s = sub.add_parser("churn-cds"); s.add_argument("--cycle", type=int, required=True)
    s.add_argument("--n", type=int, required=True); s.add_argument("--namespace", default=CHURN_NS)
    sub.add_parser("churn-syncsets")
    s = sub.add_parser("churn-done"); s.add_argument("--prefix", required=True)
    s.add_argument("--syncsets", action="store_true")
    s = sub.add_parser("latency-cds"); s.add_argument("--n", type=int, required=True)
    s.add_argument("--count", type=int, default=50)
    s = sub.add_parser("cs-done"); s.add_argument("--name", required=True)
    s.add_argument("--generation", type=int, default=0)
    s = sub.add_parser("own-syncsets"); s.add_argument("--n", type=int, required=True)
    s.add_argument("--namespace", default=FLEET_NS); s.add_argument("--objects", type=int, default=10)
    sub.add_parser("own-done")
    s = sub.add_parser("unreachable"); s.add_argument("--spoke", default="")
    s.add_argument("--status", default="True")
    s = sub.add_parser("metric"); s.add_argument("name"); s.add_argument("--match", default="")
    s = sub.add_parser("osd-payload"); s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=378)
    s = sub.add_parser("osd-expected"); s.add_argument("--payload", required=True)
    s.add_argument("--n", type=int, required=True); s.add_argument("--out", required=True)
    s = sub.add_parser("osd-done"); s.add_argument("--expected", required=True)
    sub.add_parser("cs-sizes")
    s = sub.add_parser("assemble"); s.add_argument("--run", required=True); s.add_argument("--out", required=True)
    s.add_argument("--repo", default=".")
    s = sub.add_parser("split-raw"); s.add_argument("results", nargs="+")
    a = p.parse_args()
    globals()["cmd_" + a.cmd.replace("-", "_")](a)


if __name__ == "__main__":
    main()
