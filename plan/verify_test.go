package plan

import (
	"context"
	"errors"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// manifestStore is a trust.Store that serves one manifest by digest.
type manifestStore struct {
	trust.Store // nil: Subject reads nothing else
	body        []byte
	max         int64
}

func (m *manifestStore) Fetch(_ context.Context, _ string, desc ocispecs.Descriptor, maxBytes int64) ([]byte, error) {
	m.max = maxBytes
	if desc.Digest != digest.FromBytes(m.body) {
		return nil, errors.New("not found")
	}
	return m.body, nil
}

// Subject gives trust the SDK's descriptor as the registry serves it: a
// Notary Project signature signs media type and size with the digest.
func TestSubject(t *testing.T) {
	for name, tc := range map[string]struct {
		body string
		want string
	}{
		"index":                  {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, ocispecs.MediaTypeImageIndex},
		"docker list":            {`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}`, "application/vnd.docker.distribution.manifest.list.v2+json"},
		"index without its type": {`{"schemaVersion":2,"manifests":[]}`, ocispecs.MediaTypeImageIndex},
		"manifest without type":  {`{"schemaVersion":2,"config":{},"layers":[]}`, ocispecs.MediaTypeImageManifest},
	} {
		s := &manifestStore{body: []byte(tc.body)}
		res := resolver.Resolution{Repository: "reg/sdks/golang", Digest: digest.FromString(tc.body)}
		got, err := Subject(context.Background(), s, res)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.MediaType != tc.want || got.Size != int64(len(tc.body)) || got.Digest != res.Digest || got.Repo != res.Repository {
			t.Errorf("%s: %+v, want %s of %d bytes", name, got, tc.want, len(tc.body))
		}
		if s.max != maxSubjectBytes {
			t.Errorf("%s: read with a bound of %d bytes", name, s.max)
		}
	}
	_, err := Subject(context.Background(), &manifestStore{body: []byte("{}")}, resolver.Resolution{Repository: "reg/sdks/golang", Digest: digest.FromString("other")})
	if err == nil || err.Error() != "reading reg/sdks/golang@"+digest.FromString("other").String()+" to verify its signatures: not found" {
		t.Errorf("error %v, want the read named", err)
	}
}
