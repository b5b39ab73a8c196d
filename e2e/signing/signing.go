// Package signing makes signed SDK images in a lab registry with the real
// signers, `notation` and `cosign` (lab/lab.sh tools builds both into
// .lab/bin), for the e2e tests of signature verification (issue 18), and the
// negative cases they need: a signature over another digest, a tampered
// envelope.
//
// A Fixture is a test PKI and the two CLIs' configuration in one directory:
//
//   - Notation Project: an RSA-3072 root CA, an intermediate and a
//     code-signing leaf (a chain of three, like MCR's), a local signing key
//     (signingkeys.json, keyPath + certPath), a trust store and a
//     trustpolicy.json (format 1.0) scoped to the given repositories, and an
//     RFC 3161 TSA on loopback with a root of its own: `notation sign
//     --signature-format cose` then makes MCR's shape, COSE,
//     RSASSA-PSS-SHA-384, three certificates, a timestamp.
//   - Sigstore: a cosign key pair (`cosign generate-key-pair`), signing in the
//     new bundle format with no transparency log and no network.
//
// Where a signature lands is the registry's choice, as it is for real
// clients: an OCI referrer where the registry serves the referrers API
// (lab/refregistry), the referrers tag schema (sha256-<hex>) where it does
// not (the lab's distribution registry). Nothing here runs in unit tests:
// signing_test.go runs under SDKFRONT_LAB like the rest of e2e.
package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The artifact types the two signers give their signature manifests.
const (
	NotationArtifactType = "application/vnd.cncf.notary.signature"
	CosignArtifactType   = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// KeyName is the notation signing key's name, TrustPolicyName the trust
// policy's, StoreName the trust stores' (ca: and tsa:).
const (
	KeyName         = "sdkfront-lab"
	TrustPolicyName = "sdkfront-lab"
	StoreName       = "sdkfront-lab"
)

// cliTimeout bounds one signer run; a signer that hangs fails its test
// instead of the suite's 45 minutes.
const cliTimeout = 2 * time.Minute

// Tools names the signers' binaries.
type Tools struct {
	Notation string // .lab/bin/notation
	Cosign   string // .lab/bin/cosign
}

// Fixture is the test PKI, keys and policy, all under Dir. Every path is
// absolute.
type Fixture struct {
	Dir string

	// NotationHome is the XDG_CONFIG_HOME whose notation/ directory holds
	// signingkeys.json, trustpolicy.json and truststore/: run notation with
	// it (Env does) to use this fixture's keys and policy.
	NotationHome string
	// NotationDir is NotationHome/notation: the policy directory.
	NotationDir string
	// TrustPolicy is NotationDir/trustpolicy.json: strict, trust stores
	// ca:StoreName and tsa:StoreName, the leaf's subject as the trusted
	// identity, scoped to the repositories New was given.
	TrustPolicy string
	// TrustedIdentity is the trust policy's trustedIdentities entry.
	TrustedIdentity string
	// RootCert, IntermediateCert, LeafCert are PEM files; Chain is all three,
	// leaf first (the signing key's certPath); LeafKey is PKCS #8 PEM.
	RootCert, IntermediateCert, LeafCert, Chain, LeafKey string
	// TSARootCert is the TSA's root (the tsa: trust store holds it).
	TSARootCert string

	// CosignKey and CosignPub are cosign's key pair; CosignPassword
	// unlocks CosignKey (COSIGN_PASSWORD).
	CosignKey, CosignPub, CosignPassword string

	tools Tools
	tsa   *tsa
}

// New makes a Fixture in dir (which must exist, empty) whose trust policy is
// scoped to scopes ("127.0.0.1:5001/sdks/golang"). Close stops its TSA.
func New(ctx context.Context, dir string, tools Tools, scopes []string) (*Fixture, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	f := &Fixture{
		Dir:              dir,
		NotationHome:     filepath.Join(dir, "config"),
		RootCert:         filepath.Join(dir, "root.pem"),
		IntermediateCert: filepath.Join(dir, "intermediate.pem"),
		LeafCert:         filepath.Join(dir, "leaf.pem"),
		Chain:            filepath.Join(dir, "chain.pem"),
		LeafKey:          filepath.Join(dir, "leaf.key"),
		TSARootCert:      filepath.Join(dir, "tsa-root.pem"),
		CosignKey:        filepath.Join(dir, "cosign.key"),
		CosignPub:        filepath.Join(dir, "cosign.pub"),
		CosignPassword:   "sdkfront-lab",
		tools:            tools,
	}
	f.NotationDir = filepath.Join(f.NotationHome, "notation")
	f.TrustPolicy = filepath.Join(f.NotationDir, "trustpolicy.json")
	if err := f.makePKI(scopes); err != nil {
		return nil, fmt.Errorf("signing fixture in %s: %w", dir, err)
	}
	if _, err := f.run(ctx, tools.Cosign, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign")); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (f *Fixture) makePKI(scopes []string) error {
	root, err := newCert("sdkfront lab root CA", roleCA, nil)
	if err != nil {
		return err
	}
	inter, err := newCert("sdkfront lab intermediate CA", roleCA, root)
	if err != nil {
		return err
	}
	leaf, err := newCert("sdkfront lab SDK publisher", roleCodeSigning, inter)
	if err != nil {
		return err
	}
	tsaRoot, err := newCert("sdkfront lab TSA root", roleCA, nil)
	if err != nil {
		return err
	}
	tsaSigner, err := newCert("sdkfront lab TSA", roleTimestamping, tsaRoot)
	if err != nil {
		return err
	}
	caStore := filepath.Join(f.NotationDir, "truststore", "x509", "ca", StoreName)
	tsaStore := filepath.Join(f.NotationDir, "truststore", "x509", "tsa", StoreName)
	for _, d := range []string{caStore, tsaStore} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, w := range []struct {
		path  string
		certs []*cert
	}{
		{f.RootCert, []*cert{root}},
		{f.IntermediateCert, []*cert{inter}},
		{f.LeafCert, []*cert{leaf}},
		{f.Chain, []*cert{leaf, inter, root}},
		{f.TSARootCert, []*cert{tsaRoot}},
		{filepath.Join(caStore, "root.pem"), []*cert{root}},
		{filepath.Join(tsaStore, "tsa-root.pem"), []*cert{tsaRoot}},
	} {
		if err := writeCerts(w.path, w.certs...); err != nil {
			return err
		}
	}
	if err := writeKey(f.LeafKey, leaf); err != nil {
		return err
	}
	// notation's subject string: the RDNs as it prints them, C first.
	f.TrustedIdentity = "x509.subject: " + notationSubject(leaf)
	if err := writeJSON(filepath.Join(f.NotationDir, "signingkeys.json"), map[string]any{
		"default": KeyName,
		"keys":    []any{map[string]any{"name": KeyName, "keyPath": f.LeafKey, "certPath": f.Chain}},
	}); err != nil {
		return err
	}
	if err := writeJSON(f.TrustPolicy, map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  TrustPolicyName,
			"registryScopes":        scopes,
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           []string{"ca:" + StoreName, "tsa:" + StoreName},
			"trustedIdentities":     []string{f.TrustedIdentity},
		}},
	}); err != nil {
		return err
	}
	t, err := startTSA(tsaRoot, tsaSigner)
	if err != nil {
		return err
	}
	f.tsa = t
	return nil
}

// notationSubject is c's subject as a trust policy's x509.subject names it.
func notationSubject(c *cert) string {
	s := c.cert.Subject
	return fmt.Sprintf("C=%s, ST=%s, O=%s, CN=%s", s.Country[0], s.Province[0], s.Organization[0], s.CommonName)
}

// Close stops the fixture's TSA; the files stay (they are the caller's
// temporary directory).
func (f *Fixture) Close() {
	if f.tsa != nil {
		f.tsa.Close()
	}
}

// TSAURL is the loopback TSA's URL.
func (f *Fixture) TSAURL() string { return f.tsa.url }

// Env is the environment both CLIs run with: this fixture's notation
// configuration, cosign's key password, HOME inside Dir (so neither reads
// nor writes the user's), and no Sigstore TUF fetch.
func (f *Fixture) Env() []string {
	env := []string{
		"HOME=" + f.Dir,
		"XDG_CONFIG_HOME=" + f.NotationHome,
		"XDG_CACHE_HOME=" + filepath.Join(f.Dir, "cache"),
		"COSIGN_PASSWORD=" + f.CosignPassword,
		"TUF_ROOT=" + filepath.Join(f.Dir, "tuf"),
		"SIGSTORE_NO_CACHE=true",
	}
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "PATH", "TMPDIR":
			env = append(env, kv)
		}
	}
	return env
}

// NotationSign signs ref with notation: COSE, the fixture's key and chain, a
// timestamp from its TSA. It returns the signature manifest's digest.
func (f *Fixture) NotationSign(ctx context.Context, ref name.Digest) (name.Digest, error) {
	return f.signed(ctx, ref, NotationArtifactType, func() error {
		_, err := f.run(ctx, f.tools.Notation, "sign", "--signature-format", "cose", "--key", KeyName,
			"--insecure-registry", "--force-referrers-tag=false",
			"--timestamp-url", f.tsa.url, "--timestamp-root-cert", f.TSARootCert, ref.String())
		return err
	})
}

// CosignSign signs ref with cosign's key, in the new bundle format, with no
// transparency log, no signing config and no network.
func (f *Fixture) CosignSign(ctx context.Context, ref name.Digest) (name.Digest, error) {
	return f.signed(ctx, ref, CosignArtifactType, func() error {
		_, err := f.run(ctx, f.tools.Cosign, "sign", "--key", f.CosignKey, "--new-bundle-format=true",
			"--tlog-upload=false", "--use-signing-config=false", "--allow-http-registry", "--yes", ref.String())
		return err
	})
}

// NotationVerify runs `notation verify` on ref under the fixture's policy;
// the error holds notation's output.
func (f *Fixture) NotationVerify(ctx context.Context, ref name.Digest) (string, error) {
	return f.run(ctx, f.tools.Notation, "verify", "--verbose", "--insecure-registry", ref.String())
}

// CosignVerify runs `cosign verify` on ref with the fixture's public key and
// no transparency log; the error holds cosign's output.
func (f *Fixture) CosignVerify(ctx context.Context, ref name.Digest) (string, error) {
	return f.run(ctx, f.tools.Cosign, "verify", "--key", f.CosignPub, "--insecure-ignore-tlog=true",
		"--allow-http-registry", ref.String())
}

// CheckMCRShape checks, with `notation inspect`, that the one notation
// signature on ref has MCR's shape: COSE, RSASSA-PSS-SHA-384, three
// certificates, a timestamp.
func (f *Fixture) CheckMCRShape(ctx context.Context, ref name.Digest) error {
	out, err := f.run(ctx, f.tools.Notation, "inspect", "--insecure-registry", "--output", "json", ref.String())
	if err != nil {
		return err
	}
	var insp struct {
		Signatures []struct {
			MediaType          string            `json:"mediaType"`
			SignatureAlgorithm string            `json:"signatureAlgorithm"`
			CertificateChain   []json.RawMessage `json:"certificates"`
			UnsignedAttributes struct {
				TimestampSignature *struct {
					Timestamp string `json:"timestamp"`
				} `json:"timestampSignature"`
			} `json:"unsignedAttributes"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(out), &insp); err != nil {
		return fmt.Errorf("notation inspect %s: %w\n%s", ref, err, out)
	}
	if len(insp.Signatures) != 1 {
		return fmt.Errorf("notation inspect %s: %d signatures, want 1\n%s", ref, len(insp.Signatures), out)
	}
	s := insp.Signatures[0]
	if s.MediaType != "application/cose" || s.SignatureAlgorithm != "RSASSA-PSS-SHA-384" ||
		len(s.CertificateChain) != 3 || s.UnsignedAttributes.TimestampSignature == nil {
		return fmt.Errorf("notation's signature on %s is %s, %s, %d certificates, timestamp %v; want MCR's shape: application/cose, RSASSA-PSS-SHA-384, 3, a timestamp\n%s",
			ref, s.MediaType, s.SignatureAlgorithm, len(s.CertificateChain), s.UnsignedAttributes.TimestampSignature != nil, out)
	}
	return nil
}

// signed runs sign and returns the one referrer of artifactType that it
// added to ref.
func (f *Fixture) signed(ctx context.Context, ref name.Digest, artifactType string, sign func() error) (name.Digest, error) {
	before, err := Referrers(ctx, ref, artifactType)
	if err != nil {
		return name.Digest{}, err
	}
	if err := sign(); err != nil {
		return name.Digest{}, err
	}
	after, err := Referrers(ctx, ref, artifactType)
	if err != nil {
		return name.Digest{}, err
	}
	seen := map[string]bool{}
	for _, d := range before {
		seen[d.DigestStr()] = true
	}
	var added []name.Digest
	for _, d := range after {
		if !seen[d.DigestStr()] {
			added = append(added, d)
		}
	}
	if len(added) != 1 {
		return name.Digest{}, fmt.Errorf("signing %s added %d referrers of type %s, want 1", ref, len(added), artifactType)
	}
	return added[0], nil
}

// Referrers lists ref's referrers of artifactType ("" for all), through the
// referrers API where the registry has it and the sha256-<hex> tag where it
// does not, as go-containerregistry's client does.
func Referrers(ctx context.Context, ref name.Digest, artifactType string) ([]name.Digest, error) {
	opts := []remote.Option{remote.WithContext(ctx)}
	if artifactType != "" {
		opts = append(opts, remote.WithFilter("artifactType", artifactType))
	}
	idx, err := remote.Referrers(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", ref, err)
	}
	out := make([]name.Digest, 0, len(m.Manifests))
	for _, d := range m.Manifests {
		if artifactType != "" && d.ArtifactType != artifactType {
			continue
		}
		out = append(out, ref.Context().Digest(d.Digest.String()))
	}
	return out, nil
}

// run runs a signer with the fixture's environment; its error carries the
// command line and output.
func (f *Fixture) run(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = f.Env()
	cmd.Dir = f.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Set is a signed image and its negative cases, all in one repository: what
// an e2e test of verification needs.
type Set struct {
	// Good carries one notation signature (MCR's shape) and one cosign
	// bundle, made for it.
	Good name.Digest
	// Notation and Cosign are Good's signature manifests.
	Notation, Cosign name.Digest
	// OtherDigest carries copies of Good's two signatures, re-pointed at it:
	// signatures over another digest, and nothing else.
	OtherDigest name.Digest
	// Tampered carries its own two signatures, each with one bit of its
	// signature flipped, and nothing else (they are made in the repository
	// <repo>-scratch and copied).
	Tampered name.Digest
}

// SignSet signs good with both signers and gives other and tampered their
// bad signatures (see Set). The three must be distinct images in one
// repository that carry no signatures yet.
func (f *Fixture) SignSet(ctx context.Context, good, other, tampered name.Digest) (Set, error) {
	s := Set{Good: good, OtherDigest: other, Tampered: tampered}
	var err error
	if s.Notation, err = f.NotationSign(ctx, good); err != nil {
		return Set{}, err
	}
	if s.Cosign, err = f.CosignSign(ctx, good); err != nil {
		return Set{}, err
	}
	for _, sig := range []name.Digest{s.Notation, s.Cosign} {
		if _, err := Attach(ctx, sig, other, false); err != nil {
			return Set{}, err
		}
	}
	repo := tampered.Context()
	scratch, err := CopyImage(ctx, tampered, repo.Registry.Repo(repo.RepositoryStr()+"-scratch"))
	if err != nil {
		return Set{}, err
	}
	nsig, err := f.NotationSign(ctx, scratch)
	if err != nil {
		return Set{}, err
	}
	csig, err := f.CosignSign(ctx, scratch)
	if err != nil {
		return Set{}, err
	}
	for _, sig := range []name.Digest{nsig, csig} {
		if _, err := Attach(ctx, sig, tampered, true); err != nil {
			return Set{}, err
		}
	}
	return s, nil
}
