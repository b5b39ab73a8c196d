package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"Mon, 30 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Mon, 30 Nov 2026 11:00:00 GMT", 0, true}, // past
		{"999999999999", 24 * time.Hour, true},     // capped
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&TimeoutError{host: "r"}, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{io.ErrUnexpectedEOF, true},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, false},
		{&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, true},
		{&PlainHTTPError{"10.0.0.1"}, false},
		{&TooLargeError{What: "x"}, false},
		// A body its reader refused, even one cut short, comes again.
		{&decodeError{fmt.Errorf("decoding: %w", io.ErrUnexpectedEOF)}, false},
		{fmt.Errorf("get: %w", http.ErrSchemeMismatch), false},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'H', 'T', 'T', 'P', '/'}}, false},
		{errors.New("something else"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// An HTTPS request to a plain HTTP server is told by its type, as an
// http.Client and as a transport below one see it; an error that only says
// so in words is not one.
func TestPlainHTTPAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	u := "https://" + srv.Listener.Addr().String() + "/v2/"

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	_, err := (&http.Client{Transport: tr}).Get(u)
	if !errors.Is(err, http.ErrSchemeMismatch) || !PlainHTTPAnswer(err) {
		t.Errorf("through an http.Client: %v (%T), want http.ErrSchemeMismatch", err, err)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	_, err = tr.RoundTrip(req)
	if !PlainHTTPAnswer(err) || Temporary(err) {
		t.Errorf("through a transport: %v (%T): plain HTTP %v, temporary %v; want true, false", err, err, PlainHTTPAnswer(err), Temporary(err))
	}
	if PlainHTTPAnswer(errors.New(http.ErrSchemeMismatch.Error())) {
		t.Error("an error that only quotes http.ErrSchemeMismatch is taken for it")
	}
	if PlainHTTPAnswer(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{0x15, 3, 1, 0, 2}}) {
		t.Error("a TLS record header of a TLS alert is taken for plain HTTP")
	}
}
