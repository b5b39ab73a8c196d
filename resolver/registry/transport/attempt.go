package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// attempt sends req once, under the request timeout, and reads the body:
// in full, into memory, unless the BodyReader of its call takes it (a
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
