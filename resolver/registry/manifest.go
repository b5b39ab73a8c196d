package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// PlatformDigests maps each platform ("os/arch[/variant]") of the image index
// ref points to to its manifest digest. It returns nil for a single-platform
// manifest. Entries without a real platform, such as BuildKit's attestation
// manifests ("unknown/unknown"), are left out.
func (c *Client) PlatformDigests(ctx context.Context, ref string) (map[string]digest.Digest, error) {
	r, err := c.parseReference(ref)
	if err != nil {
		return nil, err
	}
	callCtx, cl, cancel := c.call(ctx, r.Context().RegistryStr())
	defer cancel()
	m, err := c.session(r.Context()).manifest(callCtx, cl, r, c.o.maxManifest)
	if err != nil {
		return nil, c.wrap(ctx, cl, opManifest, r.Context().RegistryStr(), ref, resolver.ErrNotFound, err)
	}
	switch mt := m.mediaType; {
	case mt.IsImage():
		return nil, nil
	case !mt.IsIndex():
		return nil, notImageError(ref, mt)
	}
	index, err := m.index()
	if err != nil {
		return nil, fmt.Errorf("%w: %s has an unreadable image index: %s", resolver.ErrInvalidImage, ref, detail(err))
	}
	return platformDigests(index), nil
}

// platformDigests maps "os/arch[/variant]" to the digests of an index's
// manifests, leaving out those without a real platform.
func platformDigests(index *v1.IndexManifest) map[string]digest.Digest {
	platforms := map[string]digest.Digest{}
	for _, m := range index.Manifests {
		p := m.Platform
		if p == nil || p.OS == "" || p.OS == "unknown" || p.Architecture == "" {
			continue
		}
		platforms[path.Join(p.OS, p.Architecture, p.Variant)] = digest.Digest(m.Digest.String())
	}
	return platforms
}

func notImageError(ref string, mt types.MediaType) error {
	if mt.IsSchema1() {
		return fmt.Errorf("%w: %s is a Docker schema 1 manifest, which sdkfront does not support; push the SDK image again with a current Docker or BuildKit", resolver.ErrInvalidImage, ref)
	}
	return fmt.Errorf("%w: %s is a %s, not an image or image index", resolver.ErrInvalidImage, ref, transport.Excerpt([]byte(mt), 100))
}

// manifest is a verified manifest: its bytes hash to its digest, which is
// the one asked for and the one the registry named; its media type is a
// manifest's.
type manifest struct {
	mediaType types.MediaType
	digest    digest.Digest
	body      []byte
}

// index decodes an image index. Every manifest it lists must have a valid
// digest: go-containerregistry leaves a missing one empty.
func (m *manifest) index() (*v1.IndexManifest, error) {
	index, err := v1.ParseIndexManifest(bytes.NewReader(m.body))
	if err != nil {
		return nil, err
	}
	for i, d := range index.Manifests {
		if _, err := digest.Parse(d.Digest.String()); err != nil {
			return nil, fmt.Errorf("manifest %d has the invalid digest %q", i, transport.Excerpt([]byte(d.Digest.String()), 100))
		}
	}
	return index, nil
}

func (m *manifest) image() (*v1.Manifest, error) {
	return v1.ParseManifest(bytes.NewReader(m.body))
}

// manifestTypes are the media types sdkfront asks for, and accepts.
var manifestTypes = []types.MediaType{
	types.OCIImageIndex, types.DockerManifestList,
	types.OCIManifestSchema1, types.DockerManifestSchema2,
	// Asked for only to say that they are not supported.
	types.DockerManifestSchema1Signed, types.DockerManifestSchema1,
}

var manifestAccept = func() string {
	var s []string
	for _, mt := range manifestTypes {
		s = append(s, string(mt))
	}
	return strings.Join(s, ", ")
}()

// manifest GETs the manifest ref names and verifies it (verifyManifest).
func (s *session) manifest(ctx context.Context, cl *transport.Call, ref name.Reference, limit int64) (*manifest, error) {
	u := &url.URL{
		Scheme: ref.Context().Scheme(),
		Host:   ref.Context().RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/manifests/%s", ref.Context().RepositoryStr(), ref.Identifier()),
	}
	h, body, err := s.getBounded(ctx, cl, u, manifestAccept, limit)
	if errors.Is(err, transport.ErrTooLarge) {
		return nil, &badResponse{kind: resolver.ErrInvalidImage, what: "a manifest larger than " + transport.Size(limit), tooLarge: true}
	}
	if err != nil {
		return nil, err
	}
	pinned := ""
	if d, ok := ref.(name.Digest); ok {
		pinned = d.DigestStr()
	}
	return verifyManifest(body, h.Get("Content-Type"), h.Get("Docker-Content-Digest"), pinned)
}

// verifyManifest checks a manifest response: the media type is a
// manifest's, from the Content-Type or, when that is generic
// (application/json or none), from the manifest's mediaType, and the two do
// not contradict each other; the bytes hash to the pinned digest (what was
// asked for, if a digest) and to the registry's Docker-Content-Digest (if
// it sent one). Failures are *badResponse errors.
func verifyManifest(body []byte, contentType, dcd, pinned string) (*manifest, error) {
	invalid := func(what string, err error, hint string) (*manifest, error) {
		return nil, &badResponse{kind: resolver.ErrInvalidImage, what: what, err: err, hint: hint}
	}
	ct := ""
	if contentType != "" {
		var err error
		if ct, _, err = mime.ParseMediaType(contentType); err != nil {
			return invalid(fmt.Sprintf("a manifest with the invalid Content-Type %q", transport.Excerpt([]byte(contentType), 100)), nil, "")
		}
	}
	var fields struct {
		SchemaVersion json.RawMessage `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
	}
	jsonErr := json.Unmarshal(body, &fields)
	mt := types.MediaType(ct)
	switch {
	case ct == "" || ct == "application/json":
		mt = types.MediaType(fields.MediaType)
		if jsonErr == nil && mt == "" && string(fields.SchemaVersion) == "1" {
			mt = types.DockerManifestSchema1
		}
		if !knownManifest(mt) {
			return invalid(fmt.Sprintf("a manifest of Content-Type %q without a known mediaType", transport.Excerpt([]byte(contentType), 100)), nil, "")
		}
	case !knownManifest(mt):
		return invalid(fmt.Sprintf("a manifest with Content-Type %s, which is not an image manifest or index", transport.Excerpt([]byte(contentType), 100)), nil,
			"a proxy or login page may be answering in the registry's place")
	case jsonErr == nil && fields.MediaType != "" && fields.MediaType != ct:
		return invalid(fmt.Sprintf("a manifest with Content-Type %s that says its mediaType is %q", transport.Excerpt([]byte(ct), 100), transport.Excerpt([]byte(fields.MediaType), 100)), nil, "")
	}

	algo := digest.Canonical
	if pinned != "" {
		want, err := digest.Parse(pinned)
		if err != nil {
			return nil, fmt.Errorf("invalid digest %q: %w", pinned, err)
		}
		algo = want.Algorithm()
		if got := algo.FromBytes(body); got != want {
			return invalid(fmt.Sprintf("a manifest whose bytes hash to %s, not to the requested digest %s", got, want), nil,
				"it, or a proxy in front of it, serves something else under that digest")
		}
	}
	if dcd != "" && !mt.IsSchema1() { // schema 1 digests are of the payload without its signatures
		claimed, err := digest.Parse(strings.TrimSpace(dcd))
		if err != nil {
			return invalid(fmt.Sprintf("a manifest with an invalid Docker-Content-Digest %q", transport.Excerpt([]byte(dcd), 100)), nil, "")
		}
		if got := claimed.Algorithm().FromBytes(body); got != claimed {
			return invalid(fmt.Sprintf("a manifest whose bytes hash to %s, not to its Docker-Content-Digest %s", got, claimed), nil,
				"a proxy between sdkfront and the registry may have changed it")
		}
	}
	if jsonErr != nil && !mt.IsSchema1() {
		kind := "manifest"
		switch {
		case mt.IsIndex():
			kind = "image index"
		case mt.IsImage():
			kind = "image manifest"
		}
		return invalid("an unreadable "+kind, jsonErr, "")
	}
	return &manifest{mediaType: mt, digest: algo.FromBytes(body), body: body}, nil
}

func knownManifest(mt types.MediaType) bool {
	for _, k := range manifestTypes {
		if mt == k {
			return true
		}
	}
	return false
}

// blob GETs a blob of the session's repository, following redirects (to
// blob storage, typically), and verifies its digest.
func (s *session) blob(ctx context.Context, cl *transport.Call, d v1.Hash, limit int64) ([]byte, error) {
	want, err := digest.Parse(d.String())
	if err != nil || !want.Algorithm().Available() {
		return nil, &badResponse{kind: resolver.ErrInvalidImage, what: fmt.Sprintf("a manifest naming a blob by the unusable digest %q", transport.Excerpt([]byte(d.String()), 100))}
	}
	u := &url.URL{
		Scheme: s.repo.Scheme(),
		Host:   s.repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/blobs/%s", s.repo.RepositoryStr(), want),
	}
	_, body, err := s.getBounded(ctx, cl, u, "", limit)
	if errors.Is(err, transport.ErrTooLarge) {
		return nil, &badResponse{kind: resolver.ErrInvalidImage, what: fmt.Sprintf("a blob %s larger than %s", want, transport.Size(limit)), tooLarge: true}
	}
	if err != nil {
		return nil, err
	}
	if got := want.Algorithm().FromBytes(body); got != want {
		return nil, &badResponse{kind: resolver.ErrInvalidImage, what: fmt.Sprintf("blob %s with content that hashes to %s", want, got),
			hint: "the registry, or blob storage it redirects to, corrupted it"}
	}
	return body, nil
}

// getBounded GETs u and returns its headers and at most limit bytes of
// its body, read as it arrives: else the transport would take up to its
// own bound (8 MiB) into memory before the caller's limit, far smaller for
// a signature's manifest or envelope, cut it. More is
// transport.ErrTooLarge.
func (s *session) getBounded(ctx context.Context, cl *transport.Call, u *url.URL, accept string, limit int64) (http.Header, []byte, error) {
	var body []byte
	rd := &transport.BodyReader{Suffix: u.Path, Limit: limit, Decode: func(r io.Reader) error {
		var err error
		body, err = io.ReadAll(r)
		return err
	}}
	resp, err := s.get(ctx, cl.Reading(rd), u, accept)
	var tl *transport.TooLargeError
	if errors.As(err, &tl) {
		return nil, nil, transport.ErrTooLarge
	}
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if !rd.Done {
		// Another path (a redirect's) answered: its body is in memory.
		if body, err = transport.ReadAll(resp.Body, limit); err != nil {
			return nil, nil, err
		}
	}
	return resp.Header, body, nil
}
