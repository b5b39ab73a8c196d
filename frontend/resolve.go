package frontend

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
	"golang.org/x/sync/errgroup"

	"github.com/sdkfront/sdkfront/dockerfile"
	sdkllb "github.com/sdkfront/sdkfront/llb"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
)

// gatewayImages resolves tags through the gateway, so the build session's
// credentials, buildkitd's registry config, source policies and provenance
// all apply.
type gatewayImages struct{ c client.Client }

func (g gatewayImages) ResolveImage(ctx context.Context, ref string, p ocispecs.Platform, logName string) (digest.Digest, []byte, error) {
	_, dgst, cfg, err := g.c.ResolveImageConfig(ctx, ref, sourceresolver.Opt{
		LogName:  logName,
		ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p},
	})
	return dgst, cfg, err
}

// target is one target platform of the build, with the Dockerfile's SDK
// lines expanded for it.
type target struct {
	platform ocispecs.Platform
	scan     *dockerfile.Scan
}

// scanTargets expands the SDK lines once per target platform, with the
// automatic args BuildKit sets for that platform. Every scan has the same
// uses in the same order: they come from the same lines.
func scanTargets(f *dockerfile.File, bc *dockerui.Client) ([]target, error) {
	build := bc.BuildPlatforms[0]
	ps := bc.TargetPlatforms
	if len(ps) == 0 {
		ps = []ocispecs.Platform{build}
	}
	var out []target
	for _, p := range ps {
		s, err := f.Scan(dockerfile.ScanOpts{BuildArgs: bc.BuildArgs, Build: build, Target: p, TargetStage: bc.Target})
		if err != nil {
			if len(ps) > 1 {
				err = errors.Wrapf(err, "for %s", platforms.Format(p))
			}
			return nil, err
		}
		out = append(out, target{platform: p, scan: s})
	}
	return out, nil
}

// key identifies one resolution: the same reference, flavor and platform
// resolve once per build however often they are used.
type key struct {
	ref, flavor string
	platform    string
}

// job is one use for one target platform.
type job struct {
	u  *dockerfile.Use
	t  int // index into targets
	k  key
	sp ocispecs.Platform // the platform of the use's stage
	// base and fallback are set when the flavor k.flavor was detected
	// from the base image: the flavor to use if the SDK lacks it.
	base, fallback string
}

// plan is every SDK of a build, resolved, and how the rewrite names them.
type plan struct {
	bind     map[int]dockerfile.Binding // by Use.Index
	inputs   map[string]llb.State
	contexts map[string]string // "context:NAME[::platform]" -> "input:KEY"
	resolved []resolver.Resolution
	pins     sdkllb.Pins // what Fuse looks for
	// mountAt is where each SDK unpacked for a mount (by LLB identifier)
	// is first mounted, for its unpack errors: a mount's tree is an input
	// of the builder, whose ops carry no line of the Dockerfile.
	mountAt map[string][]parser.Range
	// refs maps an SDK's LLB identifier to the reference the user wrote.
	refs map[string]string
}

func (pl *plan) binding(u *dockerfile.Use) dockerfile.Binding { return pl.bind[u.Index] }

// resolveEnv is what resolving a build's SDK lines needs.
type resolveEnv struct {
	c        client.Client
	r        *resolver.Resolver
	settings dockerfile.Settings
	locks    *locks
	flavors  *flavors
	// checkLayers says that the frontend reads registries itself (r has a
	// ManifestResolver): a locked SDK's manifest and config are read to
	// check them, and an SDK whose layers are unknown deserves a warning,
	// since the registry client could read them but did not.
	checkLayers bool
	// note reports a finding at a use, as one of sdkfront's checks.
	note func(u *dockerfile.Use, rule linter.LinterRuleI, msg string)
}

// resolveAll resolves every use for every target platform, concurrently,
// and builds the states the rewritten Dockerfile refers to: it reads the
// jobs (jobsFor), what the lock pins (pinAll), resolves the rest
// (resolveJobs), reports them (announceAll) and plans the rewrite
// (makePlan).
//
// A use the lock pins resolves from its entry, which Parse has checked;
// where the frontend reads registries, its manifest is read by digest to
// check its layers as a resolution's are. A use without a flavor gets its
// base image's, if the SDK has it.
func resolveAll(ctx context.Context, env resolveEnv, targets []target) (*plan, error) {
	jobs, err := jobsFor(ctx, env, targets)
	if err != nil {
		return nil, err
	}
	pins, order, err := pinAll(env, jobs)
	if err != nil {
		return nil, err
	}
	out, err := resolveJobs(ctx, env, order, pins)
	if err != nil {
		return nil, err
	}
	if err := announceAll(ctx, env, jobs, out); err != nil {
		return nil, err
	}
	return makePlan(jobs, out.results, targets)
}

// jobsFor is every use of every target platform, with the flavor it is
// resolved for.
func jobsFor(ctx context.Context, env resolveEnv, targets []target) ([]job, error) {
	s := env.settings
	var jobs []job
	for ti, t := range targets {
		for _, u := range t.scan.Uses {
			sp, err := t.scan.StagePlatform(u.Stage)
			if err != nil {
				return nil, parser.WithLocation(err, u.Location())
			}
			j := job{u: u, t: ti, sp: sp, k: key{u.RefText, s.FlavorOf(u), platforms.FormatAll(sp)}}
			if s.DetectsFlavor(u) {
				j.base = t.scan.BaseImage(u.Stage)
				if d := env.flavors.codename(ctx, j.base, sp); d != "" && d != j.k.flavor {
					j.k.flavor, j.fallback = d, j.k.flavor
				}
			}
			jobs = append(jobs, j)
		}
	}

	return jobs, nil
}

// pinned is what the lock pins for one key.
type pinned struct {
	res    resolver.Resolution
	locked bool
}

// pinAll reads what the lock pins, before anything is resolved: an
// invalid entry fails the build, at the line it would pin if there is one.
// order is the first job of each key.
func pinAll(env resolveEnv, jobs []job) (pins map[key]pinned, order []job, err error) {
	s, l := env.settings, env.locks
	pins = map[key]pinned{}
	for _, j := range jobs {
		if _, ok := pins[j.k]; ok {
			continue
		}
		res, locked, why, err := l.pin(j.u, s, j.k.flavor, j.sp)
		if err == nil && !locked && j.fallback != "" {
			var fres resolver.Resolution
			var ok bool
			if fres, ok, _, err = l.pin(j.u, s, j.fallback, j.sp); ok {
				res, locked = fres, true
			}
		}
		switch {
		case err != nil:
			return nil, nil, err
		case locked:
		case l.mode == dockerfile.LockFrozen:
			return nil, nil, parser.WithLocation(errors.Errorf("SDK %s %s, and %s=%s allows only locked SDKs: run `sdkfront lock` and commit %s", j.u.RefText, why, dockerfile.ArgLock, l.mode, l.name), j.u.Location())
		case l.file != nil:
			env.note(j.u, &dockerfile.RuleSDKNotLocked, dockerfile.RuleSDKNotLocked.Format(j.u.RefText, l.name, why))
		}
		pins[j.k] = pinned{res, locked}
		order = append(order, j)
	}
	if err := l.unusedBad(); err != nil {
		return nil, nil, err
	}

	return pins, order, nil
}

// resolved is what resolveJobs learnt: a resolution per key, the jobs
// that fell back from their base image's flavor, the uses whose layers
// went unchecked, and why, and the locked uses whose image names no
// version to check the lock's against.
type resolved struct {
	results   map[key]resolver.Resolution
	fellBack  []job
	unchecked map[*dockerfile.Use]string
	unbound   map[*dockerfile.Use]bool
}

// resolveJobs resolves the keys the lock does not pin, concurrently, and
// checks the layers of those it does where the registry can be read.
func resolveJobs(ctx context.Context, env resolveEnv, order []job, pins map[key]pinned) (resolved, error) {
	s, l := env.settings, env.locks
	var mu sync.Mutex
	out := resolved{results: map[key]resolver.Resolution{}, unchecked: map[*dockerfile.Use]string{}, unbound: map[*dockerfile.Use]bool{}}
	eg, ectx := errgroup.WithContext(ctx)
	for _, j := range order {
		res, locked := pins[j.k].res, pins[j.k].locked
		eg.Go(func() (err error) {
			defer recoverInto(&err)
			if locked && env.checkLayers {
				// The lock is checked as a resolution is, for the layers
				// that BuildKit will pull, and its digest against its
				// version: two requests, the manifest and its config.
				var why string
				res.Label, why, err = l.check(ectx, env.r, res, j.sp, s.AllowForeign)
				mu.Lock()
				switch {
				case why != "":
					out.unchecked[j.u] = why
				case err == nil && res.Label.Label == "":
					out.unbound[j.u] = true
				}
				mu.Unlock()
			}
			if !locked {
				req := resolver.Request{Ref: j.u.Ref, Flavor: j.k.flavor, Source: s.Source, Target: j.sp}
				res, err = env.r.Resolve(ectx, req)
				if err != nil && j.fallback != "" && resolver.FlavorMissing(err) {
					req.Flavor = j.fallback
					if res, err = env.r.Resolve(ectx, req); err == nil {
						mu.Lock()
						out.fellBack = append(out.fellBack, j)
						mu.Unlock()
					}
				}
			}
			if err == nil && !locked {
				// The layers are known when the registry was read directly;
				// resolved through BuildKit, they could not be.
				if res.Layers != nil {
					err = resolver.CheckForeignURLs(res.Pinned(), res.Descriptors(), s.AllowForeign)
				} else if env.checkLayers {
					mu.Lock()
					out.unchecked[j.u] = "it was resolved through BuildKit, as the frontend cannot read its registry"
					mu.Unlock()
				}
			}
			if be := (*lock.BindingError)(nil); errors.As(err, &be) {
				return parser.WithLocation(errors.Errorf("SDK %s", be), j.u.Location())
			}
			if err != nil {
				hint := ""
				if errors.Is(err, resolver.ErrListUnavailable) {
					hint = fmt.Sprintf("; to build without listing tags, lock it: `sdkfront lock` pins it in %s, and a locked SDK needs no tag listing", l.name)
				}
				// Flattened to text on purpose: an error that wraps a gRPC
				// status (any gateway call's) reaches the user as that
				// status's message alone, without what sdkfront adds.
				return parser.WithLocation(errors.Errorf("SDK %s: %s%s", j.u.RefText, err, hint), j.u.Location())
			}
			mu.Lock()
			out.results[j.k] = res
			mu.Unlock()
			return nil
		})
	}
	err := eg.Wait()
	return out, err
}

// announceAll shows each distinct resolution in the build's progress, and
// reports the uses whose layers went unchecked or whose flavor fell back.
func announceAll(ctx context.Context, env resolveEnv, jobs []job, out resolved) error {
	results, unchecked := out.results, out.unchecked
	var announced []resolver.Resolution
	for _, j := range jobs {
		if res, ok := results[j.k]; ok && !slices.ContainsFunc(announced, func(r resolver.Resolution) bool {
			return r.Pinned() == res.Pinned() && r.Ref == res.Ref && r.Locked == res.Locked
		}) {
			announced = append(announced, res)
		}
	}
	if err := announce(ctx, env.c, announced); err != nil {
		return err
	}
	for _, j := range jobs {
		if why, ok := unchecked[j.u]; ok {
			delete(unchecked, j.u)
			env.note(j.u, &dockerfile.RuleSDKLayersUnchecked, dockerfile.RuleSDKLayersUnchecked.Format(j.u.RefText, results[j.k].Pinned(), why))
		}
	}
	for _, j := range jobs {
		if out.unbound[j.u] {
			delete(out.unbound, j.u)
			res := results[j.k]
			env.note(j.u, &dockerfile.RuleSDKLockUnbound, dockerfile.RuleSDKLockUnbound.Format(j.u.RefText, res.Version, res.Pinned()))
		}
	}
	for _, j := range out.fellBack {
		env.note(j.u, &dockerfile.RuleSDKFlavorFallback, dockerfile.RuleSDKFlavorFallback.Format(j.u.RefText, j.base, j.k.flavor, j.fallback))
	}
	return nil
}

// makePlan is how the rewrite names each resolved use, and the states
// behind those names. A use must rewrite to the same text for every
// platform, since BuildKit converts one Dockerfile for all of them; only
// the SDK behind its context may differ.
func makePlan(jobs []job, results map[key]resolver.Resolution, targets []target) (*plan, error) {
	pl := &plan{bind: map[int]dockerfile.Binding{}, inputs: map[string]llb.State{}, contexts: map[string]string{}, pins: sdkllb.Pins{},
		mountAt: map[string][]parser.Range{}, refs: map[string]string{}}
	recorded := map[key]bool{}
	first := map[int]job{} // the first target's job of each use
	for _, j := range jobs {
		res := results[j.k]
		if !recorded[j.k] {
			recorded[j.k] = true
			pl.resolved = append(pl.resolved, res)
		}
		from := "the registry"
		if res.Locked {
			from = "the lockfile"
		}
		b, err := dockerfile.Bind(j.u, res.Platform, res.Version, from)
		if err != nil {
			return nil, err
		}
		if prev, ok := pl.bind[j.u.Index]; !ok {
			pl.bind[j.u.Index], first[j.u.Index] = b, j
		} else if err := sameRewrite(first[j.u.Index], j, prev, b, targets); err != nil {
			return nil, parser.WithLocation(err, j.u.Location())
		}

		id := sdkllb.ImageID(res)
		if _, ok := pl.refs[id]; !ok {
			pl.refs[id] = j.u.RefText
		}
		input := b.Context.Input(j.t)
		switch {
		case j.u.Mount && j.u.Unpack:
			// Pinned so that Fuse keys the tree's copy by the image's
			// digest, and reports it; the layer limit keeps it from fusing
			// anything.
			pl.pins.Add(res)
			if pl.mountAt[id] == nil {
				pl.mountAt[id] = j.u.Location()
			}
			pl.inputs[input] = sdkllb.Tree(res, j.sp)
		case j.u.Mount:
			pl.inputs[input] = sdkllb.Layer(res, j.sp)
		default:
			pl.inputs[input] = sdkllb.UnpackSource(res, j.sp)
			pl.pins.Add(res)
		}
		pl.contexts[b.Context.PlatformOption(targets[j.t].platform)] = inputPrefix + input
		if j.t == 0 {
			pl.contexts[b.Context.Option()] = inputPrefix + input
		}
	}
	return pl, nil
}

// sameRewrite checks that a use rewrites to the same line for two target
// platforms: one rewritten Dockerfile serves them all, and only the SDK
// behind its named context may differ.
func sameRewrite(a, b job, ba, bb dockerfile.Binding, targets []target) error {
	pa, pb := platforms.Format(targets[a.t].platform), platforms.Format(targets[b.t].platform)
	what := "SDK " + a.u.RefText
	if a.u.RefText != b.u.RefText {
		what = fmt.Sprintf("SDK %s (%s) / %s (%s)", a.u.RefText, pa, b.u.RefText, pb)
	}
	const why = "sdkfront rewrites each line once for every target platform"
	switch {
	case ba.Context != bb.Context:
		return errors.Errorf("%s: the mount is unpacked for %s but not for %s; %s, so unpack= must not depend on the platform", what, pa, pb, why)
	case ba.Dest != bb.Dest && a.u.Dest.IsZero() && b.u.Dest.IsZero():
		return errors.Errorf("%s: installs into %s for %s but into %s for %s; %s, so give the directory with --to=DIR", what, ba.Dest, pa, bb.Dest, pb, why)
	case ba.Dest != bb.Dest:
		return errors.Errorf("%s: the directory is %s for %s but %s for %s; %s, so it must not depend on the platform", what, ba.Dest, pa, bb.Dest, pb, why)
	case a.u.Subpath != b.u.Subpath:
		return errors.Errorf("%s: source= is %s for %s but %s for %s; %s, so it must not depend on the platform", what, a.u.Subpath, pa, b.u.Subpath, pb, why)
	}
	return nil
}

// announce shows each resolution in the build's progress as a vertex of
// its own, all in one solve.
func announce(ctx context.Context, c client.Client, rs []resolver.Resolution) error {
	if len(rs) == 0 {
		return nil
	}
	def, err := sdkllb.Announce(rs...).Marshal(ctx)
	if err != nil {
		return err
	}
	_, err = c.Solve(ctx, client.SolveRequest{Definition: def.ToPB(), Evaluate: true})
	return err
}
