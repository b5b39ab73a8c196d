// Package frontend is sdkfront's gateway glue: it reads the Dockerfile,
// plans its SDK lines (package plan, reading through BuildKit: host.go),
// resolves them, rewrites them into plain Dockerfile, and delegates
// everything else to BuildKit's own Dockerfile builder in-process.
package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"runtime/debug"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	sdkplan "github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
	"github.com/sdkfront/sdkfront/trust"
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

// run is one build: the gateway clients it talks through, the dockerui
// client that reads the build's options and files, and the Dockerfile.
type run struct {
	gw   client.Client     // the gateway's, as Build got it
	c    client.Client     // the top of the stack so far (see stack)
	bc   *dockerui.Client  // reads through the stack that does not resolve
	src  *dockerui.Source  // the user's Dockerfile, as read
	f    *dockerfile.File  // src, parsed
	opts map[string]string // the build's options, as the gateway gave them
}

// stack assembles the gateway clients a build talks through: every layer
// but the top, which each delegation puts on anew (run.sdkClient). Each
// wraps the one below:
//
//	sdkClient      BuildKit's builder's view: the rewritten Dockerfile, the SDK
//	    |          states, the user's lines in all that comes back (sdkclient.go);
//	    |          put on top of c by run.sdkClient, once per delegation
//	resolveCache   each image resolved once per build (resolvecache.go); only
//	    |          when resolving, so that BuildKit's builder alone resolves
//	    |          for a subrequest or a Dockerfile without SDK lines
//	capsClient     every solve checked against the daemon's capabilities
//	    |          (caps.go), the Dockerfile's own read included
//	gw             the gateway's client, as Build got it
//
// optsClient (lock.go) is no layer: readLock's one-off view of c that
// reads the lock in the Dockerfile's place.
func stack(gw client.Client, resolving bool) client.Client {
	c := client.Client(&capsClient{Client: gw})
	if resolving {
		c = newResolveCache(c)
	}
	return c
}

// newRun reads the Dockerfile through a stack that does not resolve.
func newRun(ctx context.Context, gw client.Client) (*run, error) {
	r := &run{gw: gw, c: stack(gw, false)}
	var err error
	if r.bc, err = dockerui.NewClient(r.c); err != nil {
		return nil, err
	}
	if r.src, err = r.bc.ReadEntrypoint(ctx, "Dockerfile"); err != nil {
		return nil, err
	}
	if r.f, err = dockerfile.Read(r.src.Data); err != nil {
		return nil, withSource(err, r.src.SourceMap)
	}
	r.opts = r.c.BuildOpts().Opts
	return r, nil
}

// build is Build with the tag lister replaceable, for tests.
func build(ctx context.Context, gw client.Client, tags resolver.TagLister) (*client.Result, error) {
	r, err := newRun(ctx, gw)
	if err != nil {
		return nil, err
	}
	if _, ok := r.opts[keyCmdline]; !ok {
		// Not yet forwarded: a "# syntax=" line or BUILDKIT_SYNTAX picks
		// the frontend, exactly as with the stock one.
		_, byArg := r.opts[keySyntaxArg]
		_, _, _, byLine := parser.DetectSyntax(r.f.Text)
		if byArg || byLine {
			if !r.f.Moved() {
				return builder.Build(ctx, r.c)
			}
			return r.delegate(ctx, delegation{rw: identity(r.f), forward: true})
		}
	}
	if r.f.Stock() {
		// No SDK line and nothing moved: the Dockerfile is BuildKit's.
		return builder.Build(ctx, r.c)
	}
	if !r.f.HasSDK() {
		// Only sdk-* directives moved out of BuildKit's way.
		return r.delegate(ctx, delegation{rw: identity(r.f)})
	}
	if req, ok := r.opts[keyRequestID]; ok {
		switch {
		case req == subrequests.RequestSubrequestsDescribe:
			return builder.Build(ctx, r.c)
		case isCheckRequest(req):
			return subrequest(ctx, r, req)
		}
	}
	return r.resolve(ctx, tags)
}

// resolve builds a Dockerfile with SDK lines: it resolves them, rewrites
// them into plain Dockerfile and delegates.
func (r *run) resolve(ctx context.Context, tags resolver.TagLister) (*client.Result, error) {
	pl, lr, err := r.resolveSDKs(ctx, tags)
	if err != nil {
		return nil, err
	}
	rw, err := r.f.Rewrite(pl.targets[0].Scan.Uses, pl.binding)
	if err != nil {
		return nil, withSource(err, r.src.SourceMap)
	}
	res, err := r.delegate(ctx, delegation{rw: rw, plan: pl, lint: lr})
	if err != nil {
		return nil, err
	}
	if err := r.attachSBOM(ctx, res, pl); err != nil {
		return nil, err
	}
	if dt, err := json.Marshal(pl.resolved); err == nil {
		res.AddMeta(MetaResolved, dt)
	}
	return res, nil
}

// Resolve resolves the SDK lines of the build that c runs as Build does,
// and builds nothing: each need, resolved (plan.Plan.Resolve), so that
// sdkfront lock's tests hold what it locks against what a build resolves.
// The error is the one Build would fail with.
func Resolve(ctx context.Context, c client.Client) ([]sdkplan.Resolved, error) {
	r, err := newRun(ctx, c)
	if err != nil {
		return nil, err
	}
	pl, _, err := r.resolveSDKs(ctx, nil)
	if err != nil {
		return nil, err
	}
	return pl.needs, nil
}

// resolveSDKs plans and resolves the SDK lines, and runs sdkfront's checks.
func (r *run) resolveSDKs(ctx context.Context, tags resolver.TagLister) (*plan, *lintRun, error) {
	// From here on every image is resolved once per build.
	r.c = stack(r.gw, true)
	c, bc, src, f := r.c, r.bc, r.src, r.f
	// The settings' error waits for the lint run's, as it always has; a
	// plan read with them is not used then.
	set, setErr := f.Settings(bc.BuildArgs)
	host := gatewayHost{c: c, bc: bc}
	// The policy is read before anything resolves; with none, nothing
	// changes.
	bt, err := loadTrust(ctx, c, bc)
	if err != nil {
		return nil, nil, err
	}
	pl0, errs := sdkplan.Read(ctx, host, f, planOptions(bc, set, bt))
	if len(errs) > 0 {
		return nil, nil, withSource(planErr(errs), src.SourceMap)
	}
	targets := pl0.Targets
	// With "# check=error=true" a violation fails the build only after
	// BuildKit's builder has checked too (see lintRun).
	lr, err := newLintRun(f, bc)
	if err != nil {
		return nil, nil, err
	}
	f.Check(lr.lint, targets[0].Scan.Uses)

	if setErr != nil {
		return nil, nil, withSource(setErr, src.SourceMap)
	}
	locked, err := readLock(ctx, c, src.Filename, set.Lock)
	if err != nil {
		// At the first line that would be pinned from the lock.
		if uses := targets[0].Scan.Uses; len(uses) > 0 {
			err = parser.WithLocation(err, uses[0].Location())
		}
		return nil, nil, withSource(err, src.SourceMap)
	}
	// A private registry reaches, besides its own /24 (IPv6: /64), the
	// private networks this build arg names.
	networks, err := registry.ParsePrivateNetworks(bc.BuildArgs[dockerfile.ArgPrivateNetworks])
	if err != nil {
		return nil, nil, errors.Wrapf(err, "build arg %s", dockerfile.ArgPrivateNetworks)
	}
	var reg resolver.Registry
	var store trust.Store
	if tags == nil {
		rc := registry.New(registry.WithInsecureRegistries(set.Insecure), registry.WithPrivateNetworks(networks))
		reg, store = rc.Registry(), rc
	} else {
		reg = resolver.RegistryOf(tags) // a test's
		store, _ = tags.(trust.Store)
	}
	rv := resolver.NewWithRegistry(gatewayImages{c}, reg)
	direct := reg.Manifests != nil
	if bt != nil {
		// Signatures are read where the frontend reads registries itself:
		// the same client, its guard and limits.
		bt.locks = locked
		if direct {
			bt.store = store
		}
	}
	pl, err := resolveAll(ctx, resolveEnv{
		c: c, r: rv, locks: locked, host: host, checkLayers: direct, note: lr.note, trust: bt,
	}, pl0)
	if err != nil {
		return nil, nil, withSource(err, src.SourceMap)
	}
	return pl, lr, nil
}

// identity is the rewrite that changes no SDK line: Text, for a Dockerfile
// whose sdk-* directives moved.
func identity(f *dockerfile.File) *dockerfile.Rewrite {
	rw, _ := f.Rewrite(nil, nil)
	return rw
}

// delegation is one hand-over of a run to BuildKit's builder.
type delegation struct {
	rw      *dockerfile.Rewrite // the Dockerfile the builder reads
	plan    *plan               // the SDK states rw refers to; nil if none
	forward bool                // the builder may forward to "# syntax=" again
	lint    *lintRun            // sdkfront's checks, if they ran; nil if not
}

// delegate runs BuildKit's builder against the rewritten Dockerfile: given
// as the "dockerfile" input (with the ignore patterns that applied to the
// original), the SDK states as named contexts, and "cmdline" set so that
// the builder does not forward again, unless d.forward asks it to. The
// warnings of sdkfront's checks (d.lint, if they ran) show on the rewritten
// Dockerfile's vertex, with BuildKit's own, and a lint failure names both.
func (r *run) delegate(ctx context.Context, d delegation) (*client.Result, error) {
	sc, err := r.sdkClient(ctx, d)
	if err != nil {
		return nil, err
	}
	if err := sc.deferChecks(ctx, r.src, d.lint.warnings()); err != nil {
		return nil, err
	}
	res, err := builder.Build(ctx, sc)
	if werr := sc.checks.flush(ctx, r.c); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return nil, sc.fix.err(err)
	}
	// The builder's solves are lazy: nothing has been built yet.
	if err := d.lint.err(); err != nil {
		return nil, err
	}
	if pl := d.plan; pl != nil && len(pl.refs) > 0 {
		// Solve here, not after returning, so that a failed SDK unpack can
		// be explained: the daemon's own error names no SDK.
		if err := res.EachRef(func(ref client.Reference) error {
			if ref == nil {
				return nil
			}
			return ref.Evaluate(ctx)
		}); err != nil {
			return nil, sc.unpackError(err, pl)
		}
	}
	return res, nil
}

// sdkClient is the client BuildKit's builder gets for d, on top of r.c;
// d.lint, if sdkfront's checks ran, collects the builder's findings.
func (r *run) sdkClient(ctx context.Context, d delegation) (*sdkClient, error) {
	opts := maps.Clone(r.c.BuildOpts().Opts)
	if opts == nil {
		opts = map[string]string{}
	}
	delete(opts, keyDockerfile)
	d.lint.builderOpts(opts)
	if !d.forward {
		opts[keyCmdline] = Name
	}
	inputs := map[string]llb.State{}
	if d.plan != nil {
		maps.Copy(opts, d.plan.contexts)
		maps.Copy(inputs, d.plan.inputs)
	}
	// A git or HTTP context would make the builder read the Dockerfile from
	// there; hand it over as the context input instead.
	if v := opts[keyContext]; v != "" {
		_, isGit, _ := dockerui.DetectGitContext(v, nil)
		_, _, isHTTP := dockerui.DetectHTTPContext(v)
		if isGit || isHTTP {
			st, err := r.bc.MainContext(ctx)
			if err != nil {
				return nil, err
			}
			inputs[keyContext] = *st
			delete(opts, keyContext)
		}
	}

	fn := r.src.Filename
	ignore, err := r.bc.DockerIgnorePatterns(ctx)
	if err != nil {
		return nil, err
	}
	fa := llb.Mkdir(path.Dir("/"+fn), 0o755, llb.WithParents(true)).
		Mkfile("/"+fn, 0o644, d.rw.Data)
	if len(ignore) > 0 {
		fa = fa.Mkfile("/"+fn+".dockerignore", 0o644, []byte(strings.Join(ignore, "\n")+"\n"))
	}
	inputs[inputDockerfile] = llb.Scratch().File(fa, llb.WithCustomName(fmt.Sprintf("[sdk] %s: rewrite %s", version.String(), fn)))

	fix := &sourceFix{orig: r.src.Data, rw: d.rw}
	if r.src.SourceMap != nil && r.src.SourceMap.Definition != nil {
		fix.origDef = r.src.SourceMap.Definition.ToPB()
	}
	sc := &sdkClient{Client: r.c, opts: opts, inputs: inputs, fix: fix, source: r.src.SourceMap, lint: d.lint,
		unpacks: map[digest.Digest]string{}, trees: map[digest.Digest]string{}}
	if d.plan != nil {
		sc.pins = d.plan.pins
	}
	return sc, nil
}
