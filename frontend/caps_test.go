package frontend

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	apicapspb "github.com/moby/buildkit/util/apicaps/pb"
)

// oldDaemon is the stub with the LLB capabilities of an older BuildKit:
// every capability but those it lacks, and those it has disabled.
type oldDaemon struct {
	*stubClient
	lacks    []apicaps.CapID
	disabled map[apicaps.CapID]string // capability -> reason
}

func (d *oldDaemon) BuildOpts() client.BuildOpts {
	bo := d.stubClient.BuildOpts()
	bo.LLBCaps = d.caps()
	return bo
}

func (d *oldDaemon) caps() apicaps.CapSet {
	var caps []*apicapspb.APICap
	for _, c := range pb.Caps.All() {
		if slices.Contains(d.lacks, apicaps.CapID(c.ID)) {
			continue
		}
		if reason, ok := d.disabled[apicaps.CapID(c.ID)]; ok {
			c = &apicapspb.APICap{ID: c.ID, Enabled: false, DisabledReason: "test", DisabledReasonMsg: reason}
		}
		caps = append(caps, c)
	}
	return pb.Caps.CapSet(caps)
}

// v016 lacks what BuildKit v0.17 and later brought, as far as these tests
// need it.
var v016 = []apicaps.CapID{pb.CapExecValidExitCode, pb.CapGCFreeSpaceFilter, pb.CapFileSymlinkCreate, pb.CapExecMetaCDI}

// copyModes lists the --chmod modes of every copy that reached the daemon.
func copyModes(t *testing.T, defs []*pb.Definition) []string {
	t.Helper()
	var out []string
	for _, def := range defs {
		for _, dt := range def.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				t.Fatal(err)
			}
			for _, a := range op.GetFile().GetActions() {
				if cp := a.GetCopy(); cp != nil && cp.ModeStr != "" {
					out = append(out, cp.ModeStr)
				}
			}
		}
	}
	return out
}

// TestSymbolicChmodNeedsV017: BuildKit's LLB library never declares a
// symbolic --chmod mode, and a daemon before v0.17 would give the file
// mode 0000; sdkfront fails at the user's line instead, with and without
// SDK lines (whose rewrite adds lines), and builds on a daemon that has it.
func TestSymbolicChmodNeedsV017(t *testing.T) {
	const src = "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\n"
	cases := []struct {
		name, df string
		line     int32
	}{
		{"no SDK line", "FROM busybox\nCOPY --chmod=u+x f /f\n", 2},
		{"after an SDK line", src + "FROM busybox\nSDK golang@1.23\nRUN true\nCOPY --chmod=u+x f /f\n", 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, tags := sdkStub(c.df)
			s.context = map[string]string{"f": "x"}
			d := &oldDaemon{stubClient: s, lacks: v016}
			_, err := build(context.Background(), d, tags)
			if err == nil {
				t.Fatal("the build succeeded on a daemon without symbolic modes")
			}
			for _, want := range []string{
				"a symbolic --chmod mode (u+x) needs BuildKit v0.17.0 or later",
				"capability file.copy.modestring",
				"mode 0000",
				"--chmod=0755",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "rpc error") || strings.Contains(err.Error(), "unknown API capability") {
				t.Errorf("error %q is the daemon's, not sdkfront's", err)
			}
			src := sourceOf(t, err)
			if string(src.Info.Data) != c.df || src.Ranges[0].Start.Line != c.line {
				t.Errorf("error points at line %d of %q, want line %d of the user's file", src.Ranges[0].Start.Line, src.Info.Data, c.line)
			}
			if got := copyModes(t, s.solved); len(got) != 0 {
				t.Errorf("a copy with --chmod=%v reached the daemon", got)
			}

			s, tags = sdkStub(c.df)
			s.context = map[string]string{"f": "x"}
			if _, err := build(context.Background(), s, tags); err != nil {
				t.Fatalf("the build failed on a daemon with every capability: %v", err)
			}
			if got := copyModes(t, []*pb.Definition{s.finalDef()}); !slices.Equal(got, []string{"u+x"}) {
				t.Errorf("copies with symbolic modes: %v, want [u+x]", got)
			}
		})
	}
}

// dockerfileAt is a Dockerfile location at line, as BuildKit's builder
// attaches one to the ops of an instruction.
func dockerfileAt(line int32) llb.ConstraintsOpt {
	sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte("FROM scratch\nADD x y\nCOPY a b\n"))
	return sm.Location([]*pb.Range{{Start: &pb.Position{Line: line}, End: &pb.Position{Line: line}}})
}

func marshal(t *testing.T, st llb.State) *pb.Definition {
	t.Helper()
	def, err := st.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return def.ToPB()
}

// TestCheckCaps: a capability an op declares or needs without declaring it
// fails at the op's Dockerfile line, with the release that brought it, if
// the daemon lacks it or has it disabled.
func TestCheckCaps(t *testing.T) {
	at := dockerfileAt(2)
	git := llb.Git("https://git.test/repo.git", "main", llb.GitChecksum("0123456789abcdef0123456789abcdef01234567"), at)
	copyFrom := func(ci *llb.CopyInfo) llb.State {
		return llb.Scratch().File(llb.Copy(llb.Image("busybox"), "/bin", "/bin", ci), at)
	}
	cases := []struct {
		name     string
		st       llb.State
		lacks    []apicaps.CapID
		disabled map[apicaps.CapID]string
		want     []string // in the error; none: no error
	}{
		{"declared and lacking", git, []apicaps.CapID{pb.CapSourceGitChecksum}, nil,
			[]string{"ADD --checksum of a Git source needs BuildKit v0.22.0 or later, and the daemon running this build does not support it (capability source.git.checksum)"}},
		{"declared and present", git, v016, nil, nil},
		{"declared and disabled", git, nil, map[apicaps.CapID]string{pb.CapSourceGitChecksum: "not allowed here"},
			[]string{"ADD --checksum of a Git source needs the BuildKit capability source.git.checksum, which the daemon running this build has disabled: not allowed here"}},
		{"undeclared symlink", llb.Scratch().File(llb.Symlink("/a", "/b"), at), v016, nil,
			[]string{"creating a symlink needs BuildKit v0.19.0 or later, and the daemon running this build does not support it (capability file.symlink.create)"}},
		{"undeclared replace", copyFrom(&llb.CopyInfo{AlwaysReplaceExistingDestPaths: true}),
			[]apicaps.CapID{pb.CapFileCopyAlwaysReplaceExistingDestPaths}, nil,
			[]string{"a copy that replaces existing destination paths needs BuildKit v0.14.0 or later"}},
		{"undeclared exclude, old enough", copyFrom(&llb.CopyInfo{ExcludePatterns: []string{"*.txt"}}), v016, nil, nil},
		{"undeclared exclude, too old", copyFrom(&llb.CopyInfo{ExcludePatterns: []string{"*.txt"}}),
			[]apicaps.CapID{pb.CapFileCopyIncludeExcludePatterns}, nil,
			[]string{"a copy with include or exclude patterns (COPY --exclude, --parents) needs a newer BuildKit than the daemon running this build (capability file.copy.includeexcludepatterns)"}},
		{"an SDK on BuildKit v0.10", llb.Image("reg.test/sdks/golang@sha256:"+strings.Repeat("0", 64), llb.WithLayerLimit(1), at),
			[]apicaps.CapID{pb.CapSourceImageLayerLimit}, nil,
			[]string{"an SDK (an image source limited to its one layer) needs BuildKit v0.11.0 or later, and the daemon running this build does not support it (capability source.image.layerlimit)"}},
		{"a capability of unknown age", git, []apicaps.CapID{pb.CapSourceGit}, nil,
			[]string{"this build step needs a newer BuildKit than the daemon running this build (capability source.git)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def := marshal(t, c.st)
			d := &oldDaemon{lacks: c.lacks, disabled: c.disabled}
			caps := d.caps()
			err := checkCaps(def, &caps)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("checkCaps: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("checkCaps passed")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if src := sourceOf(t, err); src.Ranges[0].Start.Line != 2 || src.Info.Filename != "Dockerfile" {
				t.Errorf("error points at %s:%d, want Dockerfile:2", src.Info.Filename, src.Ranges[0].Start.Line)
			}
		})
	}
}

// TestCheckCapsWithoutCaps: a daemon that lists no capabilities is left to
// judge the definition itself.
func TestCheckCapsWithoutCaps(t *testing.T) {
	def := marshal(t, llb.Scratch().File(llb.Symlink("/a", "/b"), dockerfileAt(2)))
	for _, caps := range []*apicaps.CapSet{nil, {}} {
		if err := checkCaps(def, caps); err != nil {
			t.Errorf("checkCaps(%v): %v", caps, err)
		}
	}
	full := pb.Caps.CapSet(pb.Caps.All())
	if err := checkCaps(def, &full); err != nil {
		t.Errorf("checkCaps with every capability: %v", err)
	}
}

// TestCheckCapsNamesTheStep: an op with no Dockerfile line (an SDK source
// sdkfront adds) is named as the progress names it.
func TestCheckCapsNamesTheStep(t *testing.T) {
	st := llb.Image("reg.test/sdks/golang@sha256:"+strings.Repeat("0", 64), llb.WithLayerLimit(1),
		llb.WithCustomName("[sdk] golang 1.23.4 (bookworm) linux/amd64"))
	d := &oldDaemon{lacks: []apicaps.CapID{pb.CapSourceImageLayerLimit}}
	caps := d.caps()
	err := checkCaps(marshal(t, st), &caps)
	want := "[sdk] golang 1.23.4 (bookworm) linux/amd64: an SDK (an image source limited to its one layer) needs BuildKit v0.11.0 or later"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start with %q", err, want)
	}
}
