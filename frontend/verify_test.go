package frontend

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// recordVerify makes verifySDK count the digests it is asked about, and
// refuse the repositories named.
func recordVerify(t *testing.T, refuse ...string) map[string]int {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	verifySDK = func(_ context.Context, res resolver.Resolution) (*trust.Verdict, error) {
		mu.Lock()
		defer mu.Unlock()
		seen[res.Pinned()]++
		for _, r := range refuse {
			if res.Repository == r {
				return nil, errors.New("no valid signature")
			}
		}
		return nil, nil
	}
	t.Cleanup(func() { verifySDK = nil })
	return seen
}

// Every SDK a build resolves passes plan.Verify before it is pinned, once
// per digest; a refusal fails the build at its line, and nothing is built.
func TestVerifyBeforePinning(t *testing.T) {
	seen := recordVerify(t, "reg.test/sdks/nodejs")
	s, tags := sdkStub(sdkDockerfile)
	_, err := build(context.Background(), s, tags)
	if err == nil || !strings.Contains(err.Error(), "SDK nodejs@20: no valid signature") {
		t.Fatalf("error %v, want nodejs refused", err)
	}
	wantRefusedAt(t, s, err, 6)
	for d, n := range seen {
		if n != 1 {
			t.Errorf("%s verified %d times, want once", d, n)
		}
	}

	seen = recordVerify(t)
	s, tags = sdkStub("# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23\nSDK golang@1.23.4 --to=/go2\n")
	if _, err := build(context.Background(), s, tags); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 {
		t.Errorf("verified %v, want golang's one digest", seen)
	}
	for d, n := range seen {
		if n != 1 || !strings.HasPrefix(d, "reg.test/sdks/golang@sha256:") {
			t.Errorf("%s verified %d times, want golang's digest once", d, n)
		}
	}
}
