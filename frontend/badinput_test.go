package frontend

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"

	"github.com/sdkfront/sdkfront/internal/badinput"
)

// ListRepositories makes fakeTags a registry with a catalog.
func (f *fakeTags) ListRepositories(_ context.Context, registry string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for repo := range f.tags {
		if strings.HasPrefix(repo, registry+"/") {
			out = append(out, repo)
		}
	}
	return out, nil
}

// labStub holds what the lab registry holds of the SDKs the bad-input
// table refers to.
func labStub(df string) (*stubClient, *fakeTags) {
	s := newStub(df, nil)
	tags := &fakeTags{tags: map[string][]string{
		"reg.test/sdks/golang": {"bookworm-1.22.10", "bookworm-1.23.4", "bookworm-default"},
		"reg.test/sdks/python": {"bookworm-3.11.9", "bookworm-3.12.7", "bullseye-3.11.9"},
		"reg.test/sdks/broken": {"bookworm-1.0.0"},
	}}
	for repo, ts := range tags.tags {
		for _, tag := range ts {
			layers := 1
			if strings.Contains(repo, "broken") {
				layers = 2
			}
			s.addSDK(repo+":"+tag, layers, map[string]string{"org.oryx.version": "1.23.4"})
		}
	}
	return s, tags
}

// TestBadInput: every bad input fails before any RUN, with an error that
// says what is wrong, on the user's line.
func TestBadInput(t *testing.T) {
	if len(badinput.Cases) < 40 {
		t.Fatalf("only %d bad inputs", len(badinput.Cases))
	}
	for _, c := range badinput.Cases {
		t.Run(c.Name, func(t *testing.T) {
			df := c.Text("reg.test/sdks/{platform}:{flavor}-{version}")
			s, tags := labStub(df)
			for k, v := range c.Args {
				s.opts["build-arg:"+k] = v
			}
			s.context = c.Context
			_, err := build(context.Background(), s, tags)
			if err == nil {
				t.Fatal("the build succeeded")
			}
			for _, w := range c.Want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			srcs := errdefs.Sources(err)
			if c.Line > 0 {
				if len(srcs) != 1 {
					t.Fatalf("error has %d Dockerfile sources, want 1: %v", len(srcs), err)
				}
				if l := srcs[0].Ranges[0].Start.Line; l != int32(c.Line) || string(srcs[0].Info.Data) != df {
					t.Errorf("error at line %d of %q, want line %d of the user's file", l, srcs[0].Info.Data, c.Line)
				}
			}
			for _, def := range s.solved {
				for _, dt := range def.Def {
					var op pb.Op
					if err := op.UnmarshalVT(dt); err != nil {
						t.Fatal(err)
					}
					if op.GetExec() != nil {
						t.Errorf("a RUN step was solved before the error")
					}
				}
			}
		})
	}
}
