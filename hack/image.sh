#!/usr/bin/env bash
# hack/image.sh: make image's recipe. Builds the multi-platform frontend
# image from cmd/frontend/Dockerfile through the lab's BuildKit, with
# provenance (mode=max) and an SBOM (the lab's sdkfront-sbom:dev), both of
# its targets (release, offline), and pushes each as <repo>:<VERSION>[-offline]
# and <repo>:multi[-offline]; the metadata goes to .lab/out/image[-offline].json.
#
# The Makefile passes every input in the environment (make image's
# variables): VERSION, REVISION, GO_VERSION, SOURCE_DATE_EPOCH,
# IMAGE_PLATFORMS, IMAGE_SOURCE, IMAGE_REPO (default $LAB_REGISTRY/sdkfront),
# CA_CERTS (a CA bundle handed to the build as the secret ca-certificates),
# IMAGE_FLAGS (more buildctl flags, split on spaces), GO; and the lab's
# (lab/lab.sh env): LAB_REGISTRY, BUILDKIT_HOST.
set -euo pipefail

need() {
	local v
	for v in "$@"; do
		[ -n "${!v:-}" ] || { echo "hack/image.sh: $v is not set (run it through make image)" >&2; exit 2; }
	done
}
need VERSION REVISION GO_VERSION SOURCE_DATE_EPOCH IMAGE_PLATFORMS IMAGE_SOURCE LAB_REGISTRY BUILDKIT_HOST
GO=${GO:-go}
repo=${IMAGE_REPO:-$LAB_REGISTRY/sdkfront}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# The OCI annotations of the index and of each manifest.
ann=""
for k in index manifest; do
	p=annotation-$k.org.opencontainers.image
	ann="$ann,$p.title=sdkfront,$p.version=$VERSION,$p.revision=$REVISION,$p.source=$IMAGE_SOURCE,$p.created=$created"
done

# The Go module settings the build's `go build` needs on this network.
goenv=()
for v in GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GONOPROXY GOINSECURE; do
	val=$("$GO" env "$v")
	[ -z "$val" ] || goenv+=(--opt "build-arg:$v=$val")
done
secret=()
[ -z "${CA_CERTS:-}" ] || secret=(--secret "id=ca-certificates,src=$CA_CERTS")
read -r -a flags <<<"${IMAGE_FLAGS:-}"

mkdir -p .lab/out
for target in release offline; do
	suffix=""
	[ "$target" = release ] || suffix=-$target
	echo "image: $repo:$VERSION$suffix and $repo:multi$suffix for $IMAGE_PLATFORMS (Go $GO_VERSION)"
	start=$(date +%s)
	SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH buildctl --addr "$BUILDKIT_HOST" build --progress plain \
		--frontend dockerfile.v0 --local context=. --local dockerfile=cmd/frontend --opt target=$target \
		--opt build-arg:BUILDKIT_SYNTAX="$LAB_REGISTRY/sdkfront:dev" \
		--opt build-arg:SDK_SOURCE="$LAB_REGISTRY/sdks/{platform}:{flavor}-{version}" \
		--opt build-arg:BUILD_BASE="$LAB_REGISTRY/lab/busybox:latest" \
		--opt build-arg:GO_VERSION="$GO_VERSION" \
		--opt build-arg:VERSION="$VERSION" --opt build-arg:REVISION="$REVISION" \
		--opt build-arg:SOURCE_URL="$IMAGE_SOURCE" \
		"${goenv[@]}" "${secret[@]}" \
		--opt platform="$IMAGE_PLATFORMS" \
		--opt attest:provenance=mode=max \
		--opt attest:sbom=generator="$LAB_REGISTRY/sdkfront-sbom:dev" \
		--output "type=image,\"name=$repo:$VERSION$suffix,$repo:multi$suffix\",push=true,oci-mediatypes=true,rewrite-timestamp=true$ann" \
		--metadata-file ".lab/out/image$suffix.json" "${flags[@]}"
	digest=$(sed -n 's/.*"containerimage.digest": *"\([^"]*\)".*/\1/p' ".lab/out/image$suffix.json")
	echo "image: pushed $repo:$VERSION$suffix and $repo:multi$suffix ($digest) in $(($(date +%s) - start))s"
done
