package registry

import (
	"context"
	"fmt"
	"net/http"
)

// call is one call of the Client (ListTags, ResolveManifest, ReadImageFile,
// ...) as its requests need it below go-containerregistry, whose
// authenticating http.RoundTripper passes a request on with nothing of the
// caller's but its context: the registry the call works for (the network
// guard's origin), its stats (for its error message), how the bodies of its
// 200 responses are read, and, on each request's own copy, the route the
// guard chose for it. It is the one value a request carries in its context:
// bind puts it there (session.get, session.authenticate, and the guard for
// a request's route), callFrom reads it. Above the RoundTripper boundary a
// *call is a parameter, never looked up.
type call struct {
	registry string // "host[:port]", as the caller named it
	stats    *stats // shared by every copy: one call's requests
	// How a 200's body is read: in memory (neither), decoded as it
	// arrives by reader (a page of tags or of the catalog), or handed over
	// unread (streaming: a blob).
	reader    *bodyReader
	streaming bool
	// route is how the guard sends one request (nil until it decided):
	// its transport's Proxy and DialContext carry it out.
	route *route
}

// newCall starts a call on registry ("host[:port]").
func newCall(registry string) *call { return &call{registry: registry, stats: &stats{}} }

// reading is cl with its 200 bodies decoded by rd as they arrive.
func (cl *call) reading(rd *bodyReader) *call {
	c := *cl
	c.reader, c.streaming = rd, false
	return &c
}

// streamed is cl with its 200 bodies handed over unread.
func (cl *call) streamed() *call {
	c := *cl
	c.reader, c.streaming = nil, true
	return &c
}

// inMemory is cl with its bodies read in memory: for the requests of
// authentication (ping, token), whatever the call's own requests do.
func (cl *call) inMemory() *call {
	c := *cl
	c.reader, c.streaming = nil, false
	return &c
}

// routed is cl for one request the guard sends by rt.
func (cl *call) routed(rt *route) *call {
	c := *cl
	c.route = rt
	return &c
}

type callKey struct{}

// bind returns ctx for requests of cl.
func (cl *call) bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, callKey{}, cl)
}

// callFrom is the call a request's context carries.
func callFrom(ctx context.Context) (*call, bool) {
	cl, ok := ctx.Value(callKey{}).(*call)
	return cl, ok && cl != nil
}

// callOf is the call req belongs to; a request sent outside any call is a
// bug in this package, refused before it goes anywhere, since the guard
// could not tell which registry it is for.
func callOf(req *http.Request) (*call, error) {
	if cl, ok := callFrom(req.Context()); ok {
		return cl, nil
	}
	return nil, &noCallError{method: req.Method, url: excerpt([]byte(req.URL.Redacted()), 200)}
}

// noCallError is a request sent outside any call of the Client.
type noCallError struct{ method, url string }

func (e *noCallError) Error() string {
	return fmt.Sprintf("registry client bug: %s %s was sent outside any call (its context carries no per-call state), so the network guard cannot tell which registry it is for", e.method, e.url)
}
