package registry

import (
	"bytes"
	"context"
	"fmt"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/resolver"
)

// PlatformDigests maps each platform ("os/arch[/variant]") of the image index
// ref points to to its manifest digest. It returns nil for a single-platform
// manifest. Entries without a real platform, such as BuildKit's attestation
// manifests ("unknown/unknown"), are left out.
func (c *Client) PlatformDigests(ctx context.Context, ref string) (map[string]digest.Digest, error) {
	r, err := c.parseReference(ref)
	if err != nil {
		return nil, err
	}
	callCtx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	desc, err := remote.Get(r, c.remoteOptions(callCtx)...)
	if err != nil {
		return nil, c.wrap(ctx, "get manifest of", r.Context().RegistryStr(), ref, resolver.ErrNotFound, err)
	}
	switch mt := desc.MediaType; {
	case mt.IsSchema1():
		return nil, fmt.Errorf("%w: %s is a Docker schema 1 manifest, which sdkfront does not support; push the SDK image again with a current Docker or BuildKit", resolver.ErrInvalidImage, ref)
	case mt.IsImage():
		return nil, nil
	case !mt.IsIndex():
		return nil, fmt.Errorf("%w: %s is a %s, not an image or image index", resolver.ErrInvalidImage, ref, mt)
	}
	index, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%w: %s has an unreadable image index: %v", resolver.ErrInvalidImage, ref, err)
	}
	platforms := map[string]digest.Digest{}
	for _, m := range index.Manifests {
		p := m.Platform
		if p == nil || p.OS == "" || p.OS == "unknown" || p.Architecture == "" {
			continue
		}
		platforms[path.Join(p.OS, p.Architecture, p.Variant)] = digest.Digest(m.Digest.String())
	}
	return platforms, nil
}
