// Package dockerfile is sdkfront's Dockerfile superset, without BuildKit's
// gateway: it finds the SDK lines and the sdk-* parser directives of a
// Dockerfile, expands SDK references with BuildKit's build-arg scoping, and
// rewrites the SDK lines into plain Dockerfile with a map back to the user's
// lines. The frontend and the lock CLI share it, so both read a Dockerfile
// the same way.
//
// Everything that is not an SDK line stays BuildKit's: nothing here reports
// an error for an instruction that BuildKit's own converter would report.
package dockerfile
