package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver/registry"
)

// flavors detects the flavor of a stage as the frontend does: the
// VERSION_CODENAME of its base image's os-release ("bookworm"). The
// frontend reads it through BuildKit; sdkfront lock reads the image from
// its registry (the layers from the top until os-release is found), or a
// named context's directory. scratch, and a base without a codename, have
// none.
type flavors struct {
	named    map[string]string // --build-context NAME=DIR
	keychain authn.Keychain
	client   *registry.Client // for its plain-HTTP rule
	progress func(base string, p ocispecs.Platform)

	mu    sync.Mutex
	known map[string]*codename // base|platform
}

type codename struct {
	once sync.Once
	name string
	err  error
}

// detectable reports whether base has a flavor to detect at all.
func detectable(base string) bool { return base != "" && !strings.EqualFold(base, "scratch") }

// local reports whether base is a named context, read without the network.
func (fl *flavors) local(base string) bool { _, ok := fl.named[base]; return ok }

// codename is base's VERSION_CODENAME for platform p, read once.
func (fl *flavors) codename(ctx context.Context, base string, p ocispecs.Platform) (string, error) {
	if !detectable(base) {
		return "", nil
	}
	key := base + "|" + platforms.FormatAll(p)
	fl.mu.Lock()
	c, ok := fl.known[key]
	if !ok {
		c = &codename{}
		fl.known[key] = c
	}
	fl.mu.Unlock()
	c.once.Do(func() {
		var dt []byte
		if dir, ok := fl.named[base]; ok {
			dt, c.err = osReleaseDir(dir)
		} else {
			if fl.progress != nil {
				fl.progress(base, p)
			}
			dt, c.err = fl.osReleaseImage(ctx, base, p)
		}
		if c.err == nil {
			c.name = osReleaseCodename(dt)
		}
	})
	return c.name, c.err
}

// osReleaseDir reads the os-release of a directory holding a root
// filesystem, never outside it (symlinks that leave it count as missing);
// none is no error.
func osReleaseDir(dir string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, f := range []string{etcOSRelease, libOSRelease} {
		dt, err := root.ReadFile(filepath.FromSlash(f))
		if err == nil {
			return dt, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), "escapes") {
			return nil, err
		}
	}
	return nil, nil
}

// osReleaseImage reads the os-release of an image for platform p.
func (fl *flavors) osReleaseImage(ctx context.Context, base string, p ocispecs.Platform) ([]byte, error) {
	ref, err := name.ParseReference(base)
	if err == nil && fl.client.PlainHTTP(ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(base, name.Insecure)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", base, err)
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(fl.keychain),
		remote.WithTransport(tlsGuard{remote.DefaultTransport, fl.client.PlainHTTP}),
		remote.WithUserAgent("sdkfront"),
	}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, err
	}
	var img v1.Image
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		match := platforms.Only(p)
		var best *v1.Descriptor
		for i, m := range im.Manifests {
			if m.Platform == nil {
				continue
			}
			mp := ocispecs.Platform{OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant, OSVersion: m.Platform.OSVersion}
			if !match.Match(mp) {
				continue
			}
			if best == nil || match.Less(mp, ocispecs.Platform{OS: best.Platform.OS, Architecture: best.Platform.Architecture, Variant: best.Platform.Variant, OSVersion: best.Platform.OSVersion}) {
				best = &im.Manifests[i]
			}
		}
		if best == nil {
			return nil, fmt.Errorf("%s has no image for %s", base, platforms.Format(p))
		}
		if img, err = idx.Image(best.Digest); err != nil {
			return nil, err
		}
	default:
		if img, err = desc.Image(); err != nil {
			return nil, err
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	return osRelease(layers)
}

// tlsGuard refuses plain HTTP to registries that must use TLS, as the
// registry client does (ggcr would use it for private addresses too).
type tlsGuard struct {
	next      http.RoundTripper
	plainHTTP func(host string) bool
}

func (g tlsGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plainHTTP(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries and those in SDK_INSECURE_REGISTRIES are used without TLS", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// The files the frontend reads, in order: /etc/os-release (following a
// symlink), else /usr/lib/os-release.
const (
	etcOSRelease = "etc/os-release"
	libOSRelease = "usr/lib/os-release"
)

// fileState is what the layers seen so far say of one path.
type fileState struct {
	kind byte // 'f' file, 'l' symlink, 'x' gone (whiteout, directory, ...)
	data []byte
	link string // for 'l': the target, as a path from the root
}

// osRelease finds the os-release of an image from its layers, reading from
// the top layer down and stopping once the answer is known. Whiteouts and
// opaque directories hide what lower layers hold. No os-release is no
// error.
func osRelease(layers []v1.Layer) ([]byte, error) {
	state := map[string]fileState{}
	wanted := []string{etcOSRelease, libOSRelease}
	var hidden []string // directories an upper layer made opaque
	for i := len(layers) - 1; i >= 0; i-- {
		opaque, err := scanLayer(layers[i], wanted, state, hidden)
		if err != nil {
			return nil, err
		}
		hidden = append(hidden, opaque...)
		if dt, done := answer(state, &wanted); done {
			return dt, nil
		}
	}
	dt, _ := answer(state, &wanted)
	return dt, nil
}

// answer is the os-release if the state settles it. A symlink's target
// joins wanted.
func answer(state map[string]fileState, wanted *[]string) ([]byte, bool) {
	lookup := func(p string) ([]byte, bool, bool) { // data, found, settled
		for range 8 { // symlink hops
			st, ok := state[p]
			switch {
			case !ok:
				if !slices.Contains(*wanted, p) {
					*wanted = append(*wanted, p)
				}
				return nil, false, false
			case st.kind == 'f':
				return st.data, true, true
			case st.kind == 'l':
				p = st.link
			default:
				return nil, false, true
			}
		}
		return nil, false, true
	}
	dt, found, settled := lookup(etcOSRelease)
	if found || !settled {
		return dt, found
	}
	dt, found, settled = lookup(libOSRelease)
	return dt, found || settled
}

// scanLayer records what one layer says of the wanted paths not yet
// settled, and returns the directories it makes opaque.
func scanLayer(l v1.Layer, wanted []string, state map[string]fileState, hidden []string) ([]string, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	open := func(p string) bool {
		if _, ok := state[p]; ok || !slices.Contains(wanted, p) {
			return false
		}
		return !slices.ContainsFunc(hidden, func(d string) bool { return strings.HasPrefix(p, d+"/") })
	}
	var opaque []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return opaque, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading a layer: %w", err)
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			opaque = append(opaque, dir)
			continue
		case strings.HasPrefix(base, ".wh."):
			gone := path.Join(dir, strings.TrimPrefix(base, ".wh."))
			for _, w := range wanted {
				if (w == gone || strings.HasPrefix(w, gone+"/")) && open(w) {
					state[w] = fileState{kind: 'x'}
				}
			}
			continue
		}
		if !open(p) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg:
			dt, err := io.ReadAll(io.LimitReader(tr, 1<<16))
			if err != nil {
				return nil, err
			}
			state[p] = fileState{kind: 'f', data: dt}
		case tar.TypeSymlink, tar.TypeLink:
			target := h.Linkname
			if h.Typeflag == tar.TypeSymlink && !strings.HasPrefix(target, "/") {
				target = path.Join(dir, target)
			}
			state[p] = fileState{kind: 'l', link: strings.TrimPrefix(path.Clean("/"+target), "/")}
		default:
			state[p] = fileState{kind: 'x'}
		}
	}
}

// osReleaseCodename reads VERSION_CODENAME from os-release(5) content.
func osReleaseCodename(dt []byte) string {
	s := bufio.NewScanner(bytes.NewReader(dt))
	for s.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "VERSION_CODENAME="); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}
