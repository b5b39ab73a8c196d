// Command frontend is the sdkfront BuildKit gateway frontend. BuildKit runs it
// inside the frontend image and speaks gRPC over stdin/stdout, so nothing here
// may write to stdout.
package main

import (
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto" // vtproto gRPC codec, as the stock frontend

	"github.com/sdkfront/sdkfront/frontend"
)

func main() {
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		fmt.Fprintf(os.Stderr, "sdkfront: %+v\n", err)
		os.Exit(1)
	}
}
