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
// supplies the tag lister and the manifest reader.
package resolver
