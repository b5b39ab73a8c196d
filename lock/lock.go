// Package lock reads and writes sdkfront's lockfile, <Dockerfile>.sdk.lock:
// the resolution of every SDK line of a Dockerfile, pinned by digest for
// each platform it was locked for. With a lock, a build resolves nothing:
// no tag listing and no tag resolution by sdkfront.
//
// The lock arrives in pull requests: Parse checks it as data (check.go),
// every entry against what resolving its key could have given.
//
// The package also owns locking, for the frontend and sdkfront lock: what
// a Dockerfile needs locked and which entries pin it (need.go), how a lock
// differs from that (compare.go), and bringing it up to date (update.go).
//
// The file is JSON, deterministic (sorted, two-space indented, a trailing
// newline, no timestamps): locking twice gives the same bytes. Its JSON
// Schema is docs/sdk.lock.schema.json.
package lock

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// SchemaVersion is the version of the format this package writes.
// Version 2 added each entry's signatures; a version 1 lock, which has
// none, is still read, and written as version 2 when it is locked again.
const SchemaVersion = 2

// schemaV1 is the version that had no signatures.
const schemaV1 = 1

// Suffix is what a Dockerfile's name gets for its lock.
const Suffix = ".sdk.lock"

// Name is the lock's path for a Dockerfile's: Dockerfile.sdk.lock,
// app.Dockerfile.sdk.lock, sub/x.Dockerfile.sdk.lock.
func Name(dockerfile string) string {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	return path.Clean(dockerfile) + Suffix
}

// File is a lockfile.
type File struct {
	Version int     `json:"version"`
	SDKs    []Entry `json:"sdks"`
}

// Key is what an SDK line is locked by: the reference as written after
// build-arg expansion, the flavor and the source template. A line whose
// key has no entry is not locked (an edited constraint, a new line).
type Key struct {
	Ref    string `json:"ref"`
	Flavor string `json:"flavor"`
	Source string `json:"source"`
	// Constraint is what a version file said, for a reference whose
	// version comes from one ("python@file:.python-version").
	Constraint string `json:"constraint,omitempty"`
}

// Compare orders keys as a lock's entries are: by ref, flavor, source and
// constraint.
func (k Key) Compare(o Key) int {
	return cmp.Or(strings.Compare(k.Ref, o.Ref), strings.Compare(k.Flavor, o.Flavor),
		strings.Compare(k.Source, o.Source), strings.Compare(k.Constraint, o.Constraint))
}

// String names the key in messages: "golang@1.23 (bookworm, <source>)",
// each part quoted if it holds what could break a message's line.
func (k Key) String() string {
	return fmt.Sprintf("%s (%s, %s)", quote(k.Ref), quote(k.Flavor), quote(k.Source))
}

// Entry is one distinct resolution.
type Entry struct {
	Key
	Version    string `json:"version"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// Digest is what the tag pointed to: a manifest, or an image index.
	Digest digest.Digest `json:"digest"`
	// Platforms maps each platform the entry was locked for
	// ("linux/amd64") to the digest of its image manifest.
	Platforms map[string]digest.Digest `json:"platforms"`
	// Signatures are the publisher signatures verified when the entry was
	// locked, at most one of each kind; none without a trust policy.
	Signatures []Signature `json:"signatures,omitempty"`
}

// Signature is a verified signature of an entry's digest, as trust's
// verdict named it: a frozen build checks the signer again.
type Signature struct {
	Kind   string        `json:"kind"`   // "notation" or "sigstore"
	Policy string        `json:"policy"` // the policy statement's name
	Digest digest.Digest `json:"digest"` // the signature's manifest
	Signer string        `json:"signer"`
}

// signatureKinds are the kinds a lock may record (trust.Kind's values).
var signatureKinds = []string{"notation", "sigstore"}

// maxSignatureText bounds a signature's policy and signer, as a lock's
// other strings are bounded.
const maxSignatureText = 1024

// SortSignatures orders an entry's signatures as a lock holds them: by
// kind, policy and digest.
func SortSignatures(sigs []Signature) {
	slices.SortFunc(sigs, func(a, b Signature) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Policy, b.Policy), strings.Compare(string(a.Digest), string(b.Digest)))
	})
}

// signaturesProblem reports what is wrong with an entry's signatures.
func (e Entry) signaturesProblem() error {
	seen := map[string]bool{}
	for i, s := range e.Signatures {
		switch {
		case !slices.Contains(signatureKinds, s.Kind):
			return fmt.Errorf("signature %d: kind %s is not one of %s", i+1, quote(s.Kind), strings.Join(signatureKinds, ", "))
		case seen[s.Kind]:
			return fmt.Errorf("signature %d: a second %s signature; an entry records one of each kind", i+1, s.Kind)
		case s.Policy == "" || s.Signer == "":
			return fmt.Errorf("signature %d: policy and signer must be set", i+1)
		case len(s.Policy) > maxSignatureText || len(s.Signer) > maxSignatureText || strings.ContainsFunc(s.Policy+s.Signer, unicode.IsControl):
			return fmt.Errorf("signature %d: policy or signer too long or with control characters", i+1)
		}
		if s.Digest.Algorithm() != digest.SHA256 || s.Digest.Validate() != nil {
			return fmt.Errorf("signature %d: digest %s is not a sha256 digest", i+1, quote(string(s.Digest)))
		}
		seen[s.Kind] = true
	}
	return nil
}

// Parse reads a lockfile. A file that is not a lock (larger than MaxSize,
// not JSON, a key that is not exactly a field's name or is repeated in
// its object, another schema version, an entry without its key or result,
// two entries with one key) fails with an error that matches ErrInvalid. Entries that break the rules of Check are left out
// of the file, which Parse returns with an *InvalidEntriesError naming
// them: a caller either fails, or replaces them.
func Parse(dt []byte) (*File, error) {
	if len(dt) > MaxSize {
		return nil, invalidf("larger than 1 MiB (%d bytes), the most a lock may hold", MaxSize)
	}
	if err := checkKeys(dt); err != nil {
		return nil, err
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(dt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, invalidf("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("unexpected data after the top-level object")
	}
	if f.Version != SchemaVersion && f.Version != schemaV1 {
		return nil, &invalidError{fmt.Sprintf("SDK lockfile version %d is not supported (this sdkfront reads version %d): lock again with this version's `sdkfront lock`", f.Version, SchemaVersion)}
	}
	seen := map[Key]bool{}
	for i, e := range f.SDKs {
		err := e.complete()
		if err == nil && f.Version == schemaV1 && len(e.Signatures) > 0 {
			err = fmt.Errorf("signatures are recorded from lock version %d on, not in version %d", SchemaVersion, schemaV1)
		}
		if err == nil {
			err = e.signaturesProblem()
		}
		if err != nil {
			return nil, &invalidError{fmt.Sprintf("SDK lockfile entry %d (%s): %v", i+1, quote(e.Ref), err)}
		}
		if seen[e.Key] {
			return nil, &invalidError{fmt.Sprintf("SDK lockfile has two entries for %s", e.Key)}
		}
		seen[e.Key] = true
	}
	var bad InvalidEntriesError
	f.SDKs = slices.DeleteFunc(f.SDKs, func(e Entry) bool {
		if err := e.check(nil); err != nil {
			bad.Entries = append(bad.Entries, err)
			return true
		}
		return false
	})
	if len(bad.Entries) > 0 {
		return &f, &bad
	}
	return &f, nil
}

// complete reports a field the format requires that is missing.
func (e Entry) complete() error {
	switch {
	case e.Ref == "" || e.Flavor == "" || e.Source == "":
		return fmt.Errorf("ref, flavor and source must be set")
	case e.Version == "" || e.Repository == "" || e.Tag == "" || e.Digest == "":
		return fmt.Errorf("version, repository, tag and digest must be set")
	case len(e.Platforms) == 0:
		return fmt.Errorf("no platforms")
	}
	return nil
}

// Marshal writes the lockfile deterministically.
func (f *File) Marshal() []byte {
	out := File{Version: SchemaVersion, SDKs: slices.Clone(f.SDKs)}
	if out.SDKs == nil {
		out.SDKs = []Entry{}
	}
	for i := range out.SDKs {
		if len(out.SDKs[i].Signatures) == 0 {
			out.SDKs[i].Signatures = nil
			continue
		}
		out.SDKs[i].Signatures = slices.Clone(out.SDKs[i].Signatures)
		SortSignatures(out.SDKs[i].Signatures)
	}
	slices.SortFunc(out.SDKs, func(a, b Entry) int { return a.Key.Compare(b.Key) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out) // maps marshal sorted; nothing here can fail
	return buf.Bytes()
}

// Lookup finds the entry for a key.
func (f *File) Lookup(k Key) (Entry, bool) {
	if f == nil {
		return Entry{}, false
	}
	for _, e := range f.SDKs {
		if e.Key == k {
			return e, true
		}
	}
	return Entry{}, false
}

// Sorted is f's entries in the order Marshal writes them.
func (f *File) Sorted() []Entry {
	out := slices.Clone(f.SDKs)
	slices.SortFunc(out, func(a, b Entry) int { return a.Key.Compare(b.Key) })
	return out
}

// PlatformKey is how a platform is written in a lock: "linux/arm64/v8".
func PlatformKey(p ocispecs.Platform) string { return platforms.FormatAll(platforms.Normalize(p)) }

// Resolution is the entry as the resolution it pins for target platform p
// (the platform of the stage the SDK is used in); false if the entry was
// not locked for p.
func (e Entry) Resolution(platform string, p ocispecs.Platform) (resolver.Resolution, bool) {
	if _, ok := e.Platforms[PlatformKey(p)]; !ok {
		return resolver.Resolution{}, false
	}
	return resolver.Resolution{
		Ref: e.Ref, Platform: platform, Flavor: e.Flavor, Version: e.Version,
		Repository: e.Repository, Tag: e.Tag, Digest: e.Digest, Target: p,
		Platforms: e.Platforms, Locked: true,
	}, true
}

// FromResolution is the entry for a resolution made for platform p, whose
// image manifest is manifest (the resolution's digest when that is not an
// index).
func FromResolution(r resolver.Resolution, source string, p ocispecs.Platform, manifest digest.Digest) Entry {
	return Entry{
		Key:     Key{Ref: r.Ref, Flavor: r.Flavor, Source: source},
		Version: r.Version, Repository: r.Repository, Tag: r.Tag, Digest: r.Digest,
		Platforms: map[string]digest.Digest{PlatformKey(p): manifest},
	}
}
