package trust

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Subject is what is verified: a resolved SDK's manifest or index, as its
// descriptor (a Notary Project payload signs media type, digest and size).
type Subject struct {
	Repo      string        // registry.example/sdks/golang, no tag or digest
	Digest    digest.Digest // the index digest, or a platform manifest's
	MediaType string
	Size      int64
}

// Descriptor is the subject as an OCI descriptor.
func (s Subject) Descriptor() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: s.MediaType, Digest: s.Digest, Size: s.Size}
}

// Signature is one signature that a policy accepted, or one policy's
// skip or audit verdict.
type Signature struct {
	Kind   Kind
	Policy string // the policy statement's name
	Level  Level
	// Digest is the signature's manifest digest (the referrer's): what a
	// lock records and a frozen build checks again. Empty under skip, and
	// under audit when no signature verified.
	Digest digest.Digest
	// Signer: for a Notary Project signature, the leaf certificate's
	// subject (its policy is Policy); for Sigstore, "key SHA256:<fp>" or
	// "<issuer> <subject>" of the Fulcio certificate.
	Signer string
}

// Verified says whether a signature was verified (not skipped, not an
// audit finding).
func (s Signature) Verified() bool { return s.Digest != "" }

// Verdict is a digest's verification: one Signature for each kind whose
// policy covers the repository, and the findings of audit and permissive
// levels, which warn and do not fail.
type Verdict struct {
	Subject    Subject
	Signatures []Signature
	Warnings   []string
}

// sigFailure is why one signature was not accepted.
type sigFailure struct {
	digest string
	reason error
	err    error
}

// rank orders reasons from the most telling: a signature over another
// digest or tampered with says more than an untrusted one.
var rank = []error{ErrOtherDigest, ErrTampered, ErrExpired, ErrUntrusted}

// best makes the Error of a digest whose signatures all failed.
func best(fail func(error, int, string, error) *Error, fs []sigFailure) *Error {
	if len(fs) == 0 {
		return fail(ErrNoSignature, 0, "", nil)
	}
	pick := fs[0]
	for _, r := range rank {
		found := false
		for _, f := range fs {
			if f.reason == r {
				pick, found = f, true
				break
			}
		}
		if found {
			break
		}
	}
	var details []string
	for _, f := range fs {
		details = append(details, fmt.Sprintf("%s: %v", f.digest, oneLine(f.err)))
	}
	return fail(pick.reason, len(fs), strings.Join(details, "; "), pick.err)
}

// audit is the verdict of an audit level whose signatures all failed:
// integrity is enforced, so a tampered one fails the digest; whatever
// else failed, a missing signature included, is a finding.
func audit(fail func(error, int, string, error) *Error, fs []sigFailure, sig Signature) (*Signature, []string, error) {
	var tampered []sigFailure
	for _, f := range fs {
		if f.reason == ErrTampered {
			tampered = append(tampered, f)
		}
	}
	if len(tampered) > 0 {
		e := best(fail, tampered)
		e.Found = len(fs)
		return nil, nil, e
	}
	return &sig, []string{best(fail, fs).Error()}, nil
}

// oneLine keeps a library's error to a bounded line.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func isBounds(err error) bool {
	var b *boundsError
	return errors.As(err, &b) || errors.Is(err, ErrBounds)
}

// boundsOr makes a registry read's failure an Error: a bound or the time
// budget is ErrBounds; anything else is passed on with its subject.
func boundsOr(ctx context.Context, fail func(error, int, string, error) *Error, found int, err error) error {
	var be *budgetError
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &be) {
		// Said first: oneLine may cut the read's long error short.
		return fail(ErrBounds, found, be.Error()+": "+oneLine(err), err)
	}
	if isBounds(err) || errors.Is(err, context.DeadlineExceeded) {
		return fail(ErrBounds, found, oneLine(err), err)
	}
	e := fail(nil, found, "", err)
	return fmt.Errorf("%s of %s: reading %s signatures: %w", e.Digest, e.Repo, e.Kind, err)
}

// blobFailure sorts signatureBlob's error: a bound or a failed read ends
// the digest's verification (returned), anything else is what the
// signature failed on.
func blobFailure(ctx context.Context, fail func(error, int, string, error) *Error, found int, d string, err error) (*sigFailure, error) {
	var re *readError
	switch {
	case isBounds(err) || ctx.Err() != nil:
		return nil, boundsOr(ctx, fail, found, err)
	case errors.As(err, &re):
		e := fail(nil, found, "", err)
		return nil, fmt.Errorf("%s of %s: reading %s signature %s: %w", e.Digest, e.Repo, e.Kind, d, re.err)
	case errors.Is(err, errSubject):
		return &sigFailure{d, ErrOtherDigest, err}, nil
	}
	return &sigFailure{d, ErrTampered, err}, nil
}

// readFile reads a policy's file, bounded.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // only read
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	dt, err := io.ReadAll(io.LimitReader(f, maxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(dt) > maxPolicyBytes {
		return nil, fmt.Errorf("%s: more than %d bytes", name, maxPolicyBytes)
	}
	return dt, nil
}
