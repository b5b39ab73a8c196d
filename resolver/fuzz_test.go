package resolver

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// Fuzz targets of the parsers (make fuzz). Seeds are in testdata/fuzz/.
// Properties: no panics, errors that match their sentinel, and round trips.

// probes are versions every parsed constraint is matched against.
var probes = func() []*semver.Version {
	var vs []*semver.Version
	for _, s := range []string{"0.0.0", "1.23.4", "3.11.9", "3.13.0-rc2", "8.0.404", "20.11.1", "99999.0.0"} {
		vs = append(vs, semver.MustParse(s))
	}
	return vs
}()

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"golang@1.23", "mcr.microsoft.com/oryx/python-sdk@3.11"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("ParseRef(%q) error %v is not ErrInvalidRef", s, err)
			}
			return
		}
		if r.Raw != s || r.String() != s {
			t.Fatalf("ParseRef(%q).Raw = %q", s, r.Raw)
		}
		if !platformName.MatchString(r.Platform) {
			t.Fatalf("ParseRef(%q).Platform = %q, not a platform name", s, r.Platform)
		}
		name, constraint, _ := strings.Cut(s, "@")
		if (r.Repository != "") != strings.Contains(name, "/") {
			t.Fatalf("ParseRef(%q).Repository = %q", s, r.Repository)
		}
		if r.Constraint.Raw != constraint {
			t.Fatalf("ParseRef(%q).Constraint.Raw = %q, want %q", s, r.Constraint.Raw, constraint)
		}
		c, err := ParseConstraint(constraint)
		if err != nil || c.Kind != r.Constraint.Kind {
			t.Fatalf("ParseConstraint(%q) = %v, %v; ParseRef made it %v", constraint, c.Kind, err, r.Constraint.Kind)
		}
		// Deterministic.
		r2, err := ParseRef(s)
		if err != nil || r2.Platform != r.Platform || r2.Repository != r.Repository || r2.Constraint.Kind != r.Constraint.Kind {
			t.Fatalf("ParseRef(%q) twice: %+v, %+v (%v)", s, r, r2, err)
		}
	})
}

func FuzzParseConstraint(f *testing.F) {
	for _, s := range []string{"", "latest", "3.11.9", "~3.11", ">=3.10 <3.12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConstraint(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("ParseConstraint(%q) error %v is not ErrInvalidRef", s, err)
			}
			return
		}
		if c.Raw != s || c.String() != s {
			t.Fatalf("ParseConstraint(%q).Raw = %q", s, c.Raw)
		}
		for _, v := range probes {
			m := c.Matches(v)
			if m && c.Kind == Default {
				t.Fatalf("default constraint %q matches %s", s, v)
			}
			if m && c.Kind == Latest && v.Prerelease() != "" {
				t.Fatalf("latest matches prerelease %s", v)
			}
		}
		c.anchor()
		if c.Kind == Exact && c.exact != nil && !c.Matches(c.exact) {
			t.Fatalf("exact constraint %q does not match its own version %s", s, c.exact)
		}
		// A partial version matches its own line's first release.
		if c.Kind == Partial {
			v, err := ParseVersion(s)
			if err != nil {
				t.Fatalf("partial %q is no version: %v", s, err)
			}
			if !c.Matches(v) {
				t.Fatalf("partial %q does not match %s", s, v)
			}
		}
		c2, err := ParseConstraint(s)
		if err != nil || c2.Kind != c.Kind {
			t.Fatalf("ParseConstraint(%q) twice: %v, %v (%v)", s, c.Kind, c2.Kind, err)
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.23.4", "8.0.404_8.0.11", "3.13.0rc2", "v1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		// The semver string form parses back to the same version.
		v2, err := ParseVersion(v.String())
		if err != nil {
			t.Fatalf("ParseVersion(%q) = %s, which does not parse back: %v", s, v, err)
		}
		if !v.Equal(v2) || v.Compare(v2) != 0 || v.Prerelease() != v2.Prerelease() {
			t.Fatalf("ParseVersion(%q) = %s, parses back as %s", s, v, v2)
		}
		// An exact constraint of the same text matches it.
		if c, err := ParseConstraint(s); err == nil && c.Kind == Exact && !c.Matches(v) {
			t.Fatalf("exact constraint %q does not match ParseVersion(%q) = %s", s, s, v)
		}
	})
}

// plainFlavor is a flavor that cannot be confused with a template's
// separators; versions are any non-empty run of tag characters.
var plainFlavor = regexp.MustCompile(`^[a-z0-9]+$`)

func FuzzParseSource(f *testing.F) {
	f.Add("127.0.0.1:5000/sdks/{platform}:{flavor}-{version}", "golang", "bookworm", "1.23.4")
	f.Fuzz(func(t *testing.T, template, platform, flavor, version string) {
		s, err := ParseSource(template)
		if err != nil {
			if !errors.Is(err, ErrInvalidSource) || !strings.Contains(err.Error(), strconv.Quote(template)) {
				t.Fatalf("ParseSource(%q) error %v: not ErrInvalidSource naming the template", template, err)
			}
			return
		}
		if s.String() != template || s.IsZero() {
			t.Fatalf("ParseSource(%q).String() = %q", template, s.String())
		}
		if platformName.MatchString(platform) {
			repo := s.Repository(platform)
			if !strings.Contains(repo, platform) || strings.Contains(repo, phPlatform) {
				t.Fatalf("%q.Repository(%q) = %q", template, platform, repo)
			}
			if p, ok := s.MatchRepository(repo); !ok || p != platform {
				t.Fatalf("%q.MatchRepository(%q) = %q, %v; want %q", template, repo, p, ok, platform)
			}
		}
		// A flavor made of the tag's literal characters is ambiguous
		// ("{flavor}x{version}" with flavor "ax"): not a round trip.
		literal := strings.NewReplacer(phFlavor, "", phVersion, "").Replace(s.tag)
		if !plainFlavor.MatchString(flavor) || strings.ContainsAny(flavor, literal) || version == "" || !tagChars.MatchString(version) {
			return
		}
		tag := s.Tag(flavor, version)
		f2, v2, ok := s.MatchTag(tag)
		wantFlavor := flavor
		if !s.flavored {
			wantFlavor = ""
		}
		if !ok || f2 != wantFlavor || v2 != version {
			t.Fatalf("template %q: Tag(%q, %q) = %q, MatchTag gives %q, %q, %v", template, flavor, version, tag, f2, v2, ok)
		}
	})
}
