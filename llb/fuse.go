package llb

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/resolver"
)

// Pins is the set of SDK images a build pins, by their LLB identifier.
type Pins map[string]bool

// Add records a resolution.
func (p Pins) Add(r resolver.Resolution) { p[ImageID(r)] = true }

// ImageID is the LLB identifier of the image source Layer, Tree and
// UnpackSource make for r: "docker-image://<repository>@<digest>".
func ImageID(r resolver.Resolution) string { return "docker-image://" + r.Pinned() }

// IsUnpackSource reports whether op is an SDK instruction's source, as
// UnpackSource makes it: an image source pinned to one of the SDKs, with a
// layer limit of 1.
func (p Pins) IsUnpackSource(op *pb.Op) bool {
	src := op.GetSource()
	return src != nil && p[src.Identifier] && src.Attrs[pb.AttrImageLayerLimit] == "1"
}

// IsImage reports whether op is the source of any SDK image of p, as Layer
// or UnpackSource makes it.
func (p Pins) IsImage(op *pb.Op) bool {
	src := op.GetSource()
	return src != nil && p[src.Identifier]
}

// Fused reports what Fuse changed: how many copies it made unpack, the new
// digest of each op that holds one, with the SDK source it unpacks, and how
// many file ops it keyed by the SDK image's digest (see keyByDigest). Trees
// are the ops that unpack an SDK image already, as Tree's for sdk mounts
// do, by their digest in the definition Fuse returns, with the image.
type Fused struct {
	Copies int
	Ops    map[digest.Digest]string
	Keyed  int
	Trees  map[digest.Digest]string
}

// Fuse makes every copy that reads an SDK instruction's source unpack as it
// copies, as UnpackInfo does, and returns the definition with the digests
// of the changed ops and of everything built on them recomputed, and what
// it changed.
//
// The Dockerfile has no instruction that unpacks from another stage, so an
// SDK instruction is rewritten to `COPY --from=<source> ["/*", "<dir>/"]`,
// and Fuse turns that copy into an unpacking one. The SDK then lands in the
// stage in one file operation, instead of being unpacked into a state of
// its own and copied again.
//
// Fuse fails when an SDK source is read by anything but such a copy: that
// is a BuildKit that lowers COPY differently, and the stage would get the
// tarball instead of the SDK tree.
//
// Every file op that copies from an SDK image (the fused copies, and the
// unpacking copy of Tree for sdk mounts) is also keyed by the image's
// digest instead of a content hash of the files it copies: see keyByDigest.
func Fuse(def *pb.Definition, pins Pins) (*pb.Definition, Fused, error) {
	var report Fused
	if def == nil || len(pins) == 0 {
		return def, report, nil
	}
	ops := make([]*pb.Op, len(def.Def))
	olds := make([]digest.Digest, len(def.Def))
	sources := map[digest.Digest]string{} // SDK sources -> identifier
	images := map[digest.Digest]string{}  // every SDK image source -> identifier
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, report, errors.Wrap(err, "fuse: decoding op")
		}
		ops[i], olds[i] = &op, digest.FromBytes(dt)
		if pins.IsUnpackSource(&op) {
			sources[olds[i]] = op.GetSource().Identifier
		}
		if pins.IsImage(&op) {
			images[olds[i]] = op.GetSource().Identifier
		}
	}
	if len(images) == 0 {
		return def, report, nil
	}
	trees := map[int]string{} // op index -> SDK image it unpacks
	for i, op := range ops {
		f := op.GetFile()
		if f == nil {
			continue
		}
		for idx, in := range op.Inputs {
			id, ok := images[digest.Digest(in.Digest)]
			if !ok {
				continue
			}
			if keyByDigest(f, int64(idx)) {
				report.Keyed++
			}
			if unpacksFrom(f, int64(idx)) {
				trees[i] = id
			}
		}
	}
	if len(sources) == 0 && report.Keyed == 0 {
		report.Trees = treeDigests(def, trees)
		return def, report, nil
	}

	read := map[digest.Digest]bool{}
	unpacks := map[int]string{} // op index -> SDK source
	for i, op := range ops {
		for idx, in := range op.Inputs {
			id, ok := sources[digest.Digest(in.Digest)]
			if !ok {
				continue
			}
			read[digest.Digest(in.Digest)] = true
			f := op.GetFile()
			if f == nil {
				return nil, report, errors.Errorf("fuse: the SDK source %s is read by a %s op, not by a file copy: this BuildKit lowers COPY in a way sdkfront does not know", id, opKind(op))
			}
			for _, a := range f.Actions {
				if a.Input != int64(idx) && a.SecondaryInput != int64(idx) {
					continue
				}
				if isKeyMarker(a, int64(idx)) {
					continue
				}
				cp := a.GetCopy()
				if cp == nil || a.SecondaryInput != int64(idx) || cp.Src != "/*" {
					return nil, report, errors.Errorf("fuse: the SDK source %s is read by a file action %s, not by a copy of /*: this BuildKit lowers COPY in a way sdkfront does not know", id, actionKind(a))
				}
				// A matched directory (the bin/ of a tree layout) is copied
				// as itself, not as its contents, as COPY would.
				cp.AttemptUnpackDockerCompatibility, cp.AllowWildcard, cp.AllowEmptyWildcard = true, true, true
				cp.DirCopyContents = false
				report.Copies++
				unpacks[i] = id
			}
		}
	}
	for d, id := range sources {
		if !read[d] {
			return nil, report, errors.Errorf("fuse: nothing copies the SDK source %s", id)
		}
	}
	out, err := redigest(def, ops, olds)
	if err != nil {
		return nil, report, err
	}
	report.Ops = map[digest.Digest]string{}
	for i, id := range unpacks {
		report.Ops[digest.FromBytes(out.Def[i])] = id
	}
	report.Trees = treeDigests(out, trees)
	return out, report, nil
}

// unpacksFrom reports whether a copy of f unpacks from input idx as it is
// (before Fuse: a fused copy does not yet).
func unpacksFrom(f *pb.FileOp, idx int64) bool {
	for _, a := range f.Actions {
		if cp := a.GetCopy(); cp != nil && a.SecondaryInput == idx && cp.AttemptUnpackDockerCompatibility {
			return true
		}
	}
	return false
}

// treeDigests keys trees (by op index) by the ops' digests in def.
func treeDigests(def *pb.Definition, trees map[int]string) map[digest.Digest]string {
	out := make(map[digest.Digest]string, len(trees))
	for i, id := range trees {
		out[digest.FromBytes(def.Def[i])] = id
	}
	return out
}

// keyByDigest makes BuildKit key file op f by the cache key of its input
// idx, an SDK image, which is the image's digest, instead of a content hash
// of the files f copies from it. It adds an action that never runs and that
// has the image as its base: BuildKit computes no content hash of an input
// that an action of the op writes to (solver/llbsolver/ops/file.go,
// CacheMap's invalidSelectors), and runs only the actions that lead to an
// output. The image is pinned by digest, so its digest says all its content
// does; and hashing a tree layer's files (a wildcard source, every file
// read) costs seconds on every cold build: 3 s for the Go toolchain's 250
// MB. TestKeyByDigestSkipsContentHash guards the BuildKit side. It reports
// whether it added the action.
func keyByDigest(f *pb.FileOp, idx int64) bool {
	copies := false
	for _, a := range f.Actions {
		if isKeyMarker(a, idx) {
			return false
		}
		if a.GetCopy() != nil && a.SecondaryInput == idx {
			copies = true
		}
	}
	if !copies {
		return false
	}
	f.Actions = append(f.Actions, &pb.FileAction{
		Input: idx, SecondaryInput: -1, Output: -1,
		Action: &pb.FileAction_Mkdir{Mkdir: &pb.FileActionMkDir{Path: "/", Mode: 0o755, MakeParents: true, Timestamp: -1}},
	})
	return true
}

// isKeyMarker reports whether a is the action keyByDigest adds for input
// idx.
func isKeyMarker(a *pb.FileAction, idx int64) bool {
	mk := a.GetMkdir()
	return mk != nil && a.Input == idx && a.Output == -1 && mk.Path == "/" && mk.MakeParents
}

// redigest re-encodes ops, each after its inputs, so that every op reads
// its inputs by their new digests, and re-keys the metadata and source
// locations.
func redigest(def *pb.Definition, ops []*pb.Op, olds []digest.Digest) (*pb.Definition, error) {
	index := make(map[digest.Digest]int, len(ops))
	for i, d := range olds {
		index[d] = i
	}
	out := def.CloneVT()
	renamed := map[digest.Digest]digest.Digest{}
	done := make([]bool, len(ops))
	var visit func(i int, depth int) error
	visit = func(i int, depth int) error {
		if done[i] {
			return nil
		}
		if depth > len(ops) {
			return errors.New("fuse: the definition has a cycle")
		}
		for _, in := range ops[i].Inputs {
			j, ok := index[digest.Digest(in.Digest)]
			if !ok {
				continue
			}
			if err := visit(j, depth+1); err != nil {
				return err
			}
			if nd, ok := renamed[olds[j]]; ok {
				in.Digest = nd.String()
			}
		}
		dt, err := ops[i].MarshalVT()
		if err != nil {
			return errors.Wrap(err, "fuse: encoding op")
		}
		if nd := digest.FromBytes(dt); nd != olds[i] {
			out.Def[i], renamed[olds[i]] = dt, nd
		}
		done[i] = true
		return nil
	}
	for i := range ops {
		if err := visit(i, 0); err != nil {
			return nil, err
		}
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

func opKind(op *pb.Op) string {
	if op.Op == nil {
		return "empty"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", op.Op), "*pb.Op_")
}

func actionKind(a *pb.FileAction) string {
	if a.Action == nil {
		return "empty"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", a.Action), "*pb.FileAction_")
}
