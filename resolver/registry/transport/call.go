package transport

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Call is one call of the registry client (ListTags, ResolveManifest,
// ReadImageFile, ...) as its requests need it below go-containerregistry,
// whose
// authenticating http.RoundTripper passes a request on with nothing of the
// caller's but its context: the registry the call works for (the network
// guard's origin), its stats (for its error message), how the bodies of its
// 200 responses are read, and, on each request's own copy, the route the
// guard chose for it. It is the one value a request carries in its context:
// Bind puts it there (the client's session.get and session.authenticate,
// and the guard for a request's route), callFrom reads it. Above the
// RoundTripper boundary a *Call is a parameter, never looked up.
type Call struct {
	registry string // "host[:port]", as the caller named it
	stats    *stats // shared by every copy: one call's requests
	// How a 200's body is read: in memory (neither), decoded as it
	// arrives by reader (a page of tags or of the catalog), or handed over
	// unread (streaming: a blob).
	reader    *BodyReader
	streaming bool
	// route is how the guard sends one request (nil until it decided):
	// its transport's Proxy and DialContext carry it out.
	route *route
}

// NewCall starts a call on registry ("host[:port]").
func NewCall(registry string) *Call { return &Call{registry: registry, stats: &stats{}} }

// Reading is cl with its 200 bodies decoded by rd as they arrive.
func (cl *Call) Reading(rd *BodyReader) *Call {
	c := *cl
	c.reader, c.streaming = rd, false
	return &c
}

// Streamed is cl with its 200 bodies handed over unread.
func (cl *Call) Streamed() *Call {
	c := *cl
	c.reader, c.streaming = nil, true
	return &c
}

// InMemory is cl with its bodies read in memory: for the requests of
// authentication (ping, token), whatever the call's own requests do.
func (cl *Call) InMemory() *Call {
	c := *cl
	c.reader, c.streaming = nil, false
	return &c
}

// routed is cl for one request the guard sends by rt.
func (cl *Call) routed(rt *route) *Call {
	c := *cl
	c.route = rt
	return &c
}

type callKey struct{}

// Bind returns ctx for requests of cl.
func (cl *Call) Bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, callKey{}, cl)
}

// callFrom is the call a request's context carries.
func callFrom(ctx context.Context) (*Call, bool) {
	cl, ok := ctx.Value(callKey{}).(*Call)
	return cl, ok && cl != nil
}

// callOf is the call req belongs to; a request sent outside any call is a
// bug in the client, refused before it goes anywhere, since the guard
// could not tell which registry it is for.
func callOf(req *http.Request) (*Call, error) {
	if cl, ok := callFrom(req.Context()); ok {
		return cl, nil
	}
	return nil, &NoCallError{method: req.Method, url: Excerpt([]byte(req.URL.Redacted()), 200)}
}

// NoCallError is a request sent outside any call of the client.
type NoCallError struct{ method, url string }

func (e *NoCallError) Error() string {
	return fmt.Sprintf("registry client bug: %s %s was sent outside any call (its context carries no per-call state), so the network guard cannot tell which registry it is for", e.method, e.url)
}

// Withhold records that the call did not send its credentials to realm, a
// token service, for its error message.
func (cl *Call) Withhold(realm string) { cl.stats.withhold(realm) }

// RealmWithheld is the token realm the call last withheld credentials
// from, or "".
func (cl *Call) RealmWithheld() string { return cl.stats.realmWithheld() }

// Attempts is how often the call's last request that failed temporarily
// was sent, and the last wait a registry asked for that was too long.
func (cl *Call) Attempts() (attempts int, refusedWait time.Duration) { return cl.stats.get() }

// stats is what the requests of one call went through, for its error
// message. The retry transport finds it in the request's call.
type stats struct {
	mu         sync.Mutex
	attempts   int           // of the last request that failed temporarily
	retryAfter time.Duration // the last wait asked for that was too long
	withheld   string        // a token realm not sent the credentials
}

func (st *stats) done(attempts int, temporary bool) {
	if st == nil || !temporary {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.attempts = attempts
}

func (st *stats) refusedWait(d time.Duration) {
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.retryAfter = d
}

func (st *stats) withhold(realm string) {
	if st == nil || realm == "" {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.withheld = realm
}

func (st *stats) realmWithheld() string {
	if st == nil {
		return ""
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.withheld
}

func (st *stats) get() (attempts int, retryAfter time.Duration) {
	if st == nil {
		return 0, 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.attempts, st.retryAfter
}
