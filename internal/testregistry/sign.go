package testregistry

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// Artifact and layer types of signatures, as notation and cosign v3 store
// them (trust.ArtifactTypeNotation, trust.ArtifactTypeSigstore).
const (
	ArtifactNotation = "application/vnd.cncf.notary.signature"
	ArtifactSigstore = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MediaTypeCOSE    = "application/cose"
)

// NewKey is an ECDSA P-256 key, as cosign generate-key-pair makes.
func NewKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// PublicKeyPEM is key's public half as cosign.pub holds it.
func PublicKeyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// CosignBundle signs repo@d with key as cosign sign --key does: a DSSE
// envelope over an in-toto statement whose subject is d, in a sigstore
// bundle without a transparency log entry.
func CosignBundle(t testing.TB, key *ecdsa.PrivateKey, repo string, d digest.Digest) []byte {
	t.Helper()
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": repo, "digest": map[string]string{d.Algorithm().String(): d.Encoded()}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	es, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: sv, Pub: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), "application/vnd.in-toto+json", st)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	pe := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			t.Fatal(err)
		}
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	dt, err := protojson.Marshal(&protobundle.Bundle{
		MediaType: ArtifactSigstore,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe},
	})
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// Notary is a Notary Project signer: a root CA and a leaf certificate
// (ECDSA P-384) whose subject is C=US, ST=WA, O=Acme, CN=<name>.
type Notary struct {
	Root    *x509.Certificate
	leaf    *x509.Certificate
	leafKey *ecdsa.PrivateKey
}

// NewNotary makes a root CA and a code-signing leaf named cn under it.
func NewNotary(t testing.TB, cn string) *Notary {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA", Organization: []string{"Acme"}, Country: []string{"US"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	leafT := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: []string{"Acme"}, Province: []string{"WA"}, Country: []string{"US"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	cert := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, priv *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	root := cert(rootT, rootT, &rootKey.PublicKey, rootKey)
	return &Notary{Root: root, leaf: cert(leafT, root, &leafKey.PublicKey, rootKey), leafKey: leafKey}
}

// RootPEM is the root CA as a notation trust store holds it.
func (n *Notary) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: n.Root.Raw})
}

// Sign makes a COSE envelope over desc with notation-go's own signer.
func (n *Notary) Sign(t testing.TB, desc ocispecs.Descriptor) []byte {
	t.Helper()
	s, err := signer.NewGenericSigner(n.leafKey, []*x509.Certificate{n.leaf, n.Root})
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: cose.MediaTypeEnvelope})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Descriptor is the descriptor of repo's manifest ref ("sdks/golang",
// "bookworm-1.23.4"), as the registry serves it: what a signature signs.
func (r *Registry) Descriptor(t testing.TB, repo, ref string) ocispecs.Descriptor {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/v2/%s/manifests/%s", repo, ref), nil)
	req.Header.Set("Accept", ocispecs.MediaTypeImageIndex+", "+ocispecs.MediaTypeImageManifest)
	rec := httptest.NewRecorder()
	r.store.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET manifest %s:%s: HTTP %d", repo, ref, rec.Code)
	}
	dt := rec.Body.Bytes()
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(dt, &m); err != nil {
		t.Fatal(err)
	}
	return ocispecs.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(dt), Size: int64(len(dt))}
}

// Attach stores blob as a signature of repo's subject, as notation and
// cosign do: a manifest of artifactType whose one layer (of layerType) is
// blob and whose subject is subject, listed in the referrers tag
// (sha256-<hex>) with the subject's other signatures.
func (r *Registry) Attach(t testing.TB, repo string, subject ocispecs.Descriptor, artifactType, layerType string, blob []byte) ocispecs.Descriptor {
	t.Helper()
	layer := r.putBlob(t, repo, blob)
	layer.MediaType = layerType
	// The config's media type is the artifact type, as OCI 1.0 artifacts
	// had it, which ggcr's registry reports.
	cfg := r.putBlob(t, repo, []byte("{}"))
	cfg.MediaType = artifactType
	m := ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest, ArtifactType: artifactType, Config: cfg, Layers: []ocispecs.Descriptor{layer}, Subject: &subject}
	m.SchemaVersion = 2
	dt, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sig := ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageManifest, ArtifactType: artifactType, Digest: digest.FromBytes(dt), Size: int64(len(dt))}
	r.PushManifest(t, repo, sig.Digest.String(), ocispecs.MediaTypeImageManifest, dt)

	tag := subject.Digest.Algorithm().String() + "-" + subject.Digest.Encoded()
	r.mu.Lock()
	if r.referrers == nil {
		r.referrers = map[string][]ocispecs.Descriptor{}
	}
	r.referrers[repo+":"+tag] = append(r.referrers[repo+":"+tag], sig)
	idx := ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: r.referrers[repo+":"+tag]}
	r.mu.Unlock()
	idx.SchemaVersion = 2
	dt, err = json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	r.PushManifest(t, repo, tag, ocispecs.MediaTypeImageIndex, dt)
	return sig
}

// putBlob uploads dt to repo in one request.
func (r *Registry) putBlob(t testing.TB, repo string, dt []byte) ocispecs.Descriptor {
	t.Helper()
	d := digest.FromBytes(dt)
	req := httptest.NewRequest(http.MethodPost, fmt.Sprintf("/v2/%s/blobs/uploads/?digest=%s", repo, d), bytes.NewReader(dt))
	req.Header.Set("Content-Type", "application/octet-stream")
	rec := httptest.NewRecorder()
	r.store.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST blob %s@%s: HTTP %d %s", repo, d, rec.Code, rec.Body)
	}
	return ocispecs.Descriptor{Digest: d, Size: int64(len(dt))}
}
