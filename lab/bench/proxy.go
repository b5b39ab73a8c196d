package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// reqLog is an in-memory access log shared by the proxies and the file
// server: mark before a build, since after it.
type reqLog struct {
	mu   sync.Mutex
	reqs []request
}

func (l *reqLog) add(r request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}

func (l *reqLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

func (l *reqLog) since(m int) []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]request(nil), l.reqs[m:]...)
}

// countingWriter counts the body bytes of a response.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// bucket caps throughput: every byte takes 1/rate seconds of a shared clock.
type bucket struct {
	mu   sync.Mutex
	rate float64 // bytes per second
	t    time.Time
}

func (b *bucket) wait(n int) {
	b.mu.Lock()
	now := time.Now()
	if b.t.Before(now) {
		b.t = now
	}
	b.t = b.t.Add(time.Duration(float64(n) / b.rate * float64(time.Second)))
	d := time.Until(b.t)
	b.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

type throttled struct {
	io.ReadCloser
	b *bucket
}

func (t throttled) Read(p []byte) (int, error) {
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		t.b.wait(n)
	}
	return n, err
}

// proxy sits in front of the registry: a fixed latency per request (a round
// trip to a registry across the internet), a shared bandwidth cap on
// response bodies, its own access log, and repositories whose tag lists it
// synthesizes (all else of theirs is served from another repository).
type proxy struct {
	host    string
	latency time.Duration
	bw      *bucket
	log     reqLog
	maxPage int
	// synth: repository -> its tags, sorted; alias: repository -> the
	// repository that serves its manifests and blobs.
	synth map[string][]string
	alias map[string]string
	rp    *httputil.ReverseProxy
}

// startProxy serves on a free loopback port. mbits 0 is no cap.
func startProxy(target string, latency time.Duration, mbits float64, maxPage int) *proxy {
	p := &proxy{latency: latency, maxPage: maxPage, synth: map[string][]string{}, alias: map[string]string{}}
	if mbits > 0 {
		p.bw = &bucket{rate: mbits * 1e6 / 8}
	}
	u, _ := url.Parse("http://" + target)
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	p.rp.FlushInterval = -1
	p.rp.ModifyResponse = func(r *http.Response) error {
		if p.bw != nil {
			r.Body = throttled{r.Body, p.bw}
		}
		// Absolute links stay on the proxy.
		if loc := r.Header.Get("Location"); strings.Contains(loc, target) {
			r.Header.Set("Location", strings.Replace(loc, target, p.host, 1))
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	p.host = l.Addr().String()
	go func() { _ = http.Serve(l, p) }()
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.latency > 0 {
		time.Sleep(p.latency)
	}
	cw := &countingWriter{ResponseWriter: w}
	defer func() {
		p.log.add(request{method: r.Method, path: r.URL.RequestURI(), agent: r.UserAgent(), status: cw.status, bytes: cw.n})
	}()
	repo, rest, ok := splitV2(r.URL.Path)
	if ok {
		if tags, synth := p.synth[repo]; synth && rest == "tags/list" {
			p.serveTags(cw, r, repo, tags)
			return
		}
		if to, ok := p.alias[repo]; ok {
			r.URL.Path = "/v2/" + to + "/" + rest
			r.URL.RawPath = ""
		}
	}
	p.rp.ServeHTTP(cw, r)
}

// splitV2 splits /v2/<repo>/{tags/list,manifests/x,blobs/x}.
func splitV2(path string) (repo, rest string, ok bool) {
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", "", false
	}
	for _, k := range []string{"/tags/", "/manifests/", "/blobs/"} {
		if i := strings.LastIndex(p, k); i > 0 {
			return p[:i], p[i+1:], true
		}
	}
	return "", "", false
}

// serveTags pages a synthesized tag list as the distribution registry does:
// n (clamped to maxPage), last, and a Link to the next page.
func (p *proxy) serveTags(w http.ResponseWriter, r *http.Request, repo string, tags []string) {
	q := r.URL.Query()
	start := 0
	if last := q.Get("last"); last != "" {
		start = sort.SearchStrings(tags, last)
		if start < len(tags) && tags[start] == last {
			start++
		}
	}
	n := len(tags) - start
	if s := q.Get("n"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v >= 0 {
			n = min(v, n)
		}
	}
	if p.maxPage > 0 {
		n = min(n, p.maxPage)
	}
	page := tags[start : start+n]
	if start+n < len(tags) && n > 0 {
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?last=%s&n=%d>; rel="next"`, repo, url.QueryEscape(page[len(page)-1]), n))
	}
	w.Header().Set("Content-Type", "application/json")
	var b strings.Builder
	fmt.Fprintf(&b, `{"name":%q,"tags":[`, repo)
	for i, t := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", t)
	}
	b.WriteString("]}")
	_, _ = io.WriteString(w, b.String())
}

// hugeTags is a synthetic repository's 200,000 tags: four flavors ×
// 0..49.0..49.0..19, sorted as a registry sorts them. Its newest bookworm
// 1.23.x is 1.23.19, which big/golang has.
func hugeTags() []string {
	var tags []string
	for _, f := range []string{"bookworm", "bullseye", "trixie", "noble"} {
		for a := range 50 {
			for b := range 50 {
				for c := range 20 {
					tags = append(tags, fmt.Sprintf("%s-%d.%d.%d", f, a, b, c))
				}
			}
		}
	}
	sort.Strings(tags)
	return tags
}

// fileServer serves dir over loopback HTTP (for ADD --unpack), logging
// every request and the bytes it sent.
type fileServer struct {
	host string
	log  reqLog
}

func startFileServer(dir string) *fileServer {
	fsrv := &fileServer{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	fsrv.host = l.Addr().String()
	h := http.FileServer(http.Dir(dir))
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { //nolint:errcheck // returns when the bench exits
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/pprof/") {
			// Profiles from the profiled frontend (lab/bench/pprof).
			out := filepath.Join(*benchDir, "out", "pprof", filepath.Base(r.URL.Path))
			err := os.MkdirAll(filepath.Dir(out), 0o755)
			var f *os.File
			if err == nil {
				f, err = os.Create(out)
			}
			if err == nil {
				_, err = io.Copy(f, r.Body)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
			}
			return
		}
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		fsrv.log.add(request{method: r.Method, path: r.URL.RequestURI(), agent: r.UserAgent(), status: cw.status, bytes: cw.n})
	}))
	return fsrv
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	check(err)
	return a
}
