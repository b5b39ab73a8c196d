package frontend

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"
)

// resolveCache is a gateway client that resolves each image once per
// build: sdkfront resolves a stage's base image to read its flavor, and
// BuildKit's builder resolves it again for FROM; with the cache the
// registry is asked once. Only successes are kept.
type resolveCache struct {
	client.Client

	mu sync.Mutex
	m  map[string]resolvedImage
}

type resolvedImage struct {
	ref  string
	dgst digest.Digest
	cfg  []byte
}

func newResolveCache(c client.Client) *resolveCache {
	return &resolveCache{Client: c, m: map[string]resolvedImage{}}
}

// irrelevantOpt names the fields of sourceresolver.Opt that do not change
// what a resolution answers, so are left out of the cache key: the progress
// name. Every other field, including any that a BuildKit upgrade adds, is
// part of the key (TestCacheKeyCoversOpt guards this).
var irrelevantOpt = map[string]bool{"LogName": true}

// cacheKey is the image as BuildKit's builder names it (docker.io/library/
// busybox:latest for busybox), with every field of opt but irrelevantOpt's,
// the platform normalized.
func cacheKey(ref string, opt sourceresolver.Opt) (string, error) {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		ref = reference.TagNameOnly(named).String()
	}
	if io := opt.ImageOpt; io != nil && io.Platform != nil {
		cp := *io
		p := platforms.Normalize(*io.Platform)
		cp.Platform = &p
		opt.ImageOpt = &cp
	}
	v := reflect.ValueOf(&opt).Elem()
	for name := range irrelevantOpt {
		f := v.FieldByName(name)
		if !f.IsValid() {
			return "", errors.Errorf("sourceresolver.Opt has no field %s any more", name)
		}
		f.SetZero()
	}
	dt, err := json.Marshal(opt)
	if err != nil {
		return "", err
	}
	return ref + "|" + string(dt), nil
}

func (c *resolveCache) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	key, err := cacheKey(ref, opt)
	if err != nil {
		return c.Client.ResolveImageConfig(ctx, ref, opt)
	}
	c.mu.Lock()
	r, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return r.ref, r.dgst, r.cfg, nil
	}
	name, dgst, cfg, err := c.Client.ResolveImageConfig(ctx, ref, opt)
	if err == nil {
		c.mu.Lock()
		c.m[key] = resolvedImage{name, dgst, cfg}
		c.mu.Unlock()
	}
	return name, dgst, cfg, err
}
