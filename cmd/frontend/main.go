// Command frontend is the sdkfront BuildKit gateway frontend. BuildKit runs it
// inside the frontend image and speaks gRPC over stdin/stdout, so nothing here
// may write to stdout, except for `sdkfront --version` (the gateway never passes
// arguments), which prints the stamped version and exits.
package main

import (
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto" // vtproto gRPC codec, as the stock frontend

	"github.com/sdkfront/sdkfront/frontend"
	"github.com/sdkfront/sdkfront/version"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println(version.String())
		return
	}
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		fmt.Fprintf(os.Stderr, "sdkfront: %+v\n", err)
		os.Exit(1)
	}
}
