#!/usr/bin/env bash
# hivesync on kind: a hub and N managed kind clusters, the controller image built and loaded into the hub, deploy/
# applied there (it runs in the hub as its ServiceAccount), the managed clusters adopted with kubeconfigs that work from
# inside the hub's docker network, and the e2e suite run against it all. Needs Docker (a Linux host: the suite reaches
# the kind nodes by their docker-network IPs), kind and kubectl; cargo for `hivesync adopt` and the suite.
#
# Usage: hack/kind.sh up [N]   create (or reuse) the hub and managed-1..N (default 3), build + load + deploy, adopt
#        hack/kind.sh e2e      up 3, then hack/e2e.sh against the in-hub controller (HIVESYNC_E2E_EXTERNAL_CONTROLLER=1)
#        hack/kind.sh down     delete the kind clusters and the state directory
#
# Env: KIND_PREFIX      cluster name prefix (default hivesync: hivesync-hub, hivesync-managed-1, ...)
#      KIND_STATE_DIR   kubeconfigs, overlay, logs (default ${TMPDIR:-/tmp}/hivesync-kind-$KIND_PREFIX)
#      KIND_NODE_IMAGE  kindest/node image for every cluster (default: kind's own default)
#      IMAGE            controller image (default hivesync:kind; built from ./Dockerfile unless SKIP_BUILD=1)
#      KIND_E2E_ARGS    arguments for the test binary (default: skip the fault tests, which stop a *local* cluster)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
KIND_PREFIX="${KIND_PREFIX:-hivesync}"
KIND_STATE_DIR="${KIND_STATE_DIR:-${TMPDIR:-/tmp}/hivesync-kind-$KIND_PREFIX}"
IMAGE="${IMAGE:-hivesync:kind}"
KIND_E2E_ARGS="${KIND_E2E_ARGS:---skip a_stopped_managed_cluster}"
HUB="$KIND_PREFIX-hub"
HUB_KUBECONFIG="$KIND_STATE_DIR/hub.kubeconfig"
LOG_PID=""

say() { printf '\033[1m[kind] %s\033[0m\n' "$*" >&2; }
die() { printf '[kind] error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required and not on PATH (see README.md, 'kind')"
  done
}

need_docker() {
  need docker kind kubectl
  docker info >/dev/null 2>&1 || die "'docker info' failed: kind needs a running Docker engine"
}

hub() { kubectl --kubeconfig "$HUB_KUBECONFIG" "$@"; }
managed_name() { echo "$KIND_PREFIX-managed-$1"; }
cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$1"; }

create_cluster() {
  local name=$1 args=()
  if cluster_exists "$name"; then
    say "kind cluster $name exists"
  else
    say "creating kind cluster $name"
    [ -z "${KIND_NODE_IMAGE:-}" ] || args+=(--image "$KIND_NODE_IMAGE")
    kind create cluster --name "$name" --wait 120s "${args[@]}"
  fi
}

# The node's IP on the `kind` docker network: reachable from the host (Linux) and from pods in every kind cluster, and
# in the API server certificate (kubeadm puts the advertise address there).
node_ip() {
  docker inspect -f '{{with index .NetworkSettings.Networks "kind"}}{{.IPAddress}}{{end}}' "$1-control-plane"
}

# write_kubeconfigs NAME FILE_STEM: FILE_STEM.kubeconfig (host side, 127.0.0.1), FILE_STEM.internal.kubeconfig
# (https://NAME-control-plane:6443, resolved by docker's DNS inside the kind network) and FILE_STEM.shared.kubeconfig
# (https://<node ip>:6443: the same file works on the host and inside the hub).
write_kubeconfigs() {
  local name=$1 stem=$2 ip
  (
    umask 077
    kind get kubeconfig --name "$name" >"$stem.kubeconfig.tmp"
    mv "$stem.kubeconfig.tmp" "$stem.kubeconfig"
    kind get kubeconfig --internal --name "$name" >"$stem.internal.kubeconfig.tmp"
    mv "$stem.internal.kubeconfig.tmp" "$stem.internal.kubeconfig"
    ip=$(node_ip "$name")
    [ -n "$ip" ] || die "no IP on the kind network for $name-control-plane"
    sed "s#server: https://.*#server: https://$ip:6443#" "$stem.internal.kubeconfig" >"$stem.shared.kubeconfig.tmp"
    mv "$stem.shared.kubeconfig.tmp" "$stem.shared.kubeconfig"
  )
}

build_image() {
  if [ "${SKIP_BUILD:-}" = 1 ]; then
    say "SKIP_BUILD=1: using the image $IMAGE as it is"
  else
    say "building $IMAGE"
    docker build --build-arg HIVESYNC_COMMIT="$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
      -t "$IMAGE" "$REPO_ROOT"
  fi
  say "loading $IMAGE into $HUB"
  kind load docker-image "$IMAGE" --name "$HUB"
}

# The overlay that deploy/overlays/standalone gets on kind: the loaded image (never pulled), the e2e suite's timings, text logs.
write_overlay() {
  local dir="$KIND_STATE_DIR/overlay" base name tag
  mkdir -p "$dir"
  # kustomize takes a base only by a relative path.
  base=$(realpath --relative-to="$dir" "$REPO_ROOT/deploy/overlays/standalone")
  name=${IMAGE%:*}
  tag=${IMAGE##*:}
  [ "$tag" != "$IMAGE" ] || tag=latest
  cat >"$dir/kustomization.yaml" <<EOF
# Written by hack/kind.sh.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $base
images:
- name: hivesync
  newName: $name
  newTag: "$tag"
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: hivesync, namespace: hivesync}
    spec:
      template:
        spec:
          containers:
          - name: hivesync
            imagePullPolicy: Never
            env:
            - {name: HIVESYNC_PROBE_INTERVAL, value: 2s}
            - {name: HIVESYNC_REMOTE_TIMEOUT, value: 5s}
            - {name: HIVESYNC_LOG_FORMAT, value: text}
EOF
}

deploy() {
  write_overlay
  say "applying deploy/overlays/standalone on $HUB"
  hub apply --server-side --force-conflicts --field-manager=hivesync-install -k "$KIND_STATE_DIR/overlay"
  # shellcheck disable=SC2046
  hub wait --for=condition=Established --timeout=60s $(hub get -k "$REPO_ROOT/crds" -o name) >/dev/null
  # A new image under the same tag: make the pod pick it up.
  hub -n hivesync rollout restart deployment/hivesync >/dev/null
  if ! hub -n hivesync rollout status deployment/hivesync --timeout=180s; then
    hub -n hivesync describe pods -l app.kubernetes.io/name=hivesync >&2 || true
    hub -n hivesync logs deployment/hivesync --tail=80 >&2 || true
    die "the controller did not become ready in $HUB"
  fi
}

wait_reachable() {
  local name=$1 status="" i
  for ((i = 0; i < 90; i++)); do
    status=$(hub -n "$name" get clusterdeployment "$name" \
      -o jsonpath='{.status.conditions[?(@.type=="Unreachable")].status}' 2>/dev/null || true)
    [ "$status" = False ] && return 0
    sleep 2
  done
  hub -n hivesync logs deployment/hivesync --tail=80 >&2 || true
  die "ClusterDeployment $name/$name is not reachable from the controller in $HUB (Unreachable=${status:-unset})"
}

cmd_up() {
  local n=${1:-3} i name
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "up: N must be a positive number, got '$n'"
  need_docker
  need cargo realpath
  mkdir -p "$KIND_STATE_DIR/logs"
  create_cluster "$HUB"
  for ((i = 1; i <= n; i++)); do create_cluster "$(managed_name "$i")"; done
  write_kubeconfigs "$HUB" "$KIND_STATE_DIR/hub"
  for ((i = 1; i <= n; i++)); do write_kubeconfigs "$(managed_name "$i")" "$KIND_STATE_DIR/managed-$i"; done
  # The e2e suite names the managed clusters by file stem (managed-1, ...) and registers each with the file it is
  # given, so it gets the kubeconfigs that work both on this host and inside the hub.
  for ((i = 1; i <= n; i++)); do
    cp "$KIND_STATE_DIR/managed-$i.shared.kubeconfig" "$KIND_STATE_DIR/e2e-managed-$i.kubeconfig.tmp"
    mkdir -p "$KIND_STATE_DIR/e2e"
    mv "$KIND_STATE_DIR/e2e-managed-$i.kubeconfig.tmp" "$KIND_STATE_DIR/e2e/managed-$i.kubeconfig"
  done

  build_image
  deploy

  say "building hivesync (release) for 'hivesync adopt'"
  (cd "$REPO_ROOT" && cargo build --release --bin hivesync --quiet)
  for ((i = 1; i <= n; i++)); do
    name=$(managed_name "$i")
    say "adopting $name (kubeconfig: kind get kubeconfig --internal)"
    "$REPO_ROOT/target/release/hivesync" adopt "$name" --cluster-kubeconfig "$KIND_STATE_DIR/managed-$i.internal.kubeconfig" \
      --kubeconfig "$HUB_KUBECONFIG"
  done
  for ((i = 1; i <= n; i++)); do wait_reachable "$(managed_name "$i")"; done
  say "up: the controller in $HUB reaches all $n managed clusters"
  hub get clusterdeployments -A
  echo "hub: $HUB_KUBECONFIG"
  for ((i = 1; i <= n; i++)); do echo "$(managed_name "$i"): $KIND_STATE_DIR/managed-$i.kubeconfig"; done
}

stop_log() {
  if [ -n "$LOG_PID" ]; then
    kill "$LOG_PID" 2>/dev/null || true
    wait "$LOG_PID" 2>/dev/null || true
    LOG_PID=""
  fi
}

cmd_e2e() {
  local managed="" i log="$KIND_STATE_DIR/logs/controller.log" kubectl_dir
  cmd_up 3
  for i in 1 2 3; do managed+="${managed:+,}$KIND_STATE_DIR/e2e/managed-$i.kubeconfig"; done
  # The controller's log, for the suite's failure messages.
  hub -n hivesync logs -f deployment/hivesync >"$log" 2>&1 &
  LOG_PID=$!
  trap stop_log EXIT
  kubectl_dir=$(dirname "$(command -v kubectl)")
  say "running the e2e suite against the controller in $HUB"
  # shellcheck disable=SC2086 # KIND_E2E_ARGS is a list of arguments
  HIVESYNC_E2E_HUB_KUBECONFIG="$HUB_KUBECONFIG" \
    HIVESYNC_E2E_MANAGED_KUBECONFIGS="$managed" \
    HIVESYNC_E2E_EXTERNAL_CONTROLLER=1 \
    HIVESYNC_E2E_CONTROLLER_LOG="$log" \
    K8S_BIN_DIR="${K8S_BIN_DIR:-$kubectl_dir}" \
    LOCAL_CLUSTERS_DIR="$KIND_STATE_DIR" \
    "$REPO_ROOT/hack/e2e.sh" $KIND_E2E_ARGS
}

cmd_down() {
  local name
  need kind
  for name in $(kind get clusters 2>/dev/null | grep -E "^$KIND_PREFIX-(hub|managed-[0-9]+)\$" || true); do
    say "deleting kind cluster $name"
    kind delete cluster --name "$name"
  done
  rm -rf "$KIND_STATE_DIR"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  e2e) cmd_e2e ;;
  down) cmd_down ;;
  -h | --help | help | "") usage ;;
  *) printf '[kind] unknown command %s\n' "$1" >&2; usage ;;
esac
