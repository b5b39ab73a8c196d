package trust

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// What failed, as an Error's Reason; match them with errors.Is.
var (
	// ErrNoPolicy: the policy covers no scope that names the repository.
	// A build that was given a policy fails closed on an SDK it does not
	// cover.
	ErrNoPolicy = errors.New("no trust policy covers the repository")
	// ErrNoSignature: the registry holds no signature of the digest.
	ErrNoSignature = errors.New("no signature")
	// ErrUntrusted: a signature verified, but its certificate chain or key
	// is not one the policy trusts, or its identity is not one it names.
	ErrUntrusted = errors.New("untrusted identity")
	// ErrOtherDigest: a signature is over another digest than the one it
	// is stored as a referrer of (a copied or swapped signature).
	ErrOtherDigest = errors.New("signature over another digest")
	// ErrTampered: an envelope or bundle that does not parse, or whose
	// signature does not match its content.
	ErrTampered = errors.New("tampered envelope")
	// ErrExpired: the signing certificate has expired and no trusted
	// timestamp shows it was valid when it signed.
	ErrExpired = errors.New("expired without a valid timestamp")
	// ErrBounds: the registry's answer went past a bound (Limits): too
	// many referrers, an envelope too large, a chain too deep, too long.
	ErrBounds = errors.New("bounds exceeded")
)

// Error is a failed verification of one digest under one policy.
type Error struct {
	Repo   string        // registry.example/sdks/golang
	Digest digest.Digest // the SDK's digest, the referrers' subject
	Kind   Kind          // whose signatures were looked for; "" for ErrNoPolicy of both
	Policy string        // the policy statement's name
	File   string        // the policy file that holds it
	Reason error         // one of the Err* sentinels
	Found  int           // signatures found (considered)
	Detail string        // what failed, for each signature, briefly
	Err    error         // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s: ", e.Digest, e.Repo)
	switch e.Reason {
	case ErrNoPolicy:
		kind := ""
		if e.Kind != "" {
			kind = e.Kind.String() + " "
		}
		fmt.Fprintf(&b, "no %strust policy (%s) covers %s", kind, e.File, e.Repo)
	case ErrBounds:
		fmt.Fprintf(&b, "%s signatures under policy %q (%s): %s", e.Kind, e.Policy, e.File, ErrBounds)
	default:
		fmt.Fprintf(&b, "no %s signature trusted by policy %q (%s)", e.Kind, e.Policy, e.File)
		switch e.Found {
		case 0:
			b.WriteString(": no signatures found")
		case 1:
			fmt.Fprintf(&b, ": 1 signature found, %s", reasonPhrase(e.Reason, 1))
		default:
			fmt.Fprintf(&b, ": %d signatures found, %s", e.Found, reasonPhrase(e.Reason, e.Found))
		}
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// reasonPhrase says what the best of n signatures failed on.
func reasonPhrase(reason error, n int) string {
	none := "none"
	if n == 1 {
		none = "it is not"
	}
	switch reason {
	case ErrUntrusted:
		if n == 1 {
			return "not from a trusted identity"
		}
		return "none from a trusted identity"
	case ErrOtherDigest:
		return none + " over this digest"
	case ErrTampered:
		if n == 1 {
			return "its envelope was tampered with"
		}
		return "none intact (tampered envelopes)"
	case ErrExpired:
		if n == 1 {
			return "its certificate expired without a valid timestamp"
		}
		return "none valid now: certificates expired without a valid timestamp"
	}
	return reason.Error()
}

// Is makes errors.Is(err, ErrUntrusted) and the like work on an *Error.
func (e *Error) Is(target error) bool { return target == e.Reason }

func (e *Error) Unwrap() error { return e.Err }
