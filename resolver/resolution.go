package resolver

import (
	"context"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Resolution is the plain-value outcome of resolving one SDK reference for
// one target platform. It carries everything LLB generation needs and is
// meant to be recorded in (and replayed from) a lockfile, so it holds no
// behaviour and no clients.
type Resolution struct {
	// Ref is the reference as the user wrote it, after build-arg expansion,
	// e.g. "golang@1.23" or "mcr.microsoft.com/oryx/python-sdk@3.11".
	Ref string `json:"ref"`
	// Platform is the SDK platform name, e.g. "golang", "python".
	Platform string `json:"platform"`
	// Flavor is the OS flavor, e.g. "bookworm".
	Flavor string `json:"flavor"`
	// Version is the resolved version exactly as it appears in the tag,
	// e.g. "1.23.4" or "8.0.404_8.0.11".
	Version string `json:"version"`
	// Repository is the fully qualified repository, e.g.
	// "127.0.0.1:5000/sdks/golang" or "mcr.microsoft.com/oryx/python-sdk".
	Repository string `json:"repository"`
	// Tag is the tag that was resolved, e.g. "bookworm-1.23.4".
	Tag string `json:"tag"`
	// Digest is the digest the tag points to: a manifest, or an image index
	// for multi-platform images.
	Digest digest.Digest `json:"digest"`
	// Target is the build target platform this resolution was made for.
	Target ocispecs.Platform `json:"target"`
	// Platforms maps a platform string ("linux/amd64") to the platform
	// manifest digest, when Digest is an index and the digests are known.
	Platforms map[string]digest.Digest `json:"platforms,omitempty"`
	// Locked says the resolution came from the lockfile, not a registry.
	Locked bool `json:"locked,omitempty"`
	// Label is the version the pinned image's config labels, when it was
	// read (a locked resolution's, to check that the image is of Version).
	Label VersionLabel `json:"-"`
	// Layers are the image's layers, and Image the digest of the platform's
	// image manifest, when the registry was read directly
	// (ManifestResolver); nil and "" when BuildKit resolved the tag.
	Layers []ocispecs.Descriptor `json:"-"`
	Image  digest.Digest         `json:"-"`
	// ConfigDescriptor is the image manifest's config, and Manifests the
	// entries of the image indexes read on the way to it, when the
	// registry was read directly.
	ConfigDescriptor ocispecs.Descriptor   `json:"-"`
	Manifests        []ocispecs.Descriptor `json:"-"`
	// SignedBy says who signed the digest, where a trust policy verified
	// it: "signed by <signer>, policy <name>", one per signature kind,
	// comma-joined (plan.SignedBy); "" where none was verified.
	SignedBy string `json:"-"`
}

// Descriptors are every descriptor a pull of the SDK image fetches content
// by, as far as they are known (see Layers): the index entries, the
// config, the layers. CheckForeignURLs checks them.
func (r Resolution) Descriptors() []ocispecs.Descriptor {
	return Manifest{Manifests: r.Manifests, ConfigDescriptor: r.ConfigDescriptor, Layers: r.Layers}.Descriptors()
}

// Pinned returns the digest-pinned reference, "repository@sha256:...".
func (r Resolution) Pinned() string { return r.Repository + "@" + r.Digest.String() }

// ImageResolver resolves one image tag to the digest it points to and the
// image config for the given platform. In the frontend this is BuildKit's
// gateway ResolveImageConfig, so session credentials and buildkitd's
// registry config apply. logName, when set, names the progress vertex.
type ImageResolver interface {
	ResolveImage(ctx context.Context, ref string, platform ocispecs.Platform, logName string) (digest.Digest, []byte, error)
}

// Manifest is one tag, read straight from its registry for one platform.
type Manifest struct {
	Digest    digest.Digest            // what the tag points to
	Image     digest.Digest            // the platform's image manifest: Digest, unless that is an index
	Layers    []ocispecs.Descriptor    // the platform image's layers
	Platforms map[string]digest.Digest // the index's platforms, if Digest is one
	Config    []byte                   // when asked for

	ConfigDescriptor ocispecs.Descriptor   // the platform image's config
	Manifests        []ocispecs.Descriptor // the entries of the indexes read on the way, if any
}

// Descriptors are every descriptor a pull of the image fetches content
// by: the index entries, the config (if known), the layers.
func (m Manifest) Descriptors() []ocispecs.Descriptor {
	out := make([]ocispecs.Descriptor, 0, len(m.Manifests)+1+len(m.Layers))
	out = append(out, m.Manifests...)
	if m.ConfigDescriptor.Digest != "" {
		out = append(out, m.ConfigDescriptor)
	}
	return append(out, m.Layers...)
}

// ManifestResolver reads a tag's manifest (and, if asked, its config)
// straight from the registry, for a platform.
type ManifestResolver interface {
	ResolveManifest(ctx context.Context, ref string, platform ocispecs.Platform, config bool) (Manifest, error)
}

// TagLister lists every tag of a repository ("host/path"), following
// pagination (Registry.Tags).
type TagLister interface {
	ListTags(ctx context.Context, repository string) ([]string, error)
}

// RepositoryLister lists the repositories of a registry ("host[:port]"),
// named as TagLister names them: "host[:port]/path" (Registry.Catalog).
// The resolver suggests the platform a misspelt one was meant to be from
// them.
type RepositoryLister interface {
	ListRepositories(ctx context.Context, registry string) ([]string, error)
}

// PrefixLister lists only the tags of a repository that start with a
// prefix, in fewer requests than the whole list where the registry allows.
// Where it does not, the lister reads the whole list anyway and returns it
// all, with all set.
type PrefixLister interface {
	ListTagsWithPrefix(ctx context.Context, repository, prefix string) (tags []string, all bool, err error)
}
