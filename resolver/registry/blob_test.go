package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// openBlob opens the blob desc of the repository ref names ("host/repo")
// as ReadImageFile streams a layer, in a session of its own.
func openBlob(ctx context.Context, c *Client, ref string, desc ocispecs.Descriptor) (io.ReadCloser, error) {
	r, err := c.parseReference(ref)
	if err != nil {
		return nil, err
	}
	return c.openBlob(ctx, ctx, transport.NewCall(r.Context().RegistryStr()), c.session(r.Context()), ref, desc)
}

// Layers stream through redirects and bearer authentication, the way
// registries serve them from blob storage; openBlob, ReadImageFile's
// stream of a layer, reads a blob whole.
func TestOpenBlob(t *testing.T) {
	f := newBaseFixture(t)
	layer := testregistry.GzipLayer(t, debianRoot("bookworm")...)
	f.Push(t, "lab/debian:1", testregistry.NewImage(t, "linux/amd64", nil, layer))
	want, _ := layer.Compressed()
	wantBytes, _ := io.ReadAll(want)

	var storageHits atomic.Int32
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		storageHits.Add(1)
		w.Write(wantBytes)
	}))
	t.Cleanup(storage.Close)
	var tokens, authorized atomic.Int32
	auth := testregistry.TokenService(false, &tokens, &authorized)
	f.mu.Lock()
	f.gate = auth
	f.mu.Unlock()
	other := digest.FromString("something else")
	f.setFault(func(w http.ResponseWriter, r *http.Request, d digest.Digest, _ http.Handler) bool {
		switch d {
		case layerDigest(t, layer):
			http.Redirect(w, r, storage.URL+"/blob", http.StatusTemporaryRedirect)
		case other: // the layer, served under another digest
			w.Write(wantBytes)
		default:
			return false
		}
		return true
	})

	c := New()
	desc := ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageLayerGzip, Digest: layerDigest(t, layer), Size: int64(len(wantBytes))}
	rc, err := openBlob(context.Background(), c, f.Host+"/lab/debian", desc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, wantBytes) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(wantBytes))
	}
	if tokens.Load() != 1 || authorized.Load() != 1 || storageHits.Load() != 1 {
		t.Errorf("tokens %d, authorized GETs %d, storage hits %d; want 1 each", tokens.Load(), authorized.Load(), storageHits.Load())
	}
	if cd, _, err := readCodename(context.Background(), c, f.Host+"/lab/debian:1", amd64, ReadLimits{}); err != nil || cd != "bookworm" {
		t.Errorf("through redirect and token: %q, %v", cd, err)
	}

	// Content that is not the digest's fails at the end.
	desc.Digest = other
	rc, err = openBlob(context.Background(), c, f.Host+"/lab/debian", desc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if err == nil || !strings.Contains(err.Error(), "sent content that hashes to "+string(layerDigest(t, layer))) {
		t.Errorf("wrong digest: %v", err)
	}
	// A blob the registry does not have is not found.
	_, err = openBlob(context.Background(), c, f.Host+"/lab/debian", ocispecs.Descriptor{Digest: digest.FromString("missing"), Size: 1})
	if !errors.Is(err, resolver.ErrNotFound) || !strings.Contains(err.Error(), "cannot get layer "+string(digest.FromString("missing"))+" of "+f.Host+"/lab/debian: registry "+f.Host+" has no such blob") {
		t.Errorf("missing blob: %v", err)
	}
	// A digest that is none fails before any request.
	n := len(f.requested())
	if _, err := openBlob(context.Background(), c, f.Host+"/lab/debian", ocispecs.Descriptor{Digest: "sha256:abc", Size: 1}); err == nil || !errors.Is(err, resolver.ErrInvalidImage) || len(f.requested()) != n {
		t.Errorf("invalid digest: %v", err)
	}
}

// A layer's stream goes through the network guard like every request: a public
// registry cannot redirect a blob to loopback, and the server there is
// never reached; a blob whose response does not start within the call
// timeout fails as unreachable.
func TestOpenBlobGuarded(t *testing.T) {
	fixture := func() (*guardFixture, func(*Client) error) {
		g := newGuardFixture(t)
		img, err := g.client().ResolvePlatform(context.Background(), g.repo+":bookworm-1.22.10", amd64)
		if err != nil {
			t.Fatal(err)
		}
		read := func(c *Client) error {
			rc, err := openBlob(context.Background(), c, g.repo, img.Layers[0])
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.ReadAll(rc)
			return err
		}
		if err := read(g.client()); err != nil {
			t.Fatalf("without a fault: %v", err)
		}
		return g, read
	}

	g, read := fixture()
	g.proxy.always(blobs, redirect("http://localhost:"+g.secretPort))
	err := read(g.client())
	if err == nil || !strings.Contains(err.Error(), "refusing to connect to localhost (127.0.0.1) for registry "+g.host) || g.secretHits.Load() != 0 {
		t.Errorf("error %v, %d requests to the secret server", err, g.secretHits.Load())
	}
	_, _, err = readCodename(context.Background(), g.client(), g.repo+":bookworm-1.22.10", amd64, ReadLimits{})
	if err == nil || !strings.Contains(err.Error(), "refusing to connect to localhost (127.0.0.1) for registry "+g.host) || g.secretHits.Load() != 0 {
		t.Errorf("ReadImageFile: error %v, %d requests to the secret server", err, g.secretHits.Load())
	}

	g, read = fixture()
	g.proxy.always(blobs, stall)
	err = read(g.client(WithTimeout(300 * time.Millisecond)))
	if err == nil || !strings.Contains(err.Error(), "did not answer within 300ms") || !errors.Is(err, resolver.ErrUnreachable) {
		t.Errorf("a blob that never starts: %v", err)
	}
}
