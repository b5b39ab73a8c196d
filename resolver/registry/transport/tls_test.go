package transport

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

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
