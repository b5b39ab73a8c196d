// Package registry is the OCI distribution client of sdkfront. It lists a
// repository's tags (resolver.TagLister), the one registry call the frontend
// makes itself rather than through BuildKit, and reads image indexes to
// record per-platform digests (resolver.PlatformLister).
//
// Registries are reached over HTTPS, except loopback registries and those
// named by WithInsecureRegistries. Access is anonymous unless WithKeychain
// supplies credentials; bearer-token challenges are answered either way.
// Failures wrap resolver.ErrRepositoryNotFound, resolver.ErrDenied or
// resolver.ErrUnreachable.
package registry
