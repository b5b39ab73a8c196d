#!/usr/bin/env bash
# lab/matrix.sh: `make matrix`. Runs the core e2e subset (e2e/matrix.txt)
# against BuildKit daemons of several versions, the ones users' builds run on
# (a "# syntax=" frontend runs inside the user's daemon: BuildKit v0.12 in
# Docker 24/25, v0.13-v0.16 in Docker 26/27, v0.20+ in Docker 28+, the latest
# in buildx's docker-container driver), prints a table test x version and
# exits non-zero if any cell fails.
#
#   lab/matrix.sh [run] [VERSION...]  build what is missing, then for each version:
#                                     start its daemon, run the subset, stop it
#   lab/matrix.sh build [VERSION...]  only build the daemons
#   lab/matrix.sh up VERSION...       build and start those daemons and builders and
#                                     leave them running (for trying things by hand:
#                                     BUILDKIT_HOST=unix://.lab/matrix/<version>/buildkitd.sock)
#   lab/matrix.sh down                stop every daemon of the matrix that is running
#
# Each version's buildkitd is built from the Go module proxy in a scratch module
# (.lab/matrix/<version>/mod: BuildKit's go.mod has exclude lines, so
# `go install pkg@version` refuses it) and cached as .lab/matrix/<version>/bin/buildkitd;
# it is rebuilt only if missing or stamped with another version. The go.mod
# version reuses the lab's .lab/bin/buildkitd. The clients are the lab's: the
# go.mod buildctl and docker buildx, i.e. a current client on an older daemon,
# as with Docker 24-27 and an updated buildx.
#
# Each daemon runs rootful with the runc worker and overlayfs, on its own root
# and socket under .lab/matrix/<version>/ (its state is wiped at start and stop),
# with the lab's registry as plain HTTP. The e2e tests find it through
# BUILDKIT_HOST and a buildx builder "sdkfront-matrix-<version>" (remote driver),
# which is removed again with the daemon.
#
# Needs the lab registry up and seeded and $LAB_REGISTRY/sdkfront:dev pushed
# (the Makefile target does that), and root.
#
# Knobs (environment):
#   MATRIX_VERSIONS="v0.12.5 ..."  the versions (default: v0.12.5 v0.16.0 v0.20.2
#                                  and go.mod's); arguments override it
#   MATRIX_RUN=REGEX               run the e2e tests matching REGEX instead of
#                                  e2e/matrix.txt
#   MATRIX_TIMEOUT=DUR             go test timeout per version (default 30m)
#   SDKFRONT_IMAGE=REF             the frontend the tests' "# syntax=" lines name
#                                  (default $LAB_REGISTRY/sdkfront:dev)
#
# Results: .lab/matrix/results.txt (the table), .lab/matrix/<version>/test.log
# (go test -v), buildkitd.log, build.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
W="$ROOT/.lab/matrix"
for d in /usr/local/go/bin /usr/sbin /sbin; do
	case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH
# The lab's environment, unless the caller already has one (a lab started
# from another checkout): LAB_DIR, LAB_REGISTRY, the buildctl in PATH.
if [ -z "${LAB_DIR:-}" ] || [ -z "${LAB_REGISTRY:-}" ]; then
	eval "$("$ROOT/lab/lab.sh" env)"
fi
BUILDCTL="$LAB_DIR/bin/buildctl"
BK_MODULE=github.com/moby/buildkit
LIST="$ROOT/e2e/matrix.txt"
RUNRE="${MATRIX_RUN:-}"
TIMEOUT="${MATRIX_TIMEOUT:-30m}"
UP_TIMEOUT=90

log() { printf 'matrix: %s\n' "$*" >&2; }
die() {
	printf 'matrix: error: %s\n' "$*" >&2
	exit 2
}

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit "${1:-2}"
}

# gomod_version: the BuildKit version of go.mod.
gomod_version() { (cd "$ROOT" && go list -m -f '{{.Version}}' "$BK_MODULE"); }

# mod_version BINARY: the BuildKit module version in a binary's build info.
mod_version() {
	go version -m "$1" 2>/dev/null | awk -v m="$BK_MODULE" '($1 == "mod" || $1 == "dep") && $2 == m { print $3; exit }'
}

valid_version() { [[ "$1" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; }

# version_ge A B: A >= B, both vX.Y.Z.
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

# ---------------------------------------------------------------------------
# building

# buildkitd_bin VERSION: the path of that version's buildkitd (built or not).
buildkitd_bin() {
	local v=$1
	if [ "$v" = "$GOMOD_VERSION" ]; then
		local b
		for b in "$LAB_DIR/bin/buildkitd" "$ROOT/.lab/bin/buildkitd"; do
			if [ -x "$b" ] && [ "$(mod_version "$b")" = "$v" ]; then
				echo "$b"
				return
			fi
		done
	fi
	echo "$W/$v/bin/buildkitd"
}

# build VERSION: builds .lab/matrix/VERSION/bin/buildkitd unless it is there.
# Prints the seconds it took (0 when cached) on stdout.
build() {
	local v=$1 d="$W/$1" bin have t0=$SECONDS
	bin=$(buildkitd_bin "$v")
	have=""
	[ -x "$bin" ] && have=$(mod_version "$bin")
	if [ "$have" = "$v" ]; then
		log "$v: buildkitd cached ($bin)"
		echo 0
		return
	fi
	command -v jq >/dev/null 2>&1 || die "building needs jq (apt-get install jq)"
	log "$v: building buildkitd from $BK_MODULE@$v in $d/mod (cold: minutes; log $d/build.log)"
	mkdir -p "$d/mod" "$d/bin"
	# (set -e does not hold inside a tested subshell: every step says || exit.)
	if ! (
		cd "$d/mod" || exit
		export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=mod"
		[ -f go.mod ] || go mod init sdkfront.lab/matrix/buildkit || exit
		# A dependency's replace and exclude lines do not apply; copy
		# BuildKit's (v0.10 replaces github.com/docker/docker, for one).
		gomod=$(go mod download -json "$BK_MODULE@$v" | awk -F'"' '$2 == "GoMod" { print $4 }')
		[ -f "$gomod" ] || { echo "no go.mod for $BK_MODULE@$v"; exit 1; }
		edits=$(go mod edit -json "$gomod" | jq -r '
			((.Replace // [])[] | select(.New.Version != null) |
				"-replace=\(.Old.Path)\(if .Old.Version then "@" + .Old.Version else "" end)=\(.New.Path)@\(.New.Version)"),
			((.Exclude // [])[] | "-exclude=\(.Path)@\(.Version)")') || exit
		[ -z "$edits" ] || xargs go mod edit <<<"$edits" || exit
		go get -tool "$BK_MODULE/cmd/buildkitd@$v" || exit
		# Run-time defaults (GODEBUG) as for the Go version BuildKit declares,
		# not this module's newer one.
		bkgo=$(go list -m -f '{{.GoVersion}}' "$BK_MODULE") || exit
		go mod edit -godebug "default=go$(echo "$bkgo" | cut -d. -f1,2)" || exit
		go build -trimpath -o "$d/bin/.buildkitd.tmp" \
			-ldflags "-X $BK_MODULE/version.Version=$v -X $BK_MODULE/version.Package=$BK_MODULE" \
			"$BK_MODULE/cmd/buildkitd"
	) >"$d/build.log" 2>&1; then
		tail -n 30 "$d/build.log" >&2
		die "$v: building buildkitd failed (log $d/build.log)"
	fi
	mv -f "$d/bin/.buildkitd.tmp" "$d/bin/buildkitd"
	log "$v: built in $((SECONDS - t0))s"
	echo $((SECONDS - t0))
}

# ---------------------------------------------------------------------------
# daemons

sock_of() { echo "$W/$1/buildkitd.sock"; }
builder_of() { echo "sdkfront-matrix-${1//./-}"; }

# mounts_under DIR: the mount points that are below DIR or that mount
# something from below it (a daemon's temporary overlay mounts live in /tmp
# with their layers in its root), deepest first.
mounts_under() { awk -v p="$1/" 'index($2, p) == 1 || index($4, p) > 0 { print $2 }' /proc/mounts | sort -r; }

# pid_of VERSION: the live pid of that version's daemon, if it runs our binary.
pid_of() {
	local f="$W/$1/buildkitd.pid" pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--root $W/$1/root "; then
		echo "$pid"
		return 0
	fi
	rm -f "$f"
	return 1
}

# write_config VERSION: that version's buildkitd.toml, from lab/lab.sh
# buildkitd-config: no GC (short-lived daemons whose state is wiped at every
# start), and [cdi] only from v0.20 on, which has it.
write_config() {
	local v=$1 d="$W/$1"
	local -a opts=(--root "$d/root" --addr "unix://$(sock_of "$v")" --no-gc
		--http "$LAB_REGISTRY" --mirror "$LAB_REGISTRY")
	version_ge "$v" v0.20.0 || opts+=(--no-cdi)
	{
		echo "# Generated by lab/matrix.sh for BuildKit $v; rewritten at every start."
		"$ROOT/lab/lab.sh" buildkitd-config "${opts[@]}"
	} >"$d/buildkitd.toml.tmp" || die "$v: lab/lab.sh buildkitd-config failed"
	mv -f "$d/buildkitd.toml.tmp" "$d/buildkitd.toml"
}

buildx() { docker buildx "$@"; }

# up VERSION: starts that version's daemon on a fresh root and its builder.
up() {
	local v=$1 d="$W/$1" bin sock pid m
	bin=$(buildkitd_bin "$v")
	sock=$(sock_of "$v")
	[ ${#sock} -lt 100 ] || die "socket path too long for a unix socket ($sock); move the checkout to a shorter path"
	if pid=$(pid_of "$v"); then
		log "$v: a daemon is still running (pid $pid); stopping it first"
		down "$v"
	fi
	m=$(mounts_under "$d/root")
	[ -z "$m" ] || die "$v: mounts remain under $d/root; not wiping it:"$'\n'"$m"
	rm -rf "$d/root" "$sock"
	mkdir -p "$d/root"
	write_config "$v"
	printf '\n==== %s: matrix starting %s ====\n' "$(date -u +%FT%TZ)" "$bin" >>"$d/buildkitd.log"
	setsid "$bin" --config "$d/buildkitd.toml" --root "$d/root" --addr "unix://$sock" \
		--oci-worker=true --containerd-worker=false --oci-worker-snapshotter=overlayfs \
		</dev/null >>"$d/buildkitd.log" 2>&1 &
	echo $! >"$d/buildkitd.pid"
	local deadline=$((SECONDS + UP_TIMEOUT))
	while ! "$BUILDCTL" --addr "unix://$sock" debug workers >/dev/null 2>&1; do
		if ! pid_of "$v" >/dev/null; then
			tail -n 30 "$d/buildkitd.log" >&2
			die "$v: buildkitd exited during startup (log $d/buildkitd.log)"
		fi
		if [ $SECONDS -ge $deadline ]; then
			tail -n 30 "$d/buildkitd.log" >&2
			down "$v"
			die "$v: buildkitd not ready after ${UP_TIMEOUT}s (log $d/buildkitd.log)"
		fi
		sleep 0.2
	done
	local got
	got=$("$BUILDCTL" --addr "unix://$sock" debug info 2>/dev/null | awk '$1 == "BuildKit:" { print $3; exit }') || true
	if [ -n "$got" ] && [ "$got" != "$v" ]; then
		down "$v"
		die "$v: the daemon at $sock says it is BuildKit $got"
	fi
	local builder
	builder=$(builder_of "$v")
	buildx rm "$builder" >/dev/null 2>&1 || true
	buildx create --name "$builder" --driver remote "unix://$sock" >/dev/null ||
		die "$v: docker buildx create --name $builder failed"
	buildx inspect "$builder" --bootstrap >/dev/null 2>&1 || die "$v: docker buildx inspect $builder --bootstrap failed"
	log "$v: buildkitd up (pid $(cat "$d/buildkitd.pid"), $sock, builder $builder)"
}

# down VERSION: stops that version's daemon and builder; unmounts what it left.
down() {
	local v=$1 d="$W/$1" pid i m
	buildx rm "$(builder_of "$v")" >/dev/null 2>&1 || true
	if pid=$(pid_of "$v"); then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 300; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$v: buildkitd still running after 30s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
		fi
		rm -f "$d/buildkitd.pid"
	fi
	rm -f "$(sock_of "$v")"
	m=$(mounts_under "$d")
	if [ -n "$m" ]; then
		log "$v: unmounting what the daemon left under $d"
		printf '%s\n' "$m" | while read -r p; do umount "$p" 2>/dev/null || umount -l "$p" || true; done
	fi
	# The next start wipes the state anyway; free the disk now.
	if [ -d "$d/root" ] && [ -z "$(mounts_under "$d")" ]; then
		rm -rf "$d/root"
	fi
}

cmd_down() {
	local d
	for d in "$W"/v*/; do
		[ -d "$d" ] || continue
		down "$(basename "$d")"
	done
}

# ---------------------------------------------------------------------------
# tests

# The subset: "name label" pairs from e2e/matrix.txt, or MATRIX_RUN's tests.
declare -a TESTS=() LABELS=()
load_tests() {
	local name label rest
	if [ -n "$RUNRE" ]; then
		while read -r name; do
			TESTS+=("$name")
			LABELS+=("$name")
		done < <(cd "$ROOT/e2e" && SDKFRONT_LAB=1 "$W/e2e.test" -test.list "$RUNRE" | grep '^Test')
		[ ${#TESTS[@]} -gt 0 ] || die "MATRIX_RUN=$RUNRE matches no e2e test"
		return
	fi
	local all
	all=$(cd "$ROOT/e2e" && SDKFRONT_LAB=1 "$W/e2e.test" -test.list '.*')
	while read -r name label rest; do
		case "$name" in '' | '#'*) continue ;; esac
		grep -qx -- "$name" <<<"$all" || die "$LIST names $name, which is no test of ./e2e"
		TESTS+=("$name")
		LABELS+=("${label:-$name}")
	done <"$LIST"
	[ ${#TESTS[@]} -gt 0 ] || die "$LIST lists no test"
}

run_regex() {
	local IFS='|'
	echo "^(${TESTS[*]})\$"
}

# test_version VERSION: runs the subset against the running daemon of VERSION;
# writes "name result seconds" lines to .lab/matrix/VERSION/results.txt.
test_version() {
	local v=$1 d="$W/$1" rc=0
	(cd "$ROOT/e2e" && SDKFRONT_LAB=1 BUILDKIT_HOST="unix://$(sock_of "$v")" \
		LAB_BUILDX_BUILDER="$(builder_of "$v")" \
		"$W/e2e.test" -test.v -test.count=1 -test.timeout "$TIMEOUT" -test.run "$(run_regex)") \
		>"$d/test.log" 2>&1 || rc=$?
	local name res
	: >"$d/results.txt"
	for name in "${TESTS[@]}"; do
		# Top-level results only ("--- PASS: TestX (1.23s)"), not subtests.
		res=$(awk -v n="$name" '$1 == "---" && $3 == n { r = $2; s = $4 } END { if (r != "") { sub(":", "", r); gsub(/[()s]/, "", s); print tolower(r), s } }' "$d/test.log")
		# A test with no result line did not finish (panic, timeout).
		echo "$name ${res:-fail -}" >>"$d/results.txt"
	done
	return $rc
}

# ---------------------------------------------------------------------------

declare -A BUILD_S=() TEST_S=()

print_table() {
	local out="$W/results.txt" v i name cell res secs width=6
	for i in "${!LABELS[@]}"; do [ ${#LABELS[$i]} -lt $width ] || width=$((${#LABELS[$i]} + 1)); done
	{
		printf "%-${width}s" "test"
		for v in "${VERSIONS[@]}"; do printf ' | %-8s' "$v"; done
		echo
		for i in "${!TESTS[@]}"; do
			name=${TESTS[$i]}
			printf "%-${width}s" "${LABELS[$i]}"
			for v in "${VERSIONS[@]}"; do
				cell="-"
				if [ -n "${TEST_S[$v]:-}" ]; then
					res=""
					read -r _ res secs < <(awk -v n="$name" '$1 == n' "$W/$v/results.txt") || true
					cell=${res:-fail}
				fi
				printf ' | %-8s' "$cell"
			done
			echo
		done
		printf "%-${width}s" "build (s)"
		for v in "${VERSIONS[@]}"; do printf ' | %-8s' "${BUILD_S[$v]:--}"; done
		echo
		printf "%-${width}s" "tests (s)"
		for v in "${VERSIONS[@]}"; do printf ' | %-8s' "${TEST_S[$v]:--}"; done
		echo
	} | tee "$out"
}

cmd_run() {
	[ "$(id -u)" = 0 ] || die "the daemons run rootful: run as root"
	command -v docker >/dev/null 2>&1 || die "the e2e tests need the docker CLI (with the buildx plugin: make tools)"
	[ -x "$BUILDCTL" ] || die "missing $BUILDCTL (make tools)"
	curl -fsS -o /dev/null --max-time 2 "http://$LAB_REGISTRY/v2/" || die "the lab registry $LAB_REGISTRY does not answer (make lab-up seed)"
	mkdir -p "$W"
	log "compiling the e2e tests"
	(cd "$ROOT" && go test -c -o "$W/e2e.test" ./e2e) || die "go test -c ./e2e failed"
	load_tests
	trap 'for v in "${VERSIONS[@]}"; do down "$v"; done' EXIT
	local v t0
	for v in "${VERSIONS[@]}"; do
		BUILD_S[$v]=$(build "$v")
		rm -f "$W/$v/results.txt"
		up "$v"
		t0=$SECONDS
		log "$v: running ${#TESTS[@]} tests (log $W/$v/test.log)"
		test_version "$v" || true
		TEST_S[$v]=$((SECONDS - t0))
		log "$v: $(awk '{ print $2 }' "$W/$v/results.txt" | sort | uniq -c | awk '{ printf "%s %s ", $1, $2 }')in ${TEST_S[$v]}s"
		down "$v"
	done
	trap - EXIT
	print_table
	local fails
	fails=$(for v in "${VERSIONS[@]}"; do awk '$2 == "fail"' "$W/$v/results.txt"; done | wc -l)
	if [ "$fails" -gt 0 ]; then
		log "$fails failed cell(s); logs: $W/<version>/test.log, buildkitd.log"
		exit 1
	fi
	log "all cells pass"
}

GOMOD_VERSION=$(gomod_version) || die "cannot read the BuildKit version of go.mod"
cmd=run
case "${1:-}" in
run | build | up | down) cmd=$1; shift ;;
-h | --help | help) usage 0 ;;
esac
if [ $# -gt 0 ]; then
	VERSIONS=("$@")
else
	read -r -a VERSIONS <<<"${MATRIX_VERSIONS:-v0.12.5 v0.16.0 v0.20.2 $GOMOD_VERSION}"
fi
for v in "${VERSIONS[@]}"; do valid_version "$v" || die "not a BuildKit version: $v (want vX.Y.Z)"; done

case "$cmd" in
run) cmd_run ;;
build) for v in "${VERSIONS[@]}"; do build "$v" >/dev/null; done ;;
up)
	[ "$(id -u)" = 0 ] || die "the daemons run rootful: run as root"
	for v in "${VERSIONS[@]}"; do
		build "$v" >/dev/null
		up "$v"
	done
	;;
down) cmd_down ;;
esac
