package plan

import (
	"testing"

	"github.com/sdkfront/sdkfront/internal/depcheck"
)

// TestNoGatewayOrRegistry keeps the plan host-neutral: a build and
// sdkfront lock read through their own Host, so the plan depends on
// neither BuildKit's gateway nor the registry client, nor on either host.
func TestNoGatewayOrRegistry(t *testing.T) {
	depcheck.Forbid(t, "plan", depcheck.Deps(t),
		"github.com/moby/buildkit/frontend/gateway/client",
		"github.com/moby/buildkit/frontend/dockerui",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/sdkfront/sdkfront/resolver/registry",
		"github.com/sdkfront/sdkfront/frontend",
		"github.com/sdkfront/sdkfront/cmd/sdkfront",
	)
}
