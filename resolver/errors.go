package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors. Every error returned by this package that falls into one
// of these classes matches it with errors.Is. TagLister implementations
// should wrap ErrRepositoryNotFound, ErrDenied and ErrUnreachable so the
// resolver can tell those cases apart.
var (
	// ErrInvalidRef: an SDK reference or version constraint is malformed.
	ErrInvalidRef = errors.New("invalid SDK reference")
	// ErrInvalidSource: a source template is malformed.
	ErrInvalidSource = errors.New("invalid SDK source")
	// ErrNotFound: an image or tag does not exist. ImageResolver
	// implementations may wrap it; IsNotFound also knows containerd's, and
	// BuildKit's over gRPC.
	ErrNotFound = errors.New("not found")
	// ErrRepositoryNotFound: the SDK repository does not exist.
	ErrRepositoryNotFound = errors.New("SDK repository not found")
	// ErrNoMatch: no available version satisfies the constraint.
	ErrNoMatch = errors.New("no matching SDK version")
	// ErrUnknownFlavor: the repository has no tags for the flavor.
	ErrUnknownFlavor = errors.New("unknown SDK flavor")
	// ErrUnreachable: the registry could not be reached (connection
	// refused, DNS, timeout, 5xx).
	ErrUnreachable = errors.New("registry unreachable")
	// ErrDenied: the registry refused access (401/403).
	ErrDenied = errors.New("registry access denied")
	// ErrListUnavailable: resolving the constraint needs the tag list and
	// listing failed.
	ErrListUnavailable = errors.New("SDK tag listing unavailable")
	// ErrInvalidImage: the image is not a usable SDK image.
	ErrInvalidImage = errors.New("invalid SDK image")
)

// RepositoryNotFoundError reports that an SDK repository does not exist.
type RepositoryNotFoundError struct {
	Repository string
	Platform   string
	Err        error // cause, may be nil; see Unwrap
	// Suggest holds existing platforms whose names are close to Platform.
	Suggest []string
}

// Error names the repository only: the cause repeats it in registry terms.
func (e *RepositoryNotFoundError) Error() string {
	msg := fmt.Sprintf("no SDK repository %s for platform %q", e.Repository, e.Platform)
	if len(e.Suggest) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(e.Suggest, " or "))
	}
	return msg
}

func (e *RepositoryNotFoundError) Is(target error) bool { return target == ErrRepositoryNotFound }
func (e *RepositoryNotFoundError) Unwrap() error        { return e.Err }

// NoMatchError reports that no version of the flavor satisfies Constraint.
// Nearest holds up to five available versions closest to it, as tagged.
type NoMatchError struct {
	Platform   string
	Flavor     string
	Constraint string
	Nearest    []string
	// InFlavors are the other flavors that do have a matching version.
	InFlavors []string
}

func (e *NoMatchError) Error() string {
	c := e.Constraint
	if c == "" {
		c = "latest"
	}
	msg := fmt.Sprintf("no %s version matches %q (flavor %s)", e.Platform, c, e.Flavor)
	if len(e.Nearest) == 0 {
		msg += "; no versions are available"
	} else {
		msg += "; nearest available: " + strings.Join(e.Nearest, ", ")
	}
	if len(e.InFlavors) > 0 {
		msg += fmt.Sprintf("; it exists for flavor %s (--flavor=%s)", listSome(e.InFlavors), e.InFlavors[0])
	}
	return msg
}

func (e *NoMatchError) Is(target error) bool { return target == ErrNoMatch }

// UnknownFlavorError reports that a repository has no tags of Flavor.
type UnknownFlavorError struct {
	Repository string
	Flavor     string
	Available  []string // flavors that do exist, sorted
}

func (e *UnknownFlavorError) Error() string {
	avail := "none"
	if len(e.Available) > 0 {
		avail = listSome(e.Available)
	}
	return fmt.Sprintf("SDK repository %s has no flavor %q; available flavors: %s", e.Repository, e.Flavor, avail)
}

func (e *UnknownFlavorError) Is(target error) bool { return target == ErrUnknownFlavor }

// maxListed is how many names (flavors, ...) a message lists: a registry
// may have any number.
const maxListed = 20

// listSome joins up to maxListed of names, saying how many more there are.
func listSome(names []string) string {
	s := strings.Join(names[:min(len(names), maxListed)], ", ")
	if n := len(names) - maxListed; n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// ListError reports that the tags of Repository could not be listed while
// resolving Ref. It matches ErrListUnavailable and whatever Err matches
// (ErrDenied, ErrUnreachable, ...).
type ListError struct {
	Repository string
	Ref        string
	Err        error
}

func (e *ListError) Error() string {
	return fmt.Sprintf("cannot list tags of %s to resolve %q: %v", e.Repository, e.Ref, e.Err)
}

func (e *ListError) Unwrap() []error { return []error{ErrListUnavailable, e.Err} }

// ImageError reports an unusable SDK image; it matches ErrInvalidImage.
type ImageError struct {
	Ref    string // repository:tag
	Reason string
}

func (e *ImageError) Error() string        { return e.Ref + " " + e.Reason }
func (e *ImageError) Is(target error) bool { return target == ErrInvalidImage }

// IsNotFound reports whether err means an image, tag or repository does not
// exist: ErrNotFound, ErrRepositoryNotFound or containerd's
// errdefs.ErrNotFound, or such an error as BuildKit's gateway sends it over
// gRPC (grpcNotFound).
func IsNotFound(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrRepositoryNotFound) ||
		errdefs.IsNotFound(err) || grpcNotFound(err)
}

// grpcNotFound reports whether err is a gRPC status that says not found.
// BuildKit's gateway (v0.34.2: ResolveImageConfig, ResolveSourceMetadata)
// answers a missing image, tag or platform with containerd's remotes
// error, "<ref>: not found" wrapping errdefs.ErrNotFound; that has no gRPC
// code of its own, so grpcerrors.ToGRPC sends it as codes.Unknown, and
// grpcerrors.FromGRPC gives back a status error with only the message.
func grpcNotFound(err error) bool { return GatewayNotFound(err, errdefs.ErrNotFound) }

// GatewayNotFound reports whether err is a gRPC status, as BuildKit's
// gateway sends an error, that says one of causes: a status of
// codes.NotFound, or of codes.Unknown (what an error without a gRPC code
// of its own becomes) whose message ends with a cause's text, as every
// wrap of it does. Any other error, whatever its text, is not.
func GatewayNotFound(err error, causes ...error) bool {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return false
	}
	st := se.GRPCStatus()
	switch st.Code() {
	case codes.NotFound:
		return true
	case codes.Unknown:
		msg := st.Message()
		for _, c := range causes {
			if t := c.Error(); len(msg) >= len(t) && strings.EqualFold(msg[len(msg)-len(t):], t) {
				return true
			}
		}
	}
	return false
}

// FlavorMissing reports whether resolving failed for want of the flavor:
// the SDK has no tags of it, or none that match. A flavor detected from a
// base image then falls back to the default one.
func FlavorMissing(err error) bool {
	return errors.Is(err, ErrUnknownFlavor) || errors.Is(err, ErrNoMatch) || IsNotFound(err)
}

// VersionLimitError reports a listing that holds more tags of the
// source's layout than a Resolver keeps: more than Limit in Repository
// (MaxRepositoryVersions), or, with Build, more than fit within the Limit
// of the build's listings together (MaxBuildVersions). A ListError wraps
// it, which matches ErrListUnavailable: an exact version resolves without
// listing.
type VersionLimitError struct {
	Repository string
	Limit      int
	Build      bool
}

func (e *VersionLimitError) Error() string {
	if e.Build {
		return fmt.Sprintf("%s lists more SDK tags than fit in what a build keeps of its listings (%d tags of the source's layout, all repositories together); use exact versions, which resolve without listing tags", e.Repository, e.Limit)
	}
	return fmt.Sprintf("%s lists more than %d SDK tags (of the source's layout); use an exact version, which resolves without listing tags", e.Repository, e.Limit)
}

// ReadTimeoutError reports a read of a registry (a listing and its
// parsing, a manifest read) that took longer than a Resolver allows
// (ReadTimeout). It matches context.DeadlineExceeded.
type ReadTimeoutError struct {
	After time.Duration
	Err   error
}

func (e *ReadTimeoutError) Error() string {
	return fmt.Sprintf("%v: no answer within the %s sdkfront allows a read", e.Err, e.After)
}

func (e *ReadTimeoutError) Unwrap() error { return e.Err }

func (e *ReadTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
