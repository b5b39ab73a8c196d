package frontend

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"
)

const trixieRelease = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n"

func TestFlavorFromBaseImage(t *testing.T) {
	cases := []struct {
		name, df, want string
		fallback       bool
	}{
		{"base has the flavor", "FROM debian:trixie\nSDK golang@1.23\n", "trixie", false},
		{"through a stage", "FROM debian:trixie AS a\nFROM a\nSDK golang@1.23\n", "trixie", false},
		{"SDK lacks it", "FROM debian:trixie\nSDK python@3.11.9\n", "bookworm", true},
		{"scratch", "FROM scratch\nSDK golang@1.23\n", "bookworm", false},
		{"no os-release", "FROM busybox\nSDK golang@1.23\n", "bookworm", false},
		{"chosen", "FROM debian:trixie\nSDK golang@1.23 --flavor=bookworm\n", "bookworm", false},
		{"chosen by directive", "# sdk-flavor=bookworm\nFROM debian:trixie\nSDK golang@1.23\n", "bookworm", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\n" + c.df
			s, tags := sdkStub(df)
			// The base is read pinned to the digest the stub resolves it to.
			s.imageFiles = map[string]map[string]string{"docker-image://docker.io/library/debian@" + digest.FromString("docker.io/library/debian:trixie").String(): {"/etc/os-release": trixieRelease}}
			tags.tags["reg.test/sdks/golang"] = append(tags.tags["reg.test/sdks/golang"], "trixie-1.23.3")
			s.addSDK("reg.test/sdks/golang:trixie-1.23.3", 1, nil)
			wr := &warnRecorder{stubClient: s}
			res, err := build(context.Background(), wr, tags)
			if err != nil {
				t.Fatalf("build: %+v", err)
			}
			var got string
			for _, r := range resolvedOf(t, res.Metadata[MetaResolved]) {
				got = r.Flavor
			}
			if got != c.want {
				t.Errorf("flavor %q, want %q", got, c.want)
			}
			warned := false
			for _, m := range wr.msgs {
				if strings.HasPrefix(m, "SDKFlavorFallback: SDK python@3.11.9: the base image debian:trixie is trixie, but the SDK has no trixie flavor, so it gets bookworm") {
					warned = true
				}
			}
			if warned != c.fallback {
				t.Errorf("fallback warned=%v, want %v: %q", warned, c.fallback, wr.msgs)
			}
			// The base is resolved once: reading its flavor and the
			// builder's FROM share the answer.
			n := 0
			for _, r := range s.resolves {
				if strings.Contains(r, "debian") {
					n++
				}
			}
			if strings.Contains(c.df, "debian") && n != 1 {
				t.Errorf("the base image was resolved %d times, want once: %q", n, s.resolves)
			}
		})
	}
}

// taggedOnly resolves only references with a tag or digest, as a daemon
// does: it answers "object required" to "debian".
type taggedOnly struct{ *stubClient }

func (c taggedOnly) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	if named, err := reference.ParseNormalizedNamed(ref); err != nil || reference.IsNameOnly(named) {
		return "", "", nil, errors.New("object required")
	}
	return c.stubClient.ResolveImageConfig(ctx, ref, opt)
}

// TestFlavorOfAnUntaggedBase: FROM debian is debian:latest.
func TestFlavorOfAnUntaggedBase(t *testing.T) {
	s, tags := sdkStub("# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM debian\nSDK golang@1.23\n")
	s.imageFiles = map[string]map[string]string{"docker-image://docker.io/library/debian@" + digest.FromString("docker.io/library/debian:latest").String(): {"/etc/os-release": trixieRelease}}
	tags.tags["reg.test/sdks/golang"] = append(tags.tags["reg.test/sdks/golang"], "trixie-1.23.3")
	s.addSDK("reg.test/sdks/golang:trixie-1.23.3", 1, nil)
	res, err := build(context.Background(), taggedOnly{s}, tags)
	if err != nil {
		t.Fatalf("build: %+v", err)
	}
	for _, r := range resolvedOf(t, res.Metadata[MetaResolved]) {
		if r.Flavor != "trixie" {
			t.Errorf("flavor %q, want trixie (debian:latest's); resolved %q", r.Flavor, s.resolves)
		}
	}
}
