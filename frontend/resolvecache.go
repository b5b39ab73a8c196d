package frontend

import (
	"context"
	"sync"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	digest "github.com/opencontainers/go-digest"
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

// key is the image as BuildKit's builder names it (docker.io/library/
// busybox:latest for busybox), with what changes the answer: the
// platform and the resolve mode. The progress name does not.
func cacheKey(ref string, opt sourceresolver.Opt) string {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		ref = reference.TagNameOnly(named).String()
	}
	k := ref
	if io := opt.ImageOpt; io != nil {
		if io.Platform != nil {
			k += "|" + platforms.FormatAll(platforms.Normalize(*io.Platform))
		}
		k += "|" + io.ResolveMode
	}
	return k
}

func (c *resolveCache) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	if io := opt.ImageOpt; io == nil || opt.OCILayoutOpt != nil || len(opt.SourcePolicies) > 0 ||
		io.NoConfig || io.AttestationChain || len(io.ResolveAttestations) > 0 {
		return c.Client.ResolveImageConfig(ctx, ref, opt)
	}
	key := cacheKey(ref, opt)
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
