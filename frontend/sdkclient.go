package frontend

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/grpcerrors"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	sdkllb "github.com/sdkfront/sdkfront/llb"
)

// sdkClient is the gateway client BuildKit's Dockerfile builder sees: the
// real one, with the rewritten Dockerfile and the SDK states added as inputs
// and named contexts, and everything it sends back to the user mapped onto
// the original Dockerfile. Solve results pass through untouched: the gateway
// only accepts its own refs.
type sdkClient struct {
	client.Client
	opts   map[string]string
	inputs map[string]llb.State
	fix    *sourceFix
	source *llb.SourceMap // how the user's Dockerfile was read
	pins   sdkllb.Pins    // the SDK instructions' sources, see sdkllb.Fuse
	checks *pendingChecks
	lint   *lintRun // nil: the builder's checks are its own business

	mu      sync.Mutex
	unpacks map[digest.Digest]string // fused ops that unpack an SDK -> its identifier
	trees   map[digest.Digest]string // mounts' ops that unpack an SDK -> its identifier
}

var _ client.Client = (*sdkClient)(nil)

// BuildOpts returns a fresh copy each call: dockerui mutates the map.
func (c *sdkClient) BuildOpts() client.BuildOpts {
	bo := c.Client.BuildOpts()
	bo.Opts = maps.Clone(c.opts)
	return bo
}

func (c *sdkClient) Inputs(ctx context.Context) (map[string]llb.State, error) {
	in, err := c.Client.Inputs(ctx)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(in)
	if out == nil {
		out = map[string]llb.State{}
	}
	maps.Copy(out, c.inputs)
	return out, nil
}

func (c *sdkClient) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	def, fused, err := sdkllb.Fuse(c.fix.definition(req.Definition), c.pins)
	if err != nil {
		return nil, errors.Wrap(err, "sdkfront")
	}
	c.mu.Lock()
	maps.Copy(c.unpacks, fused.Ops)
	maps.Copy(c.trees, fused.Trees)
	c.mu.Unlock()
	// The builder has converted the Dockerfile it read: its own lint
	// warnings are out, and so can sdkfront's be.
	if err := c.checks.flush(ctx, c.Client); err != nil {
		return nil, err
	}
	orig := req.Definition
	req.Definition = def
	res, err := c.Client.Solve(ctx, req)
	if err != nil {
		return nil, c.fix.err(err)
	}
	c.checks.saw(orig)
	return res, nil
}

func (c *sdkClient) Warn(ctx context.Context, dgst digest.Digest, msg string, opts client.WarnOpts) error {
	msg, opts = c.fix.warn(msg, opts)
	c.lint.builderWarned(msg, opts)
	return c.Client.Warn(ctx, dgst, msg, opts)
}

// deferChecks arranges for the findings of sdkfront's checks to show as
// BuildKit's builder shows its own: "Rule: message (line N)", with the
// user's Dockerfile, on the vertex that loads the Dockerfile the builder
// reads. Clients drop warnings of vertices they do not know yet, and the
// progress of a solve may reach them after the solve returns, so they are
// sent at the builder's next solve after that vertex, when it has converted
// the Dockerfile and warned itself, or at the latest when it is done.
func (c *sdkClient) deferChecks(ctx context.Context, src *dockerui.Source, ws []warning) error {
	if len(ws) == 0 {
		return nil
	}
	def, err := c.inputs[inputDockerfile].Marshal(ctx, llb.WithCaps(c.Client.BuildOpts().Caps))
	if err != nil {
		return err
	}
	vtx, err := def.Head()
	if err != nil {
		return err
	}
	si := &pb.SourceInfo{Data: src.Data, Filename: src.Filename, Language: src.Language}
	if src.Definition != nil {
		si.Definition = src.Definition.ToPB()
	}
	c.checks = &pendingChecks{vertex: vtx, source: si, warnings: ws}
	return nil
}

// unpackError explains an error of an op that unpacks an SDK, which the
// daemon reports in the words of the file system alone ("link /etc/passwd
// /passwd: no such file or directory"). Other errors pass as they are.
func (c *sdkClient) unpackError(err error, pl *plan) error {
	var ve *errdefs.VertexError
	if !errors.As(err, &ve) {
		return err
	}
	c.mu.Lock()
	id, fused := c.unpacks[digest.Digest(ve.Digest)]
	tree, mounted := c.trees[digest.Digest(ve.Digest)]
	c.mu.Unlock()
	if mounted {
		id = tree
	} else if !fused {
		return err
	}
	cause := err.Error()
	if st, ok := grpcerrors.AsGRPCStatus(err); ok {
		cause = st.Message()
	}
	msg := fmt.Sprintf("SDK %s: unpacking %s failed: %s. sdkfront unpacks an SDK inside its directory, where BuildKit confines the unpack: a tar entry written through a symlink, or a hard link to a path, outside that directory fails like this. The SDK image is malformed or hostile; nothing was written outside the directory",
		pl.refs[id], strings.TrimPrefix(id, "docker-image://"), cause)
	out := errdefs.WrapVertex(errors.New(msg), digest.Digest(ve.Digest))
	if at := pl.mountAt[id]; mounted && at != nil && c.source != nil {
		// A mount's tree: the daemon knows no line for it.
		return errdefs.WithSource(out, sourceAt(c.source, at))
	}
	for _, src := range errdefs.Sources(err) {
		out = errdefs.WithSource(out, src)
	}
	return out
}
