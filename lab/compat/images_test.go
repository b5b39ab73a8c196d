package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type tarEntry struct {
	typeflag byte
	mode     int64
	body     string
	linkname string
}

func readTar(t *testing.T, r io.Reader) (map[string]tarEntry, []string) {
	t.Helper()
	m := map[string]tarEntry{}
	var order []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m, order
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		m[h.Name] = tarEntry{typeflag: h.Typeflag, mode: h.Mode, body: string(b), linkname: h.Linkname}
		order = append(order, h.Name)
	}
}

// fakeBusybox is a shell script that answers --list-full like busybox.
func fakeBusybox(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	p := filepath.Join(t.TempDir(), "busybox")
	script := "#!/bin/sh\n[ \"$1\" = --list-full ] || exit 1\nprintf '%s\\n' bin/busybox bin/ls bin/sh usr/bin/awk sbin/ifconfig\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func layerFiles(t *testing.T, img v1.Image) (map[string]tarEntry, []string) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers: %d, %v", len(ls), err)
	}
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return readTar(t, rc)
}

func TestStandinImages(t *testing.T) {
	bb := fakeBusybox(t)
	imgs, key, err := standinImages(bb)
	if err != nil {
		t.Fatal(err)
	}
	imgs2, key2, err := standinImages(bb)
	if err != nil {
		t.Fatal(err)
	}
	for n := range imgs {
		d1, _ := imgs[n].Digest()
		d2, _ := imgs2[n].Digest()
		if d1 != d2 {
			t.Errorf("%s is not reproducible: %s != %s", n, d1, d2)
		}
	}
	if key != key2 || len(key) != 64 {
		t.Errorf("key %q / %q", key, key2)
	}

	files, order := layerFiles(t, imgs["busybox"])
	seen := map[string]bool{}
	for _, n := range order {
		if parent := filepath.Dir(strings.TrimSuffix(n, "/")); parent != "." && !seen[parent+"/"] {
			t.Errorf("%s comes before its directory", n)
		}
		seen[n] = true
	}
	check := func(files map[string]tarEntry, name string, typeflag byte, mode int64, linkname string) {
		t.Helper()
		e, ok := files[name]
		if !ok {
			t.Errorf("missing %s", name)
			return
		}
		if e.typeflag != typeflag || e.mode != mode || e.linkname != linkname {
			t.Errorf("%s: type %c mode %o link %q", name, e.typeflag, e.mode, e.linkname)
		}
	}
	check(files, "bin/busybox", tar.TypeReg, 0o755, "")
	check(files, "bin/ls", tar.TypeLink, 0o755, "bin/busybox")
	check(files, "bin/awk", tar.TypeLink, 0o755, "bin/busybox")
	check(files, "bin/adduser", tar.TypeReg, 0o755, "")
	check(files, "bin/delgroup", tar.TypeReg, 0o755, "")
	check(files, "tmp/", tar.TypeDir, 0o1777, "")
	check(files, "root/", tar.TypeDir, 0o700, "")
	check(files, "etc/shadow", tar.TypeReg, 0o600, "")
	if !strings.Contains(files["etc/group"].body, "\nnobody:x:65534:\n") ||
		!strings.HasPrefix(files["etc/shadow"].body, "root::10933:") ||
		!strings.HasPrefix(files["bin/adduser"].body, "#!/bin/sh") {
		t.Errorf("etc files: %+v", files["etc/group"])
	}
	cf, err := imgs["busybox"].ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || len(cf.Config.Cmd) != 1 || cf.Config.Cmd[0] != "sh" || !strings.HasPrefix(cf.Config.Env[0], "PATH=") {
		t.Errorf("busybox config: %+v", cf)
	}

	files, _ = layerFiles(t, imgs["alpine"])
	check(files, "usr/bin/awk", tar.TypeSymlink, 0o777, "/bin/busybox")
	check(files, "sbin/ifconfig", tar.TypeSymlink, 0o777, "/bin/busybox")
	check(files, "usr/sbin/adduser", tar.TypeReg, 0o755, "")
	check(files, "var/tmp/", tar.TypeDir, 0o1777, "")
	if files["etc/alpine-release"].body != "3.18.4\n" || !strings.HasPrefix(files["etc/passwd"].body, "root:x:0:0:root:/root:/bin/ash\n") {
		t.Errorf("alpine etc files")
	}
	if _, ok := files["bin/adduser"]; ok {
		t.Errorf("alpine has bin/adduser")
	}
}

// The real registry binary, when `make tools` has built it.
func TestSeedMirror(t *testing.T) {
	reg, err := filepath.Abs("../../.lab/bin/registry")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(reg); err != nil {
		t.Skip("no .lab/bin/registry (make tools)")
	}
	bb := fakeBusybox(t)
	dir := filepath.Join(t.TempDir(), "seed")
	var log bytes.Buffer
	if err := seedMirror(context.Background(), dir, bb, reg, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data/docker/registry/v2/repositories/library/alpine/_manifests/tags/latest")); err != nil {
		t.Errorf("alpine not in the storage: %v\n%s", err, log.String())
	}
	log.Reset()
	if err := seedMirror(context.Background(), dir, bb, reg, &log); err != nil || !strings.Contains(log.String(), "up to date") {
		t.Errorf("reseed: %v\n%s", err, log.String())
	}
	// the storage serves the images
	host, stop, err := startRegistry(context.Background(), reg, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	imgs, _, err := standinImages(bb)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := imgs["busybox"].Digest()
	for _, m := range mirrored {
		if m.image != "busybox" {
			continue
		}
		ref, _ := name.NewTag(host+"/"+m.ref, name.Insecure)
		d, err := remote.Head(ref, remote.WithAuth(authn.Anonymous))
		if err != nil || d.Digest != want {
			t.Errorf("%s: %v %v", m.ref, d, err)
		}
	}
}

func TestExportImage(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	imgs, _, err := standinImages(fakeBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	img := imgs["alpine"]
	ref := host + "/fe/frontend:dev"
	tag, _ := name.NewTag(ref, name.Insecure)
	if err := remote.Write(tag, img, remote.WithAuth(authn.Anonymous)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "fe.tar")
	dgst, err := exportImage(context.Background(), ref, out)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := img.Digest(); dgst != want {
		t.Errorf("digest %s, want %s", dgst, want)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, f)
	f.Close()
	var idx v1.IndexManifest
	if err := json.Unmarshal([]byte(files["index.json"].body), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != dgst ||
		idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "latest" {
		t.Errorf("index.json: %s", files["index.json"].body)
	}
	if _, ok := files["oci-layout"]; !ok {
		t.Error("no oci-layout")
	}
	if m, ok := files["blobs/sha256/"+dgst.Hex]; !ok || !strings.Contains(m.body, "application/vnd.oci.image.manifest.v1+json") {
		t.Error("manifest blob missing")
	}

	// unpacked, it is a valid layout holding the same image
	dir := t.TempDir()
	for n, e := range files {
		p := filepath.Join(dir, n)
		if e.typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(e.body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	li, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	back, err := li.Image(dgst)
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := back.Layers(); err != nil || len(ls) != 1 {
		t.Errorf("layers: %v %v", ls, err)
	} else if _, err := ls[0].Compressed(); err != nil {
		t.Error(err)
	}
}

// TestStandinDigestsAreStable pins the stand-ins' digests for a fixed
// busybox, as built before internal/ociimage built them: a mirror seeded
// under imagesFormat holds these bytes, so a change must bump it.
func TestStandinDigestsAreStable(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the pinned digests are linux/amd64's (the config names the architecture)")
	}
	imgs, _, err := standinImages(fakeBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"busybox": "sha256:b4b65d97851ce8fad32a14c5e37d604d30cc856aee87d44d71e5454c6bbc52b5",
		"alpine":  "sha256:6dce37f397de516d46d89d54f7a80301fdcd80fa44e662c2ee957196a0d35df2",
	}
	for name, img := range imgs {
		if d, err := img.Digest(); err != nil || d.String() != want[name] {
			t.Errorf("%s: digest %s (%v), want %s", name, d, err, want[name])
		}
	}
}
