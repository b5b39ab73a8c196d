package transport

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDepcheck keeps the transport below the client it serves: nothing of
// sdkfront's but internal/ may be among its dependencies (see also
// .golangci.yml's depguard).
func TestDepcheck(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	const self = "github.com/sdkfront/sdkfront/resolver/registry/transport"
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/sdkfront/sdkfront/") && d != self && !strings.HasPrefix(d, "github.com/sdkfront/sdkfront/internal/") {
			t.Errorf("transport depends on %s", d)
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list returned only %d packages; the check is not looking at anything", len(deps))
	}
}
