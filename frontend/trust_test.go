package frontend

import (
	"context"
	"crypto/ecdsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

// signedRegistry is an in-process registry with golang 1.23.4 and nodejs
// 20.11.1 (indexes of one linux/amd64 image each), golang signed with key.
type signedRegistry struct {
	*testregistry.Registry
	golang     digest.Digest // golang's index
	golangImg  digest.Digest // its linux/amd64 image
	golangSig  digest.Digest // the signature's manifest
	nodejs     digest.Digest
	dockerfile string
}

const trustDockerfile = "# sdk-source=HOST/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23.4\nRUN --mount=type=sdk,ref=nodejs@20.11.1,target=/opt/node node --version\n"

func newSignedRegistry(t *testing.T, key *ecdsa.PrivateKey) *signedRegistry {
	t.Helper()
	r := &signedRegistry{Registry: testregistry.New(t)}
	img := testregistry.NewImage(t, "linux/amd64", nil, testregistry.Blob([]byte("go1.23.4")))
	r.Push(t, "sdks/golang:bookworm-1.23.4", testregistry.NewIndex(t, img))
	r.Push(t, "sdks/nodejs:bookworm-20.11.1", testregistry.NewIndex(t, testregistry.NewImage(t, "linux/amd64", nil, testregistry.Blob([]byte("node20.11.1")))))
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r.golangImg = digest.Digest(d.String())
	subject := r.Descriptor(t, "sdks/golang", "bookworm-1.23.4")
	r.golang = subject.Digest
	r.nodejs = r.Descriptor(t, "sdks/nodejs", "bookworm-20.11.1").Digest
	r.golangSig = r.Attach(t, "sdks/golang", subject, testregistry.ArtifactSigstore, testregistry.ArtifactSigstore,
		testregistry.CosignBundle(t, key, r.Host+"/sdks/golang", subject.Digest)).Digest
	r.dockerfile = strings.ReplaceAll(trustDockerfile, "HOST", r.Host)
	return r
}

// trustFiles is a trust directory whose policy "acme-key" trusts key at
// level for golang (and the repositories also names), and skips the rest.
func trustFiles(t *testing.T, host string, key *ecdsa.PrivateKey, level string, also ...string) map[string]string {
	t.Helper()
	scopes := `"` + host + `/sdks/golang"`
	for _, a := range also {
		scopes += `, "` + host + `/sdks/` + a + `"`
	}
	return map[string]string{
		"sigstore.json": `{"version": "1", "policies": [
  {"name": "acme-key", "registryScopes": [` + scopes + `], "level": "` + level + `", "publicKey": "keys/cosign.pub"},
  {"name": "rest", "registryScopes": ["*"], "level": "skip"}]}`,
		"keys/cosign.pub": string(testregistry.PublicKeyPEM(t, key)),
	}
}

// trustBuild builds r's Dockerfile with the trust directory files as the
// build context name (none if nil), reading the registry directly.
func trustBuild(t *testing.T, r *signedRegistry, name string, files map[string]string, opts map[string]string) (*warnRecorder, error) {
	t.Helper()
	s := newStub(r.dockerfile, opts)
	if files != nil {
		s.locals = map[string]map[string]string{name: files}
		s.opts["context:"+name] = "local:" + name
	}
	wr := &warnRecorder{stubClient: s}
	_, err := build(context.Background(), wr, registry.New())
	return wr, err
}

// progressLine is the build's progress line of an SDK that starts with prefix.
func progressLine(t *testing.T, s *stubClient, prefix string) string {
	t.Helper()
	for _, def := range s.evaluated {
		for _, n := range view(t, def).names {
			if strings.HasPrefix(n, prefix) {
				return n
			}
		}
	}
	return ""
}

// A build with the sdk-trust context verifies each SDK before pinning
// it, and its progress names the signer.
func TestTrustedBuild(t *testing.T) {
	key := testregistry.NewKey(t)
	r := newSignedRegistry(t, key)
	wr, err := trustBuild(t, r, TrustContext, trustFiles(t, r.Host, key, "strict"), nil)
	if err != nil {
		t.Fatal(err)
	}
	line := progressLine(t, wr.stubClient, "[sdk] golang@1.23.4 -> 1.23.4")
	if !strings.Contains(line, "@"+r.golang.String()+" (signed by key ") || !strings.HasSuffix(line, ", policy acme-key)") {
		t.Errorf("progress %q, want \"(signed by key …, policy acme-key)\" at its end", line)
	}
	// nodejs is under the skip policy: its line is as it always was.
	if node := progressLine(t, wr.stubClient, "[sdk] nodejs@20.11.1"); node == "" || strings.Contains(node, "signed by") {
		t.Errorf("nodejs progress %q, want it without a signer", node)
	}
}

// An SDK the policy covers without a trusted signature fails the build
// at its line, with trust's reason, and nothing is built; under audit it
// only warns, at its line, under SDKSignatureAudit.
func TestUntrustedBuild(t *testing.T) {
	key := testregistry.NewKey(t)
	r := newSignedRegistry(t, key)

	// nodejs is unsigned.
	wr, err := trustBuild(t, r, TrustContext, trustFiles(t, r.Host, key, "strict", "nodejs"), nil)
	want := "SDK nodejs@20.11.1: " + r.nodejs.String() + " of " + r.Host + `/sdks/nodejs: no Sigstore signature trusted by policy "acme-key" (sigstore.json): no signatures found`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	wantRefusedAt(t, wr.stubClient, err, 4)

	// golang signed by a key the policy does not trust.
	wr, err = trustBuild(t, r, TrustContext, trustFiles(t, r.Host, testregistry.NewKey(t), "strict"), nil)
	if err == nil || !strings.Contains(err.Error(), "SDK golang@1.23.4: "+r.golang.String()) || !strings.Contains(err.Error(), "1 signature found, not from a trusted identity") {
		t.Fatalf("error %v, want golang's signature untrusted", err)
	}
	wantRefusedAt(t, wr.stubClient, err, 3)

	// Under audit, both findings warn and the build goes on.
	wr, err = trustBuild(t, r, TrustContext, trustFiles(t, r.Host, testregistry.NewKey(t), "audit", "nodejs"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"SDKSignatureAudit: SDK golang@1.23.4: " + r.golang.String(),
		"SDKSignatureAudit: SDK nodejs@20.11.1: " + r.nodejs.String(),
	} {
		found := false
		for _, m := range wr.msgs {
			if strings.HasPrefix(m, w) {
				found = true
				line := map[string]string{"golang": "(line 3)", "nodejs": "(line 4)"}[strings.TrimPrefix(strings.Split(w, "@")[0], "SDKSignatureAudit: SDK ")]
				if !strings.HasSuffix(m, line) {
					t.Errorf("warning %q, want it at %s", m, line)
				}
			}
		}
		if !found {
			t.Errorf("warnings %q lack %q", wr.msgs, w)
		}
	}
}

// SDK_TRUST names the policy's context; naming one the build lacks fails
// before anything is resolved, and a name that is no context name is
// refused.
func TestTrustContextArg(t *testing.T) {
	key := testregistry.NewKey(t)
	r := newSignedRegistry(t, key)
	if _, err := trustBuild(t, r, "corp-trust", trustFiles(t, r.Host, key, "strict"), map[string]string{"build-arg:SDK_TRUST": "corp-trust"}); err != nil {
		t.Fatalf("SDK_TRUST naming the context: %v", err)
	}
	// The policy in corp-trust is read: a key it does not trust fails.
	if _, err := trustBuild(t, r, "corp-trust", trustFiles(t, r.Host, testregistry.NewKey(t), "strict"), map[string]string{"build-arg:SDK_TRUST": "corp-trust"}); err == nil {
		t.Fatal("the policy of the context SDK_TRUST names was not applied")
	}

	before := r.Requests()
	_, err := trustBuild(t, r, TrustContext, trustFiles(t, r.Host, key, "strict"), map[string]string{"build-arg:SDK_TRUST": "corp-trust"})
	want := `build arg SDK_TRUST names the build context "corp-trust", which this build does not have: pass it with --build-context corp-trust=<trust directory>`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if n := r.Requests() - before; n != 0 {
		t.Errorf("%d registry requests before the policy was found", n)
	}
	_, err = trustBuild(t, r, TrustContext, nil, map[string]string{"build-arg:SDK_TRUST": "-----BEGIN PUBLIC KEY-----"})
	if err == nil || !strings.Contains(err.Error(), "build arg SDK_TRUST: ") || !strings.Contains(err.Error(), "is not a build context name") {
		t.Errorf("error %v, want the name refused", err)
	}
}

// The frontend image's own policy (SDKFRONT_TRUST_DIR) applies to every
// build, with the build's own: a build cannot turn it off. With
// SDKFRONT_REQUIRE_TRUST=1 a build without any policy is refused.
func TestFrontendTrustDir(t *testing.T) {
	key := testregistry.NewKey(t)
	r := newSignedRegistry(t, key)
	dir := t.TempDir()
	for name, content := range trustFiles(t, r.Host, key, "strict", "nodejs") {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(EnvTrustDir, dir)
	// No policy of the build's own: the frontend's holds, nodejs unsigned.
	if _, err := trustBuild(t, r, TrustContext, nil, nil); err == nil || !strings.Contains(err.Error(), "SDK nodejs@20.11.1: ") {
		t.Fatalf("error %v, want nodejs refused by the frontend's policy", err)
	}
	// A build's own policy that skips everything does not turn it off.
	skipAll := map[string]string{"sigstore.json": `{"version": "1", "policies": [{"name": "all", "registryScopes": ["*"], "level": "skip"}]}`}
	if _, err := trustBuild(t, r, TrustContext, skipAll, nil); err == nil || !strings.Contains(err.Error(), "SDK nodejs@20.11.1: ") {
		t.Fatalf("error %v, want nodejs refused though the build's policy skips it", err)
	}
	// Both must hold: the build's policy trusts another key for golang.
	if _, err := trustBuild(t, r, TrustContext, trustFiles(t, r.Host, testregistry.NewKey(t), "strict"), nil); err == nil {
		t.Fatal("the build's own policy was not applied with the frontend's")
	}

	t.Setenv(EnvTrustDir, "")
	t.Setenv(EnvRequireTrust, "1")
	_, err := trustBuild(t, r, TrustContext, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "this sdkfront requires a trust policy for SDKs (SDKFRONT_REQUIRE_TRUST=1)") {
		t.Fatalf("error %v, want the build refused", err)
	}
	if _, err := trustBuild(t, r, TrustContext, trustFiles(t, r.Host, key, "strict"), nil); err != nil {
		t.Errorf("a build with its policy: %v", err)
	}
}

// A frozen build verifies the locked digest again; a signer other than
// the one the lock records fails at the line, naming both.
func TestFrozenBuildSigner(t *testing.T) {
	key := testregistry.NewKey(t)
	r := newSignedRegistry(t, key)
	r.dockerfile = strings.ReplaceAll("# sdk-source=HOST/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23.4\n", "HOST", r.Host)
	entry := lock.Entry{
		Key:     lock.Key{Ref: "golang@1.23.4", Flavor: "bookworm", Source: r.Host + "/sdks/{platform}:{flavor}-{version}"},
		Version: "1.23.4", Repository: r.Host + "/sdks/golang", Tag: "bookworm-1.23.4", Digest: r.golang,
		Platforms: map[string]digest.Digest{"linux/amd64": r.golangImg},
	}
	frozen := func(signer string) error {
		e := entry
		e.Signatures = []lock.Signature{{Kind: "sigstore", Policy: "acme-key", Digest: r.golangSig, Signer: signer}}
		s := newStub(r.dockerfile, map[string]string{"build-arg:SDK_LOCK": "frozen", "context:sdk-trust": "local:sdk-trust"})
		s.locals = map[string]map[string]string{TrustContext: trustFiles(t, r.Host, key, "strict")}
		s.files = map[string]string{"Dockerfile.sdk.lock": string((&lock.File{SDKs: []lock.Entry{e}}).Marshal())}
		_, err := build(context.Background(), s, registry.New())
		if err != nil {
			wantRefusedAt(t, s, err, 3)
		}
		return err
	}
	// Learn today's signer from a build that records nothing to compare.
	wr, err := trustBuild(t, r, TrustContext, trustFiles(t, r.Host, key, "strict"), nil)
	if err != nil {
		t.Fatal(err)
	}
	line := progressLine(t, wr.stubClient, "[sdk] golang@1.23.4")
	signer := line[strings.Index(line, "(signed by ")+len("(signed by ") : strings.LastIndex(line, ", policy ")]
	if err := frozen(signer); err != nil {
		t.Fatalf("frozen build with the same signer: %v", err)
	}
	err = frozen("key sha256:0000")
	want := `SDK golang@1.23.4: the lock records the sigstore signer of ` + r.golang.String() + ` as "key sha256:0000", but policy acme-key now verifies it as signed by "` + signer + `"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// Where the frontend does not read registries itself (BuildKit resolves
// the SDKs), no signature can be read: a strict policy fails the SDK at
// its line, an audit one warns under SDKSignatureUnchecked.
func TestTrustWithoutRegistryReads(t *testing.T) {
	key := testregistry.NewKey(t)
	for _, level := range []string{"strict", "audit"} {
		t.Run(level, func(t *testing.T) {
			s, tags := sdkStub("# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23.4\n")
			s.locals = map[string]map[string]string{TrustContext: trustFiles(t, "reg.test", key, level)}
			s.opts["context:"+TrustContext] = "local:" + TrustContext
			wr := &warnRecorder{stubClient: s}
			_, err := build(context.Background(), wr, tags)
			if level == "strict" {
				want := "SDK golang@1.23.4: sha256:"
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "its signatures cannot be verified, as this sdkfront does not read registries itself") {
					t.Fatalf("error %v, want the SDK refused", err)
				}
				wantRefusedAt(t, s, err, 3)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !containsPrefix(wr.msgs, "SDKSignatureUnchecked: SDK golang@1.23.4: the signatures of reg.test/sdks/golang@sha256:") {
				t.Errorf("warnings %q, want SDKSignatureUnchecked", wr.msgs)
			}
		})
	}
}

func containsPrefix(msgs []string, prefix string) bool {
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// The trust context is read bounded: a context that is a source tree,
// not a trust directory, is refused with the bound it broke.
func TestTrustContextBounds(t *testing.T) {
	key := testregistry.NewKey(t)
	r := newSignedRegistry(t, key)
	many := trustFiles(t, r.Host, key, "strict")
	for i := range maxTrustFiles {
		many[filepath.Join("certs", strings.Repeat("x", 3)+string(rune('a'+i%26))+strings.Repeat("y", i/26))] = "-"
	}
	_, err := trustBuild(t, r, TrustContext, many, nil)
	if err == nil || err.Error() != "the trust build context sdk-trust: more than 256 files: a trust directory holds policies, keys and certificates" {
		t.Errorf("error %v, want the file bound", err)
	}
	large := trustFiles(t, r.Host, key, "strict")
	large["big.pem"] = strings.Repeat("x", maxTrustBytes)
	_, err = trustBuild(t, r, TrustContext, large, nil)
	if err == nil || err.Error() != "the trust build context sdk-trust: more than 4194304 bytes: a trust directory holds policies, keys and certificates" {
		t.Errorf("error %v, want the size bound", err)
	}
	// The frontend option names the context as the build arg does.
	if _, err := trustBuild(t, r, "corp", trustFiles(t, r.Host, testregistry.NewKey(t), "strict"), map[string]string{ArgTrust: "corp"}); err == nil || !strings.Contains(err.Error(), "not from a trusted identity") {
		t.Errorf("error %v, want the policy of the context the frontend option names", err)
	}
}

// A Notary Project signature under notation's own trust policy verifies
// in the build, and the progress names the leaf certificate's subject.
func TestTrustedBuildNotation(t *testing.T) {
	r := newSignedRegistry(t, testregistry.NewKey(t))
	n := testregistry.NewNotary(t, "SDK Signer")
	subject := r.Descriptor(t, "sdks/golang", "bookworm-1.23.4")
	r.Attach(t, "sdks/golang", subject, testregistry.ArtifactNotation, testregistry.MediaTypeCOSE, n.Sign(t, subject))
	files := map[string]string{
		"notation/trustpolicy.json": `{"version": "1.0", "trustPolicies": [
  {"name": "acme-sdks", "registryScopes": ["` + r.Host + `/sdks/golang"], "signatureVerification": {"level": "strict"},
   "trustStores": ["ca:acme"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Acme, CN=SDK Signer"]},
  {"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]}`,
		"notation/truststore/x509/ca/acme/root.pem": string(n.RootPEM()),
	}
	wr, err := trustBuild(t, r, TrustContext, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := progressLine(t, wr.stubClient, "[sdk] golang@1.23.4")
	if !strings.Contains(line, "(signed by ") || !strings.Contains(line, "CN=SDK Signer") || !strings.HasSuffix(line, ", policy acme-sdks)") {
		t.Errorf("progress %q, want it signed by CN=SDK Signer under acme-sdks", line)
	}
	// Another CA's signer is not trusted.
	files["notation/truststore/x509/ca/acme/root.pem"] = string(testregistry.NewNotary(t, "SDK Signer").RootPEM())
	if _, err := trustBuild(t, r, TrustContext, files, nil); err == nil || !strings.Contains(err.Error(), `SDK golang@1.23.4: `+r.golang.String()) || !strings.Contains(err.Error(), `no Notary Project signature trusted by policy "acme-sdks"`) {
		t.Errorf("error %v, want golang refused by acme-sdks", err)
	}
}
