# hivesync. The two commands: `make demo` and `make test`. See README.md.
SHELL := /usr/bin/env bash
CARGO ?= cargo

.PHONY: all build test unit e2e demo crds crds-check crds-install clusters-up clusters-down lint fmt bench release-check template-compat yaml-compat

all: build

build:
	$(CARGO) build --bins

## test: unit tests, then the e2e suite against real local clusters (started and stopped here when not already up)
test:
	hack/test.sh

unit:
	$(CARGO) test --lib --bins --features e2e

## e2e: the e2e suite against the running local clusters (starts them when needed, leaves them up): the e2e test
## target against one shared controller, then the e2e-restart target (hack/e2e.sh; `hack/e2e.sh NAME` filters both)
e2e:
	hack/e2e.sh

## demo: local hub + two managed clusters, adopt them, run the controller, follow a label on and off
demo:
	hack/demo.sh

## crds: crds/ and the Helm chart's copy (deploy/helm/hivesync/crds/) from the API types
crds:
	$(CARGO) run --quiet -- crdgen --dir crds
	cp crds/*_*.yaml deploy/helm/hivesync/crds/

## template-compat: the template engine against Go's text/template on 40 000 generated cases (Go needed)
template-compat:
	hack/template-compat/compare.sh

## yaml-compat: patch bodies read as Hive reads them, against sigs.k8s.io/yaml on 20 000 generated cases (Go needed)
yaml-compat:
	hack/yaml-compat/compare.sh

## release-check: what the release workflow does that runs here (release build, assets, helm, actionlint)
release-check:
	hack/release-check.sh

crds-install:
	hack/e2e.sh --install-crds-only

clusters-up:
	hack/local-clusters.sh up

clusters-down:
	hack/local-clusters.sh down

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --features e2e,bench -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: the fleet benchmark (BENCH_N, BENCH_SPOKES, BENCH_SCENARIOS, BENCH_OUT; see docs/benchmarks.md). Not a test.
bench:
	hack/bench.sh
