#!/usr/bin/env bash
# Builds the release check's Go tools, actionlint and helm, from their Go modules at pinned versions (the Go module
# proxy only, as hack/k8s-bins.sh builds the Kubernetes binaries) into a cache outside the repo; reuses the cache when
# both are present. Prints the bin directory on stdout (and nothing else).
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${HIVESYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hivesync}"
BIN="$CACHE_ROOT/tools/actionlint-$ACTIONLINT_VERSION-helm-$HELM_VERSION/bin"

log() { printf '[tools] %s\n' "$*" >&2; }

if [ -x "$BIN/actionlint" ] && [ -x "$BIN/helm" ]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build actionlint and helm"; exit 1; }
mkdir -p "$BIN"
export GOBIN="$BIN"
if [ ! -x "$BIN/actionlint" ]; then
  log "building actionlint $ACTIONLINT_VERSION"
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
fi
if [ ! -x "$BIN/helm" ]; then
  log "building helm $HELM_VERSION"
  helm_major="${HELM_VERSION%%.*}"
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/$helm_major/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/$helm_major/cmd/helm@$HELM_VERSION" >&2
fi
if [ ! -x "$BIN/actionlint" ] || [ ! -x "$BIN/helm" ]; then log "a tool is missing from $BIN"; exit 1; fi
echo "$BIN"
