#!/usr/bin/env bash
# Compares hivesync's reading of syncset patch bodies (src/plan/yaml_v2.rs) with Hive's (kubectl's yaml.ToJSON:
# sigs.k8s.io/yaml.YAMLToJSON over yaml.v2) on generated cases: `yamlcompat gen` writes them (a seed makes them
# reproducible: valid YAML of every scalar form YAML 1.1 and 1.2 read differently, and a third of them broken by a
# stray character, a cut or a tab), `yamlcompat run` reads each with Go, examples/yaml_compat.rs with hivesync, and
# `yamlcompat compare` prints the cases whose JSON differs or that only one side refuses (exit 1 when any does),
# and how many error messages are worded the same.
#
# Usage: hack/yaml-compat/compare.sh [N] [SEED]     (default 20000 cases, seed 1)
# Needs Go (the toolchain hack/k8s-bins.sh uses, and sigs.k8s.io/yaml from the Go module proxy) and cargo.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
N="${1:-20000}"
SEED="${2:-1}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "[yaml-compat] Go $(go env GOVERSION); building the Go side and hivesync's (examples/yaml_compat.rs)" >&2
(cd "$HERE" && GOFLAGS=-mod=mod go build -o "$work/yamlcompat" .)
(cd "$REPO_ROOT" && cargo build --quiet --example yaml_compat)
hivesync_side="$REPO_ROOT/target/debug/examples/yaml_compat"

"$work/yamlcompat" gen -n "$N" -seed "$SEED" > "$work/cases.jsonl"
"$work/yamlcompat" run < "$work/cases.jsonl" > "$work/go.jsonl"
"$hivesync_side" < "$work/cases.jsonl" > "$work/hivesync.jsonl"
"$work/yamlcompat" compare "$work/cases.jsonl" "$work/go.jsonl" "$work/hivesync.jsonl"
