package trust

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Layout of a trust directory (the sdk-trust build context, or the
// directory given to sdkfront lock):
//
//	notation/trustpolicy.json         notation's own files, as under
//	notation/truststore/x509/...      ~/.config/notation
//	sigstore.json                     sdkfront's Sigstore policy
//	(keys and trusted roots that sigstore.json names)
const (
	NotationDir = "notation"
)

// Policy is a loaded trust directory: the Notary Project trust policy,
// the Sigstore policy, or both. It is immutable and safe for concurrent
// use.
type Policy struct {
	notation *notationPolicy
	sigstore *sigstorePolicies
}

// ErrNoPolicyFiles is LoadPolicy's answer for a directory that holds
// neither policy: a trust directory that trusts nothing is a mistake, not
// a policy.
var ErrNoPolicyFiles = errors.New("neither " + NotationDir + "/" + NotationTrustPolicy + " nor " + SigstorePolicyFile + " found")

// LoadPolicy reads a trust directory: notation/trustpolicy.json with its
// trust stores, and sigstore.json with what it names. Each present file is
// read, validated and loaded now (certificates parsed, keys and roots
// loaded); fsys is not used afterwards.
func LoadPolicy(fsys fs.FS) (*Policy, error) {
	var p Policy
	var errs []error
	nfs, err := fs.Sub(fsys, NotationDir)
	if err != nil {
		return nil, err
	}
	if exists(nfs, NotationTrustPolicy) {
		p.notation, err = loadNotation(nfs, path.Join(NotationDir, NotationTrustPolicy))
		errs = append(errs, err)
	}
	if exists(fsys, SigstorePolicyFile) {
		p.sigstore, err = loadSigstore(fsys, SigstorePolicyFile)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p.notation == nil && p.sigstore == nil {
		return nil, ErrNoPolicyFiles
	}
	return &p, nil
}

// LoadNotationConfig reads a notation config directory as it is
// (~/.config/notation: trustpolicy.json and truststore/), for a user who
// points sdkfront lock at it.
func LoadNotationConfig(fsys fs.FS) (*Policy, error) {
	n, err := loadNotation(fsys, NotationTrustPolicy)
	if err != nil {
		return nil, err
	}
	return &Policy{notation: n}, nil
}

func exists(fsys fs.FS, name string) bool {
	_, err := fs.Stat(fsys, name)
	return err == nil
}

// String names the policy files, for messages.
func (p *Policy) String() string {
	switch {
	case p.notation != nil && p.sigstore != nil:
		return fmt.Sprintf("%s and %s", p.notation.file, p.sigstore.file)
	case p.notation != nil:
		return p.notation.file
	}
	return p.sigstore.file
}

// Levels are the levels of the statements that cover repo, one for each
// policy file that has one: what a caller that cannot read the registry
// (and so verifies nothing) decides by, failing under strict and
// warning under audit. None: no statement covers repo.
func (p *Policy) Levels(repo string) []Level {
	var out []Level
	if p.notation != nil {
		if tp, err := p.notation.doc.GetApplicableTrustPolicy(repo + "@sha256:" + strings.Repeat("0", 64)); err == nil {
			if lvl, err := tp.SignatureVerification.GetVerificationLevel(); err == nil {
				out = append(out, Level(lvl.Name))
			}
		}
	}
	if p.sigstore != nil {
		if i, ok := p.sigstore.doc.applicable(repo); ok {
			l := p.sigstore.doc.Policies[i].Level
			if l == "" {
				l = Strict
			}
			out = append(out, l)
		}
	}
	return out
}
