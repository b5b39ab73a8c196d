package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"

	"github.com/sdkfront/sdkfront/frontend"
	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

// The build and sdkfront lock plan the same Dockerfile alike: the same
// needs (keys, flavors detected and their fallbacks, constraints from
// version files, stage platforms, lines), or the same error at the same
// line. The build reads through its gateway host (a stub BuildKit that
// pulls base images from the test registry and sends the context
// directory), sdkfront lock through its own (the disk, the registry).
func TestPlanParity(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	reg.Push(t, "lab/debian:bullseye", baseImage(t, "bullseye", "linux/amd64"))
	reg.Push(t, "lab/debian:trixie", baseImage(t, "trixie", "linux/amd64"))
	reg.Push(t, "lab/debian:mixed", testregistry.NewIndex(t, baseImage(t, "bookworm", "linux/amd64"), baseImage(t, "bullseye", "linux/arm64")))
	write(t, filepath.Join(dir, ".python-version"), "3.12\n")
	write(t, filepath.Join(dir, "go.mod"), "module x\n\ngo 1.23.4\n")
	write(t, filepath.Join(dir, "bad", ".python-version"), "3.12; rm -rf /\n")

	both := []string{"linux/amd64", "linux/arm64"}
	for _, tc := range []struct {
		name      string
		df        string
		args      map[string]string
		platforms []string
		wantErr   string // at wantLine
		wantLine  int
		resolve   bool // from the registry, unlocked and then locked
		// resolveErr is the error both resolve with, at resolveLine.
		resolveErr  string
		resolveLine int
	}{
		{name: "build args, two platforms", platforms: both, args: map[string]string{"GO_VERSION": "1.23"}, resolve: true, df: `# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
ARG GO_VERSION=1.22
FROM scratch
ARG GO_VERSION
SDK golang@${GO_VERSION}
RUN --mount=type=sdk,ref=nodejs@${NODE:-20},target=/n true
FROM --platform=linux/amd64 scratch AS tools
SDK python@3.11 --flavor=bullseye
`},
		{name: "flavors detected and falling back", platforms: both, resolve: true, df: `# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM REGISTRY/lab/debian:bullseye AS old
SDK golang@1.23
FROM old
RUN --mount=type=sdk,ref=golang@1.23,flavor=bookworm,target=/go true
FROM REGISTRY/lab/debian:trixie
SDK golang@1.23
FROM scratch
SDK golang@1.23
FROM REGISTRY/lab/debian:mixed
SDK golang@1.23 --to=/opt/go
`},
		{name: "version files, resolved", resolve: true, df: `# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM REGISTRY/lab/debian:bullseye
SDK python@file:.python-version
SDK golang@file:go.mod
`},
		{name: "a version the registry lacks", platforms: both, df: `# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM REGISTRY/lab/debian:trixie
SDK golang@1.23
RUN --mount=type=sdk,ref=nodejs@19,target=/n true
`, resolveErr: `SDK nodejs@19: `, resolveLine: 4},
		{name: "the build's flavor", df: `# sdk-flavor=bullseye
FROM REGISTRY/lab/debian:trixie
SDK golang@1.23
`},
		{name: "version files", platforms: both, df: `FROM REGISTRY/lab/debian:bullseye
SDK python@file:.python-version
SDK golang@file:go.mod
`},
		{name: "a bad version file", df: `FROM scratch
SDK golang@1.23
SDK python@file:bad/.python-version
`, wantErr: `SDK python@file:bad/.python-version: bad/.python-version: "3.12;" is not a version or range sdkfront understands`, wantLine: 3},
		{name: "an empty build arg", df: `FROM scratch
ARG GO_VERSION
SDK golang@${GO_VERSION}
`, wantErr: `SDK reference "golang@" has an empty version`, wantLine: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			df := strings.ReplaceAll(tc.df, "REGISTRY", reg.Host)
			write(t, filepath.Join(dir, "Dockerfile"), df)
			ps := tc.platforms
			if ps == nil {
				ps = []string{"linux/amd64"}
			}
			build, buildErr := buildNeeds(t, reg, dir, df, tc.args, ps)
			locked, lockErr := lockNeeds(t, tc.args, ps)
			if tc.wantErr != "" {
				for side, err := range map[string]string{"build": buildErr, "sdkfront lock": lockErr} {
					if !strings.Contains(err, tc.wantErr) || !strings.HasPrefix(err, fmt.Sprintf("%d: ", tc.wantLine)) {
						t.Errorf("%s: error %q, want %q at line %d", side, err, tc.wantErr, tc.wantLine)
					}
				}
			} else if buildErr != "" || lockErr != "" {
				t.Fatalf("build: %s; sdkfront lock: %s", buildErr, lockErr)
			}
			if buildErr != lockErr {
				t.Errorf("the build fails with %q, sdkfront lock with %q", buildErr, lockErr)
			}
			if !slices.Equal(build, locked) {
				t.Errorf("needs differ:\nbuild:\n  %s\nsdkfront lock:\n  %s", strings.Join(build, "\n  "), strings.Join(locked, "\n  "))
			}
			if tc.wantErr == "" && len(build) == 0 {
				t.Error("no needs")
			}
			if tc.resolve {
				resolveParity(t, reg, dir, df, tc.args, ps)
			}
			if tc.resolveErr != "" {
				resolveErrParity(t, dir, df, tc.args, ps, tc.resolveErr, tc.resolveLine)
			}
		})
	}
}

// resolveParity resolves the Dockerfile as a build does and as sdkfront
// lock does, need by need: the same SDK (flavor, version, tag, digest) for
// each line on each stage platform, got the same way (from the registry,
// falling back, or from the lock). It does so without a lock; then with
// the lock sdkfront lock writes, from which both pin every need; then with
// that lock less one entry, which both resolve again and no other.
func resolveParity(t *testing.T, reg *testregistry.Registry, dir, df string, args map[string]string, ps []string) {
	t.Helper()
	lockPath := filepath.Join(dir, "Dockerfile.sdk.lock")
	os.Remove(lockPath)
	compare := func(stage string) []string {
		t.Helper()
		build, err := buildResolutions(dir, df, args, ps)
		if err != nil {
			t.Fatalf("%s: build: %v", stage, err)
		}
		locked := lockResolutions(t, args, ps)
		if !slices.Equal(build, locked) {
			t.Errorf("%s: resolutions differ:\nbuild:\n  %s\nsdkfront lock:\n  %s", stage, strings.Join(build, "\n  "), strings.Join(locked, "\n  "))
		}
		return build
	}
	for _, r := range compare("without a lock") {
		if strings.HasSuffix(r, " locked") {
			t.Errorf("without a lock: %s", r)
		}
	}

	flags := []string{"lock", "--platform", strings.Join(ps, ",")}
	for k, v := range args {
		flags = append(flags, "--build-arg", k+"="+v)
	}
	wantCode(t, must(sdkfront(t, flags...)), exitOK)
	var written []string
	for _, e := range lockFile(t).SDKs {
		for p := range e.Platforms {
			written = append(written, fmt.Sprintf("%s %s %s %s %s@%s for %s", e.Ref, e.Flavor, e.Version, e.Tag, e.Repository, e.Digest, p))
		}
	}
	slices.Sort(written)
	if fromLock := builtFromLock(t, dir, df, args, ps); !slices.Equal(fromLock, written) {
		t.Errorf("the build resolves from the lock:\n  %s\nwhich holds:\n  %s", strings.Join(fromLock, "\n  "), strings.Join(written, "\n  "))
	}
	for _, r := range compare("with the lock") {
		if !strings.HasSuffix(r, " locked") {
			t.Errorf("with the lock: %s", r)
		}
	}

	f := lockFile(t)
	gone := f.Sorted()[0]
	f.SDKs = slices.DeleteFunc(f.SDKs, func(e lock.Entry) bool { return e.Key == gone.Key })
	write(t, lockPath, string(f.Marshal()))
	for _, r := range compare("with the lock less " + gone.Ref) {
		resolved := strings.Contains(r, " "+gone.Ref+" for ") && strings.Contains(r, ": "+gone.Flavor+" ")
		if resolved == strings.HasSuffix(r, " locked") {
			t.Errorf("with the lock less %s (%s): %s", gone.Ref, gone.Flavor, r)
		}
	}
}

// resolveErrParity resolves a Dockerfile that cannot be resolved as a
// build does and as sdkfront lock does: the same error, at the same line.
func resolveErrParity(t *testing.T, dir, df string, args map[string]string, ps []string, want string, wantLine int) {
	t.Helper()
	os.Remove(filepath.Join(dir, "Dockerfile.sdk.lock"))
	_, err := buildResolutions(dir, df, args, ps)
	if err == nil {
		t.Fatal("build: resolved")
	}
	build := fmt.Sprintf("%d: %v", errLine(err), err)
	l := parityLocker(t, args, ps)
	if errs := l.read(); len(errs) > 0 {
		t.Fatalf("sdkfront lock: %v", errs)
	}
	l.flavors = &flavors{named: l.o.named, client: registry.New(registry.WithReader(registry.ReaderLocal))}
	if errs := l.detect(context.Background(), l.flavors); len(errs) > 0 {
		t.Fatalf("sdkfront lock: %v", errs)
	}
	changes, err := l.resolve(context.Background(), nil, nil, l.needs())
	if err != nil {
		t.Fatal(err)
	}
	errs, _ := l.changeErrors(changes)
	if len(errs) != 1 {
		t.Fatalf("sdkfront lock: errors %v, want one", errs)
	}
	locked := fmt.Sprintf("%d: %s", errs[0].line, errs[0].msg)
	if !strings.HasPrefix(build, fmt.Sprintf("%d: %s", wantLine, want)) {
		t.Errorf("build: error %q, want %q at line %d", build, want, wantLine)
	}
	if build != locked {
		t.Errorf("the build fails with %q, sdkfront lock with %q", build, locked)
	}
}

// errLine is the Dockerfile line err is at; 0: none.
func errLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return le.Locations[0][0].Start.Line
	}
	return 0
}

// builtFromLock is what a build resolves from the lock, as the lock
// spells it: every SDK must come from it.
func builtFromLock(t *testing.T, dir, df string, args map[string]string, ps []string) []string {
	t.Helper()
	rs, err := frontend.Resolve(context.Background(), newParityGateway(dir, df, args, ps))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	var out []string
	for _, n := range rs {
		r := n.Res
		if !r.Locked || n.How != plan.FromLock {
			t.Errorf("build: %s resolved with Locked %v (%s), want it locked", r.Ref, r.Locked, n.How)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %s@%s for %s", r.Ref, r.Flavor, r.Version, r.Tag, r.Repository, r.Digest, lock.PlatformKey(r.Target)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// resolution is how the parity spells a need's resolution: its line, the
// stage platform, the SDK, and how it was got.
func resolution(n plan.Need, flavor, version, tag, repository string, d digest.Digest, how plan.How) string {
	return fmt.Sprintf("line %d %s for %s: %s %s %s %s@%s %s", n.Line, n.SDK.RefText, n.PlatformKey(), flavor, version, tag, repository, d, how)
}

// buildResolutions resolves the Dockerfile as a build does: each need's
// resolution.
func buildResolutions(dir, df string, args map[string]string, ps []string) ([]string, error) {
	rs, err := frontend.Resolve(context.Background(), newParityGateway(dir, df, args, ps))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rs {
		out = append(out, resolution(r.Need, r.Res.Flavor, r.Res.Version, r.Res.Tag, r.Res.Repository, r.Res.Digest, r.How))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// lockResolutions resolves the Dockerfile as sdkfront lock does, against
// the lock in the directory, and spells each need's resolution from the
// entry it gets: from the lock if the entry was kept for the need's
// platform, else fallen back if its line fell back.
func lockResolutions(t *testing.T, args map[string]string, ps []string) []string {
	t.Helper()
	l := parityLocker(t, args, ps)
	if errs := l.read(); len(errs) > 0 {
		t.Fatalf("sdkfront lock: %v", errs)
	}
	l.flavors = &flavors{named: l.o.named, client: registry.New(registry.WithReader(registry.ReaderLocal))}
	if errs := l.detect(context.Background(), l.flavors); len(errs) > 0 {
		t.Fatalf("sdkfront lock: %v", errs)
	}
	old, _, bad, err := l.readLock()
	if err != nil {
		t.Fatal(err)
	}
	changes, err := l.resolve(context.Background(), old, bad, l.needs())
	if err != nil {
		t.Fatal(err)
	}
	if errs, _ := l.changeErrors(changes); len(errs) > 0 {
		t.Fatalf("sdkfront lock: %v", errs)
	}
	var out []string
	for _, n := range l.plan.Needs {
		fellBack := func(c *lock.Change) bool {
			return slices.ContainsFunc(c.Fallbacks, func(fb lock.Fallback) bool { return fb.Detected == n.Flavor && slices.Contains(fb.Lines, n.Line) })
		}
		i := slices.IndexFunc(changes, func(c *lock.Change) bool {
			return c.HasPlatform(n.PlatformKey()) && (c.Key == n.Key() || c.Key == n.Want.Key(n.Fallback) && fellBack(c))
		})
		if i < 0 {
			t.Fatalf("sdkfront lock: no entry for line %d on %s", n.Line, n.PlatformKey())
		}
		c, how := changes[i], plan.FromRegistry
		switch _, kept := c.Entry.Platforms[n.PlatformKey()]; {
		case c.Old != nil && c.Old.Digest == c.Entry.Digest && kept && !slices.Contains(c.Added, n.PlatformKey()):
			how = plan.FromLock
		case fellBack(c):
			how = plan.FellBack
		}
		e := c.Entry
		out = append(out, resolution(n, e.Flavor, e.Version, e.Tag, e.Repository, e.Digest, how))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// parityLocker is sdkfront lock's locker for the Dockerfile in the
// working directory.
func parityLocker(t *testing.T, args map[string]string, ps []string) *locker {
	t.Helper()
	flags := []string{"--platform", strings.Join(ps, ",")}
	for k, v := range args {
		flags = append(flags, "--build-arg", k+"="+v)
	}
	o, err := parseLockFlags(flags)
	if err != nil {
		t.Fatal(err)
	}
	return &locker{o: o, ctx: &contexts{main: o.context, named: o.named, dockerfile: o.file}, stderr: io.Discard}
}

// describeNeeds is what the parity holds equal, a line a need.
func describeNeeds(p *plan.Plan) []string {
	var out []string
	for _, n := range p.Needs {
		k := n.Key()
		out = append(out, fmt.Sprintf("%s line %d: %s key=(%s, %s, %s, %q) fallback=%q base=%q stage=%s",
			platforms.Format(p.Targets[n.Target].Platform), n.Line, n.SDK.RefText, k.Ref, k.Flavor, k.Source, k.Constraint, n.Fallback, n.Base, n.PlatformKey()))
	}
	return out
}

// buildNeeds plans the Dockerfile as a build does, through the gateway.
func buildNeeds(t *testing.T, reg *testregistry.Registry, dir, df string, args map[string]string, ps []string) ([]string, string) {
	t.Helper()
	p, err := frontend.Plan(context.Background(), newParityGateway(dir, df, args, ps))
	if err != nil {
		return nil, fmt.Sprintf("%d: %v", errLine(err), err)
	}
	return describeNeeds(p), ""
}

// lockNeeds plans the Dockerfile as sdkfront lock does: its first error,
// as it prints errors (by line).
func lockNeeds(t *testing.T, args map[string]string, ps []string) ([]string, string) {
	t.Helper()
	l := parityLocker(t, args, ps)
	o := l.o
	errs := l.read()
	if len(errs) == 0 {
		l.flavors = &flavors{named: o.named, client: registry.New(registry.WithReader(registry.ReaderLocal))}
		errs = l.detect(context.Background(), l.flavors)
	}
	if len(errs) > 0 {
		return nil, fmt.Sprintf("%d: %s", errs[0].line, errs[0].msg)
	}
	return describeNeeds(l.plan), ""
}

// parityGateway is a gateway with a stub BuildKit behind it: it serves
// the Dockerfile as the "dockerfile" input, the directory as the local
// build context, and pulls images from their registry.
type parityGateway struct {
	client.Client // nil: a call the plan does not make fails loudly
	opts          map[string]string
	dockerfile    string
	dir           string
	reg           *registry.Client
	named         map[string]string // local named contexts: name -> directory
}

var _ client.Client = (*parityGateway)(nil)

func newParityGateway(dir, df string, args map[string]string, ps []string) *parityGateway {
	opts := map[string]string{"platform": strings.Join(ps, ",")}
	for k, v := range args {
		opts["build-arg:"+k] = v
	}
	return &parityGateway{opts: opts, dockerfile: df, dir: dir, reg: registry.New(registry.WithReader(registry.ReaderLocal))}
}

func (g *parityGateway) Warn(context.Context, digest.Digest, string, client.WarnOpts) error {
	return nil
}

func (g *parityGateway) BuildOpts() client.BuildOpts {
	return client.BuildOpts{
		Opts:    g.opts,
		Workers: []client.WorkerInfo{{ID: "stub", Platforms: []ocispecs.Platform{hostPlatform()}}},
		Product: "stub",
		LLBCaps: pb.Caps.CapSet(pb.Caps.All()),
		Caps:    gwpb.Caps.CapSet(gwpb.Caps.All()),
	}
}

// Inputs is the Dockerfile, and its lock if the directory has one.
func (g *parityGateway) Inputs(context.Context) (map[string]llb.State, error) {
	fa := llb.Mkfile("/Dockerfile", 0o644, []byte(g.dockerfile))
	if dt, err := os.ReadFile(filepath.Join(g.dir, "Dockerfile.sdk.lock")); err == nil {
		fa = fa.Mkfile("/Dockerfile.sdk.lock", 0o644, dt)
	}
	return map[string]llb.State{"dockerfile": llb.Scratch().File(fa)}, nil
}

func (g *parityGateway) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	img, err := g.reg.ResolvePlatform(ctx, ref, *opt.ImageOpt.Platform)
	return ref, img.Digest, img.Config, err
}

func (g *parityGateway) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	ref := &parityRef{files: map[string][]byte{}}
	for _, dt := range req.Definition.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, err
		}
		if f := op.GetFile(); f != nil {
			for _, a := range f.Actions {
				if mk := a.GetMkfile(); mk != nil {
					ref.files[path.Clean("/"+mk.Path)] = mk.Data
				}
			}
		}
		id := op.GetSource().GetIdentifier()
		switch {
		case id == "local://context":
			ref.dir = g.dir
		case strings.HasPrefix(id, "local://") && g.named[strings.TrimPrefix(id, "local://")] != "":
			ref.dir = g.named[strings.TrimPrefix(id, "local://")]
		case strings.HasPrefix(id, "docker-image://"):
			p := ocispecs.Platform{OS: op.Platform.OS, Architecture: op.Platform.Architecture, Variant: op.Platform.Variant}
			image := strings.TrimPrefix(id, "docker-image://")
			if dt, err := g.reg.ReadImageFile(ctx, image, p, resolver.OSReleasePaths, registry.ReadLimits{}); err == nil && dt != nil {
				for _, f := range resolver.OSReleasePaths {
					ref.files[f] = dt
				}
			}
		}
	}
	res := client.NewResult()
	res.SetRef(ref)
	return res, nil
}

type parityRef struct {
	client.Reference
	files map[string][]byte
	dir   string // the build context's, if it was solved
}

func (r *parityRef) ReadFile(_ context.Context, req client.ReadRequest) ([]byte, error) {
	if dt, ok := r.files[path.Clean("/"+req.Filename)]; ok {
		return dt, nil
	}
	if r.dir != "" {
		return os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(req.Filename)))
	}
	return nil, fmt.Errorf("open %s: %w", req.Filename, os.ErrNotExist)
}

// ReadDir lists a solved directory, as BuildKit's ReadDir does: names and
// modes.
func (r *parityRef) ReadDir(_ context.Context, req client.ReadDirRequest) ([]*fstypes.Stat, error) {
	if r.dir == "" {
		return nil, errors.New("stub: no directory")
	}
	des, err := os.ReadDir(filepath.Join(r.dir, filepath.FromSlash(req.Path)))
	if err != nil {
		return nil, err
	}
	var out []*fstypes.Stat
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, &fstypes.Stat{Path: de.Name(), Mode: uint32(fi.Mode()), Size: fi.Size()})
	}
	return out, nil
}

func (r *parityRef) StatFile(context.Context, client.StatRequest) (*fstypes.Stat, error) {
	return nil, errors.New("stub: no stat")
}

// The build and sdkfront lock --trust verify the same SDKs and name the
// same signers: what the build's progress says of each SDK is what the
// lock records, and a frozen build from that lock verifies it again.
func TestVerdictParity(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	key := testregistry.NewKey(t)
	signGolang(t, reg, key)
	trust := trustDir(t, reg.Host, key)
	df := strings.ReplaceAll(sample, "REGISTRY", reg.Host)
	write(t, filepath.Join(dir, "Dockerfile"), df)
	args := map[string]string{"GO_VERSION": "1.23"}
	ps := []string{"linux/amd64", "linux/arm64"}

	built := func() map[string]string {
		t.Helper()
		gw := newParityGateway(dir, df, args, ps)
		gw.opts["context:"+frontend.TrustContext] = "local:" + frontend.TrustContext
		gw.named = map[string]string{frontend.TrustContext: trust}
		rs, err := frontend.Resolve(context.Background(), gw)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		out := map[string]string{}
		for _, r := range rs {
			out[r.Res.Repository+"@"+r.Res.Digest.String()] = r.Res.SignedBy
		}
		return out
	}
	fromRegistry := built()

	wantCode(t, must(sdkfront(t, lockArgs("--trust", trust)...)), exitOK)
	signed := 0
	for _, e := range lockFile(t).SDKs {
		var parts []string
		for _, s := range e.Signatures {
			parts = append(parts, fmt.Sprintf("signed by %s, policy %s", s.Signer, s.Policy))
		}
		recorded := strings.Join(parts, ", ")
		if recorded != "" {
			signed++
		}
		if got, ok := fromRegistry[e.Repository+"@"+e.Digest.String()]; !ok || got != recorded {
			t.Errorf("%s: the build says %q, the lock records %q", e.Ref, got, recorded)
		}
	}
	if signed != 1 {
		t.Errorf("%d entries record a signature, want golang's one", signed)
	}
	if fromLock := built(); !maps.Equal(fromLock, fromRegistry) {
		t.Errorf("the build from the lock says %v, from the registry %v", fromLock, fromRegistry)
	}
}
