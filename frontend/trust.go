package frontend

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing/fstest"

	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	sdkplan "github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// Where a build's trust policy comes from (docs/signatures.md, "Where the
// policy comes from").
const (
	// ArgTrust names the build context that holds the build's trust
	// directory: a name, never keys.
	ArgTrust = "SDK_TRUST"
	// TrustContext is the build context used when ArgTrust is not set.
	TrustContext = "sdk-trust"
	// EnvTrustDir is a trust directory in the frontend's own image, set by
	// a platform team in a derived image: it applies to every build, in
	// addition to the build's own.
	EnvTrustDir = "SDKFRONT_TRUST_DIR"
	// EnvRequireTrust=1 in the frontend's image refuses a build with SDK
	// lines and no policy.
	EnvRequireTrust = "SDKFRONT_REQUIRE_TRUST"
)

// Bounds on the trust context: it holds policies, keys and certificates,
// not a source tree.
const (
	maxTrustFiles = 256
	maxTrustBytes = 4 << 20
)

// contextName is what SDK_TRUST may name: a build context's name as
// --build-context takes it, nothing that could carry a key.
var contextName = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]{0,127}$`)

// buildTrust is a build's signature verification: its policies, and the
// registry client that reads signatures (nil where the frontend does not
// read registries itself).
type buildTrust struct {
	policies []*trust.Policy
	store    trust.Store
	locks    *locks

	once     sync.Once
	verifier func(context.Context, resolver.Resolution) (*trust.Verdict, error)

	mu sync.Mutex
	// unchecked are the digests an audit policy covers that could not be
	// verified, for SDKSignatureUnchecked.
	unchecked map[string]bool
	// unreachable are the registries (by host) that could not be reached
	// to read signatures, and why: not asked again in this build (the
	// offline frontend would wait for every SDK's retries).
	unreachable map[string]string
}

// loadTrust reads the build's trust policies: the frontend image's
// (SDKFRONT_TRUST_DIR) and the build's (the context SDK_TRUST names, else
// sdk-trust if the build has it). Nil without either.
func loadTrust(ctx context.Context, c client.Client, bc *dockerui.Client) (*buildTrust, error) {
	var policies []*trust.Policy
	if dir := os.Getenv(EnvTrustDir); dir != "" {
		p, err := trust.LoadPolicy(os.DirFS(dir))
		if err != nil {
			return nil, errors.Errorf("the frontend's trust directory %s (%s): %v", dir, EnvTrustDir, err)
		}
		policies = append(policies, p)
	}
	p, err := contextPolicy(ctx, c, bc)
	if err != nil {
		return nil, err
	}
	if p != nil {
		policies = append(policies, p)
	}
	if len(policies) == 0 {
		if os.Getenv(EnvRequireTrust) == "1" {
			return nil, errors.Errorf("this sdkfront requires a trust policy for SDKs (%s=1): pass your trust directory as the build context %s (--build-context %s=<dir>), or name its context with the build arg %s",
				EnvRequireTrust, TrustContext, TrustContext, ArgTrust)
		}
		return nil, nil
	}
	return &buildTrust{policies: policies, unchecked: map[string]bool{}}, nil
}

// contextPolicy loads the trust directory of the build context that
// SDK_TRUST names, or of sdk-trust; nil if neither is set.
func contextPolicy(ctx context.Context, c client.Client, bc *dockerui.Client) (*trust.Policy, error) {
	name, named := bc.BuildArgs[ArgTrust]
	if !named {
		name, named = c.BuildOpts().Opts[ArgTrust]
	}
	if named && !contextName.MatchString(name) {
		return nil, errors.Errorf("build arg %s: %q is not a build context name (lower-case letters, digits, '.', '_', '-' and '/'): it names the context that holds the trust directory", ArgTrust, name)
	}
	if !named || name == "" {
		name = TrustContext
	}
	nc, err := bc.NamedContext(name, dockerui.ContextOpt{})
	if err != nil {
		return nil, errors.Wrapf(err, "build arg %s: the build context %s", ArgTrust, name)
	}
	if nc == nil {
		if named {
			return nil, errors.Errorf("build arg %s names the build context %q, which this build does not have: pass it with --build-context %s=<trust directory>", ArgTrust, name, name)
		}
		return nil, nil
	}
	st, _, err := nc.Load(ctx)
	if err != nil {
		return nil, errors.Wrapf(err, "the trust build context %s", name)
	}
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, errors.Wrapf(err, "the trust build context %s", name)
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	fsys, err := readTree(ctx, ref)
	if err != nil {
		return nil, errors.Errorf("the trust build context %s: %v", name, err)
	}
	p, err := trust.LoadPolicy(fsys)
	if err != nil {
		return nil, errors.Errorf("the trust build context %s: %v", name, err)
	}
	return p, nil
}

// readTree copies a reference's files into memory, bounded: at most
// maxTrustFiles entries and maxTrustBytes in all. Symbolic links and
// special files are left out: a policy names regular files.
func readTree(ctx context.Context, ref client.Reference) (fs.FS, error) {
	out := fstest.MapFS{}
	entries, total := 0, int64(0)
	var walk func(dir string) error
	walk = func(dir string) error {
		sts, err := ref.ReadDir(ctx, client.ReadDirRequest{Path: dir})
		if err != nil {
			return err
		}
		for _, st := range sts {
			if entries++; entries > maxTrustFiles {
				return errors.Errorf("more than %d files: a trust directory holds policies, keys and certificates", maxTrustFiles)
			}
			name := path.Join(dir, path.Base(st.Path))
			mode := fs.FileMode(st.Mode)
			switch {
			case mode.IsDir():
				if err := walk(name); err != nil {
					return err
				}
			case mode.IsRegular():
				if total += st.Size; total > maxTrustBytes {
					return errors.Errorf("more than %d bytes: a trust directory holds policies, keys and certificates", maxTrustBytes)
				}
				dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: name})
				if err != nil {
					return errors.Wrapf(err, "reading %s", name)
				}
				if int64(len(dt)) != st.Size {
					return errors.Errorf("%s changed while it was read", name)
				}
				out[name] = &fstest.MapFile{Data: dt, Mode: 0o644}
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, err
	}
	return out, nil
}

// verify is the build's plan.Options.Verify: each SDK's signatures under
// every policy, read from the registry; a locked SDK's signer must still
// be the one its lock records. Where the frontend does not read the
// registry, a strict or permissive policy fails the SDK and an audit one
// leaves it for SDKSignatureUnchecked.
func (bt *buildTrust) verify(ctx context.Context, res resolver.Resolution) (*trust.Verdict, error) {
	if bt.store == nil {
		return bt.unverifiable(res, "as this sdkfront does not read registries itself (BuildKit resolves the SDKs)", "build with the sdkfront image that reads registries")
	}
	host, _, _ := strings.Cut(res.Repository, "/")
	bt.mu.Lock()
	why, failed := bt.unreachable[host]
	bt.mu.Unlock()
	if failed {
		return bt.unverifiable(res, why, "build where the frontend can reach it")
	}
	bt.once.Do(func() { bt.verifier = sdkplan.Verifier(bt.store, bt.policies...) })
	v, err := bt.verifier(ctx, res)
	if errors.Is(err, resolver.ErrUnreachable) {
		// No verdict on the signatures: the registry, not the SDK, failed
		// (the offline frontend image has no network at all).
		why := fmt.Sprintf("as the frontend cannot reach its registry (%v)", err)
		bt.mu.Lock()
		if bt.unreachable == nil {
			bt.unreachable = map[string]string{}
		}
		bt.unreachable[host] = why
		bt.mu.Unlock()
		return bt.unverifiable(res, why, "build where the frontend can reach it")
	}
	if err == nil && res.Locked && bt.locks != nil {
		err = lock.SameSigners(res.Ref, res.Digest, bt.locks.file.Signed(res.Repository, res.Digest), sdkplan.Signatures(v))
	}
	return v, err
}

// unverifiable decides on an SDK whose signatures cannot be read (why,
// and what to do instead), by the levels of the policies that cover it:
// a policy that covers it not at all fails closed, as trust's Verifier
// does.
func (bt *buildTrust) unverifiable(res resolver.Resolution, why, instead string) (*trust.Verdict, error) {
	audit := false
	for _, p := range bt.policies {
		levels := p.Levels(res.Repository)
		if len(levels) == 0 {
			return nil, errors.Errorf("%s: no trust policy (%s) covers %s", res.Digest, p, res.Repository)
		}
		for _, l := range levels {
			switch l {
			case trust.Skip:
			case trust.Audit:
				audit = true
			default:
				return nil, errors.Errorf("%s of %s: its signatures cannot be verified, %s, and policy level %s (%s) requires them; %s", res.Digest, res.Repository, why, l, p, instead)
			}
		}
	}
	if audit {
		bt.mu.Lock()
		bt.unchecked[res.Pinned()] = true
		bt.mu.Unlock()
	}
	return &trust.Verdict{}, nil
}

// noteVerdicts reports audit findings under SDKSignatureAudit, and the
// SDKs an audit policy covers that could not be verified under
// SDKSignatureUnchecked, each once, at the first line that uses it.
func noteVerdicts(env resolveEnv, p *sdkplan.Plan, rs []sdkplan.Resolved) {
	bt := env.trust
	if bt == nil {
		return
	}
	seen := map[string]bool{}
	for _, r := range firstOfKeys(rs) {
		res := r.Res
		if seen[res.Pinned()] {
			continue
		}
		seen[res.Pinned()] = true
		if v := p.Verdict(res); v != nil {
			for _, w := range v.Warnings {
				env.note(r.SDK, &dockerfile.RuleSDKSignatureAudit, dockerfile.RuleSDKSignatureAudit.Format(r.SDK.RefText, w))
			}
		}
		bt.mu.Lock()
		unchecked := bt.unchecked[res.Pinned()]
		bt.mu.Unlock()
		if unchecked {
			env.note(r.SDK, &dockerfile.RuleSDKSignatureUnchecked, dockerfile.RuleSDKSignatureUnchecked.Format(r.SDK.RefText, res.Pinned()))
		}
	}
}
