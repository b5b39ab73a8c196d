package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
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
	// Layers are the layers of the platform's image manifest.
	Layers []ocispecs.Descriptor
	// ConfigDescriptor is the image manifest's config descriptor.
	ConfigDescriptor ocispecs.Descriptor
	// Manifests are the entries of the image indexes read on the way
	// to the image manifest, if Digest is an index.
	Manifests []ocispecs.Descriptor

	platforms map[string]digest.Digest // of the index, if Digest is one
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
	callCtx, cl, cancel := c.call(ctx, r.Context().RegistryStr())
	defer cancel()
	out, im, s, err := c.platformManifest(callCtx, ctx, cl, r, ref, platform)
	if err != nil {
		return PlatformImage{}, err
	}
	cfg, err := s.blob(callCtx, cl, im.Config.Digest, c.o.maxBodyBytes)
	if err != nil {
		return PlatformImage{}, c.wrap(ctx, cl, opConfig, s.repo.RegistryStr(), ref, resolver.ErrNotFound, err)
	}
	out.Config, out.Layers, out.ConfigDescriptor = cfg, descriptors(im.Layers), descriptor(im.Config)
	return out, nil
}

// Descriptors are every descriptor a pull of the image for the platform
// fetches content by: the index entries, the config, the layers.
func (p PlatformImage) Descriptors() []ocispecs.Descriptor {
	return resolver.Manifest{Manifests: p.Manifests, ConfigDescriptor: p.ConfigDescriptor, Layers: p.Layers}.Descriptors()
}

// ResolveManifest implements resolver.ManifestResolver: one request for an
// image manifest, two for an index, and one more for the config if asked.
func (c *Client) ResolveManifest(ctx context.Context, ref string, platform ocispecs.Platform, config bool) (resolver.Manifest, error) {
	r, err := c.parseReference(ref)
	if err != nil {
		return resolver.Manifest{}, err
	}
	callCtx, cl, cancel := c.call(ctx, r.Context().RegistryStr())
	defer cancel()
	pi, im, s, err := c.platformManifest(callCtx, ctx, cl, r, ref, platform)
	if err != nil {
		return resolver.Manifest{}, err
	}
	out := resolver.Manifest{Digest: pi.Digest, Image: pi.Manifest, Layers: descriptors(im.Layers), Platforms: pi.platforms,
		ConfigDescriptor: descriptor(im.Config), Manifests: pi.Manifests}
	if config {
		if out.Config, err = s.blob(callCtx, cl, im.Config.Digest, c.o.maxBodyBytes); err != nil {
			return resolver.Manifest{}, c.wrap(ctx, cl, opConfig, s.repo.RegistryStr(), ref, resolver.ErrNotFound, err)
		}
	}
	return out, nil
}

func descriptors(ds []v1.Descriptor) []ocispecs.Descriptor {
	out := make([]ocispecs.Descriptor, 0, len(ds))
	for _, d := range ds {
		out = append(out, descriptor(d))
	}
	return out
}

func descriptor(d v1.Descriptor) ocispecs.Descriptor {
	return ocispecs.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size, URLs: d.URLs}
}

// platformManifest fetches ref's manifest and, through indexes, the image
// manifest for platform, for cl. callCtx bounds the requests; ctx is the
// caller's, for error messages.
func (c *Client) platformManifest(callCtx, ctx context.Context, cl *transport.Call, r name.Reference, ref string, platform ocispecs.Platform) (PlatformImage, *v1.Manifest, *session, error) {
	registry := r.Context().RegistryStr()
	s := c.session(r.Context())
	m, err := s.manifest(callCtx, cl, r, c.o.maxManifest)
	if err != nil {
		return PlatformImage{}, nil, nil, c.wrap(ctx, cl, opManifest, registry, ref, resolver.ErrNotFound, err)
	}
	out := PlatformImage{Digest: m.digest}
	for depth := 0; ; depth++ {
		switch mt := m.mediaType; {
		case mt.IsImage():
			im, err := m.image()
			if err != nil {
				return PlatformImage{}, nil, nil, fmt.Errorf("%w: %s has an unreadable image manifest: %s", resolver.ErrInvalidImage, ref, detail(err))
			}
			out.Manifest = m.digest
			return out, im, s, nil
		case !mt.IsIndex():
			return PlatformImage{}, nil, nil, notImageError(ref, mt)
		case depth >= maxIndexDepth:
			return PlatformImage{}, nil, nil, fmt.Errorf("%w: %s nests image indexes more than %d deep", resolver.ErrInvalidImage, ref, maxIndexDepth)
		}
		index, err := m.index()
		if err != nil {
			return PlatformImage{}, nil, nil, fmt.Errorf("%w: %s has an unreadable image index: %s", resolver.ErrInvalidImage, ref, detail(err))
		}
		if depth == 0 {
			out.platforms = platformDigests(index)
		}
		out.Manifests = append(out.Manifests, descriptors(index.Manifests)...)
		d, err := choose(ref, index, platform)
		if err != nil {
			return PlatformImage{}, nil, nil, err
		}
		child := r.Context().Digest(d.Digest.String())
		if m, err = s.manifest(callCtx, cl, child, c.o.maxManifest); err != nil {
			return PlatformImage{}, nil, nil, c.wrap(ctx, cl, opManifest, registry, child.String(), resolver.ErrNotFound, err)
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

// maxQuotedPlatforms is how many of an index's platforms an error lists.
const maxQuotedPlatforms = 20

// platformError reports an index without an image for the platform. It is
// a "not found", as BuildKit reports it.
type platformError struct {
	ref, platform string
	have          []string
}

func (e *platformError) Error() string {
	have := "none"
	if len(e.have) > 0 {
		var hs []string
		for _, h := range e.have[:min(len(e.have), maxQuotedPlatforms)] {
			hs = append(hs, transport.Excerpt([]byte(h), 100))
		}
		if n := len(e.have) - maxQuotedPlatforms; n > 0 {
			hs = append(hs, fmt.Sprintf("and %d more", n))
		}
		have = strings.Join(hs, ", ")
	}
	return fmt.Sprintf("%s has no image for platform %s: not found (its index has %s)", e.ref, e.platform, have)
}

func (e *platformError) Is(target error) bool { return target == resolver.ErrNotFound }

// Registry declares what the client does for the resolver: every way of
// reading a registry it asks for.
func (c *Client) Registry() resolver.Registry {
	return resolver.Registry{Tags: c, Prefixes: c, Manifests: c, Platforms: c, Catalog: c}
}

var _ resolver.ImageResolver = (*Client)(nil)
