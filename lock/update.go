package lock

import (
	"fmt"
	"maps"
	"slices"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/resolver"
)

// Locker brings a lock up to date with what a Dockerfile needs, from what
// resolving its needs gave (plan.Plan.Resolve, which keeps the entries the
// lock has, extended to the platforms they lack, and resolves the rest):
// an entry a key, each checked as a build reads it.
type Locker struct {
	// Update says whether a need is re-resolved although it is locked
	// (sdkfront lock --update).
	Update func(*Need) bool
}

// Got is what resolving one use gave (a plan.Resolved): the entry's
// resolution for the use's stage platform.
type Got struct {
	Use
	Res resolver.Resolution
	// Locked says that Res is the lock's entry, read for the platform:
	// Res.Platforms holds the platform's manifest. FellBack says that it
	// was resolved with the use's fallback flavor.
	Locked, FellBack bool
	Err              error
	// Also are the resolutions, afresh, for the platforms the old entry
	// holds beyond the uses' (kept by sdkfront lock --update).
	Also []resolver.Resolution
	// Signatures are the signatures verified on Res's digest under the
	// policy sdkfront lock was given (none without one), which the entry
	// records.
	Signatures []Signature
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

// Lock gives each change its entry from what its uses got, then joins
// those that ended on the same key (a line that fell back to the default
// flavor, and a line of it). A change that fails has Err; the error is a
// *ConflictError.
func (l *Locker) Lock(old *File, bad *InvalidEntriesError, changes []*Change, got []Got) ([]*Change, error) {
	for _, c := range changes {
		c.lock(old, bad, got)
	}
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

// lock makes c's entry: the lock's, extended to the platforms it lacked,
// or the resolution of c's first platform, which every other platform's
// must share.
func (c *Change) lock(old *File, bad *InvalidEntriesError, got []Got) {
	var mine []Got // c's, a platform each, in c's order
	for _, p := range c.Platforms {
		k := PlatformKey(p)
		i := slices.IndexFunc(got, func(g Got) bool { return g.Key(g.Flavor) == c.Key && PlatformKey(g.Platform) == k })
		if i < 0 {
			c.Err = fmt.Errorf("for %s: not resolved", k)
			return
		}
		mine = append(mine, got[i])
	}
	first := mine[0]
	if c.Err = first.Err; c.Err != nil {
		return
	}
	if first.FellBack || first.Locked && first.Res.Flavor != c.Key.Flavor {
		// The SDK lacks the base image's flavor: the default, as the
		// frontend falls back to it.
		c.Fallbacks = append(c.Fallbacks, Fallback{Lines: slices.Clone(c.Lines), Base: c.Base, Detected: c.Key.Flavor, Flavor: c.Fallback})
		c.Key.Flavor = c.Fallback
		c.lookup(old, bad)
	}
	if first.Locked {
		e := *c.Old
		e.Platforms = maps.Clone(c.Old.Platforms)
		for _, g := range mine {
			if k := PlatformKey(g.Platform); e.Platforms[k] == "" {
				e.Platforms[k] = g.Res.Platforms[k]
				c.Added = append(c.Added, k)
			}
		}
		e.Signatures = first.Signatures
		c.Entry = e
		return
	}
	e := FromResolution(first.Res, c.Key.Source, first.Platform, first.Res.Image)
	e.Key = c.Key
	e.Signatures = first.Signatures
	for _, g := range mine[1:] {
		if res := g.Res; res.Digest != e.Digest {
			c.Err = fmt.Errorf("resolves to %s (%s) for %s but to %s (%s) for %s; one lock entry holds one resolution: try again, or pin the version",
				e.Version, e.Digest, PlatformKey(first.Platform), res.Version, res.Digest, PlatformKey(g.Platform))
			return
		}
		e.Platforms[PlatformKey(g.Platform)] = g.Res.Image
	}
	for _, res := range first.Also {
		if res.Digest != e.Digest {
			c.Err = fmt.Errorf("resolves to %s (%s) for %s but to %s (%s) for %s; one lock entry holds one resolution: try again, or pin the version",
				e.Version, e.Digest, PlatformKey(first.Platform), res.Version, res.Digest, PlatformKey(res.Target))
			return
		}
		e.Platforms[PlatformKey(res.Target)] = res.Image
	}
	c.Entry = e
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
