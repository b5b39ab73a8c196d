package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
	"github.com/sdkfront/sdkfront/trust"
)

// locker runs the lock command: it reads the Dockerfile and the lock,
// lets package lock do the locking, and prints what it did.
type locker struct {
	o              lockOpts
	stdout, stderr io.Writer

	f        *dockerfile.File
	settings dockerfile.Settings
	ctx      *contexts
	plan     *plan.Plan // the SDK lines on each platform
	flavors  *flavors
	// policy is --trust's trust directory, loaded; nil without one.
	policy *trust.Policy
	warned sync.Map // digests whose audit findings were printed
}

// lineError is an error at a line of the Dockerfile (0: no line).
type lineError struct {
	line int
	msg  string
}

func (l *locker) lockPath() string { return lock.Name(l.o.file) }

func (l *locker) run(ctx context.Context) int {
	if l.o.trust != "" {
		p, err := trust.LoadPolicy(os.DirFS(l.o.trust))
		if err != nil {
			fmt.Fprintf(l.stderr, "sdkfront lock: --trust %s: %v\n", l.o.trust, err)
			return exitError
		}
		l.policy = p
	}
	if errs := l.read(); len(errs) > 0 {
		l.printErrors(errs)
		return exitError
	}
	// Credentials go to token services on other hosts only where
	// SDK_AUTH_REALMS names them; a private registry reaches other
	// private networks only where SDK_PRIVATE_NETWORKS names them: the
	// environment's, and the build arg's, as the build reads it.
	networks, err := registry.PrivateNetworksFromEnv()
	if err != nil {
		fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
		return exitError
	}
	argNetworks, err := registry.ParsePrivateNetworks(l.o.buildArgs[dockerfile.ArgPrivateNetworks])
	if err != nil {
		fmt.Fprintf(l.stderr, "sdkfront lock: build arg %s: %v\n", dockerfile.ArgPrivateNetworks, err)
		return exitError
	}
	networks = append(networks, argNetworks...)
	client := registry.New(registry.WithDockerKeychain(), registry.WithInsecureRegistries(l.settings.Insecure),
		registry.WithCredentialRealms(registry.CredentialRealmsFromEnv()), registry.WithPrivateNetworks(networks), registry.WithReader(registry.ReaderLocal))
	l.flavors = &flavors{
		named:  l.o.named,
		client: client,
		progress: func(base string, p ocispecs.Platform) {
			fmt.Fprintf(l.stderr, "reading the flavor of %s for %s\n", base, lock.PlatformKey(p))
		},
	}
	if l.o.check {
		return l.check(ctx)
	}
	return l.lock(ctx)
}

// read reads the Dockerfile and the SDK lines it has for each platform.
func (l *locker) read() []lineError {
	dt, err := os.ReadFile(l.o.file)
	if err != nil {
		return []lineError{{msg: err.Error()}}
	}
	f, err := dockerfile.Read(dt)
	if err != nil {
		return []lineError{at(err)}
	}
	if f.ParseErr != nil {
		return []lineError{at(f.ParseErr)}
	}
	s, err := f.Settings(l.o.buildArgs)
	if err != nil {
		return []lineError{at(err)}
	}
	l.f, l.settings = f, s

	p, errs := plan.Read(context.Background(), l.ctx, f, plan.Options{
		BuildArgs: l.o.buildArgs, Build: hostPlatform(), Targets: l.o.platforms, Settings: s, Lenient: true,
		Verify: l.verifier(),
	})
	if len(errs) > 0 {
		return lineErrors(errs)
	}
	l.plan = p
	return nil
}

// verifySDK, if set, is what sdkfront lock checks each SDK with before it
// locks it, in place of --trust's policy: a test's.
var verifySDK func(ctx context.Context, res resolver.Resolution) (*trust.Verdict, error)

// verifier is plan.Options.Verify: each SDK's signatures under --trust's
// policy, read from the registry client (made after the plan is read, so
// looked up when the first SDK is verified); nil without --trust. Audit
// findings are printed once per digest.
func (l *locker) verifier() func(context.Context, resolver.Resolution) (*trust.Verdict, error) {
	if verifySDK != nil {
		return verifySDK
	}
	if l.policy == nil {
		return nil
	}
	var once sync.Once
	var verify func(context.Context, resolver.Resolution) (*trust.Verdict, error)
	return func(ctx context.Context, res resolver.Resolution) (*trust.Verdict, error) {
		once.Do(func() { verify = plan.Verifier(l.flavors.client, l.policy) })
		v, err := verify(ctx, res)
		if v != nil && len(v.Warnings) > 0 {
			if _, done := l.warned.LoadOrStore(res.Pinned(), true); !done {
				for _, w := range v.Warnings {
					fmt.Fprintf(l.stderr, "warning: SDK %s: %s\n", res.Ref, w)
				}
			}
		}
		return v, err
	}
}

// detect gives each line whose flavor comes from its base image that
// image's (plan.Detect): read from the registry, or a --build-context
// directory. A base that cannot be read is an error at the lines built
// on it: the frontend would use the default flavor then, but the lock
// must not change for a registry's hiccup.
func (l *locker) detect(ctx context.Context, fl flavorReader) []lineError {
	return lineErrors(l.plan.Detect(ctx, diskHost{l.ctx, fl}))
}

// diskHost is the plan.Host of sdkfront lock: the disk and the registry.
type diskHost struct {
	*contexts
	flavorReader
}

type flavorReader interface {
	OSRelease(ctx context.Context, base string, p ocispecs.Platform) ([]byte, error)
}

// lineErrors are a plan's errors, at their lines.
func lineErrors(errs []error) []lineError {
	var out []lineError
	for _, err := range errs {
		var le *plan.LineError
		if errors.As(err, &le) {
			out = append(out, lineError{le.Line, err.Error()})
		} else {
			out = append(out, lineError{msg: err.Error()})
		}
	}
	return out
}

// needs is what the Dockerfile needs locked.
func (l *locker) needs() []*lock.Need {
	var uses []lock.Use
	for _, n := range l.plan.Needs {
		u := n.Use
		u.Platform = platforms.Normalize(u.Platform) // as the lock spells it
		uses = append(uses, u)
	}
	return lock.Needs(uses)
}

// at is err as a lineError, at its Dockerfile location if it has one.
func at(err error) lineError {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return lineError{le.Locations[0][0].Start.Line, err.Error()}
	}
	return lineError{msg: err.Error()}
}

func (l *locker) printErrors(errs []lineError) {
	for _, e := range errs {
		if e.line > 0 {
			fmt.Fprintf(l.stderr, "%s:%d: %s\n", l.o.file, e.line, e.msg)
		} else {
			fmt.Fprintf(l.stderr, "%s: %s\n", l.o.file, e.msg)
		}
	}
}

// readLock reads the current lock; nil, nil if there is none. Its
// invalid entries are left out of it and returned in bad.
func (l *locker) readLock() (f *lock.File, dt []byte, bad *lock.InvalidEntriesError, err error) {
	dt, err = lock.ReadFile(l.lockPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	f, err = lock.Parse(dt)
	if errors.As(err, &bad) {
		return f, dt, bad, nil
	}
	if err != nil {
		return nil, dt, nil, invalidLock{fmt.Errorf("%s: %w", l.lockPath(), err)}
	}
	return f, dt, nil, nil
}

// invalidLock is a lock that exists but does not parse.
type invalidLock struct{ error }

func (e invalidLock) Unwrap() error { return e.error }

// needName is how messages name a need: its ref, with the flavor when another
// need has the same ref.
func needName(n *lock.Need, all []*lock.Change) string {
	for _, m := range all {
		if m.Need != n && m.Key.Ref == n.Key.Ref {
			return fmt.Sprintf("%s (%s)", n.Key.Ref, describe(n.Key))
		}
	}
	return n.Key.Ref
}

// describe is what tells keys with the same ref apart in messages: the
// flavor, and the constraint a version file held.
func describe(k lock.Key) string {
	f := k.Flavor
	if f == "" {
		f = "flavor of its base image"
	}
	if k.Constraint != "" {
		return f + ", " + k.Constraint + " from the file"
	}
	return f
}

// again is the advice to run the lock again: the command line that brings
// the lock up to date, made of the parsed flags. Build args are named, never
// quoted, since their values may be secrets that would land in CI logs:
//
//	sdkfront lock -f app.Dockerfile --platform linux/amd64 with the same --build-arg flags (GO_VERSION, NPM_TOKEN)
func (l *locker) again() string {
	o := l.o
	args := []string{"sdkfront", "lock"}
	if o.file != "Dockerfile" {
		args = append(args, "-f", shellWord(o.file))
	}
	if o.context != "." {
		args = append(args, "--context", shellWord(o.context))
	}
	for _, name := range slices.Sorted(maps.Keys(o.named)) {
		args = append(args, "--build-context", shellWord(name+"="+o.named[name]))
	}
	if o.platformsGiven {
		var ps []string
		for _, p := range o.platforms {
			ps = append(ps, lock.PlatformKey(p))
		}
		args = append(args, "--platform", strings.Join(ps, ","))
	}
	if o.update {
		args = append(args, "--update")
		if len(o.names) > 0 {
			args = append(args, "--")
			for _, n := range o.names {
				args = append(args, shellWord(n))
			}
		}
	}
	cmd := strings.Join(args, " ")
	if len(o.argNames) > 0 {
		cmd += " with the same --build-arg flags (" + strings.Join(o.argNames, ", ") + ")"
	}
	return cmd
}

// shellWord is s as one word of a POSIX shell: as it is when it holds no
// character the shell would read, else single-quoted.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:,=@+%-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
