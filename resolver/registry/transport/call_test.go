package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A request sent outside any call is a bug: the retry transport and the
// network guard alike refuse it before it reaches anything, with an error
// that says so, rather than guess its registry or panic. Within a call, the
// same request goes.
func TestRequestOutsideCall(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	tr := New(Options{PlainHTTP: func(string) bool { return true }})
	g := tr.(*retryTransport).next.(tlsGuard).next.(*netGuard)
	for name, rt := range map[string]http.RoundTripper{"transport": tr, "guard": g} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		var nc *NoCallError
		if resp != nil || !errors.As(err, &nc) || !strings.Contains(err.Error(), "registry client bug: GET "+srv.URL+"/v2/ was sent outside any call") {
			t.Errorf("%s: %v, %v; want the bug named", name, resp, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests sent outside any call", n)
	}

	req, err := http.NewRequestWithContext(NewCall(srv.Listener.Addr().String()).Bind(context.Background()), http.MethodGet, srv.URL+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Errorf("within a call: HTTP %d, %d requests; want 200, 1", resp.StatusCode, hits.Load())
	}
}
