package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/grpcerrors"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sdkfront/sdkfront/resolver"
)

// stubClient is a gateway client with no daemon behind it. It serves the
// Dockerfile as the "dockerfile" input, resolves images from a table, reads
// files back from the Mkfile actions of whatever it is asked to solve, and
// records every definition it gets.
type stubClient struct {
	opts       map[string]string
	dockerfile string
	files      map[string]string            // more files beside the Dockerfile
	context    map[string]string            // the files of the local build context
	locals     map[string]map[string]string // the files of other local contexts, by name
	imageFiles map[string]map[string]string // docker-image identifier -> files
	images     map[string]stubImage         // "repo:tag" -> image

	mu        sync.Mutex
	solved    []*pb.Definition // not Evaluate: the build itself
	evaluated []*pb.Definition
	resolves  []string
	warnings  []client.WarnOpts
}

type stubImage struct {
	digest digest.Digest
	config []byte
}

var _ client.Client = (*stubClient)(nil)

func newStub(df string, opts map[string]string) *stubClient {
	if opts == nil {
		opts = map[string]string{}
	}
	return &stubClient{opts: opts, dockerfile: df, images: map[string]stubImage{}}
}

// addSDK registers an SDK image with the given labels and layer count.
func (s *stubClient) addSDK(ref string, layers int, labels map[string]string) digest.Digest {
	img := ocispecs.Image{Platform: amd64, Config: ocispecs.ImageConfig{Labels: labels}}
	img.RootFS.Type = "layers"
	for i := range layers {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, digest.FromString(ref+fmt.Sprint(i)))
	}
	dt, _ := json.Marshal(img)
	d := digest.FromBytes(append([]byte(ref), dt...))
	s.images[ref] = stubImage{digest: d, config: dt}
	return d
}

func (s *stubClient) BuildOpts() client.BuildOpts {
	return client.BuildOpts{
		Opts:    maps.Clone(s.opts),
		Workers: []client.WorkerInfo{{ID: "stub", Platforms: []ocispecs.Platform{amd64}}},
		Product: "stub",
		LLBCaps: pb.Caps.CapSet(pb.Caps.All()),
		Caps:    gwpb.Caps.CapSet(gwpb.Caps.All()),
	}
}

func (s *stubClient) Inputs(context.Context) (map[string]llb.State, error) {
	fa := llb.Mkfile("/Dockerfile", 0o644, []byte(s.dockerfile))
	for _, name := range slices.Sorted(maps.Keys(s.files)) {
		fa = fa.Mkfile("/"+name, 0o644, []byte(s.files[name]))
	}
	return map[string]llb.State{"dockerfile": llb.Scratch().File(fa)}, nil
}

func (s *stubClient) image(ref string) (stubImage, error) {
	s.mu.Lock()
	s.resolves = append(s.resolves, ref)
	s.mu.Unlock()
	if img, ok := s.images[ref]; ok {
		return img, nil
	}
	if strings.Contains(ref, "/sdks/") || strings.Contains(ref, "oryx/") {
		// As buildkitd's gateway sends containerd's not found: a gRPC
		// status of codes.Unknown, only its message kept.
		return stubImage{}, grpcerrors.FromGRPC(status.Error(codes.Unknown, ref+": not found"))
	}
	// Any other image is a plain base image.
	dt, _ := json.Marshal(ocispecs.Image{Platform: amd64, Config: ocispecs.ImageConfig{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}})
	return stubImage{digest: digest.FromString(ref), config: dt}, nil
}

func (s *stubClient) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	img, err := s.image(ref)
	return ref, img.digest, img.config, err
}

func (s *stubClient) ResolveSourceMetadata(_ context.Context, op *pb.SourceOp, _ sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	ref := strings.TrimPrefix(op.Identifier, "docker-image://")
	img, err := s.image(ref)
	if err != nil {
		return nil, err
	}
	return &sourceresolver.MetaResponse{Op: op, Image: &sourceresolver.ResolveImageResponse{Digest: img.digest, Config: img.config}}, nil
}

func (s *stubClient) Solve(_ context.Context, req client.SolveRequest) (*client.Result, error) {
	res := client.NewResult()
	if req.Definition == nil {
		return res, nil
	}
	s.mu.Lock()
	if req.Evaluate {
		s.evaluated = append(s.evaluated, req.Definition)
	} else {
		s.solved = append(s.solved, req.Definition)
	}
	s.mu.Unlock()
	files, err := mkfiles(req.Definition)
	if err != nil {
		return nil, err
	}
	for id, fs := range s.imageFiles {
		if hasSource(req.Definition, id) {
			for k, v := range fs {
				files[path.Clean("/"+k)] = []byte(v)
			}
		}
	}
	if hasSource(req.Definition, "local://context") {
		for k, v := range s.context {
			files[path.Clean("/"+k)] = []byte(v)
		}
	}
	for name, fs := range s.locals {
		if hasSource(req.Definition, "local://"+name) {
			for k, v := range fs {
				files[path.Clean("/"+k)] = []byte(v)
			}
		}
	}
	res.SetRef(&stubRef{files: files})
	return res, nil
}

func (s *stubClient) NewContainer(context.Context, client.NewContainerRequest) (client.Container, error) {
	return nil, fmt.Errorf("stub: no containers")
}

func (s *stubClient) Warn(_ context.Context, _ digest.Digest, _ string, opts client.WarnOpts) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warnings = append(s.warnings, opts)
	return nil
}

// finalDef is the last definition solved without Evaluate: the build.
func (s *stubClient) finalDef() *pb.Definition {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.solved) == 0 {
		return nil
	}
	return s.solved[len(s.solved)-1]
}

// hasSource reports whether def has a source op with the identifier.
func hasSource(def *pb.Definition, id string) bool {
	for _, dt := range def.Def {
		var op pb.Op
		if op.UnmarshalVT(dt) == nil && op.GetSource().GetIdentifier() == id {
			return true
		}
	}
	return false
}

// mkfiles collects the files that Mkfile actions in def create.
func mkfiles(def *pb.Definition) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, err
		}
		if f := op.GetFile(); f != nil {
			for _, a := range f.Actions {
				if mk := a.GetMkfile(); mk != nil {
					files[path.Clean("/"+mk.Path)] = mk.Data
				}
			}
		}
	}
	return files, nil
}

type stubRef struct{ files map[string][]byte }

func (r *stubRef) ToState() (llb.State, error)    { return llb.Scratch(), nil }
func (r *stubRef) Evaluate(context.Context) error { return nil }

func (r *stubRef) ReadFile(_ context.Context, req client.ReadRequest) ([]byte, error) {
	if dt, ok := r.files[path.Clean("/"+req.Filename)]; ok {
		return dt, nil
	}
	return nil, fmt.Errorf("open %s: %w", req.Filename, os.ErrNotExist)
}

func (r *stubRef) StatFile(_ context.Context, req client.StatRequest) (*fstypes.Stat, error) {
	if dt, ok := r.files[path.Clean("/"+req.Path)]; ok {
		return &fstypes.Stat{Path: req.Path, Size: int64(len(dt))}, nil
	}
	return nil, fmt.Errorf("stat %s: %w", req.Path, os.ErrNotExist)
}

// ReadDir lists the files and directories right under req.Path.
func (r *stubRef) ReadDir(_ context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	dir := path.Clean("/" + req.Path)
	seen := map[string]*fstypes.Stat{}
	for name, dt := range r.files {
		rel := strings.TrimPrefix(name, strings.TrimSuffix(dir, "/")+"/")
		if rel == name && dir != "/" {
			continue
		}
		first, rest, sub := strings.Cut(rel, "/")
		switch {
		case sub && rest != "":
			seen[first] = &fstypes.Stat{Path: first, Mode: uint32(os.ModeDir | 0o755)}
		default:
			seen[first] = &fstypes.Stat{Path: first, Mode: 0o644, Size: int64(len(dt))}
		}
	}
	var out []*fstypes.Stat
	for _, k := range slices.Sorted(maps.Keys(seen)) {
		out = append(out, seen[k])
	}
	return out, nil
}

// fakeTags is a TagLister over a fixed table that counts its calls.
type fakeTags struct {
	mu    sync.Mutex
	tags  map[string][]string
	calls map[string]int
}

var _ resolver.TagLister = (*fakeTags)(nil)

func (f *fakeTags) ListTags(_ context.Context, repo string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[repo]++
	tags, ok := f.tags[repo]
	if !ok {
		return nil, fmt.Errorf("%s: %w", repo, resolver.ErrRepositoryNotFound)
	}
	return tags, nil
}

var amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
