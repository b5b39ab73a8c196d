// Command hello is the sdkfront demo program: it reports the Go toolchain
// that built it, which the SDK instruction in ../Dockerfile.sdk provides.
package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("hello from %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
