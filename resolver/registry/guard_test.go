package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

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
