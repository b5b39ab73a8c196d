package frontend

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
)

const lockedDockerfile = `# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}
FROM busybox
SDK golang@1.23
RUN --mount=type=sdk,ref=nodejs@20,target=/n true
`

// lockFor locks golang@1.23 to the older 1.23.2, so a build that uses the
// lock is told apart from one that resolves the newest.
func lockFor(s *stubClient, platforms ...string) string {
	f := &lock.File{SDKs: []lock.Entry{entryFor(s, platforms...)}}
	return string(f.Marshal())
}

// entryFor is lockFor's entry.
func entryFor(s *stubClient, platforms ...string) lock.Entry {
	d := s.addSDK("reg.test/sdks/golang:bookworm-1.23.2", 1, nil)
	e := lock.Entry{
		Key:     lock.Key{Ref: "golang@1.23", Flavor: "bookworm", Source: "reg.test/sdks/{platform}:{flavor}-{version}"},
		Version: "1.23.2", Repository: "reg.test/sdks/golang", Tag: "bookworm-1.23.2", Digest: d,
		Platforms: map[string]digest.Digest{},
	}
	for _, p := range platforms {
		e.Platforms[p] = d
	}
	return e
}

func resolvedOf(t *testing.T, meta []byte) map[string]resolver.Resolution {
	t.Helper()
	var rs []resolver.Resolution
	if err := json.Unmarshal(meta, &rs); err != nil {
		t.Fatal(err)
	}
	out := map[string]resolver.Resolution{}
	for _, r := range rs {
		out[r.Ref] = r
	}
	return out
}

func TestLockedBuild(t *testing.T) {
	s, tags := sdkStub(lockedDockerfile)
	s.files = map[string]string{"Dockerfile.sdk.lock": lockFor(s, "linux/amd64")}
	wr := &warnRecorder{stubClient: s}
	res, err := build(context.Background(), wr, tags)
	if err != nil {
		t.Fatalf("build: %+v", err)
	}
	got := resolvedOf(t, res.Metadata[MetaResolved])
	if g := got["golang@1.23"]; g.Version != "1.23.2" || !g.Locked {
		t.Errorf("golang@1.23 = %+v, want 1.23.2 from the lock", g)
	}
	if n := got["nodejs@20"]; n.Version != "20.18.0" || n.Locked {
		t.Errorf("nodejs@20 = %+v, want 20.18.0 from the registry", n)
	}
	if tags.calls["reg.test/sdks/golang"] != 0 {
		t.Errorf("listed golang's tags although the lock pins it")
	}
	for _, r := range s.resolves {
		if strings.Contains(r, "/sdks/golang") {
			t.Errorf("resolved %s although the lock pins it", r)
		}
	}
	if !strings.Contains(strings.Join(view(t, s.finalDef()).sources, " "), got["golang@1.23"].Digest.String()) {
		t.Errorf("the build does not pin the locked digest")
	}
	// The line the lock does not have is resolved, with a warning at it.
	want := "SDKNotLocked: SDK nodejs@20 (flavor bookworm) is not in Dockerfile.sdk.lock, so it was resolved from the registry; run `sdkfront lock` to pin it in Dockerfile.sdk.lock (line 4)"
	if !containsStr(wr.msgs, want) {
		t.Errorf("warnings %q lack %q", wr.msgs, want)
	}
	announced := false
	for _, def := range s.evaluated {
		for _, n := range view(t, def).names {
			announced = announced || strings.HasPrefix(n, "[sdk] golang@1.23 -> 1.23.2 (bookworm, locked) reg.test/sdks/golang@")
		}
	}
	if !announced {
		t.Error("progress does not say golang came from the lock")
	}
}

func TestLockModes(t *testing.T) {
	cases := []struct {
		name, mode, lock string
		platform         string
		wantErr          string
		wantGo           string
	}{
		{"frozen with an entry missing", "frozen", "linux/amd64", "", `SDK nodejs@20 (flavor bookworm) is not in Dockerfile.sdk.lock, and SDK_LOCK=frozen allows only locked SDKs`, ""},
		{"frozen without a lock", "frozen", "", "", "SDK golang@1.23 is not locked: there is no Dockerfile.sdk.lock", ""},
		{"off", "off", "linux/amd64", "", "", "1.23.4"},
		{"another platform", "", "linux/arm64", "", "", "1.23.4"},
		{"bad mode", "maybe", "linux/amd64", "", "SDK_LOCK=maybe", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, tags := sdkStub(lockedDockerfile)
			if c.lock != "" {
				s.files = map[string]string{"Dockerfile.sdk.lock": lockFor(s, c.lock)}
			}
			if c.mode != "" {
				s.opts["build-arg:SDK_LOCK"] = c.mode
			}
			res, err := build(context.Background(), s, tags)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := resolvedOf(t, res.Metadata[MetaResolved])["golang@1.23"]; g.Version != c.wantGo || g.Locked {
				t.Errorf("golang@1.23 = %+v, want %s from the registry", g, c.wantGo)
			}
		})
	}
}

// SDK_PRIVATE_NETWORKS names private networks only: anything else fails
// the build, naming the build arg and each bad entry, before any read.
func TestPrivateNetworksBuildArg(t *testing.T) {
	s, tags := sdkStub(lockedDockerfile)
	s.opts["build-arg:SDK_PRIVATE_NETWORKS"] = "10.20.0.0/16, 8.8.8.0/24 fd00:ec2::/32 nonsense"
	_, err := build(context.Background(), s, tags)
	for _, want := range []string{`build arg SDK_PRIVATE_NETWORKS: "8.8.8.0/24" is not within one private network`, `"nonsense" is not a network in CIDR notation`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "10.20.0.0/16") {
		t.Errorf("error %v names a good network", err)
	}
	s, tags = sdkStub(lockedDockerfile)
	s.opts["build-arg:SDK_PRIVATE_NETWORKS"] = "10.20.0.0/16, fd00:ec2::/32"
	if _, err := build(context.Background(), s, tags); err != nil {
		t.Fatalf("private networks: %v", err)
	}
}

func TestBadLockfile(t *testing.T) {
	s, tags := sdkStub(lockedDockerfile)
	s.files = map[string]string{"Dockerfile.sdk.lock": `{"version": 9, "sdks": []}`}
	_, err := build(context.Background(), s, tags)
	if err == nil || !strings.Contains(err.Error(), "Dockerfile.sdk.lock") || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("error %v, want one that names the lockfile and its version", err)
	}
}

// TestUnlistableRangeSaysLock: without network (the offline image) or
// against a registry that does not list tags, a range fails with advice
// to lock it.
func TestUnlistableRangeSaysLock(t *testing.T) {
	s, _ := sdkStub(lockedDockerfile)
	_, err := build(context.Background(), s, unreachableTags{})
	if err == nil || !strings.Contains(err.Error(), "`sdkfront lock` pins it in Dockerfile.sdk.lock") {
		t.Fatalf("error %v, want advice to lock", err)
	}
	_ = sourceOf(t, err)
}

type unreachableTags struct{}

func (unreachableTags) ListTags(_ context.Context, repo string) ([]string, error) {
	return nil, errors.Wrapf(resolver.ErrUnreachable, "%s: dial tcp: network is unreachable", repo)
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
