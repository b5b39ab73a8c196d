package transport

import (
	"strings"
	"testing"

	"github.com/sdkfront/sdkfront/internal/depcheck"
)

// TestDepcheck keeps the transport below the client it serves: nothing of
// sdkfront's but internal/ may be among its dependencies (see also
// .golangci.yml's depguard).
func TestDepcheck(t *testing.T) {
	const self = "github.com/sdkfront/sdkfront/resolver/registry/transport"
	for _, d := range depcheck.Deps(t) {
		if strings.HasPrefix(d, "github.com/sdkfront/sdkfront/") && d != self && !strings.HasPrefix(d, "github.com/sdkfront/sdkfront/internal/") {
			t.Errorf("transport depends on %s", d)
		}
	}
}
