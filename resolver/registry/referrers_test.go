package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/trust"
)

// put uploads a blob or PUTs a manifest to the in-process registry.
func put(t *testing.T, base, repo string, dt []byte, manifestRef string) ocispecs.Descriptor {
	t.Helper()
	d := digest.FromBytes(dt)
	u := fmt.Sprintf("%s/v2/%s/blobs/uploads/?digest=%s", base, repo, d)
	method, ct := http.MethodPost, "application/octet-stream"
	if manifestRef != "" {
		u = fmt.Sprintf("%s/v2/%s/manifests/%s", base, repo, manifestRef)
		method, ct = http.MethodPut, ocispecs.MediaTypeImageManifest
	}
	req, _ := http.NewRequest(method, u, bytes.NewReader(dt))
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s: %s", method, u, resp.Status)
	}
	return ocispecs.Descriptor{Digest: d, Size: int64(len(dt))}
}

// signed pushes a subject manifest and a signature manifest that refers
// to it, as notation does, and returns the subject, the signature and its
// envelope.
func signed(t *testing.T, base, repo string, referrersTag bool) (subject, sig ocispecs.Descriptor, envelope []byte) {
	t.Helper()
	return signedWith(t, base, repo, referrersTag, trust.ArtifactTypeNotation, "application/cose", func(ocispecs.Descriptor) []byte { return []byte("a COSE envelope") })
}

// signedWith is signed with a signature of artifactType, a layer of
// layerType, whose content sign makes over the subject.
func signedWith(t *testing.T, base, repo string, referrersTag bool, artifactType, layerType string, sign func(ocispecs.Descriptor) []byte) (subject, sig ocispecs.Descriptor, envelope []byte) {
	t.Helper()
	cfg := put(t, base, repo, []byte("{}"), "")
	man := func(artifactType string, layers []ocispecs.Descriptor, subj *ocispecs.Descriptor) []byte {
		// The config's media type is the artifact type, as OCI 1.0
		// artifacts had it: ggcr's registry reports a referrer's
		// artifactType from it, not from the manifest's artifactType.
		cfg.MediaType = ocispecs.MediaTypeEmptyJSON
		if artifactType != "" {
			cfg.MediaType = artifactType
		}
		m := ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest, ArtifactType: artifactType, Config: cfg, Layers: layers, Subject: subj}
		m.SchemaVersion = 2
		dt, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return dt
	}
	sdk := man("", []ocispecs.Descriptor{}, nil)
	subject = put(t, base, repo, sdk, "1.23")
	subject.MediaType = ocispecs.MediaTypeImageManifest
	envelope = sign(subject)
	layer := put(t, base, repo, envelope, "")
	layer.MediaType = layerType
	sigDT := man(artifactType, []ocispecs.Descriptor{layer}, &subject)
	sig = put(t, base, repo, sigDT, digest.FromBytes(sigDT).String())
	sig.MediaType = ocispecs.MediaTypeImageManifest
	sig.ArtifactType = artifactType
	if referrersTag {
		idx := ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: []ocispecs.Descriptor{sig}}
		idx.SchemaVersion = 2
		dt, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v2/%s/manifests/%s-%s", base, repo, subject.Digest.Algorithm(), subject.Digest.Encoded()), bytes.NewReader(dt))
		req.Header.Set("Content-Type", ocispecs.MediaTypeImageIndex)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	return subject, sig, envelope
}

func TestReferrersStore(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(api))
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			repo := host + "/sdks/golang"
			subject, sig, envelope := signed(t, srv.URL, "sdks/golang", !api)
			c := New()
			ctx := context.Background()

			descs, err := c.Referrers(ctx, repo, subject.Digest, trust.ArtifactTypeNotation)
			if !api {
				if !errors.Is(err, trust.ErrNoReferrersAPI) {
					t.Fatalf("Referrers: %v, want trust.ErrNoReferrersAPI", err)
				}
				dt, err := c.FetchTag(ctx, repo, subject.Digest.Algorithm().String()+"-"+subject.Digest.Encoded(), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				var idx ocispecs.Index
				if err := json.Unmarshal(dt, &idx); err != nil {
					t.Fatal(err)
				}
				descs = idx.Manifests
				if _, err := c.FetchTag(ctx, repo, "sha256-"+strings.Repeat("0", 64), 1<<20); !errors.Is(err, trust.ErrNotFound) {
					t.Errorf("FetchTag of a missing tag: %v, want trust.ErrNotFound", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(descs) != 1 || descs[0].Digest != sig.Digest || descs[0].ArtifactType != trust.ArtifactTypeNotation {
				t.Fatalf("referrers %+v, want %s", descs, sig.Digest)
			}

			dt, err := c.Fetch(ctx, repo, descs[0], 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var m ocispecs.Manifest
			if err := json.Unmarshal(dt, &m); err != nil || m.Subject == nil || m.Subject.Digest != subject.Digest {
				t.Fatalf("signature manifest %s (%v), want one whose subject is %s", dt, err, subject.Digest)
			}
			got, err := c.Fetch(ctx, repo, m.Layers[0], 1<<20)
			if err != nil || !bytes.Equal(got, envelope) {
				t.Fatalf("envelope %q (%v), want %q", got, err, envelope)
			}
			if _, err := c.Fetch(ctx, repo, m.Layers[0], int64(len(envelope)-1)); !errors.Is(err, trust.ErrBounds) {
				t.Errorf("Fetch past maxBytes: %v, want trust.ErrBounds", err)
			}
		})
	}
}

// The Client as trust's Store, end to end over HTTP: a cosign-style
// bundle found through the referrers API or the tag schema, verified.
func TestReferrersStoreVerifies(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(api)))
			t.Cleanup(srv.Close)
			repo := strings.TrimPrefix(srv.URL, "http://") + "/sdks/golang"
			subject, sig, _ := signedWith(t, srv.URL, "sdks/golang", !api, trust.ArtifactTypeSigstore, trust.ArtifactTypeSigstore,
				func(d ocispecs.Descriptor) []byte { return testregistry.CosignBundle(t, key, repo, d.Digest) })
			policy, err := trust.LoadPolicy(fstest.MapFS{
				"sigstore.json": {Data: []byte(`{"version": "1", "policies": [{"name": "k", "registryScopes": ["` + repo + `"], "publicKey": "k.pub"}]}`)},
				"k.pub":         {Data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := trust.NewVerifier(policy, New(), trust.Limits{}).Verify(context.Background(),
				trust.Subject{Repo: repo, Digest: subject.Digest, MediaType: subject.MediaType, Size: subject.Size})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Signatures) != 1 || got.Signatures[0].Digest != sig.Digest {
				t.Fatalf("signatures %+v, want %s", got.Signatures, sig.Digest)
			}
		})
	}
}
