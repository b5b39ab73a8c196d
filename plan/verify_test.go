package plan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"testing/fstest"

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

// An SDK that every policy skips costs no registry read; one a policy
// checks has its descriptor read once, then its signatures.
func TestVerifierReadsNothingUnderSkip(t *testing.T) {
	policy, err := trust.LoadPolicy(fstest.MapFS{"sigstore.json": {Data: []byte(`{"version": "1", "policies": [
		{"name": "golang", "registryScopes": ["reg.test/sdks/golang"], "level": "audit", "publicKey": "k.pub"},
		{"name": "rest", "registryScopes": ["*"], "level": "skip"}]}`)}, "k.pub": {Data: testKey(t)}})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`
	s := &countingStore{manifestStore: manifestStore{body: []byte(body)}}
	verify := Verifier(s, policy)
	v, err := verify(context.Background(), resolver.Resolution{Repository: "reg.test/sdks/nodejs", Digest: digest.FromString(body)})
	if err != nil || len(v.Signatures) != 1 || v.Signatures[0].Level != trust.Skip {
		t.Fatalf("verdict %+v, %v; want rest's skip", v, err)
	}
	if s.reads != 0 {
		t.Errorf("%d registry reads for a skipped SDK", s.reads)
	}
	v, err = verify(context.Background(), resolver.Resolution{Repository: "reg.test/sdks/golang", Digest: digest.FromString(body)})
	if err != nil || len(v.Warnings) != 1 || v.Subject.MediaType != ocispecs.MediaTypeImageIndex {
		t.Fatalf("verdict %+v, %v; want an audit finding over the index", v, err)
	}
	if s.reads == 0 {
		t.Error("the audited SDK's descriptor was not read")
	}
}

// countingStore is a manifestStore with no signatures (no referrers API,
// no referrers tag) that counts reads.
type countingStore struct {
	manifestStore
	reads int
}

func (c *countingStore) Fetch(ctx context.Context, repo string, desc ocispecs.Descriptor, maxBytes int64) ([]byte, error) {
	c.reads++
	return c.manifestStore.Fetch(ctx, repo, desc, maxBytes)
}

func (c *countingStore) Referrers(context.Context, string, digest.Digest, string) ([]ocispecs.Descriptor, error) {
	c.reads++
	return nil, trust.ErrNoReferrersAPI
}

func (c *countingStore) FetchTag(context.Context, string, string, int64) ([]byte, error) {
	c.reads++
	return nil, trust.ErrNotFound
}

// testKey is a PEM public key, for a policy that names one.
func testKey(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
