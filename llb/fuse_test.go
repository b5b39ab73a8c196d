package llb

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

func decode(t *testing.T, def *pb.Definition) map[digest.Digest]*pb.Op {
	t.Helper()
	out := map[digest.Digest]*pb.Op{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		out[digest.FromBytes(dt)] = &op
	}
	return out
}

func marshal(t *testing.T, st llb.State) *pb.Definition {
	t.Helper()
	def, err := st.Marshal(context.Background(), llb.Platform(amd64))
	if err != nil {
		t.Fatal(err)
	}
	return def.ToPB()
}

// copyAll copies "/*" of src to dir/, as BuildKit lowers the rewritten
// SDK instruction (frontend tests check that against the real converter).
func copyAll(src llb.State, dir string) llb.StateOption {
	return func(st llb.State) llb.State {
		return st.File(llb.Copy(src, "/*", dir, &llb.CopyInfo{AllowWildcard: true, CreateDestPath: true, CopyDirContentsOnly: true}),
			llb.WithCustomName("SDK golang@1.23"))
	}
}

func pins() Pins {
	p := Pins{}
	p.Add(res)
	return p
}

func TestFuseUnpacksCopiesOfSDKSourcesOnly(t *testing.T) {
	sdk := UnpackSource(res, amd64)
	mount := Layer(res, amd64)                                                                 // an sdk mount with unpack=false
	other := llb.Image("127.0.0.1:5000/sdks/golang@"+res.Digest.String(), llb.Platform(amd64)) // a user's own COPY --from
	st := llb.Image("busybox").
		With(copyAll(sdk, "/opt/go/")).
		File(llb.Copy(other, "/", "/raw/")).
		File(llb.Copy(mount, "/*", "/tarball/", &llb.CopyInfo{AllowWildcard: true})).
		File(llb.Mkdir("/after", 0o755), llb.WithCustomName("after"))
	in := marshal(t, st)

	out, report, err := Fuse(in, pins())
	if err != nil {
		t.Fatal(err)
	}
	if report.Copies != 1 || len(report.Ops) != 1 {
		t.Fatalf("fused %d copies in %d ops, want 1 in 1", report.Copies, len(report.Ops))
	}
	for d, id := range report.Ops {
		if _, ok := decode(t, out)[d]; !ok || id != "docker-image://"+res.Pinned() {
			t.Errorf("reported op %s (%s) is not the fused one", d, id)
		}
	}
	ops := decode(t, out)
	unpacks, plain := 0, 0
	for d, op := range ops {
		for _, in := range op.Inputs {
			if _, ok := ops[digest.Digest(in.Digest)]; !ok {
				t.Errorf("op %s reads %s, which is not in the definition", d, in.Digest)
			}
		}
		f := op.GetFile()
		if f == nil {
			continue
		}
		for _, a := range f.Actions {
			cp := a.GetCopy()
			if cp == nil {
				continue
			}
			src := ops[digest.Digest(op.Inputs[a.SecondaryInput].Digest)]
			switch {
			case pins().IsUnpackSource(src):
				if !cp.AttemptUnpackDockerCompatibility || cp.DirCopyContents || !cp.AllowEmptyWildcard {
					t.Errorf("SDK copy not fused: %+v", cp)
				}
				unpacks++
				if name := out.Metadata[d.String()].GetDescription()["llb.customname"]; name != "SDK golang@1.23" {
					t.Errorf("the fused op lost its name: %q", name)
				}
			case cp.AttemptUnpackDockerCompatibility:
				t.Errorf("copy of %s unpacks", src.GetSource().GetIdentifier())
			default:
				plain++
			}
		}
	}
	if unpacks != 1 || plain != 2 {
		t.Errorf("got %d unpacking and %d plain copies, want 1 and 2", unpacks, plain)
	}
	if len(out.Metadata) != len(in.Metadata) {
		t.Errorf("metadata for %d ops, want %d", len(out.Metadata), len(in.Metadata))
	}
	for _, op := range decode(t, in) {
		if f := op.GetFile(); f != nil && f.Actions[0].GetCopy() != nil && f.Actions[0].GetCopy().AttemptUnpackDockerCompatibility {
			t.Error("Fuse modified the definition it was given")
		}
	}
}

func TestFuseLeavesDefinitionsWithoutSDKImages(t *testing.T) {
	in := marshal(t, llb.Image("busybox").File(llb.Copy(llb.Image("golang:1.23"), "/usr/local/go", "/go")))
	out, report, err := Fuse(in, pins())
	if err != nil || report.Copies != 0 || report.Keyed != 0 || out != in {
		t.Errorf("Fuse = %v, %+v, %v; want the definition untouched", out == in, report, err)
	}
}

// TestFuseKeysTreeCopiesByDigest: the copy of an sdk mount's Tree is not
// fused (it unpacks already) but is keyed by the image's digest, and the
// rest of the definition is unchanged.
func TestFuseKeysTreeCopiesByDigest(t *testing.T) {
	in := marshal(t, Tree(res, amd64))
	out, report, err := Fuse(in, pins())
	if err != nil || report.Copies != 0 || report.Keyed != 1 {
		t.Fatalf("Fuse = %+v, %v; want no copy fused and one op keyed", report, err)
	}
	if len(report.Trees) != 1 {
		t.Errorf("trees %v, want the tree's op", report.Trees)
	}
	for d, id := range report.Trees {
		if op, ok := decode(t, out)[d]; !ok || op.GetFile() == nil || id != "docker-image://"+res.Pinned() {
			t.Errorf("reported tree %s (%s) is not the unpacking op of the definition", d, id)
		}
	}
	again, report2, err := Fuse(out, pins())
	if err != nil || report2.Keyed != 0 || again != out {
		t.Errorf("Fuse of a keyed definition = %+v, %v; want it untouched", report2, err)
	}
	if !maps.Equal(report2.Trees, report.Trees) {
		t.Errorf("trees of a keyed definition %v, want %v", report2.Trees, report.Trees)
	}
	for d, op := range decode(t, out) {
		f := op.GetFile()
		if f == nil {
			continue
		}
		if len(f.Actions) != 2 || !isKeyMarker(f.Actions[1], f.Actions[0].SecondaryInput) {
			t.Errorf("op %s: actions %v, want the copy and a key marker on its source", d, f.Actions)
		}
		if cp := f.Actions[0].GetCopy(); cp == nil || cp.Src != "/*" || !cp.AttemptUnpackDockerCompatibility {
			t.Errorf("op %s: the copy changed: %+v", d, cp)
		}
	}
}

// TestFuseFailsLoudly: when an SDK source is read in any way but the copy
// BuildKit makes of the rewritten instruction, the SDK would land as a
// tarball; Fuse must say so instead.
func TestFuseFailsLoudly(t *testing.T) {
	sdk := UnpackSource(res, amd64)
	cases := map[string]llb.State{
		"exec mount": llb.Image("busybox").Run(llb.Shlex("true"), llb.AddMount("/sdk", sdk, llb.Readonly)).Root(),
		"other src":  llb.Image("busybox").File(llb.Copy(sdk, "/sdk.tar.gz", "/opt/go/")),
		"merge":      llb.Merge([]llb.State{llb.Image("busybox"), sdk}),
		"nothing":    sdk,
	}
	for name, st := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := Fuse(marshal(t, st), pins())
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), res.Pinned()) {
				t.Errorf("error %q does not name the SDK", err)
			}
		})
	}
}
