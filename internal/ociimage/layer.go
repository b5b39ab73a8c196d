// Package ociimage is the house's one OCI image builder: tarball layers
// from entries in memory, files or other tarballs (cached on disk when big),
// image configs with labels and history, OCI manifests and indexes, a fixed
// Epoch for reproducible digests, and pushing to a plain-HTTP registry,
// skipping tags that are already up to date. lab/seed, lab/bench,
// lab/compat, hack/imagepack and internal/testregistry build with it; each
// keeps only which images it makes and what is in them.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the fixed timestamp of every tar entry and image config, so that
// packing is reproducible: the same inputs always give the same digests.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// cacheFormat is part of every on-disk cache key; bump it when the way
// tarballs are built changes.
const cacheFormat = "v1"

// TarFunc writes entries to a tar stream.
type TarFunc func(tw *tar.Writer) error

// Entry is one tar entry held in memory. Dir, File, Symlink and Hardlink
// make the usual ones; a literal Entry makes any other (a symlink with
// another mode, say).
type Entry struct {
	Name string // a directory's ends in "/"
	Type byte   // tar.TypeDir, TypeReg, TypeSymlink, TypeLink
	Mode int64
	Body []byte // a regular file's content
	Link string // a link's target
}

// Dir is a directory entry; name gets its trailing slash.
func Dir(name string, mode int64) Entry {
	return Entry{Name: name + "/", Type: tar.TypeDir, Mode: mode}
}

// File is a regular file entry.
func File(name string, mode int64, body []byte) Entry {
	return Entry{Name: name, Type: tar.TypeReg, Mode: mode, Body: body}
}

// Symlink is a symbolic link entry, name -> target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Link: target}
}

// Hardlink is a hard link entry, name -> target (a path in the same tar).
func Hardlink(name string, mode int64, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Mode: mode, Link: target}
}

// Header is a tar header owned by root with the fixed Epoch as its time.
func Header(name string, typeflag byte, mode, size int64, linkname string) *tar.Header {
	return &tar.Header{
		Name:     name,
		Typeflag: typeflag,
		Mode:     mode,
		Size:     size,
		Linkname: linkname,
		ModTime:  Epoch,
		Uid:      0,
		Gid:      0,
	}
}

// Entries returns a TarFunc writing es in order, each stamped Epoch.
func Entries(es ...Entry) TarFunc { return EntriesAt(Epoch, es...) }

// EntriesAt is Entries stamped at: images whose digests were fixed before
// Epoch (lab/compat's stand-ins) keep their own time, and test fixtures
// none (the zero time).
func EntriesAt(at time.Time, es ...Entry) TarFunc {
	return func(tw *tar.Writer) error {
		for _, e := range es {
			h := Header(e.Name, e.Type, e.Mode, 0, e.Link)
			h.ModTime = at
			if e.Type == tar.TypeReg {
				h.Size = int64(len(e.Body))
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if h.Size > 0 {
				if _, err := tw.Write(e.Body); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// Concat returns a TarFunc writing each of fs in turn.
func Concat(fs ...TarFunc) TarFunc {
	return func(tw *tar.Writer) error {
		for _, f := range fs {
			if err := f(tw); err != nil {
				return err
			}
		}
		return nil
	}
}

// BlobInfo describes a gzipped tarball: Digest and Size of the compressed
// bytes, DiffID of the uncompressed tar stream.
type BlobInfo struct {
	Digest string `json:"digest"`
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func sum(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// WriteTarGz writes src as a gzip (BestSpeed) compressed tar stream to w and
// returns its digests. Output is deterministic for deterministic input.
func WriteTarGz(w io.Writer, src TarFunc) (BlobInfo, error) {
	compressed := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(w, compressed)}
	gz, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return BlobInfo{}, err
	}
	uncompressed := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(gz, uncompressed))
	if err := src(tw); err != nil {
		return BlobInfo{}, err
	}
	if err := tw.Close(); err != nil {
		return BlobInfo{}, err
	}
	if err := gz.Close(); err != nil {
		return BlobInfo{}, err
	}
	return BlobInfo{Digest: sum(compressed), DiffID: sum(uncompressed), Size: cw.n}, nil
}

// Blob is a gzipped tarball held in memory or in a file under the cache.
type Blob struct {
	info BlobInfo
	data []byte // in memory, or
	path string // on disk
}

func (b *Blob) open() (io.ReadCloser, error) {
	if b.path != "" {
		return os.Open(b.path)
	}
	return io.NopCloser(bytes.NewReader(b.data)), nil
}

// NewBlob builds src into a gzipped tarball in memory.
func NewBlob(src TarFunc) (*Blob, error) {
	var buf bytes.Buffer
	info, err := WriteTarGz(&buf, src)
	if err != nil {
		return nil, err
	}
	return &Blob{info: info, data: buf.Bytes()}, nil
}

// Layer returns b as an OCI gzip layer.
func (b *Blob) Layer() v1.Layer { return &blobLayer{b: b} }

// blobLayer implements v1.Layer over a Blob whose digests are already known,
// so building an image manifest never re-reads (or re-compresses) the data.
type blobLayer struct{ b *Blob }

func (l *blobLayer) Digest() (v1.Hash, error)             { return v1.NewHash(l.b.info.Digest) }
func (l *blobLayer) DiffID() (v1.Hash, error)             { return v1.NewHash(l.b.info.DiffID) }
func (l *blobLayer) Size() (int64, error)                 { return l.b.info.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error)  { return types.OCILayer, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)   { return l.b.open() }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) { return gunzip(l.b.open()) }

type gzipReadCloser struct {
	*gzip.Reader
	under io.Closer
}

func (g gzipReadCloser) Close() error {
	err := g.Reader.Close()
	if cerr := g.under.Close(); err == nil {
		err = cerr
	}
	return err
}

func gunzip(rc io.ReadCloser, err error) (io.ReadCloser, error) {
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return gzipReadCloser{Reader: zr, under: rc}, nil
}

// Blobs builds gzipped tarballs once per key, in memory or (for big ones) in
// cacheDir, where they survive between runs: reseeding then costs no
// compression at all.
type Blobs struct {
	cacheDir string

	mu   sync.Mutex
	memo map[string]*blobOnce
}

type blobOnce struct {
	once sync.Once
	b    *Blob
	err  error
}

func NewBlobs(cacheDir string) *Blobs {
	return &Blobs{cacheDir: cacheDir, memo: map[string]*blobOnce{}}
}

// Get returns the Blob for key, building it with src on first use. Blobs
// with onDisk set are cached under cacheDir across runs.
func (bs *Blobs) Get(key string, onDisk bool, src TarFunc) (*Blob, error) {
	bs.mu.Lock()
	o := bs.memo[key]
	if o == nil {
		o = &blobOnce{}
		bs.memo[key] = o
	}
	bs.mu.Unlock()
	o.once.Do(func() {
		if onDisk {
			o.b, o.err = bs.onDisk(key, src)
		} else {
			o.b, o.err = NewBlob(src)
		}
		if o.err != nil {
			o.err = fmt.Errorf("building %s: %w", key, o.err)
		}
	})
	return o.b, o.err
}

func (bs *Blobs) onDisk(key string, src TarFunc) (*Blob, error) {
	if err := os.MkdirAll(bs.cacheDir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(bs.cacheDir, cacheFormat+"-"+key)
	path, meta := base+".tar.gz", base+".json"
	if raw, err := os.ReadFile(meta); err == nil {
		var info BlobInfo
		if json.Unmarshal(raw, &info) == nil {
			if st, err := os.Stat(path); err == nil && st.Size() == info.Size {
				return &Blob{info: info, path: path}, nil
			}
		}
	}
	start := time.Now()
	tmp, err := os.CreateTemp(bs.cacheDir, ".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	info, err := WriteTarGz(tmp, src)
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(info)
	if err := os.WriteFile(meta, raw, 0o644); err != nil {
		return nil, err
	}
	log.Printf("cached %s (%.1f MB, %s)", filepath.Base(path), float64(info.Size)/1e6, time.Since(start).Round(100*time.Millisecond))
	return &Blob{info: info, path: path}, nil
}

// SingleFile returns a TarFunc writing one regular file named name whose
// content is the Blob b (typically an inner SDK tarball).
func SingleFile(name string, b *Blob) TarFunc {
	return func(tw *tar.Writer) error {
		if err := tw.WriteHeader(Header(name, tar.TypeReg, 0o644, b.info.Size, "")); err != nil {
			return err
		}
		rc, err := b.open()
		if err != nil {
			return err
		}
		defer rc.Close()
		n, err := io.Copy(tw, rc)
		if err == nil && n != b.info.Size {
			err = fmt.Errorf("%s: copied %d bytes, want %d", name, n, b.info.Size)
		}
		return err
	}
}
