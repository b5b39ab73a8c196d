package registry

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestNextLink(t *testing.T) {
	base, _ := url.Parse("https://reg.example/v2/sdks/golang/tags/list?n=100")
	for _, tc := range []struct {
		values []string
		want   string // "" for none
	}{
		{[]string{`</v2/sdks/golang/tags/list?last=b&n=100>; rel="next"`}, "https://reg.example/v2/sdks/golang/tags/list?last=b&n=100"},
		{[]string{`<https://other.example/x>; rel="prev", </y>; rel=next`}, "https://reg.example/y"},
		{[]string{`</x>; title="a, b; c"; rel="next"`}, "https://reg.example/x"},
		{[]string{`</x>; rel="next last"`}, "https://reg.example/x"},
		{[]string{`</x>; REL="NEXT"`}, "https://reg.example/x"},
		{[]string{`</bare>`}, "https://reg.example/bare"},                      // no rel at all: taken as next
		{[]string{`</bare>`, `</n>; rel="next"`}, "https://reg.example/n"},     // rel=next wins
		{[]string{`</p>; rel="prev"`}, ""},                                     // another relation
		{[]string{`garbage, </n>; rel="next"`}, "https://reg.example/n"},       // a bad link-value is skipped
		{[]string{`</n; rel="next"`}, ""},                                      // unterminated
		{[]string{`<http://[::1>; rel="next"`}, ""},                            // unparseable
		{[]string{`<//evil.example/x>; rel="next"`}, "https://evil.example/x"}, // resolved; ListTags ignores it
		{nil, ""},
	} {
		got := nextLink(tc.values, base)
		if (got == nil) != (tc.want == "") || got != nil && got.String() != tc.want {
			t.Errorf("nextLink(%q) = %v, want %q", tc.values, got, tc.want)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/golang:pull"`,
			`[{Bearer map[realm:https://auth.docker.io/token scope:repository:library/golang:pull service:registry.docker.io]}]`},
		{`Basic realm="Registry Realm"`, `[{Basic map[realm:Registry Realm]}]`},
		{`Basic dGVzdA==, Bearer realm="x"`, `[{Basic map[]} {Bearer map[realm:x]}]`},
		{`Negotiate, Basic realm=x`, `[{Negotiate map[]} {Basic map[realm:x]}]`},
		{`Bearer realm="a\"b", realm="second"`, `[{Bearer map[realm:a"b]}]`},
		{`Bearer realm="unterminated`, `[{Bearer map[]}]`},
		{``, `[]`},
	} {
		if got := fmt.Sprint(parseChallenges(tc.in)); got != tc.want {
			t.Errorf("parseChallenges(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

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
		{&timeoutError{host: "r"}, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{io.ErrUnexpectedEOF, true},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, false},
		{&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, true},
		{&plainHTTPError{"10.0.0.1"}, false},
		{&badResponse{what: "x"}, false},
		{fmt.Errorf("get: %w", http.ErrSchemeMismatch), false},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'H', 'T', 'T', 'P', '/'}}, false},
		{errors.New("something else"), false},
	} {
		if got := temporary(tc.err); got != tc.want {
			t.Errorf("temporary(%v) = %v, want %v", tc.err, got, tc.want)
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
	if !errors.Is(err, http.ErrSchemeMismatch) || !plainHTTPAnswer(err) {
		t.Errorf("through an http.Client: %v (%T), want http.ErrSchemeMismatch", err, err)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	_, err = tr.RoundTrip(req)
	if !plainHTTPAnswer(err) || temporary(err) {
		t.Errorf("through a transport: %v (%T): plain HTTP %v, temporary %v; want true, false", err, err, plainHTTPAnswer(err), temporary(err))
	}
	if plainHTTPAnswer(errors.New(http.ErrSchemeMismatch.Error())) {
		t.Error("an error that only quotes http.ErrSchemeMismatch is taken for it")
	}
	if plainHTTPAnswer(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{0x15, 3, 1, 0, 2}}) {
		t.Error("a TLS record header of a TLS alert is taken for plain HTTP")
	}
}
