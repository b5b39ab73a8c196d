package trust

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Verifier verifies SDK digests under a Policy, reading signatures from a
// Store. One Verifier serves one build (or one sdkfront lock run): it
// verifies each repository and digest at most once, and concurrent calls
// for the same one wait for the first. It is safe for concurrent use.
type Verifier struct {
	policy *Policy
	store  Store
	limits Limits

	mu    sync.Mutex
	cache map[cacheKey]*call
}

type cacheKey struct {
	repo, digest string
}

// call is one verification, shared by every caller of its key.
type call struct {
	done    chan struct{}
	verdict *Verdict
	err     error
}

// NewVerifier makes a Verifier; lim's zero fields take the defaults.
func NewVerifier(p *Policy, s Store, lim Limits) *Verifier {
	return &Verifier{policy: p, store: s, limits: lim.withDefaults(), cache: map[cacheKey]*call{}}
}

// Verify verifies subj under every policy that covers subj.Repo: the
// Notary Project policy's statement for it and the Sigstore policy's,
// each of which must be satisfied. It fails with an *Error (errors.Is
// matches its Reason) where one is not, or where none covers the
// repository (ErrNoPolicy). The verdict's Warnings are audit and
// permissive findings, for the caller to report.
//
// The result is cached for the Verifier's life, failures included, except
// a cancellation of the caller's own context, which the next call retries.
func (v *Verifier) Verify(ctx context.Context, subj Subject) (*Verdict, error) {
	if err := subj.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s of %s: %w", subj.Digest, subj.Repo, err)
	}
	k := cacheKey{subj.Repo, subj.Digest.String()}
	v.mu.Lock()
	c, ok := v.cache[k]
	if !ok {
		c = &call{done: make(chan struct{})}
		v.cache[k] = c
	}
	v.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.verdict, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.verdict, c.err = v.verify(ctx, subj)
	if c.err != nil && ctx.Err() != nil {
		// The caller gave up, the registry did not answer wrong: forget
		// it, so that a later call verifies again.
		v.mu.Lock()
		delete(v.cache, k)
		v.mu.Unlock()
	}
	close(c.done)
	return c.verdict, c.err
}

func (v *Verifier) verify(ctx context.Context, subj Subject) (verdict *Verdict, err error) {
	defer func() {
		// A library's panic over a registry's bytes fails this digest,
		// not the build's process.
		if r := recover(); r != nil {
			verdict, err = nil, fmt.Errorf("%s of %s: verifying signatures: panic: %v", subj.Digest, subj.Repo, r)
		}
	}()
	ctx, cancel := context.WithTimeoutCause(ctx, v.limits.TimeBudget, &budgetError{v.limits.TimeBudget})
	defer cancel()
	out := &Verdict{Subject: subj}
	covered := false
	type check func(context.Context, Store, Subject, Limits) (*Signature, []string, error)
	var checks []check
	if v.policy.notation != nil {
		checks = append(checks, v.policy.notation.verify)
	}
	if v.policy.sigstore != nil {
		checks = append(checks, v.policy.sigstore.verify)
	}
	var uncovered error
	for _, c := range checks {
		sig, warnings, err := c(ctx, v.store, subj, v.limits)
		if errors.Is(err, ErrNoPolicy) {
			uncovered = err
			continue
		}
		if err != nil {
			return nil, err
		}
		covered = true
		out.Signatures = append(out.Signatures, *sig)
		out.Warnings = append(out.Warnings, warnings...)
	}
	if !covered {
		if len(checks) > 1 {
			return nil, &Error{Repo: subj.Repo, Digest: subj.Digest, File: v.policy.String(), Reason: ErrNoPolicy}
		}
		return nil, uncovered
	}
	return out, nil
}

// budgetError is why a verification's context ended at its time budget,
// for the error to name the bound.
type budgetError struct{ budget time.Duration }

func (e *budgetError) Error() string { return fmt.Sprintf("the time budget of %s ran out", e.budget) }

// Is makes it a deadline: net/http returns a context's cause, not its Err.
func (e *budgetError) Is(target error) bool { return target == context.DeadlineExceeded }
