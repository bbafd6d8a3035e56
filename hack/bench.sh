#!/usr/bin/env bash
# make bench: the fleet benchmark (issue 8, DESIGN.md "Performance design"; method and figures in bench/README.md).
#
# Builds release binaries (hivesync, hivesync-floor), starts local clusters (a hub and BENCH_SPOKES real spokes),
# creates BENCH_N ClusterDeployments whose kubeconfigs point at the spokes (each cluster's objects in its own
# Namespace bench-<id> and ConfigMaps bench-<id>-<k> through `{{ fromCDLabel "bench-id" }}`), runs the scenarios and writes
# $BENCH_OUT/<date>-s<scenarios>-n<N>.json (+ .svg). Nothing here asserts a timing; it only measures.
#
# Scenarios (BENCH_SCENARIOS, comma list, default all):
#   1 fan-out new (and the floor)  2 fan-out edit (and the floor)  3 label → object latency  4 OSD payload on fake
#   clusters (own hub)  5 idle CPU  6 dead spoke during a fan-out
#
# Env: BENCH_N (1000)  BENCH_SPOKES (3)  BENCH_SCENARIOS (1,2,3,4,5,6)  BENCH_OUT (bench/results)
#      BENCH_CONCURRENCY (16: the controller's --concurrency and the floor's)  BENCH_LAT_REPS (50)
#      BENCH_IDLE_SECONDS (60)  BENCH_S4_N (BENCH_N)  BENCH_S4_CONCURRENCY (250)  BENCH_DEAD_AFTER (2 s)
#      BENCH_S6_ROUNDS (6: scenario 6's control + dead-spoke pairs)
#      BENCH_KEEP_CLUSTERS (0: take the bench clusters down at the end)
#      BENCH_BIN_DIR (unset: build target/release; set: use hivesync and hivesync-floor from there, no build)
#      LOCAL_CLUSTERS_DIR (/tmp/hivesync-bench; scenario 4's hub-only cluster uses $LOCAL_CLUSTERS_DIR-s4)
set -euo pipefail

export LOCAL_CLUSTERS_DIR="${LOCAL_CLUSTERS_DIR:-/tmp/hivesync-bench}"
unset HIVESYNC_E2E_HUB_KUBECONFIG CONTROLLER_KUBECONFIG
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${BENCH_N:-1000}"
SPOKES="${BENCH_SPOKES:-3}"
SCENARIOS="${BENCH_SCENARIOS:-1,2,3,4,5,6}"
OUT="${BENCH_OUT:-$REPO_ROOT/bench/results}"
CONC="${BENCH_CONCURRENCY:-16}"
LAT_REPS="${BENCH_LAT_REPS:-50}"
IDLE_S="${BENCH_IDLE_SECONDS:-60}"
S4_N="${BENCH_S4_N:-$N}"
S4_CONC="${BENCH_S4_CONCURRENCY:-250}"
DEAD_AFTER="${BENCH_DEAD_AFTER:-2}"
S6_ROUNDS="${BENCH_S6_ROUNDS:-6}"
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
  "$HIVESYNC" controller --kubeconfig "$hub" --concurrency "$conc" --metrics-bind-address "$METRICS" >"$log" 2>&1 &
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
  say "building release binaries (hivesync, hivesync-floor)"
  (cd "$REPO_ROOT" && nice cargo build --release --bin hivesync --bin hivesync-floor)
fi
k8s_path
FLEET=0
if has 1 || has 2 || has 3 || has 5 || has 6; then FLEET=1; fi
if [ "$FLEET" = 1 ]; then
  say "fresh local clusters in $LOCAL_CLUSTERS_DIR: hub + $SPOKES spokes"
  "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null 2>&1 || true
  "$REPO_ROOT/hack/local-clusters.sh" up "$SPOKES"
else
  HUB_KUBECONFIG="$LOCAL_CLUSTERS_DIR-s4/hub.kubeconfig"
  LOCAL_CLUSTERS_DIR="$LOCAL_CLUSTERS_DIR-s4" "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null 2>&1 || true
  LOCAL_CLUSTERS_DIR="$LOCAL_CLUSTERS_DIR-s4" "$REPO_ROOT/hack/local-clusters.sh" up 0
fi
rm -rf "$RUN"; mkdir -p "$RUN"
K8S_VERSION=$(hubctl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
python3 - "$RUN/params.json" <<EOF
import json, sys
json.dump({"n": $N, "spokes": $SPOKES, "scenarios": "$SCENARIOS", "concurrency": $CONC, "objects_per_cluster": $OBJS,
           "latency_reps": $LAT_REPS, "idle_seconds": $IDLE_S, "s4_n": $S4_N, "s4_concurrency": $S4_CONC,
           "dead_after_s": $DEAD_AFTER, "s6_rounds": $S6_ROUNDS, "k8s_version": "$K8S_VERSION",
           "controller_flags": "--concurrency $CONC (other flags default: --probe-interval 20s, --remote-timeout 20s)"},
          open(sys.argv[1], "w"))
EOF

if [ "$FLEET" = 1 ]; then
  install_crds
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

if has 3; then
  say "scenario 3: label → object on the spoke, $LAT_REPS times"
  $PY sss --name bench-latency --kind latency --set latency --value x | hubctl apply --server-side --field-manager=bench -f - >/dev/null
  sleep 3
  # shellcheck disable=SC2046
  "$FLOOR" latency --hub "$HUB_KUBECONFIG" $(spoke_args) $($PY latency-cds --n "$N" --count "$LAT_REPS") \
    --reps "$LAT_REPS" --out "$RUN/s3.json"
fi

if has 5; then
  say "scenario 5: idle CPU over $IDLE_S s (everything in sync; probes every 20 s)"
  sleep 15
  c0=$(cpu_ticks "$CONTROLLER_PID"); r0=$(metric hive_kube_client_requests_total); t0=$(now)
  sleep "$IDLE_S"
  c1=$(cpu_ticks "$CONTROLLER_PID"); r1=$(metric hive_kube_client_requests_total); t1=$(now)
  python3 - "$RUN" "$c0" "$c1" "$t0" "$t1" "$CLK_TCK" "$r0" "$r1" "$(vm "$CONTROLLER_PID" VmRSS)" <<'EOF'
import json, sys
run, c0, c1, t0, t1, tck, r0, r1, rss = sys.argv[1:]
cpu = (float(c1) - float(c0)) / float(tck); wall = float(t1) - float(t0)
out = {"cpu_s": cpu, "wall_s": wall, "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
       "requests_in_window": float(r1) - float(r0), "rss_bytes": int(rss),
       "method": "utime+stime of the controller from /proc/<pid>/stat (clock ticks) over the window"}
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
stop_bench_controller

if has 4; then
  say "scenario 4: OSD payload on $S4_N fake clusters (hub only, $LOCAL_CLUSTERS_DIR-s4), concurrency $S4_CONC"
  S4_DIR="$LOCAL_CLUSTERS_DIR-s4"
  if [ "$FLEET" = 1 ]; then
    LOCAL_CLUSTERS_DIR="$S4_DIR" "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null 2>&1 || true
    LOCAL_CLUSTERS_DIR="$S4_DIR" "$REPO_ROOT/hack/local-clusters.sh" up 0
  fi
  HUB4="$S4_DIR/hub.kubeconfig"
  HUB_KUBECONFIG="$HUB4" install_crds
  "$FLOOR" osd-payload --template "$REPO_ROOT/../shared/bench-data/osd-production.selectorsyncsets.template.yaml" \
    --out "$RUN/osd.json"
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
  # kubectl create --validate=false: 4 of the payload's sets have patches with a field (`applyMode`) the CRD does not
  # declare; server-side apply refuses it, a create has the API server prune it (as a Hive hub with Hive's CRD does).
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
       "method": "fake-cluster CDs (hive.openshift.io/fake-cluster: spoke I/O replaced by Hive's latency "
                 "distribution), OSD-shaped labels; time from `kubectl apply` of the 378 SelectorSyncSets until every "
                 "ClusterSync holds a result for every set its labels select (polled every 5 s); VmHWM of the controller"}
json.dump(out, open(f"{run}/s4.json", "w"))
print(json.dumps({k: v for k, v in out.items() if k != "rss_timeline"}))
EOF
  stop_bench_controller
  [ "${BENCH_KEEP_CLUSTERS:-0}" = 1 ] || LOCAL_CLUSTERS_DIR="$S4_DIR" "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null
fi

tag="$(date -u +%Y-%m-%d)-s${SCENARIOS//,/}-n$N"
$PY assemble --run "$RUN" --out "$OUT/$tag.json" --repo "$REPO_ROOT"
python3 "$REPO_ROOT/bench/plot.py" "$OUT/$tag.json" "$OUT/$tag.svg"
say "results: $OUT/$tag.json, $OUT/$tag.svg"
[ "${BENCH_KEEP_CLUSTERS:-0}" = 1 ] || [ "$FLEET" = 0 ] || "$REPO_ROOT/hack/local-clusters.sh" down >/dev/null
