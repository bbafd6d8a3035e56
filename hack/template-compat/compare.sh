#!/usr/bin/env bash
# Compares hivesync's text/template port (src/plan/template) with Go's text/template as Hive runs it, on generated
# cases: `templatecompat gen` writes them (a seed makes them reproducible), `templatecompat run` executes each with
# Go (template.New("cdParams").Funcs(fromCDLabel), Execute(buf, nil)), examples/template_compat.rs with hivesync,
# and `templatecompat compare` prints the cases whose output or error text differ (exit 1 when any does).
#
# Usage: hack/template-compat/compare.sh [N] [SEED]     (default 40000 cases, seed 1)
# Needs Go (the toolchain hack/k8s-bins.sh uses; the standard library only) and cargo.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
N="${1:-40000}"
SEED="${2:-1}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "[template-compat] Go $(go env GOVERSION); building the Go side and hivesync's (examples/template_compat.rs)" >&2
(cd "$HERE" && GOFLAGS=-mod=mod go build -o "$work/templatecompat" .)
(cd "$REPO_ROOT" && cargo build --quiet --example template_compat)
hivesync_side="$REPO_ROOT/target/debug/examples/template_compat"

"$work/templatecompat" gen -n "$N" -seed "$SEED" > "$work/cases.jsonl"
"$work/templatecompat" run < "$work/cases.jsonl" > "$work/go.jsonl"
"$hivesync_side" < "$work/cases.jsonl" > "$work/hivesync.jsonl"
"$work/templatecompat" compare "$work/cases.jsonl" "$work/go.jsonl" "$work/hivesync.jsonl"
