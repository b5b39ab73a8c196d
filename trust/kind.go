package trust

// Kind is a signature scheme. Its value ("notation", "sigstore") is what
// records (a lock) hold; String names it for messages.
type Kind string

const (
	// Notation is a Notary Project signature: a COSE or JWS envelope stored
	// as a referrer of artifact type ArtifactTypeNotation.
	Notation Kind = "notation"
	// Sigstore is a Sigstore bundle (cosign v3's format) stored as a
	// referrer of artifact type ArtifactTypeSigstore.
	Sigstore Kind = "sigstore"
)

// String names the scheme as messages do.
func (k Kind) String() string {
	switch k {
	case Notation:
		return "Notary Project"
	case Sigstore:
		return "Sigstore"
	}
	return string(k)
}

// Artifact and media types of signatures, allow-listed.
const (
	ArtifactTypeNotation = "application/vnd.cncf.notary.signature"
	ArtifactTypeSigstore = "application/vnd.dev.sigstore.bundle.v0.3+json"

	mediaTypeCOSE = "application/cose"
	mediaTypeJWS  = "application/jose+json"
)

// Level is how a policy treats a failed verification.
type Level string

const (
	// Strict: any failure fails the SDK.
	Strict Level = "strict"
	// Permissive (Notary Project): integrity and authenticity are
	// enforced; expiry and revocation only warn.
	Permissive Level = "permissive"
	// Audit: only integrity is enforced; every other failure, a missing
	// signature included, is a warning.
	Audit Level = "audit"
	// Skip: no signature is looked for.
	Skip Level = "skip"
)
