#!/usr/bin/env bash
# lab.sh: the sdkfront lab, a loopback OCI registry plus a rootful buildkitd
# (runc worker) plus a docker buildx "remote" builder pointing at it.
#
#   lab/lab.sh tools    build .lab/bin/{buildkitd,buildctl,registry,docker-buildx,
#                       notation,cosign}
#                       (if missing or if the pinned module version, Go or a
#                       lab/patches/*.patch changed; built once per version into
#                       $SDKFRONT_CACHE/tools and linked from there; buildctl and
#                       docker-buildx carry lab/patches' x/net fix of
#                       moby/buildkit#2950) and apt-get install runc,
#                       busybox-static, curl and patch if missing
#   lab/lab.sh bench-tools
#                       apt-get install npm if missing (make bench packs Node
#                       with it; nothing else needs it, so CI does not install it)
#   lab/lab.sh lint-tool
#                       build .lab/bin/golangci-lint (make lint) the same way,
#                       from its own module lab/tools/lint; no lab, no apt-get
#   lab/lab.sh up       start registry + refregistry + buildkitd (if not running),
#                       wait until ready, create the buildx builder "sdkfront-lab";
#                       refregistry (lab/refregistry, built from the tree) is the
#                       second registry, the one that serves the OCI referrers API
#   lab/lab.sh down     stop what `up` started (pid files in .lab/run)
#   lab/lab.sh status   show what is running
#   lab/lab.sh env      print shell exports: eval "$(lab/lab.sh env)"
#   lab/lab.sh buildkitd-config --root DIR --addr ADDR [...]
#                       print the buildkitd.toml of every lab daemon (up's,
#                       lab/matrix.sh's, lab/bench's); options at buildkitd_config
#
# Everything lives in <repo>/.lab and listens on loopback only.
# Knobs (environment): LAB_REGISTRY_PORT (5000), LAB_REFERRERS_PORT (5001: refregistry),
# LAB_SNAPSHOTTER (overlayfs),
# LAB_UP_TIMEOUT (seconds, 90), LAB_BUILDER (sdkfront-lab), LAB_DEBUG=1 (buildkitd --debug),
# LAB_BUILDKITD_DEBUG_PORT (6060: buildkitd's pprof on 127.0.0.1),
# SDKFRONT_CACHE (~/.cache/sdkfront: what outlives a clone, keyed by version),
# LAB_BUILDKITD_ROOT (.lab/buildkitd: the daemon's state; lab/ci.sh keeps it in
# SDKFRONT_CACHE, per BuildKit version, so that a fresh clone builds warm),
# LAB_CACHE (.lab/cache: seed's tarballs; lab/ci.sh keeps it in SDKFRONT_CACHE).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
LAB="$ROOT/.lab"
BIN="$LAB/bin"
RUN="$LAB/run"
LOGS="$LAB/logs"
PORT="${LAB_REGISTRY_PORT:-5000}"
REG="127.0.0.1:$PORT"
# The referrers registry: distribution v3.1.2 has no referrers API (signatures
# pushed there use the sha256-<hex> tag schema), lab/refregistry has one.
REF_PORT="${LAB_REFERRERS_PORT:-5001}"
REFREG="127.0.0.1:$REF_PORT"
SOCK="$RUN/buildkitd.sock"
ADDR="unix://$SOCK"
BUILDER="${LAB_BUILDER:-sdkfront-lab}"
SNAPSHOTTER="${LAB_SNAPSHOTTER:-overlayfs}"
UP_TIMEOUT="${LAB_UP_TIMEOUT:-90}"
DEBUG_ADDR="127.0.0.1:${LAB_BUILDKITD_DEBUG_PORT:-6060}"
CACHE="${SDKFRONT_CACHE:-$HOME/.cache/sdkfront}"
BUILDKITD_ROOT="${LAB_BUILDKITD_ROOT:-$LAB/buildkitd}"
SEED_CACHE="${LAB_CACHE:-$LAB/cache}"
REGISTRY_CONFIG="$LAB/registry.yml"
BUILDKITD_CONFIG="$LAB/buildkitd.toml"

# Go and the sbin directories (runc lives in /usr/sbin) are needed even from
# minimal shells such as CI's.
for d in /usr/local/go/bin /usr/sbin /sbin; do
	case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH

log() { printf 'lab: %s\n' "$*" >&2; }
die() {
	printf 'lab: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit "${1:-2}"
}

# ---------------------------------------------------------------------------
# tools

# The binaries, as name|module dir|module path|package.
TOOLS=(
	"buildkitd|$ROOT|github.com/moby/buildkit|github.com/moby/buildkit/cmd/buildkitd"
	"buildctl|$ROOT|github.com/moby/buildkit|github.com/moby/buildkit/cmd/buildctl"
	"registry|$ROOT/lab/tools|github.com/distribution/distribution/v3|github.com/distribution/distribution/v3/cmd/registry"
	"docker-buildx|$ROOT/lab/tools|github.com/docker/buildx|github.com/docker/buildx/cmd/buildx"
	# The signers of e2e's signature fixtures (e2e/signing), each in a module of
	# its own: their dependency graphs would otherwise move the lab's pins.
	"notation|$ROOT/lab/tools/notation|github.com/notaryproject/notation|github.com/notaryproject/notation/cmd/notation"
	"cosign|$ROOT/lab/tools/cosign|github.com/sigstore/cosign/v3|github.com/sigstore/cosign/v3/cmd/cosign"
)

# The linter of make lint, pinned in a module of its own: its dependencies
# would otherwise move those of the lab tools.
LINT_TOOLS=(
	"golangci-lint|$ROOT/lab/tools/lint|github.com/golangci/golangci-lint/v2|github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)

# version_ldflags MODULE VERSION [REVISION]: -X flags that stamp the version
# the way the upstream release builds do (`buildkitd --version`, etc.); a
# patched tool's REVISION names its patches (see patch_stamp).
version_ldflags() {
	local rev=${3:+ -X $1/version.Revision=$3}
	case "$1" in
	github.com/moby/buildkit) echo "-X github.com/moby/buildkit/version.Version=$2 -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit$rev" ;;
	github.com/docker/buildx) echo "-X github.com/docker/buildx/version.Version=$2 -X github.com/docker/buildx/version.Package=github.com/docker/buildx$rev" ;;
	github.com/distribution/distribution/v3) echo "-X github.com/distribution/distribution/v3/version.version=$2" ;;
	github.com/notaryproject/notation) echo "-X github.com/notaryproject/notation/internal/version.BuildMetadata=" ;;
	github.com/sigstore/cosign/v3) echo "-X sigs.k8s.io/release-utils/version.gitVersion=$2" ;;
	esac
}

# tool_patches NAME: the lab/patches/*.patch files whose "Tools:" line names
# NAME (today the x/net fix of moby/buildkit#2950 for buildctl and
# docker-buildx; each patch's preamble says why and how to drop it).
tool_patches() {
	local f
	for f in "$ROOT"/lab/patches/*.patch; do
		[ -f "$f" ] || continue
		awk -v t="$1" '/^--- / { exit } /^Tools:/ { sub(/^Tools:/, ""); n = split($0, a, /[ ,]+/); for (i = 1; i <= n; i++) if (a[i] == t) found = 1 } END { exit !found }' "$f" && echo "$f"
	done
}

# patch_stamp DIR PATCH...: one word naming each patch, its content and the
# version of the module it patches in DIR's go.mod, "patched+NAME.SHA@VERSION"
# joined by "+". It is the tool's version.Revision (`buildctl --version` shows
# it) and part of its cache key, so a changed patch or module rebuilds it.
patch_stamp() {
	local dir=$1 f mod ver sum stamp=patched
	shift
	for f in "$@"; do
		mod=$(sed -n '/^--- /q; s/^Module:[[:space:]]*//p' "$f")
		[ -n "$mod" ] || die "$f: no \"Module:\" line"
		ver=$(cd "$dir" && go list -m -f '{{.Version}}' "$mod") || die "cannot read the version of $mod in $dir/go.mod (for $f)"
		sum=$(sha256sum <"$f" | cut -c1-12)
		stamp+="+$(basename "$f" .patch).$sum@$ver"
	done
	echo "$stamp"
}

# build_tool NAME DIR MODULE PACKAGE: $BIN/NAME of the pinned MODULE version,
# built with the current Go and the lab/patches that name it (applied to a
# copy of the module from the module cache, which go build -modfile puts in
# its place; a patch that does not apply fails here, saying why it exists and
# how to drop it). Each (name,
# version, Go, patches) is built once into $CACHE/tools/NAME-VERSION-GOVERSION
# (plus -patched-SHA), which outlives the clone (a fresh clone on the same
# machine then only links it: under a second instead of minutes), and
# hard-linked (or copied) into $BIN. Every file is written to a temporary
# name and renamed, so concurrent clones never see half a binary.
build_tool() {
	local name=$1 dir=$2 mod=$3 pkg=$4 want gov cached stamp=""
	local -a patches modargs=()
	want=$(cd "$dir" && go list -m -f '{{.Version}}' "$mod") || die "cannot read the pinned version of $mod in $dir/go.mod"
	gov=$(go env GOVERSION)
	cached="$CACHE/tools/$name-$want-$gov"
	mapfile -t patches < <(tool_patches "$name")
	if [ ${#patches[@]} -gt 0 ]; then
		stamp=$(patch_stamp "$dir" "${patches[@]}")
		cached+="-patched-$(printf '%s' "$stamp" | sha256sum | cut -c1-12)"
	fi
	if tool_is "$BIN/$name" "$mod" "$want" "$gov" "$stamp"; then
		log "$name: $mod@$want, $gov${stamp:+, $stamp} (up to date)"
		return
	fi
	if tool_is "$cached" "$mod" "$want" "$gov" "$stamp"; then
		link_tool "$cached" "$BIN/$name"
		touch "$cached" # recently used: see prune_tools
		log "$name: $mod@$want, $gov${stamp:+, $stamp} (from $cached)"
		return
	fi
	log "$name: building $mod@$want with $gov${stamp:+, $stamp}; cold builds take minutes"
	local t0=$SECONDS tmp
	mkdir -p "$CACHE/tools"
	tmp=$(mktemp -d)
	if [ ${#patches[@]} -gt 0 ]; then
		local modfile
		modfile=$(cd "$ROOT" && go run ./lab/patches -C "$dir" -o "$tmp" "${patches[@]}") || {
			rm -rf "$tmp"
			die "$name: a lab patch does not apply to $dir/go.mod's modules (what and why above); see lab/patches/*.patch and docs/lab.md, Troubleshooting"
		}
		modargs=(-modfile "$modfile")
		log "$name: patched with ${patches[*]#"$ROOT"/} (go build -modfile, replacing the module with a patched copy)"
	fi
	(cd "$dir" && go build "${modargs[@]}" -ldflags "$(version_ldflags "$mod" "$want" "$stamp")" -o "$cached.tmp.$$" "$pkg") || {
		rm -rf "$tmp"
		die "go build $pkg failed"
	}
	rm -rf "$tmp"
	mv -f "$cached.tmp.$$" "$cached"
	link_tool "$cached" "$BIN/$name"
	log "$name: built in $((SECONDS - t0))s (cached as $cached)"
}

# tool_is FILE MODULE VERSION GOVERSION STAMP: FILE is an executable built
# from MODULE@VERSION by GOVERSION, with version.Revision=STAMP if STAMP is
# set and without a patched revision if not, as its build info says.
tool_is() {
	[ -x "$1" ] || return 1
	local info
	info=$(go version -m "$1" 2>/dev/null) || return 1
	awk -v mod="$2" -v v="$3" -v gov="$4" -v stamp="$5" '
		NR == 1 { ok = ($2 == gov) }
		$1 == "mod" { found = ($2 == mod && $3 == v) }
		$1 == "build" && $2 ~ /^-ldflags=/ {
			if (match($0, /version\.Revision=[^ "]*/)) rev = substr($0, RSTART + 17, RLENGTH - 17)
		}
		END { exit !(ok && found && (stamp == "" ? rev !~ /^patched/ : rev == stamp)) }' <<<"$info"
}

# link_tool SRC DST: DST becomes SRC, hard-linked when they share a file
# system, else copied.
link_tool() {
	mkdir -p "$(dirname "$2")"
	ln -f "$1" "$2.tmp.$$" 2>/dev/null || cp -f "$1" "$2.tmp.$$"
	mv -f "$2.tmp.$$" "$2"
}

# prune_tools: drops cached tools nobody used for 30 days (other versions).
prune_tools() {
	[ -d "$CACHE/tools" ] || return 0
	find "$CACHE/tools" -maxdepth 1 -type f -mtime +30 -print -delete 2>/dev/null | sed 's/^/lab: pruned /' >&2 || true
}

busybox_static_ok() {
	[ -x /bin/busybox ] && dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'
}

# ensure_packages installs what the lab needs, and the commands named as
# arguments (a command that is its package's name), if missing.
ensure_packages() {
	local pkgs=() c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || pkgs+=("$c")
	done
	command -v runc >/dev/null 2>&1 || pkgs+=(runc)
	busybox_static_ok || pkgs+=(busybox-static)
	command -v curl >/dev/null 2>&1 || pkgs+=(curl)
	command -v patch >/dev/null 2>&1 || pkgs+=(patch) # lab/patches applies its diffs with it
	command -v setsid >/dev/null 2>&1 || pkgs+=(util-linux)
	if [ ${#pkgs[@]} -eq 0 ]; then
		return
	fi
	[ "$(id -u)" = 0 ] || die "need root to apt-get install ${pkgs[*]}"
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${pkgs[*]} by hand"
	log "apt-get install ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

cmd_tools() {
	command -v go >/dev/null 2>&1 || die "go not found (looked in PATH and /usr/local/go/bin)"
	ensure_packages
	build_tools "${TOOLS[@]}"
	prune_tools
	install_buildx_plugin
}

cmd_lint_tool() {
	command -v go >/dev/null 2>&1 || die "go not found (looked in PATH and /usr/local/go/bin)"
	build_tools "${LINT_TOOLS[@]}"
}

# build_tools builds each tool of its arguments ("name|dir|module|package")
# into $BIN.
build_tools() {
	mkdir -p "$BIN"
	local t name dir mod pkg
	for t in "$@"; do
		IFS='|' read -r name dir mod pkg <<<"$t"
		build_tool "$name" "$dir" "$mod" "$pkg"
	done
}

# ---------------------------------------------------------------------------
# processes

# pid_of NAME: prints the pid recorded for NAME if that process is alive and
# still runs our binary; fails otherwise (and removes a stale pid file).
pid_of() {
	local f="$RUN/$1.pid" pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$BIN/$1 "; then
		echo "$pid"
		return 0
	fi
	rm -f "$f"
	return 1
}

# start NAME LOGFILE ENV... -- ARGS...: starts $BIN/NAME detached (own session,
# no stdin, output appended to LOGFILE) and records its pid.
start() {
	local name=$1 logf=$2
	shift 2
	local envs=()
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	printf '\n==== %s: lab starting %s ====\n' "$(date -u +%FT%TZ)" "$name" >>"$logf"
	# setsid: not a process-group leader here (no job control), so it execs in
	# place and $! is the daemon's own pid.
	env "${envs[@]}" setsid "$BIN/$name" "$@" </dev/null >>"$logf" 2>&1 &
	echo $! >"$RUN/$name.pid"
}

# wait_ready NAME LOGFILE CHECK...: polls CHECK until it succeeds; fails
# loudly with the log tail if the process dies or the timeout passes.
wait_ready() {
	local name=$1 logf=$2
	shift 2
	local deadline=$((SECONDS + UP_TIMEOUT))
	while ! "$@" >/dev/null 2>&1; do
		if ! pid_of "$name" >/dev/null; then
			echo "---- last lines of $logf ----" >&2
			tail -n 40 "$logf" >&2 || true
			die "$name exited during startup (log: $logf)"
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "---- last lines of $logf ----" >&2
			tail -n 40 "$logf" >&2 || true
			die "$name not ready after ${UP_TIMEOUT}s (log: $logf); it is still running: lab/lab.sh down stops it"
		fi
		sleep 0.2
	done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/${1:-$PORT}") 2>/dev/null; }
registry_ok() { curl -fsS -o /dev/null --max-time 2 "http://$REG/v2/"; }
refregistry_ok() { curl -fsS -o /dev/null --max-time 2 "http://$REFREG/v2/"; }
buildkitd_ok() { "$BIN/buildctl" --addr "$ADDR" debug workers; }

write_registry_config() {
	cat >"$REGISTRY_CONFIG.tmp" <<EOF
# Generated by lab/lab.sh; edits are overwritten by \`lab/lab.sh up\`.
version: 0.1
log:
  level: info
  formatter: text
  # Combined-format access log of every request on stdout (.lab/logs/registry.log):
  # 127.0.0.1 - - [date] "GET /v2/<repo>/blobs/sha256:... HTTP/1.1" 200 <bytes> "" "<agent>"
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $LAB/registry
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $REG
  # Loopback-only lab registry; a fixed secret silences the startup warning.
  secret: sdkfront-lab-not-a-secret
  headers:
    X-Content-Type-Options: [nosniff]
# tags/list honours ?n= up to this many per page, then sends a Link header.
tags:
  maxtags: 100
validation:
  manifests:
    urls:
      allow:
        - '^https?://'
EOF
	mv -f "$REGISTRY_CONFIG.tmp" "$REGISTRY_CONFIG"
}

# buildkitd_config --root DIR --addr ADDR [--debug true|false]
#   [--debug-address HOST:PORT] [--snapshotter NAME] [--no-gc] [--no-cdi]
#   [--http HOST]... [--mirror HOST]
# prints the buildkitd.toml of every daemon the lab starts (this script's,
# lab/matrix.sh's per version, lab/bench's): the runc worker on the host
# network, no containerd worker, plain HTTP to each --http registry, and
# mcr.microsoft.com mirrored by the --mirror registry. --no-gc is for
# short-lived daemons; --no-cdi for BuildKit before v0.20, which has no [cdi].
buildkitd_config() {
	local root="" addr="" debug="" debug_addr="" snapshotter=overlayfs gc=true cdi=true mirror="" runc h
	local -a http=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--root | --addr | --debug | --debug-address | --snapshotter | --http | --mirror)
			[ $# -ge 2 ] || die "buildkitd-config: $1 needs a value"
			case "$1" in
			--root) root=$2 ;;
			--addr) addr=$2 ;;
			--debug) debug=$2 ;;
			--debug-address) debug_addr=$2 ;;
			--snapshotter) snapshotter=$2 ;;
			--http) http+=("$2") ;;
			--mirror) mirror=$2 ;;
			esac
			shift 2
			;;
		--no-gc) gc=false; shift ;;
		--no-cdi) cdi=false; shift ;;
		*) die "buildkitd-config: unknown argument $1" ;;
		esac
	done
	[ -n "$root" ] && [ -n "$addr" ] || die "buildkitd-config: --root and --addr are required"
	runc=$(command -v runc) || die "buildkitd-config: runc not found (lab/lab.sh tools installs it)"

	echo "root = \"$root\""
	[ -z "$debug" ] || echo "debug = $debug"
	printf '\n[grpc]\n  address = ["%s"]\n' "$addr"
	if [ -n "$debug_addr" ]; then
		echo "  # pprof and expvar: curl http://$debug_addr/debug/pprof/goroutine?debug=2"
		echo "  debugAddress = \"$debug_addr\""
	fi
	cat <<EOF

[worker.oci]
  enabled = true
  snapshotter = "$snapshotter"
  binary = "$runc"
  networkMode = "host"
  gc = $gc
EOF
	if [ "$gc" = true ]; then
		cat <<'EOF'
  # Fixed GC limits (the default scales with the disk and can evict the cache
  # on a machine with little free space, which makes cache tests flaky).
  reservedSpace = "2GB"
  maxUsedSpace = "20GB"
EOF
	fi
	printf '\n[worker.containerd]\n  enabled = false\n'
	[ "$cdi" = false ] || printf '\n[cdi]\n  disabled = true\n'
	for h in "${http[@]}"; do
		printf '\n[registry."%s"]\n  http = true\n' "$h"
	done
	if [ -n "$mirror" ]; then
		cat <<EOF

# The real default source, offline: BuildKit pulls mcr.microsoft.com/oryx/...
# from the lab registry, where seed pushes oryx/<platform>-sdk in Oryx's
# layout. sdkfront itself cannot list mcr.microsoft.com's tags here, so a
# range on the default source resolves only from a lockfile.
[registry."mcr.microsoft.com"]
  mirrors = ["$mirror"]
EOF
	fi
}

write_buildkitd_config() {
	{
		echo "# Generated by lab/lab.sh; edits are overwritten by \`lab/lab.sh up\`."
		buildkitd_config --root "$BUILDKITD_ROOT" --addr "$ADDR" \
			--debug "$([ -n "${LAB_DEBUG:-}" ] && echo true || echo false)" \
			--debug-address "$DEBUG_ADDR" --snapshotter "$SNAPSHOTTER" \
			--http "$REG" --http "$REFREG" --mirror "$REG"
	} >"$BUILDKITD_CONFIG.tmp"
	mv -f "$BUILDKITD_CONFIG.tmp" "$BUILDKITD_CONFIG"
}

need_bins() {
	local b missing=()
	for b in buildkitd buildctl registry; do
		[ -x "$BIN/$b" ] || missing+=("$b")
	done
	if [ ${#missing[@]} -gt 0 ] || ! command -v runc >/dev/null 2>&1; then
		log "missing ${missing[*]:-runc}; running lab.sh tools first"
		cmd_tools
	fi
}

cmd_up() {
	[ "$(id -u)" = 0 ] || die "buildkitd runs rootful here: run as root"
	[ ${#SOCK} -lt 100 ] || die "socket path too long for a unix socket ($SOCK); move the checkout to a shorter path"
	need_bins
	mkdir -p "$RUN" "$LOGS" "$LAB/registry" "$BUILDKITD_ROOT"

	local pid
	if pid=$(pid_of registry); then
		log "registry: already running (pid $pid) on $REG"
	else
		if port_busy; then
			die "127.0.0.1:$PORT is already in use by a process the lab did not start; stop it or set LAB_REGISTRY_PORT"
		fi
		write_registry_config
		# The registry exports OpenTelemetry traces to an OTLP endpoint by default; turn that off.
		start registry "$LOGS/registry.log" OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
			-- serve "$REGISTRY_CONFIG"
		wait_ready registry "$LOGS/registry.log" registry_ok
		log "registry: up on http://$REG (pid $(cat "$RUN/registry.pid"), log $LOGS/registry.log)"
	fi

	if pid=$(pid_of refregistry); then
		log "refregistry: already running (pid $pid) on $REFREG"
	else
		if port_busy "$REF_PORT"; then
			die "127.0.0.1:$REF_PORT is already in use by a process the lab did not start; stop it or set LAB_REFERRERS_PORT"
		fi
		# From the tree, like seed: seconds, and always the checkout's own.
		(cd "$ROOT" && go build -o "$BIN/refregistry" ./lab/refregistry) || die "go build ./lab/refregistry failed"
		start refregistry "$LOGS/refregistry.log" -- -addr "$REFREG"
		wait_ready refregistry "$LOGS/refregistry.log" refregistry_ok
		log "refregistry: up on http://$REFREG (pid $(cat "$RUN/refregistry.pid"), log $LOGS/refregistry.log; in memory)"
	fi

	if pid=$(pid_of buildkitd); then
		log "buildkitd: already running (pid $pid) at $ADDR"
	else
		write_buildkitd_config
		rm -f "$SOCK"
		start buildkitd "$LOGS/buildkitd.log" -- \
			--config "$BUILDKITD_CONFIG" --root "$BUILDKITD_ROOT" --addr "$ADDR" \
			--oci-worker=true --containerd-worker=false --oci-worker-snapshotter="$SNAPSHOTTER"
		wait_ready buildkitd "$LOGS/buildkitd.log" buildkitd_ok
		log "buildkitd: up at $ADDR (pid $(cat "$RUN/buildkitd.pid"), log $LOGS/buildkitd.log)"
	fi

	setup_buildx
}

# stop NAME: SIGTERM, wait up to 30s, then SIGKILL. Only ever signals the pid
# recorded in .lab/run/NAME.pid, and only if it still runs our binary.
stop() {
	local name=$1 pid i
	if ! pid=$(pid_of "$name"); then
		log "$name: not running"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name: still running after 30s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$RUN/$name.pid"
	log "$name: stopped (pid $pid)"
}

cmd_down() {
	stop buildkitd
	rm -f "$SOCK"
	stop refregistry
	stop registry
	local m
	m=$(awk -v p="$LAB/" -v r="$BUILDKITD_ROOT/" 'index($2, p) == 1 || index($2, r) == 1 { print $2 }' /proc/mounts 2>/dev/null || true)
	if [ -n "$m" ]; then
		log "warning: mounts left under $LAB or $BUILDKITD_ROOT:"
		printf '%s\n' "$m" | sed 's/^/  /' >&2
	fi
}

cmd_status() {
	local pid rc=0
	if pid=$(pid_of registry); then
		if registry_ok 2>/dev/null; then echo "registry:  running (pid $pid) http://$REG"; else
			echo "registry:  running (pid $pid) but http://$REG/v2/ does not answer"
			rc=1
		fi
	else
		echo "registry:  stopped"
		rc=1
	fi
	if pid=$(pid_of refregistry); then
		if refregistry_ok 2>/dev/null; then echo "refregistry: running (pid $pid) http://$REFREG"; else
			echo "refregistry: running (pid $pid) but http://$REFREG/v2/ does not answer"
			rc=1
		fi
	else
		echo "refregistry: stopped"
		rc=1
	fi
	if pid=$(pid_of buildkitd); then
		if buildkitd_ok >/dev/null 2>&1; then
			echo "buildkitd: running (pid $pid) $ADDR"
		else
			echo "buildkitd: running (pid $pid) but not answering at $ADDR"
			rc=1
		fi
	else
		echo "buildkitd: stopped"
		rc=1
	fi
	if buildx inspect "$BUILDER" >/dev/null 2>&1; then
		echo "buildx:    builder $BUILDER -> $(buildx inspect "$BUILDER" 2>/dev/null | awk '/Endpoint:/ { print $2; exit }')"
	else
		echo "buildx:    no builder $BUILDER"
	fi
	echo "logs:      $LOGS"
	return $rc
}

cmd_env() {
	cat <<EOF
export LAB_DIR='$LAB'
export LAB_REGISTRY='$REG'
export LAB_REGISTRY_PORT='$PORT'
export LAB_REGISTRY_LOG='$LOGS/registry.log'
export LAB_REFERRERS_REGISTRY='$REFREG'
export LAB_BUILDKITD_LOG='$LOGS/buildkitd.log'
export LAB_CACHE='$SEED_CACHE'
export LAB_BUILDX_BUILDER='$BUILDER'
export BUILDKIT_HOST='$ADDR'
export LAB_BUILDKITD_DEBUG='$DEBUG_ADDR'
export PATH='$BIN':"\$PATH"
EOF
}

# ---------------------------------------------------------------------------
# docker buildx

# buildx ARGS: `docker buildx` when the docker CLI exists, otherwise the
# plugin binary run standalone (it then behaves as `buildx`).
buildx() {
	if command -v docker >/dev/null 2>&1; then
		docker buildx "$@"
	else
		"$BIN/docker-buildx" "$@"
	fi
}

install_buildx_plugin() {
	[ -x "$BIN/docker-buildx" ] || return 0
	local dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
	mkdir -p "$dir"
	if ! cmp -s "$BIN/docker-buildx" "$dir/docker-buildx"; then
		cp -f "$BIN/docker-buildx" "$dir/.docker-buildx.tmp"
		mv -f "$dir/.docker-buildx.tmp" "$dir/docker-buildx"
		log "installed $dir/docker-buildx"
	fi
}

setup_buildx() {
	if [ ! -x "$BIN/docker-buildx" ]; then
		log "buildx: $BIN/docker-buildx missing, skipping the builder (lab.sh tools builds it)"
		return 0
	fi
	install_buildx_plugin
	local endpoint
	endpoint=$(buildx inspect "$BUILDER" 2>/dev/null | awk '/Endpoint:/ { print $2; exit }') || true
	if [ -n "$endpoint" ] && [ "$endpoint" != "$ADDR" ]; then
		log "buildx: builder $BUILDER points at $endpoint; recreating it"
		buildx rm "$BUILDER" >/dev/null 2>&1 || true
		endpoint=""
	fi
	if [ -z "$endpoint" ]; then
		buildx rm "$BUILDER" >/dev/null 2>&1 || true
		buildx create --name "$BUILDER" --driver remote "$ADDR" >/dev/null ||
			die "docker buildx create --name $BUILDER --driver remote $ADDR failed"
	fi
	local out
	if ! out=$(buildx inspect "$BUILDER" --bootstrap 2>&1); then
		printf '%s\n' "$out" >&2
		die "docker buildx inspect $BUILDER --bootstrap failed"
	fi
	log "buildx: builder $BUILDER -> $ADDR ($(printf '%s\n' "$out" | awk '/Status:/ { print $2; exit }'))"
}

# ---------------------------------------------------------------------------

case "${1:-}" in
tools) cmd_tools ;;
bench-tools) ensure_packages npm ;;
lint-tool) cmd_lint_tool ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
buildkitd-config)
	shift
	buildkitd_config "$@"
	;;
-h | --help | help) usage 0 ;;
*) usage 2 ;;
esac
