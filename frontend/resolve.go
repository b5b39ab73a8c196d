package frontend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/frontend/gateway/client"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
	"golang.org/x/sync/errgroup"

	sdkllb "github.com/sdkfront/sdkfront/llb"
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

// key identifies one resolution: the same reference, flavor and platform
// resolve once per build however often they are used.
type key struct {
	ref, flavor string
	platform    string
}

// plan is every SDK of a build, resolved, and how the rewrite names them.
type plan struct {
	bind     map[*use]binding
	inputs   map[string]llb.State
	contexts map[string]string // "context:NAME[::platform]" -> "input:KEY"
	resolved []resolver.Resolution
	// fuse holds the layer sources that SDK instructions copy from; the
	// copies are made to unpack (sdkllb.Fuse).
	fuse map[digest.Digest]bool
}

// resolveAll resolves every use for every target platform, concurrently,
// and builds the states the rewritten Dockerfile refers to.
func resolveAll(ctx context.Context, c client.Client, r *resolver.Resolver, s settings, sr *scanResult,
	lex *shell.Lex, build ocispecs.Platform, targets []ocispecs.Platform) (*plan, error) {
	type job struct {
		u *use
		t int // index into targets
		k key
		p ocispecs.Platform
	}
	var jobs []job
	for _, u := range sr.uses {
		for ti, t := range targets {
			p, err := sr.stagePlatform(u.stage, build, t, lex)
			if err != nil {
				return nil, parser.WithLocation(err, u.node.Location())
			}
			jobs = append(jobs, job{u: u, t: ti, p: p, k: key{u.refText, flavorOf(u, s), platforms.FormatAll(p)}})
		}
	}

	var mu sync.Mutex
	results := map[key]resolver.Resolution{}
	started := map[key]bool{}
	eg, ectx := errgroup.WithContext(ctx)
	for _, j := range jobs {
		if started[j.k] {
			continue
		}
		started[j.k] = true
		eg.Go(func() error {
			res, err := r.Resolve(ectx, resolver.Request{Ref: j.u.ref, Flavor: j.k.flavor, Source: s.source, Target: j.p})
			if err != nil {
				// Flattened to text on purpose: an error that wraps a gRPC
				// status (any gateway call's) reaches the user as that
				// status's message alone, without what sdkfront adds.
				return parser.WithLocation(errors.Errorf("SDK %s: %s", j.u.refText, err), j.u.node.Location())
			}
			mu.Lock()
			results[j.k] = res
			mu.Unlock()
			return announce(ectx, c, res)
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}

	pl := &plan{bind: map[*use]binding{}, inputs: map[string]llb.State{}, contexts: map[string]string{}, fuse: map[digest.Digest]bool{}}
	recorded := map[key]bool{}
	for _, j := range jobs {
		res := results[j.k]
		if !recorded[j.k] {
			recorded[j.k] = true
			pl.resolved = append(pl.resolved, res)
		}
		name := contextName(j.u, j.k.flavor, sr.stages[j.u.stage].platform)
		if _, ok := pl.bind[j.u]; !ok {
			dest := j.u.dest
			if dest == "" {
				dest = path.Join("/opt", res.Platform, res.Version)
			}
			pl.bind[j.u] = binding{context: name, dest: dest}
		}
		input := fmt.Sprintf("%s-%d", name, j.t)
		if _, ok := pl.inputs[input]; ok {
			continue
		}
		switch {
		case j.u.mount && j.u.unpack:
			pl.inputs[input] = sdkllb.Tree(res, j.p)
		case j.u.mount:
			pl.inputs[input] = sdkllb.Layer(res, j.p)
		default:
			st := sdkllb.Layer(res, j.p)
			def, err := st.Marshal(ctx)
			if err != nil {
				return nil, err
			}
			pl.fuse[digest.FromBytes(def.Def[0])] = true
			pl.inputs[input] = st
		}
		pl.contexts["context:"+name+"::"+platforms.FormatAll(platforms.Normalize(targets[j.t]))] = "input:" + input
		if j.t == 0 {
			pl.contexts["context:"+name] = "input:" + input
		}
	}
	return pl, nil
}

func flavorOf(u *use, s settings) string {
	if u.flavor != "" {
		return u.flavor
	}
	return s.flavor
}

// contextName names the SDK state of a use in the rewritten Dockerfile. It
// is a valid lowercase reference name that cannot clash with a stage name a
// user would write, and it is the same for every target platform.
func contextName(u *use, flavor, platformExpr string) string {
	kind := "layer"
	if u.mount && u.unpack {
		kind = "tree"
	}
	h := sha256.Sum256([]byte(strings.Join([]string{u.refText, flavor, platformExpr, kind}, "\x00")))
	return "sdkfront-" + hex.EncodeToString(h[:6]) + "-" + kind
}

// announce shows a resolution in the build's progress as its own vertex.
func announce(ctx context.Context, c client.Client, res resolver.Resolution) error {
	def, err := sdkllb.Announce(res).Marshal(ctx)
	if err != nil {
		return err
	}
	_, err = c.Solve(ctx, client.SolveRequest{Definition: def.ToPB(), Evaluate: true})
	return err
}
