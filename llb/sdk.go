package llb

import (
	"fmt"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// Layer is the verified layer's files as they are: for the tarball layout,
// the tarball itself. The image is pinned by digest and platform.
func Layer(r resolver.Resolution, p ocispecs.Platform) llb.State {
	return llb.Image(r.Pinned(), llb.Platform(p), layerName(r, p))
}

// UnpackSource is Layer for an SDK instruction: the source of the copy
// that Fuse makes unpack into the stage. Its layer limit of 1 marks it in
// the op itself (IsUnpackSource), so that a mount of the same SDK, or a
// user's own COPY --from of the image, is never taken for it. Every SDK
// image has exactly one layer, so the limit changes nothing else.
func UnpackSource(r resolver.Resolution, p ocispecs.Platform) llb.State {
	return llb.Image(r.Pinned(), llb.Platform(p), llb.WithLayerLimit(1), layerName(r, p))
}

func layerName(r resolver.Resolution, p ocispecs.Platform) llb.ImageOption {
	return llb.WithCustomName(fmt.Sprintf("[sdk] %s %s (%s) %s %s", r.Platform, r.Version, r.Flavor, platforms.FormatAll(p), short(r)))
}

// UnpackInfo is how an SDK layer is copied so that it comes out as the SDK
// tree, whichever layout it has: every entry at the layer root is matched
// by the wildcard; an archive (sdk.tar.gz, python-bookworm-3.11.9.tar.gz,
// recognised by its content) is unpacked into the destination, inside
// buildkitd and chrooted there; anything else, such as the bin/ of a layer
// that is itself the SDK tree, is copied as it is. Copy to "<dir>/".
func UnpackInfo() *llb.CopyInfo {
	return &llb.CopyInfo{AllowWildcard: true, AllowEmptyWildcard: true, AttemptUnpack: true, CreateDestPath: true}
}

// Tree is the SDK tree at the root of a scratch state, made with BuildKit
// file operations only, so no tools are needed in any image.
func Tree(r resolver.Resolution, p ocispecs.Platform) llb.State {
	return llb.Scratch().Platform(p).File(llb.Copy(Layer(r, p), "/*", "/", UnpackInfo()),
		llb.WithCustomName(fmt.Sprintf("[sdk] unpack %s %s (%s) %s", r.Platform, r.Version, r.Flavor, platforms.FormatAll(p))))
}

// Announce reports resolutions in the build's progress, one vertex each,
// named "[sdk] golang@1.23 -> 1.23.4 (bookworm) ...@sha256:ab12...", in
// one state to solve at once. Solving it writes one small file a
// resolution, cached after the first build. The file holds the summary,
// so that each resolution is its own vertex: BuildKit shows one name per
// op digest.
func Announce(rs ...resolver.Resolution) llb.State {
	var sts []llb.State
	for _, r := range rs {
		s := Summary(r)
		sts = append(sts, llb.Scratch().File(llb.Mkfile("/sdk", 0o644, []byte(s+"\n")), llb.WithCustomName(s)))
	}
	if len(sts) == 1 {
		return sts[0]
	}
	return llb.Merge(sts, llb.WithCustomName("[sdk] resolved"))
}

// Summary is the one-line, human-readable form of a resolution. A locked
// one says what the pinned image is: the version its label names, when it
// was read, for the lock's version is only what the lock claims.
func Summary(r resolver.Resolution) string {
	flavor, image := r.Flavor, ""
	if r.Locked {
		flavor += ", locked"
		image = " (image version unchecked)"
		if r.Label.Label != "" {
			image = fmt.Sprintf(" (image labelled %s)", r.Label.Version)
		}
	}
	signed := ""
	if r.SignedBy != "" {
		signed = " (" + r.SignedBy + ")"
	}
	return fmt.Sprintf("[sdk] %s -> %s (%s) %s%s%s", r.Ref, r.Version, flavor, r.Pinned(), image, signed)
}

func short(r resolver.Resolution) string {
	if err := r.Digest.Validate(); err != nil {
		return r.Digest.String()
	}
	return r.Digest.Algorithm().String() + ":" + r.Digest.Encoded()[:12]
}
