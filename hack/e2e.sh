#!/usr/bin/env bash
# The e2e suite against real clusters: the local ones by default (started if not running, left running), or any hub
# and managed kubeconfigs given by HIVESYNC_E2E_HUB_KUBECONFIG / HIVESYNC_E2E_MANAGED_KUBECONFIGS (e.g. kind).
# Installs the CRDs and deploy/base/rbac, checks the controller's RBAC (kubectl auth can-i) and a server-side dry run of
# each deploy/overlays/*, builds hivesync, then runs the suite's two test targets in two phases:
#   1. `cargo test --features e2e --test e2e`: E2E_THREADS tests at a time, against ONE controller started here for
#      the phase with the deploy/ ServiceAccount's token (not as admin); log: $STATE_DIR/logs/controller-e2e.log;
#   2. `cargo test --features e2e --test e2e-restart -- --test-threads=1` (e2e/restart.rs, the restart_* tests): one at
#      a time and with no shared controller: each starts, kills and restarts controllers of its own
#      (HIVESYNC_E2E_OWN_CONTROLLER=1; the same binary, identity and flags; they append to
#      $STATE_DIR/logs/controller-e2e-restart.log). Phase 2 is not run with HIVESYNC_E2E_EXTERNAL_CONTROLLER=1.
# Arguments go to the test binary in both phases (a name filter, --skip NAME, --exact, --nocapture, ...; phase 2 drops
# --test-threads): `hack/e2e.sh restart_` runs phase 2's tests alone, `hack/e2e.sh sync::` phase 1's sync tests alone.
# Phase 2 is skipped when the arguments select none of its tests. Exit status 1 when either phase failed.
# Env: HIVESYNC_E2E_EXTERNAL_CONTROLLER=1  start no controller: one already runs for this hub (hack/kind.sh: in the
#        hub); phase 2 cannot run then (it must kill the controller)
#      HIVESYNC_E2E_CONTROLLER_IDENTITY=admin  run the controller(s) with the hub's admin kubeconfig instead
#      E2E_THREADS (default 4, phase 1), LOCAL_CLUSTERS_DIR (local clusters' state, default .local-clusters)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
k8s_path

# The test target of each phase.
SHARED_TARGET=e2e
RESTART_TARGET=e2e-restart
# The flags of every controller of the suite.
CONTROLLER_FLAGS=(--probe-interval 2s --remote-timeout 5s --metrics-address 127.0.0.1:0)

if [ -z "${HIVESYNC_E2E_HUB_KUBECONFIG:-}" ]; then
  # Local clusters (under $LOCAL_CLUSTERS_DIR when set, so two suites can run side by side on separate clusters).
  say "local clusters in $STATE_DIR"
  hack/local-clusters.sh up 3
  export HIVESYNC_E2E_HUB_KUBECONFIG="$STATE_DIR/hub.kubeconfig"
  export HIVESYNC_E2E_MANAGED_KUBECONFIGS="$STATE_DIR/managed-1.kubeconfig,$STATE_DIR/managed-2.kubeconfig,$STATE_DIR/managed-3.kubeconfig"
  HUB_KUBECONFIG="$HIVESYNC_E2E_HUB_KUBECONFIG"
fi
install_crds
[ "${1:-}" = "--install-crds-only" ] && exit 0

# The controller's identity as deploy/ declares it: what it may do, what it may not, and the whole base accepted.
apply_rbac
check_rbac
dry_run_deploy

say "building hivesync"
cargo build --bins --tests --features e2e --quiet

# Controllers the phase 2 tests started and a killed test run left behind: their pids, one a line.
TEST_CONTROLLER_PIDS="$STATE_DIR/logs/e2e-restart-controllers.pids"
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  stop_controller
  local pid
  if [ -f "$TEST_CONTROLLER_PIDS" ]; then
    while read -r pid; do
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa hivesync "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
      fi
    done <"$TEST_CONTROLLER_PIDS"
    rm -f "$TEST_CONTROLLER_PIDS"
  fi
}

# report_failure PHASE LOG: the last lines of that phase's controller log.
report_failure() {
  if [ -n "$2" ] && [ -f "$2" ]; then
    say "e2e $1 failed; the last 60 lines of the controller log ($2):"
    tail -n 60 "$2" >&2
  else
    say "e2e $1 failed"
  fi
}

FAILED=0
LOG="${HIVESYNC_E2E_CONTROLLER_LOG:-}"
if [ "${HIVESYNC_E2E_EXTERNAL_CONTROLLER:-}" = 1 ]; then
  say "HIVESYNC_E2E_EXTERNAL_CONTROLLER=1: using the controller that already runs for this hub"
else
  if [ "${HIVESYNC_E2E_CONTROLLER_IDENTITY:-serviceaccount}" = admin ]; then
    say "the controller runs with the hub's admin kubeconfig (HIVESYNC_E2E_CONTROLLER_IDENTITY=admin)"
  else
    CONTROLLER_KUBECONFIG="$STATE_DIR/hivesync-sa.kubeconfig"
    write_sa_kubeconfig "$CONTROLLER_KUBECONFIG"
    say "the controller runs as $SA_USER ($CONTROLLER_KUBECONFIG)"
  fi
  LOG="$STATE_DIR/logs/controller-e2e.log"
  say "starting the controller (log: $LOG)"
  trap cleanup EXIT
  start_controller "$LOG" "${CONTROLLER_FLAGS[@]}"
  export HIVESYNC_E2E_CONTROLLER_LOG="$LOG"
fi

say "running the e2e suite, phase 1: the $SHARED_TARGET tests, with one shared controller"
if ! cargo test --features e2e --test "$SHARED_TARGET" -- --test-threads="${E2E_THREADS:-4}" "$@"; then
  report_failure "phase 1" "$LOG"
  FAILED=1
fi

if [ "${HIVESYNC_E2E_EXTERNAL_CONTROLLER:-}" = 1 ]; then
  say "phase 2 (the $RESTART_TARGET tests) not run: they kill and start controllers, and the external one cannot be"
else
  stop_controller
  # The arguments as they are, but one test at a time.
  args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --test-threads) shift; [ $# -gt 0 ] && shift ;;
      --test-threads=*) shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  # How many of its tests they select (filters, --skip and --exact applied by the test binary's --list).
  if ! listed=$(cargo test --features e2e --test "$RESTART_TARGET" --quiet -- --list ${args[@]+"${args[@]}"} 2>&1); then
    printf '%s\n' "$listed" | tail -20 >&2
    say "phase 2: could not list the tests"
    exit 1
  fi
  count=$(printf '%s\n' "$listed" | grep -c ': test$' || true)
  if [ "$count" -eq 0 ]; then
    say "phase 2: no $RESTART_TARGET test selected"
  else
    RESTART_LOG="$STATE_DIR/logs/controller-e2e-restart.log"
    mkdir -p "$(dirname "$RESTART_LOG")"
    : >"$RESTART_LOG"
    say "running the e2e suite, phase 2: $count $RESTART_TARGET test(s), one at a time, each with controllers of its own (log: $RESTART_LOG)"
    if ! HIVESYNC_E2E_OWN_CONTROLLER=1 \
      HIVESYNC_E2E_BIN="$HIVESYNC" \
      HIVESYNC_E2E_CONTROLLER_KUBECONFIG="${CONTROLLER_KUBECONFIG:-$HUB_KUBECONFIG}" \
      HIVESYNC_E2E_CONTROLLER_LOG="$RESTART_LOG" \
      HIVESYNC_E2E_CONTROLLER_PIDFILE="$TEST_CONTROLLER_PIDS" \
      cargo test --features e2e --test "$RESTART_TARGET" -- --test-threads=1 ${args[@]+"${args[@]}"}; then
      report_failure "phase 2" "$RESTART_LOG"
      FAILED=1
    fi
  fi
fi
exit "$FAILED"
