package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// SigstorePolicyFile is the name of sdkfront's Sigstore policy in a trust
// directory.
const SigstorePolicyFile = "sigstore.json"

// SigstorePolicyVersion is the only version of sigstore.json there is.
const SigstorePolicyVersion = "1"

// SigstoreDocument is sigstore.json: Sigstore policies by registry scope,
// shaped like notation's trustpolicy.json so that one reads like the
// other. File names in it are relative to the trust directory.
type SigstoreDocument struct {
	Version  string           `json:"version"`
	Policies []SigstorePolicy `json:"policies"`
}

// SigstorePolicy trusts one key, or one keyless identity, for the
// repositories its scopes name.
type SigstorePolicy struct {
	Name string `json:"name"`
	// RegistryScopes are repositories (registry.example/sdks/golang), or
	// "*" alone for every repository no other policy names.
	RegistryScopes []string `json:"registryScopes"`
	// Level is strict (the default), audit or skip.
	Level Level `json:"level,omitempty"`
	// PublicKey is a PEM public key file (cosign.pub).
	PublicKey string `json:"publicKey,omitempty"`
	// Keyless names the Fulcio certificate's identity.
	Keyless *KeylessIdentity `json:"keyless,omitempty"`
	// TrustedRoot is a sigstore trusted_root.json: Fulcio's CAs, Rekor's
	// and the CT logs' keys, timestamp authorities. Required for keyless;
	// with a key, it makes a transparency log entry required too.
	TrustedRoot string `json:"trustedRoot,omitempty"`
}

// KeylessIdentity is an OIDC issuer and a subject (the certificate's SAN),
// each exact or as a regular expression (Go syntax, matched whole).
type KeylessIdentity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

var policyName = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// ParseSigstoreDocument decodes and validates sigstore.json: unknown
// fields, trailing data and every rule broken are errors, reported
// together, each with its place.
func ParseSigstoreDocument(dt []byte) (*SigstoreDocument, error) {
	var doc SigstoreDocument
	dec := json.NewDecoder(bytes.NewReader(dt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the policy document")
	}
	// encoding/json matches field names without regard to case, so that
	// "publickey" would pass for "publicKey": check the names exactly.
	if err := exactKeys(dt); err != nil {
		return nil, err
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	return &doc, nil
}

var (
	documentKeys = []string{"version", "policies"}
	policyKeys   = []string{"name", "registryScopes", "level", "publicKey", "keyless", "trustedRoot"}
	keylessKeys  = []string{"issuer", "issuerRegExp", "subject", "subjectRegExp"}
)

// exactKeys checks a decoded document's object keys, spelled as the
// allow-lists spell them.
func exactKeys(dt []byte) error {
	var doc struct {
		Policies []map[string]json.RawMessage `json:"policies"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(dt, &top); err != nil {
		return err
	}
	if err := json.Unmarshal(dt, &doc); err != nil {
		return err
	}
	var errs []error
	check := func(at string, m map[string]json.RawMessage, allowed []string) {
		for k := range m {
			if !contains(allowed, k) {
				errs = append(errs, fmt.Errorf("%sunknown field %q", at, k))
			}
		}
	}
	check("", top, documentKeys)
	for i, p := range doc.Policies {
		at := fmt.Sprintf("policies[%d]: ", i)
		check(at, p, policyKeys)
		if raw, ok := p["keyless"]; ok && string(raw) != "null" {
			var k map[string]json.RawMessage
			if err := json.Unmarshal(raw, &k); err != nil {
				return err
			}
			check(at+"keyless: ", k, keylessKeys)
		}
	}
	return errors.Join(errs...)
}

// Validate checks every rule and reports every problem.
func (d *SigstoreDocument) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d.Version != SigstorePolicyVersion {
		add("version %q, want %q", d.Version, SigstorePolicyVersion)
	}
	if len(d.Policies) == 0 {
		add("no policies")
	}
	names := map[string]bool{}
	scopes := map[string]string{}
	for i, p := range d.Policies {
		at := fmt.Sprintf("policies[%d]", i)
		if !policyName.MatchString(p.Name) {
			add("%s: name %q, want [a-zA-Z0-9_.-]+", at, p.Name)
		} else if names[p.Name] {
			add("%s: name %q is used twice", at, p.Name)
		}
		names[p.Name] = true
		if len(p.RegistryScopes) == 0 {
			add("%s: no registryScopes", at)
		}
		for _, s := range p.RegistryScopes {
			if s == "*" {
				if len(p.RegistryScopes) > 1 {
					add("%s: scope \"*\" must be the policy's only scope", at)
				}
			} else if err := validScope(s); err != nil {
				add("%s: scope %q: %v", at, s, err)
			}
			if other, ok := scopes[s]; ok {
				add("%s: scope %q is also policy %q's", at, s, other)
			}
			scopes[s] = p.Name
		}
		switch p.Level {
		case "", Strict, Audit:
			if p.PublicKey == "" && p.Keyless == nil {
				add("%s: names neither publicKey nor keyless", at)
			}
			if p.PublicKey != "" && p.Keyless != nil {
				add("%s: names both publicKey and keyless", at)
			}
			if p.PublicKey != "" && !fs.ValidPath(p.PublicKey) {
				add("%s: publicKey %q is not a relative path inside the trust directory", at, p.PublicKey)
			}
			if p.TrustedRoot != "" && !fs.ValidPath(p.TrustedRoot) {
				add("%s: trustedRoot %q is not a relative path inside the trust directory", at, p.TrustedRoot)
			}
			if p.Keyless != nil {
				if p.TrustedRoot == "" {
					add("%s: keyless needs a trustedRoot", at)
				}
				errs = append(errs, p.Keyless.validate(at+".keyless")...)
			}
		case Skip:
			if p.PublicKey != "" || p.Keyless != nil || p.TrustedRoot != "" {
				add("%s: level skip takes no publicKey, keyless or trustedRoot", at)
			}
		default:
			add("%s: level %q, want strict, audit or skip", at, p.Level)
		}
	}
	return errors.Join(errs...)
}

func (k *KeylessIdentity) validate(at string) []error {
	var errs []error
	one := func(field, exact, re string) {
		switch {
		case exact == "" && re == "":
			errs = append(errs, fmt.Errorf("%s: names neither %s nor %sRegExp", at, field, field))
		case exact != "" && re != "":
			errs = append(errs, fmt.Errorf("%s: names both %s and %sRegExp", at, field, field))
		case re != "":
			if _, err := regexp.Compile(re); err != nil {
				errs = append(errs, fmt.Errorf("%s: %sRegExp: %w", at, field, err))
			}
		}
	}
	one("issuer", k.Issuer, k.IssuerRegExp)
	one("subject", k.Subject, k.SubjectRegExp)
	return errs
}

// validScope allows a repository name, registry host included, without
// tag or digest: the form notation's registryScopes take.
func validScope(s string) error {
	r, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return err
	}
	_, tagged := r.(reference.Tagged)
	_, digested := r.(reference.Digested)
	if tagged || digested || r.String() != s || !strings.Contains(s, "/") {
		return errors.New("want a full repository name, registry.example/repo, without tag or digest")
	}
	return nil
}

// applicable is the policy whose scope names repo, else the "*" one.
func (d *SigstoreDocument) applicable(repo string) (int, bool) {
	wild := -1
	for i, p := range d.Policies {
		for _, s := range p.RegistryScopes {
			if s == repo {
				return i, true
			}
			if s == "*" {
				wild = i
			}
		}
	}
	return wild, wild >= 0
}
