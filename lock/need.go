package lock

import (
	"slices"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// Want is what a Dockerfile line asks of the entry that pins it.
type Want struct {
	// Ref is the line's reference; for a version file's
	// ("python@file:.python-version"), with the constraint the file gave.
	Ref resolver.Ref
	// Source is the build's source template.
	Source resolver.Source
	// FromFile says that Ref's constraint came from a version file: the
	// key holds it, so that editing the file makes the entry stale.
	FromFile bool
}

// Key is the key of the entry that pins w for a flavor.
func (w Want) Key(flavor string) Key {
	k := Key{Ref: w.Ref.Raw, Flavor: flavor, Source: w.Source.String()}
	if w.FromFile {
		k.Constraint = w.Ref.Constraint.Raw
	}
	return k
}

// Use is what locking sees of an SDK line on one target platform: the
// locking part of a plan.Need, which a build and sdkfront lock both make.
type Use struct {
	Want
	// Flavor is the flavor the line gets: its own, the build's, or its
	// base image's. "" stands for a base image's that is not known
	// (sdkfront lock --check reads no registry): any flavor fits.
	Flavor string
	// Fallback is the flavor the line gets if the SDK lacks Flavor, which
	// was detected from Base; "" if Flavor was not detected.
	Fallback, Base string
	// Platform is the platform of the line's stage.
	Platform ocispecs.Platform
	// Line is where the line stands in the Dockerfile, for messages.
	Line int
}

// Need is one key a Dockerfile needs locked: the lines that use it, and
// the platforms of their stages.
type Need struct {
	Key  Key
	Want Want
	// Fallback is the flavor to lock if the SDK lacks Key.Flavor, which
	// was detected from Base.
	Fallback, Base string
	Platforms      []ocispecs.Platform // in order of appearance
	Lines          []int               // in order of appearance
}

// Needs groups uses by key, in the order they appear.
func Needs(uses []Use) []*Need {
	var out []*Need
	byKey := map[Key]*Need{}
	for _, u := range uses {
		k := u.Key(u.Flavor)
		n := byKey[k]
		if n == nil {
			n = &Need{Key: k, Want: u.Want, Fallback: u.Fallback}
			if u.Fallback != "" {
				n.Base = u.Base
			}
			byKey[k] = n
			out = append(out, n)
		}
		n.addPlatform(u.Platform)
		if !slices.Contains(n.Lines, u.Line) {
			n.Lines = append(n.Lines, u.Line)
		}
	}
	return out
}

// HasPlatform reports whether n needs the platform written as k.
func (n *Need) HasPlatform(k string) bool {
	return slices.ContainsFunc(n.Platforms, func(p ocispecs.Platform) bool { return PlatformKey(p) == k })
}

func (n *Need) addPlatform(p ocispecs.Platform) {
	if !n.HasPlatform(PlatformKey(p)) {
		n.Platforms = append(n.Platforms, p)
	}
}

// Fits reports whether an entry with key k pins n: the same key, or a
// flavor n may get (detected, or its fallback; any, if its flavor is not
// known).
func (n *Need) Fits(k Key) bool {
	if k.Ref != n.Key.Ref || k.Source != n.Key.Source || k.Constraint != n.Key.Constraint {
		return false
	}
	return n.Key.Flavor == "" || slices.Contains(Flavors(n.Key.Flavor, n.Fallback), k.Flavor)
}

// Flavors are the flavors of the entries that may pin a line resolved
// with flavor, in the order they are looked up: its own, then the one it
// falls back to, if any. A build and sdkfront lock both look entries up by
// it, so that a lock pins a line the same way for both.
func Flavors(flavor, fallback string) []string {
	if fallback == "" || fallback == flavor {
		return []string{flavor}
	}
	return []string{flavor, fallback}
}

// Missing is the platforms n needs that e lacks.
func (n *Need) Missing(e Entry) []string {
	var out []string
	for _, p := range n.Platforms {
		if _, ok := e.Platforms[PlatformKey(p)]; !ok {
			out = append(out, PlatformKey(p))
		}
	}
	return out
}

// FallsBack reports whether a resolution that failed with err is tried
// again with the fallback flavor: the SDK lacks the flavor detected from
// the base image, and the line has one to fall back to. A build and
// sdkfront lock both fall back by it.
func FallsBack(fallback string, err error) bool {
	return fallback != "" && resolver.FlavorMissing(err)
}
