package registry

import (
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures a Client.
type Option func(*options)

type options struct {
	keychain  authn.Keychain // nil: anonymous
	insecure  map[string]bool
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	transport http.RoundTripper
	userAgent string
	pageSize  int
}

// defaults are the options every Client starts from.
func defaults() options {
	return options{
		timeout:   30 * time.Second,
		retries:   2,
		backoff:   500 * time.Millisecond,
		transport: remote.DefaultTransport,
		userAgent: "sdkfront",
		pageSize:  100,
	}
}

// WithKeychain looks credentials up in k instead of accessing registries
// anonymously.
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

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
// the client follows Link headers for the rest (default 100).
func WithPageSize(n int) Option { return func(o *options) { o.pageSize = n } }

// WithTimeout bounds each call, retries and paging included (default 30s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetries sets how often a request failing temporarily (5xx, 429,
// connection reset) is retried, with exponential backoff from initial
// (default 2 retries from 500ms).
func WithRetries(retries int, initial time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = max(retries, 0), initial }
}

// WithTransport sets the base HTTP transport (default remote.DefaultTransport).
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithUserAgent sets the User-Agent prefix (default "sdkfront").
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }
