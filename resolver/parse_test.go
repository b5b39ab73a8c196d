package resolver

import (
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1.23.4", "1.23.4"},
		{"1.23", "1.23.0"},
		{"1", "1.0.0"},
		{"v1.2.3", "1.2.3"},
		{"8.0.404_8.0.11", "8.0.404"},
		{"3.13.0rc2", "3.13.0-rc2"},
		{"3.13.0b1", "3.13.0-b1"},
		{"3.13.0a1", "3.13.0-a1"},
		{"1.24rc1", "1.24.0-rc1"},
		{"3.13.0-rc.2", "3.13.0-rc.2"},
	} {
		v, err := ParseVersion(tc.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tc.in, err)
			continue
		}
		if v.String() != tc.want {
			t.Errorf("ParseVersion(%q) = %s, want %s", tc.in, v, tc.want)
		}
	}
	for _, in := range []string{"", "default", "latest", "1.2.3.4", "x1.2"} {
		if v, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %s, want error", in, v)
		}
	}
}

func TestParseConstraint(t *testing.T) {
	for _, tc := range []struct {
		in       string
		kind     ConstraintKind
		match    []string
		nonMatch []string
	}{
		{"", Default, nil, []string{"1.0.0"}},
		{"default", Default, nil, nil},
		{"latest", Latest, []string{"1.2.3"}, []string{"1.3.0-rc1"}},
		{"3.11.9", Exact, []string{"3.11.9"}, []string{"3.11.10"}},
		{"8.0.404_8.0.11", Exact, []string{"8.0.404"}, []string{"8.0.405"}},
		{"3.13.0rc2", Exact, []string{"3.13.0-rc2"}, []string{"3.13.0"}},
		{"1.2.3.4", Exact, nil, []string{"1.2.3"}},
		{"1.24rc1", Exact, []string{"1.24.0-rc1"}, []string{"1.24.0"}},
		{"1.x", Range, []string{"1.24.0"}, []string{"2.0.0"}},
		{"1.2.x", Range, []string{"1.2.9"}, []string{"1.3.0"}},
		{"3.11", Partial, []string{"3.11.0", "3.11.9"}, []string{"3.12.0", "3.11.10-rc1"}},
		{"3", Partial, []string{"3.0.0", "3.12.1"}, []string{"4.0.0", "2.9.9"}},
		{"~3.11", Range, []string{"3.11.2"}, []string{"3.12.0"}},
		{"^3", Range, []string{"3.12.1"}, []string{"4.0.0"}},
		{">=3.10 <3.12", Range, []string{"3.10.0", "3.11.9"}, []string{"3.12.0", "3.11.0-rc1"}},
		{">=3.10, <3.12", Range, []string{"3.11.9"}, []string{"3.9.0"}},
		{">=3.13.0-0", Range, []string{"3.13.0-rc2", "3.13.1"}, []string{"3.12.0"}},
	} {
		c, err := ParseConstraint(tc.in)
		if err != nil {
			t.Errorf("ParseConstraint(%q): %v", tc.in, err)
			continue
		}
		if c.Kind != tc.kind || c.String() != tc.in {
			t.Errorf("ParseConstraint(%q) = %v %q, want %v", tc.in, c.Kind, c, tc.kind)
		}
		for _, v := range tc.match {
			if !c.Matches(semver.MustParse(v)) {
				t.Errorf("%q does not match %s", tc.in, v)
			}
		}
		for _, v := range tc.nonMatch {
			if c.Matches(semver.MustParse(v)) {
				t.Errorf("%q matches %s", tc.in, v)
			}
		}
	}
	for _, in := range []string{"@", "newest", "1.2.x.y", ">>1"} {
		if _, err := ParseConstraint(in); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseConstraint(%q) error = %v, want ErrInvalidRef", in, err)
		}
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in, platform, repo, constraint string
		kind                           ConstraintKind
	}{
		{"golang", "golang", "", "", Default},
		{"golang@", "golang", "", "", Default},
		{"golang@1.23", "golang", "", "1.23", Partial},
		{"dotnet@8.0.404_8.0.11", "dotnet", "", "8.0.404_8.0.11", Exact},
		{"python@>=3.10 <3.12", "python", "", ">=3.10 <3.12", Range},
		{"node.js_x-1@latest", "node.js_x-1", "", "latest", Latest},
		{"mcr.microsoft.com/oryx/python-sdk@3.11", "python", "mcr.microsoft.com/oryx/python-sdk", "3.11", Partial},
		{"127.0.0.1:5000/sdks/golang", "golang", "127.0.0.1:5000/sdks/golang", "", Default},
		{"localhost:5000/golang@default", "golang", "localhost:5000/golang", "default", Default},
	} {
		ref, err := ParseRef(tc.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tc.in, err)
			continue
		}
		if ref.Raw != tc.in || ref.String() != tc.in || ref.Platform != tc.platform || ref.Repository != tc.repo ||
			ref.Constraint.Raw != tc.constraint || ref.Constraint.Kind != tc.kind {
			t.Errorf("ParseRef(%q) = %+v", tc.in, ref)
		}
	}
	for _, tc := range []struct{ in, msg string }{
		{"x@@", `invalid SDK reference "x@@": invalid version constraint "@"`},
		{"", `invalid SDK reference "": missing SDK platform`},
		{"@1.2", `missing SDK platform`},
		{"Golang", `invalid SDK platform "Golang"`},
		{"-go", `invalid SDK platform "-go"`},
		{"golang@1.2@3", `invalid version constraint "1.2@3"`},
		{"mcr.microsoft.com/oryx/python-sdk:3.11", `not a tag after ":"`},
		{"mcr.microsoft.com/Oryx/python@1", `invalid repository`},
		{"reg/-sdk", `invalid repository`},
	} {
		_, err := ParseRef(tc.in)
		if !errors.Is(err, ErrInvalidRef) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseRef(%q) error = %v, want ErrInvalidRef containing %q", tc.in, err, tc.msg)
		}
	}
}

func TestSource(t *testing.T) {
	s, err := ParseSource("127.0.0.1:5000/sdks/{platform}:{flavor}-{version}")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Repository("golang"); got != "127.0.0.1:5000/sdks/golang" {
		t.Errorf("Repository = %q", got)
	}
	if got := s.Tag("bookworm", "1.23.4"); got != "bookworm-1.23.4" {
		t.Errorf("Tag = %q", got)
	}
	if got := DefaultSource.Repository("python") + ":" + DefaultSource.Tag("bookworm", "3.11.9"); got != "mcr.microsoft.com/oryx/python-sdk:bookworm-3.11.9" {
		t.Errorf("DefaultSource = %q", got)
	}
	for _, tc := range []struct {
		tag, flavor, version string
		ok                   bool
	}{
		{"bookworm-1.23.4", "bookworm", "1.23.4", true},
		{"bookworm-3.13.0-rc.2", "bookworm", "3.13.0-rc.2", true},
		{"bookworm-default", "bookworm", "default", true},
		{"latest", "", "", false},
		{"-1.2.3", "", "", false},
	} {
		f, v, ok := s.MatchTag(tc.tag)
		if f != tc.flavor || v != tc.version || ok != tc.ok {
			t.Errorf("MatchTag(%q) = %q, %q, %v", tc.tag, f, v, ok)
		}
	}

	var zero Source
	if !zero.IsZero() || zero.String() != DefaultSourceTemplate || zero.Repository("python") != "mcr.microsoft.com/oryx/python-sdk" {
		t.Errorf("zero Source is not DefaultSource: %q", zero.Repository("python"))
	}

	// A template without {flavor} and with literal text.
	s = MustParseSource("ghcr.io/acme/{platform}:sdk-v{version}")
	if f, v, ok := s.MatchTag("sdk-v1.2.3"); !ok || f != "" || v != "1.2.3" {
		t.Errorf("MatchTag = %q, %q, %v", f, v, ok)
	}

	for _, tc := range []struct{ tmpl, msg string }{
		{"reg/sdks/{platform}", "missing the tag part"},
		{"localhost:5000/{platform}", "missing the tag part"},
		{"reg/sdks/golang:{flavor}-{version}", "{platform} exactly once"},
		{"reg/{platform}/{platform}:{flavor}-{version}", "{platform} exactly once"},
		{"reg/{platform}/{flavor}:{version}", "only in the tag part"},
		{"reg/{platform}:{platform}-{version}", "only in the repository part"},
		{"reg/{platform}:{flavor}", "{version} exactly once"},
		{"reg/{platform}:{flavor}{version}", "must be separated"},
		{"reg/{platform}:{os}-{version}", "unknown placeholders"},
		{"reg/{platform}:{flavor}+{version}", "character '+' is not allowed in a source template"},
		{"reg/Sdks/{platform}:{flavor}-{version}", "invalid repository"},
	} {
		_, err := ParseSource(tc.tmpl)
		if !errors.Is(err, ErrInvalidSource) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.tmpl) {
			t.Errorf("ParseSource(%q) error = %v, want one naming the template and containing %q", tc.tmpl, err, tc.msg)
		}
	}
}
