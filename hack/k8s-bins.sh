#!/usr/bin/env bash
# Builds the real Kubernetes test binaries (kube-apiserver, kube-controller-manager, kubectl, etcd) from the
# Kubernetes and etcd Go modules at pinned versions, using only the Go module proxy, into a cache outside the repo.
# Reuses the cache when every binary is present. Prints the bin directory on stdout (and nothing else).
#
# k8s.io/kubernetes cannot be `go install`ed at a version because its go.mod replaces the staging modules with local
# paths; we build it from a throwaway module that requires it and replaces each staging module with its published
# v0.<minor>.<patch> twin instead.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
CACHE_ROOT="${HIVESYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hivesync}"
OUT="$CACHE_ROOT/k8s/$K8S_VERSION-etcd-$ETCD_VERSION"
BIN="$OUT/bin"
BINARIES=(kube-apiserver kube-controller-manager kubectl etcd)

log() { printf '[k8s-bins] %s\n' "$*" >&2; }

have_all() {
  for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}

if have_all; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build the Kubernetes test binaries"; exit 1; }
mkdir -p "$BIN"
work="$OUT/src"
rm -rf "$work"
mkdir -p "$work"

staging_version="v0.${K8S_VERSION#v1.}"
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"

if [ ! -x "$BIN/etcd" ]; then
  # etcd's server module also carries replace directives, so it gets a throwaway module of its own.
  log "building etcd $ETCD_VERSION"
  mkdir -p "$work/etcd"
  (
    cd "$work/etcd"
    printf 'module hivesync.local/etcdbin\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    GOFLAGS=-mod=mod go mod tidy >&2
    CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3 >&2
  )
fi

need_k8s=0
for b in kube-apiserver kube-controller-manager kubectl; do [ -x "$BIN/$b" ] || need_k8s=1; done
if [ "$need_k8s" = 1 ]; then
  log "building Kubernetes $K8S_VERSION (staging modules at $staging_version); the first build takes a while"
  cd "$work"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  upstream_mod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  go_directive=$(awk '/^go /{print $2; exit}' "$upstream_mod")
  {
    echo "module hivesync.local/k8sbins"
    echo
    echo "go $go_directive"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    awk '/=> \.\/staging\/src\//{print "\t" $1 " => " $1 " '"$staging_version"'"}' "$upstream_mod"
    echo ")"
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  GOFLAGS=-mod=mod go mod tidy >&2
  for b in kube-apiserver kube-controller-manager kubectl; do
    [ -x "$BIN/$b" ] && continue
    log "building $b"
    CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "$ldflags" -o "$BIN/$b" "k8s.io/kubernetes/cmd/$b" >&2
  done
fi

have_all || { log "some binaries are missing from $BIN"; exit 1; }
rm -rf "$work"
echo "$BIN"
