package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one tar entry: a file (body), a symlink (link) or a directory
// (name ending in /).
type entry struct{ name, body, link string }

func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layer is an uncompressed layer, for osRelease directly.
func layer(t *testing.T, entries ...entry) v1.Layer {
	return static.NewLayer(tarball(t, entries...), types.OCIUncompressedLayer)
}

// brokenLayer fails when read: osRelease must not get to it.
type brokenLayer struct{ v1.Layer }

func (brokenLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("read a layer it did not need")
}

func osReleaseFile(codename string) string {
	return "PRETTY_NAME=\"Debian GNU/Linux\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=" + codename + "\nID=debian\n"
}

// debianBase is the usual layout: /etc/os-release -> ../usr/lib/os-release.
func debianBase(codename string) []entry {
	return []entry{
		{name: "etc/"}, {name: "usr/"}, {name: "usr/lib/"},
		{name: "etc/os-release", link: "../usr/lib/os-release"},
		{name: "usr/lib/os-release", body: osReleaseFile(codename)},
		{name: "bin/sh", body: "#!"},
	}
}

func TestOSRelease(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers [][]entry // bottom first
		want   string
	}{
		{"debian", [][]entry{debianBase("bookworm")}, "bookworm"},
		{"./ prefixes", [][]entry{{{name: "./etc/os-release", body: "VERSION_CODENAME='jammy'\n"}}}, "jammy"},
		{"quoted", [][]entry{{{name: "etc/os-release", body: "ID=ubuntu\nVERSION_CODENAME=\"noble\"\n"}}}, "noble"},
		{"upper layer replaces the target", [][]entry{debianBase("bookworm"), {{name: "usr/lib/os-release", body: osReleaseFile("trixie")}}}, "trixie"},
		{"upper layer replaces the link", [][]entry{debianBase("bookworm"), {{name: "etc/os-release", body: osReleaseFile("bullseye")}}}, "bullseye"},
		{"whiteout of /etc/os-release", [][]entry{
			{{name: "etc/os-release", body: osReleaseFile("bullseye")}, {name: "usr/lib/os-release", body: osReleaseFile("bookworm")}},
			{{name: "etc/.wh.os-release"}},
		}, "bookworm"},
		{"whiteout of /etc", [][]entry{
			{{name: "etc/os-release", body: osReleaseFile("bullseye")}, {name: "usr/lib/os-release", body: osReleaseFile("bookworm")}},
			{{name: ".wh.etc"}},
		}, "bookworm"},
		{"opaque directory", [][]entry{debianBase("bookworm"), {{name: "usr/lib/"}, {name: "usr/lib/.wh..wh..opq"}}}, ""},
		{"alpine", [][]entry{{{name: "etc/os-release", link: "../usr/lib/os-release"}, {name: "usr/lib/os-release", body: "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"}}}, ""},
		{"busybox", [][]entry{{{name: "bin/busybox", body: "x"}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ls []v1.Layer
			for _, l := range tc.layers {
				ls = append(ls, layer(t, l...))
			}
			dt, err := osRelease(ls)
			if err != nil {
				t.Fatal(err)
			}
			if got := osReleaseCodename(dt); got != tc.want {
				t.Errorf("codename %q, want %q (os-release %q)", got, tc.want, dt)
			}
		})
	}

	// Lower layers are not read once the top ones settle it.
	ls := []v1.Layer{brokenLayer{layer(t)}, layer(t, debianBase("bookworm")...), layer(t, entry{name: "app/x", body: "y"})}
	dt, err := osRelease(ls)
	if err != nil || osReleaseCodename(dt) != "bookworm" {
		t.Errorf("osRelease = %q, %v", dt, err)
	}
}

func gzipped(t *testing.T, dt []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(dt)
	zw.Close()
	return buf.Bytes()
}

// baseImage is a Debian-like base image for platform, with an app layer on
// top.
func baseImage(t *testing.T, codename, platform string) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: static.NewLayer(gzipped(t, tarball(t, debianBase(codename)...)), types.OCILayer)},
		mutate.Addendum{Layer: static.NewLayer(gzipped(t, tarball(t, entry{name: "app/" + platform, body: "x"})), types.OCILayer)},
	)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	p, _ := v1.ParsePlatform(platform)
	cfg.OS, cfg.Architecture = p.OS, p.Architecture
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// A line without a flavor gets its base image's, as in the frontend: the
// key has that flavor when the SDK has it, else the default with a
// warning; --check needs no registry.
func TestLockDetectsFlavor(t *testing.T) {
	dir := isolate(t)
	reg := newRegistry(t, "", "")
	reg.seed(t)
	reg.push(t, "lab/debian:bullseye", baseImage(t, "bullseye", "linux/amd64"))
	reg.push(t, "lab/debian:trixie", baseImage(t, "trixie", "linux/amd64"))
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "bookworm", "linux/amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: baseImage(t, "bullseye", "linux/arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	reg.push(t, "lab/debian:mixed", idx)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
ARG DEBIAN=REGISTRY/lab/debian
FROM ${DEBIAN}:bullseye AS old
SDK golang@1.23
FROM old AS child
RUN --mount=type=sdk,ref=golang@1.23,flavor=bookworm,target=/go true
FROM ${DEBIAN}:trixie AS new
SDK golang@1.23
FROM scratch
SDK golang@1.23
FROM ${DEBIAN}:mixed
SDK golang@1.23
`, "REGISTRY", reg.host))

	code, _, stderr := sdkfront(t, "lock", "--platform", "linux/amd64")
	wantCode(t, code, exitOK)
	wantLines(t, stderr,
		"reading the flavor of "+reg.host+"/lab/debian:bullseye for linux/amd64\n",
		"Dockerfile:8: warning: SDK golang@1.23: the base image "+reg.host+"/lab/debian:trixie is trixie, but the SDK has no trixie flavor, so it gets bookworm",
		"wrote Dockerfile.sdk.lock (2 added)\n")
	if n := strings.Count(stderr, "warning:"); n != 1 {
		t.Errorf("%d warnings, want 1 (line 8)", n)
	}
	f := lockFile(t)
	if len(f.SDKs) != 2 || f.SDKs[0].Flavor != "bookworm" || f.SDKs[1].Flavor != "bullseye" || f.SDKs[1].Version != "1.23.9" {
		t.Fatalf("entries %+v", f.SDKs)
	}

	// The index is read for each platform: bullseye for arm64.
	code, _, stderr = sdkfront(t, "lock", "--platform", "linux/amd64,linux/arm64")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23 (bookworm): 1.23.4, now also for linux/arm64\n", "golang@1.23 (bullseye): 1.23.9, now also for linux/arm64\n")

	// --check does not read base images: any entry of the ref fits a line
	// whose flavor comes from one.
	reg.Close()
	wantCode(t, must(sdkfront(t, "lock", "--check", "--platform", "linux/amd64,linux/arm64")), exitOK)

	// A flavor chosen for the build turns detection off.
	code, _, stderr = sdkfront(t, "lock", "--check", "--platform", "linux/amd64", "--build-arg", "SDK_FLAVOR=bookworm")
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile.sdk.lock: golang@1.23 (bullseye) is locked, but no SDK line of Dockerfile uses it\n")
	if strings.Contains(stderr, "reading the flavor") {
		t.Error("detected a flavor that was chosen")
	}

	// A base image that cannot be read fails its lines, and the lock
	// stays as it is.
	before := read(t, "Dockerfile.sdk.lock")
	code, _, stderr = sdkfront(t, "lock", "--platform", "linux/amd64")
	wantCode(t, code, exitError)
	wantLines(t, stderr, "Dockerfile:4: cannot read the flavor of the base image "+reg.host+"/lab/debian:bullseye for linux/amd64: ",
		"; name the flavor (--flavor=, # sdk-flavor= or --build-arg SDK_FLAVOR=) to lock without reading it\n",
		"Dockerfile:8: cannot read the flavor of the base image "+reg.host+"/lab/debian:trixie",
		"Dockerfile.sdk.lock not written\n")
	if read(t, "Dockerfile.sdk.lock") != before {
		t.Error("the lock changed")
	}
}

// A base image that is a named context, a directory, is read from there.
func TestLockDetectsFlavorNamedContext(t *testing.T) {
	dir := isolate(t)
	reg := newRegistry(t, "", "")
	reg.seed(t)
	write(t, filepath.Join(dir, "rootfs", "usr", "lib", "os-release"), osReleaseFile("bullseye"))
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../usr/lib/os-release", filepath.Join(dir, "rootfs", "etc", "os-release")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM base
SDK golang@1.23
`, "REGISTRY", reg.host))
	code, _, stderr := sdkfront(t, "lock", "--platform", "linux/amd64", "--build-context", "base=rootfs")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23 -> 1.23.9 (bullseye) ")
	if strings.Contains(stderr, "reading the flavor") {
		t.Error("a named context was read from a registry")
	}
	// Offline, a named context's flavor is known, and must match.
	reg.Close()
	wantCode(t, must(sdkfront(t, "lock", "--check", "--platform", "linux/amd64", "--build-context", "base=rootfs")), exitOK)
	write(t, filepath.Join(dir, "rootfs", "usr", "lib", "os-release"), osReleaseFile("buster"))
	// buster is not locked, but the default (bookworm) would be a fallback:
	// neither is in the lock.
	code, _, stderr = sdkfront(t, "lock", "--check", "--platform", "linux/amd64", "--build-context", "base=rootfs")
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:3: golang@1.23 (buster) is not locked\n")
}
