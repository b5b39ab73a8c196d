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
	"github.com/moby/buildkit/frontend/gateway/client"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
	"golang.org/x/sync/errgroup"

	"github.com/sdkfront/sdkfront/dockerfile"
	sdkllb "github.com/sdkfront/sdkfront/llb"
	"github.com/sdkfront/sdkfront/lock"
	sdkplan "github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
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

// key identifies one resolution: the same lock key on the same stage
// platform resolves once per build however often it is used.
type key struct {
	lock.Key
	platform string // lock.PlatformKey
}

func keyOf(n sdkplan.Need) key { return key{n.Key(), n.PlatformKey()} }

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
	// targets are the build's target platforms, with their SDK lines.
	targets []sdkplan.Target
}

func (pl *plan) binding(u *dockerfile.Use) dockerfile.Binding { return pl.bind[u.Index] }

// resolveEnv is what resolving a build's SDK lines needs.
type resolveEnv struct {
	c        client.Client
	r        *resolver.Resolver
	settings dockerfile.Settings
	locks    *locks
	host     sdkplan.Host
	// checkLayers says that the frontend reads registries itself (r has a
	// ManifestResolver): a locked SDK's manifest and config are read to
	// check them, and an SDK whose layers are unknown deserves a warning,
	// since the registry client could read them but did not.
	checkLayers bool
	// note reports a finding at a use, as one of sdkfront's checks.
	note func(u *dockerfile.Use, rule linter.LinterRuleI, msg string)
	// trust is the build's signature verification; nil without a policy.
	trust *buildTrust
}

// resolveAll resolves every need of the plan, concurrently, and builds
// the states the rewritten Dockerfile refers to: it detects the needs'
// flavors (plan.Detect), reads what the lock pins (pinAll), resolves the
// rest (resolveJobs), reports them (announceAll) and plans the rewrite
// (makePlan).
//
// A use the lock pins resolves from its entry, which Parse has checked;
// where the frontend reads registries, its manifest is read by digest to
// check its layers as a resolution's are. A use without a flavor gets its
// base image's, if the SDK has it.
func resolveAll(ctx context.Context, env resolveEnv, p *sdkplan.Plan) (*plan, error) {
	if errs := p.Detect(ctx, env.host); len(errs) > 0 {
		return nil, planErr(errs)
	}
	jobs := p.Needs
	pins, order, err := pinAll(env, jobs)
	if err != nil {
		return nil, err
	}
	out, err := resolveJobs(ctx, env, p, order, pins)
	if err != nil {
		return nil, err
	}
	if err := announceAll(ctx, env, jobs, out); err != nil {
		return nil, err
	}
	noteVerdicts(env, p, jobs, out.results)
	return makePlan(jobs, out.results, p.Targets)
}

// pinned is what the lock pins for one key.
type pinned struct {
	res    resolver.Resolution
	locked bool
}

// pinAll reads what the lock pins, before anything is resolved: an
// invalid entry fails the build, at the line it would pin if there is one.
// order is the first job of each key.
func pinAll(env resolveEnv, jobs []sdkplan.Need) (pins map[key]pinned, order []sdkplan.Need, err error) {
	l := env.locks
	pins = map[key]pinned{}
	for _, j := range jobs {
		if _, ok := pins[keyOf(j)]; ok {
			continue
		}
		res, locked, why, err := l.pin(j, j.Flavor)
		if err == nil && !locked && j.Fallback != "" {
			var fres resolver.Resolution
			var ok bool
			if fres, ok, _, err = l.pin(j, j.Fallback); ok {
				res, locked = fres, true
			}
		}
		switch {
		case err != nil:
			return nil, nil, err
		case locked:
		case l.mode == dockerfile.LockFrozen:
			return nil, nil, parser.WithLocation(errors.Errorf("SDK %s %s, and %s=%s allows only locked SDKs: run `sdkfront lock` and commit %s", j.SDK.RefText, why, dockerfile.ArgLock, l.mode, l.name), j.SDK.Location())
		case l.file != nil:
			env.note(j.SDK, &dockerfile.RuleSDKNotLocked, dockerfile.RuleSDKNotLocked.Format(j.SDK.RefText, l.name, why))
		}
		pins[keyOf(j)] = pinned{res, locked}
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
	fellBack  []sdkplan.Need
	unchecked map[*dockerfile.Use]string
	unbound   map[*dockerfile.Use]bool
}

// resolveJobs resolves the keys the lock does not pin, concurrently, and
// checks the layers of those it does where the registry can be read.
func resolveJobs(ctx context.Context, env resolveEnv, p *sdkplan.Plan, order []sdkplan.Need, pins map[key]pinned) (resolved, error) {
	s, l := env.settings, env.locks
	var mu sync.Mutex
	out := resolved{results: map[key]resolver.Resolution{}, unchecked: map[*dockerfile.Use]string{}, unbound: map[*dockerfile.Use]bool{}}
	eg, ectx := errgroup.WithContext(ctx)
	for _, j := range order {
		res, locked := pins[keyOf(j)].res, pins[keyOf(j)].locked
		eg.Go(func() (err error) {
			defer recoverInto(&err)
			if locked && env.checkLayers {
				// The lock is checked as a resolution is, for the layers
				// that BuildKit will pull, and its digest against its
				// version: two requests, the manifest and its config.
				var why string
				res.Label, why, err = l.check(ectx, env.r, res, j.Platform, s.AllowForeign)
				mu.Lock()
				switch {
				case why != "":
					out.unchecked[j.SDK] = why
				case err == nil && res.Label.Label == "":
					out.unbound[j.SDK] = true
				}
				mu.Unlock()
			}
			if !locked {
				req := resolver.Request{Ref: j.SDK.Ref, Flavor: j.Flavor, Source: s.Source, Target: j.Platform}
				res, err = env.r.Resolve(ectx, req)
				if err != nil && lock.FallsBack(j.Fallback, err) {
					req.Flavor = j.Fallback
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
					out.unchecked[j.SDK] = "it was resolved through BuildKit, as the frontend cannot read its registry"
					mu.Unlock()
				}
			}
			if err == nil {
				// Before it is pinned: the lock's and the registry's alike.
				var v *trust.Verdict
				v, err = p.Verify(ectx, res)
				res.SignedBy = sdkplan.SignedBy(v)
			}
			if be := (*lock.BindingError)(nil); errors.As(err, &be) {
				return parser.WithLocation(errors.Errorf("SDK %s", be), j.SDK.Location())
			}
			if err != nil {
				hint := ""
				if errors.Is(err, resolver.ErrListUnavailable) {
					hint = fmt.Sprintf("; to build without listing tags, lock it: `sdkfront lock` pins it in %s, and a locked SDK needs no tag listing", l.name)
				}
				// Flattened to text on purpose: an error that wraps a gRPC
				// status (any gateway call's) reaches the user as that
				// status's message alone, without what sdkfront adds.
				return parser.WithLocation(errors.Errorf("SDK %s: %s%s", j.SDK.RefText, err, hint), j.SDK.Location())
			}
			mu.Lock()
			out.results[keyOf(j)] = res
			mu.Unlock()
			return nil
		})
	}
	err := eg.Wait()
	return out, err
}

// announceAll shows each distinct resolution in the build's progress, and
// reports the uses whose layers went unchecked or whose flavor fell back.
func announceAll(ctx context.Context, env resolveEnv, jobs []sdkplan.Need, out resolved) error {
	results, unchecked := out.results, out.unchecked
	var announced []resolver.Resolution
	for _, j := range jobs {
		if res, ok := results[keyOf(j)]; ok && !slices.ContainsFunc(announced, func(r resolver.Resolution) bool {
			return r.Pinned() == res.Pinned() && r.Ref == res.Ref && r.Locked == res.Locked
		}) {
			announced = append(announced, res)
		}
	}
	if err := announce(ctx, env.c, announced); err != nil {
		return err
	}
	for _, j := range jobs {
		if why, ok := unchecked[j.SDK]; ok {
			delete(unchecked, j.SDK)
			env.note(j.SDK, &dockerfile.RuleSDKLayersUnchecked, dockerfile.RuleSDKLayersUnchecked.Format(j.SDK.RefText, results[keyOf(j)].Pinned(), why))
		}
	}
	for _, j := range jobs {
		if out.unbound[j.SDK] {
			delete(out.unbound, j.SDK)
			res := results[keyOf(j)]
			env.note(j.SDK, &dockerfile.RuleSDKLockUnbound, dockerfile.RuleSDKLockUnbound.Format(j.SDK.RefText, res.Version, res.Pinned()))
		}
	}
	for _, j := range out.fellBack {
		env.note(j.SDK, &dockerfile.RuleSDKFlavorFallback, dockerfile.RuleSDKFlavorFallback.Format(j.SDK.RefText, j.Base, j.Flavor, j.Fallback))
	}
	return nil
}

// makePlan is how the rewrite names each resolved use, and the states
// behind those names. A use must rewrite to the same text for every
// platform, since BuildKit converts one Dockerfile for all of them; only
// the SDK behind its context may differ.
func makePlan(jobs []sdkplan.Need, results map[key]resolver.Resolution, targets []sdkplan.Target) (*plan, error) {
	pl := &plan{bind: map[int]dockerfile.Binding{}, inputs: map[string]llb.State{}, contexts: map[string]string{}, pins: sdkllb.Pins{},
		mountAt: map[string][]parser.Range{}, refs: map[string]string{}, targets: targets}
	recorded := map[key]bool{}
	first := map[int]sdkplan.Need{} // the first target's job of each use
	for _, j := range jobs {
		res := results[keyOf(j)]
		if !recorded[keyOf(j)] {
			recorded[keyOf(j)] = true
			pl.resolved = append(pl.resolved, res)
		}
		from := "the registry"
		if res.Locked {
			from = "the lockfile"
		}
		b, err := dockerfile.Bind(j.SDK, res.Platform, res.Version, from)
		if err != nil {
			return nil, err
		}
		if prev, ok := pl.bind[j.SDK.Index]; !ok {
			pl.bind[j.SDK.Index], first[j.SDK.Index] = b, j
		} else if err := sameRewrite(first[j.SDK.Index], j, prev, b, targets); err != nil {
			return nil, parser.WithLocation(err, j.SDK.Location())
		}

		id := sdkllb.ImageID(res)
		if _, ok := pl.refs[id]; !ok {
			pl.refs[id] = j.SDK.RefText
		}
		input := b.Context.Input(j.Target)
		switch {
		case j.SDK.Mount && j.SDK.Unpack:
			// Pinned so that Fuse keys the tree's copy by the image's
			// digest, and reports it; the layer limit keeps it from fusing
			// anything.
			pl.pins.Add(res)
			if pl.mountAt[id] == nil {
				pl.mountAt[id] = j.SDK.Location()
			}
			pl.inputs[input] = sdkllb.Tree(res, j.Platform)
		case j.SDK.Mount:
			pl.inputs[input] = sdkllb.Layer(res, j.Platform)
		default:
			pl.inputs[input] = sdkllb.UnpackSource(res, j.Platform)
			pl.pins.Add(res)
		}
		pl.contexts[b.Context.PlatformOption(targets[j.Target].Platform)] = inputPrefix + input
		if j.Target == 0 {
			pl.contexts[b.Context.Option()] = inputPrefix + input
		}
	}
	return pl, nil
}

// sameRewrite checks that a use rewrites to the same line for two target
// platforms: one rewritten Dockerfile serves them all, and only the SDK
// behind its named context may differ.
func sameRewrite(a, b sdkplan.Need, ba, bb dockerfile.Binding, targets []sdkplan.Target) error {
	pa, pb := platforms.Format(targets[a.Target].Platform), platforms.Format(targets[b.Target].Platform)
	what := "SDK " + a.SDK.RefText
	if a.SDK.RefText != b.SDK.RefText {
		what = fmt.Sprintf("SDK %s (%s) / %s (%s)", a.SDK.RefText, pa, b.SDK.RefText, pb)
	}
	const why = "sdkfront rewrites each line once for every target platform"
	switch {
	case ba.Context != bb.Context:
		return errors.Errorf("%s: the mount is unpacked for %s but not for %s; %s, so unpack= must not depend on the platform", what, pa, pb, why)
	case ba.Dest != bb.Dest && a.SDK.Dest.IsZero() && b.SDK.Dest.IsZero():
		return errors.Errorf("%s: installs into %s for %s but into %s for %s; %s, so give the directory with --to=DIR", what, ba.Dest, pa, bb.Dest, pb, why)
	case ba.Dest != bb.Dest:
		return errors.Errorf("%s: the directory is %s for %s but %s for %s; %s, so it must not depend on the platform", what, ba.Dest, pa, bb.Dest, pb, why)
	case a.SDK.Subpath != b.SDK.Subpath:
		return errors.Errorf("%s: source= is %s for %s but %s for %s; %s, so it must not depend on the platform", what, a.SDK.Subpath, pa, b.SDK.Subpath, pb, why)
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
