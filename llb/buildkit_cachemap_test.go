package llb

import (
	"context"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver"
	bkops "github.com/moby/buildkit/solver/llbsolver/ops"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// vertex is the least of a solver.Vertex that BuildKit's file op needs to
// compute its cache map.
type vertex struct {
	dgst   digest.Digest
	inputs []solver.Edge
}

func (v vertex) Digest() digest.Digest         { return v.dgst }
func (v vertex) Sys() any                      { return nil }
func (v vertex) Options() solver.VertexOptions { return solver.VertexOptions{} }
func (v vertex) Inputs() []solver.Edge         { return v.inputs }
func (v vertex) Name() string                  { return v.dgst.String() }
func (v vertex) withInputs(n int) vertex {
	for range n {
		v.inputs = append(v.inputs, solver.Edge{Vertex: vertex{dgst: digest.FromString("input")}})
	}
	return v
}

// contentHashed reports, for each input of the file op in def that reads
// the SDK image, whether BuildKit keys the op by a content hash of what it
// copies from the image (true) or by the image's own key (false), using
// BuildKit's own file op.
func contentHashed(t *testing.T, def *pb.Definition) []bool {
	t.Helper()
	var got []bool
	all := decode(t, def)
	for d, op := range all {
		f := op.GetFile()
		if f == nil {
			continue
		}
		fop, err := bkops.NewFileOp(vertex{dgst: d}.withInputs(len(op.Inputs)), &pb.Op_File{File: f}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cm, _, err := fop.CacheMap(context.Background(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for idx, in := range op.Inputs {
			if pins().IsImage(all[digest.Digest(in.Digest)]) {
				got = append(got, cm.Deps[idx].ComputeDigestFunc != nil)
			}
		}
	}
	return got
}

// TestKeyByDigestSkipsContentHash guards keyByDigest's coupling to
// BuildKit: a copy from an SDK image is content-hashed as it comes from
// the converter (the control), and is not once Fuse has keyed it. If a
// BuildKit upgrade changes either, this fails: the build would stay
// correct, but seconds slower for tree layers, or the marker would be dead.
func TestKeyByDigestSkipsContentHash(t *testing.T) {
	for name, st := range map[string]llb.State{
		"SDK instruction": llb.Image("busybox").With(copyAll(UnpackSource(res, amd64), "/opt/go/")),
		"sdk mount tree":  Tree(res, amd64),
	} {
		t.Run(name, func(t *testing.T) {
			in := marshal(t, st)
			if got := contentHashed(t, in); len(got) != 1 || !got[0] {
				t.Fatalf("before Fuse: content hashed %v, want [true] (BuildKit hashes copied files; the control failed)", got)
			}
			out, _, err := Fuse(in, pins())
			if err != nil {
				t.Fatal(err)
			}
			if got := contentHashed(t, out); len(got) != 1 || got[0] {
				t.Fatalf("after Fuse: content hashed %v, want [false]: BuildKit no longer skips the content hash of an input an action writes to", got)
			}
		})
	}
}
