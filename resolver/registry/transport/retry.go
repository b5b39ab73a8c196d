package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
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
