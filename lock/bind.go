package lock

import (
	"fmt"

	digest "github.com/opencontainers/go-digest"

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
