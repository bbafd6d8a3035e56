#!/usr/bin/env bash
# `make demo`: the main job end to end on local clusters. Brings up a hub and two managed clusters, installs the CRDs,
# registers the managed clusters with `hivesync adopt`, runs the controller, applies Hive's cso-test SelectorSyncSet,
# labels one ClusterDeployment and shows namespace `cso` appear on that cluster only, then removes the label and
# shows it go away (Sync mode). The clusters stay up afterwards for exploring; `make clusters-down` removes them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

SSS="$REPO_ROOT/deploy/examples/cso-test.selectorsyncset.yaml"
LABEL=api.openshift.com/cso-test

step() { printf '\n\033[1;36m### %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
hub() { kubectl --kubeconfig "$HUB_KUBECONFIG" "$@"; }
spoke() { local n=$1; shift; kubectl --kubeconfig "$STATE_DIR/$n.kubeconfig" "$@"; }
wait_until() { # seconds description command...
  local secs=$1 what=$2; shift 2
  for _ in $(seq 1 $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out after ${secs}s waiting for: $what" >&2; return 1
}

step "1. Kubernetes binaries (built from the Go modules once, then cached) and hivesync"
k8s_path
echo "kubectl, kube-apiserver, etcd from $K8S_BIN_DIR"
cargo build --bins --quiet

step "2. A local hub and two managed clusters (real kube-apiservers on loopback)"
hack/local-clusters.sh up 2
hack/local-clusters.sh status

step "3. The Hive CRDs on the hub"
install_crds
show hub get crd -l '!x' -o custom-columns=NAME:.metadata.name --no-headers | grep openshift

step "4. Register both managed clusters (like 'hiveutil create-cluster --adopt')"
for n in managed-1 managed-2; do
  show "$HIVESYNC" adopt "$n" --cluster-kubeconfig "$STATE_DIR/$n.kubeconfig" --kubeconfig "$HUB_KUBECONFIG"
done

step "5. Start the controller"
LOG="$STATE_DIR/logs/controller-demo.log"
trap stop_controller EXIT
start_controller "$LOG" --probe-interval 2s --metrics-address 127.0.0.1:0
echo "controller running (pid $CONTROLLER_PID), log: $LOG"
wait_until 30 "both clusters reachable" bash -c \
  "[ \"\$(kubectl --kubeconfig '$HUB_KUBECONFIG' get cd -A -o jsonpath='{.items[*].status.conditions[?(@.type==\"Unreachable\")].status}')\" = 'False False' ]"
show hub get clusterdeployments -A

step "6. Apply Hive's cso-test SelectorSyncSet (selects $LABEL=true, Sync mode)"
show hub apply -f "$SSS"

step "7. Label managed-1: the namespace 'cso' appears there, and only there"
show hub label clusterdeployment -n managed-1 managed-1 "$LABEL=true" --overwrite
wait_until 30 "namespace cso on managed-1" spoke managed-1 get ns cso
show spoke managed-1 get ns cso --show-labels
echo "managed-2:"; spoke managed-2 get ns cso 2>&1 | sed 's/^/  /' || true
wait_until 30 "ClusterSync entry for cso-test" bash -c \
  "kubectl --kubeconfig '$HUB_KUBECONFIG' get clustersync -n managed-1 managed-1 -o jsonpath='{.status.selectorSyncSets[0].result}' | grep -q Success"
show hub get clustersync -A -o wide
show hub get clustersync -n managed-1 managed-1 -o jsonpath='{.status}{"\n"}'

step "8. Remove the label: Sync mode deletes what the SelectorSyncSet created"
show hub label clusterdeployment -n managed-1 managed-1 "$LABEL-"
wait_until 60 "namespace cso gone from managed-1" bash -c "! kubectl --kubeconfig '$STATE_DIR/managed-1.kubeconfig' get ns cso"
echo "managed-1:"; spoke managed-1 get ns cso 2>&1 | sed 's/^/  /' || true
show hub get clustersync -n managed-1 managed-1 -o jsonpath='{.status}{"\n"}'

step "Done"
cat <<MSG
The clusters are still up. Try:
  kubectl --kubeconfig $HUB_KUBECONFIG get clusterdeployments,clustersyncs -A -o wide
  $HIVESYNC controller --kubeconfig $HUB_KUBECONFIG      # run the controller yourself
  make clusters-down                                        # remove the local clusters
MSG
