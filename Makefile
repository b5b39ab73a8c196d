# sdkfront: `make help` lists the targets. The lab (registry + buildkitd) is
# described in docs/lab.md; all of its state lives in .lab/.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(PATH):/usr/local/go/bin

GO        ?= go
LAB       := lab/lab.sh
# Exports LAB_REGISTRY, BUILDKIT_HOST, PATH+=.lab/bin, ... into a recipe line.
LAB_ENV   := eval "$$($(LAB) env)"
SEED      := .lab/bin/seed
IMAGEPACK := .lab/bin/imagepack
FRONTEND  := .lab/sdkfront
# Every package of the main module except the e2e tests (lab/tools is its own module).
UNIT_PKGS = $$($(GO) list ./... | grep -v -E '/e2e(/|$$)')
# frontend/ runs BuildKit's Dockerfile builder in-process, and BuildKit
# v0.34.2's builder writes withResolveCache.g.CacheError on every
# ResolveImageConfig call (builder/resolvecache.go:30), which the race
# detector reports when it resolves two images at once. The few frontend
# tests that make it do so skip themselves under -race (skipBuildKitRace,
# as their first statement) and run again without it.
RACE_PKGS = $$($(GO) list ./... | grep -v -E '/e2e(/|$$)')
NORACE_TESTS = $$(grep -h -B1 '^[[:space:]]skipBuildKitRace(t)$$' frontend/*_test.go | sed -n 's/^func \(Test[A-Za-z0-9_]*\)(.*/\1/p' | paste -sd'|')

# Version stamping (github.com/sdkfront/sdkfront/version): `make image VERSION=v1.2.3`.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION    := $(VERSION)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null)
REVISION   := $(REVISION)
VERSION_PKG := github.com/sdkfront/sdkfront/version
LDFLAGS    := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION)
GO_STATIC  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -tags "netgo osusergo static_build"
# The Go toolchain that builds the frontend image: go.mod's "go" line.
GO_VERSION := $(shell awk '$$1 == "go" { print $$2; exit }' go.mod)
# The lab seeds these Go toolchains; the first one is sdks/golang:bookworm-default.
SEED_GO    ?= 1.23.4,1.22.10,$(GO_VERSION)
SBOMSCAN   := .lab/sbomscan

# make image: the frontend image for every platform the stock Dockerfile frontend ships.
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64,linux/arm/v7,linux/s390x,linux/ppc64le,linux/riscv64
# Default: $LAB_REGISTRY/sdkfront, tagged $(VERSION) and multi.
IMAGE_REPO      ?=
IMAGE_SOURCE    ?= https://github.com/sdkfront/sdkfront
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
# A CA bundle handed to the build as the secret "ca-certificates" (the build
# stage's base image has none, and the module proxy may sit behind a TLS proxy).
CA_CERTS        ?= $(firstword $(wildcard $(SSL_CERT_FILE) /etc/ssl/certs/ca-certificates.crt))
# More buildctl flags, e.g. IMAGE_FLAGS=--no-cache.
IMAGE_FLAGS     ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this list of targets
	@echo "usage: make <target>"
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-15s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: tools
tools: ## Build .lab/bin/{buildkitd,buildctl,registry,docker-buildx} and apt-get install runc, busybox-static (if missing)
	$(LAB) tools

.PHONY: lab-up
lab-up: tools ## Start the lab: registry on 127.0.0.1:5000 + buildkitd + buildx builder sdkfront-lab
	$(LAB) up

.PHONY: lab-down
lab-down: ## Stop the lab processes started by lab-up
	$(LAB) down

.PHONY: lab-status
lab-status: ## Show whether the lab is running
	@$(LAB) status || true

.PHONY: seed-bin
seed-bin:
	$(GO) build -o $(SEED) ./lab/seed

.PHONY: seed
seed: lab-up seed-bin ## Push lab/busybox and the sample SDK images into the lab registry (idempotent)
	$(LAB_ENV); $(SEED) busybox; $(SEED) sdks -go "$(SEED_GO)"

# hack/imagepack packs a static binary into a FROM-scratch image and pushes it
# (the release's frontend and SBOM generator images; lab/compat's stock frontend).
.PHONY: imagepack-bin
imagepack-bin:
	$(GO) build -o $(IMAGEPACK) ./hack/imagepack

.PHONY: frontend-image
frontend-image: lab-up imagepack-bin ## Build the static frontend binary and push it as $LAB_REGISTRY/sdkfront:dev
	$(GO_STATIC) -o $(FRONTEND) ./cmd/frontend
	$(LAB_ENV); $(IMAGEPACK) frontend -binary $(FRONTEND) -image "$$LAB_REGISTRY/sdkfront:dev"; \
		$(IMAGEPACK) frontend -offline -binary $(FRONTEND) -image "$$LAB_REGISTRY/sdkfront:dev-offline"

.PHONY: cli
cli: ## Build the sdkfront CLI (`sdkfront lock`, docs/lock.md) as .lab/bin/sdkfront
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o .lab/bin/sdkfront ./cmd/sdkfront

.PHONY: sbom-image
sbom-image: lab-up imagepack-bin ## Build hack/sbomscan (an SBOM generator) and push it as $LAB_REGISTRY/sdkfront-sbom:dev
	$(GO_STATIC) -o $(SBOMSCAN) ./hack/sbomscan
	$(LAB_ENV); $(IMAGEPACK) sbomscan -binary $(SBOMSCAN) -image "$$LAB_REGISTRY/sdkfront-sbom:dev"

# The image is built by sdkfront:dev (BUILDKIT_SYNTAX) with the Go toolchain of
# go.mod from the lab's sdks/golang; modules come from $(go env GOPROXY).
.PHONY: image
image: lab-up seed frontend-image sbom-image ## Build the multi-platform frontend image from cmd/frontend/Dockerfile through BuildKit, with provenance and SBOM, and push it
	$(LAB_ENV); VERSION='$(VERSION)' REVISION='$(REVISION)' GO_VERSION='$(GO_VERSION)' \
		SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)' IMAGE_PLATFORMS='$(IMAGE_PLATFORMS)' \
		IMAGE_SOURCE='$(IMAGE_SOURCE)' IMAGE_REPO="$${IMAGE_REPO:-$(IMAGE_REPO)}" CA_CERTS='$(CA_CERTS)' \
		IMAGE_FLAGS='$(IMAGE_FLAGS)' GO='$(GO)' hack/image.sh

.PHONY: demo
demo: tools lab-up seed frontend-image ## Build examples/Dockerfile.sdk through sdkfront and print the result
	rm -rf .lab/out/demo
	$(LAB_ENV); buildctl --addr "$$BUILDKIT_HOST" build --frontend dockerfile.v0 \
		--local context=examples --local dockerfile=examples --opt filename=Dockerfile.sdk \
		--output type=local,dest=.lab/out/demo --progress plain
	@echo "---- .lab/out/demo/result.txt ----"
	@cat .lab/out/demo/result.txt

.PHONY: test
test: ## Everything CI runs (lab/ci.sh): unit tests; the lab built, started and seeded; the images; the e2e suite and BuildKit's own Dockerfile suite (make compat); each phase's time at the end
	lab/ci.sh

.PHONY: test-unit
test-unit: ## go vet + go test -race of every package but e2e (no lab needed)
	$(GO) vet $(UNIT_PKGS)
	$(GO) test -race $(RACE_PKGS)
	@tests="$(NORACE_TESTS)"; [ -n "$$tests" ] || { echo "test-unit: no test calls skipBuildKitRace" >&2; exit 1; }; \
		echo "test-unit: without -race (BuildKit's own race): $$tests"; \
		$(GO) test -count=1 -run "^($$tests)$$" -v ./frontend/ | grep -E '^(--- |ok|FAIL|PASS)'; exit $${PIPESTATUS[0]}

# golangci-lint of lab/tools/lint/go.mod, built once into $SDKFRONT_CACHE/tools
# (minutes cold) and linked as .lab/bin/golangci-lint; .golangci.yml holds the
# linters and depguard's rules for the house's one-way imports.
.PHONY: lint
lint: ## golangci-lint (pinned in lab/tools/lint) over every package and test, with depguard's house rules (.golangci.yml)
	$(LAB) lint-tool
	.lab/bin/golangci-lint run ./...

# Every Fuzz* target of every package with a fuzz_test.go, one after the
# other, each for FUZZTIME; seeds and regressions live in testdata/fuzz/.
# FUZZFLAGS adds go test flags, e.g. FUZZFLAGS=-parallel=1 on a busy machine.
FUZZTIME  ?= 30s
FUZZFLAGS ?=
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 30s) each
	@pkgs=$$(grep -rl --include='*_test.go' '^func Fuzz' --exclude-dir=.lab . | xargs -n1 dirname | sort -u); \
	for pkg in $$pkgs; do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz: $$pkg $$target for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $(FUZZFLAGS) $$pkg; \
		done; \
	done

# With CI=true the lab is stopped again afterwards (pass or fail).
.PHONY: test-e2e
test-e2e: lab-up seed frontend-image image cli ## Start and seed the lab, build the images and the CLI, then run the e2e tests against it (SDKFRONT_LAB=1, -race)
	@rc=0; $(MAKE) --no-print-directory e2e-run || rc=$$?; \
	if [ "$${CI:-}" = true ]; then $(LAB) down; fi; \
	exit $$rc

# The tests alone, for a lab that test-e2e's prerequisites prepared (lab/ci.sh
# runs and times those as phases of their own).
.PHONY: e2e-run
e2e-run: ## Only run the e2e tests, against a lab already up, seeded and with the images pushed
	@$(LAB_ENV); rc=0; \
	pkgs="./lab/..."; if [ -d e2e ]; then pkgs="$$pkgs ./e2e/..."; else echo "note: no e2e/ package yet"; fi; \
	SDKFRONT_LAB=1 $(GO) test -race -count=1 -timeout 45m -v $$pkgs || rc=$$?; \
	if [ $$rc -ne 0 ]; then \
		echo "---- tail of $$LAB_BUILDKITD_LOG ----"; tail -n 40 "$$LAB_BUILDKITD_LOG" || true; fi; \
	exit $$rc

# BuildKit's own Dockerfile integration suite against the stock Dockerfile
# frontend and against sdkfront (docs/lab.md). COMPAT_RUN='TestCopy.*' narrows it.
.PHONY: compat
compat: tools frontend-image seed-bin ## Run BuildKit's Dockerfile test suite on the stock frontend and on sdkfront; fail on regressions
	lab/compat/compat.sh

# make bench: where sdkfront stands against every other way of getting an SDK
# into a build, the physical floor and internet latency (docs/performance.md).
# It runs its own registry, buildkitd and proxies under
# .lab/bench and never prunes the lab's daemon. BENCH_RUNS: rounds of
# cold/warm/edited builds; BENCH_WARM_RUNS: rounds of the warm-only sections;
# BENCH_QUICK=1: a quick check of the harness (1 round, 3 warm, Go only);
# BENCH_PPROF=1: also profile the frontend; BENCH_FLAGS: more flags (go run
# ./lab/bench -h). Node comes from the npm registry with npm, which lab.sh
# bench-tools installs: bench itself only runs benchmarks.
BENCH_RUNS      ?= 3
BENCH_WARM_RUNS ?= 7
BENCH_QUICK     ?=
BENCH_PPROF     ?=
BENCH_FLAGS     ?=
.PHONY: bench-tools
bench-tools:
	$(LAB) bench-tools

.PHONY: bench
bench: lab-up bench-tools seed-bin frontend-image ## Benchmark sdkfront against every alternative, the physical floor and WAN latency (BENCH_RUNS, BENCH_QUICK=1, BENCH_PPROF=1)
	$(LAB_ENV); $(GO) run ./lab/bench -runs $(BENCH_RUNS) -warm-runs $(BENCH_WARM_RUNS) \
		$(if $(BENCH_QUICK),-quick) $(if $(BENCH_PPROF),-pprof) $(BENCH_FLAGS)

# make matrix: the core e2e subset (e2e/matrix.txt) against buildkitd of
# several versions, each built from the Go module proxy into .lab/matrix/<version>
# and run on its own root and socket (docs/matrix.md). MATRIX_VERSIONS picks
# the versions (default v0.12.5 v0.16.0 v0.20.2 and go.mod's); MATRIX_RUN
# runs the e2e tests matching a regex instead of the subset.
MATRIX_VERSIONS ?=
MATRIX_RUN      ?=
.PHONY: matrix
matrix: lab-up seed frontend-image ## Run the core e2e subset against buildkitd v0.12.5, v0.16.0, v0.20.2 and go.mod's; print a table; fail on any failed cell (MATRIX_VERSIONS, MATRIX_RUN)
	$(LAB_ENV); MATRIX_VERSIONS="$(MATRIX_VERSIONS)" MATRIX_RUN="$(MATRIX_RUN)" lab/matrix.sh

.PHONY: clean
clean: lab-down ## Stop the lab and delete its state (.lab/ except the .lab/bin tools)
	@if awk -v p="$(CURDIR)/.lab/" 'index($$2, p) == 1 { found = 1 } END { exit !found }' /proc/mounts; then \
		echo "clean: mounts remain under .lab; not deleting" >&2; exit 1; fi
	rm -rf .lab/buildkitd .lab/registry .lab/cache .lab/run .lab/logs .lab/out $(FRONTEND) $(SBOMSCAN) $(SEED) $(IMAGEPACK) \
		.lab/registry.yml .lab/buildkitd.toml

.PHONY: distclean
distclean: clean ## clean, and also delete the built tools in .lab/bin
	rm -rf .lab
