package resolver

import "fmt"

// RegistryError is a registry call that failed, as a registry client
// (resolver/registry) reports it: what was asked of which registry, what
// came back, of which kind the failure is and what caused it. Its message
// says what failed, in registry terms, with what to do in registry terms;
// where the resolver wraps it, it adds what an SDK user can do instead
// (an exact version, a build arg), which a registry client does not know.
type RegistryError struct {
	Op       RegistryOp
	Registry string // "host[:port]"
	Subject  string // the repository or reference asked about
	Status   int    // the HTTP status of the answer, 0 if none came
	// Kind is ErrRepositoryNotFound, ErrNotFound, ErrDenied,
	// ErrUnreachable, ErrInvalidImage, or nil for none of them.
	Kind  error
	Cause RegistryCause
	// Anonymous says the client has no credentials at all, so every
	// request it sends is anonymous.
	Anonymous bool
	// Realm is the token service the client did not send credentials to
	// (CauseCredentialsWithheld).
	Realm string

	Msg  string // what failed: "cannot list tags of r/x: access denied by registry r"
	Err  error  // the detail, may be nil
	Hint string // what to do, in registry terms; may be empty
}

func (e *RegistryError) Error() string {
	s := e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *RegistryError) Is(target error) bool { return e.Kind != nil && target == e.Kind }
func (e *RegistryError) Unwrap() error        { return e.Err }

// RegistryOp is what a registry was asked, as messages say it.
type RegistryOp string

// The registry calls.
const (
	OpListTags     RegistryOp = "list tags of"
	OpManifest     RegistryOp = "get manifest of"
	OpConfig       RegistryOp = "get the image config of"
	OpRepositories RegistryOp = "list the repositories of"
	OpBlob         RegistryOp = "get a blob of"
)

// RegistryCause is what caused a registry failure, where advice depends on
// it.
type RegistryCause int

const (
	// CauseNone is no cause in particular.
	CauseNone RegistryCause = iota
	// CauseListLimit: a tag listing exceeds the client's limits.
	CauseListLimit
	// CauseNoListing: the registry answered a tag listing with a 404 that
	// does not say the repository is unknown; it may not list tags.
	CauseNoListing
	// CausePlainHTTP: an HTTPS request was answered in plain HTTP.
	CausePlainHTTP
	// CauseCredentialsWithheld: access was denied after the client kept
	// its credentials from a token service on another host (Realm).
	CauseCredentialsWithheld
)

func (c RegistryCause) String() string {
	switch c {
	case CauseNone:
		return "none"
	case CauseListLimit:
		return "list limit"
	case CauseNoListing:
		return "no listing"
	case CausePlainHTTP:
		return "plain HTTP"
	case CauseCredentialsWithheld:
		return "credentials withheld"
	}
	return fmt.Sprintf("RegistryCause(%d)", int(c))
}
