package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/moby/buildkit/util/grpcerrors"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeImages is an ImageResolver over a map of "repo:tag" to image. Missing
// images fail the way BuildKit's gateway client reports them: a gRPC
// status of codes.Unknown whose message says not found (gatewayError).
type fakeImages struct {
	mu     sync.Mutex
	images map[string]fakeImage
	errs   map[string]error
	calls  []string // logNames, in order
}

type fakeImage struct {
	digest digest.Digest
	config []byte
}

func (f *fakeImages) ResolveImage(ctx context.Context, ref string, _ ocispecs.Platform, logName string) (digest.Digest, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, logName)
	if err := f.errs[ref]; err != nil {
		return "", nil, err
	}
	img, ok := f.images[ref]
	if !ok {
		return "", nil, fmt.Errorf("failed to resolve source metadata for %s: %w", ref, gatewayError(ref+": not found"))
	}
	return img.digest, img.config, nil
}

// gatewayError is an error of buildkitd's as BuildKit's gateway client
// returns it: containerd's errdefs errors have no gRPC code, so they cross
// as codes.Unknown, and only their message comes back.
func gatewayError(msg string) error {
	return grpcerrors.FromGRPC(status.Error(codes.Unknown, msg))
}

// add adds an SDK image whose config has the given layers (diff IDs) and labels.
func (f *fakeImages) add(ref string, labels map[string]string, diffIDs ...digest.Digest) {
	if diffIDs == nil {
		diffIDs = []digest.Digest{digest.FromString(ref)}
	}
	config, err := json.Marshal(ocispecs.Image{
		Config: ocispecs.ImageConfig{Labels: labels},
		RootFS: ocispecs.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	if err != nil {
		panic(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.images == nil {
		f.images = map[string]fakeImage{}
	}
	f.images[ref] = fakeImage{digest: digest.FromBytes(config), config: config}
}

// fakeTags is a TagLister over a map of repository to tags. Unknown
// repositories are ErrRepositoryNotFound, as the registry client reports.
type fakeTags struct {
	mu    sync.Mutex
	tags  map[string][]string
	errs  map[string]error
	calls map[string]int
	// gate, when set, holds every listing until it is closed; started
	// receives the repository of each listing as it begins.
	gate    chan struct{}
	started chan string
}

func (f *fakeTags) ListTags(ctx context.Context, repo string) ([]string, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[repo]++
	f.mu.Unlock()
	if f.started != nil {
		f.started <- repo
	}
	if f.gate != nil {
		<-f.gate
	}
	if err := f.errs[repo]; err != nil {
		return nil, err
	}
	tags, ok := f.tags[repo]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrRepositoryNotFound, repo)
	}
	return tags, nil
}

func (f *fakeTags) count(repo string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[repo]
}

// platformTags is a fakeTags that also lists platform digests.
type platformTags struct {
	*fakeTags
	platforms map[string]digest.Digest
}

func (p platformTags) PlatformDigests(ctx context.Context, ref string) (map[string]digest.Digest, error) {
	return p.platforms, nil
}
