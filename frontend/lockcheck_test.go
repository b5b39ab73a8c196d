package frontend

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
)

// pinnedRegistry is fakeTags whose registry serves the stub's images'
// manifests, by tag or by digest, each with one layer: with the URLs
// given for its repository, or failing with err.
type pinnedRegistry struct {
	*fakeTags
	s    *stubClient
	urls map[string][]string // repository -> its layer's URLs
	// configURLs: repository -> its config descriptor's URLs, if set
	configURLs map[string][]string
	err        error
	image      digest.Digest // the platform manifest an index names, if set

	mu    sync.Mutex
	reads []string
}

func (r *pinnedRegistry) ResolveManifest(_ context.Context, ref string, _ ocispecs.Platform, config bool) (resolver.Manifest, error) {
	r.mu.Lock()
	r.reads = append(r.reads, ref)
	r.mu.Unlock()
	if r.err != nil {
		return resolver.Manifest{}, r.err
	}
	repo, d, byDigest := strings.Cut(ref, "@")
	var img stubImage
	found := false
	if byDigest {
		for k, i := range r.s.images {
			if strings.HasPrefix(k, repo+":") && i.digest.String() == d {
				img, found = i, true
			}
		}
	} else {
		repo = ref[:strings.LastIndex(ref, ":")]
		var err error
		img, err = r.s.image(ref)
		found = err == nil
	}
	if !found {
		return resolver.Manifest{}, errors.Join(resolver.ErrNotFound, errors.New(ref+": not found"))
	}
	m := resolver.Manifest{Digest: img.digest, Image: img.digest,
		Layers: []ocispecs.Descriptor{{Digest: "sha256:4f0c", Size: 1 << 20, URLs: r.urls[repo]}}}
	if u := r.configURLs[repo]; u != nil {
		m.ConfigDescriptor = ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageConfig, Digest: "sha256:c0f1", Size: 100, URLs: u}
	}
	if r.image != "" && byDigest {
		m.Image = r.image
	}
	if config {
		m.Config = img.config
	}
	return m, nil
}

// sdkResolves are the SDK images the stub was asked to resolve.
func sdkResolves(s *stubClient) []string {
	var out []string
	for _, r := range s.resolves {
		if strings.Contains(r, "/sdks/") {
			out = append(out, r)
		}
	}
	return out
}

// builtSDKs reports whether the stub solved anything that pulls an SDK.
func builtSDKs(t *testing.T, s *stubClient) bool {
	for _, def := range append(slices.Clone(s.solved), s.evaluated...) {
		for _, src := range view(t, def).sources {
			if strings.Contains(src, "/sdks/") {
				return true
			}
		}
	}
	return false
}

func (r *pinnedRegistry) pinnedReads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ref := range r.reads {
		if strings.Contains(ref, "@") {
			out = append(out, ref)
		}
	}
	return out
}

// A lock's entry is data: one that is not what resolving its line could
// give fails the build at the line, and nothing is pinned or fetched
// from it.
func TestInvalidLockEntries(t *testing.T) {
	const key = "Dockerfile.sdk.lock: entry golang@1.23 (bookworm, reg.test/sdks/{platform}:{flavor}-{version}): "
	for _, tc := range []struct {
		name string
		edit func(e *lock.Entry)
		want string
	}{
		{"evil repository", func(e *lock.Entry) { e.Repository = "reg.test/sdks/evil" },
			key + `repository "reg.test/sdks/evil" is not the one the source template gives for golang ("reg.test/sdks/golang")`},
		{"version with a quote and a newline", func(e *lock.Entry) { e.Version = "1.23.2\"\nENV PATH=/evil" },
			key + `version "1.23.2\"\nENV PATH=/evil" is not a version`},
		{"tag of another version", func(e *lock.Entry) { e.Tag = "bookworm-1.23.4" },
			key + `tag "bookworm-1.23.4" is not the one the source template gives for flavor bookworm and version 1.23.2 ("bookworm-1.23.2")`},
		{"version outside the constraint", func(e *lock.Entry) { e.Version, e.Tag = "1.24.0", "bookworm-1.24.0" },
			key + `version "1.24.0" does not satisfy the reference's constraint "1.23"`},
		{"digest", func(e *lock.Entry) { e.Digest = digest.Digest(strings.ToUpper(e.Digest.String())) },
			key + `digest "SHA256:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, tags := sdkStub(lockedDockerfile)
			e := entryFor(s, "linux/amd64")
			evil := s.addSDK("reg.test/sdks/evil:bookworm-1.23.2", 1, nil)
			tc.edit(&e)
			if e.Repository == "reg.test/sdks/evil" {
				e.Digest, e.Platforms["linux/amd64"] = evil, evil
			}
			s.files = map[string]string{"Dockerfile.sdk.lock": string((&lock.File{SDKs: []lock.Entry{e}}).Marshal())}
			_, err := build(context.Background(), s, tags)
			if err == nil || !strings.Contains(err.Error(), "SDK golang@1.23: "+tc.want) || !strings.Contains(err.Error(), "run `sdkfront lock`, which replaces it") {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if src := sourceOf(t, err); src.Ranges[0].Start.Line != 3 {
				t.Errorf("error at line %d, want 3", src.Ranges[0].Start.Line)
			}
			// Nothing was resolved or pulled: not the entry, not the rest.
			if sdkResolves(s) != nil || builtSDKs(t, s) || len(tags.calls) > 0 {
				t.Errorf("resolved %v, listed %v, or built", s.resolves, tags.calls)
			}
		})
	}
}

// An invalid entry no line uses fails the build too, naming the lock.
func TestUnusedInvalidLockEntry(t *testing.T) {
	s, tags := sdkStub(lockedDockerfile)
	e := entryFor(s, "linux/amd64")
	other := e
	other.Ref, other.Version, other.Tag = "golang@1.22", "1.22.10\"", "bookworm-1.22.10\""
	s.files = map[string]string{"Dockerfile.sdk.lock": string((&lock.File{SDKs: []lock.Entry{e, other}}).Marshal())}
	_, err := build(context.Background(), s, tags)
	want := `Dockerfile.sdk.lock: entry golang@1.22 (bookworm, reg.test/sdks/{platform}:{flavor}-{version}): version "1.22.10\"" is not a version`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "no SDK line uses it") {
		t.Fatalf("error %v, want %q", err, want)
	}
	if builtSDKs(t, s) {
		t.Error("the build ran")
	}
}

func TestOversizeLock(t *testing.T) {
	s, tags := sdkStub(lockedDockerfile)
	lf := lockFor(s, "linux/amd64")
	s.files = map[string]string{"Dockerfile.sdk.lock": lf + string(bytes.Repeat([]byte(" "), lock.MaxSize))}
	_, err := build(context.Background(), s, tags)
	want := "Dockerfile.sdk.lock: invalid SDK lockfile: larger than 1 MiB (1048576 bytes), the most a lock may hold"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if src := sourceOf(t, err); src.Ranges[0].Start.Line != 3 {
		t.Errorf("error at line %d, want 3: the first SDK line", src.Ranges[0].Start.Line)
	}
	if sdkResolves(s) != nil || builtSDKs(t, s) {
		t.Errorf("resolved %v", s.resolves)
	}
}

// Where the frontend reads the registry, a locked SDK's manifest is read
// by digest and checked as a resolved one's: its platform manifest, its
// descriptors' foreign URLs (config and index entries too), one layer.
func TestLockedLayersChecked(t *testing.T) {
	for _, tc := range []struct {
		name       string
		urls       []string
		configURLs []string
		allow      string
		err        error
		image      digest.Digest
		wantErr    string
		warn       string
	}{
		{name: "clean"},
		{name: "foreign URL", urls: []string{"https://cdn.example/go.tgz"}, wantErr: "carries foreign URLs (https://cdn.example/go.tgz)"},
		{name: "foreign URL allowed", urls: []string{"https://cdn.example/go.tgz"}, allow: "cdn.example"},
		{name: "foreign URL on the config", configURLs: []string{"https://cdn.example/config.json"}, wantErr: "carries foreign URLs (https://cdn.example/config.json)"},
		{name: "other platform manifest", image: digest.Digest("sha256:" + strings.Repeat("9", 64)),
			wantErr: "its manifest for linux/amd64 is sha256:9999999999999999999999999999999999999999999999999999999999999999, not the lock's sha256:"},
		{name: "unreadable", err: errors.Join(resolver.ErrUnreachable, errors.New("dial tcp: network is unreachable")),
			warn: "SDKLayersUnchecked: SDK golang@1.23: sdkfront could not read the manifest of reg.test/sdks/golang@sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, tags := sdkStub(lockedDockerfile)
			s.files = map[string]string{"Dockerfile.sdk.lock": lockFor(s, "linux/amd64")}
			if tc.allow != "" {
				s.opts["build-arg:SDK_ALLOW_FOREIGN_URLS"] = tc.allow
			}
			reg := &pinnedRegistry{fakeTags: tags, s: s, urls: map[string][]string{"reg.test/sdks/golang": tc.urls}, err: tc.err, image: tc.image,
				configURLs: map[string][]string{"reg.test/sdks/golang": tc.configURLs}}
			wr := &warnRecorder{stubClient: s}
			res, err := build(context.Background(), wr, reg)
			pinned := reg.pinnedReads()
			if len(pinned) != 1 || !strings.HasPrefix(pinned[0], "reg.test/sdks/golang@sha256:") {
				t.Errorf("read by digest: %q, want the locked golang once", pinned)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "SDK golang@1.23: Dockerfile.sdk.lock pins 1.23.2 (reg.test/sdks/golang@sha256:") || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				wantRefusedAt(t, s, err, 3)
				return
			}
			if err != nil {
				t.Fatalf("build: %+v", err)
			}
			if g := resolvedOf(t, res.Metadata[MetaResolved])["golang@1.23"]; g.Version != "1.23.2" || !g.Locked {
				t.Errorf("golang@1.23 = %+v, want 1.23.2 from the lock", g)
			}
			if !builtSDKs(t, s) {
				t.Error("the build pulls no SDK")
			}
			var warned []string
			for _, m := range wr.msgs {
				if strings.HasPrefix(m, "SDKLayersUnchecked") {
					warned = append(warned, m)
				}
			}
			switch {
			case tc.warn == "" && len(warned) > 0:
				t.Errorf("warnings %q", warned)
			case tc.warn != "" && (len(warned) == 0 || !strings.HasPrefix(warned[0], tc.warn) ||
				!strings.Contains(warned[0], "it is locked in Dockerfile.sdk.lock, and the frontend cannot read its registry") || !strings.HasSuffix(warned[0], "(line 3)")):
				t.Errorf("warnings %q, want %q at line 3", warned, tc.warn)
			}
		})
	}
}

// Without a registry client that reads manifests (BuildKit only), a locked
// SDK is pinned as it is: no read, no warning.
func TestLockedLayersWithoutRegistry(t *testing.T) {
	s, tags := sdkStub(lockedDockerfile)
	s.files = map[string]string{"Dockerfile.sdk.lock": lockFor(s, "linux/amd64")}
	wr := &warnRecorder{stubClient: s}
	if _, err := build(context.Background(), wr, tags); err != nil {
		t.Fatal(err)
	}
	for _, m := range wr.msgs {
		if strings.HasPrefix(m, "SDKLayersUnchecked") {
			t.Errorf("warning %q", m)
		}
	}
}

// wantRefusedAt checks that err, a build's error, points at line and that
// no SDK was built before it.
func wantRefusedAt(t *testing.T, s *stubClient, err error, line int32) {
	t.Helper()
	if src := sourceOf(t, err); src.Ranges[0].Start.Line != line {
		t.Errorf("error at line %d, want %d", src.Ranges[0].Start.Line, line)
	}
	if builtSDKs(t, s) {
		t.Error("the build ran")
	}
}
