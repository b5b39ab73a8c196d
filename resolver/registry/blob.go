package registry

import (
	"context"
	"fmt"
	"hash"
	"io"
	"net/url"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// OpenBlob streams the blob desc names from repository ("host/path"), for
// code that reads images by other means than BuildKit (sdkfront lock reads
// its base images' layers): through the client's transport, so under its
// network guard, TLS rule, credentials and retries. A blob larger than
// limit is refused before it is asked for; the body must be desc.Size
// bytes that hash to desc.Digest, or reading it fails (at the end, for the
// digest: the caller must read to io.EOF before trusting what it read).
//
// Until the response starts, the call's time limit applies (WithTimeout);
// after that each read must bring something within the request timeout
// (WithRequestTimeout), and ctx bounds the whole. The caller closes the
// body.
func (c *Client) OpenBlob(ctx context.Context, repository string, desc ocispecs.Descriptor, limit int64) (io.ReadCloser, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	ref := repository + "@" + desc.Digest.String()
	switch {
	case desc.Digest.Validate() != nil:
		return nil, fmt.Errorf("%w: %s names a blob by the unusable digest %q", resolver.ErrInvalidImage, repository, excerpt([]byte(desc.Digest), 100))
	case desc.Size < 0 || desc.Size > limit:
		return nil, fmt.Errorf("%w: blob %s is %d bytes; at most %s are read", resolver.ErrInvalidImage, ref, desc.Size, size(limit))
	}
	ctx, _ = withStats(withOrigin(ctx, repo.RegistryStr()))
	reqCtx, cancel := context.WithCancel(ctx)
	headers := time.AfterFunc(c.o.timeout, cancel)
	u := &url.URL{
		Scheme: repo.Scheme(),
		Host:   repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/blobs/%s", repo.RepositoryStr(), desc.Digest),
	}
	resp, err := c.session(repo).get(withStreaming(reqCtx), u, "")
	if !headers.Stop() && err != nil {
		err = fmt.Errorf("%w", context.DeadlineExceeded)
	}
	if err != nil {
		cancel()
		return nil, c.wrap(ctx, opBlob, repo.RegistryStr(), ref, resolver.ErrNotFound, err)
	}
	return &verifiedBody{rc: resp.Body, cancel: cancel, ref: ref, want: desc.Digest, size: desc.Size, h: desc.Digest.Algorithm().Hash()}, nil
}

// verifiedBody is a blob's body that must be size bytes hashing to want.
type verifiedBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	ref    string
	want   digest.Digest
	size   int64
	h      hash.Hash
	n      int64
	err    error
}

func (b *verifiedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if left := b.size - b.n + 1; int64(len(p)) > left {
		p = p[:left] // one byte more than the size tells a longer body
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	b.h.Write(p[:n])
	switch {
	case b.n > b.size:
		b.err = fmt.Errorf("%w: blob %s is longer than its %d bytes", resolver.ErrInvalidImage, b.ref, b.size)
		return n - 1, b.err
	case err == io.EOF && b.n < b.size:
		b.err = fmt.Errorf("%w: blob %s ends after %d of its %d bytes", resolver.ErrInvalidImage, b.ref, b.n, b.size)
	case err == io.EOF:
		if got := digest.NewDigestFromBytes(b.want.Algorithm(), b.h.Sum(nil)); got != b.want {
			b.err = fmt.Errorf("%w: blob %s hashes to %s", resolver.ErrInvalidImage, b.ref, got)
		} else {
			b.err = io.EOF
		}
	case err != nil:
		b.err = fmt.Errorf("reading blob %s: %w", b.ref, err)
	}
	if b.err != nil {
		return n, b.err
	}
	return n, nil
}

func (b *verifiedBody) Close() error {
	b.cancel()
	return b.rc.Close()
}
