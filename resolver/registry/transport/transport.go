// Package transport is the HTTP transport of sdkfront's registry client,
// every request of a call goes through, go-containerregistry's ping and
// token requests included: retries (retry.go), each attempt under the
// request timeout with its body read within it (attempt.go) or streamed
// under an idle timeout (stream.go), the TLS rule (tls.go), and the network
// guard (guard.go), which checks every connection against what the call's
// registry may reach; and the answer to an authentication challenge
// (auth.go: where credentials may go, the token). A request carries its
// call (call.go) in its context, the one value it carries. Package
// registry holds the operations and the sessions that authenticate once
// per repository (see its doc.go for the whole of the rules).
package transport

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// Options configure the transport; package registry fills them from its
// own options (its defaults and doc.go say what they are).
type Options struct {
	UserAgent      string
	RequestTimeout time.Duration // per attempt, body included; 0: none
	Retries        int
	Backoff        time.Duration // before the first retry
	MaxBackoff     time.Duration
	MaxRetryAfter  time.Duration // the longest Retry-After waited for
	MaxBodyBytes   int64         // a response body read in memory

	// PlainHTTP reports whether a host ("host[:port]") may be reached
	// without TLS.
	PlainHTTP func(host string) bool
	// PrivateNetworks a registry in one may reach in full (each within
	// one private block: see PrivateNetwork).
	PrivateNetworks []netip.Prefix

	// The network, for tests: nil is the host's.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	Proxy  func(*http.Request) (*url.URL, error)
}

// New returns the transport: retries and the request timeout, then the
// TLS rule, then the network guard. Every request sent through it must
// carry a Call (Call.Bind), or it fails with a *NoCallError.
func New(o Options) http.RoundTripper {
	g := newNetGuard()
	if o.Lookup != nil {
		g.lookup = o.Lookup
	}
	if o.Dial != nil {
		g.dial = o.Dial
	}
	if o.Proxy != nil {
		g.proxyOf = o.Proxy
	}
	for _, n := range o.PrivateNetworks {
		if PrivateNetwork(n) {
			g.named = append(g.named, n.Masked())
		}
	}
	plainHTTP := o.PlainHTTP
	if plainHTTP == nil {
		plainHTTP = func(string) bool { return false }
	}
	return &retryTransport{next: tlsGuard{next: g, plainHTTP: plainHTTP}, o: &o}
}

// maxRedirects bounds the redirects one request follows.
const maxRedirects = 5

// CheckRedirect is the http.Client's CheckRedirect for requests through
// the transport: it follows redirects, as to blob storage, up to
// maxRedirects. Where they lead is the network guard's to check, for
// every request: those of go-containerregistry's own clients too.
func CheckRedirect(_ *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}
