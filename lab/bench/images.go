package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
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
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// copyImage copies an image or index from one registry to another, unless
// the destination already has the same digest.
func copyImage(src, dst string) {
	desc, err := remote.Get(ref(src), remoteOpts...)
	check(err)
	if d, err := remote.Head(ref(dst), remoteOpts...); err == nil && d.Digest == desc.Digest {
		return
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		check(err)
		check(remote.WriteIndex(ref(dst), idx, remoteOpts...))
	} else {
		img, err := desc.Image()
		check(err)
		check(remote.Write(ref(dst), img, remoteOpts...))
	}
	logf("copied %s -> %s", src, dst)
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
		copyImage(lab+"/dockerfile-stock:"+bkVersion, dst)
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
		l := cachedLayer("golanglike-"+g.name, func(tw *tar.Writer) error { return hostFiles(tw, paths, seen) })
		layers = append(layers, l)
	}
	layers = append(layers, cachedLayer("golanglike-go-"+goVersion, func(tw *tar.Writer) error {
		return reprefix(tw, goTree, "usr/local/go/")
	}))
	layers = append(layers, cachedLayer("golanglike-gopath", func(tw *tar.Writer) error {
		for _, d := range []string{"go/", "go/bin/", "go/src/"} {
			if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o777, ModTime: epoch}); err != nil {
				return err
			}
		}
		return nil
	}))
	if len(missing) > 0 {
		sort.Strings(missing)
		logf("golang-like image: not installed on this host, left out: %s", strings.Join(missing, " "))
	}
	img, err := golangLikeImage(goVersion, layers...)
	check(err)
	check(remote.Write(ref(dst), img, remoteOpts...))
	logf("pushed %s (%d layers, %s)", dst, len(layers), time.Since(start).Round(time.Second))
	return dst
}

// golangLikeImage is the golang-like image of layers: golang:1.23-bookworm's
// config, no history.
func golangLikeImage(goVersion string, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", hostArch(), v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Env:        []string{"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GOLANG_VERSION=" + goVersion, "GOPATH=/go"},
		WorkingDir: "/go",
		Cmd:        []string{"bash"},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: types.OCILayer})
	}
	return mutate.Append(img, adds...)
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func hostArch() string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	check(err)
	return strings.TrimSpace(string(out))
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

// hostFiles writes the host's files at paths (and their parent
// directories) that seen does not have yet, in sorted order.
func hostFiles(tw *tar.Writer, paths []string, seen map[string]bool) error {
	sort.Strings(paths)
	var add func(p string) error
	add = func(p string) error {
		rel := strings.TrimPrefix(p, "/")
		if rel == "" || seen[rel] {
			return nil
		}
		if err := add(filepath.Dir(p)); err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil // diverted or removed since
		}
		seen[rel] = true
		h := &tar.Header{Name: rel, Mode: int64(fi.Mode().Perm()), ModTime: epoch}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, rel+"/"
			return tw.WriteHeader(h)
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, t
			return tw.WriteHeader(h)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, fi.Size())
			return err
		}
		return nil
	}
	for _, p := range paths {
		if err := add(p); err != nil {
			return err
		}
	}
	return nil
}

// reprefix copies a gzipped tarball's entries under prefix.
func reprefix(tw *tar.Writer, tgz, prefix string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return err
	}
	parts := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	for i := range parts {
		if err := tw.WriteHeader(&tar.Header{Name: strings.Join(parts[:i+1], "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		h.Name = prefix + h.Name
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// cachedLayer builds a gzip layer once into the cache directory.
func cachedLayer(key string, src func(*tar.Writer) error) v1.Layer {
	dir := filepath.Join(*benchDir, "cache")
	check(os.MkdirAll(dir, 0o755))
	path, meta := filepath.Join(dir, key+".tar.gz"), filepath.Join(dir, key+".json")
	var l fileLayer
	if dt, err := os.ReadFile(meta); err == nil && json.Unmarshal(dt, &l) == nil && fileExists(path) {
		l.Path = path
		return &l
	}
	start := time.Now()
	f, err := os.Create(path + ".tmp")
	check(err)
	ch, uh := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, ch)}
	zw, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	tw := tar.NewWriter(io.MultiWriter(zw, uh))
	check(src(tw))
	check(tw.Close())
	check(zw.Close())
	check(f.Close())
	check(os.Rename(path+".tmp", path))
	l = fileLayer{Path: path, D: sum(ch), Diff: sum(uh), N: cw.n}
	dt, _ := json.Marshal(l)
	check(os.WriteFile(meta, dt, 0o644))
	logf("built layer %s (%.1f MiB, %s)", key, float64(cw.n)/(1<<20), time.Since(start).Round(time.Second))
	return &l
}

func sum(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// fileLayer is a gzip layer in a file, with its digests known.
type fileLayer struct {
	Path string `json:"-"`
	D    string `json:"digest"`
	Diff string `json:"diffID"`
	N    int64  `json:"size"`
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return v1.NewHash(l.D) }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return v1.NewHash(l.Diff) }
func (l *fileLayer) Size() (int64, error)                { return l.N, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.Path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.Path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
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

var _ = bytes.MinRead
