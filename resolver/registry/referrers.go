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
	resp, err := c.session(repo).get(callCtx, cl, u, ocispecs.MediaTypeImageIndex)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound {
			return nil, trust.ErrNoReferrersAPI
		}
		return nil, c.wrap(ctx, cl, resolver.OpManifest, repo.RegistryStr(), what, resolver.ErrNotFound, err)
	}
	defer resp.Body.Close()
	body, err := transport.ReadAll(resp.Body, c.o.maxManifest)
	if errors.Is(err, transport.ErrTooLarge) {
		return nil, fmt.Errorf("%s: %w: an index larger than %s", what, trust.ErrBounds, transport.Size(c.o.maxManifest))
	}
	if err != nil {
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
// by digest, verified against it, at most maxBytes.
func (c *Client) Fetch(ctx context.Context, repository string, desc ocispecs.Descriptor, maxBytes int64) ([]byte, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", repository, err)
	}
	if desc.Size > maxBytes {
		return nil, fmt.Errorf("%s@%s: %w: %d bytes, more than %d", repository, desc.Digest, trust.ErrBounds, desc.Size, maxBytes)
	}
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	s := c.session(repo)
	subject := repository + "@" + desc.Digest.String()
	if desc.MediaType == ocispecs.MediaTypeImageManifest || desc.MediaType == ocispecs.MediaTypeImageIndex {
		m, err := s.manifest(callCtx, cl, repo.Digest(desc.Digest.String()), maxBytes)
		if err != nil {
			return nil, c.wrap(ctx, cl, resolver.OpManifest, repo.RegistryStr(), subject, resolver.ErrNotFound, err)
		}
		return m.body, nil
	}
	h, err := v1.NewHash(desc.Digest.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	body, err := s.blob(callCtx, cl, h, maxBytes)
	if err != nil {
		return nil, c.wrap(ctx, cl, resolver.OpBlob, repo.RegistryStr(), subject, resolver.ErrNotFound, err)
	}
	return body, nil
}

// FetchTag implements trust.Store: the manifest a tag names (the
// referrers tag, sha256-<hex>), at most maxBytes; a 404 is
// trust.ErrNotFound.
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
		return nil, c.wrap(ctx, cl, resolver.OpManifest, repo.RegistryStr(), repository+":"+tag, resolver.ErrNotFound, err)
	}
	return m.body, nil
}
