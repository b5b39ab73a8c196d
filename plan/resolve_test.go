package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
)

// fakeRegistry lists tags and resolves images from tables: an image is
// there for the platforms it names.
type fakeRegistry struct {
	tags   map[string][]string // repository -> tags
	images map[string][]string // "repository:tag" -> architectures
}

func (r fakeRegistry) ListTags(_ context.Context, repo string) ([]string, error) {
	if ts, ok := r.tags[repo]; ok {
		return ts, nil
	}
	return nil, fmt.Errorf("%s: %w", repo, resolver.ErrRepositoryNotFound)
}

func (r fakeRegistry) ResolveImage(_ context.Context, ref string, p ocispecs.Platform, _ string) (digest.Digest, []byte, error) {
	if !slices.Contains(r.images[ref], p.Architecture) {
		return "", nil, fmt.Errorf("%s for %s: %w", ref, p.Architecture, resolver.ErrNotFound)
	}
	config := fmt.Sprintf(`{"architecture":%q,"os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, p.Architecture, digest.FromString("layer"))
	return digest.FromString(ref), []byte(config), nil
}

// fakeLock pins what its table holds, and records what it was asked.
type fakeLock struct {
	pins map[lock.Key]resolver.Resolution

	mu    sync.Mutex
	asked []string
}

func (l *fakeLock) Pin(n Need, flavor string) (resolver.Resolution, bool, string, error) {
	l.mu.Lock()
	l.asked = append(l.asked, flavor)
	l.mu.Unlock()
	res, ok := l.pins[n.Want.Key(flavor)]
	return res, ok, "is not locked", nil
}
func (*fakeLock) Unpinned(Need, string) error { return nil }
func (*fakeLock) Looked() error               { return nil }
func (*fakeLock) Name() string                { return "Dockerfile.sdk.lock" }
func (*fakeLock) Check(context.Context, *resolver.Resolver, Need, resolver.Resolution, []string) (resolver.Resolution, string, error) {
	panic("checked without CheckLayers")
}

const resolveDockerfile = `# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}
FROM base
SDK golang@1.23
`

// golangBullseyeAMD64 has the base image's flavor (bullseye) for amd64
// only, and the default (bookworm) for both platforms.
var golangBullseyeAMD64 = fakeRegistry{
	tags: map[string][]string{"reg.test/sdks/golang": {"bullseye-1.23.9", "bookworm-1.23.4"}},
	images: map[string][]string{
		"reg.test/sdks/golang:bullseye-1.23.9": {"amd64"},
		"reg.test/sdks/golang:bookworm-1.23.4": {"amd64", "arm64"},
	},
}

func planned(t *testing.T, df string, lenient bool) *Plan {
	t.Helper()
	f := mustRead(t, df)
	p, errs := Make(context.Background(), &fakeHost{releases: map[string]string{"base": "bullseye"}}, f, options(t, f, lenient, amd64, arm64))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return p
}

func describeResolved(rs []Resolved) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("line %d %s: %s %s", r.Line, r.PlatformKey(), r.Res.Tag, r.How))
	}
	return out
}

// A build resolves each stage platform on its own, falling back where
// the SDK lacks the base image's flavor; sdkfront lock (Whole) resolves a
// key for all its platforms with one flavor, as one entry holds it.
func TestResolveFallsBack(t *testing.T) {
	r := resolver.New(golangBullseyeAMD64, golangBullseyeAMD64)
	for _, tc := range []struct {
		whole bool
		want  []string
	}{
		{false, []string{"line 3 linux/amd64: bullseye-1.23.9 resolved", "line 3 linux/arm64: bookworm-1.23.4 fell back"}},
		{true, []string{"line 3 linux/amd64: bookworm-1.23.4 fell back", "line 3 linux/arm64: bookworm-1.23.4 fell back"}},
	} {
		rs, err := planned(t, resolveDockerfile, tc.whole).Resolve(context.Background(), r, &fakeLock{}, ResolveOptions{Whole: tc.whole, Lenient: tc.whole})
		if err != nil {
			t.Fatal(err)
		}
		if got := describeResolved(rs); !slices.Equal(got, tc.want) {
			t.Errorf("Whole %v:\n  %s\nwant\n  %s", tc.whole, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
		}
	}
}

// A lock entry of the fallback flavor pins a line whose own flavor it
// lacks: the line's flavor is looked up first, then the fallback.
func TestResolvePinsFallbackEntry(t *testing.T) {
	p := planned(t, resolveDockerfile, false)
	n := p.Needs[0]
	entry := resolver.Resolution{Ref: "golang@1.23", Flavor: "bookworm", Version: "1.23.4", Repository: "reg.test/sdks/golang", Tag: "bookworm-1.23.4", Digest: digest.FromString("locked"), Locked: true}
	lv := &fakeLock{pins: map[lock.Key]resolver.Resolution{n.Want.Key("bookworm"): entry}}
	rs, err := p.Resolve(context.Background(), resolver.New(fakeRegistry{}, fakeRegistry{}), lv, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.How != FromLock || r.Res.Digest != entry.Digest {
			t.Errorf("%s: %s %s, want the lock's %s", r.PlatformKey(), r.How, r.Res.Digest, entry.Digest)
		}
	}
	if want := []string{"bullseye", "bookworm", "bullseye", "bookworm"}; !slices.Equal(lv.asked, want) {
		t.Errorf("looked up %v, want %v", lv.asked, want)
	}
}

// A build stops at the first key that fails, at its line; sdkfront lock
// (Lenient) resolves every key and leaves each need its error.
func TestResolveErrors(t *testing.T) {
	df := resolveDockerfile + "SDK golang@1.99\nSDK nodejs@20\n"
	r := resolver.New(golangBullseyeAMD64, golangBullseyeAMD64)

	_, err := planned(t, df, false).Resolve(context.Background(), r, &fakeLock{}, ResolveOptions{})
	var le *parser.LocationError
	if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), "SDK ") {
		t.Fatalf("build: %v, want an SDK's error at its line", err)
	}
	if line := le.Locations[0][0].Start.Line; line != 4 && line != 5 {
		t.Errorf("build: %v at line %d", err, line)
	}

	rs, err := planned(t, df, true).Resolve(context.Background(), r, &fakeLock{}, ResolveOptions{Whole: true, Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	failed := map[int]bool{}
	for _, r := range rs {
		if r.Err != nil {
			failed[r.Line] = true
		}
	}
	if !failed[4] || !failed[5] || failed[3] {
		t.Errorf("lenient: lines failed %v, want 4 and 5", failed)
	}
}
