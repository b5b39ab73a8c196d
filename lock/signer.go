package lock

import (
	"fmt"

	digest "github.com/opencontainers/go-digest"
)

// SignerError is a locked digest whose signer of a kind, as the lock
// records it, is not the signer that verifies it now: the SDK was signed
// again, or swapped for one whose signature the policy also trusts.
// Either is locked again on purpose, not followed silently.
type SignerError struct {
	Ref    string        // the entry's reference
	Digest digest.Digest // the entry's
	Kind   string
	Locked string // the lock's signer
	Now    string // the verdict's
	Policy string // the policy that accepted Now
}

func (e *SignerError) Error() string {
	// Signers are quoted whole: a certificate's subject holds commas
	// and spaces.
	return fmt.Sprintf("the lock records the %s signer of %s as %q, but policy %s now verifies it as signed by %q; a re-signed or swapped SDK must be locked again on purpose: run sdkfront lock --update %s",
		e.Kind, e.Digest, e.Locked, quote(e.Policy), e.Now, quote(e.Ref))
}

// Is makes a SignerError match ErrInvalid, as a BindingError does.
func (e *SignerError) Is(target error) bool { return target == ErrInvalid }

// SameSigners checks a locked entry's recorded signatures against those
// verified now: for each kind the lock records, a signature of that kind
// verified now must name the same signer. A kind verified now that the
// lock does not record (a policy added since) is no conflict, nor is a
// recorded kind that the policy no longer checks.
func SameSigners(ref string, d digest.Digest, recorded, now []Signature) error {
	for _, r := range recorded {
		for _, n := range now {
			if n.Kind == r.Kind && n.Signer != r.Signer {
				return &SignerError{Ref: ref, Digest: d, Kind: r.Kind, Locked: r.Signer, Now: n.Signer, Policy: n.Policy}
			}
		}
	}
	return nil
}

// Signed is the entry's recorded signatures, for each entry of f that pins
// repository@d: every entry pinning one digest records what verified it.
func (f *File) Signed(repository string, d digest.Digest) []Signature {
	if f == nil {
		return nil
	}
	var out []Signature
	for _, e := range f.SDKs {
		if e.Repository == repository && e.Digest == d {
			out = append(out, e.Signatures...)
		}
	}
	return out
}
