package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy is an HTTP server in front of a registry that injects faults
// into the requests its scripts select. The registry is any http.Handler:
// ggcr's in-process registry in unit tests, or a reverse proxy to a real
// one. Requests no script takes are passed to the registry unchanged.
type faultProxy struct {
	*httptest.Server
	host    string
	backend http.Handler
	done    chan struct{} // closed when the test ends; releases stalled handlers

	mu      sync.Mutex
	scripts []*script
	log     []string // "GET /v2/...", every request in order
}

// script applies steps to the requests match selects: the i-th matching
// request gets steps[i]; once the steps run out, the last one repeats if
// repeat is set, and requests pass through otherwise.
type script struct {
	match  func(*http.Request) bool
	steps  []fault
	repeat bool
	n      int // matching requests so far
}

// fault serves one request, in place of the registry (next) or around it.
type fault func(p *faultProxy, w http.ResponseWriter, r *http.Request, next http.Handler)

// newFaultProxy starts a fault-injecting proxy in front of backend.
func newFaultProxy(t testing.TB, backend http.Handler) *faultProxy {
	t.Helper()
	p := &faultProxy{backend: backend, done: make(chan struct{})}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	p.host = strings.TrimPrefix(p.URL, "http://")
	t.Cleanup(p.Close)                  // runs second
	t.Cleanup(func() { close(p.done) }) // runs first: stalls end
	return p
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.log = append(p.log, r.Method+" "+r.URL.RequestURI())
	var f fault
	// Every script that matches counts the request; the first one with a
	// step for it serves it.
	for _, s := range p.scripts {
		if !s.match(r) {
			continue
		}
		var step fault
		switch i := s.n; {
		case i < len(s.steps):
			step = s.steps[i]
		case s.repeat && len(s.steps) > 0:
			step = s.steps[len(s.steps)-1]
		}
		s.n++
		if f == nil {
			f = step
		}
	}
	p.mu.Unlock()
	if f == nil {
		p.backend.ServeHTTP(w, r)
		return
	}
	f(p, w, r, p.backend)
}

// on makes the first len(steps) requests that match get steps, in order.
func (p *faultProxy) on(match func(*http.Request) bool, steps ...fault) *faultProxy {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scripts = append(p.scripts, &script{match: match, steps: steps})
	return p
}

// always makes every request that matches get f.
func (p *faultProxy) always(match func(*http.Request) bool, f fault) *faultProxy {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scripts = append(p.scripts, &script{match: match, steps: []fault{f}, repeat: true})
	return p
}

// count is how many requests the proxy saw that match.
func (p *faultProxy) count(match func(*http.Request) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.log {
		method, uri, _ := strings.Cut(l, " ")
		u, _ := url.ParseRequestURI(uri)
		if u != nil && match(&http.Request{Method: method, URL: u}) {
			n++
		}
	}
	return n
}

// requests is the proxy's request log.
func (p *faultProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// Request matchers.
var (
	tagsList  = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/tags/list") }
	manifests = func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") }
	blobs     = func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/") }
	catalog   = func(r *http.Request) bool { return r.URL.Path == "/v2/_catalog" }
)

// Faults.

// status answers with code, the headers given as "Key: value" and body.
func status(code int, body string, headers ...string) fault {
	return func(_ *faultProxy, w http.ResponseWriter, r *http.Request, _ http.Handler) {
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ": ")
			w.Header().Add(k, v)
		}
		if body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

// distError is a distribution error body.
func distError(code, msg string) string {
	return fmt.Sprintf(`{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

// reset closes the connection with a TCP RST before answering.
func reset(_ *faultProxy, w http.ResponseWriter, _ *http.Request, _ http.Handler) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	abort(conn)
}

func abort(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST
	}
	conn.Close()
}

// resetMidBody sends the registry's status, headers and half its body, then
// resets the connection.
func resetMidBody(_ *faultProxy, w http.ResponseWriter, r *http.Request, next http.Handler) {
	rec := record(next, r)
	copyHeader(w.Header(), rec.Header())
	body := rec.Body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	abort(conn)
}

// stall never answers: it holds the request until the client gives up or
// the test ends.
func stall(p *faultProxy, _ http.ResponseWriter, r *http.Request, _ http.Handler) {
	select {
	case <-r.Context().Done():
	case <-p.done:
	}
}

// drip sends the registry's status and headers at once, then its body one
// byte every interval.
func drip(every time.Duration) fault {
	return func(p *faultProxy, w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := record(next, r)
		copyHeader(w.Header(), rec.Header())
		body := rec.Body.Bytes()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.(http.Flusher).Flush()
		for _, b := range body {
			select {
			case <-r.Context().Done():
				return
			case <-p.done:
				return
			case <-time.After(every):
			}
			w.Write([]byte{b})
			w.(http.Flusher).Flush()
		}
	}
}

// rewrite passes the request to the registry and edits its answer before
// sending it: edit may change the status, the headers and the body.
func rewrite(edit func(r *http.Request, code *int, h http.Header, body []byte) []byte) fault {
	return func(_ *faultProxy, w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := record(next, r)
		code := rec.Code
		h := rec.Header().Clone()
		body := edit(r, &code, h, rec.Body.Bytes())
		copyHeader(w.Header(), h)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		w.Write(body)
	}
}

// header sets a response header on the registry's answer.
func header(key, value string) fault {
	return rewrite(func(_ *http.Request, _ *int, h http.Header, body []byte) []byte {
		h.Set(key, value)
		return body
	})
}

// redirect answers 307 with a Location on target (a URL prefix), keeping the path.
func redirect(target string) fault {
	return func(_ *faultProxy, w http.ResponseWriter, r *http.Request, _ http.Handler) {
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}
}

// serveTags answers tags/list from tags (sorted), in pages of the n the
// client asks for (at most max), linked with Link headers as distribution
// does. The pages are encoded once, up front, so that serving them
// allocates little (the memory test measures the client).
func serveTags(repo string, tags []string, max int) fault {
	type page struct {
		body []byte
		link string
	}
	var mu sync.Mutex
	pages := map[string]page{} // "n last" -> page
	build := func(path string, n int, last string) page {
		mu.Lock()
		defer mu.Unlock()
		key := fmt.Sprint(n, " ", last)
		if pg, ok := pages[key]; ok {
			return pg
		}
		start := 0
		if last != "" {
			start = len(tags)
			for i, t := range tags {
				if t > last {
					start = i
					break
				}
			}
		}
		end := min(start+n, len(tags))
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(map[string]any{"name": repo, "tags": tags[start:end]})
		pg := page{body: b.Bytes()}
		if end < len(tags) {
			q := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[end-1]}}
			pg.link = fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode())
		}
		pages[key] = pg
		return pg
	}
	return func(_ *faultProxy, w http.ResponseWriter, r *http.Request, _ http.Handler) {
		n := max
		if v, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil && v > 0 && v < max {
			n = v
		}
		pg := build(r.URL.Path, n, r.URL.Query().Get("last"))
		if pg.link != "" {
			w.Header().Set("Link", pg.link)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(pg.body)))
		w.Write(pg.body)
	}
}

// prebuild makes serveTags encode every page the client will ask for (n per
// page), before a measurement starts.
func prebuild(f fault, n int) {
	last := ""
	for {
		rec := httptest.NewRecorder()
		q := url.Values{"n": {strconv.Itoa(n)}}
		if last != "" {
			q.Set("last", last)
		}
		r := httptest.NewRequest("GET", "/v2/x/tags/list?"+q.Encode(), nil)
		f(nil, rec, r, nil)
		link := rec.Header().Get("Link")
		if link == "" {
			return
		}
		u, _ := url.Parse(strings.TrimSuffix(strings.TrimPrefix(strings.Fields(link)[0], "<"), ">;"))
		last = u.Query().Get("last")
	}
}

func record(next http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec
}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append([]string(nil), vv...)
	}
}
