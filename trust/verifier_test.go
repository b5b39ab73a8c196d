package trust

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestNotationAuditWarns(t *testing.T) {
	p := validPKI(t)
	other := newPKI(t, 1, "SDK Signer", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	subj := subjectOf("go")
	s := newMemStore()
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, other.sign(t, subj.Descriptor()))
	got, err := NewVerifier(loadTestPolicy(t, notationFS(p.root, "audit", signerIdentity)), s, Limits{}).Verify(context.Background(), subj)
	if err != nil {
		t.Fatalf("audit failed the digest: %v", err)
	}
	if len(got.Signatures) != 1 || got.Signatures[0].Level != Audit || got.Signatures[0].Verified() {
		t.Errorf("signatures %+v, want one unverified audit verdict", got.Signatures)
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "not from a trusted identity") {
		t.Errorf("warnings %q, want the untrusted identity", got.Warnings)
	}
}

func TestNotationAuditEnforcesIntegrity(t *testing.T) {
	p := validPKI(t)
	subj := subjectOf("go")
	s := newMemStore()
	env := p.sign(t, subj.Descriptor())
	env[strings.Index(string(env), "targetArtifact")] = 'T'
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, env)
	// A signature over another digest beside it, which strict would
	// report first, does not hide the tampered one.
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, subjectOf("evil").Descriptor()))
	_, err := NewVerifier(loadTestPolicy(t, notationFS(p.root, "audit", signerIdentity)), s, Limits{}).Verify(context.Background(), subj)
	wantError(t, err, ErrTampered, "2 signatures found")
}

func TestNotationPermissiveWarnsOnExpiry(t *testing.T) {
	old := newPKI(t, 0, "SDK Signer", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	subj := subjectOf("go")
	s := newMemStore()
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, old.signAt(t, subj.Descriptor(), time.Now().Add(-36*time.Hour)))
	got, err := NewVerifier(loadTestPolicy(t, notationFS(old.root, "permissive", signerIdentity)), s, Limits{}).Verify(context.Background(), subj)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Signatures[0].Verified() || len(got.Warnings) == 0 || !strings.Contains(got.Warnings[0], "authenticTimestamp check failed") {
		t.Errorf("verdict %+v, want a verified signature with an authenticTimestamp warning", got)
	}
}

func TestSkipReadsNothing(t *testing.T) {
	p := validPKI(t)
	s := newMemStore()
	got, err := NewVerifier(loadTestPolicy(t, notationFS(p.root, "skip", "")), s, Limits{}).Verify(context.Background(), subjectOf("go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Signatures) != 1 || got.Signatures[0].Level != Skip || got.Signatures[0].Verified() {
		t.Errorf("signatures %+v, want one skip verdict", got.Signatures)
	}
	if n := s.calls(); n != 0 {
		t.Errorf("%d registry reads under skip, want none", n)
	}
}

func TestNoPolicyCoversRepository(t *testing.T) {
	p := validPKI(t)
	subj := subjectOf("go")
	subj.Repo = "registry.example/sdks/node"
	_, err := NewVerifier(loadTestPolicy(t, notationFS(p.root, "strict", signerIdentity)), newMemStore(), Limits{}).Verify(context.Background(), subj)
	wantError(t, err, ErrNoPolicy, "no Notary Project trust policy (notation/trustpolicy.json) covers registry.example/sdks/node")
}

func TestBounds(t *testing.T) {
	p := validPKI(t)
	subj := subjectOf("go")
	policy := notationFS(p.root, "strict", signerIdentity)
	t.Run("too many referrers", func(t *testing.T) {
		s := newMemStore()
		env := p.sign(t, subj.Descriptor())
		for range 3 {
			s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, env)
		}
		_, err := NewVerifier(loadTestPolicy(t, policy), s, Limits{Referrers: 2}).Verify(context.Background(), subj)
		wantError(t, err, ErrBounds, "3 referrers", "more than the 2 considered")
		if n := s.fetchCalls.Load(); n != 0 {
			t.Errorf("%d fetches, want none past the bound", n)
		}
	})
	t.Run("oversized envelope", func(t *testing.T) {
		s := newMemStore()
		env := p.sign(t, subj.Descriptor())
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, env)
		_, err := NewVerifier(loadTestPolicy(t, policy), s, Limits{EnvelopeBytes: int64(len(env) - 1)}).Verify(context.Background(), subj)
		wantError(t, err, ErrBounds, "more than")
		if n := s.fetchCalls.Load(); n != 1 {
			t.Errorf("%d fetches, want the manifest's only", n)
		}
	})
	t.Run("chain too deep", func(t *testing.T) {
		s := newMemStore()
		s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, subj.Descriptor()))
		_, err := NewVerifier(loadTestPolicy(t, policy), s, Limits{ChainDepth: 2}).Verify(context.Background(), subj)
		wantError(t, err, ErrBounds, "certificate chain of 3, more than 2")
	})
	t.Run("time budget", func(t *testing.T) {
		// The registry never answers: only the budget ends the call.
		s := newMemStore()
		s.block = make(chan struct{})
		_, err := NewVerifier(loadTestPolicy(t, policy), s, Limits{TimeBudget: 10 * time.Millisecond}).Verify(context.Background(), subj)
		wantError(t, err, ErrBounds, "the time budget of 10ms ran out", "deadline exceeded")
	})
}

func TestOneVerificationPerDigest(t *testing.T) {
	p := validPKI(t)
	subj := subjectOf("go")
	s := newMemStore()
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, subj.Descriptor()))
	s.block = make(chan struct{}) // hold the first call until all have come
	v := NewVerifier(loadTestPolicy(t, notationFS(p.root, "strict", signerIdentity)), s, Limits{})
	const n = 8
	var wg sync.WaitGroup
	verdicts := make([]*Verdict, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { verdicts[i], errs[i] = v.Verify(context.Background(), subj) })
	}
	// Every caller is in Verify before the registry answers: wait until
	// the cache holds the call and the first one reached the store.
	for s.referrerCalls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(s.block)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || verdicts[i] != verdicts[0] {
			t.Fatalf("call %d: %v, %p; want the first call's verdict %p", i, errs[i], verdicts[i], verdicts[0])
		}
	}
	// Once more, after: still cached.
	if _, err := v.Verify(context.Background(), subj); err != nil {
		t.Fatal(err)
	}
	if r, f := s.referrerCalls.Load(), s.fetchCalls.Load(); r != 1 || f != 2 {
		t.Errorf("%d referrers calls and %d fetches, want 1 and 2 (manifest, envelope)", r, f)
	}
}

func TestCancelledCallIsNotCached(t *testing.T) {
	p := validPKI(t)
	subj := subjectOf("go")
	s := newMemStore()
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, subj.Descriptor()))
	s.block = make(chan struct{})
	v := NewVerifier(loadTestPolicy(t, notationFS(p.root, "strict", signerIdentity)), s, Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, subj); err == nil {
		t.Fatal("a cancelled call verified")
	}
	close(s.block)
	if _, err := v.Verify(context.Background(), subj); err != nil {
		t.Fatalf("the call after a cancelled one: %v", err)
	}
}

func TestRegistryFailureIsNotAVerdict(t *testing.T) {
	p := validPKI(t)
	subj := subjectOf("go")
	s := newMemStore()
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, subj.Descriptor()))
	s.fetchErr = errors.New("HTTP 503 Service Unavailable")
	_, err := NewVerifier(loadTestPolicy(t, notationFS(p.root, "strict", signerIdentity)), s, Limits{}).Verify(context.Background(), subj)
	var e *Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "reading Notary Project signature sha256:") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("error %v, want the registry's failure, not a verdict", err)
	}
}

// A signature manifest listed under the digest (the tag schema's index
// is anyone's to write) whose subject is another digest.
func TestReferrerOfAnotherDigest(t *testing.T) {
	p := validPKI(t)
	subj, other := subjectOf("go"), subjectOf("evil")
	s := newMemStore()
	d := s.attach(t, testRepo, other.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, other.Descriptor()))
	k := testRepo + "@" + subj.Digest.String()
	s.referrers[k] = append(s.referrers[k], d)
	_, err := NewVerifier(loadTestPolicy(t, notationFS(p.root, "strict", signerIdentity)), s, Limits{}).Verify(context.Background(), subj)
	wantError(t, err, ErrOtherDigest, "not a referrer of the digest")
}

// With both policy files, each that covers the repository must be
// satisfied; one that covers nothing of it is not asked.
func TestBothPoliciesMustHold(t *testing.T) {
	p := validPKI(t)
	key := newECKey(t)
	subj := subjectOf("go")
	fsys := notationFS(p.root, "strict", signerIdentity)
	fsys[SigstorePolicyFile] = &fstest.MapFile{Data: []byte(keyPolicy)}
	fsys["keys/cosign.pub"] = &fstest.MapFile{Data: pemKey(t, key)}
	policy := loadTestPolicy(t, fsys)

	s := newMemStore()
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeNotation, mediaTypeCOSE, p.sign(t, subj.Descriptor()))
	_, err := NewVerifier(policy, s, Limits{}).Verify(context.Background(), subj)
	wantError(t, err, ErrNoSignature, `no Sigstore signature trusted by policy "acme-key" (sigstore.json)`)

	node := subj
	node.Repo = "registry.example/sdks/node"
	_, err = NewVerifier(policy, s, Limits{}).Verify(context.Background(), node)
	wantError(t, err, ErrNoPolicy, "no trust policy (notation/trustpolicy.json and sigstore.json) covers registry.example/sdks/node")

	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keyBundle(t, key, subj))
	got, err := NewVerifier(policy, s, Limits{}).Verify(context.Background(), subj)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Signatures) != 2 || got.Signatures[0].Kind != Notation || got.Signatures[1].Kind != Sigstore || !got.Signatures[0].Verified() || !got.Signatures[1].Verified() {
		t.Fatalf("signatures %+v, want a verified notation and sigstore one", got.Signatures)
	}
}

func TestSigstoreAuditAndSkip(t *testing.T) {
	key := newECKey(t)
	subj := subjectOf("go")
	doc := `{"version": "1", "policies": [
		{"name": "audited", "registryScopes": ["` + testRepo + `"], "level": "audit", "publicKey": "k.pub"},
		{"name": "rest", "registryScopes": ["*"], "level": "skip"}]}`
	policy := loadTestPolicy(t, sigstoreFS(doc, map[string][]byte{"k.pub": pemKey(t, key)}))

	s := newMemStore()
	s.attach(t, testRepo, subj.Descriptor(), ArtifactTypeSigstore, ArtifactTypeSigstore, keyBundle(t, newECKey(t), subj))
	got, err := NewVerifier(policy, s, Limits{}).Verify(context.Background(), subj)
	if err != nil {
		t.Fatalf("audit failed the digest: %v", err)
	}
	if got.Signatures[0].Verified() || got.Signatures[0].Level != Audit || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "not from a trusted identity") {
		t.Errorf("verdict %+v, want an unverified audit verdict warning of the untrusted key", got)
	}

	other := subj
	other.Repo = "registry.example/sdks/node"
	s = newMemStore()
	got, err = NewVerifier(policy, s, Limits{}).Verify(context.Background(), other)
	if err != nil || got.Signatures[0].Level != Skip || got.Signatures[0].Policy != "rest" || s.calls() != 0 {
		t.Errorf("verdict %+v, %v, %d reads; want rest's skip, no reads", got, err, s.calls())
	}
}

// Levels names the level of each policy file's statement that covers a
// repository, for a caller that cannot read its registry.
func TestLevels(t *testing.T) {
	p := validPKI(t)
	doc := `{"version": "1", "policies": [
		{"name": "audited", "registryScopes": ["` + testRepo + `"], "level": "audit", "publicKey": "k.pub"},
		{"name": "rest", "registryScopes": ["registry.example/sdks/node"], "publicKey": "k.pub"}]}`
	fsys := notationFS(p.root, "strict", signerIdentity)
	for name, f := range sigstoreFS(doc, map[string][]byte{"k.pub": pemKey(t, newECKey(t))}) {
		fsys[name] = f
	}
	policy := loadTestPolicy(t, fsys)
	if got := policy.Levels(testRepo); len(got) != 2 || got[0] != Strict || got[1] != Audit {
		t.Errorf("Levels(%s) = %v, want [strict audit]", testRepo, got)
	}
	if got := policy.Levels("registry.example/sdks/node"); len(got) != 1 || got[0] != Strict {
		t.Errorf("Levels(node) = %v, want only sigstore's default, strict", got)
	}
}
