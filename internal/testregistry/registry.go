// Package testregistry is an OCI registry for tests, in process and on
// 127.0.0.1 (so plain HTTP), with helpers that build small deterministic
// images and indexes and push them to it. It keeps go-containerregistry out
// of the tests that use it: those name only this package.
//
// A Registry may want HTTP basic auth or a bearer token, as a distribution
// registry does, page its tags as distribution does (Paged), or put a
// test's own handlers in front of it (Wrap); pushes go past all of that,
// straight to its store.
package testregistry

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Registry is an in-memory registry served on 127.0.0.1. Close it to take
// it offline; it is closed at the end of the test anyway.
type Registry struct {
	*httptest.Server
	// Host is the registry's host:port, as an image reference names it.
	Host string

	store    http.Handler // the registry without its auth
	handler  http.Handler // what the server serves
	requests atomic.Int32

	mu        sync.Mutex
	referrers map[string][]ocispecs.Descriptor // "repo:sha256-<hex>" -> signatures (Attach)
}

// Option configures a Registry.
type Option func(*options)

type options struct {
	gate func(w http.ResponseWriter, r *http.Request) bool // false: answered
	wrap []func(http.Handler) http.Handler                 // outermost first
}

// Wrap puts handlers in front of the registry, the first outermost, each
// given the next (the last the registry, its auth included): a test's
// faults or counters, or a registry's quirks.
func Wrap(mw ...func(http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap = append(o.wrap, mw...) }
}

// unauthorized answers 401 with a challenge, as a distribution registry does.
func unauthorized(w http.ResponseWriter, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}

// BasicAuth makes the registry want HTTP basic auth as user with pass, as a
// distribution registry with htpasswd does (realm "sdks").
func BasicAuth(user, pass string) Option {
	return func(o *options) {
		o.gate = func(w http.ResponseWriter, r *http.Request) bool {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				unauthorized(w, `Basic realm="sdks"`)
				return false
			}
			return true
		}
	}
}

// BearerAuth makes the registry want "Authorization: Bearer token",
// challenging for it with the token service at realm (service "sdks").
func BearerAuth(realm, token string) Option {
	return func(o *options) {
		o.gate = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Authorization") != "Bearer "+token {
				unauthorized(w, fmt.Sprintf(`Bearer realm=%q,service="sdks"`, realm))
				return false
			}
			r.Header.Del("Authorization")
			return true
		}
	}
}

// New starts an empty registry, closed when the test ends.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := &Registry{store: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if o.gate != nil && !o.gate(w, req) {
			return
		}
		r.store.ServeHTTP(w, req)
	})
	for i := len(o.wrap) - 1; i >= 0; i-- {
		h = o.wrap[i](h)
	}
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		h.ServeHTTP(w, req)
	})
	r.Server = httptest.NewServer(r.handler)
	t.Cleanup(r.Close)
	r.Host = strings.TrimPrefix(r.URL, "http://")
	return r
}

// Handler is the registry as its server serves it, wrappers and auth
// included, for a test that serves it behind a proxy of its own.
func (r *Registry) Handler() http.Handler { return r.handler }

// Requests is how many requests the registry's server has had (pushes do
// not count).
func (r *Registry) Requests() int32 { return r.requests.Load() }

// Push writes an image or an index (from NewImage or NewIndex) to repoTag
// ("sdks/golang:bookworm-1.23.4"), past the registry's auth.
func (r *Registry) Push(t testing.TB, repoTag string, img remote.Taggable) {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	tr := remote.WithTransport(storeTransport{r.store})
	switch img := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, img, tr)
	case v1.Image:
		err = remote.Write(ref, img, tr)
	default:
		t.Fatalf("push %s: %T is neither an image nor an index", ref, img)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// PushManifest PUTs body as the manifest repo:tag, of media type mt (any,
// a schema 1 manifest too), past the registry's auth and wrappers.
func (r *Registry) PushManifest(t testing.TB, repo, tag, mt string, body []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/v2/%s/manifests/%s", repo, tag), bytes.NewReader(body))
	req.Header.Set("Content-Type", mt)
	rec := httptest.NewRecorder()
	r.store.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT manifest %s:%s: HTTP %d %s", repo, tag, rec.Code, rec.Body)
	}
}

// storeTransport serves requests with the registry's store in process.
type storeTransport struct{ store http.Handler }

func (s storeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context()) // as a server sees it: a body, maybe empty
	if in.Body == nil {
		in.Body = http.NoBody
	}
	defer in.Body.Close()
	rec := httptest.NewRecorder()
	s.store.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
