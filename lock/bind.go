package lock

import (
	"context"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// Check sees an entry's digest only as a digest: a pull request can keep
// an entry's version and tag and swap in the digest of another version's
// image of the same repository. What binds the digest to the version is
// the image itself: its config's version label (resolver.LabelledVersion),
// read where the registry is read, and the tag, which sdkfront lock
// --check resolves again.

// BindingError is an entry whose digest is the image of another version
// than the entry's, by its version label.
type BindingError struct {
	Ref     string        // the entry's reference
	Version string        // the entry's
	Digest  digest.Digest // the entry's
	Label   resolver.VersionLabel
	// Lock is the lock's name, for messages; "" if not known.
	Lock string
}

func (e *BindingError) Error() string {
	in := ""
	if e.Lock != "" {
		in = " in " + e.Lock
	}
	return fmt.Sprintf("%s is locked%s to %s, but its digest %s is the image of %s (label %s); run sdkfront lock --update %s",
		quote(e.Ref), in, quote(e.Version), e.Digest, quote(e.Label.Version), e.Label.Label, quote(e.Ref))
}

// Is makes a BindingError match ErrInvalid: the entry is not what it says.
func (e *BindingError) Is(target error) bool { return target == ErrInvalid }

// Bind checks that the image a lock entry pins (as Entry.Resolution gives
// it), read with its config (resolver.ReadPinnedConfig), is of the entry's
// version: the version label of its config must name it. It returns the
// label; the zero label if the image has none, which leaves the binding
// unchecked.
func Bind(res resolver.Resolution, config []byte) (resolver.VersionLabel, error) {
	l, err := resolver.LabelledVersion(res.Pinned(), config)
	if err != nil || l.Label == "" {
		return l, err
	}
	if !l.Names(res.Version) {
		return l, &BindingError{Ref: res.Ref, Version: res.Version, Digest: res.Digest, Label: l}
	}
	return l, nil
}

// TagError is an entry whose tag no longer points to the entry's digest:
// the tag moved (an image was published again under it), or the entry's
// digest is another image's.
type TagError struct {
	Ref             string
	Repository, Tag string
	Platform        string        // the platform it was resolved for, for a platform manifest
	Locked, Current digest.Digest // the entry's, and what the tag gives
}

func (e *TagError) Error() string {
	what := "points to"
	if e.Platform != "" {
		what = "gives for " + e.Platform
	}
	return fmt.Sprintf("%s: the tag %s:%s %s %s, but the lock pins %s: the tag moved, or the entry's digest is another image's; run sdkfront lock --update %s to pin what the tag gives",
		quote(e.Ref), e.Repository, e.Tag, what, e.Current, e.Locked, quote(e.Ref))
}

// Is makes a TagError match ErrInvalid: the entry is not what its tag
// gives.
func (e *TagError) Is(target error) bool { return target == ErrInvalid }

// Verify resolves e's tag again for platform p, straight from its registry
// with the image's config: the tag must point to e's digest, and for p to
// e's manifest for p (a *TagError if not), and the image's version label
// must name e's version (a *BindingError if not; Bind). It returns the
// label, the zero label if the image has none. Other errors are the
// registry's. One read of the manifest and one of the config.
func (e Entry) Verify(ctx context.Context, mr resolver.ManifestResolver, p ocispecs.Platform) (resolver.VersionLabel, error) {
	k := PlatformKey(p)
	want, ok := e.Platforms[k]
	if !ok {
		return resolver.VersionLabel{}, fmt.Errorf("%s is not locked for %s", quote(e.Ref), k)
	}
	m, err := mr.ResolveManifest(ctx, e.Repository+":"+e.Tag, p, true)
	switch {
	case err != nil:
		return resolver.VersionLabel{}, err
	case m.Digest != e.Digest:
		return resolver.VersionLabel{}, &TagError{Ref: e.Ref, Repository: e.Repository, Tag: e.Tag, Locked: e.Digest, Current: m.Digest}
	case m.Image != want:
		return resolver.VersionLabel{}, &TagError{Ref: e.Ref, Repository: e.Repository, Tag: e.Tag, Platform: k, Locked: want, Current: m.Image}
	}
	return Bind(e.pinned(), m.Config)
}

// pinned is what e pins, for Bind.
func (e Entry) pinned() resolver.Resolution {
	return resolver.Resolution{Ref: e.Ref, Flavor: e.Flavor, Version: e.Version, Repository: e.Repository, Tag: e.Tag, Digest: e.Digest, Locked: true}
}
