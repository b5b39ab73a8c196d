package frontend

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	sdkplan "github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
)

// locks is what a build knows of its lockfile.
type locks struct {
	file *lock.File // nil: there is none, or SDK_LOCK=off
	name string     // Dockerfile.sdk.lock
	mode dockerfile.LockMode
	// bad are the entries that break the lock's rules, left out of file:
	// a line they would pin fails at the line, and the build fails if
	// no line does.
	bad      *lock.InvalidEntriesError
	reported []lock.Key // the bad entries pin has failed lines for

	mu         sync.Mutex
	unreadable map[string]string // registry host -> why check could not read it

	// note reports a finding at a use: SDKNotLocked.
	note noteFunc
}

var _ sdkplan.LockView = (*locks)(nil)

// Name is the lockfile's name.
func (l *locks) Name() string { return l.name }

// Unpinned fails a frozen build at a line the lock does not pin, and
// warns of it otherwise where there is a lock.
func (l *locks) Unpinned(n sdkplan.Need, why string) error {
	switch {
	case l.mode == dockerfile.LockFrozen:
		return parser.WithLocation(errors.Errorf("SDK %s %s, and %s=%s allows only locked SDKs: run `sdkfront lock` and commit %s", n.SDK.RefText, why, dockerfile.ArgLock, l.mode, l.name), n.SDK.Location())
	case l.file != nil && l.note != nil:
		l.note(n.SDK, &dockerfile.RuleSDKNotLocked, dockerfile.RuleSDKNotLocked.Format(n.SDK.RefText, l.name, why))
	}
	return nil
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
	f, err := lock.Parse(src.Data)
	if !errors.As(err, &l.bad) && err != nil {
		return nil, errors.Wrapf(err, "%s", l.name)
	}
	l.file = f
	return l, nil
}

// notExist reports whether reading a file failed because it is not there.
// A read through the gateway crosses gRPC, where BuildKit v0.34.2 sends
// the daemon's ENOENT (an *os.PathError, which has no gRPC code) as a
// codes.Unknown status that keeps only its message: that status, ending
// in ENOENT's text or in containerd's not-found sentinel (a context that
// BuildKit could not find), is what is classified; a message of any
// other error is not read.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || resolver.GatewayNotFound(err, syscall.ENOENT, cerrdefs.ErrNotFound)
}

// Pin resolves n for its stage's platform from the lock, with a flavor.
// If it cannot, why says so in words that follow "SDK <ref>". An invalid
// entry for u is an error at u's line: nothing is pinned from it.
func (l *locks) Pin(n sdkplan.Need, flavor string) (res resolver.Resolution, ok bool, why string, err error) {
	u, p := n.SDK, n.Platform
	if l.file == nil {
		return res, false, "is not locked: there is no " + l.name, nil
	}
	k := n.Want.Key(flavor)
	if ee, bad := l.bad.Of(k); bad {
		l.reported = append(l.reported, k)
		return res, false, "", parser.WithLocation(errors.Errorf("SDK %s: %s: %s; fix or remove the entry, or run `sdkfront lock`, which replaces it", u.RefText, l.name, ee), u.Location())
	}
	e, found := l.file.Lookup(k)
	if !found {
		return res, false, fmt.Sprintf("(flavor %s) is not in %s", flavor, l.name), nil
	}
	if res, ok = e.Resolution(u.Ref.Platform, p); !ok {
		return res, false, fmt.Sprintf("is locked in %s for %s, not for %s", l.name, strings.Join(slices.Sorted(maps.Keys(e.Platforms)), ", "), lock.PlatformKey(p)), nil
	}
	return res, true, "", nil
}

// Looked fails a build whose lock has invalid entries that no line
// asked for: the lock is not valid, even where the build does not use it.
func (l *locks) Looked() error {
	if l.bad == nil {
		return nil
	}
	var msgs []string
	for _, ee := range l.bad.Entries {
		if !slices.Contains(l.reported, ee.Key) {
			msgs = append(msgs, ee.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.Errorf("%s: %s; no SDK line uses it: fix or remove the entry, or run `sdkfront lock`, which removes it", l.name, strings.Join(msgs, "; "))
}

// Check reads the image the lock pins for stage platform p from its
// registry, as one of r's reads (r.ReadPinned), and checks it as a resolution is checked: the platform's
// manifest is the one the lock names, it is an SDK image, and its layers
// carry no foreign URLs that are not allowed. Its config is read too: the
// version it labels must be the entry's (a *lock.BindingError if not), and
// is returned; the zero label if the image has none. Where the registry
// cannot be read from the frontend (BuildKit reads it with the session's
// credentials and its own mirrors), unchecked says why.
func (l *locks) Check(ctx context.Context, r *resolver.Resolver, n sdkplan.Need, res resolver.Resolution, allowed []string) (resolver.Resolution, string, error) {
	label, unchecked, err := l.check(ctx, r, res, n.Platform, allowed)
	res.Label = label
	return res, unchecked, err
}

// check is Check for stage platform p: the label the image names.
func (l *locks) check(ctx context.Context, r *resolver.Resolver, res resolver.Resolution, p ocispecs.Platform, allowed []string) (label resolver.VersionLabel, unchecked string, err error) {
	// A registry that failed once is not asked again in this build: the
	// offline frontend would wait for every locked SDK's retries.
	host, _, _ := strings.Cut(res.Repository, "/")
	l.mu.Lock()
	why, failed := l.unreadable[host]
	l.mu.Unlock()
	if failed {
		return label, why, nil
	}
	m, err := r.ReadPinnedConfig(ctx, res.Pinned(), p)
	switch {
	case err == nil:
		k := lock.PlatformKey(p)
		if want := res.Platforms[k]; m.Image != want {
			err = errors.Errorf("its manifest for %s is %s, not the lock's %s", k, m.Image, want)
		} else if err = resolver.CheckForeignURLs(res.Pinned(), m.Descriptors(), allowed); err == nil {
			label, err = lock.Bind(res, m.Config)
			var be *lock.BindingError
			if errors.As(err, &be) {
				be.Lock = l.name
				return label, "", be
			}
		}
	case resolver.IsNotFound(err), errors.Is(err, resolver.ErrInvalidImage), ctx.Err() != nil:
	default:
		why := fmt.Sprintf("it is locked in %s, and the frontend cannot read its registry: %v", l.name, err)
		l.mu.Lock()
		if l.unreadable == nil {
			l.unreadable = map[string]string{}
		}
		l.unreadable[host] = why
		l.mu.Unlock()
		return label, why, nil
	}
	if err != nil {
		return label, "", errors.Errorf("%s pins %s (%s): %v", l.name, res.Version, res.Pinned(), err)
	}
	return label, "", nil
}
