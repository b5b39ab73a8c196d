package resolver

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// Ref is a parsed SDK reference: "<platform>[@<constraint>]", or
// "<host>/<path>/<name>[@<constraint>]" naming the repository directly.
type Ref struct {
	// Raw is the reference as written.
	Raw string
	// Platform is the SDK platform, e.g. "golang". For a full repository it
	// is the last path element without a "-sdk" suffix ("python-sdk" is
	// "python").
	Platform string
	// Repository is the repository named by a full reference; empty when
	// the reference names a platform, whose repository the Source decides.
	Repository string
	// Constraint selects the version.
	Constraint Constraint
}

var platformName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// digestLike finds a digest among what follows "@": "sha256:4f0c…",
// "1.23@sha256:4f0c…".
var digestLike = regexp.MustCompile(`(^|@)[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}`)

// ParseRef parses an SDK reference. Any reference containing "/" names a
// full repository. An empty constraint ("golang@", as an unset build arg
// leaves it) means the default version.
func ParseRef(s string) (Ref, error) {
	name, constraint, _ := strings.Cut(s, "@")
	if digestLike.MatchString(constraint) {
		return Ref{}, refError(s, fmt.Errorf("an SDK reference takes a version after \"@\", not a digest: to pin digests, lock the Dockerfile with `sdkfront lock`"))
	}
	ref := Ref{Raw: s}
	var err error
	if ref.Constraint, err = ParseConstraint(constraint); err != nil {
		return Ref{}, refError(s, err)
	}
	switch {
	case name == "":
		return Ref{}, refError(s, fmt.Errorf("missing SDK platform or repository before \"@\""))
	case strings.Contains(name, "/"):
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return Ref{}, refError(s, fmt.Errorf("invalid repository %q: %w", name, err))
		}
		if _, tagged := named.(reference.Tagged); tagged {
			return Ref{}, refError(s, fmt.Errorf("a repository takes a version after \"@\", not a tag after \":\""))
		}
		ref.Repository = named.Name()
		ref.Platform = strings.TrimSuffix(path.Base(reference.Path(named)), "-sdk")
		if !platformName.MatchString(ref.Platform) {
			return Ref{}, refError(s, fmt.Errorf("cannot derive an SDK platform from repository %q", name))
		}
	case !platformName.MatchString(name):
		return Ref{}, refError(s, fmt.Errorf("invalid SDK platform %q: want lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", name))
	default:
		ref.Platform = name
	}
	return ref, nil
}

// String returns the reference as written.
func (r Ref) String() string { return r.Raw }

func refError(s string, err error) error {
	// Constraint errors already carry ErrInvalidRef; don't repeat its text.
	msg := strings.TrimPrefix(err.Error(), ErrInvalidRef.Error()+": ")
	return fmt.Errorf("%w %q: %s", ErrInvalidRef, s, msg)
}
