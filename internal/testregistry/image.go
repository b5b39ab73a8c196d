package testregistry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// Image, Index and Layer are go-containerregistry's, named here so that
// tests can hold them without importing it.
type (
	Image = v1.Image
	Index = v1.ImageIndex
	Layer = v1.Layer
)

// Entry is one tar entry: a file (Body), a symlink (Link), a hard link
// (Hard) or a directory (Name ending in /).
type Entry struct{ Name, Body, Link, Hard string }

// Tar is an uncompressed tar of entries, in order: files 0644,
// directories 0755, no time.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	es := make([]ociimage.Entry, 0, len(entries))
	for _, e := range entries {
		oe := ociimage.File(e.Name, 0o644, []byte(e.Body))
		switch {
		case e.Link != "":
			oe = ociimage.Entry{Name: e.Name, Type: tar.TypeSymlink, Mode: 0o644, Link: e.Link}
		case e.Hard != "":
			oe = ociimage.Hardlink(e.Name, 0o644, e.Hard)
		case strings.HasSuffix(e.Name, "/"):
			oe = ociimage.Entry{Name: e.Name, Type: tar.TypeDir, Mode: 0o755}
		}
		es = append(es, oe)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := ociimage.EntriesAt(time.Time{}, es...)(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gzip compresses dt.
func Gzip(t testing.TB, dt []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(dt); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Blob is a layer of the bytes dt as they are, with the OCI layer media
// type (application/vnd.oci.image.layer.v1.tar).
func Blob(dt []byte) Layer { return static.NewLayer(dt, types.OCILayer) }

// GzipLayer is a gzip-compressed tar of entries.
func GzipLayer(t testing.TB, entries ...Entry) Layer { return Blob(Gzip(t, Tar(t, entries...))) }

// WithURLs is l, its descriptor in a manifest naming urls (a foreign layer).
func WithURLs(l Layer, urls ...string) Layer { return ociimage.WithURLs(l, urls...) }

// NewImage is a single-platform image of layers (bottom first) with OCI media
// types and a config with platform ("linux/arm64/v8"; none if "") and
// labels. The same arguments give the same digest.
func NewImage(t testing.TB, platform string, labels map[string]string, layers ...Layer) Image {
	t.Helper()
	var spec ociimage.Spec
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			t.Fatal(err)
		}
		spec.Platform = *p
	}
	spec.Config.Labels = labels
	img, err := spec.Image(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// NewIndex is an OCI index of images, each under the platform of its config.
func NewIndex(t testing.TB, images ...Image) Index {
	t.Helper()
	idx, err := ociimage.Index(images...)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
