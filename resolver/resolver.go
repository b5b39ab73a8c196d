package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultTagVersion is the version part of the tag naming the default version.
const defaultTagVersion = "default"

// PlatformLister maps an index's platforms to their digests
// (Registry.Platforms). Resolve fills Resolution.Platforms from it, for a
// tag it listed; failures leave Platforms empty, since the digest alone is
// enough to build.
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
// ImageResolver and Registry are, and lists each repository at most once
// (per tag layout). At most MaxConcurrent of its reads run at a time,
// others wait, and each takes at most ReadTimeout. It keeps what a
// constraint can use of its listings, within MaxRepositoryVersions and
// MaxBuildVersions (listing.go). Use one Resolver per build.
type Resolver struct {
	images ImageResolver
	reg    Registry
	slots  chan struct{} // one per read running

	// The limits, which tests lower.
	readTimeout     time.Duration
	maxRepoEntries  int
	maxBuildEntries int

	mu       sync.Mutex
	listings map[listKey]*listing
	kept     int             // entries of the listings' tagSets
	indirect map[string]bool // registries the TagLister cannot read manifests from
}

// Registry is how the resolver reads registries itself, beside the
// ImageResolver: a TagLister, and the optional ways of reading that save
// requests or make better messages. resolver/registry's Client has them
// all (Client.Registry); a nil one is one the resolver does without.
type Registry struct {
	// Tags lists a repository's tags; it is required.
	Tags TagLister
	// Prefixes lists only the tags that start with a prefix, in fewer
	// pages where the registry allows.
	Prefixes PrefixLister
	// Manifests reads a tag's manifest straight from the registry: one
	// request, and the layers for the foreign-URL check (see image).
	Manifests ManifestResolver
	// Platforms maps an index's platforms to their manifest digests.
	Platforms PlatformLister
	// Catalog lists a registry's repositories, to suggest the platform a
	// misspelt one was meant to be.
	Catalog RepositoryLister
}

// RegistryOf is a Registry of whatever tags implements, for a TagLister
// of no declared capabilities (a test's fake, an adapter). A registry
// client declares its own (registry.Client.Registry).
func RegistryOf(tags TagLister) Registry {
	reg := Registry{Tags: tags}
	reg.Prefixes, _ = tags.(PrefixLister)
	reg.Manifests, _ = tags.(ManifestResolver)
	reg.Platforms, _ = tags.(PlatformLister)
	reg.Catalog, _ = tags.(RepositoryLister)
	return reg
}

// NewWithRegistry returns a Resolver that resolves images with images, and
// reads registries itself with reg.
func NewWithRegistry(images ImageResolver, reg Registry) *Resolver {
	return &Resolver{images: images, reg: reg, slots: make(chan struct{}, MaxConcurrent),
		readTimeout: ReadTimeout, maxRepoEntries: MaxRepositoryVersions, maxBuildEntries: MaxBuildVersions,
		listings: map[listKey]*listing{}, indirect: map[string]bool{}}
}

// New is NewWithRegistry with the Registry of whatever tags implements
// (RegistryOf).
func New(images ImageResolver, tags TagLister) *Resolver {
	return NewWithRegistry(images, RegistryOf(tags))
}

// MaxConcurrent bounds the reads of registries a Resolver runs at once
// (listings, with their parsing; manifest reads, ReadPinned's included;
// BuildKit's resolutions; catalogs), so that what a build costs in
// connections and memory, whatever the registries answer, does not grow
// with the number of SDK lines.
const MaxConcurrent = 8

// ReadTimeout bounds each read, from when it has its slot: a listing and
// the parsing of its tags, or a manifest read with its config. The
// registry client bounds each of its calls too (resolver/registry: 30s);
// this bounds what it does not, such as parsing, or an ImageResolver
// without a deadline of its own.
const ReadTimeout = 2 * time.Minute

// read runs f, one read, in one of the Resolver's slots, under the read
// deadline. A read never waits for another, so slots cannot deadlock.
func (r *Resolver) read(ctx context.Context, f func(ctx context.Context) error) error {
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err // the select picks at random when both are ready
	}
	rctx, cancel := context.WithTimeout(ctx, r.readTimeout)
	defer cancel()
	err := f(rctx)
	if err != nil && ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
		err = &ReadTimeoutError{After: r.readTimeout, Err: err}
	}
	return err
}

// job is one Resolve call.
type job struct {
	r    *Resolver
	req  Request
	src  Source
	repo string
	// others holds the versions of every flavor (the requested one's
	// too), once listed; they are the Resolver's, to read only.
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
	if err := ctx.Err(); err != nil {
		return Resolution{}, err
	}
	j := &job{r: r, req: req, src: req.Ref.SourceIn(req.Source)}
	if req.Ref.Repository == "" && req.Ref.Platform == "" {
		return Resolution{}, fmt.Errorf("%w %q: no SDK platform", ErrInvalidRef, req.Ref.Raw)
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
	tv, lerr := j.newestOf(ctx, c)
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
	tv, err := j.newestOf(ctx, c)
	if err != nil {
		return Resolution{}, err
	}
	return j.resolve(ctx, tv.raw)
}

// defaultVersion resolves the version labelled on the default tag. When
// the label names an exact version, the default tag's own image is that
// version: it is pinned as it is, with no second resolution.
func (j *job) defaultVersion(ctx context.Context) (Resolution, error) {
	tag := j.src.DefaultTag(j.req.Flavor)
	ref := j.repo + ":" + tag
	img, err := j.image(ctx, ref, defaultTagVersion, true)
	switch {
	case IsNotFound(err):
		res, err := j.newestListed(ctx, Constraint{Kind: Latest})
		if le := (*ListError)(nil); errors.As(err, &le) {
			err = fmt.Errorf("%s does not exist, so the latest version is wanted: %w", ref, err)
		}
		return res, err
	case err != nil:
		return Resolution{}, fmt.Errorf("cannot resolve default SDK tag %s for %q: %w", ref, j.name(), Advise(err))
	}
	version, err := labelledDefault(ref, img.Config)
	if err != nil {
		return Resolution{}, err
	}
	c, err := ParseConstraint(version)
	if err != nil || (c.Kind != Exact && c.Kind != Partial) {
		return Resolution{}, &ImageError{Ref: ref, Reason: fmt.Sprintf("names default version %q, which is not a version", version)}
	}
	if c.Kind == Exact {
		if err := checkImage(ref, img.Config); err != nil {
			return Resolution{}, err
		}
		return j.resolution(version, tag, img), nil
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
	img, err := j.image(ctx, ref, version, false)
	if err != nil {
		return Resolution{}, fmt.Errorf("cannot resolve SDK image %s for %q: %w", ref, j.name(), Advise(err))
	}
	if err := checkManifest(ref, img); err != nil {
		return Resolution{}, err
	}
	res := j.resolution(version, tag, img)
	if pl := j.r.reg.Platforms; pl != nil && j.listed && img.Layers == nil {
		var p map[string]digest.Digest
		if err := j.r.read(ctx, func(ctx context.Context) (err error) {
			p, err = pl.PlatformDigests(ctx, j.repo+"@"+img.Digest.String())
			return err
		}); err == nil {
			res.Platforms = p
		}
	}
	return res, nil
}

func (j *job) resolution(version, tag string, img Manifest) Resolution {
	return Resolution{
		Ref:        j.req.Ref.Raw,
		Platform:   j.req.Ref.Platform,
		Flavor:     j.req.Flavor,
		Version:    version,
		Repository: j.repo,
		Tag:        tag,
		Digest:     img.Digest,
		Target:     j.req.Target,
		Platforms:  img.Platforms,
		Layers:     img.Layers,
		Image:      img.Image,

		ConfigDescriptor: img.ConfigDescriptor,
		Manifests:        img.Manifests,
	}
}

// image resolves one tag. The Registry's ManifestResolver, if any, reads it
// straight from the registry: one request for an image manifest (and the
// config if asked for, or if the layer is too small to tell whether it is
// empty), where BuildKit's resolution costs as many and the layers would
// then be read again to check them. Where that fails for want of access
// (credentials only the build's session has, a registry reachable only
// through buildkitd's mirrors, no network), the ImageResolver resolves it
// through BuildKit, from then on for every tag of that registry.
func (j *job) image(ctx context.Context, ref, version string, config bool) (Manifest, error) {
	host, _, _ := strings.Cut(ref, "/")
	if mr := j.r.reg.Manifests; mr != nil && !j.r.isIndirect(host) {
		var m Manifest
		err := j.r.read(ctx, func(ctx context.Context) (err error) {
			m, err = readManifest(ctx, mr, ref, j.req.Target, config)
			return err
		})
		switch {
		case err == nil, IsNotFound(err), errors.Is(err, ErrInvalidImage), ctx.Err() != nil:
			return m, err
		}
		j.r.setIndirect(host)
	}
	var m Manifest
	err := j.r.read(ctx, func(ctx context.Context) (err error) {
		m.Digest, m.Config, err = j.r.images.ResolveImage(ctx, ref, j.req.Target, j.logName(version))
		return err
	})
	return m, err
}

func (r *Resolver) isIndirect(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.indirect[host]
}

func (r *Resolver) setIndirect(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.indirect[host] = true
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
