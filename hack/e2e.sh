#!/usr/bin/env bash
# The e2e suite against real clusters: the local ones by default (started if not running, left running), or any hub
# and managed kubeconfigs given by HIVESYNC_E2E_HUB_KUBECONFIG / HIVESYNC_E2E_MANAGED_KUBECONFIGS (e.g. kind).
# Installs the CRDs, builds hivesync, runs one controller for the suite, runs `cargo test --test e2e`.
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

say "building hivesync"
cargo build --bins --tests --quiet

LOG="$STATE_DIR/logs/controller-e2e.log"
say "starting the controller (log: $LOG)"
trap stop_controller EXIT
start_controller "$LOG" --probe-interval 2s --remote-timeout 5s --metrics-address 127.0.0.1:0
export HIVESYNC_E2E_CONTROLLER_LOG="$LOG"

say "running the e2e suite"
if ! cargo test --test e2e -- --test-threads="${E2E_THREADS:-4}" "$@"; then
  say "e2e failed; the last 60 lines of the controller log:"
  tail -n 60 "$LOG" >&2
  exit 1
fi
