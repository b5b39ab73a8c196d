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
// sdkfront lock reads on (Options.Lenient) and reports every line's.
//
// Both then resolve with Plan.Resolve: each need pinned from the lock
// where it has an entry for one of the need's flavors (lock.Flavors),
// otherwise resolved with its flavor and, if the SDK lacks it, its
// fallback (lock.FallsBack); checked (single layer, foreign URLs, the
// version label a locked image binds); and passed to Plan.Verify before it
// is pinned, the one place a signature check plugs in. Each entry point
// reads its own lock behind a LockView (a build the one beside its
// Dockerfile; sdkfront lock the one it rewrites, extending an entry to the
// platforms it lacks), and where they differ, says so in ResolveOptions:
// sdkfront lock resolves each lock key for all its platforms at once
// (Whole), reports every key's error (Lenient) and reads the layers of an
// image BuildKit would have resolved (Describe). What stays theirs is
// what they make of the resolutions: LLB, progress and lint warnings for
// the build; the lockfile, its report and exit codes for the command.
//
// Package plan sits between frontend/ and cmd/sdkfront above it and
// dockerfile/, lock/ and resolver/ below; it never imports the gateway
// client (.golangci.yml).
package plan
