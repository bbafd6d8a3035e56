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

# start_controller LOGFILE [ARGS...]: runs the controller in the background against the hub, as $CONTROLLER_KUBECONFIG
# when set (hack/e2e.sh: the deploy/ ServiceAccount), else with the hub's admin kubeconfig; sets CONTROLLER_PID.
start_controller() {
  local logfile=$1; shift
  mkdir -p "$(dirname "$logfile")"
  "$HIVESYNC" controller --kubeconfig "${CONTROLLER_KUBECONFIG:-$HUB_KUBECONFIG}" "$@" >"$logfile" 2>&1 &
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

# ------------------------------------------------------------------------------------------------------------- RBAC
# The controller's identity on the hub, as deploy/base/rbac declares it.
SA_NAMESPACE=hivesync
SA_NAME=hivesync
SA_USER="system:serviceaccount:$SA_NAMESPACE:$SA_NAME"

# apply_rbac: deploy/base/rbac (Namespace, ServiceAccount, ClusterRole(Binding), Role(Binding)) on the hub.
apply_rbac() {
  say "applying deploy/base/rbac on the hub"
  kubectl --kubeconfig "$HUB_KUBECONFIG" apply --server-side --force-conflicts --field-manager=hivesync-install \
    -k "$REPO_ROOT/deploy/base/rbac" >/dev/null
}

# What the controller's ServiceAccount may and may not do on the hub: "<yes|no> <kubectl auth can-i arguments>".
# `some-cluster` stands for any namespace holding a ClusterDeployment. can-i says no to a resource the server does not
# serve, so this needs the CRDs installed.
RBAC_EXPECTATIONS='
yes list clusterdeployments.hive.openshift.io --all-namespaces
yes watch clusterdeployments.hive.openshift.io --all-namespaces
yes list syncsets.hive.openshift.io --all-namespaces
yes watch selectorsyncsets.hive.openshift.io
yes get clusterdeployments.hive.openshift.io --subresource=status -n some-cluster
yes update clusterdeployments.hive.openshift.io --subresource=status -n some-cluster
yes list clustersyncs.hiveinternal.openshift.io --all-namespaces
yes create clustersyncs.hiveinternal.openshift.io -n some-cluster
yes update clustersyncs.hiveinternal.openshift.io --subresource=status -n some-cluster
yes watch clustersyncleases.hiveinternal.openshift.io --all-namespaces
yes create clustersyncleases.hiveinternal.openshift.io -n some-cluster
yes update clustersyncleases.hiveinternal.openshift.io -n some-cluster
yes watch secrets --all-namespaces
yes get secrets -n some-cluster
yes create events.events.k8s.io -n some-cluster
yes create events -n some-cluster
yes get leases.coordination.k8s.io -n hivesync
yes create leases.coordination.k8s.io -n hivesync
yes update leases.coordination.k8s.io -n hivesync
no create secrets -n some-cluster
no update secrets -n some-cluster
no patch secrets -n some-cluster
no delete secrets -n some-cluster
no create clusterdeployments.hive.openshift.io -n some-cluster
no update clusterdeployments.hive.openshift.io -n some-cluster
no patch clusterdeployments.hive.openshift.io --subresource=status -n some-cluster
no delete clusterdeployments.hive.openshift.io -n some-cluster
no update syncsets.hive.openshift.io -n some-cluster
no delete selectorsyncsets.hive.openshift.io
no delete clustersyncs.hiveinternal.openshift.io -n some-cluster
no delete clustersyncleases.hiveinternal.openshift.io -n some-cluster
no get pods -n some-cluster
no list pods --all-namespaces
no get configmaps -n some-cluster
no create namespaces
no delete leases.coordination.k8s.io -n hivesync
no create leases.coordination.k8s.io -n kube-system
no update leases.coordination.k8s.io -n default
no * * --all-namespaces
no * * -n hivesync
no get * --all-namespaces
no * clusterdeployments.hive.openshift.io --all-namespaces
no * secrets --all-namespaces
'

# check_rbac: every line of RBAC_EXPECTATIONS holds for the ServiceAccount (`kubectl auth can-i --as=...`).
check_rbac() {
  local failures=() n=0 line expect got
  local -a args
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    expect=${line%% *}
    set -f # '*' is an argument, not a glob
    # shellcheck disable=SC2206
    args=(${line#* })
    set +f
    got=$(kubectl --kubeconfig "$HUB_KUBECONFIG" auth can-i --as="$SA_USER" "${args[@]}" 2>/dev/null | head -n1) || true
    got=${got%% *}
    n=$((n + 1))
    [ "$got" = "$expect" ] || failures+=("expected '$expect', got '${got:-an error}': can-i ${args[*]}")
  done <<<"$RBAC_EXPECTATIONS"
  if [ "${#failures[@]}" -gt 0 ]; then
    say "RBAC check failed for $SA_USER (${#failures[@]} of $n):"
    printf '  %s\n' "${failures[@]}" >&2
    return 1
  fi
  say "RBAC check: all $n kubectl auth can-i answers for $SA_USER as expected"
}

# dry_run_deploy: each deploy/ overlay (standalone: CRDs, RBAC, Deployment, Service, PDB; hive-hub: the same without
# the CRDs) accepted by the hub in a server-side dry run, without any warning (e.g. a Pod Security one).
dry_run_deploy() {
  local out overlay
  for overlay in standalone hive-hub; do
    say "kubectl apply --dry-run=server -k deploy/overlays/$overlay"
    if ! out=$(kubectl --kubeconfig "$HUB_KUBECONFIG" apply --dry-run=server --server-side --force-conflicts \
      --field-manager=hivesync-install -k "$REPO_ROOT/deploy/overlays/$overlay" 2>&1); then
      printf '%s\n' "$out" >&2
      return 1
    fi
    if grep -qi 'warning' <<<"$out"; then
      say "the hub warned about deploy/overlays/$overlay:"
      printf '%s\n' "$out" >&2
      return 1
    fi
    if [ "$overlay" = hive-hub ] && grep -q customresourcedefinition <<<"$out"; then
      say "deploy/overlays/hive-hub must not carry a CRD (Hive's stay Hive's):"
      printf '%s\n' "$out" >&2
      return 1
    fi
  done
}

# write_sa_kubeconfig FILE: a kubeconfig for the hub (its server and CA) that authenticates with a fresh 24 h token of
# the controller's ServiceAccount; fails unless the hub then says it is that ServiceAccount.
write_sa_kubeconfig() {
  local file=$1 server ca token who
  server=$(kubectl --kubeconfig "$HUB_KUBECONFIG" config view --raw --minify --flatten \
    -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl --kubeconfig "$HUB_KUBECONFIG" config view --raw --minify --flatten \
    -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  token=$(kubectl --kubeconfig "$HUB_KUBECONFIG" create token "$SA_NAME" -n "$SA_NAMESPACE" --duration=24h)
  mkdir -p "$(dirname "$file")"
  (
    umask 077
    {
      echo "apiVersion: v1"
      echo "kind: Config"
      echo "clusters:"
      echo "- name: hub"
      echo "  cluster:"
      echo "    server: $server"
      if [ -n "$ca" ]; then echo "    certificate-authority-data: $ca"; fi
      echo "users:"
      echo "- name: $SA_NAME"
      echo "  user:"
      echo "    token: $token"
      echo "contexts:"
      echo "- name: $SA_NAME@hub"
      echo "  context: {cluster: hub, user: $SA_NAME, namespace: $SA_NAMESPACE}"
      echo "current-context: $SA_NAME@hub"
    } >"$file.tmp"
    mv "$file.tmp" "$file"
  )
  who=$(kubectl --kubeconfig "$file" auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1) || true
  if [ "$who" != "$SA_USER" ]; then
    say "the hub does not accept the ServiceAccount token in $file (auth whoami: $who)"
    return 1
  fi
}
