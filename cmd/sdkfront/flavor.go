package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

// flavors detects the flavor of a stage as the frontend does: the
// VERSION_CODENAME of its base image's os-release ("bookworm"). The
// frontend reads it through BuildKit; sdkfront lock reads the image from
// its registry through the client that resolves the SDKs (the layers from
// the top until os-release is found: registry.ReadImageFile), or a named
// context's directory. scratch, and a base without a codename, have none.
type flavors struct {
	named    map[string]string // --build-context NAME=DIR
	client   *registry.Client
	progress func(base string, p ocispecs.Platform)

	mu    sync.Mutex
	known map[string]*codename // base|platform
}

type codename struct {
	once sync.Once
	name string
	err  error
}

// detectable reports whether base has a flavor to detect at all.
func detectable(base string) bool { return base != "" && !strings.EqualFold(base, "scratch") }

// local reports whether base is a named context, read without the network.
func (fl *flavors) local(base string) bool { _, ok := fl.named[base]; return ok }

// codename is base's VERSION_CODENAME for platform p, read once.
func (fl *flavors) codename(ctx context.Context, base string, p ocispecs.Platform) (string, error) {
	if !detectable(base) {
		return "", nil
	}
	key := base + "|" + platforms.FormatAll(p)
	fl.mu.Lock()
	c, ok := fl.known[key]
	if !ok {
		c = &codename{}
		fl.known[key] = c
	}
	fl.mu.Unlock()
	c.once.Do(func() {
		var dt []byte
		if dir, ok := fl.named[base]; ok {
			dt, c.err = osReleaseDir(dir)
		} else {
			if fl.progress != nil {
				fl.progress(base, p)
			}
			dt, c.err = fl.osReleaseImage(ctx, base, p)
		}
		if c.err == nil {
			c.name = resolver.FlavorFromOSRelease(dt)
		}
	})
	return c.name, c.err
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
