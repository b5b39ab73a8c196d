package llb

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetworkOrGateway keeps llb/ pure: generating LLB must never reach a
// registry or depend on the gateway client. BuildKit's own llb package links
// net/http for tracing, so net/http is checked among direct imports only.
func TestNoNetworkOrGateway(t *testing.T) {
	direct, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, direct)
	}
	for _, d := range strings.Fields(string(direct)) {
		if d == "net/http" || d == "net" {
			t.Errorf("llb imports %s", d)
		}
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/moby/buildkit/frontend/gateway/client",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/sdkfront/sdkfront/resolver/registry",
		"github.com/sdkfront/sdkfront/frontend",
	}
	deps := strings.Fields(string(out))
	for _, f := range forbidden {
		for _, d := range deps {
			if d == f {
				t.Errorf("llb depends on %s", f)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list returned only %d packages; the check is not looking at anything", len(deps))
	}
}
