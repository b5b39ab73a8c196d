package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

// faultFixture is a registry holding sdks/golang behind a fault proxy.
type faultFixture struct {
	proxy       *faultProxy
	repo        string // proxy.host/sdks/golang
	tags        []string
	index       string // ref of the index tag, through the proxy
	indexRepo   string // its repository
	indexDigest string
	platforms   map[string]digest.Digest // of the index
	image       string                   // ref of a single-image tag
}

// newFaultFixture starts ggcr's registry, wrapped by wrap, behind a fault
// proxy, and pushes a few SDK tags to it.
func newFaultFixture(t *testing.T, wrap ...func(http.Handler) http.Handler) *faultFixture {
	t.Helper()
	// Pushes go to the registry itself, past the faults and the wrappers.
	pusher := testregistry.New(t, testregistry.Wrap(wrap...))
	p := newFaultProxy(t, pusher.Handler())
	f := &faultFixture{proxy: p, repo: p.host + "/sdks/golang"}
	idx := sdkIndex(t, true, "linux/amd64", "linux/arm64")
	pusher.Push(t, "sdks/golang:bookworm-1.23.4", idx)
	pusher.Push(t, "sdks/golang:bookworm-1.22.10", sdkImage(t, false, nil))
	pusher.Push(t, "sdks/golang:bookworm-default", sdkImage(t, true, map[string]string{"org.oryx.version": "1.23.4"}))
	d, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	f.tags = []string{"bookworm-1.22.10", "bookworm-1.23.4", "bookworm-default"}
	f.index, f.indexRepo, f.indexDigest, f.platforms = f.repo+":bookworm-1.23.4", f.repo, d.String(), platformDigests(im)
	f.image = f.repo + ":bookworm-1.22.10"
	return f
}

// faultOptions are the client options of the fault tests: quick backoff,
// and deadlines so generous that no work that must succeed meets them,
// however busy the machine. A row that tests a deadline sets it short, with
// a fault that cannot finish within it (stall, drip), so that the deadline
// ends the call whatever the machine's speed, and checks that the error
// says so.
func faultOptions() []Option {
	return []Option{WithRetries(2, 50*time.Millisecond), WithTimeout(10 * time.Minute), WithRequestTimeout(2 * time.Minute)}
}

// faultRow is one fault and what the client must make of it.
type faultRow struct {
	name  string
	setup func(t *testing.T, f *faultFixture) // installs the fault
	call  func(ctx context.Context, c *Client, f *faultFixture) (any, error)
	opts  []Option
	wrap  []func(http.Handler) http.Handler // around the registry, inside the proxy

	// Success wanted when ok; then check, if set, inspects the result.
	ok    bool
	check func(t *testing.T, f *faultFixture, got any)
	// Otherwise an error matching is (if set) and containing every msg
	// ({registry} and {repo} stand for the fixture's).
	is  error
	msg []string
	// facts, if set, are what the *resolver.RegistryError says beyond its
	// message (see facts); the resolver's advice depends on them.
	facts string

	// The proxy must see exactly attempts requests that count matches.
	count    func(*http.Request) bool
	attempts int
	// min is the least time the call must take: what the registry asked
	// it to wait (Retry-After). There is no most: a verdict never depends
	// on the machine's speed; a deadline is tested with a fault that
	// cannot finish, and the error says which deadline ended it.
	min time.Duration
}

func listTags(ctx context.Context, c *Client, f *faultFixture) (any, error) {
	return c.ListTags(ctx, f.repo)
}

func indexPlatforms(ctx context.Context, c *Client, f *faultFixture) (any, error) {
	return c.PlatformDigests(ctx, f.index)
}

func pinnedPlatforms(ctx context.Context, c *Client, f *faultFixture) (any, error) {
	return c.PlatformDigests(ctx, f.indexRepo+"@"+f.indexDigest)
}

func allTags(t *testing.T, f *faultFixture, got any) {
	tags := slices.Clone(got.([]string))
	slices.Sort(tags)
	if !slices.Equal(tags, f.tags) {
		t.Errorf("tags = %v, want %v", tags, f.tags)
	}
}

func samePlatforms(t *testing.T, f *faultFixture, got any) {
	if p := got.(map[string]digest.Digest); !maps.Equal(p, f.platforms) {
		t.Errorf("platforms = %v, want %v", p, f.platforms)
	}
}

func resolvePlatform(ctx context.Context, c *Client, f *faultFixture) (any, error) {
	return c.ResolvePlatform(ctx, f.image, ocispecs.Platform{OS: "linux", Architecture: "amd64"})
}

// tamper changes a manifest, keeping it valid JSON.
func tamper(_ *http.Request, _ *int, _ http.Header, body []byte) []byte {
	return append(bytes.Clone(body), '\n')
}

// faultRows are the faults of the fault-injection issue, one row each.
func faultRows() []faultRow {
	const s = time.Second
	return []faultRow{
		// Transient faults: bounded retries with backoff.
		{name: "500 twice", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.on(tagsList, status(500, ""), status(500, ""))
		}, call: listTags, ok: true, check: allTags, count: tagsList, attempts: 3},
		{name: "502", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.on(tagsList, status(502, "<html>bad gateway</html>", "Content-Type: text/html"))
		}, call: listTags, ok: true, check: allTags, count: tagsList, attempts: 2},
		{name: "503 on manifest", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.on(manifests, status(503, distError("UNAVAILABLE", "try later")))
		}, call: indexPlatforms, ok: true, check: samePlatforms, count: manifests, attempts: 2},
		{name: "429 Retry-After 1", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.on(tagsList, status(429, distError("TOOMANYREQUESTS", "slow down"), "Retry-After: 1"))
		}, call: listTags, ok: true, check: allTags, count: tagsList, attempts: 2, min: s},
		{name: "429 Retry-After 3600", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, status(429, distError("TOOMANYREQUESTS", "slow down"), "Retry-After: 3600"))
		}, call: listTags, is: resolver.ErrUnreachable,
			msg:   []string{"registry {registry}", "HTTP 429", "retry after 1h0m0s", "try again later"},
			count: tagsList, attempts: 1},
		{name: "500 always", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, status(500, "oops", "Content-Type: text/plain"))
		}, call: listTags, is: resolver.ErrUnreachable,
			msg:   []string{"cannot list tags of {repo}", "HTTP 500 Internal Server Error", "3 attempts", "try again later"},
			count: tagsList, attempts: 3},
		{name: "connection reset", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.on(tagsList, reset, reset)
		}, call: listTags, ok: true, check: allTags, count: tagsList, attempts: 3},
		{name: "reset mid-body", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.on(manifests, resetMidBody)
		}, call: indexPlatforms, ok: true, check: samePlatforms, count: manifests, attempts: 2},
		{name: "reset mid-body always", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, resetMidBody)
		}, call: listTags, is: resolver.ErrUnreachable, msg: []string{"{registry}", "3 attempts"},
			count: tagsList, attempts: 3},

		// Permanent faults: fail fast, with a clear message.
		{name: "401 after token retry", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, func(_ *faultProxy, w http.ResponseWriter, r *http.Request, _ http.Handler) {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test-registry",scope="repository:sdks/golang:pull"`, r.Host))
				status(401, distError("UNAUTHORIZED", "authentication required"))(nil, w, r, nil)
			})
		}, wrap: []func(http.Handler) http.Handler{testregistry.TokenService(false, new(atomic.Int32), new(atomic.Int32))},
			call: listTags, is: resolver.ErrDenied,
			msg:   []string{"cannot list tags of {repo}", "registry {registry}", "HTTP 401", "credentials"},
			facts: "list tags of, status 401, kind registry access denied, cause none, anonymous true",
			// Anonymously, with a token, with a refreshed token.
			count: tagsList, attempts: 3},
		{name: "403", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, status(403, distError("DENIED", "requested access to the resource is denied")))
		}, call: listTags, is: resolver.ErrDenied,
			msg:   []string{"{repo}", "registry {registry}", "HTTP 403", "requested access to the resource is denied"},
			facts: "list tags of, status 403, kind registry access denied, cause none, anonymous true",
			count: tagsList, attempts: 1},
		{name: "404 manifest", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(manifests, status(404, distError("MANIFEST_UNKNOWN", "manifest unknown")))
		}, call: indexPlatforms, is: resolver.ErrNotFound,
			msg:   []string{"{index}", "no such manifest in registry {registry}"},
			count: manifests, attempts: 1},
		{name: "400", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, status(400, distError("PAGINATION_NUMBER_INVALID", "invalid number of results requested")))
		}, call: listTags, msg: []string{"cannot list tags of {repo}", "registry {registry}", "HTTP 400 Bad Request", "invalid number of results requested"},
			// n=1000, then the fallback n=100.
			count: tagsList, attempts: 2},

		// Time and size stay bounded.
		{name: "stalled response", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, stall)
		}, call: listTags, opts: []Option{WithRequestTimeout(time.Second)},
			is: resolver.ErrUnreachable, msg: []string{"registry {registry} did not answer within 1s", "3 attempts"},
			count: tagsList, attempts: 3},
		{name: "stalled response, whole call", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, stall)
		}, call: listTags, opts: []Option{WithTimeout(time.Second)},
			is: context.DeadlineExceeded, msg: []string{"cannot list tags of {repo}: registry {registry} did not answer within 1s"},
			count: tagsList, attempts: 1},
		{name: "slow drip", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(manifests, drip(time.Second))
		}, call: indexPlatforms, opts: []Option{WithRequestTimeout(time.Second)}, is: resolver.ErrUnreachable, msg: []string{"registry {registry}", "too slowly", "1s"},
			count: manifests, attempts: 3},
		{name: "200,000 tags", setup: func(_ *testing.T, f *faultFixture) {
			f.tags = manyTags(200_000)
			f.proxy.always(tagsList, serveTags("sdks/golang", f.tags, 1000))
		}, call: listTags, opts: []Option{WithPageSize(1000)}, ok: true, check: allTags,
			count: tagsList, attempts: 200},

		// Protocol abuse is refused.
		{name: "manifest does not match Docker-Content-Digest", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(manifests, rewrite(tamper))
		}, call: indexPlatforms, is: resolver.ErrInvalidImage,
			msg:   []string{"{index}", "registry {registry}", "Docker-Content-Digest"},
			count: manifests, attempts: 1},
		{name: "manifest does not match pinned digest", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(manifests, rewrite(func(r *http.Request, code *int, h http.Header, body []byte) []byte {
				h.Del("Docker-Content-Digest")
				return tamper(r, code, h, body)
			}))
		}, call: pinnedPlatforms, is: resolver.ErrInvalidImage,
			msg:   []string{"{indexrepo}@sha256:", "registry {registry}", "requested digest"},
			count: manifests, attempts: 1},
		{name: "wrong Content-Type", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(manifests, header("Content-Type", "text/html; charset=utf-8"))
		}, call: indexPlatforms, is: resolver.ErrInvalidImage,
			msg:   []string{"{index}", "registry {registry}", "Content-Type text/html"},
			count: manifests, attempts: 1},
		{name: "truncated tag list", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, rewrite(func(_ *http.Request, _ *int, _ http.Header, body []byte) []byte {
				return body[:len(body)/2]
			}))
		}, call: listTags, msg: []string{"cannot list tags of {repo}", "registry {registry}", "invalid tag list"},
			count: tagsList, attempts: 1},
		{name: "invalid manifest JSON", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(manifests, rewrite(func(_ *http.Request, _ *int, h http.Header, _ []byte) []byte {
				h.Del("Docker-Content-Digest")
				h.Set("Content-Type", "application/vnd.oci.image.index.v1+json")
				return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":{`)
			}))
		}, call: indexPlatforms, is: resolver.ErrInvalidImage,
			msg:   []string{"{index}", "unreadable image index"},
			count: manifests, attempts: 1},
		{name: "Link to itself", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, rewrite(func(r *http.Request, _ *int, h http.Header, body []byte) []byte {
				h.Set("Link", fmt.Sprintf(`<%s>; rel="next"`, r.URL.RequestURI()))
				return body
			}))
		}, call: listTags, ok: true, check: allTags, count: tagsList, attempts: 1},
		{name: "Link loop over two pages", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, rewrite(func(r *http.Request, _ *int, h http.Header, body []byte) []byte {
				n := r.URL.Query().Get("n")
				next := r.URL.Path + "?n=" + n + "&last=bookworm-1.23.4"
				if r.URL.Query().Get("last") != "" {
					next = r.URL.Path + "?n=" + n
				}
				h.Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
				return body
			}))
		}, call: listTags, ok: true, count: tagsList, attempts: 2},
		{name: "Link to another host", setup: func(t *testing.T, f *faultFixture) {
			var hits atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				fmt.Fprint(w, `{"name":"sdks/golang","tags":["bookworm-6.6.6"]}`)
			}))
			t.Cleanup(func() {
				other.Close()
				if n := hits.Load(); n != 0 {
					t.Errorf("the other host got %d requests", n)
				}
			})
			f.proxy.always(tagsList, header("Link", fmt.Sprintf(`<%s/v2/sdks/golang/tags/list?n=100&last=z>; rel="next"`, other.URL)))
		}, call: listTags, ok: true, check: allTags, count: tagsList, attempts: 1},
		{name: "redirect to blob storage", setup: func(t *testing.T, f *faultFixture) {
			var hits atomic.Int32
			storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if r.Header.Get("Authorization") != "" {
					t.Errorf("blob storage got the registry's Authorization header")
				}
				f.proxy.backend.ServeHTTP(w, r)
			}))
			t.Cleanup(func() {
				storage.Close()
				if n := hits.Load(); n != 1 {
					t.Errorf("blob storage got %d requests, want 1", n)
				}
			})
			f.proxy.always(manifests, redirect(storage.URL))
		}, call: indexPlatforms, ok: true, check: samePlatforms, count: manifests, attempts: 1},
		{name: "redirect to blob storage for a config", setup: func(t *testing.T, f *faultFixture) {
			var hits atomic.Int32
			storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				f.proxy.backend.ServeHTTP(w, r)
			}))
			t.Cleanup(func() {
				storage.Close()
				if n := hits.Load(); n != 1 {
					t.Errorf("blob storage got %d requests, want 1", n)
				}
			})
			f.proxy.always(blobs, redirect(storage.URL))
		}, call: resolvePlatform, ok: true, check: func(t *testing.T, _ *faultFixture, got any) {
			if img := got.(PlatformImage); len(img.Config) == 0 || img.Manifest == "" {
				t.Errorf("resolved %+v", img)
			}
		}, count: blobs, attempts: 1},
		{name: "corrupt config blob", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(blobs, rewrite(tamper))
		}, call: resolvePlatform, is: resolver.ErrInvalidImage,
			msg:   []string{"cannot get the image config of {image}", "registry {registry}", "hashes to"},
			count: blobs, attempts: 1},
		{name: "oversized manifest", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(manifests, rewrite(func(_ *http.Request, _ *int, _ http.Header, body []byte) []byte {
				return append(bytes.Clone(body), bytes.Repeat([]byte(" "), 5<<20)...)
			}))
		}, call: indexPlatforms, is: resolver.ErrInvalidImage,
			msg:   []string{"{index}", "registry {registry}", "larger than 4 MiB"},
			count: manifests, attempts: 1},
		{name: "more tags than the cap", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, serveTags("sdks/golang", manyTags(5000), 5000))
		}, call: listTags, opts: []Option{WithPageSize(0), withLimits(0, 1000)},
			msg:   []string{"cannot list tags of {repo}", "registry {registry} lists more than 1000 tags"},
			facts: "list tags of, status 0, kind <nil>, cause list limit, anonymous true",
			count: tagsList, attempts: 1},
		{name: "more pages than the cap", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, serveTags("sdks/golang", manyTags(10), 1))
		}, call: listTags, opts: []Option{WithPageSize(1), withLimits(3, 0)},
			msg:   []string{"cannot list tags of {repo}", "registry {registry} lists more than 3 pages of tags"},
			facts: "list tags of, status 0, kind <nil>, cause list limit, anonymous true",
			count: tagsList, attempts: 3},
		{name: "catalog 503 twice", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.on(catalog, status(503, ""), status(503, ""))
		}, call: func(ctx context.Context, c *Client, f *faultFixture) (any, error) {
			return c.ListRepositories(ctx, f.proxy.host)
		}, ok: true, check: func(t *testing.T, f *faultFixture, got any) {
			if !slices.Contains(got.([]string), f.proxy.host+"/sdks/golang") {
				t.Errorf("repositories %v, want %s/sdks/golang among them", got, f.proxy.host)
			}
		}, count: catalog, attempts: 3},
		{name: "tags list 404", setup: func(_ *testing.T, f *faultFixture) {
			f.proxy.always(tagsList, status(404, "404 page not found\n", "Content-Type: text/plain"))
		}, call: listTags,
			msg:   []string{"listing tags of {repo} failed with HTTP 404", "the registry lists no tags of this repository"},
			facts: "list tags of, status 404, kind <nil>, cause no listing, anonymous true",
			count: tagsList, attempts: 1},
	}
}

// withLimits lowers the listing limits (0 keeps one).
func withLimits(pages, tags int) Option {
	return func(o *options) {
		if pages > 0 {
			o.maxPages = pages
		}
		if tags > 0 {
			o.maxTags = tags
		}
	}
}

// manyTags returns n sorted tags of the sdks/golang layout.
func manyTags(n int) []string {
	tags := make([]string, 0, n)
	for i := range n {
		tags = append(tags, fmt.Sprintf("bookworm-%d.%d.%d", 1+i/10000, i/100%100, i%100))
	}
	slices.Sort(tags)
	return tags
}

// TestFaults runs every fault row against ggcr's in-process registry
// behind the fault proxy.
func TestFaults(t *testing.T) {
	for _, row := range faultRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			f := newFaultFixture(t, row.wrap...)
			runFaultRow(t, f, row)
		})
	}
}

func runFaultRow(t *testing.T, f *faultFixture, row faultRow) {
	t.Helper()
	row.setup(t, f)
	f.proxy.mu.Lock()
	f.proxy.log = nil
	f.proxy.mu.Unlock()
	c := New(append(faultOptions(), row.opts...)...)
	start := time.Now()
	got, err := row.call(context.Background(), c, f)
	elapsed := time.Since(start)
	attempts := f.proxy.count(row.count)
	t.Logf("%s: %d attempts in %s; error: %v", row.name, attempts, elapsed.Round(time.Millisecond), err)

	if row.ok {
		if err != nil {
			t.Fatalf("error %v, want success", err)
		}
		if row.check != nil {
			row.check(t, f, got)
		}
	} else {
		if err == nil {
			t.Fatalf("success (%v), want an error", got)
		}
		if row.is != nil && !errors.Is(err, row.is) {
			t.Errorf("error is not %v", row.is)
		}
		if got := facts(err); row.facts != "" && got != row.facts {
			t.Errorf("facts %q, want %q", got, row.facts)
		}
		registry, _, _ := strings.Cut(f.repo, "/")
		for _, m := range row.msg {
			m = strings.NewReplacer("{registry}", registry, "{repo}", f.repo, "{index}", f.index, "{indexrepo}", f.indexRepo, "{image}", f.image).Replace(m)
			if !strings.Contains(err.Error(), m) {
				t.Errorf("error does not say %q", m)
			}
		}
	}
	if attempts != row.attempts {
		t.Errorf("the proxy saw %d matching requests, want %d: %v", attempts, row.attempts, f.proxy.requests())
	}
	if elapsed < row.min {
		t.Errorf("took %s, want at least %s", elapsed, row.min)
	}
}

// facts are what a *resolver.RegistryError says beyond its message.
func facts(err error) string {
	var re *resolver.RegistryError
	if !errors.As(err, &re) {
		return "no RegistryError"
	}
	return fmt.Sprintf("%s, status %d, kind %v, cause %s, anonymous %v", re.Op, re.Status, re.Kind, re.Cause, re.Anonymous)
}
