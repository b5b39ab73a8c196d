// Package registry is the OCI distribution client of sdkfront. A Client
// answers the resolver's calls to registries:
//
//   - ListTags (resolver.TagLister) and ListTagsWithPrefix
//     (resolver.PrefixLister) list a repository's tags;
//   - ResolveManifest (resolver.ManifestResolver) reads a tag's manifest
//     for a platform, and its config if asked;
//   - PlatformDigests (resolver.PlatformLister) maps an index's platforms
//     to their manifest digests;
//   - ListRepositories (resolver.RepositoryLister) reads a registry's
//     catalog, for suggestions;
//   - ResolveImage (resolver.ImageResolver) and ResolvePlatform resolve
//     images without BuildKit, for sdkfront lock;
//   - ReadImageFile reads a file (/etc/os-release) from an image's
//     layers, for sdkfront lock's base images, streaming each layer.
//
// Every request any of them makes, go-containerregistry's ping and token
// requests included, and every redirect any request follows, goes through
// one transport: retries and timeouts, the TLS rule, the network guard.
//
// # The network guard
//
// Each call works for one registry, and its connections go only where
// that registry may send them. The dialer resolves each host itself,
// checks every address it is about to connect to, and connects to that
// very address, so that a name cannot pass the check as one address and
// connect as another (DNS rebinding). A public address may always be
// reached. Besides: a registry on loopback (the lab's 127.0.0.1:5000) may
// reach loopback; a registry on a private address (RFC 1918, RFC 6598
// CGNAT, RFC 4193) its own network, the /24 of an IPv4 address or the /64
// of an IPv6 one, and each network WithPrivateNetworks names
// (the build arg SDK_PRIVATE_NETWORKS; for sdkfront lock, also the
// environment's, PrivateNetworksEnv) that holds
// its address; a registry named by a link-local address the /24 or /64 of
// it. So a registry on 192.168.1.10 reaches 192.168.1.0/24 but not
// 10.0.0.1 or the docker bridge (172.17.0.1), and a public registry may
// send the client nowhere but public addresses, whatever its redirect,
// bearer realm or Link names, by address or by a name such as localhost.
// Multicast and reserved addresses are never reached. An address that
// embeds an IPv4 address counts as that address (IPv4-mapped and
// -compatible, SIIT, well-known NAT64); a local-use NAT64 (64:ff9b:1::/48)
// or ISATAP address is public only if its IPv4 address is public however
// it is read, and reserved otherwise; 6to4 and Teredo are reserved.
//
// What a registry is on is fixed once per Client (a build), before its
// first request: from its address, or from one resolution of its name,
// whose addresses its own connections then reuse; its name is never
// resolved again, so a DNS server that answers a public address first and
// 127.0.0.1 after cannot open loopback to it. The addresses must agree on
// one kind: all loopback, or all private within one /24 (and one /64); a
// registry with any public or reserved address, loopback beside private
// ones, or private addresses in two networks is public (its owner chooses
// its DNS records, and would otherwise open whatever it lists to its
// redirects); a name gets no link-local kind (the cloud metadata service).
// A name that does not resolve is public until it does. A registry that
// a request reaches through a proxy is public for good, whatever this
// host resolves it to: the proxy resolves the name itself, and a DNS
// server can answer this host with 127.0.0.1 and the proxy with its
// owner's address (name the registry in NO_PROXY to reach it directly,
// with its own kind). Each registry has its own
// connection pool, so that a connection opened for a loopback registry is
// never reused for a public one that redirects there.
//
// Behind an HTTP proxy (HTTP_PROXY, HTTPS_PROXY), the guard decides for
// each request whether the proxy takes it. A request for the registry's
// own host goes to the proxy (and makes the registry public, as above);
// any other target is checked then: the addresses it resolves to here. A name that
// resolves only at the proxy is the proxy's to police, but only where this
// host cannot resolve the registry either: otherwise only the proxy's
// network knows that name, and it is refused. Only the connection to the
// proxy for a request it proxies is dialed unchecked; a direct connection
// (Go never proxies loopback) is checked whatever its address, the
// proxy's own included. The proxy is given the target's name and resolves
// it itself, which is trusted as the user's proxy: an HTTPS tunnel must
// name the host its certificate is checked against, and that check binds
// the connection to the name; a plain-HTTP request naming an address
// would reach the registry with that address as its Host (RFC 7230, 5.4).
//
// Registries are reached over HTTPS, except loopback registries and those
// named by WithInsecureRegistries; redirects, Link headers and bearer
// realms are held to the same rule.
//
// # Credentials
//
// Access is anonymous unless WithKeychain supplies credentials (sdkfront
// lock uses the Docker keychain; the frontend has none). A registry that
// needs none costs no ping: each repository's session asks anonymously
// first, and its first 401 makes it ping the registry and answer the
// challenge, once per repository and Client. Basic credentials go to the
// registry's own host only. A bearer challenge names a token realm, which
// gets the keychain's credentials only over HTTPS (or plain HTTP to a host
// reached without TLS anyway: loopback, WithInsecureRegistries), and only
// if it is on the registry's own host
// (ghcr.io, quay.io, *.azurecr.io, *.pkg.dev), is Docker Hub's
// auth.docker.io for Docker Hub, or is named by WithCredentialRealms
// ("host" or "host:port"; a host trusts every port); any other realm is
// asked for an anonymous token. Docker sends credentials to any realm: a
// registry then only has to name a token service of its choosing to be
// sent the user's password, which may be a password for more than that
// registry. Programs that read CredentialRealmsEnv (SDK_AUTH_REALMS, hosts
// separated by commas or spaces) pass CredentialRealmsFromEnv to
// WithCredentialRealms. A denial after credentials were withheld says so
// (resolver.CauseCredentialsWithheld, with the realm). Bearer tokens go to
// the registry's host only, never to where it redirects.
//
// A call fails with a *resolver.RegistryError: which call (Op) on which
// registry and repository or reference failed, with which HTTP status, of
// which kind (resolver.ErrRepositoryNotFound, ErrNotFound, ErrDenied,
// ErrUnreachable or ErrInvalidImage, which it matches) and cause (a
// listing too long, a registry that lists no tags, plain HTTP, withheld
// credentials), and what to do in registry terms. What an SDK user can do
// instead (an exact version, a build arg) is the resolver's advice, added
// where it wraps the error: this package knows nothing of SDKs. An error
// quotes at most a short excerpt of a response:
// 200 bytes of an error body, three of the errors of a distribution error
// body, 200 bytes each, the first line of another library's message, up
// to 1,000 bytes; printable text only (control characters, escape
// sequences and the like become '?').
//
// # Faults
//
// A registry can fail, stall or lie; the client bounds what that costs.
// With the defaults:
//
//   - Each call takes at most 30s (WithTimeout), paging, retries and
//     waits included; a layer ReadImageFile streams until its response
//     starts.
//   - Each HTTP request attempt takes at most 8s (WithRequestTimeout), from
//     sending it to the last byte of the body, so a registry that stalls,
//     or drips its answer (even at a byte a second), fails the attempt
//     within 8s. A layer ReadImageFile streams is bounded by its
//     ReadLimits instead; each read must bring something within 8s. Bodies
//     are read within the attempt: a page of tags or of the catalog is
//     decoded as it arrives, up to 32 MiB of it as sent; a manifest is
//     read up to 4 MiB, a config or token response up to 8 MiB; of an
//     error response or a ping, the first 64 KiB.
//   - A request is sent at most 3 times (WithRetries: 2 retries), again
//     only after a temporary failure: a refused or reset connection (also
//     in the middle of the body), a timed-out attempt, HTTP 408, 429 or
//     5xx (but 501, 505 and 511). The wait before retry n is a random
//     duration between half and all of 500ms·2^(n-1), at most 5s, or what
//     a Retry-After header asks, up to 10s; a registry asking for longer,
//     or for more time than the call has left, fails the call at once
//     with a message saying when to try again. So a stalled registry
//     fails a call after about 25s (three 8s attempts), and a failing one
//     (500) after about 1.5s. A refused address or plain-HTTP hop is not
//     retried.
//   - 400, 401, 403 and 404 are final: they fail the call at once. A 401
//     that challenges for a bearer token gets one new token and one more
//     try.
//   - Redirects (to blob storage) are followed, up to 5 (go-containerregistry's
//     ping and token requests: up to 10), under the network guard.
//   - Tags are asked for 1,000 a page (registries clamp n to their own
//     maximum; one that refuses it with 400 is asked for 100). A listing by
//     prefix (ListTagsWithPrefix) starts just before the tags that have it
//     (?last=, tags being in lexical order) and stops past them; a
//     registry that ignores last is listed in full.
//   - A tag listing follows a page's Link (rel="next", RFC 8288) only on
//     the registry's own host (a relative one resolved against the
//     registry's URL, even where a redirect served the page), keeping the
//     scheme, and never to a page it
//     has fetched before; a Link elsewhere, to a page already seen, or
//     after a page that lists nothing ends the listing, as in Oryx's
//     client.
//   - A tag must follow the distribution spec's grammar,
//     [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. Others are skipped, not fatal
//     (a registry may hold junk beside good tags), but they count against
//     the limits: beyond 5,000 pages, 500,000 tags or 16 MiB of tags (the
//     sum of their lengths), a listing fails. Pages are decoded as they
//     arrive, token by token, and only the valid tags are kept: a string
//     longer than 4 KiB is read on but never held, so four pages of one
//     30 MiB tag each take 0.2 MiB (TestHugeTagMemory). Listing 200,000
//     tags in pages of 1,000 retains 7 MiB and peaks at 12 MiB above the
//     heap before (at GOGC=10; 20 MiB at the default GOGC), in one page
//     14 MiB (TestListTagsMemory).
//   - The catalog is read the same way, 1,000 names a page, at most 10
//     pages and 10,000 names; names longer than 255 bytes or with
//     characters no repository name has are skipped.
//   - A manifest must come with a manifest Content-Type (or a generic
//     application/json with a manifest mediaType inside, agreeing with it),
//     and its bytes must hash to the digest asked for (for a reference by
//     digest) and to the registry's Docker-Content-Digest header (if it
//     sends one). Config blobs must hash to their digest; a layer
//     ReadImageFile streams must be its size and hash to its digest, or
//     its last read fails.
//   - A tags list answered with a 404 that does not say the repository is
//     unknown (NAME_UNKNOWN) means the registry does not list tags
//     (resolver.CauseNoListing).
//
// faults_test.go drives every such fault through a fault-injecting proxy
// (faultproxy_test.go) in front of go-containerregistry's in-process
// registry, or the lab registry with SDKFRONT_LAB=1 (faults_lab_test.go);
// guard_test.go the network guard, through a made-up network
// (net_test.go); auth_test.go the credentials; bounds_test.go the limits;
// memory_test.go the memory a listing takes. The transport itself (retries,
// timeouts, the TLS rule, the network guard) is package transport, whose
// tests check its parts alone: the address classes, the guard's rule, what
// is retried.
package registry
