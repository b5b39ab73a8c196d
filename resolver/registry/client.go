package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sdkfront/sdkfront/resolver"
)

// Client talks to OCI registries. It is safe for concurrent use.
type Client struct {
	o         options
	transport http.RoundTripper
}

// New returns a Client.
func New(opts ...Option) *Client {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{o: o}
	c.transport = tlsGuard{next: o.transport, plainHTTP: c.plainHTTP}
	return c
}

// ListTags lists every tag of repository ("host/path"), following Link
// pagination.
func (c *Client) ListTags(ctx context.Context, repository string) ([]string, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	callCtx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	tags, err := remote.List(repo, append(c.remoteOptions(callCtx), remote.WithPageSize(c.o.pageSize))...)
	if err != nil {
		return nil, c.wrap(ctx, "list tags of", repo.RegistryStr(), repository, resolver.ErrRepositoryNotFound, err)
	}
	return tags, nil
}

func (c *Client) parseRepository(s string) (name.Repository, error) {
	repo, err := name.NewRepository(s)
	if err == nil && c.plainHTTP(repo.RegistryStr()) {
		repo, err = name.NewRepository(s, name.Insecure)
	}
	if err != nil {
		return name.Repository{}, fmt.Errorf("invalid repository %q: %w", s, err)
	}
	return repo, nil
}

func (c *Client) parseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err == nil && c.plainHTTP(ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(s, name.Insecure)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return ref, nil
}

func (c *Client) remoteOptions(ctx context.Context) []remote.Option {
	auth := remote.WithAuth(authn.Anonymous)
	if c.o.keychain != nil {
		auth = remote.WithAuthFromKeychain(c.o.keychain)
	}
	return []remote.Option{
		auth,
		remote.WithContext(ctx),
		remote.WithTransport(c.transport),
		remote.WithUserAgent(c.o.userAgent),
		remote.WithRetryBackoff(remote.Backoff{
			Duration: c.o.backoff,
			Factor:   2,
			Jitter:   0.1,
			Steps:    c.o.retries + 1, // attempts
		}),
	}
}

// plainHTTP reports whether host ("host[:port]") may be reached without TLS.
func (c *Client) plainHTTP(host string) bool {
	if c.o.insecure[host] {
		return true
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if c.o.insecure[h] || h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// tlsGuard refuses plain HTTP to hosts that must use TLS. ggcr itself falls
// back to HTTP for private (RFC 1918) addresses too, and a bearer realm
// could point anywhere.
type tlsGuard struct {
	next      http.RoundTripper
	plainHTTP func(host string) bool
}

func (g tlsGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plainHTTP(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries and those configured as insecure are used without TLS", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

var (
	_ resolver.TagLister      = (*Client)(nil)
	_ resolver.PlatformLister = (*Client)(nil)
)
