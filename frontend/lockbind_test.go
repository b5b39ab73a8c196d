package frontend

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sdkfront/sdkfront/lock"
)

// announced is the progress names of the stub's evaluated definitions
// that start with prefix.
func announced(t *testing.T, s *stubClient, prefix string) []string {
	t.Helper()
	var out []string
	for _, def := range s.evaluated {
		for _, n := range view(t, def).names {
			if strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
	}
	return out
}

// A lock entry's digest must be its version's: where the frontend reads
// the registry, the pinned image's version label must name the entry's
// version. An entry that keeps its version and tag but pins another
// version's image fails at its line; an image without a label is pinned
// with a warning that the binding was not checked; the progress says
// which version the image is.
func TestLockedDigestBoundToVersion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		labels   map[string]string // of the locked 1.23.2 image
		swap     bool              // the entry pins the 1.22.10 image instead
		wantErr  string
		warn     string
		progress string
	}{
		{name: "labelled with its version", labels: map[string]string{"org.oryx.version": "1.23.2"},
			progress: " (image labelled 1.23.2)"},
		{name: "another version's digest", swap: true,
			wantErr: "SDK golang@1.23 is locked in Dockerfile.sdk.lock to 1.23.2, but its digest %s is the image of 1.22.10 (label org.oryx.sdk.version); run sdkfront lock --update golang@1.23"},
		{name: "no label", labels: map[string]string{"org.opencontainers.image.version": "1.22.10"},
			warn:     "SDKLockUnbound: SDK golang@1.23 is locked to 1.23.2, but the image reg.test/sdks/golang@%s has no version label (org.oryx.version or org.oryx.sdk.version), so sdkfront could not check that it is that version's; `sdkfront lock --check` checks that the entry's tag still points to it (line 3)",
			progress: " (image version unchecked)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, tags := sdkStub(lockedDockerfile)
			e := entryFor(s, "linux/amd64")
			d := s.addSDK("reg.test/sdks/golang:bookworm-1.23.2", 1, tc.labels)
			if tc.swap {
				d = s.addSDK("reg.test/sdks/golang:bookworm-1.22.10", 1, map[string]string{"org.oryx.sdk.version": "1.22.10"})
			}
			e.Digest, e.Platforms["linux/amd64"] = d, d
			s.files = map[string]string{"Dockerfile.sdk.lock": lockOf(e)}
			reg := &pinnedRegistry{fakeTags: tags, s: s}
			wr := &warnRecorder{stubClient: s}
			_, err := build(context.Background(), wr, reg)
			if tc.wantErr != "" {
				want := fmt.Sprintf(tc.wantErr, d)
				if err == nil || err.Error() != want {
					t.Fatalf("error %v, want %q", err, want)
				}
				wantRefusedAt(t, s, err, 3)
				return
			}
			if err != nil {
				t.Fatalf("build: %+v", err)
			}
			var warned []string
			for _, m := range wr.msgs {
				if strings.HasPrefix(m, "SDKLockUnbound") {
					warned = append(warned, m)
				}
			}
			if want := fmt.Sprintf(tc.warn, d); (tc.warn == "") != (len(warned) == 0) || (tc.warn != "" && warned[0] != want) {
				t.Errorf("warnings %q, want %q", warned, want)
			}
			want := "[sdk] golang@1.23 -> 1.23.2 (bookworm, locked) reg.test/sdks/golang@" + d.String() + tc.progress
			if got := announced(t, s, "[sdk] golang@1.23 "); len(got) != 1 || got[0] != want {
				t.Errorf("progress %q, want %q", got, want)
			}
		})
	}
}

// lockOf is a lock of the given entries.
func lockOf(es ...lock.Entry) string { return string((&lock.File{SDKs: es}).Marshal()) }
