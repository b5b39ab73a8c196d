package resolver

import (
	"context"
	"fmt"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// What Resolve can pin, for code that checks a pin it did not make (a
// lockfile's entry): the repository and tags it resolves in, the versions
// a constraint admits, and the image checks.

// SourceIn is the source r resolves in when the build's is s: s (or
// DefaultSource for the zero Source), or for a reference naming its
// repository, that repository with tags "{flavor}-{version}".
func (r Ref) SourceIn(s Source) Source {
	if r.Repository != "" {
		return repositorySource(r.Repository)
	}
	return s.orDefault()
}

// DefaultTag is the tag naming a flavor's default version, whose label
// says which version that is ("bookworm-default").
func (s Source) DefaultTag(flavor string) string { return s.Tag(flavor, defaultTagVersion) }

// Admits reports whether Resolve may resolve c to version, as tagged: the
// version itself for an exact one, else a version that c matches; for the
// default version, any version (the default tag's label names it).
func (c Constraint) Admits(version string) bool {
	switch c.Kind {
	case Default:
		if lc, err := ParseConstraint(version); err == nil && lc.Kind == Exact {
			return true // a label naming an exact version is pinned as it is
		}
		_, err := ParseVersion(version)
		return err == nil
	case Exact:
		if version == c.Raw {
			return true
		}
	}
	v, err := ParseVersion(version)
	return err == nil && c.Matches(v)
}

// ReadPinned reads an image pinned by digest ("repository@sha256:…") for a
// platform straight from its registry, with the Registry's
// ManifestResolver, and checks it as Resolve checks what it resolves: an
// SDK image, one layer that is not empty. Its Descriptors are for
// CheckForeignURLs and Image is the platform's image manifest. It is one
// of the Resolver's reads: it waits for a slot, and takes at most
// ReadTimeout.
func (r *Resolver) ReadPinned(ctx context.Context, pinned string, p ocispecs.Platform) (Manifest, error) {
	return r.readPinned(ctx, pinned, p, false)
}

// ReadPinnedConfig is ReadPinned with the image's config read too (one
// more request, in the same read): Config holds it, for the version its
// label names (LabelledVersion).
func (r *Resolver) ReadPinnedConfig(ctx context.Context, pinned string, p ocispecs.Platform) (Manifest, error) {
	return r.readPinned(ctx, pinned, p, true)
}

func (r *Resolver) readPinned(ctx context.Context, pinned string, p ocispecs.Platform, config bool) (Manifest, error) {
	mr := r.reg.Manifests
	if mr == nil {
		return Manifest{}, fmt.Errorf("cannot read %s: the resolver reads no manifests from registries", pinned)
	}
	var m Manifest
	err := r.read(ctx, func(ctx context.Context) (err error) {
		m, err = readManifest(ctx, mr, pinned, p, config)
		return err
	})
	if err != nil {
		return Manifest{}, err
	}
	return m, checkManifest(pinned, m)
}

// readManifest reads ref's manifest for p, and its config too if asked,
// or if the one layer is too small to tell whether it is empty.
func readManifest(ctx context.Context, mr ManifestResolver, ref string, p ocispecs.Platform, config bool) (Manifest, error) {
	m, err := mr.ResolveManifest(ctx, ref, p, config)
	if err == nil && m.Config == nil && len(m.Layers) == 1 && m.Layers[0].Size < minLayerSize {
		m, err = mr.ResolveManifest(ctx, ref, p, true)
	}
	return m, err
}

// checkManifest checks that an image is an SDK image, from its config if
// it was read, else from its manifest's layers.
func checkManifest(ref string, m Manifest) error {
	if m.Config != nil {
		return checkImage(ref, m.Config)
	}
	return checkLayers(ref, m.Layers)
}
