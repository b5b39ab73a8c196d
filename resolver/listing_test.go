package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/heapmeasure"
)

// anyImages is an ImageResolver that answers every reference with one SDK
// image: tests of listings need no particular image.
type anyImages struct{}

var anyConfig, _ = json.Marshal(ocispecs.Image{RootFS: ocispecs.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("sdk")}}})

func (anyImages) ResolveImage(context.Context, string, ocispecs.Platform, string) (digest.Digest, []byte, error) {
	return digest.FromBytes(anyConfig), anyConfig, nil
}

// hostileTags is a TagLister whose every repository lists about 16 MiB of
// valid tags (the registry client's limit), made afresh for each listing so
// that the fake itself keeps none: junk tags of 128 bytes that follow no
// layout of the test's source, then versions of bookworm,
// "bookworm-1.<i/1000>.<i%1000>".
type hostileTags struct {
	junk, versions int
}

func (h hostileTags) ListTags(ctx context.Context, repo string) ([]string, error) {
	tags := make([]string, 0, h.junk+h.versions)
	b := []byte(strings.Repeat("x", 128))
	for i := range h.junk {
		d := strconv.AppendInt(nil, int64(i), 10)
		copy(b[len(b)-len(d):], d)
		tags = append(tags, string(b))
	}
	for i := range h.versions {
		tags = append(tags, fmt.Sprintf("bookworm-1.%d.%d", i/1000, i%1000))
	}
	return tags, nil
}

// resolveLines resolves "p<i>@1" for i < lines, concurrently, each from its
// own repository, and returns their errors.
func resolveLines(r *Resolver, lines int) []error {
	errs := make([]error, lines)
	var wg sync.WaitGroup
	for i := range lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, err := ParseRef(fmt.Sprintf("p%d@1", i))
			if err == nil {
				_, err = r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource, Target: amd64})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errs
}

// TestResolverMemoryBounded resolves 1 and 16 SDK lines, each from its own
// repository, each listing about 16 MiB of valid tags, and bounds what the
// Resolver keeps: a build keeps what a constraint can use of a listing,
// never the listing, so 16 lines keep about what one does. Run with -v for
// the figures.
func TestResolverMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("lists 16 MiB of tags per line")
	}
	// 130,000 tags of 128 bytes, and 3 versions: 16 MiB.
	tags := hostileTags{junk: (16 << 20) / 129, versions: 3}
	var one heapmeasure.Figures
	for _, lines := range []int{1, 16} {
		r := New(anyImages{}, tags)
		m := heapmeasure.Run(func() any {
			for i, err := range resolveLines(r, lines) {
				if err != nil {
					t.Errorf("p%d: %v", i, err)
				}
			}
			return r
		})
		t.Logf("%d lines of 16 MiB listings: peak heap +%.1f MiB, retained +%.1f MiB", lines, heapmeasure.MiB(m.Peak), heapmeasure.MiB(m.Retained))
		// The peak is what the reads in flight hold: at most
		// MaxConcurrent listings, each about 16 MiB of tags, and the heap
		// the collector lets grow over them (GOGC=100: up to twice).
		if limit := uint64(min(lines, MaxConcurrent)) * 2 * 24 << 20; m.Peak > limit {
			t.Errorf("%d lines peak at +%.1f MiB; want at most %.0f MiB (%d listings in flight)", lines, heapmeasure.MiB(m.Peak), heapmeasure.MiB(limit), min(lines, MaxConcurrent))
		}
		if lines == 1 {
			one = m
			continue
		}
		if m.Retained > 8<<20 || m.Retained > one.Retained+4<<20 {
			t.Errorf("%d lines retain +%.1f MiB, one +%.1f MiB; want at most 8 MiB, and at most 4 MiB more than one", lines, heapmeasure.MiB(m.Retained), heapmeasure.MiB(one.Retained))
		}
	}
}

// TestResolverMemoryBoundedVersions resolves 16 SDK lines whose
// repositories each list just under MaxRepositoryVersions versions: a
// Resolver keeps four of them (MaxBuildVersions), and the others fail,
// naming their repository and the limit. What it keeps is bounded by
// MaxBuildVersions, whatever the number of lines.
func TestResolverMemoryBoundedVersions(t *testing.T) {
	if testing.Short() || raceDetector {
		t.Skip("parses 400,000 versions")
	}
	tags := hostileTags{versions: MaxRepositoryVersions - 1000}
	r := New(anyImages{}, tags)
	var errs []error
	m := heapmeasure.Run(func() any {
		errs = resolveLines(r, 16)
		return r
	})
	ok := 0
	for i, err := range errs {
		var le *VersionLimitError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &le) || !le.Build || le.Limit != MaxBuildVersions || !strings.Contains(err.Error(), fmt.Sprintf("%sp%d ", testRegistry, i)):
			t.Errorf("p%d: %v, want the build's version limit, naming its repository", i, err)
		}
	}
	if want := MaxBuildVersions / tags.versions; ok != want {
		t.Errorf("%d lines resolved, want %d", ok, want)
	}
	t.Logf("16 lines of %d versions: %d resolved, peak heap +%.1f MiB, retained +%.1f MiB (%.0f bytes a version)",
		tags.versions, ok, heapmeasure.MiB(m.Peak), heapmeasure.MiB(m.Retained), float64(m.Retained)/float64(ok*tags.versions))
	if m.Retained > 40<<20 {
		t.Errorf("retained +%.1f MiB, want at most 40 MiB", heapmeasure.MiB(m.Retained))
	}
}

// A listing holds at most maxRepoEntries tags of the layout, the
// Resolver's listings together maxBuildEntries; tags of other layouts do
// not count. A listing past either fails, naming its repository and the
// limit, as a ListError, and is not kept.
func TestListingLimits(t *testing.T) {
	tags := &fakeTags{tags: map[string][]string{}}
	layout := func(n int) []string {
		var tt []string
		for i := range n {
			tt = append(tt, fmt.Sprintf("bookworm-1.0.%d", i))
		}
		return tt
	}
	other := func(n int) []string {
		var tt []string
		for i := range n {
			tt = append(tt, fmt.Sprintf("sha%d", i))
		}
		return tt
	}
	tags.tags[testRegistry+"over"] = append(layout(11), other(100)...)
	tags.tags[testRegistry+"a"] = append(layout(10), other(100)...)
	tags.tags[testRegistry+"b"] = layout(10)
	tags.tags[testRegistry+"c"] = layout(10)
	r := New(anyImages{}, tags)
	r.maxRepoEntries, r.maxBuildEntries = 10, 25
	for _, tc := range []struct {
		platform string
		build    bool // fails the build's limit
		limit    int  // 0: resolves
	}{
		{"over", false, 10},
		{"a", false, 0},
		{"b", false, 0},
		{"c", true, 25},
		{"a", false, 0}, // kept
	} {
		ref, _ := ParseRef(tc.platform + "@1")
		res, err := r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource, Target: amd64})
		if tc.limit == 0 {
			if err != nil || res.Version != "1.0.9" {
				t.Errorf("%s: %v, %q; want 1.0.9", tc.platform, err, res.Version)
			}
			continue
		}
		var le *VersionLimitError
		if !errors.As(err, &le) || le.Build != tc.build || le.Limit != tc.limit || !errors.Is(err, ErrListUnavailable) ||
			!strings.Contains(err.Error(), testRegistry+tc.platform+" lists more") || !strings.Contains(err.Error(), strconv.Itoa(tc.limit)) {
			t.Errorf("%s: %v; want a ListError for the limit %d, naming the repository", tc.platform, err, tc.limit)
		}
	}
	if r.kept != 20 {
		t.Errorf("the Resolver keeps %d tags, want 20", r.kept)
	}
	if n := tags.count(testRegistry + "a"); n != 1 {
		t.Errorf("a listed %d times, want 1", n)
	}
}

// stallTags is a TagLister that answers only when its context ends: with
// that context's error, or, with late, with tags as if it had not noticed.
type stallTags struct {
	late    []string
	started chan string
}

func (s stallTags) ListTags(ctx context.Context, repo string) ([]string, error) {
	if s.started != nil {
		s.started <- repo
	}
	<-ctx.Done()
	if s.late != nil {
		return s.late, nil
	}
	return nil, ctx.Err()
}

// within fails t unless f returns within a minute: a fault that cannot
// finish must end at the deadline under test, long before that.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s did not end within a minute: it has no deadline", what)
		return nil
	}
}

// A listing that never answers, and one answered after its deadline
// whose tags are then parsed, fail at the Resolver's read deadline, though
// the caller's context has none.
func TestListingDeadline(t *testing.T) {
	var late []string
	for i := range 10 * checkEvery {
		late = append(late, fmt.Sprintf("bookworm-1.%d.0", i))
	}
	for name, tags := range map[string]stallTags{"stalled": {}, "parsed after the deadline": {late: late}} {
		t.Run(name, func(t *testing.T) {
			r := New(anyImages{}, tags)
			r.readTimeout = 10 * time.Millisecond
			ref, _ := ParseRef("golang@1")
			err := within(t, "the listing", func() error {
				_, err := r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource, Target: amd64})
				return err
			})
			var te *ReadTimeoutError
			if !errors.As(err, &te) || te.After != r.readTimeout || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrListUnavailable) {
				t.Errorf("%v; want a ListError for the read deadline", err)
			}
		})
	}
}

// gatedManifests is a ManifestResolver that counts its reads, and holds
// each until its context ends if stall is set.
type gatedManifests struct {
	calls atomic.Int32
	stall bool
}

func (g *gatedManifests) ResolveManifest(ctx context.Context, ref string, _ ocispecs.Platform, _ bool) (Manifest, error) {
	g.calls.Add(1)
	if g.stall {
		<-ctx.Done()
		return Manifest{}, ctx.Err()
	}
	return Manifest{Digest: "sha256:1d", Image: "sha256:1m", Layers: []ocispecs.Descriptor{{Digest: "sha256:b", Size: 1 << 20}}}, nil
}

// ReadPinned is one of the Resolver's reads: it waits for a slot while
// MaxConcurrent listings hold them all, and it takes at most the read
// deadline.
func TestReadPinnedWithinLimits(t *testing.T) {
	const pinned = testRegistry + "golang@sha256:1d"
	tags := &fakeTags{tags: map[string][]string{}, gate: make(chan struct{}), started: make(chan string, MaxConcurrent)}
	mr := &gatedManifests{}
	r := NewWithRegistry(anyImages{}, Registry{Tags: tags, Manifests: mr})
	for i := range MaxConcurrent {
		tags.tags[fmt.Sprintf("%sp%d", testRegistry, i)] = []string{"bookworm-1.0.0"}
	}
	done := make(chan []error)
	go func() { done <- resolveLines(r, MaxConcurrent) }()
	for range MaxConcurrent {
		<-tags.started
	}
	// Every slot is taken until the gate opens: the read cannot start.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.ReadPinned(ctx, pinned, amd64); !errors.Is(err, context.DeadlineExceeded) || mr.calls.Load() != 0 {
		t.Errorf("with every slot taken: %v after %d reads; want it to wait for a slot until its context ends", err, mr.calls.Load())
	}
	close(tags.gate)
	for i, err := range <-done {
		if err != nil {
			t.Errorf("p%d: %v", i, err)
		}
	}
	if m, err := r.ReadPinned(context.Background(), pinned, amd64); err != nil || m.Image != "sha256:1m" {
		t.Errorf("with slots free: %v, %+v", err, m)
	}

	mr.stall = true
	r.readTimeout = 10 * time.Millisecond
	err := within(t, "ReadPinned", func() error {
		_, err := r.ReadPinned(context.Background(), pinned, amd64)
		return err
	})
	var te *ReadTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a stalled read: %v; want the read deadline", err)
	}
}

// layoutFilter passes every tag that follows the layout, so that it only
// saves work; and it stops most that do not.
func TestLayoutFilter(t *testing.T) {
	tags := []string{"bookworm-1.23.4", "bookworm-default", "latest", "1.2.3", "v1.2.3", "v1.2.3-sdk", "sdk-a.1-x",
		"sdk-a.1-x-x", "a-b-x", "a-x", "-", "x", "sdk-.-x", "1.2-sdk-sdk", "vv", "v", "sdk-a.b.c-x"}
	for _, tmpl := range []string{"{flavor}-{version}", "v{version}", "{version}-sdk", "sdk-{flavor}.{version}-x", "{version}", "{flavor}-{version}-x"} {
		src := MustParseSource("reg.test/{platform}:" + tmpl)
		could := layoutFilter(src.tag)
		stopped := 0
		for _, tag := range tags {
			_, _, ok := src.MatchTag(tag)
			if ok && !could(tag) {
				t.Errorf("%s: the filter stops %q, which follows the layout", tmpl, tag)
			}
			if !could(tag) {
				stopped++
			}
		}
		if tmpl != "{version}" && stopped == 0 {
			t.Errorf("%s: the filter stops none of %q", tmpl, tags)
		}
	}
}
