package ociimage

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
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

var sample = Entries(
	Dir("bin", 0o755),
	File("bin/tool", 0o755, []byte("#!/bin/sh\necho tool\n")),
	Symlink("bin/alias", "tool"),
)

func TestWriteTarGzIsDeterministicAndHashesMatch(t *testing.T) {
	var a, b bytes.Buffer
	ia, err := WriteTarGz(&a, sample)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := WriteTarGz(&b, sample)
	if err != nil {
		t.Fatal(err)
	}
	if ia != ib || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("not deterministic: %+v vs %+v", ia, ib)
	}
	if ia.Digest != sha(a.Bytes()) || ia.Size != int64(a.Len()) {
		t.Fatalf("digest/size mismatch: %+v", ia)
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if ia.DiffID != sha(raw) {
		t.Fatalf("diffID %s, want %s", ia.DiffID, sha(raw))
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(Epoch) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: time %s, owner %d:%d; want %s, 0:0", h.Name, h.ModTime, h.Uid, h.Gid, Epoch)
		}
		got = append(got, h.Name+" "+string(h.Typeflag)+" "+h.Linkname)
	}
	want := []string{"bin/ 5 ", "bin/tool 0 ", "bin/alias 2 tool"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries %q, want %q", got, want)
	}
}

// TestBlobsCacheOnDisk: a blob cached on disk is reused by a new Blobs over
// the same directory without building it again, with the same digests.
func TestBlobsCacheOnDisk(t *testing.T) {
	dir := t.TempDir()
	first, err := NewBlobs(dir).Get("tool", true, sample)
	if err != nil {
		t.Fatal(err)
	}
	built := false
	again, err := NewBlobs(dir).Get("tool", true, func(tw *tar.Writer) error { built = true; return sample(tw) })
	if err != nil {
		t.Fatal(err)
	}
	if built {
		t.Error("the cached blob was built again")
	}
	d1, _ := first.Layer().Digest()
	d2, _ := again.Layer().Digest()
	if d1 != d2 {
		t.Errorf("cached digest %s, want %s", d2, d1)
	}
	if _, err := os.Stat(filepath.Join(dir, cacheFormat+"-tool.tar.gz")); err != nil {
		t.Errorf("no cache file: %v", err)
	}
}

func TestPusherSkipsUpToDateTags(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://")
	b, err := NewBlobs("").Get("tool", false, sample)
	if err != nil {
		t.Fatal(err)
	}
	img, err := NewImage(HostPlatform(), "ociimage test", v1.Config{Entrypoint: []string{"/bin/tool"}}, b.Layer())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	p := NewPusher(context.Background(), reg, false)
	for range 2 {
		got, err := p.Image("x/tool:1", img)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("pushed %s, want %s", got, want)
		}
	}
	if p.Pushed.Load() != 1 || p.Skipped.Load() != 1 {
		t.Errorf("pushed %d, skipped %d; want 1 and 1", p.Pushed.Load(), p.Skipped.Load())
	}
	tags, err := p.Tags("x/tool")
	if err != nil || strings.Join(tags, ",") != "1" {
		t.Errorf("tags %q (%v), want [1]", tags, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.History) != 1 || cf.History[0].CreatedBy != "ociimage test" || !cf.Created.Time.Equal(Epoch) {
		t.Errorf("config history %+v, created %s", cf.History, cf.Created)
	}
}

func TestCheckStatic(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(text); err == nil || err.Error() != text+" is not an ELF executable" {
		t.Errorf("script: %v", err)
	}
	if err := CheckStatic("/bin/sh"); err == nil || err.Error() != "/bin/sh is dynamically linked" {
		t.Errorf("/bin/sh: %v (want: dynamically linked)", err)
	}
	if err := CheckStatic(filepath.Join(dir, "missing")); err == nil || !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
