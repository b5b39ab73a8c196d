package resolver

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ConstraintKind says how a version constraint selects a version.
type ConstraintKind int

const (
	// Default selects the version named by the "<flavor>-default" tag; it
	// is what an empty constraint or "default" means.
	Default ConstraintKind = iota
	// Latest selects the newest stable version.
	Latest
	// Exact selects one version, as tagged ("1.23.4", "8.0.404_8.0.11").
	Exact
	// Partial selects the newest version in a line ("3.11", "3").
	Partial
	// Range selects the newest version in a semver range ("~3.11", "^3",
	// ">=3.10 <3.12").
	Range
)

func (k ConstraintKind) String() string {
	switch k {
	case Default:
		return "default"
	case Latest:
		return "latest"
	case Exact:
		return "exact"
	case Partial:
		return "partial"
	case Range:
		return "range"
	}
	return fmt.Sprintf("ConstraintKind(%d)", int(k))
}

// Constraint is a parsed version constraint. The zero value is Default.
type Constraint struct {
	Kind ConstraintKind
	// Raw is the constraint as written ("" for an omitted one).
	Raw string

	semver *semver.Constraints // Partial, Range
	exact  *semver.Version     // Exact, when leniently parseable
}

// ParseConstraint parses the part of an SDK reference after "@".
func ParseConstraint(s string) (Constraint, error) {
	c := Constraint{Raw: s}
	switch {
	case s == "" || s == "default":
		c.Kind = Default
	case s == "latest":
		c.Kind = Latest
	case exactVersion.MatchString(s):
		c.Kind = Exact
		// Unparseable exact versions ("1.2.3.4") are still usable as a tag.
		c.exact, _ = ParseVersion(s)
	default:
		c.Kind = Range
		if partialVersion.MatchString(s) {
			c.Kind = Partial // Masterminds reads "3.11" as 3.11.x
		}
		sc, err := semver.NewConstraint(s)
		if err != nil {
			return Constraint{}, fmt.Errorf("%w: invalid version constraint %q: want a version (1.23.4), a partial version (1.23), a range (~1.23, >=1.22 <1.24), \"latest\" or \"default\"", ErrInvalidRef, s)
		}
		c.semver = sc
	}
	return c, nil
}

// String returns the constraint as written.
func (c Constraint) String() string { return c.Raw }

// Matches reports whether the version, parsed leniently from a tag, satisfies
// the constraint. Prereleases match only constraints that name a prerelease.
// Default matches nothing: it is resolved through the default tag.
func (c Constraint) Matches(v *semver.Version) bool {
	switch c.Kind {
	case Latest:
		return v.Prerelease() == ""
	case Exact:
		return c.exact != nil && c.exact.Equal(v)
	case Partial, Range:
		return c.semver.Check(v)
	}
	return false
}

// anchor is the version the constraint is about, used to rank the nearest
// available versions in a NoMatchError; nil if there is none.
func (c Constraint) anchor() *semver.Version {
	if c.exact != nil {
		return c.exact
	}
	if m := firstVersion.FindString(c.Raw); m != "" {
		v, _ := ParseVersion(m)
		return v
	}
	return nil
}

// tagPrefix is how the tags of every version c may match begin: the
// version itself for an exact or partial one ("1.23" matches 1.23.x, whose
// tags start "1.23"), else nothing.
func (c Constraint) tagPrefix() string {
	switch c.Kind {
	case Exact, Partial:
		return strings.TrimPrefix(c.Raw, "v")
	}
	return ""
}
