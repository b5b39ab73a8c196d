package frontend

import (
	"context"
	"fmt"
	"slices"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/gateway/client"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	sdkllb "github.com/sdkfront/sdkfront/llb"
	"github.com/sdkfront/sdkfront/lock"
	sdkplan "github.com/sdkfront/sdkfront/plan"
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
	// needs are the build's needs, resolved, in the plan's order.
	needs []sdkplan.Resolved
}

func (pl *plan) binding(u *dockerfile.Use) dockerfile.Binding { return pl.bind[u.Index] }

// resolveEnv is what resolving a build's SDK lines needs.
type resolveEnv struct {
	c     client.Client
	r     *resolver.Resolver
	locks *locks
	host  sdkplan.Host
	// checkLayers says that the frontend reads registries itself (r has a
	// ManifestResolver): a locked SDK's manifest and config are read to
	// check them, and an SDK whose layers are unknown deserves a warning,
	// since the registry client could read them but did not.
	checkLayers bool
	// note reports a finding at a use, as one of sdkfront's checks.
	note noteFunc
	// trust is the build's signature verification; nil without a policy.
	trust *buildTrust
}

// noteFunc reports a finding at a use, as one of sdkfront's checks.
type noteFunc func(u *dockerfile.Use, rule linter.LinterRuleI, msg string)

// resolveAll resolves every need of the plan and builds the states the
// rewritten Dockerfile refers to: it detects the needs' flavors
// (plan.Detect), resolves them from the lock and the registry
// (plan.Resolve), reports them (announceAll) and plans the rewrite
// (makePlan).
func resolveAll(ctx context.Context, env resolveEnv, p *sdkplan.Plan) (*plan, error) {
	if errs := p.Detect(ctx, env.host); len(errs) > 0 {
		return nil, planErr(errs)
	}
	env.locks.note = env.note
	rs, err := p.Resolve(ctx, env.r, env.locks, sdkplan.ResolveOptions{CheckLayers: env.checkLayers})
	if err != nil {
		return nil, err
	}
	if err := announceAll(ctx, env, rs); err != nil {
		return nil, err
	}
	noteVerdicts(env, p, rs)
	return makePlan(rs, p.Targets)
}

// announceAll shows each distinct resolution in the build's progress, and
// reports, at the first line of each key, the SDKs whose layers went
// unchecked, whose image labels no version, or whose flavor fell back.
func announceAll(ctx context.Context, env resolveEnv, rs []sdkplan.Resolved) error {
	var announced []resolver.Resolution
	for _, r := range rs {
		res := r.Res
		if !slices.ContainsFunc(announced, func(a resolver.Resolution) bool {
			return a.Pinned() == res.Pinned() && a.Ref == res.Ref && a.Locked == res.Locked
		}) {
			announced = append(announced, res)
		}
	}
	if err := announce(ctx, env.c, announced); err != nil {
		return err
	}
	firsts := firstOfKeys(rs)
	for _, r := range firsts {
		if r.Unchecked != "" {
			env.note(r.SDK, &dockerfile.RuleSDKLayersUnchecked, dockerfile.RuleSDKLayersUnchecked.Format(r.SDK.RefText, r.Res.Pinned(), r.Unchecked))
		}
	}
	for _, r := range firsts {
		if r.Unbound {
			env.note(r.SDK, &dockerfile.RuleSDKLockUnbound, dockerfile.RuleSDKLockUnbound.Format(r.SDK.RefText, r.Res.Version, r.Res.Pinned()))
		}
	}
	for _, r := range firsts {
		if r.How == sdkplan.FellBack {
			env.note(r.SDK, &dockerfile.RuleSDKFlavorFallback, dockerfile.RuleSDKFlavorFallback.Format(r.SDK.RefText, r.Base, r.Flavor, r.Fallback))
		}
	}
	return nil
}

// firstOfKeys is the first resolved need of each key: a key's findings
// are reported once, at its first line.
func firstOfKeys(rs []sdkplan.Resolved) []sdkplan.Resolved {
	var out []sdkplan.Resolved
	seen := map[key]bool{}
	for _, r := range rs {
		if !seen[keyOf(r.Need)] {
			seen[keyOf(r.Need)] = true
			out = append(out, r)
		}
	}
	return out
}

// makePlan is how the rewrite names each resolved use, and the states
// behind those names. A use must rewrite to the same text for every
// platform, since BuildKit converts one Dockerfile for all of them; only
// the SDK behind its context may differ.
func makePlan(rs []sdkplan.Resolved, targets []sdkplan.Target) (*plan, error) {
	pl := &plan{bind: map[int]dockerfile.Binding{}, inputs: map[string]llb.State{}, contexts: map[string]string{}, pins: sdkllb.Pins{},
		mountAt: map[string][]parser.Range{}, refs: map[string]string{}, targets: targets}
	recorded := map[key]bool{}
	first := map[int]sdkplan.Need{} // the first target's job of each use
	for _, r := range rs {
		j, res := r.Need, r.Res
		pl.needs = append(pl.needs, r)
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
