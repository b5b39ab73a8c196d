package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// Operations, as error messages name them.
const (
	opList     = resolver.OpListTags
	opManifest = resolver.OpManifest
	opConfig   = resolver.OpConfig
	opCatalog  = resolver.OpRepositories
	opBlob     = resolver.OpBlob
)

// statusError is a registry's answer with an unexpected HTTP status.
type statusError struct {
	code      int
	errors    []ggcrtransport.Diagnostic // the distribution error body, if any
	body      string                     // otherwise the start of the body
	challenge string                     // WWW-Authenticate
	cause     *ggcrtransport.Error       // ggcr's error, for one that came from ggcr
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
	if d := e.detail(); d != "" {
		s += ": " + d
	}
	return s
}

// detail is what the registry said besides its status: the errors of a
// distribution error body, or an excerpt of another body; "" if nothing.
func (e *statusError) detail() string {
	switch {
	case e.cause != nil && len(e.cause.Errors) > 0:
		return diagnostics(e.cause.Errors)
	case e.cause != nil:
		// ggcr's message quotes the whole body, and ggcr keeps the body
		// to itself: quote an excerpt of it.
		msg := e.cause.Error()
		if i := strings.Index(msg, http.StatusText(e.code)+": "); i >= 0 {
			return transport.Excerpt([]byte(msg[i+len(http.StatusText(e.code))+2:]), maxExcerpt)
		}
	case len(e.errors) > 0:
		return diagnostics(e.errors)
	}
	return e.body
}

// maxExcerpt bounds what an error quotes of a response.
const maxExcerpt = 200

// maxDiagnostics is how many of a distribution error body's errors an
// error quotes.
const maxDiagnostics = 3

// diagnostics quotes the errors of a distribution error body.
func diagnostics(ds []ggcrtransport.Diagnostic) string {
	var out []string
	for _, d := range ds[:min(len(ds), maxDiagnostics)] {
		out = append(out, transport.Excerpt([]byte(d.String()), maxExcerpt))
	}
	if n := len(ds) - maxDiagnostics; n > 0 {
		out = append(out, fmt.Sprintf("and %d more", n))
	}
	return strings.Join(out, "; ")
}

// detail is err's message for another: one line, bounded, as an error
// from a library may quote a response (go-containerregistry's "no token
// in bearer response" quotes all of it on the next line).
func detail(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return transport.Excerpt([]byte(msg), maxDetail)
}

// maxDetail bounds detail.
const maxDetail = 1000

// boundedError is an error with its message bounded by detail.
type boundedError struct{ err error }

func (e boundedError) Error() string { return detail(e.err) }
func (e boundedError) Unwrap() error { return e.err }

func (e *statusError) Unwrap() error {
	if e.cause != nil {
		return e.cause
	}
	return nil
}

// newStatusError reads a response that has an unexpected status.
func newStatusError(resp *http.Response) *statusError {
	e := &statusError{code: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	b, _ := transport.ReadAll(resp.Body, 64<<10)
	var body struct {
		Errors []ggcrtransport.Diagnostic `json:"errors"`
	}
	if json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
		e.errors = body.Errors
	} else {
		e.body = transport.Excerpt(b, maxExcerpt)
	}
	return e
}

func (e *statusError) has(codes ...ggcrtransport.ErrorCode) bool {
	ds := e.errors
	if e.cause != nil {
		ds = e.cause.Errors
	}
	for _, d := range ds {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

// badResponse is an answer sdkfront refuses although the request went
// through: an invalid or oversized body, a manifest that does not match its
// digest, a Content-Type that is no manifest's.
type badResponse struct {
	kind error  // nil or resolver.ErrInvalidImage
	what string // what the registry sent: "an invalid tag list"
	err  error  // detail, may be nil
	hint string
	// tooLarge: the body was cut at the caller's limit.
	tooLarge bool
}

func (e *badResponse) Error() string {
	s := "sent " + e.what
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *badResponse) Unwrap() error { return e.err }

// limitError is a listing that exceeds the client's limits.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// wrap explains err from an operation (opList, ...) on subject, a
// repository or reference in registry, as a *resolver.RegistryError: what
// failed, of which kind and cause, and what to do in registry terms. ctx
// is the caller's context, cl the call that failed; notFound is what a 404
// without a more specific error code means for the operation.
func (c *Client) wrap(ctx context.Context, cl *transport.Call, op resolver.RegistryOp, registry, subject string, notFound, err error) error {
	if ctx.Err() != nil {
		// The caller gave up: not the registry's fault.
		return fmt.Errorf("cannot %s %s: %w", op, subject, err)
	}
	attempts, refusedWait := cl.Attempts()
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" (%d attempts)", attempts)
	}
	var tl *transport.TooLargeError
	if errors.As(err, &tl) {
		err = &badResponse{what: tl.What}
	}
	var terr *ggcrtransport.Error
	se := &statusError{}
	if !errors.As(err, &se) {
		se = nil
		if errors.As(err, &terr) {
			se = &statusError{code: terr.StatusCode, cause: terr}
			err = se
		}
	}
	var (
		te  *transport.TimeoutError
		br  *badResponse
		le  *limitError
		msg = fmt.Sprintf("cannot %s %s", op, subject)
		e   = &resolver.RegistryError{Op: op, Registry: registry, Subject: subject, Kind: classify(err, notFound), Err: err, Anonymous: c.o.keychain == nil}
	)
	if se != nil {
		e.Status = se.code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = resolver.ErrUnreachable
		msg += fmt.Sprintf(": registry %s did not answer within %s", registry, c.o.timeout)
		e.Hint = "check that it is up and reachable from " + c.o.reader.String() + ", or try again later"
	case errors.As(err, &te):
		e.Kind, e.Err = resolver.ErrUnreachable, nil
		msg += ": " + te.Error() + tries
		e.Hint = "the registry or the network to it is too slow; try again later"
	case errors.As(err, &br):
		e.Kind, e.Err, e.Hint = br.kind, br.err, br.hint
		msg += fmt.Sprintf(": registry %s sent %s", registry, br.what)
	case errors.As(err, &le):
		e.Kind, e.Err, e.Cause = nil, nil, resolver.CauseListLimit
		msg += fmt.Sprintf(": registry %s %s", registry, le.msg)
	case op == opList && se != nil && se.code == http.StatusNotFound && !se.has(ggcrtransport.NameUnknownErrorCode):
		// A 404 that does not say the repository is unknown: the registry
		// may not list tags at all (or not this repository's).
		e.Kind, e.Cause = nil, resolver.CauseNoListing
		msg = fmt.Sprintf("listing tags of %s failed with HTTP 404", subject)
		e.Err = nil
		if d := se.detail(); d != "" {
			e.Err = errors.New(d)
		}
		e.Hint = "the registry lists no tags of this repository, or the repository does not exist"
	case e.Kind == resolver.ErrRepositoryNotFound:
		msg += ": no such repository in registry " + registry
	case e.Kind == resolver.ErrNotFound && (op == opBlob || op == opConfig):
		msg += ": no such blob in registry " + registry
	case e.Kind == resolver.ErrNotFound:
		msg += ": no such manifest in registry " + registry
	case e.Kind == resolver.ErrDenied:
		msg += ": access denied by registry " + registry
		if ch := describeChallenge(se); ch != "" {
			msg += " (" + ch + ")"
		}
		switch realm := cl.RealmWithheld(); {
		case realm != "":
			e.Cause, e.Realm = resolver.CauseCredentialsWithheld, transport.Excerpt([]byte(realm), maxExcerpt)
			e.Hint = fmt.Sprintf("the credentials for %s were not sent to the token service it names, %s, as that is on another host", registry, e.Realm)
		case e.Anonymous:
			e.Hint = "the registry wants credentials, and this request is anonymous"
		default:
			e.Hint = "check the credentials for " + registry
		}
	case e.Kind == resolver.ErrUnreachable && se != nil && refusedWait > 0:
		msg += fmt.Sprintf(": registry %s is rate-limiting and asks to retry after %s, longer than sdkfront waits (%s)", registry, refusedWait, c.o.maxRetryAfter)
		e.Hint = "try again later"
	case e.Kind == resolver.ErrUnreachable && se != nil:
		msg += fmt.Sprintf(": registry %s failed%s", registry, tries)
		e.Hint = "it is down or overloaded; try again later"
	case e.Kind == resolver.ErrUnreachable:
		msg += fmt.Sprintf(": registry %s is unreachable%s", registry, tries)
		if tries != "" {
			e.Hint = "check that it is up and reachable from " + c.o.reader.String() + ", or try again later"
		}
	case se != nil:
		msg += fmt.Sprintf(": registry %s refused the request", registry)
		e.Hint = "check that " + subject + " is right and the registry implements the OCI distribution API"
	}
	if transport.PlainHTTPAnswer(err) {
		e.Cause = resolver.CausePlainHTTP
		e.Hint = "if the registry is plain HTTP, configure it as insecure"
	}
	if e.Err != nil {
		e.Err = boundedError{e.Err}
	}
	e.Msg = msg
	return e
}

// describeChallenge says what a 401's WWW-Authenticate asks for, if
// anything: `it asks for Bearer credentials from https://auth/token,
// scope "repository:x:pull"`.
func describeChallenge(se *statusError) string {
	if se == nil || se.challenge == "" {
		return ""
	}
	chs := parseChallenges(se.challenge)
	if len(chs) == 0 {
		return ""
	}
	ch := chs[0]
	s := "it asks for " + transport.Excerpt([]byte(ch.Scheme), 40) + " credentials"
	if r := ch.Params["realm"]; r != "" {
		s += " from " + transport.Excerpt([]byte(r), maxExcerpt)
	}
	if sc := ch.Params["scope"]; sc != "" {
		s += fmt.Sprintf(", scope %q", transport.Excerpt([]byte(sc), maxExcerpt))
	}
	return s
}

// classify maps an error to a resolver sentinel, or nil. notFound is what
// a 404 without a more specific error code means.
func classify(err, notFound error) error {
	var se *statusError
	var terr *ggcrtransport.Error
	code := 0
	switch {
	case errors.As(err, &se):
		code = se.code
	case errors.As(err, &terr):
		se, code = &statusError{code: terr.StatusCode, cause: terr}, terr.StatusCode
	}
	if se != nil {
		switch {
		case se.has(ggcrtransport.NameUnknownErrorCode):
			return resolver.ErrRepositoryNotFound
		case se.has(ggcrtransport.ManifestUnknownErrorCode):
			return resolver.ErrNotFound
		case se.has(ggcrtransport.DeniedErrorCode, ggcrtransport.UnauthorizedErrorCode):
			return resolver.ErrDenied
		}
		switch {
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
	var te *transport.TimeoutError
	var ph *transport.PlainHTTPError
	var ae *transport.AddressError
	if errors.As(err, &nerr) || errors.As(err, &te) || errors.As(err, &ph) || errors.As(err, &ae) || transport.Temporary(err) {
		return resolver.ErrUnreachable
	}
	return nil
}
