package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/lock"
)

const lockUsage = `Usage: sdkfront lock [-f Dockerfile] [--build-arg K=V ...] [--platform P1,P2] [--update [REF ...]] [--check [--offline]] [--trust DIR]

Resolves every SDK line of a Dockerfile and pins it by digest in the lock
beside it: <Dockerfile>.sdk.lock (Dockerfile.sdk.lock, app.Dockerfile.sdk.lock).
The Dockerfile is read as the frontend reads it: the same ARG scoping, build
args, sdk-* parser directives and defaults, expanded for each target platform.

A line that names no flavor (and no # sdk-flavor= or SDK_FLAVOR) gets its base
image's, as in the build: the VERSION_CODENAME of its os-release, read from the
registry (layers from the top until it is found) or a --build-context directory;
the default flavor if the SDK lacks it. --check reads no base image.

Entries already locked are kept; lines without an entry (or without the
platform) are resolved and added; entries no line uses any more are removed.
The lock is written (atomically) only when its bytes change. A kept entry's
image is read by digest with its config: if its version label
(org.oryx.version, else org.oryx.sdk.version) names another version than the
entry's, the entry pins another version's image, and locking fails (exit 4).

The lock is data, checked as a build checks it: an entry whose repository or
tag is not the one its source template (or full reference) gives, whose
version is not one or does not satisfy its reference's constraint, or whose
digests, flavor or platforms are malformed is invalid. Locking replaces an
invalid entry a line uses (re-resolves it) and removes the others; --check
fails on it. A lock larger than 1 MiB, or that does not parse, is refused;
so is a key that is not exactly a field's name ("DIGEST") or that is
repeated in its object, which JSON readers would take loosely.

An entry's digest is data too: a lock can keep an entry's version and tag
and pin the digest of another version's image. --check resolves each entry's
tag again and fails (exit 4) when it no longer gives the locked digest (the
tag moved, or the digest is another image's), or the image's version label
names another version. --check --offline reads no registry: it compares the
lock with the Dockerfile only, and cannot see a swapped digest or a moved tag.

Flags:
  -f, --file FILE        the Dockerfile (default "Dockerfile")
      --build-arg K=V    a build arg, as given to the build (repeatable). K alone takes
                         the value of the environment variable K. Pass the same
                         SDK_SOURCE and SDK_FLAVOR as the build: they are part of the key.
                         Advice to run sdkfront lock names build args, never their values.
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
      --check            write nothing: exit 4 if the lock is not valid or an entry's tag
                         no longer gives its digest (one manifest and one config read per
                         entry and platform); exit 3 if it is missing, lacks an entry or
                         a platform, holds entries no line uses, or is not byte for byte
                         what sdkfront lock writes.
      --offline          with --check: read no registry (the tags are not resolved)
      --trust DIR        a trust directory (notation/trustpolicy.json, sigstore.json;
                         docs/signatures.md): each SDK's publisher signatures must
                         verify under it before it is locked, and the lock records
                         them; with --check, each entry's signer must still be the
                         one the lock records (exit 4 if not)
  -h, --help             show this help

Registries: credentials come from the docker config ($DOCKER_CONFIG/config.json,
else ~/.docker/config.json) and its credential helpers, as "docker login" leaves
them. Plain HTTP is used only for loopback registries and those named in the
build arg SDK_INSECURE_REGISTRIES (comma-separated). An SDK whose descriptors
(index entries, config, layers) carry foreign URLs is not locked unless the
build arg SDK_ALLOW_FOREIGN_URLS names their hosts.

Environment:
  SDK_AUTH_REALMS  token-service hosts, separated by commas or spaces, that may
                   receive your registry credentials; credentials from your
                   Docker config go only to the registry itself, a token
                   service on the registry's own host, and Docker Hub's
                   auth.docker.io
  SDK_PRIVATE_NETWORKS  private networks in CIDR notation (10.0.0.0/8),
                   separated by commas or spaces: a registry on an address
                   in one may reach all of it (by default a private registry
                   reaches only its own /24, or /64 for IPv6)

Output: progress, changes and errors go to stderr; an error in the Dockerfile
is reported as FILE:LINE: message, one line per failing line. On success the
path of the lock is printed on stdout (nothing with --check).

Exit codes:
  0  the lock is up to date (written, or already right; with --check: it matches)
  1  error: the Dockerfile, a version file or the lock cannot be read, an SDK
     line is invalid or does not resolve, a base image's flavor cannot be read,
     an SDK has foreign layer URLs that are not allowed, a registry fails or
     refuses access or gives what a lock may not hold (--check: cannot be
     read), or the lock cannot be written
  2  usage: unknown flags, bad values, a stray argument, --check with --update,
     --offline without --check, --update naming no SDK of the Dockerfile
  3  --check: the lock is out of date
  4  the lock is not valid: it does not parse, is larger than 1 MiB or is of
     another version (without an --update naming no SDK, which replaces it),
     or, with --check, an entry is invalid (its repository, tag or version is
     not what its reference and source template give, or a field is malformed)
     or (without --offline) its tag no longer gives its digest; an entry's
     image is labelled with another version than the entry's
`

// lockOpts are the lock command's flags.
type lockOpts struct {
	file      string
	context   string            // --context: the build context, for version files
	named     map[string]string // --build-context NAME=DIR
	buildArgs map[string]string
	// argNames are the --build-arg names, in the order given, each once:
	// advice names them and never repeats a value, which may be a secret.
	argNames  []string
	platforms []ocispecs.Platform
	// platformsGiven is set when --platform was; else platforms is the host's.
	platformsGiven bool
	update         bool
	names          []string // --update's arguments; none: everything
	check          bool
	offline        bool   // --offline: --check reads no registry
	trust          string // --trust DIR: a trust directory (docs/signatures.md)
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
// It keeps the names apart from the values, for advice; a flag without a
// name is kept as unnamed, for parseLockFlags to report without its value
// (the flag package's error for a failed Set would quote it).
type buildArgs struct {
	vals    map[string]string
	names   *[]string
	unnamed *bool
}

func (b buildArgs) String() string { return "" }

func (b buildArgs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if k == "" {
		*b.unnamed = true
		return nil
	}
	if !slices.Contains(*b.names, k) {
		*b.names = append(*b.names, k)
	}
	if !ok {
		env, set := os.LookupEnv(k)
		if !set {
			return nil // as docker build: an unset variable sets nothing
		}
		v = env
	}
	b.vals[k] = v
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
	o := lockOpts{buildArgs: map[string]string{}, named: map[string]string{}}
	unnamed := false
	fs := flag.NewFlagSet("sdkfront lock", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.file, "f", "Dockerfile", "")
	fs.StringVar(&o.file, "file", "Dockerfile", "")
	fs.Var(buildArgs{vals: o.buildArgs, names: &o.argNames, unnamed: &unnamed}, "build-arg", "")
	fs.StringVar(&o.context, "context", ".", "")
	fs.Var(namedContexts(o.named), "build-context", "")
	fs.Var(platformList{&o.platforms}, "platform", "")
	fs.BoolVar(&o.update, "update", false, "")
	fs.BoolVar(&o.check, "check", false, "")
	fs.BoolVar(&o.offline, "offline", false, "")
	fs.StringVar(&o.trust, "trust", "", "")

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
	case unnamed:
		return o, usageError{"--build-arg: want K=V or K; a value without a name before = is not a build arg"}
	case o.file == "":
		return o, usageError{"-f: the Dockerfile must be named"}
	case o.file == "-":
		return o, usageError{"-f -: the Dockerfile must be a file, since its lock is written beside it"}
	case len(pos) > 0 && !o.update:
		return o, usageError{fmt.Sprintf("unexpected argument %q: SDKs to re-resolve follow --update", pos[0])}
	case o.check && o.update:
		return o, usageError{"--check and --update do not go together: --check changes nothing"}
	case o.offline && !o.check:
		return o, usageError{"--offline goes with --check: locking reads the registries"}
	}
	o.names = pos
	o.platformsGiven = len(o.platforms) > 0
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
