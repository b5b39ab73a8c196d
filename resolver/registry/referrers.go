package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
	"github.com/sdkfront/sdkfront/trust"
)

// The Client is trust's Store: signatures are read through the same
// sessions, transport and guards as every other registry read.
var _ trust.Store = (*Client)(nil)

// Referrers implements trust.Store: the OCI 1.1 referrers API's first
// page, filtered by artifactType. A 404 is trust.ErrNoReferrersAPI, so
// that trust reads the referrers tag instead. Later pages are not read:
// trust considers at most trust.MaxReferrers signatures, and a signature
// hidden past the first page fails closed (no trusted signature found).
// The answer is read as it arrives, at most the manifest limit (4 MiB);
// more is trust.ErrBounds.
func (c *Client) Referrers(ctx context.Context, repository string, subject digest.Digest, artifactType string) ([]ocispecs.Descriptor, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	if err := subject.Validate(); err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", repository, err)
	}
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	what := fmt.Sprintf("the referrers of %s@%s", repository, subject)
	u := &url.URL{
		Scheme:   repo.Scheme(),
		Host:     repo.RegistryStr(),
		Path:     fmt.Sprintf("/v2/%s/referrers/%s", repo.RepositoryStr(), subject),
		RawQuery: url.Values{"artifactType": {artifactType}}.Encode(),
	}
	_, body, err := c.session(repo).getBounded(callCtx, cl, u, ocispecs.MediaTypeImageIndex, c.o.maxManifest)
	if errors.Is(err, transport.ErrTooLarge) {
		return nil, &boundsError{fmt.Sprintf("%s: registry %s sent an index larger than %s", what, repo.RegistryStr(), transport.Size(c.o.maxManifest))}
	}
	if err != nil {
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound {
			return nil, trust.ErrNoReferrersAPI
		}
		return nil, c.wrap(ctx, cl, resolver.OpManifest, repo.RegistryStr(), what, resolver.ErrNotFound, err)
	}
	var idx ocispecs.Index
	if err := json.Unmarshal(body, &idx); err != nil || idx.MediaType != ocispecs.MediaTypeImageIndex {
		return nil, c.wrap(ctx, cl, resolver.OpManifest, repo.RegistryStr(), what, resolver.ErrNotFound,
			&badResponse{kind: resolver.ErrInvalidImage, what: "a referrers answer that is not an OCI image index", err: err})
	}
	return idx.Manifests, nil
}

// Fetch implements trust.Store: a manifest (by its media type) or a blob
// by digest, verified against it, read as it arrives and cut at its
// declared size, or at maxBytes; past either is trust.ErrBounds.
func (c *Client) Fetch(ctx context.Context, repository string, desc ocispecs.Descriptor, maxBytes int64) ([]byte, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", repository, err)
	}
	if desc.Size > maxBytes {
		return nil, &boundsError{fmt.Sprintf("%s@%s: %d bytes, more than %d", repository, desc.Digest, desc.Size, maxBytes)}
	}
	// The descriptor's size is the content's, if the digest is: a body
	// that runs past it cannot match, so it is cut there.
	limit := maxBytes
	if desc.Size > 0 {
		limit = desc.Size
	}
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	s := c.session(repo)
	subject := repository + "@" + desc.Digest.String()
	if desc.MediaType == ocispecs.MediaTypeImageManifest || desc.MediaType == ocispecs.MediaTypeImageIndex {
		m, err := s.manifest(callCtx, cl, repo.Digest(desc.Digest.String()), limit)
		if err != nil {
			return nil, c.bounded(ctx, cl, resolver.OpManifest, repo.RegistryStr(), subject, err)
		}
		return m.body, nil
	}
	h, err := v1.NewHash(desc.Digest.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	body, err := s.blob(callCtx, cl, h, limit)
	if err != nil {
		return nil, c.bounded(ctx, cl, resolver.OpBlob, repo.RegistryStr(), subject, err)
	}
	return body, nil
}

// bounded is wrap for trust's reads, except that an answer cut at its
// limit is trust.ErrBounds, as the Store promises: trust then reports
// the bound, not a registry fault.
func (c *Client) bounded(ctx context.Context, cl *transport.Call, op resolver.RegistryOp, registry, subject string, err error) error {
	var br *badResponse
	if errors.As(err, &br) && br.tooLarge {
		return &boundsError{fmt.Sprintf("%s: registry %s sent %s", subject, registry, br.what)}
	}
	return c.wrap(ctx, cl, op, registry, subject, resolver.ErrNotFound, err)
}

// FetchTag implements trust.Store: the manifest a tag names (the
// referrers tag, sha256-<hex>), at most maxBytes (more is
// trust.ErrBounds); a 404 is trust.ErrNotFound.
func (c *Client) FetchTag(ctx context.Context, repository, tag string, maxBytes int64) ([]byte, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	if !validTag(tag) {
		return nil, fmt.Errorf("%s: invalid tag %q", repository, tag)
	}
	ref := repo.Tag(tag) // keeps the repository's scheme
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	m, err := c.session(repo).manifest(callCtx, cl, ref, maxBytes)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound {
			return nil, fmt.Errorf("%s:%s: %w", repository, tag, trust.ErrNotFound)
		}
		return nil, c.bounded(ctx, cl, resolver.OpManifest, repo.RegistryStr(), repository+":"+tag, err)
	}
	return m.body, nil
}

// boundsError is a read cut at its bound: it is trust.ErrBounds, whose
// text trust's message already says once.
type boundsError struct{ msg string }

func (e *boundsError) Error() string { return e.msg }

func (e *boundsError) Is(target error) bool { return target == trust.ErrBounds }
