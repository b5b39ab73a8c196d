package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is what trust reads from a registry; sdkfront's registry client
// implements it, through the same guarded transport as every other read.
// repo is a full repository name, registry.example/sdks/golang.
type Store interface {
	// Referrers lists the manifests whose subject is subject, of
	// artifactType, through the OCI 1.1 referrers API. It returns
	// ErrNoReferrersAPI where the registry has none (a 404 on the
	// endpoint), so that trust reads the referrers tag instead; an
	// implementation that reads the tag itself may return its answer.
	Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error)
	// Fetch reads a manifest or blob by descriptor, verified against its
	// digest. More than maxBytes is an error that wraps ErrBounds.
	Fetch(ctx context.Context, repo string, desc ocispec.Descriptor, maxBytes int64) ([]byte, error)
	// FetchTag reads the manifest a tag names (the referrers tag,
	// sha256-<hex>); more than maxBytes wraps ErrBounds. A tag that does
	// not exist is ErrNotFound.
	FetchTag(ctx context.Context, repo, tag string, maxBytes int64) ([]byte, error)
}

var (
	// ErrNoReferrersAPI is a Store's answer where the registry does not
	// serve the referrers API.
	ErrNoReferrersAPI = errors.New("registry has no referrers API")
	// ErrNotFound is a Store's answer for a tag the repository lacks.
	ErrNotFound = errors.New("not found")
)

// Bounds on what one verification reads: a hostile registry must not
// exhaust memory or time through referrers or envelopes.
const (
	// MaxReferrers is the most signatures of one kind considered per
	// digest; more is ErrBounds, not a silent cut (which a registry could
	// use to hide the one signature that matters).
	MaxReferrers = 32
	// MaxManifestBytes bounds a signature's manifest and the referrers
	// tag's index.
	MaxManifestBytes = 256 << 10
	// MaxEnvelopeBytes bounds one envelope or bundle (MCR's are about
	// 10 KiB, a chain of three and a timestamp).
	MaxEnvelopeBytes = 1 << 20
	// MaxChainDepth bounds a signing certificate chain, leaf included.
	MaxChainDepth = 8
	// DefaultTimeBudget bounds one digest's verification, all signatures
	// and registry reads together.
	DefaultTimeBudget = 60 * time.Second
)

// Limits are the bounds a Verifier holds to; zero fields take the
// defaults above.
type Limits struct {
	Referrers     int
	ManifestBytes int64
	EnvelopeBytes int64
	ChainDepth    int
	TimeBudget    time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.Referrers <= 0 {
		l.Referrers = MaxReferrers
	}
	if l.ManifestBytes <= 0 {
		l.ManifestBytes = MaxManifestBytes
	}
	if l.EnvelopeBytes <= 0 {
		l.EnvelopeBytes = MaxEnvelopeBytes
	}
	if l.ChainDepth <= 0 {
		l.ChainDepth = MaxChainDepth
	}
	if l.TimeBudget <= 0 {
		l.TimeBudget = DefaultTimeBudget
	}
	return l
}

// boundsError is a bound that was passed, for an Error's Detail.
type boundsError struct{ msg string }

func (e *boundsError) Error() string { return e.msg }

func boundsErrorf(format string, args ...any) error {
	return &boundsError{fmt.Sprintf(format, args...)}
}

// referrerTag is the referrers tag schema's tag for a digest
// (distribution-spec 1.1, "Referrers Tag Schema").
func referrerTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded()
}

// discover lists the signatures of artifactType over subject: the
// referrers API, else the referrers tag's index.
func discover(ctx context.Context, s Store, repo string, subject digest.Digest, artifactType string, lim Limits) ([]ocispec.Descriptor, error) {
	descs, err := s.Referrers(ctx, repo, subject, artifactType)
	if errors.Is(err, ErrNoReferrersAPI) {
		descs, err = tagReferrers(ctx, s, repo, subject, lim)
	}
	if err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	for _, d := range descs {
		// The API's filter is optional (the OCI-Filters-Applied header);
		// filter again, and keep only manifests.
		if d.ArtifactType != artifactType || d.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		if err := d.Digest.Validate(); err != nil {
			continue
		}
		out = append(out, d)
	}
	if len(out) > lim.Referrers {
		return nil, boundsErrorf("%d referrers of type %s, more than the %d considered", len(out), artifactType, lim.Referrers)
	}
	return out, nil
}

// tagReferrers reads the referrers tag schema's index.
func tagReferrers(ctx context.Context, s Store, repo string, subject digest.Digest, lim Limits) ([]ocispec.Descriptor, error) {
	dt, err := s.FetchTag(ctx, repo, referrerTag(subject), lim.ManifestBytes)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(dt, &idx); err != nil {
		return nil, fmt.Errorf("referrers tag %s: %w", referrerTag(subject), err)
	}
	if idx.MediaType != ocispec.MediaTypeImageIndex {
		return nil, fmt.Errorf("referrers tag %s: media type %q, not an OCI index", referrerTag(subject), idx.MediaType)
	}
	return idx.Manifests, nil
}

// readError is a Store's failure to read a signature: the registry's
// fault or the network's, not a verdict on the signature.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// errSubject is a signature manifest that is not a referrer of the digest
// it was listed under.
var errSubject = errors.New("not a referrer of the digest")

// signatureBlob reads a signature's manifest and its one layer, the
// envelope or bundle, of a media type in allowed. It checks that the
// manifest's subject is the digest (the tag schema's index is not
// content-addressed with its entries, so an entry may lie).
func signatureBlob(ctx context.Context, s Store, repo string, subject digest.Digest, d ocispec.Descriptor, allowed []string, lim Limits) ([]byte, string, error) {
	if d.Size > lim.ManifestBytes {
		return nil, "", boundsErrorf("signature manifest %s is %d bytes, more than %d", d.Digest, d.Size, lim.ManifestBytes)
	}
	dt, err := s.Fetch(ctx, repo, d, lim.ManifestBytes)
	if err != nil {
		return nil, "", &readError{err}
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(dt, &m); err != nil {
		return nil, "", fmt.Errorf("signature manifest %s: %w", d.Digest, err)
	}
	if m.Subject == nil || m.Subject.Digest != subject {
		return nil, "", fmt.Errorf("signature manifest %s: %w: its subject is not %s", d.Digest, errSubject, subject)
	}
	if len(m.Layers) != 1 {
		return nil, "", fmt.Errorf("signature manifest %s: %d layers, want 1", d.Digest, len(m.Layers))
	}
	l := m.Layers[0]
	if !contains(allowed, l.MediaType) {
		return nil, "", fmt.Errorf("signature manifest %s: layer media type %q, want %s", d.Digest, l.MediaType, strings.Join(allowed, " or "))
	}
	if l.Size > lim.EnvelopeBytes {
		return nil, "", boundsErrorf("envelope %s is %d bytes, more than %d", l.Digest, l.Size, lim.EnvelopeBytes)
	}
	blob, err := s.Fetch(ctx, repo, l, lim.EnvelopeBytes)
	if err != nil {
		return nil, "", &readError{err}
	}
	return blob, l.MediaType, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
