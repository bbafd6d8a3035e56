#!/usr/bin/env bash
# The e2e suite against real clusters: the local ones by default (started if not running, left running), or any hub
# and managed kubeconfigs given by HIVESYNC_E2E_HUB_KUBECONFIG / HIVESYNC_E2E_MANAGED_KUBECONFIGS (e.g. kind).
# Installs the CRDs and deploy/rbac, checks the controller's RBAC (kubectl auth can-i) and a server-side dry run of
# deploy/, builds hivesync, runs one controller for the suite with the deploy/ ServiceAccount's token (not as admin),
# runs `cargo test --test e2e`. Arguments go to the test binary (a name filter, --skip NAME, ...).
# Env: HIVESYNC_E2E_EXTERNAL_CONTROLLER=1  start no controller: one already runs for this hub (hack/kind.sh: in the hub)
#      HIVESYNC_E2E_CONTROLLER_IDENTITY=admin  run the controller with the hub's admin kubeconfig instead
#      E2E_THREADS (default 4), LOCAL_CLUSTERS_DIR (local clusters' state, default .local-clusters)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
k8s_path

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
cargo build --bins --tests --quiet

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
  trap stop_controller EXIT
  start_controller "$LOG" --probe-interval 2s --remote-timeout 5s --metrics-address 127.0.0.1:0
  export HIVESYNC_E2E_CONTROLLER_LOG="$LOG"
fi

say "running the e2e suite"
if ! cargo test --test e2e -- --test-threads="${E2E_THREADS:-4}" "$@"; then
  if [ -n "$LOG" ] && [ -f "$LOG" ]; then
    say "e2e failed; the last 60 lines of the controller log:"
    tail -n 60 "$LOG" >&2
  fi
  exit 1
fi
