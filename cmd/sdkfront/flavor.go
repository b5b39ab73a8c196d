package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

// flavors reads the os-release a stage's flavor is detected from, as the
// frontend does (the VERSION_CODENAME, "bookworm"): the plan.Host's
// OSRelease. The frontend reads it through BuildKit; sdkfront lock reads
// the image from its registry through the client that resolves the SDKs
// (the layers from the top until os-release is found:
// registry.ReadImageFile), or a named context's directory.
type flavors struct {
	named    map[string]string // --build-context NAME=DIR
	client   *registry.Client
	progress func(base string, p ocispecs.Platform)
}

// OSRelease reads base's os-release for platform p; plan reads each base
// once per platform.
func (fl *flavors) OSRelease(ctx context.Context, base string, p ocispecs.Platform) ([]byte, error) {
	p = platforms.Normalize(p)
	if dir, ok := fl.named[base]; ok {
		return osReleaseDir(dir)
	}
	if fl.progress != nil {
		fl.progress(base, p)
	}
	return fl.osReleaseImage(ctx, base, p)
}

// offlineFlavors is flavors for --check, which reads no registry: a
// registry's base image is not read, and its flavor is not known, nor is
// that of a named context that cannot be read.
type offlineFlavors struct{ *flavors }

func (fl offlineFlavors) OSRelease(_ context.Context, base string, _ ocispecs.Platform) ([]byte, error) {
	dir, ok := fl.named[base]
	if !ok {
		return nil, plan.ErrNotRead
	}
	dt, err := osReleaseDir(dir)
	if err != nil {
		return nil, plan.ErrNotRead
	}
	return dt, nil
}

// osReleaseDir reads the os-release of a directory holding a root
// filesystem, never outside it (symlinks that leave it count as missing);
// none is no error.
func osReleaseDir(dir string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, f := range resolver.OSReleasePaths {
		dt, err := root.ReadFile(filepath.FromSlash(strings.TrimPrefix(f, "/")))
		if err == nil {
			return dt, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), "escapes") {
			return nil, err
		}
	}
	return nil, nil
}

// baseImageLimits bound reading a base image from its registry: its
// os-release is read within 5 minutes, from at most 2 GiB decompressed per
// layer and 8 GiB in all (registry.ReadLimits' defaults). Tests shorten
// them.
var baseImageLimits registry.ReadLimits

// osReleaseImage reads the os-release of an image for platform p.
func (fl *flavors) osReleaseImage(ctx context.Context, base string, p ocispecs.Platform) ([]byte, error) {
	dt, err := fl.client.ReadImageFile(ctx, base, p, resolver.OSReleasePaths, baseImageLimits)
	return dt, resolver.Advise(err)
}
