package trust

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const testRepo = "registry.example/sdks/golang"

// pki is a chain of three like MCR's: root CA, intermediate, leaf, RSA
// 3072 keys, so that notation signs with RSASSA-PSS-SHA-384.
type pki struct {
	root, inter, leaf *x509.Certificate
	leafKey           *rsa.PrivateKey
}

var (
	pkiOnce sync.Once
	keys    [4]*rsa.PrivateKey // made once: RSA 3072 keys are slow to make
)

func testKeys(t testing.TB) [4]*rsa.PrivateKey {
	pkiOnce.Do(func() {
		for i := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 3072)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}
	})
	return keys
}

func certify(t testing.TB, tmpl, parent *x509.Certificate, pub *rsa.PublicKey, priv *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
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

// cas are the root and intermediate CAs under each root key, made once,
// so that leaves made apart chain to the same trusted root.
var (
	casMu sync.Mutex
	cas   = map[int][2]*x509.Certificate{}
)

func caFor(t testing.TB, rootKey int) (root, inter *x509.Certificate) {
	k := testKeys(t)
	casMu.Lock()
	defer casMu.Unlock()
	if c, ok := cas[rootKey]; ok {
		return c[0], c[1]
	}
	now := time.Now()
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA", Organization: []string{"Acme"}, Country: []string{"US"}},
		NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	root = certify(t, rootT, rootT, &k[rootKey].PublicKey, k[rootKey])
	interT := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test Intermediate CA", Organization: []string{"Acme"}, Country: []string{"US"}},
		NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	inter = certify(t, interT, root, &k[2].PublicKey, k[rootKey])
	cas[rootKey] = [2]*x509.Certificate{root, inter}
	return root, inter
}

// newPKI makes a leaf valid from notBefore to notAfter under the CAs of
// rootKey (0 is the trusted one).
func newPKI(t testing.TB, rootKey int, leafName string, notBefore, notAfter time.Time) pki {
	k := testKeys(t)
	root, inter := caFor(t, rootKey)
	leafT := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: leafName, Organization: []string{"Acme"}, Province: []string{"WA"}, Country: []string{"US"}},
		NotBefore: notBefore, NotAfter: notAfter,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leaf := certify(t, leafT, inter, &k[3].PublicKey, k[2])
	return pki{root: root, inter: inter, leaf: leaf, leafKey: k[3]}
}

func validPKI(t testing.TB) pki {
	return newPKI(t, 0, "SDK Signer", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// sign makes a COSE envelope over desc with notation-go's own signer.
func (p pki) sign(t testing.TB, desc ocispec.Descriptor) []byte {
	t.Helper()
	s, err := signer.NewGenericSigner(p.leafKey, []*x509.Certificate{p.leaf, p.inter, p.root})
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: cose.MediaTypeEnvelope})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// signAt makes a COSE envelope as notation does, at a signing time of
// the test's choosing: a signature made while a certificate was valid,
// verified after it expired.
func (p pki) signAt(t testing.TB, desc ocispec.Descriptor, at time.Time) []byte {
	t.Helper()
	payload, err := json.Marshal(notationPayload{TargetArtifact: desc})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := signature.NewLocalSigner([]*x509.Certificate{p.leaf, p.inter, p.root}, p.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signature.NewEnvelope(cose.MediaTypeEnvelope)
	if err != nil {
		t.Fatal(err)
	}
	dt, err := env.Sign(&signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        ls,
		SigningTime:   at,
		SigningAgent:  "sdkfront test",
		SigningScheme: signature.SigningSchemeX509,
	})
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// notationFS is a trust directory whose policy "mcr-sdks" trusts root for
// testRepo at level, with identity as its trusted identity.
func notationFS(root *x509.Certificate, level, identity string) fstest.MapFS {
	policy := `{"version": "1.0", "trustPolicies": [{
		"name": "mcr-sdks",
		"registryScopes": ["` + testRepo + `"],
		"signatureVerification": {"level": "` + level + `"},
		"trustStores": ["ca:acme"],
		"trustedIdentities": ["` + identity + `"]}]}`
	if level == "skip" {
		policy = `{"version": "1.0", "trustPolicies": [{"name": "mcr-sdks", "registryScopes": ["` + testRepo + `"],
			"signatureVerification": {"level": "skip"}}]}`
	}
	return fstest.MapFS{
		"notation/trustpolicy.json":                 {Data: []byte(policy)},
		"notation/truststore/x509/ca/acme/root.pem": {Data: pemCert(root)},
	}
}

const signerIdentity = "x509.subject: C=US, ST=WA, O=Acme, CN=SDK Signer"

func subjectOf(name string) Subject {
	dt := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"n":"` + name + `"}}`)
	return Subject{Repo: testRepo, Digest: digest.FromBytes(dt), MediaType: ocispec.MediaTypeImageIndex, Size: int64(len(dt))}
}

func loadTestPolicy(t testing.TB, fsys fstest.MapFS) *Policy {
	t.Helper()
	p, err := LoadPolicy(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNotationTrusted(t *testing.T) {
	for _, noAPI := range []bool{false, true} {
		name := "referrers API"
		if noAPI {
			name = "referrers tag"
		}
		t.Run(name, func(t *testing.T) {
			p := validPKI(t)
			subj := subjectOf("go")
			s := newMemStore()
			s.noAPI = noAPI
			sig := s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, subj.Descriptor()))
			v := NewVerifier(loadTestPolicy(t, notationFS(p.root, "strict", signerIdentity)), s, Limits{})
			got, err := v.Verify(context.Background(), subj)
			if err != nil {
				t.Fatal(err)
			}
			want := Signature{Kind: Notation, Policy: "mcr-sdks", Level: Strict, Digest: sig.Digest, Signer: "CN=SDK Signer,O=Acme,ST=WA,C=US"}
			if len(got.Signatures) != 1 || got.Signatures[0] != want {
				t.Fatalf("signatures %+v, want %+v", got.Signatures, want)
			}
			if len(got.Warnings) != 0 {
				t.Errorf("warnings %q", got.Warnings)
			}
			if noAPI && s.tagCalls.Load() != 1 {
				t.Errorf("%d reads of the referrers tag, want 1", s.tagCalls.Load())
			}
		})
	}
}

// wantError checks err is an *Error of reason whose text holds each of
// parts.
func wantError(t *testing.T, err, reason error, parts ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, reason) {
		t.Fatalf("error %v, want an *Error of %v", err, reason)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}

func TestNotationFailures(t *testing.T) {
	good := validPKI(t)
	subj := subjectOf("go")
	policy := notationFS(good.root, "strict", signerIdentity)
	for _, tc := range []struct {
		name   string
		attach func(t *testing.T, s *memStore)
		reason error
		parts  []string
	}{{
		name:   "none",
		attach: func(*testing.T, *memStore) {},
		reason: ErrNoSignature,
		parts:  []string{subj.Digest.String() + " of " + testRepo + `: no Notary Project signature trusted by policy "mcr-sdks" (notation/trustpolicy.json): no signatures found`},
	}, {
		name: "untrusted identity",
		attach: func(t *testing.T, s *memStore) {
			other := newPKI(t, 0, "Someone Else", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, other.sign(t, subj.Descriptor()))
			s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, other.sign(t, subj.Descriptor()))
		},
		reason: ErrUntrusted,
		parts:  []string{"2 signatures found, none from a trusted identity"},
	}, {
		name: "untrusted root",
		attach: func(t *testing.T, s *memStore) {
			other := newPKI(t, 1, "SDK Signer", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, other.sign(t, subj.Descriptor()))
		},
		reason: ErrUntrusted,
		parts:  []string{"1 signature found, not from a trusted identity"},
	}, {
		name: "other digest",
		attach: func(t *testing.T, s *memStore) {
			s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, good.sign(t, subjectOf("evil").Descriptor()))
		},
		reason: ErrOtherDigest,
		parts:  []string{"1 signature found, it is not over this digest"},
	}, {
		name: "tampered",
		attach: func(t *testing.T, s *memStore) {
			env := good.sign(t, subj.Descriptor())
			i := strings.Index(string(env), "targetArtifact")
			env[i] = 'T'
			s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, env)
		},
		reason: ErrTampered,
		parts:  []string{"1 signature found, its envelope was tampered with"},
	}, {
		name: "expired without timestamp",
		attach: func(t *testing.T, s *memStore) {
			old := newPKI(t, 0, "SDK Signer", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
			s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, old.signAt(t, subj.Descriptor(), time.Now().Add(-36*time.Hour)))
		},
		reason: ErrExpired,
		parts:  []string{"expired without a valid timestamp"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore()
			tc.attach(t, s)
			_, err := NewVerifier(loadTestPolicy(t, policy), s, Limits{}).Verify(context.Background(), subj)
			wantError(t, err, tc.reason, tc.parts...)
		})
	}
}
