package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// Bench flavors and versions: the 2,000-tag repository big/<platform> has
// every flavor × 1.{0..benchMinors-1}.{0..benchPatches-1}, plus a
// <flavor>-default tag per flavor naming the real toolchain's version.
var benchFlavors = []string{"bookworm", "bullseye", "trixie", "noble"}

const (
	benchMinors  = 25
	benchPatches = 20
)

// benchMain is `seed bench`: the payloads of lab/bench (make bench), pushed
// into the benchmark's own registry (-registry):
//
//   - oryx/golang-sdk:bookworm-<go>: the real Go toolchain, Oryx's layout
//     (the layer holds golang-bookworm-<go>.tar.gz);
//   - tree/golang:bookworm-<go>: the same toolchain, the layer is the tree;
//   - multi/tool:bookworm-1.0.0: an index of a small synthetic SDK for the
//     host's architecture and one other (amd64/arm64);
//   - oryx/nodejs-sdk, tree/nodejs and big/nodejs :bookworm-<node>: Node from
//     the npm registry (node-linux-<arch>, its package/ prefix stripped);
//   - big/golang: 2,004 tags, four flavors × 500 versions and a default tag
//     per flavor, each its own image over the Go toolchain's Oryx layer;
//   - lab/busybox:latest, as `seed busybox` makes it.
//
// It prints nothing on stdout; big tarballs are cached under -cache.
func benchMain(ctx context.Context, registry string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cache := fs.String("cache", envOr("LAB_CACHE", ".lab/cache"), "directory for cached SDK tarballs")
	goVersion := fs.String("go", "1.23.4", "Go toolchain version")
	nodeVersion := fs.String("node", "20.18.0", "Node version (npm package node-linux-<arch>)")
	busybox := fs.String("busybox", "/bin/busybox", "static busybox binary")
	verbose := fs.Bool("v", false, "also log tags that are already up to date")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	p := ociimage.NewPusher(ctx, registry, *verbose)
	bs := ociimage.NewBlobs(*cache)
	s := &seeder{p: p, blobs: bs, plat: ociimage.HostPlatform()}
	arch := s.plat.Architecture
	other := "arm64"
	if arch == "arm64" {
		other = "amd64"
	}

	gox := goSDK(*goVersion, arch)
	node := npmNodeSDK(*nodeVersion, arch, *cache)
	jobs := []func() error{
		func() error {
			img, err := busyboxImage(bs, s.plat, *busybox)
			if err == nil {
				_, err = p.Image("lab/busybox:latest", img)
			}
			return err
		},
		func() error { return s.push(gox, layoutOryx, "", nil) },
		func() error { return s.push(gox, layoutTree, "tree/golang:bookworm-"+*goVersion, nil) },
		func() error { return benchMulti(s, arch, other) },
		func() error {
			if err := s.push(node, layoutOryx, "", nil); err != nil {
				return err
			}
			if err := s.push(node, layoutTree, "tree/nodejs:bookworm-"+*nodeVersion, nil); err != nil {
				return err
			}
			return s.push(node, layoutTree, "big/nodejs:bookworm-"+*nodeVersion, nil)
		},
	}
	if err := runJobs(4, jobs); err != nil {
		return err
	}
	if err := benchManyTags(s, gox); err != nil {
		return err
	}
	logf("bench: %d pushed, %d already up to date (%s)", p.Pushed.Load(), p.Skipped.Load(), time.Since(start).Round(time.Millisecond))
	return nil
}

// benchMulti pushes multi/tool:bookworm-1.0.0, an index of a small
// synthetic SDK (tree layout) for two architectures, for the fan-out over
// target platforms: only one architecture's Go toolchain can be had here.
func benchMulti(s *seeder, archs ...string) error {
	var imgs []v1.Image
	for _, arch := range archs {
		plat := v1.Platform{OS: "linux", Architecture: arch}
		x := scriptSDK("tool", "bookworm", "1.0.0-"+arch, "tool", "tool 1.0.0 linux/"+arch)
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
	_, err = s.p.Index("multi/tool:bookworm-1.0.0", idx)
	return err
}

// benchTags is every tag of big/golang but the default ones.
func benchTags() []string {
	var tags []string
	for _, f := range benchFlavors {
		for minor := range benchMinors {
			for patch := range benchPatches {
				tags = append(tags, fmt.Sprintf("%s-1.%d.%d", f, minor, patch))
			}
		}
	}
	return tags
}

// benchManyTags pushes big/golang's tags that are not there yet: each one
// an image of its own (a config label names the tag) over the real Go
// toolchain's Oryx layer, so every tag resolves to a distinct digest and
// runs `go version`.
func benchManyTags(s *seeder, gox sdk) error {
	have := map[string]bool{}
	if tags, err := s.p.Tags("big/golang"); err == nil {
		for _, t := range tags {
			have[t] = true
		}
	}
	l, err := s.layer(gox, layoutOryx)
	if err != nil {
		return err
	}
	push := func(tag string, labels map[string]string) func() error {
		return func() error {
			img, err := ociimage.NewImage(s.plat, createdBy, v1.Config{Labels: labels}, l)
			if err != nil {
				return err
			}
			_, err = s.p.Write("big/golang:"+tag, img, true)
			return err
		}
	}
	var jobs []func() error
	for _, tag := range benchTags() {
		if !have[tag] {
			jobs = append(jobs, push(tag, map[string]string{"org.sdkfront.bench.tag": tag}))
		}
	}
	for _, f := range benchFlavors {
		if tag := f + "-default"; !have[tag] {
			jobs = append(jobs, push(tag, map[string]string{"org.oryx.version": gox.version}))
		}
	}
	if len(jobs) > 0 {
		logf("bench: pushing %d tags of big/golang", len(jobs))
	}
	return runJobs(8, jobs)
}

// npmNodeSDK is Node from the npm registry: the package node-linux-<arch>
// (the official binary distribution, repackaged under package/), fetched
// with `npm pack` into cacheDir; the tree is the package with its
// package/ prefix stripped (bin/node, include/, share/, ...).
func npmNodeSDK(v, goarch, cacheDir string) sdk {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[goarch]
	return sdk{platform: "nodejs", flavor: "bookworm", version: v, big: true, tree: func(tw *tar.Writer) error {
		pkg := "node-linux-" + arch + "@" + v
		tgz := filepath.Join(cacheDir, "npm-node-linux-"+arch+"-"+v+".tgz")
		if _, err := os.Stat(tgz); err != nil {
			if err := npmPack(pkg, tgz); err != nil {
				return err
			}
		}
		f, err := os.Open(tgz)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		tr := tar.NewReader(zr)
		dirs := map[string]bool{}
		// npm tarballs name no directories: write each one before its
		// first entry, as the Go toolchain's tree has them.
		parents := func(rel string) error {
			var missing []string
			for d := filepath.Dir(rel); d != "." && !dirs[d]; d = filepath.Dir(d) {
				missing = append(missing, d)
			}
			for i := len(missing) - 1; i >= 0; i-- {
				dirs[missing[i]] = true
				if err := tw.WriteHeader(ociimage.Header(missing[i]+"/", tar.TypeDir, 0o755, 0, "")); err != nil {
					return err
				}
			}
			return nil
		}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", tgz, err)
			}
			rel, ok := strings.CutPrefix(h.Name, "package/")
			if !ok || rel == "" || rel == "package.json" {
				continue
			}
			rel = strings.TrimSuffix(rel, "/")
			if err := parents(rel); err != nil {
				return err
			}
			mode := int64(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			switch h.Typeflag {
			case tar.TypeDir:
				if !dirs[rel] {
					dirs[rel] = true
					err = tw.WriteHeader(ociimage.Header(rel+"/", tar.TypeDir, 0o755, 0, ""))
				}
			case tar.TypeSymlink:
				err = tw.WriteHeader(ociimage.Header(rel, tar.TypeSymlink, 0o777, 0, h.Linkname))
			case tar.TypeReg:
				if err = tw.WriteHeader(ociimage.Header(rel, tar.TypeReg, mode, h.Size, "")); err == nil {
					_, err = io.Copy(tw, tr)
				}
			}
			if err != nil {
				return err
			}
		}
	}}
}

// npmPack downloads pkg's tarball with npm into the file out.
func npmPack(pkg, out string) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".npm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logf("npm pack %s", pkg)
	cmd := exec.Command("npm", "pack", "--silent", pkg)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	outName, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("npm pack %s: %w (is npm installed? lab/lab.sh bench-tools installs it)", pkg, err)
	}
	return os.Rename(filepath.Join(dir, strings.TrimSpace(string(outName))), out)
}
