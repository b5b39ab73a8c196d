package trust

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose" // registers application/cose
	_ "github.com/notaryproject/notation-core-go/signature/jws"  // registers application/jose+json
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Files of a Notary Project configuration, as notation keeps them under
// its config directory (~/.config/notation).
const (
	NotationTrustPolicy = "trustpolicy.json"
	notationTrustStore  = "truststore/x509"
	// maxPolicyBytes bounds a policy file, a certificate file, a key and a
	// trusted root alike: they are a user's files, but a build context
	// may hold anything.
	maxPolicyBytes = 4 << 20
)

// notationPolicy is a loaded trustpolicy.json with its trust stores.
type notationPolicy struct {
	file     string // as messages name it
	doc      *trustpolicy.Document
	verifier notation.Verifier
}

// loadNotation reads trustpolicy.json and every trust store it names from
// fsys, a notation config directory. Everything is read now, so that a
// broken store fails the load, and verification never touches fsys.
func loadNotation(fsys fs.FS, name string) (*notationPolicy, error) {
	dt, err := readFile(fsys, NotationTrustPolicy)
	if err != nil {
		return nil, err
	}
	var doc trustpolicy.Document
	dec := json.NewDecoder(bytes.NewReader(dt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := doc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	store := memTrustStore{}
	for _, p := range doc.TrustPolicies {
		for _, ts := range p.TrustStores {
			typ, named, _ := strings.Cut(ts, ":") // Validate checked the form
			key := typ + "/" + named
			if _, ok := store[key]; ok {
				continue
			}
			certs, err := readTrustStore(fsys, truststore.Type(typ), named)
			if err != nil {
				return nil, fmt.Errorf("%s: policy %q: %w", name, p.Name, err)
			}
			store[key] = certs
		}
	}
	v, err := verifier.NewWithOptions(&doc, store, nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  offlineRevocation{},
		RevocationTimestampingValidator: offlineRevocation{},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &notationPolicy{file: name, doc: &doc, verifier: v}, nil
}

// readTrustStore reads truststore/x509/<type>/<name>/*, as notation does:
// regular files of PEM or DER certificates, all CA or self-signed, roots
// for a TSA store.
func readTrustStore(fsys fs.FS, typ truststore.Type, named string) ([]*x509.Certificate, error) {
	dir := path.Join(notationTrustStore, string(typ), named)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("trust store %s:%s: %w", typ, named, err)
	}
	var all []*x509.Certificate
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("trust store %s:%s: %s is not a regular file", typ, named, e.Name())
		}
		dt, err := readFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		certs, err := parseCertificates(dt)
		if err != nil {
			return nil, fmt.Errorf("trust store %s:%s: %s: %w", typ, named, e.Name(), err)
		}
		if err := truststore.ValidateCertificates(certs); err != nil {
			return nil, fmt.Errorf("trust store %s:%s: %s: %w", typ, named, e.Name(), err)
		}
		if typ == truststore.TypeTSA {
			for _, c := range certs {
				if !c.IsCA || c.CheckSignatureFrom(c) != nil {
					return nil, fmt.Errorf("trust store %s:%s: %s: %q is not a root CA certificate", typ, named, e.Name(), c.Subject)
				}
			}
		}
		all = append(all, certs...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("trust store %s:%s: no certificates", typ, named)
	}
	return all, nil
}

// parseCertificates reads PEM certificates, or one DER certificate.
func parseCertificates(dt []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := dt
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	return x509.ParseCertificates(dt)
}

// memTrustStore is notation's X509TrustStore over certificates read at
// load time, keyed "<type>/<name>".
type memTrustStore map[string][]*x509.Certificate

func (m memTrustStore) GetCertificates(_ context.Context, typ truststore.Type, named string) ([]*x509.Certificate, error) {
	certs, ok := m[string(typ)+"/"+named]
	if !ok {
		return nil, truststore.TrustStoreError{Msg: fmt.Sprintf("the trust store %q of type %q does not exist", named, typ)}
	}
	return certs, nil
}

// offlineRevocation answers notation's revocation checks without the
// network: a build reaches registries only, never OCSP responders or CRL
// distribution points. Every certificate counts as one without a
// revocation method (docs/signatures.md says so).
type offlineRevocation struct{}

func (offlineRevocation) ValidateContext(_ context.Context, opts revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	out := make([]*result.CertRevocationResult, len(opts.CertChain))
	for i := range out {
		out[i] = &result.CertRevocationResult{Result: result.ResultNonRevokable}
	}
	return out, nil
}

// notationPayload is the part of a Notary Project payload that names what
// was signed.
type notationPayload struct {
	TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
}

// verify checks subj's Notary Project signatures under the policy whose
// scope covers subj.Repo.
func (p *notationPolicy) verify(ctx context.Context, s Store, subj Subject, lim Limits) (*Signature, []string, error) {
	ref := subj.Repo + "@" + subj.Digest.String()
	tp, err := p.doc.GetApplicableTrustPolicy(ref)
	if err != nil {
		return nil, nil, &Error{Repo: subj.Repo, Digest: subj.Digest, Kind: Notation, File: p.file, Reason: ErrNoPolicy}
	}
	lvl, err := tp.SignatureVerification.GetVerificationLevel()
	if err != nil { // Validate checked it
		return nil, nil, fmt.Errorf("%s: policy %q: %w", p.file, tp.Name, err)
	}
	level := Level(lvl.Name)
	fail := func(reason error, found int, detail string, err error) *Error {
		return &Error{Repo: subj.Repo, Digest: subj.Digest, Kind: Notation, Policy: tp.Name, File: p.file, Reason: reason, Found: found, Detail: detail, Err: err}
	}
	if level == Skip {
		return &Signature{Kind: Notation, Policy: tp.Name, Level: Skip}, nil, nil
	}
	descs, err := discover(ctx, s, subj.Repo, subj.Digest, ArtifactTypeNotation, lim)
	if err != nil {
		return nil, nil, boundsOr(ctx, fail, len(descs), err)
	}
	var failures []sigFailure
	for _, d := range descs {
		blob, mt, err := signatureBlob(ctx, s, subj.Repo, subj.Digest, d, []string{mediaTypeCOSE, mediaTypeJWS}, lim)
		if err != nil {
			f, stop := blobFailure(ctx, fail, len(descs), d.Digest.String(), err)
			if stop != nil {
				return nil, nil, stop
			}
			failures = append(failures, *f)
			continue
		}
		if err := checkNotationChain(blob, mt, lim); err != nil {
			return nil, nil, fail(ErrBounds, len(descs), fmt.Sprintf("signature %s: %v", d.Digest, err), err)
		}
		outcome, err := p.verifier.Verify(ctx, subj.Descriptor(), blob, notation.VerifierVerifyOptions{
			ArtifactReference:  ref,
			SignatureMediaType: mt,
		})
		if err != nil {
			failures = append(failures, sigFailure{d.Digest.String(), classifyNotation(outcome, subj), err})
			continue
		}
		if untrusted := loggedAuthenticity(outcome); untrusted != nil {
			// Audit logs what strict enforces: a signature whose
			// authenticity failed is not one a lock may name as verified.
			failures = append(failures, sigFailure{d.Digest.String(), ErrUntrusted, untrusted})
			continue
		}
		sig := &Signature{Kind: Notation, Policy: tp.Name, Level: level, Digest: d.Digest}
		if outcome.EnvelopeContent != nil && len(outcome.EnvelopeContent.SignerInfo.CertificateChain) > 0 {
			sig.Signer = outcome.EnvelopeContent.SignerInfo.CertificateChain[0].Subject.String()
		}
		var warnings []string
		for _, r := range outcome.VerificationResults {
			if r.Error != nil && r.Action == trustpolicy.ActionLog {
				warnings = append(warnings, fmt.Sprintf("%s of %s: signature %s, policy %q (%s, %s): %s check failed: %v", subj.Digest, subj.Repo, d.Digest, tp.Name, p.file, level, r.Type, r.Error))
			}
		}
		return sig, warnings, nil
	}
	if level == Audit {
		return audit(fail, failures, Signature{Kind: Notation, Policy: tp.Name, Level: Audit})
	}
	return nil, nil, best(fail, failures)
}

// loggedAuthenticity is an authenticity failure that the level only
// logged.
func loggedAuthenticity(o *notation.VerificationOutcome) error {
	for _, r := range o.VerificationResults {
		if r.Error != nil && r.Type == trustpolicy.TypeAuthenticity {
			return r.Error
		}
	}
	return nil
}

// checkNotationChain bounds an envelope's certificate chain before
// notation verifies it.
func checkNotationChain(blob []byte, mediaType string, lim Limits) error {
	env, err := signature.ParseEnvelope(mediaType, blob)
	if err != nil {
		return nil // notation reports it as an integrity failure
	}
	c, err := env.Content()
	if err != nil {
		return nil
	}
	if n := len(c.SignerInfo.CertificateChain); n > lim.ChainDepth {
		return boundsErrorf("certificate chain of %d, more than %d", n, lim.ChainDepth)
	}
	return nil
}

// classifyNotation names what a failed notation verification failed on:
// the first enforced check that failed, in the order notation runs them.
func classifyNotation(o *notation.VerificationOutcome, subj Subject) error {
	if o == nil {
		return ErrTampered
	}
	for _, r := range o.VerificationResults {
		if r.Error == nil || r.Action != trustpolicy.ActionEnforce {
			continue
		}
		switch r.Type {
		case trustpolicy.TypeIntegrity:
			return ErrTampered
		case trustpolicy.TypeExpiry, trustpolicy.TypeAuthenticTimestamp:
			return ErrExpired
		default:
			return ErrUntrusted
		}
	}
	if o.EnvelopeContent != nil {
		var pl notationPayload
		if json.Unmarshal(o.EnvelopeContent.Payload.Content, &pl) == nil && pl.TargetArtifact.Digest != subj.Digest {
			return ErrOtherDigest
		}
	}
	return ErrUntrusted
}
