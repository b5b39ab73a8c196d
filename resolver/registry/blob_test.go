package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// OpenBlob streams a blob through the client, and fails unless it is the
// size and digest its descriptor says.
func TestOpenBlob(t *testing.T) {
	f := newFaultFixture(t)
	img, err := New(faultOptions()...).ResolvePlatform(context.Background(), f.image, ocispecs.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	layer := img.Layers[0]
	read := func(c *Client, repo string, d ocispecs.Descriptor, limit int64) ([]byte, error) {
		rc, err := c.OpenBlob(context.Background(), repo, d, limit)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}

	t.Run("ok", func(t *testing.T) {
		b, err := read(New(faultOptions()...), f.repo, layer, 1<<20)
		if err != nil || int64(len(b)) != layer.Size || digest.FromBytes(b) != layer.Digest {
			t.Errorf("read %d bytes, %v", len(b), err)
		}
	})
	for _, tc := range []struct {
		name  string
		setup func(f *faultFixture)
		desc  func(d ocispecs.Descriptor) ocispecs.Descriptor
		limit int64
		msg   string
	}{
		{"larger than the limit", nil, nil, layer.Size - 1, "at most"},
		{"longer than its size", nil, func(d ocispecs.Descriptor) ocispecs.Descriptor { d.Size--; return d }, 1 << 20, "is longer than its"},
		{"shorter than its size", nil, func(d ocispecs.Descriptor) ocispecs.Descriptor { d.Size++; return d }, 1 << 20, "ends after"},
		{"corrupt", func(f *faultFixture) {
			f.proxy.always(blobs, rewrite(func(_ *http.Request, _ *int, _ http.Header, body []byte) []byte {
				b := bytes.Clone(body)
				if len(b) > 0 {
					b[len(b)/2] ^= 0xff
				}
				return b
			}))
		}, nil, 1 << 20, "hashes to"},
		{"missing", nil, func(d ocispecs.Descriptor) ocispecs.Descriptor { d.Digest = digest.FromString("x"); return d }, 1 << 20, "no such blob in registry"},
		{"stalls", func(f *faultFixture) { f.proxy.always(blobs, stall) }, nil, 1 << 20, "did not answer within"},
		{"drips", func(f *faultFixture) { f.proxy.always(blobs, drip(2*time.Second)) }, nil, 1 << 20, "sent its response too slowly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, d := f, layer
			if tc.setup != nil {
				f = newFaultFixture(t)
				img, err := New(faultOptions()...).ResolvePlatform(context.Background(), f.image, ocispecs.Platform{OS: "linux", Architecture: "amd64"})
				if err != nil {
					t.Fatal(err)
				}
				d = img.Layers[0]
				tc.setup(f)
			}
			if tc.desc != nil {
				d = tc.desc(d)
			}
			_, err := read(New(faultOptions()...), f.repo, d, tc.limit)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want one containing %q", err, tc.msg)
			}
			if tc.name != "stalls" && tc.name != "drips" && tc.name != "missing" && !errors.Is(err, resolver.ErrInvalidImage) {
				t.Errorf("error %v is no ErrInvalidImage", err)
			}
		})
	}
	t.Run("redirect to localhost from a public registry", func(t *testing.T) {
		g := newGuardFixture(t)
		g.proxy.always(blobs, redirect("http://localhost:"+g.secretPort))
		_, err := read(g.client(), g.repo, layer, 1<<20)
		if err == nil || !strings.Contains(err.Error(), "refusing to connect to localhost (127.0.0.1)") || g.secretHits.Load() != 0 {
			t.Errorf("error %v, %d requests to the secret server", err, g.secretHits.Load())
		}
	})
}
