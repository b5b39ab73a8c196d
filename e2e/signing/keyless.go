package signing

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"
)

// Keyless signs as `cosign sign` does keyless, with sigstore-go's
// VirtualSigstore standing in for Fulcio, Rekor and a TSA: no OIDC provider
// or public log exists on loopback, and cosign cannot be pointed at an
// in-process one. The bundle is what cosign v3 pushes (a DSSE envelope over
// an in-toto statement naming the digest, the Fulcio certificate, a Rekor
// entry with its inclusion proof, an RFC 3161 timestamp), attached as an OCI
// referrer.
type Keyless struct {
	vs *ca.VirtualSigstore
}

// NewKeyless makes a virtual Sigstore instance of its own.
func NewKeyless() (*Keyless, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, fmt.Errorf("virtual sigstore: %w", err)
	}
	return &Keyless{vs: vs}, nil
}

// TrustedRoot is the instance's trusted_root.json: its Fulcio CA, Rekor log
// and TSA. It names no CT log: VirtualSigstore's certificates carry no SCT.
func (k *Keyless) TrustedRoot() ([]byte, error) {
	// VirtualSigstore keys its logs by the hex of their IDs, where a
	// trusted_root.json holds the raw bytes.
	logs := map[string]*root.TransparencyLog{}
	for id, l := range k.vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
		if err != nil {
			return nil, fmt.Errorf("rekor log id %q: %w", id, err)
		}
		c := *l
		c.ID = raw
		logs[id] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, k.vs.FulcioCertificateAuthorities(), nil, k.vs.TimestampingAuthorities(), logs)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// Sign makes a bundle over subject for the OIDC identity (issuer, subject
// SAN) and pushes it to subject's repository as a referrer of subject. It
// returns the signature manifest's digest.
func (k *Keyless) Sign(ctx context.Context, subject name.Digest, issuer, identity string) (name.Digest, error) {
	fail := func(err error) (name.Digest, error) {
		return name.Digest{}, fmt.Errorf("keyless signature of %s: %w", subject, err)
	}
	b, err := k.bundle(subject, issuer, identity)
	if err != nil {
		return fail(err)
	}
	d, err := putReferrer(ctx, subject, CosignArtifactType, b)
	if err != nil {
		return fail(err)
	}
	return d, nil
}

func (k *Keyless) bundle(subject name.Digest, issuer, identity string) ([]byte, error) {
	h := subject.DigestStr()
	if len(h) < len("sha256:") || h[:len("sha256:")] != "sha256:" {
		return nil, fmt.Errorf("not a sha256 digest: %s", h)
	}
	// What cosign v3 signs for an image.
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": subject.Context().Name(), "digest": map[string]string{"sha256": h[len("sha256:"):]}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	e, err := k.vs.AttestAtTime(identity, issuer, st, time.Now(), true)
	if err != nil {
		return nil, err
	}
	vc, err := e.VerificationContent()
	if err != nil {
		return nil, err
	}
	sc, err := e.SignatureContent()
	if err != nil {
		return nil, err
	}
	entries, err := e.TlogEntries()
	if err != nil {
		return nil, err
	}
	tss, err := e.Timestamps()
	if err != nil {
		return nil, err
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
	env := sc.EnvelopeContent().RawEnvelope()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	penv := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, err
		}
		penv.Signatures = append(penv.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	return protojson.Marshal(&protobundle.Bundle{
		MediaType: CosignArtifactType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               tles,
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc3161},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: penv},
	})
}

// emptyConfig is the OCI empty descriptor's blob, an artifact's config.
var emptyConfig = []byte("{}")

// putReferrer pushes an artifact manifest of artifactType with envelope as
// its one layer and subject as its subject, to subject's repository, shaped
// as cosign v3 pushes a bundle. go-containerregistry updates the
// sha256-<hex> tag where the registry has no referrers API.
func putReferrer(ctx context.Context, subject name.Digest, artifactType string, envelope []byte) (name.Digest, error) {
	opts := []remote.Option{remote.WithContext(ctx)}
	repo := subject.Context()
	sub, err := remote.Head(subject, opts...)
	if err != nil {
		return name.Digest{}, err
	}
	cfg := static.NewLayer(emptyConfig, types.MediaType("application/vnd.oci.empty.v1+json"))
	env := static.NewLayer(envelope, types.MediaType(artifactType))
	for _, l := range []v1.Layer{cfg, env} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return name.Digest{}, err
		}
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.OCIManifestSchema1),
		"artifactType":  artifactType,
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": fmt.Sprintf("sha256:%x", sha256.Sum256(emptyConfig)), "size": len(emptyConfig)},
		"layers":        []any{map[string]any{"mediaType": artifactType, "digest": fmt.Sprintf("sha256:%x", sha256.Sum256(envelope)), "size": len(envelope)}},
		"subject":       map[string]any{"mediaType": sub.MediaType, "digest": sub.Digest.String(), "size": sub.Size},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return name.Digest{}, err
	}
	out := repo.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(raw)))
	if err := remote.Put(out, rawManifest{raw: raw, mediaType: types.OCIManifestSchema1}, opts...); err != nil {
		return name.Digest{}, err
	}
	return out, nil
}
