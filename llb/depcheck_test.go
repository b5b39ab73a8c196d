package llb

import (
	"testing"

	"github.com/sdkfront/sdkfront/internal/depcheck"
)

// TestNoNetworkOrGateway keeps llb/ pure: generating LLB must never reach a
// registry or depend on the gateway client. BuildKit's own llb package links
// net/http for tracing, so net/http is checked among direct imports only.
func TestNoNetworkOrGateway(t *testing.T) {
	depcheck.Forbid(t, "llb", depcheck.Imports(t), "net/http", "net")
	depcheck.Forbid(t, "llb", depcheck.Deps(t),
		"github.com/moby/buildkit/frontend/gateway/client",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/sdkfront/sdkfront/resolver/registry",
		"github.com/sdkfront/sdkfront/frontend",
	)
}
