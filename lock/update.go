package lock

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/sdkfront/sdkfront/resolver"
)

// Locker brings a lock up to date with what a Dockerfile needs: it keeps
// the entries the lock has, extends them to the platforms they lack,
// resolves the rest, and checks each entry as a build reads it.
type Locker struct {
	// Resolver resolves what the lock does not pin, and reads an image by
	// digest for a platform a kept entry lacks (Resolver.ReadPinned):
	// every read of the registries shares its limits.
	Resolver *resolver.Resolver
	// Platform gives the image manifest of repository@d for p and every
	// descriptor a pull of it fetches content by (index entries, config,
	// layers: see resolver.Manifest.Descriptors), for a resolution made
	// through the resolver's ImageResolver, which reads neither.
	Platform func(ctx context.Context, repository string, d digest.Digest, p ocispecs.Platform) (digest.Digest, []ocispecs.Descriptor, error)
	// AllowForeign are the hosts an SDK's descriptors may name in foreign URLs
	// (SDK_ALLOW_FOREIGN_URLS).
	AllowForeign []string
	// Update says whether a need is re-resolved although it is locked
	// (sdkfront lock --update).
	Update func(*Need) bool
	// Verify checks each digest before it is locked, kept or resolved
	// (plan.Plan.Verify), and gives the signatures the entry records;
	// nil checks nothing.
	Verify func(ctx context.Context, res resolver.Resolution) ([]Signature, error)
}

func (l *Locker) verify(ctx context.Context, res resolver.Resolution) ([]Signature, error) {
	if l.Verify == nil {
		return nil, nil
	}
	return l.Verify(ctx, res)
}

// Change is what locking does to one need's entry.
type Change struct {
	*Need
	// Entry is the entry the lock gets.
	Entry Entry
	// Old is the entry the lock had for the key, and Bad the invalid one
	// Parse left out in its place.
	Old *Entry
	Bad *EntryError
	// Added are the platforms a kept entry was extended to.
	Added []string
	// Fallbacks are the lines whose base image's flavor the SDK lacks,
	// locked with the default flavor instead, as a build falls back.
	Fallbacks []Fallback
	Err       error
}

// Fallback is lines that fell back from their base image's flavor.
type Fallback struct {
	Lines          []int
	Base, Detected string
	Flavor         string // the flavor they got
}

// Plan pairs each need with what old has for its key.
func (l *Locker) Plan(old *File, bad *InvalidEntriesError, needs []*Need) []*Change {
	var out []*Change
	for _, n := range needs {
		c := &Change{Need: n}
		c.lookup(old, bad)
		out = append(out, c)
	}
	return out
}

func (c *Change) lookup(old *File, bad *InvalidEntriesError) {
	c.Old = nil
	if e, ok := old.Lookup(c.Key); ok {
		c.Old = &e
	}
	c.Bad, _ = bad.Of(c.Key)
}

// Resolves reports whether locking c resolves anything: it is not locked,
// lacks a platform, or is to be updated.
func (l *Locker) Resolves(c *Change) bool {
	return c.Old == nil || l.updating(c.Need) || len(c.Missing(*c.Old)) > 0
}

func (l *Locker) updating(n *Need) bool { return l.Update != nil && l.Update(n) }

// Lock locks every change concurrently, then joins those that ended on
// the same key (a line that fell back to the default flavor, and a line
// of it). A change that fails has Err; the error is a *ConflictError.
func (l *Locker) Lock(ctx context.Context, old *File, bad *InvalidEntriesError, changes []*Change) ([]*Change, error) {
	var eg errgroup.Group
	eg.SetLimit(8)
	for _, c := range changes {
		eg.Go(func() error {
			l.lock(ctx, old, bad, c)
			return nil
		})
	}
	_ = eg.Wait()
	changes, err := merge(changes)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		if c.Err == nil {
			// What is written is checked as a build reads it: a
			// registry's answers are not trusted either.
			c.Err = c.Entry.Check(c.Want)
		}
	}
	return changes, nil
}

// lock locks one change: keeps and extends its entry, or resolves it.
func (l *Locker) lock(ctx context.Context, old *File, bad *InvalidEntriesError, c *Change) {
	if c.Old != nil && !l.updating(c.Need) {
		c.Entry, c.Added, c.Err = l.extend(ctx, c)
		return
	}
	c.Entry, c.Err = l.resolve(ctx, c, c.Key.Flavor)
	if c.Err == nil || !FallsBack(c.Fallback, c.Err) {
		return
	}
	// The SDK lacks the base image's flavor: the default, as the
	// frontend falls back to it.
	c.Fallbacks = append(c.Fallbacks, Fallback{Lines: slices.Clone(c.Lines), Base: c.Base, Detected: c.Key.Flavor, Flavor: c.Fallback})
	c.Key.Flavor, c.Err = c.Fallback, nil
	c.lookup(old, bad)
	if c.Old != nil && !l.updating(c.Need) {
		c.Entry, c.Added, c.Err = l.extend(ctx, c)
	} else {
		c.Entry, c.Err = l.resolve(ctx, c, c.Key.Flavor)
	}
}

// resolve resolves c afresh for every platform it needs, and for those its
// old entry holds.
func (l *Locker) resolve(ctx context.Context, c *Change, flavor string) (Entry, error) {
	ps := slices.Clone(c.Platforms)
	if c.Old != nil {
		for _, k := range slices.Sorted(maps.Keys(c.Old.Platforms)) {
			if !c.HasPlatform(k) {
				p, err := platforms.Parse(k)
				if err != nil {
					return Entry{}, err
				}
				ps = append(ps, p)
			}
		}
	}
	var e Entry
	for i, p := range ps {
		res, err := l.Resolver.Resolve(ctx, resolver.Request{Ref: c.Want.Ref, Flavor: flavor, Source: c.Want.Source, Target: p})
		if err != nil {
			if i > 0 {
				// It resolved for the first platform, so this one matters.
				err = fmt.Errorf("for %s: %w", PlatformKey(p), err)
			}
			return Entry{}, err
		}
		// Read straight from the registry, the resolution has the
		// platform's manifest and descriptors; else Platform reads them.
		m, descs := res.Image, res.Descriptors()
		if res.Layers == nil {
			m, descs, err = l.Platform(ctx, res.Repository, res.Digest, p)
		}
		if err == nil {
			err = resolver.CheckForeignURLs(res.Pinned(), descs, l.AllowForeign)
		}
		if err != nil {
			return Entry{}, fmt.Errorf("for %s: %w", PlatformKey(p), err)
		}
		if i == 0 {
			sigs, err := l.verify(ctx, res)
			if err != nil {
				return Entry{}, err
			}
			e = FromResolution(res, c.Key.Source, p, m)
			e.Signatures = sigs
			e.Key = c.Key
			e.Flavor = flavor
			continue
		}
		if res.Digest != e.Digest {
			return Entry{}, fmt.Errorf("resolves to %s (%s) for %s but to %s (%s) for %s; one lock entry holds one resolution: try again, or pin the version",
				e.Version, e.Digest, PlatformKey(ps[0]), res.Version, res.Digest, PlatformKey(p))
		}
		e.Platforms[PlatformKey(p)] = m
	}
	return e, nil
}

// extend keeps c's old entry and locks the platforms it lacks: the same
// digest, read for them and checked as a resolution is. The image is read
// with its config for every platform c needs, those the entry holds too:
// its version label must name the entry's version (a *BindingError if
// not), and its manifest be the one the entry holds.
func (l *Locker) extend(ctx context.Context, c *Change) (Entry, []string, error) {
	e := *c.Old
	e.Platforms = maps.Clone(c.Old.Platforms)
	var added []string
	for _, p := range c.Platforms {
		k := PlatformKey(p)
		held, had := e.Platforms[k]
		ref := e.Repository + "@" + e.Digest.String()
		m, err := l.Resolver.ReadPinnedConfig(ctx, ref, p)
		if errors.As(err, new(*resolver.ImageError)) {
			return e, nil, err // not an SDK image
		}
		if err != nil {
			return e, nil, fmt.Errorf("locked to %s, which cannot be resolved for %s: %w; to re-resolve it, run sdkfront lock --update %s", e.Version, k, resolver.Advise(err), c.Key.Ref)
		}
		if had && m.Image != held {
			return e, nil, fmt.Errorf("locked to %s, whose manifest for %s is %s, not the lock's %s; to re-resolve it, run sdkfront lock --update %s", e.Version, k, m.Image, held, c.Key.Ref)
		}
		if err := resolver.CheckForeignURLs(ref, m.Descriptors(), l.AllowForeign); err != nil {
			return e, nil, fmt.Errorf("for %s: %w", k, err)
		}
		if _, err := Bind(e.pinned(), m.Config); err != nil {
			return e, nil, err
		}
		if !had {
			e.Platforms[k] = m.Image
			added = append(added, k)
		}
	}
	// Verified again under the policy of today: what it records now.
	sigs, err := l.verify(ctx, e.pinned())
	if err != nil {
		return e, nil, err
	}
	e.Signatures = sigs
	return e, added, nil
}

// ConflictError is two lines whose needs ended on one key but resolved to
// different digests (a tag moved while locking).
type ConflictError struct {
	Ref                   string
	Line, OtherLine       int
	Version, OtherVersion string
	Digest, OtherDigest   digest.Digest
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("SDK %s: resolves to %s (%s) here but to %s (%s) at line %d; try again", e.Ref, e.Version, e.Digest, e.OtherVersion, e.OtherDigest, e.OtherLine)
}

// merge joins changes that ended on the same key: one entry, the
// platforms and lines of both.
func merge(changes []*Change) ([]*Change, error) {
	var out []*Change
	byKey := map[Key]*Change{}
	for _, c := range changes {
		m := byKey[c.Key]
		if m == nil || c.Err != nil || m.Err != nil {
			byKey[c.Key] = c
			out = append(out, c)
			continue
		}
		if m.Entry.Digest != c.Entry.Digest {
			return nil, &ConflictError{Ref: c.Key.Ref, Line: c.Lines[0], OtherLine: m.Lines[0],
				Version: c.Entry.Version, Digest: c.Entry.Digest, OtherVersion: m.Entry.Version, OtherDigest: m.Entry.Digest}
		}
		maps.Copy(m.Entry.Platforms, c.Entry.Platforms)
		for _, p := range c.Platforms {
			m.addPlatform(p)
		}
		for _, line := range c.Lines {
			if !slices.Contains(m.Lines, line) {
				m.Lines = append(m.Lines, line)
			}
		}
		for _, a := range c.Added {
			if !slices.Contains(m.Added, a) {
				m.Added = append(m.Added, a)
			}
		}
		m.Fallbacks = append(m.Fallbacks, c.Fallbacks...)
	}
	return out, nil
}

// Kind is what locking did to an entry, as sdkfront lock reports it.
type Kind int

const (
	Added        Kind = iota // a new entry
	Replaced                 // a new entry in place of an invalid one
	Updated                  // another version
	Moved                    // the same version, another digest: its tag moved
	Extended                 // the same entry, for more platforms
	Remanifested             // the same entry, other platform manifests
	Resigned                 // the same entry, other signatures
	Unchanged
)

// Kind is what locking did to c's entry.
func (c *Change) Kind() Kind {
	e := c.Entry
	switch {
	case c.Old == nil && c.Bad != nil:
		return Replaced
	case c.Old == nil:
		return Added
	case e.Digest != c.Old.Digest && e.Version != c.Old.Version:
		return Updated
	case e.Digest != c.Old.Digest:
		return Moved
	case len(c.Added) > 0:
		return Extended
	case !maps.Equal(e.Platforms, c.Old.Platforms):
		return Remanifested
	case !slices.Equal(e.Signatures, c.Old.Signatures):
		return Resigned
	}
	return Unchanged
}

// Result is the lock the changes give, and what it no longer holds: the
// entries of old, valid and invalid, that no change kept.
func Result(old *File, bad *InvalidEntriesError, changes []*Change) (f *File, removed []Entry, removedBad []*EntryError) {
	f = &File{}
	wanted := map[Key]bool{}
	for _, c := range changes {
		wanted[c.Key] = true
		f.SDKs = append(f.SDKs, c.Entry)
	}
	if old != nil {
		for _, e := range old.Sorted() {
			if !wanted[e.Key] {
				removed = append(removed, e)
			}
		}
	}
	if bad != nil {
		for _, ee := range bad.Entries {
			if !wanted[ee.Key] {
				removedBad = append(removedBad, ee)
			}
		}
	}
	return f, removed, removedBad
}
