// Package frontend is sdkfront's gateway glue: it reads the Dockerfile,
// resolves SDK directives, rewrites them into plain Dockerfile, and delegates
// the rest to BuildKit's own Dockerfile builder in-process.
package frontend

import (
	"context"

	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/gateway/client"
)

// Build is the gateway BuildFunc.
func Build(ctx context.Context, c client.Client) (*client.Result, error) {
	return builder.Build(ctx, c)
}
