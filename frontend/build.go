// Package frontend is sdkfront's gateway glue: it reads the Dockerfile,
// resolves its SDK lines, rewrites them into plain Dockerfile, and
// delegates everything else to BuildKit's own Dockerfile builder in-process.
package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
	"github.com/sdkfront/sdkfront/version"
)

// MetaResolved is the result metadata key that lists every resolution, as
// JSON. BuildKit passes "frontend."-prefixed keys to the client, so it shows
// up in buildctl's --metadata-file.
const MetaResolved = "frontend.sdk.resolved"

// Name is what sdkfront sets as "cmdline" so that BuildKit's builder does
// not forward the build to the "# syntax=" image again.
const Name = "sdkfront"

// Option keys of BuildKit's that sdkfront reads or sets.
const (
	keyCmdline      = "cmdline"
	keySyntaxArg    = "build-arg:BUILDKIT_SYNTAX"
	keyRequestID    = "requestid"
	keyDockerfile   = "dockerfilekey"
	keyContext      = "context"
	inputPrefix     = "input:"
	inputDockerfile = "dockerfile"
)

// Build is the gateway BuildFunc. No panic escapes it: one becomes an
// error that names sdkfront, with the stack in the daemon's log.
func Build(ctx context.Context, c client.Client) (res *client.Result, err error) {
	defer recoverInto(&err)
	return build(ctx, c, nil)
}

// recoverInto turns a panic into *err. Deferred at every goroutine's top.
func recoverInto(err *error) {
	if r := recover(); r != nil {
		fmt.Fprintf(os.Stderr, "%s: panic: %v\n%s", version.String(), r, debug.Stack())
		*err = errors.Errorf("%s: internal error: %v (this is a bug in sdkfront; please report it with the Dockerfile)", version.String(), r)
	}
}

// build is Build with the tag lister replaceable, for tests.
func build(ctx context.Context, c client.Client, tags resolver.TagLister) (*client.Result, error) {
	c = withCapsCheck(c) // caps.go: every solve, sdkfront's and the builder's
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	src, err := bc.ReadEntrypoint(ctx, "Dockerfile")
	if err != nil {
		return nil, err
	}
	f, err := dockerfile.Read(src.Data)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	opts := c.BuildOpts().Opts
	if _, ok := opts[keyCmdline]; !ok {
		// Not yet forwarded: a "# syntax=" line or BUILDKIT_SYNTAX picks
		// the frontend, exactly as with the stock one.
		_, byArg := opts[keySyntaxArg]
		_, _, _, byLine := parser.DetectSyntax(f.Text)
		if byArg || byLine {
			if !f.Moved() {
				return builder.Build(ctx, c)
			}
			return delegate(ctx, c, bc, src, f, identity(f), nil, true, nil)
		}
	}
	if f.Stock() {
		// No SDK line and nothing moved: the Dockerfile is BuildKit's.
		return builder.Build(ctx, c)
	}
	if !f.HasSDK() {
		// Only sdk-* directives moved out of BuildKit's way.
		return delegate(ctx, c, bc, src, f, identity(f), nil, false, nil)
	}
	if req, ok := opts[keyRequestID]; ok {
		switch {
		case req == subrequests.RequestSubrequestsDescribe:
			return builder.Build(ctx, c)
		case isCheckRequest(req):
			return subrequest(ctx, c, bc, src, f, req)
		}
	}

	// From here on every image is resolved once per build.
	c = newResolveCache(c)
	targets, err := scanTargets(f, bc)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	if err := readVersionFiles(ctx, c, bc, targets); err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	// With "# check=error=true" a violation fails the build only after
	// BuildKit's builder has checked too (see lintRun).
	lr, err := newLintRun(f, bc)
	if err != nil {
		return nil, err
	}
	f.Check(lr.lint, targets[0].scan.Uses)

	set, err := f.Settings(bc.BuildArgs)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	locked, err := readLock(ctx, c, src.Filename, set.Lock)
	if err != nil {
		// At the first line that would be pinned from the lock.
		if uses := targets[0].scan.Uses; len(uses) > 0 {
			err = parser.WithLocation(err, uses[0].Location())
		}
		return nil, withSource(err, src.SourceMap)
	}
	// A private registry reaches, besides its own /24 (IPv6: /64), the
	// private networks this build arg names.
	networks, err := registry.ParsePrivateNetworks(bc.BuildArgs[dockerfile.ArgPrivateNetworks])
	if err != nil {
		return nil, errors.Wrapf(err, "build arg %s", dockerfile.ArgPrivateNetworks)
	}
	var reg resolver.Registry
	if tags == nil {
		reg = registry.New(registry.WithInsecureRegistries(set.Insecure), registry.WithPrivateNetworks(networks)).Registry()
	} else {
		reg = resolver.RegistryOf(tags) // a test's
	}
	r := resolver.NewWithRegistry(gatewayImages{c}, reg)
	mr := reg.Manifests
	direct := mr != nil
	pl, err := resolveAll(ctx, resolveEnv{
		c: c, r: r, settings: set, locks: locked, flavors: newFlavors(c, bc), checkLayers: direct, manifests: mr, note: lr.note,
	}, targets)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	rw, err := f.Rewrite(targets[0].scan.Uses, pl.binding)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	res, err := delegate(ctx, c, bc, src, f, rw, pl, false, lr)
	if err != nil {
		return nil, err
	}
	if dt, err := json.Marshal(pl.resolved); err == nil {
		res.AddMeta(MetaResolved, dt)
	}
	return res, nil
}

// identity is the rewrite that changes no SDK line: Text, for a Dockerfile
// whose sdk-* directives moved.
func identity(f *dockerfile.File) *dockerfile.Rewrite {
	rw, _ := f.Rewrite(nil, nil)
	return rw
}

// delegate runs BuildKit's builder against the rewritten Dockerfile: given
// as the "dockerfile" input (with the ignore patterns that applied to the
// original), the SDK states as named contexts, and "cmdline" set so that
// the builder does not forward again, unless forward asks it to. The
// warnings of sdkfront's checks (lr, if they ran) show on the rewritten
// Dockerfile's vertex, with BuildKit's own, and a lint failure names both.
func delegate(ctx context.Context, c client.Client, bc *dockerui.Client, src *dockerui.Source, f *dockerfile.File,
	rw *dockerfile.Rewrite, pl *plan, forward bool, lr *lintRun) (*client.Result, error) {
	sc, err := newSDKClient(ctx, c, bc, src, rw, pl, forward, lr)
	if err != nil {
		return nil, err
	}
	if err := sc.deferChecks(ctx, src, lr.warnings()); err != nil {
		return nil, err
	}
	res, err := builder.Build(ctx, sc)
	if werr := sc.checks.flush(ctx, c); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return nil, sc.fix.err(err)
	}
	// The builder's solves are lazy: nothing has been built yet.
	if err := lr.err(); err != nil {
		return nil, err
	}
	if pl != nil && len(pl.refs) > 0 {
		// Solve here, not after returning, so that a failed SDK unpack can
		// be explained: the daemon's own error names no SDK.
		if err := res.EachRef(func(r client.Reference) error {
			if r == nil {
				return nil
			}
			return r.Evaluate(ctx)
		}); err != nil {
			return nil, sc.unpackError(err, pl)
		}
	}
	return res, nil
}

// newSDKClient is the client BuildKit's builder gets; lr, if sdkfront's
// checks ran, collects the builder's findings.
func newSDKClient(ctx context.Context, c client.Client, bc *dockerui.Client, src *dockerui.Source,
	rw *dockerfile.Rewrite, pl *plan, forward bool, lr *lintRun) (*sdkClient, error) {
	opts := maps.Clone(c.BuildOpts().Opts)
	if opts == nil {
		opts = map[string]string{}
	}
	delete(opts, keyDockerfile)
	lr.builderOpts(opts)
	if !forward {
		opts[keyCmdline] = Name
	}
	inputs := map[string]llb.State{}
	if pl != nil {
		maps.Copy(opts, pl.contexts)
		maps.Copy(inputs, pl.inputs)
	}
	// A git or HTTP context would make the builder read the Dockerfile from
	// there; hand it over as the context input instead.
	if v := opts[keyContext]; v != "" {
		_, isGit, _ := dockerui.DetectGitContext(v, nil)
		_, _, isHTTP := dockerui.DetectHTTPContext(v)
		if isGit || isHTTP {
			st, err := bc.MainContext(ctx)
			if err != nil {
				return nil, err
			}
			inputs[keyContext] = *st
			delete(opts, keyContext)
		}
	}

	fn := src.Filename
	ignore, err := bc.DockerIgnorePatterns(ctx)
	if err != nil {
		return nil, err
	}
	fa := llb.Mkdir(path.Dir("/"+fn), 0o755, llb.WithParents(true)).
		Mkfile("/"+fn, 0o644, rw.Data)
	if len(ignore) > 0 {
		fa = fa.Mkfile("/"+fn+".dockerignore", 0o644, []byte(strings.Join(ignore, "\n")+"\n"))
	}
	inputs[inputDockerfile] = llb.Scratch().File(fa, llb.WithCustomName(fmt.Sprintf("[sdk] %s: rewrite %s", version.String(), fn)))

	fix := &sourceFix{orig: src.Data, rw: rw}
	if src.SourceMap != nil && src.SourceMap.Definition != nil {
		fix.origDef = src.SourceMap.Definition.ToPB()
	}
	sc := &sdkClient{Client: c, opts: opts, inputs: inputs, fix: fix, source: src.SourceMap, lint: lr,
		unpacks: map[digest.Digest]string{}, trees: map[digest.Digest]string{}}
	if pl != nil {
		sc.pins = pl.pins
	}
	return sc, nil
}

// withSource attaches the user's Dockerfile to an error that carries
// Dockerfile locations, so that it prints with the offending lines, the
// same way BuildKit prints a Dockerfile syntax error.
func withSource(err error, sm *llb.SourceMap) error {
	var le *parser.LocationError
	if sm == nil || !errors.As(err, &le) {
		return err
	}
	return errdefs.WithSource(err, sourceAt(sm, slices.Concat(le.Locations...)))
}

// sourceAt is the user's Dockerfile, read as sm says, at ranges.
func sourceAt(sm *llb.SourceMap, ranges []parser.Range) *errdefs.Source {
	s := &errdefs.Source{Info: &pb.SourceInfo{
		Data: sm.Data, Filename: sm.Filename, Language: sm.Language, Definition: sm.Definition.ToPB(),
	}}
	for _, r := range ranges {
		s.Ranges = append(s.Ranges, &pb.Range{
			Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
			End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
		})
	}
	return s
}
