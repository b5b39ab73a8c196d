package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/tspclient-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testTSA is an RFC 3161 timestamp authority in the test's process, which
// stamps the time it is told to: a root, and a leaf whose extended key
// usage is timeStamping, critical (RFC 3161 2.3).
type testTSA struct {
	root, leaf *x509.Certificate
	key        *ecdsa.PrivateKey
	at         time.Time
}

func newTestTSA(t testing.TB, at time.Time) *testTSA {
	t.Helper()
	rootKey, leafKey := newECKey(t), newECKey(t)
	now := time.Now()
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "Test TSA Root", Organization: []string{"Acme"}, Country: []string{"US"}},
		NotBefore: now.Add(-10 * 24 * time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	root := certifyAny(t, rootT, rootT, &rootKey.PublicKey, rootKey)
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	leafT := &x509.Certificate{
		SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: "Test TSA", Organization: []string{"Acme"}, Country: []string{"US"}},
		NotBefore: now.Add(-9 * 24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	leaf := certifyAny(t, leafT, root, &leafKey.PublicKey, rootKey)
	return &testTSA{root: root, leaf: leaf, key: leafKey, at: at}
}

func certifyAny(t testing.TB, tmpl, parent *x509.Certificate, pub any, priv crypto.Signer) *x509.Certificate {
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

var hashes = map[string]crypto.Hash{
	"2.16.840.1.101.3.4.2.1": crypto.SHA256,
	"2.16.840.1.101.3.4.2.2": crypto.SHA384,
	"2.16.840.1.101.3.4.2.3": crypto.SHA512,
}

func (a *testTSA) Timestamp(_ context.Context, req *tspclient.Request) (*tspclient.Response, error) {
	h, ok := hashes[req.MessageImprint.HashAlgorithm.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("hash %s", req.MessageImprint.HashAlgorithm.Algorithm)
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     h,
		HashedMessage:     req.MessageImprint.HashedMessage,
		Time:              a.at,
		Nonce:             req.Nonce,
		Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
		Accuracy:          time.Second,
		AddTSACertificate: true,
	}
	dt, err := ts.CreateResponseWithOpts(a.leaf, a.key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var resp tspclient.Response
	if err := resp.UnmarshalBinary(dt); err != nil {
		return nil, err
	}
	return &resp, nil
}

// signTimestamped is signAt with the signature countersigned by tsa.
func (p pki) signTimestamped(t testing.TB, desc ocispec.Descriptor, at time.Time, tsa *testTSA) []byte {
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
	roots := x509.NewCertPool()
	roots.AddCert(tsa.root)
	dt, err := env.Sign(&signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        ls,
		SigningTime:   at,
		SigningAgent:  "sdkfront test",
		SigningScheme: signature.SigningSchemeX509,
		Timestamper:   tsa,
		TSARootCAs:    roots,
	})
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// An MCR-shaped envelope: COSE, PSS-SHA-384, a chain of three, an RFC
// 3161 timestamp. Its certificate has expired since it signed; the
// timestamp, from a TSA the policy trusts, shows it signed in time.
func TestNotationExpiredButTimestamped(t *testing.T) {
	signedAt := time.Now().Add(-36 * time.Hour)
	old := newPKI(t, 0, "SDK Signer", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	tsa := newTestTSA(t, signedAt)
	subj := subjectOf("go")
	env := old.signTimestamped(t, subj.Descriptor(), signedAt, tsa)
	parsed, err := signature.ParseEnvelope(cose.MediaTypeEnvelope, env)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parsed.Content()
	if err != nil {
		t.Fatal(err)
	}
	if si := c.SignerInfo; si.SignatureAlgorithm != signature.AlgorithmPS384 || len(si.CertificateChain) != 3 || len(si.UnsignedAttributes.TimestampSignature) == 0 {
		t.Fatalf("envelope: algorithm %v, chain of %d, timestamp of %d bytes; want MCR's shape", si.SignatureAlgorithm, len(si.CertificateChain), len(si.UnsignedAttributes.TimestampSignature))
	}

	policy := func(stores string) fstest.MapFS {
		fsys := notationFS(old.root, "strict", signerIdentity)
		fsys["notation/trustpolicy.json"].Data = []byte(strings.Replace(string(fsys["notation/trustpolicy.json"].Data), `["ca:acme"]`, stores, 1))
		fsys["notation/truststore/x509/tsa/acme-tsa/root.pem"] = &fstest.MapFile{Data: pemCert(tsa.root)}
		return fsys
	}
	t.Run("tsa trusted", func(t *testing.T) {
		s := newMemStore()
		sig := s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, env)
		got, err := NewVerifier(loadTestPolicy(t, policy(`["ca:acme", "tsa:acme-tsa"]`)), s, Limits{}).Verify(context.Background(), subj)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Signatures) != 1 || got.Signatures[0].Digest != sig.Digest {
			t.Fatalf("signatures %+v, want %s", got.Signatures, sig.Digest)
		}
	})
	t.Run("no tsa store", func(t *testing.T) {
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, env)
		_, err := NewVerifier(loadTestPolicy(t, policy(`["ca:acme"]`)), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrExpired)
	})
	t.Run("timestamp from another TSA", func(t *testing.T) {
		other := newTestTSA(t, signedAt)
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, old.signTimestamped(t, subj.Descriptor(), signedAt, other))
		_, err := NewVerifier(loadTestPolicy(t, policy(`["ca:acme", "tsa:acme-tsa"]`)), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrExpired)
	})
}
