package main

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
)

// trustDir writes a trust directory whose sigstore.json trusts key for
// the golang SDK (and the repositories strict names) and skips the rest,
// and returns its path.
func trustDir(t *testing.T, host string, key *ecdsa.PrivateKey, strict ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sdk-trust")
	scopes := `"` + host + `/sdks/golang"`
	for _, s := range strict {
		scopes += `, "` + host + `/sdks/` + s + `"`
	}
	write(t, filepath.Join(dir, "sigstore.json"), `{"version": "1", "policies": [
  {"name": "acme-key", "registryScopes": [`+scopes+`], "publicKey": "keys/cosign.pub"},
  {"name": "rest", "registryScopes": ["*"], "level": "skip"}]}`)
	write(t, filepath.Join(dir, "keys", "cosign.pub"), string(testregistry.PublicKeyPEM(t, key)))
	return dir
}

// fingerprint is how trust names a key signer.
func fingerprint(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// signGolang signs the golang SDK of the sample (golang@1.23) with key.
func signGolang(t *testing.T, reg *testregistry.Registry, key *ecdsa.PrivateKey) (subject, sig ocispecs.Descriptor) {
	t.Helper()
	subject = reg.Descriptor(t, "sdks/golang", "bookworm-1.23.4")
	sig = reg.Attach(t, "sdks/golang", subject, testregistry.ArtifactSigstore, testregistry.ArtifactSigstore,
		testregistry.CosignBundle(t, key, reg.Host+"/sdks/golang", subject.Digest))
	return subject, sig
}

func golangEntry(t *testing.T) lock.Entry {
	t.Helper()
	for _, e := range lockFile(t).SDKs {
		if e.Ref == "golang@1.23" {
			return e
		}
	}
	t.Fatal("no golang@1.23 entry")
	return lock.Entry{}
}

// sdkfront lock --trust verifies each SDK before locking it and records
// the signature; --check verifies it again and refuses a changed signer.
func TestLockTrustSigstore(t *testing.T) {
	reg := setup(t)
	key := testregistry.NewKey(t)
	_, sig := signGolang(t, reg, key)
	dir := trustDir(t, reg.Host, key)

	code, _, stderr := sdkfront(t, lockArgs("--trust", dir)...)
	wantCode(t, code, exitOK)
	doc := read(t, "Dockerfile.sdk.lock")
	validateSchema(t, doc)
	if !strings.Contains(doc, `"version": 2,`) {
		t.Errorf("lock is not version 2:\n%s", doc)
	}
	e := golangEntry(t)
	want := lock.Signature{Kind: "sigstore", Policy: "acme-key", Digest: sig.Digest}
	if len(e.Signatures) != 1 || e.Signatures[0].Kind != want.Kind || e.Signatures[0].Policy != want.Policy || e.Signatures[0].Digest != want.Digest ||
		!strings.Contains(strings.ToLower(e.Signatures[0].Signer), fingerprint(t, key)) {
		t.Errorf("golang's signatures %+v, want %+v signed by the key %s", e.Signatures, want, fingerprint(t, key))
	}
	for _, o := range lockFile(t).SDKs {
		if o.Ref != "golang@1.23" && len(o.Signatures) > 0 {
			t.Errorf("%s records %+v, but its policy is skip", o.Ref, o.Signatures)
		}
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("warnings for a trusted SDK: %s", stderr)
	}
	wantCode(t, must(sdkfront(t, lockArgs("--trust", dir, "--check")...)), exitOK)

	// Re-signed by another key that the policy now trusts: the lock's
	// signer is not today's, so --check refuses it (as a binding), and
	// sdkfront lock records the new one.
	other := testregistry.NewKey(t)
	signGolang(t, reg, other)
	dir2 := trustDir(t, reg.Host, other)
	code, _, stderr = sdkfront(t, lockArgs("--trust", dir2, "--check")...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, "SDK golang@1.23: the lock records the sigstore signer of ", "but policy acme-key now verifies it as signed by ",
		"must be locked again on purpose: run sdkfront lock --update golang@1.23")
	code, _, stderr = sdkfront(t, lockArgs("--trust", dir2)...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, `golang@1.23: 1.23.4, signatures: sigstore signed by "key sha256:`+fingerprint(t, key), `-> sigstore signed by "key sha256:`+fingerprint(t, other),
		"wrote Dockerfile.sdk.lock (1 updated, 3 unchanged)\n")
	if e := golangEntry(t); len(e.Signatures) != 1 || !strings.Contains(strings.ToLower(e.Signatures[0].Signer), fingerprint(t, other)) {
		t.Errorf("kept entry's signatures %+v, want the new key's", e.Signatures)
	}
	wantCode(t, must(sdkfront(t, lockArgs("--trust", dir2, "--check")...)), exitOK)
}

// An SDK without a trusted signature is not locked: the error is at its
// line, names the digest, the policy and what failed, and nothing is
// written.
func TestLockTrustFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		sign func(t *testing.T, reg *testregistry.Registry, key *ecdsa.PrivateKey)
		want string
	}{
		{"unsigned", func(*testing.T, *testregistry.Registry, *ecdsa.PrivateKey) {}, "no Sigstore signature trusted by policy \"acme-key\" (sigstore.json): no signatures found"},
		{"untrusted key", func(t *testing.T, reg *testregistry.Registry, _ *ecdsa.PrivateKey) {
			signGolang(t, reg, testregistry.NewKey(t))
		}, "not from a trusted identity"},
		{"other digest", func(t *testing.T, reg *testregistry.Registry, key *ecdsa.PrivateKey) {
			subject := reg.Descriptor(t, "sdks/golang", "bookworm-1.23.4")
			other := reg.Descriptor(t, "sdks/golang", "bookworm-1.22.10")
			reg.Attach(t, "sdks/golang", subject, testregistry.ArtifactSigstore, testregistry.ArtifactSigstore,
				testregistry.CosignBundle(t, key, reg.Host+"/sdks/golang", other.Digest))
		}, "it is not over this digest"},
		{"tampered", func(t *testing.T, reg *testregistry.Registry, key *ecdsa.PrivateKey) {
			subject := reg.Descriptor(t, "sdks/golang", "bookworm-1.23.4")
			b := testregistry.CosignBundle(t, key, reg.Host+"/sdks/golang", subject.Digest)
			b = b[:len(b)/2] // a bundle that no longer parses
			reg.Attach(t, "sdks/golang", subject, testregistry.ArtifactSigstore, testregistry.ArtifactSigstore, b)
		}, "its envelope was tampered with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := setup(t)
			key := testregistry.NewKey(t)
			tc.sign(t, reg, key)
			code, _, stderr := sdkfront(t, lockArgs("--trust", trustDir(t, reg.Host, key))...)
			wantCode(t, code, exitError)
			wantLines(t, stderr, "Dockerfile:6: SDK golang@1.23: sha256:", "of "+reg.Host+"/sdks/golang: ", tc.want, "Dockerfile.sdk.lock not written\n")
		})
	}
}

// A Notary Project signature under notation's own trust policy is
// verified and recorded with the leaf certificate's subject.
func TestLockTrustNotation(t *testing.T) {
	reg := setup(t)
	n := testregistry.NewNotary(t, "SDK Signer")
	subject := reg.Descriptor(t, "sdks/golang", "bookworm-1.23.4")
	sig := reg.Attach(t, "sdks/golang", subject, testregistry.ArtifactNotation, testregistry.MediaTypeCOSE, n.Sign(t, subject))
	dir := filepath.Join(t.TempDir(), "trust")
	write(t, filepath.Join(dir, "notation", "trustpolicy.json"), `{"version": "1.0", "trustPolicies": [
  {"name": "acme-sdks", "registryScopes": ["`+reg.Host+`/sdks/golang"], "signatureVerification": {"level": "strict"},
   "trustStores": ["ca:acme"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Acme, CN=SDK Signer"]},
  {"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]}`)
	write(t, filepath.Join(dir, "notation", "truststore", "x509", "ca", "acme", "root.pem"), string(n.RootPEM()))

	wantCode(t, must(sdkfront(t, lockArgs("--trust", dir)...)), exitOK)
	e := golangEntry(t)
	if len(e.Signatures) != 1 || e.Signatures[0].Kind != "notation" || e.Signatures[0].Policy != "acme-sdks" ||
		e.Signatures[0].Digest != sig.Digest || !strings.Contains(e.Signatures[0].Signer, "CN=SDK Signer") {
		t.Errorf("signatures %+v, want acme-sdks's notation signature %s by CN=SDK Signer", e.Signatures, sig.Digest)
	}
}

// A trust directory that does not load fails before anything is read.
func TestLockTrustBadDirectory(t *testing.T) {
	reg := setup(t)
	dir := t.TempDir()
	code, _, stderr := sdkfront(t, lockArgs("--trust", dir)...)
	wantCode(t, code, exitError)
	wantLines(t, stderr, "sdkfront lock: --trust "+dir+": neither notation/trustpolicy.json nor sigstore.json found")
	if reg.Requests() != 0 {
		t.Errorf("%d registry requests before the policy loaded", reg.Requests())
	}
}

// Under audit, an SDK without a trusted signature is locked with a
// warning at its line, and records no signature; --check --offline
// verifies nothing and says so.
func TestLockTrustAudit(t *testing.T) {
	reg := setup(t)
	key := testregistry.NewKey(t)
	dir := trustDir(t, reg.Host, key)
	write(t, filepath.Join(dir, "sigstore.json"), strings.Replace(read(t, filepath.Join(dir, "sigstore.json")), `"publicKey"`, `"level": "audit", "publicKey"`, 1))
	code, _, stderr := sdkfront(t, lockArgs("--trust", dir)...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "warning: SDK golang@1.23: sha256:", `no Sigstore signature trusted by policy "acme-key" (sigstore.json): no signatures found`)
	if e := golangEntry(t); len(e.Signatures) != 0 {
		t.Errorf("an audit finding recorded as a signature: %+v", e.Signatures)
	}
	code, _, stderr = sdkfront(t, lockArgs("--trust", dir, "--check", "--offline")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "Dockerfile.sdk.lock: signatures not verified: --offline reads no registry\n")
}
