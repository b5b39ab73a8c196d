package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// Every SDK sdkfront lock resolves, or keeps from the lock, passes
// plan.Verify before it is locked, once per digest; a refusal fails the
// lines that use it, and nothing is written.
func TestLockVerifiesBeforeLocking(t *testing.T) {
	setup(t)
	var mu sync.Mutex
	seen := map[string]int{}
	refuse := ""
	verifySDK = func(_ context.Context, res resolver.Resolution) (*trust.Verdict, error) {
		mu.Lock()
		defer mu.Unlock()
		seen[res.Pinned()]++
		if refuse != "" && strings.HasSuffix(res.Repository, refuse) {
			return nil, errors.New("no valid signature")
		}
		return nil, nil
	}
	t.Cleanup(func() { verifySDK = nil })

	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	f := lockFile(t)
	if len(seen) != len(f.SDKs) {
		t.Errorf("verified %d digests, want the %d locked", len(seen), len(f.SDKs))
	}
	for _, e := range f.SDKs {
		if n := seen[e.Repository+"@"+e.Digest.String()]; n != 1 {
			t.Errorf("%s verified %d times, want once", e.Ref, n)
		}
	}

	// Kept entries are verified too.
	refuse = "/python"
	code, _, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitError)
	wantLines(t, stderr, "Dockerfile:10: SDK python@3.11: no valid signature\n", "Dockerfile.sdk.lock not written\n")
}
