package frontend

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
)

// locks is what a build knows of its lockfile.
type locks struct {
	file *lock.File // nil: there is none, or SDK_LOCK=off
	name string     // Dockerfile.sdk.lock
	mode dockerfile.LockMode
}

// key is the lock key of a use resolved for a flavor.
func (l *locks) key(u *dockerfile.Use, s dockerfile.Settings, flavor string) lock.Key {
	return lock.Key{Ref: u.RefText, Flavor: flavor, Source: s.Source.String(), Constraint: u.FileConstraint}
}

// optsClient is c with some build options replaced.
type optsClient struct {
	client.Client
	set map[string]string
}

func (o optsClient) BuildOpts() client.BuildOpts {
	bo := o.Client.BuildOpts()
	bo.Opts = maps.Clone(bo.Opts)
	if bo.Opts == nil {
		bo.Opts = map[string]string{}
	}
	maps.Copy(bo.Opts, o.set)
	return bo
}

// readLock reads <Dockerfile>.sdk.lock from where the Dockerfile came
// from: the dockerfile local, a frontend input, or a git or HTTP context.
// BuildKit's own reader finds it, asked for it in the Dockerfile's place.
func readLock(ctx context.Context, c client.Client, dockerfileName string, mode dockerfile.LockMode) (*locks, error) {
	l := &locks{name: lock.Name(dockerfileName), mode: mode}
	if mode == dockerfile.LockOff {
		return l, nil
	}
	bc, err := dockerui.NewClient(optsClient{Client: c, set: map[string]string{"filename": l.name}})
	if err != nil {
		return nil, err
	}
	src, err := bc.ReadEntrypoint(ctx, "JSON", dockerui.WithInternalName("[sdk] load "+l.name))
	if err != nil {
		if notExist(err) {
			return l, nil
		}
		return nil, errors.Wrapf(err, "reading %s", l.name)
	}
	if l.file, err = lock.Parse(src.Data); err != nil {
		return nil, errors.Wrapf(err, "%s", l.name)
	}
	return l, nil
}

// notExist reports whether reading a file failed because it is not there;
// across gRPC only the text tells.
func notExist(err error) bool {
	msg := strings.ToLower(err.Error())
	return errors.Is(err, os.ErrNotExist) || strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "not found")
}

// pin resolves u for stage platform p from the lock. If it cannot, why
// says so in words that follow "SDK <ref>".
func (l *locks) pin(u *dockerfile.Use, s dockerfile.Settings, flavor string, p ocispecs.Platform) (res resolver.Resolution, ok bool, why string) {
	if l.file == nil {
		return res, false, "is not locked: there is no " + l.name
	}
	e, found := l.file.Lookup(l.key(u, s, flavor))
	if !found {
		return res, false, fmt.Sprintf("(flavor %s) is not in %s", flavor, l.name)
	}
	if res, ok = e.Resolution(u.Ref.Platform, p); !ok {
		return res, false, fmt.Sprintf("is locked in %s for %s, not for %s", l.name, strings.Join(slices.Sorted(maps.Keys(e.Platforms)), ", "), lock.PlatformKey(p))
	}
	return res, true, ""
}
