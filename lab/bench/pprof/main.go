// Command pprof is sdkfront's frontend with profiling, for `make bench`
// with BENCH_PPROF=1 (lab/bench -pprof): the same gateway BuildFunc, and
// when the build arg SDKFRONT_BENCH_PPROF names a URL, a CPU profile and an
// allocation profile of the build are PUT to <URL>.cpu and <URL>.allocs
// when it ends (the frontend's container shares the host's network).
package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto"

	"github.com/sdkfront/sdkfront/frontend"
)

const arg = "build-arg:SDKFRONT_BENCH_PPROF"

func main() {
	runtime.MemProfileRate = 64 << 10
	err := grpcclient.RunFromEnvironment(appcontext.Context(), func(ctx context.Context, c client.Client) (*client.Result, error) {
		url := c.BuildOpts().Opts[arg]
		if url == "" {
			return frontend.Build(ctx, c)
		}
		var cpu bytes.Buffer
		if err := pprof.StartCPUProfile(&cpu); err != nil {
			return nil, err
		}
		res, err := frontend.Build(ctx, c)
		pprof.StopCPUProfile()
		var allocs bytes.Buffer
		_ = pprof.Lookup("allocs").WriteTo(&allocs, 0) // the profile is a bonus, never the build's failure
		put(url+".cpu", cpu.Bytes())
		put(url+".allocs", allocs.Bytes())
		return res, err
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "sdkfront (pprof): %+v\n", err)
		os.Exit(1)
	}
}

func put(url string, dt []byte) {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(dt))
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sdkfront (pprof): %v\n", err)
	}
}
