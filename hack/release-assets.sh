#!/usr/bin/env bash
# Renders the release assets into OUT_DIR: the CRDs (hivesync-crds.yaml), each deploy/ overlay with the published
# image (hivesync-standalone.yaml, hivesync-hive-hub.yaml), the packaged Helm chart (hivesync-<version>.tgz); checks
# that Cargo.toml's version, deploy/base's image tag and the chart's version and appVersion agree, and that the
# committed CRDs (crds/, the chart's crds/) are what the binary generates. The release workflow and
# hack/release-check.sh both run it.
#
# Usage: hack/release-assets.sh OUT_DIR
# Env:   HIVESYNC  the hivesync binary (default target/release/hivesync)
#        IMAGE     the published image, without its tag (default: deploy/base's, ghcr.io/hivesync/hivesync)
#        VERSION   the version being released (default: Cargo.toml's); must match Cargo.toml
# Needs kubectl (its kustomize) and helm on PATH.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: hack/release-assets.sh OUT_DIR}"
HIVESYNC="${HIVESYNC:-$REPO_ROOT/target/release/hivesync}"
CHART="$REPO_ROOT/deploy/helm/hivesync"

fail() { printf 'release-assets: %s\n' "$*" >&2; exit 1; }
log() { printf '[release-assets] %s\n' "$*" >&2; }

cargo_version=$(awk -F'"' '/^version = /{print $2; exit}' "$REPO_ROOT/Cargo.toml")
VERSION="${VERSION:-$cargo_version}"
[ "$VERSION" = "$cargo_version" ] || fail "releasing $VERSION but Cargo.toml says $cargo_version"
base_tag=$(awk -F'"' '/newTag:/{print $2; exit}' "$REPO_ROOT/deploy/base/kustomization.yaml")
[ "$base_tag" = "$VERSION" ] || fail "deploy/base/kustomization.yaml's newTag is \"$base_tag\", not $VERSION"
base_image=$(awk '/newName:/{print $2; exit}' "$REPO_ROOT/deploy/base/kustomization.yaml")
IMAGE="${IMAGE:-$base_image}"
chart_version=$(awk '/^version:/{print $2; exit}' "$CHART/Chart.yaml")
chart_app=$(awk -F'"' '/^appVersion:/{print $2; exit}' "$CHART/Chart.yaml")
[ "$chart_version" = "$VERSION" ] || fail "the chart's version is $chart_version, not $VERSION"
[ "$chart_app" = "$VERSION" ] || fail "the chart's appVersion is $chart_app, not $VERSION"
chart_repo=$(awk '/^  repository:/{print $2; exit}' "$CHART/values.yaml")
[ "$chart_repo" = "$base_image" ] || fail "the chart's image.repository ($chart_repo) is not deploy/base's ($base_image)"
[ -x "$HIVESYNC" ] || fail "no hivesync binary at $HIVESYNC (cargo build --release --locked, or set HIVESYNC)"

mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "CRDs (hivesync crdgen)"
"$HIVESYNC" crdgen --dir "$work/crds" 2>/dev/null
for f in "$work"/crds/*; do
  name=$(basename "$f")
  cmp -s "$f" "$REPO_ROOT/crds/$name" || fail "crds/$name is stale: run make crds"
  [ "$name" = kustomization.yaml ] && continue
  cmp -s "$f" "$CHART/crds/$name" || fail "deploy/helm/hivesync/crds/$name is stale: run make crds"
done
for f in "$CHART"/crds/*; do
  [ -e "$work/crds/$(basename "$f")" ] || fail "deploy/helm/hivesync/crds/$(basename "$f") is no CRD of hivesync's"
done
"$HIVESYNC" crdgen --stdout 2>/dev/null > "$OUT/hivesync-crds.yaml"

# kustomize takes relative paths only: a copy of deploy/ and crds/ with a kustomization over each overlay that names
# the published image (a fork publishes under its own owner).
mkdir -p "$work/tree"
cp -R "$REPO_ROOT/deploy" "$REPO_ROOT/crds" "$work/tree/"
for overlay in standalone hive-hub; do
  log "deploy/overlays/$overlay with $IMAGE:$VERSION"
  mkdir -p "$work/tree/release/$overlay"
  cat > "$work/tree/release/$overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../deploy/overlays/$overlay
images:
- name: hivesync
  newName: $IMAGE
  newTag: "$VERSION"
YAML
  kubectl kustomize "$work/tree/release/$overlay" > "$OUT/hivesync-$overlay.yaml"
  grep -q "image: $IMAGE:$VERSION\$" "$OUT/hivesync-$overlay.yaml" || fail "$overlay does not name $IMAGE:$VERSION"
done

log "Helm chart (helm lint, helm package) with image.repository $IMAGE"
# Packaged from a copy whose values name the published image.
cp -R "$CHART" "$work/chart"
sed -i.orig "s|^  repository: .*|  repository: $IMAGE|" "$work/chart/values.yaml" && rm "$work/chart/values.yaml.orig"
helm lint --strict "$work/chart" >&2
helm package "$work/chart" --version "$VERSION" --app-version "$VERSION" --destination "$OUT" >&2
[ -f "$OUT/hivesync-$VERSION.tgz" ] || fail "helm package wrote no hivesync-$VERSION.tgz"
