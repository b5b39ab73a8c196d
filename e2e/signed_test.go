package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/e2e/signing"
	"github.com/sdkfront/sdkfront/resolver/registry"
	"github.com/sdkfront/sdkfront/trust"
)

// The cases of the signed lab: each is a repository signed-<case>-<run>/golang
// whose bookworm-1.23.4 tag is the lab's golang 1.23.4 image (so that
// `SDK golang@1.23` resolves to it), carrying the signatures its name says.
const (
	caseGood             = "good"              // notation (MCR's shape) and cosign (key), both trusted
	caseNone             = "none"              // no signature
	caseUntrusted        = "untrusted"         // notation and cosign signatures from another PKI and key
	caseOther            = "other"             // another image (an annotation apart) with good's signatures re-pointed at it
	caseTampered         = "tampered"          // notation and cosign signatures, one bit of each flipped
	caseKeyless          = "keyless"           // a keyless bundle for the trusted identity
	caseKeylessUntrusted = "keyless-untrusted" // a keyless bundle for another identity, same Sigstore
)

var signedCases = []string{caseGood, caseNone, caseUntrusted, caseOther, caseTampered, caseKeyless, caseKeylessUntrusted}

// The keyless identities: release workflows as GitHub's OIDC names them.
const (
	keylessIssuer   = "https://token.actions.githubusercontent.com"
	keylessIdentity = "https://github.com/sdkfront/sdks/.github/workflows/release.yml@refs/tags/v1.23.4"
	keylessImpostor = "https://github.com/mallory/sdks/.github/workflows/release.yml@refs/heads/main"
)

// The trust directories' policy names and files, and where the SDK line is.
const (
	sigstoreKeyName  = "lab-cosign-key"
	sigstoreKeyless  = "lab-keyless"
	notationPolicyAt = "notation/trustpolicy.json"
	signedSDKLine    = 4 // the SDK line of signedLab.dockerfile
)

// signedStore is one signature store: a registry with the referrers API
// (lab/refregistry) or one with the sha256-<hex> tag schema only (the lab's
// distribution registry).
type signedStore struct{ name, registry string }

// signedLab is the signed SDK images of both stores, their signatures and
// the trust directories that judge them.
type signedLab struct {
	run    string
	stores []signedStore
	// images: store -> case -> the image bookworm-1.23.4 names.
	images map[string]map[string]name.Digest
	// sigs: store -> scheme ("notation", "cosign-key", "keyless") -> the
	// trusted signature's manifest digest.
	sigs map[string]map[string]name.Digest
	// trust: "notation", "notation-audit", "cosign-key", "keyless" -> a
	// trust directory.
	trust map[string]string
	// The signers as the verdict names them.
	notationSigner, keySigner, keylessSigner string
}

func (l *signedLab) repo(s signedStore, c string) string {
	return s.registry + "/signed-" + c + "-" + l.run + "/golang"
}

func (l *signedLab) source(s signedStore, c string) string {
	return s.registry + "/signed-" + c + "-" + l.run + "/{platform}:{flavor}-{version}"
}

// dockerfile builds with golang@1.23 from the case's repository; the SDK
// is on line signedSDKLine.
func (l *signedLab) dockerfile(s signedStore, c string) string {
	return "# syntax=" + lab.frontend + "\n# sdk-source=" + l.source(s, c) + "\n" +
		"FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\nRUN mkdir /out && go version > /out/v\n" + exportOut
}

// newSignedLab copies the lab's golang 1.23 images into a repository per
// case and store, and signs them with the real notation and cosign CLIs
// (e2e/signing) and a virtual Sigstore for keyless.
func newSignedLab(t *testing.T) *signedLab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	l := &signedLab{
		run: strconv.FormatInt(time.Now().UnixNano(), 36),
		stores: []signedStore{
			{"referrers-api", envOr("LAB_REFERRERS_REGISTRY", "127.0.0.1:5001")},
			{"tag-schema", lab.registry},
		},
		images: map[string]map[string]name.Digest{},
		sigs:   map[string]map[string]name.Digest{},
		trust:  map[string]string{},
	}
	var scopes []string
	for _, s := range l.stores {
		for _, c := range signedCases {
			scopes = append(scopes, l.repo(s, c))
		}
	}
	tools := signing.Tools{Notation: bin("notation"), Cosign: bin("cosign")}
	publisher, err := signing.New(ctx, t.TempDir(), tools, scopes)
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Close()
	stranger, err := signing.New(ctx, t.TempDir(), tools, scopes)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	keyless, err := signing.NewKeyless()
	if err != nil {
		t.Fatal(err)
	}

	src, err := name.ParseReference(lab.registry + "/sdks/golang:bookworm-1.23.4")
	if err != nil {
		t.Fatal(err)
	}
	def, err := name.ParseReference(lab.registry + "/sdks/golang:bookworm-default")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.stores {
		imgs := map[string]name.Digest{}
		for _, c := range signedCases {
			repo, err := name.NewRepository(l.repo(s, c))
			if err != nil {
				t.Fatal(err)
			}
			var annotate map[string]string
			if c == caseOther {
				annotate = map[string]string{"dev.sdkfront.e2e": "another digest than " + caseGood + "'s"}
			}
			if imgs[c], err = copyTag(ctx, src, repo.Tag("bookworm-1.23.4"), annotate); err != nil {
				t.Fatal(err)
			}
			if _, err := copyTag(ctx, def, repo.Tag("bookworm-default"), nil); err != nil {
				t.Fatal(err)
			}
		}
		if imgs[caseOther].DigestStr() == imgs[caseGood].DigestStr() {
			t.Fatalf("the %s image has %s's digest", caseOther, caseGood)
		}
		set, err := publisher.SignSet(ctx, imgs[caseGood], imgs[caseOther], imgs[caseTampered])
		if err != nil {
			t.Fatal(err)
		}
		if err := publisher.CheckMCRShape(ctx, imgs[caseGood]); err != nil {
			t.Fatal(err)
		}
		if _, err := stranger.NotationSign(ctx, imgs[caseUntrusted]); err != nil {
			t.Fatal(err)
		}
		if _, err := stranger.CosignSign(ctx, imgs[caseUntrusted]); err != nil {
			t.Fatal(err)
		}
		kl, err := keyless.Sign(ctx, imgs[caseKeyless], keylessIssuer, keylessIdentity)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keyless.Sign(ctx, imgs[caseKeylessUntrusted], keylessIssuer, keylessImpostor); err != nil {
			t.Fatal(err)
		}
		l.images[s.name] = imgs
		l.sigs[s.name] = map[string]name.Digest{"notation": set.Notation, "cosign-key": set.Cosign, "keyless": kl}
	}

	l.trust["notation"] = notationTrust(t, publisher, "strict")
	l.trust["notation-audit"] = notationTrust(t, publisher, "audit")
	l.trust["cosign-key"] = trustDir(t, map[string][]byte{
		"keys/cosign.pub": mustRead(t, publisher.CosignPub),
		"sigstore.json": mustJSON(t, map[string]any{"version": "1", "policies": []any{map[string]any{
			"name": sigstoreKeyName, "registryScopes": scopes, "publicKey": "keys/cosign.pub",
		}}}),
	})
	root, err := keyless.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	l.trust["keyless"] = trustDir(t, map[string][]byte{
		"trusted_root.json": root,
		"sigstore.json": mustJSON(t, map[string]any{"version": "1", "policies": []any{map[string]any{
			"name": sigstoreKeyless, "registryScopes": scopes, "trustedRoot": "trusted_root.json",
			"keyless": map[string]any{"issuer": keylessIssuer, "subject": keylessIdentity},
		}}}),
	})

	l.notationSigner = certSubject(t, publisher.LeafCert)
	l.keySigner = keyFingerprint(t, publisher.CosignPub)
	l.keylessSigner = keylessIssuer + " " + keylessIdentity
	return l
}

// copyTag copies the image src names to dst, with annotations added to its
// manifest if any are given (which gives it a digest of its own).
func copyTag(ctx context.Context, src name.Reference, dst name.Tag, annotations map[string]string) (name.Digest, error) {
	img, err := remote.Image(src, remote.WithContext(ctx))
	if err != nil {
		return name.Digest{}, fmt.Errorf("%s: %w", src, err)
	}
	if annotations != nil {
		a, ok := mutate.Annotations(img, annotations).(v1.Image)
		if !ok {
			return name.Digest{}, fmt.Errorf("%s: annotating gave no image", src)
		}
		img = a
	}
	if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
		return name.Digest{}, fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	h, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return dst.Context().Digest(h.String()), nil
}

// notationTrust is a trust directory holding the fixture's trust policy at
// level and its trust stores, as a user copies them from ~/.config/notation
// (the signing keys stay behind).
func notationTrust(t *testing.T, f *signing.Fixture, level string) string {
	t.Helper()
	var pol map[string]any
	if err := json.Unmarshal(mustRead(t, f.TrustPolicy), &pol); err != nil {
		t.Fatal(err)
	}
	for _, p := range pol["trustPolicies"].([]any) {
		p.(map[string]any)["signatureVerification"] = map[string]any{"level": level}
	}
	files := map[string][]byte{notationPolicyAt: mustJSON(t, pol)}
	store := filepath.Join(f.NotationDir, "truststore")
	err := filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(f.NotationDir, p)
		if err != nil {
			return err
		}
		files[filepath.Join("notation", rel)] = mustRead(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return trustDir(t, files)
}

func trustDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for n, b := range files {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// certSubject is the subject of the PEM certificate at p, as a Notary
// Project verdict names its signer.
func certSubject(t *testing.T, p string) string {
	t.Helper()
	blk, _ := pem.Decode(mustRead(t, p))
	if blk == nil {
		t.Fatalf("%s: no PEM", p)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject.String()
}

// keyFingerprint is a Sigstore key signer's name: "key sha256:<hex>" of
// the PKIX public key at p.
func keyFingerprint(t *testing.T, p string) string {
	t.Helper()
	blk, _ := pem.Decode(mustRead(t, p))
	if blk == nil {
		t.Fatalf("%s: no PEM", p)
	}
	fp := sha256.Sum256(blk.Bytes)
	return "key sha256:" + hex.EncodeToString(fp[:])
}

// signedScheme is one way of signing and the trust directory that accepts
// it: the case whose image it trusts, and each failing case with the
// reason the trust package gives for it (trust/errors.go).
type signedScheme struct {
	name    string // "notation", "cosign-key", "keyless"
	kind    string // the lock's kind: "notation", "sigstore"
	display string // the kind in messages
	policy  string // the policy statement's name
	file    string // the policy file
	signer  string
	good    string
	bad     []signedFailure
}

type signedFailure struct{ c, reason string }

func (l *signedLab) schemes() []signedScheme {
	fourWays := []signedFailure{
		{caseNone, "no signatures found"},
		{caseUntrusted, "1 signature found, not from a trusted identity"},
		{caseOther, "1 signature found, it is not over this digest"},
		{caseTampered, "1 signature found, its envelope was tampered with"},
	}
	// A key-signed bundle carries no key: a signature with a bit flipped
	// fails under the trusted key as another key's signature does, and
	// the trust package cannot tell the two apart. A Notary Project
	// envelope carries its chain, so its own certificate shows the flip.
	keyed := append([]signedFailure(nil), fourWays[:3]...)
	keyed = append(keyed, signedFailure{caseTampered, "1 signature found, not from a trusted identity"})
	return []signedScheme{
		{"notation", "notation", "Notary Project", signing.TrustPolicyName, notationPolicyAt, l.notationSigner, caseGood, fourWays},
		{"cosign-key", "sigstore", "Sigstore", sigstoreKeyName, "sigstore.json", l.keySigner, caseGood, keyed},
		{"keyless", "sigstore", "Sigstore", sigstoreKeyless, "sigstore.json", l.keylessSigner, caseKeyless, []signedFailure{
			{caseKeylessUntrusted, "1 signature found, not from a trusted identity"},
		}},
	}
}

// trustError is the start of the trust package's error for the image of
// case c under scheme sc: its digest, repository, policy, file and reason.
func (l *signedLab) trustError(s signedStore, sc signedScheme, c, reason string) string {
	return fmt.Sprintf("%s of %s: no %s signature trusted by policy %q (%s): %s",
		l.images[s.name][c].DigestStr(), l.repo(s, c), sc.display, sc.policy, sc.file, reason)
}

// withTrust are the buildctl flags that hand the build a trust directory as
// the sdk-trust context.
func withTrust(dir string, more ...string) []string {
	return append([]string{"--local", "sdk-trust=" + dir, "--opt", "context:sdk-trust=local:sdk-trust"}, more...)
}

// signedProgress checks that r's progress names the SDK's pin and its
// signer and policy at the end of the [sdk] line.
func signedProgress(t *testing.T, r result, pin, signer, policy string) {
	t.Helper()
	suffix := " (signed by " + signer + ", policy " + policy + ")"
	for _, line := range strings.Split(r.err, "\n") {
		if strings.Contains(line, "[sdk] golang@1.23 -> 1.23.4 ") && strings.Contains(line, pin) && strings.HasSuffix(strings.TrimSpace(line), suffix) {
			return
		}
	}
	t.Errorf("no progress line [sdk] golang@1.23 -> 1.23.4 ... %s ...%s:\n%s", pin, suffix, tail(r.err, 40))
}

// failedAtLine checks that r failed at the SDK line with want in its
// message, before any RUN.
func failedAtLine(t *testing.T, r result, want ...string) {
	t.Helper()
	for _, w := range append([]string{fmt.Sprintf("Dockerfile:%d", signedSDKLine), ">>> SDK golang@1.23"}, want...) {
		if !strings.Contains(r.err, w) {
			t.Errorf("the build's output lacks %q:\n%s", w, tail(r.err, 30))
		}
	}
	if strings.Contains(r.err, "] RUN ") {
		t.Errorf("a RUN step ran with an SDK that failed verification:\n%s", tail(r.err, 30))
	}
}

// lockSignature is a lock entry's record of a verified signature.
type lockSignature struct {
	Kind, Policy, Digest, Signer string
}

// lockSignatures reads the signatures of golang@1.23's entry of the lock
// in dir, and the lock's version.
func lockSignatures(t *testing.T, dir string) (int, []lockSignature) {
	t.Helper()
	dt := mustRead(t, filepath.Join(dir, "Dockerfile.sdk.lock"))
	var lf struct {
		Version int `json:"version"`
		SDKs    []struct {
			Ref        string          `json:"ref"`
			Signatures []lockSignature `json:"signatures"`
		} `json:"sdks"`
	}
	if err := json.Unmarshal(dt, &lf); err != nil {
		t.Fatalf("the lock: %v\n%s", err, dt)
	}
	if len(lf.SDKs) != 1 || lf.SDKs[0].Ref != "golang@1.23" {
		t.Fatalf("the lock holds %d entries, want golang@1.23's alone:\n%s", len(lf.SDKs), dt)
	}
	return lf.Version, lf.SDKs[0].Signatures
}

// TestSigned: SDK images signed with the real notation and cosign CLIs
// (and keyless through a virtual Sigstore), in both signature stores, are
// verified through buildkitd before they are pinned: under a strict policy
// a trusted signature builds and its progress names the signer; no
// signature, an untrusted one, one over another digest and a tampered one
// each fail at the SDK line with the trust package's reason, before any
// RUN. The same holds for `sdkfront lock --trust` (exit code and text) and
// for a frozen build from the lock it wrote, whose signatures field names
// the signer and signature digest; a lock whose recorded signer changed
// fails the frozen build at the line. An audit policy warns
// SDKSignatureAudit at the line and builds.
func TestSigned(t *testing.T) {
	l := newSignedLab(t)
	for _, s := range l.stores {
		t.Run(s.name, func(t *testing.T) {
			// The trust package alone over the fixture, so that a failure
			// below is the wiring's, not the fixture's.
			t.Run("library", func(t *testing.T) { l.checkLibrary(t, s) })
			for _, sc := range l.schemes() {
				t.Run(sc.name, func(t *testing.T) {
					trust := l.trust[sc.name]
					t.Run(sc.good, func(t *testing.T) { l.checkTrusted(t, s, sc, trust) })
					for _, f := range sc.bad {
						t.Run(f.c, func(t *testing.T) { l.checkRefused(t, s, sc, trust, f) })
					}
				})
			}
			t.Run("audit", func(t *testing.T) { l.checkAudit(t, s) })
			t.Run("SDK_TRUST", func(t *testing.T) { l.checkTrustArg(t, s) })
			t.Run("offline", func(t *testing.T) { l.checkOffline(t, s) })
		})
	}
}

// checkLibrary verifies each case with the trust package and the registry
// client directly: the trusted images give the signer and signature digest,
// the others the error the build must show.
func (l *signedLab) checkLibrary(t *testing.T, s signedStore) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, sc := range l.schemes() {
		policy, err := trust.LoadPolicy(os.DirFS(l.trust[sc.name]))
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		v := trust.NewVerifier(policy, registry.New(), trust.Limits{})
		verify := func(c string) (*trust.Verdict, error) { return v.Verify(ctx, l.subject(ctx, t, s, c)) }
		got, err := verify(sc.good)
		want := trust.Signature{Kind: trust.Kind(sc.kind), Policy: sc.policy, Level: trust.Strict,
			Digest: digest.Digest(l.sigs[s.name][sc.name].DigestStr()), Signer: sc.signer}
		if err != nil || len(got.Signatures) != 1 || got.Signatures[0] != want {
			t.Errorf("%s: %s: %+v, %v; want %+v", sc.name, sc.good, got, err, want)
		}
		if sc.name == "notation" {
			audit, err := trust.LoadPolicy(os.DirFS(l.trust["notation-audit"]))
			if err != nil {
				t.Fatal(err)
			}
			av := trust.NewVerifier(audit, registry.New(), trust.Limits{})
			for _, f := range sc.bad[:2] {
				got, err := av.Verify(ctx, l.subject(ctx, t, s, f.c))
				if msg := l.trustError(s, sc, f.c, f.reason); err != nil || len(got.Warnings) != 1 || !strings.HasPrefix(got.Warnings[0], msg) {
					t.Errorf("audit: %s: %+v, %v; want one warning %q", f.c, got, err, msg)
				}
			}
		}
		for _, f := range sc.bad {
			_, err := verify(f.c)
			if msg := l.trustError(s, sc, f.c, f.reason); err == nil || !strings.HasPrefix(err.Error(), msg) {
				t.Errorf("%s: %s: %v, want %q", sc.name, f.c, err, msg)
			}
		}
	}
}

// subject is the image of case c as trust verifies it.
func (l *signedLab) subject(ctx context.Context, t *testing.T, s signedStore, c string) trust.Subject {
	t.Helper()
	img := l.images[s.name][c]
	desc, err := remote.Head(img, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	return trust.Subject{Repo: l.repo(s, c), Digest: digest.Digest(img.DigestStr()), MediaType: string(desc.MediaType), Size: desc.Size}
}

// checkTrusted: the build, `sdkfront lock --trust` and the frozen build
// from its lock accept the trusted signature and name its signer; a lock
// whose recorded signer was edited fails the frozen build at the line.
func (l *signedLab) checkTrusted(t *testing.T, s signedStore, sc signedScheme, trust string) {
	img := l.images[s.name][sc.good]
	sig := l.sigs[s.name][sc.name]
	pin := l.repo(s, sc.good) + "@" + img.DigestStr()
	dir := project(t, l.dockerfile(s, sc.good), map[string]string{})

	r := buildctl(t, dir, withTrust(trust, "--opt", "build-arg:SDK_LOCK=off")...).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q", got)
	}
	signedProgress(t, r, pin, sc.signer, sc.policy)

	// Without the trust directory nothing is verified: the signer comes
	// from the policy, not from the registry.
	r = buildctl(t, dir, "--opt", "build-arg:SDK_LOCK=off").mustSucceed(t)
	if strings.Contains(r.err, "(signed by ") {
		t.Errorf("a build without a trust policy claims a signer:\n%s", tail(r.err, 30))
	}

	out, code := sdkfrontCLI(t, dir, "lock", "--trust", trust)
	if code != 0 {
		t.Fatalf("sdkfront lock --trust: exit %d, want 0\n%s", code, out)
	}
	version, sigs := lockSignatures(t, dir)
	if version != 2 {
		t.Errorf("the lock's version is %d, want 2", version)
	}
	want := lockSignature{Kind: sc.kind, Policy: sc.policy, Digest: sig.DigestStr(), Signer: sc.signer}
	if len(sigs) != 1 || sigs[0] != want {
		t.Errorf("the lock's signatures = %+v, want [%+v]", sigs, want)
	}
	if out, code := sdkfrontCLI(t, dir, "lock", "--check", "--trust", trust); code != 0 {
		t.Errorf("sdkfront lock --check --trust on the lock it wrote: exit %d, want 0\n%s", code, out)
	}

	r = buildctl(t, dir, withTrust(trust, "--opt", "build-arg:SDK_LOCK=frozen")...).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("frozen build: go version = %q", got)
	}
	if !strings.Contains(r.err, "[sdk] golang@1.23 -> 1.23.4 (bookworm, locked) "+pin) {
		t.Errorf("the frozen build's progress does not pin %s from the lock:\n%s", pin, tail(r.err, 40))
	}
	signedProgress(t, r, pin, sc.signer, sc.policy)

	// The lock says another signer signed this digest: the frozen build
	// verifies again, and the signer it finds is not the one recorded.
	impostor := "CN=someone else,O=elsewhere"
	editSigner(t, dir, impostor)
	r = buildctl(t, dir, withTrust(trust, "--opt", "build-arg:SDK_LOCK=frozen")...).mustFail(t)
	failedAtLine(t, r, fmt.Sprintf("SDK golang@1.23: the lock records the %s signer of %s as %q, but policy %s now verifies it as signed by %q",
		sc.kind, img.DigestStr(), impostor, sc.policy, sc.signer))
}

// editSigner rewrites the signer of every signature the lock in dir
// records, and nothing else.
func editSigner(t *testing.T, dir, signer string) {
	t.Helper()
	p := filepath.Join(dir, "Dockerfile.sdk.lock")
	var lf map[string]any
	if err := json.Unmarshal(mustRead(t, p), &lf); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range lf["sdks"].([]any) {
		sigs, _ := e.(map[string]any)["signatures"].([]any)
		for _, s := range sigs {
			s.(map[string]any)["signer"] = signer
			n++
		}
	}
	if n == 0 {
		t.Fatalf("the lock records no signature to edit:\n%s", mustRead(t, p))
	}
	if err := os.WriteFile(p, mustJSON(t, lf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkRefused: the build, `sdkfront lock --trust` and the frozen build from
// a lock written without a policy refuse the image of case f, at the SDK
// line, for f's reason.
func (l *signedLab) checkRefused(t *testing.T, s signedStore, sc signedScheme, trust string, f signedFailure) {
	msg := l.trustError(s, sc, f.c, f.reason)
	dir := project(t, l.dockerfile(s, f.c), map[string]string{})

	r := buildctl(t, dir, withTrust(trust, "--opt", "build-arg:SDK_LOCK=off")...).mustFail(t)
	failedAtLine(t, r, "SDK golang@1.23: "+msg)

	out, code := sdkfrontCLI(t, dir, "lock", "--trust", trust)
	if want := fmt.Sprintf("Dockerfile:%d: SDK golang@1.23: %s", signedSDKLine, msg); code != 1 || !strings.Contains(out, want) {
		t.Errorf("sdkfront lock --trust: exit %d, want 1 and %q:\n%s", code, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile.sdk.lock")); err == nil {
		t.Errorf("sdkfront lock --trust wrote a lock for an SDK that failed verification")
	}

	// A lock written without a policy pins the digest; the frozen build
	// with one verifies it all the same.
	if out, code := sdkfrontCLI(t, dir, "lock"); code != 0 {
		t.Fatalf("sdkfront lock without a trust policy: exit %d\n%s", code, out)
	}
	if _, sigs := lockSignatures(t, dir); len(sigs) != 0 {
		t.Errorf("a lock written without a trust policy records signatures: %+v", sigs)
	}
	out, code = sdkfrontCLI(t, dir, "lock", "--check", "--trust", trust)
	if code == 0 || !strings.Contains(out, msg) {
		t.Errorf("sdkfront lock --check --trust: exit %d, want a failure naming %q:\n%s", code, msg, out)
	}
	r = buildctl(t, dir, withTrust(trust, "--opt", "build-arg:SDK_LOCK=frozen")...).mustFail(t)
	failedAtLine(t, r, "SDK golang@1.23: "+msg)
}

// checkTrustArg: the build arg SDK_TRUST picks the trust directory from a
// context of another name; the policy it names is the one applied.
func (l *signedLab) checkTrustArg(t *testing.T, s signedStore) {
	notation := l.schemes()[0]
	args := []string{"--local", "policies=" + l.trust["notation"], "--opt", "context:release-trust=local:policies",
		"--opt", "build-arg:SDK_TRUST=release-trust", "--opt", "build-arg:SDK_LOCK=off"}
	r := buildctl(t, project(t, l.dockerfile(s, caseGood), map[string]string{}), args...).mustSucceed(t)
	signedProgress(t, r, l.repo(s, caseGood)+"@"+l.images[s.name][caseGood].DigestStr(), l.notationSigner, notation.policy)
	r = buildctl(t, project(t, l.dockerfile(s, caseNone), map[string]string{}), args...).mustFail(t)
	failedAtLine(t, r, "SDK golang@1.23: "+l.trustError(s, notation, caseNone, notation.bad[0].reason))
}

// checkOffline: the offline frontend image has no network, so it cannot
// read a locked SDK's signatures: a frozen build under a strict policy
// fails at the line saying that it cannot reach the registry, and under
// audit it builds with an SDKSignatureUnchecked warning at the line.
func (l *signedLab) checkOffline(t *testing.T, s signedStore) {
	offline := offlineFrontend(t)
	df := strings.Replace(l.dockerfile(s, caseGood), "# syntax="+lab.frontend+"\n", "# syntax="+offline+"\n", 1)
	dir := project(t, df, map[string]string{})
	if out, code := sdkfrontCLI(t, dir, "lock", "--trust", l.trust["notation"]); code != 0 {
		t.Fatalf("sdkfront lock --trust: exit %d\n%s", code, out)
	}
	img := l.images[s.name][caseGood]
	repo := l.repo(s, caseGood)
	frozen := "build-arg:SDK_LOCK=frozen"

	r := buildctl(t, dir, withTrust(l.trust["notation"], "--opt", frozen)...).mustFail(t)
	failedAtLine(t, r, "SDK golang@1.23: "+img.DigestStr()+" of "+repo+": its signatures cannot be verified, as the frontend cannot reach its registry (")
	if !strings.Contains(r.err, "and policy level strict (") || !strings.Contains(r.err, "requires them; build where the frontend can reach it") {
		t.Errorf("the offline build's refusal names neither the strict level nor what to do:\n%s", tail(r.err, 30))
	}

	r = buildctl(t, dir, withTrust(l.trust["notation-audit"], "--opt", frozen, "--progress", "rawjson")...).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q", got)
	}
	want := "SDKSignatureUnchecked: SDK golang@1.23: the signatures of " + repo + "@" + img.DigestStr() + " were not verified"
	var found []string
	for short, w := range rawWarnings(t, r.err) {
		if strings.HasPrefix(short, "SDKSignatureUnchecked") {
			found = append(found, short)
			if !strings.HasPrefix(short, want) || len(w.Range) == 0 || w.Range[0].Start.Line != signedSDKLine {
				t.Errorf("warning %q at %v, want %q... at line %d", short, w.Range, want, signedSDKLine)
			}
		}
	}
	if len(found) != 1 {
		t.Errorf("SDKSignatureUnchecked warnings %q, want one: %q...", found, want)
	}
}

// checkAudit: under a Notary Project policy at level audit, an unsigned SDK
// and an untrusted one build, each with an SDKSignatureAudit warning at the
// SDK line that says what strict would have failed on; a trusted one builds
// without it; a tampered one fails at the line all the same.
func (l *signedLab) checkAudit(t *testing.T, s signedStore) {
	trust := l.trust["notation-audit"]
	notation := l.schemes()[0]
	for _, f := range []signedFailure{notation.bad[0], notation.bad[1], {caseGood, ""}} {
		t.Run(f.c, func(t *testing.T) {
			dir := project(t, l.dockerfile(s, f.c), map[string]string{})
			r := buildctl(t, dir, withTrust(trust, "--opt", "build-arg:SDK_LOCK=off", "--progress", "rawjson")...).mustSucceed(t)
			if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
				t.Errorf("go version = %q", got)
			}
			var found []string
			for short, w := range rawWarnings(t, r.err) {
				if !strings.HasPrefix(short, "SDKSignatureAudit") {
					continue
				}
				found = append(found, short)
				line := int32(-1)
				if len(w.Range) > 0 {
					line = w.Range[0].Start.Line
				}
				want := "SDKSignatureAudit: SDK golang@1.23: " + l.trustError(s, notation, f.c, f.reason)
				if f.reason == "" || line != signedSDKLine || !strings.HasPrefix(short, want) || !strings.HasSuffix(short, fmt.Sprintf(" (line %d)", signedSDKLine)) {
					t.Errorf("warning at line %d:\n%s\nwant at line %d:\n%s ... (line %d)", line, short, signedSDKLine, want, signedSDKLine)
				}
			}
			if f.reason != "" && len(found) == 0 {
				t.Errorf("no SDKSignatureAudit warning for the %s image under an audit policy:\n%s", f.c, tail(r.err, 30))
			}
		})
	}
	t.Run(caseTampered, func(t *testing.T) {
		dir := project(t, l.dockerfile(s, caseTampered), map[string]string{})
		r := buildctl(t, dir, withTrust(trust, "--opt", "build-arg:SDK_LOCK=off")...).mustFail(t)
		failedAtLine(t, r, "SDK golang@1.23: "+l.trustError(s, notation, caseTampered, notation.bad[3].reason))
	})
}
