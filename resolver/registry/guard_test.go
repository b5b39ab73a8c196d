package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestClassOf(t *testing.T) {
	for addr, want := range map[string]addrClass{
		"93.184.216.34":                        classPublic,
		"2606:2800:220:1::1":                   classPublic,
		"::ffff:93.184.216.34":                 classPublic,
		"127.0.0.1":                            classLoopback,
		"127.8.9.10":                           classLoopback,
		"::1":                                  classLoopback,
		"::ffff:127.0.0.1":                     classLoopback,
		"0.0.0.0":                              classLoopback,
		"::":                                   classLoopback,
		"0.1.2.3":                              classLoopback,
		"10.0.0.5":                             classPrivate,
		"172.16.3.4":                           classPrivate,
		"192.168.1.1":                          classPrivate,
		"100.64.1.1":                           classPrivate,
		"198.18.0.1":                           classPrivate,
		"fd00:ec2::254":                        classPrivate,
		"64:ff9b::10.0.0.1":                    classPrivate,
		"64:ff9b::93.184.216.34":               classPublic,
		"169.254.169.254":                      classLinkLocal,
		"fe80::1":                              classLinkLocal,
		"224.0.0.1":                            classOther,
		"ff02::1":                              classOther,
		"255.255.255.255":                      classOther,
		"240.0.0.1":                            classOther,
		"2002:a00:1::1":                        classOther, // 6to4 of 10.0.0.1
		"2002:5db8:d822::1":                    classOther, // 6to4 of 93.184.216.34
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": classOther, // Teredo
		"64:ff9b::127.0.0.1":                   classLoopback,
		"64:ff9b::169.254.169.254":             classLinkLocal,
		// Local-use NAT64: public only if public at every prefix length.
		"64:ff9b:1::10.0.0.1":              classOther,
		"64:ff9b:1::127.0.0.1":             classOther,
		"64:ff9b:1:a00:1::":                classOther,  // 10.0.0.1 at /48
		"64:ff9b:1:5d5d:5d:5d5d:5d5d:5d5d": classPublic, // 93.93.93.93 at every length
		// IPv4-compatible and SIIT-translated.
		"::127.0.0.1":        classLoopback,
		"::10.0.0.1":         classPrivate,
		"::169.254.169.254":  classLinkLocal,
		"::93.184.216.34":    classPublic,
		"::ffff:0:127.0.0.1": classLoopback,
		"::ffff:0:10.0.0.1":  classPrivate,
		// ISATAP interface identifiers.
		"2a00:1450:4001::5efe:10.0.0.1":          classOther,
		"2a00:1450:4001::200:5efe:127.0.0.1":     classOther,
		"2a00:1450:4001::200:5efe:93.184.216.34": classPublic,
		"2001:db8::1":                            classOther,
	} {
		if got := classOf(netip.MustParseAddr(addr)); got != want {
			t.Errorf("classOf(%s) = %s, want %s", addr, got, want)
		}
	}
}

// Which addresses a registry may reach: public ones always; loopback,
// private and link-local ones only if the registry has an address of that
// kind itself, link-local only if named by one.
func TestGuardCheck(t *testing.T) {
	n := newFakeNet().
		host("public.test", "93.184.216.34").
		host("lan.test", "10.0.0.4").
		host("split.test", "93.184.216.35", "192.168.0.9").
		host("meta.test", "169.254.169.254").
		host("mixed.test", "10.0.0.4", "127.0.0.1").
		host("lan2.test", "192.168.1.50", "10.1.2.3").
		host("dual.test", "10.0.0.4", "fd00:ec2::4").
		host("wide.test", "10.0.0.4", "10.0.0.9")
	g := newNetGuard()
	g.lookup = n.lookup
	for _, tc := range []struct {
		registry, target string
		ok               bool
	}{
		{"public.test", "93.184.216.99", true},
		{"public.test", "127.0.0.1", false},
		{"public.test", "::1", false},
		{"public.test", "0.0.0.0", false},
		{"public.test", "10.0.0.5", false},
		{"public.test", "169.254.169.254", false},
		{"public.test", "224.0.0.1", false},
		{"lan.test:5000", "10.0.0.5", true},
		{"lan.test:5000", "127.0.0.1", false},
		{"lan.test:5000", "169.254.169.254", false},
		// A registry with any public address is public, whatever else its
		// DNS names: its owner chooses those records.
		{"split.test", "10.9.9.9", false},
		{"split.test", "192.168.0.9", false},
		{"split.test", "93.184.216.99", true},
		// The addresses of a name must agree on one kind and one network,
		// or the registry reaches what a public one does: its owner could
		// otherwise list loopback, or a second network, beside its own.
		{"mixed.test", "127.0.0.1", false},
		{"mixed.test", "10.0.0.5", false},
		{"lan2.test", "10.1.2.200", false},
		{"lan2.test", "192.168.1.9", false},
		{"dual.test", "10.0.0.77", true},
		{"dual.test", "fd00:ec2::99", true},
		{"dual.test", "10.0.1.1", false},
		{"wide.test", "10.0.0.200", true},
		{"localhost:5000", "127.0.0.1", true},
		{"localhost:5000", "10.0.0.5", false},
		{"127.0.0.1:5000", "::1", true},
		{"[::1]:5000", "127.0.0.1", true},
		// A private registry reaches its own /24 or /64, no other network.
		{"10.0.0.4:5000", "10.0.0.200", true},
		{"10.0.0.4:5000", "10.1.1.1", false},
		{"10.0.0.4:5000", "172.17.0.1", false},
		{"10.0.0.4:5000", "fd00:ec2::254", false},
		{"10.0.0.4:5000", "64:ff9b::10.0.0.9", true},
		{"10.0.0.4:5000", "64:ff9b::10.0.1.9", false},
		{"192.168.1.10:5000", "192.168.1.99", true},
		{"192.168.1.10:5000", "10.0.0.1", false},
		{"192.168.1.10:5000", "172.17.0.1", false},
		{"100.64.0.1", "100.64.0.9", true},
		{"100.64.0.1", "10.0.0.1", false},
		{"100.64.0.1", "172.17.0.1", false},
		{"[fd00:1::5]:5000", "fd00:1::9", true},
		{"[fd00:1::5]:5000", "fd00:1:0:1::9", false},
		{"[fd00:1::5]:5000", "10.0.0.1", false},
		{"meta.test", "169.254.169.254", false}, // a name gets no link-local
		{"169.254.1.1:5000", "169.254.1.7", true},
		{"169.254.1.1:5000", "169.254.169.254", false},
		{"224.0.0.1", "224.0.0.1", false},
		{"unknown.test", "127.0.0.1", false},
		{"", "127.0.0.1", false},
		{"", "93.184.216.34", true},
	} {
		err := g.check(context.Background(), tc.registry, "target", netip.MustParseAddr(tc.target))
		var ae *addressError
		if (err == nil) != tc.ok || (err != nil && !errors.As(err, &ae)) {
			t.Errorf("registry %q reaching %s: %v, want ok=%v", tc.registry, tc.target, err, tc.ok)
		}
	}
}

// guardFixture is the fault fixture's registry as a public one,
// registry.test, on a made-up network, and a secret server on loopback
// that the registry must not make the client reach.
type guardFixture struct {
	*faultFixture
	net        *fakeNet
	host       string // registry.test:port
	repo       string
	secret     *httptest.Server
	secretPort string
	secretHits atomic.Int32
}

func newGuardFixture(t *testing.T) *guardFixture {
	t.Helper()
	g := &guardFixture{faultFixture: newFaultFixture(t)}
	g.secret = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.secretHits.Add(1)
		fmt.Fprint(w, `{"name":"sdks/golang","tags":["secret-1.0.0"],"token":"secret"}`)
	}))
	t.Cleanup(g.secret.Close)
	_, g.secretPort, _ = net.SplitHostPort(strings.TrimPrefix(g.secret.URL, "http://"))
	_, port, _ := net.SplitHostPort(g.proxy.host)
	g.host = "registry.test:" + port
	g.repo = g.host + "/sdks/golang"
	g.net = newFakeNet().host("registry.test", "93.184.216.34").route("93.184.216.34").
		host("internal.test", "10.0.0.7").
		host("rebind.test", "93.184.216.99", "127.0.0.1").
		host("storage.test", "93.184.216.40").route("93.184.216.40")
	return g
}

func (g *guardFixture) client(opts ...Option) *Client {
	return New(append([]Option{g.net.option(), WithInsecureRegistries([]string{g.host}), WithRetries(0, 0)}, opts...)...)
}

// A public registry cannot send the client to loopback, private or
// link-local addresses, by address or by name, by a redirect of any of its
// answers, by go-containerregistry's ping or by a token realm; the secret
// server on loopback is never reached.
func TestGuardRefuses(t *testing.T) {
	linux := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	for _, tc := range []struct {
		name  string
		setup func(g *guardFixture)
		call  func(ctx context.Context, c *Client, g *guardFixture) error
		msg   string
	}{
		{"tags redirect to localhost", func(g *guardFixture) {
			g.proxy.always(tagsList, redirect("http://localhost:"+g.secretPort))
		}, listTagsOf, "refusing to connect to localhost (127.0.0.1) for registry registry.test:{port}: it is a loopback address"},
		{"tags redirect to 127.0.0.1", func(g *guardFixture) {
			g.proxy.always(tagsList, redirect("http://127.0.0.1:"+g.secretPort))
		}, listTagsOf, "refusing to connect to 127.0.0.1 for registry registry.test:{port}: it is a loopback address"},
		{"tags redirect to [::ffff:127.0.0.1]", func(g *guardFixture) {
			g.proxy.always(tagsList, redirect("http://[::ffff:127.0.0.1]:"+g.secretPort))
		}, listTagsOf, "refusing to connect to ::ffff:127.0.0.1 (127.0.0.1)"},
		{"tags redirect to the metadata service", func(g *guardFixture) {
			g.proxy.always(tagsList, redirect("https://169.254.169.254"))
		}, listTagsOf, "refusing to connect to 169.254.169.254 for registry registry.test:{port}: it is a link-local address"},
		{"tags redirect to a private name", func(g *guardFixture) {
			g.proxy.always(tagsList, redirect("https://internal.test:"+g.secretPort))
		}, listTagsOf, "refusing to connect to internal.test (10.0.0.7)"},
		{"tags redirect to a name that also resolves to loopback", func(g *guardFixture) {
			g.proxy.always(tagsList, redirect("https://rebind.test:"+g.secretPort))
		}, listTagsOf, "refusing to connect to rebind.test (127.0.0.1)"},
		{"Link to localhost", func(g *guardFixture) {
			// Not followed: a Link to another host ends the listing.
			g.proxy.always(tagsList, header("Link", "<http://localhost:"+g.secretPort+"/v2/sdks/golang/tags/list?last=z>; rel=next"))
		}, func(ctx context.Context, c *Client, g *guardFixture) error {
			tags, err := c.ListTags(ctx, g.repo)
			if err == nil && slices.Contains(tags, "secret-1.0.0") {
				return errors.New("followed the Link")
			}
			return err
		}, ""},
		{"ping redirect to localhost", func(g *guardFixture) {
			g.proxy.always(tagsList, status(http.StatusUnauthorized, distError("UNAUTHORIZED", "log in"), `WWW-Authenticate: Bearer realm="http://`+g.host+`/token"`))
			g.proxy.always(func(r *http.Request) bool { return r.URL.Path == "/v2/" }, redirect("http://localhost:"+g.secretPort))
		}, listTagsOf, "refusing to connect to localhost (127.0.0.1)"},
		{"token realm on localhost", func(g *guardFixture) {
			challenge := `WWW-Authenticate: Bearer realm="http://localhost:` + g.secretPort + `/token",service="x"`
			g.proxy.always(tagsList, status(http.StatusUnauthorized, distError("UNAUTHORIZED", "log in"), challenge))
			g.proxy.always(func(r *http.Request) bool { return r.URL.Path == "/v2/" }, status(http.StatusUnauthorized, "", challenge))
		}, listTagsOf, "refusing to connect to localhost (127.0.0.1)"},
		{"token redirect to localhost", func(g *guardFixture) {
			challenge := `WWW-Authenticate: Bearer realm="http://` + g.host + `/token",service="x"`
			g.proxy.always(tagsList, status(http.StatusUnauthorized, distError("UNAUTHORIZED", "log in"), challenge))
			g.proxy.always(func(r *http.Request) bool { return r.URL.Path == "/v2/" }, status(http.StatusUnauthorized, "", challenge))
			g.proxy.always(func(r *http.Request) bool { return r.URL.Path == "/token" }, redirect("http://localhost:"+g.secretPort))
		}, listTagsOf, "refusing to connect to localhost (127.0.0.1)"},
		{"catalog redirect to localhost", func(g *guardFixture) {
			g.proxy.always(catalog, redirect("http://localhost:"+g.secretPort))
		}, func(ctx context.Context, c *Client, g *guardFixture) error {
			_, err := c.ListRepositories(ctx, g.host)
			return err
		}, "refusing to connect to localhost (127.0.0.1)"},
		{"manifest redirect to localhost", func(g *guardFixture) {
			g.proxy.always(manifests, redirect("http://localhost:"+g.secretPort))
		}, func(ctx context.Context, c *Client, g *guardFixture) error {
			_, err := c.ResolvePlatform(ctx, g.host+"/sdks/golang:bookworm-1.22.10", linux)
			return err
		}, "refusing to connect to localhost (127.0.0.1)"},
		{"config redirect to localhost", func(g *guardFixture) {
			g.proxy.always(blobs, redirect("http://localhost:"+g.secretPort))
		}, func(ctx context.Context, c *Client, g *guardFixture) error {
			_, err := c.ResolvePlatform(ctx, g.host+"/sdks/golang:bookworm-1.22.10", linux)
			return err
		}, "refusing to connect to localhost (127.0.0.1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuardFixture(t)
			tc.setup(g)
			err := tc.call(context.Background(), g.client(), g)
			_, port, _ := net.SplitHostPort(g.host)
			want := strings.ReplaceAll(tc.msg, "{port}", port)
			switch {
			case want == "" && err != nil:
				t.Errorf("error %v", err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("error %v\nwant one containing %q", err, want)
			}
			if n := g.secretHits.Load(); n != 0 {
				t.Errorf("the secret server got %d requests", n)
			}
			for _, d := range g.net.dials() {
				if ap := netip.MustParseAddrPort(d); ap.Addr().Unmap().IsLoopback() && fmt.Sprint(ap.Port()) == g.secretPort {
					t.Errorf("dialed %s", d)
				}
			}
		})
	}
}

func listTagsOf(ctx context.Context, c *Client, g *guardFixture) error {
	_, err := c.ListTags(ctx, g.repo)
	return err
}

// A public registry may redirect to another public host, and a loopback
// registry to loopback.
func TestGuardAllows(t *testing.T) {
	t.Run("public to public", func(t *testing.T) {
		g := newGuardFixture(t)
		storage := httptest.NewServer(g.proxy.backend)
		t.Cleanup(storage.Close)
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(storage.URL, "http://"))
		g.proxy.always(tagsList, redirect("http://storage.test:"+port))
		tags, err := g.client(WithInsecureRegistries([]string{g.host, "storage.test"})).ListTags(context.Background(), g.repo)
		if err != nil || !slices.Equal(tags, g.tags) {
			t.Errorf("ListTags = %v, %v", tags, err)
		}
	})
	t.Run("loopback to loopback by name", func(t *testing.T) {
		g := newGuardFixture(t)
		g.proxy.always(tagsList, redirect("http://localhost:"+g.secretPort))
		tags, err := New(g.net.option()).ListTags(context.Background(), g.proxy.host+"/sdks/golang")
		if err != nil || !slices.Equal(tags, []string{"secret-1.0.0"}) {
			t.Errorf("ListTags = %v, %v", tags, err)
		}
	})
}

// The client keeps the connections of each registry apart: one to a
// loopback registry is not reused for a public registry that redirects
// there.
func TestGuardConnectionsApart(t *testing.T) {
	g := newGuardFixture(t)
	c := g.client()
	local := g.secret.Listener.Addr().String()
	if _, err := c.ListTags(context.Background(), local+"/sdks/golang"); err != nil {
		t.Fatalf("listing the loopback registry: %v", err)
	}
	hits := g.secretHits.Load()
	g.proxy.always(tagsList, redirect("http://"+local))
	_, err := c.ListTags(context.Background(), g.repo)
	if err == nil || !strings.Contains(err.Error(), "refusing to connect to 127.0.0.1") {
		t.Errorf("error %v, want a refusal", err)
	}
	if n := g.secretHits.Load(); n != hits {
		t.Errorf("the loopback registry got %d more requests", n-hits)
	}
}

// Behind a proxy, the guard checks the target as this host resolves it,
// and lets the proxy's own address be dialed.
func TestGuardProxy(t *testing.T) {
	n := newFakeNet().host("registry.test", "93.184.216.34").host("storage.test", "93.184.216.40")
	g := newNetGuard()
	g.lookup = n.lookup
	proxyURL, _ := url.Parse("http://proxy.test:3128")
	g.proxyOf = func(*http.Request) (*url.URL, error) { return proxyURL, nil }
	for _, tc := range []struct {
		registry, target string
		ok               bool
	}{
		{"registry.test", "https://registry.test/v2/", true},
		{"registry.test", "https://storage.test/blob", true},
		{"registry.test", "http://localhost:5000/", false},
		{"registry.test", "http://169.254.169.254/", false},
		// This host resolves the registry: a target only the proxy
		// resolves is only the proxy's network's.
		{"registry.test", "https://only-the-proxy-resolves.test/", false},
		// This host resolves nothing the proxy serves: the proxy's policy.
		{"proxied.test", "https://proxied.test/v2/", true},
		{"proxied.test", "https://only-the-proxy-resolves.test/", true},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.target, nil)
		rt, err := g.route(req, tc.registry, g.originOf(tc.registry))
		switch {
		case tc.ok && (err != nil || rt.proxy != proxyURL || rt.proxyAddr != "proxy.test:3128"):
			t.Errorf("%s: %+v, %v", tc.target, rt, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: not refused: %+v", tc.target, rt)
		}
	}
}

// What a registry is on is fixed by its first resolution, which its own
// connections reuse: a DNS server that answers a public address first and
// a loopback or private one after (TTL 0) does not make a public registry
// loopback or private, and the registry's name is looked up once per
// Client.
func TestGuardRebinding(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []string // registry.test's, in turn
		target  func(g *guardFixture) string
		msg     string
	}{
		{"public then loopback", []string{"93.184.216.34", "127.0.0.1"},
			func(g *guardFixture) string { return "http://localhost:" + g.secretPort }, "refusing to connect to localhost (127.0.0.1)"},
		{"public then private", []string{"93.184.216.34", "10.0.0.7"},
			func(g *guardFixture) string { return "https://internal.test:" + g.secretPort }, "refusing to connect to internal.test (10.0.0.7)"},
		{"public then private by address", []string{"93.184.216.34", "10.0.0.7"},
			func(g *guardFixture) string { return "https://10.0.0.8:" + g.secretPort }, "refusing to connect to 10.0.0.8"},
		{"split then loopback", []string{"93.184.216.34 10.0.0.7", "127.0.0.1"},
			func(g *guardFixture) string { return "http://localhost:" + g.secretPort }, "refusing to connect to localhost (127.0.0.1)"},
		{"split then private", []string{"10.0.0.7 93.184.216.34", "10.0.0.7"},
			func(g *guardFixture) string { return "https://internal.test:" + g.secretPort }, "refusing to connect to internal.test (10.0.0.7)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuardFixture(t)
			g.net.rebind("registry.test", tc.answers...)
			c := g.client()
			// A first call reaches the registry at its public address.
			if _, err := c.ResolvePlatform(context.Background(), g.host+"/sdks/golang:bookworm-1.22.10", ocispecs.Platform{OS: "linux", Architecture: "amd64"}); err != nil {
				t.Fatalf("ResolvePlatform: %v", err)
			}
			g.proxy.always(tagsList, redirect(tc.target(g)))
			_, err := c.ListTags(context.Background(), g.repo)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v\nwant one containing %q", err, tc.msg)
			}
			if n := g.secretHits.Load(); n != 0 {
				t.Errorf("the secret server got %d requests", n)
			}
			if n := g.net.lookupsOf("registry.test"); n != 1 {
				t.Errorf("registry.test looked up %d times, want 1", n)
			}
		})
	}
	// Every connection to the registry goes to the address it was first
	// resolved to, however often its DNS answers otherwise.
	t.Run("connections reuse the first answer", func(t *testing.T) {
		g := newGuardFixture(t)
		g.net.rebind("registry.test", "93.184.216.34", "127.0.0.1")
		g.proxy.always(func(*http.Request) bool { return true }, func(_ *faultProxy, w http.ResponseWriter, r *http.Request, next http.Handler) {
			w.Header().Set("Connection", "close") // each request dials anew
			next.ServeHTTP(w, r)
		})
		c := g.client()
		for range 3 {
			if tags, err := c.ListTags(context.Background(), g.repo); err != nil || !slices.Equal(tags, g.tags) {
				t.Fatalf("ListTags = %v, %v", tags, err)
			}
		}
		dials := g.net.dials()
		_, port, _ := net.SplitHostPort(g.host)
		if len(dials) < 3 {
			t.Errorf("%d dials (%v), want one for each of 3 calls", len(dials), dials)
		}
		for _, d := range dials {
			if d != "93.184.216.34:"+port {
				t.Errorf("dialed %s, want only 93.184.216.34:%s", d, port)
			}
		}
		if n := g.net.lookupsOf("registry.test"); n != 1 {
			t.Errorf("registry.test looked up %d times, want 1", n)
		}
	})
}

// A tag listing that a registry redirects to another host follows a
// page's Link only on the registry: a relative Link resolves against the
// registry's URL, an absolute one to the other host ends the listing.
func TestLinkAfterRedirect(t *testing.T) {
	for _, tc := range []struct {
		name, link string
		want       func(g *guardFixture) []string
	}{
		{"relative", `</v2/sdks/golang/tags/list?n=1000&last=bookworm-1.0.0>; rel="next"`,
			func(g *guardFixture) []string { return append([]string{"bookworm-1.0.0"}, g.tags...) }},
		{"absolute", `<http://storage.test:{port}/v2/sdks/golang/tags/list?n=1000&last=bookworm-1.0.0>; rel="next"`,
			func(*guardFixture) []string { return []string{"bookworm-1.0.0"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuardFixture(t)
			var hits atomic.Int32
			storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				_, port, _ := net.SplitHostPort(r.Host)
				w.Header().Set("Link", strings.ReplaceAll(tc.link, "{port}", port))
				fmt.Fprint(w, `{"name":"sdks/golang","tags":["bookworm-1.0.0"]}`)
			}))
			t.Cleanup(storage.Close)
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(storage.URL, "http://"))
			first := func(r *http.Request) bool { return tagsList(r) && r.URL.Query().Get("last") == "" }
			g.proxy.always(first, redirect("http://storage.test:"+port))
			tags, err := g.client(WithInsecureRegistries([]string{g.host, "storage.test"})).ListTags(context.Background(), g.repo)
			if want := tc.want(g); err != nil || !slices.Equal(tags, want) {
				t.Errorf("ListTags = %v, %v; want %v", tags, err, want)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("the other host got %d requests, want 1", n)
			}
		})
	}
}
