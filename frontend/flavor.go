package frontend

import (
	"context"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// flavors detects the flavor of a stage from its base image: the
// VERSION_CODENAME of its /etc/os-release ("bookworm"). A base without
// one (scratch, busybox, alpine) has none, and the default applies.
type flavors struct {
	c  client.Client
	bc *dockerui.Client

	mu    sync.Mutex
	known map[string]string // base|platform -> codename
}

func newFlavors(c client.Client, bc *dockerui.Client) *flavors {
	return &flavors{c: c, bc: bc, known: map[string]string{}}
}

// codename reads base's codename for platform p, once per build. Any
// failure means no codename: a base that cannot be read fails the build
// in BuildKit's own steps, with BuildKit's error.
func (fl *flavors) codename(ctx context.Context, base string, p ocispecs.Platform) string {
	if base == "" || strings.EqualFold(base, "scratch") {
		return ""
	}
	key := base + "|" + platforms.FormatAll(p)
	fl.mu.Lock()
	v, ok := fl.known[key]
	fl.mu.Unlock()
	if ok {
		return v
	}
	v = fl.read(ctx, base, p)
	fl.mu.Lock()
	fl.known[key] = v
	fl.mu.Unlock()
	return v
}

func (fl *flavors) read(ctx context.Context, base string, p ocispecs.Platform) string {
	var st llb.State
	if nc, err := fl.bc.NamedContext(base, dockerui.ContextOpt{Platform: &p}); err == nil && nc != nil {
		s, _, err := nc.Load(ctx)
		if err != nil || s == nil {
			return ""
		}
		st = *s
	} else {
		named, err := reference.ParseNormalizedNamed(base)
		if err != nil {
			return ""
		}
		// Resolved through the build's cache, so that the builder's own
		// resolution of FROM asks the registry no second time; named in
		// full as the builder names it, since the daemon refuses a
		// reference without a tag ("object required").
		_, dgst, _, err := fl.c.ResolveImageConfig(ctx, reference.TagNameOnly(named).String(), sourceresolver.Opt{
			LogName:  "[sdk] detect the flavor of " + base,
			ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p, ResolveMode: llb.ResolveModeDefault.String()},
		})
		if err != nil {
			return ""
		}
		pinned, err := reference.WithDigest(reference.TrimNamed(named), dgst)
		if err != nil {
			return ""
		}
		st = llb.Image(pinned.String(), llb.Platform(p), dockerui.WithInternalName("[sdk] detect the flavor of "+base))
	}
	def, err := st.Marshal(ctx, llb.Platform(p))
	if err != nil {
		return ""
	}
	res, err := fl.c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return ""
	}
	ref, err := res.SingleRef()
	if err != nil || ref == nil {
		return ""
	}
	for _, f := range resolver.OSReleasePaths {
		if dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: f}); err == nil {
			return resolver.FlavorFromOSRelease(dt)
		}
	}
	return ""
}
