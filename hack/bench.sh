#!/usr/bin/env bash
# make bench: the fleet benchmark (scenarios, method, targets and figures in docs/benchmarks.md).
#
# Builds release binaries (hivesync, hivesync-floor), starts local clusters (a hub and BENCH_SPOKES real spokes),
# creates BENCH_N ClusterDeployments whose kubeconfigs point at the spokes (each cluster's objects in its own
# Namespace bench-<id> and ConfigMaps bench-<id>-<k> through `{{ fromCDLabel "bench-id" }}`), runs the scenarios and writes
# $BENCH_OUT/<date>-s<scenarios>-n<N>.json (figures) + .svg (plots), and the raw samples (timelines, latency and RSS
# samples) to $BENCH_OUT/raw/<date>-s<scenarios>-n<N>.json (out of git). Nothing here asserts a timing; it only measures.
#
# Scenarios (BENCH_SCENARIOS, comma list, default all):
#   1 fan-out new (and the floor)  2 fan-out edit (and the floor)  3 label → object latency  4 OSD payload on fake
#   clusters (own hub)  5 idle CPU  6 dead spoke during a fan-out  7 churn: RSS over cycles of creating and deleting
#   fake clusters (own hub)  8 the edit fan-out through a 3-step RolloutStrategy (no soak)  9 idle with
#   health and drift on, each cluster's objects in a namespace of its own (one SyncSet per cluster; runs after 6)
#
# Env: BENCH_N (1000)  BENCH_SPOKES (3)  BENCH_SCENARIOS (1,2,3,4,5,6,7,8,9)  BENCH_OUT (bench/results)
#      BENCH_CONCURRENCY (16: the controller's --concurrency and the floor's)  BENCH_LAT_REPS (50)
#      BENCH_IDLE_SECONDS (75)  BENCH_DRIFT_INTERVAL (5m: the controller's --drift-interval, its default; 60s puts a
#      whole round of drift checks inside scenario 5's window, 5x as often as the default, to measure their cost)  BENCH_S4_N (BENCH_N)  BENCH_S4_CONCURRENCY (250)  BENCH_DEAD_AFTER (2 s)
#      BENCH_S4_TEMPLATE (unset: scenario 4's OSD-shaped payload is generated from counts, bench/osd_payload.py; set:
#      the path of an OpenShift Template of SelectorSyncSets to use instead, e.g. openshift/managed-cluster-config's
#      hack/00-osd-managed-cluster-config-production.yaml.tmpl)
#      BENCH_S6_ROUNDS (6: scenario 6's control + dead-spoke pairs)
#      BENCH_S7_N (BENCH_N)  BENCH_S7_CYCLES (5)  BENCH_S7_CONCURRENCY (BENCH_CONCURRENCY)  BENCH_S7_SETTLE (35 s: idle
#      before each RSS sample; the controller sweeps its caches every 30 s)  BENCH_S7_SYNCSETS (1: also one SyncSet per
#      CD, owned by it)  BENCH_S7_GC_TIMEOUT (300 s: wait for the garbage collector before deleting by hand)
#      BENCH_KEEP_CLUSTERS (0: take the bench clusters down at the end)
#      BENCH_BIN_DIR (unset: build target/release; set: use hivesync and hivesync-floor from there, no build)
#      LOCAL_CLUSTERS_DIR (/tmp/hivesync-bench; scenario 4's and 7's hub-only clusters use $LOCAL_CLUSTERS_DIR-s4, -s7)
set -euo pipefail

export LOCAL_CLUSTERS_DIR="${LOCAL_CLUSTERS_DIR:-/tmp/hivesync-bench}"
unset HIVESYNC_E2E_HUB_KUBECONFIG CONTROLLER_KUBECONFIG
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${BENCH_N:-1000}"
SPOKES="${BENCH_SPOKES:-3}"
SCENARIOS="${BENCH_SCENARIOS:-1,2,3,4,5,6,7,8,9}"
OUT="${BENCH_OUT:-$REPO_ROOT/bench/results}"
CONC="${BENCH_CONCURRENCY:-16}"
LAT_REPS="${BENCH_LAT_REPS:-50}"
IDLE_S="${BENCH_IDLE_SECONDS:-75}"
DRIFT="${BENCH_DRIFT_INTERVAL:-5m}"
S4_N="${BENCH_S4_N:-$N}"
S4_CONC="${BENCH_S4_CONCURRENCY:-250}"
DEAD_AFTER="${BENCH_DEAD_AFTER:-2}"
S6_ROUNDS="${BENCH_S6_ROUNDS:-6}"
S7_N="${BENCH_S7_N:-$N}"
S7_CYCLES="${BENCH_S7_CYCLES:-5}"
S7_CONC="${BENCH_S7_CONCURRENCY:-$CONC}"
S7_SETTLE="${BENCH_S7_SETTLE:-35}"
S7_SYNCSETS="${BENCH_S7_SYNCSETS:-1}"
S7_GC_TIMEOUT="${BENCH_S7_GC_TIMEOUT:-300}"
BIN_DIR="${BENCH_BIN_DIR:-$REPO_ROOT/target/release}"
HIVESYNC="$BIN_DIR/hivesync"
FLOOR="$BIN_DIR/hivesync-floor"
PY="python3 $REPO_ROOT/bench/bench.py"
OBJS=10
RUN="$LOCAL_CLUSTERS_DIR/bench-run"
FLEET_NS=bench-fleet
CLK_TCK=$(getconf CLK_TCK)

has() { [[ ",$SCENARIOS," == *",$1,"* ]]; }
now() { date +%s.%N; }
fsub() { python3 -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 3))" "$1" "$2"; }
hubctl() { kubectl --kubeconfig "$HUB_KUBECONFIG" "$@"; }
spoke_args() { local i; for ((i = 1; i <= SPOKES; i++)); do printf -- '--kubeconfig=%s ' "$LOCAL_CLUSTERS_DIR/managed-$i.kubeconfig"; done; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { curl -fsS "http://$METRICS/metrics" | $PY metric "$@"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
vm() { awk -v k="$2:" '$1 == k {print $2 * 1024}' "/proc/$1/status"; }

# ------------------------------------------------------------------------------------------------ controller
CONTROLLER_PID="" METRICS=""
# start_bench_controller LOG HUB CONCURRENCY: the release controller on a free metrics port; waits for its caches.
start_bench_controller() {
  local log=$1 hub=$2 conc=$3
  METRICS="127.0.0.1:$(free_port)"
  "$HIVESYNC" controller --kubeconfig "$hub" --concurrency "$conc" --metrics-bind-address "$METRICS" \
    --drift-interval "$DRIFT" >"$log" 2>&1 &
  CONTROLLER_PID=$!
  for _ in $(seq 1 600); do
    if grep -q "hub caches synced" "$log" 2>/dev/null; then return 0; fi
    kill -0 "$CONTROLLER_PID" 2>/dev/null || { tail -20 "$log" >&2; return 1; }
    sleep 0.1
  done
  say "the controller did not report ready within 60 s"; tail -20 "$log" >&2; return 1
}
stop_bench_controller() {
  if [ -n "$CONTROLLER_PID" ] && kill -0 "$CONTROLLER_PID" 2>/dev/null; then
    kill "$CONTROLLER_PID"; wait "$CONTROLLER_PID" 2>/dev/null || true
  fi
  CONTROLLER_PID=""
}
WATCH_PID=""
cleanup() {
  stop_bench_controller
  [ -z "$WATCH_PID" ] || kill "$WATCH_PID" 2>/dev/null || true
}
trap cleanup EXIT

# watch_start TAG SELECTOR VALUE EXPECT [SPOKE KUBECONFIG ARGS...]: a spoke watcher in the background, listed.
watch_start() {
  local tag=$1 sel=$2 val=$3 expect=$4; shift 4
  rm -f "$RUN/$tag.ready"
  # shellcheck disable=SC2046,SC2068
  "$FLOOR" watch ${@:-$(spoke_args)} --selector "$sel" --value "$val" --expect "$expect" \
    --ready-file "$RUN/$tag.ready" --out "$RUN/$tag-watch.json" 2>>"$RUN/watch.log" &
  WATCH_PID=$!
  wait_ready "$RUN/$tag.ready" "watcher $tag"
}
# wait_ready FILE WHAT: waits up to 120 s for a watcher's ready file (it has listed).
wait_ready() {
  for _ in $(seq 1 1200); do [ -f "$1" ] && return 0; sleep 0.1; done
  say "$2 did not list"; return 1
}
watch_wait() {
  local rc=0
  wait "$WATCH_PID" || rc=$?
  WATCH_PID=""
  [ "$rc" = 0 ] || say "the spoke watcher exited with $rc (its JSON says whether it saw everything)"
}
# unreachable_start TAG: a hub watch (hivesync-floor unreachable) that records when each CD on the last spoke turns
# Unreachable=True; sets UNREACH_PID. A watch rather than a poll: a kubectl list once a second, run only in the dead
# rounds, was load the control rounds did not have.
unreachable_start() {
  local tag=$1
  rm -f "$RUN/$tag-unreachable.ready"
  "$FLOOR" unreachable --hub "$HUB_KUBECONFIG" --namespace "$FLEET_NS" --selector "bench/spoke=$SPOKES" \
    --expect "$on_dead" --ready-file "$RUN/$tag-unreachable.ready" --out "$RUN/$tag-unreachable.json" 2>>"$RUN/watch.log" &
  UNREACH_PID=$!
  wait_ready "$RUN/$tag-unreachable.ready" "hub watcher $tag"
}
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }

# wait_cs_success NAME GENERATION COUNT: polls the ClusterSyncs until COUNT report the SelectorSyncSet Success at
# GENERATION; prints the time it saw that.
wait_cs_success() {
  local ndone=0
  while :; do
    ndone=$(hubctl get clustersync -n "$FLEET_NS" -o json | $PY cs-done --name "$1" --generation "$2")
    [ "$ndone" -ge "$3" ] && break
    sleep 0.3
  done
  now
}

# --------------------------------------------------------------------------------------------------- set up
mkdir -p "$OUT"
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  say "building release binaries (hivesync, hivesync-floor: the bench feature)"
  (cd "$REPO_ROOT" && nice cargo build --release --features bench --bin hivesync --bin hivesync-floor)
fi
k8s_path
FLEET=0
if has 1 || has 2 || has 3 || has 5 || has 6 || has 8 || has 9; then FLEET=1; fi
# fresh_hub DIR: a new hub-only local cluster in DIR (scenarios 4 and 7).
fresh_hub() {
  LOCAL_CLUSTERS_DIR="$1" "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null 2>&1 || true
  LOCAL_CLUSTERS_DIR="$1" "$REPO_ROOT/hack/local-clusters.sh" up 0
}
SETUP_DIR=""  # the hub-only cluster brought up here (for the Kubernetes version) when no fleet scenario runs
if [ "$FLEET" = 1 ]; then
  say "fresh local clusters in $LOCAL_CLUSTERS_DIR: hub + $SPOKES spokes"
  "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null 2>&1 || true
  "$REPO_ROOT/hack/local-clusters.sh" up "$SPOKES"
else
  if has 4; then SETUP_DIR="$LOCAL_CLUSTERS_DIR-s4"; else SETUP_DIR="$LOCAL_CLUSTERS_DIR-s7"; fi
  HUB_KUBECONFIG="$SETUP_DIR/hub.kubeconfig"
  fresh_hub "$SETUP_DIR"
fi
rm -rf "$RUN"; mkdir -p "$RUN"
# HEAD at the start, what the release build below compiles (assemble records HEAD again at the end, and commits may
# land during a run; with BENCH_BIN_DIR the binaries are whatever was put there).
GIT_REV_START=$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
SRC_DIRTY_START=$([ -z "$(git -C "$REPO_ROOT" status --porcelain -- src 2>/dev/null)" ] && echo False || echo True)
K8S_VERSION=$(hubctl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
python3 - "$RUN/params.json" <<EOF
import json, sys
json.dump({"n": $N, "spokes": $SPOKES, "scenarios": "$SCENARIOS", "concurrency": $CONC, "objects_per_cluster": $OBJS,
           "latency_reps": $LAT_REPS, "idle_seconds": $IDLE_S, "s4_n": $S4_N, "s4_concurrency": $S4_CONC,
           "dead_after_s": $DEAD_AFTER, "s6_rounds": $S6_ROUNDS, "s7_n": $S7_N, "s7_cycles": $S7_CYCLES,
           "s7_concurrency": $S7_CONC, "s7_settle_s": $S7_SETTLE, "s7_syncsets": $S7_SYNCSETS, "k8s_version": "$K8S_VERSION",
           "git_rev_at_start": "$GIT_REV_START", "src_dirty_at_start": $SRC_DIRTY_START,
           "s4_payload": "${BENCH_S4_TEMPLATE:-generated (bench/osd_payload.py)}",
           "drift_interval": "$DRIFT",
           "controller_flags": "--concurrency $CONC --drift-interval $DRIFT (other flags default: --probe-interval 20s, --remote-timeout 20s)"},
          open(sys.argv[1], "w"))
EOF

if [ "$FLEET" = 1 ]; then
  install_crds
  # The controller's namespace (its --lease-namespace, default hivesync), which deploy/ creates: a SelectorSyncSet's
  # rollout revisions are kept there (scenario 8).
  hubctl create namespace hivesync >/dev/null 2>&1 || true
  say "creating $N ClusterDeployments (+ kubeconfig Secrets) pointing at $SPOKES spokes"
  # shellcheck disable=SC2046
  $PY fleet --n "$N" --spokes "$(spoke_args | sed 's/--kubeconfig=//g; s/ $//; s/ /,/g')" >"$RUN/fleet.json"
  hubctl apply --server-side --force-conflicts --field-manager=bench -f "$RUN/fleet.json" >/dev/null
  for ((i = 1; i <= SPOKES; i++)); do  # the shared namespaces of the ConfigMaps (see bench/bench.py cmd_sss)
    printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n' bench-cms floor-cms |
      kubectl --kubeconfig "$LOCAL_CLUSTERS_DIR/managed-$i.kubeconfig" apply --server-side --field-manager=bench -f - >/dev/null
  done
  start_bench_controller "$RUN/controller.log" "$HUB_KUBECONFIG" "$CONC"
  say "waiting until the controller has probed all $N clusters reachable"
  t=$(now)
  until [ "$(hubctl get cd -n "$FLEET_NS" -o json | $PY unreachable --status False)" -ge "$N" ]; do sleep 1; done
  say "all reachable after $(fsub "$(now)" "$t") s"
  sleep 5
fi

# spoke_count SELECTOR: ConfigMaps with SELECTOR across the spokes (kubectl get cm -A), a cross-check of the watch.
spoke_count() {
  local i total=0 c
  for ((i = 1; i <= SPOKES; i++)); do
    c=$(kubectl --kubeconfig "$LOCAL_CLUSTERS_DIR/managed-$i.kubeconfig" get cm -A -l "$1" -o name 2>/dev/null | wc -l) || c=0
    total=$((total + c))
  done
  echo "$total"
}

# fanout SCENARIO VALUE: the floor then hivesync, same objects, same concurrency; writes $RUN/sSCENARIO.json.
fanout() {
  local s=$1 val=$2 expect=$((N * OBJS)) t0 tcs gen a0 a1 r0 r1 c0 c1
  say "scenario $s: the floor ($N clusters × $((OBJS + 1)) applies, concurrency $CONC)"
  watch_start "floor$s" "bench/set=floor" "$val" "$expect"
  # shellcheck disable=SC2046
  "$FLOOR" apply $(spoke_args) --n "$N" --concurrency "$CONC" --objects "$OBJS" --value "$val" \
    --out "$RUN/floor$s.json"
  watch_wait
  say "scenario $s: hivesync"
  watch_start "hivesync$s" "bench/set=fanout" "$val" "$expect"
  a0=$(metric hive_syncsetinstance_resources_applied_total); r0=$(metric hive_kube_client_requests_total --match 'remote="true"')
  c0=$(cpu_ticks "$CONTROLLER_PID")
  t0=$(now)
  $PY sss --name bench-fanout --set fanout --value "$val" | hubctl apply --server-side --field-manager=bench -f - >/dev/null
  gen=$(hubctl get selectorsyncset bench-fanout -o jsonpath='{.metadata.generation}')
  watch_wait
  tcs=$(wait_cs_success bench-fanout "$gen" "$N")
  a1=$(metric hive_syncsetinstance_resources_applied_total); r1=$(metric hive_kube_client_requests_total --match 'remote="true"')
  c1=$(cpu_ticks "$CONTROLLER_PID")
  python3 - "$RUN" "$s" "$t0" "$tcs" "$a0" "$a1" "$r0" "$r1" "$c0" "$c1" "$CLK_TCK" "$(spoke_count bench/set=fanout)" <<'EOF'
import json, sys
run, s, t0, tcs, a0, a1, r0, r1, c0, c1, tck, listed = sys.argv[1:]
t0, tcs = float(t0), float(tcs)
fl = json.load(open(f"{run}/floor{s}.json")); fw = json.load(open(f"{run}/floor{s}-watch.json"))
hw = json.load(open(f"{run}/hivesync{s}-watch.json"))
floor_s = fw["times"][-1] - fl["start"] if fw["complete"] else None
objs_s = hw["times"][-1] - t0 if hw["complete"] else None
total = max(objs_s, tcs - t0) if objs_s is not None else None
out = {
  "what": "new SelectorSyncSet (1 Namespace + 10 ConfigMaps) to every cluster" if s == "1" else "edit of its value",
  "hivesync_objects_s": objs_s, "hivesync_all_clustersyncs_success_s": round(tcs - t0, 3), "hivesync_total_s": total,
  "floor_objects_s": floor_s, "floor_internal_s": fl["elapsed_s"], "floor_errors": fl["errors"],
  "floor_request_latency_s": fl["request_latency_s"],
  "ratio_to_floor": round(objs_s / floor_s, 3) if objs_s and floor_s else None,
  "ratio_to_floor_incl_status": round(total / floor_s, 3) if total and floor_s else None,
  "objects_expected": hw["expected"], "objects_seen": hw["count"], "objects_listed_after": int(listed),
  "hivesync_resources_applied": float(a1) - float(a0), "hivesync_remote_requests": float(r1) - float(r0),
  "floor_requests": fl["requests"],
  "hivesync_cpu_s": (float(c1) - float(c0)) / float(tck),
  "timeline_hivesync_s": [round(t - t0, 4) for t in hw["times"]],
  "timeline_floor_s": [round(t - fl["start"], 4) for t in fw["times"]],
  "method": "time from `kubectl apply` of the SelectorSyncSet (floor: from its first request, clients warmed) until a "
            "kube-rs watch on every spoke has seen every ConfigMap with the value; ClusterSyncs polled every ~0.5 s",
}
json.dump(out, open(f"{run}/s{s}.json", "w"))
print(json.dumps({k: v for k, v in out.items() if not k.startswith("timeline")}))
EOF
}

if has 1; then fanout 1 v1; fi
if has 2; then
  has 1 || fanout 1 v1 >/dev/null  # the edit needs the objects in place
  fanout 2 v2
fi

if has 8; then
  # The edit fan-out again, through a 3-step RolloutStrategy with no soak: the time beyond a plain fan-out (scenario 2,
  # or 1) is the gate checks (each step waits for its clusters' Success and their first look, ~2 s after the apply,
  # then for the next 2 s evaluation).
  { has 1 || has 2; } || fanout 1 v1 >/dev/null
  say "scenario 8: the edit through a RolloutStrategy of 3 steps (1 %, 25 %, the rest; no soak)"
  printf '%s\n' 'apiVersion: hivesync.io/v1alpha1' 'kind: RolloutStrategy' 'metadata: {name: bench-3-steps}' \
    'spec: {steps: [{maxClusters: "1%"}, {maxClusters: "25%"}, {}], minHealthyDuration: 0s, progressDeadline: 30m}' |
    hubctl apply --server-side --field-manager=bench -f - >/dev/null
  hubctl annotate selectorsyncset bench-fanout hivesync.io/rollout-strategy=bench-3-steps --overwrite >/dev/null
  # Opting in rolls nothing out: wait until the rollout has recorded the current generation as stable.
  until [ "$(hubctl get rollout selectorsyncset.bench-fanout -o jsonpath='{.status.phase}' 2>/dev/null)" = Complete ]; do
    sleep 0.5
  done
  watch_start "rollout8" "bench/set=fanout" v8 "$((N * OBJS))"
  c0=$(cpu_ticks "$CONTROLLER_PID"); t0=$(now)
  $PY sss --name bench-fanout --set fanout --value v8 | hubctl apply --server-side --field-manager=bench -f - >/dev/null
  gen=$(hubctl get selectorsyncset bench-fanout -o jsonpath='{.metadata.generation}')
  watch_wait
  tcs=$(wait_cs_success bench-fanout "$gen" "$N")
  until [ "$(hubctl get rollout selectorsyncset.bench-fanout -o jsonpath='{.status.phase}')" = Complete ]; do sleep 0.3; done
  tdone=$(now); c1=$(cpu_ticks "$CONTROLLER_PID")
  hubctl annotate selectorsyncset bench-fanout hivesync.io/rollout-strategy- >/dev/null
  hubctl delete rolloutstrategy bench-3-steps >/dev/null
  python3 - "$RUN" "$t0" "$tcs" "$tdone" "$c0" "$c1" "$CLK_TCK" <<'EOF'
import json, os, sys
run, t0, tcs, tdone, c0, c1, tck = sys.argv[1:]
t0 = float(t0)
hw = json.load(open(f"{run}/rollout8-watch.json"))
objs_s = hw["times"][-1] - t0 if hw["complete"] else None
plain = None
for s in ("s2", "s1"):
    if os.path.exists(f"{run}/{s}.json"):
        plain = json.load(open(f"{run}/{s}.json")).get("hivesync_objects_s")
        break
out = {"what": "edit of the fan-out SelectorSyncSet's value through a RolloutStrategy of 3 steps (1 %, 25 %, the rest), "
               "no soak",
       "hivesync_objects_s": objs_s, "all_clustersyncs_success_s": round(float(tcs) - t0, 3),
       "rollout_complete_s": round(float(tdone) - t0, 3), "plain_fanout_objects_s": plain,
       "beyond_plain_fanout_s": round(objs_s - plain, 3) if objs_s is not None and plain else None,
       "hivesync_cpu_s": (float(c1) - float(c0)) / float(tck),
       "timeline_hivesync_s": [round(t - t0, 4) for t in hw["times"]],
       "method": "time from `kubectl apply` of the edit until a kube-rs watch on every spoke has seen every ConfigMap "
                 "with the value; the plain fan-out is this run's scenario 2 (or 1) without a strategy"}
json.dump(out, open(f"{run}/s8.json", "w"))
print(json.dumps({k: v for k, v in out.items() if not k.startswith("timeline")}))
EOF
fi

if has 3; then
  say "scenario 3: label → object on the spoke, $LAT_REPS times"
  $PY sss --name bench-latency --kind latency --set latency --value x | hubctl apply --server-side --field-manager=bench -f - >/dev/null
  sleep 3
  # shellcheck disable=SC2046
  "$FLOOR" latency --hub "$HUB_KUBECONFIG" $(spoke_args) $($PY latency-cds --n "$N" --count "$LAT_REPS") \
    --reps "$LAT_REPS" --out "$RUN/s3.json"
fi

if has 5; then
  say "scenario 5: idle CPU over $IDLE_S s (everything in sync; probes every 20 s; health and drift checks every $DRIFT)"
  sleep 15
  remote_gets() { metric hive_kube_client_requests_total --match 'method="GET",remote="true"'; }
  c0=$(cpu_ticks "$CONTROLLER_PID"); r0=$(metric hive_kube_client_requests_total); g0=$(remote_gets); t0=$(now)
  sleep "$IDLE_S"
  c1=$(cpu_ticks "$CONTROLLER_PID"); r1=$(metric hive_kube_client_requests_total); g1=$(remote_gets); t1=$(now)
  objects=$(metric hivesync_objects); healthy=$(metric hivesync_objects --match 'health="Healthy"')
  corrections=$(metric hivesync_drift_corrections_total)
  python3 - "$RUN" "$c0" "$c1" "$t0" "$t1" "$CLK_TCK" "$r0" "$r1" "$(vm "$CONTROLLER_PID" VmRSS)" "$g0" "$g1" \
    "$objects" "$healthy" "$corrections" "$DRIFT" <<'EOF'
import json, sys
run, c0, c1, t0, t1, tck, r0, r1, rss, g0, g1, objects, healthy, corrections, drift = sys.argv[1:]
cpu = (float(c1) - float(c0)) / float(tck); wall = float(t1) - float(t0)
out = {"cpu_s": cpu, "wall_s": wall, "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
       "requests_in_window": float(r1) - float(r0), "rss_bytes": int(rss),
       "drift_interval": drift, "remote_gets_in_window": float(g1) - float(g0),
       "objects_with_a_health_rule": float(objects), "objects_healthy": float(healthy),
       "drift_corrections": float(corrections),
       "method": "utime+stime of the controller from /proc/<pid>/stat (clock ticks) over the window; with a "
                 "--drift-interval shorter than the window (BENCH_DRIFT_INTERVAL=60s) it holds a whole round of "
                 "health and drift checks, whose cost at the default 5m is then about a fifth of what is counted"}
json.dump(out, open(f"{run}/s5.json", "w")); print(json.dumps(out))
EOF
fi

if has 6; then
  # Rounds of a pair: a control fan-out with every spoke up, then the same fan-out with the last spoke stopped
  # DEAD_AFTER seconds in. Back-to-back pairs, because a single comparison with scenario 1 (run minutes earlier)
  # swung from 3 % to 29 % between identical runs on this 2-core machine.
  dead="managed-$SPOKES"
  healthy=0; for ((i = 1; i <= N; i++)); do [ $(((i - 1) % SPOKES)) -eq $((SPOKES - 1)) ] || healthy=$((healthy + 1)); done
  on_dead=$((N - healthy))
  healthy_args=(); for ((i = 1; i < SPOKES; i++)); do healthy_args+=("--kubeconfig=$LOCAL_CLUSTERS_DIR/managed-$i.kubeconfig"); done
  for ((r = 1; r <= S6_ROUNDS; r++)); do
    say "scenario 6, round $r/$S6_ROUNDS: control fan-out, every spoke up"
    # The control round runs the same hub watch as the dead round (it sees nothing here), so both bear its cost.
    unreachable_start "ctl$r"
    watch_start "ctl$r" "bench/set=ctl$r" v1 $((N * OBJS))
    t0=$(now)
    $PY sss --name "bench-ctl$r" --set "ctl$r" --value v1 --ns-prefix "bench6c$r-" | hubctl apply --server-side --field-manager=bench -f - >/dev/null
    watch_wait
    kill "$UNREACH_PID" 2>/dev/null || true; wait "$UNREACH_PID" 2>/dev/null || true
    echo "$t0" >"$RUN/ctl$r.t0"
    say "scenario 6, round $r/$S6_ROUNDS: fan-out while $dead ($on_dead CDs) is stopped after ${DEAD_AFTER}s"
    unreachable_start "dead$r"
    watch_start "dead$r" "bench/set=dead$r" v1 $((healthy * OBJS)) "${healthy_args[@]}"
    t0=$(now)
    $PY sss --name "bench-dead$r" --set "dead$r" --value v1 --ns-prefix "bench6d$r-" | hubctl apply --server-side --field-manager=bench -f - >/dev/null
    sleep "$DEAD_AFTER"
    tstop0=$(now)
    "$REPO_ROOT/hack/local-clusters.sh" stop "$dead" >/dev/null
    tstop=$(now)
    wait "$UNREACH_PID" || say "the hub watcher exited with $? (its JSON says whether it saw every CD)"
    watch_wait
    printf '%s %s %s\n' "$t0" "$tstop0" "$tstop" >"$RUN/dead$r.times"
    say "scenario 6, round $r/$S6_ROUNDS: restarting $dead and waiting until its clusters have caught up"
    "$REPO_ROOT/hack/local-clusters.sh" start "$dead" >/dev/null
    gen=$(hubctl get selectorsyncset "bench-dead$r" -o jsonpath='{.metadata.generation}')
    wait_cs_success "bench-dead$r" "$gen" "$N" >/dev/null
  done
  python3 - "$RUN" "$S6_ROUNDS" "$healthy" "$on_dead" "$N" "$OBJS" <<'EOF'
import json, statistics, sys
run, rounds, healthy, on_dead, n, objs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
out_rounds = []
for r in range(1, rounds + 1):
    c = json.load(open(f"{run}/ctl{r}-watch.json")); ct0 = float(open(f"{run}/ctl{r}.t0").read())
    d = json.load(open(f"{run}/dead{r}-watch.json"))
    t0, tstop0, tstop = (float(x) for x in open(f"{run}/dead{r}.times").read().split())
    u = json.load(open(f"{run}/dead{r}-unreachable.json"))
    tun = u["times"][-1] if u["complete"] else None
    ctl_rate = c["count"] / (c["times"][-1] - ct0) if c["complete"] else None
    dur = d["times"][-1] - t0 if d["complete"] else None
    rate = d["count"] / dur if dur else None
    out_rounds.append({
        "control_objects": c["count"], "control_objects_per_s": ctl_rate,
        "healthy_objects": d["count"], "healthy_objects_s": dur, "healthy_objects_per_s": rate,
        "healthy_throughput_loss_percent": round(100 * (1 - rate / ctl_rate), 2) if rate and ctl_rate else None,
        "stop_began_after_s": round(tstop0 - t0, 3), "stopped_after_s": round(tstop - t0, 3),
        "time_to_unreachable_s": None if tun is None else round(tun - tstop, 3),
        "time_to_unreachable_from_stop_began_s": None if tun is None else round(tun - tstop0, 3),
        "unreachable_seen_s": [round(t - tstop, 4) for t in u["times"]],
        "timeline_healthy_s": [round(t - t0, 4) for t in d["times"]],
        "timeline_control_s": [round(t - ct0, 4) for t in c["times"]],
    })
losses = [x["healthy_throughput_loss_percent"] for x in out_rounds if x["healthy_throughput_loss_percent"] is not None]
detect = [x["time_to_unreachable_s"] for x in out_rounds if x["time_to_unreachable_s"] is not None]
out = {"rounds": out_rounds, "cds_on_dead_spoke": on_dead, "healthy_cds": healthy,
       "healthy_throughput_loss_percent": statistics.median(losses) if losses else None,
       "healthy_throughput_loss_percent_each": losses,
       "time_to_unreachable_s": max(detect) if len(detect) == rounds else None,
       "time_to_unreachable_s_each": detect,
       "method": "per round: a control fan-out (new SelectorSyncSet, 10 ConfigMaps + 1 Namespace per cluster, every spoke "
                 "up; rate = objects / time to the last one) then the same fan-out with the last spoke stopped "
                 "(hack/local-clusters.sh stop: SIGTERM, SIGKILL after 5 s; then its port refuses connections) "
                 "DEAD_AFTER s in; rate = the healthy spokes' objects / time to their last one; loss = 1 - rate / "
                 "control rate, median over the rounds. time_to_unreachable_s: from the stop's end until Unreachable=True "
                 "on all its CDs (a kube-rs watch on the hub, hivesync-floor unreachable, timestamped on receipt; "
                 "the control round runs the same watch), the worst round. Between rounds the "
                 "spoke is restarted and its clusters catch up before the next control."}
json.dump(out, open(f"{run}/s6.json", "w"))
print(json.dumps({k: v for k, v in out.items() if k != "rounds"}))
EOF
fi

if has 9; then
  # Idle with health and drift on, each cluster's objects in a namespace of its own (one SyncSet per cluster), as on
  # real clusters: a look then reads a kind and namespace with one LIST. The window holds a whole drift round.
  say "scenario 9: idle over $IDLE_S s, health and drift every $DRIFT, each cluster's 11 objects in their own namespace"
  hubctl delete selectorsyncset bench-fanout bench-latency --ignore-not-found >/dev/null
  $PY own-syncsets --n "$N" --objects "$OBJS" | hubctl apply --server-side --field-manager=bench -f - >/dev/null
  until [ "$(hubctl get clustersync -n "$FLEET_NS" -o json | $PY own-done)" -ge "$N" ]; do sleep 1; done
  sleep 30
  lists() { metric hive_kube_client_requests_total --match 'method="GET",remote="true"'; }
  c0=$(cpu_ticks "$CONTROLLER_PID"); g0=$(lists); t0=$(now)
  sleep "$IDLE_S"
  c1=$(cpu_ticks "$CONTROLLER_PID"); g1=$(lists); t1=$(now)
  objects=$(metric hivesync_objects); corrections=$(metric hivesync_drift_corrections_total)
  python3 - "$RUN" "$c0" "$c1" "$t0" "$t1" "$CLK_TCK" "$g0" "$g1" "$(vm "$CONTROLLER_PID" VmRSS)" "$objects" \
    "$corrections" "$DRIFT" <<'EOF'
import json, sys
run, c0, c1, t0, t1, tck, g0, g1, rss, objects, corrections, drift = sys.argv[1:]
cpu = (float(c1) - float(c0)) / float(tck); wall = float(t1) - float(t0)
out = {"cpu_s": cpu, "wall_s": wall, "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
       "remote_reads_in_window": float(g1) - float(g0), "rss_bytes": int(rss), "drift_interval": drift,
       "objects_with_a_health_rule": float(objects), "drift_corrections": float(corrections),
       "method": "one SyncSet per cluster (a Namespace own-<i> and 10 ConfigMaps in it); 30 s after every ClusterSync "
                 "reports it Success, utime+stime of the controller over the window, which holds a whole drift round "
                 "when it is longer than --drift-interval; remote_reads counts GETs and LISTs to the spokes"}
json.dump(out, open(f"{run}/s9.json", "w")); print(json.dumps(out))
EOF
fi
stop_bench_controller

if has 4; then
  say "scenario 4: OSD payload on $S4_N fake clusters (hub only, $LOCAL_CLUSTERS_DIR-s4), concurrency $S4_CONC"
  S4_DIR="$LOCAL_CLUSTERS_DIR-s4"
  [ "$SETUP_DIR" = "$S4_DIR" ] || fresh_hub "$S4_DIR"
  HUB4="$S4_DIR/hub.kubeconfig"
  HUB_KUBECONFIG="$HUB4" install_crds
  if [ -n "${BENCH_S4_TEMPLATE:-}" ]; then
    "$FLOOR" osd-payload --template "$BENCH_S4_TEMPLATE" --out "$RUN/osd.json"
  else
    $PY osd-payload --out "$RUN/osd.json"
  fi
  $PY fake-fleet --n "$S4_N" >"$RUN/fake-fleet.json"
  $PY osd-expected --payload "$RUN/osd.json" --n "$S4_N" --out "$RUN/osd-expected.json"
  kubectl --kubeconfig "$HUB4" apply --server-side --force-conflicts --field-manager=bench -f "$RUN/fake-fleet.json" >/dev/null
  start_bench_controller "$RUN/controller-s4.log" "$HUB4" "$S4_CONC"
  until [ "$(kubectl --kubeconfig "$HUB4" get clustersync -n bench-fake -o name | wc -l)" -ge "$S4_N" ]; do sleep 1; done
  rss_idle=$(vm "$CONTROLLER_PID" VmRSS)
  c0=$(cpu_ticks "$CONTROLLER_PID")
  t0=$(now)
  # RSS every second from here on (the create below takes a while, and the controller works during it).
  (while kill -0 "$CONTROLLER_PID" 2>/dev/null; do echo "$(fsub "$(now)" "$t0") $(vm "$CONTROLLER_PID" VmRSS)"; sleep 1; done) \
    >"$RUN/s4-rss.txt" 2>/dev/null &
  RSS_PID=$!
  # kubectl create --validate=false: with BENCH_S4_TEMPLATE, 4 of the production template's sets have patches with a
  # field (`applyMode`) the CRD does not declare; server-side apply refuses it, a create has the API server prune it (as
  # a Hive hub with Hive's CRD does). The generated payload has no such field; it is created the same way.
  kubectl --kubeconfig "$HUB4" create --validate=false -f "$RUN/osd.json" >/dev/null 2>"$RUN/osd-apply.err"
  tapplied=$(now)
  : >"$RUN/s4-done.txt"
  while :; do
    read -r ndone failed < <(kubectl --kubeconfig "$HUB4" get clustersync -n bench-fake -o json | $PY osd-done --expected "$RUN/osd-expected.json")
    echo "$(fsub "$(now)" "$t0") $ndone" >>"$RUN/s4-done.txt"
    [ "$ndone" -ge "$S4_N" ] && break
    if [ "$(fsub "$(now)" "$t0" | cut -d. -f1)" -gt 3600 ]; then break; fi
    sleep 5  # each poll lists ~50 MB of ClusterSyncs: not more often, it would load the 2 cores
  done
  tdone=$(now); c1=$(cpu_ticks "$CONTROLLER_PID")
  sleep 10
  kill "$RSS_PID" 2>/dev/null || true
  kubectl --kubeconfig "$HUB4" get clustersync -n bench-fake -o json | $PY cs-sizes >"$RUN/s4-sizes.json"
  python3 - "$RUN" "$t0" "$tapplied" "$tdone" "$ndone" "$failed" "$(vm "$CONTROLLER_PID" VmHWM)" "$(vm "$CONTROLLER_PID" VmRSS)" \
    "$rss_idle" "$c0" "$c1" "$CLK_TCK" "$(metric hive_syncsetinstance_resources_applied_total)" <<'EOF'
import json, sys
run, t0, tapplied, tdone, done, failed, hwm, rss, rss_idle, c0, c1, tck, applied = sys.argv[1:]
t0 = float(t0)
exp = json.load(open(f"{run}/osd-expected.json")); payload = json.load(open(f"{run}/osd.json"))["items"]
samples = [l.split() for l in open(f"{run}/s4-rss.txt") if len(l.split()) == 2]
dones = [(float(a), int(b)) for a, b in (l.split() for l in open(f"{run}/s4-done.txt"))]
def done_at(t):
    return max([d for td, d in dones if td <= t], default=0)
samples = [(a, b, done_at(float(a))) for a, b in samples]
out = {"clusters": len(exp), "selectorsyncsets": len(payload),
       "resources": sum(len(s["spec"].get("resources") or []) for s in payload),
       "sets_per_cluster": {"min": min(exp.values()), "max": max(exp.values()),
                            "mean": round(sum(exp.values()) / len(exp), 1)},
       "apply_of_payload_s": round(float(tapplied) - t0, 3),
       "time_to_first_full_sync_s": round(float(tdone) - t0, 3), "clusters_done": int(done),
       "entries_failed": int(failed), "peak_rss_bytes": int(hwm), "rss_after_bytes": int(rss),
       "rss_before_payload_bytes": int(rss_idle), "cpu_s": (float(c1) - float(c0)) / float(tck),
       "resources_applied_total": float(applied),
       "clustersync_sizes": json.load(open(f"{run}/s4-sizes.json")),
       "rss_timeline": [[float(a), int(b), int(c)] for a, b, c in samples],
       "payload": json.load(open(f"{run}/params.json")).get("s4_payload"),
       "method": "fake-cluster CDs (hive.openshift.io/fake-cluster: spoke I/O replaced by Hive's latency "
                 "distribution), OSD-shaped labels; time from `kubectl create` of the 378 SelectorSyncSets until every "
                 "ClusterSync holds a result for every set its labels select (polled every 5 s); VmHWM of the controller"}
json.dump(out, open(f"{run}/s4.json", "w"))
print(json.dumps({k: v for k, v in out.items() if k != "rss_timeline"}))
EOF
  stop_bench_controller
  [ "${BENCH_KEEP_CLUSTERS:-0}" = 1 ] || LOCAL_CLUSTERS_DIR="$S4_DIR" "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null
fi

if has 7; then
  # Churn (issue 14, point 8): S7_CYCLES cycles of creating S7_N fake clusters (new names every cycle), waiting until
  # each is synced, deleting them and waiting until their ClusterSyncs (and leases, SyncSets) are gone, then S7_SETTLE s
  # idle (the controller sweeps its caches every 30 s) and an RSS sample. Nothing else runs on this hub.
  S7_DIR="$LOCAL_CLUSTERS_DIR-s7"
  HUB7="$S7_DIR/hub.kubeconfig"
  CHURN_NS=bench-churn
  say "scenario 7: churn, $S7_CYCLES cycles of creating and deleting $S7_N fake clusters (hub only, $S7_DIR)"
  [ "$SETUP_DIR" = "$S7_DIR" ] || fresh_hub "$S7_DIR"
  hub7() { kubectl --kubeconfig "$HUB7" "$@"; }
  HUB_KUBECONFIG="$HUB7" install_crds
  $PY churn-base --namespace "$CHURN_NS" | hub7 apply --server-side --field-manager=bench -f - >/dev/null
  start_bench_controller "$RUN/controller-s7.log" "$HUB7" "$S7_CONC"
  t0=$(now)
  (while kill -0 "$CONTROLLER_PID" 2>/dev/null; do echo "$(fsub "$(now)" "$t0") $(vm "$CONTROLLER_PID" VmRSS)"; sleep 1; done) \
    >"$RUN/s7-rss.txt" 2>/dev/null &
  RSS_PID=$!
  # s7_left PREFIX: "CDs ClusterSyncs ClusterSyncLeases SyncSets" named PREFIX* in the churn namespace.
  s7_left() {
    hub7 get clusterdeployments.hive.openshift.io,clustersyncs.hiveinternal.openshift.io,clustersyncleases.hiveinternal.openshift.io,syncsets.hive.openshift.io \
      -n "$CHURN_NS" -o name | awk -F/ -v p="$1" '
        index($2, p) == 1 { n[$1]++ }
        END { print n["clusterdeployment.hive.openshift.io"] + 0, n["clustersync.hiveinternal.openshift.io"] + 0,
                    n["clustersynclease.hiveinternal.openshift.io"] + 0, n["syncset.hive.openshift.io"] + 0 }'
  }
  # s7_sample LABEL: a line of s7-points.txt: label, t, VmRSS, VmHWM, CPU ticks, /metrics sample lines (all; naming a
  # churned cluster), churned hub objects left (as s7_left).
  # s7_metrics LABEL: /metrics saved as s7-metrics-LABEL.txt; prints its sample lines: all, naming a churned cluster.
  s7_metrics() {
    curl -fsS "http://$METRICS/metrics" >"$RUN/s7-metrics-$1.txt" || true
    awk '!/^#/ { n++; if (/churn-c/) c++ } END { print n + 0, c + 0 }' "$RUN/s7-metrics-$1.txt"
  }
  s7_sample() {
    echo "$1 $(fsub "$(now)" "$t0") $(vm "$CONTROLLER_PID" VmRSS) $(vm "$CONTROLLER_PID" VmHWM) $(cpu_ticks "$CONTROLLER_PID") $(s7_metrics "$1") $(s7_left churn-c)" \
      >>"$RUN/s7-points.txt"
    say "scenario 7, $1: RSS $(($(vm "$CONTROLLER_PID" VmRSS) / 1024)) KiB"
  }
  phase() { echo "$1 $2 $(fsub "$(now)" "$t0") ${3:-}" >>"$RUN/s7-phases.txt"; }
  : >"$RUN/s7-points.txt"; : >"$RUN/s7-phases.txt"; : >"$RUN/s7-synced.txt"
  say "scenario 7: controller ready, empty fleet; ${S7_SETTLE}s idle before the first sample"
  sleep "$S7_SETTLE"
  s7_sample start
  ss_flag=""; [ "$S7_SYNCSETS" = 1 ] && ss_flag=--syncsets
  for ((c = 1; c <= S7_CYCLES; c++)); do
    p="churn-c$c-"
    say "scenario 7, cycle $c/$S7_CYCLES: creating $S7_N fake ClusterDeployments $p*"
    phase "$c" begin
    $PY churn-cds --cycle "$c" --n "$S7_N" --namespace "$CHURN_NS" >"$RUN/s7-cds.json"
    hub7 apply --server-side --field-manager=bench -f "$RUN/s7-cds.json" >/dev/null
    if [ "$S7_SYNCSETS" = 1 ]; then
      hub7 get cd -n "$CHURN_NS" -l "bench/churn-cycle=$c" -o json | $PY churn-syncsets |
        hub7 apply --server-side --field-manager=bench -f - >/dev/null
    fi
    phase "$c" created
    tw=$(now); synced=1
    until [ "$(hub7 get clustersync -n "$CHURN_NS" -o json | $PY churn-done --prefix "$p" $ss_flag)" -ge "$S7_N" ]; do
      if [ "$(fsub "$(now)" "$tw" | cut -d. -f1)" -gt 1800 ]; then synced=0; say "cycle $c: not all synced after 1800 s"; break; fi
      sleep 2
    done
    phase "$c" synced "$synced"
    # The loaded state, for comparison, after the same idle (the per-cluster gauges are published every 30 s).
    say "scenario 7, cycle $c/$S7_CYCLES: synced; ${S7_SETTLE}s idle"
    sleep "$S7_SETTLE"
    echo "$c $(vm "$CONTROLLER_PID" VmRSS) $(s7_metrics "synced$c")" >>"$RUN/s7-synced.txt"
    say "scenario 7, cycle $c/$S7_CYCLES: deleting the ClusterDeployments"
    phase "$c" delete
    hub7 delete cd -n "$CHURN_NS" -l "bench/churn-cycle=$c" --wait=false >/dev/null
    phase "$c" deleted
    tw=$(now); gc=collector
    until [ "$(s7_left "$p")" = "0 0 0 0" ]; do
      if [ "$gc" = collector ] && [ "$(fsub "$(now)" "$tw" | cut -d. -f1)" -ge "$S7_GC_TIMEOUT" ]; then
        gc="explicit ($(s7_left "$p") left after ${S7_GC_TIMEOUT}s)"
        say "scenario 7, cycle $c: the garbage collector left $(s7_left "$p") (CDs ClusterSyncs leases SyncSets); deleting them"
        for kind in clusterdeployments.hive.openshift.io clustersyncs.hiveinternal.openshift.io \
          clustersyncleases.hiveinternal.openshift.io syncsets.hive.openshift.io; do
          hub7 get "$kind" -n "$CHURN_NS" -o name | { grep "/$p" || true; } |
            xargs -r kubectl --kubeconfig "$HUB7" delete -n "$CHURN_NS" --wait=false --ignore-not-found >/dev/null
        done
      fi
      sleep 2
    done
    phase "$c" gone "$gc"
    say "scenario 7, cycle $c/$S7_CYCLES: all gone ($gc); ${S7_SETTLE}s idle"
    sleep "$S7_SETTLE"
    s7_sample "cycle$c"
  done
  kill "$RSS_PID" 2>/dev/null || true
  curl -fsS "http://$METRICS/metrics" >"$RUN/s7-metrics-after.txt" || true
  python3 - "$RUN" "$S7_N" "$S7_CYCLES" "$S7_SYNCSETS" "$S7_SETTLE" "$CLK_TCK" <<'EOF'
import json, sys
run, n, cycles, syncsets, settle, tck = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5], float(sys.argv[6])
points = {}
for l in open(f"{run}/s7-points.txt"):
    f = l.split()
    points[f[0]] = {"t_s": float(f[1]), "rss_bytes": int(f[2]), "hwm_bytes": int(f[3]), "cpu_ticks": int(f[4]),
                    "metric_samples": int(f[5]), "metric_samples_naming_churned_clusters": int(f[6]),
                    "left": dict(zip(["cds", "clustersyncs", "clustersyncleases", "syncsets"], map(int, f[7:11])))}
phases = {}
for l in open(f"{run}/s7-phases.txt"):
    f = l.split(maxsplit=3)
    phases.setdefault(int(f[0]), {})[f[1]] = (float(f[2]), f[3].strip() if len(f) > 3 else "")
rss = [(float(a), int(b)) for a, b in (l.split() for l in open(f"{run}/s7-rss.txt") if len(l.split()) == 2)]
def series(label):
    try:
        return {l.rsplit(" ", 1)[0] for l in open(f"{run}/s7-metrics-{label}.txt") if l.strip() and not l.startswith("#")}
    except OSError:
        return set()
loaded = {int(f[0]): (int(f[1]), int(f[2]), int(f[3])) for f in (l.split() for l in open(f"{run}/s7-synced.txt")) if len(f) == 4}
start = points.get("start")
out_cycles = []
for c in range(1, cycles + 1):
    ph, pt = phases.get(c, {}), points.get(f"cycle{c}")
    if not pt or "gone" not in ph:
        break
    b = ph["begin"][0]
    out_cycles.append({
        "cycle": c, "create_s": round(ph["created"][0] - b, 3), "create_to_all_synced_s": round(ph["synced"][0] - b, 3),
        "synced": ph["synced"][1] == "1", "delete_request_s": round(ph["deleted"][0] - ph["delete"][0], 3),
        "delete_to_all_gone_s": round(ph["gone"][0] - ph["delete"][0], 3), "removed_by": ph["gone"][1],
        "rss_when_synced_bytes": loaded.get(c, (None,))[0],
        "metric_samples_when_synced": loaded.get(c, (None, None))[1],
        "metric_samples_naming_churned_clusters_when_synced": loaded.get(c, (None, None, None))[2],
        "rss_after_bytes": pt["rss_bytes"], "cpu_s": round((pt["cpu_ticks"] - (points[f"cycle{c - 1}"] if c > 1 else start)["cpu_ticks"]) / tck, 2),
        "metric_samples_after": pt["metric_samples"],
        "metric_samples_naming_churned_clusters_after": pt["metric_samples_naming_churned_clusters"],
        "hub_objects_left_after": pt["left"],
        "metric_series_new_since_previous_sample": sorted(series(f"cycle{c}") - series(f"cycle{c - 1}" if c > 1 else "start"))[:40],
        "metric_series_gone_since_previous_sample": sorted(series(f"cycle{c - 1}" if c > 1 else "start") - series(f"cycle{c}"))[:40]})
after = [c["rss_after_bytes"] for c in out_cycles]
t_first = phases.get(1, {}).get("begin", (0,))[0]
peak_sampled = max((b for t, b in rss if t >= t_first), default=None)
hwm = max(p["hwm_bytes"] for p in points.values()) if points else None
# VmHWM is the kernel's lazily updated high-water mark: pages jemalloc gives back with madvise do not raise it, so the
# 1 s samples can exceed it; the peak is the larger of the two.
peak = max([x for x in (hwm, peak_sampled) if x is not None], default=None)
pct = lambda a, b: round(100 * (a / b - 1), 2) if a and b else None
out = {
    "clusters_per_cycle": n, "cycles": cycles, "cycles_done": len(out_cycles),
    "all_cycles_complete": len(out_cycles) == cycles and all(c["synced"] for c in out_cycles),
    "per_cluster": f"1 SelectorSyncSet with 3 templated ConfigMaps" + (" + 1 own SyncSet (1 ConfigMap)" if syncsets else ""),
    "rss_empty_start_bytes": start and start["rss_bytes"],
    "rss_after_cycle_bytes": after,
    "rss_peak_during_cycles_bytes": peak, "rss_peak_vmhwm_bytes": hwm, "rss_peak_sampled_bytes": peak_sampled,
    "rss_growth_percent": pct(after[-1], after[0]) if after else None,
    "rss_growth_vs_empty_start_percent": pct(after[-1], start and start["rss_bytes"]) if after else None,
    "rss_change_per_cycle_bytes": [b - a for a, b in zip(after, after[1:])],
    "rss_rose_every_cycle_after_the_first": len(after) >= 3 and all(b > a for a, b in zip(after, after[1:])),
    "metric_samples_empty_start": start and start["metric_samples"],
    "cycles_detail": out_cycles,
    "rss_timeline": [[t, b] for t, b in rss],
    "cycle_marks_s": [[c, ph["begin"][0], ph.get("synced", (None,))[0], ph.get("gone", (None,))[0]] for c, ph in sorted(phases.items())],
    "method": f"a hub-only local cluster (kube-controller-manager running, so owner references are garbage collected) "
              f"and the release controller; per cycle {n} new fake-cluster CDs (hive.openshift.io/fake-cluster, names "
              f"churn-c<cycle>-<i>, never reused) selected by one SelectorSyncSet whose 3 ConfigMaps are templated with "
              f"fromCDLabel (a rendered copy per cluster)" + (", each CD with its own SyncSet owned by it" if syncsets else "") +
              f"; wait until every ClusterSync has the entries Success, {settle} s idle and a sample of the loaded state "
              "(*_when_synced), `kubectl delete` the CDs, wait until their "
              "ClusterSyncs, ClusterSyncLeases and SyncSets are gone (removed_by says whether the garbage collector did it), "
              f"then {settle} s idle (the controller sweeps its caches every 30 s) and sample VmRSS from /proc/<pid>/status. "
              "rss_growth_percent = RSS after the last cycle / RSS after the first cycle - 1: the first cycle warms "
              "jemalloc's arenas, thread caches and the code paths of a sync, so 'where it started' is taken after it; "
              "rss_growth_vs_empty_start_percent (against the ready controller with no cluster, after the same idle) is "
              "shown too but is not the target. Peak: the larger of the controller's VmHWM at the samples and its RSS sampled "
              "every 1 s (VmHWM misses peaks whose pages jemalloc returned with madvise). metric_samples_*: sample lines "
              "of /metrics (all, and those naming a churned cluster), also taken when a cycle's clusters are all synced "
              "(*_when_synced, with the RSS then).",
}
json.dump(out, open(f"{run}/s7.json", "w"))
print(json.dumps({k: v for k, v in out.items() if k not in ("rss_timeline", "cycles_detail", "method", "cycle_marks_s")}))
EOF
  stop_bench_controller
  [ "${BENCH_KEEP_CLUSTERS:-0}" = 1 ] || LOCAL_CLUSTERS_DIR="$S7_DIR" "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null
fi

tag="$(date -u +%Y-%m-%d)-s${SCENARIOS//,/}-n$N"
$PY assemble --run "$RUN" --out "$OUT/$tag.json" --repo "$REPO_ROOT"
python3 "$REPO_ROOT/bench/plot.py" "$OUT/$tag.json" "$OUT/$tag.svg"
say "results: $OUT/$tag.json, $OUT/$tag.svg (raw samples: $OUT/raw/$tag.json)"
[ "${BENCH_KEEP_CLUSTERS:-0}" = 1 ] || [ "$FLEET" = 0 ] || "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null
