package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// TestGolangLikeDigestIsStable pins the digest of a golang-like image of
// fixed layers (a Go tree moved under usr/local/go, the GOPATH), as built
// before internal/ociimage built it: the bench's reports compare runs on
// it, and its layers are cached by key across runs.
func TestGolangLikeDigestIsStable(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the pinned digest is linux/amd64's (the config names the architecture)")
	}
	dir := t.TempDir()
	old := *benchDir
	*benchDir = dir
	t.Cleanup(func() { *benchDir = old })
	tgz := filepath.Join(dir, "go.tar.gz")
	f, err := os.Create(tgz)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ociimage.WriteTarGz(f, ociimage.Entries(
		ociimage.Dir("bin", 0o755),
		ociimage.File("bin/go", 0o755, []byte("#!/bin/sh\necho go1.23.4\n")),
		ociimage.File("VERSION", 0o644, []byte("go1.23.4\n")),
	)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	layers := []v1.Layer{
		cachedLayer("go", ociimage.Reprefix(tgz, "usr/local/go/")),
		cachedLayer("gopath", gopath),
	}
	img, err := golangLikeImage("1.23.4", layers...)
	if err != nil {
		t.Fatal(err)
	}
	const want = "sha256:98786b7ef72bfc88d302f4122bcf341aa1bdf4967cbbe5b9ebf201a1eb41c421"
	if d, err := img.Digest(); err != nil || d.String() != want {
		t.Errorf("digest %s (%v), want %s", d, err, want)
	}
}
