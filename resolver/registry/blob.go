package registry

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// Blobs are read as streams: they go through the client's transport like
// any request (credentials, retries, TLS guard, redirect guard), but their
// bodies are handed over unread (stream.go) and checked against their
// descriptor as they are read.

// blobError is a blob whose content is not what its descriptor, or the
// bounds on reading it, allow.
type blobError struct{ msg string }

func (e *blobError) Error() string { return e.msg }

// blobError is a *resolver.RegistryError about blob d of s's repository,
// with its own message.
func (c *Client) blobError(s *session, d ocispecs.Descriptor, kind error, msg string, err error, hint string) error {
	return &resolver.RegistryError{
		Op: opBlob, Registry: s.repo.RegistryStr(), Subject: s.repo.Name() + "@" + transport.Excerpt([]byte(d.Digest), 100),
		Kind: kind, Anonymous: c.o.keychain == nil, Msg: msg, Err: err, Hint: hint,
	}
}

// openBlob opens the blob desc of s's repository as a stream, for ref's
// image. The reader checks what it reads against desc: more bytes than
// desc.Size, fewer, or content that does not hash to desc.Digest fail the
// Read that finds it out. The response must start within the call timeout
// (WithTimeout); then a Read fails when no byte of the body came for the
// request timeout (WithRequestTimeout). callCtx is the requests' context,
// which bounds the whole read; ctx is the caller's, for error messages.
func (c *Client) openBlob(callCtx, ctx context.Context, cl *transport.Call, s *session, ref string, desc ocispecs.Descriptor) (io.ReadCloser, error) {
	host := s.repo.RegistryStr()
	subject := fmt.Sprintf("layer %s of %s", transport.Excerpt([]byte(desc.Digest), 100), ref)
	if desc.Digest.Validate() != nil || !desc.Digest.Algorithm().Available() || desc.Size < 0 {
		return nil, c.blobError(s, desc, resolver.ErrInvalidImage, fmt.Sprintf("cannot get %s: its manifest names it by the unusable digest %q or size %d", subject, transport.Excerpt([]byte(desc.Digest), 100), desc.Size), nil, "")
	}
	u := &url.URL{
		Scheme: s.repo.Scheme(),
		Host:   host,
		Path:   fmt.Sprintf("/v2/%s/blobs/%s", s.repo.RepositoryStr(), desc.Digest),
	}
	reqCtx, cancel := context.WithCancel(callCtx)
	late := time.AfterFunc(c.o.timeout, cancel)
	resp, err := s.get(reqCtx, cl.Streamed(), u, "")
	if !late.Stop() && callCtx.Err() == nil {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, c.wrap(ctx, cl, opBlob, host, s.repo.Name()+"@"+string(desc.Digest), resolver.ErrNotFound, context.DeadlineExceeded)
	}
	var se *statusError
	switch {
	case errors.As(err, &se) && se.code == http.StatusNotFound && ctx.Err() == nil:
		cancel()
		return nil, c.blobError(s, desc, resolver.ErrNotFound, fmt.Sprintf("cannot get %s: registry %s has no such blob", subject, host), err, "")
	case err != nil:
		cancel()
		return nil, c.wrap(ctx, cl, opBlob, host, s.repo.Name()+"@"+string(desc.Digest), resolver.ErrNotFound, err)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != desc.Size {
		resp.Body.Close()
		cancel()
		return nil, c.blobError(s, desc, resolver.ErrInvalidImage,
			fmt.Sprintf("cannot get %s: registry %s sends %d bytes for it, and its manifest says %d", subject, host, resp.ContentLength, desc.Size),
			nil, "the registry, or blob storage it redirects to, serves something else under its digest")
	}
	return &verifiedBlob{body: resp.Body, cancel: cancel, host: host, want: desc, h: desc.Digest.Algorithm().Hash()}, nil
}

// verifiedBlob is a blob's body, checked against its descriptor as it is
// read.
type verifiedBlob struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	host   string
	want   ocispecs.Descriptor
	h      hash.Hash
	n      int64
	err    error
}

func (b *verifiedBlob) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if rem := b.want.Size + 1 - b.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	if b.n > b.want.Size {
		n -= int(b.n - b.want.Size)
		b.err = &blobError{fmt.Sprintf("registry %s sent more than the %d bytes its manifest gives it", b.host, b.want.Size)}
	}
	b.h.Write(p[:n])
	switch {
	case b.err != nil:
	case err == io.EOF && b.n < b.want.Size:
		b.err = &blobError{fmt.Sprintf("registry %s sent %d of its %d bytes", b.host, b.n, b.want.Size)}
	case err == io.EOF:
		if got := digest.NewDigest(b.want.Digest.Algorithm(), b.h); got != b.want.Digest {
			b.err = &blobError{fmt.Sprintf("registry %s sent content that hashes to %s: it, or blob storage it redirects to, corrupted the blob or serves another under its digest", b.host, got)}
		}
	case err != nil:
		b.err = err
	}
	if b.err != nil {
		return n, b.err
	}
	return n, err
}

func (b *verifiedBlob) Close() error {
	defer b.cancel()
	return b.body.Close()
}
