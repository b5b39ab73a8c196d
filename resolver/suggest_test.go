package resolver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

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

// osaDistance is the textbook Damerau-Levenshtein (optimal string
// alignment) distance, in full.
func osaDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// The bounded distance is the full one, capped at k+1.
func TestEditDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		b := make([]rune, rng.IntN(9))
		for i := range b {
			b[i] = []rune("abcé")[rng.IntN(4)]
		}
		return string(b)
	}
	for range 20000 {
		a, b, k := word(), word(), rng.IntN(4)
		if got, want := editDistance(a, b, k), min(osaDistance(a, b), k+1); got != want {
			t.Fatalf("editDistance(%q, %q, %d) = %d, want %d", a, b, k, got, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{{"golnag", "golang", 1}, {"pyton", "python", 1}, {"rust", "golang", 3}, {"", "ab", 2}, {"node", "nodejs", 2}} {
		if got := editDistance(tc.a, tc.b, 2); got != tc.want {
			t.Errorf("editDistance(%q, %q, 2) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// hostileCatalog is a registry whose catalog holds what it is given.
type hostileCatalog struct {
	*fakeTags
	repos []string
}

func (c hostileCatalog) ListRepositories(context.Context, string) ([]string, error) {
	return c.repos, nil
}

// Suggestions cost little whatever the catalog holds: a name of 8 MiB is
// skipped, at most maxSuggestNames names of the length of the requested
// one are compared, and a cancelled context stops the comparing.
func TestSuggestBounded(t *testing.T) {
	repos := []string{"reg.test/sdks/" + strings.Repeat("g", 8<<20)}
	for i := range 3 * maxSuggestNames {
		repos = append(repos, fmt.Sprintf("reg.test/sdks/zz%04d", i%10000))
	}
	repos = append(repos, "reg.test/sdks/golang") // past the names compared
	tags := hostileCatalog{&fakeTags{tags: map[string][]string{}}, repos}
	r := New(&fakeImages{}, tags)
	j := &job{r: r, req: Request{Ref: Ref{Platform: "golnag"}}, src: MustParseSource("reg.test/sdks/{platform}:{flavor}-{version}"), repo: "reg.test/sdks/golnag"}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	got := j.suggest(context.Background())
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if slices.Contains(got, "golang") || len(got) != 0 {
		t.Errorf("suggested %q; the names within two edits are past the first %d", got, maxSuggestNames)
	}
	// What it costs is bounded in bytes allocated, not in time: a
	// verdict never depends on the machine's speed.
	t.Logf("suggesting from %d names: %s", len(repos), elapsed)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	repos[1] = "reg.test/sdks/golang"
	if got := j.suggest(ctx); got != nil {
		t.Errorf("suggested %q with the context cancelled", got)
	}
	if got := j.suggest(context.Background()); !slices.Equal(got, []string{"golang"}) {
		t.Errorf("suggested %q, want golang", got)
	}
}

// The resolver uses what its Registry declares, not whatever else the
// TagLister implements: without a Catalog, no suggestions.
func TestRegistryDeclaresCapabilities(t *testing.T) {
	tags := catalogTags{&fakeTags{tags: map[string][]string{"reg.test/sdks/golang": {"bookworm-1.23.4"}}}}
	src := MustParseSource("reg.test/sdks/{platform}:{flavor}-{version}")
	ref, _ := ParseRef("golnag@1.23")
	for _, tc := range []struct {
		reg  Registry
		want bool
	}{
		{RegistryOf(tags), true},
		{Registry{Tags: tags}, false},
		{Registry{Tags: tags, Catalog: tags}, true},
	} {
		_, err := NewWithRegistry(&fakeImages{}, tc.reg).Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: src, Target: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
		if got := err != nil && strings.Contains(err.Error(), "did you mean golang?"); got != tc.want {
			t.Errorf("catalog %v: error %v, want a suggestion: %v", tc.reg.Catalog != nil, err, tc.want)
		}
	}
}
