#!/usr/bin/env bash
# Local multi-cluster test bed without Docker: one etcd, a hub and N managed clusters, each cluster being a real
# kube-apiserver (own --etcd-prefix on the shared etcd) plus a kube-controller-manager, all on 127.0.0.1.
#
# Usage: hack/local-clusters.sh up [N]     start etcd, hub and managed-1..N (default N=2); idempotent; adds missing clusters
#        hack/local-clusters.sh down       stop everything and delete the state directory
#        hack/local-clusters.sh stop NAME  stop NAME's apiserver and controller-manager (state and port kept)
#        hack/local-clusters.sh start NAME start NAME again on the same port with its data, wait until ready
#        hack/local-clusters.sh status     one line per cluster (name, url, running/stopped) and one for etcd
#
# State: $LOCAL_CLUSTERS_DIR (default <repo>/.local-clusters): <name>.kubeconfig (self-contained admin kubeconfigs),
# state.env (ports), pki/, etcd/, logs/, pids/. Binaries: $K8S_BIN_DIR, else the directory hack/k8s-bins.sh prints.
# Env: READY_TIMEOUT (seconds per wait, default 120).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
STATE_DIR="${LOCAL_CLUSTERS_DIR:-$REPO_ROOT/.local-clusters}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
ETCD_BASE_PORT=23790
APISERVER_BASE_PORT=26443

PKI="$STATE_DIR/pki"
LOGS="$STATE_DIR/logs"
PIDS="$STATE_DIR/pids"
STATE_FILE="$STATE_DIR/state.env"

log() { printf '[local-clusters] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------------------------- state
# state.env holds ETCD_PORT, ETCD_PEER_PORT, CLUSTER_COUNT and PORT_<name with - as _>.
ETCD_PORT="" ETCD_PEER_PORT="" CLUSTER_COUNT=0

load_state() {
  if [ -f "$STATE_FILE" ]; then
    # shellcheck disable=SC1090
    . "$STATE_FILE"
  fi
}

save_state() {
  local tmp="$STATE_FILE.tmp" name
  {
    echo "ETCD_PORT=$ETCD_PORT"
    echo "ETCD_PEER_PORT=$ETCD_PEER_PORT"
    echo "CLUSTER_COUNT=$CLUSTER_COUNT"
    for name in $(cluster_names); do
      echo "$(port_var "$name")=$(cluster_port "$name")"
    done
  } > "$tmp"
  mv "$tmp" "$STATE_FILE"
}

cluster_names() {
  local i
  echo hub
  for ((i = 1; i <= CLUSTER_COUNT; i++)); do echo "managed-$i"; done
}

port_var() { echo "PORT_${1//-/_}"; }
cluster_port() { local v; v=$(port_var "$1"); echo "${!v:-}"; }
known_cluster() { [ -f "$STATE_FILE" ] && [ -n "$(cluster_port "$1")" ]; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Lowest port >= $1 that nobody listens on and that state.env does not already hand out.
pick_port() {
  local p=$1 taken
  taken=" $ETCD_PORT $ETCD_PEER_PORT $(for n in $(cluster_names); do cluster_port "$n"; done) "
  while [[ "$taken" == *" $p "* ]] || port_open "$p"; do p=$((p + 1)); done
  echo "$p"
}

# ------------------------------------------------------------------------------------------------------------ processes
pid_file() { echo "$PIDS/$1.pid"; }
log_file() { echo "$LOGS/$1.log"; }

# Prints the pid of process $1 (etcd, <name>-apiserver, <name>-controller-manager) if it is alive and really is ours
# (its command line mentions the state directory); stale pid files are removed.
live_pid() {
  local pf pid cmd
  pf=$(pid_file "$1")
  [ -f "$pf" ] || return 1
  pid=$(cat "$pf" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ]; then
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)
    if [[ "$cmd" == *"$STATE_DIR/"* ]] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
      echo "$pid"
      return 0
    fi
  fi
  rm -f "$pf"
  return 1
}

is_running() { live_pid "$1" >/dev/null; }

# spawn PROC CMD...: start CMD detached (own session, survives this script), output appended to logs/PROC.log.
spawn() {
  local proc=$1 pf lf i
  shift
  pf=$(pid_file "$proc")
  lf=$(log_file "$proc")
  rm -f "$pf" "$pf.tmp"
  printf '===== %s starting %s\n' "$(date -u +%FT%TZ)" "$proc" >> "$lf"
  # The wrapper records its own pid then execs, so the pid file holds the real process whatever setsid does.
  setsid bash -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pf" "$@" >> "$lf" 2>&1 < /dev/null 9>&- &
  for ((i = 0; i < 100; i++)); do
    [ -s "$pf" ] && return 0
    sleep 0.05
  done
  die "$proc did not start (see $lf)"
}

fail_with_log() {
  local proc=$1 msg=$2
  log "error: $msg"
  log "last lines of $(log_file "$proc") (this run):"
  # Only the section written since the last "===== ... starting" marker, i.e. by the process that just failed.
  awk '/^===== /{n=0} {line[n++]=$0} END{for (i = (n > 25 ? n - 25 : 0); i < n; i++) print line[i]}' \
    "$(log_file "$proc")" >&2 || true
  exit 1
}

# stop_proc PROC [GRACE]: SIGTERM, wait up to GRACE seconds (default 5), then SIGKILL; returns once the process is gone.
# kube-apiserver stops listening at once on SIGTERM but lingers until open watches end (up to a minute); it keeps no state
# of its own (everything is in etcd), so killing it after a short grace is safe and also drops the open watches, which
# is what a client should see when a cluster goes away.
stop_proc() {
  local proc=$1 grace=${2:-5} pid i
  pid=$(live_pid "$proc") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$proc (pid $pid) still running ${grace}s after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$(pid_file "$proc")"
}

wait_port_closed() {
  local port=$1 i
  for ((i = 0; i < 100; i++)); do
    port_open "$port" || return 0
    sleep 0.1
  done
  die "port $port is still accepting connections"
}

# ------------------------------------------------------------------------------------------------------------- binaries
BIN_DIR=""
resolve_bins() {
  if [ -n "${K8S_BIN_DIR:-}" ]; then
    BIN_DIR=$K8S_BIN_DIR
  else
    BIN_DIR=$("$SCRIPT_DIR/k8s-bins.sh") || die "hack/k8s-bins.sh failed"
  fi
  local b
  for b in etcd kube-apiserver kube-controller-manager kubectl; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing (set K8S_BIN_DIR or run hack/k8s-bins.sh)"
  done
}

# ------------------------------------------------------------------------------------------------------------------ pki
# The PKI's version (its `done-<v>` marker): 2 added the api.hivesync.invalid name to the serving certificate (the
# apiServerIPOverride e2e dials 127.0.0.1 for that name, which never resolves).
PKI_VERSION=2
gen_pki() {
  [ -f "$PKI/done-$PKI_VERSION" ] && return 0
  if [ -d "$PKI" ] && is_running etcd; then
    die "the local clusters run with an older PKI ($PKI); start over: $0 down, then up"
  fi
  command -v openssl >/dev/null || die "openssl is required"
  log "generating CA, serving, client and service-account keys in $PKI"
  rm -rf "$PKI"
  mkdir -p "$PKI"
  (
    cd "$PKI"
    umask 077
    cat > ext.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:api.hivesync.invalid, IP:10.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF
    q() { "$@" > /dev/null 2> openssl.err || { cat openssl.err >&2; exit 1; }; }
    q openssl req -x509 -new -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -sha256 \
      -subj "/CN=hivesync-local-ca" -config ext.cnf -extensions ca
    leaf() { # name subject extensions
      q openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" -config ext.cnf
      q openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -sha256 \
        -extfile ext.cnf -extensions "$3"
      rm -f "$1.csr"
    }
    leaf serving "/CN=localhost" serving
    leaf admin "/O=system:masters/CN=admin" client
    leaf controller-manager "/O=system:masters/CN=system:kube-controller-manager" client
    q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
    q openssl pkey -in sa.key -pubout -out sa.pub
    rm -f openssl.err ca.srl
    touch "done-$PKI_VERSION"
  )
}

write_kubeconfig() { # file cluster-name port cert key
  local file=$1 name=$2 port=$3 cert=$4 key=$5
  (
  umask 077
  cat > "$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $name-admin
  user:
    client-certificate-data: $(base64 -w0 < "$cert")
    client-key-data: $(base64 -w0 < "$key")
contexts:
- name: $name
  context:
    cluster: $name
    user: $name-admin
current-context: $name
EOF
  mv "$file.tmp" "$file"
  )
}

# ------------------------------------------------------------------------------------------------------------- starting
start_etcd() {
  if is_running etcd; then return 0; fi
  log "starting etcd on 127.0.0.1:$ETCD_PORT"
  spawn etcd "$BIN_DIR/etcd" \
    --name=local \
    --data-dir="$STATE_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="local=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync \
    --quota-backend-bytes=4294967296 \
    --log-level=warn
  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; do
    is_running etcd || fail_with_log etcd "etcd exited during startup"
    [ "$SECONDS" -lt "$deadline" ] || fail_with_log etcd "etcd not healthy after ${READY_TIMEOUT}s"
    sleep 0.2
  done
}

start_apiserver() {
  local name=$1 port
  port=$(cluster_port "$name")
  if is_running "$name-apiserver"; then return 1; fi
  if port_open "$port"; then die "port $port for $name is taken by a process this script does not know"; fi
  log "starting $name kube-apiserver on https://127.0.0.1:$port"
  mkdir -p "$STATE_DIR/apiserver-certs/$name"
  spawn "$name-apiserver" "$BIN_DIR/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --etcd-prefix="/$name" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$port" \
    --cert-dir="$STATE_DIR/apiserver-certs/$name" \
    --tls-cert-file="$PKI/serving.crt" \
    --tls-private-key-file="$PKI/serving.key" \
    --client-ca-file="$PKI/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true \
    --enable-priority-and-fairness=false \
    --profiling=false \
    --endpoint-reconciler-type=none
  return 0
}

wait_apiserver_ready() {
  local name=$1 port deadline
  port=$(cluster_port "$name")
  deadline=$((SECONDS + READY_TIMEOUT))
  until [ "$(curl -sS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$port/readyz" 2>/dev/null)" = ok ]; do
    is_running "$name-apiserver" || fail_with_log "$name-apiserver" "$name kube-apiserver exited during startup"
    [ "$SECONDS" -lt "$deadline" ] || fail_with_log "$name-apiserver" "$name kube-apiserver not ready after ${READY_TIMEOUT}s"
    sleep 0.3
  done
  until "$BIN_DIR/kubectl" --kubeconfig "$STATE_DIR/$name.kubeconfig" get namespace default -o name >/dev/null 2>&1; do
    is_running "$name-apiserver" || fail_with_log "$name-apiserver" "$name kube-apiserver exited during startup"
    [ "$SECONDS" -lt "$deadline" ] || fail_with_log "$name-apiserver" "$name: namespace default missing after ${READY_TIMEOUT}s"
    sleep 0.3
  done
}

# Everything except the controllers that manage nodes, cloud resources or volumes attached to nodes.
KCM_CONTROLLERS='*,-node-ipam-controller,-node-lifecycle-controller,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller,-persistentvolume-attach-detach-controller,-taint-eviction-controller'

start_controller_manager() {
  local name=$1
  if is_running "$name-controller-manager"; then return 1; fi
  log "starting $name kube-controller-manager"
  spawn "$name-controller-manager" "$BIN_DIR/kube-controller-manager" \
    --kubeconfig="$STATE_DIR/$name-controller-manager.kubeconfig" \
    --controllers="$KCM_CONTROLLERS" \
    --leader-elect=false \
    --use-service-account-credentials=false \
    --secure-port=0 \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" \
    --cluster-signing-key-file="$PKI/ca.key" \
    --profiling=false
  return 0
}

# Ensures the apiserver and controller-manager of each named cluster run and the apiservers are ready.
bring_up() {
  local name started_kcm=() started_api=()
  start_etcd
  for name in "$@"; do
    [ -f "$STATE_DIR/$name.kubeconfig" ] ||
      write_kubeconfig "$STATE_DIR/$name.kubeconfig" "$name" "$(cluster_port "$name")" "$PKI/admin.crt" "$PKI/admin.key"
    [ -f "$STATE_DIR/$name-controller-manager.kubeconfig" ] ||
      write_kubeconfig "$STATE_DIR/$name-controller-manager.kubeconfig" "$name" "$(cluster_port "$name")" \
        "$PKI/controller-manager.crt" "$PKI/controller-manager.key"
    if start_apiserver "$name"; then started_api+=("$name"); fi
  done
  for name in "$@"; do
    wait_apiserver_ready "$name"
    if start_controller_manager "$name"; then started_kcm+=("$name"); fi
  done
  # kube-controller-manager fails fast on bad flags or an unreachable apiserver: make sure it survived its first seconds.
  if [ "${#started_kcm[@]}" -gt 0 ]; then
    sleep 3
    for name in "${started_kcm[@]}"; do
      is_running "$name-controller-manager" ||
        fail_with_log "$name-controller-manager" "$name kube-controller-manager exited during startup"
    done
  fi
  [ "${#started_api[@]}" -gt 0 ] || [ "${#started_kcm[@]}" -gt 0 ] || log "already running: $*"
}

lock() {
  mkdir -p "$STATE_DIR"
  exec 9> "$STATE_DIR/.lock"
  if command -v flock >/dev/null; then
    flock -w 300 9 || die "another hack/local-clusters.sh is running on $STATE_DIR"
  fi
}

# ------------------------------------------------------------------------------------------------------------- commands
cmd_up() {
  local want=${1:-2} name begin=$SECONDS
  [[ "$want" =~ ^[0-9]+$ ]] || die "up: N must be a number, got '$want'"
  resolve_bins
  lock
  mkdir -p "$LOGS" "$PIDS"
  load_state
  if [ "$want" -lt "$CLUSTER_COUNT" ]; then
    log "keeping the $CLUSTER_COUNT managed clusters that already exist (use down to start over)"
    want=$CLUSTER_COUNT
  fi
  [ -n "$ETCD_PORT" ] || ETCD_PORT=$(pick_port "$ETCD_BASE_PORT")
  [ -n "$ETCD_PEER_PORT" ] || ETCD_PEER_PORT=$(pick_port $((ETCD_PORT + 1)))
  CLUSTER_COUNT=$want
  local next=$APISERVER_BASE_PORT
  for name in $(cluster_names); do
    if [ -z "$(cluster_port "$name")" ]; then
      printf -v "$(port_var "$name")" '%s' "$(pick_port "$next")"
    fi
    next=$(($(cluster_port "$name") + 1))
  done
  save_state
  gen_pki
  # shellcheck disable=SC2046
  bring_up $(cluster_names)
  log "up in $((SECONDS - begin))s"
  for name in $(cluster_names); do echo "$name: $STATE_DIR/$name.kubeconfig"; done
}

cmd_stop() {
  local name=${1:?usage: stop NAME}
  load_state
  known_cluster "$name" || die "unknown cluster '$name' (known: $(cluster_names | paste -sd' '))"
  lock
  # In parallel: each takes a few seconds to shut down gracefully.
  local kcm api
  stop_proc "$name-controller-manager" & kcm=$!
  stop_proc "$name-apiserver" & api=$!
  wait "$kcm"
  wait "$api"
  wait_port_closed "$(cluster_port "$name")"
  log "stopped $name (https://127.0.0.1:$(cluster_port "$name"))"
}

cmd_start() {
  local name=${1:?usage: start NAME}
  load_state
  known_cluster "$name" || die "unknown cluster '$name' (known: $(cluster_names | paste -sd' '))"
  resolve_bins
  lock
  mkdir -p "$LOGS" "$PIDS"
  gen_pki
  bring_up "$name"
  log "$name is ready at https://127.0.0.1:$(cluster_port "$name")"
}

cmd_status() {
  local name api kcm state
  load_state
  if [ ! -f "$STATE_FILE" ]; then
    echo "no local clusters (state dir $STATE_DIR)"
    return 0
  fi
  for name in $(cluster_names); do
    api=stopped kcm=stopped
    is_running "$name-apiserver" && api=running
    is_running "$name-controller-manager" && kcm=running
    if [ "$api" = "$kcm" ]; then state=$api; else state="partial(apiserver=$api,controller-manager=$kcm)"; fi
    printf '%-12s https://127.0.0.1:%-6s %s\n' "$name" "$(cluster_port "$name")" "$state"
  done
  state=stopped
  is_running etcd && state=running
  printf '%-12s http://127.0.0.1:%-7s %s\n' etcd "$ETCD_PORT" "$state"
  return 0
}

cmd_down() {
  local pf proc pid cmd i
  if [ ! -d "$STATE_DIR" ]; then
    log "nothing to do ($STATE_DIR does not exist)"
    return 0
  fi
  lock
  load_state
  # All controller-managers and apiservers in parallel, etcd last.
  local jobs=()
  for pf in "$PIDS"/*-controller-manager.pid "$PIDS"/*-apiserver.pid; do
    [ -f "$pf" ] || continue
    proc=$(basename "$pf" .pid)
    log "stopping $proc"
    stop_proc "$proc" & jobs+=($!)
  done
  for pid in "${jobs[@]}"; do wait "$pid"; done
  if [ -f "$PIDS/etcd.pid" ]; then
    log "stopping etcd"
    stop_proc etcd 20
  fi
  # Stragglers whose pid file got lost: our etcd/kube-apiserver/kube-controller-manager processes are the ones whose
  # command line names the state directory.
  local leftovers=()
  for cmd in /proc/[0-9]*/cmdline; do
    pid=${cmd#/proc/}
    pid=${pid%/cmdline}
    proc=$(tr '\0' ' ' < "$cmd" 2>/dev/null || true)
    case "${proc%% *}" in */etcd | */kube-apiserver | */kube-controller-manager) ;; *) continue ;; esac
    [[ "$proc" == *"$STATE_DIR/"* ]] || continue
    log "stopping leftover ${proc%% *} (pid $pid)"
    kill -TERM "$pid" 2>/dev/null && leftovers+=("$pid")
  done
  for pid in "${leftovers[@]}"; do
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  exec 9>&-
  rm -rf "$STATE_DIR"
  log "removed $STATE_DIR"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  stop) shift; cmd_stop "$@" ;;
  start) shift; cmd_start "$@" ;;
  status) cmd_status ;;
  -h | --help | help | "") usage ;;
  *) log "unknown command '$1'"; usage ;;
esac
