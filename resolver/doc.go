// Package resolver turns an SDK reference such as "golang@1.23" into a
// Resolution: the repository, tag and digest of the SDK image to use for a
// build target.
//
// SDKs are OCI images, one repository per SDK platform and one tag per
// "<flavor>-<version>" (see Source). An exact version is resolved by reading
// its tag's manifest straight from the registry (ManifestResolver), or, where
// the caller cannot read the registry, through BuildKit (ImageResolver);
// partial versions, ranges and "latest" first list the repository's tags
// (TagLister, PrefixLister: only the tags a constraint can match) and pick
// the newest match; the default version is read from the label of the
// "<flavor>-default" tag's image config, and that image is pinned.
//
// The package does no network I/O of its own (and must not import net/http):
// the frontend supplies BuildKit's image resolver, and the registry subpackage
// supplies the Registry (NewWithRegistry): the tag lister, the manifest
// reader and the other ways of reading a registry directly it has.
//
// What a build costs does not grow with its SDK lines: at most
// MaxConcurrent reads of a Resolver run at once (listings, manifest reads,
// ReadPinned's of locked SDKs, BuildKit's resolutions), each within
// ReadTimeout, the parsing of a listing's tags included. Of a listing, a
// Resolver keeps only the parsed versions of the source's tag layout, at
// most MaxRepositoryVersions tags of it per repository and
// MaxBuildVersions in all (about 30 MiB); a listing past them fails with a
// VersionLimitError, which advises an exact version. 16 lines whose
// repositories each list 16 MiB of tags of other layouts keep nothing of
// them, and peak at 8 listings in flight (TestResolverMemoryBounded).
//
// A registry client reports failures as RegistryErrors, in registry terms;
// the resolver adds what an SDK user can do about them (advice.go): use an
// exact version, which resolves without listing tags, or set a build arg.
package resolver
