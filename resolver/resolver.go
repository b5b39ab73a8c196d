package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultTagVersion is the version part of the tag naming the default version.
const defaultTagVersion = "default"

// PlatformLister is optionally implemented by the TagLister given to New.
// When it is, Resolve fills Resolution.Platforms from it; failures leave
// Platforms empty, since the digest alone is enough to build.
type PlatformLister interface {
	// PlatformDigests maps "os/arch[/variant]" to the platform manifest
	// digest for an image index, and returns nil for a single manifest.
	PlatformDigests(ctx context.Context, ref string) (map[string]digest.Digest, error)
}

// Request asks for one SDK for one build target.
type Request struct {
	Ref Ref
	// Flavor is the OS flavor, e.g. "bookworm".
	Flavor string
	// Source maps platforms to repositories and tags; the zero value means
	// DefaultSource. It is ignored when Ref names a full repository.
	Source Source
	// Target is the platform the SDK is for.
	Target ocispecs.Platform
}

// Resolver resolves SDK references. It is safe for concurrent use if its
// ImageResolver and TagLister are, and lists each repository at most once.
// Use one Resolver per build.
type Resolver struct {
	images ImageResolver
	tags   TagLister

	mu       sync.Mutex
	listings map[string]*listing // by repository
}

// New returns a Resolver that resolves images with images and lists tags with tags.
func New(images ImageResolver, tags TagLister) *Resolver {
	return &Resolver{images: images, tags: tags, listings: map[string]*listing{}}
}

// job is one Resolve call.
type job struct {
	r    *Resolver
	req  Request
	src  Source
	repo string
	// others holds the versions of the other flavors, once listed.
	others map[string][]tagVersion
	// listed is set once this repository's tags were listed directly, which
	// proves the registry answers the frontend, so asking it for per-platform
	// digests costs no new kind of network access.
	listed bool
}

// Resolve resolves req.Ref to an SDK image:
//   - an exact version resolves its tag, falling back to the listed tag
//     with the same version spelled differently ("8.0.404" is tagged
//     "8.0.404_8.0.11");
//   - a partial version, range or "latest" picks the newest listed match;
//   - the default version is the one labelled on the "<flavor>-default"
//     tag, or the latest if that tag does not exist.
func (r *Resolver) Resolve(ctx context.Context, req Request) (Resolution, error) {
	j := &job{r: r, req: req, src: req.Source}
	switch {
	case req.Ref.Repository != "":
		j.src = repositorySource(req.Ref.Repository)
	case req.Ref.Platform == "":
		return Resolution{}, fmt.Errorf("%w %q: no SDK platform", ErrInvalidRef, req.Ref.Raw)
	case j.src.IsZero():
		j.src = DefaultSource
	}
	if j.src.flavored && (req.Flavor == "" || strings.Contains(req.Flavor, "-") || !tagChars.MatchString(req.Flavor)) {
		return Resolution{}, fmt.Errorf("%w %q: invalid SDK flavor %q: want a non-empty name without '-', e.g. \"bookworm\"", ErrInvalidRef, j.name(), req.Flavor)
	}
	j.repo = j.src.Repository(req.Ref.Platform)

	switch c := req.Ref.Constraint; c.Kind {
	case Exact:
		return j.exact(ctx, c)
	case Default:
		return j.defaultVersion(ctx)
	default:
		return j.newestListed(ctx, c)
	}
}

// exact resolves the tag of c.Raw. If there is no such tag, it resolves the
// newest listed version that c matches, which for an exact version is the
// same version spelled differently.
func (j *job) exact(ctx context.Context, c Constraint) (Resolution, error) {
	res, err := j.resolve(ctx, c.Raw)
	if !IsNotFound(err) {
		return res, err
	}
	vs, lerr := j.versions(ctx)
	if lerr != nil {
		return Resolution{}, lerr
	}
	tv, lerr := j.newest(vs, c)
	switch {
	case lerr != nil:
		return Resolution{}, lerr
	case tv.raw == c.Raw:
		// The tag exists, so "not found" was about something else, such
		// as the target platform.
		return Resolution{}, err
	}
	return j.resolve(ctx, tv.raw)
}

// newestListed resolves the newest listed version matching c.
func (j *job) newestListed(ctx context.Context, c Constraint) (Resolution, error) {
	vs, err := j.versions(ctx)
	if err != nil {
		return Resolution{}, err
	}
	tv, err := j.newest(vs, c)
	if err != nil {
		return Resolution{}, err
	}
	return j.resolve(ctx, tv.raw)
}

// defaultVersion resolves the version labelled on the default tag.
func (j *job) defaultVersion(ctx context.Context) (Resolution, error) {
	ref := j.repo + ":" + j.src.Tag(j.req.Flavor, defaultTagVersion)
	_, config, err := j.r.images.ResolveImage(ctx, ref, j.req.Target, j.logName(defaultTagVersion))
	switch {
	case IsNotFound(err):
		res, err := j.newestListed(ctx, Constraint{Kind: Latest})
		if le := (*ListError)(nil); errors.As(err, &le) {
			err = fmt.Errorf("%s does not exist, so the latest version is wanted: %w", ref, err)
		}
		return res, err
	case err != nil:
		return Resolution{}, fmt.Errorf("cannot resolve default SDK tag %s for %q: %w", ref, j.name(), err)
	}
	version, err := labelledDefault(ref, config)
	if err != nil {
		return Resolution{}, err
	}
	c, err := ParseConstraint(version)
	if err != nil || (c.Kind != Exact && c.Kind != Partial) {
		return Resolution{}, &ImageError{Ref: ref, Reason: fmt.Sprintf("names default version %q, which is not a version", version)}
	}
	res, err := j.exact(ctx, c)
	if err != nil {
		return Resolution{}, fmt.Errorf("%s names default version %s: %w", ref, version, err)
	}
	return res, nil
}

// resolve resolves and checks the tag of one version.
func (j *job) resolve(ctx context.Context, version string) (Resolution, error) {
	tag := j.src.Tag(j.req.Flavor, version)
	ref := j.repo + ":" + tag
	dgst, config, err := j.r.images.ResolveImage(ctx, ref, j.req.Target, j.logName(version))
	if err != nil {
		return Resolution{}, fmt.Errorf("cannot resolve SDK image %s for %q: %w", ref, j.name(), err)
	}
	if err := checkImage(ref, config); err != nil {
		return Resolution{}, err
	}
	res := Resolution{
		Ref:        j.req.Ref.Raw,
		Platform:   j.req.Ref.Platform,
		Flavor:     j.req.Flavor,
		Version:    version,
		Repository: j.repo,
		Tag:        tag,
		Digest:     dgst,
		Target:     j.req.Target,
	}
	if pl, ok := j.r.tags.(PlatformLister); ok && j.listed {
		if p, err := pl.PlatformDigests(ctx, j.repo+"@"+dgst.String()); err == nil {
			res.Platforms = p
		}
	}
	return res, nil
}

// name is the reference for messages.
func (j *job) name() string {
	if j.req.Ref.Raw != "" {
		return j.req.Ref.Raw
	}
	return j.req.Ref.Platform
}

// logName names the progress vertex, e.g. "[sdk] golang@1.23 -> 1.23.4 (bookworm)".
func (j *job) logName(version string) string {
	return fmt.Sprintf("[sdk] %s -> %s (%s)", j.name(), version, j.req.Flavor)
}
