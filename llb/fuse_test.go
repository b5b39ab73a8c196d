package llb

import (
	"context"
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

func TestFuseUnpacksCopiesOfSDKLayersOnly(t *testing.T) {
	ctx := context.Background()
	sdk := Layer(res, amd64)
	other := llb.Image("127.0.0.1:5000/sdks/golang@"+res.Digest.String(), llb.Platform(amd64)) // a user's own COPY
	st := llb.Image("busybox").
		File(llb.Copy(sdk, "/*", "/opt/go/", &llb.CopyInfo{AllowWildcard: true, CreateDestPath: true, CopyDirContentsOnly: true}), llb.WithCustomName("SDK golang@1.23")).
		File(llb.Copy(other, "/", "/raw/")).
		File(llb.Mkdir("/after", 0o755), llb.WithCustomName("after"))
	def, err := st.Marshal(ctx, llb.Platform(amd64))
	if err != nil {
		t.Fatal(err)
	}
	sdkDef, err := sdk.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	layer := digest.FromBytes(sdkDef.Def[0])

	in := def.ToPB()
	out, err := Fuse(in, map[digest.Digest]bool{layer: true})
	if err != nil {
		t.Fatal(err)
	}
	if out == in {
		t.Fatal("nothing was fused")
	}
	unpacks, plain := 0, 0
	for d, op := range decode(t, out) {
		for _, in := range op.Inputs {
			if _, ok := decode(t, out)[digest.Digest(in.Digest)]; !ok {
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
			src := op.Inputs[a.SecondaryInput].Digest
			switch {
			case digest.Digest(src) == layer && cp.AttemptUnpackDockerCompatibility && !cp.DirCopyContents:
				unpacks++
			case digest.Digest(src) != layer && !cp.AttemptUnpackDockerCompatibility:
				plain++
			default:
				t.Errorf("copy from %s: unpack=%v", src, cp.AttemptUnpackDockerCompatibility)
			}
		}
		if name := out.Metadata[d.String()].GetDescription()["llb.customname"]; f.Actions[0].GetCopy() != nil && a0(f) == "/*" && name != "SDK golang@1.23" {
			t.Errorf("the fused op lost its name: %q", name)
		}
	}
	if unpacks != 1 || plain != 1 {
		t.Errorf("got %d unpacking and %d plain copies, want 1 and 1", unpacks, plain)
	}
	if len(out.Metadata) != len(in.Metadata) {
		t.Errorf("metadata for %d ops, want %d", len(out.Metadata), len(in.Metadata))
	}
	// The input is left as it was.
	if _, err := Fuse(in, nil); err != nil || len(decode(t, in)) != len(in.Def) {
		t.Error("Fuse changed its input")
	}
	for _, op := range decode(t, in) {
		if f := op.GetFile(); f != nil && f.Actions[0].GetCopy() != nil && f.Actions[0].GetCopy().AttemptUnpackDockerCompatibility {
			t.Error("Fuse modified the definition it was given")
		}
	}
}

func a0(f *pb.FileOp) string { return f.Actions[0].GetCopy().Src }
