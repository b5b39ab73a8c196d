package plan

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoGatewayOrRegistry keeps the plan host-neutral: a build and
// sdkfront lock read through their own Host, so the plan depends on
// neither BuildKit's gateway nor the registry client, nor on either host.
func TestNoGatewayOrRegistry(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/moby/buildkit/frontend/gateway/client",
		"github.com/moby/buildkit/frontend/dockerui",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/sdkfront/sdkfront/resolver/registry",
		"github.com/sdkfront/sdkfront/frontend",
		"github.com/sdkfront/sdkfront/cmd/sdkfront",
	}
	deps := strings.Fields(string(out))
	for _, f := range forbidden {
		for _, d := range deps {
			if d == f {
				t.Errorf("plan depends on %s", f)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list returned only %d packages; the check is not looking at anything", len(deps))
	}
}
