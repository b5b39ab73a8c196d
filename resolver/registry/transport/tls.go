package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
)

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
