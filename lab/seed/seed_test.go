package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sdkfront/sdkfront/internal/ociimage"
)

type tarFile struct {
	mode     int64
	typeflag byte
	body     string
	linkname string
}

// readTar reads an uncompressed tar stream into name -> entry.
func readTar(t *testing.T, r io.Reader) map[string]tarFile {
	t.Helper()
	out := map[string]tarFile{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = tarFile{mode: h.Mode, typeflag: h.Typeflag, body: string(body), linkname: h.Linkname}
	}
}

func readTarGz(t *testing.T, data []byte) map[string]tarFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return readTar(t, zr)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestWriteTarGzIsDeterministicAndHashesMatch(t *testing.T) {
	src := pythonSDK("bookworm", "3.11.9").tree
	var a, b bytes.Buffer
	ia, err := ociimage.WriteTarGz(&a, src)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := ociimage.WriteTarGz(&b, src)
	if err != nil {
		t.Fatal(err)
	}
	if ia != ib || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("not deterministic: %+v vs %+v", ia, ib)
	}
	if ia.Digest != sha(a.Bytes()) || ia.Size != int64(a.Len()) {
		t.Fatalf("digest/size mismatch: %+v", ia)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(a.Bytes()))
	raw, _ := io.ReadAll(zr)
	if ia.DiffID != sha(raw) {
		t.Fatalf("diffID %s, want %s", ia.DiffID, sha(raw))
	}
	files := readTar(t, bytes.NewReader(raw))
	if f := files["bin/python3"]; f.mode != 0o755 || !strings.Contains(f.body, "echo 'Python 3.11.9'") {
		t.Fatalf("bin/python3 = %+v", f)
	}
	if f := files["bin/python"]; f.typeflag != tar.TypeSymlink || f.linkname != "python3" {
		t.Fatalf("bin/python = %+v", f)
	}
}

func TestGorootTreeAppliesToolchainFixups(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("bin/go", 0o444)
	write("pkg/tool/linux_amd64/compile", 0o444)
	write("lib/wasm/go_js_wasm_exec", 0o444)
	write("lib/wasm/wasm_exec.js", 0o444)
	write("src/_go.mod", 0o444)
	write("src/cmd/_go.mod", 0o444)
	write("VERSION", 0o444)

	var buf bytes.Buffer
	if _, err := ociimage.WriteTarGz(&buf, gorootTree(dir)); err != nil {
		t.Fatal(err)
	}
	files := readTarGz(t, buf.Bytes())
	want := map[string]int64{
		"bin/":                         0o755,
		"bin/go":                       0o755,
		"pkg/tool/linux_amd64/compile": 0o755,
		"lib/wasm/go_js_wasm_exec":     0o755,
		"lib/wasm/wasm_exec.js":        0o644,
		"src/_go.mod":                  0o644,
		"src/go.mod":                   0o644,
		"src/cmd/go.mod":               0o644,
		"VERSION":                      0o644,
	}
	for name, mode := range want {
		f, ok := files[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if f.mode != mode {
			t.Errorf("%s: mode %o, want %o", name, f.mode, mode)
		}
	}
	if files["src/go.mod"].body != "src/_go.mod" {
		t.Errorf("src/go.mod = %q, want the content of src/_go.mod", files["src/go.mod"].body)
	}
}

// startRegistry runs an in-memory registry and returns its host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestSeedSDKsLayoutsAndIdempotence(t *testing.T) {
	reg := startRegistry(t)
	ctx := context.Background()
	newSeeder := func() *seeder {
		return &seeder{p: ociimage.NewPusher(ctx, reg, false), blobs: ociimage.NewBlobs(t.TempDir()), plat: ociimage.HostPlatform()}
	}
	s := newSeeder()
	// No Go versions: the real toolchains are too big for a unit test.
	if err := seedSDKs(s, nil); err != nil {
		t.Fatal(err)
	}
	if s.p.Pushed.Load() < 160 {
		t.Fatalf("pushed %d images, want >= 160", s.p.Pushed.Load())
	}

	get := func(repoTag string) v1.Image {
		t.Helper()
		ref, err := name.ParseReference(reg+"/"+repoTag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("%s: %v", repoTag, err)
		}
		return img
	}
	// layerFiles returns the files of the only layer of repoTag.
	layerFiles := func(repoTag string) map[string]tarFile {
		t.Helper()
		img := get(repoTag)
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIManifestSchema1 || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
			t.Fatalf("%s: manifest %+v", repoTag, m)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := img.Layers()
		diffID, _ := ls[0].DiffID()
		if len(cf.RootFS.DiffIDs) != 1 || cf.RootFS.DiffIDs[0] != diffID || cf.OS != "linux" || cf.Architecture == "" {
			t.Fatalf("%s: config %+v", repoTag, cf)
		}
		rc, err := ls[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		return readTar(t, rc)
	}
	names := func(files map[string]tarFile) string {
		var ns []string
		for n := range files {
			ns = append(ns, n)
		}
		sort.Strings(ns)
		return strings.Join(ns, " ")
	}

	// Seeds layout: one /sdk.tar.gz.
	files := layerFiles("sdks/python:bookworm-3.12.7")
	if got := names(files); got != "sdk.tar.gz" {
		t.Fatalf("seeds layout files: %s", got)
	}
	inner := readTarGz(t, []byte(files["sdk.tar.gz"].body))
	if !strings.Contains(inner["bin/python3"].body, "Python 3.12.7") {
		t.Fatalf("inner bin/python3 = %+v", inner["bin/python3"])
	}
	// Oryx layout: one /<platform>-<flavor>-<version>.tar.gz.
	if got := names(layerFiles("oryx/python-sdk:bookworm-3.11.9")); got != "python-bookworm-3.11.9.tar.gz" {
		t.Fatalf("oryx layout files: %s", got)
	}
	// Tree layout: the SDK itself.
	if f := layerFiles("sdks/nodejs:bookworm-20.11.1")["bin/node"]; !strings.Contains(f.body, "v20.11.1") {
		t.Fatalf("tree layout bin/node = %+v", f)
	}
	// Default tags: version label, same layer as the version's image.
	for _, c := range []struct{ repo, label, version string }{
		{"sdks/nodejs", "org.oryx.version", "20.18.0"},
		{"sdks/python", "org.oryx.sdk.version", "3.12.7"},
	} {
		def := get(c.repo + ":bookworm-default")
		cf, _ := def.ConfigFile()
		if got := cf.Config.Labels[c.label]; got != c.version {
			t.Errorf("%s:bookworm-default label %s = %q, want %q", c.repo, c.label, got, c.version)
		}
		l1, _ := def.Layers()
		l2, _ := get(c.repo + ":bookworm-" + c.version).Layers()
		d1, _ := l1[0].Digest()
		d2, _ := l2[0].Digest()
		if d1 != d2 {
			t.Errorf("%s:bookworm-default layer %s != %s", c.repo, d1, d2)
		}
	}
	// Broken images.
	if ls, _ := get("sdks/broken:bookworm-1.0.0").Layers(); len(ls) != 2 {
		t.Errorf("broken 1.0.0 has %d layers, want 2", len(ls))
	}
	ls, _ := get("sdks/broken:bookworm-2.0.0").Layers()
	if rc, err := ls[0].Uncompressed(); err != nil || len(readTar(t, rc)) != 0 {
		t.Errorf("broken 2.0.0 layer is not empty (err %v)", err)
	}
	ls, _ = get("sdks/broken:bookworm-3.0.0").Layers()
	if rc, _ := ls[0].Uncompressed(); names(readTar(t, rc)) != "a.tar.gz b.tar.gz" {
		t.Errorf("broken 3.0.0 layer does not hold a.tar.gz and b.tar.gz")
	}
	// Multi-platform index.
	ref, _ := name.ParseReference(reg+"/sdks/multi:bookworm-1.0.0", name.Insecure)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 2 || im.Manifests[0].Platform.Architecture != "amd64" || im.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("multi index: %+v", im.Manifests)
	}

	// Seeding again (fresh process state) pushes nothing.
	s2 := newSeeder()
	if err := seedSDKs(s2, nil); err != nil {
		t.Fatal(err)
	}
	if n := s2.p.Pushed.Load(); n != 0 {
		t.Fatalf("second seed pushed %d images, want 0", n)
	}
}

func TestBusyboxImage(t *testing.T) {
	if ociimage.CheckStatic("/bin/busybox") != nil {
		t.Skip("no static /bin/busybox (busybox-static)")
	}
	img, err := busyboxImage(ociimage.NewBlobs(t.TempDir()), ociimage.HostPlatform(), "/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	rc, _ := ls[0].Uncompressed()
	files := readTar(t, rc)
	if f := files["bin/sh"]; f.typeflag != tar.TypeSymlink || f.linkname != "busybox" {
		t.Errorf("bin/sh = %+v", f)
	}
	if f := files["tmp/"]; f.mode != 0o1777 {
		t.Errorf("tmp mode %o", f.mode)
	}
	if !strings.HasPrefix(files["etc/passwd"].body, "root:x:0:0:") {
		t.Errorf("etc/passwd = %q", files["etc/passwd"].body)
	}
	cf, _ := img.ConfigFile()
	if len(cf.Config.Cmd) != 1 || cf.Config.Cmd[0] != "sh" || !strings.HasPrefix(cf.Config.Env[0], "PATH=/usr/local/sbin:") {
		t.Errorf("config = %+v", cf.Config)
	}
}
