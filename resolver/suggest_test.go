package resolver

import (
	"context"
	"errors"
	"strings"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// catalogTags is fakeTags whose registry lists its repositories.
type catalogTags struct{ *fakeTags }

func (c catalogTags) ListRepositories(_ context.Context, registry string) ([]string, error) {
	var out []string
	for repo := range c.tags {
		if strings.HasPrefix(repo, registry+"/") {
			out = append(out, repo)
		}
	}
	return append(out, registry+"/other/golang", registry+"/sdks/go/nested"), nil
}

func TestMisspeltPlatformSuggestsTheNearest(t *testing.T) {
	tags := catalogTags{&fakeTags{tags: map[string][]string{
		"reg.test/sdks/golang": {"bookworm-1.23.4"},
		"reg.test/sdks/python": {"bookworm-3.11.9"},
		"reg.test/sdks/gleam":  {"bookworm-1.0.0"},
	}}}
	r := New(&fakeImages{}, tags)
	src := MustParseSource("reg.test/sdks/{platform}:{flavor}-{version}")
	cases := []struct{ ref, want string }{
		{"golnag@1.23", `no SDK repository reg.test/sdks/golnag for platform "golnag"; did you mean golang?`},
		{"pyton@3.11.9", "did you mean python?"},
		{"rust@1", `no SDK repository reg.test/sdks/rust for platform "rust"`},
	}
	for _, c := range cases {
		ref, err := ParseRef(c.ref)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: src, Target: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
		if err == nil || !errors.Is(err, ErrRepositoryNotFound) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.ref, err, c.want)
		}
		if c.ref == "rust@1" && strings.Contains(err.Error(), "did you mean") {
			t.Errorf("%s: suggested a platform that is not near: %v", c.ref, err)
		}
	}
}

func TestVersionInAnotherFlavorOnly(t *testing.T) {
	tags := &fakeTags{tags: map[string][]string{
		"reg.test/sdks/python": {"bookworm-3.12.7", "bullseye-3.11.9", "trixie-3.11.9"},
	}}
	r := New(&fakeImages{}, tags)
	ref, _ := ParseRef("python@3.11")
	_, err := r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm",
		Source: MustParseSource("reg.test/sdks/{platform}:{flavor}-{version}"), Target: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
	want := `no python version matches "3.11" (flavor bookworm); nearest available: 3.12.7; it exists for flavor bullseye, trixie (--flavor=bullseye)`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestDigestRefsAreRefused(t *testing.T) {
	for _, s := range []string{"golang@sha256:4f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c", "reg.io/x/golang@1.23@sha256:4f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c"} {
		if _, err := ParseRef(s); err == nil || !strings.Contains(err.Error(), "not a digest") {
			t.Errorf("%s: error %v", s, err)
		}
	}
}
