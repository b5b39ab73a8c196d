// Package registry is the OCI distribution client of sdkfront. It lists a
// repository's tags (resolver.TagLister), the one registry call the frontend
// makes itself rather than through BuildKit, reads image indexes to record
// per-platform digests (resolver.PlatformLister), and resolves images
// without BuildKit (resolver.ImageResolver, for sdkfront lock).
//
// Registries are reached over HTTPS, except loopback registries and those
// named by WithInsecureRegistries; redirects, Link headers and bearer
// realms are held to the same rule. Access is anonymous unless WithKeychain
// supplies credentials; bearer-token challenges are answered either way
// (by go-containerregistry's transport, which also parses WWW-Authenticate).
// Failures wrap resolver.ErrRepositoryNotFound, resolver.ErrNotFound,
// resolver.ErrDenied, resolver.ErrUnreachable or resolver.ErrInvalidImage,
// and say which registry and repository failed, with which HTTP status,
// and what to do.
//
// # Faults
//
// A registry can fail, stall or lie; the client bounds what that costs.
// With the defaults:
//
//   - Each call (ListTags, PlatformDigests, ResolvePlatform) takes at most
//     30s (WithTimeout), paging, retries and waits included.
//   - Each HTTP request attempt takes at most 8s (WithRequestTimeout), from
//     sending it to the last byte of the body, so a registry that stalls,
//     or drips its answer (even at a byte a second), fails the attempt
//     within 8s. Response bodies are read in full within the attempt:
//     at most 32 MiB for a page of tags, 4 MiB for a manifest, 8 MiB for
//     anything else.
//   - A request is sent at most 3 times (WithRetries: 2 retries), again
//     only after a temporary failure: a refused or reset connection (also
//     in the middle of the body), a timed-out attempt, HTTP 408, 429 or
//     5xx (but 501, 505 and 511). The wait before retry n is a random
//     duration between half and all of 500ms·2^(n-1), at most 5s, or what
//     a Retry-After header asks, up to 10s; a registry asking for longer,
//     or for more time than the call has left, fails the call at once
//     with a message saying when to try again. So a stalled registry
//     fails a call after about 25s (three 8s attempts), and a failing one
//     (500) after about 1.5s.
//   - 400, 401, 403 and 404 are final: they fail the call at once. A
//     repository's session asks without credentials first, so a registry
//     that wants none costs no ping; its first 401 makes the session ping
//     and authenticate (go-containerregistry's transport), once per
//     repository and Client, and retry. A 401 that challenges for a bearer
//     token gets one new token and one more try.
//   - Tags are asked for 1,000 a page (registries clamp n to their own
//     maximum; one that refuses it with 400 is asked for 100). A listing by
//     prefix (ListTagsWithPrefix) starts just before the tags that have it
//     (?last=, tags being in lexical order) and stops past them; a
//     registry that ignores last is listed in full.
//   - A tag listing follows a page's Link (rel="next", RFC 8288) only on
//     the registry's own host, keeping the scheme, and never to a page it
//     has fetched before; a Link elsewhere, to a page already seen, or
//     after an empty page ends the listing, as in Oryx's client. Beyond
//     5,000 pages or 500,000 tags a listing fails. Pages are decoded as
//     they arrive, one at a time, and only the tags are kept; a page long
//     enough to hold more tags than the limit allows is decoded tag by tag,
//     so that the limit stops it early. Listing 200,000 tags in pages of
//     1,000 retains 7 MiB and peaks at 12 MiB above the heap before (at
//     GOGC=10; 17 MiB at the default GOGC), in one page 16 MiB
//     (TestListTagsMemory).
//   - A manifest must come with a manifest Content-Type (or a generic
//     application/json with a manifest mediaType inside, agreeing with it),
//     and its bytes must hash to the digest asked for (for a reference by
//     digest) and to the registry's Docker-Content-Digest header (if it
//     sends one). Config blobs must hash to their digest. Redirects (to
//     blob storage) are followed, up to 5, but not from a public registry
//     to a private address; credentials are not sent to another host.
//   - A tags list answered with a 404 that does not say the repository is
//     unknown (NAME_UNKNOWN) means the registry does not list tags: the
//     error says that ranges need listing and suggests an exact version.
//
// faults_test.go drives every such fault through a fault-injecting proxy
// (faultproxy_test.go) in front of go-containerregistry's in-process
// registry, or the lab registry with SDKFRONT_LAB=1.
package registry
