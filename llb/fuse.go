package llb

import (
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"
)

// Fuse makes every file copy that reads one of the given SDK layer sources
// unpack as it copies, exactly as UnpackInfo does, and returns the definition with the
// digests of the changed ops and of everything built on them recomputed.
//
// The Dockerfile has no instruction that unpacks from another stage, so an
// SDK instruction is rewritten to "COPY --from=<layer> /* <dir>/", and Fuse
// turns that copy into an unpacking one. The SDK then lands in the stage in
// one file operation, instead of being unpacked into a state of its own and
// copied again.
func Fuse(def *pb.Definition, layers map[digest.Digest]bool) (*pb.Definition, error) {
	if def == nil || len(layers) == 0 {
		return def, nil
	}
	ops := make([]*pb.Op, len(def.Def))
	olds := make([]digest.Digest, len(def.Def))
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, errors.Wrap(err, "fuse: decoding op")
		}
		ops[i], olds[i] = &op, digest.FromBytes(dt)
	}

	renamed := map[digest.Digest]digest.Digest{}
	out := def.CloneVT()
	// Ops come after their inputs, but go round until nothing changes so
	// that the order does not matter.
	for changed := true; changed; {
		changed = false
		for i, op := range ops {
			dirty := false
			for _, in := range op.Inputs {
				if nd, ok := renamed[digest.Digest(in.Digest)]; ok {
					in.Digest, dirty = nd.String(), true
				}
			}
			if f := op.GetFile(); f != nil {
				for _, a := range f.Actions {
					cp := a.GetCopy()
					if cp == nil || cp.AttemptUnpackDockerCompatibility || a.SecondaryInput < 0 || int(a.SecondaryInput) >= len(op.Inputs) {
						continue
					}
					if layers[digest.Digest(op.Inputs[a.SecondaryInput].Digest)] {
						// A matched directory (the bin/ of a tree layout) is
						// copied as itself, not as its contents, as COPY would.
						cp.AttemptUnpackDockerCompatibility, cp.AllowWildcard, cp.AllowEmptyWildcard = true, true, true
						cp.DirCopyContents = false
						dirty = true
					}
				}
			}
			if !dirty {
				continue
			}
			dt, err := op.MarshalVT()
			if err != nil {
				return nil, errors.Wrap(err, "fuse: encoding op")
			}
			nd := digest.FromBytes(dt)
			cur := digest.FromBytes(out.Def[i])
			if nd == cur {
				continue
			}
			out.Def[i] = dt
			renamed[olds[i]] = nd
			changed = true
		}
	}
	if len(renamed) == 0 {
		return def, nil
	}
	rekey := func(d string) string {
		if nd, ok := renamed[digest.Digest(d)]; ok {
			return nd.String()
		}
		return d
	}
	if out.Metadata != nil {
		md := make(map[string]*pb.OpMetadata, len(out.Metadata))
		for k, v := range out.Metadata {
			md[rekey(k)] = v
		}
		out.Metadata = md
	}
	if out.Source != nil && out.Source.Locations != nil {
		locs := make(map[string]*pb.Locations, len(out.Source.Locations))
		for k, v := range out.Source.Locations {
			locs[rekey(k)] = v
		}
		out.Source.Locations = locs
	}
	return out, nil
}
