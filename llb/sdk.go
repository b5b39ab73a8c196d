package llb

import (
	"fmt"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// tarballPatterns are the names, at the root of the layer, that are treated
// as the SDK tarball. Anything else at the root is part of an SDK tree.
var tarballPatterns = []string{"*.tar.gz", "*.tgz"}

// Layer is the verified layer's files as they are: for the tarball layout,
// the tarball itself. The image is pinned by digest and platform.
func Layer(r resolver.Resolution, p ocispecs.Platform) llb.State {
	return llb.Image(r.Pinned(), llb.Platform(p),
		llb.WithCustomName(fmt.Sprintf("[sdk] %s %s (%s) %s %s", r.Platform, r.Version, r.Flavor, platforms.FormatAll(p), short(r))))
}

// Tree is the SDK tree, unpacked at the root of a scratch state with
// BuildKit file operations only, so no tools are needed in any image.
// Tarballs at the layer root are unpacked (inside buildkitd, chrooted at the
// destination); everything else at the root is copied, which makes a layer
// that is itself the SDK tree come out unchanged.
func Tree(r resolver.Resolution, p ocispecs.Platform) llb.State {
	raw := Layer(r, p)
	var fa *llb.FileAction
	for _, pat := range tarballPatterns {
		ci := &llb.CopyInfo{AllowWildcard: true, AllowEmptyWildcard: true, AttemptUnpack: true, CreateDestPath: true}
		if fa == nil {
			fa = llb.Copy(raw, "/"+pat, "/", ci)
		} else {
			fa = fa.Copy(raw, "/"+pat, "/", ci)
		}
	}
	fa = fa.Copy(raw, "/", "/", &llb.CopyInfo{CopyDirContentsOnly: true, ExcludePatterns: tarballPatterns})
	return llb.Scratch().Platform(p).File(fa,
		llb.WithCustomName(fmt.Sprintf("[sdk] unpack %s %s (%s) %s", r.Platform, r.Version, r.Flavor, platforms.FormatAll(p))))
}

// Announce is a vertex whose name reports a resolution in the build's
// progress, e.g. "[sdk] golang@1.23 -> 1.23.4 (bookworm) ...@sha256:ab12...".
// Solving it writes one small file, cached after the first build. The file
// holds the summary, so that each resolution is its own vertex: BuildKit
// shows one name per op digest.
func Announce(r resolver.Resolution) llb.State {
	s := Summary(r)
	return llb.Scratch().File(llb.Mkfile("/sdk", 0o644, []byte(s+"\n")),
		llb.WithCustomName(s))
}

// Summary is the one-line, human-readable form of a resolution.
func Summary(r resolver.Resolution) string {
	return fmt.Sprintf("[sdk] %s -> %s (%s) %s", r.Ref, r.Version, r.Flavor, r.Pinned())
}

func short(r resolver.Resolution) string {
	if err := r.Digest.Validate(); err != nil {
		return r.Digest.String()
	}
	return r.Digest.Algorithm().String() + ":" + r.Digest.Encoded()[:12]
}
