#!/usr/bin/env bash
# lab/compat/compat.sh: `make compat`. Runs BuildKit's own Dockerfile integration
# suite (frontend/dockerfile TestIntegration, of the BuildKit version in go.mod)
# offline against two gateway frontend images, the stock Dockerfile frontend
# built from that BuildKit module and sdkfront, and compares them test by test.
# The last line is "compat: stock P/F/S sdkfront P/F/S regressions=N"
# (passed/failed/skipped); the exit status is 0 only when no test that passes
# with stock fails with sdkfront.
#
# Needs (the Makefile target provides them): the lab tools in .lab/bin
# (buildkitd, buildctl, registry, and hack/imagepack, which packs the stock
# frontend), the lab registry running, and
# $LAB_REGISTRY/sdkfront:dev pushed (make frontend-image).
#
# Knobs (environment):
#   COMPAT_RUN=REGEX        run the tests whose function name matches REGEX
#                           (e.g. 'TestCopy.*|TestRunMount.*') instead of subset.txt
#   COMPAT_SUBSET=FILE      another subset file (default lab/compat/subset.txt)
#   COMPAT_PARALLEL=N       concurrent sandboxes (default 2, the cores of this VM)
#   COMPAT_TIMEOUT=DUR      go test timeout per frontend (default 30m)
#   COMPAT_CNI=0            no CNI bridge: the RUN --network tests then skip
#   COMPAT_REUSE_STOCK=0    run the stock frontend even if a stock run with the same
#                           key is cached (the key: BuildKit version, stock image
#                           digest, test binary, mirror seed, selection, CNI,
#                           buildkitd and runc binaries, kernel, this kit's files);
#                           the new run replaces the cached one
#   COMPAT_RETRY=0          do not run sdkfront's regressed tests a second time
#                           (by default a test that passes then counts as flaky)
#   COMPAT_STOCK_ONLY=1     run (or reuse) the stock side only: fills the cache of a
#                           new machine, and needs no sdkfront image
#   COMPAT_KEEP=5           how many runs to keep under .lab/compat/runs
#   COMPAT_SDKFRONT_IMAGE=REF  another sdkfront image (default $LAB_REGISTRY/sdkfront:dev)
#
# Results: .lab/compat/runs/<time>/{stock,sdkfront}/ (results.txt, subtests.txt,
# test.log, test.json, run-info.txt) and diff.txt; .lab/compat/latest points at
# the newest run. See docs/lab.md.
#
# What outlives the clone is kept under $SDKFRONT_CACHE/compat (default
# ~/.cache/sdkfront/compat), keyed by version, so that a fresh clone does not
# rebuild it: BuildKit's source copy (src-<bk>), the test binary
# (dockerfile.test-<bk>-<go>), the stock frontend binary, the mirror seed, and
# the stock runs (stock/<key hash>/), which a run with the same key reuses.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
HERE="$ROOT/lab/compat"
W="$ROOT/.lab/compat"
BIN="$ROOT/.lab/bin"
CACHE="${SDKFRONT_CACHE:-$HOME/.cache/sdkfront}/compat"
for d in /usr/local/go/bin /usr/sbin /sbin; do
	case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH="$BIN:$PATH"

SUBSET="${COMPAT_SUBSET:-$HERE/subset.txt}"
RUNRE="${COMPAT_RUN:-}"
PARALLEL="${COMPAT_PARALLEL:-2}"
TIMEOUT="${COMPAT_TIMEOUT:-30m}"
CNI="${COMPAT_CNI:-1}"
CNI_BIN=/usr/lib/cni
KEEP="${COMPAT_KEEP:-5}"

log() { printf 'compat: %s\n' "$*" >&2; }
die() {
	printf 'compat: error: %s\n' "$*" >&2
	exit 2
}

[ "$(id -u)" = 0 ] || die "must run as root (the suite's oci worker sandboxes need it)"
for b in go buildkitd buildctl registry imagepack runc; do
	command -v "$b" >/dev/null 2>&1 || die "missing $b (make tools frontend-image)"
done
eval "$("$ROOT/lab/lab.sh" env)"
# The suite starts its own daemons; nothing of the lab's may leak into it.
unset BUILDKIT_HOST

# ---------------------------------------------------------------------------
# packages the suite needs at run time

ensure_packages() {
	local pkgs=()
	command -v git >/dev/null 2>&1 || pkgs+=(git)
	command -v ssh-agent >/dev/null 2>&1 || pkgs+=(openssh-client)
	command -v ip >/dev/null 2>&1 || pkgs+=(iproute2)
	command -v pgrep >/dev/null 2>&1 || pkgs+=(procps)
	if [ "$CNI" = 1 ]; then
		local p
		for p in bridge host-local loopback; do
			[ -x "$CNI_BIN/$p" ] || {
				pkgs+=(containernetworking-plugins)
				break
			}
		done
	fi
	[ ${#pkgs[@]} -eq 0 ] && return
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${pkgs[*]} by hand"
	log "apt-get install ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

# ---------------------------------------------------------------------------
# setup: the compat tool, the test binary, the mirror seed, the two frontends

mkdir -p "$W" "$CACHE"
# one run at a time: they share the tarballs, the seed and the test binary
exec 9>"$W/.lock"
flock -n 9 || die "another make compat is running (lock $W/.lock)"
# and one per machine: clones share the cache (and 2 cores)
exec 8>"$CACHE/.lock"
if ! flock -n 8; then
	log "waiting for another clone's make compat (lock $CACHE/.lock)"
	flock 8
fi
ensure_packages
t0=$SECONDS
(cd "$ROOT" && go build -o "$BIN/compat" ./lab/compat)

BK_VERSION="$(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/moby/buildkit)"
GO_VERSION="$(go env GOVERSION)"
SRC="$CACHE/src-$BK_VERSION"
TESTBIN="$CACHE/dockerfile.test-$BK_VERSION-$GO_VERSION"
if [ ! -d "$SRC" ]; then
	(cd "$ROOT" && go mod download github.com/moby/buildkit)
	moddir="$(cd "$ROOT" && go list -m -f '{{.Dir}}' github.com/moby/buildkit)"
	[ -d "$moddir" ] || die "BuildKit module source not found ($moddir)"
	log "copying BuildKit $BK_VERSION source from $moddir"
	rm -rf "$SRC.tmp"
	cp -r "$moddir" "$SRC.tmp"
	chmod -R u+w "$SRC.tmp"
	mv "$SRC.tmp" "$SRC"
fi
key="buildkit $BK_VERSION, $(go version)"
if [ ! -x "$TESTBIN" ] || [ "$(cat "$TESTBIN.key" 2>/dev/null)" != "$key" ]; then
	log "compiling BuildKit's frontend/dockerfile test binary ($key); minutes when the Go build cache is cold"
	t=$SECONDS
	(cd "$SRC" && GOFLAGS=-mod=mod go test -c -o "$TESTBIN.tmp" ./frontend/dockerfile)
	mv -f "$TESTBIN.tmp" "$TESTBIN"
	echo "$key" >"$TESTBIN.key"
	log "test binary built in $((SECONDS - t))s"
fi
touch "$TESTBIN" "$TESTBIN.key" "$SRC" # recently used: see the pruning at the end

SEEDDIR="$CACHE/mirror-seed"
compat mirror -dir "$SEEDDIR" -busybox /bin/busybox -registry-bin "$BIN/registry"
touch "$SEEDDIR"

# The stock frontend: BuildKit's own dockerfile-frontend from the same module,
# packaged like sdkfront's image (FROM scratch, the same caps label).
STOCK_IMAGE="$LAB_REGISTRY/dockerfile-stock:$BK_VERSION"
# Built with this module's dependency graph: keyed by go.sum too.
STOCK_BIN="$CACHE/dockerfile-frontend-$BK_VERSION-$GO_VERSION-$(sha256sum "$ROOT/go.sum" | cut -c1-12)"
if [ ! -x "$STOCK_BIN" ]; then
	log "building the stock frontend (github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend@$BK_VERSION)"
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -tags "netgo osusergo static_build" \
		-o "$STOCK_BIN.tmp" github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend)
	mv -f "$STOCK_BIN.tmp" "$STOCK_BIN"
fi
touch "$STOCK_BIN"
imagepack frontend -binary "$STOCK_BIN" -image "$STOCK_IMAGE" >/dev/null

RUN_ID="$(date +%Y%m%d-%H%M%S)"
RUNS="$W/runs"
OUT="$RUNS/$RUN_ID"
mkdir -p "$OUT/stock" "$OUT/sdkfront"
STOCK_REF="$(compat export -o "$W/stock.tar" "$STOCK_IMAGE")"
SDK_REF=""
if [ "${COMPAT_STOCK_ONLY:-}" != 1 ]; then
	SDK_REF="$(compat export -o "$W/sdkfront.tar" "${COMPAT_SDKFRONT_IMAGE:-$LAB_REGISTRY/sdkfront:dev}")"
fi
log "stock:    $STOCK_REF"
log "sdkfront: ${SDK_REF:-(not run: COMPAT_STOCK_ONLY=1)}"
# CI (like test-e2e) stops the lab: the suite does not need it.
if [ "${CI:-}" = true ]; then "$ROOT/lab/lab.sh" down; fi

if [ -n "$RUNRE" ]; then
	PATTERN="$(compat pattern -run "$RUNRE")"
	SUBSET_ARGS=()
else
	PATTERN="$(compat pattern -subset "$SUBSET")"
	SUBSET_ARGS=(-subset "$SUBSET")
fi
if [ "$CNI" = 1 ]; then
	for p in bridge host-local loopback; do
		[ -x "$CNI_BIN/$p" ] || die "no CNI plugin $CNI_BIN/$p (containernetworking-plugins); COMPAT_CNI=0 runs without"
	done
fi
log "setup done in $((SECONDS - t0))s; selection: ${RUNRE:-$SUBSET}"

# ---------------------------------------------------------------------------
# one run of the suite

TPID=""
RUNTMP=""
BRIDGE=""

descendants() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

cleanup_run() {
	if [ -n "$RUNTMP" ]; then
		# whatever the sandboxes left mounted under RUNTMP, innermost first
		awk -v d="$RUNTMP/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			xargs -r -n1 umount -l 2>/dev/null || true
		rm -rf "$RUNTMP"
		RUNTMP=""
	fi
	if [ -n "$BRIDGE" ] && ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link del "$BRIDGE" 2>/dev/null || true
	fi
	BRIDGE=""
}

on_interrupt() {
	# The test binary dies on a signal without stopping the sandboxes it started
	# (buildkitd and registry processes in their own sessions): stop them by pid.
	if [ -n "$TPID" ]; then
		log "interrupted: stopping the test run (pid $TPID) and the processes it started"
		local pids
		pids="$(descendants "$TPID" | tr '\n' ' ')"
		kill -TERM "$TPID" $pids 2>/dev/null || true
		sleep 3
		kill -KILL $pids 2>/dev/null || true
		wait "$TPID" 2>/dev/null || true
	fi
	cleanup_run
	exit 130
}
trap on_interrupt INT TERM

# run_suite NAME TARBALL REF DIR PATTERN [REPORT ARGS...]
run_suite() {
	local name=$1 tar=$2 ref=$3 dir=$4 pattern=$5
	shift 5
	local mirror="$dir/mirror" extra=()
	# the suite's mirror registry serves $mirror/data and adds the frontend under
	# a random name: a fresh copy of the seed per run
	rm -rf "$mirror"
	mkdir -p "$mirror"
	cp -a "$SEEDDIR/data" "$mirror/data"

	RUNTMP="$(mktemp -d /tmp/compat.XXXXXX)" # short: unix socket paths must stay < 108 bytes
	if [ "$CNI" = 1 ]; then
		# an isolated bridge: no host address, no gateway, no NAT; deleted afterwards
		BRIDGE="cpt$$${name:0:1}"
		BRIDGE="${BRIDGE:0:15}"
		mkdir -p "$RUNTMP/cni-ipam"
		cat >"$RUNTMP/cni.json" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$BRIDGE",
  "type": "bridge",
  "bridge": "$BRIDGE",
  "isGateway": false,
  "isDefaultGateway": false,
  "ipMasq": false,
  "hairpinMode": true,
  "ipam": {"type": "host-local", "dataDir": "$RUNTMP/cni-ipam", "ranges": [[{"subnet": "10.213.0.0/16"}]]}
}
JSON
		extra=(PATH="$HERE/cni:$PATH"
			COMPAT_REAL_BUILDKITD="$BIN/buildkitd"
			COMPAT_CNI_CONFIG="$RUNTMP/cni.json" COMPAT_CNI_BIN="$CNI_BIN"
			BUILDKIT_CNI_INIT_LOCK_PATH="$RUNTMP/cni-init.lock"
			BUILDKIT_RUN_NETWORK_INTEGRATION_TESTS=1)
	fi
	{
		echo "date: $(date -u +%FT%TZ)"
		echo "frontend: $ref ($tar)"
		echo "buildkit: $BK_VERSION; test binary: $(cat "$TESTBIN.key")"
		echo "buildkitd: $(buildkitd --version 2>/dev/null)"
		echo "runc: $(runc --version 2>/dev/null | head -1)"
		echo "kernel: $(uname -r)"
		echo "pattern: $pattern"
		echo "parallel: $PARALLEL; timeout: $TIMEOUT; cni: $CNI${BRIDGE:+ (bridge $BRIDGE)}"
	} >"$dir/run-info.txt"

	log "$name: running the suite ($ref), $PARALLEL sandboxes at a time"
	local start=$SECONDS rc=0
	(
		exec 9>&- 8>&- # the locks stay with this script
		cd "$SRC/frontend/dockerfile"
		exec env "${extra[@]}" TMPDIR="$RUNTMP" BUILDKIT_REGISTRY_MIRROR_DIR="$mirror" \
			FRONTEND_GATEWAY_ONLY="local:$tar" GOMAXPROCS="$PARALLEL" \
			go tool test2json -t -p dockerfile "$TESTBIN" \
			-test.v=test2json -test.count=1 -test.timeout="$TIMEOUT" -test.parallel="$PARALLEL" \
			-test.run="$pattern"
	) >"$dir/test.json" 2>"$dir/stderr.log" &
	TPID=$!
	local next=$((SECONDS + 60))
	while kill -0 "$TPID" 2>/dev/null; do
		sleep 2
		if [ $SECONDS -ge $next ]; then
			next=$((SECONDS + 60))
			log "$name: $(grep -cE '"Action":"(pass|fail|skip)","Package":"dockerfile","Test":"TestIntegration/[^/]+/worker=oci/frontend=gateway(/(security\.insecure|network\.host|env)=[^/"]*)?"' "$dir/test.json" || true) tests done after $((SECONDS - start))s"
		fi
	done
	wait "$TPID" || rc=$?
	TPID=""
	cleanup_run
	rm -rf "$mirror"
	local secs=$((SECONDS - start))
	log "$name: go test exit status $rc after ${secs}s"
	SUITE_RC=$rc
	compat report -o "$dir" "$@" -name "$name" -seconds "$secs" "$dir/test.json"
}

# ---------------------------------------------------------------------------
# stock, then sdkfront, then the comparison

# Everything the stock results depend on; a cached stock run with the same
# key stands in for running it again (COMPAT_REUSE_STOCK=0 runs it anyway).
kit_hash() {
	(cd "$HERE" && find . -type f ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}
STOCK_KEY="$(
	echo "compat stock key v1"
	echo "buildkit $BK_VERSION"
	echo "stock image ${STOCK_REF##*@}"
	echo "test binary $(sha256sum "$TESTBIN" | cut -c1-16) ($(cat "$TESTBIN.key"))"
	echo "mirror seed $(cat "$SEEDDIR/.seeded")"
	echo "pattern $PATTERN"
	echo "cni $CNI"
	echo "buildkitd $(sha256sum "$BIN/buildkitd" | cut -c1-16)"
	echo "runc $(runc --version 2>/dev/null | head -1)"
	echo "kernel $(uname -r)"
	echo "kit $(kit_hash)"
)"
# like_reference DIR: the stock run in DIR passed every test of its selection
# that the reference stock run (baseline-stock.txt) passed; a flaky failure
# must not become the baseline of later runs.
like_reference() {
	local ref bad
	ref="$(mktemp -d)"
	awk -F'\t' 'NR == FNR { ran[$1] = 1; next } !/^#/ && ($1 in ran)' "$1/results.txt" "$HERE/baseline-stock.txt" >"$ref/results.txt"
	bad="$(compat compare -names "$ref" "$1" | paste -sd' ' || true)"
	rm -rf "$ref"
	if [ -n "$bad" ]; then
		log "stock: not cached: $bad passed in the reference stock run (baseline-stock.txt), not in this one"
		return 1
	fi
}
STOCK_CACHE="$CACHE/stock/$(printf '%s\n' "$STOCK_KEY" | sha256sum | cut -c1-16)"
STOCK_DIR="$OUT/stock"
if [ "${COMPAT_REUSE_STOCK:-1}" != 0 ] && [ -f "$STOCK_CACHE/key" ] && [ -f "$STOCK_CACHE/results.txt" ] &&
	[ "$(cat "$STOCK_CACHE/key")" = "$STOCK_KEY" ]; then
	rm -rf "$STOCK_DIR"
	cp -a "$STOCK_CACHE" "$STOCK_DIR"
	touch "$STOCK_CACHE"
	log "stock: reusing the cached run $STOCK_CACHE ($(awk '/^date:/ { print $2 }' "$STOCK_DIR/run-info.txt"), same key; COMPAT_REUSE_STOCK=0 runs it again)"
else
	SUITE_RC=0
	run_suite stock "$W/stock.tar" "$STOCK_REF" "$STOCK_DIR" "$PATTERN" "${SUBSET_ARGS[@]}"
	echo "$STOCK_KEY" >"$STOCK_DIR/key"
	# Only a complete run is a baseline for later runs (go test exits 1 when
	# tests fail, 2 or more when it did not finish: a timeout, a crash), and
	# only one that passed what the reference stock run passed.
	if [ "$SUITE_RC" -le 1 ] && like_reference "$STOCK_DIR"; then
		rm -rf "$STOCK_CACHE.tmp.$$"
		mkdir -p "$CACHE/stock"
		cp -a "$STOCK_DIR" "$STOCK_CACHE.tmp.$$"
		rm -f "$STOCK_CACHE.tmp.$$/test.json" # the report has what compare reads; the stream is large
		rm -rf "$STOCK_CACHE"
		mv "$STOCK_CACHE.tmp.$$" "$STOCK_CACHE"
		log "stock: cached as $STOCK_CACHE"
	fi
fi
if [ "${COMPAT_STOCK_ONLY:-}" = 1 ]; then
	log "stock: done; sdkfront not run (COMPAT_STOCK_ONLY=1)"
	exit 0
fi
run_suite sdkfront "$W/sdkfront.tar" "$SDK_REF" "$OUT/sdkfront" "$PATTERN" "${SUBSET_ARGS[@]}"

# A regression that passes when run again is reported as flaky, not counted.
RETRY_ARGS=()
if [ "${COMPAT_RETRY:-1}" != 0 ]; then
	regressed="$(compat compare -names "$STOCK_DIR" "$OUT/sdkfront" | paste -sd'|')"
	n="$(tr '|' '\n' <<<"$regressed" | grep -c . || true)"
	if [ "$n" -gt 20 ]; then
		log "sdkfront: $n tests regressed: no retry (that is no flakiness)"
	elif [ -n "$regressed" ]; then
		log "sdkfront: running the regressed tests again: $regressed"
		run_suite sdkfront-retry "$W/sdkfront.tar" "$SDK_REF" "$OUT/sdkfront-retry" "$(compat pattern -run "$regressed")"
		RETRY_ARGS=(-retry "$OUT/sdkfront-retry")
	fi
fi
ln -sfn "runs/$RUN_ID" "$W/latest"

# keep the newest $KEEP runs; drop what the cache holds for versions nobody
# used for 30 days
ls -1 "$RUNS" | sort -r | tail -n +"$((KEEP + 1))" | while read -r old; do
	rm -rf "${RUNS:?}/$old"
done
rm -f "$W/last-stock" "$W/dockerfile.test" "$W/dockerfile.test.key" "$W/dockerfile-frontend" # before the cache
rm -rf "$W"/src-* "$W/mirror-seed"
{ find "$CACHE" "$CACHE/stock" -mindepth 1 -maxdepth 1 -mtime +30 ! -name .lock ! -name stock -print0 2>/dev/null || true; } |
	xargs -0 -r rm -rf

log "results: $OUT (diff.txt, {stock,sdkfront}/results.txt, test.log)"
rc=0
compat compare -o "$OUT/diff.txt" "${RETRY_ARGS[@]}" "$STOCK_DIR" "$OUT/sdkfront" || rc=$?
exit $rc
