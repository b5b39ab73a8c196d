package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"testing"
	"testing/fstest"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// cosignStatement is what cosign v3 signs for an image: an in-toto
// statement whose subject is the image digest.
func cosignStatement(t testing.TB, subj Subject) []byte {
	t.Helper()
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": subj.Repo, "digest": map[string]string{"sha256": subj.Digest.Encoded()}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	}
	dt, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

func protoEnvelope(t testing.TB, env *dsse.Envelope) *protodsse.Envelope {
	t.Helper()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	out := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			t.Fatal(err)
		}
		out.Signatures = append(out.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	return out
}

func marshalBundle(t testing.TB, b *protobundle.Bundle) []byte {
	t.Helper()
	b.MediaType = ArtifactTypeSigstore
	dt, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// keyBundle signs subj's statement with key, as cosign sign --key does
// (without a transparency log entry).
func keyBundle(t testing.TB, key *ecdsa.PrivateKey, subj Subject) []byte {
	t.Helper()
	sv, err := signature.LoadECDSASignerVerifier(key, cryptoHash())
	if err != nil {
		t.Fatal(err)
	}
	es, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: sv, Pub: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), "application/vnd.in-toto+json", cosignStatement(t, subj))
	if err != nil {
		t.Fatal(err)
	}
	return marshalBundle(t, &protobundle.Bundle{
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: protoEnvelope(t, env)},
	})
}

func pemKey(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sigstoreFS(doc string, files map[string][]byte) fstest.MapFS {
	fsys := fstest.MapFS{SigstorePolicyFile: {Data: []byte(doc)}}
	for name, dt := range files {
		fsys[name] = &fstest.MapFile{Data: dt}
	}
	return fsys
}

const keyPolicy = `{"version": "1", "policies": [{"name": "acme-key", "registryScopes": ["` + testRepo + `"], "publicKey": "keys/cosign.pub"}]}`

func TestSigstoreKey(t *testing.T) {
	key := newECKey(t)
	fsys := sigstoreFS(keyPolicy, map[string][]byte{"keys/cosign.pub": pemKey(t, key)})
	subj := subjectOf("go")
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	fp := sha256.Sum256(der)

	t.Run("trusted", func(t *testing.T) {
		s := newMemStore()
		sig := s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keyBundle(t, key, subj))
		got, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		if err != nil {
			t.Fatal(err)
		}
		want := Signature{Kind: Sigstore, Policy: "acme-key", Level: Strict, Digest: sig.Digest, Signer: "key sha256:" + hex.EncodeToString(fp[:])}
		if len(got.Signatures) != 1 || got.Signatures[0] != want {
			t.Fatalf("signatures %+v, want %+v", got.Signatures, want)
		}
	})
	t.Run("none", func(t *testing.T) {
		_, err := NewVerifier(loadTestPolicy(t, fsys), newMemStore(), Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrNoSignature, `no Sigstore signature trusted by policy "acme-key" (sigstore.json): no signatures found`)
	})
	t.Run("another key", func(t *testing.T) {
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keyBundle(t, newECKey(t), subj))
		_, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrUntrusted, "1 signature found, not from a trusted identity")
	})
	t.Run("other digest", func(t *testing.T) {
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keyBundle(t, key, subjectOf("evil")))
		_, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrOtherDigest, "it is not over this digest")
	})
	t.Run("tampered", func(t *testing.T) {
		s := newMemStore()
		b := keyBundle(t, key, subj)
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, b[:len(b)-2])
		_, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrTampered, "its envelope was tampered with")
	})
}

const (
	testIssuer   = "https://token.actions.githubusercontent.com"
	testIdentity = "https://github.com/acme/sdks/.github/workflows/release.yml@refs/tags/v1.23.4"
)

// keylessBundle signs subj's statement as cosign sign does keyless: a
// Fulcio certificate for identity, a Rekor entry with its inclusion
// proof, and a timestamp, all from vs.
func keylessBundle(t testing.TB, vs *ca.VirtualSigstore, identity string, subj Subject) []byte {
	t.Helper()
	e, err := vs.AttestAtTime(identity, testIssuer, cosignStatement(t, subj), time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	tss, err := e.Timestamps()
	if err != nil {
		t.Fatal(err)
	}
	var tles []*protorekor.TransparencyLogEntry
	for _, en := range entries {
		tle := en.TransparencyLogEntry()
		// What Rekor's answer names and tlog.NewEntry leaves out.
		tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
		tles = append(tles, tle)
	}
	var rfc3161 []*protocommon.RFC3161SignedTimestamp
	for _, ts := range tss {
		rfc3161 = append(rfc3161, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	return marshalBundle(t, &protobundle.Bundle{
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               tles,
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc3161},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: protoEnvelope(t, sc.EnvelopeContent().RawEnvelope())},
	})
}

// trustedRootJSON is vs's trusted root; withCT adds its CT logs, which
// make SCTs required (VirtualSigstore's certificates carry none).
func trustedRootJSON(t testing.TB, vs *ca.VirtualSigstore, withCT bool) []byte {
	t.Helper()
	// VirtualSigstore names its logs by the hex of their key IDs, where a
	// trusted_root.json holds the raw bytes.
	raw := func(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		out := map[string]*root.TransparencyLog{}
		for id, l := range logs {
			b, err := hex.DecodeString(id)
			if err != nil {
				t.Fatal(err)
			}
			c := *l
			c.ID = b
			out[id] = &c
		}
		return out
	}
	var ct map[string]*root.TransparencyLog
	if withCT {
		ct = raw(vs.CTLogs())
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), ct, vs.TimestampingAuthorities(), raw(vs.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	dt, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

func TestSigstoreKeyless(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	policy := `{"version": "1", "policies": [{"name": "acme-release", "registryScopes": ["` + testRepo + `"],
		"keyless": {"issuer": "` + testIssuer + `", "subjectRegExp": "https://github\\.com/acme/sdks/\\.github/workflows/release\\.yml@refs/tags/v.*"},
		"trustedRoot": "trusted_root.json"}]}`
	fsys := sigstoreFS(policy, map[string][]byte{"trusted_root.json": trustedRootJSON(t, vs, false)})
	subj := subjectOf("go")

	t.Run("trusted", func(t *testing.T) {
		s := newMemStore()
		sig := s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keylessBundle(t, vs, testIdentity, subj))
		got, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		if err != nil {
			t.Fatal(err)
		}
		want := Signature{Kind: Sigstore, Policy: "acme-release", Level: Strict, Digest: sig.Digest, Signer: testIssuer + " " + testIdentity}
		if len(got.Signatures) != 1 || got.Signatures[0] != want {
			t.Fatalf("signatures %+v, want %+v", got.Signatures, want)
		}
	})
	t.Run("SCT required where the root has CT logs", func(t *testing.T) {
		fsys := sigstoreFS(policy, map[string][]byte{"trusted_root.json": trustedRootJSON(t, vs, true)})
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keylessBundle(t, vs, testIdentity, subj))
		_, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrUntrusted, "signed certificate timestamp")
	})
	t.Run("untrusted identity", func(t *testing.T) {
		s := newMemStore()
		// The pattern is matched whole: a prefix of it is not enough.
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keylessBundle(t, vs, "https://evil.example/"+testIdentity, subj))
		_, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrUntrusted, "not from a trusted identity")
	})
	t.Run("untrusted root", func(t *testing.T) {
		other, err := ca.NewVirtualSigstore()
		if err != nil {
			t.Fatal(err)
		}
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keylessBundle(t, other, testIdentity, subj))
		_, err = NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrUntrusted)
	})
	t.Run("other digest", func(t *testing.T) {
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keylessBundle(t, vs, testIdentity, subjectOf("evil")))
		_, err := NewVerifier(loadTestPolicy(t, fsys), s, Limits{}).Verify(context.Background(), subj)
		wantError(t, err, ErrOtherDigest)
	})
}

func cryptoHash() crypto.Hash { return crypto.SHA256 }
