#!/usr/bin/env bash
# What the release workflow (.github/workflows/release.yml) does that can run here:
#   1. the release build of the CLI (`cargo build --release --locked --bin hivesync`; the workflow builds the same
#      for its musl and macOS targets) and its --version;
#   2. the assets, rendered into a temp dir by hack/release-assets.sh (CRDs, each deploy/ overlay with the published
#      image, the Helm chart packaged), plus `helm template` of the chart with its default values and with the
#      optional parts on (shards, ServiceMonitor, a digest);
#   3. actionlint over every workflow.
# The image build, its signature and the GitHub release need GitHub; they are checked statically by actionlint.
#
# Usage: hack/release-check.sh            all of the above
#        hack/release-check.sh --static   2 and 3 with the debug binary, no release build (`make test` runs this)
# Tools: actionlint and helm from hack/tools.sh (built once from the Go module proxy, cached in ~/.cache/hivesync),
#        kubectl from hack/k8s-bins.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

mode=full
case "${1:-}" in
  --static) mode=static ;;
  "") ;;
  *) echo "usage: hack/release-check.sh [--static]" >&2; exit 2 ;;
esac

k8s_path
PATH="$("$REPO_ROOT/hack/tools.sh"):$PATH"
export PATH

if [ "$mode" = full ]; then
  say "release build (cargo build --release --locked --bin hivesync)"
  cargo build --release --locked --bin hivesync
  bin="$REPO_ROOT/target/release/hivesync"
  version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
  "$bin" --version | grep -q "^hivesync $version (commit [0-9a-f]\{7,\})$" \
    || { echo "release-check: --version says \"$("$bin" --version)\"" >&2; exit 1; }
  "$bin" --version >&2
else
  # Built (or found up to date) here: a stale binary would render stale CRDs.
  cargo build --quiet --bin hivesync
  bin="$HIVESYNC"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
say "release assets (hack/release-assets.sh) into a temp dir"
HIVESYNC="$bin" hack/release-assets.sh "$out/assets"
ls -l "$out/assets" >&2

say "helm template: default values, and shards + ServiceMonitor + digest"
helm template hivesync deploy/helm/hivesync --namespace hivesync --include-crds > "$out/helm-default.yaml"
helm template hivesync deploy/helm/hivesync --namespace hivesync \
  --set shards=3,serviceMonitor.enabled=true,image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000 \
  > "$out/helm-options.yaml"
grep -q -- '- --leader-elect' "$out/helm-default.yaml" || { echo "release-check: the chart does not elect a leader" >&2; exit 1; }
grep -q 'kind: PodDisruptionBudget' "$out/helm-default.yaml" || { echo "release-check: the chart has no PodDisruptionBudget" >&2; exit 1; }
grep -q -- '- --shards=3' "$out/helm-options.yaml" || { echo "release-check: shards=3 is not passed on" >&2; exit 1; }
grep -q 'kind: ServiceMonitor' "$out/helm-options.yaml" || { echo "release-check: no ServiceMonitor" >&2; exit 1; }
if helm template hivesync deploy/helm/hivesync --set leaderElection.enabled=false >/dev/null 2>&1; then
  echo "release-check: the chart accepts two replicas without leader election" >&2; exit 1
fi

say "actionlint (.github/workflows)"
actionlint
say "release check passed ($mode)"
