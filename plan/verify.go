package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// verified remembers Options.Verify's verdict on each digest.
type verified struct {
	mu   sync.Mutex
	done map[string]*verdict // by res.Pinned()
}

type verdict struct {
	once    sync.Once
	verdict *trust.Verdict
	err     error
}

// Verify checks a resolved SDK with Options.Verify before it is pinned:
// the one place both hosts pass every digest they resolve or read from the
// lock, so that a check of its signatures is written once. Each digest is
// checked once, however many lines and platforms resolve to it; its
// verdict (nil without Options.Verify) is kept for Verdict.
func (p *Plan) Verify(ctx context.Context, res resolver.Resolution) (*trust.Verdict, error) {
	if p.opts.Verify == nil {
		return nil, nil
	}
	p.verified.mu.Lock()
	if p.verified.done == nil {
		p.verified.done = map[string]*verdict{}
	}
	v, ok := p.verified.done[res.Pinned()]
	if !ok {
		v = &verdict{}
		p.verified.done[res.Pinned()] = v
	}
	p.verified.mu.Unlock()
	v.once.Do(func() { v.verdict, v.err = p.opts.Verify(ctx, res) })
	return v.verdict, v.err
}

// Verdict is the verdict Verify gave res's digest; nil if it was not
// verified, or failed.
func (p *Plan) Verdict(res resolver.Resolution) *trust.Verdict {
	p.verified.mu.Lock()
	defer p.verified.mu.Unlock()
	if v, ok := p.verified.done[res.Pinned()]; ok && v.err == nil {
		return v.verdict
	}
	return nil
}

// maxSubjectBytes bounds the SDK's own manifest or index, read for its
// descriptor: the OCI distribution spec's bound on a manifest.
const maxSubjectBytes = 4 << 20

// Verifier is an Options.Verify that checks each SDK's publisher
// signatures under every one of policies (each must hold), read from s.
// It reads the SDK's manifest or index once, for the media type and
// size that a Notary Project signature signs with the digest.
func Verifier(s trust.Store, policies ...*trust.Policy) func(context.Context, resolver.Resolution) (*trust.Verdict, error) {
	var vs []*trust.Verifier
	for _, p := range policies {
		vs = append(vs, trust.NewVerifier(p, s, trust.Limits{}))
	}
	return func(ctx context.Context, res resolver.Resolution) (*trust.Verdict, error) {
		subj := trust.Subject{Repo: res.Repository, Digest: res.Digest}
		if !skipped(res.Repository, policies) {
			var err error
			if subj, err = Subject(ctx, s, res); err != nil {
				return nil, err
			}
		}
		out := &trust.Verdict{Subject: subj}
		for _, v := range vs {
			vd, err := v.Verify(ctx, subj)
			if err != nil {
				return nil, err
			}
			out.Signatures = append(out.Signatures, vd.Signatures...)
			out.Warnings = append(out.Warnings, vd.Warnings...)
		}
		return out, nil
	}
}

// skipped says whether every policy skips repo: then nothing is read,
// the SDK's descriptor included.
func skipped(repo string, policies []*trust.Policy) bool {
	for _, p := range policies {
		levels := p.Levels(repo)
		if len(levels) == 0 {
			return false // not covered: trust says so
		}
		for _, l := range levels {
			if l != trust.Skip {
				return false
			}
		}
	}
	return true
}

// Subject is res's digest as trust verifies it: with its media type and
// size, read from the registry (a resolution names neither).
func Subject(ctx context.Context, s trust.Store, res resolver.Resolution) (trust.Subject, error) {
	subj := trust.Subject{Repo: res.Repository, Digest: res.Digest}
	dt, err := s.Fetch(ctx, res.Repository, ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageIndex, Digest: res.Digest}, maxSubjectBytes)
	if err != nil {
		return subj, fmt.Errorf("reading %s to verify its signatures: %w", res.Pinned(), err)
	}
	var m struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(dt, &m); err != nil {
		return subj, fmt.Errorf("reading %s to verify its signatures: not a manifest: %w", res.Pinned(), err)
	}
	subj.MediaType, subj.Size = m.MediaType, int64(len(dt))
	if subj.MediaType == "" {
		// Without a media type (the spec allows it), the shape says which.
		subj.MediaType = ocispecs.MediaTypeImageManifest
		if m.Manifests != nil {
			subj.MediaType = ocispecs.MediaTypeImageIndex
		}
	}
	return subj, nil
}

// Signatures are the verified signatures of v as a lock records them:
// skipped policies and audit findings are not signatures.
func Signatures(v *trust.Verdict) []lock.Signature {
	if v == nil {
		return nil
	}
	var out []lock.Signature
	for _, s := range v.Signatures {
		if s.Verified() {
			out = append(out, lock.Signature{Kind: string(s.Kind), Policy: s.Policy, Digest: s.Digest, Signer: s.Signer})
		}
	}
	lock.SortSignatures(out)
	return out
}

// SignedBy says who signed v's digest, as a build's progress shows it:
// "signed by <signer>, policy <name>" for each verified signature,
// comma-joined; "" if none was verified.
func SignedBy(v *trust.Verdict) string {
	var parts []string
	for _, s := range Signatures(v) {
		parts = append(parts, fmt.Sprintf("signed by %s, policy %s", s.Signer, s.Policy))
	}
	return strings.Join(parts, ", ")
}
