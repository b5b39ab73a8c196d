package frontend

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/lock"
)

// TestLockedVersionCannotWriteInstructions: a lockfile whose version would
// end the quotes of ENV PATH="/opt/golang/<version>/bin:…" and add a RUN
// fails the build at the SDK's line, naming the version and the character,
// before any RUN.
func TestLockedVersionCannotWriteInstructions(t *testing.T) {
	const evil = "1.23.2\"\nRUN echo pwned > /pwned\nENV Z=\""
	s, tags := sdkStub(lockedDockerfile)
	d := s.addSDK("reg.test/sdks/golang:bookworm-1.23.2", 1, nil)
	f := &lock.File{SDKs: []lock.Entry{{
		Key:     lock.Key{Ref: "golang@1.23", Flavor: "bookworm", Source: "reg.test/sdks/{platform}:{flavor}-{version}"},
		Version: evil, Repository: "reg.test/sdks/golang", Tag: "bookworm-1.23.2", Digest: d,
		Platforms: map[string]digest.Digest{"linux/amd64": d},
	}}}
	s.files = map[string]string{"Dockerfile.sdk.lock": string(f.Marshal())}
	_, err := build(context.Background(), s, tags)
	if err == nil {
		t.Fatal("the build succeeded")
	}
	for _, def := range s.solved {
		for _, dt := range def.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				t.Fatal(err)
			}
			if e := op.GetExec(); e != nil {
				t.Errorf("a RUN step was solved: %v", e.Meta.Args)
			}
		}
	}
	// The lockfile's own checks may refuse the version first; if they do
	// not, the rewrite does, at the SDK's line.
	if strings.Contains(err.Error(), "names the SDK's directory") {
		want := `SDK golang@1.23: version "1.23.2\"\nRUN echo pwned > /pwned\nENV Z=\"": character '"' is not allowed in a directory name (allowed: letters, digits and . _ - + @ ~); it comes from the lockfile`
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
		if srcs := errdefs.Sources(err); len(srcs) != 1 || srcs[0].Ranges[0].Start.Line != 3 {
			t.Errorf("error at %v, want line 3", srcs)
		}
	} else if !strings.Contains(err.Error(), "version") {
		t.Errorf("error %q does not name the version", err)
	}
}
