package plan

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
	"golang.org/x/sync/errgroup"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// How says where a need's resolution came from.
type How int

const (
	FromRegistry How = iota // resolved with the need's flavor
	FellBack                // resolved with its fallback flavor: the SDK lacks the detected one
	FromLock                // pinned by the lock
)

func (h How) String() string {
	switch h {
	case FellBack:
		return "fell back"
	case FromLock:
		return "locked"
	}
	return "resolved"
}

// Resolved is a need, resolved for its stage's platform.
type Resolved struct {
	Need
	Res resolver.Resolution
	How How
	// Unchecked says why the layers of Res went unchecked: "" if they
	// were, or could not have been (Options.CheckLayers is false).
	Unchecked string
	// Unbound says that the image the lock pins labels no version to
	// check the lock's against.
	Unbound bool
	// Err is why the need's key did not resolve (ResolveOptions.Lenient).
	Err error
	// Also are the key's resolutions for ResolveOptions.Also's platforms.
	Also []resolver.Resolution
}

// LockView is the lock as resolution reads it: each entry point reads
// its own (a build the one beside its Dockerfile, or none with
// SDK_LOCK=off) and words its own advice.
type LockView interface {
	// Pin gives what the lock pins for n's want with flavor (one of
	// lock.Flavors), for n's stage platform. If it pins nothing, why says
	// so in words that follow "SDK <ref>"; an entry that breaks the
	// lock's rules is an error at n's line.
	Pin(n Need, flavor string) (res resolver.Resolution, ok bool, why string, err error)
	// Unpinned is told of each key the lock does not pin, before anything
	// is resolved, with why; an error stops the resolution
	// (SDK_LOCK=frozen).
	Unpinned(n Need, why string) error
	// Looked is told that every key was looked up; an error stops the
	// resolution (invalid entries that no line asked for).
	Looked() error
	// Check reads the image res pins for n's stage platform and checks it
	// as a resolution is checked (its manifest, its layers, allowed
	// foreign URLs, the version its config labels): the label, and why
	// it could not be read ("": it was). Called only with
	// ResolveOptions.CheckLayers.
	// It returns res with what it read: Label, and the manifest of n's
	// platform in Platforms.
	Check(ctx context.Context, r *resolver.Resolver, n Need, res resolver.Resolution, allowed []string) (checked resolver.Resolution, unchecked string, err error)
	// Name is the lockfile's name, for advice.
	Name() string
}

// ResolveOptions are how an entry point resolves.
type ResolveOptions struct {
	// CheckLayers says that the entry point reads registries itself (the
	// resolver has a ManifestResolver): a locked SDK's image is read to
	// check it (LockView.Check), and an SDK resolved without its layers
	// (through BuildKit) is Unchecked.
	CheckLayers bool
	// Describe reads the platform's image manifest of an SDK resolved
	// without its layers (through an ImageResolver) and every descriptor
	// a pull of it fetches content by, so that they are checked all the
	// same (sdkfront lock); without it they are Unchecked.
	Describe func(ctx context.Context, repository string, d digest.Digest, p ocispecs.Platform) (digest.Digest, []ocispecs.Descriptor, error)
	// Whole resolves each lock key for all its stage platforms in turn,
	// with one flavor, falling back on all of them if one lacks it, and
	// stops at its first failing platform, which the error names unless
	// the first platform's resolution failed: one lock entry holds one
	// resolution (sdkfront lock). A build resolves each platform on its
	// own.
	Whole bool
	// Also are more platforms a lock key resolved afresh (Whole) resolves
	// for, after its needs': those its entry holds that no need does,
	// which sdkfront lock --update keeps (Resolved.Also).
	Also func(k lock.Key) []ocispecs.Platform
	// Lenient resolves every key however many fail, each need with its
	// key's error (Resolved.Err, unworded), as sdkfront lock reports them
	// all; a build stops at the first, which Resolve returns at its line.
	Lenient bool
}

// key identifies one resolution: the same lock key on the same stage
// platform resolves once however often it is used.
type key struct {
	lock.Key
	platform string // lock.PlatformKey
}

func keyOf(n Need) key { return key{n.Key(), n.PlatformKey()} }

// Resolve resolves every need of p, the first need of each key once,
// concurrently: pinned from the lock where it has an entry for one of
// the need's flavors (lock.Flavors), and checked (LockView.Check);
// otherwise resolved with the need's flavor, falling back
// (lock.FallsBack), its layers checked for foreign URLs. Every digest,
// locked or resolved, passes Plan.Verify before it is returned. The
// result is in the order of p.Needs; the error is the first, at its line
// and in a build's words, unless Lenient leaves each need its own.
func (p *Plan) Resolve(ctx context.Context, r *resolver.Resolver, lv LockView, o ResolveOptions) ([]Resolved, error) {
	pins, order, err := pinAll(lv, p.Needs)
	if err != nil {
		return nil, err
	}
	got, err := p.resolveAll(ctx, r, lv, o, order, pins)
	if err != nil {
		return nil, err
	}
	out := make([]Resolved, 0, len(p.Needs))
	for _, n := range p.Needs {
		g := got[keyOf(n)]
		g.Need = n
		out = append(out, g)
	}
	return out, nil
}

// pinned is what the lock pins for one key.
type pinned struct {
	res    resolver.Resolution
	locked bool
}

// pinAll reads what the lock pins, before anything is resolved: an
// invalid entry stops it, at the line it would pin if there is one.
// order is the first need of each key.
func pinAll(lv LockView, needs []Need) (pins map[key]pinned, order []Need, err error) {
	pins = map[key]pinned{}
	for _, n := range needs {
		if _, ok := pins[keyOf(n)]; ok {
			continue
		}
		var res resolver.Resolution
		var locked bool
		var why string
		for i, flavor := range lock.Flavors(n.Flavor, n.Fallback) {
			r, ok, w, perr := lv.Pin(n, flavor)
			if i == 0 {
				res, why = r, w // why the line's own flavor is not pinned
			}
			if err = perr; err != nil || ok {
				res, locked = r, ok
				break
			}
		}
		if err != nil {
			return nil, nil, err
		}
		if !locked {
			if err := lv.Unpinned(n, why); err != nil {
				return nil, nil, err
			}
		}
		pins[keyOf(n)] = pinned{res, locked}
		order = append(order, n)
	}
	if err := lv.Looked(); err != nil {
		return nil, nil, err
	}
	return pins, order, nil
}

// resolveAll resolves the keys the lock does not pin, concurrently, and
// checks those it does where the registry can be read: each key on each
// stage platform on its own, or (Whole) each lock key for all its
// platforms together.
func (p *Plan) resolveAll(ctx context.Context, r *resolver.Resolver, lv LockView, o ResolveOptions, order []Need, pins map[key]pinned) (map[key]Resolved, error) {
	var groups [][]Need
	if o.Whole {
		at := map[lock.Key]int{}
		for _, n := range order {
			i, ok := at[n.Key()]
			if !ok {
				i = len(groups)
				at[n.Key()] = i
				groups = append(groups, nil)
			}
			groups[i] = append(groups[i], n)
		}
	} else {
		for _, n := range order {
			groups = append(groups, []Need{n})
		}
	}
	var mu sync.Mutex
	var panicked any
	out := map[key]Resolved{}
	eg, ectx := errgroup.WithContext(ctx)
	if o.Lenient {
		var g errgroup.Group
		g.SetLimit(8)
		eg, ectx = &g, ctx
	}
	for _, g := range groups {
		eg.Go(func() (err error) {
			// A panic goes on in the caller's goroutine, where its entry
			// point turns it into an error; the others stop meanwhile.
			defer func() {
				if v := recover(); v != nil {
					mu.Lock()
					panicked = v
					mu.Unlock()
					err = errors.New("panic")
				}
			}()
			got, also, err := p.resolveGroup(ectx, r, lv, o, g, pins)
			mu.Lock()
			for i, n := range g {
				got[i].Err, got[i].Also = err, also
				out[keyOf(n)] = got[i]
			}
			mu.Unlock()
			if err != nil && !o.Lenient {
				return p.wordErr(lv, g[0], err)
			}
			return nil
		})
	}
	err := eg.Wait()
	if panicked != nil {
		panic(panicked)
	}
	return out, err
}

// resolveGroup resolves needs of one key, each on its own stage platform,
// with the need's flavor and, if the SDK lacks it, its fallback.
func (p *Plan) resolveGroup(ctx context.Context, r *resolver.Resolver, lv LockView, o ResolveOptions, g []Need, pins map[key]pinned) ([]Resolved, []resolver.Resolution, error) {
	got, also, err := p.resolveIn(ctx, r, lv, o, g, pins, g[0].Flavor)
	if err != nil && !pins[keyOf(g[0])].locked && lock.FallsBack(g[0].Fallback, err) {
		if got, also, err = p.resolveIn(ctx, r, lv, o, g, pins, g[0].Fallback); err == nil {
			for i := range got {
				got[i].How = FellBack
			}
		}
	}
	return got, also, err
}

// resolveIn resolves needs of one key with flavor, in turn, up to the
// first that fails; then, resolved afresh, for ResolveOptions.Also's
// platforms.
func (p *Plan) resolveIn(ctx context.Context, r *resolver.Resolver, lv LockView, o ResolveOptions, g []Need, pins map[key]pinned, flavor string) ([]Resolved, []resolver.Resolution, error) {
	all := slices.Clone(g)
	var pinOf []pinned
	for _, n := range g {
		pinOf = append(pinOf, pins[keyOf(n)])
	}
	if o.Whole && o.Also != nil && !pinOf[0].locked {
		for _, ap := range o.Also(g[0].Want.Key(flavor)) {
			if !slices.ContainsFunc(all, func(n Need) bool { return n.PlatformKey() == lock.PlatformKey(ap) }) {
				n := g[0]
				n.Platform = ap
				all, pinOf = append(all, n), append(pinOf, pinned{})
			}
		}
	}
	out := make([]Resolved, len(all))
	for i, n := range all {
		if err := p.resolveOne(ctx, r, lv, o, n, pinOf[i], flavor, i, &out[i]); err != nil {
			return out[:len(g)], nil, err
		}
	}
	var also []resolver.Resolution
	for _, got := range out[len(g):] {
		also = append(also, got.Res)
	}
	return out[:len(g)], also, nil
}

// resolveOne resolves need n, the i-th of its key, with flavor: from the
// lock if it pins n, checked, or from the registry.
func (p *Plan) resolveOne(ctx context.Context, r *resolver.Resolver, lv LockView, o ResolveOptions, n Need, pin pinned, flavor string, i int, got *Resolved) error {
	s := p.opts.Settings
	res := pin.res
	got.How = FromRegistry
	var err error
	if pin.locked {
		got.How = FromLock
		if o.CheckLayers {
			// The lock is checked as a resolution is, for the layers that
			// will be pulled, and its digest against its version.
			res, got.Unchecked, err = lv.Check(ctx, r, n, res, s.AllowForeign)
			got.Unbound = got.Unchecked == "" && err == nil && res.Label.Label == ""
		}
	} else {
		res, err = r.Resolve(ctx, resolver.Request{Ref: n.SDK.Ref, Flavor: flavor, Source: s.Source, Target: n.Platform})
		if err != nil && o.Whole && i > 0 {
			// It resolved for the first platform, so this one matters.
			err = errors.WithMessagef(err, "for %s", n.PlatformKey())
		}
		if err == nil {
			res, got.Unchecked, err = check(ctx, o, res, n.Platform, s.AllowForeign)
			if err != nil && o.Whole {
				err = errors.WithMessagef(err, "for %s", n.PlatformKey())
			}
		}
	}
	if err == nil {
		// Before it is pinned: the lock's and the registry's alike.
		var v *trust.Verdict
		v, err = p.Verify(ctx, res)
		res.SignedBy = SignedBy(v)
	}
	got.Res = res
	return err
}

// check checks the layers of a fresh resolution for foreign URLs: the
// layers the registry gave, or those Describe reads; without either, why
// they went unchecked.
func check(ctx context.Context, o ResolveOptions, res resolver.Resolution, p ocispecs.Platform, allowed []string) (resolver.Resolution, string, error) {
	// The layers are known when the registry was read directly; resolved
	// through BuildKit, they could not be.
	descs := res.Descriptors()
	if res.Layers == nil {
		if o.Describe == nil {
			if o.CheckLayers {
				return res, "it was resolved through BuildKit, as the frontend cannot read its registry", nil
			}
			return res, "", nil
		}
		var err error
		if res.Image, descs, err = o.Describe(ctx, res.Repository, res.Digest, p); err != nil {
			return res, "", err
		}
	}
	return res, "", resolver.CheckForeignURLs(res.Pinned(), descs, allowed)
}

// wordErr is a need's error as a build words it, at its line.
func (p *Plan) wordErr(lv LockView, n Need, err error) error {
	if be := (*lock.BindingError)(nil); errors.As(err, &be) {
		return parser.WithLocation(errors.Errorf("SDK %s", be), n.SDK.Location())
	}
	hint := ""
	if errors.Is(err, resolver.ErrListUnavailable) {
		hint = fmt.Sprintf("; to build without listing tags, lock it: `sdkfront lock` pins it in %s, and a locked SDK needs no tag listing", lv.Name())
	}
	// Flattened to text on purpose: an error that wraps a gRPC status
	// (any gateway call's) reaches the user as that status's message
	// alone, without what sdkfront adds.
	return parser.WithLocation(errors.Errorf("SDK %s: %s%s", n.SDK.RefText, err, hint), n.SDK.Location())
}
