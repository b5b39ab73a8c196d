package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"

	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// sdk is one SDK tree: the files an SDK image carries, paths relative to the
// SDK root (bin/go, bin/node, ...).
type sdk struct {
	platform string // golang, nodejs, python, dotnet, ...
	flavor   string // bookworm, bullseye
	version  string
	tree     ociimage.TarFunc
	big      bool // cache its tarballs on disk (real toolchains)
	quiet    bool // do not log its push (the 150 paging tags)
}

func (s sdk) key() string { return s.platform + "-" + s.flavor + "-" + s.version }

// oryxFile is the inner tarball name of Oryx's layout.
func (s sdk) oryxFile() string { return s.key() + ".tar.gz" }

// seeder builds and pushes the sample SDK images.
type seeder struct {
	p     *ociimage.Pusher
	blobs *ociimage.Blobs
	plat  v1.Platform
}

// tarball returns the SDK tree as a gzipped tarball (also usable as a layer:
// a layer *is* a gzipped tarball, so the tree layout's layer is this blob).
func (s *seeder) tarball(x sdk) (*ociimage.Blob, error) {
	return s.blobs.Get(x.key()+"-sdk", x.big, x.tree)
}

// fileLayer returns a layer holding one file, name, whose content is the SDK
// tarball.
func (s *seeder) fileLayer(x sdk, name string) (v1.Layer, error) {
	inner, err := s.tarball(x)
	if err != nil {
		return nil, err
	}
	b, err := s.blobs.Get(x.key()+"-layer-"+strings.TrimSuffix(name, ".tar.gz"), x.big, ociimage.SingleFile(name, inner))
	if err != nil {
		return nil, err
	}
	return b.Layer(), nil
}

// Layouts.
const (
	layoutSeeds = "seeds" // sdks/<platform>:<flavor>-<version>, layer = /sdk.tar.gz
	layoutOryx  = "oryx"  // oryx/<platform>-sdk:<flavor>-<version>, layer = /<platform>-<flavor>-<version>.tar.gz
	layoutTree  = "tree"  // sdks/<platform>:<flavor>-<version>, layer = the SDK tree itself
)

func (s *seeder) layer(x sdk, layout string) (v1.Layer, error) {
	switch layout {
	case layoutSeeds:
		return s.fileLayer(x, "sdk.tar.gz")
	case layoutOryx:
		return s.fileLayer(x, x.oryxFile())
	case layoutTree:
		b, err := s.tarball(x)
		if err != nil {
			return nil, err
		}
		return b.Layer(), nil
	}
	return nil, fmt.Errorf("unknown layout %q", layout)
}

func repoTag(x sdk, layout string) string {
	if layout == layoutOryx {
		return "oryx/" + x.platform + "-sdk:" + x.flavor + "-" + x.version
	}
	return "sdks/" + x.platform + ":" + x.flavor + "-" + x.version
}

// push pushes x in the given layout; labels (optional) go into the config.
func (s *seeder) push(x sdk, layout, tag string, labels map[string]string) error {
	l, err := s.layer(x, layout)
	if err != nil {
		return err
	}
	img, err := ociimage.NewImage(s.plat, createdBy, v1.Config{Labels: labels}, l)
	if err != nil {
		return err
	}
	if tag == "" {
		tag = repoTag(x, layout)
	}
	_, err = s.p.Write(tag, img, x.quiet)
	return err
}

// pushDefault pushes <repo>:<flavor>-default: x's image plus a version label.
func (s *seeder) pushDefault(x sdk, layout, label string) error {
	tag := repoTag(x, layout)
	tag = tag[:strings.LastIndex(tag, ":")+1] + x.flavor + "-default"
	return s.push(x, layout, tag, map[string]string{label: x.version})
}

// scriptSDK is a synthetic SDK: bin/<tool> is a /bin/sh script printing out.
func scriptSDK(platform, flavor, version, tool, out string, extra ...ociimage.Entry) sdk {
	info := fmt.Sprintf("platform=%s\nflavor=%s\nversion=%s\n", platform, flavor, version)
	es := []ociimage.Entry{
		ociimage.Dir("bin", 0o755),
		ociimage.File("bin/"+tool, 0o755, []byte("#!/bin/sh\necho '"+out+"'\n")),
	}
	es = append(es, extra...)
	es = append(es, ociimage.File("sdk-info.txt", 0o644, []byte(info)))
	return sdk{platform: platform, flavor: flavor, version: version, tree: ociimage.Entries(es...)}
}

func nodeSDK(v string) sdk { return scriptSDK("nodejs", "bookworm", v, "node", "v"+v) }

func pythonSDK(flavor, v string) sdk {
	return scriptSDK("python", flavor, v, "python3", "Python "+v, ociimage.Symlink("bin/python", "python3"))
}

func dotnetSDK(v string) sdk {
	sdkVersion, _, _ := strings.Cut(v, "_")
	return scriptSDK("dotnet", "bookworm", v, "dotnet", sdkVersion)
}

// goSDK is a real Go toolchain from the module proxy
// (golang.org/toolchain@v0.0.1-go<v>.linux-<arch>); the tree is a GOROOT.
func goSDK(v, arch string) sdk {
	mod := "golang.org/toolchain@v0.0.1-go" + v + ".linux-" + arch
	return sdk{platform: "golang", flavor: "bookworm", version: v, big: true, tree: func(tw *tar.Writer) error {
		dir, err := modDownload(mod)
		if err != nil {
			return err
		}
		return gorootTree(dir)(tw)
	}}
}

// modDownload runs `go mod download -json mod` and returns its Dir.
func modDownload(mod string) (string, error) {
	logf("go mod download %s", mod)
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = os.TempDir() // outside any module
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var res struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &res); jerr == nil && res.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", mod, res.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	if res.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no Dir in %s", mod, out)
	}
	return res.Dir, nil
}

// gorootTree writes the GOROOT at dir (a toolchain module directory) as a
// tarball rooted at the GOROOT, applying the fix-ups the go command applies
// when it runs a downloaded toolchain (cmd/go/internal/toolchain/select.go):
// module zips carry no permissions and no nested go.mod files, so the
// commands get their execute bits back and every _go.mod is also written as
// go.mod. Permissions are normalised to 0755/0644 (the module cache is
// read-only).
func gorootTree(dir string) ociimage.TarFunc {
	return func(tw *tar.Writer) error {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil || rel == "." {
				return err
			}
			rel = filepath.ToSlash(rel)
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return tw.WriteHeader(ociimage.Header(rel+"/", tar.TypeDir, 0o755, 0, ""))
			case info.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				return tw.WriteHeader(ociimage.Header(rel, tar.TypeSymlink, 0o777, 0, target))
			case info.Mode().IsRegular():
				mode := int64(0o644)
				if goExecutable(rel, info.Mode()) {
					mode = 0o755
				}
				if err := copyFile(tw, p, rel, mode, info.Size()); err != nil {
					return err
				}
				if path.Base(rel) == "_go.mod" {
					gomod := path.Join(path.Dir(rel), "go.mod")
					if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(gomod))); os.IsNotExist(err) {
						return copyFile(tw, p, gomod, 0o644, info.Size())
					}
				}
				return nil
			default:
				return nil // sockets, devices: none in a toolchain
			}
		})
	}
}

// goExecutable mirrors the go command's allowExec calls: pkg/tool/**, bin/**
// and lib/**/go_?*_?*_exec get execute bits.
func goExecutable(rel string, mode fs.FileMode) bool {
	if mode&0o111 != 0 || strings.HasPrefix(rel, "bin/") || strings.HasPrefix(rel, "pkg/tool/") {
		return true
	}
	if strings.HasPrefix(rel, "lib/") {
		ok, _ := path.Match("go_?*_?*_exec", path.Base(rel))
		return ok
	}
	return false
}

func copyFile(tw *tar.Writer, src, name string, mode, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(ociimage.Header(name, tar.TypeReg, mode, size, "")); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err == nil && n != size {
		err = fmt.Errorf("%s changed while reading", src)
	}
	return err
}

// seedSDKs pushes every sample SDK image (see docs/lab.md for the list).
func seedSDKs(s *seeder, goVersions []string) error {
	var jobs []func() error
	add := func(f func() error) { jobs = append(jobs, f) }

	// Real Go toolchains, seeds and Oryx layouts; the first version is the
	// default. Each image's config labels its version, as a publisher's
	// may: a lock entry's digest is then checked against its version (the
	// unlabelled nodejs and python images get SDKLockUnbound instead).
	arch := s.plat.Architecture
	for i, v := range goVersions {
		x := goSDK(v, arch)
		first := i == 0
		labels := map[string]string{"org.oryx.version": v}
		add(func() error {
			if err := s.push(x, layoutSeeds, "", labels); err != nil {
				return err
			}
			if first {
				if err := s.pushDefault(x, layoutSeeds, "org.oryx.version"); err != nil {
					return err
				}
			}
			return s.push(x, layoutOryx, "", labels)
		})
	}

	// nodejs: tree layout (the layer is the SDK tree).
	for _, v := range []string{"18.20.4", "20.11.1", "20.18.0"} {
		x := nodeSDK(v)
		add(func() error { return s.push(x, layoutTree, "", nil) })
	}
	add(func() error { return s.pushDefault(nodeSDK("20.18.0"), layoutTree, "org.oryx.version") })

	// python: seeds layout, default labelled with org.oryx.sdk.version.
	for _, fv := range [][2]string{{"bookworm", "3.11.9"}, {"bookworm", "3.12.7"}, {"bookworm", "3.13.0rc2"}, {"bullseye", "3.11.9"}} {
		x := pythonSDK(fv[0], fv[1])
		add(func() error { return s.push(x, layoutSeeds, "", nil) })
	}
	add(func() error {
		return s.pushDefault(pythonSDK("bookworm", "3.12.7"), layoutSeeds, "org.oryx.sdk.version")
	})
	add(func() error { return s.push(pythonSDK("bookworm", "3.11.9"), layoutOryx, "", nil) })
	// 150 more python tags (bookworm-3.10.0 .. 3.10.149) so that listing the
	// tags of sdks/python needs several pages.
	for n := range 150 {
		x := pythonSDK("bookworm", fmt.Sprintf("3.10.%d", n))
		x.quiet = true
		add(func() error { return s.push(x, layoutSeeds, "", nil) })
	}

	// dotnet: <sdk version>_<runtime version>.
	for _, v := range []string{"8.0.404_8.0.11", "8.0.110_8.0.10"} {
		x := dotnetSDK(v)
		add(func() error { return s.push(x, layoutSeeds, "", nil) })
	}

	// Broken images, for error tests.
	add(func() error { return seedBroken(s) })
	add(func() error { return seedMulti(s) })

	return runJobs(4, jobs)
}

// seedBroken pushes sdks/broken:bookworm-{1,2,3}.0.0: two layers; one empty
// layer; one layer holding two tarballs.
func seedBroken(s *seeder) error {
	b1 := scriptSDK("broken", "bookworm", "1.0.0", "broken", "broken 1.0.0")
	l1, err := s.layer(b1, layoutSeeds)
	if err != nil {
		return err
	}
	extra, err := s.blobs.Get("broken-extra-layer", false, ociimage.Entries(ociimage.File("extra.txt", 0o644, []byte("second layer\n"))))
	if err != nil {
		return err
	}
	img, err := ociimage.NewImage(s.plat, createdBy, v1.Config{}, l1, extra.Layer())
	if err != nil {
		return err
	}
	if _, err := s.p.Image("sdks/broken:bookworm-1.0.0", img); err != nil {
		return err
	}

	emptyLayer, err := s.blobs.Get("broken-empty-layer", false, ociimage.Entries())
	if err != nil {
		return err
	}
	if img, err = ociimage.NewImage(s.plat, createdBy, v1.Config{}, emptyLayer.Layer()); err != nil {
		return err
	}
	if _, err := s.p.Image("sdks/broken:bookworm-2.0.0", img); err != nil {
		return err
	}

	a, err := s.tarball(scriptSDK("broken", "bookworm", "3.0.0-a", "broken", "broken a"))
	if err != nil {
		return err
	}
	b, err := s.tarball(scriptSDK("broken", "bookworm", "3.0.0-b", "broken", "broken b"))
	if err != nil {
		return err
	}
	two, err := s.blobs.Get("broken-two-tarballs", false, ociimage.Concat(ociimage.SingleFile("a.tar.gz", a), ociimage.SingleFile("b.tar.gz", b)))
	if err != nil {
		return err
	}
	if img, err = ociimage.NewImage(s.plat, createdBy, v1.Config{}, two.Layer()); err != nil {
		return err
	}
	_, err = s.p.Image("sdks/broken:bookworm-3.0.0", img)
	return err
}

// seedMulti pushes sdks/multi:bookworm-1.0.0, an OCI index with a linux/amd64
// and a linux/arm64 image, each a tree-layout SDK whose bin/multi prints its
// platform.
func seedMulti(s *seeder) error {
	var imgs []v1.Image
	for _, arch := range []string{"amd64", "arm64"} {
		plat := v1.Platform{OS: "linux", Architecture: arch}
		x := scriptSDK("multi", "bookworm", "1.0.0-"+arch, "multi", "multi 1.0.0 linux/"+arch)
		l, err := s.layer(x, layoutTree)
		if err != nil {
			return err
		}
		img, err := ociimage.NewImage(plat, createdBy, v1.Config{}, l)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	idx, err := ociimage.Index(imgs...)
	if err != nil {
		return err
	}
	_, err = s.p.Index("sdks/multi:bookworm-1.0.0", idx)
	return err
}

// busyboxImage is lab/busybox: a static busybox with a /bin/<applet> symlink
// per applet, /tmp, /root and a root user.
func busyboxImage(bs *ociimage.Blobs, plat v1.Platform, busybox string) (v1.Image, error) {
	if err := ociimage.CheckStatic(busybox); err != nil {
		return nil, fmt.Errorf("%w (apt-get install busybox-static)", err)
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	es := []ociimage.Entry{
		ociimage.Dir("bin", 0o755),
		ociimage.File("bin/busybox", 0o755, bin),
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		es = append(es, ociimage.Symlink("bin/"+applet, "busybox"))
	}
	es = append(es,
		ociimage.Dir("etc", 0o755),
		ociimage.File("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")),
		ociimage.File("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")),
		ociimage.Dir("root", 0o700),
		ociimage.Dir("tmp", 0o1777),
	)
	b, err := bs.Get("busybox", false, ociimage.Entries(es...))
	if err != nil {
		return nil, err
	}
	return ociimage.NewImage(plat, createdBy, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sh"},
	}, b.Layer())
}
