#!/usr/bin/env bash
# `make test`: unit tests, the release check's static part (hack/release-check.sh --static), then the e2e suite against real local clusters (hack/e2e.sh: the `e2e` test target with one
# shared controller, then the `e2e-restart` target, whose tests start and kill controllers of their own). Clusters that
# this script started are stopped at the end; clusters that were already running are left as they were.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

say "unit tests"
# With the e2e feature, as the suite below builds: one build of the crate serves both.
cargo test --lib --bins --features e2e

say "building the Kubernetes test binaries (cached after the first build)"
k8s_path

# The release workflow's static part: the assets rendered, the Helm chart linted and templated, actionlint (about a
# second once hack/tools.sh has built helm and actionlint into the cache).
hack/release-check.sh --static
started=0
if [ -z "${HIVESYNC_E2E_HUB_KUBECONFIG:-}" ] && ! clusters_running; then
  started=1
  hack/local-clusters.sh up 3
fi
cleanup() { if [ "$started" = 1 ]; then hack/local-clusters.sh down || true; fi; }
trap cleanup EXIT

hack/e2e.sh
