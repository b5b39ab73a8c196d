package trust

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// sigstorePolicies is a loaded sigstore.json: each policy's verifier,
// made once from its key or trusted root.
type sigstorePolicies struct {
	file  string
	doc   *SigstoreDocument
	rules []sigstoreRule // by index in doc.Policies
}

type sigstoreRule struct {
	verifier *verify.Verifier // nil under skip
	identity verify.PolicyOption
	signer   string // a key's "key sha256:<fingerprint>"; "" for keyless
}

// loadSigstore reads sigstore.json and the keys and trusted roots it
// names from fsys. Nothing is fetched: no TUF, no Rekor.
func loadSigstore(fsys fs.FS, name string) (*sigstorePolicies, error) {
	dt, err := readFile(fsys, SigstorePolicyFile)
	if err != nil {
		return nil, err
	}
	doc, err := ParseSigstoreDocument(dt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sp := &sigstorePolicies{file: name, doc: doc}
	for i, p := range doc.Policies {
		r, err := loadSigstoreRule(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("%s: policies[%d] (%q): %w", name, i, p.Name, err)
		}
		sp.rules = append(sp.rules, r)
	}
	return sp, nil
}

func loadSigstoreRule(fsys fs.FS, p SigstorePolicy) (sigstoreRule, error) {
	if p.Level == Skip {
		return sigstoreRule{}, nil
	}
	var tr *root.TrustedRoot
	if p.TrustedRoot != "" {
		dt, err := readFile(fsys, p.TrustedRoot)
		if err != nil {
			return sigstoreRule{}, err
		}
		if tr, err = root.NewTrustedRootFromJSON(dt); err != nil {
			return sigstoreRule{}, fmt.Errorf("%s: %w", p.TrustedRoot, err)
		}
	}
	if p.Keyless != nil {
		k := p.Keyless
		id, err := verify.NewShortCertificateIdentity(k.Issuer, anchor(k.IssuerRegExp), k.Subject, anchor(k.SubjectRegExp))
		if err != nil {
			return sigstoreRule{}, err
		}
		// As cosign verifies keyless signatures: a log entry, a time
		// the log or a timestamp authority observed, and the
		// certificate's SCTs where the root names CT logs.
		opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
		if len(tr.CTLogs()) > 0 {
			opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		}
		v, err := verify.NewVerifier(tr, opts...)
		if err != nil {
			return sigstoreRule{}, err
		}
		return sigstoreRule{verifier: v, identity: verify.WithCertificateIdentity(id)}, nil
	}
	dt, err := readFile(fsys, p.PublicKey)
	if err != nil {
		return sigstoreRule{}, err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(dt)
	if err != nil {
		return sigstoreRule{}, fmt.Errorf("%s: %w", p.PublicKey, err)
	}
	sv, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return sigstoreRule{}, fmt.Errorf("%s: %w", p.PublicKey, err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return sigstoreRule{}, fmt.Errorf("%s: %w", p.PublicKey, err)
	}
	fp := sha256.Sum256(der)
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	keys := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
	var v *verify.Verifier
	if tr != nil {
		v, err = verify.NewVerifier(root.TrustedMaterialCollection{tr, keys}, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	} else {
		v, err = verify.NewVerifier(keys, verify.WithNoObserverTimestamps())
	}
	if err != nil {
		return sigstoreRule{}, err
	}
	return sigstoreRule{verifier: v, identity: verify.WithKey(), signer: "key sha256:" + hex.EncodeToString(fp[:])}, nil
}

// anchor makes a regular expression match whole, as a policy means it;
// sigstore-go's matchers find a match anywhere.
func anchor(re string) string {
	if re == "" {
		return ""
	}
	return `^(?:` + re + `)$`
}

func (sp *sigstorePolicies) verify(ctx context.Context, s Store, subj Subject, lim Limits) (*Signature, []string, error) {
	i, ok := sp.doc.applicable(subj.Repo)
	if !ok {
		return nil, nil, &Error{Repo: subj.Repo, Digest: subj.Digest, Kind: Sigstore, File: sp.file, Reason: ErrNoPolicy}
	}
	p, rule := sp.doc.Policies[i], sp.rules[i]
	level := p.Level
	if level == "" {
		level = Strict
	}
	fail := func(reason error, found int, detail string, err error) *Error {
		return &Error{Repo: subj.Repo, Digest: subj.Digest, Kind: Sigstore, Policy: p.Name, File: sp.file, Reason: reason, Found: found, Detail: detail, Err: err}
	}
	if level == Skip {
		return &Signature{Kind: Sigstore, Policy: p.Name, Level: Skip}, nil, nil
	}
	descs, err := discover(ctx, s, subj.Repo, subj.Digest, ArtifactTypeSigstore, lim)
	if err != nil {
		return nil, nil, boundsOr(ctx, fail, len(descs), err)
	}
	want, err := hex.DecodeString(subj.Digest.Encoded())
	if err != nil || subj.Digest.Algorithm() != "sha256" {
		return nil, nil, fmt.Errorf("%s of %s: Sigstore verification takes sha256 digests", subj.Digest, subj.Repo)
	}
	var failures []sigFailure
	for _, d := range descs {
		blob, _, err := signatureBlob(ctx, s, subj.Repo, subj.Digest, d, []string{ArtifactTypeSigstore}, lim)
		if err != nil {
			f, stop := blobFailure(ctx, fail, len(descs), d.Digest.String(), err)
			if stop != nil {
				return nil, nil, stop
			}
			failures = append(failures, *f)
			continue
		}
		var b bundle.Bundle
		if err := b.UnmarshalJSON(blob); err != nil {
			failures = append(failures, sigFailure{d.Digest.String(), ErrTampered, err})
			continue
		}
		if chain := b.GetVerificationMaterial().GetX509CertificateChain(); chain != nil && len(chain.GetCertificates()) > lim.ChainDepth {
			err := boundsErrorf("certificate chain of %d, more than %d", len(chain.GetCertificates()), lim.ChainDepth)
			return nil, nil, fail(ErrBounds, len(descs), fmt.Sprintf("signature %s: %v", d.Digest, err), err)
		}
		res, err := rule.verifier.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", want), rule.identity))
		if err != nil {
			failures = append(failures, sigFailure{d.Digest.String(), classifySigstore(rule, &b, err), err})
			continue
		}
		sig := &Signature{Kind: Sigstore, Policy: p.Name, Level: level, Digest: d.Digest, Signer: rule.signer}
		if res.Signature != nil && res.Signature.Certificate != nil {
			sig.Signer = res.Signature.Certificate.Issuer + " " + res.Signature.Certificate.SubjectAlternativeName
		}
		return sig, nil, nil
	}
	if level == Audit {
		return audit(fail, failures, Signature{Kind: Sigstore, Policy: p.Name, Level: Audit})
	}
	return nil, nil, best(fail, failures)
}

// classifySigstore names what a failed bundle verification failed on.
// sigstore-go's errors are mostly untyped, so the bundle is verified
// again without the digest: if that passes, the signature is good and
// trusted, but over something else.
func classifySigstore(rule sigstoreRule, b *bundle.Bundle, err error) error {
	var idErr *verify.ErrNoMatchingCertificateIdentity
	if errors.As(err, &idErr) {
		return ErrUntrusted
	}
	if _, again := rule.verifier.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), rule.identity)); again == nil {
		return ErrOtherDigest
	}
	return ErrUntrusted
}
