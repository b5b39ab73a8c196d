package registry

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// maxIndexDepth bounds how deep image indexes may nest.
const maxIndexDepth = 4

// PlatformImage is what an image reference resolves to for one platform.
type PlatformImage struct {
	// Digest is what the reference points to: an image manifest, or an
	// image index.
	Digest digest.Digest
	// Manifest is the digest of the platform's image manifest: Digest
	// itself when that is an image manifest.
	Manifest digest.Digest
	// Config is the image config, as the registry serves it.
	Config []byte
}

// ResolveImage implements resolver.ImageResolver without BuildKit: it
// returns the digest ref ("host/repo:tag" or "host/repo@sha256:…") points
// to and the image config for platform. An index is resolved for platform
// the way BuildKit resolves it (containerd's platform matching: linux/amd64
// also takes linux/386, arm/v7 also arm/v6, …); a single image manifest is
// taken whatever its platform, as BuildKit does. logName is unused.
func (c *Client) ResolveImage(ctx context.Context, ref string, platform ocispecs.Platform, _ string) (digest.Digest, []byte, error) {
	img, err := c.ResolvePlatform(ctx, ref, platform)
	if err != nil {
		return "", nil, err
	}
	return img.Digest, img.Config, nil
}

// ResolvePlatform is ResolveImage that also returns the digest of the
// platform's image manifest. A missing tag, repository or platform matches
// resolver.ErrNotFound; an unusable manifest resolver.ErrInvalidImage.
func (c *Client) ResolvePlatform(ctx context.Context, ref string, platform ocispecs.Platform) (PlatformImage, error) {
	r, err := c.parseReference(ref)
	if err != nil {
		return PlatformImage{}, err
	}
	callCtx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	opts := c.remoteOptions(callCtx)
	registry := r.Context().RegistryStr()

	desc, err := remote.Get(r, opts...)
	if err != nil {
		return PlatformImage{}, c.wrap(ctx, "get manifest of", registry, ref, resolver.ErrNotFound, err)
	}
	out := PlatformImage{Digest: digest.Digest(desc.Digest.String())}
	for depth := 0; ; depth++ {
		switch mt := desc.MediaType; {
		case mt.IsSchema1():
			return PlatformImage{}, fmt.Errorf("%w: %s is a Docker schema 1 manifest, which sdkfront does not support; push the SDK image again with a current Docker or BuildKit", resolver.ErrInvalidImage, ref)
		case mt.IsImage():
			img, err := desc.Image()
			if err != nil {
				return PlatformImage{}, fmt.Errorf("%w: %s has an unreadable image manifest: %v", resolver.ErrInvalidImage, ref, err)
			}
			cfg, err := img.RawConfigFile()
			if err != nil {
				return PlatformImage{}, c.wrap(ctx, "get the image config of", registry, ref, resolver.ErrNotFound, err)
			}
			out.Manifest, out.Config = digest.Digest(desc.Digest.String()), cfg
			return out, nil
		case !mt.IsIndex():
			return PlatformImage{}, fmt.Errorf("%w: %s is a %s, not an image or image index", resolver.ErrInvalidImage, ref, mt)
		case depth >= maxIndexDepth:
			return PlatformImage{}, fmt.Errorf("%w: %s nests image indexes more than %d deep", resolver.ErrInvalidImage, ref, maxIndexDepth)
		}
		index, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return PlatformImage{}, fmt.Errorf("%w: %s has an unreadable image index: %v", resolver.ErrInvalidImage, ref, err)
		}
		m, err := choose(ref, index, platform)
		if err != nil {
			return PlatformImage{}, err
		}
		child := r.Context().Digest(m.Digest.String())
		if desc, err = remote.Get(child, opts...); err != nil {
			return PlatformImage{}, c.wrap(ctx, "get manifest of", registry, child.String(), resolver.ErrNotFound, err)
		}
	}
}

// choose picks the manifest of an index for platform, the best match
// first, as containerd does.
func choose(ref string, index *v1.IndexManifest, platform ocispecs.Platform) (v1.Descriptor, error) {
	match := platforms.Only(platform)
	var (
		found []v1.Descriptor
		have  []string
	)
	for _, m := range index.Manifests {
		if m.Platform == nil {
			continue
		}
		p := ociPlatform(*m.Platform)
		if p.OS == "" || p.OS == "unknown" {
			continue // attestations
		}
		have = append(have, platforms.FormatAll(p))
		if match.Match(p) {
			found = append(found, m)
		}
	}
	if len(found) == 0 {
		slices.Sort(have)
		return v1.Descriptor{}, &platformError{ref: ref, platform: platforms.FormatAll(platforms.Normalize(platform)), have: slices.Compact(have)}
	}
	slices.SortStableFunc(found, func(a, b v1.Descriptor) int {
		pa, pb := ociPlatform(*a.Platform), ociPlatform(*b.Platform)
		switch {
		case match.Less(pa, pb):
			return -1
		case match.Less(pb, pa):
			return 1
		}
		return 0
	})
	return found[0], nil
}

func ociPlatform(p v1.Platform) ocispecs.Platform {
	return ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

// platformError reports an index without an image for the platform. It is
// a "not found", as BuildKit reports it.
type platformError struct {
	ref, platform string
	have          []string
}

func (e *platformError) Error() string {
	have := "none"
	if len(e.have) > 0 {
		have = strings.Join(e.have, ", ")
	}
	return fmt.Sprintf("%s has no image for platform %s: not found (its index has %s)", e.ref, e.platform, have)
}

func (e *platformError) Is(target error) bool { return target == resolver.ErrNotFound }

var _ resolver.ImageResolver = (*Client)(nil)
