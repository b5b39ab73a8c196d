package ociimage

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tarNames(t *testing.T, src TarFunc) []string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := src(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: time %s, want Epoch", h.Name, h.ModTime)
		}
		names = append(names, h.Name+" "+string(h.Typeflag)+" "+h.Linkname)
	}
}

// TestHostFiles: a layer of host files carries their parents, sorted, and
// leaves out what an earlier layer (seen) holds and what vanished.
func TestHostFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a/b/f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "a/b/l")); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(dir, "/")
	seen := map[string]bool{}
	got := tarNames(t, HostFiles([]string{filepath.Join(dir, "a/b/l"), filepath.Join(dir, "a/b/f"), filepath.Join(dir, "gone")}, seen))
	if len(got) < 3 {
		t.Fatalf("entries %q", got)
	}
	tail := strings.Join(got[len(got)-3:], "|")
	if want := rel + "/a/b/ 5 |" + rel + "/a/b/f 0 |" + rel + "/a/b/l 2 f"; tail != want {
		t.Errorf("last entries %q, want %q", tail, want)
	}
	if again := tarNames(t, HostFiles([]string{filepath.Join(dir, "a/b/f")}, seen)); len(again) != 0 {
		t.Errorf("a second layer repeats %q", again)
	}
}

// TestReprefix: a tarball's entries land under the prefix, after its
// directories.
func TestReprefix(t *testing.T) {
	tgz := filepath.Join(t.TempDir(), "t.tar.gz")
	f, err := os.Create(tgz)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteTarGz(f, sample); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := strings.Join(tarNames(t, Reprefix(tgz, "usr/local/")), "|")
	if want := "usr/ 5 |usr/local/ 5 |usr/local/bin/ 5 |usr/local/bin/tool 0 |usr/local/bin/alias 2 tool"; got != want {
		t.Errorf("entries %q, want %q", got, want)
	}
}
