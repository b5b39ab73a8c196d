package main

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// frontendCaps is the cap list of the stock Dockerfile frontend image
// (buildkit v0.34.2 frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile).
const frontendCaps = "moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"

// frontendImage is FROM scratch + /sdkfront. Unlike the stock image it does
// not set moby.buildkit.frontend.network.none: sdkfront reads registries
// itself; the offline variant sets it.
func frontendImage(bs *ociimage.Blobs, plat v1.Platform, binary string, offline bool) (v1.Image, error) {
	if err := ociimage.CheckStatic(binary); err != nil {
		return nil, fmt.Errorf("%w (build it with CGO_ENABLED=0 -tags 'netgo osusergo static_build')", err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	b, err := bs.Get("frontend", false, ociimage.Entries(ociimage.File("sdkfront", 0o755, bin)))
	if err != nil {
		return nil, err
	}
	labels := map[string]string{"moby.buildkit.frontend.caps": frontendCaps}
	if offline {
		labels["moby.buildkit.frontend.network.none"] = "true"
	}
	return ociimage.NewImage(plat, createdBy, v1.Config{Entrypoint: []string{"/sdkfront"}, Labels: labels}, b.Layer())
}

// sbomScannerImage is FROM scratch + /sbomscan (hack/sbomscan), a BuildKit SBOM
// generator: `--opt attest:sbom=generator=REGISTRY/sdkfront-sbom:dev`. BuildKit
// runs its entrypoint with BUILDKIT_SCAN_* set; /tmp is a tmpfs it mounts.
func sbomScannerImage(bs *ociimage.Blobs, plat v1.Platform, binary string) (v1.Image, error) {
	if err := ociimage.CheckStatic(binary); err != nil {
		return nil, fmt.Errorf("%w (build it with CGO_ENABLED=0)", err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	b, err := bs.Get("sbomscan", false, ociimage.Entries(ociimage.File("sbomscan", 0o755, bin)))
	if err != nil {
		return nil, err
	}
	return ociimage.NewImage(plat, createdBy, v1.Config{
		Entrypoint: []string{"/sbomscan"},
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "sdkfront-sbom",
			"org.opencontainers.image.description": "BuildKit SBOM generator: SPDX 2.3 of the Go modules in every Go binary (hack/sbomscan)",
		},
	}, b.Layer())
}
