#!/usr/bin/env bash
# make test (and so CI: .ci/run) runs this, on a clean clone as root. The
# phases of `make test` and `make compat`, with what does not depend on the
# clone cached outside it, and a table of each phase's wall time at the end,
# also when a phase fails:
#
#   unit         make test-unit, in the background while the next three run
#                (log: .lab/ci/unit.log)
#   lint         make lint (golangci-lint, from $SDKFRONT_CACHE/tools when built
#                before), in the background alongside unit (log: .lab/ci/lint.log)
#   tools        make tools: buildkitd, buildctl, registry, docker-buildx,
#                notation, cosign (e2e/signing's signers), from
#                $SDKFRONT_CACHE/tools when built before (lab/lab.sh)
#   lab-up+seed  make lab-up seed: the registry, buildkitd and the seeded
#                images (seed's tarballs are cached in $SDKFRONT_CACHE/seed)
#   image        make image cli: sdkfront:dev, sdkfront-sbom:dev, the
#                multi-platform image and the CLI; buildkitd's state (the Go
#                build cache mounts of the image build among it) lives in
#                $SDKFRONT_CACHE/buildkitd-<BuildKit version>
#   e2e          make e2e-run: the e2e tests against that lab
#   compat       lab/compat/compat.sh, in the background while e2e runs (log:
#                .lab/ci/compat.log):
#                BuildKit's Dockerfile suite, stock vs sdkfront; the stock
#                run is reused from $SDKFRONT_CACHE/compat when nothing it
#                depends on changed (see compat.sh)
#
# The wall times of phases that ran side by side add up to more than the
# total. CI_SERIAL=1 runs all phases one after the other.
# SDKFRONT_CACHE defaults to ~/.cache/sdkfront; every entry in it is keyed by
# the versions it was built from, so a new version is a miss, never a stale
# hit. Deleting the directory only makes the next run slower.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case ":$PATH:" in
*:/usr/local/go/bin:*) ;;
*) export PATH="/usr/local/go/bin:$PATH" ;;
esac
go version

export SDKFRONT_CACHE="${SDKFRONT_CACHE:-$HOME/.cache/sdkfront}"
BK_VERSION="$(go list -m -f '{{.Version}}' github.com/moby/buildkit)"
export LAB_BUILDKITD_ROOT="${LAB_BUILDKITD_ROOT:-$SDKFRONT_CACHE/buildkitd-$BK_VERSION}"
export LAB_CACHE="${LAB_CACHE:-$SDKFRONT_CACHE/seed}"
CI_DIR=.lab/ci
mkdir -p "$CI_DIR" "$SDKFRONT_CACHE" "$LAB_BUILDKITD_ROOT"
touch "$LAB_BUILDKITD_ROOT" # in use: see below
echo "ci: cache $SDKFRONT_CACHE (buildkitd root $LAB_BUILDKITD_ROOT, seed $LAB_CACHE)"

# Daemon roots of other BuildKit versions that no run used for 30 days (and
# that no daemon holds or has mounts in), and seed tarballs nobody read for
# 30 days. lab.sh and compat.sh prune their own entries.
for d in "$SDKFRONT_CACHE"/buildkitd-*/; do
	d=${d%/}
	[ -d "$d" ] && [ "$d" != "$LAB_BUILDKITD_ROOT" ] || continue
	[ -n "$(find "$d" -maxdepth 0 -mtime +30)" ] || continue
	awk -v p="$d/" 'index($2, p) == 1 { found = 1 } END { exit !found }' /proc/mounts && continue
	[ -e "$d/buildkitd.lock" ] && ! flock -n "$d/buildkitd.lock" true && continue
	echo "ci: removing $d (no run used it for 30 days)"
	rm -rf "$d"
done
[ -d "$LAB_CACHE" ] && find "$LAB_CACHE" -maxdepth 1 -type f -atime +30 -delete 2>/dev/null || true

# ---------------------------------------------------------------------------
# phase times

PHASES=(unit lint tools lab-up+seed image e2e compat)
declare -A START WALL STATUS BG_PID BG_KILL BG_NOTE
T0=$SECONDS

mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

report() {
	local rc=$? p w s i
	trap - EXIT INT TERM
	# Stop what still runs in the background, which this script started:
	# unit's whole process group; compat.sh alone, as its own trap stops the
	# suite's sandboxes (they run in sessions of their own).
	for p in "${!BG_PID[@]}"; do
		if [ "${BG_KILL[$p]}" = group ]; then
			kill -TERM -- "-${BG_PID[$p]}" 2>/dev/null || true
		else
			kill -TERM "${BG_PID[$p]}" 2>/dev/null || true
		fi
	done
	for p in "${!BG_PID[@]}"; do
		for ((i = 0; i < 60; i++)); do
			kill -0 "${BG_PID[$p]}" 2>/dev/null || break
			sleep 1
		done
	done
	if [ "${CI:-}" = true ] && [ -n "${LAB_STARTED:-}" ]; then
		lab/lab.sh down || true
	fi
	echo
	echo "==== .ci/run: phase wall times ===="
	printf '%-12s %9s  %s\n' phase wall status
	for p in "${PHASES[@]}"; do
		s="${STATUS[$p]:-not run}"
		w="${WALL[$p]:-}"
		if [ "$s" = running ]; then
			s=interrupted
			w=$((SECONDS - START[$p]))
		fi
		printf '%-12s %9s  %s\n' "$p" "${w:+$(mmss "$w")}" "$s${BG_NOTE[$p]:+ (${BG_NOTE[$p]})}"
	done
	printf '%-12s %9s  %s\n' total "$(mmss $((SECONDS - T0)))" "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")"
	exit $rc
}
trap report EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# phase NAME CMD...: runs CMD as the phase NAME.
phase() {
	local name=$1 rc=0
	shift
	echo
	echo "==== .ci/run: $name: $* ===="
	START[$name]=$SECONDS
	STATUS[$name]=running
	"$@" || rc=$?
	WALL[$name]=$((SECONDS - START[$name]))
	if [ $rc -ne 0 ]; then
		STATUS[$name]="FAILED (exit $rc)"
		return $rc
	fi
	STATUS[$name]=ok
}

# bg_start NAME KILL NOTE CMD...: runs CMD as the phase NAME in the
# background, in a session of its own, its output in $CI_DIR/NAME.log; KILL
# (group or leader) says how report stops it.
bg_start() {
	local name=$1
	BG_KILL[$name]=$2
	BG_NOTE[$name]=$3
	shift 3
	echo
	echo "==== .ci/run: $name: $*, in the background (log $CI_DIR/$name.log) ===="
	START[$name]=$SECONDS
	STATUS[$name]=running
	rm -f "$CI_DIR/$name.rc"
	# The wrapper passes a TERM on to CMD and waits for it to clean up.
	setsid bash -c 's=$(date +%s) rc=0
		"${@:3}" >"$1" 2>&1 </dev/null &
		c=$!
		trap "kill -TERM $c 2>/dev/null" TERM
		wait $c || rc=$?
		while kill -0 $c 2>/dev/null; do wait $c || rc=$?; done
		echo "$rc $(($(date +%s) - s))" >"$2"' "$name" "$CI_DIR/$name.log" "$CI_DIR/$name.rc" "$@" &
	BG_PID[$name]=$!
}

# bg_wait NAME: waits for the phase NAME, prints its log, and fails as it did.
bg_wait() {
	local name=$1 rc=1 secs
	wait "${BG_PID[$name]}" || true
	unset 'BG_PID[$name]'
	secs=$((SECONDS - START[$name]))
	[ -f "$CI_DIR/$name.rc" ] && read -r rc secs <"$CI_DIR/$name.rc"
	WALL[$name]=$secs
	echo
	echo "==== .ci/run: $name (log $CI_DIR/$name.log) ===="
	cat "$CI_DIR/$name.log"
	if [ "$rc" != 0 ]; then
		STATUS[$name]="FAILED (exit $rc)"
		return "$rc"
	fi
	STATUS[$name]=ok
}

# ---------------------------------------------------------------------------
# The phases. unit and lint run alongside tools, lab-up+seed and image: linking is
# single-threaded, and the lab's setup mostly waits on the disk and the
# registry. compat runs alongside e2e (from the moment sdkfront:dev is
# pushed): the suite's sandboxes mostly wait (its stock run took 3.8
# CPU-minutes in 7m43s on 2 cores), so the two together take little longer
# than the suite alone. CI= keeps compat.sh from stopping the lab, which the
# e2e tests still use; report stops it at the end. CI_SERIAL=1 runs every
# phase in the foreground, one after the other.

if [ "${CI_SERIAL:-}" = 1 ]; then
	phase unit make --no-print-directory test-unit
	phase lint make --no-print-directory lint
	phase tools make --no-print-directory tools
	LAB_STARTED=1
	phase lab-up+seed make --no-print-directory lab-up seed
	phase image make --no-print-directory image cli
	phase e2e make --no-print-directory e2e-run
	phase compat lab/compat/compat.sh
	exit 0
fi

bg_start unit group "alongside tools..image" make --no-print-directory test-unit
bg_start lint group "alongside unit" make --no-print-directory lint
phase tools make --no-print-directory tools
LAB_STARTED=1
phase lab-up+seed make --no-print-directory lab-up seed
phase image make --no-print-directory image cli
bg_start compat leader "alongside e2e" env CI= lab/compat/compat.sh
bg_wait unit
bg_wait lint
e2e_rc=0
phase e2e make --no-print-directory e2e-run || e2e_rc=$?
compat_rc=0
bg_wait compat || compat_rc=$?
[ "$e2e_rc" = 0 ] || exit "$e2e_rc"
exit "$compat_rc"
