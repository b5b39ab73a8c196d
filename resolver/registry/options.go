package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// Option configures a Client.
type Option func(*options)

type options struct {
	keychain       authn.Keychain // nil: anonymous
	insecure       map[string]bool
	timeout        time.Duration // per call
	requestTimeout time.Duration // per HTTP request attempt, body included
	retries        int
	backoff        time.Duration
	maxBackoff     time.Duration
	maxRetryAfter  time.Duration
	realms         []string       // token realms trusted with credentials
	networks       []netip.Prefix // private networks a registry in one may reach
	reader         Reader
	userAgent      string
	pageSize       int
	maxPages       int
	maxTags        int
	maxPageBytes   int64 // one tags/list response, as sent
	maxListBytes   int64 // the tags of a listing
	maxBodyBytes   int64 // any other response
	maxManifest    int64

	// The network, for tests: nil is the host's.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	proxy  func(*http.Request) (*url.URL, error)
}

// Defaults; resolver/registry/doc.go explains them.
const (
	defaultTimeout        = 30 * time.Second
	defaultRequestTimeout = 8 * time.Second
	defaultRetries        = 2
	defaultBackoff        = 500 * time.Millisecond
	defaultMaxBackoff     = 5 * time.Second
	defaultMaxRetryAfter  = 10 * time.Second
	// Registries clamp n to their own maximum (distribution: 1,000 by
	// default), so asking for many saves round trips: every page is one.
	defaultPageSize = 1000
	// fallbackPageSize is asked for when a registry refuses the default.
	fallbackPageSize    = 100
	defaultMaxPages     = 5000
	defaultMaxTags      = 500_000
	defaultMaxPageBytes = 32 << 20
	defaultMaxListBytes = 16 << 20
	defaultMaxBodyBytes = 8 << 20
	// The OCI distribution spec has registries accept manifests of at
	// least 4 MiB; containerd refuses larger ones.
	defaultMaxManifest = 4 << 20
)

// defaults are the options every Client starts from.
func defaults() options {
	return options{
		timeout:        defaultTimeout,
		requestTimeout: defaultRequestTimeout,
		retries:        defaultRetries,
		backoff:        defaultBackoff,
		maxBackoff:     defaultMaxBackoff,
		maxRetryAfter:  defaultMaxRetryAfter,
		userAgent:      "sdkfront",
		pageSize:       defaultPageSize,
		maxPages:       defaultMaxPages,
		maxTags:        defaultMaxTags,
		maxPageBytes:   defaultMaxPageBytes,
		maxListBytes:   defaultMaxListBytes,
		maxBodyBytes:   defaultMaxBodyBytes,
		maxManifest:    defaultMaxManifest,
	}
}

// WithKeychain looks credentials up in k instead of accessing registries
// anonymously.
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithDockerKeychain looks credentials up as docker does: in
// $DOCKER_CONFIG/config.json and the credential helpers it names.
func WithDockerKeychain() Option { return WithKeychain(authn.DefaultKeychain) }

// WithInsecureRegistries allows plain HTTP to the given registries ("host"
// or "host:port"), in addition to loopback ones.
func WithInsecureRegistries(hosts []string) Option {
	return func(o *options) {
		o.insecure = map[string]bool{}
		for _, h := range hosts {
			o.insecure[h] = true
		}
	}
}

// WithPageSize sets how many tags one tags/list request asks for (n=);
// the client follows Link headers for the rest (default 1000). 0 sends no
// n=, leaving the page size to the registry.
func WithPageSize(n int) Option { return func(o *options) { o.pageSize = max(n, 0) } }

// WithTimeout bounds each call, retries and paging included (default 30s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRequestTimeout bounds each HTTP request attempt, from sending it to
// the last byte of the response body (default 8s). A registry that stalls
// or sends its response too slowly fails the attempt, which is retried
// like a reset connection.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) { o.requestTimeout = d }
}

// WithRetries sets how often a request failing temporarily (5xx, 429,
// connection reset, timeout) is retried, with exponential backoff from
// initial (default 2 retries from 500ms).
func WithRetries(retries int, initial time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = max(retries, 0), initial }
}

// WithCredentialRealms names token realms ("host" or "host:port"; a host
// trusts every port) on other hosts than their registry that may be sent
// the keychain's credentials when a registry's challenge names them. A
// realm on the registry's own host, and Docker Hub's, need not be named;
// any other realm gets an anonymous token request.
func WithCredentialRealms(hosts []string) Option {
	return func(o *options) { o.realms = append(o.realms, hosts...) }
}

// CredentialRealmsEnv is the environment variable that names trusted token
// realms for sdkfront lock: hosts separated by commas or spaces.
const CredentialRealmsEnv = "SDK_AUTH_REALMS"

// CredentialRealmsFromEnv are the realms CredentialRealmsEnv names, for
// WithCredentialRealms.
func CredentialRealmsFromEnv() []string {
	return strings.FieldsFunc(os.Getenv(CredentialRealmsEnv), func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// WithPrivateNetworks names private networks (RFC 1918, RFC 6598, RFC
// 4193 prefixes such as 10.0.0.0/8 or fd00:ec2::/32) that a registry on an
// address in one may reach in full, where by default a private registry
// reaches only its own /24 (IPv4) or /64 (IPv6), as when its blob storage
// is on another subnet. Each network is one: a registry in 10.0.0.0/8
// reaches none of 172.16.0.0/12 for its being named too. A prefix that is
// not within one private block is ignored; ParsePrivateNetworks refuses
// it. Public registries reach no private address, whatever is named.
func WithPrivateNetworks(networks []netip.Prefix) Option {
	return func(o *options) {
		for _, n := range networks {
			if transport.PrivateNetwork(n) {
				o.networks = append(o.networks, n.Masked())
			}
		}
	}
}

// PrivateNetworksEnv is the environment variable that names private
// networks for sdkfront lock (WithPrivateNetworks): prefixes in CIDR
// notation separated by commas or spaces.
const PrivateNetworksEnv = "SDK_PRIVATE_NETWORKS"

// PrivateNetworksFromEnv are the networks PrivateNetworksEnv names, for
// WithPrivateNetworks; an error names each that is not a private network.
func PrivateNetworksFromEnv() ([]netip.Prefix, error) {
	nets, err := ParsePrivateNetworks(os.Getenv(PrivateNetworksEnv))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PrivateNetworksEnv, err)
	}
	return nets, nil
}

// ParsePrivateNetworks parses prefixes in CIDR notation separated by
// commas or spaces, each within one private block (10.0.0.0/8,
// 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 198.18.0.0/15, fc00::/7,
// fec0::/10). It reports every entry that is not, at once.
func ParsePrivateNetworks(s string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	var errs []error
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		p, err := netip.ParsePrefix(f)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%q is not a network in CIDR notation (10.1.0.0/16)", f))
		case !transport.PrivateNetwork(p):
			errs = append(errs, fmt.Errorf("%q is not within one private network (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 198.18.0.0/15, fc00::/7, fec0::/10)", f))
		default:
			nets = append(nets, p.Masked())
		}
	}
	return nets, errors.Join(errs...)
}

// Reader is where a Client reads registries from, as its errors' advice
// names it: a registry that does not answer must be reachable from there.
type Reader int

const (
	// ReaderBuildkitd is the frontend, which reads registries from
	// buildkitd's network in a build. It is the default.
	ReaderBuildkitd Reader = iota
	// ReaderLocal is sdkfront lock, which reads registries itself, from
	// the machine it runs on.
	ReaderLocal
)

func (r Reader) String() string {
	switch r {
	case ReaderBuildkitd:
		return "buildkitd"
	case ReaderLocal:
		return "this machine"
	}
	return fmt.Sprintf("Reader(%d)", int(r))
}

// WithReader names where the client reads registries from, for its
// advice (default ReaderBuildkitd).
func WithReader(r Reader) Option { return func(o *options) { o.reader = r } }
