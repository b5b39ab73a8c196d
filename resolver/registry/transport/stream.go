package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// A streamed request's body is handed over unread, and bounded by an idle
// timer instead of the request timeout: a layer may take minutes, but each
// read must bring something within the request timeout.

// streamAttempt is attempt for a streamed request. The response must start
// within the request timeout, as in attempt; a 200's body is then handed
// over unread, and a Read fails when no byte came for the request timeout
// (a stallError). Other answers (errors, redirects, challenges) are read in
// full, as attempt reads them.
func (t *retryTransport) streamAttempt(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	idle := newIdleTimer(t.o.RequestTimeout, cancel)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if !idle.stop() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, &TimeoutError{host: req.URL.Host, after: t.o.RequestTimeout}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		resp.Body = &streamBody{body: resp.Body, cancel: cancel, idle: idle, host: req.URL.Host, want: resp.ContentLength}
		return resp, nil
	}
	defer cancel()
	idle.start()
	var body []byte
	limit := t.o.MaxBodyBytes
	if resp.StatusCode/100 != 2 {
		// Error bodies: only the start is of use, as in attempt.
		limit = maxErrorBody
		body, err = io.ReadAll(io.LimitReader(resp.Body, limit))
	} else {
		body, err = ReadAll(resp.Body, limit)
	}
	resp.Body.Close()
	switch timedOut := !idle.stop(); {
	case timedOut:
		return nil, &TimeoutError{host: req.URL.Host, after: t.o.RequestTimeout, body: true, got: len(body), want: resp.ContentLength}
	case errors.Is(err, ErrTooLarge):
		return nil, &TooLargeError{What: fmt.Sprintf("a response larger than %s to GET %s", Size(limit), Excerpt([]byte(req.URL.Path), 100))}
	case err != nil:
		return nil, fmt.Errorf("reading the response to GET %s: %w", Excerpt([]byte(req.URL.Path), 100), err)
	}
	resp.Body = &memBody{Reader: bytes.NewReader(body), b: body}
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// idleTimer cancels a request when it runs out; d <= 0 is no timer. It
// runs from its creation.
type idleTimer struct {
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool
}

func newIdleTimer(d time.Duration, cancel context.CancelFunc) *idleTimer {
	it := &idleTimer{d: d}
	if d > 0 {
		it.t = time.AfterFunc(d, func() { it.fired.Store(true); cancel() })
	}
	return it
}

func (it *idleTimer) start() {
	if it.t != nil && !it.fired.Load() {
		it.t.Reset(it.d)
	}
}

// stop stops the timer, and reports whether it had not run out.
func (it *idleTimer) stop() bool {
	if it.t != nil {
		it.t.Stop()
	}
	return !it.fired.Load()
}

// streamBody is a streamed response body: each Read must bring a byte
// within the idle time.
type streamBody struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	idle   *idleTimer
	host   string
	got    int64
	want   int64 // Content-Length, or -1
}

func (b *streamBody) Read(p []byte) (int, error) {
	b.idle.start()
	n, err := b.body.Read(p)
	stalled := !b.idle.stop()
	b.got += int64(n)
	if err != nil && err != io.EOF && stalled {
		err = &StallError{host: b.host, idle: b.idle.d, got: b.got, want: b.want}
	}
	return n, err
}

func (b *streamBody) Close() error {
	b.idle.stop()
	defer b.cancel()
	return b.body.Close()
}

// StallError is a streamed body that stopped coming.
type StallError struct {
	host      string
	idle      time.Duration
	got, want int64
}

func (e *StallError) Error() string {
	of := ""
	if e.want >= 0 {
		of = fmt.Sprintf(" of %d", e.want)
	}
	return fmt.Sprintf("registry %s stalled: no data for %s after %d%s bytes", e.host, e.idle, e.got, of)
}
