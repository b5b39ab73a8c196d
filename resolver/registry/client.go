package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// Client talks to OCI registries. It is safe for concurrent use.
type Client struct {
	o options
	// transport is the stack every request goes through, under the
	// authentication of go-containerregistry's transport: retries and the
	// request timeout, then the TLS guard, then the network guard.
	transport http.RoundTripper

	mu       sync.Mutex
	sessions map[string]*session // by repository, or "catalog " and registry
}

// New returns a Client.
func New(opts ...Option) *Client {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{o: o, sessions: map[string]*session{}}
	c.transport = transport.New(transport.Options{
		UserAgent: o.userAgent, RequestTimeout: o.requestTimeout,
		Retries: o.retries, Backoff: o.backoff, MaxBackoff: o.maxBackoff, MaxRetryAfter: o.maxRetryAfter,
		MaxBodyBytes: o.maxBodyBytes, PlainHTTP: c.plainHTTP, PrivateNetworks: o.networks,
		Lookup: o.lookup, Dial: o.dial, Proxy: o.proxy,
	})
	return c
}

// call starts a call on registry ("host[:port]"): its per-call state
// (the registry, for the network guard; stats, for error messages), and
// callCtx, ctx under the call's time limit.
func (c *Client) call(ctx context.Context, registry string) (callCtx context.Context, cl *transport.Call, cancel context.CancelFunc) {
	callCtx, cancel = context.WithTimeout(ctx, c.o.timeout)
	return callCtx, transport.NewCall(registry), cancel
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
