package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sdkfront/sdkfront/resolver"
)

// regError is a registry failure of a kind the resolver tells apart
// (resolver.ErrRepositoryNotFound, ErrDenied, ErrUnreachable), or of no
// particular kind.
type regError struct {
	kind error // may be nil
	msg  string
	err  error
}

func (e *regError) Error() string        { return e.msg + ": " + e.err.Error() }
func (e *regError) Is(target error) bool { return e.kind != nil && target == e.kind }
func (e *regError) Unwrap() error        { return e.err }

// wrap classifies err from an operation ("list tags of") on subject, a
// repository or reference in registry. ctx is the caller's context;
// notFound is what a bare 404 means for the operation.
func (c *Client) wrap(ctx context.Context, op, registry, subject string, notFound, err error) error {
	if ctx.Err() != nil {
		// The caller gave up: not the registry's fault.
		return fmt.Errorf("cannot %s %s: %w", op, subject, err)
	}
	msg := fmt.Sprintf("cannot %s %s", op, subject)
	kind := classify(err, notFound)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		kind = resolver.ErrUnreachable
		msg += fmt.Sprintf(": registry %s did not answer within %s", registry, c.o.timeout)
	case kind == resolver.ErrRepositoryNotFound:
		msg += ": no such repository in registry " + registry
	case kind == resolver.ErrNotFound:
		msg += ": no such manifest in registry " + registry
	case kind == resolver.ErrDenied:
		msg += ": access denied by registry " + registry
	case kind == resolver.ErrUnreachable:
		msg += ": registry " + registry + " is unreachable"
	}
	if strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		err = fmt.Errorf("%w; if the registry is plain HTTP, configure it as insecure", err)
	}
	return &regError{kind, msg, err}
}

// classify maps a ggcr error to a resolver sentinel, or nil. notFound is
// what a 404 without a more specific error code means.
func classify(err, notFound error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.NameUnknownErrorCode:
				return resolver.ErrRepositoryNotFound
			case transport.ManifestUnknownErrorCode:
				return resolver.ErrNotFound
			case transport.DeniedErrorCode, transport.UnauthorizedErrorCode:
				return resolver.ErrDenied
			}
		}
		switch code := terr.StatusCode; {
		case code == http.StatusNotFound:
			return notFound
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return resolver.ErrDenied
		case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
			return resolver.ErrUnreachable
		}
		return nil
	}
	// Connection refused, DNS failures, timeouts and TLS failures all
	// surface as net.Error (*url.Error, *net.OpError, *net.DNSError).
	var nerr net.Error
	if errors.As(err, &nerr) {
		return resolver.ErrUnreachable
	}
	return nil
}
