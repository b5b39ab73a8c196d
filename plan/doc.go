// Package plan is the one pipeline from a Dockerfile's SDK lines to what
// each target platform needs: scan the lines for every target platform,
// read the version files they name, detect each stage's flavor from its
// base image, and give every line on every platform its lock key and the
// flavor it falls back to (a Need).
//
// A build (frontend/) and `sdkfront lock` (cmd/sdkfront) both plan with
// Read and then Detect (Make does both), each at the point where it has
// always reported such errors; each reads files and base images its own
// way, behind a Host: the frontend through BuildKit's gateway, the command
// from the disk and the registry. A build stops at its first error;
// sdkfront lock reads on (Options.Lenient) and reports every line's. The resolution that follows stays with each host (the
// build resolves a key per platform, locking an entry for all of them),
// but both fall back with lock.FallsBack and pass every resolved digest to
// Plan.Verify before they pin it: the one place a signature check plugs in.
//
// Package plan sits between frontend/ and cmd/sdkfront above it and
// dockerfile/, lock/ and resolver/ below; it never imports the gateway
// client (.golangci.yml).
package plan
