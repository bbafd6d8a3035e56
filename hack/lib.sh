# Shared by the hack/ scripts: paths, the Kubernetes binaries on PATH, CRD install, controller start/stop.
# shellcheck shell=bash
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${LOCAL_CLUSTERS_DIR:-$REPO_ROOT/.local-clusters}"
HUB_KUBECONFIG="${HIVESYNC_E2E_HUB_KUBECONFIG:-$STATE_DIR/hub.kubeconfig}"
HIVESYNC="$REPO_ROOT/target/debug/hivesync"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

k8s_path() {
  local bin
  bin="${K8S_BIN_DIR:-$("$REPO_ROOT/hack/k8s-bins.sh")}"
  export K8S_BIN_DIR="$bin"
  export PATH="$bin:$PATH"
}

clusters_running() {
  [ -f "$STATE_DIR/hub.kubeconfig" ] && kubectl --kubeconfig "$STATE_DIR/hub.kubeconfig" get --raw /readyz >/dev/null 2>&1
}

install_crds() {
  say "installing the hivesync CRDs on the hub"
  kubectl --kubeconfig "$HUB_KUBECONFIG" apply --server-side --force-conflicts --field-manager=hivesync-install -k "$REPO_ROOT/crds/" >/dev/null
  # shellcheck disable=SC2046
  kubectl --kubeconfig "$HUB_KUBECONFIG" wait --for=condition=Established --timeout=60s \
    $(kubectl --kubeconfig "$HUB_KUBECONFIG" get -k "$REPO_ROOT/crds/" -o name) >/dev/null
}

# start_controller LOGFILE [ARGS...]: runs the controller in the background against the hub; sets CONTROLLER_PID.
start_controller() {
  local logfile=$1; shift
  mkdir -p "$(dirname "$logfile")"
  "$HIVESYNC" controller --kubeconfig "$HUB_KUBECONFIG" "$@" >"$logfile" 2>&1 &
  CONTROLLER_PID=$!
  for _ in $(seq 1 100); do
    if grep -q "hub caches synced" "$logfile" 2>/dev/null; then return 0; fi
    if ! kill -0 "$CONTROLLER_PID" 2>/dev/null; then
      cat "$logfile" >&2; return 1
    fi
    sleep 0.1
  done
  say "the controller did not report ready within 10 s; its log:"; cat "$logfile" >&2; return 1
}

stop_controller() {
  if [ -n "${CONTROLLER_PID:-}" ] && kill -0 "$CONTROLLER_PID" 2>/dev/null; then
    kill "$CONTROLLER_PID" 2>/dev/null || true
    wait "$CONTROLLER_PID" 2>/dev/null || true
  fi
  CONTROLLER_PID=""
}
