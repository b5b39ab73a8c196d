package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testProxy is an HTTP proxy on loopback that answers proxied requests
// (absolute URIs) itself, with serve, and counts direct ones, which no
// guarded client may send it unless its registry is on loopback.
type testProxy struct {
	*httptest.Server
	url    *url.URL
	direct atomic.Int32

	mu      sync.Mutex
	targets []string // the absolute URIs' hosts, as asked
	hosts   []string // their Host headers
}

func newTestProxy(t *testing.T, serve http.HandlerFunc) *testProxy {
	t.Helper()
	p := &testProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			p.direct.Add(1)
			fmt.Fprint(w, `{"name":"sdks/golang","tags":["proxy-secret-1.0.0"]}`)
			return
		}
		p.mu.Lock()
		p.targets, p.hosts = append(p.targets, r.URL.Host), append(p.hosts, r.Host)
		p.mu.Unlock()
		serve(w, r)
	}))
	t.Cleanup(p.Close)
	p.url, _ = url.Parse(p.URL)
	return p
}

// option makes a client use the proxy as HTTP_PROXY would: for every
// target but loopback ones, which Go never proxies.
func (p *testProxy) option() Option {
	return func(o *options) {
		o.proxy = func(req *http.Request) (*url.URL, error) {
			h := req.URL.Hostname()
			if a, err := netip.ParseAddr(h); h == "localhost" || (err == nil && a.IsLoopback()) {
				return nil, nil
			}
			return p.url, nil
		}
	}
}

func (p *testProxy) asked() (targets, hosts []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.targets), slices.Clone(p.hosts)
}

func proxiedTags(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprint(w, `{"name":"sdks/golang","tags":["1.0.0"]}`)
}

// Behind a proxy on loopback, the proxy's own address is dialed unchecked
// only for the requests the transport proxies: a public registry that
// redirects to the proxy's port, which Go does not proxy (loopback), is
// refused like any other loopback address.
func TestGuardProxyOwnPort(t *testing.T) {
	var p *testProxy
	p = newTestProxy(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.URL+"/v2/sdks/golang/tags/list", http.StatusTemporaryRedirect)
	})
	n := newFakeNet().host("registry.test", "93.184.216.34")
	c := New(n.option(), p.option(), WithInsecureRegistries([]string{"registry.test:5000"}), WithRetries(0, 0))
	tags, err := c.ListTags(context.Background(), "registry.test:5000/sdks/golang")
	want := "refusing to connect to 127.0.0.1 for registry registry.test:5000: it is a loopback address"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ListTags = %v, %v; want an error containing %q", tags, err, want)
	}
	if targets, _ := p.asked(); len(targets) != 1 {
		t.Errorf("the proxy was asked for %v, want the registry once", targets)
	}
	if n := p.direct.Load(); n != 0 {
		t.Errorf("the proxy's port got %d direct requests", n)
	}
}

// Through the proxy, a request names its target as the registry named
// it (the proxy resolves it: an RFC 7230 proxy would send an address in
// the request line on as the Host), after the guard checked the
// addresses this host resolves it to, the registry's as first resolved;
// the proxy itself, on loopback, is reached for it.
func TestGuardProxyNamesTarget(t *testing.T) {
	p := newTestProxy(t, proxiedTags)
	n := newFakeNet().rebind("registry.test", "93.184.216.34", "127.0.0.1")
	c := New(n.option(), p.option(), WithInsecureRegistries([]string{"registry.test:5000"}), WithRetries(0, 0))
	for range 2 {
		tags, err := c.ListTags(context.Background(), "registry.test:5000/sdks/golang")
		if err != nil || !slices.Equal(tags, []string{"1.0.0"}) {
			t.Fatalf("ListTags = %v, %v", tags, err)
		}
	}
	if targets, _ := p.asked(); !slices.Equal(targets, []string{"registry.test:5000", "registry.test:5000"}) {
		t.Errorf("the proxy was asked for %v, want registry.test:5000 twice", targets)
	}
	if n := n.lookupsOf("registry.test"); n != 1 {
		t.Errorf("registry.test looked up %d times, want 1", n)
	}
	if n := p.direct.Load(); n != 0 {
		t.Errorf("the proxy's port got %d direct requests", n)
	}
}

// A registry this host cannot resolve, reached through the proxy, is
// public for good: a later answer of 127.0.0.1 does not open loopback to
// it, nor to its redirects.
func TestGuardProxyUnresolvedStaysPublic(t *testing.T) {
	secret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the secret server got a request")
	}))
	t.Cleanup(secret.Close)
	var calls atomic.Int32
	p := newTestProxy(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			proxiedTags(w, r)
			return
		}
		http.Redirect(w, r, secret.URL+"/v2/sdks/golang/tags/list", http.StatusTemporaryRedirect)
	})
	n := newFakeNet().rebind("proxied.test", "")
	c := New(n.option(), p.option(), WithInsecureRegistries([]string{"proxied.test:5000"}), WithRetries(0, 0))
	if _, err := c.ListTags(context.Background(), "proxied.test:5000/sdks/golang"); err != nil {
		t.Fatalf("ListTags through the proxy: %v", err)
	}
	n.rebind("proxied.test", "127.0.0.1")
	_, err := c.ListTags(context.Background(), "proxied.test:5000/sdks/golang")
	if want := "it is a loopback address, and the registry, reached through the proxy (which resolves its name itself), counts as public; name the registry in NO_PROXY"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

// TestGuardProxiedRegistryIsPublic: this host resolves evil.test to
// 127.0.0.1 (or 10.0.0.7), the proxy resolves it to its owner's public
// registry, which redirects to a loopback service. The registry is reached
// through the proxy, so it counts as public whatever this host resolved,
// and the redirect (which Go dials directly: it never proxies loopback) is
// refused, with a message that names NO_PROXY.
func TestGuardProxiedRegistryIsPublic(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "10.0.0.7"} {
		t.Run(addr, func(t *testing.T) {
			var hits atomic.Int32
			secret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				fmt.Fprint(w, `{"name":"sdks/golang","tags":["secret-1.0.0"]}`)
			}))
			t.Cleanup(secret.Close)
			p := newTestProxy(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, secret.URL+"/v2/sdks/golang/tags/list", http.StatusTemporaryRedirect)
			})
			n := newFakeNet().host("evil.test", addr)
			c := New(n.option(), p.option(), WithInsecureRegistries([]string{"evil.test"}), WithRetries(0, 0))
			tags, err := c.ListTags(context.Background(), "evil.test/sdks/golang")
			want := "refusing to connect to 127.0.0.1 for registry evil.test: it is a loopback address, and the registry, reached through the proxy (which resolves its name itself), counts as public; name the registry in NO_PROXY to reach it directly"
			if err == nil || !strings.Contains(err.Error(), want) || hits.Load() != 0 {
				t.Errorf("ListTags = %v, %v, %d requests to the loopback service; want %q", tags, err, hits.Load(), want)
			}
			if targets, _ := p.asked(); len(targets) == 0 {
				t.Errorf("the proxy was not asked: the test proves nothing")
			}
		})
	}
}
