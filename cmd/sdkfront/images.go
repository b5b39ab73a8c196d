package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

// images resolves images with the registry client, remembering what each
// resolution chose for its platform.
type images struct {
	c         *registry.Client
	mu        sync.Mutex
	manifests map[imageKey]registry.PlatformImage
}

// imageKey is what a resolution chose: a digest, for one platform.
type imageKey struct {
	digest   digest.Digest
	platform string // lock.PlatformKey
}

func (i *images) ResolveImage(ctx context.Context, ref string, p ocispecs.Platform, _ string) (digest.Digest, []byte, error) {
	img, err := i.c.ResolvePlatform(ctx, ref, p)
	if err != nil {
		return "", nil, err
	}
	i.mu.Lock()
	i.manifests[imageKey{img.Digest, lock.PlatformKey(p)}] = img
	i.mu.Unlock()
	return img.Digest, img.Config, nil
}

// platform is the digest of the image manifest for p of repo@d, and every
// descriptor a pull of it fetches content by: index entries, config,
// layers.
func (i *images) platform(ctx context.Context, repo string, d digest.Digest, p ocispecs.Platform) (digest.Digest, []ocispecs.Descriptor, error) {
	i.mu.Lock()
	img, ok := i.manifests[imageKey{d, lock.PlatformKey(p)}]
	i.mu.Unlock()
	if !ok {
		var err error
		if img, err = i.c.ResolvePlatform(ctx, repo+"@"+d.String(), p); err != nil {
			return "", nil, resolver.Advise(err)
		}
	}
	return img.Manifest, img.Descriptors(), nil
}

// writeAtomic replaces path with data: a temporary file beside it, renamed
// over it, so that a reader never sees half a lock.
func writeAtomic(path string, data []byte) (err error) {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
