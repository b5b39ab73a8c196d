// Package resolver turns an SDK reference such as "golang@1.23" into a
// Resolution: the repository, tag and digest of the SDK image to use for a
// build target.
//
// SDKs are OCI images, one repository per SDK platform and one tag per
// "<flavor>-<version>" (see Source). Exact versions are resolved with a single
// ImageResolver call; partial versions, ranges and "latest" list the
// repository's tags through a TagLister and pick the newest match; the default
// version is read from the label of the "<flavor>-default" tag.
//
// The package does no network I/O of its own (and must not import net/http):
// the frontend supplies BuildKit's image resolver, and the registry subpackage
// supplies the tag lister.
package resolver
