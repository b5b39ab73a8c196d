package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// retryTransport sends each request up to 1+retries times. An attempt
// fails temporarily on a connection error (refused, reset, also in the
// middle of the body), on a status of 408, 429 or 5xx (but 501, 505, 511),
// or when it takes longer than the request timeout, from sending the
// request to the last byte of the body. It waits between attempts with
// exponential backoff and jitter, or for as long as a Retry-After header
// asks, up to a cap; a registry asking for a longer wait, or for more time
// than the call has left, gets no retry.
//
// Each response body is read in full (up to a size limit) within its
// attempt, so that a reset in the middle of a body is retried like any
// other, and the caller gets the response with the body in memory.
type retryTransport struct {
	next http.RoundTripper
	o    *Options
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cl, err := callOf(req)
	if err != nil {
		return nil, err
	}
	st := cl.stats
	if t.o.UserAgent != "" {
		req = req.Clone(ctx)
		req.Header.Set("User-Agent", t.o.UserAgent)
	}
	// Requests with a body (token POSTs) go once: it cannot be sent again.
	idempotent := (req.Method == http.MethodGet || req.Method == http.MethodHead) && req.Body == nil
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(req, cl)
		wait, temporary := t.retryable(resp, err, attempt)
		last := !idempotent || !temporary || attempt > t.o.Retries
		if !last && wait > t.o.MaxRetryAfter {
			st.refusedWait(wait)
			last = true
		}
		if deadline, ok := ctx.Deadline(); !last && ok && time.Until(deadline) < wait {
			last = true
		}
		if last {
			st.done(attempt, temporary)
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// attempt sends req once, under the request timeout, and reads the body:
// in full, into memory, unless the bodyReader of its call takes it (a
// page of tags or repositories, decoded as it arrives), or the call
// streams (a blob, stream.go's streamAttempt: the body is handed over
// unread; the request timeout then bounds each wait for more of it, not
// the whole).
func (t *retryTransport) attempt(req *http.Request, cl *Call) (*http.Response, error) {
	if cl.streaming {
		return t.streamAttempt(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	if t.o.RequestTimeout > 0 {
		ctx, cancel = context.WithTimeout(req.Context(), t.o.RequestTimeout)
	}
	defer cancel()
	timedOut := func() bool { return ctx.Err() != nil && req.Context().Err() == nil }

	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		if timedOut() {
			return nil, &TimeoutError{host: req.URL.Host, after: t.o.RequestTimeout}
		}
		return nil, err
	}
	ok := resp.StatusCode == http.StatusOK
	if rd := cl.reader; ok && rd != nil && rd.takes(req) {
		return t.readInto(rd, req, resp, timedOut)
	}
	limit, truncate := t.o.MaxBodyBytes, false
	if resp.StatusCode/100 != 2 || req.URL.Path == "/v2/" {
		// Error bodies and pings: only the start is of use.
		limit, truncate = maxErrorBody, true
	}
	var body []byte
	if truncate {
		body, err = io.ReadAll(io.LimitReader(resp.Body, limit))
	} else {
		body, err = ReadAll(resp.Body, limit)
	}
	resp.Body.Close()
	switch {
	case err == nil:
	case errors.Is(err, ErrTooLarge):
		return nil, &TooLargeError{What: fmt.Sprintf("a response larger than %s to GET %s", Size(limit), Excerpt([]byte(req.URL.Path), 100))}
	case timedOut():
		return nil, &TimeoutError{host: req.URL.Host, after: t.o.RequestTimeout, body: true, got: len(body), want: resp.ContentLength}
	default:
		return nil, fmt.Errorf("reading the response to GET %s: %w", Excerpt([]byte(req.URL.Path), 100), err)
	}
	resp.Body = &memBody{Reader: bytes.NewReader(body), b: body}
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// decodeError is a body its BodyReader refused: sending the request again
// would bring the same body.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// TooLargeError is a response larger than the transport reads of one.
type TooLargeError struct {
	What string // "a response larger than 8 MiB to GET /v2/…"
}

func (e *TooLargeError) Error() string { return "sent " + e.What }

// memBody is a response body read in full.
type memBody struct {
	*bytes.Reader
	b []byte
}

func (*memBody) Close() error { return nil }

// maxErrorBody bounds what is read of an error response, and of a ping.
const maxErrorBody = 64 << 10

// readInto has rd decode resp's body within the attempt. A failure to
// read the body (a reset, a timeout) fails the attempt like any other, so
// that it is retried; a body that does not decode does not.
func (t *retryTransport) readInto(rd *BodyReader, req *http.Request, resp *http.Response, timedOut func() bool) (*http.Response, error) {
	body := &countingReader{r: resp.Body, left: rd.Limit}
	err := rd.Decode(body)
	resp.Body.Close()
	switch {
	case body.err != nil && body.err != io.EOF && !errors.Is(body.err, ErrTooLarge):
		if timedOut() {
			return nil, &TimeoutError{host: req.URL.Host, after: t.o.RequestTimeout, body: true, got: int(body.n), want: resp.ContentLength}
		}
		return nil, fmt.Errorf("reading the response to GET %s: %w", Excerpt([]byte(req.URL.Path), 100), body.err)
	case errors.Is(body.err, ErrTooLarge):
		return nil, &TooLargeError{What: fmt.Sprintf("a response larger than %s to GET %s", Size(rd.Limit), Excerpt([]byte(req.URL.Path), 100))}
	case err != nil:
		return nil, &decodeError{err}
	}
	rd.Done = true
	resp.Body = &memBody{Reader: bytes.NewReader(nil)}
	resp.ContentLength = 0
	return resp, nil
}

// BodyReader decodes the body of a 200 response to a request whose path
// ends in suffix, as it arrives, for the call that reads with it
// (call.reading). read starts afresh for each attempt; done is set once it
// succeeded. A response it does not take (one redirected elsewhere) comes
// back in memory.
type BodyReader struct {
	Suffix string
	Limit  int64 // bytes of one response
	Decode func(io.Reader) error
	Done   bool
}

func (rd *BodyReader) takes(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, rd.Suffix)
}

// countingReader reads at most left bytes of r; more is ErrTooLarge. It
// keeps the error r returned.
type countingReader struct {
	r    io.Reader
	left int64
	n    int64
	err  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.left -= int64(n)
	if c.left < 0 {
		n += int(c.left)
		c.err = ErrTooLarge
		return n, c.err
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// retryable reports whether an attempt's outcome is worth another attempt,
// and after how long.
func (t *retryTransport) retryable(resp *http.Response, err error, attempt int) (time.Duration, bool) {
	backoff := t.o.Backoff << (attempt - 1)
	if backoff <= 0 || backoff > t.o.MaxBackoff {
		backoff = t.o.MaxBackoff
	}
	// Equal jitter: between half the backoff and all of it.
	backoff = backoff/2 + rand.N(backoff/2+1)
	if err != nil {
		return backoff, Temporary(err)
	}
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests,
		c >= 500 && c != http.StatusNotImplemented && c != http.StatusHTTPVersionNotSupported && c != http.StatusNetworkAuthenticationRequired:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d, true
		}
		return backoff, true
	}
	return 0, false
}

// Temporary reports whether a failed attempt may succeed when repeated.
func Temporary(err error) bool {
	var (
		te   *TimeoutError
		dns  *net.DNSError
		tl   *TooLargeError
		de   *decodeError
		ph   *PlainHTTPError
		ae   *AddressError
		cert *tls.CertificateVerificationError
		rh   tls.RecordHeaderError
		ua   x509.UnknownAuthorityError
		he   x509.HostnameError
		ci   x509.CertificateInvalidError
		nerr net.Error
	)
	switch {
	case errors.As(err, &te):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false // the caller's context: nothing left to try in
	case errors.As(err, &tl), errors.As(err, &de), errors.As(err, &ph), errors.As(err, &ae),
		errors.As(err, &cert), errors.As(err, &rh), errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci),
		errors.Is(err, http.ErrSchemeMismatch):
		return false
	case errors.As(err, &dns):
		return !dns.IsNotFound
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, net.ErrClosed):
		return true
	}
	return errors.As(err, &nerr)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// ErrTooLarge is a body longer than its reader allows (ReadAll).
var ErrTooLarge = errors.New("response too large")

// ReadAll reads r up to limit bytes; more is ErrTooLarge.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, err
}

// Size is n bytes as an error message gives a limit: "8 MiB", "100 bytes".
func Size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// TimeoutError is an attempt that took longer than the request timeout.
type TimeoutError struct {
	host  string
	after time.Duration
	body  bool  // the headers came, the body did not
	got   int   // body bytes received
	want  int64 // Content-Length, or -1
}

func (e *TimeoutError) Error() string {
	if !e.body {
		return fmt.Sprintf("registry %s did not answer within %s", e.host, e.after)
	}
	of := ""
	if e.want >= 0 {
		of = fmt.Sprintf(" of %d", e.want)
	}
	return fmt.Sprintf("registry %s sent its response too slowly: %d%s bytes in %s", e.host, e.got, of, e.after)
}

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

// tlsGuard refuses plain HTTP to hosts that must use TLS. ggcr itself falls
// back to HTTP for private (RFC 1918) addresses too, and a bearer realm, a
// redirect or a Link could point anywhere.
type tlsGuard struct {
	next      http.RoundTripper
	plainHTTP func(host string) bool
}

// PlainHTTPError is a plain-HTTP request to a host that must use TLS.
type PlainHTTPError struct{ host string }

// PlainHTTPAnswer reports whether err is an HTTPS request that a server
// answered in plain HTTP. An http.Client reports it as
// http.ErrSchemeMismatch; below one, a transport sees the TLS record header
// that net/http checks for it, one that starts "HTTP/".
func PlainHTTPAnswer(err error) bool {
	var rh tls.RecordHeaderError
	return errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/"
}

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: only loopback registries and those configured as insecure are used without TLS", e.host)
}

func (g tlsGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plainHTTP(req.URL.Host) {
		return nil, &PlainHTTPError{req.URL.Host}
	}
	return g.next.RoundTrip(req)
}
