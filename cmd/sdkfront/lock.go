package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

const lockUsage = `Usage: sdkfront lock [-f Dockerfile] [--build-arg K=V ...] [--platform P1,P2] [--update [REF ...]] [--check]

Resolves every SDK line of a Dockerfile and pins it by digest in the lock
beside it: <Dockerfile>.sdk.lock (Dockerfile.sdk.lock, app.Dockerfile.sdk.lock).
The Dockerfile is read as the frontend reads it: the same ARG scoping, build
args, sdk-* parser directives and defaults, expanded for each target platform.

A line that names no flavor (and no # sdk-flavor= or SDK_FLAVOR) gets its base
image's, as in the build: the VERSION_CODENAME of its os-release, read from the
registry (layers from the top until it is found) or a --build-context directory;
the default flavor if the SDK lacks it. --check reads no image.

Entries already locked are kept; lines without an entry (or without the
platform) are resolved and added; entries no line uses any more are removed.
The lock is written (atomically) only when its bytes change.

The lock is data, checked as a build checks it: an entry whose repository or
tag is not the one its source template (or full reference) gives, whose
version is not one or does not satisfy its reference's constraint, or whose
digests, flavor or platforms are malformed is invalid. Locking replaces an
invalid entry a line uses (re-resolves it) and removes the others; --check
fails on it. A lock larger than 1 MiB, or that does not parse, is refused.

Flags:
  -f, --file FILE        the Dockerfile (default "Dockerfile")
      --build-arg K=V    a build arg, as given to the build (repeatable). K alone takes
                         the value of the environment variable K. Pass the same
                         SDK_SOURCE and SDK_FLAVOR as the build: they are part of the key.
      --context DIR      the build context, where "<platform>@file:<path>" references
                         read their version files (default "."; .dockerignore applies)
      --build-context NAME=DIR
                         a named build context, a local directory (repeatable), for
                         "<platform>@file:NAME:<path>"
      --platform P1,P2   target platforms to lock for (repeatable; default: linux/<this
                         machine's architecture>). An architecture alone means linux/<arch>.
                         Platforms an entry already holds are kept.
      --update [REF ...] re-resolve the SDKs named, or all of them when none is named.
                         A name is a reference as written after build-arg expansion
                         (golang@1.23) or an SDK platform (golang). Prints each change
                         as "golang@1.23: 1.23.4 -> 1.23.12".
      --check            write nothing and resolve nothing (no network): exit 4 if the
                         lock is not valid; exit 3 if it is missing, lacks an entry or a
                         platform, holds entries no line uses, or is not byte for byte
                         what sdkfront lock writes.
  -h, --help             show this help

Registries: credentials come from the docker config ($DOCKER_CONFIG/config.json,
else ~/.docker/config.json) and its credential helpers, as "docker login" leaves
them. Plain HTTP is used only for loopback registries and those named in the
build arg SDK_INSECURE_REGISTRIES (comma-separated). An SDK whose layers carry
foreign URLs is not locked unless the build arg SDK_ALLOW_FOREIGN_URLS names
their hosts.

Output: progress, changes and errors go to stderr; an error in the Dockerfile
is reported as FILE:LINE: message, one line per failing line. On success the
path of the lock is printed on stdout (nothing with --check).

Exit codes:
  0  the lock is up to date (written, or already right; with --check: it matches)
  1  error: the Dockerfile, a version file or the lock cannot be read, an SDK
     line is invalid or does not resolve, a base image's flavor cannot be read,
     an SDK has foreign layer URLs that are not allowed, a registry fails or
     refuses access or gives what a lock may not hold, or the lock cannot be
     written
  2  usage: unknown flags, bad values, a stray argument, --check with --update,
     --update naming no SDK of the Dockerfile
  3  --check: the lock is out of date
  4  the lock is not valid: it does not parse, is larger than 1 MiB or is of
     another version (without --update, which replaces it), or, with --check,
     an entry is invalid (its repository, tag or version is not what its
     reference and source template give, or a field is malformed)
`

// lockOpts are the lock command's flags.
type lockOpts struct {
	file      string
	context   string            // --context: the build context, for version files
	named     map[string]string // --build-context NAME=DIR
	buildArgs map[string]string
	platforms []ocispecs.Platform
	update    bool
	names     []string // --update's arguments; none: everything
	check     bool
	args      []string // as given, to suggest the command again
}

// usageError is a bad flag or argument.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func runLock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseLockFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, lockUsage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sdkfront lock: %v\nRun 'sdkfront lock --help' for usage.\n", err)
		return exitUsage
	}
	l := &locker{o: o, stdout: stdout, stderr: &syncWriter{w: stderr}, ctx: &contexts{main: o.context, named: o.named, dockerfile: o.file}}
	return l.run(ctx)
}

// syncWriter serializes writes: progress comes from goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// buildArgs is --build-arg: K=V, or K alone for the environment's value.
type buildArgs map[string]string

func (b buildArgs) String() string { return "" }

func (b buildArgs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if k == "" {
		return fmt.Errorf("want K=V or K, not %q", s)
	}
	if !ok {
		env, set := os.LookupEnv(k)
		if !set {
			return nil // as docker build: an unset variable sets nothing
		}
		v = env
	}
	b[k] = v
	return nil
}

// platformList is --platform: comma-separated, repeatable.
type platformList struct{ ps *[]ocispecs.Platform }

func (p platformList) String() string { return "" }

func (p platformList) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		pl, err := platforms.Parse(item)
		if err != nil {
			return err
		}
		if !strings.Contains(item, "/") {
			pl.OS = "linux" // SDK images are linux images
		}
		pl = platforms.Normalize(pl)
		if !slices.ContainsFunc(*p.ps, func(q ocispecs.Platform) bool { return lock.PlatformKey(q) == lock.PlatformKey(pl) }) {
			*p.ps = append(*p.ps, pl)
		}
	}
	return nil
}

func parseLockFlags(args []string) (lockOpts, error) {
	o := lockOpts{buildArgs: map[string]string{}, named: map[string]string{}, args: args}
	fs := flag.NewFlagSet("sdkfront lock", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.file, "f", "Dockerfile", "")
	fs.StringVar(&o.file, "file", "Dockerfile", "")
	fs.Var(buildArgs(o.buildArgs), "build-arg", "")
	fs.StringVar(&o.context, "context", ".", "")
	fs.Var(namedContexts(o.named), "build-context", "")
	fs.Var(platformList{&o.platforms}, "platform", "")
	fs.BoolVar(&o.update, "update", false, "")
	fs.BoolVar(&o.check, "check", false, "")

	// Flags and --update's names may be interleaved; "--" ends the flags.
	flags, rest := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		flags, rest = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(flags); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return o, err
			}
			return o, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		flags = fs.Args()[1:]
	}
	pos = append(pos, rest...)

	switch {
	case o.file == "":
		return o, usageError{"-f: the Dockerfile must be named"}
	case o.file == "-":
		return o, usageError{"-f -: the Dockerfile must be a file, since its lock is written beside it"}
	case len(pos) > 0 && !o.update:
		return o, usageError{fmt.Sprintf("unexpected argument %q: SDKs to re-resolve follow --update", pos[0])}
	case o.check && o.update:
		return o, usageError{"--check and --update do not go together: --check changes nothing"}
	}
	o.names = pos
	if len(o.platforms) == 0 {
		o.platforms = []ocispecs.Platform{hostPlatform()}
	}
	return o, nil
}

// hostPlatform is linux on this machine's architecture: SDK images are
// linux images, and BuildKit's default target platform is its worker's.
func hostPlatform() ocispecs.Platform {
	p := platforms.DefaultSpec()
	p.OS = "linux"
	return platforms.Normalize(p)
}

// use is an SDK line expanded for one target platform.
type use struct {
	u    *dockerfile.Use
	sp   ocispecs.Platform // its stage's platform
	line int               // the user's line
	base string            // the base image its flavor is detected from; "" if it is not
}

// need is one key the Dockerfile needs locked.
type need struct {
	key lock.Key
	// fallback is the flavor to use if the SDK lacks key.Flavor, which was
	// detected from base. With --check, key.Flavor may be "" for a flavor
	// to be detected from a registry's image: any entry of the ref fits.
	fallback, base string
	ref            resolver.Ref
	platforms      []ocispecs.Platform // stage platforms, in order of appearance
	lines          []int               // the user's lines that use it
	result                             // filled by locking
}

func (n *need) hasPlatform(k string) bool {
	return slices.ContainsFunc(n.platforms, func(p ocispecs.Platform) bool { return lock.PlatformKey(p) == k })
}

// result is what locking did to one need's entry.
type result struct {
	entry lock.Entry
	old   *lock.Entry
	bad   *lock.EntryError // the old entry, if it was invalid
	added []string         // platforms added to a kept entry
	notes []lineError      // warnings: lines that fell back from their base's flavor
	err   error
}

// lineError is an error at a line of the Dockerfile (0: no line).
type lineError struct {
	line int
	msg  string
}

type locker struct {
	o              lockOpts
	stdout, stderr io.Writer

	f        *dockerfile.File
	settings dockerfile.Settings
	ctx      *contexts
	uses     []use
	needs    []*need
	flavors  *flavors
}

func (l *locker) lockPath() string { return lock.Name(l.o.file) }

func (l *locker) run(ctx context.Context) int {
	if errs := l.read(); len(errs) > 0 {
		l.printErrors(errs)
		return exitError
	}
	l.flavors = &flavors{
		named:    l.o.named,
		keychain: authn.DefaultKeychain,
		client:   registry.New(registry.WithKeychain(authn.DefaultKeychain), registry.WithInsecureRegistries(l.settings.Insecure)),
		known:    map[string]*codename{},
		progress: func(base string, p ocispecs.Platform) {
			fmt.Fprintf(l.stderr, "reading the flavor of %s for %s\n", base, lock.PlatformKey(p))
		},
	}
	if l.o.check {
		return l.check()
	}
	return l.lock(ctx)
}

// read reads the Dockerfile and collects what it needs locked.
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

	var errs []lineError
	build := hostPlatform()
	for _, p := range l.o.platforms {
		scan, err := f.Scan(dockerfile.ScanOpts{BuildArgs: l.o.buildArgs, Build: build, Target: p, Lenient: true})
		if err != nil {
			errs = append(errs, at(err))
			continue
		}
		for _, err := range scan.Errors {
			errs = append(errs, at(err))
		}
		for _, u := range scan.Uses {
			if u.Bad {
				continue
			}
			sp, err := scan.StagePlatform(u.Stage)
			if err != nil {
				errs = append(errs, lineError{f.UserLine(u.Line()), err.Error()})
				continue
			}
			if err := l.ctx.constrain(u); err != nil {
				errs = append(errs, lineError{f.UserLine(u.Line()), err.Error()})
				continue
			}
			ua := use{u: u, sp: platforms.Normalize(sp), line: f.UserLine(u.Line())}
			if s.DetectsFlavor(u) {
				ua.base = scan.BaseImage(u.Stage)
			}
			l.uses = append(l.uses, ua)
		}
	}
	// The same bad line fails for every platform: report it once.
	slices.SortStableFunc(errs, func(a, b lineError) int { return a.line - b.line })
	return slices.Compact(errs)
}

// collect groups the uses by key. flavor gives a use's flavor and the one
// to fall back to.
func (l *locker) collect(flavor func(use) (string, string)) {
	byKey := map[lock.Key]*need{}
	for _, ua := range l.uses {
		fl, fallback := flavor(ua)
		k := lock.Key{Ref: ua.u.RefText, Flavor: fl, Source: l.settings.Source.String(), Constraint: ua.u.FileConstraint}
		n := byKey[k]
		if n == nil {
			n = &need{key: k, ref: ua.u.Ref, fallback: fallback}
			if fallback != "" {
				n.base = ua.base
			}
			byKey[k] = n
			l.needs = append(l.needs, n)
		}
		if !n.hasPlatform(lock.PlatformKey(ua.sp)) {
			n.platforms = append(n.platforms, ua.sp)
		}
		if !slices.Contains(n.lines, ua.line) {
			n.lines = append(n.lines, ua.line)
		}
	}
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

// name is how messages name a need: its ref, with the flavor when another
// need has the same ref.
func (l *locker) name(n *need) string {
	for _, m := range l.needs {
		if m != n && m.key.Ref == n.key.Ref {
			return fmt.Sprintf("%s (%s)", n.key.Ref, describe(n.key))
		}
	}
	return n.key.Ref
}

// again is the command line that brings the lock up to date.
func (l *locker) again() string {
	var args []string
	for _, a := range l.o.args {
		if a != "--check" && a != "-check" && !strings.HasPrefix(a, "--check=") && !strings.HasPrefix(a, "-check=") {
			args = append(args, a)
		}
	}
	return strings.TrimSpace("sdkfront lock " + strings.Join(args, " "))
}

// check compares the lock with the Dockerfile, without the network. A
// flavor to be detected from a registry's image is not known then: any
// entry of the line's ref fits.
func (l *locker) check() int {
	l.collect(func(ua use) (string, string) {
		def := l.settings.FlavorOf(ua.u)
		switch {
		case !detectable(ua.base):
			return def, ""
		case l.flavors.local(ua.base):
			if d, err := l.flavors.codename(context.Background(), ua.base, ua.sp); err == nil && d != "" && d != def {
				return d, def
			} else if err == nil {
				return def, ""
			}
		}
		return "", def
	})
	path := l.lockPath()
	old, dt, bad, err := l.readLock()
	switch {
	case errors.As(err, new(invalidLock)):
		fmt.Fprintf(l.stderr, "%v\n", err)
		fmt.Fprintf(l.stderr, "%s is not a valid lock: fix or delete it, or replace it with: sdkfront lock --update\n", path)
		return exitInvalid
	case bad != nil:
		for _, ee := range bad.Entries {
			fmt.Fprintf(l.stderr, "%s: %v\n", path, ee)
		}
		fmt.Fprintf(l.stderr, "%s is not a valid lock: run %s, which replaces its invalid entries\n", path, l.again())
		return exitInvalid
	case err != nil:
		fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
		return exitError
	case old == nil && len(l.needs) == 0:
		fmt.Fprintf(l.stderr, "%s has no SDK lines and there is no %s: nothing to lock\n", l.o.file, path)
		return exitOK
	case old == nil:
		fmt.Fprintf(l.stderr, "%s does not exist: run %s\n", path, l.again())
		return exitOutOfDate
	}

	problems := 0
	wanted := map[lock.Key]bool{}
	for _, n := range l.needs {
		var msg string
		var fits []lock.Entry
		for _, e := range old.SDKs {
			if n.fits(e.Key) {
				fits = append(fits, e)
				wanted[e.Key] = true
			}
		}
		if len(fits) == 0 {
			msg = fmt.Sprintf("%s (%s) is not locked", n.key.Ref, describe(n.key))
		} else if !slices.ContainsFunc(fits, func(e lock.Entry) bool { return len(n.missing(e)) == 0 }) {
			e := fits[0]
			msg = fmt.Sprintf("%s (%s) is locked to %s but not for %s", n.key.Ref, describe(e.Key), e.Version, strings.Join(n.missing(e), ", "))
		}
		if msg != "" {
			problems++
			for _, line := range n.lines {
				fmt.Fprintf(l.stderr, "%s:%d: %s\n", l.o.file, line, msg)
			}
		}
	}
	var kept []lock.Entry
	for _, e := range sortedEntries(old) {
		if wanted[e.Key] {
			kept = append(kept, e)
			continue
		}
		problems++
		fmt.Fprintf(l.stderr, "%s: %s (%s) is locked, but no SDK line of %s uses it\n", path, e.Ref, describe(e.Key), l.o.file)
	}
	if problems == 0 && !bytes.Equal((&lock.File{SDKs: kept}).Marshal(), dt) {
		problems++
		fmt.Fprintf(l.stderr, "%s: not written the way sdkfront lock writes it (sorted, indented, one trailing newline)\n", path)
	}
	if problems > 0 {
		fmt.Fprintf(l.stderr, "%s is out of date: run %s\n", path, l.again())
		return exitOutOfDate
	}
	fmt.Fprintf(l.stderr, "%s is up to date (%s)\n", path, plural(len(kept), "SDK"))
	return exitOK
}

// fits reports whether an entry with key k pins n: the same key, or a
// flavor n may get (detected, or its fallback).
func (n *need) fits(k lock.Key) bool {
	if k.Ref != n.key.Ref || k.Source != n.key.Source || k.Constraint != n.key.Constraint {
		return false
	}
	return n.key.Flavor == "" || k.Flavor == n.key.Flavor || (n.fallback != "" && k.Flavor == n.fallback)
}

// missing is the platforms n needs that e lacks.
func (n *need) missing(e lock.Entry) []string {
	var out []string
	for _, p := range n.platforms {
		if _, ok := e.Platforms[lock.PlatformKey(p)]; !ok {
			out = append(out, lock.PlatformKey(p))
		}
	}
	return out
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

func sortedEntries(f *lock.File) []lock.Entry {
	out := slices.Clone(f.SDKs)
	slices.SortFunc(out, func(a, b lock.Entry) int {
		return strings.Compare(a.Ref+"\x00"+a.Flavor+"\x00"+a.Source+"\x00"+a.Constraint, b.Ref+"\x00"+b.Flavor+"\x00"+b.Source+"\x00"+b.Constraint)
	})
	return out
}

// registryOf is the registry host n resolves in.
func (l *locker) registryOf(n *need) string {
	repo := n.ref.Repository
	if repo == "" {
		repo = l.settings.Source.Repository(n.ref.Platform)
	}
	host, _, _ := strings.Cut(repo, "/")
	return host
}

// updating reports whether --update asks for n.
func (l *locker) updating(n *need) bool {
	if !l.o.update {
		return false
	}
	if len(l.o.names) == 0 {
		return true
	}
	return slices.ContainsFunc(l.o.names, func(s string) bool { return matches(n, s) })
}

func matches(n *need, name string) bool { return matchesRef(n.ref, n.key.Ref, name) }

// matchesRef reports whether an --update name names a reference: as
// written, by its SDK platform, or by its repository.
func matchesRef(r resolver.Ref, text, name string) bool {
	return name == text || name == r.Platform || (r.Repository != "" && name == r.Repository)
}

// detect reads the flavor of every base image a line without a flavor is
// built on, for each platform, concurrently. A base that cannot be read is
// an error at the lines built on it: the frontend would use the default
// flavor then, but the lock must not change for a registry's hiccup.
func (l *locker) detect(ctx context.Context) (map[string]string, []lineError) {
	type job struct {
		base  string
		p     ocispecs.Platform
		lines []int
	}
	var jobs []*job
	byKey := map[string]*job{}
	for _, ua := range l.uses {
		if !detectable(ua.base) {
			continue
		}
		k := ua.base + "|" + lock.PlatformKey(ua.sp)
		j := byKey[k]
		if j == nil {
			j = &job{base: ua.base, p: ua.sp}
			byKey[k] = j
			jobs = append(jobs, j)
		}
		if !slices.Contains(j.lines, ua.line) {
			j.lines = append(j.lines, ua.line)
		}
	}
	out := map[string]string{}
	var errs []lineError
	var mu sync.Mutex
	var eg errgroup.Group
	eg.SetLimit(4)
	for _, j := range jobs {
		eg.Go(func() error {
			d, err := l.flavors.codename(ctx, j.base, j.p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				for _, line := range j.lines {
					errs = append(errs, lineError{line, fmt.Sprintf("cannot read the flavor of the base image %s for %s: %v; name the flavor (--flavor=, # sdk-flavor= or --build-arg %s=) to lock without reading it",
						j.base, lock.PlatformKey(j.p), err, dockerfile.ArgFlavor)})
				}
			}
			out[j.base+"|"+lock.PlatformKey(j.p)] = d
			return nil
		})
	}
	_ = eg.Wait()
	slices.SortStableFunc(errs, func(a, b lineError) int { return a.line - b.line })
	return out, slices.Compact(errs)
}

// lock brings the lock up to date, resolving what it must.
func (l *locker) lock(ctx context.Context) int {
	path := l.lockPath()
	for _, name := range l.o.names {
		if !slices.ContainsFunc(l.uses, func(ua use) bool { return matchesRef(ua.u.Ref, ua.u.RefText, name) }) {
			var have []string
			for _, ua := range l.uses {
				if !slices.Contains(have, ua.u.RefText) {
					have = append(have, ua.u.RefText)
				}
			}
			fmt.Fprintf(l.stderr, "sdkfront lock: --update %s: no SDK line of %s is %s (its SDKs: %s)\n", name, l.o.file, name, strings.Join(have, ", "))
			return exitUsage
		}
	}
	old, oldData, bad, err := l.readLock()
	if err != nil {
		if !errors.As(err, new(invalidLock)) {
			fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
			return exitError
		}
		if !l.o.update || len(l.o.names) > 0 {
			fmt.Fprintf(l.stderr, "%v\nFix or delete it, or replace it with: sdkfront lock --update\n", err)
			return exitInvalid
		}
		fmt.Fprintf(l.stderr, "%v; --update replaces it\n", err)
		old = nil
	}
	detected, errs := l.detect(ctx)
	if len(errs) > 0 {
		l.printErrors(errs)
		fmt.Fprintf(l.stderr, "%s not written\n", path)
		return exitError
	}
	l.collect(func(ua use) (string, string) {
		def := l.settings.FlavorOf(ua.u)
		if d := detected[ua.base+"|"+lock.PlatformKey(ua.sp)]; d != "" && d != def && detectable(ua.base) {
			return d, def
		}
		return def, ""
	})

	if old == nil && len(l.needs) == 0 {
		fmt.Fprintf(l.stderr, "%s has no SDK lines: nothing to lock\n", l.o.file)
		return exitOK
	}

	client := l.flavors.client
	imgs := &images{c: client, manifests: map[string]registry.PlatformImage{}}
	r := resolver.New(imgs, client)

	var todo int
	for _, n := range l.needs {
		if e, ok := old.Lookup(n.key); ok {
			n.old = &e
		}
		n.bad, _ = bad.Of(n.key)
		if n.old == nil || l.updating(n) || slices.ContainsFunc(n.platforms, func(p ocispecs.Platform) bool {
			_, ok := n.old.Platforms[lock.PlatformKey(p)]
			return !ok
		}) {
			todo++
		}
	}
	if todo > 0 {
		fmt.Fprintf(l.stderr, "resolving %s for %s\n", plural(todo, "SDK"), platformList{&l.o.platforms}.format())
	}

	var eg errgroup.Group
	eg.SetLimit(8)
	for _, n := range l.needs {
		eg.Go(func() error {
			if n.old != nil && !l.updating(n) {
				n.entry, n.added, n.err = l.extend(ctx, imgs, n)
				return nil
			}
			n.entry, n.err = l.resolve(ctx, r, imgs, n, n.key.Flavor)
			if n.err == nil || n.fallback == "" || !flavorMissing(n.err) {
				return nil
			}
			// The SDK lacks the base image's flavor: the default, as
			// the frontend falls back to it.
			for _, line := range n.lines {
				n.notes = append(n.notes, lineError{line, "warning: " + dockerfile.RuleSDKFlavorFallback.Format(n.key.Ref, n.base, n.key.Flavor, n.fallback)})
			}
			n.key.Flavor, n.err = n.fallback, nil
			n.old = nil
			if e, ok := old.Lookup(n.key); ok {
				n.old = &e
			}
			n.bad, _ = bad.Of(n.key)
			if n.old != nil && !l.updating(n) {
				n.entry, n.added, n.err = l.extend(ctx, imgs, n)
			} else {
				n.entry, n.err = l.resolve(ctx, r, imgs, n, n.key.Flavor)
			}
			return nil
		})
	}
	_ = eg.Wait()
	if err := l.merge(); err != nil {
		l.printErrors([]lineError{*err})
		fmt.Fprintf(l.stderr, "%s not written\n", path)
		return exitError
	}

	for _, n := range l.needs {
		if n.err == nil {
			// What is written is checked as what a build reads: a
			// registry's answers are not trusted either.
			n.err = n.entry.Check(lock.Want{Ref: n.ref, Source: l.settings.Source, FromFile: n.key.Constraint != ""})
		}
		if n.err == nil {
			continue
		}
		msg := fmt.Sprintf("SDK %s: %v", n.key.Ref, n.err)
		if errors.Is(n.err, resolver.ErrDenied) {
			msg += fmt.Sprintf("; sdkfront lock logs in with the docker config's credentials ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): try docker login %s", l.registryOf(n))
		}
		for _, line := range n.lines {
			errs = append(errs, lineError{line, msg})
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b lineError) int { return a.line - b.line })
		l.printErrors(errs)
		fmt.Fprintf(l.stderr, "%s not written\n", path)
		return exitError
	}

	// Report, in the Dockerfile's order.
	var notes []lineError
	for _, n := range l.needs {
		notes = append(notes, n.notes...)
	}
	slices.SortStableFunc(notes, func(a, b lineError) int { return a.line - b.line })
	l.printErrors(notes)
	var added, replaced, updated, unchanged, removed int
	wanted := map[lock.Key]bool{}
	out := &lock.File{}
	for _, n := range l.needs {
		wanted[n.key] = true
		out.SDKs = append(out.SDKs, n.entry)
		e := n.entry
		switch {
		case n.old == nil && n.bad != nil:
			replaced++
			fmt.Fprintf(l.stderr, "%s: replaced an invalid entry (%s) -> %s (%s) %s@%s\n", l.name(n), n.bad.What(), e.Version, e.Flavor, e.Repository, e.Digest)
		case n.old == nil:
			added++
			fmt.Fprintf(l.stderr, "%s -> %s (%s) %s@%s\n", e.Ref, e.Version, e.Flavor, e.Repository, e.Digest)
		case e.Digest != n.old.Digest && e.Version != n.old.Version:
			updated++
			fmt.Fprintf(l.stderr, "%s: %s -> %s\n", l.name(n), n.old.Version, e.Version)
		case e.Digest != n.old.Digest:
			updated++
			fmt.Fprintf(l.stderr, "%s: %s -> %s (the tag %s moved: %s -> %s)\n", l.name(n), n.old.Version, e.Version, e.Tag, n.old.Digest, e.Digest)
		case len(n.added) > 0:
			updated++
			fmt.Fprintf(l.stderr, "%s: %s, now also for %s\n", l.name(n), e.Version, strings.Join(n.added, ", "))
		case !maps.Equal(e.Platforms, n.old.Platforms):
			updated++
			fmt.Fprintf(l.stderr, "%s: %s, platform manifests changed\n", l.name(n), e.Version)
		default:
			unchanged++
			if l.o.update && len(l.o.names) > 0 && l.updating(n) {
				fmt.Fprintf(l.stderr, "%s: %s (unchanged)\n", l.name(n), e.Version)
			}
		}
	}
	if old != nil {
		for _, e := range sortedEntries(old) {
			if !wanted[e.Key] {
				removed++
				fmt.Fprintf(l.stderr, "%s (%s): removed, no SDK line uses it\n", e.Ref, describe(e.Key))
			}
		}
	}
	if bad != nil {
		for _, ee := range bad.Entries {
			if !wanted[ee.Key] {
				removed++
				fmt.Fprintf(l.stderr, "%s: removed an invalid entry no SDK line uses (%s)\n", ee.Key, ee.What())
			}
		}
	}

	summary := counts(added, replaced, updated, removed, unchanged)
	data := out.Marshal()
	if bytes.Equal(data, oldData) {
		fmt.Fprintf(l.stderr, "%s is up to date (%s)\n", path, summary)
		fmt.Fprintln(l.stdout, path)
		return exitOK
	}
	if err := writeAtomic(path, data); err != nil {
		fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
		return exitError
	}
	fmt.Fprintf(l.stderr, "wrote %s (%s)\n", path, summary)
	fmt.Fprintln(l.stdout, path)
	return exitOK
}

func counts(added, replaced, updated, removed, unchanged int) string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{added, "added"}, {replaced, "replaced"}, {updated, "updated"}, {removed, "removed"}, {unchanged, "unchanged"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return "no SDKs"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (p platformList) format() string {
	var s []string
	for _, q := range *p.ps {
		s = append(s, lock.PlatformKey(q))
	}
	return strings.Join(s, ", ")
}

// resolve resolves n afresh for every platform it needs, and for those its
// old entry holds.
func (l *locker) resolve(ctx context.Context, r *resolver.Resolver, imgs *images, n *need, flavor string) (lock.Entry, error) {
	ps := slices.Clone(n.platforms)
	if n.old != nil {
		for _, k := range slices.Sorted(maps.Keys(n.old.Platforms)) {
			if !n.hasPlatform(k) {
				p, err := platforms.Parse(k)
				if err != nil {
					return lock.Entry{}, err
				}
				ps = append(ps, p)
			}
		}
	}
	var e lock.Entry
	for i, p := range ps {
		res, err := r.Resolve(ctx, resolver.Request{Ref: n.ref, Flavor: flavor, Source: l.settings.Source, Target: p})
		if err != nil {
			if i > 0 {
				// It resolved for the first platform, so this one matters.
				err = fmt.Errorf("for %s: %w", lock.PlatformKey(p), err)
			}
			return lock.Entry{}, err
		}
		// Read straight from the registry, the resolution has the
		// platform's manifest and layers; through imgs, imgs has them.
		m, layers := res.Image, res.Layers
		if layers == nil {
			m, layers, err = imgs.platform(ctx, res.Repository, res.Digest, p)
		}
		if err == nil {
			err = l.checkForeign(res.Pinned(), layers)
		}
		if err != nil {
			return lock.Entry{}, fmt.Errorf("for %s: %w", lock.PlatformKey(p), err)
		}
		if i == 0 {
			e = lock.FromResolution(res, n.key.Source, p, m)
			e.Key = n.key
			e.Flavor = flavor
			continue
		}
		if res.Digest != e.Digest {
			return lock.Entry{}, fmt.Errorf("resolves to %s (%s) for %s but to %s (%s) for %s; one lock entry holds one resolution: try again, or pin the version",
				e.Version, e.Digest, lock.PlatformKey(ps[0]), res.Version, res.Digest, lock.PlatformKey(p))
		}
		e.Platforms[lock.PlatformKey(p)] = m
	}
	return e, nil
}

// flavorMissing reports whether resolving failed for want of the flavor,
// as the frontend decides to fall back.
func flavorMissing(err error) bool {
	return errors.Is(err, resolver.ErrUnknownFlavor) || errors.Is(err, resolver.ErrNoMatch) || resolver.IsNotFound(err)
}

// merge joins needs that resolved to the same key (a line whose base's
// flavor the SDK lacks, and a line of the default flavor): one entry, the
// platforms and lines of both.
func (l *locker) merge() *lineError {
	var out []*need
	byKey := map[lock.Key]*need{}
	for _, n := range l.needs {
		m := byKey[n.key]
		if m == nil || n.err != nil || m.err != nil {
			byKey[n.key] = n
			out = append(out, n)
			continue
		}
		if m.entry.Digest != n.entry.Digest {
			return &lineError{n.lines[0], fmt.Sprintf("SDK %s: resolves to %s (%s) here but to %s (%s) at line %d; try again", n.key.Ref, n.entry.Version, n.entry.Digest, m.entry.Version, m.entry.Digest, m.lines[0])}
		}
		maps.Copy(m.entry.Platforms, n.entry.Platforms)
		for _, p := range n.platforms {
			if !m.hasPlatform(lock.PlatformKey(p)) {
				m.platforms = append(m.platforms, p)
			}
		}
		for _, line := range n.lines {
			if !slices.Contains(m.lines, line) {
				m.lines = append(m.lines, line)
			}
		}
		for _, a := range n.added {
			if !slices.Contains(m.added, a) {
				m.added = append(m.added, a)
			}
		}
		m.notes = append(m.notes, n.notes...)
	}
	l.needs = out
	return nil
}

// extend keeps n's old entry and locks the platforms it lacks: the same
// digest, resolved for them.
func (l *locker) extend(ctx context.Context, imgs *images, n *need) (lock.Entry, []string, error) {
	e := *n.old
	e.Platforms = maps.Clone(n.old.Platforms)
	var added []string
	for _, p := range n.platforms {
		k := lock.PlatformKey(p)
		if _, ok := e.Platforms[k]; ok {
			continue
		}
		ref := e.Repository + "@" + e.Digest.String()
		img, err := imgs.c.ResolvePlatform(ctx, ref, p)
		if err != nil {
			return e, nil, fmt.Errorf("locked to %s, which cannot be resolved for %s: %w; to re-resolve it, run sdkfront lock --update %s", e.Version, k, err, n.key.Ref)
		}
		if err := checkSDKConfig(ref, img.Config); err != nil {
			return e, nil, err
		}
		if err := l.checkForeign(ref, img.Layers); err != nil {
			return e, nil, fmt.Errorf("for %s: %w", k, err)
		}
		e.Platforms[k] = img.Manifest
		added = append(added, k)
	}
	return e, added, nil
}

// checkForeign refuses an SDK image whose layers carry foreign URLs from
// hosts SDK_ALLOW_FOREIGN_URLS does not name. The frontend checks what it
// resolves, but not what a lock pins: the lock is where it is checked.
func (l *locker) checkForeign(ref string, layers []ocispecs.Descriptor) error {
	return resolver.CheckForeignURLs(ref, layers, l.settings.AllowForeign)
}

// emptyLayerDiffID is the diff ID of an empty tar archive.
const emptyLayerDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// checkSDKConfig is the resolver's check that an image is an SDK image
// (exactly one layer, not empty), for an image resolved by digest.
func checkSDKConfig(ref string, config []byte) error {
	var img ocispecs.Image
	if err := json.Unmarshal(config, &img); err != nil {
		return &resolver.ImageError{Ref: ref, Reason: fmt.Sprintf("has an unreadable image config: %v", err)}
	}
	switch ids := img.RootFS.DiffIDs; {
	case len(ids) != 1:
		return &resolver.ImageError{Ref: ref, Reason: fmt.Sprintf("has %d layers; an SDK image must have exactly one layer", len(ids))}
	case ids[0] == emptyLayerDiffID:
		return &resolver.ImageError{Ref: ref, Reason: "has an empty layer; an SDK image must have exactly one layer holding the SDK"}
	}
	return nil
}

// images resolves images with the registry client, remembering what each
// resolution chose for its platform.
type images struct {
	c         *registry.Client
	mu        sync.Mutex
	manifests map[string]registry.PlatformImage // "<digest> <platform>" -> image
}

func (i *images) ResolveImage(ctx context.Context, ref string, p ocispecs.Platform, _ string) (digest.Digest, []byte, error) {
	img, err := i.c.ResolvePlatform(ctx, ref, p)
	if err != nil {
		return "", nil, err
	}
	i.mu.Lock()
	i.manifests[img.Digest.String()+" "+lock.PlatformKey(p)] = img
	i.mu.Unlock()
	return img.Digest, img.Config, nil
}

// platform is the digest of the image manifest for p of repo@d, and its
// layers.
func (i *images) platform(ctx context.Context, repo string, d digest.Digest, p ocispecs.Platform) (digest.Digest, []ocispecs.Descriptor, error) {
	i.mu.Lock()
	img, ok := i.manifests[d.String()+" "+lock.PlatformKey(p)]
	i.mu.Unlock()
	if !ok {
		var err error
		if img, err = i.c.ResolvePlatform(ctx, repo+"@"+d.String(), p); err != nil {
			return "", nil, err
		}
	}
	return img.Manifest, img.Layers, nil
}

// writeAtomic replaces path with data: a temporary file beside it, renamed
// over it, so that a reader never sees half a lock.
func writeAtomic(path string, data []byte) (err error) {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
