package frontend

import (
	"context"
	"io/fs"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	sdkplan "github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// gatewayHost is the build's plan.Host: it reads version files and base
// images through BuildKit, as BuildKit's builder will see them.
type gatewayHost struct {
	c  client.Client
	bc *dockerui.Client
}

var _ sdkplan.Host = gatewayHost{}

// verifySDK, if set, is what a build checks each SDK with before it pins
// it, in place of its trust policy's verification: a test's.
var verifySDK func(ctx context.Context, res resolver.Resolution) (*trust.Verdict, error)

// planOptions are what a build plans its SDK lines with: its build args,
// platforms and --target, its sdk-* settings, and its trust policy's
// verification (bt; nil: none).
func planOptions(bc *dockerui.Client, set dockerfile.Settings, bt *buildTrust) sdkplan.Options {
	o := sdkplan.Options{
		BuildArgs: bc.BuildArgs, Build: bc.BuildPlatforms[0], Targets: bc.TargetPlatforms, TargetStage: bc.Target, Settings: set,
		Verify: verifySDK,
	}
	if o.Verify == nil && bt != nil {
		o.Verify = bt.verify
	}
	return o
}

// Plan plans the SDK lines of the build that c runs as Build does, through
// the gateway, and resolves nothing: sdkfront lock's tests hold its plan
// against the build's. The error is the one Build would fail with.
func Plan(ctx context.Context, c client.Client) (*sdkplan.Plan, error) {
	r, err := newRun(ctx, c)
	if err != nil {
		return nil, err
	}
	r.c = stack(r.gw, true)
	set, err := r.f.Settings(r.bc.BuildArgs)
	if err != nil {
		return nil, err
	}
	p, errs := sdkplan.Make(ctx, gatewayHost{c: r.c, bc: r.bc}, r.f, planOptions(r.bc, set, nil))
	if len(errs) > 0 {
		return nil, planErr(errs)
	}
	return p, nil
}

// ReadFile reads one file of a build context.
func (h gatewayHost) ReadFile(ctx context.Context, vf dockerfile.VersionFile) ([]byte, error) {
	var st *llb.State
	where := "the build context"
	if vf.Context == "" {
		var err error
		if st, err = h.bc.MainContext(ctx, llb.FollowPaths([]string{vf.Path}), dockerui.WithInternalName("[sdk] load "+vf.Path)); err != nil {
			return nil, err
		}
	} else {
		where = "the build context " + vf.Context
		nc, err := h.bc.NamedContext(vf.Context, dockerui.ContextOpt{})
		if err != nil {
			return nil, err
		}
		if nc == nil {
			return nil, errors.Errorf("there is no build context named %q: pass it with --build-context %s=<dir, git URL or image>", vf.Context, vf.Context)
		}
		if st, _, err = nc.Load(ctx); err != nil {
			return nil, err
		}
	}
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	res, err := h.c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: vf.Path})
	if err != nil {
		if notExist(err) {
			err = fs.ErrNotExist // across gRPC only the text tells
		}
		return nil, &sdkplan.FileError{Path: vf.Path, Where: where, Err: err}
	}
	return dt, nil
}

// OSRelease reads base's os-release for platform p. Any failure means
// none, and so the default flavor: a base that cannot be read fails the
// build in BuildKit's own steps, with BuildKit's error.
func (h gatewayHost) OSRelease(ctx context.Context, base string, p ocispecs.Platform) ([]byte, error) {
	var st llb.State
	if nc, err := h.bc.NamedContext(base, dockerui.ContextOpt{Platform: &p}); err == nil && nc != nil {
		s, _, err := nc.Load(ctx)
		if err != nil || s == nil {
			return nil, nil
		}
		st = *s
	} else {
		named, err := reference.ParseNormalizedNamed(base)
		if err != nil {
			return nil, nil
		}
		// Resolved through the build's cache, so that the builder's own
		// resolution of FROM asks the registry no second time; named in
		// full as the builder names it, since the daemon refuses a
		// reference without a tag ("object required").
		_, dgst, _, err := h.c.ResolveImageConfig(ctx, reference.TagNameOnly(named).String(), sourceresolver.Opt{
			LogName:  "[sdk] detect the flavor of " + base,
			ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p, ResolveMode: llb.ResolveModeDefault.String()},
		})
		if err != nil {
			return nil, nil
		}
		pinned, err := reference.WithDigest(reference.TrimNamed(named), dgst)
		if err != nil {
			return nil, nil
		}
		st = llb.Image(pinned.String(), llb.Platform(p), dockerui.WithInternalName("[sdk] detect the flavor of "+base))
	}
	def, err := st.Marshal(ctx, llb.Platform(p))
	if err != nil {
		return nil, nil
	}
	res, err := h.c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, nil
	}
	ref, err := res.SingleRef()
	if err != nil || ref == nil {
		return nil, nil
	}
	for _, f := range resolver.OSReleasePaths {
		if dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: f}); err == nil {
			return dt, nil
		}
	}
	return nil, nil
}

// planErr is the first of a plan's errors, with the location a build's
// error carries.
func planErr(errs []error) error {
	var le *sdkplan.LineError
	if errors.As(errs[0], &le) {
		return le.Err
	}
	return errs[0]
}
