package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/buildkit/util/grpcerrors"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const testRegistry = "127.0.0.1:5000/sdks/"

var (
	testSource = MustParseSource(testRegistry + "{platform}:{flavor}-{version}")
	amd64      = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
)

// fixture returns fakes holding a few SDK repositories. Every listed tag has
// an image, except where a test says otherwise.
func fixture() (*fakeImages, *fakeTags) {
	images := &fakeImages{}
	tags := &fakeTags{tags: map[string][]string{}}
	repo := func(platform string, labels map[string]string, tt ...string) {
		r := testRegistry + platform
		if strings.Contains(platform, "/") {
			r = platform
		}
		tags.tags[r] = tt
		for _, t := range tt {
			var l map[string]string
			if strings.HasSuffix(t, "-default") {
				l = labels
			}
			images.add(r+":"+t, l)
		}
	}
	repo("golang", map[string]string{"org.oryx.version": "1.23.4"},
		"bookworm-1.22.10", "bookworm-1.23.0", "bookworm-1.23.4", "bookworm-1.24rc1", "bookworm-default",
		"bookworm-notaversion", "bullseye-1.21.0", "latest")
	repo("python", map[string]string{"org.oryx.sdk.version": "3.12.1"},
		"bookworm-3.11.9", "bookworm-3.12.1", "bookworm-3.13.0rc2", "bookworm-default")
	repo("dotnet", nil, "bookworm-8.0.303_8.0.7", "bookworm-8.0.404_8.0.11", "bookworm-9.0.100_9.0.0")
	repo("node", map[string]string{"maintainer": "x"}, "bookworm-20.1.0", "bookworm-default")
	repo("ruby", map[string]string{"org.oryx.version": "3.4"}, "bookworm-3.3.1", "bookworm-default")
	repo("mcr.microsoft.com/oryx/python-sdk", nil, "bookworm-3.11.9", "bookworm-3.12.1")
	repo("multi", nil, "bookworm-1.0.0", "bookworm-1.0.1")
	images.add(testRegistry+"multi:bookworm-1.0.0", nil, digest.FromString("a"), digest.FromString("b"))
	images.add(testRegistry+"multi:bookworm-1.0.1", nil, emptyLayerDiffID)
	return images, tags
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		ref, flavor string
		// want
		version, tag, repo string
		lists              int // tag listings expected
	}{
		{ref: "golang@1.23.4", version: "1.23.4", tag: "bookworm-1.23.4"},
		{ref: "golang@1.23", version: "1.23.4", lists: 1},
		{ref: "golang@1", version: "1.23.4", lists: 1},
		{ref: "golang@latest", version: "1.23.4", lists: 1},
		{ref: "golang@~1.22", version: "1.22.10", lists: 1},
		{ref: "golang@>=1.22 <1.23", version: "1.22.10", lists: 1},
		{ref: "golang@>=1.22, <1.23", version: "1.22.10", lists: 1},
		{ref: "golang@>=1.24.0-0", version: "1.24rc1", lists: 1},
		{ref: "golang@1.24rc1", version: "1.24rc1"},
		// The default tag's own image, which its label says is 1.23.4.
		{ref: "golang", version: "1.23.4", tag: "bookworm-default"},
		{ref: "golang@default", version: "1.23.4", tag: "bookworm-default"},
		{ref: "golang@1.21", flavor: "bullseye", version: "1.21.0", tag: "bullseye-1.21.0", lists: 1},
		{ref: "python", version: "3.12.1", tag: "bookworm-default"},
		{ref: "python@3.13.0-rc2", version: "3.13.0rc2", lists: 1},
		{ref: "python@3", version: "3.12.1", lists: 1},
		{ref: "dotnet@8.0.404", version: "8.0.404_8.0.11", tag: "bookworm-8.0.404_8.0.11", lists: 1},
		{ref: "dotnet@8.0.404_8.0.11", version: "8.0.404_8.0.11"},
		{ref: "dotnet@8", version: "8.0.404_8.0.11", lists: 1},
		{ref: "dotnet", version: "9.0.100_9.0.0", lists: 1}, // no default tag: latest
		{ref: "mcr.microsoft.com/oryx/python-sdk@3.11", version: "3.11.9", repo: "mcr.microsoft.com/oryx/python-sdk", lists: 1},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			images, tags := fixture()
			ref, err := ParseRef(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			flavor := tc.flavor
			if flavor == "" {
				flavor = "bookworm"
			}
			res, err := New(images, tags).Resolve(context.Background(), Request{Ref: ref, Flavor: flavor, Source: testSource, Target: amd64})
			if err != nil {
				t.Fatal(err)
			}
			if tc.tag == "" {
				tc.tag = flavor + "-" + tc.version
			}
			if tc.repo == "" {
				tc.repo = testRegistry + ref.Platform
			}
			want := Resolution{
				Ref: tc.ref, Platform: ref.Platform, Flavor: flavor, Version: tc.version,
				Repository: tc.repo, Tag: tc.tag, Digest: images.images[tc.repo+":"+tc.tag].digest, Target: amd64,
			}
			if fmt.Sprint(res) != fmt.Sprint(want) {
				t.Errorf("got  %+v\nwant %+v", res, want)
			}
			if n := tags.count(tc.repo); n != tc.lists {
				t.Errorf("listed %d times, want %d", n, tc.lists)
			}
		})
	}
}

func TestResolveLogNames(t *testing.T) {
	images, tags := fixture()
	ref, _ := ParseRef("golang")
	if _, err := New(images, tags).Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource}); err != nil {
		t.Fatal(err)
	}
	want := []string{"[sdk] golang -> default (bookworm)"}
	if fmt.Sprint(images.calls) != fmt.Sprint(want) {
		t.Errorf("log names %q, want %q", images.calls, want)
	}
}

func TestResolveErrors(t *testing.T) {
	unreachable := fmt.Errorf("%w: dial tcp 127.0.0.1:5000: connection refused", ErrUnreachable)
	denied := fmt.Errorf("%w: UNAUTHORIZED", ErrDenied)
	for _, tc := range []struct {
		ref, flavor string
		setup       func(*fakeImages, *fakeTags)
		is          []error
		msg         string
	}{
		{ref: "golang@1.99", is: []error{ErrNoMatch},
			msg: `no golang version matches "1.99" (flavor bookworm); nearest available: 1.23.4, 1.23.0, 1.22.10`},
		{ref: "golang@1.23.9", is: []error{ErrNoMatch},
			msg: `no golang version matches "1.23.9" (flavor bookworm); nearest available: 1.23.4, 1.23.0, 1.22.10`},
		{ref: "golang@2", is: []error{ErrNoMatch}, msg: `nearest available: 1.23.4, 1.23.0, 1.22.10`},
		{ref: "golang@latest", setup: func(_ *fakeImages, ft *fakeTags) {
			ft.tags[testRegistry+"golang"] = []string{"bookworm-1.24rc1"}
		}, is: []error{ErrNoMatch}, msg: `no golang version matches "latest" (flavor bookworm); nearest available: 1.24rc1`},
		{ref: "golang@1.23", flavor: "alpine", is: []error{ErrUnknownFlavor},
			msg: `SDK repository 127.0.0.1:5000/sdks/golang has no flavor "alpine"; available flavors: bookworm, bullseye`},
		{ref: "golang@1.23.4", flavor: "alpine", is: []error{ErrUnknownFlavor}},
		{ref: "golang", flavor: "alpine", is: []error{ErrUnknownFlavor}},
		{ref: "golang@1.23", flavor: "book-worm", is: []error{ErrInvalidRef}, msg: `invalid SDK flavor "book-worm"`},
		{ref: "golang@1.23", flavor: "-", is: []error{ErrInvalidRef}},
		{ref: "foo@1.0", is: []error{ErrRepositoryNotFound}, msg: `no SDK repository 127.0.0.1:5000/sdks/foo for platform "foo"`},
		{ref: "foo@1.0.0", is: []error{ErrRepositoryNotFound}, msg: `no SDK repository 127.0.0.1:5000/sdks/foo for platform "foo"`},
		{ref: "foo", is: []error{ErrRepositoryNotFound}, msg: `no SDK repository 127.0.0.1:5000/sdks/foo for platform "foo"`},
		{ref: "node", is: []error{ErrInvalidImage},
			msg: `127.0.0.1:5000/sdks/node:bookworm-default has neither label org.oryx.version nor org.oryx.sdk.version`},
		{ref: "ruby", is: []error{ErrNoMatch},
			msg: `127.0.0.1:5000/sdks/ruby:bookworm-default names default version 3.4: no ruby version matches "3.4"`},
		{ref: "multi@1.0.0", is: []error{ErrInvalidImage},
			msg: `127.0.0.1:5000/sdks/multi:bookworm-1.0.0 has 2 layers; an SDK image must have exactly one layer (FROM scratch + COPY sdk.tar.gz /)`},
		{ref: "multi@1.0.1", is: []error{ErrInvalidImage}, msg: `multi:bookworm-1.0.1 has an empty layer`},
		{ref: "golang@1.23", setup: func(_ *fakeImages, ft *fakeTags) {
			ft.errs = map[string]error{testRegistry + "golang": unreachable}
		}, is: []error{ErrListUnavailable, ErrUnreachable},
			msg: `cannot list tags of 127.0.0.1:5000/sdks/golang to resolve "golang@1.23": registry unreachable: dial tcp`},
		{ref: "dotnet", setup: func(_ *fakeImages, ft *fakeTags) {
			ft.errs = map[string]error{testRegistry + "dotnet": unreachable}
		}, is: []error{ErrListUnavailable, ErrUnreachable},
			msg: `127.0.0.1:5000/sdks/dotnet:bookworm-default does not exist, so the latest version is wanted: cannot list tags of`},
		{ref: "golang@^1", setup: func(_ *fakeImages, ft *fakeTags) {
			ft.errs = map[string]error{testRegistry + "golang": denied}
		}, is: []error{ErrListUnavailable, ErrDenied}, msg: `cannot list tags of 127.0.0.1:5000/sdks/golang to resolve "golang@^1"`},
		{ref: "golang@1.23.4", setup: func(fi *fakeImages, _ *fakeTags) {
			fi.errs = map[string]error{testRegistry + "golang:bookworm-1.23.4": errors.New("pull access denied")}
		}, msg: `cannot resolve SDK image 127.0.0.1:5000/sdks/golang:bookworm-1.23.4 for "golang@1.23.4": pull access denied`},
		{ref: "golang@1.23.4", setup: func(fi *fakeImages, _ *fakeTags) {
			// The tag exists but not for the target platform.
			fi.errs = map[string]error{testRegistry + "golang:bookworm-1.23.4": gatewayError("no match for platform in manifest: not found")}
		}, msg: `bookworm-1.23.4 for "golang@1.23.4": no match for platform in manifest: not found`},
		{ref: "golang", setup: func(fi *fakeImages, _ *fakeTags) {
			fi.errs = map[string]error{testRegistry + "golang:bookworm-default": errors.New("connection reset")}
		}, msg: `cannot resolve default SDK tag 127.0.0.1:5000/sdks/golang:bookworm-default for "golang": connection reset`},
	} {
		t.Run(tc.ref+"/"+tc.flavor, func(t *testing.T) {
			images, tags := fixture()
			if tc.setup != nil {
				tc.setup(images, tags)
			}
			ref, err := ParseRef(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if tc.flavor == "" {
				tc.flavor = "bookworm"
			}
			_, err = New(images, tags).Resolve(context.Background(), Request{Ref: ref, Flavor: tc.flavor, Source: testSource})
			if err == nil {
				t.Fatal("no error")
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("error %q is not %v", err, target)
				}
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.msg)
			}
		})
	}
}

// An exact version that is tagged needs no listing, so a broken lister
// does not matter.
func TestResolveExactWithoutListing(t *testing.T) {
	images, tags := fixture()
	tags.errs = map[string]error{testRegistry + "golang": ErrUnreachable}
	ref, _ := ParseRef("golang@1.22.10")
	if _, err := New(images, tags).Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource}); err != nil {
		t.Fatal(err)
	}
}

func TestResolveDefaultSource(t *testing.T) {
	images, tags := fixture()
	tags.tags["mcr.microsoft.com/oryx/python-sdk"] = append(tags.tags["mcr.microsoft.com/oryx/python-sdk"], "bookworm-default")
	images.add("mcr.microsoft.com/oryx/python-sdk:bookworm-default", map[string]string{"org.oryx.version": "3.11.9"})
	ref, _ := ParseRef("python")
	res, err := New(images, tags).Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Repository + ":" + res.Tag; got != "mcr.microsoft.com/oryx/python-sdk:bookworm-default" || res.Version != "3.11.9" {
		t.Errorf("resolved %s", got)
	}
}

func TestResolvePlatforms(t *testing.T) {
	images, tags := fixture()
	want := map[string]digest.Digest{"linux/amd64": digest.FromString("amd64"), "linux/arm64": digest.FromString("arm64")}
	ref, _ := ParseRef("golang@1.23")
	res, err := New(images, platformTags{tags, want}).Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Platforms) != fmt.Sprint(want) {
		t.Errorf("Platforms = %v, want %v", res.Platforms, want)
	}
	// An exact version never lists tags, so it makes no direct registry
	// call for platform digests either.
	exact, _ := ParseRef("golang@1.23.4")
	res, err = New(images, platformTags{tags, want}).Resolve(context.Background(), Request{Ref: exact, Flavor: "bookworm", Source: testSource})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != "1.23.4" || res.Platforms != nil {
		t.Errorf("exact version: %s with Platforms %v, want 1.23.4 and none", res.Version, res.Platforms)
	}
}

// Concurrent Resolve calls on one repository share one listing, and a later
// call reuses it.
func TestResolveListsOnce(t *testing.T) {
	images, tags := fixture()
	tags.gate, tags.started = make(chan struct{}), make(chan string, 10)
	r := New(images, tags)
	refs := []string{"golang@1.23", "golang@1.22", "golang@latest", "golang@^1", "golang@1.99"}
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, s := range refs {
		ref, _ := ParseRef(s)
		wg.Go(func() {
			_, errs[i] = r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource})
		})
	}
	<-tags.started
	time.Sleep(20 * time.Millisecond) // let the other calls reach the listing
	close(tags.gate)
	wg.Wait()
	for i, err := range errs[:4] {
		if err != nil {
			t.Errorf("%s: %v", refs[i], err)
		}
	}
	if !errors.Is(errs[4], ErrNoMatch) {
		t.Errorf("%s: %v", refs[4], errs[4])
	}
	ref, _ := ParseRef("golang@1.21")
	if _, err := r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bullseye", Source: testSource}); err != nil {
		t.Error(err)
	}
	if n := tags.count(testRegistry + "golang"); n != 1 {
		t.Errorf("listed %d times, want 1", n)
	}
}

// A caller giving up does not fail the listing it shares with others.
func TestResolveCancelledCallerDoesNotFailOthers(t *testing.T) {
	images, tags := fixture()
	tags.gate, tags.started = make(chan struct{}), make(chan string, 10)
	r := New(images, tags)
	ref, _ := ParseRef("golang@1.23")
	req := Request{Ref: ref, Flavor: "bookworm", Source: testSource}

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() { _, err := r.Resolve(ctx, req); first <- err }()
	<-tags.started
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want context.Canceled", err)
	}
	close(tags.gate)
	if _, err := r.Resolve(context.Background(), req); err != nil {
		t.Errorf("second call: %v", err)
	}
	if n := tags.count(testRegistry + "golang"); n != 1 {
		t.Errorf("listed %d times, want 1", n)
	}
}

func TestIsNotFound(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{fmt.Errorf("x: %w", ErrNotFound), true},
		{&RepositoryNotFoundError{Repository: "r"}, true},
		{gatewayError("docker.io/x:y: not found"), true},
		{fmt.Errorf("failed to resolve source metadata for docker.io/x:y: %w", gatewayError("docker.io/x:y: Not Found")), true},
		{gatewayError("no match for platform in manifest: not found"), true},
		{grpcerrors.FromGRPC(status.Error(codes.NotFound, "docker.io/x:y")), true},
		{fmt.Errorf("x: %w", errdefs.ErrNotFound), true},
		// Only a status says what BuildKit meant; words prove nothing.
		{errors.New("docker.io/x:y: not found"), false},
		{errors.New("rpc error: code = Unknown desc = docker.io/x:y: not found"), false},
		{gatewayError("docker.io/x:y: not found in the cache, pulling failed: connection refused"), false},
		{grpcerrors.FromGRPC(status.Error(codes.Unavailable, "registry not found behind proxy: not found")), false},
	} {
		if got := IsNotFound(tc.err); got != tc.want {
			t.Errorf("IsNotFound(%v) = %v", tc.err, got)
		}
	}
}

// A Resolver runs at most MaxConcurrent reads at once (here listings);
// the others wait for a slot, or their callers for their context to end.
func TestResolveConcurrencyCap(t *testing.T) {
	const n = 3 * MaxConcurrent
	tags := &fakeTags{tags: map[string][]string{}, gate: make(chan struct{}), started: make(chan string, n)}
	imgs := &fakeImages{}
	for i := range n {
		repo := fmt.Sprintf("reg.test/sdks/p%d", i)
		tags.tags[repo] = []string{"bookworm-1.0.0"}
		imgs.add(repo+":bookworm-1.0.0", nil)
	}
	r := New(imgs, tags)
	src := MustParseSource("reg.test/sdks/{platform}:{flavor}-{version}")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, _ := ParseRef(fmt.Sprintf("p%d@1", i))
			_, err := r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: src, Target: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
			errs <- err
		}()
	}
	for range MaxConcurrent {
		<-tags.started
	}
	select {
	case repo := <-tags.started:
		t.Errorf("listing %s began while %d were running", repo, MaxConcurrent)
	case <-time.After(100 * time.Millisecond):
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ref, _ := ParseRef("p0@1")
	if _, err := r.Resolve(ctx, Request{Ref: ref, Flavor: "bookworm", Source: src}); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting with its context cancelled: %v", err)
	}
	close(tags.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := len(tags.started); got != n-MaxConcurrent {
		t.Errorf("%d more listings began, want %d", got, n-MaxConcurrent)
	}
}
