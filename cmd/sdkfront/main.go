// Command sdkfront is sdkfront's command-line tool. It runs on a developer's
// machine or in CI, outside BuildKit:
//
//	sdkfront lock [-f Dockerfile] [--build-arg K=V ...] [--platform P1,P2] [--update [REF ...]] [--check]
//	sdkfront version
//
// `sdkfront lock` resolves the SDK lines of a Dockerfile with the user's
// docker credentials and pins them in <Dockerfile>.sdk.lock (docs/lock.md).
// The frontend itself is cmd/frontend.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sdkfront/sdkfront/version"
)

// Exit codes, as `sdkfront lock --help` documents them.
const (
	exitOK        = 0
	exitError     = 1 // reading the Dockerfile or the lock, resolving, writing
	exitUsage     = 2 // bad flags or arguments
	exitOutOfDate = 3 // --check: the lock does not match the Dockerfile
	exitInvalid   = 4 // the lock is not valid, and cannot be replaced
)

const usage = `Usage: sdkfront <command> [flags]

Commands:
  lock      resolve the SDK lines of a Dockerfile and pin them in <Dockerfile>.sdk.lock
  version   print sdkfront's version

Run 'sdkfront lock --help' for the lock command's flags, output and exit codes.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs one command and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "lock":
		return runLock(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "sdkfront version: unexpected argument %q\n", args[1])
			return exitUsage
		}
		fmt.Fprintln(stdout, version.String())
		return exitOK
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[1] == "lock" {
			fmt.Fprint(stdout, lockUsage)
		} else {
			fmt.Fprint(stdout, usage)
		}
		return exitOK
	}
	fmt.Fprintf(stderr, "sdkfront: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
