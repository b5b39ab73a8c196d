// Package trust verifies that an SDK image digest carries a publisher's
// signature that a user's policy trusts, before the digest is pinned. It
// is a sibling of resolver/: the resolver answers "which digest", trust
// answers "signed by whom"; plan/ joins them, and lock/ records the
// answer.
//
// # Policy
//
// LoadPolicy reads a trust directory, an fs.FS that the Dockerfile's
// author or CI controls (a named build context, or a directory given to
// sdkfront lock), never the SDK registry:
//
//	notation/trustpolicy.json        the Notary Project trust policy and
//	notation/truststore/x509/...     trust stores, as notation keeps them
//	                                 (format 1.0; notation-go v1.3.2)
//	sigstore.json                    sdkfront's Sigstore policy
//	                                 (SigstoreDocument), with the keys and
//	                                 trusted_root.json files it names
//
// LoadNotationConfig reads a notation config directory as it is. Every
// file is read and validated at load; a Policy never touches its fs.FS
// again, and is safe for concurrent use. docs/signatures.md is the user's
// reference.
//
// # Verifying
//
// The caller (plan/) makes one Verifier per build with NewVerifier, from
// the Policy, a Store and Limits, and calls Verify once per resolved
// digest, before pinning it:
//
//	v := trust.NewVerifier(policy, registryClient, trust.Limits{})
//	verdict, err := v.Verify(ctx, trust.Subject{
//		Repo: "mcr.microsoft.com/oryx/golang-sdk", Digest: d,
//		MediaType: desc.MediaType, Size: desc.Size,
//	})
//
// Every policy that covers the repository must be satisfied: the Notary
// Project statement whose registryScopes name it (else the "*" one), and
// the sigstore.json policy likewise. A repository that neither covers
// fails with ErrNoPolicy: a build given a policy fails closed.
//
// A Verdict holds one Signature per covering policy: its Kind (Notation,
// Sigstore), Policy name, Level, the signature's manifest Digest and the
// Signer (the leaf certificate's subject; a key's fingerprint; a keyless
// issuer and subject). These are what a lock records and a frozen build
// checks again. Verdict.Warnings are the findings of audit and permissive
// levels, for the caller to report under its check rule; they never fail
// the build. Skip reads nothing and returns a Signature without a Digest.
//
// A failure is an *Error naming the digest, the repository, the policy and
// its file, and what failed; errors.Is matches its Reason: ErrNoSignature,
// ErrUntrusted, ErrOtherDigest, ErrTampered, ErrExpired, ErrBounds,
// ErrNoPolicy. The caller adds the Dockerfile line.
//
// # Discovery and bounds
//
// Signatures are OCI referrers of the digest (artifact types
// ArtifactTypeNotation and ArtifactTypeSigstore), listed through
// Store.Referrers; where the registry has no referrers API the Store says
// ErrNoReferrersAPI and trust reads the referrers tag (sha256-<hex>)
// through Store.FetchTag. Each signature's manifest must name the digest
// as its subject and hold one layer of an allowed media type. Reads are
// bounded (Limits: MaxReferrers, MaxManifestBytes, MaxEnvelopeBytes,
// MaxChainDepth, DefaultTimeBudget), and each repository and digest is
// verified once per Verifier, concurrent callers sharing the one call.
//
// Nothing is fetched but through the Store: no OCSP or CRL (revocation is
// not checked; see offlineRevocation), no TUF, no Rekor.
package trust
