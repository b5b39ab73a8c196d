package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sdkfront/sdkfront/internal/ociimage"
)

var remoteOpts = []remote.Option{remote.WithAuth(authn.Anonymous)}

func ref(s string) name.Reference {
	r, err := name.ParseReference(s, name.Insecure)
	check(err)
	return r
}

// exists reports whether ref resolves in its registry.
func exists(s string) bool {
	_, err := remote.Head(ref(s), remoteOpts...)
	return err == nil
}

// copyImage copies an image or index to host as repoTag, unless host
// already has the same digest there.
func copyImage(src, host, repoTag string) {
	desc, err := remote.Get(ref(src), remoteOpts...)
	check(err)
	p := ociimage.NewPusher(context.Background(), host, false)
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		check(err)
		_, err = p.Index(repoTag, idx)
		check(err)
	} else {
		img, err := desc.Image()
		check(err)
		_, err = p.Image(repoTag, img)
		check(err)
	}
}

// sdkImage is one single-layer SDK image as the registry holds it.
type sdkImage struct {
	repo   string // without host
	tag    string
	digest string // manifest
	layer  string // the one layer's digest
	size   int64
	inner  string // the tarball inside the layer; "" for a tree layer
}

func getSDK(host, repo, tag string) sdkImage {
	r := ref(host + "/" + repo + ":" + tag)
	img, err := remote.Image(r, remoteOpts...)
	check(err)
	d, err := img.Digest()
	check(err)
	m, err := img.Manifest()
	check(err)
	if len(m.Layers) != 1 {
		fail(fmt.Sprintf("%s:%s has %d layers", repo, tag, len(m.Layers)))
	}
	return sdkImage{repo: repo, tag: tag, digest: d.String(), layer: m.Layers[0].Digest.String(), size: m.Layers[0].Size}
}

// innerName returns the single file of a tarball layer: its first entry.
func innerName(host string, s sdkImage) string {
	resp, err := http.Get("http://" + host + "/v2/" + s.repo + "/blobs/" + s.layer)
	check(err)
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	check(err)
	h, err := tar.NewReader(zr).Next()
	check(err)
	return h.Name
}

// fetchBlob saves a blob to path unless it is there already.
func fetchBlob(host, repo, dgst, path string) {
	if fileExists(path) {
		return
	}
	resp, err := http.Get("http://" + host + "/v2/" + repo + "/blobs/" + dgst)
	check(err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fail(fmt.Sprintf("GET blob %s: %s", dgst, resp.Status))
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	check(err)
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	check(err)
	check(f.Close())
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != dgst {
		fail(fmt.Sprintf("blob %s: got %s", dgst, got))
	}
	check(os.Rename(tmp, path))
}

// stockFrontend makes sure host has BuildKit's own Dockerfile frontend
// image of the pinned version, packaged like sdkfront's: copied from the lab
// registry when make compat pushed it there, else built and pushed here.
func stockFrontend(host, bkVersion, workDir string) string {
	dst := host + "/dockerfile-stock:" + bkVersion
	if exists(dst) {
		return dst
	}
	if lab := os.Getenv("LAB_REGISTRY"); lab != "" && exists(lab+"/dockerfile-stock:"+bkVersion) {
		copyImage(lab+"/dockerfile-stock:"+bkVersion, host, "dockerfile-stock:"+bkVersion)
		return dst
	}
	bin := filepath.Join(workDir, "dockerfile-frontend")
	logf("building the stock frontend (dockerfile-frontend %s)", bkVersion)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-tags", "netgo osusergo static_build",
		"-o", bin, "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Run())
	imagepack("frontend", "-binary", bin, "-image", dst)
	return dst
}

func seed(args ...string) { run("seed", args...) }

// imagepack packs a frontend binary as an image (hack/imagepack).
func imagepack(args ...string) { run("imagepack", args...) }

// run runs one of the tools main builds into the bench directory.
func run(tool string, args ...string) {
	cmd := exec.Command(filepath.Join(*benchDir, tool), args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Sprintf("%s %s: %v", tool, strings.Join(args, " "), err))
	}
}

// ---------------------------------------------------------------------------
// the golang-like image

// golangLike pushes repo:tag, an image layered like golang:1.23-bookworm:
// a Debian bookworm base, buildpack-deps' curl and scm layers, the golang
// image's compiler layer, the Go tree at /usr/local/go and the GOPATH. The
// Debian layers hold this host's own files of the same packages (the host is
// Debian bookworm), grouped as the official images group them; a package
// that is not installed here is left out and reported.
func golangLike(host, repo, tag string, goTree string, goVersion string) string {
	dst := host + "/" + repo + ":" + tag
	if exists(dst) {
		return dst
	}
	start := time.Now()
	pk := dpkgPackages()
	groups := []struct {
		name string
		pkgs []string
	}{
		// debian:bookworm: the required packages and apt.
		{"debian", append(pk.priority("required"), "apt", "ca-certificates")},
		// buildpack-deps:bookworm-curl
		{"curl", []string{"curl", "gnupg", "dirmngr", "netbase", "sq", "wget"}},
		// buildpack-deps:bookworm-scm
		{"scm", []string{"git", "mercurial", "openssh-client", "subversion", "procps"}},
		// golang:1.23-bookworm's apt-get layer
		{"golang-apt", []string{"g++", "gcc", "libc6-dev", "make", "pkg-config"}},
	}
	done := map[string]bool{}
	seen := map[string]bool{}
	var layers []v1.Layer
	var missing []string
	for _, g := range groups {
		var paths []string
		for _, p := range pk.closure(g.pkgs, done, &missing) {
			paths = append(paths, pk.files(p)...)
		}
		l := cachedLayer("golanglike-"+g.name, ociimage.HostFiles(paths, seen))
		layers = append(layers, l)
	}
	layers = append(layers, cachedLayer("golanglike-go-"+goVersion, ociimage.Reprefix(goTree, "usr/local/go/")))
	layers = append(layers, cachedLayer("golanglike-gopath", gopath))
	if len(missing) > 0 {
		sort.Strings(missing)
		logf("golang-like image: not installed on this host, left out: %s", strings.Join(missing, " "))
	}
	img, err := golangLikeImage(goVersion, layers...)
	check(err)
	_, err = ociimage.NewPusher(context.Background(), host, false).Image(repo+":"+tag, img)
	check(err)
	logf("built %s (%d layers, %s)", dst, len(layers), time.Since(start).Round(time.Second))
	return dst
}

// gopath is the golang image's empty GOPATH.
var gopath = ociimage.Entries(ociimage.Dir("go", 0o777), ociimage.Dir("go/bin", 0o777), ociimage.Dir("go/src", 0o777))

// golangLikeImage is the golang-like image of layers: golang:1.23-bookworm's
// config, no history.
func golangLikeImage(goVersion string, layers ...v1.Layer) (v1.Image, error) {
	return ociimage.Spec{
		Platform: ociimage.HostPlatform(),
		Created:  ociimage.Epoch,
		Config: v1.Config{
			Env:        []string{"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GOLANG_VERSION=" + goVersion, "GOPATH=/go"},
			WorkingDir: "/go",
			Cmd:        []string{"bash"},
		},
	}.Image(layers...)
}

// dpkg is the host's installed packages.
type dpkg struct {
	deps     map[string][][]string // package -> dependency alternatives
	provides map[string]string     // virtual -> an installed provider
	prio     map[string]string
}

func dpkgPackages() *dpkg {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Priority}\t${Pre-Depends}, ${Depends}\t${Provides}\n").Output()
	check(err)
	d := &dpkg{deps: map[string][][]string{}, provides: map[string]string{}, prio: map[string]string{}}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 || !strings.HasPrefix(f[0], "ii") {
			continue
		}
		pkg := f[1]
		d.prio[pkg] = f[2]
		for _, alt := range strings.Split(f[3], ",") {
			var names []string
			for _, a := range strings.Split(alt, "|") {
				if n := pkgName(a); n != "" {
					names = append(names, n)
				}
			}
			if len(names) > 0 {
				d.deps[pkg] = append(d.deps[pkg], names)
			}
		}
		for _, p := range strings.Split(f[4], ",") {
			if n := pkgName(p); n != "" {
				d.provides[n] = pkg
			}
		}
	}
	return d
}

// pkgName strips version constraints and architecture qualifiers.
func pkgName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " ("); i >= 0 {
		s = s[:i]
	}
	s, _, _ = strings.Cut(s, ":")
	return s
}

func (d *dpkg) priority(p string) []string {
	var out []string
	for pkg, pr := range d.prio {
		if pr == p {
			out = append(out, pkg)
		}
	}
	sort.Strings(out)
	return out
}

func (d *dpkg) installed(p string) (string, bool) {
	if _, ok := d.prio[p]; ok {
		return p, true
	}
	if q, ok := d.provides[p]; ok {
		return q, true
	}
	return "", false
}

// closure is pkgs and their dependencies, less those in done (which it
// extends). Packages not installed go to missing.
func (d *dpkg) closure(pkgs []string, done map[string]bool, missing *[]string) []string {
	var out []string
	var visit func(p string, top bool)
	visit = func(p string, top bool) {
		q, ok := d.installed(p)
		if !ok {
			if top {
				*missing = append(*missing, p)
			}
			return
		}
		if done[q] {
			return
		}
		done[q] = true
		out = append(out, q)
		for _, alts := range d.deps[q] {
			for _, a := range alts {
				if _, ok := d.installed(a); ok {
					visit(a, false)
					break
				}
			}
		}
	}
	for _, p := range pkgs {
		visit(p, true)
	}
	sort.Strings(out)
	return out
}

func (d *dpkg) files(pkg string) []string {
	out, err := exec.Command("dpkg-query", "-L", pkg).Output()
	if err != nil {
		return nil
	}
	var paths []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "/") && l != "/." {
			paths = append(paths, l)
		}
	}
	return paths
}

// cachedLayer builds a gzip layer once into the bench's cache directory,
// where it outlives the run.
func cachedLayer(key string, src ociimage.TarFunc) v1.Layer {
	b, err := ociimage.NewBlobs(filepath.Join(*benchDir, "cache")).Get(key, true, src)
	check(err)
	return b.Layer()
}

// manifestLayers lists an image's layer digests and sizes.
func manifestLayers(s string) ([]v1.Descriptor, string) {
	img, err := remote.Image(ref(s), remoteOpts...)
	check(err)
	m, err := img.Manifest()
	check(err)
	d, err := img.Digest()
	check(err)
	return m.Layers, d.String()
}
