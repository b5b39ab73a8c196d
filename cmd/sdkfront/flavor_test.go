package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

func osReleaseFile(codename string) string {
	return "PRETTY_NAME=\"Debian GNU/Linux\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=" + codename + "\nID=debian\n"
}

// debianBase is the usual layout: /etc/os-release -> ../usr/lib/os-release.
func debianBase(codename string) []testregistry.Entry {
	return []testregistry.Entry{
		{Name: "etc/"}, {Name: "usr/"}, {Name: "usr/lib/"},
		{Name: "etc/os-release", Link: "../usr/lib/os-release"},
		{Name: "usr/lib/os-release", Body: osReleaseFile(codename)},
		{Name: "bin/sh", Body: "#!"},
	}
}

// baseImage is a Debian-like base image for platform, with an app layer on
// top, and any more layers on that.
func baseImage(t *testing.T, codename, platform string, more ...testregistry.Layer) testregistry.Image {
	t.Helper()
	layers := []testregistry.Layer{
		testregistry.GzipLayer(t, debianBase(codename)...),
		testregistry.GzipLayer(t, testregistry.Entry{Name: "app/" + platform, Body: "x"}),
	}
	return testregistry.NewImage(t, platform, nil, append(layers, more...)...)
}

// A line without a flavor gets its base image's, as in the frontend: the
// key has that flavor when the SDK has it, else the default with a
// warning; --check needs no registry.
func TestLockDetectsFlavor(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	reg.Push(t, "lab/debian:bullseye", baseImage(t, "bullseye", "linux/amd64"))
	reg.Push(t, "lab/debian:trixie", baseImage(t, "trixie", "linux/amd64"))
	idx := testregistry.NewIndex(t, baseImage(t, "bookworm", "linux/amd64"), baseImage(t, "bullseye", "linux/arm64"))
	reg.Push(t, "lab/debian:mixed", idx)
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
`, "REGISTRY", reg.Host))

	code, _, stderr := sdkfront(t, "lock", "--platform", "linux/amd64")
	wantCode(t, code, exitOK)
	wantLines(t, stderr,
		"reading the flavor of "+reg.Host+"/lab/debian:bullseye for linux/amd64\n",
		"Dockerfile:8: warning: SDK golang@1.23: the base image "+reg.Host+"/lab/debian:trixie is trixie, but the SDK has no trixie flavor, so it gets bookworm",
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
	wantCode(t, must(sdkfront(t, "lock", "--check", "--offline", "--platform", "linux/amd64,linux/arm64")), exitOK)

	// A flavor chosen for the build turns detection off.
	code, _, stderr = sdkfront(t, "lock", "--check", "--offline", "--platform", "linux/amd64", "--build-arg", "SDK_FLAVOR=bookworm")
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
	wantLines(t, stderr, "Dockerfile:4: cannot read the flavor of the base image "+reg.Host+"/lab/debian:bullseye for linux/amd64: ",
		"; name the flavor (--flavor=, # sdk-flavor= or --build-arg SDK_FLAVOR=) to lock without reading it\n",
		"Dockerfile:8: cannot read the flavor of the base image "+reg.Host+"/lab/debian:trixie",
		"Dockerfile.sdk.lock not written\n")
	if read(t, "Dockerfile.sdk.lock") != before {
		t.Error("the lock changed")
	}
}

// A base image that is a named context, a directory, is read from there.
func TestLockDetectsFlavorNamedContext(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
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
`, "REGISTRY", reg.Host))
	code, _, stderr := sdkfront(t, "lock", "--platform", "linux/amd64", "--build-context", "base=rootfs")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23 -> 1.23.9 (bullseye) ")
	if strings.Contains(stderr, "reading the flavor") {
		t.Error("a named context was read from a registry")
	}
	// Offline, a named context's flavor is known, and must match.
	reg.Close()
	wantCode(t, must(sdkfront(t, "lock", "--check", "--offline", "--platform", "linux/amd64", "--build-context", "base=rootfs")), exitOK)
	write(t, filepath.Join(dir, "rootfs", "usr", "lib", "os-release"), osReleaseFile("buster"))
	// buster is not locked, but the default (bookworm) would be a fallback:
	// neither is in the lock.
	code, _, stderr = sdkfront(t, "lock", "--check", "--offline", "--platform", "linux/amd64", "--build-context", "base=rootfs")
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:3: golang@1.23 (buster) is not locked\n")
}

// A base image registry that stalls, sends a layer that decompresses
// without end, or corrupts a layer fails the lines built on it, within the
// bounds of reading it, with an error naming the image; the lock is not
// written. (resolver/registry's base_test.go covers reading layers.)
func TestLockDetectsFlavorFaults(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	baseImageLimits = registry.ReadLimits{Timeout: time.Second, MaxLayerBytes: 4 << 20}
	t.Cleanup(func() { baseImageLimits = registry.ReadLimits{} })

	// bomb is 16 MiB of zeros on top of a Debian base.
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Typeflag: tar.TypeReg, Size: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, 16<<20); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	reg.Push(t, "lab/bomb:1", baseImage(t, "trixie", "linux/amd64", testregistry.Blob(bomb.Bytes())))
	stalled := baseImage(t, "bullseye", "linux/amd64")
	reg.Push(t, "lab/stalled:1", stalled)
	corrupt := baseImage(t, "bookworm", "linux/amd64")
	reg.Push(t, "lab/corrupt:1", corrupt)
	layers, _ := corrupt.Layers()
	corruptLayer, _ := layers[0].Digest()
	layers, _ = stalled.Layers()
	stalledLayer, _ := layers[0].Digest() // the top one, an app's, is every image's

	// The faults sit in front of the registry.
	done := make(chan struct{})
	target, _ := url.Parse(reg.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/blobs/"+stalledLayer.String()):
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		case strings.HasSuffix(r.URL.Path, "/blobs/"+corruptLayer.String()):
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			body[len(body)/2] ^= 1
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Cleanup(func() { close(done) })
	host := strings.TrimPrefix(front.URL, "http://")

	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM FRONT/lab/stalled:1 AS stalled
SDK golang@1.23
FROM FRONT/lab/bomb:1 AS bomb
SDK golang@1.23
FROM FRONT/lab/corrupt:1
SDK golang@1.23
`, "REGISTRY", reg.Host), "FRONT", host))
	// The stalled base image cannot be read within its 1s deadline,
	// however fast the machine: the error says that deadline ended it,
	// and no verdict depends on the time taken.
	code, _, stderr := sdkfront(t, "lock", "--platform", "linux/amd64")
	wantCode(t, code, exitError)
	wantLines(t, stderr,
		"Dockerfile:3: cannot read the flavor of the base image "+host+"/lab/stalled:1 for linux/amd64: cannot read /etc/os-release or /usr/lib/os-release of "+host+"/lab/stalled:1 for linux/amd64: registry "+host+" did not send the image within 1s",
		"Dockerfile:5: cannot read the flavor of the base image "+host+"/lab/bomb:1 for linux/amd64: cannot read layer ",
		" of "+host+"/lab/bomb:1: it holds more than 4 MiB decompressed, more than sdkfront reads of a layer; name the flavor",
		"Dockerfile:7: cannot read the flavor of the base image "+host+"/lab/corrupt:1 for linux/amd64: cannot read layer "+corruptLayer.String()+" of "+host+"/lab/corrupt:1: registry "+host+" sent content that hashes to sha256:",
		"Dockerfile.sdk.lock not written\n")
	if _, err := os.Stat("Dockerfile.sdk.lock"); !os.IsNotExist(err) {
		t.Errorf("the lock was written: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
