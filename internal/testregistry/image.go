package testregistry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// Tar is an uncompressed tar of entries, in order.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.Body))}
		switch {
		case e.Link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.Link, 0
		case e.Hard != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.Hard, 0
		case strings.HasSuffix(e.Name, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				t.Fatal(err)
			}
		}
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

// foreign is a layer whose descriptor names URLs to fetch it from.
type foreign struct {
	Layer
	urls []string
}

// WithURLs is l, its descriptor in a manifest naming urls (a foreign layer).
func WithURLs(l Layer, urls ...string) Layer { return foreign{l, urls} }

// NewImage is a single-platform image of layers (bottom first) with OCI media
// types and a config with platform ("linux/arm64/v8"; none if "") and
// labels. The same arguments give the same digest.
func NewImage(t testing.TB, platform string, labels map[string]string, layers ...Layer) Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range layers {
		add := mutate.Addendum{Layer: l}
		if f, ok := l.(foreign); ok {
			add = mutate.Addendum{Layer: f.Layer, URLs: f.urls}
		}
		var err error
		if img, err = mutate.Append(img, add); err != nil {
			t.Fatal(err)
		}
	}
	if platform == "" && labels == nil {
		return img
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			t.Fatal(err)
		}
		cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	}
	cfg.Config.Labels = labels
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// NewIndex is an OCI index of images, each under the platform of its config.
func NewIndex(t testing.TB, images ...Image) Index {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range images {
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cfg.Platform()}})
	}
	return idx
}
